"""Chapter 13 — capstone: a small CNN in NumPy, from a torch state_dict.

The model (conv → batch norm → ReLU → max pool, twice, then global average pooling and a
linear layer) and its trained weights ship in ``data/capstone_cnn.npz``, the digits in
``data/capstone_digits.npz`` (both made by ``tools/make_capstone_data.py``). The cases are
slices of the shipped test set and seeded perturbations of the shipped parameters; the
reference rebuilds the torch model from the same arrays.
"""
from __future__ import annotations

import copy
import functools

import numpy as np

from .. import oracle
from ..compare import Hint
from ..exercise import Bug, Case, Exercise, register
from ..paths import data_path

PARAM_NAMES = (
    "conv1.weight", "conv1.bias", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
    "conv2.weight", "conv2.bias", "bn2.weight", "bn2.bias", "bn2.running_mean", "bn2.running_var",
    "fc.weight", "fc.bias",
)
TRAINABLE = tuple(n for n in PARAM_NAMES if "running" not in n)


def digit_cnn():
    """The torch model of the chapter (imports torch: references and tools only)."""
    t = oracle.torch()
    nn = t.nn

    class DigitCNN(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(1, 16, 3, padding=1)
            self.bn1 = nn.BatchNorm2d(16)
            self.conv2 = nn.Conv2d(16, 32, 3, padding=1)
            self.bn2 = nn.BatchNorm2d(32)
            self.fc = nn.Linear(32, 10)

        def forward(self, x):
            F = nn.functional
            x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
            x = F.max_pool2d(F.relu(self.bn2(self.conv2(x))), 2)
            x = F.adaptive_avg_pool2d(x, 1).flatten(1)
            return self.fc(x)

    return DigitCNN()


def model_from(params: dict, dtype):
    """The chapter's torch model in ``dtype``, its state_dict filled from ``params``."""
    t = oracle.torch()
    model = digit_cnn().to(dtype)
    with t.no_grad():
        for name, tensor in model.state_dict().items():
            if name in params:
                tensor.copy_(t.from_numpy(np.asarray(params[name])))
    return model


@functools.lru_cache(maxsize=1)
def _shipped():
    digits = np.load(data_path("capstone_digits.npz"))
    cnn = np.load(data_path("capstone_cnn.npz"))
    images = digits["x_test"].astype(np.float64) / 16.0
    params = {name: cnn[name].astype(np.float64) for name in PARAM_NAMES}
    return images[:, None], digits["y_test"].astype(np.int64), params


def _params(rng, scale=0.0, dtype=np.float64):
    _, _, shipped = _shipped()
    out = {}
    for name, value in shipped.items():
        value = value.copy()
        if scale:
            noise = rng.standard_normal(value.shape) * scale * (np.abs(value).mean() + 1e-3)
            value = value + noise
            if "running_var" in name:
                value = np.abs(value) + 0.05
        out[name] = value.astype(dtype)
    return out


def _images(rng, start, count, dtype=np.float64, noise=0.0):
    x, y, _ = _shipped()
    x = x[start:start + count].copy()
    if noise:
        x = x + rng.standard_normal(x.shape) * noise
    return x.astype(dtype), y[start:start + count].copy()


# cnn_forward --------------------------------------------------------------------------
# The parameters travel in Case.extra: a dict of fourteen arrays would fill the feedback.
FORWARD_ARGS = ("x",)


def forward_case(rng: np.random.Generator, start: int, count: int, scale=0.0, dtype=np.float64,
                 noise=0.0, note="") -> Case:
    """A cnn_forward case: ``count`` shipped test images from ``start``, parameters perturbed
    by ``scale`` (in Case.extra), images by ``noise``."""
    x, _ = _images(rng, start, count, dtype, noise)
    return Case((x,), {}, note=note, extra={"params": _params(rng, scale, dtype)})


def _forward_visible(rng):
    return [
        forward_case(rng, 0, 4, note="4 test digits, the shipped trained parameters"),
        forward_case(rng, 4, 3, scale=0.2, note="perturbed parameters"),
    ]


def _forward_hidden(rng):
    out = [forward_case(rng, 0, 500, note="the whole shipped test set: logits decide the accuracy")]
    for i in range(6):
        out.append(forward_case(rng, int(rng.integers(0, 480)), int(rng.integers(1, 20)),
                                scale=float(rng.choice([0.0, 0.3, 1.0])),
                                noise=float(rng.choice([0.0, 0.5])),
                                note=f"random slice {i + 1}, perturbed parameters and images"))
    out += [
        forward_case(rng, 10, 16, dtype=np.float32, note="float32 parameters and images"),
        forward_case(rng, 30, 1, note="a batch of one (eval mode: running statistics)"),
    ]
    return out


def _torch_logits(case, training=False, hook=None):
    t = oracle.torch()
    x, params = case.args[0], case.extra["params"]
    dtype = t.float32 if x.dtype == np.float32 else t.float64
    model = model_from(params, dtype)
    model.train(training)
    with t.no_grad():
        if hook is not None:
            return hook(model, t.from_numpy(x.copy())).numpy()
        return model(t.from_numpy(x.copy())).numpy()


def _forward_reference(case):
    return _torch_logits(case)


def _average(h):
    """Global average pooling and flatten: (N, C, H, W) -> (N, C)."""
    return h.mean(dim=(2, 3))


def _maximum(h):
    return h.amax(dim=(2, 3))


def _scrambled(h):
    """The average, reshaped to (C, N) and transposed: images and channels mixed."""
    pooled = h.mean(dim=(2, 3))
    return pooled.reshape(pooled.shape[1], pooled.shape[0]).T


def _custom_forward(pool=None, act=None, padding=1, bn_sqrt=True, head=_average):
    """The model's forward, one step changed: ``pool``, ``act`` (after batch norm), the
    convolutions' ``padding``, batch norm without its sqrt, the ``head`` before fc."""
    def hook(model, x):
        F = oracle.F()
        t = oracle.torch()

        def bn(layer, h):
            shape = (1, -1, 1, 1)
            var = layer.running_var.reshape(shape)
            scale = t.sqrt(var + layer.eps) if bn_sqrt else var + layer.eps
            return (h - layer.running_mean.reshape(shape)) / scale * layer.weight.reshape(shape) \
                + layer.bias.reshape(shape)

        def block(conv, norm, h):
            h = F.conv2d(h, conv.weight, conv.bias, padding=padding)
            h = bn(norm, h)
            h = F.relu(h) if act is None else act(h)
            return F.max_pool2d(h, 2) if pool is None else pool(h)

        h = block(model.conv1, model.bn1, x)
        h = block(model.conv2, model.bn2, h)
        return model.fc(head(h))
    return hook


def _pool_wrong_axes(h):
    n, c, hh, ww = h.shape
    return h.reshape(n, c, hh // 2, 2, ww // 2, 2).amax(dim=(2, 4))


def _changed(**changes):
    """The logits of the forward with ``changes`` (see ``_custom_forward``)."""
    return lambda case: _torch_logits(case, hook=_custom_forward(**changes))


FORWARD_BUGS = [
    Bug("flattened-in-the-wrong-order",
        "after global average pooling each image has C numbers: flatten to (N, C) with "
        "h.reshape(N, C) (torch's flatten(1)) — your reshape mixed images and channels",
        _changed(head=_scrambled), when=lambda case: case.args[0].shape[0] > 1),
    Bug("batch-statistics-in-eval",
        "in eval mode batch norm uses the RUNNING mean and variance from the state_dict, not "
        "the statistics of the batch you were given",
        lambda case: _torch_logits(case, training=True)),
    Bug("pooling-the-wrong-axes",
        "max pooling takes 2×2 windows over H and W: after x.reshape(N, C, H//2, 2, W//2, 2) "
        "reduce axes (3, 5), the offsets inside each window — you reduced over the window "
        "positions (2, 4)",
        _changed(pool=_pool_wrong_axes)),
    Bug("conv-padding-missing",
        "both convolutions have padding=1 (Conv2d(…, 3, padding=1)): without it the feature "
        "maps shrink",
        _changed(padding=0)),
    Bug("variance-without-sqrt",
        "batch norm divides by sqrt(running_var + eps), the standard deviation, not by the "
        "variance",
        _changed(bn_sqrt=False)),
    Bug("relu-missing", "the ReLU after each batch norm is missing",
        _changed(act=lambda h: h)),
    Bug("global-max-pooling",
        "the head averages each channel over H and W (adaptive_avg_pool2d(x, 1)); you took the "
        "maximum",
        _changed(head=_maximum)),
]

LOGITS_SHAPE = Hint("logits-shape-differs",
                    "the logits are (N, 10): one row per image, one column per digit")


def _forward_diagnose(case, got, expected):
    shape = getattr(got, "shape", None)
    if shape is not None and shape != np.shape(expected):
        return LOGITS_SHAPE
    return None


def _forward_run(fn, case):
    return fn(case.args[0].copy(), copy.deepcopy(case.extra["params"]))


register(Exercise(
    name="cnn_forward", arg_names=FORWARD_ARGS, visible=_forward_visible, hidden=_forward_hidden,
    reference=_forward_reference, bugs=FORWARD_BUGS, diagnose=_forward_diagnose,
    run=_forward_run,
))


# sgd_step -----------------------------------------------------------------------------
SGD_ARGS = ("x", "labels", "lr")  # params (first in the call) travel in Case.extra


def sgd_case(rng: np.random.Generator, start: int, count: int, lr: float, scale=0.0, noise=0.0,
             note="") -> Case:
    """An sgd_step case: one step of ``lr`` on ``count`` shipped test images from ``start``."""
    x, y = _images(rng, start, count, noise=noise)
    what = "the shipped parameters" if not scale else f"parameters perturbed by {scale:g}"
    note = (note + ", " if note else "") + f"params = {what}; outputs numbered in " \
        "state_dict order (0 = conv1.weight … 9 = fc.bias)"
    return Case((x, y, lr), {}, note=note, extra={"params": _params(rng, scale)})


def _sgd_visible(rng):
    return [
        sgd_case(rng, 0, 4, 0.1, note="4 test digits, lr=0.1"),
        sgd_case(rng, 8, 6, 0.5, scale=0.3, note="6 test digits, lr=0.5"),
    ]


def _sgd_hidden(rng):
    out = []
    for _ in range(6):
        out.append(sgd_case(rng, int(rng.integers(0, 470)), int(rng.integers(2, 20)),
                            float(rng.choice([0.01, 0.1, 1.0])),
                            scale=float(rng.choice([0.0, 0.3, 1.0])),
                            noise=float(rng.choice([0.0, 0.3]))))
    out += [
        sgd_case(rng, 100, 32, 0.05, note="a batch of 32"),
        sgd_case(rng, 7, 1, 0.1, note="a batch of one: batch norm over H and W only"),
        sgd_case(rng, 200, 10, 0.0, note="lr=0: nothing changes"),
    ]
    return out


def _sgd_run(fn, case):
    x, labels, lr = copy.deepcopy(case.args)
    new = fn(copy.deepcopy(case.extra["params"]), x, labels, lr)
    if not isinstance(new, dict):
        return new
    return tuple(np.asarray(new[name]) for name in TRAINABLE)


def _sgd_torch(case, loss_kind="mean", training=True, sign=1.0, grad_fn=None, detach_stats=False):
    t = oracle.torch()
    F = oracle.F()
    x, labels, lr = case.args
    params = case.extra["params"]
    model = model_from(params, oracle.case_dtype(case))
    model.train(training)
    xt, yt = t.from_numpy(x.copy()), t.from_numpy(labels.copy())
    if detach_stats:
        logits = _detached_bn_forward(model, xt)
    else:
        logits = model(xt)
    if grad_fn is not None:
        logits.backward(grad_fn(logits.detach(), yt))
    else:
        F.cross_entropy(logits, yt, reduction=loss_kind).backward()
    named = dict(model.named_parameters())
    out = []
    with t.no_grad():
        for name in TRAINABLE:
            p = named[name]
            out.append((p - sign * lr * p.grad).numpy().copy())
    return tuple(out)


def _detached_bn_forward(model, x):
    """Training-mode forward with the batch statistics treated as constants."""
    F = oracle.F()
    t = oracle.torch()

    def bn(layer, h):
        mean = h.mean(dim=(0, 2, 3), keepdim=True).detach()
        var = h.var(dim=(0, 2, 3), keepdim=True, unbiased=False).detach()
        return (h - mean) / t.sqrt(var + layer.eps) * layer.weight.reshape(1, -1, 1, 1) \
            + layer.bias.reshape(1, -1, 1, 1)

    h = F.max_pool2d(F.relu(bn(model.bn1, model.conv1(x))), 2)
    h = F.max_pool2d(F.relu(bn(model.bn2, model.conv2(h))), 2)
    return model.fc(h.mean(dim=(2, 3)))


def _sgd_reference(case):
    return _sgd_torch(case)


def _stepping(case):
    return case.args[2] != 0


def _with_weight_decay(case, weight_decay=5e-4):
    """The step with the decay term of ``torch.optim.SGD(weight_decay=5e-4)``, the usual
    recipe's value."""
    _, _, lr = case.args
    params = case.extra["params"]
    return tuple(new - lr * weight_decay * params[name]
                 for name, new in zip(TRAINABLE, _sgd_torch(case), strict=True))


WEIGHT_DECAY = Hint("weight-decay-added",
                    "your step looks like weight decay: plain SGD is param − lr · grad, with "
                    "no decay term")

SGD_BUGS = [
    Bug("softmax-gradient-missing-one-over-n",
        "the loss is the MEAN cross-entropy over the batch: the gradient of the logits is "
        "(softmax − one_hot) / N — you left out the 1/N",
        lambda case: _sgd_torch(case, loss_kind="sum"),
        when=lambda case: len(case.args[1]) > 1 and _stepping(case)),
    Bug("batch-norm-in-eval-mode",
        "a training step runs batch norm in training mode: normalize with the batch's own mean "
        "and (biased) variance, not the running statistics",
        lambda case: _sgd_torch(case, training=False), when=_stepping),
    Bug("gradient-ascent", "SGD goes DOWN the gradient: param − lr · grad",
        lambda case: _sgd_torch(case, sign=-1.0), when=_stepping),
    Bug("one-hot-missing",
        "the gradient of cross-entropy with respect to the logits is softmax(logits) − "
        "one_hot(labels), divided by N: you left out the one-hot",
        lambda case: _sgd_torch(case, grad_fn=lambda logits, y:
                                oracle.F().softmax(logits, dim=1) / logits.shape[0]),
        when=_stepping),
    Bug("batch-norm-statistics-held-constant",
        "in training mode the batch mean and variance depend on the input: use chapter 12's "
        "batch_norm_backward, with its two mean terms",
        lambda case: _sgd_torch(case, detach_stats=True), when=_stepping),
    # The usual coefficient; _sgd_diagnose recognizes any other.
    Bug(WEIGHT_DECAY.id, WEIGHT_DECAY.text, _with_weight_decay, when=_stepping),
]


def _sgd_diagnose(case, got, expected):
    """Recognize weight decay: got = expected − lr·wd·param for one wd across all arrays."""
    _, _, lr = case.args
    params = case.extra["params"]
    if not isinstance(got, tuple) or len(got) != len(expected) or lr == 0:
        return None
    diffs, values = [], []
    for name, g, e in zip(TRAINABLE, got, expected, strict=True):
        if np.shape(g) != np.shape(e):
            return Hint("parameter-shape-changed",
                        f"{name} changed shape: each parameter keeps its shape")
        diffs.append((np.asarray(e, dtype=np.float64) - np.asarray(g, dtype=np.float64)).ravel())
        values.append(lr * params[name].ravel())
    diff, value = np.concatenate(diffs), np.concatenate(values)
    wd = float(diff @ value / (value @ value))
    if wd > 0 and np.allclose(diff, wd * value, rtol=1e-6, atol=1e-9):
        return WEIGHT_DECAY
    return None


register(Exercise(
    name="sgd_step", arg_names=SGD_ARGS, visible=_sgd_visible, hidden=_sgd_hidden,
    reference=_sgd_reference, bugs=SGD_BUGS, diagnose=_sgd_diagnose, run=_sgd_run,
))
