//! SSD detections as MediaPipe's TensorsToDetectionsCalculator decodes them (boxes and keypoints
//! relative to anchors, sigmoid scores with clipping), and its NonMaxSuppressionCalculator's
//! WEIGHTED algorithm with INTERSECTION_OVER_UNION overlap.

use crate::anchors::Anchor;
use crate::error::ArgumentError;

/// Most keypoints per detection (the pose detector has 4, the palm detector 7), and most
/// coordinates per box.
pub const MAX_KEYPOINTS: usize = 64;
pub const MAX_COORDS: usize = 4 + 2 * MAX_KEYPOINTS + 64;

/// TensorsToDetectionsCalculatorOptions for one class and 2 values per keypoint.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeOptions {
    pub num_coords: usize,
    pub box_coord_offset: usize,
    pub keypoint_coord_offset: usize,
    pub num_keypoints: usize,
    pub x_scale: f32,
    pub y_scale: f32,
    pub w_scale: f32,
    pub h_scale: f32,
    /// Boxes as (x, y, w, h) and keypoints as (x, y); otherwise (y, x, h, w) and (y, x).
    pub reverse_output_order: bool,
    pub apply_exponential_on_box_size: bool,
    pub sigmoid_score: bool,
    pub score_clipping_thresh: Option<f32>,
    pub min_score_thresh: Option<f32>,
}

/// A detection, normalised to the model input: box corners and keypoints (x, y).
#[derive(Debug, Clone, PartialEq)]
pub struct Detection {
    pub score: f32,
    pub xmin: f32,
    pub ymin: f32,
    pub xmax: f32,
    pub ymax: f32,
    pub keypoints: Vec<[f32; 2]>,
}

impl Detection {
    fn area(&self) -> f32 {
        (self.xmax - self.xmin) * (self.ymax - self.ymin)
    }

    /// MediaPipe's OverlapSimilarity with INTERSECTION_OVER_UNION.
    fn iou(&self, other: &Detection) -> f32 {
        let empty = |d: &Detection| d.xmin > d.xmax || d.ymin > d.ymax;
        if empty(self)
            || empty(other)
            || other.xmax < self.xmin
            || self.xmax < other.xmin
            || other.ymax < self.ymin
            || self.ymax < other.ymin
        {
            return 0.0;
        }
        let intersection = (self.xmax.min(other.xmax) - self.xmin.max(other.xmin))
            * (self.ymax.min(other.ymax) - self.ymin.max(other.ymin));
        let union = self.area() + other.area() - intersection;
        if union > 0.0 {
            intersection / union
        } else {
            0.0
        }
    }
}

impl DecodeOptions {
    fn validate(&self) -> Result<(), ArgumentError> {
        if !(4..=MAX_COORDS).contains(&self.num_coords) {
            return Err(ArgumentError::new(format!(
                "num_coords must be in 4..={MAX_COORDS}, got {}",
                self.num_coords
            )));
        }
        if self.num_keypoints > MAX_KEYPOINTS {
            return Err(ArgumentError::new(format!(
                "num_keypoints must be <= {MAX_KEYPOINTS}, got {}",
                self.num_keypoints
            )));
        }
        if self.box_coord_offset > self.num_coords - 4 {
            return Err(ArgumentError::new(format!(
                "box_coord_offset + 4 must be <= num_coords ({}), got {}",
                self.num_coords, self.box_coord_offset
            )));
        }
        let keypoint_end = self
            .keypoint_coord_offset
            .checked_add(2 * self.num_keypoints);
        if keypoint_end.is_none_or(|end| end > self.num_coords) {
            return Err(ArgumentError::new(format!(
                "keypoint_coord_offset + 2 * num_keypoints must be <= num_coords ({}), got {} + {}",
                self.num_coords,
                self.keypoint_coord_offset,
                2 * self.num_keypoints
            )));
        }
        let scales = [
            ("x_scale", self.x_scale),
            ("y_scale", self.y_scale),
            ("w_scale", self.w_scale),
            ("h_scale", self.h_scale),
        ];
        for (name, value) in scales {
            if !(value.is_finite() && value > 0.0) {
                return Err(ArgumentError::new(format!(
                    "{name} must be finite and > 0, got {value:?}"
                )));
            }
        }
        if let Some(clip) = self.score_clipping_thresh {
            if !(clip.is_finite() && clip > 0.0) {
                return Err(ArgumentError::new(format!(
                    "score_clipping_thresh must be finite and > 0, got {clip:?}"
                )));
            }
        }
        if let Some(min) = self.min_score_thresh {
            if !min.is_finite() {
                return Err(ArgumentError::new(format!(
                    "min_score_thresh must be finite, got {min:?}"
                )));
            }
        }
        Ok(())
    }

    fn score(&self, raw: f32) -> f32 {
        if !self.sigmoid_score {
            return raw;
        }
        let raw = match self.score_clipping_thresh {
            Some(clip) => raw.clamp(-clip, clip),
            None => raw,
        };
        1.0 / (1.0 + (-raw).exp())
    }

    /// (x, y) of a pair of raw values in the model's order.
    fn xy(&self, pair: &[f32]) -> (f32, f32) {
        if self.reverse_output_order {
            (pair[0], pair[1])
        } else {
            (pair[1], pair[0])
        }
    }
}

/// Decodes the model's raw outputs: `raw_boxes` (N x num_coords, row-major) and `raw_scores`
/// (N, one class) against N anchors. Keeps, in anchor order, the detections scoring at least
/// `min_score_thresh` whose boxes have a finite, non-negative size and finite keypoints.
pub fn decode(
    raw_boxes: &[f32],
    raw_scores: &[f32],
    anchors: &[Anchor],
    options: &DecodeOptions,
) -> Result<Vec<Detection>, ArgumentError> {
    options.validate()?;
    let n = anchors.len();
    if raw_scores.len() != n || Some(raw_boxes.len()) != n.checked_mul(options.num_coords) {
        return Err(ArgumentError::new(format!(
            "expected raw_boxes of {n}x{} and raw_scores of {n} values for {n} anchors, got {} \
             and {} values",
            options.num_coords,
            raw_boxes.len(),
            raw_scores.len()
        )));
    }
    if raw_boxes.iter().chain(raw_scores).any(|v| !v.is_finite()) {
        return Err(ArgumentError::new(
            "raw_boxes and raw_scores must be finite (a NaN or inf model output)",
        ));
    }
    let mut detections = Vec::new();
    for (i, anchor) in anchors.iter().enumerate() {
        let score = options.score(raw_scores[i]);
        if options.min_score_thresh.is_some_and(|min| score < min) {
            continue;
        }
        let row = &raw_boxes[i * options.num_coords..(i + 1) * options.num_coords];
        let b = &row[options.box_coord_offset..options.box_coord_offset + 4];
        let (x, y) = options.xy(&b[0..2]);
        let (w, h) = options.xy(&b[2..4]);
        let x_center = x / options.x_scale * anchor.width + anchor.x_center;
        let y_center = y / options.y_scale * anchor.height + anchor.y_center;
        let (w, h) = if options.apply_exponential_on_box_size {
            (
                (w / options.w_scale).exp() * anchor.width,
                (h / options.h_scale).exp() * anchor.height,
            )
        } else {
            (
                w / options.w_scale * anchor.width,
                h / options.h_scale * anchor.height,
            )
        };
        let detection = Detection {
            score,
            xmin: x_center - w / 2.0,
            ymin: y_center - h / 2.0,
            xmax: x_center + w / 2.0,
            ymax: y_center + h / 2.0,
            keypoints: (0..options.num_keypoints)
                .map(|k| {
                    let offset = options.keypoint_coord_offset + 2 * k;
                    let (kx, ky) = options.xy(&row[offset..offset + 2]);
                    [
                        kx / options.x_scale * anchor.width + anchor.x_center,
                        ky / options.y_scale * anchor.height + anchor.y_center,
                    ]
                })
                .collect(),
        };
        // MediaPipe drops boxes of negative or NaN size; infinities (an exp overflow) too here.
        let (width, height) = (
            detection.xmax - detection.xmin,
            detection.ymax - detection.ymin,
        );
        let finite = [
            detection.xmin,
            detection.ymin,
            detection.xmax,
            detection.ymax,
        ]
        .into_iter()
        .chain(detection.keypoints.iter().flatten().copied())
        .all(f32::is_finite);
        if width >= 0.0 && height >= 0.0 && finite {
            detections.push(detection);
        }
    }
    Ok(detections)
}

/// MediaPipe's weighted non-maximum suppression: repeatedly takes the best remaining detection
/// and every remaining one overlapping it by more than `min_suppression_threshold` (itself
/// included), and outputs it with box and keypoints replaced by their score-weighted mean.
/// The output keeps the best detection's score, best first. Ties keep input order.
pub fn weighted_nms(
    detections: &[Detection],
    min_suppression_threshold: f32,
) -> Result<Vec<Detection>, ArgumentError> {
    if !min_suppression_threshold.is_finite() {
        return Err(ArgumentError::new(format!(
            "min_suppression_threshold must be finite, got {min_suppression_threshold:?}"
        )));
    }
    let keypoints = detections.first().map_or(0, |d| d.keypoints.len());
    if detections.iter().any(|d| d.keypoints.len() != keypoints) {
        return Err(ArgumentError::new(
            "all detections must have the same number of keypoints",
        ));
    }
    let mut remaining: Vec<usize> = (0..detections.len()).collect();
    remaining.sort_by(|&a, &b| detections[b].score.total_cmp(&detections[a].score));
    let mut output = Vec::new();
    while let Some(&best) = remaining.first() {
        let top = &detections[best];
        let (candidates, rest): (Vec<usize>, Vec<usize>) = remaining
            .iter()
            .partition(|&&i| detections[i].iou(top) > min_suppression_threshold);
        let mut weighted = top.clone();
        if !candidates.is_empty() {
            let mut sums = [0.0f32; 4];
            let mut points = vec![[0.0f32; 2]; keypoints];
            let mut total = 0.0f32;
            for &i in &candidates {
                let d = &detections[i];
                total += d.score;
                for (sum, value) in sums.iter_mut().zip([d.xmin, d.ymin, d.xmax, d.ymax]) {
                    *sum += value * d.score;
                }
                for (point, keypoint) in points.iter_mut().zip(&d.keypoints) {
                    point[0] += keypoint[0] * d.score;
                    point[1] += keypoint[1] * d.score;
                }
            }
            [weighted.xmin, weighted.ymin, weighted.xmax, weighted.ymax] =
                sums.map(|sum| sum / total);
            weighted.keypoints = points
                .iter()
                .map(|p| [p[0] / total, p[1] / total])
                .collect();
        }
        output.push(weighted);
        // A top box overlapping nothing, not even itself (no area), ends the loop as in MediaPipe.
        if rest.len() == remaining.len() {
            break;
        }
        remaining = rest;
    }
    Ok(output)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn detection(score: f32, x: f32, y: f32, size: f32) -> Detection {
        Detection {
            score,
            xmin: x,
            ymin: y,
            xmax: x + size,
            ymax: y + size,
            keypoints: vec![[x, y]],
        }
    }

    fn options() -> DecodeOptions {
        DecodeOptions {
            num_coords: 8,
            box_coord_offset: 0,
            keypoint_coord_offset: 4,
            num_keypoints: 2,
            x_scale: 100.0,
            y_scale: 100.0,
            w_scale: 100.0,
            h_scale: 100.0,
            reverse_output_order: true,
            apply_exponential_on_box_size: false,
            sigmoid_score: true,
            score_clipping_thresh: Some(100.0),
            min_score_thresh: Some(0.5),
        }
    }

    const ANCHOR: Anchor = Anchor {
        x_center: 0.5,
        y_center: 0.25,
        width: 1.0,
        height: 1.0,
    };

    #[test]
    fn decodes_boxes_keypoints_and_scores() {
        let raw = [10.0, -5.0, 20.0, 40.0, 1.0, 2.0, -3.0, 4.0];
        let found = decode(&raw, &[0.0], &[ANCHOR], &options()).unwrap();
        let d = &found[0];
        assert_eq!(d.score, 0.5);
        assert!((d.xmin - (0.6 - 0.1)).abs() < 1e-6 && (d.xmax - 0.7).abs() < 1e-6);
        assert!((d.ymin - (0.2 - 0.2)).abs() < 1e-6 && (d.ymax - 0.4).abs() < 1e-6);
        assert!((d.keypoints[0][0] - 0.51).abs() < 1e-6);
        assert!((d.keypoints[0][1] - 0.27).abs() < 1e-6);
        assert!((d.keypoints[1][0] - 0.47).abs() < 1e-6);
        // y, x order.
        let yx = DecodeOptions {
            reverse_output_order: false,
            ..options()
        };
        let d = &decode(&raw, &[0.0], &[ANCHOR], &yx).unwrap()[0];
        assert!((d.xmin - (0.45 - 0.2)).abs() < 1e-6);
        assert!((d.keypoints[0][0] - 0.52).abs() < 1e-6);
    }

    #[test]
    fn scores_are_clipped_sigmoids_and_thresholded() {
        let raw = [0.0; 8];
        let clipped = DecodeOptions {
            score_clipping_thresh: Some(1.0),
            min_score_thresh: None,
            ..options()
        };
        let d = decode(&raw, &[50.0], &[ANCHOR], &clipped).unwrap();
        assert_eq!(d[0].score, 1.0 / (1.0 + (-1.0f32).exp()));
        assert!(decode(&raw, &[-0.01], &[ANCHOR], &options())
            .unwrap()
            .is_empty());
        // Negative sizes are dropped.
        let negative = [0.0, 0.0, -1.0, 1.0, 0.0, 0.0, 0.0, 0.0];
        assert!(decode(&negative, &[5.0], &[ANCHOR], &options())
            .unwrap()
            .is_empty());
    }

    #[test]
    fn decode_argument_errors() {
        let raw = [0.0; 8];
        assert!(decode(&raw[..7], &[0.0], &[ANCHOR], &options()).is_err());
        assert!(decode(&raw, &[0.0, 1.0], &[ANCHOR], &options()).is_err());
        assert!(decode(&raw, &[f32::NAN], &[ANCHOR], &options()).is_err());
        let bad = [
            DecodeOptions {
                num_keypoints: 3,
                ..options()
            },
            DecodeOptions {
                x_scale: 0.0,
                ..options()
            },
            DecodeOptions {
                box_coord_offset: 5,
                ..options()
            },
            DecodeOptions {
                num_coords: 3,
                ..options()
            },
        ];
        for options in bad {
            assert!(decode(&raw, &[0.0], &[ANCHOR], &options).is_err());
        }
    }

    #[test]
    fn weighted_nms_averages_overlapping_boxes() {
        let found = weighted_nms(
            &[
                detection(0.6, 0.1, 0.1, 0.2),
                detection(0.9, 0.0, 0.0, 0.2),
                detection(0.8, 0.6, 0.6, 0.2),
                detection(0.3, 0.02, 0.0, 0.2),
            ],
            0.3,
        )
        .unwrap();
        assert_eq!(found.len(), 3);
        // 0.9 at 0.0 and 0.3 at 0.02 overlap (IoU 0.82); 0.6 at 0.1 only 0.14 with the top.
        let total = 0.9 + 0.3;
        let xmin = (0.9 * 0.0 + 0.3 * 0.02) / total;
        assert_eq!(found[0].score, 0.9);
        assert!((found[0].xmin - xmin).abs() < 1e-6);
        assert!((found[0].xmax - (xmin + 0.2)).abs() < 1e-6);
        assert!((found[0].keypoints[0][0] - xmin).abs() < 1e-6);
        // Alone in their group: themselves, up to the rounding of the weighted mean.
        for (got, expected) in found[1..]
            .iter()
            .zip([detection(0.8, 0.6, 0.6, 0.2), detection(0.6, 0.1, 0.1, 0.2)])
        {
            assert_eq!(got.score, expected.score);
            assert!((got.xmax - expected.xmax).abs() < 1e-6);
            assert!((got.ymin - expected.ymin).abs() < 1e-6);
        }
        assert!(weighted_nms(&[], 0.3).unwrap().is_empty());
    }

    #[test]
    fn an_empty_top_box_stops_nms() {
        let found = weighted_nms(
            &[detection(0.9, 0.0, 0.0, 0.0), detection(0.5, 0.5, 0.5, 0.1)],
            0.3,
        )
        .unwrap();
        assert_eq!(found, [detection(0.9, 0.0, 0.0, 0.0)]);
    }
}
