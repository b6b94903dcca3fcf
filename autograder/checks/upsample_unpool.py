"""Chapter 06a — max unpooling: max_unpool1d, max_unpool2d, max_unpool3d.

The indices of a case are made in NumPy, as the argmax of each pooling window or as
distinct random positions in the output plane. Expected values and known bugs are
computed with torch: a bug that is not a torch call with other arguments scatters with
torch into a plane of another size or shape.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..compare import Hint
from ..exercise import Bug, Case, Exercise, refused, register
from ._shapes import exact

UNPOOL_ARGS = ("input", "indices", "kernel_size", "stride", "padding", "output_size")


def _cut(value, d: int):
    """A 3-tuple in the case tables becomes a d-tuple; an int or None stays."""
    return tuple(value[:d]) if isinstance(value, (tuple, list)) else value


def _default_size(pooled: tuple, kernel: tuple, stride: tuple, padding: tuple) -> tuple:
    """Pooling's output-size formula run backwards: (H_in − 1)·stride − 2·padding + kernel."""
    return tuple((o - 1) * s + k - 2 * p
                 for o, s, k, p in zip(pooled, stride, kernel, padding, strict=True))


def _pool_argmax(x, k, s, p):
    """Max pooling with flat indices into each (N, C) plane, in NumPy: the case's inputs.

    Ties go to the first element of the window, as torch's pooling does.
    """
    d = len(k)
    padded = np.pad(x, [(0, 0)] * (x.ndim - d) + [(pp, pp) for pp in p],
                    constant_values=-np.inf)
    position = np.arange(int(np.prod(x.shape[-d:]))).reshape(x.shape[-d:])
    position = np.pad(position, [(pp, pp) for pp in p], constant_values=-1)
    axes = tuple(range(x.ndim - d, x.ndim))
    win = np.lib.stride_tricks.sliding_window_view(padded, k, axis=axes)
    pos = np.lib.stride_tricks.sliding_window_view(position, k)
    sl = tuple(slice(None, None, st) for st in s)
    win = win[(Ellipsis,) + sl + (slice(None),) * d]
    pos = pos[sl + (slice(None),) * d]
    flat_win = win.reshape(win.shape[:x.ndim] + (-1,))
    flat_pos = pos.reshape(pos.shape[:d] + (-1,))
    arg = np.argmax(flat_win, axis=-1)
    values = np.take_along_axis(flat_win, arg[..., None], axis=-1)[..., 0]
    index = np.take_along_axis(np.broadcast_to(flat_pos, flat_win.shape), arg[..., None],
                               axis=-1)[..., 0]
    return np.ascontiguousarray(values), np.ascontiguousarray(index.astype(np.int64))


def unpool_case(rng: np.random.Generator, d: int, *, n=2, c=2, size=(6, 5, 4), k=2,
                stride=None, padding=0, output_size="auto", batched=True, note="") -> Case:
    """Pool a random input in NumPy, then ask to unpool it (to its original size by default)."""
    k, stride, padding = _cut(k, d), _cut(stride, d), _cut(padding, d)
    size = tuple(size[:d])
    kk, pp = exact(k, d), exact(padding, d)
    ss = kk if stride is None else exact(stride, d)
    shape = ((n,) if batched else ()) + (c,) + size
    x = rng.standard_normal(shape)
    pooled, index = _pool_argmax(x, kk, ss, pp)
    kwargs = {}
    if stride is not None:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    if output_size == "auto":
        if _default_size(pooled.shape[-d:], kk, ss, pp) != size:
            kwargs["output_size"] = size
    elif output_size is not None:
        kwargs["output_size"] = output_size
    return Case((pooled, index, k), kwargs, note=note)


def scatter_case(rng: np.random.Generator, d: int, *, n=1, c=2, size=(3, 2, 2), k=2,
                 stride=None, padding=0, output_size=None, limit=None, past_end=False,
                 negative=False, note="") -> Case:
    """Distinct random positions in the output plane (not from a pooling); ``past_end`` /
    ``negative`` make the last index one past the plane, or −1."""
    k, stride, padding = _cut(k, d), _cut(stride, d), _cut(padding, d)
    size = tuple(size[:d])
    kk, pp = exact(k, d), exact(padding, d)
    ss = kk if stride is None else exact(stride, d)
    out = output_size[-d:] if output_size is not None else _default_size(size, kk, ss, pp)
    plane, count = int(np.prod(out)), int(np.prod(size))
    pool = plane if limit is None else min(plane, limit)
    index = np.stack([rng.permutation(pool)[:count] for _ in range(n * c)]).reshape((n, c) + size)
    if past_end:
        index.flat[-1] = plane
    if negative:
        index.flat[-1] = -1
    kwargs = {}
    if stride is not None:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    if output_size is not None:
        kwargs["output_size"] = output_size
    x = rng.standard_normal((n, c) + size)
    return Case((x, index.astype(np.int64), k), kwargs, note=note)


def worked_example_case(output_size=None, note="") -> Case:
    """The chapter's worked example: the 4×4 input 1…16, max-pooled 2×2."""
    x = np.arange(1.0, 17.0).reshape(1, 1, 4, 4)
    pooled, index = _pool_argmax(x, (2, 2), (2, 2), (0, 0))
    kwargs = {"stride": 2}
    if output_size is not None:
        kwargs["output_size"] = output_size
    return Case((pooled, index, 2), kwargs, note=note)


def _visible(d):
    def cases(rng):
        out = []
        if d == 2:
            out += [worked_example_case(note="the 4×4 input 1…16, max-pooled 2×2 and unpooled"),
                    worked_example_case((1, 1, 5, 5), note="the same indices in a 5×5 plane")]
        out += [
            unpool_case(rng, d, size=(4, 6, 4), k=2, note="kernel 2, stride 2"),
            unpool_case(rng, d, size=(7, 6, 5), k=3, stride=2, padding=1,
                        note="overlapping windows, padding 1, output_size = the pooled "
                             "input's size"),
            scatter_case(rng, d, size=(3, 2, 2)[:d], limit=(4, 9, 14)[d - 1],
                         note="stride=None means stride = kernel_size: positions in the "
                              "first cells"),
            scatter_case(rng, d, size=(2, 2, 2)[:d], output_size=(5, 5, 5)[:d], limit=4 ** d,
                         note="output_size one larger than the default: random distinct "
                              "positions"),
        ]
        return out
    return cases


def _hidden(d):
    def cases(rng):
        out = []
        for k, stride, padding in itertools.product((1, 2, 3, (3, 2, 1)[:d]),
                                                    (None, 1, 2, (2, 1, 3)[:d]), (0, 1)):
            kk = exact(k, d)
            if any(2 * p > q for p, q in zip(exact(padding, d), kk, strict=True)):
                continue
            size = tuple(int(v) for v in rng.integers(3, 8 if d < 3 else 6, size=3))
            out.append(unpool_case(rng, d, n=int(rng.integers(1, 3)), c=int(rng.integers(1, 3)),
                                   size=size, k=k, stride=stride, padding=padding,
                                   batched=bool(rng.integers(0, 4)),
                                   note=f"kernel_size={k}, stride={stride}, padding={padding}"))
        base = (4, 4, 3)[:d]
        default = tuple(2 * b for b in base)
        big = tuple(v + 1 for v in default)
        out += [
            scatter_case(rng, d, size=base, output_size=big,
                         note="output_size one bigger than the default: random distinct "
                              "positions"),
            scatter_case(rng, d, n=2, c=1, size=base, output_size=(2, 1) + big,
                         note="output_size given as the full (N, C, *spatial) shape"),
            scatter_case(rng, d, size=(2, 3, 2)[:d], k=(3, 2, 2)[:d], stride=(2, 3, 2)[:d],
                         padding=(1, 0, 1)[:d],
                         note="non-square kernel, stride and padding; random positions"),
            unpool_case(rng, d, size=(5, 5, 5), k=3, stride=1, padding=1,
                        note="stride 1, kernel 3, padding 1: heavily overlapping windows"),
            unpool_case(rng, d, n=1, c=1, size=(1, 1, 1), k=1, note="size-1 everything"),
            unpool_case(rng, d, size=(4, 3, 2), k=(4, 3, 2), note="kernel as large as the input"),
            scatter_case(rng, d, size=(3, 2, 2)[:d], limit=(4, 9, 14)[d - 1],
                         note="stride=None means stride = kernel_size: random positions in "
                              "the first cells"),
            refused(scatter_case(rng, d, size=base, past_end=True,
                                 note="an index past the end of the output plane"),
                    "an index outside the output plane"),
            refused(scatter_case(rng, d, size=base, negative=True, note="a negative index"),
                    "an index outside the output plane"),
            refused(scatter_case(rng, d, size=base, output_size=tuple(v + 2 for v in default),
                                 note="output_size more than stride - 1 above the default"),
                    "output_size must lie strictly between default − stride and "
                    "default + stride"),
            refused(scatter_case(rng, d, size=base, output_size=(1,) + default,
                                 note="output_size of the wrong length"),
                    "output_size must have d or d + 2 entries"),
        ]
        return out
    return cases


def _unpool(d):
    return getattr(oracle.F(), {1: "max_unpool1d", 2: "max_unpool2d", 3: "max_unpool3d"}[d])


def _reference(d):
    def reference(case):
        return oracle.call(_unpool(d), *case.args, **case.kwargs)
    return reference


def _output_size(case: Case, d: int) -> tuple:
    """The spatial size of the expected output: output_size's last entries, or the default."""
    x, _, k = case.args
    kk = exact(k, d)
    stride = case.kwargs.get("stride")
    ss = kk if stride is None else exact(stride, d)
    size = case.kwargs.get("output_size")
    if size is None:
        return _default_size(x.shape[-d:], kk, ss, exact(case.kwargs.get("padding", 0), d))
    return tuple(size)[-d:]


def _scattered(d: int, x, index, size: tuple):
    """Scatter with torch into a plane of the given spatial size, no checks on the size."""
    t = oracle.torch()
    xt, it = oracle.to_torch(x), oracle.to_torch(index)
    batched = x.ndim == d + 2
    if not batched:
        xt, it = xt[None], it[None]
    if d == 1:
        out = t._C._nn.max_unpool2d(xt[..., None], it[..., None], list(size) + [1])[..., 0]
    elif d == 2:
        out = t._C._nn.max_unpool2d(xt, it, list(size))
    else:
        out = t._C._nn.max_unpool3d(xt, it, list(size), [1, 1, 1], [0, 0, 0])
    out = out if batched else out[0]
    return oracle.to_numpy(out)


def _over_padded_plane(case: Case, d: int):
    """Indices read in the padded plane, then the border cropped."""
    size = _output_size(case, d)
    pads = exact(case.kwargs.get("padding", 0), d)
    x, index, _ = case.args
    big = _scattered(d, x, index, tuple(o + 2 * r for o, r in zip(size, pads, strict=True)))
    return big[(Ellipsis,) + tuple(slice(r, r + o) for o, r in zip(size, pads, strict=True))]


def _column_major(case: Case, d: int):
    """Indices unravelled column-first: the transpose of a scatter into the reversed plane."""
    x, index, _ = case.args
    out = _scattered(d, x, index, tuple(reversed(_output_size(case, d))))
    lead = out.ndim - d
    order = tuple(range(lead)) + tuple(reversed(range(lead, out.ndim)))
    return np.ascontiguousarray(out.transpose(order))


def _padded(case: Case, d: int) -> bool:
    return any(exact(case.kwargs.get("padding", 0), d))


def _bugs(d: int) -> list[Bug]:
    """The known bugs of max_unpool{d}d."""
    def sized(case):
        return "output_size" in case.kwargs

    def stride_unset(case):
        return (case.kwargs.get("stride") is None and not sized(case)
                and any(q != 1 for q in exact(case.args[2], d)))

    bugs = [
        Bug("unpool-output-size-ignored",
            "output_size is ignored: when it is given, the output has that spatial size (it "
            "may be up to stride - 1 larger or smaller than (H_in - 1)·stride − 2·padding + "
            "kernel_size)",
            lambda case: oracle.call_case(_unpool(d), case, output_size=None), when=sized),
        Bug("unpool-stride-defaults-to-one",
            "stride=None means stride = kernel_size (as in max pooling), not 1",
            lambda case: oracle.call_case(_unpool(d), case, stride=1), when=stride_unset),
        Bug("unpool-padding-ignored",
            "the output size subtracts the padding: (H_in - 1)·stride − 2·padding + kernel_size",
            lambda case: oracle.call_case(_unpool(d), case, padding=0),
            when=lambda case: _padded(case, d) and not sized(case)),
        Bug("indices-over-the-padded-plane",
            "the indices count positions in the UNPADDED output plane (row·W_out + column); "
            "you read them in the padded plane and cropped the border",
            lambda case: _over_padded_plane(case, d), when=lambda case: _padded(case, d)),
    ]
    if d > 1:
        bugs.append(Bug(
            "column-major-indices",
            "a flat index is row-major over the output plane: index = row·W_out + column "
            "(C order); you unravelled it column-first",
            lambda case: _column_major(case, d)))
    return bugs


OUTPUT_SIZE = Hint("unpool-output-size",
                   "check the output size: output_size if given (its last spatial entries), "
                   "else (H_in − 1)·stride − 2·padding + kernel_size per axis")


def _diagnose(case, got, expected):
    shape = getattr(got, "shape", None)
    if shape is None or shape == np.asarray(expected).shape:
        return None
    return OUTPUT_SIZE


for _name, _d in {"max_unpool1d": 1, "max_unpool2d": 2, "max_unpool3d": 3}.items():
    register(Exercise(
        name=_name, arg_names=UNPOOL_ARGS, visible=_visible(_d), hidden=_hidden(_d),
        reference=_reference(_d), bugs=_bugs(_d), diagnose=_diagnose,
    ))
