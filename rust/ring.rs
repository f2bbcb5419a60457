//! A ring of the last few preprocessed frames, handed to the network as one clip.
//!
//! Each push preprocesses straight into its slot; the clip is copied out once, in time order,
//! instead of rolling a whole clip array on every frame.

use numpy::ndarray::ArrayView3;

use crate::error::ArgumentError;
use crate::preprocess::{preprocess_into, ChannelOrder, FRAME_LEN};

/// Most frames a ring holds: a full clip of 1024 frames is 805 MB of float32.
pub const MAX_CAPACITY: usize = 1024;

#[derive(Debug, Clone)]
pub struct FrameRing {
    capacity: usize,
    order: ChannelOrder,
    /// Slots are allocated as the ring first fills, so a large capacity costs nothing up front.
    slots: Vec<Box<[f32]>>,
    /// Slot the next frame goes into.
    next: usize,
    len: usize,
}

impl FrameRing {
    pub fn new(capacity: usize, order: ChannelOrder) -> Result<Self, ArgumentError> {
        if !(1..=MAX_CAPACITY).contains(&capacity) {
            return Err(ArgumentError::new(format!(
                "capacity must be in 1..={MAX_CAPACITY}, got {capacity}"
            )));
        }
        Ok(Self {
            capacity,
            order,
            slots: Vec::new(),
            next: 0,
            len: 0,
        })
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn order(&self) -> ChannelOrder {
        self.order
    }

    /// Frames held: pushes since the last reset, at most `capacity`.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Preprocesses a BGR frame into the next slot, replacing the oldest frame once full.
    /// A rejected frame leaves the ring as it was.
    pub fn push(&mut self, frame: ArrayView3<'_, u8>) -> Result<(), ArgumentError> {
        if self.slots.len() == self.next {
            self.slots.push(vec![0.0; FRAME_LEN].into_boxed_slice());
        }
        preprocess_into(frame, &mut self.slots[self.next], self.order)?;
        self.next = (self.next + 1) % self.capacity;
        self.len = (self.len + 1).min(self.capacity);
        Ok(())
    }

    /// The frames held, oldest first, as one (len, 3, 256, 256) row-major buffer.
    pub fn clip(&self) -> Result<Vec<f32>, ArgumentError> {
        if self.is_empty() {
            return Err(ArgumentError::new(
                "the FrameRing is empty: push a frame before clip()",
            ));
        }
        let oldest = (self.next + self.capacity - self.len) % self.capacity;
        let mut clip = Vec::with_capacity(self.len * FRAME_LEN);
        for k in 0..self.len {
            clip.extend_from_slice(&self.slots[(oldest + k) % self.capacity]);
        }
        Ok(clip)
    }

    /// Forgets all frames (the slot memory is kept for reuse).
    pub fn reset(&mut self) {
        self.next = 0;
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use numpy::ndarray::Array3;

    /// A uniform frame whose preprocessed red plane is `value / 255` everywhere.
    fn frame(value: u8) -> Array3<u8> {
        Array3::from_shape_fn((48, 64, 3), |(_, _, c)| if c == 2 { value } else { 0 })
    }

    /// The red value at the centre of each frame of a clip, as the uint8 it came from.
    fn centre_values(ring: &FrameRing) -> Vec<u8> {
        let centre = 128 * 256 + 128;
        let clip = ring.clip().unwrap();
        clip.chunks_exact(FRAME_LEN)
            .map(|f| (f[centre] * 255.0).round() as u8)
            .collect()
    }

    #[test]
    fn clip_is_time_ordered_and_keeps_the_last_capacity_frames() {
        let mut ring = FrameRing::new(4, ChannelOrder::Rgb).unwrap();
        for value in 1..=3 {
            ring.push(frame(value).view()).unwrap();
        }
        assert_eq!(ring.len(), 3);
        assert_eq!(centre_values(&ring), [1, 2, 3]);
        for value in 4..=10 {
            ring.push(frame(value).view()).unwrap();
        }
        assert_eq!(ring.len(), 4);
        assert_eq!(centre_values(&ring), [7, 8, 9, 10]);
    }

    #[test]
    fn reset_empties_and_clip_of_empty_ring_is_an_error() {
        let mut ring = FrameRing::new(2, ChannelOrder::Rgb).unwrap();
        assert!(ring.clip().is_err());
        ring.push(frame(5).view()).unwrap();
        ring.reset();
        assert!(ring.is_empty());
        assert!(ring.clip().is_err());
        ring.push(frame(6).view()).unwrap();
        assert_eq!(centre_values(&ring), [6]);
    }

    #[test]
    fn frames_of_changing_size_and_rejected_frames() {
        let mut ring = FrameRing::new(3, ChannelOrder::Rgb).unwrap();
        ring.push(frame(1).view()).unwrap();
        ring.push(Array3::from_elem((300, 20, 3), 2u8).view())
            .unwrap();
        assert!(ring.push(Array3::<u8>::zeros((0, 4, 3)).view()).is_err());
        assert_eq!(ring.len(), 2);
        assert_eq!(centre_values(&ring), [1, 2]);
    }

    #[test]
    fn capacity_must_be_positive() {
        assert!(FrameRing::new(0, ChannelOrder::Rgb).is_err());
        assert_eq!(FrameRing::new(1, ChannelOrder::Rgb).unwrap().capacity(), 1);
        for capacity in [MAX_CAPACITY + 1, 1 << 62, usize::MAX] {
            let message = FrameRing::new(capacity, ChannelOrder::Rgb).unwrap_err().0;
            assert!(
                message.starts_with("capacity must be in 1..=1024"),
                "{message}"
            );
        }
        assert!(FrameRing::new(MAX_CAPACITY, ChannelOrder::Rgb).is_ok());
    }
}
