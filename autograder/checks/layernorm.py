"""Chapter 09 — layer and RMS normalization: layer_norm, LayerNorm, rms_norm, RMSNorm.

The seeded grids of valid parameters, the edge cases, the configurations torch refuses,
and the known-wrong variants with the hint each one earns. Expected values and variants
are computed with torch (float64, or float32 where the dtype is the point).
"""
from __future__ import annotations

import numpy as np

from .. import compare, oracle
from ..exercise import Case, Exercise, Variant, case_float_dtype, module_to, register

LN_ARGS = ("input", "normalized_shape", "weight", "bias", "eps")
RMS_ARGS = ("input", "normalized_shape", "weight", "eps")


def _shape_list(normalized_shape):
    """torch.nn.functional wants a list; the book also accepts an int, as the modules do."""
    if isinstance(normalized_shape, (int, np.integer)):
        return [int(normalized_shape)]
    return [int(v) for v in normalized_shape]


def _arr(rng, shape, scale=1.0, shift=0.0, dtype=np.float64):
    return (shift + scale * rng.standard_normal(shape)).astype(dtype)


# layer_norm ---------------------------------------------------------------------------
def ln_case(rng, shape, normalized, *, weight=True, bias=True, eps=None, scale=1.0,
            shift=0.0, note="", wshape=None):
    x = _arr(rng, shape, scale, shift)
    tail = tuple(_shape_list(normalized)) if wshape is None else wshape
    w = _arr(rng, tail, 0.5, 1.0) if weight else None
    b = _arr(rng, tail) if bias else None
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
        ln_case(rng, (2, 3, 4), [3], weight=False, bias=False,
                note="normalized_shape does not match the last axes (torch refuses)"),
        ln_case(rng, (3, 4), [2, 3, 4], weight=False, bias=False,
                note="normalized_shape longer than the input (torch refuses)"),
        ln_case(rng, (2, 3, 4), [], weight=False, bias=False,
                note="empty normalized_shape (torch refuses)"),
        ln_case(rng, (2, 3, 4), [3, 4], wshape=(4,), bias=False,
                note="weight of the wrong shape (torch refuses)"),
    ]
    return out


def _ln_reference(case):
    x, ns, w, b = case.args
    return oracle.call(oracle.F().layer_norm, x, _shape_list(ns), w, b, **case.kwargs)


def _manual(x, dims, w=None, b=None, eps=1e-5, unbiased=False, eps_outside=False,
            centre=True):
    """A normalization written with torch ops, so that variants can change one thing."""
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


def _ln_dims(case):
    x, ns = case.args[:2]
    k = len(_shape_list(ns))
    return tuple(range(x.ndim - k, x.ndim))


def _ln_variants():
    def general(**changes):
        def compute(case):
            x, ns, w, b = case.args
            eps = case.kwargs.get("eps", 1e-5)
            dims = _ln_dims(case)
            if changes.get("unbiased") and int(np.prod([x.shape[d] for d in dims])) < 2:
                return None
            if changes.get("dims") == "last":
                if len(dims) < 2:
                    return None
                dims = (x.ndim - 1,)
            if changes.get("dims") == "leading":
                if x.ndim == len(dims):
                    return None
                dims = tuple(range(x.ndim - len(dims)))
            if changes.get("no_affine") and w is None:
                return None
            if changes.get("no_affine"):
                w = b = None
            return _manual(x, dims, w, b, eps, unbiased=changes.get("unbiased", False),
                           eps_outside=changes.get("eps_outside", False),
                           centre=not changes.get("no_centre", False))
        return compute

    return [
        Variant("unbiased variance", "you divided the variance by n - 1; layer norm uses the "
                "biased variance (divide by n, the number of normalized elements), as torch "
                "does", general(unbiased=True)),
        Variant("eps outside the square root", "eps goes inside the square root: "
                "(x - mean) / sqrt(var + eps), not / (sqrt(var) + eps)",
                general(eps_outside=True)),
        Variant("last axis only", "you normalized over the last axis only: layer norm "
                "averages over ALL the trailing axes in normalized_shape at once",
                general(dims="last")),
        Variant("normalized over the leading axes", "you averaged over the leading (batch) "
                "axes, as batch norm does: layer norm averages over the trailing axes given "
                "by normalized_shape, separately for each sample", general(dims="leading")),
        Variant("mean not subtracted", "you divided by the root mean square without "
                "subtracting the mean: that is rms_norm, layer norm centres first",
                general(no_centre=True)),
        Variant("affine ignored", "weight and bias are ignored: multiply by weight and add "
                "bias, element by element over normalized_shape", general(no_affine=True)),
    ]


def _diagnose_ln(case, got, expected):
    if getattr(got, "shape", None) is not None and got.shape != np.shape(expected):
        return "layer norm keeps the input's shape"
    return None


register(Exercise(
    name="layer_norm", arg_names=LN_ARGS, visible=_ln_visible, hidden=_ln_hidden,
    reference=_ln_reference, bugs=_ln_variants(), diagnose=_diagnose_ln,
))


# rms_norm -----------------------------------------------------------------------------
def rms_case(rng, shape, normalized, *, weight=True, eps=None, scale=1.0, shift=0.0,
             dtype=np.float64, note="", wshape=None):
    x = _arr(rng, shape, scale, shift, dtype)
    tail = tuple(_shape_list(normalized)) if wshape is None else wshape
    w = _arr(rng, tail, 0.5, 1.0, dtype) if weight else None
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
        rms_case(rng, (2, 3, 4), [3], weight=False,
                 note="normalized_shape does not match the last axes (torch refuses)"),
        rms_case(rng, (2, 3, 4), [], weight=False, note="empty normalized_shape (torch refuses)"),
        rms_case(rng, (2, 3, 4), [4], wshape=(3,), note="weight of the wrong shape (torch refuses)"),
    ]
    return out


def _rms_reference(case):
    x, ns, w = case.args
    return oracle.call(oracle.F().rms_norm, x, _shape_list(ns), w, **case.kwargs)


def _rms_manual(case, eps=None, centre=False, eps_outside=False, dims=None, no_sqrt=False):
    t = oracle.torch()
    x, ns, w = case.args
    xt = t.from_numpy(x)
    dims = dims or tuple(range(x.ndim - len(_shape_list(ns)), x.ndim))
    if eps is None:
        eps = case.kwargs.get("eps")
        if eps is None:
            eps = float(np.finfo(x.dtype).eps)
    if centre:
        xt = xt - xt.mean(dim=dims, keepdim=True)
    ms = (xt * xt).mean(dim=dims, keepdim=True)
    if no_sqrt:
        denom = ms + eps
    else:
        denom = ms.sqrt() + eps if eps_outside else (ms + eps).sqrt()
    y = xt / denom
    if w is not None:
        y = y * t.from_numpy(w)
    return y.numpy()


def _rms_variants():
    def eps_1e5(case):
        return None if "eps" in case.kwargs else _rms_manual(case, eps=1e-5)

    def eps_float64(case):
        if "eps" in case.kwargs or case.args[0].dtype == np.float64:
            return None
        return _rms_manual(case, eps=float(np.finfo(np.float64).eps))

    def centred(case):
        return _rms_manual(case, centre=True)

    def eps_outside(case):
        return _rms_manual(case, eps_outside=True)

    def last_axis(case):
        x, ns, _ = case.args
        if len(_shape_list(ns)) < 2:
            return None
        return _rms_manual(case, dims=(x.ndim - 1,))

    def no_sqrt(case):
        return _rms_manual(case, no_sqrt=True)

    return [
        Variant("eps 1e-5 by default", "with eps=None torch uses torch.finfo(input.dtype).eps "
                "(2.2e-16 for float64, 1.2e-7 for float32), not layer norm's 1e-5", eps_1e5),
        Variant("float64 eps for float32", "the default eps depends on the input's dtype: "
                "np.finfo(input.dtype).eps, 1.19e-7 for float32", eps_float64),
        Variant("mean subtracted", "rms_norm does not subtract the mean: it divides x by "
                "sqrt(mean(x²) + eps); centring makes it layer norm", centred),
        Variant("eps outside the square root", "eps goes inside the square root: "
                "x / sqrt(mean(x²) + eps), not x / (sqrt(mean(x²)) + eps)", eps_outside),
        Variant("last axis only", "you averaged x² over the last axis only: rms_norm "
                "averages over ALL the trailing axes in normalized_shape", last_axis),
        Variant("square root missing", "you divided by the mean square: take its square "
                "root (the ROOT mean square)", no_sqrt),
    ]


register(Exercise(
    name="rms_norm", arg_names=RMS_ARGS, visible=_rms_visible, hidden=_rms_hidden,
    reference=_rms_reference, bugs=_rms_variants(), diagnose=_diagnose_ln,
))


# LayerNorm and RMSNorm modules --------------------------------------------------------
def module_case(rng, normalized_shape, x_shape, note="", **options):
    tail = tuple(_shape_list(normalized_shape))
    return Case((normalized_shape,), options, note=note, extra={
        "weight": _arr(rng, tail, 0.5, 1.0), "bias": _arr(rng, tail),
        "x": _arr(rng, x_shape, float(rng.uniform(0.5, 3)), float(rng.normal()))})


def _param(module, name):
    value = getattr(module, name, None)
    if value is None:
        return np.array(False), np.array([], dtype=np.int64)
    return np.array(True), np.array(np.shape(value), dtype=np.int64)


def _module_run(cls, case):
    """Build the module, report its parameters' presence and shapes, set them, call it."""
    module = module_to(cls(*case.args, **case.kwargs), case_float_dtype(case))
    has_w, w_shape = _param(module, "weight")
    has_b, b_shape = _param(module, "bias")
    if getattr(module, "weight", None) is not None:
        module.weight = case.extra["weight"].copy()
    if getattr(module, "bias", None) is not None:
        module.bias = case.extra["bias"].copy()
    return has_w, w_shape, has_b, b_shape, module(case.extra["x"].copy())


def _module_reference(torch_name):
    def reference(case):
        t = oracle.torch()
        module = getattr(t.nn, torch_name)(*case.args, **case.kwargs).to(oracle.case_dtype(case))
        has_w = np.array(getattr(module, "weight", None) is not None)
        has_b = np.array(getattr(module, "bias", None) is not None)
        w_shape = np.array(module.weight.shape if has_w else [], dtype=np.int64)
        b_shape = np.array(module.bias.shape if has_b else [], dtype=np.int64)
        with t.no_grad():
            if has_w:
                module.weight.copy_(t.from_numpy(case.extra["weight"]))
            if has_b:
                module.bias.copy_(t.from_numpy(case.extra["bias"]))
        return has_w, w_shape, has_b, b_shape, oracle.call(module, case.extra["x"])
    return reference


def _module_variants(torch_name):
    def build(case, **changes):
        return _module_reference(torch_name)(Case(case.args, dict(case.kwargs, **changes),
                                                  extra=case.extra))

    def bias_kept(case):
        if case.kwargs.get("bias", True) or not case.kwargs.get("elementwise_affine", True):
            return None
        got = list(build(case, bias=True))
        return tuple(got)

    def affine_kept(case):
        if case.kwargs.get("elementwise_affine", True):
            return None
        return build(case, elementwise_affine=True, **(
            {"bias": case.kwargs.get("bias", True)} if torch_name == "LayerNorm" else {}))

    def output_changed(default_eps=None, **changes):
        def compute(case):
            expected = _module_reference(torch_name)(case)
            has_w, _, has_b, _, out = expected
            x = case.extra["x"]
            if out.shape != x.shape:
                return None
            dims = tuple(range(x.ndim - len(_shape_list(case.args[0])), x.ndim))
            w = case.extra["weight"] if has_w else None
            if torch_name == "LayerNorm":
                b = case.extra["bias"] if has_b else None
                wrong = _manual(x, dims, w, b, case.kwargs.get("eps", 1e-5), **changes)
            else:
                eps = case.kwargs.get("eps")
                if eps is None:
                    eps = float(np.finfo(x.dtype).eps) if default_eps is None else default_eps
                elif default_eps is not None:
                    return None
                changes.setdefault("centre", False)
                wrong = _manual(x, dims, w, None, eps, **changes)
            return expected[:4] + (wrong,)
        return compute

    variants = [
        Variant("eps outside the square root", "eps goes inside the square root: divide by "
                "sqrt(var + eps), not by sqrt(var) + eps", output_changed(eps_outside=True)),
        Variant("parameters with elementwise_affine=False", "with elementwise_affine=False "
                "there are no parameters: set self.weight = None (and self.bias = None)",
                affine_kept),
    ]
    if torch_name == "RMSNorm":
        variants.append(Variant("eps 1e-5 by default", "with eps=None RMSNorm uses "
                                "finfo(x.dtype).eps at each call (2.2e-16 for float64), not "
                                "1e-5", output_changed(default_eps=1e-5)))
        variants.append(Variant("mean subtracted", "RMSNorm does not subtract the mean: it "
                                "divides x by sqrt(mean(x²) + eps)", output_changed(centre=True)))
    if torch_name == "LayerNorm":
        variants.append(Variant("unbiased variance", "you divided the variance by n - 1; "
                                "layer norm uses the biased variance (divide by n)",
                                output_changed(unbiased=True)))
        variants.append(Variant("bias with bias=False", "with bias=False LayerNorm keeps its "
                                "weight but has no bias: self.bias = None", bias_kept))
    return variants


def _module_diagnose(case, got, expected):
    """Say which of the module check's outputs is the first to differ."""
    names = ["whether self.weight exists (None or not)", "the shape of self.weight",
             "whether self.bias exists (None or not)", "the shape of self.bias",
             "the layer's output"]
    if not isinstance(got, tuple) or len(got) != len(expected):
        return None
    for index, (exp, out) in enumerate(zip(expected, got)):
        if compare.compare_one(np.asarray(exp), out) is not None:
            return f"the first mismatch, output {index}, is {names[index]}"
    return None


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
                x_shape = (int(rng.integers(1, 4)),) + tuple(_shape_list(form))
                out.append(module_case(rng, form, x_shape, elementwise_affine=affine, bias=bias,
                                       eps=[1e-5, 1e-2][int(rng.integers(0, 2))],
                                       note=f"normalized_shape={form!r}, "
                                            f"elementwise_affine={affine}, bias={bias}"))
    out += [
        module_case(rng, [8, 6, 6], (2, 8, 6, 6),
                    note="LayerNorm([C, H, W]) on an image batch keeps its shape"),
        module_case(rng, 4, (4,), note="a single vector, no batch axis"),
        module_case(rng, 3, (2, 4), note="the last axis does not match (torch refuses)"),
    ]
    return out


register(Exercise(
    name="LayerNorm", arg_names=("normalized_shape",), visible=_ln_module_visible,
    hidden=_ln_module_hidden, reference=_module_reference("LayerNorm"),
    bugs=_module_variants("LayerNorm"), run=_module_run, diagnose=_module_diagnose,
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
                tail = tuple(_shape_list(form))
                out.append(module_case(rng, form, (2,) + tail, elementwise_affine=affine,
                                       eps=eps, note=f"normalized_shape={form!r}, "
                                                     f"elementwise_affine={affine}, eps={eps}"))
    out.append(module_case(rng, 3, (2, 4), note="the last axis does not match (torch refuses)"))
    return out


register(Exercise(
    name="RMSNorm", arg_names=("normalized_shape",), visible=_rms_module_visible,
    hidden=_rms_module_hidden, reference=_module_reference("RMSNorm"),
    bugs=_module_variants("RMSNorm"), run=_module_run, diagnose=_module_diagnose,
))
