//! Cutting a stream of samples into analysis frames as it arrives, halving its rate on the way,
//! and taking a frame's windowed spectrum, so a recording is measured while it decodes and
//! never held whole: memory is a frame or a block, whatever the file's length or sample rate.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// A real FFT under a window, with its buffers: the step every spectral pass takes per frame.
pub(crate) struct WindowedFft {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    input: Vec<f32>,
    spectrum: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
}

impl WindowedFft {
    /// An FFT the length of `window`.
    pub fn new(window: Vec<f32>) -> Self {
        Self::with_plan(
            RealFftPlanner::<f32>::new().plan_fft_forward(window.len()),
            window,
        )
    }

    /// An FFT with a plan made already (several streams sharing one).
    pub fn with_plan(fft: Arc<dyn RealToComplex<f32>>, window: Vec<f32>) -> Self {
        assert_eq!(fft.len(), window.len(), "one window value per point");
        Self {
            input: fft.make_input_vec(),
            spectrum: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
        }
    }

    /// The spectrum (`len / 2 + 1` bins) of one frame of `len` samples under the window.
    pub fn spectrum(&mut self, frame: &[f32]) -> &[Complex<f32>] {
        for ((x, s), w) in self.input.iter_mut().zip(frame).zip(&self.window) {
            *x = s * w;
        }
        self.fft
            .process_with_scratch(&mut self.input, &mut self.spectrum, &mut self.scratch)
            .expect("buffer sizes come from the plan");
        &self.spectrum
    }
}

/// Frames of `size` samples every `hop`, the first starting at `first_start` (negative: that
/// many zeros before the first sample, for frames centred on their hop). Each frame is handed
/// out once every sample it covers has arrived; `finish` hands out the frames that reach past
/// the end, zero-padded, up to the count the caller's framing rule gives for the whole length.
pub(crate) struct Framer {
    size: usize,
    hop: usize,
    /// Samples from absolute position `base` on (earlier ones are no longer needed).
    held: Vec<f32>,
    base: i64,
    /// Absolute start of the next frame to hand out.
    next_start: i64,
    received: i64,
    emitted: usize,
    frame: Vec<f32>,
}

impl Framer {
    pub fn new(size: usize, hop: usize, first_start: i64) -> Self {
        Self {
            size,
            hop,
            held: Vec::with_capacity(2 * size),
            base: 0,
            next_start: first_start,
            received: 0,
            emitted: 0,
            frame: vec![0.0; size],
        }
    }

    /// Samples received so far.
    pub fn received(&self) -> usize {
        self.received as usize
    }

    /// Adds samples and hands out every frame they complete.
    pub fn push(&mut self, samples: &[f32], mut each: impl FnMut(&[f32])) {
        // A few frames' worth at a time, so what is held (and moved down after each round)
        // stays a few frames long even when a whole recording arrives at once.
        for piece in samples.chunks(4 * self.size.max(self.hop)) {
            self.held.extend_from_slice(piece);
            self.received += piece.len() as i64;
            while self.next_start + self.size as i64 <= self.received {
                self.emit(&mut each);
            }
            // Keep only what later frames still cover.
            let keep_from = self.next_start.max(self.base);
            let drop = (keep_from - self.base) as usize;
            if drop > 0 {
                self.held.drain(..drop.min(self.held.len()));
                self.base += drop as i64;
            }
        }
    }

    /// Hands out the remaining frames, zero-padded past the end, until `total` frames have been
    /// handed out in all.
    pub fn finish(&mut self, total: usize, mut each: impl FnMut(&[f32])) {
        while self.emitted < total {
            self.emit(&mut each);
        }
    }

    fn emit(&mut self, each: &mut impl FnMut(&[f32])) {
        let start = self.next_start;
        let end = start + self.size as i64;
        if start >= self.base && end <= self.received {
            // Wholly held: handed out in place.
            let from = (start - self.base) as usize;
            each(&self.held[from..from + self.size]);
        } else {
            for (i, slot) in self.frame.iter_mut().enumerate() {
                let at = start + i as i64;
                *slot = if at >= self.base && at < self.received {
                    self.held[(at - self.base) as usize]
                } else {
                    0.0
                };
            }
            each(&self.frame);
        }
        self.emitted += 1;
        self.next_start += self.hop as i64;
    }
}

/// Halves the rate of a stream with the half-band filter of `super::decimate_by_two`, run over
/// blocks that overlap by the filter's reach so every output is filtered as if the stream were
/// whole (samples before the start and after the end count as zeros).
pub(crate) struct Decimator {
    /// Input not yet turned into output, from absolute position `base` (even) on, preceded
    /// by `MARGIN` samples of history.
    pending: Vec<f32>,
    received: usize,
    produced: usize,
    out: Vec<f32>,
}

/// Samples of history and look-ahead kept around each block: more than the filter's reach
/// (15), even so output positions stay aligned with even input positions.
const MARGIN: usize = 16;
/// Input samples turned into output at a time.
const BLOCK: usize = 1 << 15;

impl Decimator {
    pub fn new() -> Self {
        Self {
            pending: vec![0.0; MARGIN],
            received: 0,
            produced: 0,
            out: Vec::new(),
        }
    }

    /// Adds samples and hands out the half-rate samples they complete.
    pub fn push(&mut self, samples: &[f32], mut each: impl FnMut(&[f32])) {
        self.pending.extend_from_slice(samples);
        self.received += samples.len();
        while self.pending.len() >= BLOCK + 2 * MARGIN {
            self.run(BLOCK, &mut each);
        }
    }

    /// Hands out the rest: `received / 2` half-rate samples in all.
    pub fn finish(&mut self, mut each: impl FnMut(&[f32])) {
        let total = self.received / 2;
        // What is left is `wanted` samples, or one more (an odd length), which stays as
        // look-ahead; zeros fill the rest of the margin.
        let wanted = 2 * (total - self.produced);
        self.pending.resize(MARGIN + wanted + MARGIN, 0.0);
        if wanted > 0 {
            self.run(wanted, &mut each);
        }
    }

    /// Filters `MARGIN + len + MARGIN` pending samples and hands out the `len / 2` outputs
    /// of the middle `len` (the edges of a block are the filter's own, unfiltered edges).
    fn run(&mut self, len: usize, each: &mut impl FnMut(&[f32])) {
        let block = &self.pending[..MARGIN + len + MARGIN];
        let halved = super::decimate_by_two(block);
        self.out.clear();
        self.out
            .extend_from_slice(&halved[MARGIN / 2..(MARGIN + len) / 2]);
        self.produced += self.out.len();
        each(&self.out);
        self.pending.drain(..len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames_of(samples: &[f32], chunk: usize, mut framer: Framer, total: usize) -> Vec<Vec<f32>> {
        let mut out = Vec::new();
        for c in samples.chunks(chunk) {
            framer.push(c, |f| out.push(f.to_vec()));
        }
        framer.finish(total, |f| out.push(f.to_vec()));
        out
    }

    #[test]
    fn frames_are_the_same_whatever_the_chunks() {
        let samples: Vec<f32> = (0..1000).map(|i| i as f32).collect();
        // Centred frames of 8 every 4 (the first starts 4 before the first sample).
        let whole = frames_of(&samples, 1000, Framer::new(8, 4, -4), 1 + 1000 / 4);
        for chunk in [1, 3, 7, 64, 999] {
            assert_eq!(
                frames_of(&samples, chunk, Framer::new(8, 4, -4), 1 + 1000 / 4),
                whole,
                "chunks of {chunk}"
            );
        }
        assert_eq!(whole.len(), 251);
        assert_eq!(whole[0], vec![0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
        assert_eq!(
            whole[250],
            vec![996.0, 997.0, 998.0, 999.0, 0.0, 0.0, 0.0, 0.0]
        );
    }

    #[test]
    fn halving_in_blocks_is_halving_the_whole() {
        // A 1 kHz tone at 44.1 kHz, 3.3 blocks long, fed in odd chunks.
        let n = 3 * BLOCK + BLOCK / 3 + 1;
        let tone: Vec<f32> = (0..n)
            .map(|i| (2.0 * std::f32::consts::PI * 1000.0 * i as f32 / 44_100.0).sin())
            .collect();
        let mut streamed = Vec::new();
        let mut d = Decimator::new();
        for c in tone.chunks(4097) {
            d.push(c, |o| streamed.extend_from_slice(o));
        }
        d.finish(|o| streamed.extend_from_slice(o));
        assert_eq!(streamed.len(), n / 2);
        // Away from the ends (where the whole-buffer version leaves samples unfiltered) the
        // two agree to rounding.
        let whole = super::super::decimate_by_two(&tone);
        let worst = (16..n / 2 - 16)
            .map(|i| (streamed[i] - whole[i]).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-5, "worst difference {worst}");
    }
}
