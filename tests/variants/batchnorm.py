"""Chapter 08, batch_norm: one-bug versions of the reference answers, and the bug id each
must be caught as."""
import numpy as np
from booktools import solution


def stat_axes(x):
    """The axes batch norm averages over: every axis but the channels (1)."""
    return (0,) + tuple(range(2, x.ndim))


def channel_view(x):
    """The shape that lines a (C,) array up with axis 1 of ``x``."""
    return (1, x.shape[1]) + (1,) * (x.ndim - 2)


def catalogue():
    ref = solution("08_batch_norm")

    # batch_norm ---------------------------------------------------------------------
    def momentum_09(input, running_mean, running_var, weight=None, bias=None,
                    training=False, momentum=0.1, eps=1e-5):
        """Keeps `momentum` of the old value: the Keras / course-notes convention."""
        return ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                              1 - momentum, eps)

    def biased_running_var(input, running_mean, running_var, weight=None, bias=None,
                           training=False, momentum=0.1, eps=1e-5):
        old = None if running_var is None else running_var.copy()
        out = ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                             momentum, eps)
        if training and running_var is not None:
            running_var[...] = (1 - momentum) * old + momentum * input.var(axis=stat_axes(input))
        return out

    def unbiased_normalization(input, running_mean, running_var, weight=None, bias=None,
                               training=False, momentum=0.1, eps=1e-5):
        out = ref.batch_norm(input, running_mean, running_var, None, None, training,
                             momentum, eps)
        if training:
            m = input.size // input.shape[1]
            var = input.var(axis=stat_axes(input)).reshape(channel_view(input))
            # rescale from sqrt(var + eps) to sqrt(var * m / (m - 1) + eps)
            out = out * np.sqrt(var + eps) / np.sqrt(var * m / (m - 1) + eps)
        if weight is not None:
            out = out * weight.reshape(channel_view(input))
        if bias is not None:
            out = out + bias.reshape(channel_view(input))
        return out

    def eval_uses_batch_stats(input, running_mean, running_var, weight=None, bias=None,
                              training=False, momentum=0.1, eps=1e-5):
        if not training:
            return ref.batch_norm(input, None, None, weight, bias, True, momentum, eps)
        return ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                              momentum, eps)

    def batch_axis_only(input, running_mean, running_var, weight=None, bias=None,
                        training=False, momentum=0.1, eps=1e-5):
        out = ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                             momentum, eps)
        if not training:
            return out
        y = (input - input.mean(axis=0)) / np.sqrt(input.var(axis=0) + eps)
        if weight is not None:
            y = y * weight.reshape(channel_view(input))
        if bias is not None:
            y = y + bias.reshape(channel_view(input))
        return y

    def eps_outside(input, running_mean, running_var, weight=None, bias=None,
                    training=False, momentum=0.1, eps=1e-5):
        if training:
            mean, var = input.mean(axis=stat_axes(input)), input.var(axis=stat_axes(input))
        else:
            mean, var = running_mean, running_var
        ref.batch_norm(input, running_mean, running_var, None, None, training, momentum, eps)
        view = channel_view(input)
        y = (input - mean.reshape(view)) / (np.sqrt(var.reshape(view)) + eps)
        if weight is not None:
            y = y * weight.reshape(channel_view(input))
        if bias is not None:
            y = y + bias.reshape(channel_view(input))
        return y

    def affine_last_axis(input, running_mean, running_var, weight=None, bias=None,
                         training=False, momentum=0.1, eps=1e-5):
        y = ref.batch_norm(input, running_mean, running_var, None, None, training, momentum, eps)
        if weight is not None:
            y = y * weight
        if bias is not None:
            y = y + bias
        return y

    def not_in_place(input, running_mean, running_var, weight=None, bias=None,
                     training=False, momentum=0.1, eps=1e-5):
        if running_mean is not None:
            running_mean, running_var = running_mean.copy(), running_var.copy()
        return ref.batch_norm(input, running_mean, running_var, weight, bias, training,
                              momentum, eps)

    functional = [
        (momentum_09, "momentum-0.9-convention"),
        (biased_running_var, "biased-running-variance"),
        (unbiased_normalization, "normalized-with-unbiased-variance"),
        (eval_uses_batch_stats, "eval-uses-batch-statistics"),
        (batch_axis_only, "statistics-over-the-batch-axis-only"),
        (eps_outside, "eps-outside-the-square-root"),
        (affine_last_axis, "affine-along-the-last-axis"),
        (not_in_place, "not-updated-in-place"),
    ]
    out = [("batch_norm", fn, bug) for fn, bug in functional]
    return out + [("batch_norm_loop", fn, bug) for fn, bug in functional[:4]]
