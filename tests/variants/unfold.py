"""Chapter 03: one-bug versions of the reference answers, and the bug each must be caught as."""
import numpy as np
from booktools import solution


def _named(fn, name):
    fn.__name__ = name
    return fn


def catalogue():
    ref = solution("03_fold_unfold")

    def pair(value):
        return ref._ntuple(value, 2)

    def _geometry(shape_hw, kernel_size, dilation, padding, stride):
        (kh, kw), (dh, dw), (ph, pw), (sh, sw) = map(pair, (kernel_size, dilation, padding, stride))
        h, w = shape_hw
        return (kh, kw), ((h + 2 * ph - dh * (kh - 1) - 1) // sh + 1,
                          (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1)

    # unfold ---------------------------------------------------------------------------
    def _unfold_permuted(order):
        def wrong(input, kernel_size, dilation=1, padding=0, stride=1):
            cols = ref.unfold(input, kernel_size, dilation, padding, stride)
            (kh, kw), (oh, ow) = _geometry(input.shape[-2:], kernel_size, dilation, padding, stride)
            full = cols if input.ndim == 4 else cols[None]
            n, c = full.shape[0], input.shape[-3]
            out = full.reshape(n, c, kh, kw, oh, ow).transpose(order).reshape(n, -1, oh * ow)
            return out if input.ndim == 4 else out[0]
        return wrong

    unfold_channel_last = _named(_unfold_permuted((0, 2, 3, 1, 4, 5)), "unfold_channel_last")
    unfold_kernel_transposed = _named(_unfold_permuted((0, 1, 3, 2, 4, 5)),
                                      "unfold_kernel_transposed")
    unfold_positions_by_column = _named(_unfold_permuted((0, 1, 2, 3, 5, 4)),
                                        "unfold_positions_by_column")

    def unfold_dilation_ignored(input, kernel_size, dilation=1, padding=0, stride=1):
        return ref.unfold(input, kernel_size, 1, padding, stride)

    def unfold_stride_ignored(input, kernel_size, dilation=1, padding=0, stride=1):
        return ref.unfold(input, kernel_size, dilation, padding, 1)

    def unfold_padding_ignored(input, kernel_size, dilation=1, padding=0, stride=1):
        return ref.unfold(input, kernel_size, dilation, 0, stride)

    def unfold_padding_one_side(input, kernel_size, dilation=1, padding=0, stride=1):
        ph, pw = pair(padding)
        if min(ph, pw) < 0:
            raise ValueError("negative padding")
        widths = [(0, 0)] * (input.ndim - 2) + [(0, 2 * ph), (0, 2 * pw)]
        return ref.unfold(np.pad(input, widths) if input.ndim in (3, 4) else input,
                          kernel_size, dilation, 0, stride)

    # fold -----------------------------------------------------------------------------
    def _fold_permuted(read):
        """Reads the rows/columns in the order `read` instead of (c, kh, kw, oh, ow)."""
        def wrong(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
            if input.ndim not in (2, 3):
                raise ValueError("2-D or 3-D only")
            (kh, kw), (oh, ow) = _geometry(pair(output_size), kernel_size, dilation, padding,
                                           stride)
            full = input if input.ndim == 3 else input[None]
            n, rows, length = full.shape
            if rows % (kh * kw) or oh * ow != length:
                raise ValueError("bad geometry")
            dims = {"c": rows // (kh * kw), "kh": kh, "kw": kw, "oh": oh, "ow": ow}
            store = ("c", "kh", "kw", "oh", "ow")
            arranged = full.reshape((n,) + tuple(dims[a] for a in read))
            order = (0,) + tuple(1 + read.index(a) for a in store)
            fixed = arranged.transpose(order).reshape(full.shape)
            return ref.fold(fixed if input.ndim == 3 else fixed[0], output_size, kernel_size,
                            dilation, padding, stride)
        return wrong

    fold_channel_last = _named(_fold_permuted(("kh", "kw", "c", "oh", "ow")), "fold_channel_last")
    fold_kernel_transposed = _named(_fold_permuted(("c", "kw", "kh", "oh", "ow")),
                                    "fold_kernel_transposed")
    fold_positions_by_column = _named(_fold_permuted(("c", "kh", "kw", "ow", "oh")),
                                      "fold_positions_by_column")

    def fold_overwrites(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
        """Writes the patches one after another; where they overlap, the last one wins."""
        ref.fold(input, output_size, kernel_size, dilation, padding, stride)  # same refusals
        (h, w) = pair(output_size)
        (kh, kw), (oh, ow) = _geometry((h, w), kernel_size, dilation, padding, stride)
        (dh, dw), (ph, pw), (sh, sw) = pair(dilation), pair(padding), pair(stride)
        full = input if input.ndim == 3 else input[None]
        n, rows, _ = full.shape
        patches = full.reshape(n, rows // (kh * kw), kh, kw, oh, ow)
        canvas = np.zeros((n, rows // (kh * kw), h + 2 * ph, w + 2 * pw))
        for i in range(oh):
            for j in range(ow):
                canvas[:, :, i * sh: i * sh + dh * (kh - 1) + 1: dh,
                       j * sw: j * sw + dw * (kw - 1) + 1: dw] = patches[..., i, j]
        out = canvas[:, :, ph: ph + h, pw: pw + w]
        return out if input.ndim == 3 else out[0]

    def fold_averages(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
        summed = ref.fold(input, output_size, kernel_size, dilation, padding, stride)
        counts = ref.fold(np.ones_like(input), output_size, kernel_size, dilation, padding, stride)
        return summed / np.maximum(counts, 1)

    def fold_uncropped(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
        (h, w), (ph, pw) = pair(output_size), pair(padding)
        return ref.fold(input, (h + 2 * ph, w + 2 * pw), kernel_size, dilation, 0, stride)

    # conv2d through unfold --------------------------------------------------------------
    def _strided(c, g):
        return np.concatenate([np.arange(j, c, g) for j in range(g)])

    def conv_mixed_groups(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        if groups >= 1 and x.shape[-3] % groups == 0:
            x = np.take(x, _strided(x.shape[-3], groups), axis=-3)
        return ref.conv2d(x, w, b, stride, padding, dilation, groups)

    def conv_output_interleaved(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        """Output channel o is computed by group o % G."""
        if groups < 1 or w.shape[0] % groups:
            return ref.conv2d(x, w, b, stride, padding, dilation, groups)
        perm = _strided(w.shape[0], groups)
        out = ref.conv2d(x, w[perm], None if b is None else b[perm], stride, padding, dilation,
                         groups)
        return np.take(out, np.argsort(perm), axis=-3)

    def conv_dilation_ignored(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        return ref.conv2d(x, w, b, stride, padding, 1, groups)

    def conv_dilation_plus_one(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        return ref.conv2d(x, w, b, stride, padding, tuple(v + 1 for v in pair(dilation)), groups)

    def _same_padded(x, w, b, dilation, groups, widths):
        """conv2d of x padded by hand with `widths` (H then W), then no padding."""
        return ref.conv2d(np.pad(x, [(0, 0)] * (x.ndim - 2) + widths), w, b, 1, 0, dilation,
                          groups)

    def conv_same_extra_first(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        if padding != "same" or stride != 1:
            return ref.conv2d(x, w, b, stride, padding, dilation, groups)
        totals = [dl * (k - 1) for dl, k in zip(pair(dilation), w.shape[2:], strict=True)]
        return _same_padded(x, w, b, dilation, groups, [(t - t // 2, t // 2) for t in totals])

    def conv_same_ignores_dilation(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        if padding != "same" or stride != 1:
            return ref.conv2d(x, w, b, stride, padding, dilation, groups)
        return _same_padded(x, w, b, dilation, groups,
                            [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in w.shape[2:]])

    def conv_weight_channel_last(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        """weight.transpose(0, 2, 3, 1).reshape(C_out, -1): rows in (kH, kW, C) order."""
        return ref.conv2d(x, w.transpose(0, 2, 3, 1).reshape(w.shape), b, stride, padding,
                          dilation, groups)

    def conv_flipped(x, w, b=None, **kw):
        return ref.conv2d(x, w[..., ::-1, ::-1], b, **kw)

    def conv_bias_ignored(x, w, b=None, **kw):
        return ref.conv2d(x, w, None, **kw)

    # conv_matrix ------------------------------------------------------------------------
    def matrix_flipped(weight, input_size, stride=1, padding=0):
        return ref.conv_matrix(weight[..., ::-1, ::-1], input_size, stride, padding)

    def matrix_columns_by_column(weight, input_size, stride=1, padding=0):
        m = ref.conv_matrix(weight, input_size, stride, padding)
        h, w = input_size
        return m.reshape(-1, weight.shape[1], h, w).transpose(0, 1, 3, 2).reshape(m.shape[0], -1)

    def matrix_rows_channel_last(weight, input_size, stride=1, padding=0):
        m = ref.conv_matrix(weight, input_size, stride, padding)
        c_out = weight.shape[0]
        (_, _), (oh, ow) = _geometry(input_size, weight.shape[2:], 1, padding, stride)
        return m.reshape(c_out, oh, ow, -1).transpose(1, 2, 0, 3).reshape(m.shape)

    def matrix_stride_ignored(weight, input_size, stride=1, padding=0):
        if min(pair(stride)) < 1:
            raise ValueError("stride")
        return ref.conv_matrix(weight, input_size, 1, padding)

    def matrix_padded_columns(weight, input_size, stride=1, padding=0):
        (ph, pw), (h, w) = pair(padding), input_size
        return ref.conv_matrix(weight, (h + 2 * ph, w + 2 * pw), stride, 0)

    def matrix_transposed(weight, input_size, stride=1, padding=0):
        return ref.conv_matrix(weight, input_size, stride, padding).T

    return [
        ("unfold", unfold_channel_last, "unfold-channel-fastest"),
        ("unfold", unfold_kernel_transposed, "unfold-kernel-offsets-transposed"),
        ("unfold", unfold_positions_by_column, "unfold-positions-column-by-column"),
        ("unfold", unfold_dilation_ignored, "unfold-dilation-ignored"),
        ("unfold", unfold_stride_ignored, "unfold-stride-ignored"),
        ("unfold", unfold_padding_ignored, "unfold-padding-ignored"),
        ("unfold", unfold_padding_one_side, "unfold-padding-at-the-end-only"),
        ("fold", fold_overwrites, "fold-overlaps-overwritten"),
        ("fold", fold_averages, "fold-overlaps-averaged"),
        ("fold", fold_channel_last, "fold-channel-fastest"),
        ("fold", fold_kernel_transposed, "fold-kernel-offsets-transposed"),
        ("fold", fold_positions_by_column, "fold-positions-column-by-column"),
        ("fold", fold_uncropped, "fold-padding-not-cropped"),
        # conv2d/unfold declares chapter 02's bugs of conv2d under chapter 02's ids.
        ("conv2d/unfold", conv_mixed_groups, "channels-mixed-across-groups"),
        ("conv2d/unfold", conv_output_interleaved, "output-channels-interleaved"),
        ("conv2d/unfold", conv_dilation_ignored, "dilation-ignored"),
        ("conv2d/unfold", conv_dilation_plus_one, "dilation-off-by-one"),
        ("conv2d/unfold", conv_same_extra_first, "same-dilated-extra-at-start"),
        ("conv2d/unfold", conv_same_ignores_dilation, "same-ignores-dilation"),
        ("conv2d/unfold", conv_flipped, "flipped-kernel"),
        ("conv2d/unfold", conv_bias_ignored, "bias-ignored"),
        ("conv2d/unfold", conv_weight_channel_last, "weight-flattened-channel-last"),
        ("conv_matrix", matrix_flipped, "matrix-kernel-flipped"),
        ("conv_matrix", matrix_columns_by_column, "matrix-columns-column-by-column"),
        ("conv_matrix", matrix_rows_channel_last, "matrix-rows-channel-last"),
        ("conv_matrix", matrix_stride_ignored, "matrix-stride-ignored"),
        ("conv_matrix", matrix_padded_columns, "matrix-columns-for-the-padded-input"),
        ("conv_matrix", matrix_transposed, "matrix-transposed"),
    ]
