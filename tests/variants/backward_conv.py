"""Chapter 12, the convolution backward passes: one-bug versions of the reference answers,
and the bug each must be caught as."""
import numpy as np
from booktools import solution


def catalogue():
    ref = solution("12_backward")

    def _with(fn, position, change):
        def wrong(grad_output, input, weight, bias=None, *args, **kwargs):
            grads = list(fn(grad_output, input, weight, bias, *args, **kwargs))
            grads[position] = change(grads[position], grad_output, input, weight)
            return tuple(grads)
        return wrong

    def rotated_input_grad(fn):
        def wrong(grad_output, input, weight, bias=None, *args, **kwargs):
            good = fn(grad_output, input, weight, bias, *args, **kwargs)
            rotated = fn(grad_output, input, weight[..., ::-1, ::-1].copy(), bias, *args, **kwargs)
            return rotated[0], good[1], good[2]
        return wrong

    def _batch(x):
        return x.shape[0] if x.ndim == 4 else 1

    def weight_averaged(fn):
        return _with(fn, 1, lambda g, go, x, w: g / _batch(x))

    def bias_mean(fn):
        return _with(fn, 2, lambda g, go, x, w: None if g is None
                     else g / (go.size // go.shape[-3]))

    def bias_keeps_batch(fn):
        return _with(fn, 2, lambda g, go, x, w: None if g is None
                     else (go.sum(axis=(2, 3))[0] if go.ndim == 4 else g))

    def bias_zeros_when_none(fn):
        return _with(fn, 2, lambda g, go, x, w: np.zeros(go.shape[-3]) if g is None else g)

    def convt_axes_swapped(grad_output, input, weight, bias=None, stride=1, padding=0,
                           output_padding=0, groups=1, dilation=1):
        gi, gw, gb = ref.conv_transpose2d_backward(grad_output, input, weight, bias, stride,
                                                   padding, output_padding, groups, dilation)
        if groups == 1 and gw.shape[0] == gw.shape[1]:
            gw = np.swapaxes(gw, 0, 1)
        return gi, gw, gb

    out = []
    for name, fn in (("conv2d_backward", ref.conv2d_backward),
                     ("conv2d_backward_loop", ref.conv2d_backward_loop)):
        out += [
            (name, rotated_input_grad(fn), "grad-input-kernel-unflipped"),
            (name, weight_averaged(fn), "grad-weight-averaged-over-batch"),
            (name, bias_mean(fn), "grad-bias-averaged"),
            (name, bias_keeps_batch(fn), "grad-bias-summed-over-wrong-axes"),
            (name, bias_zeros_when_none(fn), "gradient-of-none-parameter-not-none"),
        ]
    convt = ref.conv_transpose2d_backward
    return out + [
        ("conv_transpose2d_backward", rotated_input_grad(convt), "grad-input-kernel-flipped"),
        ("conv_transpose2d_backward", weight_averaged(convt), "grad-weight-averaged-over-batch"),
        ("conv_transpose2d_backward", bias_mean(convt), "grad-bias-averaged"),
        ("conv_transpose2d_backward", bias_keeps_batch(convt), "grad-bias-summed-over-wrong-axes"),
        ("conv_transpose2d_backward", convt_axes_swapped, "grad-weight-axes-swapped"),
        ("conv_transpose2d_backward", bias_zeros_when_none(convt),
         "gradient-of-none-parameter-not-none"),
    ]
