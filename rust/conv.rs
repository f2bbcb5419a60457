//! Convolution of NHWC float32 maps as a matrix product with weights packed once: the fast path
//! of MediaPipe's landmark networks (PyTorch's oneDNN calls cost 1.7x LiteRT on their many small
//! convolutions).
//!
//! Every output is `bias`, then one fused multiply-add per input value in (tap row, tap column,
//! input channel) order, then the epilogue: the order of XNNPACK's GEMM and IGEMM kernels, which
//! LiteRT runs, so the two agree to the bit. Taps in the padding read zeros, as XNNPACK's. Each
//! output pixel reads its taps' input pixels where they lie (an indirection list, as XNNPACK's
//! IGEMM): nothing is copied.

use std::cell::RefCell;
use std::ops::Range;

use crate::error::ArgumentError;
use crate::simd::Kernel;

/// Output channels per packed weight panel: two AVX-512 registers.
pub const PANEL: usize = 32;
/// Packed weights one convolution may hold (64 MiB of float32): no argument makes it allocate
/// without limit.
pub const MAX_PACKED: usize = 1 << 24;
/// Output pixels per register tile.
const ROWS: usize = 8;

thread_local! {
    /// A thread's padded input rows or channel planes, kept from call to call: allocating and
    /// zeroing megabytes a call cost more than some convolutions.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Zero rows or columns around the input, TensorFlow style ('same' may be asymmetric).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Padding {
    pub top: usize,
    pub bottom: usize,
    pub left: usize,
    pub right: usize,
}

/// What follows the sum: `relu6` clamps it to [0, 6]; then `residual` (same shape as the output)
/// is added and `residual_relu6` clamps again. `relu6(conv) + skip` and `relu6(conv + skip)` are
/// both in the networks.
#[derive(Debug, Clone, Copy, Default)]
pub struct Epilogue<'a> {
    pub relu6: bool,
    pub residual: Option<&'a [f32]>,
    pub residual_relu6: bool,
}

/// A convolution (groups = 1) with its weights packed for the matrix product.
#[derive(Debug, Clone)]
pub struct Conv {
    in_channels: usize,
    out_channels: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
    /// [panel][tap * in_channels + channel][PANEL], zero beyond the last output channel.
    packed: Vec<f32>,
    /// Per output channel, zero padded to whole panels.
    bias: Vec<f32>,
}

impl Conv {
    /// `weight` in PyTorch's layout (out, in, kernel, kernel), `bias` (out).
    pub fn new(
        weight: &[f32],
        bias: &[f32],
        in_channels: usize,
        out_channels: usize,
        kernel: usize,
        stride: usize,
        padding: Padding,
    ) -> Result<Self, ArgumentError> {
        if in_channels == 0 || out_channels == 0 || kernel == 0 || stride == 0 {
            return Err(ArgumentError::new(
                "channels, kernel and stride must be at least 1",
            ));
        }
        let taps = kernel * kernel;
        let depth = taps
            .checked_mul(in_channels)
            .filter(|d| d.checked_mul(out_channels).is_some())
            .ok_or_else(|| ArgumentError::new("convolution too large"))?;
        if weight.len() != depth * out_channels {
            return Err(ArgumentError::new(format!(
                "weight must hold {out_channels}x{in_channels}x{kernel}x{kernel} values, got {}",
                weight.len()
            )));
        }
        if bias.len() != out_channels {
            return Err(ArgumentError::new(format!(
                "bias must hold {out_channels} values, got {}",
                bias.len()
            )));
        }
        let panels = out_channels.div_ceil(PANEL);
        if panels * depth * PANEL > MAX_PACKED {
            return Err(ArgumentError::new(format!(
                "a {out_channels}x{in_channels}x{kernel}x{kernel} convolution packs to more than \
                 {MAX_PACKED} weights"
            )));
        }
        let mut packed = vec![0.0; panels * depth * PANEL];
        for out in 0..out_channels {
            let (panel, lane) = (out / PANEL, out % PANEL);
            for channel in 0..in_channels {
                for tap in 0..taps {
                    let k = tap * in_channels + channel;
                    packed[(panel * depth + k) * PANEL + lane] =
                        weight[(out * in_channels + channel) * taps + tap];
                }
            }
        }
        let mut padded_bias = vec![0.0; panels * PANEL];
        padded_bias[..out_channels].copy_from_slice(bias);
        Ok(Self {
            in_channels,
            out_channels,
            kernel,
            stride,
            padding,
            packed,
            bias: padded_bias,
        })
    }

    pub fn in_channels(&self) -> usize {
        self.in_channels
    }

    pub fn out_channels(&self) -> usize {
        self.out_channels
    }

    /// A 1x1 convolution at stride 1 without padding: output pixel i reads input pixel i.
    pub fn is_pointwise(&self) -> bool {
        self.kernel == 1 && self.stride == 1 && self.padding == Padding::default()
    }

    /// Output (height, width) for an input of `height` x `width`.
    pub fn output_size(
        &self,
        height: usize,
        width: usize,
    ) -> Result<(usize, usize), ArgumentError> {
        output_size(self.kernel, self.stride, self.padding, height, width)
    }

    /// Output rows `rows` only, into `output` (those rows' values); `epilogue.residual` is the
    /// whole map's. Runs on the calling thread: `Program` gives each thread its rows.
    pub fn run_rows(
        &self,
        input: &[f32],
        height: usize,
        width: usize,
        rows: Range<usize>,
        output: &mut [f32],
        epilogue: Epilogue<'_>,
    ) -> Result<(), ArgumentError> {
        self.run_with(input, height, width, rows, output, epilogue, Kernel::best())
    }

    #[allow(clippy::too_many_arguments)]
    fn run_with(
        &self,
        input: &[f32],
        height: usize,
        width: usize,
        rows: Range<usize>,
        output: &mut [f32],
        epilogue: Epilogue<'_>,
        kernel: Kernel,
    ) -> Result<(), ArgumentError> {
        let (out_h, out_w) = self.output_size(height, width)?;
        let c = self.in_channels;
        if input.len() != height * width * c {
            return Err(ArgumentError::new(format!(
                "input must hold {height}x{width}x{c} values, got {}",
                input.len()
            )));
        }
        if rows.start > rows.end || rows.end > out_h {
            return Err(ArgumentError::new(format!(
                "rows {rows:?} are not within the {out_h} output rows"
            )));
        }
        let n = self.out_channels;
        if output.len() != rows.len() * out_w * n {
            return Err(ArgumentError::new(format!(
                "output must hold {}x{out_w}x{n} values, got {}",
                rows.len(),
                output.len()
            )));
        }
        if let Some(residual) = epilogue.residual {
            if residual.len() != out_h * out_w * n {
                return Err(ArgumentError::new(format!(
                    "residual must hold {out_h}x{out_w}x{n} values, got {}",
                    residual.len()
                )));
            }
        }
        if rows.is_empty() {
            return Ok(());
        }
        let geometry = Geometry {
            height,
            width,
            out_w,
        };
        SCRATCH.with_borrow_mut(|scratch| {
            if n == 1 && self.stride == 1 {
                self.single_output(
                    input, geometry, rows.start, output, epilogue, kernel, scratch,
                );
            } else {
                self.tiles(input, geometry, rows, output, epilogue, kernel, scratch);
            }
        });
        Ok(())
    }

    /// The register tiles of output rows `rows`.
    #[allow(clippy::too_many_arguments)]
    fn tiles(
        &self,
        input: &[f32],
        geometry: Geometry,
        rows: Range<usize>,
        output: &mut [f32],
        epilogue: Epilogue<'_>,
        kernel: Kernel,
        scratch: &mut Vec<f32>,
    ) {
        let (c, n, out_w) = (self.in_channels, self.out_channels, geometry.out_w);
        let pointwise = self.is_pointwise();
        let grid = if pointwise {
            None
        } else {
            Some(self.grid(input, geometry, rows.clone(), scratch))
        };
        let panels = n.div_ceil(PANEL);
        let depth = self.kernel * self.kernel * c;
        let (first, end) = (rows.start * out_w, rows.end * out_w);
        #[cfg(target_arch = "x86_64")]
        if pointwise && n == avx512::HALF && kernel == Kernel::Avx512 {
            let tile = Tile {
                source: Source::Rows {
                    base: &input[first * c..end * c],
                    stride: c,
                },
                runs: 1,
                run_len: c,
                weights: &self.packed,
                bias: &self.bias,
                rows: end - first,
                columns: n,
                stride: n,
            };
            let residual = epilogue.residual.map(|r| &r[first * n..end * n]);
            // SAFETY: the CPU has AVX-512F; `output` holds the band's pixels' outputs.
            unsafe { avx512::pairs(&tile, output, epilogue, residual) };
            return;
        }
        for block in (first..end).step_by(ROWS) {
            let count = ROWS.min(end - block);
            let source = match &grid {
                // Each pixel's channels are one row of the input, read in place.
                None => Source::Rows {
                    base: &input[block * c..(block + count) * c],
                    stride: c,
                },
                // Each pixel's kernel row is one run of kernel * c values of the grid.
                Some(grid) => Source::Grid {
                    base: grid.values,
                    offsets: grid.offsets(block, count, geometry, self.stride, c),
                    row_step: grid.width * c,
                },
            };
            if let Source::Grid {
                base,
                offsets,
                row_step,
            } = source
            {
                let last = offsets[count - 1] + (self.kernel - 1) * row_step + self.kernel * c;
                assert!(last <= base.len(), "a kernel row outside the grid");
            }
            for panel in 0..panels {
                let columns = PANEL.min(n - panel * PANEL);
                let at = (block - first) * n + panel * PANEL;
                let span = (count - 1) * n + columns;
                let tile = Tile {
                    source,
                    runs: if pointwise { 1 } else { self.kernel },
                    run_len: if pointwise { c } else { self.kernel * c },
                    weights: &self.packed[panel * depth * PANEL..(panel + 1) * depth * PANEL],
                    bias: &self.bias[panel * PANEL..(panel + 1) * PANEL],
                    rows: count,
                    columns,
                    stride: n,
                };
                let global = block * n + panel * PANEL;
                let residual = epilogue.residual.map(|r| &r[global..global + span]);
                let out = &mut output[at..at + span];
                // SAFETY: `out` holds the tile's `(rows - 1) * stride + columns` elements.
                unsafe { kernel.run(&tile, out.as_mut_ptr(), epilogue, residual) };
            }
        }
    }

    /// The input rows that output rows `rows` read, with the padding's zeros around them, so
    /// that every kernel row is a run of values (XNNPACK reads a zero buffer there: the same
    /// sums). Unpadded inputs are read in place.
    fn grid<'a>(
        &self,
        input: &'a [f32],
        geometry: Geometry,
        rows: Range<usize>,
        scratch: &'a mut Vec<f32>,
    ) -> Grid<'a> {
        let (pad, c, s, k) = (self.padding, self.in_channels, self.stride, self.kernel);
        // Rows of the padded map that the output rows read.
        let first = rows.start * s;
        let end = (rows.end - 1) * s + k;
        if pad == Padding::default() {
            return Grid {
                values: &input[first * geometry.width * c..],
                width: geometry.width,
                first_row: first,
            };
        }
        let width = pad.left + geometry.width + pad.right;
        scratch.clear();
        scratch.resize((end - first) * width * c, 0.0);
        for padded_row in first..end {
            let Some(y) = padded_row
                .checked_sub(pad.top)
                .filter(|&y| y < geometry.height)
            else {
                continue; // a padding row stays zero
            };
            let row = &input[y * geometry.width * c..(y + 1) * geometry.width * c];
            let at = ((padded_row - first) * width + pad.left) * c;
            scratch[at..at + row.len()].copy_from_slice(row);
        }
        Grid {
            values: scratch,
            width,
            first_row: first,
        }
    }
}

/// The (padded) input rows a band of output rows reads, from padded row `first_row` on.
struct Grid<'a> {
    values: &'a [f32],
    width: usize,
    first_row: usize,
}

impl Grid<'_> {
    /// Where the first kernel row of output pixels `first..first + count` starts.
    fn offsets(
        &self,
        first: usize,
        count: usize,
        geometry: Geometry,
        stride: usize,
        c: usize,
    ) -> [usize; ROWS] {
        let mut offsets = [0; ROWS];
        for (r, offset) in offsets.iter_mut().enumerate().take(count) {
            let (oy, ox) = ((first + r) / geometry.out_w, (first + r) % geometry.out_w);
            *offset = ((oy * stride - self.first_row) * self.width + ox * stride) * c;
        }
        offsets
    }
}

impl Conv {
    /// One output channel at stride 1 (the pose segmentation's last layer): vectors run along
    /// output pixels instead of channels, where 31 of 32 lanes would idle. The band's input rows
    /// are first laid out as channel planes with zero borders; the sums keep their order.
    #[allow(clippy::too_many_arguments)]
    fn single_output(
        &self,
        input: &[f32],
        geometry: Geometry,
        first: usize,
        out: &mut [f32],
        epilogue: Epilogue<'_>,
        kernel: Kernel,
        planes: &mut Vec<f32>,
    ) {
        let (k, c, pad) = (self.kernel, self.in_channels, self.padding);
        let (out_w, plane_w) = (geometry.out_w, pad.left + geometry.width + pad.right);
        let out_rows = out.len() / out_w;
        let plane_h = out_rows + k - 1; // padded input rows first..first + plane_h
        planes.clear();
        planes.resize(c * plane_h * plane_w, 0.0);
        for r in 0..plane_h {
            let Some(y) = (first + r)
                .checked_sub(pad.top)
                .filter(|&y| y < geometry.height)
            else {
                continue; // a padding row stays zero
            };
            let pixels = &input[y * geometry.width * c..(y + 1) * geometry.width * c];
            let row_start = r * plane_w + pad.left;
            match kernel {
                #[cfg(target_arch = "x86_64")]
                // SAFETY: chosen only when the CPU has AVX-512F; `planes` holds every channel's
                // row (sized above).
                Kernel::Avx512 => unsafe {
                    avx512::to_planes(pixels, c, planes, plane_h * plane_w, row_start)
                },
                _ => {
                    for (x, pixel) in pixels.chunks_exact(c).enumerate() {
                        for (channel, &value) in pixel.iter().enumerate() {
                            planes[channel * plane_h * plane_w + row_start + x] = value;
                        }
                    }
                }
            }
        }
        for (row, out_row) in out.chunks_exact_mut(out_w).enumerate() {
            out_row.fill(self.bias[0]);
            let rows = Rows {
                planes,
                plane_h,
                plane_w,
                first: row,
            };
            match kernel {
                Kernel::Portable => accumulate_rows(&rows, &self.packed, k, c, out_row),
                #[cfg(target_arch = "x86_64")]
                // SAFETY: chosen only when the CPU has AVX2 and FMA.
                Kernel::Fma => unsafe { accumulate_rows_fma(&rows, &self.packed, k, c, out_row) },
                #[cfg(target_arch = "x86_64")]
                // SAFETY: chosen only when the CPU has AVX-512F.
                Kernel::Avx512 => unsafe {
                    accumulate_rows_avx512(&rows, &self.packed, k, c, out_row)
                },
            }
            let oy = first + row;
            let residual = epilogue.residual.map(|r| &r[oy * out_w..][..out_w]);
            for (x, value) in out_row.iter_mut().enumerate() {
                *value = finish(*value, &epilogue, residual.map(|r| r[x]));
            }
        }
    }
}

/// A band's input rows as channel planes: `planes[(channel * plane_h + r) * plane_w + x]`;
/// the output row being summed starts at plane row `first`.
struct Rows<'a> {
    planes: &'a [f32],
    plane_h: usize,
    plane_w: usize,
    first: usize,
}

/// `out[x] += plane[x + kx] * w` over the kernel: taps by row then column, channels inside, the
/// packed order (one weight per PANEL).
#[inline(always)]
fn accumulate_rows(rows: &Rows<'_>, weights: &[f32], k: usize, channels: usize, out: &mut [f32]) {
    for ky in 0..k {
        for kx in 0..k {
            for channel in 0..channels {
                let w = weights[((ky * k + kx) * channels + channel) * PANEL];
                let start = (channel * rows.plane_h + rows.first + ky) * rows.plane_w + kx;
                let plane = &rows.planes[start..start + out.len()];
                for (acc, &x) in out.iter_mut().zip(plane) {
                    *acc = x.mul_add(w, *acc);
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
use avx512::accumulate_rows as accumulate_rows_avx512;

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn accumulate_rows_fma(
    rows: &Rows<'_>,
    weights: &[f32],
    k: usize,
    channels: usize,
    out: &mut [f32],
) {
    accumulate_rows(rows, weights, k, channels, out)
}

/// Output size of a convolution along both axes, or why there is none.
pub fn output_size(
    kernel: usize,
    stride: usize,
    padding: Padding,
    height: usize,
    width: usize,
) -> Result<(usize, usize), ArgumentError> {
    let padded =
        |side: usize, before: usize, after: usize| side.checked_add(before)?.checked_add(after);
    let (Some(padded_h), Some(padded_w)) = (
        padded(height, padding.top, padding.bottom),
        padded(width, padding.left, padding.right),
    ) else {
        return Err(ArgumentError::new(format!(
            "padding {padding:?} is too large"
        )));
    };
    if height == 0 || width == 0 || padded_h < kernel || padded_w < kernel || stride == 0 {
        return Err(ArgumentError::new(format!(
            "a {height}x{width} input is smaller than the {kernel}x{kernel} kernel"
        )));
    }
    Ok((
        (padded_h - kernel) / stride + 1,
        (padded_w - kernel) / stride + 1,
    ))
}

#[derive(Debug, Clone, Copy)]
struct Geometry {
    height: usize,
    width: usize,
    out_w: usize,
}

/// Where a tile's pixels read their input, in the packed weights' order.
#[derive(Clone, Copy)]
enum Source<'a> {
    /// Pixel `r` reads its one run at `base[r * stride..]` (1x1 convolutions).
    Rows { base: &'a [f32], stride: usize },
    /// Pixel `r` reads run `i` (kernel row i) at `base[offsets[r] + i * row_step..]`.
    Grid {
        base: &'a [f32],
        offsets: [usize; ROWS],
        row_step: usize,
    },
}

impl Source<'_> {
    /// Run `run` of pixel `row`, `len` values.
    #[inline(always)]
    fn values(&self, row: usize, run: usize, len: usize) -> &[f32] {
        let (base, start) = match *self {
            Source::Rows { base, stride } => (base, row * stride),
            Source::Grid {
                base,
                offsets,
                row_step,
            } => (base, offsets[row] + run * row_step),
        };
        &base[start..start + len]
    }
}

/// One register tile: `rows` output pixels times one weight panel. Each pixel reads `runs`
/// runs of `run_len` input values.
struct Tile<'a> {
    source: Source<'a>,
    runs: usize,
    run_len: usize,
    weights: &'a [f32],
    bias: &'a [f32],
    rows: usize,
    columns: usize,
    /// Output (and residual) elements from one pixel to the next.
    stride: usize,
}

impl Kernel {
    /// # Safety
    /// `out` must be valid for writes of the tile's `(rows - 1) * stride + columns` elements.
    unsafe fn run(
        self,
        tile: &Tile<'_>,
        out: *mut f32,
        epilogue: Epilogue<'_>,
        residual: Option<&[f32]>,
    ) {
        match self {
            Kernel::Portable => portable_tile(tile, out, epilogue, residual),
            #[cfg(target_arch = "x86_64")]
            // Chosen only when the CPU has AVX2 and FMA.
            Kernel::Fma => fma_tile(tile, out, epilogue, residual),
            #[cfg(target_arch = "x86_64")]
            // Chosen only when the CPU has AVX-512F.
            Kernel::Avx512 => avx512::tile(tile, out, epilogue, residual),
        }
    }
}

/// ReLU6 as x86's `max`/`min` instructions compute it (the second operand wins on NaN or equal
/// zeros), so the portable and vector paths agree to the bit.
#[inline(always)]
pub fn relu6(value: f32) -> f32 {
    let positive = if value > 0.0 { value } else { 0.0 };
    if positive < 6.0 {
        positive
    } else {
        6.0
    }
}

#[inline]
fn finish(value: f32, epilogue: &Epilogue<'_>, residual: Option<f32>) -> f32 {
    let mut v = value;
    if epilogue.relu6 {
        v = relu6(v);
    }
    if let Some(r) = residual {
        v += r;
        if epilogue.residual_relu6 {
            v = relu6(v);
        }
    }
    v
}

/// The tile with AVX2 and FMA: two pixels at a time, each a panel of four 8-lane registers
/// (the compiler leaves `portable_tile` scalar). Same order of sums as every kernel.
///
/// # Safety
/// As `Kernel::run`; the CPU has AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fma_tile(
    tile: &Tile<'_>,
    out: *mut f32,
    epilogue: Epilogue<'_>,
    residual: Option<&[f32]>,
) {
    use std::arch::x86_64::*;
    const _: () = assert!(PANEL == 32);
    assert!(tile.weights.len() >= tile.runs * tile.run_len * PANEL && tile.bias.len() >= PANEL);
    let w = tile.weights.as_ptr();
    for first in (0..tile.rows).step_by(2) {
        let pair = tile.rows - first >= 2;
        let bias: [__m256; 4] =
            std::array::from_fn(|v| _mm256_loadu_ps(tile.bias.as_ptr().add(8 * v)));
        let (mut upper, mut lower) = (bias, bias);
        for run in 0..tile.runs {
            let a = tile.source.values(first, run, tile.run_len).as_ptr();
            let b = if pair {
                tile.source.values(first + 1, run, tile.run_len).as_ptr()
            } else {
                a
            };
            let w = w.add(run * tile.run_len * PANEL);
            for k in 0..tile.run_len {
                let weights: [__m256; 4] =
                    std::array::from_fn(|v| _mm256_loadu_ps(w.add(k * PANEL + 8 * v)));
                let (x, y) = (_mm256_set1_ps(*a.add(k)), _mm256_set1_ps(*b.add(k)));
                for v in 0..4 {
                    upper[v] = _mm256_fmadd_ps(x, weights[v], upper[v]);
                    lower[v] = _mm256_fmadd_ps(y, weights[v], lower[v]);
                }
            }
        }
        for (row, acc) in [(first, upper), (first + 1, lower)]
            .into_iter()
            .take(if pair { 2 } else { 1 })
        {
            let mut values = [0.0f32; PANEL];
            for (v, register) in acc.iter().enumerate() {
                _mm256_storeu_ps(values.as_mut_ptr().add(8 * v), *register);
            }
            for (column, &value) in values.iter().enumerate().take(tile.columns) {
                let at = row * tile.stride + column;
                *out.add(at) = finish(value, &epilogue, residual.map(|r| r[at]));
            }
        }
    }
}

/// # Safety
/// As `Kernel::run`.
unsafe fn portable_tile(
    tile: &Tile<'_>,
    out: *mut f32,
    epilogue: Epilogue<'_>,
    residual: Option<&[f32]>,
) {
    for row in 0..tile.rows {
        let mut acc = [0.0f32; PANEL];
        acc.copy_from_slice(&tile.bias[..PANEL]);
        for run in 0..tile.runs {
            let values = tile.source.values(row, run, tile.run_len);
            for (j, &x) in values.iter().enumerate() {
                let k = run * tile.run_len + j;
                let w = &tile.weights[k * PANEL..(k + 1) * PANEL];
                for (acc, &w) in acc.iter_mut().zip(w) {
                    *acc = x.mul_add(w, *acc);
                }
            }
        }
        for (column, &value) in acc.iter().enumerate().take(tile.columns) {
            let at = row * tile.stride + column;
            *out.add(at) = finish(value, &epilogue, residual.map(|r| r[at]));
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::{Epilogue, Source, Tile, PANEL, ROWS};

    /// # Safety
    /// The CPU must have AVX-512F; `tile.source` holds `runs` runs of `run_len` values for
    /// each of the `rows` pixels, `tile.weights`
    /// `depth * PANEL`, `tile.bias` PANEL; `out` is writable and `residual` holds
    /// `(rows - 1) * stride + columns` elements.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn tile(
        tile: &Tile<'_>,
        out: *mut f32,
        epilogue: Epilogue<'_>,
        residual: Option<&[f32]>,
    ) {
        match tile.rows {
            8 => rows::<8>(tile, out, epilogue, residual),
            7 => rows::<7>(tile, out, epilogue, residual),
            6 => rows::<6>(tile, out, epilogue, residual),
            5 => rows::<5>(tile, out, epilogue, residual),
            4 => rows::<4>(tile, out, epilogue, residual),
            3 => rows::<3>(tile, out, epilogue, residual),
            2 => rows::<2>(tile, out, epilogue, residual),
            _ => rows::<1>(tile, out, epilogue, residual),
        }
    }

    const _: () = assert!(ROWS == 8 && PANEL == 32);

    /// Output channels of the pixel-pair kernel: half a register.
    pub(super) const HALF: usize = 8;

    /// A 1x1 convolution to 8 channels (the pose segmentation's 256x256 and 128x128 layers),
    /// over a whole band of pixels (`tile.rows` of them) in one call: one register holds two
    /// neighbouring pixels' outputs, which lie next to each other, where a register per pixel
    /// would idle half its lanes. Lane i < 8 of a pair's input register is input k of the first
    /// pixel, lane i >= 8 of the second (a two-source permute); the weights repeat in both
    /// halves. Each output still sums its inputs in order.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `tile.source` is `Rows` with `tile.rows` pixels.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn pairs(
        tile: &Tile<'_>,
        out: &mut [f32],
        epilogue: Epilogue<'_>,
        residual: Option<&[f32]>,
    ) {
        const PAIRS: usize = 4;
        let Source::Rows {
            base,
            stride: channels,
        } = tile.source
        else {
            unreachable!("pairs reads rows of pixels");
        };
        let pixels = tile.rows;
        assert!(base.len() >= pixels * channels && tile.weights.len() >= channels * PANEL);
        assert!(out.len() >= pixels * HALF && residual.is_none_or(|r| r.len() >= pixels * HALF));
        let repeat = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
        let bias = _mm512_permutexvar_ps(repeat, _mm512_loadu_ps(tile.bias.as_ptr()));
        let second = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 16, 16, 16, 16, 16, 16, 16, 16);
        let (x, w) = (base.as_ptr(), tile.weights.as_ptr());
        let zero = _mm512_setzero_ps();
        let six = _mm512_set1_ps(6.0);
        for group in (0..pixels).step_by(2 * PAIRS) {
            let rows = (pixels - group).min(2 * PAIRS);
            // Output lanes of each pair: both pixels, or the first alone at an odd end.
            let lanes: [__mmask16; PAIRS] =
                std::array::from_fn(|j| match rows.saturating_sub(2 * j) {
                    0 => 0,
                    1 => 0x00ff,
                    _ => 0xffff,
                });
            let mut acc = [bias; PAIRS];
            for first in (0..channels).step_by(16) {
                let n = (channels - first).min(16);
                let inputs = ((1u32 << n) - 1) as u16;
                let pixel = |r: usize| {
                    let valid = if r < rows { inputs } else { 0 };
                    _mm512_maskz_loadu_ps(valid, x.add((group + r) * channels + first))
                };
                let halves: [(__m512, __m512); PAIRS] =
                    std::array::from_fn(|j| (pixel(2 * j), pixel(2 * j + 1)));
                for k in 0..n {
                    let pick = _mm512_add_epi32(second, _mm512_set1_epi32(k as i32));
                    let weights = _mm512_loadu_ps(w.add((first + k) * PANEL));
                    let weights = _mm512_permutexvar_ps(repeat, weights);
                    for (acc, &(a, b)) in acc.iter_mut().zip(&halves) {
                        let value = _mm512_permutex2var_ps(a, pick, b);
                        *acc = _mm512_fmadd_ps(value, weights, *acc);
                    }
                }
            }
            for (j, mut v) in acc.into_iter().enumerate() {
                if lanes[j] == 0 {
                    break;
                }
                if epilogue.relu6 {
                    v = _mm512_min_ps(_mm512_max_ps(v, zero), six);
                }
                let at = (group + 2 * j) * HALF;
                if let Some(r) = residual {
                    v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(lanes[j], r.as_ptr().add(at)));
                    if epilogue.residual_relu6 {
                        v = _mm512_min_ps(_mm512_max_ps(v, zero), six);
                    }
                }
                _mm512_mask_storeu_ps(out.as_mut_ptr().add(at), lanes[j], v);
            }
        }
    }

    fn mask(columns: usize) -> u16 {
        if columns >= 16 {
            0xffff
        } else {
            ((1u32 << columns) - 1) as u16
        }
    }

    #[target_feature(enable = "avx512f")]
    unsafe fn rows<const R: usize>(
        tile: &Tile<'_>,
        o: *mut f32,
        epilogue: Epilogue<'_>,
        residual: Option<&[f32]>,
    ) {
        let w = tile.weights.as_ptr();
        let (runs, run_len) = (tile.runs, tile.run_len);
        let both = tile.columns > 16;
        let (mask0, mask1) = (mask(tile.columns), mask(tile.columns.saturating_sub(16)));
        let mut acc0 = [_mm512_loadu_ps(tile.bias.as_ptr()); R];
        let mut acc1 = [_mm512_loadu_ps(tile.bias.as_ptr().add(16)); R];
        for run in 0..runs {
            let a: [*const f32; R] = match tile.source {
                Source::Rows { base, stride } => {
                    std::array::from_fn(|r| base.as_ptr().add(r * stride))
                }
                Source::Grid {
                    base,
                    offsets,
                    row_step,
                } => std::array::from_fn(|r| base.as_ptr().add(offsets[r] + run * row_step)),
            };
            let w = w.add(run * run_len * PANEL);
            if both {
                for k in 0..run_len {
                    let w0 = _mm512_loadu_ps(w.add(k * PANEL));
                    let w1 = _mm512_loadu_ps(w.add(k * PANEL + 16));
                    for r in 0..R {
                        let x = _mm512_set1_ps(*a[r].add(k));
                        acc0[r] = _mm512_fmadd_ps(x, w0, acc0[r]);
                        acc1[r] = _mm512_fmadd_ps(x, w1, acc1[r]);
                    }
                }
            } else {
                for k in 0..run_len {
                    let w0 = _mm512_loadu_ps(w.add(k * PANEL));
                    for r in 0..R {
                        let x = _mm512_set1_ps(*a[r].add(k));
                        acc0[r] = _mm512_fmadd_ps(x, w0, acc0[r]);
                    }
                }
            }
        }
        let zero = _mm512_setzero_ps();
        let six = _mm512_set1_ps(6.0);
        for r in 0..R {
            let mut v0 = acc0[r];
            let mut v1 = acc1[r];
            if epilogue.relu6 {
                v0 = _mm512_min_ps(_mm512_max_ps(v0, zero), six);
                v1 = _mm512_min_ps(_mm512_max_ps(v1, zero), six);
            }
            let at = r * tile.stride;
            if let Some(res) = residual {
                let p = res.as_ptr().add(at);
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(mask0, p));
                if both {
                    v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(mask1, p.add(16)));
                }
                if epilogue.residual_relu6 {
                    v0 = _mm512_min_ps(_mm512_max_ps(v0, zero), six);
                    v1 = _mm512_min_ps(_mm512_max_ps(v1, zero), six);
                }
            }
            _mm512_mask_storeu_ps(o.add(at), mask0, v0);
            if both {
                _mm512_mask_storeu_ps(o.add(at + 16), mask1, v1);
            }
        }
    }

    /// Pixels (x, channel) of one input row into the channel planes: value (x, c) to
    /// `planes[c * plane_len + start + x]`, 16 pixels of a channel per gather.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `planes` holds `channels * plane_len` values and each
    /// channel's `start + pixels.len() / channels` fits in its plane.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn to_planes(
        pixels: &[f32],
        channels: usize,
        planes: &mut [f32],
        plane_len: usize,
        start: usize,
    ) {
        let width = pixels.len() / channels;
        assert!(channels * plane_len <= planes.len() && start + width <= plane_len);
        let lanes: [i32; 16] = std::array::from_fn(|j| (j * channels) as i32);
        let index = _mm512_loadu_epi32(lanes.as_ptr());
        let (src, dst) = (pixels.as_ptr(), planes.as_mut_ptr());
        let mut x = 0;
        while x < width {
            let mask: __mmask16 = if width - x >= 16 {
                u16::MAX
            } else {
                (1u16 << (width - x)) - 1
            };
            for c in 0..channels {
                let from = src.add(x * channels + c);
                let values = _mm512_mask_i32gather_ps::<4>(_mm512_setzero_ps(), mask, index, from);
                _mm512_mask_storeu_ps(dst.add(c * plane_len + start + x), mask, values);
            }
            x += 16;
        }
    }

    /// As `super::accumulate_rows`, with 64 output pixels held in registers through every tap.
    #[target_feature(enable = "avx512f")]
    pub(super) fn accumulate_rows(
        rows: &super::Rows<'_>,
        weights: &[f32],
        k: usize,
        channels: usize,
        out: &mut [f32],
    ) {
        let width = out.len();
        let needed = ((channels - 1) * rows.plane_h + rows.first + k - 1) * rows.plane_w + k - 1;
        assert!(needed + width <= rows.planes.len() && weights.len() >= k * k * channels * PANEL);
        let planes = rows.planes.as_ptr();
        let mut x = 0;
        while x < width {
            let left = width - x;
            let masks: [__mmask16; 4] = std::array::from_fn(|v| {
                let n = left.saturating_sub(16 * v).min(16);
                ((1u32 << n) - 1) as u16
            });
            // SAFETY: loads and stores are masked to the row; plane reads stay below `needed +
            // width`, checked above.
            unsafe {
                let o = out.as_mut_ptr().add(x);
                let mut acc: [__m512; 4] =
                    std::array::from_fn(|v| _mm512_maskz_loadu_ps(masks[v], o.add(16 * v)));
                for ky in 0..k {
                    for kx in 0..k {
                        for c in 0..channels {
                            let w = _mm512_set1_ps(weights[((ky * k + kx) * channels + c) * PANEL]);
                            let row = (c * rows.plane_h + rows.first + ky) * rows.plane_w;
                            let p = planes.add(row + kx + x);
                            for (v, acc) in acc.iter_mut().enumerate() {
                                let value = _mm512_maskz_loadu_ps(masks[v], p.add(16 * v));
                                *acc = _mm512_fmadd_ps(value, w, *acc);
                            }
                        }
                    }
                }
                for (v, acc) in acc.iter().enumerate() {
                    _mm512_mask_storeu_ps(o.add(16 * v), masks[v], *acc);
                }
            }
            x += 64;
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    impl Conv {
        /// The whole map at once: every output row.
        fn run(
            &self,
            input: &[f32],
            height: usize,
            width: usize,
            output: &mut [f32],
            epilogue: Epilogue<'_>,
        ) -> Result<(), ArgumentError> {
            let (out_h, _) = self.output_size(height, width)?;
            self.run_rows(input, height, width, 0..out_h, output, epilogue)
        }
    }

    /// PyTorch-layout conv with XNNPACK's order, one output at a time.
    #[allow(clippy::too_many_arguments)]
    fn reference(
        input: &[f32],
        h: usize,
        w: usize,
        weight: &[f32],
        bias: &[f32],
        cin: usize,
        cout: usize,
        k: usize,
        stride: usize,
        pad: Padding,
        epilogue: Epilogue<'_>,
    ) -> Vec<f32> {
        let (oh, ow) = output_size(k, stride, pad, h, w).unwrap();
        let mut out = vec![0.0; oh * ow * cout];
        for oy in 0..oh {
            for ox in 0..ow {
                for o in 0..cout {
                    let mut acc = bias[o];
                    for ky in 0..k {
                        for kx in 0..k {
                            let y = (oy * stride + ky) as isize - pad.top as isize;
                            let x = (ox * stride + kx) as isize - pad.left as isize;
                            if y < 0 || x < 0 || y >= h as isize || x >= w as isize {
                                continue;
                            }
                            for c in 0..cin {
                                let v = input[(y as usize * w + x as usize) * cin + c];
                                acc = v.mul_add(weight[((o * cin + c) * k + ky) * k + kx], acc);
                            }
                        }
                    }
                    let at = (oy * ow + ox) * cout + o;
                    out[at] = finish(acc, &epilogue, epilogue.residual.map(|r| r[at]));
                }
            }
        }
        out
    }

    /// Deterministic values in [-1, 1) from a seed (a 32-bit LCG), for
    /// every kernel's tests.
    pub(crate) fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut state = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                (state >> 8) as f32 / (1u32 << 23) as f32 - 1.0
            })
            .collect()
    }

    fn kernels() -> Vec<Kernel> {
        Kernel::available()
    }

    #[allow(clippy::too_many_arguments)]
    fn check(h: usize, w: usize, cin: usize, cout: usize, k: usize, stride: usize, pad: Padding) {
        let input = values(h * w * cin, 1);
        let weight = values(cout * cin * k * k, 2);
        let bias = values(cout, 3);
        let conv = Conv::new(&weight, &bias, cin, cout, k, stride, pad).unwrap();
        let (oh, ow) = conv.output_size(h, w).unwrap();
        let residual: Vec<f32> = values(oh * ow * cout, 4).iter().map(|v| v * 4.0).collect();
        let epilogues = [
            Epilogue::default(),
            Epilogue {
                relu6: true,
                ..Default::default()
            },
            Epilogue {
                residual: Some(&residual),
                residual_relu6: true,
                ..Default::default()
            },
            Epilogue {
                relu6: true,
                residual: Some(&residual),
                residual_relu6: false,
            },
        ];
        for epilogue in epilogues {
            let expected = reference(
                &input, h, w, &weight, &bias, cin, cout, k, stride, pad, epilogue,
            );
            for kernel in kernels() {
                let mut out = vec![f32::NAN; oh * ow * cout];
                conv.run_with(&input, h, w, 0..oh, &mut out, epilogue, kernel)
                    .unwrap();
                let same = out
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same, "{kernel:?} {h}x{w}x{cin}->{cout} k{k} s{stride}");
                // Bands of rows, as the program's threads run them, give the same values.
                let split = oh / 3;
                let row = ow * cout;
                let mut banded = vec![f32::NAN; oh * ow * cout];
                let (top, bottom) = banded.split_at_mut(split * row);
                conv.run_with(&input, h, w, 0..split, top, epilogue, kernel)
                    .unwrap();
                conv.run_with(&input, h, w, split..oh, bottom, epilogue, kernel)
                    .unwrap();
                assert!(banded
                    .iter()
                    .zip(&out)
                    .all(|(a, b)| a.to_bits() == b.to_bits()));
            }
        }
    }

    #[test]
    fn pointwise_matches_the_reference_bit_for_bit() {
        // 8 outputs: pixel pairs per register, odd tiles and inputs past one register too.
        for (h, w, cin, cout) in [
            (5, 7, 3, 1),
            (16, 16, 24, 144),
            (3, 3, 64, 33),
            (40, 40, 8, 8),
            (1, 1, 300, 17),
            (3, 5, 16, 8),
            (2, 3, 20, 8),
            (1, 1, 5, 8),
        ] {
            check(h, w, cin, cout, 1, 1, Padding::default());
        }
    }

    #[test]
    fn larger_kernels_with_padding_match_the_reference() {
        let same_s2 = Padding {
            top: 0,
            bottom: 1,
            left: 0,
            right: 1,
        };
        let one = Padding {
            top: 1,
            bottom: 1,
            left: 1,
            right: 1,
        };
        check(16, 16, 3, 24, 3, 2, one);
        check(9, 12, 5, 40, 3, 2, same_s2);
        check(9, 12, 5, 1, 3, 2, same_s2); // one output channel at stride 2: the tiles
        check(2, 2, 40, 50, 2, 1, Padding::default());
        check(10, 10, 8, 1, 3, 1, one);
        check(64, 64, 8, 1, 3, 1, one); // one output channel, rows in parallel
        check(64, 64, 3, 16, 3, 2, one); // enough pixel blocks for the row-split path
    }

    #[test]
    fn wrong_sizes_are_errors() {
        let conv = Conv::new(&[1.0; 8], &[0.0; 2], 4, 2, 1, 1, Padding::default()).unwrap();
        let mut out = vec![0.0; 2];
        assert!(conv
            .run(&[0.0; 3], 1, 1, &mut out, Epilogue::default())
            .is_err());
        assert!(conv
            .run(&[0.0; 4], 1, 1, &mut [0.0; 3], Epilogue::default())
            .is_err());
        let residual = [0.0; 1];
        let epilogue = Epilogue {
            residual: Some(&residual),
            ..Default::default()
        };
        assert!(conv.run(&[0.0; 4], 1, 1, &mut out, epilogue).is_err());
        assert!(Conv::new(&[1.0; 7], &[0.0; 2], 4, 2, 1, 1, Padding::default()).is_err());
        assert!(Conv::new(&[1.0; 8], &[0.0; 3], 4, 2, 1, 1, Padding::default()).is_err());
        let big = Conv::new(&[1.0; 18], &[0.0; 2], 1, 2, 3, 1, Padding::default()).unwrap();
        assert!(big.output_size(2, 5).is_err());
        assert!(Conv::new(&[], &[], 0, 2, 1, 1, Padding::default()).is_err());
    }
}
