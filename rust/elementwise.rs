//! Per-pixel steps of NHWC float32 maps (batch 1) in the palm detector: PReLU and zero-padding
//! of the channels (the skip path of a BlazeBlock that widens).
//!
//! Each takes whole pixels, so a band of rows is a contiguous run of them: callers hand the
//! band's values and get the band's output.

use crate::error::ArgumentError;

/// TFLite's PRELU with one slope per channel: `x` where its sign bit is clear, else
/// `x * slope` (XNNPACK's select on the sign bit; a single product, so any order gives the
/// same bits). `input` and `output` hold whole pixels of `slopes.len()` channels.
pub fn prelu(input: &[f32], slopes: &[f32], output: &mut [f32]) -> Result<(), ArgumentError> {
    let channels = slopes.len();
    if channels == 0 || !input.len().is_multiple_of(channels) || input.len() != output.len() {
        return Err(ArgumentError::new(format!(
            "prelu needs whole pixels of {channels} channels and an output as long as its input, \
             got {} and {} values",
            input.len(),
            output.len()
        )));
    }
    for (out, pixel) in output
        .chunks_exact_mut(channels)
        .zip(input.chunks_exact(channels))
    {
        for ((o, &x), &slope) in out.iter_mut().zip(pixel).zip(slopes) {
            *o = prelu_value(x, slope);
        }
    }
    Ok(())
}

/// `prelu(a + b)` in one pass (the sum rounded first, as two TFLite ops give it): the end of
/// each BlazeBlock. `a`, `b` and `output` hold the same whole pixels of `slopes.len()` channels.
pub fn add_prelu(
    a: &[f32],
    b: &[f32],
    slopes: &[f32],
    output: &mut [f32],
) -> Result<(), ArgumentError> {
    let channels = slopes.len();
    if channels == 0
        || !a.len().is_multiple_of(channels)
        || a.len() != b.len()
        || a.len() != output.len()
    {
        return Err(ArgumentError::new(format!(
            "add then prelu needs equal lengths of whole pixels of {channels} channels, got {}, \
             {} and output {}",
            a.len(),
            b.len(),
            output.len()
        )));
    }
    let pixels = output
        .chunks_exact_mut(channels)
        .zip(a.chunks_exact(channels).zip(b.chunks_exact(channels)));
    for (out, (a, b)) in pixels {
        for (((o, &a), &b), &slope) in out.iter_mut().zip(a).zip(b).zip(slopes) {
            *o = prelu_value(a + b, slope);
        }
    }
    Ok(())
}

/// `x`, or `x * slope` where `x`'s sign bit is set: both sides then a select by mask, with no
/// branch, so that the loops around it vectorise.
#[inline(always)]
fn prelu_value(x: f32, slope: f32) -> f32 {
    let negative = (x.to_bits() as i32 >> 31) as u32; // all ones where the sign bit is set
    f32::from_bits(((x * slope).to_bits() & negative) | (x.to_bits() & !negative))
}

/// TFLite's PAD of the channel axis only, at the end: each pixel of `channels` values becomes
/// those values then `extra` zeros. `input` holds whole pixels; `output` the same pixels wider.
pub fn pad_channels(
    input: &[f32],
    channels: usize,
    extra: usize,
    output: &mut [f32],
) -> Result<(), ArgumentError> {
    let wide = channels + extra;
    let pixels = input.len().checked_div(channels).unwrap_or(0);
    if channels == 0
        || !input.len().is_multiple_of(channels)
        || Some(output.len()) != pixels.checked_mul(wide)
    {
        return Err(ArgumentError::new(format!(
            "padding {channels} channels by {extra} needs whole pixels, got {} values in and {} out",
            input.len(),
            output.len()
        )));
    }
    for (out, pixel) in output
        .chunks_exact_mut(wide)
        .zip(input.chunks_exact(channels))
    {
        let (kept, zeros) = out.split_at_mut(channels);
        kept.copy_from_slice(pixel);
        zeros.fill(0.0);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prelu_scales_negative_values_by_their_channels_slope() {
        let input = [1.5, -2.0, -0.5, 0.0, 3.0, -4.0];
        let mut out = [f32::NAN; 6];
        prelu(&input, &[0.25, 0.5, -1.0], &mut out).unwrap();
        assert_eq!(out, [1.5, -1.0, 0.5, 0.0, 3.0, 4.0]);
        // -0.0 takes the product's sign, as XNNPACK's sign-bit select gives it.
        prelu(&[-0.0], &[-1.0], &mut out[..1]).unwrap();
        assert!(out[0] == 0.0 && out[0].is_sign_positive());
    }

    #[test]
    fn prelu_of_a_band_is_that_band_of_the_whole() {
        let input: Vec<f32> = (0..24).map(|i| (i as f32 * 0.7).sin()).collect();
        let slopes = [0.1, 0.2, 0.3, 0.4];
        let mut whole = vec![0.0; 24];
        prelu(&input, &slopes, &mut whole).unwrap();
        let mut band = vec![0.0; 8];
        prelu(&input[8..16], &slopes, &mut band).unwrap();
        assert_eq!(band, whole[8..16]);
    }

    #[test]
    fn add_prelu_is_prelu_of_the_rounded_sum() {
        let a: Vec<f32> = (0..12).map(|i| (i as f32 * 0.9).sin() * 1.0e3).collect();
        let b: Vec<f32> = (0..12).map(|i| (i as f32 * 0.4).cos() * 1.0e-3).collect();
        let slopes = [0.3, -0.7, 1.1];
        let sum: Vec<f32> = a.iter().zip(&b).map(|(a, b)| a + b).collect();
        let mut expected = vec![0.0; 12];
        prelu(&sum, &slopes, &mut expected).unwrap();
        let mut out = vec![f32::NAN; 12];
        add_prelu(&a, &b, &slopes, &mut out).unwrap();
        assert_eq!(out, expected);
        assert!(add_prelu(&a, &b[..9], &slopes, &mut out[..9]).is_err());
        assert!(add_prelu(&a[..11], &b[..11], &slopes, &mut out[..11]).is_err());
    }

    #[test]
    fn pad_channels_appends_zeros_to_each_pixel() {
        let input = [1.0, 2.0, 3.0, 4.0];
        let mut out = [f32::NAN; 8];
        pad_channels(&input, 2, 2, &mut out).unwrap();
        assert_eq!(out, [1.0, 2.0, 0.0, 0.0, 3.0, 4.0, 0.0, 0.0]);
        let mut same = [0.0; 4];
        pad_channels(&input, 2, 0, &mut same).unwrap();
        assert_eq!(same, input);
    }

    #[test]
    fn mismatched_lengths_are_errors() {
        let mut out = [0.0; 6];
        assert!(prelu(&[1.0; 5], &[1.0, 1.0], &mut out[..5]).is_err()); // half a pixel
        assert!(prelu(&[1.0; 4], &[1.0, 1.0], &mut out).is_err());
        assert!(prelu(&[], &[], &mut []).is_err());
        assert!(pad_channels(&[1.0; 4], 2, 1, &mut out[..5]).is_err());
        assert!(pad_channels(&[1.0; 3], 2, 1, &mut out[..4]).is_err());
        assert!(pad_channels(&[1.0; 4], 0, 1, &mut out).is_err());
    }
}
