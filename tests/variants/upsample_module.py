"""Chapter 06b: one-bug versions of the Upsample module, and the bug each must be caught as."""
from booktools import solution


def catalogue():
    ref = solution("06_unpooling_upsampling")
    interpolate = ref.interpolate

    class UpsampleModeIgnored(ref.Upsample):
        def __call__(self, input):
            return interpolate(input, self.size, self.scale_factor, "nearest", None,
                               self.recompute_scale_factor)

    class UpsampleAlignIgnored(ref.Upsample):
        def __call__(self, input):
            align = None if self.align_corners is None else False
            return interpolate(input, self.size, self.scale_factor, self.mode, align,
                               self.recompute_scale_factor)

    class UpsampleRecomputeIgnored(ref.Upsample):
        def __call__(self, input):
            return interpolate(input, self.size, self.scale_factor, self.mode,
                               self.align_corners)

    class UpsampleScaleFromSizes(ref.Upsample):
        """Its interpolate always scales by in/out, as if recompute_scale_factor were True."""
        def __call__(self, input):
            recompute = self.recompute_scale_factor
            if self.scale_factor is not None and self.mode in ref._MODE_DIMS:
                recompute = True
            return interpolate(input, self.size, self.scale_factor, self.mode,
                               self.align_corners, recompute)

    return [
        ("Upsample", UpsampleModeIgnored, "module-ignores-mode"),
        ("Upsample", UpsampleAlignIgnored, "module-ignores-align-corners"),
        ("Upsample", UpsampleRecomputeIgnored, "module-ignores-recompute-scale-factor"),
        ("Upsample", UpsampleScaleFromSizes, "scale-from-sizes"),
    ]
