//! Frame preprocessing: letterbox a BGR frame to a black-padded square, resize it to 256x256
//! exactly as OpenCV's `cv2.resize(..., interpolation=INTER_LINEAR)` does on uint8, and write it
//! as the network input (RGB or BGR, scaled to [0, 1], channel-first float32).
//!
//! The padded square is never built: padding pixels are a virtual black border, which is exact
//! because a black pixel contributes nothing to OpenCV's fixed-point sums. Rows are processed
//! channel-planar, so every arithmetic loop runs over contiguous values and vectorizes.

use numpy::ndarray::{ArrayView3, Axis};

use crate::error::ArgumentError;

/// Side of the square frame the networks see.
pub const SIZE: usize = 256;
/// Colour channels of a frame.
pub const CHANNELS: usize = 3;

/// Channel order of the network input (frames come in as OpenCV's BGR).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ChannelOrder {
    /// Red, green, blue: the order the reference README's preprocessing describes.
    #[default]
    Rgb,
    /// OpenCV's order, kept as it is: what the SenseKit networks were fed (pipeline.npz).
    Bgr,
}

impl ChannelOrder {
    /// The output plane that input channel `c` (B=0, G=1, R=2) goes to.
    pub(crate) fn plane(self, c: usize) -> usize {
        match self {
            ChannelOrder::Rgb => CHANNELS - 1 - c,
            ChannelOrder::Bgr => c,
        }
    }
}
/// Values in one preprocessed frame, (3, 256, 256).
pub const FRAME_LEN: usize = CHANNELS * SIZE * SIZE;

/// OpenCV's INTER_RESIZE_COEF_BITS: interpolation weights are 11-bit fixed point.
const COEF_SCALE: f32 = (1 << 11) as f32;
/// One output row of the resized frame: 3 channel planes of 256 values, in BGR order.
const ROW_LEN: usize = SIZE * CHANNELS;

/// One output coordinate of the bilinear resize: two source indices and their 11-bit weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Tap {
    index: [usize; 2],
    weight: [i32; 2],
}

/// OpenCV's per-axis interpolation table for resizing `src` samples to `SIZE`.
///
/// Positions map pixel centres (`(d + 0.5) * scale - 0.5`, rounded to f32 as OpenCV does).
/// Along x, OpenCV clamps the position itself at the borders (weight 1 on the edge pixel);
/// along y it only clamps the row indices and keeps the fractional weights.
fn axis_taps(src: usize, clamp_position: bool) -> Vec<Tap> {
    let scale = 1.0 / (SIZE as f64 / src as f64);
    let last = src as i64 - 1;
    (0..SIZE)
        .map(|d| {
            let position = ((d as f64 + 0.5) * scale - 0.5) as f32;
            let mut start = position.floor() as i64;
            let mut fraction = position - start as f32;
            if clamp_position && start < 0 {
                start = 0;
                fraction = 0.0;
            }
            if clamp_position && start >= last {
                start = last;
                fraction = 0.0;
            }
            Tap {
                index: [
                    start.clamp(0, last) as usize,
                    (start + 1).clamp(0, last) as usize,
                ],
                weight: [
                    ((1.0 - fraction) * COEF_SCALE).round_ties_even() as i32,
                    (fraction * COEF_SCALE).round_ties_even() as i32,
                ],
            }
        })
        .collect()
}

/// Maps a row of the padded square to the frame, or `None` inside the black border.
fn unpad(index: usize, pad_before: usize, len: usize) -> Option<usize> {
    index.checked_sub(pad_before).filter(|&i| i < len)
}

/// The horizontal pass: resizes a frame row (BGR interleaved) into 3 planes of 256 fixed-point
/// sums, as a gather of source pixel pairs followed by a multiply-add that vectorizes.
struct HorizontalPass {
    /// Per output column: byte offset of a pair of adjacent pixels, both inside the row.
    offsets: [usize; SIZE],
    /// Per output column: weights of the first and second pixel of the pair.
    weights: [[i32; SIZE]; 2],
    /// Per output column: the pair's 6 bytes (BGR BGR), copied as one 8-byte word where the row
    /// has 2 bytes to spare after the pair (all but the last column or two).
    pairs: [[u8; 8]; SIZE],
}

impl HorizontalPass {
    /// Taps for frame rows of `width` pixels centred in a square of `side` with `pad_left`
    /// black columns before them. Rows must hold at least 2 pixels (`row_pixels(width)`).
    fn new(side: usize, pad_left: usize, width: usize) -> Self {
        let last_pair = row_pixels(width) as i64 - 2;
        let (mut offsets, mut weights) = ([0; SIZE], [[0; SIZE]; 2]);
        for (column, tap) in axis_taps(side, true).into_iter().enumerate() {
            // Read the pair starting at `first`, moved inside the row; each tap pixel keeps
            // its weight at its place in the pair, and black pixels (outside the frame) drop out.
            let x = tap.index[0] as i64 - pad_left as i64;
            let first = x.clamp(0, last_pair);
            let mut pair = [0; 2];
            for (k, weight) in tap.weight.into_iter().enumerate() {
                let pixel = x + k as i64;
                if (0..width as i64).contains(&pixel) {
                    pair[(pixel - first) as usize] += weight;
                }
            }
            offsets[column] = first as usize * CHANNELS;
            (weights[0][column], weights[1][column]) = (pair[0], pair[1]);
        }
        Self {
            offsets,
            weights,
            pairs: [[0; 8]; SIZE],
        }
    }

    /// Resizes one row (`row_pixels(width) * 3` bytes) into 3 planes of 256 fixed-point sums.
    #[inline(always)]
    fn run(&mut self, row: &[u8], out: &mut [i32]) {
        for (pair, &offset) in self.pairs.iter_mut().zip(&self.offsets) {
            match row.get(offset..offset + 8) {
                Some(bytes) => pair.copy_from_slice(bytes),
                None => pair[..2 * CHANNELS].copy_from_slice(&row[offset..offset + 2 * CHANNELS]),
            }
        }
        let [first_weights, second_weights] = &self.weights;
        for (c, plane) in out.chunks_exact_mut(SIZE).enumerate() {
            let taps = self
                .pairs
                .iter()
                .zip(first_weights.iter().zip(second_weights));
            for (sum, (pair, (&wa, &wb))) in plane.iter_mut().zip(taps) {
                *sum = i32::from(pair[c]) * wa + i32::from(pair[CHANNELS + c]) * wb;
            }
        }
    }
}

/// Pixels in a row as the horizontal pass reads it: a 1-pixel frame gets a black second pixel
/// (the column after the frame is black padding or beyond the square, where weights are 0).
fn row_pixels(width: usize) -> usize {
    width.max(2)
}

/// Vertical pass: blends two horizontally resized rows into one output row.
///
/// This is OpenCV's SIMD kernel (`VResizeLinearVec_32s8u`), which drops 4 low bits and keeps the
/// high half of a 16-bit multiply; it, not the scalar formula, produces every pixel of a 3-channel
/// 256-wide output because 768 is a multiple of every SIMD width.
#[inline(always)]
fn blend_rows(upper: &[i32], lower: &[i32], weight: [i32; 2], out: &mut [u8]) {
    for ((value, &a), &b) in out.iter_mut().zip(upper).zip(lower) {
        let sum = (((a >> 4) * weight[0]) >> 16) + (((b >> 4) * weight[1]) >> 16);
        *value = ((sum + 2) >> 2).clamp(0, 255) as u8;
    }
}

/// Horizontally resized source rows, cached by padded-square row index (OpenCV keeps two too).
struct RowCache<'a> {
    frame: ArrayView3<'a, u8>,
    pad_top: usize,
    horizontal: HorizontalPass,
    /// Copy of a frame row that is strided, or too narrow for the horizontal pass.
    row_copy: Vec<u8>,
    keys: [Option<usize>; 2],
    rows: [Vec<i32>; 2],
}

impl RowCache<'_> {
    /// Ensures `slot` holds padded row `key`, taking it from the other slot when it is there.
    #[inline(always)]
    fn load(&mut self, slot: usize, key: usize) {
        if self.keys[slot] == Some(key) {
            return;
        }
        if self.keys[1 - slot] == Some(key) {
            self.keys.swap(0, 1);
            self.rows.swap(0, 1);
            return;
        }
        self.keys[slot] = Some(key);
        let out = &mut self.rows[slot];
        let Some(y) = unpad(key, self.pad_top, self.frame.len_of(Axis(0))) else {
            out.fill(0);
            return;
        };
        let row = self.frame.index_axis(Axis(0), y);
        match row.as_slice() {
            Some(bytes) if bytes.len() == self.row_copy.len() => self.horizontal.run(bytes, out),
            _ => {
                self.row_copy
                    .iter_mut()
                    .zip(row.iter())
                    .for_each(|(o, &v)| *o = v);
                self.horizontal.run(&self.row_copy, out);
            }
        }
    }
}

/// Largest frame side accepted. A broadcast array can claim any shape without the memory behind
/// it; the row buffers sized from the width must stay small (8K video is 7680 wide).
pub const MAX_FRAME_SIDE: usize = 1 << 15;

/// Checks that `frame` is a non-empty (H, W, 3) image with sides of at most `MAX_FRAME_SIDE`.
pub fn check_frame(frame: &ArrayView3<'_, u8>) -> Result<(), ArgumentError> {
    let sides = 1..=MAX_FRAME_SIDE;
    match frame.shape() {
        &[height, width, CHANNELS] if sides.contains(&height) && sides.contains(&width) => Ok(()),
        shape => Err(ArgumentError::new(format!(
            "frame must have shape (H, W, 3) with 1 <= H, W <= {MAX_FRAME_SIDE}, got {shape:?}"
        ))),
    }
}

/// Letterboxes and resizes `frame` (BGR, any strides), handing each output row to `sink`
/// as (`dy` from the top, 3 planes of 256 values in BGR order).
fn letterbox_rows(
    frame: ArrayView3<'_, u8>,
    sink: impl FnMut(usize, &[u8]),
) -> Result<(), ArgumentError> {
    check_frame(&frame)?;
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU supports AVX2, checked just above.
        unsafe { resize_rows_avx2(frame, sink) };
        return Ok(());
    }
    resize_rows(frame, sink);
    Ok(())
}

/// `resize_rows` compiled for AVX2, where its loops vectorize 8 lanes wide (about 2x faster than
/// the SSE2 baseline the wheel is built for).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn resize_rows_avx2(frame: ArrayView3<'_, u8>, sink: impl FnMut(usize, &[u8])) {
    resize_rows(frame, sink);
}

/// The body of `letterbox_rows` for a checked frame; inlined into each instruction-set variant.
#[inline(always)]
fn resize_rows(frame: ArrayView3<'_, u8>, mut sink: impl FnMut(usize, &[u8])) {
    let (height, width) = (frame.len_of(Axis(0)), frame.len_of(Axis(1)));
    let side = height.max(width);
    let (pad_top, pad_left) = ((side - height) / 2, (side - width) / 2);
    let mut cache = RowCache {
        frame,
        pad_top,
        horizontal: HorizontalPass::new(side, pad_left, width),
        row_copy: vec![0; row_pixels(width) * CHANNELS],
        keys: [None, None],
        rows: [vec![0; ROW_LEN], vec![0; ROW_LEN]],
    };
    let mut out_row = [0u8; ROW_LEN];
    for (dy, tap) in axis_taps(side, false).into_iter().enumerate() {
        cache.load(0, tap.index[0]);
        let lower = if tap.index[1] == tap.index[0] {
            0
        } else {
            cache.load(1, tap.index[1]);
            1
        };
        blend_rows(&cache.rows[0], &cache.rows[lower], tap.weight, &mut out_row);
        sink(dy, &out_row);
    }
}

/// The 256x256 BGR uint8 frame the model sees before scaling, as (256, 256, 3) row-major bytes.
pub fn letterbox(frame: ArrayView3<'_, u8>) -> Result<Vec<u8>, ArgumentError> {
    let mut out = vec![0u8; SIZE * ROW_LEN];
    letterbox_rows(frame, |dy, planes| {
        let pixels = out[dy * ROW_LEN..(dy + 1) * ROW_LEN].chunks_exact_mut(CHANNELS);
        for (x, pixel) in pixels.enumerate() {
            for (c, value) in pixel.iter_mut().enumerate() {
                *value = planes[c * SIZE + x];
            }
        }
    })?;
    Ok(out)
}

/// Preprocesses `frame` into `out` (`FRAME_LEN` values): channels in `order`, scaled to [0, 1],
/// channel-first. On error `out` is left untouched.
pub fn preprocess_into(
    frame: ArrayView3<'_, u8>,
    out: &mut [f32],
    order: ChannelOrder,
) -> Result<(), ArgumentError> {
    debug_assert_eq!(out.len(), FRAME_LEN);
    letterbox_rows(frame, |dy, bgr_planes| {
        for (c, values) in bgr_planes.chunks_exact(SIZE).enumerate() {
            let row = &mut out[order.plane(c) * SIZE * SIZE + dy * SIZE..][..SIZE];
            // f32 division is exactly (v as f64 / 255) as f32 for every uint8 (see the tests).
            row.iter_mut()
                .zip(values)
                .for_each(|(o, &v)| *o = f32::from(v) / 255.0);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use numpy::ndarray::{s, Array3, ShapeBuilder};

    /// A deterministic test pattern (the same formula generated the OpenCV figures below).
    fn pattern(height: usize, width: usize) -> Array3<u8> {
        Array3::from_shape_fn((height, width, 3), |(y, x, c)| {
            ((y * 53 + x * 29 + c * 97 + y * x * 7) % 256) as u8
        })
    }

    /// (sum, position-weighted sum) of a letterboxed frame, to compare with OpenCV's figures.
    fn checksums(out: &[u8]) -> (u64, u64) {
        out.iter()
            .enumerate()
            .fold((0, 0), |(sum, weighted), (i, &v)| {
                (
                    sum + u64::from(v),
                    weighted + (i as u64 % 251) * u64::from(v),
                )
            })
    }

    #[test]
    fn matches_opencv_letterbox_and_resize() {
        // cv2.resize(cv2.copyMakeBorder(pattern, ...), (256, 256), interpolation=INTER_LINEAR)
        let expected = [
            ((5, 7), (17506228, 2188185060)),
            ((300, 200), (16645299, 2080184251)),
            ((480, 640), (18745600, 2342954111)),
            ((1, 1), (19070976, 2383236650)),
            ((256, 256), (25001984, 3122830530)),
            ((512, 384), (18784256, 2349968596)),
        ];
        for ((height, width), sums) in expected {
            let out = letterbox(pattern(height, width).view()).unwrap();
            assert_eq!(checksums(&out), sums, "{height}x{width}");
        }
    }

    #[test]
    fn unit_scale_matches_the_float64_numpy_path() {
        for v in 0..=255u8 {
            assert_eq!(f32::from(v) / 255.0, (f64::from(v) / 255.0) as f32);
        }
    }

    #[test]
    fn baseline_and_simd_builds_agree() {
        // On an AVX2 machine `letterbox` runs the AVX2 build; check the plain one against it.
        for (height, width) in [(480, 640), (5, 7), (97, 301)] {
            let frame = pattern(height, width);
            let (mut simd, mut baseline) = (vec![], vec![]);
            letterbox_rows(frame.view(), |_, row| simd.extend_from_slice(row)).unwrap();
            resize_rows(frame.view(), |_, row| baseline.extend_from_slice(row));
            assert_eq!(simd, baseline);
        }
    }

    #[test]
    fn same_size_square_is_unchanged() {
        let frame = pattern(SIZE, SIZE);
        assert_eq!(letterbox(frame.view()).unwrap(), frame.as_slice().unwrap());
    }

    #[test]
    fn strided_and_reversed_views_match_their_copies() {
        let frame = pattern(97, 301);
        for view in [
            frame.slice(s![..;-1, .., ..]),
            frame.slice(s![.., ..;2, ..]),
            frame.slice(s![10..60;3, ..;-3, ..;-1]),
        ] {
            let copy = view.to_owned();
            assert_eq!(letterbox(view).unwrap(), letterbox(copy.view()).unwrap());
        }
    }

    #[test]
    fn padding_is_black_and_centred() {
        // A white 100x300 frame: top pad int((300 - 100) / 2) = 100 rows of 300 -> rows < ~85 black.
        let frame = Array3::from_elem((100, 300, 3), 255u8);
        let out = letterbox(frame.view()).unwrap();
        let row = |dy: usize| &out[dy * ROW_LEN..(dy + 1) * ROW_LEN];
        assert!(row(0).iter().all(|&v| v == 0));
        assert!(row(255).iter().all(|&v| v == 0));
        assert!(row(128).iter().all(|&v| v == 255));
    }

    #[test]
    fn preprocess_is_channel_first_unit_scale_in_either_order() {
        let frame = pattern(120, 160);
        let bgr = letterbox(frame.view()).unwrap();
        for order in [ChannelOrder::Rgb, ChannelOrder::Bgr] {
            let mut out = vec![f32::NAN; FRAME_LEN];
            preprocess_into(frame.view(), &mut out, order).unwrap();
            for (i, pixel) in bgr.chunks_exact(3).enumerate() {
                for (c, &value) in pixel.iter().enumerate() {
                    let plane = if order == ChannelOrder::Rgb { 2 - c } else { c };
                    assert_eq!(
                        out[plane * SIZE * SIZE + i],
                        (f64::from(value) / 255.0) as f32
                    );
                }
            }
        }
    }

    #[test]
    fn rejects_empty_huge_and_non_bgr_frames() {
        // Huge shapes as numpy's broadcast_to makes them: no memory behind the shape.
        let pixel = [7u8; 3];
        for shape in [(1, MAX_FRAME_SIDE + 1), (1 << 40, 2), (1 << 20, 1 << 40)] {
            let view =
                ArrayView3::from_shape((shape.0, shape.1, 3).strides((0, 0, 1)), &pixel).unwrap();
            let mut out = vec![0.5f32; FRAME_LEN];
            let message = preprocess_into(view, &mut out, ChannelOrder::Rgb)
                .unwrap_err()
                .0;
            assert!(message.contains("<= 32768"), "{message}");
            assert!(letterbox(view).is_err());
        }
        for shape in [(0, 5, 3), (5, 0, 3), (4, 4, 4), (4, 4, 1)] {
            let frame = Array3::<u8>::zeros(shape);
            let mut out = vec![0.5f32; FRAME_LEN];
            assert!(preprocess_into(frame.view(), &mut out, ChannelOrder::Rgb).is_err());
            assert!(out.iter().all(|&v| v == 0.5));
        }
    }
}
