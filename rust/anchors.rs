//! SSD anchors as MediaPipe's SsdAnchorsCalculator generates them (the single-scale scheme of
//! the pose and palm detectors: strides, not feature map sizes; no multiscale generation).

use crate::error::ArgumentError;

/// Most anchors generated (the MediaPipe detectors have about 2000); it also bounds the
/// detections decoded and suppressed, and so their memory and the NMS's quadratic time.
pub const MAX_ANCHORS: usize = 1 << 16;
/// Largest input side, stride and number of layers or aspect ratios accepted.
pub const MAX_INPUT_SIDE: usize = 8192;
pub const MAX_LAYERS: usize = 64;

/// SsdAnchorsCalculatorOptions, with MediaPipe's defaults where it has them.
#[derive(Debug, Clone, PartialEq)]
pub struct AnchorOptions {
    pub input_width: usize,
    pub input_height: usize,
    pub min_scale: f32,
    pub max_scale: f32,
    pub anchor_offset_x: f32,
    pub anchor_offset_y: f32,
    /// One stride per layer (`num_layers` is its length).
    pub strides: Vec<usize>,
    pub aspect_ratios: Vec<f32>,
    pub reduce_boxes_in_lowest_layer: bool,
    /// An extra anchor per location with a scale between this layer's and the next; 0 for none.
    pub interpolated_scale_aspect_ratio: f32,
    /// Anchors of width and height 1 (the models predict sizes in pixels).
    pub fixed_anchor_size: bool,
}

/// An anchor box, normalised to the input size.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Anchor {
    pub x_center: f32,
    pub y_center: f32,
    pub width: f32,
    pub height: f32,
}

/// MediaPipe's CalculateScale (computed in double, stored as float).
fn layer_scale(min_scale: f32, max_scale: f32, index: usize, count: usize) -> f32 {
    if count == 1 {
        (min_scale + max_scale) * 0.5
    } else {
        let (min, max) = (f64::from(min_scale), f64::from(max_scale));
        (min + (max - min) * index as f64 / (count as f64 - 1.0)) as f32
    }
}

impl AnchorOptions {
    fn validate(&self) -> Result<(), ArgumentError> {
        let sides = 1..=MAX_INPUT_SIDE;
        if !(sides.contains(&self.input_width) && sides.contains(&self.input_height)) {
            return Err(ArgumentError::new(format!(
                "input size must be in 1..={MAX_INPUT_SIDE}, got {}x{}",
                self.input_width, self.input_height
            )));
        }
        if !(1..=MAX_LAYERS).contains(&self.strides.len()) {
            return Err(ArgumentError::new(format!(
                "strides must hold 1 to {MAX_LAYERS} values (one per layer), got {}",
                self.strides.len()
            )));
        }
        if let Some(stride) = self.strides.iter().find(|s| !sides.contains(s)) {
            return Err(ArgumentError::new(format!(
                "strides must be in 1..={MAX_INPUT_SIDE}, got {stride}"
            )));
        }
        if self.aspect_ratios.len() > MAX_LAYERS {
            return Err(ArgumentError::new(format!(
                "aspect_ratios must hold at most {MAX_LAYERS} values, got {}",
                self.aspect_ratios.len()
            )));
        }
        let positive = self
            .aspect_ratios
            .iter()
            .chain([&self.min_scale, &self.max_scale]);
        if let Some(value) = positive.into_iter().find(|v| !(v.is_finite() && **v > 0.0)) {
            return Err(ArgumentError::new(format!(
                "scales and aspect_ratios must be finite and > 0, got {value:?}"
            )));
        }
        let others = [
            ("anchor_offset_x", self.anchor_offset_x),
            ("anchor_offset_y", self.anchor_offset_y),
            (
                "interpolated_scale_aspect_ratio",
                self.interpolated_scale_aspect_ratio,
            ),
        ];
        for (name, value) in others {
            if !value.is_finite() {
                return Err(ArgumentError::new(format!(
                    "{name} must be finite, got {value:?}"
                )));
            }
        }
        Ok(())
    }

    /// (scale, aspect ratio) of each anchor at one location of the layers starting at `first`
    /// and sharing its stride, and the index after them.
    fn location_anchors(&self, first: usize) -> (Vec<(f32, f32)>, usize) {
        let count = self.strides.len();
        let mut anchors = Vec::new();
        let mut layer = first;
        while layer < count && self.strides[layer] == self.strides[first] {
            let scale = layer_scale(self.min_scale, self.max_scale, layer, count);
            if layer == 0 && self.reduce_boxes_in_lowest_layer {
                anchors.extend([(0.1, 1.0), (scale, 2.0), (scale, 0.5)]);
            } else {
                anchors.extend(self.aspect_ratios.iter().map(|&ratio| (scale, ratio)));
                if self.interpolated_scale_aspect_ratio > 0.0 {
                    let next = if layer == count - 1 {
                        1.0
                    } else {
                        layer_scale(self.min_scale, self.max_scale, layer + 1, count)
                    };
                    anchors.push(((scale * next).sqrt(), self.interpolated_scale_aspect_ratio));
                }
            }
            layer += 1;
        }
        (anchors, layer)
    }

    /// Feature map (height, width) of a stride: ceil(input / stride).
    fn feature_map(&self, stride: usize) -> (usize, usize) {
        (
            self.input_height.div_ceil(stride),
            self.input_width.div_ceil(stride),
        )
    }
}

/// The anchors, layer by layer, row by row, in the order the model's outputs are.
pub fn ssd_anchors(options: &AnchorOptions) -> Result<Vec<Anchor>, ArgumentError> {
    options.validate()?;
    // Count first, with checked arithmetic, so nothing is allocated from a huge request.
    let mut total: usize = 0;
    let mut layer = 0;
    while layer < options.strides.len() {
        let (per_location, next) = options.location_anchors(layer);
        let (rows, columns) = options.feature_map(options.strides[layer]);
        total = rows
            .checked_mul(columns)
            .and_then(|cells| cells.checked_mul(per_location.len()))
            .and_then(|n| n.checked_add(total))
            .filter(|&n| n <= MAX_ANCHORS)
            .ok_or_else(|| {
                ArgumentError::new(format!("the options give more than {MAX_ANCHORS} anchors"))
            })?;
        layer = next;
    }
    let mut anchors = Vec::with_capacity(total);
    let mut layer = 0;
    while layer < options.strides.len() {
        let (per_location, next) = options.location_anchors(layer);
        let (rows, columns) = options.feature_map(options.strides[layer]);
        for y in 0..rows {
            for x in 0..columns {
                for &(scale, ratio) in &per_location {
                    let (width, height) = if options.fixed_anchor_size {
                        (1.0, 1.0)
                    } else {
                        let ratio_sqrt = ratio.sqrt();
                        (scale * ratio_sqrt, scale / ratio_sqrt)
                    };
                    anchors.push(Anchor {
                        x_center: (x as f32 + options.anchor_offset_x) / columns as f32,
                        y_center: (y as f32 + options.anchor_offset_y) / rows as f32,
                        width,
                        height,
                    });
                }
            }
        }
        layer = next;
    }
    Ok(anchors)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// pose_detection_cpu.pbtxt
    pub fn pose_detection() -> AnchorOptions {
        AnchorOptions {
            input_width: 224,
            input_height: 224,
            min_scale: 0.1484375,
            max_scale: 0.75,
            anchor_offset_x: 0.5,
            anchor_offset_y: 0.5,
            strides: vec![8, 16, 32, 32, 32],
            aspect_ratios: vec![1.0],
            reduce_boxes_in_lowest_layer: false,
            interpolated_scale_aspect_ratio: 1.0,
            fixed_anchor_size: true,
        }
    }

    #[test]
    fn pose_and_palm_detectors_have_2254_and_2016_anchors() {
        let pose = ssd_anchors(&pose_detection()).unwrap();
        assert_eq!(pose.len(), 2254);
        // 28x28 cells x 2, then 14x14 x 2, then 7x7 x 6 (three layers of stride 32 merged).
        assert_eq!(
            pose[0],
            Anchor {
                x_center: 0.5 / 28.0,
                y_center: 0.5 / 28.0,
                width: 1.0,
                height: 1.0
            }
        );
        assert_eq!(pose[1], pose[0]);
        assert_eq!(pose[2].x_center, 1.5 / 28.0);
        assert_eq!(pose[1568].x_center, 0.5 / 14.0);
        assert_eq!(pose[2253].x_center, 6.5 / 7.0);
        assert_eq!(pose[2253].y_center, 6.5 / 7.0);
        let palm = AnchorOptions {
            input_width: 192,
            input_height: 192,
            strides: vec![8, 16, 16, 16],
            ..pose_detection()
        };
        let palm = ssd_anchors(&palm).unwrap();
        assert_eq!(palm.len(), 2016);
        assert_eq!(palm[1152].x_center, 0.5 / 12.0);
    }

    #[test]
    fn scaled_anchors_by_hand() {
        let options = AnchorOptions {
            fixed_anchor_size: false,
            ..pose_detection()
        };
        let anchors = ssd_anchors(&options).unwrap();
        let scale0 = 0.1484375f32;
        let scale1 = (0.1484375 + (0.75 - 0.1484375) / 4.0) as f32;
        assert_eq!(anchors[0].width, scale0);
        assert_eq!(anchors[1].width, (scale0 * scale1).sqrt());
        // Last layer: interpolated with 1.0.
        assert_eq!(anchors[2253].width, 0.75f32.sqrt());
        let reduced = AnchorOptions {
            reduce_boxes_in_lowest_layer: true,
            aspect_ratios: vec![1.0, 2.0],
            ..options
        };
        let anchors = ssd_anchors(&reduced).unwrap();
        assert_eq!(anchors.len(), 28 * 28 * 3 + 14 * 14 * 3 + 7 * 7 * 9);
        assert_eq!(anchors[0].width, 0.1);
        assert_eq!(anchors[1].width, scale0 * 2f32.sqrt());
        assert_eq!(anchors[2].height, scale0 / 0.5f32.sqrt());
    }

    #[test]
    fn bad_options_are_errors() {
        let bad = [
            AnchorOptions {
                strides: vec![],
                ..pose_detection()
            },
            AnchorOptions {
                strides: vec![0],
                ..pose_detection()
            },
            AnchorOptions {
                input_width: 0,
                ..pose_detection()
            },
            AnchorOptions {
                min_scale: f32::NAN,
                ..pose_detection()
            },
            AnchorOptions {
                aspect_ratios: vec![-1.0],
                ..pose_detection()
            },
            // 8192x8192 cells x 65 anchors: far too many.
            AnchorOptions {
                input_width: 8192,
                input_height: 8192,
                strides: vec![1],
                aspect_ratios: vec![1.0; 64],
                ..pose_detection()
            },
        ];
        for options in bad {
            assert!(ssd_anchors(&options).is_err(), "{options:?}");
        }
    }
}
