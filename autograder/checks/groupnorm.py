"""Chapter 10 — instance and group normalization: instance_norm, InstanceNorm1d/2d/3d,
group_norm, GroupNorm.

The seeded grids of valid parameters, the edge cases, the configurations torch refuses,
and the known-wrong variants with the hint each one earns. Expected values and variants
are computed with torch in float64.
"""
from __future__ import annotations

import copy
import warnings

import numpy as np

from .. import compare, oracle
from ..exercise import Case, Exercise, Variant, case_float_dtype, module_to, register

IN_ARGS = ("input",)
GN_ARGS = ("input", "num_groups", "weight", "bias", "eps")


def _arr(rng, shape, scale=1.0, shift=0.0):
    return shift + scale * rng.standard_normal(shape)


def _t(value):
    if value is None:
        return None
    value = np.array(value)  # float32 cases stay float32, like the input they go with
    return oracle.torch().from_numpy(value if value.dtype.kind == "f" else value.astype(np.float64))


def _normalize(x, dims, eps, unbiased=False, eps_outside=False):
    """(x - mean) / sqrt(var + eps) over `dims`, in torch, with one thing changeable."""
    mean = x.mean(dim=dims, keepdim=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # n - 1 = 0 gives inf; the variant just won't match
        var = x.var(dim=dims, keepdim=True, correction=1 if unbiased else 0)
    return (x - mean) / (var.sqrt() + eps if eps_outside else (var + eps).sqrt())


def _channel_affine(y, weight, bias):
    shape = (1, -1) + (1,) * (y.ndim - 2)
    if weight is not None:
        y = y * _t(weight).reshape(shape)
    if bias is not None:
        y = y + _t(bias).reshape(shape)
    return y


# instance_norm --------------------------------------------------------------------------
def in_case(rng, shape, *, stats=False, affine=False, use_input_stats=True, momentum=None,
            eps=None, scale=1.0, shift=0.0, note=""):
    c = shape[1] if len(shape) > 1 else shape[0]
    kwargs = {}
    if stats:
        kwargs["running_mean"] = _arr(rng, c, 0.5)
        kwargs["running_var"] = rng.uniform(0.5, 2.0, c)
    if affine:
        kwargs["weight"] = _arr(rng, c, 0.5, 1.0)
        kwargs["bias"] = _arr(rng, c)
    if not use_input_stats:
        kwargs["use_input_stats"] = False
    if momentum is not None:
        kwargs["momentum"] = momentum
    if eps is not None:
        kwargs["eps"] = eps
    return Case((_arr(rng, shape, scale, shift),), kwargs, note=note)


def _in_run(fn, case):
    """The output, and with running statistics also the arrays after the in-place update."""
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    out = fn(*args, **kwargs)
    if kwargs.get("running_mean") is None:
        return out
    return out, kwargs["running_mean"], kwargs["running_var"]


def _in_torch(case, **changes):
    kwargs = {k: _t(v) if isinstance(v, np.ndarray) else v
              for k, v in dict(case.kwargs, **changes).items()}
    with np.errstate(all="ignore"):
        out = oracle.call(oracle.F().instance_norm, case.args[0], **kwargs)
    if kwargs.get("running_mean") is None:
        return out
    return out, kwargs["running_mean"].numpy(), kwargs["running_var"].numpy()


def _in_reference(case):
    return _in_torch(case)


def _in_visible(rng):
    return [
        in_case(rng, (2, 3, 4, 4), note="(N, C, H, W), no running statistics"),
        in_case(rng, (2, 3, 5), affine=True, eps=1e-3, note="(N, C, L) with weight and bias"),
        in_case(rng, (2, 2, 3, 3), stats=True,
                note="running statistics updated in place (momentum 0.1)"),
        in_case(rng, (2, 2, 4), stats=True, use_input_stats=False, affine=True,
                note="use_input_stats=False: normalize with the running statistics"),
    ]


def _in_hidden(rng):
    out = []
    for spatial in ((5,), (3, 4), (2, 3, 2)):
        for stats, use, affine in ((False, True, False), (False, True, True),
                                   (True, True, False), (True, True, True),
                                   (True, False, False), (True, False, True)):
            shape = (int(rng.integers(1, 4)), int(rng.integers(1, 5))) + spatial
            momentum = [None, 0.5, 1.0, 0.0][int(rng.integers(0, 4))] if stats else None
            eps = [None, 1e-3, 0.1][int(rng.integers(0, 3))]
            out.append(in_case(rng, shape, stats=stats, use_input_stats=use, affine=affine,
                               momentum=momentum, eps=eps, scale=float(rng.uniform(0.2, 4)),
                               shift=float(rng.normal()),
                               note=f"{len(shape)}-D input, running stats={stats}, "
                                    f"use_input_stats={use}, affine={affine}"))
    out += [
        in_case(rng, (1, 3, 2), stats=True, note="two positions per instance: n - 1 = 1 in "
                "the running variance"),
        in_case(rng, (4, 2, 6), stats=True, momentum=0.3,
                note="running statistics averaged over a batch of 4"),
        in_case(rng, (2, 3, 1, 1), stats=True, use_input_stats=False,
                note="a 1×1 image with running statistics (allowed: no input statistics)"),
        in_case(rng, (2, 3), stats=True, use_input_stats=False,
                note="(N, C) with running statistics"),
        in_case(rng, (2, 3, 1, 1), note="one position per instance (torch refuses)"),
        in_case(rng, (2, 3), note="(N, C): no spatial positions (torch refuses)"),
        in_case(rng, (2, 3, 4), use_input_stats=False,
                note="use_input_stats=False without running statistics (torch refuses)"),
    ]
    return out


def _in_variants():
    def as_batch_norm(case):
        """Statistics per channel over (N, *spatial): batch norm's axes."""
        if case.kwargs.get("use_input_stats", True) is False or case.args[0].shape[0] == 1:
            return None
        t = oracle.torch()
        x = t.from_numpy(case.args[0])
        dims = (0,) + tuple(range(2, x.ndim))
        y = _channel_affine(_normalize(x, dims, case.kwargs.get("eps", 1e-5)),
                            case.kwargs.get("weight"), case.kwargs.get("bias")).numpy()
        return _replace_output(case, y)

    def per_sample(case):
        """Statistics per sample over (C, *spatial): layer norm's axes."""
        if case.kwargs.get("use_input_stats", True) is False or case.args[0].shape[1] == 1:
            return None
        t = oracle.torch()
        x = t.from_numpy(case.args[0])
        y = _channel_affine(_normalize(x, tuple(range(1, x.ndim)), case.kwargs.get("eps", 1e-5)),
                            case.kwargs.get("weight"), case.kwargs.get("bias")).numpy()
        return _replace_output(case, y)

    def changed_norm(**changes):
        def compute(case):
            if case.kwargs.get("use_input_stats", True) is False:
                return None
            t = oracle.torch()
            x = t.from_numpy(case.args[0])
            y = _normalize(x, tuple(range(2, x.ndim)), case.kwargs.get("eps", 1e-5), **changes)
            y = _channel_affine(y, case.kwargs.get("weight"), case.kwargs.get("bias")).numpy()
            return _replace_output(case, y)
        return compute

    def not_in_place(case):
        if case.kwargs.get("running_mean") is None or case.kwargs.get("momentum", 0.1) == 0.0:
            return None
        out = _in_torch(case)
        return out[0], case.kwargs["running_mean"], case.kwargs["running_var"]

    def stats_changed(kind):
        def compute(case):
            rm0, rv0 = case.kwargs.get("running_mean"), case.kwargs.get("running_var")
            if rm0 is None or case.kwargs.get("use_input_stats", True) is False:
                return None
            m = case.kwargs.get("momentum", 0.1)
            t = oracle.torch()
            x = t.from_numpy(case.args[0])
            spatial = tuple(range(2, x.ndim))
            if int(np.prod(x.shape[2:])) < 2:
                return None
            mean = x.mean(dim=spatial).mean(dim=0).numpy()
            var = x.var(dim=spatial, correction=1).mean(dim=0).numpy()
            if kind == "biased":
                var = x.var(dim=spatial, correction=0).mean(dim=0).numpy()
            elif kind == "whole batch":
                if x.shape[0] == 1:
                    return None
                var = x.transpose(0, 1).reshape(x.shape[1], -1).var(dim=1, correction=1).numpy()
            elif kind == "momentum swapped":
                if m == 0.5:
                    return None
                m = 1 - m
            return (_in_torch(case)[0], (1 - m) * rm0 + m * mean, (1 - m) * rv0 + m * var)
        return compute

    return [
        Variant("batch norm's axes", "you averaged each channel over the batch too (batch "
                "norm's axes): instance norm averages each channel of each sample over its "
                "spatial positions only", as_batch_norm),
        Variant("layer norm's axes", "you averaged over all channels of a sample (layer "
                "norm's axes): instance norm keeps one mean and variance per (sample, channel)",
                per_sample),
        Variant("unbiased variance", "you normalized with the unbiased variance (n - 1): the "
                "output uses the biased variance (divide by n); only the running_var update "
                "uses n - 1", changed_norm(unbiased=True)),
        Variant("eps outside the square root", "eps goes inside the square root: "
                "(x - mean) / sqrt(var + eps)", changed_norm(eps_outside=True)),
        Variant("running stats not updated in place", "running_mean and running_var must be "
                "updated in place (running_mean[:] = ...), as torch does: the caller's arrays "
                "change", not_in_place),
        Variant("biased running variance", "the running_var update uses the unbiased variance "
                "(divide by n - 1) of each instance, averaged over the batch",
                stats_changed("biased")),
        Variant("running variance of the whole batch", "torch updates running_var with the "
                "per-instance unbiased variances averaged over the batch, not with one "
                "variance over the whole batch", stats_changed("whole batch")),
        Variant("momentum the wrong way round", "momentum weighs the NEW statistic: "
                "running = (1 - momentum) * running + momentum * new",
                stats_changed("momentum swapped")),
    ]


def _replace_output(case, y):
    if case.kwargs.get("running_mean") is None:
        return y
    _, rm, rv = _in_torch(case)
    return y, rm, rv


def _diagnose_shape(case, got, expected):
    got0 = got[0] if isinstance(got, tuple) else got
    exp0 = expected[0] if isinstance(expected, tuple) else expected
    if getattr(got0, "shape", None) is not None and got0.shape != np.shape(exp0):
        return "normalization keeps the input's shape"
    return None


register(Exercise(
    name="instance_norm", arg_names=IN_ARGS, visible=_in_visible, hidden=_in_hidden,
    reference=_in_reference, bugs=_in_variants(), run=_in_run, diagnose=_diagnose_shape,
))


# group_norm -----------------------------------------------------------------------------
def gn_case(rng, shape, groups, *, affine=True, eps=None, scale=1.0, shift=0.0, note="",
            wshape=None):
    c = shape[1] if len(shape) > 1 else shape[0]
    wshape = (c,) if wshape is None else wshape
    w = _arr(rng, wshape, 0.5, 1.0) if affine else None
    b = _arr(rng, wshape) if affine else None
    kwargs = {} if eps is None else {"eps": eps}
    return Case((_arr(rng, shape, scale, shift), groups, w, b), kwargs, note=note)


def _gn_visible(rng):
    return [
        gn_case(rng, (2, 4, 3, 3), 2, affine=False, note="4 channels in 2 groups"),
        gn_case(rng, (2, 4, 4), 2, note="(N, C, L) with L = C: weight and bias per channel"),
        gn_case(rng, (1, 4, 2, 2), 1, eps=1e-3, note="one group: like layer norm over (C, H, W)"),
        gn_case(rng, (2, 4, 3, 3), 4, note="C groups: like instance norm"),
    ]


def _gn_hidden(rng):
    out = []
    for spatial in ((), (5,), (3, 4), (2, 3, 2)):
        for c, groups in ((6, 1), (6, 2), (6, 3), (6, 6), (8, 4), (4, 2)):
            shape = (int(rng.integers(1, 4)), c) + spatial
            if shape[0] * (c // groups) * int(np.prod(spatial, dtype=int)) == 1:
                shape = (2,) + shape[1:]  # torch refuses one value per group with N = 1
            affine = bool(rng.integers(0, 3))
            eps = [None, 1e-3, 0.2, 0.0][int(rng.integers(0, 4))]
            if eps == 0.0 and c // groups * int(np.prod(spatial, dtype=int)) == 1:
                eps = None  # one value per group: 0 / sqrt(0) would be NaN
            out.append(gn_case(rng, shape, groups, affine=affine, eps=eps,
                               scale=float(rng.uniform(0.2, 4)), shift=float(rng.normal()),
                               note=f"{len(shape)}-D input, C={c}, num_groups={groups}"))
    out += [
        gn_case(rng, (2, 4, 4), 2, note="L = C: weight and bias must follow the channel axis"),
        gn_case(rng, (2, 3, 3, 3), 3, note="C = H = W = 3 and C groups"),
        gn_case(rng, (2, 4), 4, note="(N, C) with C groups: one value per group"),
        gn_case(rng, (1, 4, 1, 1), 2, note="a 1×1 image, two channels per group"),
        gn_case(rng, (2, 6, 4), 4, note="6 channels in 4 groups (torch refuses)"),
        gn_case(rng, (1, 4, 1, 1), 4, note="one value per group and N = 1 (torch refuses)"),
        gn_case(rng, (2, 4, 3), 2, wshape=(2,), note="weight per group (torch refuses)"),
    ]
    return out


def _gn_reference(case):
    return oracle.call(oracle.F().group_norm, *case.args, **case.kwargs)


def _gn_manual(case, groups_of=None, unbiased=False, eps_outside=False, interleaved=False,
               affine_on_last=False, dims=None):
    t = oracle.torch()
    x, g, w, b = case.args
    eps = case.kwargs.get("eps", 1e-5)
    xt = t.from_numpy(x)
    n, c = x.shape[:2]
    if interleaved:
        perm = np.argsort(np.arange(c) % g, kind="stable")
        xt = xt[:, perm]
    if dims is not None:
        y = _normalize(xt, dims, eps, unbiased, eps_outside)
    else:
        grouped = xt.reshape(n, groups_of or g, -1)
        y = _normalize(grouped, (2,), eps, unbiased, eps_outside).reshape(x.shape)
    if interleaved:
        y = y[:, np.argsort(perm)]
    if affine_on_last:
        if w is not None:
            y = y * _t(w)
        if b is not None:
            y = y + _t(b)
        return y.numpy()
    return _channel_affine(y, w, b).numpy()


def _gn_variants():
    def group_size(case):
        x, g = case.args[:2]
        c = x.shape[1]
        if c % g or (c // g) == g:
            return None
        return _gn_manual(case, groups_of=c // g)

    def interleaved(case):
        x, g = case.args[:2]
        if g in (1, x.shape[1]):
            return None
        return _gn_manual(case, interleaved=True)

    def per_channel(case):
        x, g = case.args[:2]
        if g == x.shape[1] or x.ndim < 3:
            return None
        return _gn_manual(case, dims=tuple(range(2, x.ndim)))

    def affine_last(case):
        x, g, w, b = case.args
        if w is None or x.ndim < 3 or x.shape[-1] != x.shape[1]:
            return None
        return _gn_manual(case, affine_on_last=True)

    def unbiased(case):
        x, g = case.args[:2]
        if x[0].size // g < 2:
            return None
        return _gn_manual(case, unbiased=True)

    return [
        Variant("num_groups read as group size", "num_groups is the NUMBER of groups: each "
                "group holds C // num_groups channels", group_size),
        Variant("interleaved groups", "torch's groups are consecutive blocks of channels "
                "(group 0 = channels 0 .. C/G - 1), not every G-th channel", interleaved),
        Variant("one group per channel", "you normalized each channel on its own (instance "
                "norm): group norm pools the statistics of the C // num_groups channels of "
                "each group", per_channel),
        Variant("affine on the last axis", "weight and bias are per CHANNEL: reshape them to "
                "(1, C, 1, ...) — you broadcast them along the last axis", affine_last),
        Variant("unbiased variance", "you divided the variance by n - 1; torch uses the "
                "biased variance (divide by n)", unbiased),
        Variant("eps outside the square root", "eps goes inside the square root: "
                "(x - mean) / sqrt(var + eps)", lambda case: _gn_manual(case, eps_outside=True)),
    ]


register(Exercise(
    name="group_norm", arg_names=GN_ARGS, visible=_gn_visible, hidden=_gn_hidden,
    reference=_gn_reference, bugs=_gn_variants(), diagnose=_diagnose_shape,
))


# Modules ----------------------------------------------------------------------------------
PARAMS = ("weight", "bias", "running_mean", "running_var")


def _param(module, name):
    value = getattr(module, name, None)
    if value is None:
        return np.array(False), np.array([], dtype=np.int64)
    return np.array(True), np.array(np.shape(value), dtype=np.int64)


def _final_state(module, name, c):
    """The running statistic after the steps, or an empty array when there is none."""
    value = getattr(module, name, None)
    return np.zeros(0) if value is None else value


def _module_run(cls, case):
    """Build, report the parameters' presence and shapes, set weight/bias, run the steps.

    Returns (has/shape for weight, bias, running_mean, running_var), one output per
    step, then the running statistics after the last step (empty when there are none).
    """
    module = module_to(cls(*case.args, **case.kwargs), case_float_dtype(case))
    report = []
    for name in PARAMS:
        report += list(_param(module, name))
    if getattr(module, "weight", None) is not None:
        module.weight = case.extra["weight"].copy()
    if getattr(module, "bias", None) is not None:
        module.bias = case.extra["bias"].copy()
    outputs = []
    for mode, x in case.extra["steps"]:
        if mode == "train":
            module.train()
        else:
            module.eval()
        outputs.append(module(x.copy()))
    c = case.extra["weight"].shape[0]
    return tuple(report + outputs + [_final_state(module, "running_mean", c),
                                     _final_state(module, "running_var", c)])


def _module_reference(torch_name, transform=None):
    def reference(case):
        t = oracle.torch()
        module = getattr(t.nn, torch_name)(*case.args, **case.kwargs).to(oracle.case_dtype(case))
        report = []
        for name in PARAMS:
            value = getattr(module, name, None)
            report += [np.array(value is not None),
                       np.array(value.shape if value is not None else [], dtype=np.int64)]
        with t.no_grad():
            if module.weight is not None:
                module.weight.copy_(t.from_numpy(case.extra["weight"]))
            if getattr(module, "bias", None) is not None:
                module.bias.copy_(t.from_numpy(case.extra["bias"]))
        outputs = []
        for step, (mode, x) in enumerate(case.extra["steps"]):
            module.train(mode == "train")
            if transform is not None:
                transform(module, step, mode)
            outputs.append(oracle.call(module, x))
        stats = [np.zeros(0) if getattr(module, name, None) is None
                 else getattr(module, name).numpy().copy() for name in ("running_mean", "running_var")]
        return tuple(report + outputs + stats)
    return reference


def _module_diagnose(case, got, expected):
    """Say which of the module check's outputs is the first to differ."""
    if not isinstance(got, tuple) or len(got) != len(expected):
        return None
    steps = [mode for mode, _ in case.extra["steps"]]
    names = []
    for param in PARAMS:
        names += [f"whether self.{param} exists (None or not)", f"the shape of self.{param}"]
    names += [f"the output of call {i + 1}, made in {mode}() mode" for i, mode in enumerate(steps)]
    names += ["self.running_mean after the calls", "self.running_var after the calls"]
    for index, (exp, out) in enumerate(zip(expected, got)):
        if compare.compare_one(np.asarray(exp), out) is not None:
            return f"the first mismatch, output {index}, is {names[index]}"
    return None


def module_case(rng, args, extra_shape, steps=("train", "train", "eval"), note="", **options):
    c = args[-1] if len(args) == 2 else args[0]
    x_shapes = extra_shape if isinstance(extra_shape, list) else [extra_shape] * len(steps)
    return Case(tuple(args), options, note=note, extra={
        "weight": _arr(rng, c, 0.5, 1.0), "bias": _arr(rng, c),
        "steps": [(mode, _arr(rng, shape, float(rng.uniform(0.5, 3)), float(rng.normal())))
                  for mode, shape in zip(steps, x_shapes)]})


def _in_module_variants(torch_name):
    def rebuilt(case, transform=None, **changes):
        return _module_reference(torch_name, transform)(
            Case(case.args, dict(case.kwargs, **changes), extra=case.extra))

    def affine_kept(case):
        if case.kwargs.get("affine", False):
            return None
        return rebuilt(case, affine=True)

    def always_input_stats(case):
        if not case.kwargs.get("track_running_stats", False):
            return None

        def transform(module, step, mode):
            module.train(True)
        return rebuilt(case, transform)

    def cumulative(case):
        if case.kwargs.get("momentum", 0.1) is not None or not case.kwargs.get("track_running_stats"):
            return None

        def transform(module, step, mode):
            module.momentum = 1.0 / (step + 1)
        return rebuilt(case, transform)

    def stats_without_tracking(case):
        if case.kwargs.get("track_running_stats", False):
            return None
        return rebuilt(case, track_running_stats=True)

    return [
        Variant("parameters with affine=False", "InstanceNorm's affine defaults to False: then "
                "weight and bias are None", affine_kept),
        Variant("input statistics in eval", "in eval() with track_running_stats=True, "
                "normalize with the running statistics, not the input's", always_input_stats),
        Variant("momentum=None as a cumulative average", "InstanceNorm passes momentum=None "
                "on as 0.0: the running statistics stay where they are (unlike BatchNorm's "
                "cumulative average)", cumulative),
        Variant("running statistics without tracking", "with track_running_stats=False there "
                "are no running statistics (None), and eval() still normalizes with the "
                "input's statistics", stats_without_tracking),
    ]


def _in_module_cases(d, hidden):
    def cases(rng):
        spatial = {1: (6,), 2: (4, 3), 3: (3, 2, 3)}[d]
        out = []
        if not hidden:
            out.append(module_case(rng, (3,), (2, 3) + spatial, note="defaults: no parameters, "
                                   "no running statistics, train then eval"))
            out.append(module_case(rng, (2,), (2, 2) + spatial, affine=True,
                                   track_running_stats=True,
                                   note="affine and running statistics: eval uses them"))
            return out
        for affine in (False, True):
            for track in (False, True):
                for momentum in (0.1, 0.5, None):
                    c = int(rng.integers(1, 4))
                    n = int(rng.integers(1, 4))
                    out.append(module_case(rng, (c,), (n, c) + spatial, affine=affine,
                                           track_running_stats=track, momentum=momentum,
                                           eps=[1e-5, 1e-3][int(rng.integers(0, 2))],
                                           note=f"affine={affine}, track_running_stats={track}, "
                                                f"momentum={momentum}"))
        out += [
            module_case(rng, (3,), (3,) + spatial, affine=True, track_running_stats=True,
                        note="unbatched input (C, *spatial)"),
            module_case(rng, (2,), (2, 2) + spatial, affine=True, bias=False,
                        note="affine=True, bias=False: a weight, no bias"),
            module_case(rng, (4,), (2, 3) + spatial,
                        note="num_features does not match and affine=False: torch only warns"),
            module_case(rng, (3,), (2, 4) + spatial, affine=True,
                        note="num_features does not match with affine=True (torch refuses)"),
            module_case(rng, (3,), (2, 3) + spatial + (2,),
                        note=f"a {d + 3}-D input (torch refuses)"),
            module_case(rng, (2,), (2, 2) + (1,) * d, track_running_stats=True,
                        steps=("eval",), note="one position, eval with running statistics"),
        ]
        return out
    return cases


for _d in (1, 2, 3):
    _name = f"InstanceNorm{_d}d"
    register(Exercise(
        name=_name, arg_names=("num_features",), visible=_in_module_cases(_d, False),
        hidden=_in_module_cases(_d, True), reference=_module_reference(_name),
        bugs=_in_module_variants(_name), run=_module_run, diagnose=_module_diagnose,
    ))


def _gn_module_variants():
    def rebuilt(case, **changes):
        return _module_reference("GroupNorm")(
            Case(case.args, dict(case.kwargs, **changes), extra=case.extra))

    def no_params(case):
        if not case.kwargs.get("affine", True) or not case.kwargs.get("bias", True):
            return None
        return rebuilt(case, affine=False)

    def params_kept(case):
        if case.kwargs.get("affine", True):
            return None
        return rebuilt(case, affine=True)

    def bias_kept(case):
        if case.kwargs.get("bias", True) or not case.kwargs.get("affine", True):
            return None
        return rebuilt(case, bias=True)

    def per_group(case):
        g, c = case.args
        if g == c or not case.kwargs.get("affine", True) or c % g:
            return None
        report = list(rebuilt(case))
        report[1] = np.array([g])
        if case.kwargs.get("bias", True):
            report[3] = np.array([g])
        return tuple(report)

    return [
        Variant("no parameters by default", "GroupNorm's affine defaults to True: weight "
                "(ones) and bias (zeros) of shape (num_channels,)", no_params),
        Variant("parameters with affine=False", "with affine=False weight and bias are None",
                params_kept),
        Variant("bias with bias=False", "with bias=False GroupNorm keeps its weight but has "
                "no bias: self.bias = None", bias_kept),
        Variant("parameters per group", "weight and bias have one value per CHANNEL, shape "
                "(num_channels,), not one per group", per_group),
    ]


def _gn_module_visible(rng):
    return [
        module_case(rng, (2, 4), (2, 4, 3, 3), steps=("train", "eval"), note="defaults"),
        module_case(rng, (3, 6), (2, 6, 5), steps=("train",), affine=False, eps=1e-3,
                    note="no parameters"),
    ]


def _gn_module_hidden(rng):
    out = []
    for g, c in ((1, 4), (2, 4), (4, 4), (3, 6), (2, 8)):
        for affine, bias in ((True, True), (True, False), (False, True)):
            spatial = [(), (5,), (3, 4), (2, 2, 3)][int(rng.integers(0, 4))]
            out.append(module_case(rng, (g, c), (2, c) + spatial, steps=("train", "eval"),
                                   affine=affine, bias=bias,
                                   note=f"GroupNorm({g}, {c}), affine={affine}, bias={bias}"))
    out += [
        module_case(rng, (8, 32), (2, 32, 4, 4), steps=("train",),
                    note="GroupNorm(8, 32) keeps the shape"),
        module_case(rng, (3, 4), (2, 4, 3), steps=("train",),
                    note="4 channels in 3 groups (torch refuses)"),
    ]
    return out


register(Exercise(
    name="GroupNorm", arg_names=("num_groups", "num_channels"), visible=_gn_module_visible,
    hidden=_gn_module_hidden, reference=_module_reference("GroupNorm"),
    bugs=_gn_module_variants(), run=_module_run, diagnose=_module_diagnose,
))
