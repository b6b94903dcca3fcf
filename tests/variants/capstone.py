"""Chapter 13: one-bug versions of the capstone's forward pass and SGD step, and their hints."""
import numpy as np
from booktools import solution


def catalogue():
    ref = solution("13_capstone")

    # cnn_forward -------------------------------------------------------------------------
    def _max_pool(h):
        return ref.max_pool2d(h, 2)

    def _pool_wrong_axes(h):
        n, c, hh, ww = h.shape
        return h.reshape(n, c, hh // 2, 2, ww // 2, 2).max(axis=(2, 4))

    def _average(h):
        return h.mean(axis=(2, 3))

    def _scrambled(h):
        pooled = h.mean(axis=(2, 3))
        return pooled.reshape(pooled.shape[1], pooled.shape[0]).T

    def _forward(x, params, *, training=False, pool=_max_pool, padding=1, sqrt=True, act=True,
                 head=_average):
        h = x
        for i in (1, 2):
            weight, bias = params[f"bn{i}.weight"], params[f"bn{i}.bias"]
            h = ref.conv2d(h, params[f"conv{i}.weight"], params[f"conv{i}.bias"], padding=padding)
            if training:
                h = ref.batch_norm(h, None, None, weight, bias, training=True)
            else:
                shape = (1, -1, 1, 1)
                var = params[f"bn{i}.running_var"].reshape(shape) + 1e-5
                h = (h - params[f"bn{i}.running_mean"].reshape(shape)) / \
                    (np.sqrt(var) if sqrt else var)
                h = h * weight.reshape(shape) + bias.reshape(shape)
            h = pool(ref.relu(h) if act else h)
        return ref.linear(head(h), params["fc.weight"], params["fc.bias"])

    def batch_statistics(x, params):
        return _forward(x, params, training=True)

    def pool_wrong_axes(x, params):
        return _forward(x, params, pool=_pool_wrong_axes)

    def no_padding(x, params):
        return _forward(x, params, padding=0)

    def variance_not_std(x, params):
        return _forward(x, params, sqrt=False)

    def relu_missing(x, params):
        return _forward(x, params, act=False)

    def global_max(x, params):
        return _forward(x, params, head=lambda h: h.max(axis=(2, 3)))

    def flattened_wrong(x, params):
        return _forward(x, params, head=_scrambled)

    # sgd_step ----------------------------------------------------------------------------
    def _sgd(params, x, labels, lr, *, per_sample=False, eval_bn=False, sign=1.0, onehot=True,
             detached=False, weight_decay=0.0):
        grads, cache = {}, {}
        h = x
        for i in (1, 2):
            conv_in = h
            conv_out = ref.conv2d(conv_in, params[f"conv{i}.weight"], params[f"conv{i}.bias"],
                                  padding=1)
            if eval_bn:
                bn_out = ref.batch_norm(conv_out, params[f"bn{i}.running_mean"].copy(),
                                        params[f"bn{i}.running_var"].copy(),
                                        params[f"bn{i}.weight"], params[f"bn{i}.bias"],
                                        training=False)
            else:
                bn_out = ref.batch_norm(conv_out, None, None, params[f"bn{i}.weight"],
                                        params[f"bn{i}.bias"], training=True)
            h = ref.max_pool2d(ref.relu(bn_out), 2)
            cache[i] = conv_in, conv_out, bn_out
        pooled = h.mean(axis=(2, 3))
        logits = ref.linear(pooled, params["fc.weight"], params["fc.bias"])
        _, g = ref.cross_entropy(logits, labels)
        n = len(labels)
        if per_sample:
            g = g * n
        if not onehot:
            g[np.arange(n), labels] += 1.0 / n
        g, grads["fc.weight"], grads["fc.bias"] = ref.linear_backward(
            g, pooled, params["fc.weight"], params["fc.bias"])
        g = np.broadcast_to(g[:, :, None, None] / (h.shape[2] * h.shape[3]), h.shape)
        for i in (2, 1):
            conv_in, conv_out, bn_out = cache[i]
            g = ref.max_pool2d_backward(g, ref.relu(bn_out), 2)
            g = g * (bn_out > 0)
            w = params[f"bn{i}.weight"]
            if eval_bn or detached:
                axes, shape = (0, 2, 3), (1, -1, 1, 1)
                if eval_bn:
                    mean, var = params[f"bn{i}.running_mean"], params[f"bn{i}.running_var"]
                else:
                    mean, var = conv_out.mean(axis=axes), conv_out.var(axis=axes)
                rstd = 1 / np.sqrt(var.reshape(shape) + 1e-5)
                xhat = (conv_out - mean.reshape(shape)) * rstd
                grads[f"bn{i}.weight"] = (g * xhat).sum(axis=axes)
                grads[f"bn{i}.bias"] = g.sum(axis=axes)
                g = g * w.reshape(shape) * rstd
            else:
                g, grads[f"bn{i}.weight"], grads[f"bn{i}.bias"] = ref.batch_norm_backward(
                    g, conv_out, w, params[f"bn{i}.bias"])
            g, grads[f"conv{i}.weight"], grads[f"conv{i}.bias"] = ref.conv2d_backward(
                g, conv_in, params[f"conv{i}.weight"], params[f"conv{i}.bias"], padding=1)
        new = dict(params)
        for name, grad in grads.items():
            new[name] = params[name] - sign * lr * (grad + weight_decay * params[name])
        return new

    def missing_one_over_n(params, x, labels, lr):
        return _sgd(params, x, labels, lr, per_sample=True)

    def bn_eval_in_training(params, x, labels, lr):
        return _sgd(params, x, labels, lr, eval_bn=True)

    def gradient_ascent(params, x, labels, lr):
        return _sgd(params, x, labels, lr, sign=-1.0)

    def onehot_missing(params, x, labels, lr):
        return _sgd(params, x, labels, lr, onehot=False)

    def bn_stats_constant(params, x, labels, lr):
        return _sgd(params, x, labels, lr, detached=True)

    def weight_decay(params, x, labels, lr):
        return _sgd(params, x, labels, lr, weight_decay=5e-4)

    return [
        ("cnn_forward", batch_statistics, "batch-statistics-in-eval"),
        ("cnn_forward", pool_wrong_axes, "pooling-the-wrong-axes"),
        ("cnn_forward", no_padding, "conv-padding-missing"),
        ("cnn_forward", variance_not_std, "variance-without-sqrt"),
        ("cnn_forward", relu_missing, "relu-missing"),
        ("cnn_forward", global_max, "global-max-pooling"),
        ("cnn_forward", flattened_wrong, "flattened-in-the-wrong-order"),
        ("sgd_step", missing_one_over_n, "softmax-gradient-missing-one-over-n"),
        ("sgd_step", bn_eval_in_training, "batch-norm-in-eval-mode"),
        ("sgd_step", gradient_ascent, "gradient-ascent"),
        ("sgd_step", onehot_missing, "one-hot-missing"),
        ("sgd_step", bn_stats_constant, "batch-norm-statistics-held-constant"),
        ("sgd_step", weight_decay, "weight-decay-added"),
    ]
