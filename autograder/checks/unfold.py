"""Chapter 03 — Fold and Unfold: unfold (im2col), fold (col2im), conv2d through unfold and
a matrix product, and the matrix of a convolution.

Expected values come from ``torch.nn.functional.unfold`` / ``fold`` / ``conv2d``; the
matrix of a convolution is measured by running torch's conv2d on unit basis images.
Known-wrong variants are computed with torch too.
"""
from __future__ import annotations

import itertools

import numpy as np

from .. import oracle
from ..exercise import Case, Exercise, Variant, register
from . import groups as _groups


def _pair(value):
    return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _out_size(size, k, d, p, s):
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def _options(dilation, padding, stride):
    kwargs = {}
    for name, value, default in (("dilation", dilation, 1), ("padding", padding, 0),
                                 ("stride", stride, 1)):
        if value != default:
            kwargs[name] = value
    return kwargs


# unfold -------------------------------------------------------------------------------
UNFOLD_ARGS = ("input", "kernel_size", "dilation", "padding", "stride")


def unfold_case(rng, shape, kernel_size, dilation=1, padding=0, stride=1, note=""):
    x = rng.standard_normal(shape)
    return Case((x, kernel_size), _options(dilation, padding, stride),
                note=note or f"kernel_size={kernel_size!r}, dilation={dilation!r}, "
                             f"padding={padding!r}, stride={stride!r}")


def _unfold_visible(rng):
    return [
        unfold_case(rng, (1, 1, 4, 4), 2, note="one 4×4 channel, 2×2 windows"),
        unfold_case(rng, (2, 3, 5, 4), (2, 3), note="three channels, a 2×3 kernel"),
        unfold_case(rng, (1, 2, 5, 5), 3, padding=1, stride=2, note="padding 1, stride 2"),
        unfold_case(rng, (1, 2, 7, 6), 2, dilation=2, note="dilation 2"),
    ]


def _unfold_hidden(rng):
    out = []
    kernels = [1, 2, 3, (2, 3)]
    dilations = [1, 2, (1, 3)]
    paddings = [0, 1, (2, 0)]
    strides = [1, 2, (2, 1)]
    for k, d, p, s in itertools.product(kernels, dilations, paddings, strides):
        if rng.random() < 0.5:
            continue
        kh, kw = _pair(k)
        dh, dw = _pair(d)
        h = int(rng.integers(max(dh * (kh - 1) + 1 - 2, 2), 9))
        w = int(rng.integers(max(dw * (kw - 1) + 1 - 2, 2), 9))
        ph, pw = _pair(p)
        if _out_size(h, kh, dh, ph, 1) < 1 or _out_size(w, kw, dw, pw, 1) < 1:
            h, w = h + 4, w + 4
        batched = bool(rng.integers(0, 4))
        shape = ((int(rng.integers(1, 3)),) if batched else ()) + (int(rng.integers(1, 4)), h, w)
        out.append(unfold_case(rng, shape, k, d, p, s))
    out += [
        unfold_case(rng, (2, 3, 4, 5), (4, 5), note="kernel as large as the input: L = 1"),
        unfold_case(rng, (1, 1, 1, 1), 1, note="size-1 everything"),
        unfold_case(rng, (3, 5, 6), (2, 2), stride=2, note="unbatched (C, H, W) input"),
        unfold_case(rng, (2, 2, 6, 7), 3, padding=1, note="padding = k // 2 keeps H × W positions"),
        unfold_case(rng, (1, 2, 5, 5), 3, dilation=2, note="dilated kernel exactly as large as the input"),
        unfold_case(rng, (1, 1, 3, 3), 5, padding=1, note="kernel larger than the input, padding makes it fit"),
        # Refused by torch: the student must raise ValueError.
        unfold_case(rng, (1, 1, 3, 3, 3), 2, note="5-D input (torch refuses: 3-D or 4-D only)"),
        unfold_case(rng, (4, 4), 2, note="2-D input (torch refuses: 3-D or 4-D only)"),
        unfold_case(rng, (1, 1, 3, 3), 4, note="kernel larger than the input (torch refuses)"),
        unfold_case(rng, (1, 1, 5, 5), 3, dilation=3, note="dilated kernel larger than the input (torch refuses)"),
        unfold_case(rng, (1, 1, 4, 4), 2, stride=0, note="stride 0 (torch refuses)"),
        unfold_case(rng, (1, 1, 4, 4), 2, dilation=0, note="dilation 0 (torch refuses)"),
        unfold_case(rng, (1, 1, 4, 4), 2, padding=-1, note="negative padding (torch refuses)"),
    ]
    return out


def _unfold_reference(case):
    return oracle.call(oracle.F().unfold, *case.args, **case.kwargs)


def _unfold_geometry(case):
    x, k = case.args
    kh, kw = _pair(k)
    n_c = x.shape[:-2]
    dh, dw = _pair(case.kwargs.get("dilation", 1))
    ph, pw = _pair(case.kwargs.get("padding", 0))
    sh, sw = _pair(case.kwargs.get("stride", 1))
    oh, ow = _out_size(x.shape[-2], kh, dh, ph, sh), _out_size(x.shape[-1], kw, dw, pw, sw)
    return n_c, (kh, kw), (oh, ow)


def _unfold_variants():
    def reordered(case, order):
        """Torch's unfold, its rows/columns viewed as (N, C, kh, kw, oh, ow), permuted."""
        out = _unfold_reference(case)
        n_c, (kh, kw), (oh, ow) = _unfold_geometry(case)
        batched = len(n_c) == 2
        full = out if batched else out[None]
        n, c = full.shape[0], full.shape[1] // (kh * kw)
        six = full.reshape(n, c, kh, kw, oh, ow).transpose(order)
        result = six.reshape(n, -1, oh * ow)
        if np.array_equal(result, full):
            return None
        return result if batched else result[0]

    def without(case, name):
        """Torch's unfold with one option back at its default (1 or 0)."""
        if name not in case.kwargs:
            return None
        kwargs = {k: v for k, v in case.kwargs.items() if k != name}
        return _unfold_reference(Case(case.args, kwargs))

    def one_sided(case):
        x, k = case.args
        ph, pw = _pair(case.kwargs.get("padding", 0))
        if ph == pw == 0:
            return None
        padded = oracle.call(oracle.F().pad, x, (0, 2 * pw, 0, 2 * ph))
        return _unfold_reference(Case((padded, k), dict(case.kwargs, padding=0)))

    return [
        Variant("channel last in the rows", "the rows of unfold's output are ordered "
                "(C, kH, kW): channel slowest, kernel column fastest; you put the channel "
                "fastest", lambda case: reordered(case, (0, 2, 3, 1, 4, 5))),
        Variant("kernel offsets transposed", "within a channel the kernel offsets run row by "
                "row (kH slower than kW); you ran them column by column",
                lambda case: reordered(case, (0, 1, 3, 2, 4, 5))),
        Variant("positions column by column", "the L axis lists the window positions row by "
                "row (H_out slower than W_out); you listed them column by column",
                lambda case: reordered(case, (0, 1, 2, 3, 5, 4))),
        Variant("dilation ignored", "dilation is ignored: the kernel offsets inside a window "
                "are multiples of dilation (a k-tap kernel spans dilation·(k − 1) + 1)",
                lambda case: without(case, "dilation")),
        Variant("stride ignored", "the stride is ignored: window starts are `stride` apart",
                lambda case: without(case, "stride")),
        Variant("padding ignored", "padding is ignored: pad `padding` zeros on both sides of "
                "H and W before taking windows", lambda case: without(case, "padding")),
        Variant("padding on one side", "you padded one side only (2·padding at the end): "
                "torch pads `padding` on both sides", one_sided),
    ]


register(Exercise(
    name="unfold", arg_names=UNFOLD_ARGS, visible=_unfold_visible, hidden=_unfold_hidden,
    reference=_unfold_reference, bugs=_unfold_variants(),
))


# fold ---------------------------------------------------------------------------------
FOLD_ARGS = ("input", "output_size", "kernel_size", "dilation", "padding", "stride")


def fold_case(rng, n, c, output_size, kernel_size, dilation=1, padding=0, stride=1,
              batched=True, rows=None, length=None, note=""):
    """A fold call whose input fits the geometry (unless rows / length override it)."""
    (h, w), (kh, kw) = _pair(output_size), _pair(kernel_size)
    (dh, dw), (ph, pw), (sh, sw) = _pair(dilation), _pair(padding), _pair(stride)
    count = 1
    if min(sh, sw) > 0:
        count = max(_out_size(h, kh, dh, ph, sh), 0) * max(_out_size(w, kw, dw, pw, sw), 0)
    shape = ((n,) if batched else ()) + (rows or c * kh * kw, length or max(count, 1))
    x = rng.standard_normal(shape)
    return Case((x, output_size, kernel_size), _options(dilation, padding, stride),
                note=note or f"output_size={output_size!r}, kernel_size={kernel_size!r}, "
                             f"dilation={dilation!r}, padding={padding!r}, stride={stride!r}")


def _fold_visible(rng):
    return [
        fold_case(rng, 1, 1, (3, 3), 2, note="2×2 patches of a 3×3 image: overlaps are summed"),
        fold_case(rng, 2, 3, (4, 4), 2, stride=2, note="non-overlapping 2×2 patches"),
        fold_case(rng, 1, 2, (5, 4), (3, 2), padding=1, note="padding 1 is cropped away"),
        fold_case(rng, 1, 1, (6, 6), 2, dilation=2, note="dilation 2"),
    ]


def _fold_hidden(rng):
    out = []
    kernels = [1, 2, 3, (3, 2)]
    dilations = [1, 2, (2, 1)]
    paddings = [0, 1, (0, 2)]
    strides = [1, 2, (1, 3)]
    for k, d, p, s in itertools.product(kernels, dilations, paddings, strides):
        if rng.random() < 0.5:
            continue
        (kh, kw), (dh, dw) = _pair(k), _pair(d)
        h = int(rng.integers(max(dh * (kh - 1) + 1, 2), 9))
        w = int(rng.integers(max(dw * (kw - 1) + 1, 2), 9))
        size = (h, w) if rng.integers(0, 3) else h
        if not isinstance(size, tuple):
            w = h
        out.append(fold_case(rng, int(rng.integers(1, 3)), int(rng.integers(1, 4)), size, k,
                             d, p, s, batched=bool(rng.integers(0, 4))))
    out += [
        fold_case(rng, 2, 2, (4, 5), (4, 5), note="one patch as large as the output (L = 1)"),
        fold_case(rng, 1, 1, (1, 1), 1, note="size-1 everything"),
        fold_case(rng, 1, 3, (6, 5), 3, batched=False, padding=1, note="unbatched (C·kH·kW, L) input"),
        fold_case(rng, 2, 2, (7, 7), 3, stride=1, note="stride 1, 3×3: up to 9 patches overlap"),
        fold_case(rng, 1, 2, (5, 7), 3, stride=2, padding=1, dilation=2, note="everything at once"),
        fold_case(rng, 1, 1, (3, 3), 2, stride=3, note="stride larger than the kernel: gaps stay 0"),
        # Refused by torch: the student must raise ValueError.
        fold_case(rng, 1, 1, (3, 3), 2, rows=5, note="C·kH·kW = 5 is not a multiple of 4 (torch refuses)"),
        fold_case(rng, 1, 1, (3, 3), 2, length=5, note="L = 5, but (3, 3) with 2×2 patches has 4 (torch refuses)"),
        fold_case(rng, 1, 1, (1, 1), 2, length=1, note="output smaller than the kernel (torch refuses)"),
        fold_case(rng, 1, 1, (4, 4), 2, stride=0, length=1, note="stride 0 (torch refuses)"),
        Case((rng.standard_normal((1, 1, 4, 4)), (3, 3), 2), {},
             note="4-D input (torch refuses: 2-D or 3-D only)"),
    ]
    return out


def _fold_reference(case):
    return oracle.call(oracle.F().fold, *case.args, **case.kwargs)


def _fold_variants():
    def permuted_input(case, order):
        """fold of an input whose rows/columns a wrong reading would take in another order."""
        x, output_size, k = case.args
        (kh, kw) = _pair(k)
        (h, w) = _pair(output_size)
        (dh, dw), (ph, pw), (sh, sw) = (_pair(case.kwargs.get(n, dflt)) for n, dflt in
                                        (("dilation", 1), ("padding", 0), ("stride", 1)))
        oh, ow = _out_size(h, kh, dh, ph, sh), _out_size(w, kw, dw, pw, sw)
        full = x if x.ndim == 3 else x[None]
        n, rows, length = full.shape
        c = rows // (kh * kw)
        dims = {"c": c, "kh": kh, "kw": kw, "oh": oh, "ow": ow}
        # The student reads index (read order) where torch stores (store order).
        store = ("c", "kh", "kw", "oh", "ow")
        read = order
        arranged = full.reshape((n,) + tuple(dims[a] for a in read))
        perm = (0,) + tuple(1 + read.index(a) for a in store)
        fixed = arranged.transpose(perm).reshape(n, rows, length)
        if np.array_equal(fixed, full):
            return None
        return _fold_reference(Case((fixed if x.ndim == 3 else fixed[0], output_size, k), case.kwargs))

    def averaged(case):
        t = oracle.torch()
        summed = _fold_reference(case)
        ones = Case((np.ones_like(case.args[0]),) + case.args[1:], case.kwargs)
        counts = _fold_reference(ones)
        if counts.max() <= 1:
            return None
        return (t.from_numpy(summed) / t.from_numpy(np.maximum(counts, 1))).numpy()

    def overwritten(case):
        """Patches written one after another (row by row), each overwriting the last."""
        t = oracle.torch()
        x, output_size, k = case.args
        (kh, kw), (h, w) = _pair(k), _pair(output_size)
        (dh, dw), (ph, pw), (sh, sw) = (_pair(case.kwargs.get(n, dflt)) for n, dflt in
                                        (("dilation", 1), ("padding", 0), ("stride", 1)))
        oh, ow = _out_size(h, kh, dh, ph, sh), _out_size(w, kw, dw, pw, sw)
        cols = t.from_numpy(x if x.ndim == 3 else x[None])
        n, rows, _ = cols.shape
        c = rows // (kh * kw)
        patches = cols.reshape(n, c, kh, kw, oh, ow)
        out = t.zeros(n, c, h + 2 * ph, w + 2 * pw, dtype=cols.dtype)
        for i in range(oh):
            for j in range(ow):
                out[:, :, i * sh: i * sh + dh * (kh - 1) + 1: dh,
                    j * sw: j * sw + dw * (kw - 1) + 1: dw] = patches[..., i, j]
        out = out[:, :, ph: ph + h, pw: pw + w].numpy()
        counts = _fold_reference(Case((np.ones_like(x),) + case.args[1:], case.kwargs))
        if counts.max() <= 1:
            return None
        return out if x.ndim == 3 else out[0]

    def uncropped(case):
        ph, pw = _pair(case.kwargs.get("padding", 0))
        if ph == pw == 0:
            return None
        x, (h, w), k = case.args[0], _pair(case.args[1]), case.args[2]
        # Fold into the padded size and keep it: what torch gives for a bigger output, unpadded.
        return _fold_reference(Case((x, (h + 2 * ph, w + 2 * pw), k), dict(case.kwargs, padding=0)))

    return [
        Variant("overlaps overwritten", "fold sums the values of overlapping patches; you "
                "overwrote them (the last patch written wins)", overwritten),
        Variant("overlaps averaged", "fold sums the values of overlapping patches; you "
                "averaged them (that is fold(x) / fold(ones), not fold(x))", averaged),
        Variant("channel last in the rows", "the rows of fold's input are ordered (C, kH, kW): "
                "channel slowest; you read the channel fastest",
                lambda case: permuted_input(case, ("kh", "kw", "c", "oh", "ow"))),
        Variant("kernel offsets transposed", "within a channel the kernel offsets run row by "
                "row (kH slower than kW); you read them column by column",
                lambda case: permuted_input(case, ("c", "kw", "kh", "oh", "ow"))),
        Variant("positions column by column", "the L axis lists the patch positions row by "
                "row (H_out slower than W_out); you read them column by column",
                lambda case: permuted_input(case, ("c", "kh", "kw", "ow", "oh"))),
        Variant("padding not cropped", "fold works on the padded canvas, then crops "
                "`padding` from each side: the output is output_size", uncropped),
    ]


register(Exercise(
    name="fold", arg_names=FOLD_ARGS, visible=_fold_visible, hidden=_fold_hidden,
    reference=_fold_reference, bugs=_fold_variants(),
))


# conv2d through unfold ----------------------------------------------------------------
def _conv_visible(rng):
    case = _groups.gconv_case
    return [
        case(rng, 2, c_in=3, c_out=4, size=(6, 5), k=(3, 2), note="plain: unfold, matmul, reshape"),
        case(rng, 2, c_in=2, c_out=3, size=(7, 7), stride=2, padding=1, note="stride 2, padding 1"),
        case(rng, 2, c_in=2, c_out=2, size=(8, 7), dilation=2, bias=False, note="dilation 2"),
        case(rng, 2, c_in=4, c_out=6, groups=2, padding="same", note="groups=2, 'same'"),
    ]


def _conv_variants():
    def weight_flattened_channel_last(case):
        x, w, b = case.args
        if w.shape[1] == 1 or w.shape[2] * w.shape[3] == 1:
            return None
        scrambled = w.transpose(0, 2, 3, 1).reshape(w.shape).copy()
        return oracle.call(oracle.F().conv2d, x, scrambled, b, **case.kwargs)

    return _groups.conv_variants(2) + [
        Variant("weight flattened in another order", "weight.reshape(C_out, -1) already "
                "matches unfold's row order (C, kH, kW); you flattened the weight with the "
                "channel last", weight_flattened_channel_last),
    ]


register(Exercise(
    name="conv2d/unfold", arg_names=_groups.CONV_ARGS, visible=_conv_visible,
    hidden=_groups._hidden(2), reference=_groups._reference(2), bugs=_conv_variants(),
    diagnose=_groups._diagnose_shape(2),
))


# conv_matrix --------------------------------------------------------------------------
MATRIX_ARGS = ("weight", "input_size", "stride", "padding")


def matrix_case(rng, c_out, c_in, k, input_size, stride=1, padding=0, note=""):
    kh, kw = _pair(k)
    w = rng.standard_normal((c_out, c_in, kh, kw))
    kwargs = {}
    if stride != 1:
        kwargs["stride"] = stride
    if padding != 0:
        kwargs["padding"] = padding
    return Case((w, tuple(input_size)), kwargs,
                note=note or f"weight {w.shape}, input_size={tuple(input_size)}, "
                             f"stride={stride!r}, padding={padding!r}")


def _matrix_visible(rng):
    return [
        matrix_case(rng, 1, 1, 3, (4, 4), note="the 4×4 input, 3×3 kernel: a 4×16 matrix"),
        matrix_case(rng, 1, 1, 2, (3, 4), stride=(1, 2), note="a strided 2×2 kernel"),
        matrix_case(rng, 1, 1, 3, (3, 3), padding=1, note="padding 1: border taps fall off"),
        matrix_case(rng, 2, 3, (2, 1), (3, 2), note="channels: rows (C_out, H_out, W_out), columns (C_in, H, W)"),
    ]


def _matrix_hidden(rng):
    out = []
    for stride, padding in itertools.product((1, 2, (2, 1)), (0, 1, (0, 2))):
        for _ in range(2):
            k = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
            size = (int(rng.integers(max(k[0] - 1, 1), 6)), int(rng.integers(max(k[1] - 1, 1), 6)))
            ph, pw = _pair(padding)
            if size[0] + 2 * ph < k[0] or size[1] + 2 * pw < k[1]:
                size = (size[0] + 2, size[1] + 2)
            out.append(matrix_case(rng, int(rng.integers(1, 3)), int(rng.integers(1, 3)), k,
                                   size, stride, padding))
    out += [
        matrix_case(rng, 2, 2, (3, 4), (3, 4), note="kernel as large as the input: one row per output channel"),
        matrix_case(rng, 1, 1, 1, (1, 1), note="1×1 everything"),
        matrix_case(rng, 1, 2, 3, (1, 1), padding=1, note="a 1×1 input under a padded 3×3 kernel"),
        matrix_case(rng, 1, 1, 3, (2, 2), note="kernel larger than the input (torch refuses)"),
        matrix_case(rng, 1, 1, 2, (3, 3), stride=0, note="stride 0 (torch refuses)"),
        matrix_case(rng, 1, 1, 2, (3, 3), padding=-1, note="negative padding (torch refuses)"),
    ]
    return out


def _matrix_reference(case, weight=None, input_size=None, **changes):
    """Column j of C is conv2d of the j-th unit basis image (flattened as (C_in, H, W))."""
    t = oracle.torch()
    w = case.args[0] if weight is None else weight
    h, wd = case.args[1] if input_size is None else input_size
    kwargs = dict(case.kwargs, **changes)
    c_in = w.shape[1]
    basis = t.eye(c_in * h * wd, dtype=oracle.to_torch(w).dtype).reshape(-1, c_in, h, wd)
    out = oracle.call(oracle.F().conv2d, basis.numpy(), w, **kwargs)
    return out.reshape(out.shape[0], -1).T.copy()


def _matrix_geometry(case):
    w, (h, wd) = case.args
    (kh, kw), (sh, sw), (ph, pw) = (w.shape[2], w.shape[3]), _pair(case.kwargs.get("stride", 1)), \
        _pair(case.kwargs.get("padding", 0))
    return w.shape[0], w.shape[1], h, wd, _out_size(h, kh, 1, ph, sh), _out_size(wd, kw, 1, pw, sw)


def _matrix_variants():
    def flipped(case):
        w = case.args[0]
        if w.shape[2] * w.shape[3] == 1:
            return None
        return _matrix_reference(case, weight=w[..., ::-1, ::-1].copy())

    def columns_column_major(case):
        c_out, c_in, h, wd, oh, ow = _matrix_geometry(case)
        m = _matrix_reference(case)
        if h == 1 or wd == 1:
            return None
        return m.reshape(-1, c_in, h, wd).transpose(0, 1, 3, 2).reshape(m.shape[0], -1)

    def rows_channel_last(case):
        c_out, c_in, h, wd, oh, ow = _matrix_geometry(case)
        m = _matrix_reference(case)
        if c_out == 1 or oh * ow == 1:
            return None
        return m.reshape(c_out, oh, ow, -1).transpose(1, 2, 0, 3).reshape(m.shape)

    def stride_ignored(case):
        if case.kwargs.get("stride", 1) == 1:
            return None
        return _matrix_reference(case, stride=1)

    def padded_columns(case):
        ph, pw = _pair(case.kwargs.get("padding", 0))
        if ph == pw == 0:
            return None
        h, wd = case.args[1]
        return _matrix_reference(case, input_size=(h + 2 * ph, wd + 2 * pw), padding=0)

    def transposed(case):
        return _matrix_reference(case).T.copy()

    return [
        Variant("flipped kernel", "your kernel is flipped: conv2d is cross-correlation "
                "(互相关), row i of C holds w[p, q] at the input pixel (i·s + p, j·s + q)", flipped),
        Variant("columns column by column", "the columns of C follow x.flatten() of a "
                "(C_in, H, W) image, row by row: column c·H·W + r·W + q is pixel (c, r, q)",
                columns_column_major),
        Variant("rows channel last", "the rows of C follow y.flatten() of (C_out, H_out, "
                "W_out): output channel slowest", rows_channel_last),
        Variant("stride ignored", "the stride is ignored: output (i, j) reads the window "
                "starting at (i·stride, j·stride)", stride_ignored),
        Variant("columns for the padded input", "C multiplies the unpadded image: its "
                "columns are C_in·H·W pixels; padding zeros contribute nothing and get no "
                "column", padded_columns),
        Variant("transposed", "you returned Cᵀ: C has one row per output value and one "
                "column per input value, y = C @ x", transposed),
    ]


register(Exercise(
    name="conv_matrix", arg_names=MATRIX_ARGS, visible=_matrix_visible, hidden=_matrix_hidden,
    reference=_matrix_reference, bugs=_matrix_variants(),
))
