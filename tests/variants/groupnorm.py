"""Chapter 10, the functions: one-bug versions of the reference answers, and the bug id
each must be caught as."""
import numpy as np
from booktools import solution


def catalogue():
    ref = solution("10_instance_group_norm")

    def _affine(out, weight, bias):
        shape = (1, -1) + (1,) * (out.ndim - 2)
        if weight is not None:
            out = out * weight.reshape(shape)
        return out if bias is None else out + bias.reshape(shape)

    def _in_output(x, axes, weight, bias, eps, ddof=0, eps_outside=False):
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=ddof)
        out = (x - mean) / (np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps))
        return _affine(out, weight, bias)

    def _with_correct_stats(fn):
        """Compute the correct answer (same refusals, same running-stat update), then
        replace the output by fn's when input statistics are used."""
        def wrong(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
            out = ref.instance_norm(input, running_mean, running_var, weight, bias,
                                    use_input_stats, momentum, eps)
            return fn(input, weight, bias, eps) if use_input_stats else out
        wrong.__name__ = fn.__name__
        return wrong

    @_with_correct_stats
    def in_batch_axes(x, weight, bias, eps):
        return _in_output(x, (0,) + tuple(range(2, x.ndim)), weight, bias, eps)

    @_with_correct_stats
    def in_layer_axes(x, weight, bias, eps):
        return _in_output(x, tuple(range(1, x.ndim)), weight, bias, eps)

    @_with_correct_stats
    def in_unbiased(x, weight, bias, eps):
        return _in_output(x, tuple(range(2, x.ndim)), weight, bias, eps, ddof=1)

    @_with_correct_stats
    def in_eps_outside(x, weight, bias, eps):
        return _in_output(x, tuple(range(2, x.ndim)), weight, bias, eps, eps_outside=True)

    def in_not_in_place(input, running_mean=None, running_var=None, weight=None, bias=None,
                        use_input_stats=True, momentum=0.1, eps=1e-5):
        if running_mean is not None:
            running_mean, running_var = running_mean.copy(), running_var.copy()
        return ref.instance_norm(input, running_mean, running_var, weight, bias,
                                 use_input_stats, momentum, eps)

    def _stats_bug(name, *, biased=False, whole_batch=False, momentum_flipped=False):
        """The running statistics updated with one thing changed."""
        def wrong(input, running_mean=None, running_var=None, weight=None, bias=None,
                  use_input_stats=True, momentum=0.1, eps=1e-5):
            if running_mean is None or not use_input_stats:
                return ref.instance_norm(input, running_mean, running_var, weight, bias,
                                         use_input_stats, momentum, eps)
            old_mean, old_var = running_mean.copy(), running_var.copy()
            out = ref.instance_norm(input, running_mean, running_var, weight, bias, True,
                                    momentum, eps)
            axes = tuple(range(2, input.ndim))
            n, c = input.shape[:2]
            mean = input.mean(axis=axes).mean(axis=0)
            var = input.var(axis=axes, ddof=1).mean(axis=0)
            m = momentum
            if biased:
                var = input.var(axis=axes).mean(axis=0)
            elif whole_batch:
                var = np.moveaxis(input, 1, 0).reshape(c, -1).var(axis=1, ddof=1)
            elif momentum_flipped:
                m = 1 - momentum
            running_mean[:] = (1 - m) * old_mean + m * mean
            running_var[:] = (1 - m) * old_var + m * var
            return out
        wrong.__name__ = f"running_stats_{name}"
        return wrong

    def gn_group_size(input, num_groups, weight=None, bias=None, eps=1e-5):
        c = input.shape[1]
        ref.group_norm(input, num_groups, weight, bias, eps)
        return ref.group_norm(input, c // num_groups, weight, bias, eps)

    def gn_interleaved(input, num_groups, weight=None, bias=None, eps=1e-5):
        ref.group_norm(input, num_groups, weight, bias, eps)
        c = input.shape[1]
        perm = np.argsort(np.arange(c) % num_groups, kind="stable")
        out = ref.group_norm(input[:, perm], num_groups, None, None, eps)[:, np.argsort(perm)]
        return _affine(out, weight, bias)

    def gn_per_channel(input, num_groups, weight=None, bias=None, eps=1e-5):
        ref.group_norm(input, num_groups, weight, bias, eps)
        return ref.group_norm(input, input.shape[1], weight, bias, eps)

    def gn_affine_last_axis(input, num_groups, weight=None, bias=None, eps=1e-5):
        out = ref.group_norm(input, num_groups, None, None, eps)
        if weight is not None:
            out = out * weight            # broadcasts along the LAST axis
        return out if bias is None else out + bias

    def _gn_changed(ddof=0, eps_outside=False):
        def wrong(input, num_groups, weight=None, bias=None, eps=1e-5):
            ref.group_norm(input, num_groups, weight, bias, eps)
            n = input.shape[0]
            g = input.reshape(n, num_groups, -1)
            mean, var = g.mean(axis=2, keepdims=True), g.var(axis=2, keepdims=True, ddof=ddof)
            out = (g - mean) / (np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps))
            return _affine(out.reshape(input.shape), weight, bias)
        wrong.__name__ = "gn_unbiased" if ddof else "gn_eps_outside"
        return wrong

    return [
        ("instance_norm", in_batch_axes, "batch-norm-axes"),
        ("instance_norm", in_layer_axes, "layer-norm-axes"),
        ("instance_norm", in_unbiased, "normalized-with-unbiased-variance"),
        ("instance_norm", in_eps_outside, "eps-outside-the-square-root"),
        ("instance_norm", in_not_in_place, "not-updated-in-place"),
        ("instance_norm", _stats_bug("biased", biased=True), "biased-running-variance"),
        ("instance_norm", _stats_bug("whole_batch", whole_batch=True),
         "running-variance-of-the-whole-batch"),
        ("instance_norm", _stats_bug("swapped", momentum_flipped=True), "momentum-0.9-convention"),
        ("group_norm", gn_group_size, "num-groups-read-as-group-size"),
        ("group_norm", gn_interleaved, "interleaved-groups"),
        ("group_norm", gn_per_channel, "one-group-per-channel"),
        ("group_norm", gn_affine_last_axis, "affine-along-the-last-axis"),
        ("group_norm", _gn_changed(ddof=1), "unbiased-variance"),
        ("group_norm", _gn_changed(eps_outside=True), "eps-outside-the-square-root"),
    ]
