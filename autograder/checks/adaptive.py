"""Chapter 07 — adaptive pooling: adaptive_avg_pool1d/2d/3d, adaptive_max_pool1d/2d/3d,
and the loop version adaptive_avg_pool2d_loop.

Everything about grading these exercises is here: the seeded grids of input and output
sizes (int, tuple, list, None entries, outputs larger than the input, empty outputs), the
configurations torch refuses, and the known-wrong variants with the hint each one earns.
Expected values and variants are computed with torch.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import compare, oracle
from ..exercise import Bug, Case, Exercise, refused, register
from ._pooling import NAN_IGNORED, random_sizes, torch_call

AVG_ARGS = ("input", "output_size")
MAX_ARGS = ("input", "output_size", "return_indices")


NEGATIVE = "an output size must not be negative"
WRONG_LENGTH = "output_size needs one entry per spatial axis"
SPECIAL_NOTE = {
    "avg": "NaN and inf in the input: each stays in the bins that hold it",
    "max": "NaN in the input: NaN wins its box, and the index is the box's last NaN",
}


def adaptive_case(rng: np.random.Generator, kind: str, d: int, spatial: tuple, output_size, *,
                  n: int = 2, c: int = 3, batched: bool = True, return_indices: bool | None = None,
                  integers: bool = False, special: bool = False, note: str = "") -> Case:
    """An adaptive pooling call (``kind`` "avg" or "max") on an (N, C, *spatial) input, or
    (C, *spatial) unbatched; ``integers`` gives ties, ``special`` NaN and inf."""
    shape = ((n,) if batched else ()) + (c,) + tuple(spatial)
    if integers:
        # Few distinct values: boxes hold their maximum more than once (ties).
        x = rng.integers(0, 3, size=shape).astype(np.float64)
    else:
        x = rng.standard_normal(shape)
    if special:
        # A few NaN and inf: they must stay in the bins that hold them. Averages get no
        # -inf: inf + (-inf) is NaN with a RuntimeWarning, and a correct sum must not warn.
        u = rng.random(shape)
        x[u < (0.06 if kind == "avg" else 0.15)] = np.nan
        x[(u >= 0.06) & (u < 0.09)] = np.inf
        if kind == "max":
            x[(u >= 0.09) & (u < 0.11)] = -np.inf
        if x.size >= 2:  # at least one of each, whatever the draw
            first, second = rng.choice(x.size, size=2, replace=False)
            x.flat[first], x.flat[second] = np.nan, np.inf
    kwargs = {}
    if return_indices is not None:
        kwargs["return_indices"] = return_indices
    return Case((x, output_size), kwargs, note=note)


def _output_sizes(spatial, output_size):
    """What torch does with output_size; None for configurations it refuses."""
    d = len(spatial)
    if isinstance(output_size, (tuple, list)):
        if len(output_size) != d:
            return None
        return tuple(s if o is None else o for o, s in zip(output_size, spatial, strict=True))
    return (output_size,) * d


def _rand_output(rng, d, spatial, style):
    """An output_size of the given style for this input."""
    outs = [int(rng.integers(1, s + 4)) for s in spatial]
    if style == "int":
        return int(rng.integers(1, max(spatial) + 3))
    if style == "tuple":
        return tuple(outs)
    if style == "list":
        return list(outs)
    if style == "none":
        keep = int(rng.integers(0, d))
        return tuple(None if i == keep else o for i, o in enumerate(outs))
    if style == "larger":
        return tuple(s + int(rng.integers(1, 4)) for s in spatial)
    if style == "divides":
        return tuple(int(rng.choice([v for v in range(1, s + 1) if s % v == 0])) for s in spatial)
    raise ValueError(style)


def _visible(kind, d):
    ri = {"avg": None, "max": True}[kind]

    def cases(rng):
        spatial = (10, 7, 5)[:d] if d < 3 else (10, 4, 5)
        out = [
            adaptive_case(rng, kind, d, spatial, (4, 3, 2)[:d] if d > 1 else 4,
                          return_indices=ri, note="overlapping bins"),
            adaptive_case(rng, kind, d, (6, 4, 2)[:d], (3, 2, 1)[:d], return_indices=ri,
                          note="output size divides the input size"),
            adaptive_case(rng, kind, d, (3, 2, 2)[:d], 5 if d == 1 else (5, 3, 4)[:d],
                          return_indices=ri, note="output larger than the input"),
            adaptive_case(rng, kind, d, (5, 6, 4)[:d], 1, n=1, batched=False,
                          return_indices=ri, note="unbatched, global pooling (output_size=1)"),
        ]
        if d > 1:
            out.append(adaptive_case(rng, kind, d, (6, 7, 5)[:d], (None, 3, None)[:d] if d == 3
                                     else (2, None), return_indices=ri,
                                     note="None keeps that input size"))
        if d == 2:
            out.append(adaptive_case(rng, kind, d, (9, 8), (4, 3), return_indices=ri, special=True,
                                     note=SPECIAL_NOTE[kind]))
        if kind == "max":
            out.append(adaptive_case(rng, kind, d, (5, 4, 3)[:d], (2, 3, 2)[:d],
                                     return_indices=False,
                                     note="return_indices=False: values only"))
            out.append(adaptive_case(rng, kind, d, (4, 5, 3)[:d], (2, 2, 1)[:d],
                                     return_indices=True,
                                     integers=True,
                                     note="ties: torch keeps the first maximum in row-major order"))
        return out
    return cases


def _hidden(kind, d):
    def cases(rng):
        out = []
        styles = ["int", "tuple", "list", "larger", "divides"] + (["none"] if d > 1 else [])
        hi = {1: 14, 2: 11, 3: 7}[d]
        ris = (True, False, None) if kind == "max" else (None,)
        repeats = 4 if kind == "avg" else 2
        for style, ri in itertools.product(styles, ris):
            for _ in range(repeats):
                spatial = random_sizes(rng, d, 1, hi)
                output_size = _rand_output(rng, d, spatial, style)
                if d == 1 and style in ("tuple", "list", "larger", "divides"):
                    output_size = type(output_size)(output_size[:1]) if style != "larger" \
                        else (output_size[0],)
                out.append(adaptive_case(
                    rng, kind, d, spatial, output_size, n=int(rng.integers(1, 4)),
                    c=int(rng.integers(1, 4)), batched=bool(rng.integers(0, 4)),
                    return_indices=ri, note=f"output_size {style}: {output_size!r}"))
        ri = True if kind == "max" else None
        out += [
            adaptive_case(rng, kind, d, (1, 1, 1)[:d], 1, return_indices=ri,
                          note="size-1 everything"),
            adaptive_case(rng, kind, d, (1, 1, 1)[:d], 3, return_indices=ri,
                          note="one element spread over 3 bins per axis"),
            adaptive_case(rng, kind, d, (7, 5, 6)[:d], (7, 5, 6)[:d], return_indices=ri,
                          note="output size equals input size (identity)"),
            adaptive_case(rng, kind, d, (13, 11, 7)[:d], (5, 4, 3)[:d] if d > 1 else 5,
                          return_indices=ri, note="prime sizes: every bin boundary rounds"),
            adaptive_case(rng, kind, d, (6, 5, 4)[:d], 0, return_indices=ri,
                          note="output_size 0: an empty output"),
            adaptive_case(rng, kind, d, (5, 4, 3)[:d], 2, n=0, return_indices=ri,
                          note="an empty batch (N = 0)"),
            adaptive_case(rng, kind, d, (97, 9, 8)[:d] if d == 1 else (31, 29, 9)[:d],
                          (13, 6, 5)[:d], return_indices=ri, note="large odd sizes"),
            refused(adaptive_case(rng, kind, d, (6, 5, 4)[:d], -1 if d == 1 else (2, -1, 2)[:d],
                                  return_indices=ri, note="negative output size"), NEGATIVE),
            refused(adaptive_case(rng, kind, d, (6, 5, 4)[:d], (2, 2) if d == 1 else (2,) * (d + 1),
                                  return_indices=ri, note="output_size of the wrong length"),
                    WRONG_LENGTH),
            refused(Case((rng.standard_normal((6, 5, 4)[:d]), 2),
                         {} if ri is None else {"return_indices": ri},
                         note="input without a channel axis"),
                    "it needs (N, C, *spatial) or (C, *spatial)"),
            refused(adaptive_case(rng, kind, d, (0, 5, 4)[:d], 2, return_indices=ri,
                                  note="an empty spatial axis"),
                    "every spatial size must be positive"),
        ]
        for _ in range(2):
            # Bins of about three per axis, so that some hold two NaN.
            spatial = random_sizes(rng, d, 5, hi + 2)
            sizes = tuple(max(1, s // 3) for s in spatial)
            out.append(adaptive_case(rng, kind, d, spatial, sizes if d > 1 else sizes[0],
                                     return_indices=ri, special=True, note=SPECIAL_NOTE[kind]))
        if kind == "max":
            for _ in range(3):
                spatial = random_sizes(rng, d, 2, hi)
                output_size = _rand_output(rng, d, spatial, "tuple")
                out.append(adaptive_case(rng, kind, d, spatial, output_size,
                                         return_indices=True, integers=True,
                                         note="ties: the first maximum in row-major order"))
        return out
    return cases


# Known-wrong answers, computed box by box with torch ------------------------------------

def _edges_torch(L, out):
    return [((i * L) // out, -((-(i + 1) * L) // out)) for i in range(out)]


def _edges_floor(L, out):
    return [((i * L) // out, ((i + 1) * L) // out) for i in range(out)]


def _edges_fixed_width(L, out):
    if out == 0:
        return []
    width = -(-L // out)
    return [((i * L) // out, min((i * L) // out + width, L)) for i in range(out)]


def _edges_uniform(L, out):
    """The 'stride = L // out, kernel = L - (out - 1) * stride' recipe (None where it has no
    meaning)."""
    if out > L or out == 0:
        return None
    stride = L // out
    kernel = L - (out - 1) * stride
    return [(i * stride, i * stride + kernel) for i in range(out)]


def _case_sizes(case: Case, d: int):
    x, output_size = case.args
    return _output_sizes(x.shape[-d:], output_size)


def _boxable(case: Case, d: int, edges=_edges_torch) -> bool:
    """Whether torch accepts the case and ``edges`` cut every axis into non-empty boxes."""
    x = case.args[0]
    sizes = _case_sizes(case, d)
    if sizes is None or any(o <= 0 for o in sizes) or x.size == 0 or x.ndim not in (d + 1, d + 2):
        return False
    per_axis = [edges(L, o) for L, o in zip(x.shape[-d:], sizes, strict=True)]
    return not (any(e is None for e in per_axis) or any(s >= e for ax in per_axis for s, e in ax))


def _boxes(kind, d, case, edges=_edges_torch, divisor=None, index="plane", ties="first",
           whole_plane=False, nan="last"):
    """Pool box by box with torch, each keyword a way to get it wrong (``_boxable`` holds)."""
    t = oracle.torch()
    x = case.args[0]
    spatial = x.shape[-d:]
    sizes = _case_sizes(case, d)
    per_axis = [edges(L, o) for L, o in zip(spatial, sizes, strict=True)]
    xt = t.from_numpy(x)
    lead = x.shape[:-d]
    values = t.zeros(lead + tuple(sizes), dtype=t.float64)
    indices = t.zeros(lead + tuple(sizes), dtype=t.int64)
    strides = [int(np.prod(spatial[k + 1:])) for k in range(d)]
    for pos in itertools.product(*[range(o) for o in sizes]):
        if whole_plane:
            box = [(0, L) for L in spatial]
        else:
            box = [per_axis[k][p] for k, p in enumerate(pos)]
        part = xt[(Ellipsis,) + tuple(slice(s, e) for s, e in box)]
        flat = part.flatten(start_dim=part.ndim - d)
        at = (Ellipsis,) + pos
        if kind == "avg":
            count = flat.shape[-1] if divisor is None else divisor
            values[at] = flat.sum(-1) / count
            continue
        # argmax returns the first maximum (Tensor.max(dim) is needlessly slow here).
        isnan = flat.isnan()
        if nan == "ignore":
            flat = t.where(isnan, t.tensor(-np.inf, dtype=t.float64), flat)
        if ties == "last":
            j = flat.shape[-1] - 1 - flat.flip(-1).argmax(-1)
        else:
            j = flat.argmax(-1)
        if nan != "ignore":
            where_nan = isnan.double()
            last = flat.shape[-1] - 1 - where_nan.flip(-1).argmax(-1)
            j = t.where(isnan.any(-1), last if nan == "last" else where_nan.argmax(-1), j)
        values[at] = flat.gather(-1, j.unsqueeze(-1)).squeeze(-1)
        if index == "bin":
            indices[at] = j
        else:
            widths = [e - s for s, e in box]
            coords, rem = [], j
            for k in reversed(range(d)):
                coords.append(rem % widths[k])
                rem = rem // widths[k]
            coords = coords[::-1]
            indices[at] = sum((box[k][0] + coords[k]) * strides[k] for k in range(d))
    if kind == "max" and case.kwargs.get("return_indices"):
        return values.numpy(), indices.numpy()
    return values.numpy()


def _widest_bin(case: Case, d: int) -> int:
    """The number of elements of the widest box."""
    widest = []
    for L, o in zip(case.args[0].shape[-d:], _case_sizes(case, d), strict=True):
        widths = [e - s for s, e in _edges_torch(L, o)]
        widest.append(max(widths) if widths else 1)
    return int(np.prod(widest))


def _matrix_product(case: Case, d: int):
    """Each axis multiplied by an averaging matrix: 0·inf and 0·NaN spread to every bin."""
    t = oracle.torch()
    out = t.from_numpy(case.args[0])
    for axis, o in zip(range(-d, 0), _case_sizes(case, d), strict=True):
        L = out.shape[axis]
        pool = t.zeros(o, L, dtype=t.float64)
        for i, (s, e) in enumerate(_edges_torch(L, o)):
            pool[i, s:e] = 1.0 / (e - s)
        out = (out.movedim(axis, -1) @ pool.T).movedim(-1, axis)
    return out.numpy()


def _matrix_applies(case: Case, d: int) -> bool:
    x = case.args[0]
    sizes = _case_sizes(case, d)
    return (not np.isfinite(x).all() and sizes is not None and x.ndim in (d + 1, d + 2)
            and all(o > 0 for o in sizes))


def _has_none(case: Case) -> bool:
    output_size = case.args[1]
    return isinstance(output_size, (tuple, list)) and None in output_size


def _none_as_one(name: str):
    def answer(case: Case):
        x, output_size = case.args
        return oracle.call(getattr(oracle.F(), name), x,
                           tuple(1 if o is None else o for o in output_size), **case.kwargs)
    return answer


def _indices(case: Case) -> bool:
    return bool(case.kwargs.get("return_indices"))


def _has_nan(case: Case) -> bool:
    return bool(np.isnan(case.args[0]).any())


def _bugs(kind: str, name: str, d: int) -> list[Bug]:
    """The known bugs of adaptive pooling (``kind`` "avg" or "max"; ``name``: torch's
    function), tried in this order."""
    def whole_plane_applies(case: Case) -> bool:
        sizes = _case_sizes(case, d)
        return (sizes is not None and not all(o <= 1 for o in sizes)
                and bool(np.isfinite(case.args[0]).all()) and _boxable(case, d))

    common = [
        Bug("bin-ends-rounded-down", "your bin ends are rounded down: torch rounds the start "
            "down and the end UP, start = floor(i·L/out), end = ceil((i+1)·L/out), so "
            "neighbouring bins may overlap",
            lambda case: _boxes(kind, d, case, edges=_edges_floor),
            when=lambda case: _boxable(case, d, _edges_floor)),
        Bug("uniform-kernel-and-stride", "you pooled with one kernel and stride (stride = "
            "L // out, kernel = L − (out − 1)·stride): torch computes each bin's own edges, "
            "start = floor(i·L/out), end = ceil((i+1)·L/out)",
            lambda case: _boxes(kind, d, case, edges=_edges_uniform),
            when=lambda case: _boxable(case, d, _edges_uniform)),
        Bug("fixed-width-bins", "your bins all have the same width ceil(L/out): torch's bins "
            "end at ceil((i+1)·L/out), so their widths vary",
            lambda case: _boxes(kind, d, case, edges=_edges_fixed_width),
            when=lambda case: _boxable(case, d, _edges_fixed_width)),
        Bug("none-treated-as-1", "None in output_size means 'keep the input's size along that "
            "axis', not 1", _none_as_one(name), when=_has_none),
        Bug("whole-plane", "every output holds the pool of the whole plane: pool each bin's box "
            "only", lambda case: _boxes(kind, d, case, whole_plane=True), when=whole_plane_applies),
    ]
    if kind == "avg":
        return common + [
            Bug("matrix-product", "0·inf and 0·NaN are NaN: multiplying by an averaging matrix "
                "spreads one inf or NaN into every bin of its row; sum only each bin's own "
                "elements", lambda case: _matrix_product(case, d),
                when=lambda case: _matrix_applies(case, d)),
            Bug("divisor-of-widest-bin", "you divided every bin by the size of the widest bin: "
                "divide each bin's sum by its own number of elements",
                lambda case: _boxes(kind, d, case, divisor=_widest_bin(case, d)),
                when=lambda case: _boxable(case, d)),
        ]
    return common + [
        Bug("index-within-bin", "your indices count from the corner of the bin: torch's indices "
            "are flat positions in the whole input plane (h·W + w in 2-D)",
            lambda case: _boxes(kind, d, case, index="bin"),
            when=lambda case: _indices(case) and _boxable(case, d)),
        Bug("nan-ignored", NAN_IGNORED, lambda case: _boxes(kind, d, case, nan="ignore"),
            when=lambda case: _has_nan(case) and _boxable(case, d)),
        Bug("first-nan", "where a box holds NaN, torch's index is its LAST NaN in row-major "
            "order; you gave the first", lambda case: _boxes(kind, d, case, nan="first"),
            when=lambda case: _indices(case) and _has_nan(case) and _boxable(case, d)),
        Bug("last-maximum-on-ties", "on ties torch keeps the FIRST maximum in row-major order; "
            "you kept the last", lambda case: _boxes(kind, d, case, ties="last"),
            when=lambda case: _indices(case) and _boxable(case, d)),
    ]


INDICES_NOT_INTEGERS = compare.Hint("indices-not-integers",
                                    "indices must be integers (int64), as torch's are")
FORM_NOT_KEPT = compare.Hint(
    "input-form-not-kept", "keep the input's form: (N, C, *spatial) in gives (N, C, "
    "*output_size) out; (C, *spatial) in gives (C, *output_size) out")
OUTPUT_SIZE_MISREAD = compare.Hint(
    "output-size-misread", "the output's spatial size is output_size (an int applies to every "
    "axis; None keeps that axis's input size); N and C are unchanged")


def _diagnose(case: Case, got, expected) -> compare.Hint | None:
    got_values = got[0] if isinstance(got, (tuple, list)) and got else got
    exp_values = expected[0] if isinstance(expected, tuple) else expected
    got_shape = getattr(got_values, "shape", None)
    exp_shape = np.asarray(exp_values).shape
    if got_shape is None or got_shape == exp_shape:
        if isinstance(expected, tuple) and isinstance(got, (tuple, list)) and len(got) == 2 \
                and np.asarray(got[1]).dtype.kind not in "biu":
            return INDICES_NOT_INTEGERS
        return None
    if len(got_shape) != len(exp_shape):
        return FORM_NOT_KEPT
    return OUTPUT_SIZE_MISREAD


for _name, _d in {"adaptive_avg_pool1d": 1, "adaptive_avg_pool2d": 2,
                  "adaptive_avg_pool3d": 3}.items():
    register(Exercise(
        name=_name, arg_names=AVG_ARGS, visible=_visible("avg", _d), hidden=_hidden("avg", _d),
        reference=torch_call(_name), bugs=_bugs("avg", _name, _d), diagnose=_diagnose))

for _name, _d in {"adaptive_max_pool1d": 1, "adaptive_max_pool2d": 2,
                  "adaptive_max_pool3d": 3}.items():
    register(Exercise(
        name=_name, arg_names=MAX_ARGS, visible=_visible("max", _d), hidden=_hidden("max", _d),
        reference=torch_call(_name), bugs=_bugs("max", _name, _d), diagnose=_diagnose))


# adaptive_avg_pool2d_loop: the readable version; its cases stay small.
def _avg_loop_hidden(rng):
    out = []
    for style in ("int", "tuple", "list", "none", "larger", "divides"):
        for _ in range(2):
            spatial = random_sizes(rng, 2, 1, 9)
            out.append(adaptive_case(rng, "avg", 2, spatial, _rand_output(rng, 2, spatial, style),
                                     n=int(rng.integers(1, 3)), c=int(rng.integers(1, 3)),
                                     batched=bool(rng.integers(0, 4)),
                                     note=f"output_size {style}"))
    out += [
        adaptive_case(rng, "avg", 2, (1, 1), 3, note="one element spread over 3×3 bins"),
        adaptive_case(rng, "avg", 2, (13, 11), (5, 4),
                      note="prime sizes: every bin boundary rounds"),
        adaptive_case(rng, "avg", 2, (7, 6), (3, 4), special=True, note=SPECIAL_NOTE["avg"]),
        refused(adaptive_case(rng, "avg", 2, (6, 5), (2, -1), note="negative output size"),
                NEGATIVE),
        refused(adaptive_case(rng, "avg", 2, (6, 5), (2, 2, 2),
                              note="output_size of the wrong length"), WRONG_LENGTH),
    ]
    return out


register(Exercise(
    name="adaptive_avg_pool2d_loop", arg_names=AVG_ARGS, visible=_visible("avg", 2),
    hidden=_avg_loop_hidden, reference=torch_call("adaptive_avg_pool2d"),
    bugs=_bugs("avg", "adaptive_avg_pool2d", 2), diagnose=_diagnose,
))


# adaptive_max_pool2d_loop: the readable version of max pooling with indices.
def _max_loop_hidden(rng):
    out = []
    styles = ("int", "tuple", "none", "larger", "divides")
    for style, ri in itertools.product(styles, (True, False)):
        spatial = random_sizes(rng, 2, 1, 9)
        out.append(adaptive_case(rng, "max", 2, spatial, _rand_output(rng, 2, spatial, style),
                                 n=int(rng.integers(1, 3)), c=int(rng.integers(1, 3)),
                                 batched=bool(rng.integers(0, 4)), return_indices=ri,
                                 note=f"output_size {style}, return_indices={ri}"))
    out += [
        adaptive_case(rng, "max", 2, (1, 1), 3, return_indices=True,
                      note="one element spread over 3×3 bins"),
        adaptive_case(rng, "max", 2, (13, 11), (5, 4), return_indices=True,
                      note="prime sizes: every bin boundary rounds"),
        adaptive_case(rng, "max", 2, (7, 8), (3, 3), return_indices=True, integers=True,
                      note="ties: the first maximum in row-major order"),
        adaptive_case(rng, "max", 2, (9, 7), (3, 2), return_indices=True, special=True,
                      note=SPECIAL_NOTE["max"]),
        refused(adaptive_case(rng, "max", 2, (6, 5), (2, -1), return_indices=True,
                              note="negative output size"), NEGATIVE),
    ]
    return out


register(Exercise(
    name="adaptive_max_pool2d_loop", arg_names=MAX_ARGS, visible=_visible("max", 2),
    hidden=_max_loop_hidden, reference=torch_call("adaptive_max_pool2d"),
    bugs=_bugs("max", "adaptive_max_pool2d", 2), diagnose=_diagnose,
))
