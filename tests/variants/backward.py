"""Chapter 12: one-bug versions of the reference backward passes, and the hint each must earn."""
import numpy as np

from booktools import solution


def catalogue():
    ref = solution("12_backward")

    # numerical_gradient ----------------------------------------------------------------
    def _differences(f, x, eps, step, restore=True, sign=1.0, one_sided=False):
        grad = np.zeros_like(x)
        flat_x, flat_g = x.reshape(-1), grad.reshape(-1)
        for i in range(flat_x.size):
            old = flat_x[i]
            flat_x[i] = old + eps
            plus = f(x)
            flat_x[i] = old if one_sided else old - eps
            minus = f(x)
            if restore:
                flat_x[i] = old
            flat_g[i] = sign * (plus - minus) / step
        return grad

    def forward_difference(f, x, eps=1e-6):
        return _differences(f, x, eps, eps, one_sided=True)

    def missing_the_two(f, x, eps=1e-6):
        return _differences(f, x, eps, eps)

    def not_restored(f, x, eps=1e-6):
        return _differences(f, x, eps, 2 * eps, restore=False)

    def wrong_sign(f, x, eps=1e-6):
        return _differences(f, x, eps, 2 * eps, sign=-1.0)

    # conv2d_backward / conv_transpose2d_backward -----------------------------------------
    def _with(fn, position, change):
        def wrong(grad_output, input, weight, bias=None, *args, **kwargs):
            grads = list(fn(grad_output, input, weight, bias, *args, **kwargs))
            grads[position] = change(grads[position], grad_output, input, weight, bias, args, kwargs)
            return tuple(grads)
        return wrong

    def _rotated_input_grad(fn):
        def wrong(grad_output, input, weight, bias=None, *args, **kwargs):
            good = fn(grad_output, input, weight, bias, *args, **kwargs)
            rotated = fn(grad_output, input, weight[..., ::-1, ::-1].copy(), bias, *args, **kwargs)
            return rotated[0], good[1], good[2]
        return wrong

    def _batch(x):
        return x.shape[0] if x.ndim == 4 else 1

    def weight_averaged(fn):
        return _with(fn, 1, lambda g, go, x, w, b, a, k: g / _batch(x))

    def bias_mean(fn):
        return _with(fn, 2, lambda g, go, x, w, b, a, k: None if g is None else g / (go.size // go.shape[-3]))

    def bias_keeps_batch(fn):
        return _with(fn, 2, lambda g, go, x, w, b, a, k: None if g is None
                     else (go.sum(axis=(2, 3))[0] if go.ndim == 4 else g))

    def bias_zeros_when_none(fn):
        return _with(fn, 2, lambda g, go, x, w, b, a, k: np.zeros(weight_out(fn, w)) if g is None else g)

    def weight_out(fn, w):
        return w.shape[1] if fn is ref.conv_transpose2d_backward else w.shape[0]

    def convt_axes_swapped(grad_output, input, weight, bias=None, stride=1, padding=0,
                           output_padding=0, groups=1, dilation=1):
        gi, gw, gb = ref.conv_transpose2d_backward(grad_output, input, weight, bias, stride, padding,
                                                   output_padding, groups, dilation)
        if groups == 1 and gw.shape[0] == gw.shape[1]:
            gw = np.swapaxes(gw, 0, 1)
        return gi, gw, gb

    # max_pool2d_backward ---------------------------------------------------------------
    def _max_pool_with(rule):
        def wrong(grad_output, input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
            x4, batched = ref._batched(input)
            k, s, p, d, out, extra = ref._pool_geometry(x4.shape, kernel_size, stride, padding,
                                                        dilation, ceil_mode)
            go = grad_output if batched else grad_output[None]
            xp = np.pad(x4, [(0, 0), (0, 0), (p[0], p[0] + extra[0]), (p[1], p[1] + extra[1])],
                        constant_values=-np.inf)
            grad = np.zeros_like(xp)
            for i in range(out[0]):
                for j in range(out[1]):
                    rows = i * s[0] + d[0] * np.arange(k[0])
                    cols = j * s[1] + d[1] * np.arange(k[1])
                    window = xp[:, :, rows[:, None], cols[None, :]]
                    share = rule(window)
                    if rule is overwrite:
                        mask = share
                        for a in range(k[0]):
                            for b in range(k[1]):
                                hit = mask[:, :, a, b]
                                grad[:, :, rows[a], cols[b]] = np.where(
                                    hit, go[:, :, i, j], grad[:, :, rows[a], cols[b]])
                        continue
                    for a in range(k[0]):
                        for b in range(k[1]):
                            grad[:, :, rows[a], cols[b]] += share[:, :, a, b] * go[:, :, i, j]
            h, w = x4.shape[-2:]
            grad = grad[..., p[0]:p[0] + h, p[1]:p[1] + w]
            return grad if batched else grad[0]
        return wrong

    def every_tie(window):
        return (window == window.max(axis=(2, 3), keepdims=True)).astype(float)

    def last_tie(window):
        flat = window.reshape(*window.shape[:2], -1)
        last = flat.shape[-1] - 1 - np.argmax(flat[..., ::-1], axis=-1)
        mask = np.zeros_like(flat)
        np.put_along_axis(mask, last[..., None], 1.0, axis=-1)
        return mask.reshape(window.shape)

    def split_ties(window):
        ties = every_tie(window)
        return ties / ties.sum(axis=(2, 3), keepdims=True)

    def overwrite(window):
        flat = window.reshape(*window.shape[:2], -1)
        first = np.argmax(flat, axis=-1)
        mask = np.zeros(flat.shape, dtype=bool)
        np.put_along_axis(mask, first[..., None], True, axis=-1)
        return mask.reshape(window.shape)

    # avg_pool2d_backward ---------------------------------------------------------------
    def avg_not_divided(grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True, divisor_override=None):
        return ref.avg_pool2d_backward(grad_output, input, kernel_size, stride, padding, ceil_mode,
                                       count_include_pad, 1)

    def avg_include_ignored(grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                            count_include_pad=True, divisor_override=None):
        return ref.avg_pool2d_backward(grad_output, input, kernel_size, stride, padding, ceil_mode,
                                       True, divisor_override)

    def avg_override_ignored(grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                             count_include_pad=True, divisor_override=None):
        return ref.avg_pool2d_backward(grad_output, input, kernel_size, stride, padding, ceil_mode,
                                       count_include_pad, None)

    def avg_always_k2(grad_output, input, kernel_size, stride=None, padding=0, ceil_mode=False,
                      count_include_pad=True, divisor_override=None):
        if count_include_pad and divisor_override is None:
            kh, kw = ref._ntuple(kernel_size, 2)
            divisor_override = kh * kw
        return ref.avg_pool2d_backward(grad_output, input, kernel_size, stride, padding, ceil_mode,
                                       count_include_pad, divisor_override)

    # adaptive_avg_pool2d_backward -------------------------------------------------------
    def _adaptive_with(window):
        def wrong(grad_output, input, output_size):
            x4, batched = ref._batched(input)
            go = grad_output if batched else grad_output[None]
            mats = []
            for size, out in zip(x4.shape[2:], go.shape[2:]):
                m = np.zeros((out, size))
                for i in range(out):
                    start, end, divide = window(i, size, out)
                    if end > start:
                        m[i, start:end] = 1.0 / (end - start) if divide else 1.0
                mats.append(m)
            grad = mats[0].T @ go @ mats[1]
            return grad if batched else grad[0]
        return wrong

    def _ceil(a, b):
        return -(-a // b)

    adaptive_floor_end = _adaptive_with(lambda i, n, o: (i * n // o, (i + 1) * n // o, True))
    adaptive_uniform = _adaptive_with(lambda i, n, o: (i * (n // o), i * (n // o) + max(n // o, 1), True))
    adaptive_not_divided = _adaptive_with(lambda i, n, o: (i * n // o, _ceil((i + 1) * n, o), False))
    adaptive_ceil_start = _adaptive_with(lambda i, n, o: (_ceil(i * n, o), _ceil((i + 1) * n, o), True))

    # normalizations ----------------------------------------------------------------------
    def _norm_parts(kind, input, param, weight, eps):
        """(g = ∂L/∂x̂, x̂, rstd, axes) of the reference's own normalization."""
        if kind == "bn":
            axes = (0,) + tuple(range(2, input.ndim))
            view = input
        elif kind == "ln":
            axes = ref._ln_axes(input, param)
            view = input
        else:
            axes = (2,)
            view = ref._gn_view(input, param)
        mean = view.mean(axis=axes, keepdims=True)
        rstd = 1 / np.sqrt(view.var(axis=axes, keepdims=True) + eps)
        return (view - mean) * rstd, rstd, axes

    def _norm_wrong(kind, grad_input=None, grad_weight=None, grad_bias=None):
        fn = {"bn": ref.batch_norm_backward, "ln": ref.layer_norm_backward,
              "gn": ref.group_norm_backward}[kind]

        def wrong(grad_output, input, *args, **kwargs):
            good = list(fn(grad_output, input, *args, **kwargs))
            if kind == "bn":
                param = None
                weight = args[0] if len(args) > 0 else kwargs.get("weight")
            else:
                param = args[0]
                weight = args[1] if len(args) > 1 else kwargs.get("weight")
            eps = kwargs.get("eps", 1e-5)
            if grad_input is not None:
                xhat, rstd, axes = _norm_parts(kind, input, param, weight, eps)
                shape = (1, -1) + (1,) * (input.ndim - 2)
                scale = 1.0 if weight is None else (weight if kind == "ln" else weight.reshape(shape))
                g = (grad_output * scale).reshape(xhat.shape)
                good[0] = grad_input(g, xhat, rstd, axes).reshape(input.shape)
            if grad_weight is not None and good[1] is not None:
                good[1] = grad_weight(good[1], grad_output, input)
            if grad_bias is not None and good[2] is not None:
                good[2] = grad_bias(good[2], grad_output, input)
            return tuple(good)
        return wrong

    def _sum_axes(kind, input, grad):
        return tuple(range(input.ndim - grad.ndim)) if kind == "ln" else (0,) + tuple(range(2, input.ndim))

    def _norm_catalogue(kind, name):
        no_mean = _norm_wrong(kind, grad_input=lambda g, xhat, rstd, axes: rstd * g)
        no_xhat = _norm_wrong(kind, grad_input=lambda g, xhat, rstd, axes:
                              rstd * (g - g.mean(axis=axes, keepdims=True)))
        weight_plain = _norm_wrong(kind, grad_weight=lambda gw, go, x: go.sum(axis=_sum_axes(kind, x, gw)))
        bias_averaged = _norm_wrong(kind, grad_bias=lambda gb, go, x: gb / (go.size // gb.size))
        return [
            (name, no_mean, "you treated them as constants"),
            (name, no_xhat, "you kept only the mean's term"),
            (name, weight_plain, "not of grad_output alone"),
            (name, bias_averaged, "not the mean"),
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

    def bn_zeros_when_none(grad_output, input, weight=None, bias=None, eps=1e-5):
        gi, gw, gb = ref.batch_norm_backward(grad_output, input, weight, bias, eps)
        c = input.shape[1]
        return gi, np.zeros(c) if gw is None else gw, np.zeros(c) if gb is None else gb

    return [
        ("numerical_gradient", forward_difference, "forward difference"),
        ("numerical_gradient", missing_the_two, "twice too large"),
        ("numerical_gradient", not_restored, "put back"),
        ("numerical_gradient", wrong_sign, "wrong sign"),
        ("conv2d_backward", _rotated_input_grad(ref.conv2d_backward), "rotated by 180°"),
        ("conv2d_backward", weight_averaged(ref.conv2d_backward), "you divided by N"),
        ("conv2d_backward", bias_mean(ref.conv2d_backward), "not the mean"),
        ("conv2d_backward", bias_keeps_batch(ref.conv2d_backward), "you kept the batch axis"),
        ("conv2d_backward", bias_zeros_when_none(ref.conv2d_backward), "return None as its gradient"),
        ("conv2d_backward_loop", _rotated_input_grad(ref.conv2d_backward_loop), "rotated by 180°"),
        ("conv2d_backward_loop", weight_averaged(ref.conv2d_backward_loop), "you divided by N"),
        ("conv2d_backward_loop", bias_mean(ref.conv2d_backward_loop), "not the mean"),
        ("conv2d_backward_loop", bias_keeps_batch(ref.conv2d_backward_loop), "you kept the batch axis"),
        ("conv_transpose2d_backward", _rotated_input_grad(ref.conv_transpose2d_backward),
         "you flipped the kernel"),
        ("conv_transpose2d_backward", weight_averaged(ref.conv_transpose2d_backward), "you divided by N"),
        ("conv_transpose2d_backward", bias_mean(ref.conv_transpose2d_backward), "not the mean"),
        ("conv_transpose2d_backward", convt_axes_swapped, "first two axes the other way round"),
        ("max_pool2d_backward", _max_pool_with(every_tie), "every tied maximum"),
        ("max_pool2d_backward", _max_pool_with(last_tie), "you picked the last"),
        ("max_pool2d_backward", _max_pool_with(split_ties), "does not split"),
        ("max_pool2d_backward", _max_pool_with(overwrite), "do not overwrite"),
        ("avg_pool2d_backward", avg_not_divided, "you did not divide"),
        ("avg_pool2d_backward", avg_include_ignored, "only the real input elements"),
        ("avg_pool2d_backward", avg_override_ignored, "replaces the divisor"),
        ("avg_pool2d_backward", avg_always_k2, "not by kH·kW"),
        ("adaptive_avg_pool2d_backward", adaptive_floor_end, "rounded the end down"),
        ("adaptive_avg_pool2d_backward", adaptive_uniform, "not all H // H_out wide"),
        ("adaptive_avg_pool2d_backward", adaptive_not_divided, "you did not divide"),
        ("adaptive_avg_pool2d_backward", adaptive_ceil_start, "rounded the start up"),
        *_norm_catalogue("bn", "batch_norm_backward"),
        ("batch_norm_backward", bn_unbiased, "BIASED"),
        ("batch_norm_backward", bn_zeros_when_none, "return None as its gradient"),
        *_norm_catalogue("ln", "layer_norm_backward"),
        ("layer_norm_backward", ln_over_batch, "that is batch norm"),
        *_norm_catalogue("gn", "group_norm_backward"),
        ("group_norm_backward", gn_interleaved, "you grouped every G-th channel"),
    ]
