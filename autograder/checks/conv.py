"""Chapter 01 — convolution: conv1d/2d/3d, conv2d_loop, pad, and the Conv2d module.

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
from ._shapes import expand, shape_diagnosis, window_out_size

CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
TORCH_CONV = {1: "conv1d", 2: "conv2d", 3: "conv3d"}

STRIDED_SAME = "padding='same' needs stride 1"
KERNEL_TOO_LARGE = "the kernel is larger than the (padded) input"


def conv_case(rng: np.random.Generator, d: int, *, n=2, c_in=3, c_out=4, size=(7, 6, 5),
              k=(3, 2, 3), stride=1, padding=0, bias=True, batched=True, note="") -> Case:
    """One call of conv{d}d: input (N, C_in, *size), weight (C_out, C_in, *k), bias (C_out,)."""
    size, k = tuple(size[:d]), tuple(k[:d])
    shape = ((n,) if batched else ()) + (c_in,) + size
    x = rng.standard_normal(shape)
    w = rng.standard_normal((c_out, c_in, *k))
    b = rng.standard_normal((c_out,)) if bias else None
    kwargs = {}
    if stride != 1:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    return Case((x, w, b), kwargs, note=note)


def strided_same(case: Case, d: int) -> bool:
    """'same' padding with a stride other than 1, which torch refuses."""
    stride = expand(case.kwargs.get("stride", 1), d)
    return case.kwargs.get("padding") == "same" and any(s != 1 for s in stride)


def _refuse_strided_same(case, d):
    return refused(case, STRIDED_SAME) if strided_same(case, d) else case


def _visible(d):
    def cases(rng):
        return [
            conv_case(rng, d, n=1, c_in=1, c_out=1, size=(5, 5, 4), k=(3, 3, 3), bias=False,
                      note="one channel, no padding"),
            conv_case(rng, d, note="several channels, bias"),
            conv_case(rng, d, c_in=3, c_out=3, stride=2, padding=1, note="stride 2, padding 1"),
            conv_case(rng, d, padding="same", k=(4, 3, 2), note="'same' with an even kernel"),
        ]
    return cases


def _hidden(d):
    def cases(rng):
        out = []
        strides = [1, 2, 3, (2, 1, 3)[:d]]
        paddings = [0, 1, 2, (1, 0, 2)[:d], "same", "valid"]
        for stride, padding, bias in itertools.product(strides, paddings, (True, False)):
            size = tuple(int(v) for v in rng.integers(4, 9 if d < 3 else 7, size=3))
            k = tuple(int(v) for v in rng.integers(1, 5, size=3))
            case = conv_case(rng, d, n=int(rng.integers(1, 3)), c_in=int(rng.integers(1, 4)),
                             c_out=int(rng.integers(1, 4)), size=size, k=k, stride=stride,
                             padding=padding, bias=bias, batched=bool(rng.integers(0, 4)),
                             note=f"stride={stride}, padding={padding!r}")
            out.append(_refuse_strided_same(case, d))
        out += [
            conv_case(rng, d, size=(5, 4, 3), k=(5, 4, 3), note="kernel as large as the input"),
            conv_case(rng, d, n=1, c_in=1, c_out=1, size=(1, 1, 1), k=(1, 1, 1),
                      note="size-1 everything"),
            conv_case(rng, d, size=(6, 6, 6), k=(4, 2, 4), padding="same",
                      note="'same' with even kernels: torch pads the extra row/column at the end"),
            conv_case(rng, d, size=(9, 5, 7), k=(3, 2, 1), stride=(3, 1, 2)[:d],
                      padding=(2, 1, 0)[:d], note="non-square everything"),
            conv_case(rng, d, c_in=4, c_out=4, size=(6, 7, 5), k=(3, 3, 3), padding=1,
                      note="as many output channels as input channels"),
            refused(conv_case(rng, d, size=(3, 3, 3), k=(5, 5, 5),
                              note="kernel larger than the input"), KERNEL_TOO_LARGE),
            refused(conv_case(rng, d, k=(3, 3, 3), stride=2, padding="same",
                              note="'same' with stride 2"), STRIDED_SAME),
        ]
        return out
    return cases


def conv_reference(d: int) -> Callable[[Case], np.ndarray]:
    """torch's conv{d}d, as a reference: case -> output array."""
    def reference(case):
        return torch_conv(d, case)
    return reference


def torch_conv(d: int, case: Case, x=None, w=None, *, no_bias=False, **changes) -> np.ndarray:
    """torch's conv{d}d on ``case`` with the input, the weight, or keyword arguments replaced
    (``no_bias``: without the bias)."""
    cx, cw, cb = case.args
    return oracle.call(getattr(oracle.F(), TORCH_CONV[d]), cx if x is None else x,
                       cw if w is None else w, None if no_bias else cb,
                       **dict(case.kwargs, **changes))


def flip(w: np.ndarray, d: int) -> np.ndarray:
    """The kernel reversed along its d spatial axes (the last d)."""
    return w[(Ellipsis,) + (slice(None, None, -1),) * d].copy()


def _pad_spec(widths):
    """F.pad's argument for (before, after) widths given first axis first."""
    return tuple(v for before, after in reversed(widths) for v in (before, after))


def _numeric_padding(case):
    return not isinstance(case.kwargs.get("padding", 0), str)


def _padded(d):
    return lambda case: _numeric_padding(case) and any(expand(case.kwargs.get("padding", 0), d))


def _one_sided(d, case, at_end):
    """Padding 2p on one side instead of p on each: the output has the right size."""
    pads = expand(case.kwargs.get("padding", 0), d)
    spec = _pad_spec([(0, 2 * p) if at_end else (2 * p, 0) for p in pads])
    return torch_conv(d, case, oracle.call(oracle.F().pad, case.args[0], spec), padding=0)


def _even_same(case):
    return case.kwargs.get("padding") == "same" and any(k % 2 == 0 for k in case.args[1].shape[2:])


def _same_extra_first(d, case):
    """'same' with an even kernel, the extra padding put at the start instead of the end."""
    spec = _pad_spec([(k - 1 - (k - 1) // 2, (k - 1) // 2) for k in case.args[1].shape[2:]])
    return torch_conv(d, case, oracle.call(oracle.F().pad, case.args[0], spec), padding=0)


def _rounded_up_size(size, k, stride, padding):
    """The bug's output size: (H + 2·padding − kernel) / stride rounded up, plus 1."""
    return -(-(size + 2 * padding - k) // stride) + 1


def _axes(d, case):
    """(size, kernel, stride, padding) per spatial axis, for numeric padding."""
    x, w, _ = case.args
    return zip(x.shape[-d:], w.shape[2:], expand(case.kwargs.get("stride", 1), d),
               expand(case.kwargs.get("padding", 0), d), strict=True)


def _rounds_up(d):
    def when(case):
        return _numeric_padding(case) and any(
            window_out_size(*axis) != _rounded_up_size(*axis) for axis in _axes(d, case))
    return when


def _rounded_up(d, case):
    """The output size rounded up: zeros past the end make room for the last, partial window."""
    widths = [(p, p + (_rounded_up_size(size, k, s, p) - 1) * s + k - (size + 2 * p))
              for size, k, s, p in _axes(d, case)]
    return torch_conv(d, case, oracle.call(oracle.F().pad, case.args[0], _pad_spec(widths)),
                      padding=0)


FLIPPED_KERNEL = ("your kernel is flipped: that is convolution (卷积) in the signal-processing "
                  "sense; torch computes cross-correlation (互相关): out[i] = sum_k x[i + k] * "
                  "w[k], with no flip")
BIAS_IGNORED = "the bias is missing: add bias[c_out] to every output position of channel c_out"


def flipped_kernel(d: int) -> Bug:
    """torch on the flipped kernel: true convolution instead of cross-correlation."""
    return Bug("flipped-kernel", FLIPPED_KERNEL,
               lambda case: torch_conv(d, case, w=flip(case.args[1], d)),
               when=lambda case: any(s != 1 for s in case.args[1].shape[2:]))


def bias_ignored(d: int) -> Bug:
    """torch without the bias."""
    return Bug("bias-ignored", BIAS_IGNORED, lambda case: torch_conv(d, case, no_bias=True),
               when=lambda case: case.args[2] is not None)


ROUNDED_UP = Hint("output-size-rounded-up", "your output size rounds up; torch rounds down: "
                  "floor((H + 2·padding − kernel) / stride) + 1")


def _bugs(d):
    return [
        flipped_kernel(d),
        bias_ignored(d),
        Bug("padding-at-end-only", "you padded one side only (2·padding at the end): torch "
            "pads `padding` on both sides", lambda case: _one_sided(d, case, at_end=True),
            when=_padded(d)),
        Bug("padding-at-start-only", "you padded one side only (2·padding at the start): "
            "torch pads `padding` on both sides", lambda case: _one_sided(d, case, at_end=False),
            when=_padded(d)),
        Bug("same-extra-padding-at-start", "for 'same' with an even kernel torch puts the "
            "extra padding at the end (right/bottom): left = (k - 1) // 2, right = k - 1 - left",
            lambda case: _same_extra_first(d, case), when=_even_same),
        Bug("weight-axes-swapped", "weight is (C_out, C_in, *kernel): you used its first two "
            "axes the other way round",
            lambda case: torch_conv(d, case, w=np.swapaxes(case.args[1], 0, 1).copy()),
            when=lambda case: case.args[1].shape[0] == case.args[1].shape[1]),
        Bug("kernel-transposed", "the kernel's last two axes are (kH, kW): you swapped rows "
            "and columns",
            lambda case: torch_conv(d, case, w=np.swapaxes(case.args[1], -1, -2).copy()),
            when=lambda case: d >= 2 and case.args[1].shape[-1] == case.args[1].shape[-2] > 1),
        Bug("stride-ignored", "the stride is ignored: step the window by `stride`",
            lambda case: torch_conv(d, case, stride=1),
            when=lambda case: case.kwargs.get("stride", 1) != 1),
        Bug(ROUNDED_UP.id, ROUNDED_UP.text, lambda case: _rounded_up(d, case), when=_rounds_up(d)),
    ]


SAME_SIZE = Hint("same-keeps-input-size", "with padding='same' the output has the input's "
                 "spatial size")
OUTPUT_SIZE = Hint("output-size-formula", "check the output size: floor((H + 2·padding − "
                   "kernel) / stride) + 1 per spatial axis, C_out from weight.shape[0]")


def _diagnose_shape(d):
    @shape_diagnosis
    def diagnose(case, got_shape, exp_shape):
        if not _numeric_padding(case) and case.kwargs["padding"] == "same":
            return SAME_SIZE
        if not _numeric_padding(case):  # 'valid'
            case = Case(case.args, dict(case.kwargs, padding=0))
        ceil = tuple(_rounded_up_size(*axis) for axis in _axes(d, case))
        return ROUNDED_UP if tuple(got_shape[-d:]) == ceil else OUTPUT_SIZE
    return diagnose


for _name, _d in {"conv1d": 1, "conv2d": 2, "conv3d": 3}.items():
    register(Exercise(
        name=_name, arg_names=CONV_ARGS, visible=_visible(_d), hidden=_hidden(_d),
        reference=conv_reference(_d), bugs=_bugs(_d), diagnose=_diagnose_shape(_d),
    ))


# conv2d_loop: the readable version. Its cases stay small, a Python loop must be quick.
def _loop_visible(rng):
    return _visible(2)(rng)[:3]


def _loop_hidden(rng):
    return [
        conv_case(rng, 2, n=1, c_in=2, c_out=2, size=(6, 5), k=(3, 2), stride=stride,
                  padding=padding, bias=bias, note=f"stride={stride}, padding={padding!r}")
        for stride, padding, bias in itertools.product((1, 2, (2, 1)), (0, 1, (0, 2)),
                                                       (True, False))
    ] + [conv_case(rng, 2, n=2, size=(4, 4), k=(4, 4), note="kernel as large as the input"),
         refused(conv_case(rng, 2, n=1, size=(3, 3), k=(5, 5),
                           note="kernel larger than the input"), KERNEL_TOO_LARGE)]


register(Exercise(
    name="conv2d_loop", arg_names=CONV_ARGS, visible=_loop_visible, hidden=_loop_hidden,
    reference=conv_reference(2), bugs=_bugs(2), diagnose=_diagnose_shape(2),
))


# pad ----------------------------------------------------------------------------------
PAD_ARGS = ("input", "pad", "mode", "value")
REFLECT_TOO_WIDE = "reflect padding must be smaller than the padded dimension"


def pad_case(rng: np.random.Generator, shape: tuple, pad: tuple, mode: str = "constant",
             value: float | None = None, note: str = "") -> Case:
    """One call of pad: a random input of ``shape``, F.pad's pad (last dimension first)."""
    kwargs = {}
    if mode != "constant":
        kwargs["mode"] = mode
    if value is not None:
        kwargs["value"] = value
    x = rng.standard_normal(shape)
    return Case((x, tuple(pad)), kwargs, note=note or f"mode={mode!r}")


def reflect_too_wide(case: Case) -> bool:
    """Reflect padding as wide as the dimension it pads, which torch refuses."""
    x, pad = case.args
    return case.kwargs.get("mode") == "reflect" and any(
        max(pad[2 * i], pad[2 * i + 1]) >= x.shape[-1 - i] for i in range(len(pad) // 2))


def _pad_visible(rng):
    return [
        pad_case(rng, (1, 1, 4, 4), (1, 1, 1, 1), value=0.0, note="zero padding, 1 on each side"),
        pad_case(rng, (1, 2, 3, 4), (2, 1, 0, 1), mode="reflect", note="reflect, unequal sides"),
        pad_case(rng, (1, 1, 3, 3), (1, 2, 2, 1), mode="replicate"),
        pad_case(rng, (2, 1, 4, 5), (1, 2, 1, 0), mode="circular"),
    ]


def _pad_hidden(rng):
    out = []
    for mode in ("constant", "reflect", "replicate", "circular"):
        for ndim, npairs in ((2, 1), (3, 1), (3, 2), (4, 1), (4, 2), (4, 3), (5, 2), (5, 3)):
            # Modes other than constant pad the last ndim-1 or ndim-2 dimensions only.
            if mode != "constant" and npairs not in (ndim - 1, ndim - 2):
                continue
            shape = tuple(int(v) for v in rng.integers(2, 6, size=ndim))
            pad = tuple(int(v) for v in rng.integers(0, 3, size=2 * npairs))
            value = float(rng.normal()) if mode == "constant" and npairs == 2 else None
            case = pad_case(rng, shape, pad, mode, value,
                            note=f"mode={mode!r}, {ndim}-D input, {npairs} padded dims")
            out.append(refused(case, REFLECT_TOO_WIDE) if reflect_too_wide(case) else case)
    out += [
        pad_case(rng, (1, 2, 5, 6), (-1, 2, 0, -2), value=1.5,
                 note="negative constant padding crops"),
        pad_case(rng, (1, 2, 4, 5), (-1, 2, 1, -2), mode="reflect",
                 note="negative reflect padding crops; the mirror is about the original edge"),
        pad_case(rng, (2, 5, 4), (2, -3, -1, 0), mode="replicate",
                 note="negative replicate padding crops"),
        refused(pad_case(rng, (1, 1, 3, 3), (-3, -1, 0, 0), mode="replicate",
                         note="cropped below nothing"), "the output would be empty"),
        refused(pad_case(rng, (1, 1, 3, 3), (3, 0, 0, 0), mode="reflect",
                         note="reflect by as much as the width"), REFLECT_TOO_WIDE),
        refused(pad_case(rng, (1, 1, 3, 3), (1, 1), mode="reflect",
                         note="4-D input, one padded dimension"),
                "reflect pads the last 2 or 3 dimensions of a 4-D input"),
        pad_case(rng, (1, 1, 4, 4), (3, 3, 3, 3), mode="replicate",
                 note="replicate by more than the width"),
        pad_case(rng, (1, 1, 4, 4), (4, 0, 0, 4), mode="circular",
                 note="circular by the whole width"),
        pad_case(rng, (3, 4, 5), (2, 1, 1, 2), mode="reflect", note="unbatched (C, H, W)"),
        pad_case(rng, (2, 3), (1, 2), value=-2.0, note="2-D input, constant"),
    ]
    return out


def _torch_pad(case, pad=None, **changes):
    x, case_pad = case.args
    return oracle.call(oracle.F().pad, x, case_pad if pad is None else pad,
                       **dict(case.kwargs, **changes))


def _pairs_swapped(pad):
    """The (before, after) pairs in the opposite order: first padded dimension first."""
    return tuple(v for i in reversed(range(len(pad) // 2)) for v in pad[2 * i: 2 * i + 2])


def _sides_swapped(pad):
    return tuple(v for i in range(len(pad) // 2) for v in (pad[2 * i + 1], pad[2 * i]))


def _symmetric(case):
    """Reflect that repeats the edge (NumPy's 'symmetric'), built from torch slices."""
    x, pad = case.args
    t = oracle.torch()
    out = t.from_numpy(x)
    for i in range(len(pad) // 2):
        axis = out.ndim - 1 - i
        left, right = pad[2 * i], pad[2 * i + 1]
        size = out.shape[axis]
        head = out.narrow(axis, 0, left).flip(axis)
        tail = out.narrow(axis, size - right, right).flip(axis)
        out = t.cat([head, out, tail], dim=axis)
    return out.numpy()


def _symmetric_applies(case):
    x, pad = case.args
    return case.kwargs.get("mode") == "reflect" and all(
        max(pad[2 * i], pad[2 * i + 1]) <= x.shape[-1 - i] for i in range(len(pad) // 2))


PAD_BUGS = [
    Bug("pad-pairs-in-wrong-order", "pad is read from the LAST dimension backwards: (left, "
        "right, top, bottom, front, back) — you started with the first padded dimension",
        lambda case: _torch_pad(case, _pairs_swapped(case.args[1])),
        when=lambda case: len(case.args[1]) >= 4
        and _pairs_swapped(case.args[1]) != tuple(case.args[1])),
    Bug("pad-sides-swapped", "each pair is (before, after): (left, right), then (top, "
        "bottom) — you swapped before and after",
        lambda case: _torch_pad(case, _sides_swapped(case.args[1])),
        when=lambda case: _sides_swapped(case.args[1]) != tuple(case.args[1])),
    Bug("pad-value-ignored", "mode='constant' fills with `value` (0 when None); you ignored it",
        lambda case: _torch_pad(case, value=0.0),
        when=lambda case: case.kwargs.get("value") not in (None, 0.0)),
    Bug("symmetric-instead-of-reflect", "torch's 'reflect' does not repeat the edge ([1 2 3] "
        "padded by 1 is [2 1 2 3 2]); you used NumPy's 'symmetric'", _symmetric,
        when=_symmetric_applies),
]


def _pad_reference(case):
    return _torch_pad(case)


register(Exercise(
    name="pad", arg_names=PAD_ARGS, visible=_pad_visible, hidden=_pad_hidden,
    reference=_pad_reference, bugs=PAD_BUGS,
))


# Conv2d module ------------------------------------------------------------------------
MODULE_ARGS = ("in_channels", "out_channels", "kernel_size")
MODULE_LABELS = probe_labels("weight") + ["whether self.bias exists (None or not)", "the output"]


def module_case(rng: np.random.Generator, c_in: int, c_out: int, k: int | tuple,
                size: tuple = (6, 7), n: int = 2, note: str = "", **options) -> Case:
    """Conv2d(c_in, c_out, k, **options), the weight and bias to set, and an input."""
    kh, kw = expand(k, 2)
    weight = rng.standard_normal((c_out, c_in, kh, kw))
    bias = rng.standard_normal((c_out,)) if options.get("bias", True) else None
    x = rng.standard_normal((n, c_in, *size))
    return Case((c_in, c_out, k), options, note=note,
                extra={"weight": weight, "bias": bias, "x": x})


def _module_run(cls, case):
    """The weight probed, whether a bias exists, then the output with the case's parameters."""
    module = module_to(cls(*case.args, **case.kwargs), case_float_dtype(case))
    weight, has_bias = probe(module, "weight"), probe(module, "bias")[0]
    module.weight = case.extra["weight"].copy()
    module.bias = None if case.extra["bias"] is None else case.extra["bias"].copy()
    return (*weight, has_bias, module(case.extra["x"].copy()))


def _module_reference(case):
    t = oracle.torch()
    module = t.nn.Conv2d(*case.args, **case.kwargs).to(oracle.case_dtype(case))
    weight, has_bias = torch_probe(module, "weight"), torch_probe(module, "bias")[0]
    with t.no_grad():
        module.weight.copy_(t.from_numpy(case.extra["weight"]))
        if module.bias is not None:
            module.bias.copy_(t.from_numpy(case.extra["bias"]))
    return (*weight, has_bias, oracle.call(module, case.extra["x"]))


def _module_visible(rng):
    return [
        module_case(rng, 3, 4, 3, note="defaults"),
        module_case(rng, 2, 3, (3, 2), padding=1, padding_mode="reflect", note="reflect padding"),
    ]


def _module_hidden(rng):
    out = []
    for mode, padding, stride, bias in itertools.product(
            ("zeros", "reflect", "replicate", "circular"), (0, 1, (2, 1), "same"), (1, 2),
            (True, False)):
        if padding == "same" and stride != 1:
            continue
        out.append(module_case(rng, int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                               (int(rng.integers(1, 4)), int(rng.integers(1, 4))),
                               padding=padding, stride=stride, bias=bias, padding_mode=mode,
                               note=f"padding_mode={mode!r}, padding={padding!r}, stride={stride}"))
    out.append(refused(module_case(rng, 2, 3, 3, padding="same", stride=2, padding_mode="reflect",
                                   note="'same' with stride 2"), STRIDED_SAME))
    return out


MODULE_BUGS = [
    Bug("padding-mode-ignored", "padding_mode is ignored: pad with F.pad's mode ('reflect', "
        "'replicate', 'circular') before convolving with padding 0; only 'zeros' pads with zeros",
        lambda case: _module_reference(Case(case.args, dict(case.kwargs, padding_mode="zeros"),
                                            extra=case.extra)),
        when=lambda case: case.kwargs.get("padding_mode", "zeros") != "zeros"
        and case.kwargs.get("padding", 0) != 0),
]


def _module_diagnose(case, got, expected):
    return first_difference(MODULE_LABELS, got, expected)


register(Exercise(
    name="Conv2d", arg_names=MODULE_ARGS, visible=_module_visible, hidden=_module_hidden,
    reference=_module_reference, bugs=MODULE_BUGS, run=_module_run, diagnose=_module_diagnose,
))
