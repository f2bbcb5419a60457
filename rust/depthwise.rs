//! Depthwise 2-D convolution of NHWC float32 maps (batch 1), as TFLite's DEPTHWISE_CONV_2D runs
//! it through XNNPACK: each output starts from the bias and adds the taps one fused multiply-add
//! at a time, kernel column by kernel column (kx outer, ky inner: XNNPACK's indirection order),
//! so results match LiteRT to the bit and every code path here gives bit-identical results.
//!
//! Taps that fall in the zero padding are skipped; XNNPACK multiplies them by its zero buffer
//! instead, which gives the same sum for finite weights (up to the sign of a zero sum).
//! Channels are the vector axis (16 per AVX-512 register), output rows the parallel one.

use std::ops::Range;

use crate::conv::{output_size, relu6, Padding, MAX_PACKED};
use crate::error::ArgumentError;
use crate::simd::Kernel;

/// f32 lanes of one AVX-512 register: channels are packed in multiples of it.
const LANES: usize = 16;

/// A depthwise convolution with its weights packed for the kernels.
#[derive(Debug, Clone)]
pub struct Depthwise {
    channels: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
    /// Channels rounded up to a multiple of `LANES`: the packed row length.
    padded: usize,
    /// `[tap][padded]`, taps in row-major (ky, kx) layout, zeros past `channels` (a second copy
    /// when `channels` is half a register).
    weights: Vec<f32>,
    /// `[padded]`, laid out as each tap of `weights`.
    bias: Vec<f32>,
}

/// The taps of one output row or column that land inside the input: `first..last` along the
/// kernel, starting at input row or column `start`.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    first: usize,
    last: usize,
}

impl Span {
    fn new(output: usize, stride: usize, before: usize, kernel: usize, size: usize) -> Self {
        let origin = (output * stride) as isize - before as isize;
        let first = (-origin).clamp(0, kernel as isize) as usize;
        let last = (size as isize - origin).clamp(first as isize, kernel as isize) as usize;
        Self {
            // Only read when the span is not empty, and then inside the input.
            start: (origin + first as isize).max(0) as usize,
            first,
            last,
        }
    }

    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the AVX-512 kernel
    fn len(self) -> usize {
        self.last - self.first
    }
}

/// Sizes one `run` works with, checked against the slices before any kernel sees them.
#[derive(Debug, Clone, Copy)]
struct Geometry {
    height: usize,
    width: usize,
    out_h: usize,
    out_w: usize,
    /// Output columns `interior.0..interior.1` use every kernel column.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))] // read by the AVX-512 kernel
    interior: (usize, usize),
}

impl Depthwise {
    /// Packs torch's depthwise weight `(channels, 1, kernel, kernel)` (flattened) and `bias`.
    pub fn new(
        weight: &[f32],
        bias: &[f32],
        kernel: usize,
        stride: usize,
        padding: Padding,
    ) -> Result<Self, ArgumentError> {
        let channels = bias.len();
        if channels == 0 {
            return Err(ArgumentError::new("depthwise bias is empty"));
        }
        if kernel == 0 || stride == 0 {
            return Err(ArgumentError::new(format!(
                "depthwise kernel ({kernel}) and stride ({stride}) must be at least 1"
            )));
        }
        let taps = kernel.saturating_mul(kernel);
        if Some(weight.len()) != channels.checked_mul(taps) {
            return Err(ArgumentError::new(format!(
                "depthwise weight has {} values, expected {channels}x1x{kernel}x{kernel}",
                weight.len()
            )));
        }
        let padded = channels.div_ceil(LANES) * LANES;
        if taps.saturating_mul(padded) > MAX_PACKED {
            return Err(ArgumentError::new(format!(
                "a depthwise {channels}x{kernel}x{kernel} convolution packs to more than \
                 {MAX_PACKED} weights"
            )));
        }
        // Maps of half a register of channels pack twice: one register then covers two
        // pixels (see `avx512::pairs`).
        let copies = if channels == LANES / 2 { 2 } else { 1 };
        let mut weights = vec![0.0; taps * padded];
        for (c, filter) in weight.chunks_exact(taps).enumerate() {
            for (tap, &value) in filter.iter().enumerate() {
                for copy in 0..copies {
                    weights[tap * padded + copy * channels + c] = value;
                }
            }
        }
        let mut packed_bias = vec![0.0; padded];
        for copy in packed_bias.chunks_exact_mut(channels).take(copies) {
            copy.copy_from_slice(bias);
        }
        Ok(Self {
            channels,
            kernel,
            stride,
            padding,
            padded,
            weights,
            bias: packed_bias,
        })
    }

    pub fn channels(&self) -> usize {
        self.channels
    }

    pub fn kernel(&self) -> usize {
        self.kernel
    }

    pub fn stride(&self) -> usize {
        self.stride
    }

    pub fn padding(&self) -> Padding {
        self.padding
    }

    /// Output (height, width) for an input map of `height` x `width`.
    pub fn output_size(
        &self,
        height: usize,
        width: usize,
    ) -> Result<(usize, usize), ArgumentError> {
        output_size(self.kernel, self.stride, self.padding, height, width)
    }

    /// Output rows `rows` only, into `output` (those rows' values), on the calling thread:
    /// `Program` gives each thread its rows.
    pub fn run_rows(
        &self,
        input: &[f32],
        height: usize,
        width: usize,
        rows: Range<usize>,
        output: &mut [f32],
        relu6: bool,
    ) -> Result<(), ArgumentError> {
        self.run_with(Kernel::best(), input, height, width, rows, output, relu6)
    }

    #[allow(clippy::too_many_arguments)]
    fn run_with(
        &self,
        kernel: Kernel,
        input: &[f32],
        height: usize,
        width: usize,
        rows: Range<usize>,
        output: &mut [f32],
        relu6: bool,
    ) -> Result<(), ArgumentError> {
        let (out_h, out_w) = self.output_size(height, width)?;
        let c = self.channels;
        let expected_in = height.checked_mul(width).and_then(|n| n.checked_mul(c));
        if expected_in != Some(input.len()) {
            return Err(ArgumentError::new(format!(
                "depthwise input has {} values, expected {height}x{width}x{c}",
                input.len()
            )));
        }
        if rows.start > rows.end || rows.end > out_h {
            return Err(ArgumentError::new(format!(
                "depthwise rows {rows:?} are not within the {out_h} output rows"
            )));
        }
        if output.len() != rows.len() * out_w * c {
            return Err(ArgumentError::new(format!(
                "depthwise output has {} values, expected {}x{out_w}x{c}",
                output.len(),
                rows.len()
            )));
        }
        let (k, s) = (self.kernel, self.stride);
        // Columns whose whole kernel row lies inside the input: origin >= 0, origin + k <= width.
        let first = self.padding.left.div_ceil(s).min(out_w);
        let last = match (width + self.padding.left).checked_sub(k) {
            Some(room) => (room / s + 1).clamp(first, out_w),
            None => first,
        };
        let geometry = Geometry {
            height,
            width,
            out_h,
            out_w,
            interior: (first, last),
        };
        for (y, out_row) in rows.zip(output.chunks_exact_mut(out_w * c)) {
            self.row(kernel, &geometry, input, y, out_row, relu6);
        }
        Ok(())
    }

    /// One output row (`out_w * channels` values).
    fn row(
        &self,
        kernel: Kernel,
        geometry: &Geometry,
        input: &[f32],
        y: usize,
        out_row: &mut [f32],
        relu6: bool,
    ) {
        debug_assert!(y < geometry.out_h && out_row.len() == geometry.out_w * self.channels);
        let rows = Span::new(
            y,
            self.stride,
            self.padding.top,
            self.kernel,
            geometry.height,
        );
        match kernel {
            Kernel::Portable => self.portable_row(geometry, input, rows, out_row, relu6),
            #[cfg(target_arch = "x86_64")]
            // SAFETY: chosen only when the CPU has AVX2 and FMA.
            Kernel::Fma => unsafe { self.fma_row(geometry, input, rows, out_row, relu6) },
            #[cfg(target_arch = "x86_64")]
            // SAFETY: chosen only when the CPU has AVX-512F; `run_with` checked the slice sizes
            // against the geometry, and every span stays inside the input.
            Kernel::Avx512 => unsafe { avx512::row(self, geometry, input, rows, out_row, relu6) },
        }
    }

    fn column(&self, geometry: &Geometry, x: usize) -> Span {
        Span::new(
            x,
            self.stride,
            self.padding.left,
            self.kernel,
            geometry.width,
        )
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    fn fma_row(
        &self,
        geometry: &Geometry,
        input: &[f32],
        rows: Span,
        out_row: &mut [f32],
        relu6: bool,
    ) {
        self.portable_row(geometry, input, rows, out_row, relu6)
    }

    /// The reference kernel: the same order of operations in plain loops over channels.
    #[inline(always)]
    fn portable_row(
        &self,
        geometry: &Geometry,
        input: &[f32],
        rows: Span,
        out_row: &mut [f32],
        relu6: bool,
    ) {
        let (c, k, w) = (self.channels, self.kernel, geometry.width);
        for (x, out) in out_row.chunks_exact_mut(c).enumerate() {
            let columns = self.column(geometry, x);
            out.copy_from_slice(&self.bias[..c]);
            for kx in columns.first..columns.last {
                let ix = columns.start + kx - columns.first;
                for ky in rows.first..rows.last {
                    let iy = rows.start + ky - rows.first;
                    let source = (iy * w + ix) * c;
                    let pixel = &input[source..source + c];
                    let tap = (ky * k + kx) * self.padded;
                    let weights = &self.weights[tap..tap + c];
                    for ((acc, &value), &weight) in out.iter_mut().zip(pixel).zip(weights) {
                        *acc = value.mul_add(weight, *acc);
                    }
                }
            }
            if relu6 {
                out.iter_mut().for_each(|v| *v = self::relu6(*v));
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Depthwise, Geometry, Span, LANES};

    /// One output row: single pixels where the kernel overhangs the input, groups of pixels
    /// sharing each weight load inside.
    ///
    /// # Safety
    /// The CPU has AVX-512F; `input` holds `height * width * channels` values and `out_row`
    /// `out_w * channels`, as `Geometry` says; `rows` is a span of this output row.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn row(
        dw: &Depthwise,
        geometry: &Geometry,
        input: &[f32],
        rows: Span,
        out_row: &mut [f32],
        relu6: bool,
    ) {
        let c = dw.channels;
        let (first, last) = geometry.interior;
        let out = out_row.as_mut_ptr();
        let twins = c == LANES / 2 && dw.stride == 1;
        let mut x = 0;
        while x < geometry.out_w {
            let columns = dw.column(geometry, x);
            let inside = if x >= first {
                last.saturating_sub(x)
            } else {
                0
            };
            let at = out.wrapping_add(x * c);
            // SAFETY: the spans keep every read inside `input`; the pixels written are inside
            // `out_row`; the `inside` pixels from x on all read full kernel rows.
            x += unsafe {
                match inside {
                    n if twins && n >= 16 => pairs::<8>(dw, geometry, input, rows, columns, at),
                    n if twins && n >= 4 => pairs::<2>(dw, geometry, input, rows, columns, at),
                    n if twins && n >= 2 => pairs::<1>(dw, geometry, input, rows, columns, at),
                    n if n >= 8 => pixels::<8>(dw, geometry, input, rows, columns, at),
                    n if n >= 4 => pixels::<4>(dw, geometry, input, rows, columns, at),
                    _ => pixels::<1>(dw, geometry, input, rows, columns, at),
                }
            };
        }
        if relu6 {
            clamp(out_row);
        }
    }

    /// ReLU6 over a finished row, while it is still in L1.
    #[target_feature(enable = "avx512f")]
    fn clamp(row: &mut [f32]) {
        let (zero, six) = (_mm512_setzero_ps(), _mm512_set1_ps(6.0));
        let mut chunks = row.chunks_exact_mut(LANES);
        for chunk in &mut chunks {
            // SAFETY: the chunk holds LANES values.
            unsafe {
                let value = _mm512_loadu_ps(chunk.as_ptr());
                let value = _mm512_min_ps(_mm512_max_ps(value, zero), six);
                _mm512_storeu_ps(chunk.as_mut_ptr(), value);
            }
        }
        for value in chunks.into_remainder() {
            *value = super::relu6(*value);
        }
    }

    /// `2 * N` adjacent interior output pixels of a half-register map at stride 1: each
    /// register holds two neighbouring pixels, whose inputs are neighbours too, and the packed
    /// weights hold the filter twice. Returns the pixels done.
    ///
    /// # Safety
    /// As `row`; the `2 * N` pixels from `out` on use every kernel column.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn pairs<const N: usize>(
        dw: &Depthwise,
        geometry: &Geometry,
        input: &[f32],
        rows: Span,
        columns: Span,
        out: *mut f32,
    ) -> usize {
        let (c, k) = (dw.channels, dw.kernel);
        let row_step = geometry.width * c;
        let origin = input
            .as_ptr()
            .wrapping_add((rows.start * geometry.width + columns.start) * c);
        let weights = dw.weights.as_ptr().wrapping_add(rows.first * k * LANES);
        // SAFETY: see the function's contract; the weights of a half-register map are whole
        // registers (`padded == LANES`).
        unsafe {
            let mut acc = [_mm512_loadu_ps(dw.bias.as_ptr()); N];
            for q in 0..k {
                for r in 0..rows.len() {
                    let weight = _mm512_loadu_ps(weights.add((r * k + q) * LANES));
                    let source = origin.add(r * row_step + q * c);
                    for (j, acc) in acc.iter_mut().enumerate() {
                        let value = _mm512_loadu_ps(source.add(j * LANES));
                        *acc = _mm512_fmadd_ps(value, weight, *acc);
                    }
                }
            }
            for (j, acc) in acc.into_iter().enumerate() {
                _mm512_storeu_ps(out.add(j * LANES), acc);
            }
        }
        2 * N
    }

    /// `N` adjacent output pixels whose taps cover the same `rows` x `columns` of the kernel.
    /// Returns the pixels done.
    ///
    /// # Safety
    /// As `row`, and `out` points at the first of the `N` pixels in the output row.
    #[target_feature(enable = "avx512f")]
    #[inline]
    unsafe fn pixels<const N: usize>(
        dw: &Depthwise,
        geometry: &Geometry,
        input: &[f32],
        rows: Span,
        columns: Span,
        out: *mut f32,
    ) -> usize {
        let (c, k, padded) = (dw.channels, dw.kernel, dw.padded);
        let pixel_step = dw.stride * c;
        let row_step = geometry.width * c;
        // Only dereferenced when the spans are non-empty, then inside `input`.
        let origin = input
            .as_ptr()
            .wrapping_add((rows.start * geometry.width + columns.start) * c);
        let weights = dw
            .weights
            .as_ptr()
            .wrapping_add((rows.first * k + columns.first) * padded);
        let bias = dw.bias.as_ptr();
        let mut block = 0;
        while block < c {
            let left = c - block;
            let mask: __mmask16 = if left >= LANES {
                u16::MAX
            } else {
                (1u16 << left) - 1
            };
            // SAFETY: bias and weights are padded to whole registers; input reads are masked
            // to the channels and stay inside the spans; the stores are masked to the channels.
            unsafe {
                let mut acc = [_mm512_loadu_ps(bias.add(block)); N];
                for q in 0..columns.len() {
                    for r in 0..rows.len() {
                        let weight = _mm512_loadu_ps(weights.add((r * k + q) * padded + block));
                        let source = origin.add(r * row_step + q * c + block);
                        for (j, acc) in acc.iter_mut().enumerate() {
                            let value = _mm512_maskz_loadu_ps(mask, source.add(j * pixel_step));
                            *acc = _mm512_fmadd_ps(value, weight, *acc);
                        }
                    }
                }
                for (j, acc) in acc.into_iter().enumerate() {
                    _mm512_mask_storeu_ps(out.add(j * c + block), mask, acc);
                }
            }
            block += LANES;
        }
        N
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::tests::values;

    impl Depthwise {
        /// The whole map at once. Convolves `input` (`height * width * channels`, NHWC) into `output`
        /// (`output_size * channels`), clamping to [0, 6] after the sum when `relu6`.
        fn run(
            &self,
            input: &[f32],
            height: usize,
            width: usize,
            output: &mut [f32],
            relu6: bool,
        ) -> Result<(), ArgumentError> {
            let (out_h, _) = self.output_size(height, width)?;
            self.run_with(
                Kernel::best(),
                input,
                height,
                width,
                0..out_h,
                output,
                relu6,
            )
        }
    }

    /// The definition, one output value at a time, on torch's weight layout.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        input: &[f32],
        (h, w, c): (usize, usize, usize),
        weight: &[f32],
        bias: &[f32],
        k: usize,
        stride: usize,
        pad: Padding,
        relu: bool,
    ) -> Vec<f32> {
        let oh = (h + pad.top + pad.bottom - k) / stride + 1;
        let ow = (w + pad.left + pad.right - k) / stride + 1;
        let mut out = Vec::with_capacity(oh * ow * c);
        for oy in 0..oh {
            for ox in 0..ow {
                for ch in 0..c {
                    let mut acc = bias[ch];
                    for kx in 0..k {
                        for ky in 0..k {
                            let iy = (oy * stride + ky) as isize - pad.top as isize;
                            let ix = (ox * stride + kx) as isize - pad.left as isize;
                            if iy < 0 || ix < 0 || iy >= h as isize || ix >= w as isize {
                                continue;
                            }
                            let x = input[(iy as usize * w + ix as usize) * c + ch];
                            acc = x.mul_add(weight[(ch * k + ky) * k + kx], acc);
                        }
                    }
                    out.push(if relu { relu6(acc) } else { acc });
                }
            }
        }
        out
    }

    fn bits(v: &[f32]) -> Vec<u32> {
        v.iter().map(|x| x.to_bits()).collect()
    }

    fn pad(top: usize, bottom: usize, left: usize, right: usize) -> Padding {
        Padding {
            top,
            bottom,
            left,
            right,
        }
    }

    fn check(h: usize, w: usize, c: usize, k: usize, stride: usize, padding: Padding) {
        let seed = (h * 31 + w * 7 + c * 3 + k * 11 + stride) as u32;
        let input = values(h * w * c, seed);
        // Scaled up so relu6 clamps at both ends.
        let input: Vec<f32> = input.iter().map(|v| v * 8.0).collect();
        let weight = values(c * k * k, seed + 1);
        let bias = values(c, seed + 2);
        let dw = Depthwise::new(&weight, &bias, k, stride, padding).unwrap();
        let (oh, ow) = dw.output_size(h, w).unwrap();
        for relu in [false, true] {
            let expected = reference(&input, (h, w, c), &weight, &bias, k, stride, padding, relu);
            assert_eq!(expected.len(), oh * ow * c);
            for kernel in Kernel::available() {
                let mut out = vec![f32::NAN; oh * ow * c];
                dw.run_with(kernel, &input, h, w, 0..oh, &mut out, relu)
                    .unwrap();
                assert_eq!(
                    bits(&out),
                    bits(&expected),
                    "{kernel:?} h{h} w{w} c{c} k{k} s{stride} {padding:?} relu6 {relu}"
                );
                // Bands of rows, as the program's threads run them, give the same values.
                let split = oh / 2;
                let mut banded = vec![f32::NAN; oh * ow * c];
                let (top, bottom) = banded.split_at_mut(split * ow * c);
                dw.run_with(kernel, &input, h, w, 0..split, top, relu)
                    .unwrap();
                dw.run_with(kernel, &input, h, w, split..oh, bottom, relu)
                    .unwrap();
                assert_eq!(bits(&banded), bits(&expected));
            }
        }
    }

    #[test]
    fn matches_reference_bit_for_bit() {
        for c in [8, 16, 24, 88] {
            // TF 'same': stride 1 pads k - 1 symmetrically; stride 2 on even sizes pads k - 2
            // with the larger half after.
            check(9, 11, c, 3, 1, pad(1, 1, 1, 1));
            check(10, 12, c, 3, 2, pad(0, 1, 0, 1));
            check(9, 13, c, 5, 1, pad(2, 2, 2, 2));
            check(12, 10, c, 5, 2, pad(1, 2, 1, 2));
            check(8, 8, c, 3, 1, pad(0, 0, 0, 0));
            check(11, 9, c, 3, 2, pad(1, 1, 1, 1));
        }
    }

    #[test]
    fn odd_shapes_match_reference() {
        // Maps smaller than the kernel (no interior column), wide padding (rows without any
        // tap inside), even and 1x1 kernels, strides beyond 2.
        check(2, 2, 48, 5, 1, pad(2, 2, 2, 2));
        // Half-register maps pair pixels in one register at stride 1 (16 and 4 at a time).
        check(5, 41, 8, 3, 1, pad(1, 1, 1, 1));
        check(6, 23, 8, 5, 1, pad(2, 2, 2, 2));
        check(3, 8, 8, 3, 1, pad(1, 1, 1, 1));
        check(5, 40, 8, 3, 2, pad(0, 1, 0, 1));
        check(2, 3, 24, 5, 2, pad(1, 2, 2, 1));
        check(1, 1, 8, 3, 1, pad(1, 1, 1, 1));
        check(3, 4, 20, 3, 1, pad(3, 3, 3, 3));
        check(3, 4, 8, 3, 1, pad(5, 4, 6, 5));
        check(6, 7, 17, 2, 1, pad(0, 1, 1, 0));
        check(6, 7, 33, 1, 1, pad(0, 0, 0, 0));
        check(13, 14, 40, 4, 3, pad(1, 2, 0, 3));
    }

    #[test]
    fn large_maps_match() {
        check(40, 36, 64, 3, 1, pad(1, 1, 1, 1));
        check(48, 40, 96, 5, 2, pad(1, 2, 1, 2));
    }

    #[test]
    fn padding_taps_are_skipped_not_added() {
        // One channel, all-ones 3x3 filter, bias 0.5 on a 2x2 map of ones: each corner output
        // sees 4 inside taps.
        let dw = Depthwise::new(&[1.0; 9], &[0.5], 3, 1, pad(1, 1, 1, 1)).unwrap();
        for kernel in Kernel::available() {
            let mut out = [0.0; 4];
            dw.run_with(kernel, &[1.0; 4], 2, 2, 0..2, &mut out, false)
                .unwrap();
            assert_eq!(out, [4.5; 4]);
            dw.run_with(kernel, &[1.0; 4], 2, 2, 0..2, &mut out, true)
                .unwrap();
            assert_eq!(out, [4.5; 4]);
            dw.run_with(kernel, &[2.0; 4], 2, 2, 0..2, &mut out, true)
                .unwrap();
            assert_eq!(out, [6.0; 4]);
        }
    }

    #[test]
    fn relu6_clamps_like_x86() {
        assert_eq!(relu6(-1.0), 0.0);
        assert_eq!(relu6(f32::NAN), 0.0);
        assert_eq!(relu6((-0.0f32).max(-0.0)).to_bits(), 0.0f32.to_bits());
        assert_eq!(relu6(3.5), 3.5);
        assert_eq!(relu6(6.5), 6.0);
        assert_eq!(relu6(f32::INFINITY), 6.0);
    }

    #[test]
    fn output_size_follows_padding() {
        let dw = Depthwise::new(&[0.0; 9 * 4], &[0.0; 4], 3, 2, pad(0, 1, 0, 1)).unwrap();
        assert_eq!(dw.output_size(128, 64), Ok((64, 32)));
        assert_eq!(dw.output_size(2, 2), Ok((1, 1)));
        assert!(dw.output_size(1, 1).is_err());
        let valid = Depthwise::new(&[0.0; 25], &[0.0], 5, 1, Padding::default()).unwrap();
        assert_eq!(valid.output_size(5, 6), Ok((1, 2)));
        assert!(valid.output_size(4, 6).is_err());
        assert!(valid.output_size(6, 4).is_err());
    }

    #[test]
    fn rejects_bad_arguments() {
        assert!(Depthwise::new(&[0.0; 9], &[], 3, 1, Padding::default()).is_err());
        assert!(Depthwise::new(&[0.0; 8], &[0.0], 3, 1, Padding::default()).is_err());
        assert!(Depthwise::new(&[0.0; 9], &[0.0], 3, 0, Padding::default()).is_err());
        assert!(Depthwise::new(&[], &[0.0], 0, 1, Padding::default()).is_err());
        assert!(Depthwise::new(&[0.0; 9], &[0.0], usize::MAX, 1, Padding::default()).is_err());
        let dw = Depthwise::new(&[0.0; 18], &[0.0; 2], 3, 1, pad(1, 1, 1, 1)).unwrap();
        let mut out = vec![0.0; 4 * 4 * 2];
        assert!(dw.run(&[0.0; 4 * 4 * 2], 4, 4, &mut out, false).is_ok());
        assert!(dw
            .run(&[0.0; 4 * 4 * 2 - 1], 4, 4, &mut out, false)
            .is_err());
        assert!(dw
            .run(&[0.0; 4 * 4 * 2], 4, 4, &mut out[1..], false)
            .is_err());
        assert!(dw
            .run(&[0.0; 4 * 4 * 2], 4, 4, &mut [0.0; 40], false)
            .is_err());
        // Too small even with padding, and sizes whose product overflows.
        let valid = Depthwise::new(&[0.0; 18], &[0.0; 2], 3, 1, Padding::default()).unwrap();
        assert!(valid.run(&[0.0; 8], 2, 2, &mut [0.0; 2], false).is_err());
        assert!(dw
            .run(&[0.0; 2], usize::MAX / 2, 3, &mut out, false)
            .is_err());
    }
}
