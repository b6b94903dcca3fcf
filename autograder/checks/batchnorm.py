"""Chapter 08 — batch normalization: batch_norm (and its loop version), the modules
BatchNorm1d/2d/3d, and the statistics SyncBatchNorm combines across shards.

Everything about grading these exercises is here: the seeded grids of valid parameters,
the edge cases, the configurations torch refuses, and the known-wrong variants with the
hint each one earns. Expected values and variants are computed with torch.

The functional exercises grade what torch does IN PLACE: their ``run`` returns
``(output, running_mean, running_var)`` read from the copies the student's function
received (just ``output`` when the case passes ``running_mean=None``). The module
exercises replay a sequence of ``train()`` / ``eval()`` steps and return every output and
the state after every step.
"""
from __future__ import annotations

import copy
import functools
import itertools
import warnings

import numpy as np

from .. import oracle
from ..compare import compare_one
from ..exercise import Case, Exercise, Variant, case_float_dtype, module_to, register

BN_ARGS = ("input", "running_mean", "running_var", "weight", "bias", "training",
           "momentum", "eps")


def _one_thread(reference):
    """Run a reference with torch on one thread: on these tiny tensors a second thread only
    waits for the first, and on a busy machine it makes a check several times slower."""
    @functools.wraps(reference)
    def wrapped(case):
        t = oracle.torch()
        before = t.get_num_threads()
        t.set_num_threads(1)
        try:
            return reference(case)
        finally:
            t.set_num_threads(before)
    return wrapped


# batch_norm -------------------------------------------------------------------------
def bn_case(rng, shape, *, running=True, weight=True, bias=True, training=False,
            momentum=None, eps=None, note="", x=None) -> Case:
    """A batch_norm call: channels with their own mean and spread, so that statistics
    taken over the wrong axes are visibly wrong."""
    c = shape[1] if len(shape) > 1 else shape[0]
    if x is None:
        spread = rng.uniform(0.5, 3.0, c)
        centre = rng.normal(0.0, 2.0, c)
        view = (1, c) + (1,) * (len(shape) - 2) if len(shape) > 1 else (c,)
        x = rng.standard_normal(shape) * spread.reshape(view) + centre.reshape(view)
    rm = rng.normal(0.0, 1.0, c) if running else None
    rv = rng.uniform(0.5, 2.0, c) if running else None
    kwargs = {}
    if weight:
        kwargs["weight"] = rng.normal(1.0, 0.5, c)
    if bias:
        kwargs["bias"] = rng.normal(0.0, 1.0, c)
    if training:
        kwargs["training"] = True
    if momentum is not None:
        kwargs["momentum"] = momentum
    if eps is not None:
        kwargs["eps"] = eps
    return Case((x, rm, rv), kwargs, note=note)


def _bn_run(fn, case):
    """Call on private copies; read back the running statistics the call updated in place."""
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    out = fn(*args, **kwargs)
    if case.args[1] is None:
        return out
    return out, args[1], args[2]


def _bn_reference(case):
    F = oracle.F()
    x, rm, rv = oracle.to_torch(case.args)
    kwargs = {k: oracle.to_torch(v) for k, v in case.kwargs.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = F.batch_norm(x, rm, rv, **kwargs)
    if rm is None:
        return oracle.to_numpy(out)
    return oracle.to_numpy(out), oracle.to_numpy(rm), oracle.to_numpy(rv)


def _bn_options(case):
    x, rm, rv = case.args
    k = case.kwargs
    return (x, rm, rv, k.get("weight"), k.get("bias"), bool(k.get("training", False)),
            k.get("momentum", 0.1), k.get("eps", 1e-5))


def _bn_torch(case, bug=None):
    """batch_norm written with torch tensor operations, with one named bug (or none)."""
    t = oracle.torch()
    x, rm, rv, weight, bias, training, momentum, eps = _bn_options(case)
    if x.ndim < 2 or (rm is None) != (rv is None) or (not training and rm is None):
        return None
    if training and x.size // x.shape[1] <= 1:
        return None
    xt = t.from_numpy(x)
    c = x.shape[1]
    view = (1, c) + (1,) * (x.ndim - 2)
    dims = [0] + list(range(2, x.ndim))
    batch_mean = xt.mean(dim=dims)
    batch_var = xt.var(dim=dims, unbiased=False)
    count = x.size // c
    if training or bug == "eval uses batch stats":
        norm_dims = [0] if bug == "batch axis only" else dims
        mean = xt.mean(dim=norm_dims, keepdim=True)
        var = xt.var(dim=norm_dims, unbiased=(bug == "unbiased normalization"), keepdim=True)
    else:
        mean, var = t.from_numpy(rm).view(view), t.from_numpy(rv).view(view)
    if bug == "eps outside":
        y = (xt - mean) / (var.sqrt() + eps)
    else:
        y = (xt - mean) / (var + eps).sqrt()
    if bug == "affine last axis":
        if x.ndim == 2 or x.shape[-1] != c:
            return None
        if weight is not None:
            y = y * t.from_numpy(weight)
        if bias is not None:
            y = y + t.from_numpy(bias)
    else:
        if weight is not None:
            y = y * t.from_numpy(weight).view(view)
        if bias is not None:
            y = y + t.from_numpy(bias).view(view)
    if rm is None:
        return y.numpy()
    rm_out, rv_out = t.from_numpy(rm.copy()), t.from_numpy(rv.copy())
    if training and bug != "not in place":
        m = 1.0 - momentum if bug == "momentum 0.9" else momentum
        update_var = batch_var if bug == "biased running var" else batch_var * count / (count - 1)
        rm_out = (1 - m) * rm_out + m * batch_mean
        rv_out = (1 - m) * rv_out + m * update_var
    return y.numpy(), rm_out.numpy(), rv_out.numpy()


def _bn_variant(bug, applies=lambda case: True):
    def compute(case):
        if not applies(case):
            return None
        return _bn_torch(case, bug)
    return compute


def _training(case):
    return bool(case.kwargs.get("training", False))


def _updates(case):
    return _training(case) and case.args[1] is not None


def _spatial(case):
    return case.args[0].ndim > 2


BN_VARIANTS = [
    Variant("momentum 0.9 convention", "torch's momentum is the weight of the NEW batch: "
            "running = (1 - momentum) * running + momentum * batch_stat (momentum=0.1 keeps "
            "90% of the old value); you used the momentum-0.9 convention the other way round",
            _bn_variant("momentum 0.9",
                        lambda c: _updates(c) and c.kwargs.get("momentum", 0.1) != 0.5)),
    Variant("biased running variance", "running_var must be updated with the UNBIASED batch "
            "variance (divide by n - 1, n = values per channel); only the normalization "
            "itself uses the biased one (divide by n)",
            _bn_variant("biased running var", _updates)),
    Variant("unbiased normalization", "normalize with the BIASED batch variance (divide by "
            "n, the number of values per channel); the unbiased one (n - 1) is only for "
            "updating running_var", _bn_variant("unbiased normalization", _training)),
    Variant("eval uses batch statistics", "with training=False normalize with running_mean "
            "and running_var, not with the statistics of this batch",
            _bn_variant("eval uses batch stats", lambda c: not _training(c))),
    Variant("statistics over the batch axis only", "the statistics are per channel over the "
            "batch AND every spatial position (axes 0, 2, 3, ...), not over axis 0 alone",
            _bn_variant("batch axis only", lambda c: _training(c) and _spatial(c))),
    Variant("eps outside the square root", "eps goes inside the square root: "
            "(x - mean) / sqrt(var + eps), not / (sqrt(var) + eps)",
            _bn_variant("eps outside")),
    Variant("affine along the last axis", "weight and bias are per CHANNEL (axis 1): "
            "reshape them to (1, C, 1, ...) before multiplying; plain broadcasting lines "
            "them up with the last axis", _bn_variant("affine last axis")),
    Variant("running statistics not updated in place", "running_mean and running_var must "
            "be updated IN PLACE (running_mean[...] = ...), as torch does: assigning a new "
            "array to the name leaves the caller's array unchanged",
            _bn_variant("not in place", _updates)),
]


def _bn_diagnose(case, got, expected):
    out = got[0] if isinstance(got, (tuple, list)) else got
    exp = expected[0] if isinstance(expected, tuple) else expected
    if np.shape(out) != np.shape(exp):
        return "batch_norm returns an array of the input's shape"
    return None


def _bn_visible(rng):
    return [
        bn_case(rng, (4, 3), training=True, note="training, (N, C) input: batch statistics, "
                "running statistics updated in place"),
        bn_case(rng, (2, 3, 4, 3), training=True, running=False,
                note="training without running statistics (running_mean=None)"),
        bn_case(rng, (2, 3, 4, 3), note="evaluation: running statistics, nothing updated"),
        bn_case(rng, (2, 2, 5), training=True, momentum=0.3, eps=0.1, weight=False, bias=False,
                note="(N, C, L) input, momentum=0.3, eps=0.1, no affine"),
    ]


def _bn_hidden(rng):
    out = []
    shapes = {2: lambda: (int(rng.integers(2, 6)), int(rng.integers(1, 5))),
              3: lambda: tuple(int(v) for v in rng.integers(1, 5, 3)),
              4: lambda: tuple(int(v) for v in rng.integers(1, 5, 4)),
              5: lambda: tuple(int(v) for v in rng.integers(1, 4, 5))}
    for ndim, training, momentum in itertools.product((2, 3, 4, 5), (True, False),
                                                      (0.1, 0.0, 1.0, 0.37)):
        shape = shapes[ndim]()
        if training and np.prod(shape) // shape[1] <= 1:
            shape = (2,) + shape[1:]
        eps = [1e-5, 1e-3, 0.5][int(rng.integers(0, 3))]
        weight, bias = bool(rng.integers(0, 3)), bool(rng.integers(0, 3))
        running = bool(rng.integers(0, 4)) or not training
        out.append(bn_case(rng, shape, training=training, momentum=momentum, eps=eps,
                           weight=weight, bias=bias, running=running,
                           note=f"{ndim}-D input, training={training}, momentum={momentum}, "
                                f"eps={eps}, weight={'yes' if weight else 'None'}, "
                                f"bias={'yes' if bias else 'None'}"
                                + ("" if running else ", running stats None")))
    out += [
        bn_case(rng, (1, 3, 2, 2), training=True, note="batch size 1 with spatial dims "
                "(4 values per channel: torch accepts it)"),
        bn_case(rng, (1, 2, 1, 1, 2), training=True, eps=1e-3,
                note="5-D, batch size 1, two values per channel"),
        bn_case(rng, (2, 4, 1, 1), training=True, note="1×1 spatial: two values per channel"),
        bn_case(rng, (3, 4, 5, 4), training=True, running=False, note="W == C, no running stats"),
        bn_case(rng, (3, 4, 5, 4), note="W == C, evaluation"),
        bn_case(rng, (5, 1, 6), training=True, momentum=0.5, note="one channel"),
        bn_case(rng, (6, 3), training=True, eps=1.0, note="large eps"),
        bn_case(rng, (4, 3, 2), eps=0.0, note="eps=0 in evaluation (torch accepts it)"),
        bn_case(rng, (1, 3), note="one sample in evaluation (torch accepts it)"),
        bn_case(rng, (0, 3, 2, 2), training=True, note="an empty batch (N = 0) in training: "
                "torch returns an empty output and leaves the running statistics alone"),
        bn_case(rng, (2, 3, 4), training=True, momentum=1.5,
                note="momentum 1.5 (torch does not check the range)"),
        bn_case(rng, (1, 3), training=True,
                note="training with one value per channel (torch refuses)"),
        bn_case(rng, (1, 4, 1, 1), training=True, running=False,
                note="training with one value per channel, no running stats (torch refuses)"),
        bn_case(rng, (4, 3), training=True, eps=0.0,
                note="eps=0 in training (torch refuses)"),
        bn_case(rng, (4, 3), running=False,
                note="evaluation without running statistics (torch refuses)"),
        bn_case(rng, (4,), note="1-D input, no channel axis (torch refuses)"),
    ]
    mismatch = bn_case(rng, (4, 3, 2), training=True,
                       note="running_mean with 4 entries for 3 channels (torch refuses)")
    mismatch.args = (mismatch.args[0], rng.normal(size=4), rng.uniform(0.5, 2, 4))
    half = bn_case(rng, (4, 3), training=True,
                   note="running_mean given, running_var None (torch refuses)")
    half.args = (half.args[0], half.args[1], None)
    return out + [mismatch, half]


register(Exercise(
    name="batch_norm", arg_names=BN_ARGS, visible=_bn_visible, hidden=_bn_hidden,
    reference=_one_thread(_bn_reference), bugs=BN_VARIANTS, run=_bn_run, diagnose=_bn_diagnose,
))


# batch_norm_loop: the readable version, one channel at a time; small cases.
def _loop_visible(rng):
    return _bn_visible(rng)


def _loop_hidden(rng):
    out = []
    for ndim, training in itertools.product((2, 3, 4, 5), (True, False)):
        shape = (2, 3, 3, 2, 2)[:ndim]
        out.append(bn_case(rng, shape, training=training, momentum=float(rng.uniform(0, 1)),
                           eps=1e-3, weight=bool(ndim % 2), bias=ndim > 2,
                           note=f"{ndim}-D input, training={training}"))
    out += [
        bn_case(rng, (1, 2, 3), training=True, note="batch size 1 with a length axis"),
        bn_case(rng, (1, 3), training=True, note="training with one value per channel "
                "(torch refuses)"),
    ]
    return out


register(Exercise(
    name="batch_norm_loop", arg_names=BN_ARGS, visible=_loop_visible, hidden=_loop_hidden,
    reference=_one_thread(_bn_reference), bugs=BN_VARIANTS, run=_bn_run, diagnose=_bn_diagnose,
))


# BatchNorm1d / 2d / 3d modules ----------------------------------------------------------
MODULE_ARGS = ("num_features",)
SPATIAL = {"BatchNorm1d": (5,), "BatchNorm2d": (3, 4), "BatchNorm3d": (2, 3, 2)}


def module_case(rng, cls, c, steps, note="", n=3, spatial=None, **options) -> Case:
    """Steps are ('train' | 'eval' | 'train(False)', input); inputs drawn here when given
    as a shape or None (the class's usual shape)."""
    default = SPATIAL[cls] if spatial is None else spatial
    drawn = []
    for mode, x in steps:
        if x is None:
            x = (n, c) + tuple(default)
        if isinstance(x, tuple):
            shift = rng.normal(0.0, 2.0, (1, x[1]) + (1,) * (len(x) - 2))
            x = rng.standard_normal(x) * rng.uniform(0.5, 2.0) + shift
        drawn.append((mode, x))
    extra = {"steps": drawn, "weight": rng.normal(1.0, 0.5, c), "bias": rng.normal(0.0, 1.0, c)}
    return Case((c,), options, note=note, extra=extra)


def _state(module):
    """What torch's module holds after a step, as plain arrays."""
    if getattr(module, "running_mean", None) is None:
        return []
    return [np.asarray(module.running_mean).copy(), np.asarray(module.running_var).copy(),
            np.asarray(module.num_batches_tracked)]


def _set_mode(module, mode):
    if mode == "train":
        module.train()
    elif mode == "eval":
        module.eval()
    else:
        module.train(False)


def _module_run(cls, case):
    """Build the student's module, record its initial state, replay the steps."""
    module = module_to(cls(*case.args, **case.kwargs), case_float_dtype(case))
    weight, bias = getattr(module, "weight", None), getattr(module, "bias", None)
    out = [np.asarray(weight is not None), np.asarray(bias is not None),
           np.asarray(getattr(module, "running_mean", None) is not None),
           np.asarray(bool(getattr(module, "training", None)))]
    if weight is not None:
        out.append(np.asarray(weight))
        module.weight = case.extra["weight"].copy()
    if bias is not None:
        out.append(np.asarray(bias))
        module.bias = case.extra["bias"].copy()
    out += _state(module)
    for mode, x in case.extra["steps"]:
        _set_mode(module, mode)
        out.append(np.asarray(bool(module.training)))
        out.append(module(x.copy()))
        out += _state(module)
    return tuple(out)


def _torch_module(name, case):
    t = oracle.torch()
    module = getattr(t.nn, name)(*case.args, **case.kwargs).to(oracle.case_dtype(case))
    return t, module


def _module_reference(name):
    def reference(case):
        t, module = _torch_module(name, case)
        out = [np.asarray(module.weight is not None), np.asarray(module.bias is not None),
               np.asarray(module.running_mean is not None), np.asarray(module.training)]
        with t.no_grad():
            if module.weight is not None:
                out.append(oracle.to_numpy(module.weight))
                module.weight.copy_(t.from_numpy(case.extra["weight"]))
            if module.bias is not None:
                out.append(oracle.to_numpy(module.bias))
                module.bias.copy_(t.from_numpy(case.extra["bias"]))
            out += [oracle.to_numpy(v) for v in _torch_state(module)]
            for mode, x in case.extra["steps"]:
                _set_mode(module, mode)
                out.append(np.asarray(module.training))
                out.append(oracle.call(module, x))
                out += [oracle.to_numpy(v) for v in _torch_state(module)]
        return tuple(out)
    return reference


def _torch_state(module):
    if module.running_mean is None:
        return []
    return [module.running_mean, module.running_var, module.num_batches_tracked]


def _module_simulate(name, case, bug):
    """The module's steps replayed with F.batch_norm and one named bug.

    Returns None when the bug changes nothing in this case or the case is refused.
    """
    t = oracle.torch()
    F = oracle.F()
    opts = dict(eps=1e-5, momentum=0.1, affine=True, track_running_stats=True, bias=True)
    opts.update(case.kwargs)
    c = case.args[0]
    dims = {"BatchNorm1d": (2, 3), "BatchNorm2d": (4,), "BatchNorm3d": (5,)}[name]
    steps = case.extra["steps"]
    if any(x.ndim not in dims or x.shape[1] != c for _, x in steps):
        return None
    if any(mode == "train" or bug == "always training" for mode, _ in steps):
        if any(x.size // c <= 1 for _, x in steps):
            return None
    affine, track, momentum = opts["affine"], opts["track_running_stats"], opts["momentum"]
    has_bias = affine and opts["bias"]
    weight = t.from_numpy(case.extra["weight"]) if affine else None
    bias = t.from_numpy(case.extra["bias"]) if has_bias else None
    out = [np.asarray(affine), np.asarray(has_bias), np.asarray(track), np.asarray(True)]
    if affine:
        out.append(np.ones(c))
    if has_bias:
        out.append(np.zeros(c))
    rm, rv, nbt = t.zeros(c, dtype=t.float64), t.ones(c, dtype=t.float64), 0
    if track:
        out += [rm.numpy().copy(), rv.numpy().copy(), np.asarray(nbt)]
    changed = False
    for mode, x in steps:
        training = mode == "train" or bug == "always training"
        xt = t.from_numpy(x)
        factor = 0.0
        if training and track:
            nbt += 1
            if momentum is None:
                factor = 0.1 if bug == "momentum None as 0.1" else 1.0 / nbt
                changed |= bug == "momentum None as 0.1" and nbt > 1
            else:
                factor = 1.0 - momentum if bug == "momentum 0.9" else momentum
                changed |= bug == "momentum 0.9" and momentum != 0.5
        batch_stats = training or not track or (bug == "eval uses batch stats")
        changed |= bug == "eval uses batch stats" and not training and track
        changed |= bug == "always training" and mode != "train" and track
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if batch_stats and not (training and track):
                y = F.batch_norm(xt, None, None, weight, bias, True, 0.0, opts["eps"])
            else:
                old_rv = rv.clone()
                y = F.batch_norm(xt, rm, rv, weight, bias, batch_stats, factor, opts["eps"])
                if training and bug == "biased running var":
                    var = xt.var(dim=[0] + list(range(2, x.ndim)), unbiased=False)
                    rv.copy_((1 - factor) * old_rv + factor * var)
                    changed |= factor != 0
        # The flag a student's train()/eval() sets; the bug is in forward ignoring it.
        out.append(np.asarray(mode == "train"))
        out.append(y.numpy())
        if track:
            shown = 0 if bug == "count not incremented" else nbt
            changed |= bug == "count not incremented" and nbt > 0
            out += [rm.numpy().copy(), rv.numpy().copy(), np.asarray(shown)]
    return tuple(out) if changed else None


def _module_variants(name):
    def make(bug):
        def compute(case):
            try:
                return _module_simulate(name, case, bug)
            except ValueError:  # the bug makes torch refuse a step: nothing to recognise
                return None
        return compute
    return [
        Variant("momentum 0.9 convention", "torch's momentum is the weight of the NEW batch: "
                "running = (1 - momentum) * running + momentum * batch_stat; you used the "
                "momentum-0.9 convention the other way round", make("momentum 0.9")),
        Variant("biased running variance", "running_var must be updated with the UNBIASED "
                "batch variance (n - 1 in the denominator, n = values per channel)",
                make("biased running var")),
        Variant("eval uses batch statistics", "in eval() the module normalizes with its "
                "running statistics (when it tracks them), not with the batch's",
                make("eval uses batch stats")),
        Variant("train/eval ignored", "train() and eval() must change what the module "
                "does: set self.training and use it in forward", make("always training")),
        Variant("momentum None ignored", "momentum=None means a cumulative moving average: "
                "the update factor is 1 / num_batches_tracked (1, 1/2, 1/3, ...), counted "
                "after incrementing num_batches_tracked", make("momentum None as 0.1")),
        Variant("num_batches_tracked not counted", "num_batches_tracked counts the training "
                "steps: add 1 on every forward in training mode (when tracking running "
                "statistics)", make("count not incremented")),
    ]


def _module_diagnose(case, got, expected):
    if not isinstance(got, tuple) or len(got) < 4:
        return None
    opts = case.kwargs
    flags = [bool(np.asarray(v)) for v in got[:4]]
    if flags[0] != bool(expected[0]) or flags[1] != bool(expected[1]):
        return ("with affine=False weight and bias are None; with affine=True weight starts "
                "as ones(C), and bias as zeros(C) unless bias=False")
    if flags[2] != bool(expected[2]):
        return ("with track_running_stats=False running_mean, running_var and "
                "num_batches_tracked are None and batch statistics are used in eval() too"
                if not opts.get("track_running_stats", True) else
                "with track_running_stats=True the module holds running_mean = zeros(C), "
                "running_var = ones(C) and num_batches_tracked = 0")
    if not flags[3]:
        return "a new module is in training mode: self.training = True"
    return _first_difference(case, got, expected)


def _labels(case, expected):
    """What each entry of the module run's tuple is, in words, from torch's answer."""
    labels = ["has weight", "has bias", "has running statistics", "training flag of a new module"]
    labels += ["initial weight"] * bool(expected[0]) + ["initial bias"] * bool(expected[1])
    state = ["running_mean", "running_var", "num_batches_tracked"] if bool(expected[2]) else []
    labels += [f"initial {s}" for s in state]
    for i, (mode, _) in enumerate(case.extra["steps"], 1):
        step = f"step {i} ({mode})"
        labels += [f"training flag after {mode}", f"output of {step}"]
        labels += [f"{s} after {step}" for s in state]
    return labels


def _first_difference(case, got, expected):
    if len(got) != len(expected):
        return None
    for label, exp, out in zip(_labels(case, expected), expected, got):
        if compare_one(np.asarray(exp), out) is not None:
            return (f"no known bug recognised; the first value that differs from torch's is "
                    f"the {label}")
    return None


for _name in ("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"):
    def _visible(rng, _name=_name):
        c = 3
        return [
            module_case(rng, _name, c, [("train", None), ("train", None), ("eval", None)],
                        note="defaults: two training steps, then eval"),
            module_case(rng, _name, c, [("train", None), ("train", None), ("train", None),
                                        ("eval", None)], momentum=None,
                        note="momentum=None: cumulative average of the batch statistics"),
            module_case(rng, _name, 2, [("train", None), ("eval", None)], affine=False,
                        track_running_stats=False,
                        note="affine=False, track_running_stats=False: batch statistics in eval too"),
        ]

    def _hidden(rng, _name=_name):
        out = []
        modes = ["train", "eval", "train(False)"]
        for momentum, affine, track in itertools.product((0.1, 0.5, 0.0, 1.0, None),
                                                         (True, False), (True, False)):
            c = int(rng.integers(1, 5))
            steps = [("train", None)] + [(modes[int(rng.integers(0, 3))], None)
                                         for _ in range(3)] + [("train", None), ("eval", None)]
            options = dict(momentum=momentum, affine=affine, track_running_stats=track)
            if rng.integers(0, 2):
                options["eps"] = 1e-3
            out.append(module_case(rng, _name, c, steps, n=int(rng.integers(2, 4)),
                                   note=f"momentum={momentum}, affine={affine}, "
                                        f"track_running_stats={track}, "
                                        f"steps {', '.join(m for m, _ in steps)}",
                                   **options))
        wrong_dim = {"BatchNorm1d": (2, 3, 4, 4), "BatchNorm2d": (3, 4, 4),
                     "BatchNorm3d": (2, 3, 4, 4)}[_name]
        out += [
            module_case(rng, _name, 3, [("eval", None), ("eval", None)],
                        note="eval before any training: the initial running statistics"),
            module_case(rng, _name, 3, [("train", None), ("eval", None)], bias=False,
                        note="affine=True, bias=False: a weight and no bias"),
            module_case(rng, _name, 3, [("train", None), ("train", None), ("eval", None)],
                        momentum=None, track_running_stats=False,
                        note="momentum=None without tracking: nothing to average"),
            module_case(rng, _name, 2, [("train", (1, 2) + SPATIAL[_name]), ("eval", None)],
                        note="batch size 1 with spatial dims"),
            module_case(rng, _name, 3, [("train", wrong_dim)],
                        note=f"{len(wrong_dim)}-D input (torch refuses)"),
        ]
        if _name == "BatchNorm1d":
            out += [
                module_case(rng, _name, 4, [("train", (5, 4)), ("train", (2, 4, 3)),
                                            ("eval", (3, 4))],
                            note="(N, C) and (N, C, L) inputs in one module"),
                module_case(rng, _name, 3, [("eval", (1, 3))],
                            note="one sample in eval (torch accepts it)"),
                module_case(rng, _name, 3, [("train", (1, 3))],
                            note="one sample in training: one value per channel (torch refuses)"),
            ]
        else:
            out.append(module_case(rng, _name, 3, [("train", (1, 3) + (1,) * len(SPATIAL[_name]))],
                                   note="one value per channel in training (torch refuses)"))
        return out

    register(Exercise(
        name=_name, arg_names=MODULE_ARGS, visible=_visible, hidden=_hidden,
        reference=_one_thread(_module_reference(_name)), bugs=_module_variants(_name),
        run=_module_run, diagnose=_module_diagnose,
    ))


# SyncBatchNorm statistics ------------------------------------------------------------
SYNC_ARGS = ("shards",)


def sync_case(rng, sizes, c=3, spatial=(2, 3), note="") -> Case:
    shift = rng.normal(0.0, 3.0, (1, c) + (1,) * len(spatial))
    shards = [rng.standard_normal((n, c) + tuple(spatial)) * rng.uniform(0.5, 2.0) + shift
              + rng.normal(0.0, 1.0) for n in sizes]
    return Case((shards,), {}, note=note or f"shard batch sizes {tuple(sizes)}")


def _sync_reference(case):
    t = oracle.torch()
    (shards,) = case.args
    whole = t.cat([t.from_numpy(s) for s in shards])
    if whole.dim() < 2:
        raise ValueError("expected (N, C, ...) shards")
    # torch's own check: more than one value per channel in the WHOLE batch.
    oracle.call(oracle.F().batch_norm, whole.numpy(), None, None, training=True)
    dims = [0] + list(range(2, whole.dim()))
    return (whole.mean(dim=dims).numpy(), whole.var(dim=dims, unbiased=False).numpy(),
            whole.var(dim=dims, unbiased=True).numpy(),
            np.asarray(whole.numel() // whole.shape[1], dtype=np.int64))


def _sync_variants():
    def per_shard(case):
        t = oracle.torch()
        (shards,) = case.args
        full = [s for s in shards if s.shape[0]]
        if len(full) < 2:
            return None
        return [t.from_numpy(s) for s in full]

    def dims(x):
        return [0] + list(range(2, x.dim()))

    def mean_of_means(case):
        parts = per_shard(case)
        if parts is None or len({p.shape[0] for p in parts}) == 1:
            return None
        ref = _sync_reference(case)
        t = oracle.torch()
        mean = t.stack([p.mean(dim=dims(p)) for p in parts]).mean(dim=0)
        return (mean.numpy(),) + ref[1:]

    def mean_of_vars(case):
        parts = per_shard(case)
        if parts is None:
            return None
        ref = _sync_reference(case)
        t = oracle.torch()
        counts = t.tensor([float(p.numel() // p.shape[1]) for p in parts], dtype=t.float64)
        var = (t.stack([p.var(dim=dims(p), unbiased=False) for p in parts])
               * counts[:, None]).sum(dim=0) / counts.sum()
        n = float(counts.sum())
        return ref[0], var.numpy(), (var * n / (n - 1)).numpy(), ref[3]

    def count_without_spatial(case):
        (shards,) = case.args
        if shards[0].ndim == 2:
            return None
        ref = _sync_reference(case)
        n = sum(s.shape[0] for s in shards)
        if n <= 1:
            return None
        return ref[0], ref[1], ref[1] * n / (n - 1), np.asarray(n, dtype=np.int64)

    def swapped(case):
        ref = _sync_reference(case)
        return ref[0], ref[2], ref[1], ref[3]

    return [
        Variant("mean of the shard means", "shards of different sizes: weight each shard's "
                "mean by its count (sum all values, divide by the total count), do not "
                "average the means", mean_of_means),
        Variant("mean of the shard variances", "the variance of the whole batch also "
                "includes how far the shard means are from the global mean: combine "
                "sums of squares (or Chan's M2 + delta² · n_a · n_b / n), not the variances",
                mean_of_vars),
        Variant("count without spatial positions", "count is the number of values per "
                "channel: N · H · W (every spatial position), not the batch size N",
                count_without_spatial),
        Variant("biased and unbiased swapped", "return (mean, biased var (÷ n), unbiased "
                "var (÷ (n - 1)), count), in that order", swapped),
    ]


def _sync_visible(rng):
    return [
        sync_case(rng, (2, 2), note="two shards of equal size"),
        sync_case(rng, (1, 3, 2), c=2, spatial=(4,), note="three shards of different sizes"),
    ]


def _sync_hidden(rng):
    out = []
    for spatial in ((), (5,), (2, 3), (2, 2, 2)):
        for _ in range(3):
            sizes = tuple(int(v) for v in rng.integers(1, 5, int(rng.integers(1, 5))))
            out.append(sync_case(rng, sizes, c=int(rng.integers(1, 5)), spatial=spatial,
                                 note=f"{2 + len(spatial)}-D shards, batch sizes {sizes}"))
    out += [
        sync_case(rng, (3, 0, 2), note="one shard is empty (batch size 0)"),
        sync_case(rng, (1, 1, 1, 1), spatial=(), note="one sample per shard, (N, C) shards"),
        sync_case(rng, (1,), spatial=(3, 3), note="a single shard of batch size 1"),
        sync_case(rng, (1,), spatial=(), note="one value per channel in total (torch refuses)"),
    ]
    bad = sync_case(rng, (2, 2), note="shards with different channel counts (torch refuses)")
    bad.args = ([bad.args[0][0], rng.standard_normal((2, 4, 2, 3))],)
    return out + [bad]


register(Exercise(
    name="sync_batch_norm_stats", arg_names=SYNC_ARGS, visible=_sync_visible,
    hidden=_sync_hidden, reference=_one_thread(_sync_reference), bugs=_sync_variants(),
))


# sync_batch_norm: the whole layer over shards ------------------------------------------
SYNC_BN_ARGS = ("shards", "running_mean", "running_var", "weight", "bias", "momentum", "eps")


def sync_bn_case(rng, sizes, c=3, spatial=(2, 3), *, running=True, weight=True, bias=True,
                 momentum=None, eps=None, note="") -> Case:
    base = sync_case(rng, sizes, c, spatial)
    kwargs = {}
    if weight:
        kwargs["weight"] = rng.normal(1.0, 0.5, c)
    if bias:
        kwargs["bias"] = rng.normal(0.0, 1.0, c)
    if momentum is not None:
        kwargs["momentum"] = momentum
    if eps is not None:
        kwargs["eps"] = eps
    rm = rng.normal(0.0, 1.0, c) if running else None
    rv = rng.uniform(0.5, 2.0, c) if running else None
    return Case((base.args[0], rm, rv), kwargs, note=note or f"shard batch sizes {tuple(sizes)}")


def _sync_bn_run(fn, case):
    args, kwargs = copy.deepcopy(case.args), copy.deepcopy(case.kwargs)
    out = fn(*args, **kwargs)
    outs = tuple(out) if isinstance(out, (list, tuple)) else (out,)
    # The count comes first: a one-shard answer stays a tuple, and a wrong count is named.
    outs = (np.asarray(len(outs)),) + outs
    if case.args[1] is None:
        return outs
    return outs + (args[1], args[2])


def _sync_bn_torch(case, bug=None):
    """The layer on the concatenated batch, split back into shards; or one named bug."""
    t = oracle.torch()
    F = oracle.F()
    shards, rm, rv = case.args
    k = case.kwargs
    weight, bias = oracle.to_torch(k.get("weight")), oracle.to_torch(k.get("bias"))
    momentum, eps = k.get("momentum", 0.1), k.get("eps", 1e-5)
    parts = [t.from_numpy(s) for s in shards]
    whole = t.cat(parts)
    rm_t, rv_t = oracle.to_torch(rm), oracle.to_torch(rv)
    factor = 1.0 - momentum if bug == "momentum 0.9" else momentum
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        old_rv = None if rv_t is None else rv_t.clone()
        y = F.batch_norm(whole, rm_t, rv_t, weight, bias, True, factor, eps)
        outs = list(t.split(y, [s.shape[0] for s in shards]))
        if bug == "per-shard statistics":
            outs = [F.batch_norm(p, None, None, weight, bias, True, 0.0, eps) if p.shape[0] else o
                    for p, o in zip(parts, outs)]
        if rm_t is not None:
            dims = [0] + list(range(2, whole.dim()))
            if bug == "biased running var":
                rv_t.copy_((1 - factor) * old_rv + factor * whole.var(dim=dims, unbiased=False))
            if bug == "once per shard":
                rm_t, rv_t = oracle.to_torch(rm), oracle.to_torch(rv)
                for p in parts:
                    if p.shape[0]:
                        F.batch_norm(p, rm_t, rv_t, None, None, True, factor, eps)
            if bug == "not in place":
                rm_t, rv_t = oracle.to_torch(rm), oracle.to_torch(rv)
    result = (np.asarray(len(outs)),) + tuple(oracle.to_numpy(o) for o in outs)
    if rm is None:
        return result
    return result + (oracle.to_numpy(rm_t), oracle.to_numpy(rv_t))


def _sync_bn_diagnose(case, got, expected):
    if isinstance(got, tuple) and got and int(np.asarray(got[0])) != int(expected[0]):
        return (f"return a list with one normalized array per shard ({int(expected[0])} "
                f"here), in the order of `shards`")
    return None


def _sync_bn_reference(case):
    return _sync_bn_torch(case)


def _sync_bn_variant(bug, applies):
    def compute(case):
        if not applies(case):
            return None
        try:
            return _sync_bn_torch(case, bug)
        except (ValueError, RuntimeError):
            return None
    return compute


def _several_shards(case):
    return sum(1 for s in case.args[0] if s.shape[0]) > 1


def _sync_tracks(case):
    return case.args[1] is not None


SYNC_BN_VARIANTS = [
    Variant("per-shard statistics", "each shard was normalized with its own statistics, as "
            "plain BatchNorm on each device would: SyncBatchNorm normalizes every shard with "
            "the statistics of the WHOLE batch (your sync_batch_norm_stats)",
            _sync_bn_variant("per-shard statistics", _several_shards)),
    Variant("running statistics once per shard", "the running statistics are updated once "
            "per step, with the global statistics, not once per shard",
            _sync_bn_variant("once per shard", lambda c: _several_shards(c) and _sync_tracks(c))),
    Variant("momentum 0.9 convention", "torch's momentum is the weight of the NEW batch: "
            "running = (1 - momentum) * running + momentum * batch_stat",
            _sync_bn_variant("momentum 0.9",
                             lambda c: _sync_tracks(c) and c.kwargs.get("momentum", 0.1) != 0.5)),
    Variant("biased running variance", "running_var is updated with the UNBIASED variance of "
            "the whole batch (÷ (count - 1))",
            _sync_bn_variant("biased running var", _sync_tracks)),
    Variant("running statistics not updated in place", "running_mean and running_var must "
            "be updated IN PLACE (running_mean[...] = ...), as torch does",
            _sync_bn_variant("not in place", _sync_tracks)),
]


def _sync_bn_visible(rng):
    return [
        sync_bn_case(rng, (2, 2), note="two shards of equal size, running statistics"),
        sync_bn_case(rng, (1, 3, 2), c=2, spatial=(4,), momentum=0.3, eps=0.01,
                     note="three shards of different sizes, momentum=0.3, eps=0.01"),
        sync_bn_case(rng, (1, 1), c=2, spatial=(), running=False, weight=False, bias=False,
                     note="two (1, C) shards: one sample each, no running statistics"),
    ]


def _sync_bn_hidden(rng):
    out = []
    for spatial, momentum in itertools.product(((), (5,), (2, 3), (2, 2, 2)), (0.1, 0.0, 1.0, 0.42)):
        sizes = tuple(int(v) for v in rng.integers(1, 4, int(rng.integers(1, 5))))
        weight, bias = bool(rng.integers(0, 3)), bool(rng.integers(0, 3))
        running = bool(rng.integers(0, 4))
        eps = [1e-5, 1e-3, 0.5][int(rng.integers(0, 3))]
        if sum(sizes) * int(np.prod(spatial)) < 2:
            sizes = sizes + (1,)
        out.append(sync_bn_case(rng, sizes, c=int(rng.integers(1, 4)), spatial=spatial,
                                momentum=momentum, eps=eps, weight=weight, bias=bias,
                                running=running,
                                note=f"{2 + len(spatial)}-D shards {sizes}, momentum={momentum}, "
                                     f"eps={eps}, weight={'yes' if weight else 'None'}, "
                                     f"bias={'yes' if bias else 'None'}"
                                     + ("" if running else ", running stats None")))
    out += [
        sync_bn_case(rng, (2, 0, 3), note="one device got an empty shard"),
        sync_bn_case(rng, (1,), spatial=(2, 2), note="a single device, batch size 1"),
        sync_bn_case(rng, (1,), spatial=(), note="one value per channel in the whole batch "
                     "(torch refuses)"),
        sync_bn_case(rng, (2, 2), eps=0.0, note="eps=0 (torch refuses in training)"),
    ]
    return out


register(Exercise(
    name="sync_batch_norm", arg_names=SYNC_BN_ARGS, visible=_sync_bn_visible,
    hidden=_sync_bn_hidden, reference=_one_thread(_sync_bn_reference), bugs=SYNC_BN_VARIANTS,
    run=_sync_bn_run, diagnose=_sync_bn_diagnose,
))
