//! Resampling and elementwise steps of NHWC float32 maps (batch 1) between the landmark
//! networks' convolutions: 2x bilinear upsampling, 2x2 max pooling, residual adds, and the
//! global mean that turns the last map into a vector.
//!
//! Upsampling is TFLite's RESIZE_BILINEAR with half-pixel centres (PyTorch's
//! `F.interpolate(scale_factor=2, mode="bilinear", align_corners=False)`), computed in XNNPACK's
//! form: two horizontal lerps then a vertical one, each a product then a sum (no fused
//! multiply-add), so it matches LiteRT to the bit and every code path gives the same bits.

use std::ops::Range;

use crate::conv::relu6;
use crate::error::ArgumentError;
use crate::simd::Kernel;

/// Where output index `o` of a 2x upsampled axis of `size` samples reads: the two input
/// indices and the weight of the second. Half-pixel centres put output `2i` at input `i - 1/4`
/// and `2i + 1` at `i + 1/4`; indices past either end clamp to the edge.
fn source(o: usize, size: usize) -> (usize, usize, f32) {
    let i = o / 2;
    if o.is_multiple_of(2) {
        (i.saturating_sub(1), i, 0.75)
    } else {
        (i, (i + 1).min(size - 1), 0.25)
    }
}

/// Checks that `len` is `dims` multiplied out (without overflow).
fn check_len(name: &str, len: usize, dims: &[usize]) -> Result<(), ArgumentError> {
    let expected = dims.iter().try_fold(1usize, |n, &d| n.checked_mul(d));
    if expected == Some(len) {
        return Ok(());
    }
    let shape: Vec<String> = dims.iter().map(usize::to_string).collect();
    Err(ArgumentError::new(format!(
        "{name} has {len} values, expected {}",
        shape.join("x")
    )))
}

/// Upsamples `input` (`height x width x channels`) bilinearly with half-pixel centres, to
/// output rows `rows` (starting on an even row) of the `2 height x 2 width x channels` map,
/// on the calling thread: `Program` gives each thread its rows.
pub fn upsample2x_bilinear_rows(
    input: &[f32],
    height: usize,
    width: usize,
    channels: usize,
    rows: Range<usize>,
    output: &mut [f32],
) -> Result<(), ArgumentError> {
    upsample_with(Kernel::best(), input, height, width, channels, rows, output)
}

fn upsample_with(
    kernel: Kernel,
    input: &[f32],
    height: usize,
    width: usize,
    channels: usize,
    rows: Range<usize>,
    output: &mut [f32],
) -> Result<(), ArgumentError> {
    if height == 0 || width == 0 || channels == 0 {
        return Err(ArgumentError::new(format!(
            "cannot upsample an empty {height}x{width}x{channels} map"
        )));
    }
    check_len("upsample input", input.len(), &[height, width, channels])?;
    check_rows(&rows, height.saturating_mul(2), 2)?;
    check_len(
        "upsample output",
        output.len(),
        &[rows.len(), 2 * width, channels],
    )?;
    if rows.is_empty() {
        return Ok(());
    }
    let map = Map {
        input,
        height,
        width,
        channels,
    };
    map.band(kernel, rows.start / 2, output);
    Ok(())
}

/// Checks that `rows` lies within `total` rows and starts on a multiple of `unit`.
fn check_rows(rows: &Range<usize>, total: usize, unit: usize) -> Result<(), ArgumentError> {
    if rows.start > rows.end || rows.end > total || !rows.start.is_multiple_of(unit) {
        return Err(ArgumentError::new(format!(
            "rows {rows:?} are not within the {total} output rows, starting on a multiple of {unit}"
        )));
    }
    Ok(())
}

/// An input map whose sizes match its values (checked by `upsample_with`).
#[derive(Clone, Copy)]
struct Map<'a> {
    input: &'a [f32],
    height: usize,
    width: usize,
    channels: usize,
}

impl Map<'_> {
    /// Output rows `2 first..` (as many as `out` holds) with the kernel's instructions.
    fn band(self, kernel: Kernel, first: usize, out: &mut [f32]) {
        match kernel {
            Kernel::Portable => self.band_portable(first, out),
            // AVX-512 runs the AVX2 build: the runs inside a row are short (16 values for 8
            // channels), and 512-bit code (compiled or written out) measured no faster.
            #[cfg(target_arch = "x86_64")]
            // SAFETY: chosen only when the CPU has AVX2 and FMA (AVX-512F CPUs all do).
            Kernel::Fma | Kernel::Avx512 => unsafe { self.band_fma(first, out) },
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn band_fma(self, first: usize, out: &mut [f32]) {
        self.band_portable(first, out)
    }

    /// Interpolates the input rows the band needs along x, then lerps them vertically into
    /// the output rows (the order XNNPACK's `ibilinear` kernels use).
    #[inline(always)]
    fn band_portable(self, first: usize, out: &mut [f32]) {
        let (h, c) = (self.height, self.channels);
        let row_len = 2 * self.width * c;
        let out_rows = out.len() / row_len;
        let top = first.saturating_sub(1);
        let bottom = (first + out_rows.div_ceil(2)).min(h - 1);
        let mut rows = vec![0.0; (bottom + 1 - top) * row_len];
        for (y, row) in (top..=bottom).zip(rows.chunks_exact_mut(row_len)) {
            self.horizontal(y, row);
        }
        for (oy, out_row) in (2 * first..).zip(out.chunks_exact_mut(row_len)) {
            let (upper, lower, fraction) = source(oy, h);
            let upper = &rows[(upper - top) * row_len..][..row_len];
            let lower = &rows[(lower - top) * row_len..][..row_len];
            lerp(upper, lower, fraction, out_row);
        }
    }

    /// Input row `y` upsampled along x into `out` (`2 width * channels` values).
    #[inline(always)]
    fn horizontal(self, y: usize, out: &mut [f32]) {
        let (w, c) = (self.width, self.channels);
        let row = &self.input[y * w * c..(y + 1) * w * c];
        let pixel = |x: usize| &row[x * c..(x + 1) * c];
        // The first two and last two output pixels, where the edge clamps.
        for ox in [0, 1, 2 * w - 2, 2 * w - 1] {
            let (left, right, fraction) = source(ox, w);
            let out = &mut out[ox * c..(ox + 1) * c];
            lerp(pixel(left), pixel(right), fraction, out);
        }
        // Inside, output pixels 2j and 2j + 1 read input pixels (j - 1, j) and (j, j + 1):
        // two contiguous runs of 2c values, lerped with 3/4 then 1/4.
        let mut fractions = vec![0.75; 2 * c];
        fractions[c..].fill(0.25);
        for j in 1..w.saturating_sub(1) {
            let left = &row[(j - 1) * c..(j + 1) * c];
            let right = &row[j * c..(j + 2) * c];
            let out = &mut out[2 * j * c..2 * (j + 1) * c];
            lerp_each(left, right, &fractions, out);
        }
    }
}

/// `left + (right - left) * fraction`, rounded after the product and after the sum (XNNPACK's
/// `ibilinear` kernels, which LiteRT runs, use no fused multiply-add here).
#[inline(always)]
fn lerp(left: &[f32], right: &[f32], fraction: f32, out: &mut [f32]) {
    for ((o, &l), &r) in out.iter_mut().zip(left).zip(right) {
        *o = l + (r - l) * fraction;
    }
}

/// `lerp` with a fraction per value.
#[inline(always)]
fn lerp_each(left: &[f32], right: &[f32], fractions: &[f32], out: &mut [f32]) {
    for (((o, &l), &r), &f) in out.iter_mut().zip(left).zip(right).zip(fractions) {
        *o = l + (r - l) * f;
    }
}

/// 2x2 max pooling with stride 2 and no padding: `input` (`height x width x channels`, both
/// sides even) to output rows `rows` of the `height/2 x width/2 x channels` map, on the calling
/// thread. NaNs lose to numbers.
pub fn max_pool2x2_rows(
    input: &[f32],
    height: usize,
    width: usize,
    channels: usize,
    rows: Range<usize>,
    output: &mut [f32],
) -> Result<(), ArgumentError> {
    if !height.is_multiple_of(2) || !width.is_multiple_of(2) {
        return Err(ArgumentError::new(format!(
            "2x2 max pooling needs even sides, got {height}x{width}"
        )));
    }
    check_len("max pool input", input.len(), &[height, width, channels])?;
    check_rows(&rows, height / 2, 1)?;
    check_len(
        "max pool output",
        output.len(),
        &[rows.len(), width / 2, channels],
    )?;
    if output.is_empty() {
        return Ok(());
    }
    let c = channels;
    let in_pair = 2 * width * c;
    let pairs = input[rows.start * in_pair..rows.end * in_pair].chunks_exact(in_pair);
    for (pair, out) in pairs.zip(output.chunks_exact_mut(width / 2 * c)) {
        let (upper, lower) = pair.split_at(width * c);
        let quads = upper.chunks_exact(2 * c).zip(lower.chunks_exact(2 * c));
        for (out, (upper, lower)) in out.chunks_exact_mut(c).zip(quads) {
            let (a, b) = upper.split_at(c);
            let (d, e) = lower.split_at(c);
            for ((((o, &a), &b), &d), &e) in out.iter_mut().zip(a).zip(b).zip(d).zip(e) {
                *o = a.max(b).max(d.max(e));
            }
        }
    }
    Ok(())
}

/// TFLite's DEPTH_TO_SPACE ("DCR" order): `input` (`height x width x channels`) to `output`
/// (`block height x block width x channels / block²`), where input channel
/// `(i * block + j) * out_channels + c` of a pixel goes to offset (i, j) of its block.
/// Output rows `rows` (a multiple of `block` apart) only, on the calling thread.
pub fn depth_to_space_rows(
    input: &[f32],
    height: usize,
    width: usize,
    channels: usize,
    block: usize,
    rows: Range<usize>,
    output: &mut [f32],
) -> Result<(), ArgumentError> {
    // A block's square divides the channels, so it is at most their number: no overflow below.
    let square = block.checked_mul(block).filter(|&sq| sq > 0);
    if !square.is_some_and(|sq| channels.is_multiple_of(sq)) {
        return Err(ArgumentError::new(format!(
            "depth to space by {block} needs channels divisible by its square, got {channels}"
        )));
    }
    check_len(
        "depth to space input",
        input.len(),
        &[height, width, channels],
    )?;
    check_rows(&rows, height * block, block)?;
    if !rows.end.is_multiple_of(block) {
        return Err(ArgumentError::new(format!(
            "rows {rows:?} split a block of {block}"
        )));
    }
    check_len(
        "depth to space output",
        output.len(),
        &[rows.len(), width * block, channels / (block * block)],
    )?;
    let out_channels = channels / (block * block);
    let out_width = width * block;
    let first = rows.start / block;
    let input_rows = input[first * width * channels..rows.end / block * width * channels]
        .chunks_exact(width * channels);
    for (y, row) in input_rows.enumerate() {
        for (x, pixel) in row.chunks_exact(channels).enumerate() {
            for (offset, run) in pixel.chunks_exact(out_channels).enumerate() {
                let (i, j) = (offset / block, offset % block);
                let at = ((y * block + i) * out_width + x * block + j) * out_channels;
                output[at..at + out_channels].copy_from_slice(run);
            }
        }
    }
    Ok(())
}

/// TFLite's MEAN over height and width: `output[c]` is channel `c` of every pixel summed in
/// pixel order, then times `1 / pixels` (XNNPACK's reduction: a running sum and one scale,
/// not a division, which gives other bits). `input` holds whole pixels of `output.len()`
/// channels.
pub fn global_mean(input: &[f32], output: &mut [f32]) -> Result<(), ArgumentError> {
    let channels = output.len();
    if channels == 0 || input.is_empty() || !input.len().is_multiple_of(channels) {
        return Err(ArgumentError::new(format!(
            "the mean of {channels} channels needs whole pixels, got {} values",
            input.len()
        )));
    }
    let pixels = input.len() / channels;
    output.fill(0.0);
    for pixel in input.chunks_exact(channels) {
        for (sum, &x) in output.iter_mut().zip(pixel) {
            *sum += x;
        }
    }
    let scale = 1.0 / pixels as f32;
    for value in output.iter_mut() {
        *value *= scale;
    }
    Ok(())
}

/// `output = a + b`, clamped to [0, 6] when `relu6`.
pub fn add(a: &[f32], b: &[f32], output: &mut [f32], relu6: bool) -> Result<(), ArgumentError> {
    if a.len() != b.len() || a.len() != output.len() {
        return Err(ArgumentError::new(format!(
            "add needs equal lengths, got {}, {} and output {}",
            a.len(),
            b.len(),
            output.len()
        )));
    }
    for ((o, &a), &b) in output.iter_mut().zip(a).zip(b) {
        *o = finish(a + b, relu6);
    }
    Ok(())
}

#[inline(always)]
fn finish(value: f32, clamp: bool) -> f32 {
    if clamp {
        relu6(value)
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::tests::values;

    /// The whole map at once: every output row.
    fn upsample2x_bilinear(
        input: &[f32],
        height: usize,
        width: usize,
        channels: usize,
        output: &mut [f32],
    ) -> Result<(), ArgumentError> {
        let rows = 0..height.saturating_mul(2);
        upsample2x_bilinear_rows(input, height, width, channels, rows, output)
    }

    fn max_pool2x2(
        input: &[f32],
        height: usize,
        width: usize,
        channels: usize,
        output: &mut [f32],
    ) -> Result<(), ArgumentError> {
        max_pool2x2_rows(input, height, width, channels, 0..height / 2, output)
    }

    fn depth_to_space(
        input: &[f32],
        height: usize,
        width: usize,
        channels: usize,
        block: usize,
        output: &mut [f32],
    ) -> Result<(), ArgumentError> {
        let rows = 0..height.saturating_mul(block);
        depth_to_space_rows(input, height, width, channels, block, rows, output)
    }

    /// The definition in float64: each output is a weighted sum of 4 inputs, weights 1/4 and
    /// 3/4 per axis, clamped at the edges.
    fn reference(input: &[f32], h: usize, w: usize, c: usize) -> Vec<f64> {
        let at = |y: isize, x: isize, ch: usize| {
            let y = y.clamp(0, h as isize - 1) as usize;
            let x = x.clamp(0, w as isize - 1) as usize;
            f64::from(input[(y * w + x) * c + ch])
        };
        // Output 2i reads (i - 1, i) with weights (1/4, 3/4); 2i + 1 reads (i, i + 1), (3/4, 1/4).
        let axis = |o: usize| {
            let i = (o / 2) as isize;
            if o.is_multiple_of(2) {
                [(i - 1, 0.25), (i, 0.75)]
            } else {
                [(i, 0.75), (i + 1, 0.25)]
            }
        };
        let mut out = Vec::with_capacity(4 * h * w * c);
        for oy in 0..2 * h {
            for ox in 0..2 * w {
                for ch in 0..c {
                    let mut sum = 0.0;
                    for (y, wy) in axis(oy) {
                        for (x, wx) in axis(ox) {
                            sum += wy * wx * at(y, x, ch);
                        }
                    }
                    out.push(sum);
                }
            }
        }
        out
    }

    fn upsample(kernel: Kernel, input: &[f32], h: usize, w: usize, c: usize) -> Vec<f32> {
        let mut out = vec![f32::NAN; 4 * h * w * c];
        upsample_with(kernel, input, h, w, c, 0..2 * h, &mut out).unwrap();
        // Bands of rows, as the program's threads run them, give the same values.
        let split = (h / 2) * 2;
        let row = 2 * w * c;
        let mut banded = vec![f32::NAN; 4 * h * w * c];
        let (top, bottom) = banded.split_at_mut(split * row);
        upsample_with(kernel, input, h, w, c, 0..split, top).unwrap();
        upsample_with(kernel, input, h, w, c, split..2 * h, bottom).unwrap();
        assert!(banded
            .iter()
            .zip(&out)
            .all(|(a, b)| a.to_bits() == b.to_bits()));
        out
    }

    #[test]
    fn depth_to_space_places_each_channel_run_in_its_block() {
        // 1x2 pixels of 8 channels, block 2: 2 output channels per offset.
        let input: Vec<f32> = (0..16).map(|v| v as f32).collect();
        let mut output = vec![0.0; 16];
        depth_to_space(&input, 1, 2, 8, 2, &mut output).unwrap();
        // Output (2, 4, 2): row 0 = offsets (0,0),(0,1) of pixel 0 then of pixel 1.
        let expected = [
            0., 1., 2., 3., 8., 9., 10., 11., 4., 5., 6., 7., 12., 13., 14., 15.,
        ];
        assert_eq!(output, expected);
        assert!(depth_to_space(&input, 1, 2, 8, 3, &mut output).is_err());
        assert!(depth_to_space(&input, 1, 2, 8, 2, &mut output[..15]).is_err());
        assert!(depth_to_space(&input, 1, 2, 8, 0, &mut output).is_err());
    }

    #[test]
    fn upsample_matches_float64_reference() {
        for (h, w, c) in [
            (1, 1, 3),
            (1, 4, 8),
            (3, 1, 5),
            (2, 2, 8),
            (5, 7, 8),
            (6, 3, 48),
            (4, 9, 17),
            // Large enough to run in parallel bands.
            (32, 32, 48),
            (64, 40, 8),
        ] {
            let input = values(h * w * c, (h * 100 + w * 10 + c) as u32);
            let expected = reference(&input, h, w, c);
            let mut first: Option<Vec<u32>> = None;
            for kernel in Kernel::available() {
                let out = upsample(kernel, &input, h, w, c);
                for (i, (&got, &want)) in out.iter().zip(&expected).enumerate() {
                    let error = (f64::from(got) - want).abs();
                    assert!(
                        error <= 1e-6 * want.abs().max(1.0),
                        "{kernel:?} {h}x{w}x{c} at {i}: {got} vs {want}"
                    );
                }
                // Every kernel gives the same bits.
                let bits: Vec<u32> = out.iter().map(|v| v.to_bits()).collect();
                match &first {
                    None => first = Some(bits),
                    Some(first) => assert_eq!(first, &bits, "{kernel:?} {h}x{w}x{c}"),
                }
            }
        }
    }

    #[test]
    fn upsample_uses_quarter_weights_and_clamps_edges() {
        // One channel, 2x2: exact in binary, so the 1/4, 3/4 weights show directly.
        let input = [0.0, 4.0, 8.0, 16.0];
        let out = upsample(Kernel::best(), &input, 2, 2, 1);
        #[rustfmt::skip]
        let expected = [
            0.0, 1.0, 3.0, 4.0,
            2.0, 3.25, 5.75, 7.0,
            6.0, 7.75, 11.25, 13.0,
            8.0, 10.0, 14.0, 16.0,
        ];
        assert_eq!(out, expected);
        // A constant map stays exactly constant (the clamped edges included).
        let out = upsample(Kernel::best(), &[0.1; 3 * 5 * 8], 3, 5, 8);
        assert!(out.iter().all(|&v| v == 0.1));
    }

    #[test]
    fn upsample_rejects_bad_sizes() {
        let mut out = vec![0.0; 16 * 3 + 1];
        assert!(upsample2x_bilinear(&[0.0; 12], 2, 2, 3, &mut out).is_err());
        assert!(upsample2x_bilinear(&[0.0; 11], 2, 2, 3, &mut out[..48]).is_err());
        assert!(upsample2x_bilinear(&[0.0; 12], 2, 2, 3, &mut out[..47]).is_err());
        assert!(upsample2x_bilinear(&[0.0; 12], 2, 2, 3, &mut out[..48]).is_ok());
        assert!(upsample2x_bilinear(&[], 0, 2, 3, &mut []).is_err());
        assert!(upsample2x_bilinear(&[0.0; 12], 2, 2, 3, &mut out[..15]).is_err());
        assert!(upsample2x_bilinear(&[0.0; 1], usize::MAX, 2, 1, &mut out).is_err());
    }

    #[test]
    fn max_pool_takes_the_largest_of_each_window() {
        // 2x4 map, 2 channels: channel 1 is the negated channel 0.
        let plane = [1.0, 5.0, -2.0, 0.5, 3.0, 2.0, 7.0, -1.0];
        let input: Vec<f32> = plane.iter().flat_map(|&v| [v, -v]).collect();
        let mut out = [0.0; 4];
        max_pool2x2(&input, 2, 4, 2, &mut out).unwrap();
        assert_eq!(out, [5.0, -1.0, 7.0, 2.0]);
    }

    #[test]
    fn max_pool_matches_definition_on_a_large_map() {
        let (h, w, c) = (64, 48, 24);
        let input = values(h * w * c, 7);
        let mut out = vec![0.0; h * w * c / 4];
        max_pool2x2(&input, h, w, c, &mut out).unwrap();
        for y in 0..h / 2 {
            for x in 0..w / 2 {
                for ch in 0..c {
                    let at = |dy: usize, dx: usize| input[((2 * y + dy) * w + 2 * x + dx) * c + ch];
                    let want = at(0, 0).max(at(0, 1)).max(at(1, 0)).max(at(1, 1));
                    assert_eq!(out[(y * w / 2 + x) * c + ch], want);
                }
            }
        }
    }

    #[test]
    fn max_pool_rejects_bad_sizes() {
        let mut out = [0.0; 4];
        assert!(max_pool2x2(&[0.0; 12], 3, 4, 1, &mut out).is_err());
        assert!(max_pool2x2(&[0.0; 12], 4, 3, 1, &mut out).is_err());
        assert!(max_pool2x2(&[0.0; 15], 4, 4, 1, &mut out).is_err());
        assert!(max_pool2x2(&[0.0; 16], 4, 4, 1, &mut out[..3]).is_err());
        assert!(max_pool2x2(&[0.0; 16], 4, 4, 1, &mut out).is_ok());
        assert!(max_pool2x2(&[], 0, 0, 3, &mut []).is_ok());
    }

    #[test]
    fn add_sums_and_clamps() {
        let a = [1.0, -3.0, 4.0, 2.5];
        let b = [0.5, 1.0, 4.0, -0.5];
        let mut out = [0.0; 4];
        add(&a, &b, &mut out, false).unwrap();
        assert_eq!(out, [1.5, -2.0, 8.0, 2.0]);
        add(&a, &b, &mut out, true).unwrap();
        assert_eq!(out, [1.5, 0.0, 6.0, 2.0]);
        assert!(add(&a, &b[..3], &mut out, false).is_err());
        assert!(add(&a, &b, &mut out[..3], false).is_err());
    }

    #[test]
    fn add_matches_its_definition_on_many_values() {
        let n = 100_003;
        let (a, b) = (values(n, 1), values(n, 2));
        let a: Vec<f32> = a.iter().map(|v| v * 8.0).collect();
        for clamp in [false, true] {
            let mut out = vec![0.0; n];
            add(&a, &b, &mut out, clamp).unwrap();
            for i in 0..n {
                assert_eq!(out[i], finish(a[i] + b[i], clamp));
            }
        }
    }

    #[test]
    fn global_mean_sums_pixels_in_order_then_scales() {
        // 3 pixels of 2 channels; the second channel's sum rounds differently in another order.
        let input = [1.0, 1.0e8, 2.0, 1.0, 4.0, -1.0e8];
        let mut out = [f32::NAN; 2];
        global_mean(&input, &mut out).unwrap();
        let third = 1.0 / 3.0f32;
        assert_eq!(out, [7.0 * third, ((1.0e8f32 + 1.0) - 1.0e8) * third]);
        assert_eq!(out[1], 0.0); // 1e8 + 1 rounds to 1e8 before the last pixel cancels it
                                 // A product with the rounded 1/n, not a division: 7 * (1/49) differs from 7 / 49.
        let mut input = [0.0; 49];
        input[0] = 7.0;
        let mut seven = [0.0; 1];
        global_mean(&input, &mut seven).unwrap();
        assert_ne!(seven[0], 7.0 / 49.0);
        assert_eq!(seven[0], 7.0 * (1.0 / 49.0f32));
        assert!(global_mean(&[1.0; 3], &mut out).is_err());
        assert!(global_mean(&[], &mut out).is_err());
    }
}
