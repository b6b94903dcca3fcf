"""Chapter 02 — groups and dilation: conv1d/2d/3d with every parameter, parameter counts,
receptive fields.

The exercises ``conv1d/groups``, ``conv2d/groups`` and ``conv3d/groups`` grade the
student's ``conv1d`` / ``conv2d`` / ``conv3d`` again, now over the whole signature of
``torch.nn.functional.conv*d``: stride, padding (int, tuple, 'same', 'valid'), dilation,
groups, bias, batched or not. Expected values and wrong answers are computed with torch.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..compare import Hint
from ..exercise import Bug, Case, Exercise, refused, register
from ._shapes import exact, expand, shape_diagnosis, window_out_size
from .conv import CONV_ARGS, STRIDED_SAME, bias_ignored, conv_reference, flipped_kernel, torch_conv

# conv2d/unfold (chapter 03) grades with these too.
_reference = conv_reference


def gconv_case(rng: np.random.Generator, d: int, *, n=2, c_in=4, c_out=4, groups=1,
               size=(7, 6, 5), k=(3, 3, 3), stride=1, padding=0, dilation=1, bias=True,
               batched=True, weight_c_in=None, note="") -> Case:
    """One call of conv{d}d; ``weight_c_in`` overrides C_in/groups (for refused cases)."""
    size, k = tuple(size[:d]), tuple(k[:d])
    shape = ((n,) if batched else ()) + (c_in,) + size
    x = rng.standard_normal(shape)
    per_group = weight_c_in if weight_c_in is not None else max(c_in // max(groups, 1), 1)
    w = rng.standard_normal((c_out, per_group) + k)
    b = rng.standard_normal(c_out) if bias else None
    kwargs = {}
    for name, value, default in (("stride", stride, 1), ("padding", padding, 0),
                                 ("dilation", dilation, 1), ("groups", groups, 1)):
        if value != default:
            kwargs[name] = value
    return Case((x, w, b), kwargs, note=note)


def _visible(d):
    def cases(rng):
        return [
            gconv_case(rng, d, c_in=4, c_out=6, groups=2,
                       note="groups=2: two convolutions side by side"),
            gconv_case(rng, d, c_in=3, c_out=6, groups=3, bias=False,
                       note="depthwise (groups = C_in) with channel multiplier 2"),
            gconv_case(rng, d, c_in=2, c_out=3, size=(9, 8, 7), dilation=2,
                       note="dilation 2: a 3-tap kernel spans 5"),
            gconv_case(rng, d, c_in=2, c_out=2, size=(8, 7, 6), k=(2, 3, 2), dilation=3,
                       padding="same", note="'same' with dilation 3 and an even kernel"),
        ]
    return cases


def _hidden(d):
    def cases(rng):
        out = []
        groups_choices = [1, 2, 3, "depthwise"]
        dilations = [1, 2, 3, (2, 1, 3)[:d]]
        paddings = [0, 1, (2, 0, 1)[:d], "same", "valid"]
        strides = [1, 2, (1, 3, 2)[:d]]
        for groups, dilation in itertools.product(groups_choices, dilations):
            for _ in range(2):
                padding = paddings[int(rng.integers(len(paddings)))]
                stride = 1 if padding == "same" else strides[int(rng.integers(len(strides)))]
                per_group = int(rng.integers(1, 3))
                g = int(rng.integers(2, 4)) if groups == "depthwise" else groups
                c_in = g * per_group if groups != "depthwise" else g
                mult = int(rng.integers(1, 3))
                c_out = g * mult
                k = tuple(int(v) for v in rng.integers(1, 4, size=3))
                # A d-tuple dilation is not broadcast: the spans (and so the draws below)
                # are d long, the kernel's other taps unused.
                span = [dd * (kk - 1) + 1 for dd, kk in zip(exact(dilation, 3), k, strict=False)]
                hi = 9 if d < 3 else 7
                size = tuple(int(rng.integers(max(s, 2), max(s, 2) + hi - 3)) for s in span)
                out.append(gconv_case(
                    rng, d, n=int(rng.integers(1, 3)), c_in=c_in, c_out=c_out, groups=g,
                    size=size, k=k, stride=stride, padding=padding, dilation=dilation,
                    bias=bool(rng.integers(0, 2)), batched=bool(rng.integers(0, 4)),
                    note=f"groups={g}{' (depthwise)' if groups == 'depthwise' else ''}, "
                         f"dilation={dilation}, stride={stride}, padding={padding!r}"))
        out += [
            gconv_case(rng, d, c_in=6, c_out=6, groups=6, k=(3, 3, 3), padding=1,
                       note="depthwise, multiplier 1 (groups = C_in = C_out)"),
            gconv_case(rng, d, c_in=6, c_out=4, groups=2, size=(5, 5, 5), k=(5, 5, 5),
                       note="groups=2, kernel as large as the input"),
            gconv_case(rng, d, c_in=4, c_out=8, groups=4, size=(9, 8, 7), dilation=2, stride=2,
                       padding=2, note="dilation with stride and padding"),
            gconv_case(rng, d, c_in=2, c_out=2, size=(7, 7, 7), k=(4, 2, 4), dilation=2,
                       padding="same", note="'same' with dilation 2, even kernel: total "
                       "padding dilation·(k − 1), the extra at the end"),
            gconv_case(rng, d, c_in=3, c_out=3, size=(6, 6, 6), k=(2, 2, 2), dilation=(3, 1, 2)[:d],
                       padding="same", groups=3, note="'same', per-axis dilation, depthwise"),
            gconv_case(rng, d, c_in=3, c_out=2, size=(5, 5, 5), k=(3, 3, 3), dilation=2,
                       note="dilated kernel exactly as large as the input"),
            gconv_case(rng, d, n=1, c_in=1, c_out=1, size=(1, 1, 1), k=(1, 1, 1), dilation=4,
                       note="size-1 input, 1-tap kernel: dilation does not matter"),
            gconv_case(rng, d, c_in=4, c_out=4, groups=4, batched=False, dilation=2, padding=2,
                       note="unbatched depthwise, dilation 2"),
            # Configurations torch refuses: the student must raise ValueError.
            refused(gconv_case(rng, d, c_in=5, c_out=4, groups=2, weight_c_in=2,
                               note="C_in = 5 not divisible by groups = 2"),
                    "groups must divide C_in"),
            refused(gconv_case(rng, d, c_in=4, c_out=5, groups=2,
                               note="C_out = 5 not divisible by groups = 2"),
                    "groups must divide C_out"),
            refused(gconv_case(rng, d, c_in=4, c_out=4, groups=2, weight_c_in=4,
                               note="weight has C_in channels, not C_in / groups"),
                    "weight.shape[1] must be C_in / groups"),
            refused(gconv_case(rng, d, c_in=4, c_out=4, groups=0, weight_c_in=4,
                               note="groups = 0"), "groups must be positive"),
            refused(gconv_case(rng, d, c_in=2, c_out=2, dilation=0, note="dilation = 0"),
                    "dilation must be positive"),
            refused(gconv_case(rng, d, c_in=2, c_out=2, size=(5, 5, 5), k=(3, 3, 3), dilation=3,
                               note="dilated kernel (span 7) larger than the input"),
                    "the dilated kernel is larger than the input"),
            refused(gconv_case(rng, d, c_in=2, c_out=2, dilation=2, stride=2, padding="same",
                               note="'same' with stride 2"), STRIDED_SAME),
        ]
        return out
    return cases


def _strided_order(c, g):
    """Channel order g-strided: group j gets channels j, j + g, j + 2g, ..."""
    return np.concatenate([np.arange(j, c, g) for j in range(g)])


def _groups(case):
    return case.kwargs.get("groups", 1)


def _mixed_input(d, case):
    x = case.args[0]
    perm = _strided_order(x.shape[-d - 1], _groups(case))
    return torch_conv(d, case, np.take(x, perm, axis=-d - 1))


def _mixes_input(d):
    def when(case):
        g, c = _groups(case), case.args[0].shape[-d - 1]
        return g >= 2 and g != c and c % g == 0
    return when


def _interleaved_output(d, case):
    """Output channel o (wrongly) computed by group o % g."""
    _, w, b = case.args
    perm = _strided_order(w.shape[0], _groups(case))
    wrong = Case((case.args[0], w[perm].copy(), None if b is None else b[perm].copy()),
                 case.kwargs)
    return np.take(torch_conv(d, wrong), np.argsort(perm), axis=-d - 1)


def _interleaves_output(case):
    g, c_out = _groups(case), case.args[1].shape[0]
    return g >= 2 and c_out % g == 0 and c_out != g


def _dilation(d, case):
    return expand(case.kwargs.get("dilation", 1), d)


def _same_extra_first(d, case):
    x, w, _ = case.args
    totals = [dd * (kk - 1) for dd, kk in zip(_dilation(d, case), w.shape[2:], strict=True)]
    spec = tuple(v for t in reversed(totals) for v in (t - t // 2, t // 2))
    return torch_conv(d, case, oracle.call(oracle.F().pad, x, spec), padding=0)


def _same_odd_total(d):
    def when(case):
        totals = [dd * (kk - 1) for dd, kk in zip(_dilation(d, case), case.args[1].shape[2:],
                                                  strict=True)]
        return case.kwargs.get("padding") == "same" and any(t % 2 for t in totals)
    return when


def _same_ignores_dilation(d, case):
    """'same' padding of (k − 1) in total, as if dilation were 1: the output shrinks."""
    x, w, _ = case.args
    spec = tuple(v for kk in reversed(w.shape[2:]) for v in ((kk - 1) // 2, kk - 1 - (kk - 1) // 2))
    return torch_conv(d, case, oracle.call(oracle.F().pad, x, spec), padding=0)


def _is_same(case):
    return case.kwargs.get("padding") == "same"


def conv_variants(d: int) -> list[Bug]:
    """The known bugs of a full conv{d}d, computed with torch (conv2d/unfold grades them too)."""
    return [
        Bug("channels-mixed-across-groups", "groups split the input channels into contiguous "
            "blocks (group g reads channels g·C_in/groups to (g+1)·C_in/groups − 1); you mixed "
            "channels across groups (group g read channels g, g + groups, ...)",
            lambda case: _mixed_input(d, case), when=_mixes_input(d)),
        Bug("output-channels-interleaved", "output channels are grouped in contiguous blocks "
            "too: the first C_out/groups output channels belong to group 0; you assigned "
            "output channel o to group o % groups",
            lambda case: _interleaved_output(d, case), when=_interleaves_output),
        Bug("dilation-ignored", "dilation is ignored: the window's taps are `dilation` apart",
            lambda case: torch_conv(d, case, dilation=1),
            when=lambda case: _dilation(d, case) != (1,) * d),
        Bug("dilation-off-by-one", "dilation d puts d − 1 gaps between kernel taps (taps d "
            "apart; dilation 1 is the ordinary kernel); your taps are d + 1 apart",
            lambda case: torch_conv(d, case, dilation=tuple(v + 1 for v in _dilation(d, case))),
            when=lambda case: any(k != 1 for k in case.args[1].shape[2:])),
        Bug("same-dilated-extra-at-start", "'same' pads dilation·(k − 1) in total; when that "
            "is odd torch puts the extra one at the end: left = total // 2, right = total − left",
            lambda case: _same_extra_first(d, case), when=_same_odd_total(d)),
        Bug("same-ignores-dilation", "with padding='same' the total padding is dilation·(k − "
            "1), not k − 1: the dilated kernel spans dilation·(k − 1) + 1",
            lambda case: _same_ignores_dilation(d, case), when=_is_same),
        flipped_kernel(d),
        bias_ignored(d),
    ]


C_OUT = Hint("c-out-per-group", "C_out is weight.shape[0]; each of the `groups` groups "
             "produces C_out / groups of them")
SAME_SIZE = Hint("same-dilated-keeps-input-size", "with padding='same' the output has the "
                 "input's spatial size: pad dilation·(k − 1) in total")
UNDILATED_SIZE = Hint("output-size-ignores-dilation", "your output size ignores dilation: the "
                      "kernel spans dilation·(k − 1) + 1, so H_out = floor((H + 2·padding − "
                      "dilation·(k − 1) − 1) / stride) + 1")
OUTPUT_SIZE = Hint("dilated-output-size-formula", "check the output size: floor((H + "
                   "2·padding − dilation·(k − 1) − 1) / stride) + 1 per spatial axis")


def _diagnose_shape(d):
    @shape_diagnosis
    def diagnose(case, got_shape, exp_shape):
        if got_shape[-d - 1] != exp_shape[-d - 1]:
            return C_OUT
        x, w, _ = case.args
        pads = case.kwargs.get("padding", 0)
        if pads == "same":
            return SAME_SIZE
        pads = expand(0 if pads == "valid" else pads, d)
        strides = expand(case.kwargs.get("stride", 1), d)
        undilated = tuple(window_out_size(s, k, st, p) for s, k, st, p in
                          zip(x.shape[-d:], w.shape[2:], strides, pads, strict=True))
        if tuple(got_shape[-d:]) == undilated and _dilation(d, case) != (1,) * d:
            return UNDILATED_SIZE
        return OUTPUT_SIZE
    return diagnose


for _name, _d in {"conv1d/groups": 1, "conv2d/groups": 2, "conv3d/groups": 3}.items():
    register(Exercise(
        name=_name, arg_names=CONV_ARGS, visible=_visible(_d),
        hidden=_hidden(_d), reference=_reference(_d), bugs=conv_variants(_d),
        diagnose=_diagnose_shape(_d),
    ))


# conv_parameter_count -----------------------------------------------------------------
COUNT_ARGS = ("in_channels", "out_channels", "kernel_size", "groups", "bias")
TORCH_MODULE = {1: "Conv1d", 2: "Conv2d", 3: "Conv3d"}


def _count_case(c_in, c_out, k, groups=1, bias=True, note=""):
    kwargs = {}
    if groups != 1:
        kwargs["groups"] = groups
    if not bias:
        kwargs["bias"] = False
    return Case((c_in, c_out, k), kwargs, note=note or f"kernel_size={k!r}, groups={groups}")


def _count_visible(rng):
    return [
        _count_case(3, 64, 3, note="the first layer of a VGG: 3 → 64, 3×3"),
        _count_case(96, 256, 5, groups=2, note="AlexNet's conv2: 96 → 256, 5×5, two groups"),
        _count_case(32, 32, 3, groups=32, bias=False, note="depthwise 3×3, no bias"),
        _count_case(32, 64, 1, note="pointwise 1×1"),
    ]


def _count_hidden(rng):
    out = []
    for _ in range(24):
        g = int(rng.choice([1, 2, 3, 4, 8]))
        c_in, c_out = g * int(rng.integers(1, 9)), g * int(rng.integers(1, 9))
        d = int(rng.integers(1, 4))
        if rng.integers(0, 2):
            k = int(rng.integers(1, 8))
        else:
            k = tuple(int(v) for v in rng.integers(1, 6, size=d))
        out.append(_count_case(c_in, c_out, k, groups=g, bias=bool(rng.integers(0, 2))))
    out += [
        _count_case(384, 384, 3, groups=384, note="depthwise, 384 channels"),
        _count_case(8, 16, (3, 1), groups=4, bias=False, note="a 3×1 kernel"),
        _count_case(4, 6, (3, 3, 3), groups=2, note="a 3-D kernel"),
        _count_case(6, 4, (5,), groups=2, note="a 1-D kernel"),
        refused(_count_case(6, 4, 3, groups=4, note="in_channels not divisible by groups"),
                "in_channels must be divisible by groups"),
        refused(_count_case(4, 6, 3, groups=4, note="out_channels not divisible by groups"),
                "out_channels must be divisible by groups"),
    ]
    return out


def _count_reference(case):
    t = oracle.torch()
    c_in, c_out, k = case.args
    d = len(k) if isinstance(k, tuple) else 2
    module = getattr(t.nn, TORCH_MODULE[d])(c_in, c_out, k, **case.kwargs)
    return int(sum(p.numel() for p in module.parameters()))


def _count_with(case, **changes):
    """torch's count with some keyword arguments changed."""
    return _count_reference(Case(case.args, dict(case.kwargs, **changes)))


def _count_biases(case):
    return 0 if case.kwargs.get("bias", True) is False else case.args[1]


def _grouped(case):
    return case.kwargs.get("groups", 1) != 1


COUNT_BUGS = [
    Bug("bias-not-counted", "a layer with bias=True also has out_channels bias values",
        lambda case: _count_with(case, bias=False),
        when=lambda case: case.kwargs.get("bias", True) is not False),
    Bug("groups-not-counted", "each output channel sees only in_channels / groups input "
        "channels: weight is (out_channels, in_channels / groups, *kernel_size)",
        lambda case: _count_with(case, groups=1), when=_grouped),
    Bug("divided-by-groups-twice", "you divided by groups twice: the weight is (out_channels, "
        "in_channels / groups, *kernel_size) — out_channels is not divided",
        lambda case: _count_with(case, bias=False) // case.kwargs["groups"] + _count_biases(case),
        when=_grouped),
    Bug("int-kernel-size-not-squared", "an int kernel_size k means a k×k kernel (as in "
        "Conv2d): k·k weights per input channel, not k",
        lambda case: (case.args[1] * (case.args[0] // case.kwargs.get("groups", 1)) * case.args[2]
                      + _count_biases(case)),
        when=lambda case: not isinstance(case.args[2], tuple) and case.args[2] != 1),
]


register(Exercise(
    name="conv_parameter_count", arg_names=COUNT_ARGS, visible=_count_visible,
    hidden=_count_hidden, reference=_count_reference, bugs=COUNT_BUGS,
))


# receptive_field ----------------------------------------------------------------------
RF_ARGS = ("kernel_sizes", "strides", "dilations")


def _rf_case(kernels, strides=None, dilations=None, note=""):
    kwargs = {}
    if strides is not None:
        kwargs["strides"] = tuple(strides)
    if dilations is not None:
        kwargs["dilations"] = tuple(dilations)
    return Case((tuple(kernels),), kwargs, note=note or f"{len(kernels)} layer(s)")


def _rf_visible(rng):
    return [
        _rf_case([3], note="one 3-tap layer"),
        _rf_case([3, 3], note="two 3×3 layers see 5×5 (the VGG argument)"),
        _rf_case([3], dilations=[2], note="a 3-tap kernel at dilation 2 sees 5"),
        _rf_case([3, 2, 3], strides=[1, 2, 1], note="a stride in the middle"),
    ]


_RF_KINDS = ("no strides or dilations", "strides", "dilations", "strides and dilations")


def _rf_hidden(rng):
    out = []
    for _ in range(20):
        depth = int(rng.integers(1, 5))
        kernels = [int(v) for v in rng.integers(1, 6, size=depth)]
        strides = [int(v) for v in rng.integers(1, 3, size=depth)]
        dilations = [int(v) for v in rng.integers(1, 4, size=depth)]
        choice = int(rng.integers(0, 4))
        out.append(_rf_case(kernels, strides if choice in (1, 3) else None,
                            dilations if choice in (2, 3) else None,
                            note=f"{depth} layer(s), {_RF_KINDS[choice]}"))
    out += [
        _rf_case([3, 3, 3], dilations=[1, 2, 4],
                 note="the WaveNet / context-module stack: 1, 2, 4"),
        _rf_case([7, 3, 3, 3], strides=[2, 2, 1, 1],
                 note="a ResNet-like stem: 7/2, pool 3/2, then 3×3s"),
        _rf_case([1, 1], strides=[2, 2], note="1-tap layers see one input value"),
        _rf_case([2, 2, 2, 2], strides=[2, 2, 2, 2],
                 note="non-overlapping windows (a pooling pyramid)"),
    ]
    return out


def _rf_reference(case):
    """The span of input positions with a nonzero gradient for the first output."""
    t = oracle.torch()
    kernels = case.args[0]
    strides = case.kwargs.get("strides") or (1,) * len(kernels)
    dilations = case.kwargs.get("dilations") or (1,) * len(kernels)
    length = 1
    for k, s, dd in zip(kernels, strides, dilations, strict=True):
        length = length * s + dd * (k - 1) + 8  # generous: the first output always exists
    x = t.ones(1, 1, length, dtype=t.float64, requires_grad=True)
    y = x
    for k, s, dd in zip(kernels, strides, dilations, strict=True):
        y = oracle.F().conv1d(y, t.ones(1, 1, k, dtype=t.float64), stride=s, dilation=dd)
    y[0, 0, 0].backward()
    touched = t.nonzero(x.grad[0, 0]).flatten()
    return int(touched.max() - touched.min() + 1)


def _rf_with(case, **changes):
    """torch's receptive field with some keyword arguments changed."""
    return _rf_reference(Case(case.args, dict(case.kwargs, **changes)))


def _strided(case):
    return bool(case.kwargs.get("strides")) and set(case.kwargs["strides"]) != {1}


def _own_stride_counted(case):
    """Growth of layer l times the strides up to and INCLUDING l: the strides shifted by one
    layer, everything scaled by the first stride."""
    s = case.kwargs["strides"]
    return s[0] * (_rf_with(case, strides=tuple(s[1:]) + (1,)) - 1) + 1


RF_BUGS = [
    Bug("strides-ignored", "each stride multiplies the step of every later layer: layer l "
        "adds dilation_l·(k_l − 1)·(product of the strides before it)",
        lambda case: _rf_with(case, strides=None), when=_strided),
    Bug("dilations-ignored", "a dilated kernel spans dilation·(k − 1) + 1 inputs; you used k",
        lambda case: _rf_with(case, dilations=None),
        when=lambda case: bool(case.kwargs.get("dilations"))
        and set(case.kwargs["dilations"]) != {1}),
    Bug("own-stride-counted", "layer l's growth is multiplied by the strides of the layers "
        "BEFORE it, not by its own stride", _own_stride_counted, when=_strided),
    Bug("kernel-sizes-summed", "stacked kernels overlap: two 3-tap layers see 5 inputs, not 6 "
        "— r = 1 + sum of (k − 1)·jump", lambda case: int(sum(case.args[0])),
        when=lambda case: len(case.args[0]) >= 2),
]


register(Exercise(
    name="receptive_field", arg_names=RF_ARGS, visible=_rf_visible, hidden=_rf_hidden,
    reference=_rf_reference, bugs=RF_BUGS,
))
