//! MusiCNN's input: the log-compressed mel spectrogram of 16 kHz audio, as the `musicnn`
//! package computes it with librosa (`melspectrogram(sr=16000, n_fft=512, hop_length=256,
//! n_mels=96)`: centred frames zero-padded at the ends, periodic Hann window, power spectrum,
//! Slaney-style mel filters with area normalisation), rounded to float16 as the package stores
//! it, then `log10(10000·x + 1)`.
//!
//! One deliberate difference: the package multiplies in float16, which overflows to infinity
//! for any band above 6.55 (loud bass does that) and makes the network return NaN; here the
//! product is taken in float32, which is what the same formula gives wherever it does not
//! overflow.

use std::sync::Arc;

use realfft::{RealFftPlanner, RealToComplex};

use crate::analysis::frames::{Framer, WindowedFft};

/// The network's sample rate.
pub const SAMPLE_RATE: u32 = 16_000;
pub const FFT_SIZE: usize = 512;
pub const HOP: usize = 256;
pub const MEL_BANDS: usize = 96;

/// Computes spectrogram frames; holds the FFT plan and the filter bank.
pub struct MelFrontEnd {
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    /// Per band: the first FFT bin it covers and its weights from there.
    filters: Vec<(usize, Vec<f32>)>,
}

impl Default for MelFrontEnd {
    fn default() -> Self {
        Self::new()
    }
}

impl MelFrontEnd {
    pub fn new() -> Self {
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(FFT_SIZE);
        // Periodic Hann (scipy's `get_window('hann', n, fftbins=True)`).
        let window = (0..FFT_SIZE)
            .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / FFT_SIZE as f64).cos())
            .map(|w| w as f32)
            .collect();
        Self {
            fft,
            window,
            filters: slaney_filters(),
        }
    }

    /// Frames of `MEL_BANDS` values (time-major), for 16 kHz mono samples, all at once.
    pub fn log_mel(&self, samples: &[f32]) -> Vec<[f32; MEL_BANDS]> {
        let mut stream = self.stream();
        stream.push(samples);
        stream.finish()
    }

    /// A spectrogram computed as 16 kHz samples arrive.
    pub fn stream(&self) -> MelStream<'_> {
        MelStream {
            // librosa's centring: FFT_SIZE/2 zeros on each side (pad_mode="constant").
            framer: Framer::new(FFT_SIZE, HOP, -(FFT_SIZE as i64 / 2)),
            frames: MelFrames {
                front: self,
                fft: WindowedFft::with_plan(self.fft.clone(), self.window.clone()),
                power: vec![0f32; FFT_SIZE / 2 + 1],
                done: Vec::new(),
            },
        }
    }
}

/// A spectrogram being computed: the frames so far and the samples the next ones still need.
pub struct MelStream<'a> {
    framer: Framer,
    frames: MelFrames<'a>,
}

/// The frames computed so far, and the front end and buffers the next one is computed with.
struct MelFrames<'a> {
    front: &'a MelFrontEnd,
    fft: WindowedFft,
    power: Vec<f32>,
    done: Vec<[f32; MEL_BANDS]>,
}

impl MelFrames<'_> {
    fn add(&mut self, samples: &[f32]) {
        let frame = self.front.frame(samples, &mut self.fft, &mut self.power);
        self.done.push(frame);
    }
}

impl MelStream<'_> {
    /// Adds 16 kHz samples.
    pub fn push(&mut self, samples: &[f32]) {
        self.framer.push(samples, |f| self.frames.add(f));
    }

    /// Every frame: librosa's `1 + len / hop` centred frames, the last ones zero-padded.
    pub fn finish(mut self) -> Vec<[f32; MEL_BANDS]> {
        let total = 1 + self.framer.received() / HOP;
        self.framer.finish(total, |f| self.frames.add(f));
        self.frames.done
    }
}

impl MelFrontEnd {
    /// One frame's log-compressed mel bands.
    fn frame(&self, samples: &[f32], fft: &mut WindowedFft, power: &mut [f32]) -> [f32; MEL_BANDS] {
        for (p, c) in power.iter_mut().zip(fft.spectrum(samples)) {
            *p = c.norm_sqr();
        }
        let mut frame = [0f32; MEL_BANDS];
        for (slot, (first, weights)) in frame.iter_mut().zip(&self.filters) {
            let energy: f32 = weights
                .iter()
                .zip(&power[*first..])
                .map(|(w, p)| w * p)
                .sum();
            // The package stores the spectrogram in float16; the log is taken in float32.
            let stored = half::f16::from_f32(energy).to_f32();
            *slot = (10_000.0 * stored + 1.0).log10();
        }
        frame
    }
}

/// Slaney's scale: 200/3 Hz per mel below 1 kHz, then 27 mels per factor of 6.4.
const F_SP: f64 = 200.0 / 3.0;
const MIN_LOG_HZ: f64 = 1000.0;

fn log_step() -> f64 {
    (6.4f64).ln() / 27.0
}

/// Slaney's mel scale (linear below 1 kHz, logarithmic above), as librosa's `hz_to_mel`.
fn hz_to_mel(hz: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = log_step();
    if hz >= MIN_LOG_HZ {
        min_log_mel + (hz / MIN_LOG_HZ).ln() / logstep
    } else {
        hz / F_SP
    }
}

fn mel_to_hz(mel: f64) -> f64 {
    let min_log_mel = MIN_LOG_HZ / F_SP;
    let logstep = log_step();
    if mel >= min_log_mel {
        MIN_LOG_HZ * (logstep * (mel - min_log_mel)).exp()
    } else {
        F_SP * mel
    }
}

/// librosa's `filters.mel(sr=16000, n_fft=512, n_mels=96)`: triangles between neighbouring mel
/// points from 0 Hz to Nyquist, each scaled by 2 / its width in Hz (`norm="slaney"`).
fn slaney_filters() -> Vec<(usize, Vec<f32>)> {
    let bins = FFT_SIZE / 2 + 1;
    let fft_hz: Vec<f64> = (0..bins)
        .map(|k| k as f64 * SAMPLE_RATE as f64 / FFT_SIZE as f64)
        .collect();
    let top = hz_to_mel(SAMPLE_RATE as f64 / 2.0);
    let points: Vec<f64> = (0..MEL_BANDS + 2)
        .map(|i| mel_to_hz(top * i as f64 / (MEL_BANDS + 1) as f64))
        .collect();
    (0..MEL_BANDS)
        .map(|m| {
            let (lo, mid, hi) = (points[m], points[m + 1], points[m + 2]);
            let norm = 2.0 / (hi - lo);
            let weights: Vec<(usize, f32)> = fft_hz
                .iter()
                .enumerate()
                .filter_map(|(k, &f)| {
                    let rise = (f - lo) / (mid - lo);
                    let fall = (hi - f) / (hi - mid);
                    let w = rise.min(fall).max(0.0) * norm;
                    (w > 0.0).then_some((k, w as f32))
                })
                .collect();
            let first = weights.first().map_or(0, |(k, _)| *k);
            let last = weights.last().map_or(0, |(k, _)| *k);
            let mut dense = vec![0f32; last + 1 - first];
            for (k, w) in weights {
                dense[k - first] = w;
            }
            (first, dense)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mel_scale_round_trips_and_bends_at_one_kilohertz() {
        for hz in [0.0, 440.0, 1000.0, 3000.0, 8000.0] {
            assert!((mel_to_hz(hz_to_mel(hz)) - hz).abs() < 1e-6);
        }
        assert!((hz_to_mel(1000.0) - 15.0).abs() < 1e-9);
    }

    #[test]
    fn a_tone_lights_the_band_that_holds_its_frequency() {
        let front = MelFrontEnd::new();
        let tone: Vec<f32> = (0..16_000)
            .map(|n| (2.0 * std::f32::consts::PI * 440.0 * n as f32 / 16_000.0).sin() * 0.1)
            .collect();
        let frames = front.log_mel(&tone);
        assert_eq!(frames.len(), 1 + 16_000 / HOP);
        let middle = frames[frames.len() / 2];
        let loudest = (0..MEL_BANDS)
            .max_by(|&a, &b| middle[a].total_cmp(&middle[b]))
            .unwrap();
        let (first, weights) = &front.filters[loudest];
        let covers =
            (*first..first + weights.len()).any(|k| (k as f32 * 31.25 - 440.0).abs() < 32.0);
        assert!(covers, "band {loudest} does not cover 440 Hz");
        assert!(middle[0] < middle[loudest]);
    }
}
