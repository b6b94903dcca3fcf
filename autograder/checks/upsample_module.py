"""Chapter 06b — the Upsample module: interpolate behind an nn.Module-like class.

The student's class is built with a case's options and called on its input; torch's
``nn.Upsample`` with the same options gives the expected output. The known bugs are
options not passed on to interpolate, computed with torch's module.
"""
from __future__ import annotations

import numpy as np

from .. import oracle
from ..exercise import Bug, Case, Exercise, refused, register
from .upsample_interpolate import INTERPOLATING, MODE_DIMS, NEAREST, SCALE_FROM_SIZES_HINT

UPSAMPLE_ARGS = ("size", "scale_factor", "mode", "align_corners", "recompute_scale_factor")


def upsample_case(rng: np.random.Generator, shape: tuple, note="", **options) -> Case:
    """Upsample(**options) applied to a random input of ``shape`` (kept in ``extra``)."""
    return Case((), options, note=note or ", ".join(f"{k}={v!r}" for k, v in options.items()),
                extra={"x": rng.standard_normal(shape)})


def _run(cls, case):
    module = cls(**case.kwargs)
    return module(case.extra["x"].copy())


def _reference(case):
    module = oracle.torch().nn.Upsample(**case.kwargs)
    return oracle.call(module, case.extra["x"])


def _visible(rng):
    return [
        upsample_case(rng, (4, 32, 14, 14), scale_factor=2, mode="bilinear", align_corners=False,
                      note="Upsample(scale_factor=2, mode='bilinear', align_corners=False): "
                           "14 → 28"),
        upsample_case(rng, (1, 2, 3), size=5, note="defaults: nearest to size 5"),
    ]


def _hidden(rng):
    out = []
    for mode, dims in MODE_DIMS.items():
        for d in dims:
            shape = (int(rng.integers(1, 3)), 2) + tuple(int(v) for v in rng.integers(2, 6, size=d))
            align = bool(rng.integers(2)) if mode in INTERPOLATING else None
            options = {"mode": mode}
            if align is not None:
                options["align_corners"] = align
            if rng.integers(2):
                options["size"] = tuple(int(v) for v in rng.integers(1, 8, size=d))
            else:
                options["scale_factor"] = float(rng.choice([1.5, 2.0, 1.7, 0.6]))
                if mode not in ("area",) and rng.integers(2):
                    options["recompute_scale_factor"] = True
            out.append(upsample_case(rng, shape, **options))
    out += [
        upsample_case(rng, (1, 1, 4, 5), scale_factor=(1.5, 2.3), mode="bicubic",
                      note="per-axis scale_factor, bicubic"),
        upsample_case(rng, (2, 1, 3, 4), size=(5, 7), mode="bilinear", align_corners=True,
                      note="bilinear, align_corners=True (what UpsamplingBilinear2d does)"),
        upsample_case(rng, (1, 2, 4), scale_factor=2, mode="linear", align_corners=True),
        upsample_case(rng, (1, 2, 5), scale_factor=1.7, mode="linear",
                      recompute_scale_factor=True,
                      note="recompute_scale_factor=True: the scale is 5/8, not 1/1.7"),
        refused(upsample_case(rng, (1, 1, 4, 4), scale_factor=2, mode="nearest",
                              align_corners=True, note="align_corners with nearest"),
                "when called: align_corners belongs to the interpolating modes"),
    ]
    return out


def _module_with(case: Case, **changes):
    """torch's module built with some options changed, on the case's input."""
    return _reference(Case((), dict(case.kwargs, **changes), extra=case.extra))


BUGS = [
    # nearest-exact and nearest often agree with a scale bug: no hint there
    Bug("module-ignores-mode",
        "the module ignores `mode`: it must pass it on to interpolate (the default is "
        "'nearest')",
        lambda case: _module_with(case, mode="nearest", align_corners=None),
        when=lambda case: case.kwargs.get("mode", "nearest") not in NEAREST),
    Bug("module-ignores-align-corners",
        "the module ignores align_corners: pass it on to interpolate",
        lambda case: _module_with(case, align_corners=False),
        when=lambda case: bool(case.kwargs.get("align_corners"))),
    Bug("module-ignores-recompute-scale-factor",
        "the module ignores recompute_scale_factor: pass it on to interpolate",
        lambda case: _module_with(case, recompute_scale_factor=None),
        when=lambda case: bool(case.kwargs.get("recompute_scale_factor"))),
    Bug("scale-from-sizes", SCALE_FROM_SIZES_HINT,
        lambda case: _module_with(case, recompute_scale_factor=True),
        when=lambda case: case.kwargs.get("scale_factor") is not None
        and not case.kwargs.get("recompute_scale_factor") and case.kwargs.get("mode") != "area"),
]


register(Exercise(
    name="Upsample", arg_names=UPSAMPLE_ARGS, visible=_visible, hidden=_hidden,
    reference=_reference, bugs=BUGS, run=_run,
))
