"""Chapter 04 — transposed convolution: conv_transpose1d/2d/3d, conv_transpose2d_loop, and
the ConvTranspose2d module (called with torch forward's output_size).

Everything about grading these exercises is here: the seeded grids of valid parameters,
the edge cases, the configurations torch refuses, and the known-wrong variants with the
hint each one earns. Expected values and variants are computed with torch.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..exercise import Case, Exercise, Variant, case_float_dtype, module_to, register
from .conv import flip as _flip

CT_ARGS = ("input", "weight", "bias", "stride", "padding", "output_padding", "groups", "dilation")
TORCH_CT = {1: "conv_transpose1d", 2: "conv_transpose2d", 3: "conv_transpose3d"}
DEFAULTS = {"stride": 1, "padding": 0, "output_padding": 0, "groups": 1, "dilation": 1}


def _arr(rng, *shape):
    return rng.standard_normal(shape)


def _tuple(value, d):
    """An int or a tuple as a d-tuple; torch broadcasts a 1-tuple."""
    if isinstance(value, (tuple, list)):
        return tuple(value) * d if len(value) == 1 else tuple(value)
    return (value,) * d


def _options(case, d):
    """The case's stride, padding, output_padding, dilation as d-tuples, and groups."""
    kw = dict(DEFAULTS, **case.kwargs)
    return (_tuple(kw["stride"], d), _tuple(kw["padding"], d), _tuple(kw["output_padding"], d),
            _tuple(kw["dilation"], d), kw["groups"])


def ct_out_size(size, k, stride=1, padding=0, output_padding=0, dilation=1):
    """(H − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1"""
    return (size - 1) * stride - 2 * padding + dilation * (k - 1) + output_padding + 1


def ct_case(rng, d, *, n=2, c_in=2, c_out=3, size=(4, 3, 3), k=(3, 2, 2), stride=1, padding=0,
            output_padding=0, groups=1, dilation=1, bias=True, batched=True, note="") -> Case:
    """c_out is the number of output channels PER GROUP: weight is (c_in, c_out, *k)."""
    size, k = tuple(size[:d]), tuple(k[:d])
    shape = ((n,) if batched else ()) + (c_in,) + size
    x = _arr(rng, *shape)
    w = _arr(rng, c_in, c_out, *k)
    b = _arr(rng, c_out * groups) if bias else None
    kwargs = {}
    for name, value in (("stride", stride), ("padding", padding),
                        ("output_padding", output_padding), ("groups", groups),
                        ("dilation", dilation)):
        if value != DEFAULTS[name]:
            kwargs[name] = tuple(value[:d]) if isinstance(value, tuple) else value
    return Case((x, w, b), kwargs, note=note)


def _valid_output_padding(rng, d, stride, dilation):
    """A random output_padding torch accepts: smaller than stride or than dilation, per axis."""
    s, dl = _tuple(stride, d), _tuple(dilation, d)
    ops = tuple(int(rng.integers(0, max(a, b))) for a, b in zip(s, dl))
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
                st, dl, pd = (_tuple(v, d) for v in (stride, dilation, padding))
                # Keep every output axis at least 1 long: those cases are the refusals below.
                if any(ct_out_size(s, kk, a, p, o, b) < 1
                       for s, kk, a, p, o, b in zip(size, k, st, pd, _tuple(op, d), dl)):
                    padding = 0
                out.append(ct_case(
                    rng, d, n=int(rng.integers(1, 3)), c_in=groups * int(rng.integers(1, 3)),
                    c_out=int(rng.integers(1, 3)), size=size, k=k, stride=stride,
                    padding=padding, output_padding=op, groups=groups, dilation=dilation,
                    bias=bool(rng.integers(0, 2)), batched=bool(rng.integers(0, 4)),
                    note=f"stride={stride!r}, dilation={dilation!r}, padding={padding!r}, "
                         f"output_padding={op!r}, groups={groups}"))
        out += [
            ct_case(rng, d, size=(1, 1, 1), k=(3, 3, 3), note="size-1 input: the output is the kernel"),
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
            ct_case(rng, d, stride=2, output_padding=2,
                    note="output_padding = stride (torch refuses)"),
            ct_case(rng, d, output_padding=1,
                    note="output_padding 1 with stride 1 and dilation 1 (torch refuses)"),
            ct_case(rng, d, size=(2, 2, 2), k=(2, 2, 2), padding=2,
                    note="padding crops everything: output size 0 or less (torch refuses)"),
            ct_case(rng, d, c_in=3, groups=2, note="groups does not divide in_channels (torch refuses)"),
            ct_case(rng, d, stride=0, note="stride 0 (torch refuses)"),
            ct_case(rng, d, dilation=0, note="dilation 0 (torch refuses)"),
            ct_case(rng, d, padding=-1, note="negative padding (torch refuses)"),
        ]
        # A weight whose first axis is not the input's channels.
        x, w, b = out[0].args
        out.append(Case((x, np.concatenate([w, w]), b), dict(out[0].kwargs),
                        note="weight.shape[0] != in_channels (torch refuses)"))
        return out
    return cases


def _reference(d):
    def reference(case):
        return oracle.call(getattr(oracle.F(), TORCH_CT[d]), *case.args, **case.kwargs)
    return reference


def _full(d, case, padding=None, output_padding=None, bias=True):
    """torch's answer with some options replaced."""
    x, w, b = case.args
    kwargs = dict(case.kwargs)
    if padding is not None:
        kwargs["padding"] = padding
    if output_padding is not None:
        kwargs["output_padding"] = output_padding
    return oracle.call(getattr(oracle.F(), TORCH_CT[d]), x, w, b if bias else None, **kwargs)


def _add_bias(out, b, batched, d):
    if b is None:
        return out
    shape = (1,) * int(batched) + (len(b),) + (1,) * d
    return out + b.reshape(shape)


def _crop_pad(out, d, before, after):
    """Per spatial axis: crop (positive) or zero-pad (negative) `before` / `after` entries."""
    t, F = oracle.torch(), oracle.F()
    spec = []
    for lo, hi in zip(reversed(before), reversed(after)):
        spec += [-lo, -hi]
    return oracle.to_numpy(F.pad(t.from_numpy(np.ascontiguousarray(out)), tuple(spec)))


def _variants(d):
    ct = lambda: getattr(oracle.F(), TORCH_CT[d])  # noqa: E731

    def batched(case):
        return case.args[0].ndim == d + 2

    def output_padding_first(case):
        stride, padding, op, dilation, groups = _options(case, d)
        if not any(op):
            return None
        x, w, b = case.args
        # The uncropped result with output_padding rows put at the start, then the crop.
        full = _full(d, case, padding=0, output_padding=0, bias=False)
        full = _crop_pad(full, d, tuple(-o for o in op), (0,) * d)
        return _add_bias(_crop_pad(full, d, padding, padding), b, batched(case), d)

    def padding_added(case):
        stride, padding, op, dilation, groups = _options(case, d)
        if not any(padding):
            return None
        x, w, b = case.args
        full = _full(d, case, padding=0, bias=False)
        neg = tuple(-p for p in padding)
        return _add_bias(_crop_pad(full, d, neg, neg), b, batched(case), d)

    def padding_one_side(case):
        stride, padding, op, dilation, groups = _options(case, d)
        if not any(padding):
            return None
        full = _full(d, case, padding=0, bias=False)
        x, w, b = case.args
        twice = tuple(2 * p for p in padding)
        return _add_bias(_crop_pad(full, d, twice, (0,) * d), b, batched(case), d)

    def flipped(case):
        x, w, b = case.args
        if all(s == 1 for s in w.shape[2:]):
            return None
        return oracle.call(ct(), x, _flip(w, d), b, **case.kwargs)

    def weight_axes_swapped(case):
        x, w, b = case.args
        if case.kwargs.get("groups", 1) != 1 or w.shape[0] != w.shape[1]:
            return None
        return oracle.call(ct(), x, np.swapaxes(w, 0, 1).copy(), b, **case.kwargs)

    def groups_mixed(case):
        x, w, b = case.args
        groups = case.kwargs.get("groups", 1)
        if groups == 1:
            return None
        # Every output channel of group g sums over ALL input channels, with w[:, j].
        tiled = np.tile(w, (1, groups) + (1,) * d)
        return oracle.call(ct(), x, tiled, b, **dict(case.kwargs, groups=1))

    def bias_ignored(case):
        x, w, b = case.args
        return None if b is None else oracle.call(ct(), x, w, None, **case.kwargs)

    def dilation_ignored(case):
        stride, padding, op, dilation, groups = _options(case, d)
        if all(v == 1 for v in dilation):
            return None
        # Keep the output_padding torch would refuse without the dilation out of it.
        op = tuple(o if o < s else 0 for o, s in zip(op, stride))
        return oracle.call(ct(), *case.args, **dict(case.kwargs, dilation=1, output_padding=op))

    return [
        Variant("output_padding at the start", "output_padding adds its rows/columns at the "
                "END (bottom/right) of the output, before the padding crop; you put them at "
                "the start", output_padding_first),
        Variant("padding added", "in a transposed convolution `padding` crops the output: "
                "remove `padding` entries from both ends of the full result "
                "(H_out = (H − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1); "
                "you added zeros instead", padding_added),
        Variant("padding cropped on one side", "you cropped 2·padding from the start only: "
                "torch crops `padding` from both ends", padding_one_side),
        Variant("kernel flipped", "your kernel is flipped: the scatter view stamps w[p] at "
                "out[i·stride + p·dilation] unflipped (only the 'convolution of the "
                "zero-stuffed input' view flips it)", flipped),
        Variant("weight axes swapped", "a transposed convolution's weight is (C_in, C_out / "
                "groups, *kernel) — the reverse of conv's (C_out, C_in, *kernel); you read "
                "its first two axes the other way round", weight_axes_swapped),
        Variant("groups mixed", "with groups, input channels of group g only reach output "
                "channels of group g: split x into `groups` channel blocks, use weight rows "
                "of the same block, and concatenate the outputs", groups_mixed),
        Variant("bias ignored", "the bias is missing: add bias[c_out] to every output "
                "position of channel c_out", bias_ignored),
        Variant("dilation ignored", "dilation spreads the kernel: w[p] lands at "
                "out[i·stride + p·dilation]", dilation_ignored),
    ]


def _diagnose_shape(d):
    def diagnose(case, got, expected):
        got_shape = getattr(got, "shape", None)
        exp_shape = np.asarray(expected).shape
        if got_shape is None or len(got_shape) != len(exp_shape) or got_shape == exp_shape:
            return None
        x, w, _ = case.args
        stride, padding, op, dilation, groups = _options(case, d)
        sizes = x.shape[-d:]
        k = w.shape[2:]

        def sizes_with(**change):
            out = []
            for i in range(d):
                opts = dict(stride=stride[i], padding=padding[i], output_padding=op[i],
                            dilation=dilation[i])
                opts.update({name: f(opts[name]) for name, f in change.items()})
                out.append(ct_out_size(sizes[i], k[i], **opts))
            return tuple(out)

        got_sp = tuple(got_shape[-d:])
        if any(op) and got_sp == sizes_with(output_padding=lambda v: 0):
            return ("output_padding is missing: it adds output_padding rows/columns at the "
                    "end of the output")
        if any(padding) and got_sp == sizes_with(padding=lambda v: -v):
            return ("in a transposed convolution `padding` crops the output: H_out = "
                    "(H − 1)·stride − 2·padding + dilation·(k − 1) + output_padding + 1")
        if got_shape[-d - 1] != exp_shape[-d - 1]:
            return ("output channels: weight is (C_in, C_out / groups, *kernel), so C_out = "
                    "weight.shape[1] · groups")
        return ("check the output size: (H − 1)·stride − 2·padding + dilation·(k − 1) + "
                "output_padding + 1 per spatial axis")
    return diagnose


for _d in (1, 2, 3):
    register(Exercise(
        name=TORCH_CT[_d], arg_names=CT_ARGS, visible=_visible(_d), hidden=_hidden(_d),
        reference=_reference(_d), bugs=_variants(_d), diagnose=_diagnose_shape(_d),
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
        ct_case(rng, 2, size=(3, 3), k=(3, 3), stride=2, output_padding=2,
                note="output_padding = stride (torch refuses)"),
    ]
    return out


register(Exercise(
    name="conv_transpose2d_loop", arg_names=CT_ARGS, visible=_loop_visible, hidden=_loop_hidden,
    reference=_reference(2), bugs=_variants(2), diagnose=_diagnose_shape(2),
))


# ConvTranspose2d module -----------------------------------------------------------------
MODULE_ARGS = ("in_channels", "out_channels", "kernel_size")


def module_case(rng, c_in, c_out, k, size=(4, 5), n=2, output_size=None, batched=True,
                note="", **options):
    kh, kw = _tuple(k, 2)
    groups = options.get("groups", 1)
    weight = _arr(rng, c_in, max(c_out // groups, 1), kh, kw)
    bias = _arr(rng, c_out) if options.get("bias", True) else None
    x = _arr(rng, *(((n,) if batched else ()) + (c_in,) + tuple(size)))
    return Case((c_in, c_out, k), options, note=note,
                extra={"weight": weight, "bias": bias, "x": x, "output_size": output_size})


def _module_run(cls, case):
    module = module_to(cls(*case.args, **case.kwargs), case_float_dtype(case))
    shape = np.array(np.shape(getattr(module, "weight", None)))
    has_bias = np.array(getattr(module, "bias", None) is not None)
    module.weight = case.extra["weight"].copy()
    module.bias = None if case.extra["bias"] is None else case.extra["bias"].copy()
    x = case.extra["x"].copy()
    if case.extra["output_size"] is None:
        return shape, has_bias, module(x)
    return shape, has_bias, module(x, output_size=case.extra["output_size"])


def _module_reference(case, ignore_output_size=False):
    t = oracle.torch()
    module = t.nn.ConvTranspose2d(*case.args, **case.kwargs).to(oracle.case_dtype(case))
    shape, has_bias = np.array(module.weight.shape), np.array(module.bias is not None)
    with t.no_grad():
        module.weight.copy_(t.from_numpy(case.extra["weight"]))
        if module.bias is not None:
            module.bias.copy_(t.from_numpy(case.extra["bias"]))
    output_size = None if ignore_output_size else case.extra["output_size"]
    if output_size is None:
        return shape, has_bias, oracle.call(module, case.extra["x"])
    return shape, has_bias, oracle.call(module, case.extra["x"], output_size=list(output_size))


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
        st, dl, pd = _tuple(stride, 2), _tuple(dilation, 2), _tuple(padding, 2)
        low = [ct_out_size(s, kk, a, p, 0, b) for s, kk, a, p, b in zip(size, k, st, pd, dl)]
        if min(low) < 1:
            padding, pd = 0, (0, 0)
            low = [ct_out_size(s, kk, a, 0, 0, b) for s, kk, a, b in zip(size, k, st, dl)]
        options = dict(stride=stride, padding=padding, groups=groups, bias=bias, dilation=dilation)
        pick = int(rng.integers(0, 3))
        output_size, op = None, 0
        if pick == 1:
            # torch's output_size accepts min .. min + stride - 1 per axis.
            output_size = tuple(lo + int(rng.integers(0, s)) for lo, s in zip(low, st))
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
        module_case(rng, 2, 2, 3, size=(3, 3), stride=2, output_size=(9, 7),
                    note="output_size too large for stride 2 (torch refuses)"),
        module_case(rng, 2, 2, 3, size=(3, 3), stride=2, output_size=(6, 7),
                    note="output_size too small (torch refuses)"),
        module_case(rng, 2, 2, 3, size=(3, 3), stride=2, output_size=(2, 2, 2, 7, 7),
                    note="output_size with the wrong number of entries (torch refuses)"),
        module_case(rng, 3, 2, 3, groups=2, note="groups does not divide in_channels (torch refuses)"),
        module_case(rng, 2, 3, 3, groups=2, note="groups does not divide out_channels (torch refuses)"),
        module_case(rng, 2, 2, 3, padding=1, padding_mode="reflect",
                    note="padding_mode='reflect' (torch refuses: only 'zeros')"),
    ]
    return out


def _module_variants():
    def output_size_ignored(case):
        if case.extra["output_size"] is None:
            return None
        return _module_reference(case, ignore_output_size=True)

    def conv_weight_shape(case):
        shape, has_bias, out = _module_reference(case)
        wrong = np.array((shape[1] * case.kwargs.get("groups", 1),
                          shape[0] // case.kwargs.get("groups", 1)) + tuple(shape[2:]))
        return None if np.array_equal(wrong, shape) else (wrong, has_bias, out)

    def groups_on_first_axis(case):
        groups = case.kwargs.get("groups", 1)
        if groups == 1:
            return None
        shape, has_bias, out = _module_reference(case)
        wrong = np.array((shape[0] // groups, shape[1] * groups) + tuple(shape[2:]))
        return wrong, has_bias, out

    def bias_always(case):
        if case.kwargs.get("bias", True):
            return None
        shape, has_bias, out = _module_reference(case)
        return shape, np.array(True), out

    def output_padding_ignored(case):
        if case.extra["output_size"] is not None or not case.kwargs.get("output_padding"):
            return None
        return _module_reference(Case(case.args, dict(case.kwargs, output_padding=0),
                                      extra=case.extra))

    return [
        Variant("output_size ignored", "module(input, output_size) must choose output_padding "
                "so the output has exactly that size: output_padding = output_size − "
                "((H − 1)·stride − 2·padding + dilation·(k − 1) + 1), per axis", output_size_ignored),
        Variant("weight shaped like Conv2d's", "ConvTranspose2d's weight is (in_channels, "
                "out_channels // groups, kH, kW), not Conv2d's (out_channels, in_channels // "
                "groups, kH, kW)", conv_weight_shape),
        Variant("groups on the wrong weight axis", "the weight is (in_channels, out_channels "
                "// groups, kH, kW): groups divides the SECOND axis", groups_on_first_axis),
        Variant("bias always created", "with bias=False the module has no bias: set "
                "self.bias = None", bias_always),
        Variant("output_padding ignored", "the module's output_padding is ignored: pass it "
                "to conv_transpose2d when no output_size is given", output_padding_ignored),
    ]


register(Exercise(
    name="ConvTranspose2d", arg_names=MODULE_ARGS, visible=_module_visible,
    hidden=_module_hidden, reference=_module_reference, bugs=_module_variants(),
    run=_module_run,
))
