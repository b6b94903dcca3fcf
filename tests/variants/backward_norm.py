"""Chapter 12, the normalization backward passes: one-bug versions of the reference answers,
and the bug each must be caught as."""
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from booktools import solution


class Layout(NamedTuple):
    """How one normalization of the reference views its input and broadcasts its weight."""

    backward: Callable       # the reference backward pass
    takes_param: bool        # normalized_shape / num_groups comes before weight
    view: Callable           # (input, param) -> (the input viewed for the statistics, axes)
    per_channel: bool        # weight (C,) along axis 1; else of normalized_shape

    def split(self, args, kwargs):
        """(param, weight) from the call's positional and keyword arguments."""
        param, rest = (args[0], args[1:]) if self.takes_param else (None, args)
        return param, rest[0] if rest else kwargs.get("weight")

    def shared_axes(self, input, grad):
        """The axes each weight or bias entry is shared across."""
        if self.per_channel:
            return (0,) + tuple(range(2, input.ndim))
        return tuple(range(input.ndim - grad.ndim))


def catalogue():
    ref = solution("12_backward")
    batch = Layout(ref.batch_norm_backward, False,
                   lambda x, _: (x, (0,) + tuple(range(2, x.ndim))), True)
    layer = Layout(ref.layer_norm_backward, True, lambda x, ns: (x, ref._ln_axes(x, ns)), False)
    group = Layout(ref.group_norm_backward, True, lambda x, g: (ref._gn_view(x, g), (2,)), True)

    def _norm_wrong(layout, grad_input=None, grad_weight=None, grad_bias=None):
        def wrong(grad_output, input, *args, **kwargs):
            good = list(layout.backward(grad_output, input, *args, **kwargs))
            param, weight = layout.split(args, kwargs)
            if grad_input is not None:
                view, axes = layout.view(input, param)
                mean = view.mean(axis=axes, keepdims=True)
                rstd = 1 / np.sqrt(view.var(axis=axes, keepdims=True) + kwargs.get("eps", 1e-5))
                xhat = (view - mean) * rstd
                shape = (1, -1) + (1,) * (input.ndim - 2)
                scale = 1.0 if weight is None else (
                    weight.reshape(shape) if layout.per_channel else weight)
                g = (grad_output * scale).reshape(xhat.shape)
                good[0] = grad_input(g, xhat, rstd, axes).reshape(input.shape)
            if grad_weight is not None and good[1] is not None:
                good[1] = grad_output.sum(axis=layout.shared_axes(input, good[1]))
            if grad_bias is not None and good[2] is not None:
                good[2] = good[2] / (grad_output.size // good[2].size)
            return tuple(good)
        return wrong

    def zeros_when_none(layout):
        def wrong(grad_output, input, *args, **kwargs):
            gi, gw, gb = layout.backward(grad_output, input, *args, **kwargs)
            param, _ = layout.split(args, kwargs)
            c = input.shape[1] if layout.per_channel else param   # normalized_shape
            return gi, np.zeros(c) if gw is None else gw, np.zeros(c) if gb is None else gb
        return wrong

    def _shared(layout, name):
        no_mean = _norm_wrong(layout, grad_input=lambda g, xhat, rstd, axes: rstd * g)
        no_xhat = _norm_wrong(layout, grad_input=lambda g, xhat, rstd, axes:
                              rstd * (g - g.mean(axis=axes, keepdims=True)))
        return [
            (name, no_mean, "mean-terms-missing"),
            (name, no_xhat, "xhat-term-missing"),
            (name, _norm_wrong(layout, grad_weight=True), "grad-weight-not-multiplied-by-xhat"),
            (name, _norm_wrong(layout, grad_bias=True), "grad-bias-averaged"),
            (name, zeros_when_none(layout), "gradient-of-none-parameter-not-none"),
        ]

    def bn_unbiased(grad_output, input, weight=None, bias=None, eps=1e-5):
        # var_unbiased + eps = c·(var + eps/c) with c = m/(m-1): the biased layer with eps/c,
        # scaled by 1/sqrt(c).
        m = input.size // input.shape[1]
        scale = np.sqrt((m - 1) / m)
        gi, gw, gb = ref.batch_norm_backward(grad_output, input, weight, bias, eps * (m - 1) / m)
        return gi * scale, None if gw is None else gw * scale, gb

    def ln_over_batch(grad_output, input, normalized_shape, weight=None, bias=None, eps=1e-5):
        good = ref.layer_norm_backward(grad_output, input, normalized_shape, weight, bias, eps)
        k = len(ref._ln_axes(input, normalized_shape))
        if k != input.ndim - 1 or input.shape[0] == 1:
            return good
        # statistics over axis 0: that is batch norm with every trailing element a channel
        flat_x = input.reshape(input.shape[0], -1)
        flat_g = grad_output.reshape(flat_x.shape)
        w = None if weight is None else weight.reshape(-1)
        gi, _, _ = ref.batch_norm_backward(flat_g, flat_x, w, None, eps)
        return gi.reshape(input.shape), good[1], good[2]

    def gn_interleaved(grad_output, input, num_groups, weight=None, bias=None, eps=1e-5):
        c = input.shape[1]
        if c % num_groups:
            return ref.group_norm_backward(grad_output, input, num_groups, weight, bias, eps)
        perm = np.arange(c).reshape(c // num_groups, num_groups).T.reshape(-1)
        inv = np.argsort(perm)
        gi, gw, gb = ref.group_norm_backward(grad_output[:, perm], input[:, perm], num_groups,
                                             None if weight is None else weight[perm],
                                             None if bias is None else bias[perm], eps)
        return gi[:, inv], None if gw is None else gw[inv], None if gb is None else gb[inv]

    return [
        *_shared(batch, "batch_norm_backward"),
        ("batch_norm_backward", bn_unbiased, "normalized-with-unbiased-variance"),
        *_shared(layer, "layer_norm_backward"),
        ("layer_norm_backward", ln_over_batch, "statistics-over-the-batch"),
        *_shared(group, "group_norm_backward"),
        ("group_norm_backward", gn_interleaved, "interleaved-groups"),
    ]
