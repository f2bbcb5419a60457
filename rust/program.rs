//! A landmark network's fast path as one list of kernel steps over NHWC float32 maps, run in a
//! single call: PyTorch's per-operation overhead (about 30 us a convolution from Python, a
//! hundred convolutions a frame) would cost more than the kernels save.
//!
//! The steps are recorded once, in the network's order, from its PyTorch module (see
//! `rtnet.models.landmarks.lowering`); maps whose last reader has run lend their memory to later
//! ones, so a frame touches a few megabytes, not the sum of every layer's output.

use std::cell::RefCell;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use crate::conv::{Conv, Epilogue};
use crate::depthwise::Depthwise;
use crate::elementwise;
use crate::error::ArgumentError;
use crate::resample;

/// A map's (height, width, channels).
pub type Shape = (usize, usize, usize);

/// Values one map may hold (256 MiB of float32): no argument makes the program allocate
/// without limit.
pub const MAX_MAP_VALUES: usize = 1 << 26;
/// Steps one program may hold (the pose landmark network has 111).
pub const MAX_STEPS: usize = 4096;

fn checked_shape(shape: Shape) -> Result<Shape, ArgumentError> {
    let (h, w, c) = shape;
    match h.checked_mul(w).and_then(|n| n.checked_mul(c)) {
        Some(n) if n <= MAX_MAP_VALUES => Ok(shape),
        _ => Err(ArgumentError::new(format!(
            "a {h}x{w}x{c} map is larger than {MAX_MAP_VALUES} values"
        ))),
    }
}

/// A PReLU's slopes must be one per channel of map `map`.
fn check_slopes(slopes: &[f32], shape: Shape, map: usize) -> Result<(), ArgumentError> {
    if slopes.len() != shape.2 {
        return Err(ArgumentError::new(format!(
            "prelu has {} slopes, map {map} has {} channels",
            slopes.len(),
            shape.2
        )));
    }
    Ok(())
}

#[derive(Debug, Clone)]
enum Step {
    Conv {
        conv: Conv,
        input: usize,
        relu6: bool,
        residual: Option<usize>,
        residual_relu6: bool,
    },
    Depthwise {
        depthwise: Depthwise,
        input: usize,
        relu6: bool,
    },
    Upsample {
        input: usize,
    },
    MaxPool {
        input: usize,
    },
    Add {
        a: usize,
        b: usize,
        relu6: bool,
    },
    DepthToSpace {
        input: usize,
        block: usize,
    },
    Prelu {
        input: usize,
        slopes: Vec<f32>,
    },
    AddPrelu {
        a: usize,
        b: usize,
        slopes: Vec<f32>,
    },
    PadChannels {
        input: usize,
        extra: usize,
    },
    Mean {
        input: usize,
    },
}

impl Step {
    /// Output rows that a kernel computes together (an upsampled pair, a depth-to-space block).
    fn row_unit(&self) -> usize {
        match self {
            Step::Upsample { .. } => 2,
            Step::DepthToSpace { block, .. } => *block,
            _ => 1,
        }
    }

    fn inputs(&self) -> Vec<usize> {
        match self {
            Step::Conv {
                input, residual, ..
            } => std::iter::once(*input).chain(*residual).collect(),
            Step::Depthwise { input, .. }
            | Step::Upsample { input }
            | Step::MaxPool { input }
            | Step::DepthToSpace { input, .. }
            | Step::Prelu { input, .. }
            | Step::PadChannels { input, .. }
            | Step::Mean { input } => vec![*input],
            Step::Add { a, b, .. } | Step::AddPrelu { a, b, .. } => vec![*a, *b],
        }
    }
}

thread_local! {
    /// A thread's band of fused depthwise rows, kept from call to call.
    static FUSED: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Chunks of rows per thread and step: enough to even out a late thread, few enough that a
/// chunk's set-up (a convolution's padded rows) stays small.
const CHUNKS_PER_THREAD: usize = 2;

/// A map buffer's memory as the threads of `run` share it.
#[derive(Clone, Copy)]
struct Buffer(*mut f32, usize);
// SAFETY: `run` hands each thread disjoint rows to write (see `Program::step`).
unsafe impl Send for Buffer {}
unsafe impl Sync for Buffer {}

/// Where the threads of `run` wait for each other after a step: spinning, then yielding the
/// core if a thread is late (a descheduled thread would otherwise be waited for by a busy one).
struct SpinBarrier {
    parties: usize,
    arrived: AtomicUsize,
    generation: AtomicUsize,
}

impl SpinBarrier {
    /// Spins before yielding: a few microseconds, a step's usual imbalance.
    const SPINS: u32 = 1 << 14;

    fn new(parties: usize) -> Self {
        Self {
            parties,
            arrived: AtomicUsize::new(0),
            generation: AtomicUsize::new(0),
        }
    }

    fn wait(&self) {
        if self.parties == 1 {
            return;
        }
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.parties {
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::Release);
            return;
        }
        let mut spins = 0u32;
        while self.generation.load(Ordering::Acquire) == generation {
            if spins < Self::SPINS {
                spins += 1;
                std::hint::spin_loop();
            } else {
                std::thread::yield_now();
            }
        }
    }
}

/// The steps and the memory of their maps. Map 0 is the input image; step `i` writes map `i + 1`.
#[derive(Debug, Clone)]
pub struct Program {
    shapes: Vec<Shape>,
    steps: Vec<Step>,
    outputs: Vec<usize>,
    /// Per map, the buffer holding it (set by `finish`; none for a fused map).
    buffer_of: Vec<usize>,
    buffers: Vec<Vec<f32>>,
    /// Per map: a depthwise output that its one reader, a 1x1 convolution, computes row band by
    /// row band as it needs them (set by `finish`). The map, as large as the expanded layer it
    /// comes from, then never leaves the cache: XNNPACK writes and reads it back whole.
    fused: Vec<bool>,
}

impl Program {
    /// A program whose input is a `height` x `width` x `channels` image.
    pub fn new(height: usize, width: usize, channels: usize) -> Result<Self, ArgumentError> {
        if height == 0 || width == 0 || channels == 0 {
            return Err(ArgumentError::new("the input map must not be empty"));
        }
        Ok(Self {
            shapes: vec![checked_shape((height, width, channels))?],
            steps: Vec::new(),
            outputs: Vec::new(),
            buffer_of: Vec::new(),
            buffers: Vec::new(),
            fused: Vec::new(),
        })
    }

    pub fn shape(&self, map: usize) -> Result<Shape, ArgumentError> {
        self.shapes
            .get(map)
            .copied()
            .ok_or_else(|| ArgumentError::new(format!("no map {map}")))
    }

    fn push(&mut self, step: Step, shape: Shape) -> Result<usize, ArgumentError> {
        checked_shape(shape)?;
        if self.steps.len() >= MAX_STEPS {
            return Err(ArgumentError::new(format!(
                "a program has at most {MAX_STEPS} steps"
            )));
        }
        self.steps.push(step);
        self.shapes.push(shape);
        self.buffer_of.clear(); // a changed program is planned again
        Ok(self.shapes.len() - 1)
    }

    /// relu6?(conv(input)), then + residual and relu6? again.
    pub fn conv(
        &mut self,
        conv: Conv,
        input: usize,
        relu6: bool,
        residual: Option<usize>,
        residual_relu6: bool,
    ) -> Result<usize, ArgumentError> {
        let (h, w, c) = self.shape(input)?;
        if c != conv.in_channels() {
            return Err(ArgumentError::new(format!(
                "the convolution takes {} channels, map {input} has {c}",
                conv.in_channels()
            )));
        }
        let (oh, ow) = conv.output_size(h, w)?;
        let shape = (oh, ow, conv.out_channels());
        if let Some(r) = residual {
            if self.shape(r)? != shape {
                return Err(ArgumentError::new(format!(
                    "residual map {r} is {:?}, the convolution gives {shape:?}",
                    self.shape(r)?
                )));
            }
        }
        let step = Step::Conv {
            conv,
            input,
            relu6,
            residual,
            residual_relu6,
        };
        self.push(step, shape)
    }

    pub fn depthwise(
        &mut self,
        depthwise: Depthwise,
        input: usize,
        relu6: bool,
    ) -> Result<usize, ArgumentError> {
        let (h, w, c) = self.shape(input)?;
        if c != depthwise.channels() {
            return Err(ArgumentError::new(format!(
                "the depthwise convolution takes {} channels, map {input} has {c}",
                depthwise.channels()
            )));
        }
        let (oh, ow) = depthwise.output_size(h, w)?;
        self.push(
            Step::Depthwise {
                depthwise,
                input,
                relu6,
            },
            (oh, ow, c),
        )
    }

    /// Bilinear resize to twice the size (TFLite's half-pixel centres).
    pub fn upsample2x(&mut self, input: usize) -> Result<usize, ArgumentError> {
        let (h, w, c) = self.shape(input)?;
        self.push(Step::Upsample { input }, (2 * h, 2 * w, c))
    }

    /// 2x2 max pooling, stride 2.
    pub fn max_pool2x2(&mut self, input: usize) -> Result<usize, ArgumentError> {
        let (h, w, c) = self.shape(input)?;
        if h % 2 != 0 || w % 2 != 0 {
            return Err(ArgumentError::new(format!(
                "2x2 pooling needs even sides, map {input} is {h}x{w}"
            )));
        }
        self.push(Step::MaxPool { input }, (h / 2, w / 2, c))
    }

    /// TFLite's DEPTH_TO_SPACE: blocks of `block` x `block` pixels from each pixel's channels.
    pub fn depth_to_space(&mut self, input: usize, block: usize) -> Result<usize, ArgumentError> {
        let (h, w, c) = self.shape(input)?;
        let square = block.checked_mul(block).filter(|&sq| sq > 0);
        if !square.is_some_and(|sq| c.is_multiple_of(sq)) {
            return Err(ArgumentError::new(format!(
                "depth to space by {block} needs channels divisible by its square, map {input} has {c}"
            )));
        }
        let shape = (h * block, w * block, c / (block * block));
        self.push(Step::DepthToSpace { input, block }, shape)
    }

    /// TFLite's PRELU: `x * slope` of the channel where `x` is negative, else `x`.
    pub fn prelu(&mut self, input: usize, slopes: &[f32]) -> Result<usize, ArgumentError> {
        let shape = self.shape(input)?;
        check_slopes(slopes, shape, input)?;
        let step = Step::Prelu {
            input,
            slopes: slopes.to_vec(),
        };
        self.push(step, shape)
    }

    /// prelu(a + b) in one pass over the maps (the end of a BlazeBlock).
    pub fn add_prelu(
        &mut self,
        a: usize,
        b: usize,
        slopes: &[f32],
    ) -> Result<usize, ArgumentError> {
        let shape = self.same_shape(a, b)?;
        check_slopes(slopes, shape, a)?;
        let step = Step::AddPrelu {
            a,
            b,
            slopes: slopes.to_vec(),
        };
        self.push(step, shape)
    }

    /// `extra` zero channels after each pixel's channels (TFLite's PAD of the channel axis).
    pub fn pad_channels(&mut self, input: usize, extra: usize) -> Result<usize, ArgumentError> {
        let (h, w, c) = self.shape(input)?;
        let wide = c
            .checked_add(extra)
            .ok_or_else(|| ArgumentError::new(format!("{extra} extra channels are too many")))?;
        self.push(Step::PadChannels { input, extra }, (h, w, wide))
    }

    /// The mean of each channel over all pixels: a 1x1 map (TFLite's MEAN over height and
    /// width), which a 1x1 convolution then turns into a FULLY_CONNECTED layer's output.
    pub fn mean(&mut self, input: usize) -> Result<usize, ArgumentError> {
        let (_, _, c) = self.shape(input)?;
        self.push(Step::Mean { input }, (1, 1, c))
    }

    pub fn add(&mut self, a: usize, b: usize, relu6: bool) -> Result<usize, ArgumentError> {
        let shape = self.same_shape(a, b)?;
        self.push(Step::Add { a, b, relu6 }, shape)
    }

    /// The shape of maps `a` and `b`, which must agree.
    fn same_shape(&self, a: usize, b: usize) -> Result<Shape, ArgumentError> {
        let shape = self.shape(a)?;
        if self.shape(b)? != shape {
            return Err(ArgumentError::new(format!(
                "maps {a} and {b} differ in shape: {shape:?} and {:?}",
                self.shape(b)?
            )));
        }
        Ok(shape)
    }

    /// Declares the maps `run` keeps, and plans memory: a map's buffer is reused once its last
    /// reader has run (never for the outputs, never by a step that still reads it).
    pub fn finish(&mut self, outputs: &[usize]) -> Result<(), ArgumentError> {
        for &map in outputs {
            self.shape(map)?;
        }
        let maps = self.shapes.len();
        let mut readers = vec![0; maps];
        for step in &self.steps {
            for input in step.inputs() {
                readers[input] += 1;
            }
        }
        for &map in outputs {
            readers[map] += 1;
        }
        self.fused = vec![false; maps];
        for step in &self.steps {
            if let Step::Conv {
                conv,
                input,
                residual,
                ..
            } = step
            {
                let dw_step = input.checked_sub(1).map(|i| &self.steps[i]);
                if matches!(dw_step, Some(Step::Depthwise { .. }))
                    && conv.is_pointwise()
                    && readers[*input] == 1
                    && *residual != Some(*input)
                {
                    self.fused[*input] = true;
                }
            }
        }
        // What each step reads once fused maps are computed by their reader.
        let mut last_read = vec![0; maps];
        for index in 0..self.steps.len() {
            for input in self.reads(index) {
                last_read[input] = index + 1; // the map written by this step
            }
        }
        for &map in outputs {
            last_read[map] = usize::MAX;
        }
        let size = |(h, w, c): Shape| h * w * c;
        let mut buffer_of = vec![usize::MAX; maps];
        let mut sizes: Vec<usize> = Vec::new();
        let mut free: Vec<usize> = Vec::new();
        buffer_of[0] = 0;
        sizes.push(size(self.shapes[0]));
        for map in 1..maps {
            if self.fused[map] {
                continue; // no buffer: its reader computes it
            }
            // Take the smallest free buffer that fits, else grow the largest free one, else new.
            let need = size(self.shapes[map]);
            let pick = free
                .iter()
                .enumerate()
                .filter(|&(_, &b)| sizes[b] >= need)
                .min_by_key(|&(_, &b)| sizes[b])
                .or_else(|| free.iter().enumerate().max_by_key(|&(_, &b)| sizes[b]))
                .map(|(i, _)| i);
            let buffer = match pick {
                Some(i) => free.swap_remove(i),
                None => {
                    sizes.push(0);
                    sizes.len() - 1
                }
            };
            sizes[buffer] = sizes[buffer].max(need);
            buffer_of[map] = buffer;
            // Maps last read by this step free their buffers for the next steps.
            for earlier in 0..map {
                if last_read[earlier] == map && !self.fused[earlier] {
                    free.push(buffer_of[earlier]);
                }
            }
        }
        self.buffers = sizes.iter().map(|&n| vec![0.0; n]).collect();
        self.buffer_of = buffer_of;
        self.outputs = outputs.to_vec();
        Ok(())
    }

    /// The maps step `index` reads, a fused depthwise output replaced by that depthwise's input.
    fn reads(&self, index: usize) -> Vec<usize> {
        let mut reads = self.steps[index].inputs();
        if self.fused.get(index + 1) == Some(&true) {
            return Vec::new(); // computed by its reader, which reads its input
        }
        for map in &mut reads {
            if self.fused[*map] {
                *map = self.steps[*map - 1].inputs()[0];
            }
        }
        reads
    }

    /// Floats of memory the maps take (after `finish`).
    pub fn memory(&self) -> usize {
        self.buffers.iter().map(Vec::len).sum()
    }

    /// Runs every step on `image` (height x width x channels, NHWC): on the calling thread, and
    /// with `helpers`, on each of its threads too. The threads share out each step's output rows
    /// in chunks and meet at a spinning barrier after each step, as XNNPACK's pool does: waking
    /// a sleeping thread for each of a hundred steps costs more than many steps' work. The
    /// helpers must have nothing else to do meanwhile: each step waits for all of them.
    pub fn run(
        &mut self,
        image: &[f32],
        helpers: Option<&rayon::ThreadPool>,
    ) -> Result<(), ArgumentError> {
        if self.buffer_of.is_empty() {
            return Err(ArgumentError::new("the program is not finished"));
        }
        let (h, w, c) = self.shapes[0];
        if image.len() != h * w * c {
            return Err(ArgumentError::new(format!(
                "the image must hold {h}x{w}x{c} values, got {}",
                image.len()
            )));
        }
        self.buffers[self.buffer_of[0]][..image.len()].copy_from_slice(image);
        let buffers: Vec<Buffer> = self
            .buffers
            .iter_mut()
            .map(|b| Buffer(b.as_mut_ptr(), b.len()))
            .collect();
        let this = &*self;
        let failure = Mutex::new(None);
        let threads = 1 + helpers.map_or(0, rayon::ThreadPool::current_num_threads);
        let barrier = SpinBarrier::new(threads);
        // Each step's rows go in chunks that the threads claim in turn: a thread held up (by the
        // machine, or by slower rows) leaves more chunks to the others instead of a wait.
        let claimed: Vec<AtomicUsize> = this.steps.iter().map(|_| AtomicUsize::new(0)).collect();
        let work = |_thread: usize| {
            for (index, claimed) in claimed.iter().enumerate() {
                if this.fused[index + 1] {
                    continue; // its reader computes it
                }
                let chunks = this.chunks(index, threads);
                // SAFETY: each chunk of a step writes its own rows of a buffer that none of the
                // step's inputs use (`finish`), and the barrier keeps steps apart.
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| loop {
                    let chunk = claimed.fetch_add(1, Ordering::Relaxed);
                    if chunk >= chunks {
                        return Ok(());
                    }
                    unsafe { this.step(index, chunk, chunks, &buffers) }?;
                }));
                // Every thread reaches every barrier, whatever happened to its part.
                let error = match result {
                    Ok(Ok(())) => None,
                    Ok(Err(err)) => Some(err),
                    Err(_) => Some(ArgumentError::new(format!("step {index} failed (a bug)"))),
                };
                if let Some(err) = error {
                    *failure.lock().unwrap_or_else(|e| e.into_inner()) = Some(err);
                }
                barrier.wait();
            }
        };
        match helpers {
            Some(pool) if threads > 1 => pool.in_place_scope(|scope| {
                // One `work` per helper thread (a helper busy in one waits at the barrier, so
                // it takes no second), and one here: together they take every chunk.
                let work = &work;
                for thread in 1..threads {
                    scope.spawn(move |_| work(thread));
                }
                work(0);
            }),
            _ => work(0),
        }
        match failure.into_inner().unwrap_or_else(|e| e.into_inner()) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// How many chunks of rows step `index` splits into for `threads` threads.
    fn chunks(&self, index: usize, threads: usize) -> usize {
        if threads == 1 {
            return 1;
        }
        let units = self.shapes[index + 1].0 / self.steps[index].row_unit();
        (threads * CHUNKS_PER_THREAD).min(units).max(1)
    }

    /// Map `map`'s values.
    ///
    /// # Safety
    /// `buffers` point at this program's buffers, which no one writes during the read.
    unsafe fn read<'a>(&self, buffers: &'a [Buffer], map: usize) -> &'a [f32] {
        let (h, w, c) = self.shapes[map];
        let Buffer(pointer, len) = buffers[self.buffer_of[map]];
        assert!(h * w * c <= len);
        std::slice::from_raw_parts(pointer, h * w * c)
    }

    fn map(&self, map: usize) -> &[f32] {
        let (h, w, c) = self.shapes[map];
        &self.buffers[self.buffer_of[map]][..h * w * c]
    }

    /// Part `part` of `parts` of step `index`: a band of its output rows.
    ///
    /// # Safety
    /// `buffers` point at this program's buffers; no other part of this step runs on the same
    /// rows, and nothing else reads or writes the step's output buffer meanwhile.
    unsafe fn step(
        &self,
        index: usize,
        part: usize,
        parts: usize,
        buffers: &[Buffer],
    ) -> Result<(), ArgumentError> {
        let map = index + 1;
        let (oh, ow, oc) = self.shapes[map];
        let step = &self.steps[index];
        let unit = step.row_unit();
        let units = oh / unit;
        let rows = units * part / parts * unit..units * (part + 1) / parts * unit;
        if rows.is_empty() {
            return Ok(());
        }
        let Buffer(pointer, len) = buffers[self.buffer_of[map]];
        let row_len = ow * oc;
        assert!(rows.end * row_len <= len);
        let output =
            std::slice::from_raw_parts_mut(pointer.add(rows.start * row_len), rows.len() * row_len);
        let read = |map: usize| self.read(buffers, map);
        match step {
            Step::Conv {
                conv,
                input,
                relu6,
                residual,
                residual_relu6,
            } => {
                let (h, w, _) = self.shapes[*input];
                if self.fused[*input] {
                    let Step::Depthwise {
                        depthwise,
                        input: source,
                        relu6: depthwise_relu6,
                    } = &self.steps[*input - 1]
                    else {
                        unreachable!("`finish` fuses depthwise outputs only");
                    };
                    // This band's depthwise rows, then the 1x1 convolution of them: rows map
                    // one to one, so the band is a map of its own.
                    let (sh, sw, _) = self.shapes[*source];
                    let band = rows.start * row_len..rows.end * row_len;
                    let epilogue = Epilogue {
                        relu6: *relu6,
                        residual: residual.map(|r| &read(r)[band.clone()]),
                        residual_relu6: *residual_relu6,
                    };
                    let channels = self.shapes[*input].2;
                    return FUSED.with_borrow_mut(|dw_rows| {
                        // Every value is written below: the buffer only grows, never cleared.
                        let len = rows.len() * w * channels;
                        if dw_rows.len() < len {
                            dw_rows.resize(len, 0.0);
                        }
                        let dw_rows = &mut dw_rows[..len];
                        let source = read(*source);
                        depthwise.run_rows(
                            source,
                            sh,
                            sw,
                            rows.clone(),
                            dw_rows,
                            *depthwise_relu6,
                        )?;
                        conv.run_rows(dw_rows, rows.len(), w, 0..rows.len(), output, epilogue)
                    });
                }
                let epilogue = Epilogue {
                    relu6: *relu6,
                    residual: residual.map(read),
                    residual_relu6: *residual_relu6,
                };
                conv.run_rows(read(*input), h, w, rows, output, epilogue)
            }
            Step::Depthwise {
                depthwise,
                input,
                relu6,
            } => {
                let (h, w, _) = self.shapes[*input];
                depthwise.run_rows(read(*input), h, w, rows, output, *relu6)
            }
            Step::Upsample { input } => {
                let (h, w, c) = self.shapes[*input];
                resample::upsample2x_bilinear_rows(read(*input), h, w, c, rows, output)
            }
            Step::MaxPool { input } => {
                let (h, w, c) = self.shapes[*input];
                resample::max_pool2x2_rows(read(*input), h, w, c, rows, output)
            }
            Step::Add { a, b, relu6 } => {
                let values = rows.start * row_len..rows.end * row_len;
                let (a, b) = (&read(*a)[values.clone()], &read(*b)[values]);
                resample::add(a, b, output, *relu6)
            }
            Step::DepthToSpace { input, block } => {
                let (h, w, c) = self.shapes[*input];
                resample::depth_to_space_rows(read(*input), h, w, c, *block, rows, output)
            }
            Step::AddPrelu { a, b, slopes } => {
                let values = rows.start * row_len..rows.end * row_len;
                let (a, b) = (&read(*a)[values.clone()], &read(*b)[values]);
                elementwise::add_prelu(a, b, slopes, output)
            }
            Step::Prelu { input, slopes } => {
                let values = rows.start * row_len..rows.end * row_len;
                elementwise::prelu(&read(*input)[values], slopes, output)
            }
            Step::PadChannels { input, extra } => {
                let (_, w, c) = self.shapes[*input];
                let values = rows.start * w * c..rows.end * w * c;
                elementwise::pad_channels(&read(*input)[values], c, *extra, output)
            }
            // One row, so one thread: a few thousand sums, less than a barrier's wait.
            Step::Mean { input } => resample::global_mean(read(*input), output),
        }
    }

    /// The kept maps after `run`, in the order `finish` was given them.
    pub fn outputs(&self) -> impl Iterator<Item = (&[f32], Shape)> + '_ {
        self.outputs
            .iter()
            .map(|&map| (self.map(map), self.shapes[map]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conv::Padding;

    fn program() -> (Program, [usize; 4]) {
        // image 4x4x2 -> 1x1 conv to 3 (relu6) -> depthwise 3x3 -> + conv output -> pool, and
        // an upsampled copy of the pooled map.
        let mut p = Program::new(4, 4, 2).unwrap();
        let conv = Conv::new(
            &[1.0, -1.0, 0.5, 0.5, 2.0, 0.0],
            &[0.0, 1.0, -1.0],
            2,
            3,
            1,
            1,
            Padding::default(),
        )
        .unwrap();
        let a = p.conv(conv, 0, true, None, false).unwrap();
        let same = Padding {
            top: 1,
            bottom: 1,
            left: 1,
            right: 1,
        };
        let weights: Vec<f32> = (0..27).map(|i| (i % 5) as f32 * 0.25 - 0.5).collect();
        let dw = Depthwise::new(&weights, &[0.1, 0.2, 0.3], 3, 1, same).unwrap();
        let b = p.depthwise(dw, a, false).unwrap();
        let c = p.add(a, b, true).unwrap();
        let d = p.max_pool2x2(c).unwrap();
        let e = p.upsample2x(d).unwrap();
        (p, [a, c, d, e])
    }

    #[test]
    fn runs_the_steps_in_order_and_keeps_the_outputs() {
        let (mut p, [a, c, d, e]) = program();
        p.finish(&[d, e]).unwrap();
        let image: Vec<f32> = (0..32).map(|i| i as f32 * 0.1 - 1.0).collect();
        p.run(&image, None).unwrap();
        let outputs: Vec<_> = p.outputs().map(|(v, s)| (v.to_vec(), s)).collect();
        assert_eq!(outputs[0].1, (2, 2, 3));
        assert_eq!(outputs[1].1, (4, 4, 3));
        // The same steps one by one, each into its own buffer.
        let (mut q, _) = program();
        q.finish(&[a, c, d, e]).unwrap();
        q.run(&image, None).unwrap();
        let separate: Vec<_> = q.outputs().map(|(v, _)| v.to_vec()).collect();
        assert_eq!(outputs[0].0, separate[2]);
        assert_eq!(outputs[1].0, separate[3]);
        // Pooling took the maximum of each 2x2 block of the clamped sum.
        let sum = &separate[1];
        let max = (0..3).map(|ch| {
            [0, 1, 4, 5]
                .iter()
                .map(|&px| sum[px * 3 + ch])
                .fold(f32::MIN, f32::max)
        });
        assert_eq!(outputs[0].0[..3].to_vec(), max.collect::<Vec<_>>());
        // A second run on the same image gives the same maps (no state leaks between frames).
        p.run(&image, None).unwrap();
        let again: Vec<_> = p.outputs().map(|(v, _)| v.to_vec()).collect();
        assert_eq!(again[0], outputs[0].0);
    }

    /// `p.run` on `threads` threads: this one and a pool of the others.
    fn run_on(p: &mut Program, image: &[f32], threads: usize) {
        let helpers = (threads > 1).then(|| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(threads - 1)
                .build()
                .unwrap()
        });
        p.run(image, helpers.as_ref()).unwrap();
    }

    #[test]
    fn threads_split_each_step_and_agree_with_one() {
        let image: Vec<f32> = (0..32).map(|i| (i as f32 * 0.37).sin()).collect();
        let run = |threads: usize| {
            let (mut p, [a, c, d, e]) = program();
            p.finish(&[a, c, d, e]).unwrap();
            run_on(&mut p, &image, threads);
            p.outputs().map(|(v, _)| v.to_vec()).collect::<Vec<_>>()
        };
        let one = run(1);
        for threads in [2, 3, 5] {
            assert_eq!(run(threads), one, "{threads} threads");
        }
    }

    #[test]
    fn prelu_and_channel_padding_split_into_bands() {
        // image 5x3x2 -> 2 zero channels -> prelu with a slope per channel -> prelu(that + the
        // padded map) in one step.
        let image: Vec<f32> = (0..30).map(|i| (i as f32 * 0.61).sin()).collect();
        let slopes = [0.5, -2.0, 0.25, 3.0];
        let run = |threads: usize| {
            let mut p = Program::new(5, 3, 2).unwrap();
            let padded = p.pad_channels(0, 2).unwrap();
            let out = p.prelu(padded, &slopes).unwrap();
            assert_eq!(p.shape(out).unwrap(), (5, 3, 4));
            let fused = p.add_prelu(out, padded, &slopes).unwrap();
            p.finish(&[padded, out, fused]).unwrap();
            run_on(&mut p, &image, threads);
            p.outputs().map(|(v, _)| v.to_vec()).collect::<Vec<_>>()
        };
        let one = run(1);
        let padded: Vec<f32> = image
            .chunks_exact(2)
            .flat_map(|px| [px[0], px[1], 0.0, 0.0])
            .collect();
        assert_eq!(one[0], padded);
        let expected: Vec<f32> = padded
            .iter()
            .enumerate()
            .map(|(i, &x)| if x < 0.0 { x * slopes[i % 4] } else { x })
            .collect();
        assert_eq!(one[1], expected);
        let sum: Vec<f32> = expected.iter().zip(&padded).map(|(a, b)| a + b).collect();
        let fused: Vec<f32> = sum
            .iter()
            .enumerate()
            .map(|(i, &x)| if x < 0.0 { x * slopes[i % 4] } else { x })
            .collect();
        assert_eq!(one[2], fused);
        for threads in [2, 3, 4] {
            assert_eq!(run(threads), one, "{threads} threads");
        }
        let mut p = Program::new(2, 2, 3).unwrap();
        assert!(p.prelu(0, &[1.0; 2]).is_err()); // a slope per channel
        assert!(p.add_prelu(0, 0, &[1.0; 2]).is_err());
        let wider = p.pad_channels(0, 1).unwrap();
        assert!(p.add_prelu(0, wider, &[1.0; 3]).is_err());
        assert!(p.pad_channels(0, usize::MAX).is_err());
    }

    #[test]
    fn a_mean_then_a_1x1_convolution_is_a_linear_head() {
        let image: Vec<f32> = (0..18).map(|i| (i as f32 * 0.43).cos()).collect();
        let (weight, bias) = ([0.5, -1.5, 2.0, 0.25], [0.1, -0.2]);
        let run = |threads: usize| {
            let mut p = Program::new(3, 3, 2).unwrap();
            let mean = p.mean(0).unwrap();
            let conv = Conv::new(&weight, &bias, 2, 2, 1, 1, Padding::default()).unwrap();
            let head = p.conv(conv, mean, false, None, false).unwrap();
            p.finish(&[mean, head]).unwrap();
            run_on(&mut p, &image, threads);
            p.outputs().map(|(v, _)| v.to_vec()).collect::<Vec<_>>()
        };
        let one = run(1);
        let mean: Vec<f32> = (0..2)
            .map(|c| image.iter().skip(c).step_by(2).fold(0.0, |s, &x| s + x) * (1.0 / 9.0))
            .collect();
        assert_eq!(one[0], mean);
        let head: Vec<f32> = (0..2)
            .map(|o| bias[o] + weight[2 * o] * mean[0] + weight[2 * o + 1] * mean[1])
            .collect();
        for (got, want) in one[1].iter().zip(&head) {
            assert!((got - want).abs() < 1e-6, "{got} vs {want}");
        }
        assert_eq!(run(3), one);
    }

    #[test]
    fn a_depthwise_read_by_a_pointwise_alone_is_fused_with_the_same_values() {
        // image 6x5x4 -> depthwise 3x3 stride 1 (relu6) -> 1x1 conv to 6 + residual (a 1x1 conv
        // of the image): the depthwise map is computed band by band inside the 1x1 conv.
        let build = || {
            let mut p = Program::new(6, 5, 4).unwrap();
            let same = Padding {
                top: 1,
                bottom: 1,
                left: 1,
                right: 1,
            };
            let taps: Vec<f32> = (0..36).map(|i| ((i * 7) % 11) as f32 * 0.2 - 1.0).collect();
            let dw = Depthwise::new(&taps, &[0.1, -0.2, 0.3, 0.0], 3, 1, same).unwrap();
            let skip_weights: Vec<f32> = (0..24).map(|i| (i % 5) as f32 * 0.3 - 0.6).collect();
            let skip = Conv::new(&skip_weights, &[0.0; 6], 4, 6, 1, 1, Padding::default()).unwrap();
            let project =
                Conv::new(&skip_weights, &[0.5; 6], 4, 6, 1, 1, Padding::default()).unwrap();
            let r = p.conv(skip, 0, false, None, false).unwrap();
            let d = p.depthwise(dw, 0, true).unwrap();
            let out = p.conv(project, d, false, Some(r), true).unwrap();
            (p, d, out)
        };
        let image: Vec<f32> = (0..120)
            .map(|i| ((i * 13) % 17) as f32 * 0.25 - 2.0)
            .collect();
        let (mut fused, d, out) = build();
        fused.finish(&[out]).unwrap();
        assert!(fused.fused[d]);
        let (mut separate, _, _) = build();
        separate.finish(&[d, out]).unwrap(); // the depthwise map kept: not fused
        assert!(!separate.fused[d]);
        for threads in [1, 2, 3] {
            run_on(&mut fused, &image, threads);
            run_on(&mut separate, &image, threads);
            let a: Vec<f32> = fused.outputs().next().unwrap().0.to_vec();
            let b: Vec<f32> = separate.outputs().nth(1).unwrap().0.to_vec();
            assert_eq!(a, b, "{threads} threads");
        }
        assert_eq!(fused.buffer_of[d], usize::MAX); // no memory for the fused map
    }

    #[test]
    fn freed_maps_lend_their_memory() {
        let (mut p, [_, _, d, e]) = program();
        p.finish(&[d, e]).unwrap();
        let all: usize = (0..p.shapes.len())
            .map(|m| p.shapes[m].0 * p.shapes[m].1 * p.shapes[m].2)
            .sum();
        assert!(p.memory() < all, "{} of {all}", p.memory());
    }

    #[test]
    fn mismatched_maps_are_errors() {
        let mut p = Program::new(4, 4, 2).unwrap();
        let conv = Conv::new(&[1.0; 3], &[0.0; 1], 3, 1, 1, 1, Padding::default()).unwrap();
        assert!(p.conv(conv, 0, false, None, false).is_err()); // 3 channels wanted, 2 given
        assert!(p.add(0, 5, false).is_err());
        let pooled = p.max_pool2x2(0).unwrap();
        assert!(p.add(0, pooled, false).is_err());
        assert!(p.run(&[0.0; 32], None).is_err()); // not finished
        p.finish(&[pooled]).unwrap();
        assert!(p.run(&[0.0; 31], None).is_err());
        assert!(Program::new(0, 4, 2).is_err());
        assert!(Program::new(1 << 14, 1 << 14, 1).is_err()); // over MAX_MAP_VALUES
        let mut big = Program::new(4096, 4096, 4).unwrap();
        assert!(big.upsample2x(0).is_err()); // its output would be over the limit
        let mut odd = Program::new(3, 4, 1).unwrap();
        assert!(odd.max_pool2x2(0).is_err());
    }
}
