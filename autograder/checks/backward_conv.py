"""Chapter 12 — the backward passes of convolution: conv2d_backward (and its loop version)
and conv_transpose2d_backward, against torch.autograd in float64.

Each takes (grad_output, input, weight, bias, *the forward's options) and returns
(grad_input, grad_weight, grad_bias); grad_bias is None where bias is None.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from ._shapes import expand, transposed_out_size, window_out_size
from .backward import (
    diagnose_gradients,
    grad_bias_averaged,
    non_default,
    none_gradient_bug,
    normal,
    run_with_parameters,
    torch_grads,
)

CONV_ARGS = ("grad_output", "input", "weight", "bias", "stride", "padding", "dilation", "groups")
CONVT_ARGS = ("grad_output", "input", "weight", "bias", "stride", "padding", "output_padding",
              "groups", "dilation")
PARAMS = ("weight", "bias")


def conv_case(rng: np.random.Generator, n=2, c_in=2, c_out=3, size=(6, 5), k=(3, 2), stride=1,
              padding=0, dilation=1, groups=1, bias=True, batched=True, note="") -> Case:
    """A conv2d_backward case: grad_output of the shape conv2d gives (at least 1 per axis)."""
    x = normal(rng, *(((n,) if batched else ()) + (c_in,) + tuple(size)))
    w = normal(rng, c_out, max(c_in // groups, 1), *k)
    b = normal(rng, c_out) if bias else None
    (sh, sw), (dh, dw) = expand(stride, 2), expand(dilation, 2)
    if padding == "same":
        out = tuple(size)
    else:
        ph, pw = (0, 0) if padding == "valid" else expand(padding, 2)
        out = (window_out_size(size[0], k[0], sh, ph, dh),
               window_out_size(size[1], k[1], sw, pw, dw))
    go_shape = ((n,) if batched else ()) + (c_out,) + tuple(max(o, 1) for o in out)
    return Case((normal(rng, *go_shape), x, w, b),
                non_default(stride=stride, padding=padding, dilation=dilation, groups=groups),
                note=note or f"stride={stride}, padding={padding!r}, dilation={dilation}, "
                             f"groups={groups}")


def _conv_visible(rng):
    return [
        conv_case(rng, n=1, c_in=1, c_out=1, size=(4, 4), k=(2, 2), bias=False,
                  note="one channel, no bias: grad_bias is None"),
        conv_case(rng, note="several channels, bias"),
        conv_case(rng, stride=2, padding=1, note="stride 2, padding 1"),
    ]


def _conv_hidden(rng):
    out = []
    for stride, padding, dilation, groups in itertools.product(
            (1, 2, (2, 1)), (0, 1, (1, 2), "same", "valid"), (1, 2), (1, 2)):
        if padding == "same" and stride != 1:
            continue
        if rng.random() < 0.4:
            continue
        c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(1, 4, size=2))
        size = tuple(int(v) for v in rng.integers(5, 9, size=2))
        out.append(conv_case(rng, n=int(rng.integers(1, 4)), c_in=c_in, c_out=c_out, size=size,
                             k=k, stride=stride, padding=padding, dilation=dilation,
                             groups=groups, bias=bool(rng.integers(0, 2))))
    out += [
        conv_case(rng, n=3, size=(7, 7), k=(3, 3), stride=3, padding=1,
                  note="stride 3: the last rows are never seen by a window"),
        conv_case(rng, size=(4, 3), k=(4, 3), note="kernel as large as the input"),
        conv_case(rng, n=1, c_in=1, c_out=1, size=(1, 1), k=(1, 1), note="size-1 everything"),
        conv_case(rng, c_in=4, c_out=4, groups=4, size=(5, 6), k=(3, 3), padding=1,
                  note="depthwise (groups = C)"),
        conv_case(rng, c_in=3, c_out=2, size=(6, 6), k=(2, 3), padding="same", dilation=2,
                  note="'same' with an even kernel and dilation 2"),
        conv_case(rng, n=2, c_in=2, size=(5, 6), batched=False, note="unbatched (C, H, W)"),
        refused(conv_case(rng, c_in=2, c_out=3, groups=2, note="groups do not divide out_channels"),
                "out_channels must be divisible by groups"),
        refused(conv_case(rng, size=(3, 3), k=(3, 3), stride=2, padding="same",
                          note="'same' with stride 2"),
                "padding='same' is not supported for strided convolutions"),
    ]
    return out


def _conv_reference(case):
    return torch_grads(oracle.F().conv2d, case, PARAMS)


def _convt_reference(case):
    return torch_grads(oracle.F().conv_transpose2d, case, PARAMS)


def _flip_weight(x, w, *rest):
    return (x, w.flip(-1, -2), *rest)


def _input_grad_flipped(reference, torch_fn):
    """grad_input of the layer with its kernel rotated by 180°, the other gradients right."""
    def answer(case):
        good = reference(case)
        bad = torch_grads(torch_fn(), case, PARAMS, transform=_flip_weight)
        return (bad[0], good[1], good[2])
    return answer


def _kernel_not_1x1(case):
    return case.args[2].shape[-2:] != (1, 1)


def _batch(case):
    x = case.args[1]
    return x.shape[0] if x.ndim == 4 else 1


def _positions_per_bias(case):
    go = case.args[0]
    return go.size // go.shape[-3]


def _shared_bugs(reference):
    """The parameter-gradient bugs conv2d and conv_transpose2d have in common."""
    def weight_averaged(case):
        good = reference(case)
        return (good[0], good[1] / _batch(case), good[2])

    def bias_averaged(case):
        good = reference(case)
        return (good[0], good[1], good[2] / _positions_per_bias(case))

    def bias_keeps_batch(case):
        good = reference(case)
        return (good[0], good[1], oracle.torch().from_numpy(case.args[0]).sum((2, 3))[0].numpy())

    return [
        Bug("grad-weight-averaged-over-batch",
            "grad_weight is the SUM over the batch (and over output positions) of input "
            "window × grad_output: you divided by N",
            weight_averaged, when=lambda case: _batch(case) > 1),
        grad_bias_averaged(bias_averaged, when=lambda case: case.args[3] is not None
                           and _positions_per_bias(case) > 1),
        Bug("grad-bias-summed-over-wrong-axes",
            "grad_bias sums grad_output over the batch and the spatial axes (0, 2, 3): you "
            "kept the batch axis or summed the channels",
            bias_keeps_batch, when=lambda case: case.args[3] is not None
            and case.args[0].ndim == 4 and case.args[0].shape[0] > 1),
        none_gradient_bug(2, reference),
    ]


CONV_BUGS = [
    Bug("grad-input-kernel-unflipped",
        "grad_input is a *full* correlation with the kernel rotated by 180°: each input pixel "
        "collects grad_output through the weight that touched it, w[..., kH-1-p, kW-1-q] seen "
        "from the output — you used the kernel unrotated",
        _input_grad_flipped(_conv_reference, lambda: oracle.F().conv2d), when=_kernel_not_1x1),
    *_shared_bugs(_conv_reference),
]


register(Exercise(
    name="conv2d_backward", arg_names=CONV_ARGS, visible=_conv_visible, hidden=_conv_hidden,
    reference=_conv_reference, bugs=CONV_BUGS,
    run=run_with_parameters(2), diagnose=diagnose_gradients(2),
))


# conv2d_backward_loop: the readable version. Small cases: a Python loop must be quick.
def _conv_loop_hidden(rng):
    out = []
    for stride, padding, bias in itertools.product((1, 2, (2, 1)), (0, 1, (0, 2)), (True, False)):
        out.append(conv_case(rng, n=int(rng.integers(1, 3)), c_in=2, c_out=2, size=(5, 4),
                             k=(3, 2), stride=stride, padding=padding, bias=bias))
    out += [conv_case(rng, n=2, size=(3, 3), k=(3, 3), note="kernel as large as the input"),
            conv_case(rng, n=3, c_in=1, c_out=2, size=(4, 4), k=(2, 2), stride=2,
                      note="three samples: grad_weight sums over all of them")]
    return out


register(Exercise(
    name="conv2d_backward_loop", arg_names=CONV_ARGS, visible=_conv_visible,
    hidden=_conv_loop_hidden, reference=_conv_reference, bugs=CONV_BUGS,
    run=run_with_parameters(2), diagnose=diagnose_gradients(2),
))


# --------------------------------------------------------------------------------------
# conv_transpose2d_backward

def convt_case(rng: np.random.Generator, n=2, c_in=2, c_out=3, size=(4, 3), k=(3, 2), stride=1,
               padding=0, output_padding=0, groups=1, dilation=1, bias=True, batched=True,
               note="") -> Case:
    """A conv_transpose2d_backward case: grad_output of the transposed convolution's shape."""
    x = normal(rng, *(((n,) if batched else ()) + (c_in,) + tuple(size)))
    w = normal(rng, c_in, max(c_out // groups, 1), *k)
    b = normal(rng, c_out) if bias else None
    s, p = expand(stride, 2), expand(padding, 2)
    op, d = expand(output_padding, 2), expand(dilation, 2)
    out = tuple(max(transposed_out_size(size[i], k[i], s[i], p[i], op[i], d[i]), 1)
                for i in range(2))
    go = normal(rng, *(((n,) if batched else ()) + (c_out,) + out))
    return Case((go, x, w, b), non_default(stride=stride, padding=padding,
                                           output_padding=output_padding, groups=groups,
                                           dilation=dilation),
                note=note or f"stride={stride}, padding={padding}, "
                             f"output_padding={output_padding}, groups={groups}, "
                             f"dilation={dilation}")


def _convt_visible(rng):
    return [
        convt_case(rng, n=1, c_in=1, c_out=1, size=(3, 3), k=(2, 2), bias=False,
                   note="one channel, no bias"),
        convt_case(rng, stride=2, padding=1, k=(4, 4), note="the recipe that doubles H and W"),
        convt_case(rng, stride=2, output_padding=1, note="output_padding 1"),
    ]


def _convt_hidden(rng):
    out = []
    for stride, padding, output_padding, dilation, groups in itertools.product(
            (1, 2, (3, 2)), (0, 1, (1, 0)), (0, 1), (1, 2), (1, 2)):
        if rng.random() < 0.6:
            continue
        s, d = expand(stride, 2), expand(dilation, 2)
        if any(output_padding >= max(si, di) for si, di in zip(s, d, strict=True)):
            continue
        c_in, c_out = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
        k = tuple(int(v) for v in rng.integers(2, 4, size=2))
        size = tuple(int(v) for v in rng.integers(2, 5, size=2))
        out.append(convt_case(rng, n=int(rng.integers(1, 3)), c_in=c_in, c_out=c_out, size=size,
                              k=k, stride=stride, padding=padding, output_padding=output_padding,
                              dilation=dilation, groups=groups, bias=bool(rng.integers(0, 2))))
    out += [
        convt_case(rng, n=1, c_in=1, c_out=1, size=(1, 1), k=(1, 1), note="size-1 everything"),
        convt_case(rng, c_in=3, c_out=3, groups=3, stride=2, padding=1, k=(3, 3),
                   note="depthwise (groups = C)"),
        convt_case(rng, size=(3, 4), batched=False, stride=2, note="unbatched (C, H, W)"),
        convt_case(rng, stride=1, dilation=2, output_padding=1,
                   note="output_padding below the dilation, stride 1"),
        refused(convt_case(rng, stride=2, output_padding=2, note="output_padding = stride"),
                "output_padding must be smaller than either stride or dilation"),
    ]
    return out


def _axes_swapped(case):
    good = _convt_reference(case)
    return (good[0], np.swapaxes(good[1], 0, 1).copy(), good[2])


CONVT_BUGS = [
    Bug("grad-input-kernel-flipped",
        "the input gradient of a transposed convolution is an ordinary conv2d "
        "(cross-correlation, no flip) of grad_output with the same weight: you flipped the "
        "kernel",
        _input_grad_flipped(_convt_reference, lambda: oracle.F().conv_transpose2d),
        when=_kernel_not_1x1),
    *_shared_bugs(_convt_reference),
    Bug("grad-weight-axes-swapped",
        "a transposed convolution's weight is (C_in, C_out / groups, kH, kW): your grad_weight "
        "has its first two axes the other way round",
        _axes_swapped, when=lambda case: case.args[2].shape[0] == case.args[2].shape[1]
        and case.kwargs.get("groups", 1) == 1),
]


register(Exercise(
    name="conv_transpose2d_backward", arg_names=CONVT_ARGS, visible=_convt_visible,
    hidden=_convt_hidden, reference=_convt_reference, bugs=CONVT_BUGS,
    run=run_with_parameters(2), diagnose=diagnose_gradients(2),
))
