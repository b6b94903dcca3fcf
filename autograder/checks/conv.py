"""Chapter 01 — convolution: conv1d/2d/3d, conv2d_loop, pad, and the Conv2d module.

Everything about grading these exercises is here: the seeded grids of valid parameters,
the edge cases, the configurations torch refuses, and the known-wrong variants with the
hint each one earns. Expected values and variants are computed with torch.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..exercise import Case, Exercise, Variant, case_float_dtype, module_to, register

CONV_ARGS = ("input", "weight", "bias", "stride", "padding", "dilation", "groups")
TORCH_CONV = {1: "conv1d", 2: "conv2d", 3: "conv3d"}


def _arr(rng, *shape):
    return rng.standard_normal(shape)


def _tuple(value, d):
    return tuple(value) if isinstance(value, (tuple, list)) else (value,) * d


def conv_out_size(size, k, stride, padding):
    if padding == "same":
        return size
    if padding == "valid":
        padding = 0
    return (size + 2 * padding - k) // stride + 1


def conv_case(rng, d, *, n=2, c_in=3, c_out=4, size=(7, 6, 5), k=(3, 2, 3), stride=1,
              padding=0, bias=True, batched=True, note="") -> Case:
    size, k = tuple(size[:d]), tuple(k[:d])
    shape = ((n,) if batched else ()) + (c_in,) + size
    x = _arr(rng, *shape)
    w = _arr(rng, c_out, c_in, *k)
    b = _arr(rng, c_out) if bias else None
    kwargs = {}
    if stride != 1:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    return Case((x, w, b), kwargs, note=note)


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
            out.append(conv_case(rng, d, n=int(rng.integers(1, 3)), c_in=int(rng.integers(1, 4)),
                                 c_out=int(rng.integers(1, 4)), size=size, k=k, stride=stride,
                                 padding=padding, bias=bias,
                                 batched=bool(rng.integers(0, 4)),
                                 note=f"stride={stride}, padding={padding!r}"))
        out += [
            conv_case(rng, d, size=(5, 4, 3), k=(5, 4, 3), note="kernel as large as the input"),
            conv_case(rng, d, n=1, c_in=1, c_out=1, size=(1, 1, 1), k=(1, 1, 1),
                      note="size-1 everything"),
            conv_case(rng, d, size=(6, 6, 6), k=(4, 2, 4), padding="same",
                      note="'same' with even kernels: torch pads the extra row/column at the end"),
            conv_case(rng, d, size=(9, 5, 7), k=(3, 2, 1), stride=(3, 1, 2)[:d], padding=(2, 1, 0)[:d],
                      note="non-square everything"),
            conv_case(rng, d, c_in=4, c_out=4, size=(6, 7, 5), k=(3, 3, 3), padding=1,
                      note="as many output channels as input channels"),
            conv_case(rng, d, size=(3, 3, 3), k=(5, 5, 5), note="kernel larger than the input",),
            conv_case(rng, d, k=(3, 3, 3), stride=2, padding="same",
                      note="'same' with stride 2 (torch refuses)"),
        ]
        return out
    return cases


def _reference(d):
    def reference(case):
        return oracle.call(getattr(oracle.F(), TORCH_CONV[d]), *case.args, **case.kwargs)
    return reference


def _flip(w, d):
    return w[(Ellipsis,) + (slice(None, None, -1),) * d].copy()


def _one_sided(d, at_end):
    """Padding 2p on one side instead of p on each: the output has the right size."""
    def compute(case):
        x, w, b = case.args
        pads = case.kwargs.get("padding", 0)
        if isinstance(pads, str):
            return None
        pads = _tuple(pads, d)
        if not any(pads):
            return None
        spec = []
        for p in reversed(pads):
            spec += [0, 2 * p] if at_end else [2 * p, 0]
        t = oracle.torch()
        padded = oracle.to_numpy(oracle.F().pad(t.from_numpy(x), tuple(spec)))
        kwargs = dict(case.kwargs, padding=0)
        return oracle.call(getattr(oracle.F(), TORCH_CONV[d]), padded, w, b, **kwargs)
    return compute


def _same_extra_first(d):
    """'same' with an even kernel, the extra padding put at the start instead of the end."""
    def compute(case):
        x, w, b = case.args
        if case.kwargs.get("padding") != "same":
            return None
        k = w.shape[2:]
        if all(kk % 2 for kk in k):
            return None
        spec = []
        for kk in reversed(k):
            total = kk - 1
            spec += [total - total // 2, total // 2]
        padded = oracle.call(oracle.F().pad, x, tuple(spec))
        return oracle.call(getattr(oracle.F(), TORCH_CONV[d]), padded, w, b,
                           **dict(case.kwargs, padding=0))
    return compute


def flipped_kernel_variant(d) -> Variant:
    """torch on the flipped kernel: true convolution instead of cross-correlation."""
    def flipped(case):
        x, w, b = case.args
        if all(s == 1 for s in w.shape[2:]):
            return None
        return oracle.call(getattr(oracle.F(), TORCH_CONV[d]), x, _flip(w, d), b, **case.kwargs)
    return Variant("flipped kernel", "your kernel is flipped: that is convolution (卷积) in the "
                   "signal-processing sense; torch computes cross-correlation (互相关): "
                   "out[i] = sum_k x[i + k] * w[k], with no flip", flipped)


def bias_ignored_variant(d) -> Variant:
    def no_bias(case):
        x, w, b = case.args
        if b is None:
            return None
        return oracle.call(getattr(oracle.F(), TORCH_CONV[d]), x, w, None, **case.kwargs)
    return Variant("bias ignored", "the bias is missing: add bias[c_out] to every output "
                   "position of channel c_out", no_bias)


def _variants(d):
    conv = lambda: getattr(oracle.F(), TORCH_CONV[d])  # noqa: E731

    def channels_swapped(case):
        x, w, b = case.args
        if w.shape[0] != w.shape[1]:
            return None
        return oracle.call(conv(), x, np.swapaxes(w, 0, 1).copy(), b, **case.kwargs)

    def kernel_transposed(case):
        x, w, b = case.args
        if d < 2 or w.shape[-1] != w.shape[-2] or w.shape[-1] == 1:
            return None
        return oracle.call(conv(), x, np.swapaxes(w, -1, -2).copy(), b, **case.kwargs)

    def stride_ignored(case):
        if case.kwargs.get("stride", 1) == 1:
            return None
        return oracle.call(conv(), *case.args, **dict(case.kwargs, stride=1))

    return [
        flipped_kernel_variant(d),
        bias_ignored_variant(d),
        Variant("padding at the end only", "you padded one side only (2·padding at the "
                "end): torch pads `padding` on both sides", _one_sided(d, at_end=True)),
        Variant("padding at the start only", "you padded one side only (2·padding at the "
                "start): torch pads `padding` on both sides", _one_sided(d, at_end=False)),
        Variant("'same' extra at the start", "for 'same' with an even kernel torch puts the "
                "extra padding at the end (right/bottom): left = (k - 1) // 2, "
                "right = k - 1 - left", _same_extra_first(d)),
        Variant("weight axes swapped", "weight is (C_out, C_in, *kernel): you used its first "
                "two axes the other way round", channels_swapped),
        Variant("kernel transposed", "the kernel's last two axes are (kH, kW): you swapped "
                "rows and columns", kernel_transposed),
        Variant("stride ignored", "the stride is ignored: step the window by `stride`",
                stride_ignored),
    ]


def _diagnose_shape(d):
    def diagnose(case, got, expected):
        got_shape = getattr(got, "shape", None)
        exp_shape = np.asarray(expected).shape
        if got_shape is None or len(got_shape) != len(exp_shape) or got_shape == exp_shape:
            return None
        x, w, _ = case.args
        strides = _tuple(case.kwargs.get("stride", 1), d)
        pads = case.kwargs.get("padding", 0)
        pads = (0,) * d if pads == "valid" else _tuple(pads, d)
        if isinstance(pads[0], str):
            return "with padding='same' the output has the input's spatial size"
        ceil = tuple(-(-(s + 2 * p - k) // st) + 1
                     for s, p, k, st in zip(x.shape[-d:], pads, w.shape[2:], strides))
        if tuple(got_shape[-d:]) == ceil:
            return ("your output size rounds up; torch rounds down: "
                    "floor((H + 2·padding − kernel) / stride) + 1")
        return ("check the output size: floor((H + 2·padding − kernel) / stride) + 1 per "
                "spatial axis, C_out from weight.shape[0]")
    return diagnose


for _d in (1, 2, 3):
    register(Exercise(
        name=TORCH_CONV[_d], arg_names=CONV_ARGS, visible=_visible(_d), hidden=_hidden(_d),
        reference=_reference(_d), bugs=_variants(_d), diagnose=_diagnose_shape(_d),
    ))


# conv2d_loop: the readable version. Its cases stay small, a Python loop must be quick.
def _loop_visible(rng):
    return _visible(2)(rng)[:3]


def _loop_hidden(rng):
    return [
        conv_case(rng, 2, n=1, c_in=2, c_out=2, size=(6, 5), k=(3, 2), stride=stride,
                  padding=padding, bias=bias, note=f"stride={stride}, padding={padding!r}")
        for stride, padding, bias in itertools.product((1, 2, (2, 1)), (0, 1, (0, 2)), (True, False))
    ] + [conv_case(rng, 2, n=2, size=(4, 4), k=(4, 4), note="kernel as large as the input"),
         conv_case(rng, 2, n=1, size=(3, 3), k=(5, 5),
                   note="kernel larger than the input (torch refuses)")]


register(Exercise(
    name="conv2d_loop", arg_names=CONV_ARGS, visible=_loop_visible, hidden=_loop_hidden,
    reference=_reference(2), bugs=_variants(2), diagnose=_diagnose_shape(2),
))


# pad ----------------------------------------------------------------------------------
PAD_ARGS = ("input", "pad", "mode", "value")


def pad_case(rng, shape, pad, mode="constant", value=None, note=""):
    kwargs = {}
    if mode != "constant":
        kwargs["mode"] = mode
    if value is not None:
        kwargs["value"] = value
    x = _arr(rng, *shape)
    return Case((x, tuple(pad)), kwargs, note=note or f"mode={mode!r}")


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
            out.append(pad_case(rng, shape, pad, mode, value,
                                note=f"mode={mode!r}, {ndim}-D input, {npairs} padded dims"))
    out += [
        pad_case(rng, (1, 2, 5, 6), (-1, 2, 0, -2), value=1.5,
                 note="negative constant padding crops"),
        pad_case(rng, (1, 2, 4, 5), (-1, 2, 1, -2), mode="reflect",
                 note="negative reflect padding crops; the mirror is about the original edge"),
        pad_case(rng, (2, 5, 4), (2, -3, -1, 0), mode="replicate",
                 note="negative replicate padding crops"),
        pad_case(rng, (1, 1, 3, 3), (-3, -1, 0, 0), mode="replicate",
                 note="cropped below nothing (torch refuses)"),
        pad_case(rng, (1, 1, 3, 3), (3, 0, 0, 0), mode="reflect",
                 note="reflect by as much as the width (torch refuses)"),
        pad_case(rng, (1, 1, 3, 3), (1, 1), mode="reflect",
                 note="4-D input, one padded dimension (torch refuses for reflect)"),
        pad_case(rng, (1, 1, 4, 4), (3, 3, 3, 3), mode="replicate",
                 note="replicate by more than the width"),
        pad_case(rng, (1, 1, 4, 4), (4, 0, 0, 4), mode="circular",
                 note="circular by the whole width"),
        pad_case(rng, (3, 4, 5), (2, 1, 1, 2), mode="reflect", note="unbatched (C, H, W)"),
        pad_case(rng, (2, 3), (1, 2), value=-2.0, note="2-D input, constant"),
    ]
    return out


def _pad_reference(case):
    return oracle.call(oracle.F().pad, *case.args, **case.kwargs)


def _pad_variants():
    def pairs_swapped(case):
        x, pad = case.args
        if len(pad) < 4:
            return None
        swapped = tuple(v for i in reversed(range(len(pad) // 2)) for v in pad[2 * i: 2 * i + 2])
        if swapped == tuple(pad):
            return None
        return oracle.call(oracle.F().pad, x, swapped, **case.kwargs)

    def sides_swapped(case):
        x, pad = case.args
        flipped = tuple(v for i in range(len(pad) // 2) for v in (pad[2 * i + 1], pad[2 * i]))
        if flipped == tuple(pad):
            return None
        return oracle.call(oracle.F().pad, x, flipped, **case.kwargs)

    def value_ignored(case):
        if case.kwargs.get("value") in (None, 0.0):
            return None
        return oracle.call(oracle.F().pad, *case.args, **dict(case.kwargs, value=0.0))

    def symmetric(case):
        """Reflect that repeats the edge (NumPy's 'symmetric'), built from torch slices."""
        x, pad = case.args
        if case.kwargs.get("mode") != "reflect":
            return None
        t = oracle.torch()
        out = t.from_numpy(x)
        for i in range(len(pad) // 2):
            axis = out.ndim - 1 - i
            left, right = pad[2 * i], pad[2 * i + 1]
            size = out.shape[axis]
            if max(left, right) > size:
                return None
            head = out.narrow(axis, 0, left).flip(axis)
            tail = out.narrow(axis, size - right, right).flip(axis)
            out = t.cat([head, out, tail], dim=axis)
        return out.numpy()

    return [
        Variant("pad pairs in the wrong order", "pad is read from the LAST dimension "
                "backwards: (left, right, top, bottom, front, back) — you started with the "
                "first padded dimension", pairs_swapped),
        Variant("sides swapped", "each pair is (before, after): (left, right), then (top, "
                "bottom) — you swapped before and after", sides_swapped),
        Variant("value ignored", "mode='constant' fills with `value` (0 when None); you "
                "ignored it", value_ignored),
        Variant("symmetric instead of reflect", "torch's 'reflect' does not repeat the edge "
                "([1 2 3] padded by 1 is [2 1 2 3 2]); you used NumPy's 'symmetric'", symmetric),
    ]


register(Exercise(
    name="pad", arg_names=PAD_ARGS, visible=_pad_visible, hidden=_pad_hidden,
    reference=_pad_reference, bugs=_pad_variants(),
))


# Conv2d module ------------------------------------------------------------------------
MODULE_ARGS = ("in_channels", "out_channels", "kernel_size")


def module_case(rng, c_in, c_out, k, size=(6, 7), n=2, note="", **options):
    kh, kw = _tuple(k, 2)
    weight = _arr(rng, c_out, c_in, kh, kw)
    bias = _arr(rng, c_out) if options.get("bias", True) else None
    x = _arr(rng, n, c_in, *size)
    return Case((c_in, c_out, k), options, note=note,
                extra={"weight": weight, "bias": bias, "x": x})


def _module_run(cls, case):
    module = module_to(cls(*case.args, **case.kwargs), case_float_dtype(case))
    shape = np.array(np.shape(getattr(module, "weight", None)))
    has_bias = np.array(getattr(module, "bias", None) is not None)
    module.weight = case.extra["weight"].copy()
    module.bias = None if case.extra["bias"] is None else case.extra["bias"].copy()
    return shape, has_bias, module(case.extra["x"].copy())


def _module_reference(case):
    t = oracle.torch()
    module = t.nn.Conv2d(*case.args, **case.kwargs).to(oracle.case_dtype(case))
    shape, has_bias = np.array(module.weight.shape), np.array(module.bias is not None)
    with t.no_grad():
        module.weight.copy_(t.from_numpy(case.extra["weight"]))
        if module.bias is not None:
            module.bias.copy_(t.from_numpy(case.extra["bias"]))
    return shape, has_bias, oracle.call(module, case.extra["x"])


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
    out.append(module_case(rng, 2, 3, 3, padding="same", stride=2, padding_mode="reflect",
                           note="'same' with stride 2 (torch refuses)"))
    return out


def _module_variants():
    def zeros_padding(case):
        mode = case.kwargs.get("padding_mode", "zeros")
        if mode == "zeros" or case.kwargs.get("padding", 0) == 0:
            return None
        return _module_reference(Case(case.args, dict(case.kwargs, padding_mode="zeros"),
                                      extra=case.extra))
    return [Variant("padding_mode ignored", "padding_mode is ignored: pad with F.pad's "
                    "mode ('reflect', 'replicate', 'circular') before convolving with "
                    "padding 0; only 'zeros' pads with zeros", zeros_padding)]


register(Exercise(
    name="Conv2d", arg_names=MODULE_ARGS, visible=_module_visible, hidden=_module_hidden,
    reference=_module_reference, bugs=_module_variants(), run=_module_run,
))
