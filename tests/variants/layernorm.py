"""Chapter 09: one-bug versions of the reference answers, and the bug id each must be caught as."""
import numpy as np
from booktools import solution

from variants import pinned


def catalogue():
    ref = solution("09_layer_rms_norm")

    def _axes(x, normalized_shape):
        k = 1 if np.isscalar(normalized_shape) else len(normalized_shape)
        return tuple(range(x.ndim - k, x.ndim))

    def _ln(x, normalized_shape, weight, bias, eps, axes=None, ddof=0, eps_outside=False):
        ref.layer_norm(x, normalized_shape, weight, bias, eps)  # same refusals
        axes = _axes(x, normalized_shape) if axes is None else axes
        mean = x.mean(axis=axes, keepdims=True)
        var = x.var(axis=axes, keepdims=True, ddof=ddof)
        out = (x - mean) / (np.sqrt(var) + eps if eps_outside else np.sqrt(var + eps))
        if weight is not None:
            out = out * weight
        return out if bias is None else out + bias

    def unbiased(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        return _ln(x, normalized_shape, weight, bias, eps, ddof=1)

    def eps_outside(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        return _ln(x, normalized_shape, weight, bias, eps, eps_outside=True)

    def last_axis_only(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        return _ln(x, normalized_shape, weight, bias, eps, axes=(x.ndim - 1,))

    def over_batch(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        k = len(_axes(x, normalized_shape))
        axes = tuple(range(x.ndim - k)) if x.ndim > k else (0,)
        return _ln(x, normalized_shape, weight, bias, eps, axes=axes)

    def not_centred(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        ref.layer_norm(x, normalized_shape, weight, bias, eps)
        out = ref.rms_norm(x, normalized_shape, None, eps)
        if weight is not None:
            out = out * weight
        return out if bias is None else out + bias

    def affine_ignored(x, normalized_shape, weight=None, bias=None, eps=1e-5):
        ref.layer_norm(x, normalized_shape, weight, bias, eps)
        return ref.layer_norm(x, normalized_shape, None, None, eps)

    def _rms(x, normalized_shape, weight, eps, default=None, centre=False,
             eps_outside=False, axes=None, root=True):
        ref.rms_norm(x, normalized_shape, weight, eps)
        if eps is None:
            eps = np.finfo(x.dtype).eps if default is None else default
        axes = _axes(x, normalized_shape) if axes is None else axes
        if centre:
            x = x - x.mean(axis=axes, keepdims=True)
        ms = (x * x).mean(axis=axes, keepdims=True)
        denom = (np.sqrt(ms) + eps if eps_outside else np.sqrt(ms + eps)) if root else ms + eps
        out = x / denom
        return out if weight is None else out * weight

    def rms_eps_1e5(x, normalized_shape, weight=None, eps=None):
        return _rms(x, normalized_shape, weight, eps, default=1e-5)

    def rms_eps_float64(x, normalized_shape, weight=None, eps=None):
        return _rms(x, normalized_shape, weight, eps, default=np.finfo(np.float64).eps)

    def rms_centred(x, normalized_shape, weight=None, eps=None):
        return _rms(x, normalized_shape, weight, eps, centre=True)

    def rms_eps_outside(x, normalized_shape, weight=None, eps=None):
        return _rms(x, normalized_shape, weight, eps, eps_outside=True)

    def rms_last_axis(x, normalized_shape, weight=None, eps=None):
        return _rms(x, normalized_shape, weight, eps, axes=(x.ndim - 1,))

    def rms_no_root(x, normalized_shape, weight=None, eps=None):
        return _rms(x, normalized_shape, weight, eps, root=False)

    class LayerNormEpsOutside(ref.LayerNorm):
        def __call__(self, x):
            return eps_outside(x, self.normalized_shape, self.weight, self.bias, self.eps)

    class LayerNormUnbiased(ref.LayerNorm):
        def __call__(self, x):
            return unbiased(x, self.normalized_shape, self.weight, self.bias, self.eps)

    class RMSNormEps1e5(ref.RMSNorm):
        def __call__(self, x):
            return rms_eps_1e5(x, self.normalized_shape, self.weight, self.eps)

    class RMSNormCentred(ref.RMSNorm):
        def __call__(self, x):
            return rms_centred(x, self.normalized_shape, self.weight, self.eps)

    class RMSNormEpsOutside(ref.RMSNorm):
        def __call__(self, x):
            return rms_eps_outside(x, self.normalized_shape, self.weight, self.eps)

    return [
        ("layer_norm", unbiased, "unbiased-variance"),
        ("layer_norm", eps_outside, "eps-outside-the-square-root"),
        ("layer_norm", last_axis_only, "last-axis-only"),
        ("layer_norm", over_batch, "normalized-over-the-leading-axes"),
        ("layer_norm", not_centred, "mean-not-subtracted"),
        ("layer_norm", affine_ignored, "affine-ignored"),
        ("rms_norm", rms_eps_1e5, "eps-1e-5-by-default"),
        ("rms_norm", rms_eps_float64, "float64-eps-for-float32"),
        ("rms_norm", rms_centred, "mean-subtracted"),
        ("rms_norm", rms_eps_outside, "eps-outside-the-root-mean-square"),
        ("rms_norm", rms_last_axis, "last-axis-only"),
        ("rms_norm", rms_no_root, "square-root-missing"),
        ("LayerNorm", pinned(ref.LayerNorm, "always_affine", elementwise_affine=True),
         "parameters-with-elementwise-affine-false"),
        ("LayerNorm", pinned(ref.LayerNorm, "always_bias", bias=True), "bias-with-bias-false"),
        ("LayerNorm", LayerNormEpsOutside, "eps-outside-the-square-root"),
        ("LayerNorm", LayerNormUnbiased, "unbiased-variance"),
        ("RMSNorm", pinned(ref.RMSNorm, "always_affine", elementwise_affine=True),
         "parameters-with-elementwise-affine-false"),
        ("RMSNorm", RMSNormEps1e5, "eps-1e-5-by-default"),
        ("RMSNorm", RMSNormCentred, "mean-subtracted"),
        ("RMSNorm", RMSNormEpsOutside, "eps-outside-the-root-mean-square"),
    ]
