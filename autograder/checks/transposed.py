"""Chapter 04 — transposed convolution: conv_transpose1d/2d/3d, conv_transpose2d_loop, and
the ConvTranspose2d module (called with torch forward's output_size).

Everything about grading these exercises is here: the seeded grids of valid parameters,
the edge cases, the configurations torch refuses, and the known bugs with the hint each
one earns. Expected values and wrong answers are computed with torch.
"""
from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np

from .. import oracle
from ..compare import Hint
from ..exercise import Bug, Case, Exercise, case_float_dtype, module_to, refused, register
from ._modules import first_difference, probe, probe_labels, torch_probe
from ._shapes import expand, shape_diagnosis, transposed_out_size
from .conv import BIAS_IGNORED, flip

CT_ARGS = ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")
TORCH_CT = {1: "conv_transpose1d", 2: "conv_transpose2d", 3: "conv_transpose3d"}
DEFAULTS = {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "dilation": 1}

OUTPUT_PADDING_TOO_LARGE = "output_padding must be smaller than stride or dilation"
OUTPUT_SIZE_RANGE = "output_size must lie within stride − 1 of the smallest output size"


def ct_params(case: Case, d: int) -> tuple:
    """The case's stride, padding, output_padding, dilation as d-tuples, and groups."""
    kw = dict(DEFAULTS, **case.kwargs)
    return (expand(kw["stride"], d), expand(kw["padding"], d), expand(kw["output_padding"], d),
            expand(kw["dilation"], d), kw["groups"])


def ct_case(rng: np.random.Generator, d: int, *, n=2, c_in=2, c_out=3, size=(4, 3, 3),
            k=(3, 2, 2), stride=1, padding=0, output_padding=0, groups=1, dilation=1,
            bias=True, batched=True, note="") -> Case:
    """One call of conv_transpose{d}d; c_out is the number of output channels PER GROUP:
    weight is (c_in, c_out, *k)."""
    size, k = tuple(size[:d]), tuple(k[:d])
    shape = ((n,) if batched else ()) + (c_in,) + size
    x = rng.standard_normal(shape)
    w = rng.standard_normal((c_in, c_out, *k))
    b = rng.standard_normal((c_out * groups,)) if bias else None
    kwargs = {}
    for name, value in (("stride", stride), ("padding", padding),
                        ("output_padding", output_padding), ("groups", groups),
                        ("dilation", dilation)):
        if value != DEFAULTS[name]:
            kwargs[name] = tuple(value[:d]) if isinstance(value, tuple) else value
    return Case((x, w, b), kwargs, note=note)


def _valid_output_padding(rng, d, stride, dilation):
    """A random output_padding torch accepts: smaller than stride or than dilation, per axis."""
    s, dl = expand(stride, d), expand(dilation, d)
    ops = tuple(int(rng.integers(0, max(a, b))) for a, b in zip(s, dl, strict=True))
    return ops[0] if len(set(ops)) == 1 else ops


def _visible(d):
    def cases(rng):
        return [
            ct_case(rng, d, n=1, c_in=1, c_out=1, size=(3, 3, 2), k=(2, 2, 2), bias=False,
                    note="one channel, stride 1: every input value stamps the kernel"),
            ct_case(rng, d, c_in=3, c_out=3, stride=2, note="stride 2: stamps spaced 2 apart"),
            ct_case(rng, d, stride=2, padding=1, output_padding=1,
                    note="stride 2, padding 1 (crops), output_padding 1 (one more at the end)"),
            ct_case(rng, d, c_in=4, c_out=1, groups=2, dilation=2,
                    note="groups 2, dilation 2"),
        ]
    return cases


def _hidden(d):
    def cases(rng):
        out = []
        strides = [1, 2, 3, (2, 1, 3)]
        dilations = [1, 2, (1, 3, 2)]
        for stride, dilation in itertools.product(strides, dilations):
            stride = stride[:d] if isinstance(stride, tuple) else stride
            dilation = dilation[:d] if isinstance(dilation, tuple) else dilation
            for _ in range(2):
                groups = int(rng.choice([1, 1, 2, 3]))
                size = tuple(int(v) for v in rng.integers(1, 6 if d < 3 else 4, size=3))
                k = tuple(int(v) for v in rng.integers(1, 5 if d < 3 else 4, size=3))
                padding = [0, 1, 2, (1, 0, 2)[:d]][int(rng.integers(0, 4))]
                op = _valid_output_padding(rng, d, stride, dilation)
                st, dl, pd = (expand(v, d) for v in (stride, dilation, padding))
                # Keep every output axis at least 1 long: those cases are the refusals below.
                # (size and k are 3 long, the options d long: zip stops at d.)
                if any(transposed_out_size(s, kk, a, p, o, b) < 1 for s, kk, a, p, o, b
                       in zip(size, k, st, pd, expand(op, d), dl, strict=False)):
                    padding = 0
                out.append(ct_case(
                    rng, d, n=int(rng.integers(1, 3)), c_in=groups * int(rng.integers(1, 3)),
                    c_out=int(rng.integers(1, 3)), size=size, k=k, stride=stride,
                    padding=padding, output_padding=op, groups=groups, dilation=dilation,
                    bias=bool(rng.integers(0, 2)), batched=bool(rng.integers(0, 4)),
                    note=f"stride={stride!r}, dilation={dilation!r}, padding={padding!r}, "
                         f"output_padding={op!r}, groups={groups}"))
        out += [
            ct_case(rng, d, size=(1, 1, 1), k=(3, 3, 3),
                    note="size-1 input: the output is the kernel"),
            ct_case(rng, d, n=1, c_in=1, c_out=1, size=(1, 1, 1), k=(1, 1, 1),
                    note="size-1 everything"),
            ct_case(rng, d, size=(3, 4, 2), k=(1, 1, 1), stride=3,
                    note="1-wide kernel, stride 3: zeros between the stamps"),
            ct_case(rng, d, size=(5, 4, 3), k=(5, 4, 3), note="kernel as large as the input"),
            ct_case(rng, d, size=(5, 4, 3), k=(4, 4, 4), stride=2, padding=1,
                    note="kernel 4, stride 2, padding 1: the recipe that doubles the size"),
            ct_case(rng, d, size=(3, 3, 3), k=(3, 3, 3), stride=2, padding=2, output_padding=1,
                    note="padding crops into the stamps; output_padding gives back one row"),
            ct_case(rng, d, size=(3, 3, 2), k=(2, 3, 2), padding=2, dilation=3, output_padding=2,
                    note="output_padding 2 with stride 1: allowed, as it is below dilation 3"),
            ct_case(rng, d, c_in=3, c_out=1, groups=3, size=(4, 3, 3),
                    note="groups = in_channels (depthwise)"),
            ct_case(rng, d, c_in=4, c_out=3, groups=2, stride=2, output_padding=1,
                    note="groups 2, 3 output channels per group"),
            ct_case(rng, d, size=(2, 2, 2), k=(2, 2, 2), padding=1,
                    note="padding crops to a 1-long output"),
            ct_case(rng, d, stride=(2,), padding=(1,), output_padding=(1,), dilation=(2,),
                    note="1-tuples: torch broadcasts them to every spatial axis"),
            refused(ct_case(rng, d, stride=2, output_padding=2, note="output_padding = stride"),
                    OUTPUT_PADDING_TOO_LARGE),
            refused(ct_case(rng, d, output_padding=1,
                            note="output_padding 1 with stride 1 and dilation 1"),
                    OUTPUT_PADDING_TOO_LARGE),
            refused(ct_case(rng, d, size=(2, 2, 2), k=(2, 2, 2), padding=2,
                            note="padding crops everything: output size 0 or less"),
                    "the output would be empty"),
            refused(ct_case(rng, d, c_in=3, groups=2, note="groups does not divide in_channels"),
                    "groups must divide in_channels"),
            refused(ct_case(rng, d, stride=0, note="stride 0"), "stride must be positive"),
            refused(ct_case(rng, d, dilation=0, note="dilation 0"), "dilation must be positive"),
            refused(ct_case(rng, d, padding=-1, note="negative padding"),
                    "padding must not be negative"),
        ]
        # A weight whose first axis is not the input's channels.
        x, w, b = out[0].args
        out.append(refused(Case((x, np.concatenate([w, w]), b), dict(out[0].kwargs),
                                note="weight.shape[0] != in_channels"),
                           "weight.shape[0] must be in_channels"))
        return out
    return cases


def ct_reference(d: int) -> Callable[[Case], np.ndarray]:
    """torch's conv_transpose{d}d, as a reference: case -> output array."""
    def reference(case):
        return torch_ct(d, case)
    return reference


def torch_ct(d: int, case: Case, w=None, *, no_bias=False, **changes) -> np.ndarray:
    """torch's conv_transpose{d}d on ``case`` with the weight or keyword arguments replaced
    (``no_bias``: without the bias)."""
    x, cw, b = case.args
    return oracle.call(getattr(oracle.F(), TORCH_CT[d]), x, cw if w is None else w,
                       None if no_bias else b, **dict(case.kwargs, **changes))


def _with_bias(d, case, out):
    """``out`` (computed without bias) plus the case's bias, per output channel."""
    x, _, b = case.args
    if b is None:
        return out
    return out + b.reshape((1,) * int(x.ndim == d + 2) + (len(b),) + (1,) * d)


def _crop_pad(out, before, after):
    """Per spatial axis: crop (positive) or zero-pad (negative) `before` / `after` entries."""
    spec = tuple(v for lo, hi in zip(reversed(before), reversed(after), strict=True)
                 for v in (-lo, -hi))
    return oracle.call(oracle.F().pad, np.ascontiguousarray(out), spec)


def _output_padding_first(d, case):
    """The uncropped result with output_padding rows put at the start, then the crop."""
    _, padding, op, _, _ = ct_params(case, d)
    full = torch_ct(d, case, no_bias=True, padding=0, output_padding=0)
    full = _crop_pad(full, tuple(-o for o in op), (0,) * d)
    return _with_bias(d, case, _crop_pad(full, padding, padding))


def _padding_added(d, case):
    neg = tuple(-p for p in ct_params(case, d)[1])
    return _with_bias(d, case, _crop_pad(torch_ct(d, case, no_bias=True, padding=0), neg, neg))


def _padding_one_side(d, case):
    twice = tuple(2 * p for p in ct_params(case, d)[1])
    full = torch_ct(d, case, no_bias=True, padding=0)
    return _with_bias(d, case, _crop_pad(full, twice, (0,) * d))


def _groups_mixed(d, case):
    """Every output channel of group g sums over ALL input channels, with w[:, j]."""
    w, groups = case.args[1], case.kwargs.get("groups", 1)
    return torch_ct(d, case, np.tile(w, (1, groups) + (1,) * d), groups=1)


def _dilation_ignored(d, case):
    stride, _, op, _, _ = ct_params(case, d)
    # Keep the output_padding torch would refuse without the dilation out of it.
    op = tuple(o if o < s else 0 for o, s in zip(op, stride, strict=True))
    return torch_ct(d, case, dilation=1, output_padding=op)


def _has(d, index):
    """Whether the ct_params entry ``index`` (1 padding, 2 output_padding) is set on some axis."""
    return lambda case: any(ct_params(case, d)[index])


def _bugs(d):
    return [
        Bug("output-padding-at-start", "output_padding adds its rows/columns at the END "
            "(bottom/right) of the output, before the padding crop; you put them at the start",
            lambda case: _output_padding_first(d, case), when=_has(d, 2)),
        Bug("padding-added", "in a transposed convolution `padding` crops the output: remove "
            "`padding` entries from both ends of the full result (H_out = (H − 1)·stride − "
            "2·padding + dilation·(k − 1) + output_padding + 1); you added zeros instead",
            lambda case: _padding_added(d, case), when=_has(d, 1)),
        Bug("padding-cropped-on-one-side", "you cropped 2·padding from the start only: torch "
            "crops `padding` from both ends", lambda case: _padding_one_side(d, case),
            when=_has(d, 1)),
        Bug("flipped-kernel-in-scatter", "your kernel is flipped: the scatter view stamps w[p] "
            "at out[i·stride + p·dilation] unflipped (only the 'convolution of the "
            "zero-stuffed input' view flips it)",
            lambda case: torch_ct(d, case, flip(case.args[1], d)),
            when=lambda case: any(s != 1 for s in case.args[1].shape[2:])),
        Bug("transposed-weight-axes-swapped", "a transposed convolution's weight is (C_in, "
            "C_out / groups, *kernel) — the reverse of conv's (C_out, C_in, *kernel); you read "
            "its first two axes the other way round",
            lambda case: torch_ct(d, case, np.swapaxes(case.args[1], 0, 1).copy()),
            when=lambda case: case.kwargs.get("groups", 1) == 1
            and case.args[1].shape[0] == case.args[1].shape[1]),
        Bug("groups-mixed", "with groups, input channels of group g only reach output channels "
            "of group g: split x into `groups` channel blocks, use weight rows of the same "
            "block, and concatenate the outputs", lambda case: _groups_mixed(d, case),
            when=lambda case: case.kwargs.get("groups", 1) != 1),
        Bug("bias-ignored", BIAS_IGNORED, lambda case: torch_ct(d, case, no_bias=True),
            when=lambda case: case.args[2] is not None),
        Bug("dilation-ignored-in-scatter", "dilation spreads the kernel: w[p] lands at "
            "out[i·stride + p·dilation]", lambda case: _dilation_ignored(d, case),
            when=lambda case: any(v != 1 for v in ct_params(case, d)[3])),
    ]


OUTPUT_PADDING_MISSING = Hint("output-padding-missing", "output_padding is missing: it adds "
                              "output_padding rows/columns at the end of the output")
PADDING_CROPS = Hint("padding-crops-output-size", "in a transposed convolution `padding` "
                     "crops the output: H_out = (H − 1)·stride − 2·padding + dilation·(k − 1) "
                     "+ output_padding + 1")
C_OUT = Hint("transposed-c-out", "output channels: weight is (C_in, C_out / groups, *kernel), "
             "so C_out = weight.shape[1] · groups")
OUTPUT_SIZE = Hint("transposed-output-size-formula", "check the output size: (H − 1)·stride − "
                   "2·padding + dilation·(k − 1) + output_padding + 1 per spatial axis")


def _diagnose_shape(d):
    @shape_diagnosis
    def diagnose(case, got_shape, exp_shape):
        x, w, _ = case.args
        stride, padding, op, dilation, _ = ct_params(case, d)

        def sizes_with(padding=padding, op=op):
            return tuple(transposed_out_size(*axis) for axis in zip(
                x.shape[-d:], w.shape[2:], stride, padding, op, dilation, strict=True))

        got_sp = tuple(got_shape[-d:])
        if any(op) and got_sp == sizes_with(op=(0,) * d):
            return OUTPUT_PADDING_MISSING
        if any(padding) and got_sp == sizes_with(padding=tuple(-p for p in padding)):
            return PADDING_CROPS
        if got_shape[-d - 1] != exp_shape[-d - 1]:
            return C_OUT
        return OUTPUT_SIZE
    return diagnose


_NAMES = {"conv_transpose1d": 1, "conv_transpose2d": 2, "conv_transpose3d": 3}
for _name, _d in _NAMES.items():
    register(Exercise(
        name=_name, arg_names=CT_ARGS, visible=_visible(_d), hidden=_hidden(_d),
        reference=ct_reference(_d), bugs=_bugs(_d), diagnose=_diagnose_shape(_d),
    ))


# conv_transpose2d_loop: the scatter written as loops; stride, padding, output_padding,
# bias (groups and dilation stay 1). Small cases: a Python loop must be quick.
def _loop_visible(rng):
    return _visible(2)(rng)[:3]


def _loop_hidden(rng):
    out = [
        ct_case(rng, 2, n=1, c_in=2, c_out=2, size=(3, 4), k=(3, 2), stride=stride,
                padding=padding, output_padding=op, bias=bias,
                note=f"stride={stride!r}, padding={padding!r}, output_padding={op!r}")
        for (stride, op), padding, bias in itertools.product(
            ((1, 0), (2, 0), (2, 1), ((3, 2), (2, 1))), (0, 1, (0, 2)), (True, False))
    ]
    out += [
        ct_case(rng, 2, size=(1, 1), k=(3, 3), note="size-1 input: the output is the kernel"),
        ct_case(rng, 2, size=(3, 3), k=(4, 4), stride=2, padding=1,
                note="kernel 4, stride 2, padding 1: the recipe that doubles the size"),
        refused(ct_case(rng, 2, size=(3, 3), k=(3, 3), stride=2, output_padding=2,
                        note="output_padding = stride"), OUTPUT_PADDING_TOO_LARGE),
    ]
    return out


register(Exercise(
    name="conv_transpose2d_loop", arg_names=CT_ARGS, visible=_loop_visible, hidden=_loop_hidden,
    reference=ct_reference(2), bugs=_bugs(2), diagnose=_diagnose_shape(2),
))


# ConvTranspose2d module -----------------------------------------------------------------
MODULE_ARGS = ("in_channels", "out_channels", "kernel_size")
MODULE_LABELS = probe_labels("weight") + ["whether self.bias exists (None or not)", "the output"]


def module_case(rng: np.random.Generator, c_in: int, c_out: int, k: int | tuple,
                size: tuple = (4, 5), n: int = 2, output_size: tuple | None = None,
                batched: bool = True, note: str = "", **options) -> Case:
    """ConvTranspose2d(c_in, c_out, k, **options), the weight and bias to set, an input, and
    the output_size to call it with (None: none)."""
    kh, kw = expand(k, 2)
    groups = options.get("groups", 1)
    weight = rng.standard_normal((c_in, max(c_out // groups, 1), kh, kw))
    bias = rng.standard_normal((c_out,)) if options.get("bias", True) else None
    x = rng.standard_normal(((n,) if batched else ()) + (c_in,) + tuple(size))
    return Case((c_in, c_out, k), options, note=note,
                extra={"weight": weight, "bias": bias, "x": x, "output_size": output_size})


def _module_run(cls, case):
    """The weight probed, whether a bias exists, then the output with the case's parameters."""
    module = module_to(cls(*case.args, **case.kwargs), case_float_dtype(case))
    weight, has_bias = probe(module, "weight"), probe(module, "bias")[0]
    module.weight = case.extra["weight"].copy()
    module.bias = None if case.extra["bias"] is None else case.extra["bias"].copy()
    x = case.extra["x"].copy()
    if case.extra["output_size"] is None:
        return (*weight, has_bias, module(x))
    return (*weight, has_bias, module(x, output_size=case.extra["output_size"]))


def _module_reference(case, ignore_output_size=False):
    t = oracle.torch()
    module = t.nn.ConvTranspose2d(*case.args, **case.kwargs).to(oracle.case_dtype(case))
    weight, has_bias = torch_probe(module, "weight"), torch_probe(module, "bias")[0]
    with t.no_grad():
        module.weight.copy_(t.from_numpy(case.extra["weight"]))
        if module.bias is not None:
            module.bias.copy_(t.from_numpy(case.extra["bias"]))
    output_size = None if ignore_output_size else case.extra["output_size"]
    if output_size is None:
        return (*weight, has_bias, oracle.call(module, case.extra["x"]))
    return (*weight, has_bias,
            oracle.call(module, case.extra["x"], output_size=list(output_size)))


def _module_visible(rng):
    return [
        module_case(rng, 3, 2, 3, note="defaults"),
        module_case(rng, 4, 2, 4, stride=2, padding=1, note="kernel 4, stride 2, padding 1"),
        module_case(rng, 2, 3, 3, stride=2, padding=1, output_size=(8, 10),
                    note="output_size (8, 10) picks output_padding 1"),
    ]


def _module_hidden(rng):
    out = []
    for stride, padding, groups, bias, dilation in itertools.product(
            (1, 2, (3, 2)), (0, 1), (1, 2), (True, False), (1, 2)):
        c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        size = (int(rng.integers(2, 5)), int(rng.integers(2, 5)))
        st, dl, pd = expand(stride, 2), expand(dilation, 2), expand(padding, 2)
        low = [transposed_out_size(s, kk, a, p, 0, b)
               for s, kk, a, p, b in zip(size, k, st, pd, dl, strict=True)]
        if min(low) < 1:
            padding, pd = 0, (0, 0)
            low = [transposed_out_size(s, kk, a, 0, 0, b)
                   for s, kk, a, b in zip(size, k, st, dl, strict=True)]
        options = dict(stride=stride, padding=padding, groups=groups, bias=bias, dilation=dilation)
        pick = int(rng.integers(0, 3))
        output_size, op = None, 0
        if pick == 1:
            # torch's output_size accepts min .. min + stride - 1 per axis.
            output_size = tuple(lo + int(rng.integers(0, s)) for lo, s in zip(low, st, strict=True))
        elif pick == 2:
            op = _valid_output_padding(rng, 2, stride, dilation)
            options["output_padding"] = op
        note = (f"stride={stride!r}, padding={padding!r}, groups={groups}, bias={bias}, "
                f"dilation={dilation}, " + (f"output_size={output_size}" if output_size
                                            else f"output_padding={op!r}"))
        out.append(module_case(rng, c_in, c_out, k, size=size, output_size=output_size,
                               batched=bool(rng.integers(0, 4)), note=note, **options))
    out += [
        module_case(rng, 2, 2, 3, size=(3, 3), stride=2, output_size=(2, 3, 8, 7),
                    note="output_size given as (N, C, H, W): only the last two count"),
        module_case(rng, 2, 2, 3, size=(3, 3), stride=2, output_size=(2, 8, 7), batched=False,
                    note="unbatched input, output_size given as (C, H, W)"),
        module_case(rng, 2, 2, 3, size=(3, 3), stride=2, output_size=(8, 7), output_padding=1,
                    note="output_size overrides the module's output_padding"),
        refused(module_case(rng, 2, 2, 3, size=(3, 3), stride=2, output_size=(9, 7),
                            note="output_size too large for stride 2"), OUTPUT_SIZE_RANGE),
        refused(module_case(rng, 2, 2, 3, size=(3, 3), stride=2, output_size=(6, 7),
                            note="output_size too small"), OUTPUT_SIZE_RANGE),
        refused(module_case(rng, 2, 2, 3, size=(3, 3), stride=2, output_size=(2, 2, 2, 7, 7),
                            note="output_size with the wrong number of entries"),
                "output_size has 2 entries, or 3 or 4 ending with them"),
        refused(module_case(rng, 3, 2, 3, groups=2, note="groups does not divide in_channels"),
                "groups must divide in_channels"),
        refused(module_case(rng, 2, 3, 3, groups=2, note="groups does not divide out_channels"),
                "groups must divide out_channels"),
        refused(module_case(rng, 2, 2, 3, padding=1, padding_mode="reflect",
                            note="padding_mode='reflect'"), "only padding_mode='zeros' exists"),
    ]
    return out


def _module_with(case, weight_shape=None, has_bias=None, **changes):
    """torch's module outputs with the probed weight shape or bias existence replaced, or the
    module built with some keyword arguments changed."""
    exists, shape, bias, out = _module_reference(
        Case(case.args, dict(case.kwargs, **changes), extra=case.extra))
    return (exists, shape if weight_shape is None else np.array(weight_shape),
            bias if has_bias is None else np.array(has_bias), out)


def _swapped_weight_shape(case):
    """Conv2d's weight shape: (out_channels, in_channels // groups, kH, kW)."""
    c_in, c_out, k = case.args
    return (c_out, c_in // case.kwargs.get("groups", 1), *expand(k, 2))


def _groups_first_shape(case):
    c_in, c_out, k = case.args
    return (c_in // case.kwargs["groups"], c_out, *expand(k, 2))


MODULE_BUGS = [
    Bug("output-size-ignored", "module(input, output_size) must choose output_padding so the "
        "output has exactly that size: output_padding = output_size − ((H − 1)·stride − "
        "2·padding + dilation·(k − 1) + 1), per axis",
        lambda case: _module_reference(case, ignore_output_size=True),
        when=lambda case: case.extra["output_size"] is not None),
    # Before Conv2d's shape: where the two wrong shapes coincide (in_channels / groups =
    # out_channels), the groups hint is the more precise one.
    Bug("groups-on-first-weight-axis", "the weight is (in_channels, out_channels // groups, "
        "kH, kW): groups divides the SECOND axis",
        lambda case: _module_with(case, weight_shape=_groups_first_shape(case)),
        when=lambda case: case.kwargs.get("groups", 1) != 1),
    Bug("weight-shaped-like-conv2d", "ConvTranspose2d's weight is (in_channels, out_channels "
        "// groups, kH, kW), not Conv2d's (out_channels, in_channels // groups, kH, kW)",
        lambda case: _module_with(case, weight_shape=_swapped_weight_shape(case)),
        when=lambda case: case.args[0] != case.args[1]),
    Bug("bias-always-created", "with bias=False the module has no bias: set self.bias = None",
        lambda case: _module_with(case, has_bias=True),
        when=lambda case: not case.kwargs.get("bias", True)),
    Bug("module-output-padding-ignored", "the module's output_padding is ignored: pass it to "
        "conv_transpose2d when no output_size is given",
        lambda case: _module_with(case, output_padding=0),
        when=lambda case: case.extra["output_size"] is None
        and bool(case.kwargs.get("output_padding"))),
]


def _module_diagnose(case, got, expected):
    return first_difference(MODULE_LABELS, got, expected)


register(Exercise(
    name="ConvTranspose2d", arg_names=MODULE_ARGS, visible=_module_visible,
    hidden=_module_hidden, reference=_module_reference, bugs=MODULE_BUGS,
    run=_module_run, diagnose=_module_diagnose,
))
