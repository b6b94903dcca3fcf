"""Chapter 09 — layer and RMS normalization: layer_norm, LayerNorm, rms_norm, RMSNorm.

The seeded grids of valid parameters, the edge cases, the configurations torch refuses,
and the known bugs with the hint each one earns. Expected values and wrong answers are
computed with torch (float64, or float32 where the dtype is the point).
"""
from __future__ import annotations

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from . import _modules
from ._norms import normal, shape_changed, shared_bug

LN_ARGS = ("input", "normalized_shape", "weight", "bias", "eps")
RMS_ARGS = ("input", "normalized_shape", "weight", "eps")

EPS_OUTSIDE_RMS = ("eps goes inside the square root: x / sqrt(mean(x²) + eps), not "
                   "x / (sqrt(mean(x²)) + eps)")
LAST_AXIS_ONLY = ("you averaged over the last axis only: the statistics are taken over ALL "
                  "the trailing axes in normalized_shape at once")
RMS_DEFAULT_EPS = ("with eps=None torch uses torch.finfo(input.dtype).eps (2.2e-16 for "
                   "float64, 1.2e-7 for float32), not layer norm's 1e-5")
MEAN_SUBTRACTED = ("rms_norm does not subtract the mean: it divides x by "
                   "sqrt(mean(x²) + eps); centring makes it layer norm")


def normalized_list(normalized_shape) -> list[int]:
    """normalized_shape as torch.nn.functional wants it, a list; the book also accepts an
    int, as the modules do."""
    if isinstance(normalized_shape, (int, np.integer)):
        return [int(normalized_shape)]
    return [int(v) for v in normalized_shape]


def _trailing(x, normalized_shape) -> tuple:
    """The axes normalized_shape covers: the last len(normalized_shape) of x."""
    k = len(normalized_list(normalized_shape))
    return tuple(range(x.ndim - k, x.ndim))


def _normalized(x, dims, w=None, b=None, eps=1e-5, *, unbiased=False, eps_outside=False,
                centre=True):
    """Layer norm (or, with centre=False, RMS norm) written with torch ops, so that a bug
    can change one thing."""
    t = oracle.torch()
    x = t.from_numpy(x)
    mean = x.mean(dim=dims, keepdim=True) if centre else t.zeros((), dtype=x.dtype)
    if centre:
        var = x.var(dim=dims, keepdim=True, correction=1 if unbiased else 0)
    else:
        var = (x * x).mean(dim=dims, keepdim=True)
    denom = var.sqrt() + eps if eps_outside else (var + eps).sqrt()
    y = (x - mean) / denom
    if w is not None:
        y = y * t.from_numpy(w)
    if b is not None:
        y = y + t.from_numpy(b)
    return y.numpy()


# layer_norm ---------------------------------------------------------------------------
def ln_case(rng: np.random.Generator, shape: tuple, normalized, *, weight: bool = True,
            bias: bool = True, eps: float | None = None, scale: float = 1.0, shift: float = 0.0,
            note: str = "", wshape: tuple | None = None) -> Case:
    """A layer_norm call; weight and bias of normalized_shape's shape unless ``wshape``."""
    x = normal(rng, shape, scale, shift)
    tail = tuple(normalized_list(normalized)) if wshape is None else wshape
    w = normal(rng, tail, 0.5, 1.0) if weight else None
    b = normal(rng, tail) if bias else None
    kwargs = {} if eps is None else {"eps": eps}
    return Case((x, normalized, w, b), kwargs, note=note)


def _ln_visible(rng):
    return [
        ln_case(rng, (2, 5), [5], weight=False, bias=False, note="rows of a matrix, no affine"),
        ln_case(rng, (2, 3, 4), (4,), note="last axis, weight and bias"),
        ln_case(rng, (2, 3, 4, 4), [3, 4, 4], note="(C, H, W) of an image batch"),
        ln_case(rng, (3, 6), 6, eps=0.1, note="an int normalized_shape, large eps"),
    ]


def _ln_hidden(rng):
    out = []
    for ndim in (1, 2, 3, 4, 5):
        for k in range(1, ndim + 1):
            shape = tuple(int(v) for v in rng.integers(1, 5, size=ndim))
            if ndim >= 4:
                shape = tuple(min(s, 3) for s in shape)
            tail = list(shape[ndim - k:])
            form = [tail, tuple(tail), tail[0] if k == 1 else tail][int(rng.integers(0, 3))]
            weight, bias = bool(rng.integers(0, 2)), bool(rng.integers(0, 2))
            eps = [None, 1e-3, 0.5][int(rng.integers(0, 3))]
            out.append(ln_case(rng, shape, form, weight=weight, bias=bias, eps=eps,
                               scale=float(rng.uniform(0.1, 5)), shift=float(rng.normal()),
                               note=f"{ndim}-D input, normalized_shape={form!r}"))
    out += [
        ln_case(rng, (2, 3, 1), [1], note="normalized over a size-1 axis: the output is the bias"),
        ln_case(rng, (4, 7), [7], scale=1e-3, eps=1e-5,
                note="tiny activations: eps dominates the variance"),
        ln_case(rng, (2, 8), [8], scale=100.0, shift=1e4, note="large offset, large scale"),
        ln_case(rng, (2, 3, 4), [3, 4], weight=False, bias=True, note="bias without weight"),
        ln_case(rng, (2, 3, 4), [3, 4], eps=0.0, note="eps = 0"),
        refused(ln_case(rng, (2, 3, 4), [3], weight=False, bias=False,
                        note="normalized_shape does not match the last axes"),
                "the input's last axes must be normalized_shape"),
        refused(ln_case(rng, (3, 4), [2, 3, 4], weight=False, bias=False,
                        note="normalized_shape longer than the input"),
                "the input's last axes must be normalized_shape"),
        refused(ln_case(rng, (2, 3, 4), [], weight=False, bias=False,
                        note="empty normalized_shape"),
                "normalized_shape must name at least one axis"),
        refused(ln_case(rng, (2, 3, 4), [3, 4], wshape=(4,), bias=False,
                        note="weight of the wrong shape"),
                "weight must have normalized_shape's shape"),
    ]
    return out


def _ln_reference(case):
    x, ns, w, b = case.args
    return oracle.call(oracle.F().layer_norm, x, normalized_list(ns), w, b, **case.kwargs)


def _ln_wrong(case, *, dims=None, affine=True, **changes):
    """layer_norm over ``dims`` (normalized_shape's by default), with one thing changed."""
    x, ns, w, b = case.args
    dims = _trailing(x, ns) if dims is None else dims
    if not affine:
        w = b = None
    return _normalized(x, dims, w, b, case.kwargs.get("eps", 1e-5), **changes)


def _ln_count(case) -> int:
    x, ns = case.args[:2]
    return int(np.prod([x.shape[d] for d in _trailing(x, ns)]))


LN_BUGS = [
    shared_bug("unbiased-variance", lambda case: _ln_wrong(case, unbiased=True),
               when=lambda case: _ln_count(case) >= 2),
    shared_bug("eps-outside-the-square-root",
               lambda case: _ln_wrong(case, eps_outside=True)),
    Bug("last-axis-only", LAST_AXIS_ONLY,
        lambda case: _ln_wrong(case, dims=(case.args[0].ndim - 1,)),
        when=lambda case: len(normalized_list(case.args[1])) >= 2),
    Bug("normalized-over-the-leading-axes",
        "you averaged over the leading (batch) axes, as batch norm does: layer norm averages "
        "over the trailing axes given by normalized_shape, separately for each sample",
        lambda case: _ln_wrong(case, dims=tuple(range(case.args[0].ndim
                                                       - len(normalized_list(case.args[1]))))),
        when=lambda case: case.args[0].ndim > len(normalized_list(case.args[1]))),
    Bug("mean-not-subtracted",
        "you divided by the root mean square without subtracting the mean: that is rms_norm, "
        "layer norm centres first", lambda case: _ln_wrong(case, centre=False)),
    Bug("affine-ignored",
        "weight and bias are ignored: multiply by weight and add bias, element by element "
        "over normalized_shape", lambda case: _ln_wrong(case, affine=False),
        when=lambda case: case.args[2] is not None),
]


register(Exercise(
    name="layer_norm", arg_names=LN_ARGS, visible=_ln_visible, hidden=_ln_hidden,
    reference=_ln_reference, bugs=LN_BUGS, diagnose=shape_changed,
))


# rms_norm -----------------------------------------------------------------------------
def rms_case(rng: np.random.Generator, shape: tuple, normalized, *, weight: bool = True,
             eps: float | None = None, scale: float = 1.0, shift: float = 0.0,
             dtype=np.float64, note: str = "", wshape: tuple | None = None) -> Case:
    """An rms_norm call; a weight of normalized_shape's shape unless ``wshape``."""
    x = normal(rng, shape, scale, shift, dtype)
    tail = tuple(normalized_list(normalized)) if wshape is None else wshape
    w = normal(rng, tail, 0.5, 1.0, dtype) if weight else None
    kwargs = {} if eps is None else {"eps": eps}
    return Case((x, normalized, w), kwargs, note=note)


def _rms_visible(rng):
    return [
        rms_case(rng, (2, 5), [5], weight=False, eps=1e-6, note="rows of a matrix, eps given"),
        rms_case(rng, (2, 3, 4), (3, 4), note="two trailing axes, weight, default eps"),
        rms_case(rng, (3, 4), [4], scale=1e-8, note="tiny float64 values: the default eps "
                 "is finfo(float64).eps"),
        rms_case(rng, (3, 4), [4], scale=1e-4, dtype=np.float32,
                 note="tiny float32 values: the default eps is finfo(float32).eps"),
    ]


def _rms_hidden(rng):
    out = []
    for ndim in (1, 2, 3, 4):
        for k in range(1, ndim + 1):
            shape = tuple(int(v) for v in rng.integers(1, 5, size=ndim))
            tail = list(shape[ndim - k:])
            form = [tail, tuple(tail), tail[0] if k == 1 else tail][int(rng.integers(0, 3))]
            eps = [None, 1e-6, 0.3][int(rng.integers(0, 3))]
            out.append(rms_case(rng, shape, form, weight=bool(rng.integers(0, 2)), eps=eps,
                                scale=float(rng.uniform(0.1, 5)), shift=float(rng.normal()),
                                note=f"{ndim}-D input, normalized_shape={form!r}, eps={eps}"))
    for dtype, scale in ((np.float64, 1e-8), (np.float64, 3e-9), (np.float32, 1e-4),
                         (np.float32, 3e-4)):
        out.append(rms_case(rng, (2, 3, 4), [4], scale=scale, dtype=dtype,
                            note=f"{np.dtype(dtype).name}, values near {scale:g}: the default "
                                 f"eps is finfo({np.dtype(dtype).name}).eps"))
    out += [
        rms_case(rng, (2, 6), [6], dtype=np.float32, eps=1e-3, note="float32 with eps given"),
        rms_case(rng, (2, 3, 1), [1], note="a size-1 axis: the output is sign(x) · weight"),
        rms_case(rng, (2, 5), [5], shift=10.0, note="large mean: rms_norm does not centre"),
        refused(rms_case(rng, (2, 3, 4), [3], weight=False,
                         note="normalized_shape does not match the last axes"),
                "the input's last axes must be normalized_shape"),
        refused(rms_case(rng, (2, 3, 4), [], weight=False, note="empty normalized_shape"),
                "normalized_shape must name at least one axis"),
        refused(rms_case(rng, (2, 3, 4), [4], wshape=(3,), note="weight of the wrong shape"),
                "weight must have normalized_shape's shape"),
    ]
    return out


def _rms_reference(case):
    x, ns, w = case.args
    return oracle.call(oracle.F().rms_norm, x, normalized_list(ns), w, **case.kwargs)


def _rms_wrong(case, *, eps=None, centre=False, eps_outside=False, dims=None, root=True):
    """rms_norm with torch ops and one thing changed; ``eps`` replaces the default eps."""
    t = oracle.torch()
    x, ns, w = case.args
    xt = t.from_numpy(x)
    dims = dims or _trailing(x, ns)
    if eps is None:
        eps = case.kwargs.get("eps")
    if eps is None:
        eps = float(np.finfo(x.dtype).eps)
    if centre:
        xt = xt - xt.mean(dim=dims, keepdim=True)
    ms = (xt * xt).mean(dim=dims, keepdim=True)
    if not root:
        denom = ms + eps
    else:
        denom = ms.sqrt() + eps if eps_outside else (ms + eps).sqrt()
    y = xt / denom
    if w is not None:
        y = y * t.from_numpy(w)
    return y.numpy()


def _default_eps(case) -> bool:
    return case.kwargs.get("eps") is None


RMS_BUGS = [
    Bug("eps-1e-5-by-default", RMS_DEFAULT_EPS, lambda case: _rms_wrong(case, eps=1e-5),
        when=_default_eps),
    Bug("float64-eps-for-float32",
        "the default eps depends on the input's dtype: np.finfo(input.dtype).eps, 1.19e-7 "
        "for float32",
        lambda case: _rms_wrong(case, eps=float(np.finfo(np.float64).eps)),
        when=lambda case: _default_eps(case) and case.args[0].dtype != np.float64),
    Bug("mean-subtracted", MEAN_SUBTRACTED, lambda case: _rms_wrong(case, centre=True)),
    Bug("eps-outside-the-root-mean-square", EPS_OUTSIDE_RMS,
        lambda case: _rms_wrong(case, eps_outside=True)),
    Bug("last-axis-only", LAST_AXIS_ONLY,
        lambda case: _rms_wrong(case, dims=(case.args[0].ndim - 1,)),
        when=lambda case: len(normalized_list(case.args[1])) >= 2),
    Bug("square-root-missing",
        "you divided by the mean square: take its square root (the ROOT mean square)",
        lambda case: _rms_wrong(case, root=False)),
]


register(Exercise(
    name="rms_norm", arg_names=RMS_ARGS, visible=_rms_visible, hidden=_rms_hidden,
    reference=_rms_reference, bugs=RMS_BUGS, diagnose=shape_changed,
))


# LayerNorm and RMSNorm modules --------------------------------------------------------
MODULE_LABELS = _modules.probe_labels("weight", "bias") + ["the layer's output"]


def module_case(rng: np.random.Generator, normalized_shape, x_shape: tuple, note: str = "",
                **options) -> Case:
    """A module built with ``normalized_shape`` and ``options``, given random parameters,
    called once on an input of ``x_shape``."""
    tail = tuple(normalized_list(normalized_shape))
    return Case((normalized_shape,), options, note=note, extra={
        "weight": normal(rng, tail, 0.5, 1.0), "bias": normal(rng, tail),
        "x": normal(rng, x_shape, float(rng.uniform(0.5, 3)), float(rng.normal()))})


def _params(case) -> dict:
    return {"weight": case.extra["weight"], "bias": case.extra["bias"]}


def _module_run(cls, case):
    """Build the module, report its parameters' presence and shapes, set them, call it."""
    module = _modules.build(cls, case)
    report = _modules.probe(module, "weight") + _modules.probe(module, "bias")
    _modules.load(module, _params(case))
    return report + (module(case.extra["x"].copy()),)


def _module_reference(torch_name, case):
    module = _modules.torch_build(torch_name, case)
    report = _modules.torch_probe(module, "weight") + _modules.torch_probe(module, "bias")
    _modules.torch_load(module, _params(case))
    return report + (oracle.call(module, case.extra["x"]),)


def _rebuilt(torch_name, case, **changes):
    """torch's answer for the module built with ``changes`` to its options."""
    return _module_reference(torch_name, Case(case.args, dict(case.kwargs, **changes),
                                              extra=case.extra))


def _layer_norm_output(case, **changes):
    """torch's parameter report, with the output of layer norm with one thing changed."""
    expected = _module_reference("LayerNorm", case)
    x = case.extra["x"]
    w = case.extra["weight"] if bool(expected[0]) else None
    b = case.extra["bias"] if bool(expected[2]) else None
    wrong = _normalized(x, _trailing(x, case.args[0]), w, b, case.kwargs.get("eps", 1e-5),
                        **changes)
    return expected[:4] + (wrong,)


def _rms_norm_output(case, *, eps=None, centre=False, eps_outside=False):
    """torch's parameter report, with the output of RMS norm with one thing changed:
    ``eps`` in place of the default one, the mean subtracted, eps outside the root."""
    expected = _module_reference("RMSNorm", case)
    x = case.extra["x"]
    w = case.extra["weight"] if bool(expected[0]) else None
    eps = case.kwargs.get("eps") if eps is None else eps
    eps = float(np.finfo(x.dtype).eps) if eps is None else eps
    wrong = _normalized(x, _trailing(x, case.args[0]), w, None, eps, centre=centre,
                        eps_outside=eps_outside)
    return expected[:4] + (wrong,)


def _affine(case) -> bool:
    return case.kwargs.get("elementwise_affine", True)


PARAMETERS_WITHOUT_AFFINE = ("with elementwise_affine=False there are no parameters: set "
                             "self.weight = None (and self.bias = None)")

LAYER_NORM_BUGS = [
    shared_bug("eps-outside-the-square-root",
               lambda case: _layer_norm_output(case, eps_outside=True)),
    Bug("parameters-with-elementwise-affine-false", PARAMETERS_WITHOUT_AFFINE,
        lambda case: _rebuilt("LayerNorm", case, elementwise_affine=True,
                              bias=case.kwargs.get("bias", True)),
        when=lambda case: not _affine(case)),
    shared_bug("unbiased-variance",
               lambda case: _layer_norm_output(case, unbiased=True)),
    shared_bug("bias-with-bias-false", lambda case: _rebuilt("LayerNorm", case, bias=True),
               when=lambda case: not case.kwargs.get("bias", True) and _affine(case)),
]

RMS_NORM_BUGS = [
    Bug("eps-outside-the-root-mean-square", EPS_OUTSIDE_RMS,
        lambda case: _rms_norm_output(case, eps_outside=True)),
    Bug("parameters-with-elementwise-affine-false", PARAMETERS_WITHOUT_AFFINE,
        lambda case: _rebuilt("RMSNorm", case, elementwise_affine=True),
        when=lambda case: not _affine(case)),
    Bug("eps-1e-5-by-default", RMS_DEFAULT_EPS,
        lambda case: _rms_norm_output(case, eps=1e-5), when=_default_eps),
    Bug("mean-subtracted", MEAN_SUBTRACTED,
        lambda case: _rms_norm_output(case, centre=True)),
]


def _module_diagnose(case, got, expected):
    return _modules.first_difference(MODULE_LABELS, got, expected)


def _ln_module_visible(rng):
    return [
        module_case(rng, 5, (2, 5), note="defaults, int normalized_shape"),
        module_case(rng, [3, 4], (2, 3, 4), elementwise_affine=False, note="no parameters"),
        module_case(rng, (4,), (3, 4), bias=False, eps=1e-3, note="weight only"),
    ]


def _ln_module_hidden(rng):
    out = []
    for form in (4, [4], (3, 4), [2, 3, 4]):
        for affine in (True, False):
            for bias in (True, False):
                x_shape = (int(rng.integers(1, 4)),) + tuple(normalized_list(form))
                out.append(module_case(rng, form, x_shape, elementwise_affine=affine, bias=bias,
                                       eps=[1e-5, 1e-2][int(rng.integers(0, 2))],
                                       note=f"normalized_shape={form!r}, "
                                            f"elementwise_affine={affine}, bias={bias}"))
    out += [
        module_case(rng, [8, 6, 6], (2, 8, 6, 6),
                    note="LayerNorm([C, H, W]) on an image batch keeps its shape"),
        module_case(rng, 4, (4,), note="a single vector, no batch axis"),
        refused(module_case(rng, 3, (2, 4), note="the last axis does not match"),
                "the input's last axes must be normalized_shape"),
    ]
    return out


register(Exercise(
    name="LayerNorm", arg_names=("normalized_shape",), visible=_ln_module_visible,
    hidden=_ln_module_hidden, reference=lambda case: _module_reference("LayerNorm", case),
    bugs=LAYER_NORM_BUGS, run=_module_run, diagnose=_module_diagnose,
))


def _rms_module_visible(rng):
    return [
        module_case(rng, 5, (2, 5), note="defaults: eps=None, a weight"),
        module_case(rng, [3, 4], (2, 3, 4), elementwise_affine=False, eps=1e-6,
                    note="no weight, eps given"),
    ]


def _rms_module_hidden(rng):
    out = []
    for form in (4, [4], (3, 4), [2, 3, 4]):
        for affine in (True, False):
            for eps in (None, 1e-3):
                tail = tuple(normalized_list(form))
                out.append(module_case(rng, form, (2,) + tail, elementwise_affine=affine,
                                       eps=eps, note=f"normalized_shape={form!r}, "
                                                     f"elementwise_affine={affine}, eps={eps}"))
    out.append(refused(module_case(rng, 3, (2, 4), note="the last axis does not match"),
                       "the input's last axes must be normalized_shape"))
    return out


register(Exercise(
    name="RMSNorm", arg_names=("normalized_shape",), visible=_rms_module_visible,
    hidden=_rms_module_hidden, reference=lambda case: _module_reference("RMSNorm", case),
    bugs=RMS_NORM_BUGS, run=_module_run, diagnose=_module_diagnose,
))
