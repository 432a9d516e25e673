//! Short-time spectra (2048 points at 44.1/48 kHz, hop 1024 after halving: about 43 frames a
//! second, librosa's rate at 22,050 Hz and hop 512): loudness, spectral centroid, rolloff and
//! flatness, MFCC, and the two onset envelopes tempo is read from. Fed frame by frame.

use super::frames::WindowedFft;
use super::{fast_ln, fft_size, hann};
use std::f32::consts::PI;

const MEL_BANDS: usize = 40;
pub(super) const MFCC: usize = 13;
const ROLLOFF: f32 = 0.85;
/// Magnitudes are compressed as `ln(1 + λ·|X|)` before the per-bin flux (SuperFlux's λ order;
/// full scale is 1), so quiet partials count and loud ones do not swamp the rest.
const FLUX_COMPRESSION: f32 = 1000.0;

fn hz_to_mel(f: f32) -> f32 {
    2595.0 * (1.0 + f / 700.0).log10()
}

fn mel_to_hz(m: f32) -> f32 {
    700.0 * (10f32.powf(m / 2595.0) - 1.0)
}

/// Triangular mel filters over `bins` FFT bins, as (first bin, weights).
fn mel_filters(rate: f32, n_fft: usize) -> Vec<(usize, Vec<f32>)> {
    let bins = n_fft / 2 + 1;
    let top = hz_to_mel(rate / 2.0);
    let edges: Vec<f32> = (0..MEL_BANDS + 2)
        .map(|i| mel_to_hz(top * i as f32 / (MEL_BANDS + 1) as f32))
        .collect();
    let bin_hz = rate / n_fft as f32;
    (0..MEL_BANDS)
        .map(|b| {
            let (lo, mid, hi) = (edges[b], edges[b + 1], edges[b + 2]);
            let first = ((lo / bin_hz).floor() as usize).min(bins - 1);
            let last = ((hi / bin_hz).ceil() as usize).min(bins - 1);
            let weights = (first..=last)
                .map(|k| {
                    let f = k as f32 * bin_hz;
                    let w = if f <= mid {
                        (f - lo) / (mid - lo)
                    } else {
                        (hi - f) / (hi - mid)
                    };
                    // Slaney normalisation: equal area per band.
                    w.max(0.0) * 2.0 / (hi - lo)
                })
                .collect();
            (first, weights)
        })
        .collect()
}

/// DCT-II (orthonormal) rows for the first `MFCC` coefficients.
fn dct_matrix() -> Vec<[f32; MEL_BANDS]> {
    (0..MFCC)
        .map(|k| {
            let scale = if k == 0 {
                (1.0 / MEL_BANDS as f32).sqrt()
            } else {
                (2.0 / MEL_BANDS as f32).sqrt()
            };
            let mut row = [0.0; MEL_BANDS];
            for (n, r) in row.iter_mut().enumerate() {
                *r = scale * (PI * k as f32 * (n as f32 + 0.5) / MEL_BANDS as f32).cos();
            }
            row
        })
        .collect()
}

/// Sums over one frame's bins, in eight lanes so the compiler vectorises them: total power,
/// total magnitude, magnitude weighted by bin index, and the sum of log powers.
fn bin_sums(power: &[f32], mags: &[f32]) -> (f32, f32, f32, f32) {
    let mut lanes = [[0.0f32; 8]; 4];
    let mut k0 = 0usize;
    let mut p_chunks = power.chunks_exact(8);
    let mut m_chunks = mags.chunks_exact(8);
    for (p, m) in (&mut p_chunks).zip(&mut m_chunks) {
        for i in 0..8 {
            lanes[0][i] += p[i];
            lanes[1][i] += m[i];
            lanes[2][i] += m[i] * (k0 + i) as f32;
            lanes[3][i] += fast_ln(p[i] + 1e-12);
        }
        k0 += 8;
    }
    let mut sums = lanes.map(|l| l.iter().sum::<f32>());
    for (i, (p, m)) in p_chunks
        .remainder()
        .iter()
        .zip(m_chunks.remainder())
        .enumerate()
    {
        sums[0] += p;
        sums[1] += m;
        sums[2] += m * (k0 + i) as f32;
        sums[3] += fast_ln(p + 1e-12);
    }
    (sums[0], sums[1], sums[2], sums[3])
}

/// Running mean and variance (Welford).
#[derive(Clone, Copy, Default)]
pub(super) struct Stat {
    n: f64,
    mean: f64,
    m2: f64,
}

impl Stat {
    fn push(&mut self, x: f32) {
        self.n += 1.0;
        let d = x as f64 - self.mean;
        self.mean += d / self.n;
        self.m2 += d * (x as f64 - self.mean);
    }
    pub(super) fn mean(&self) -> f32 {
        self.mean as f32
    }
    pub(super) fn std(&self) -> f32 {
        if self.n > 1.0 {
            (self.m2 / self.n).sqrt() as f32
        } else {
            0.0
        }
    }
}

/// What the short-time pass measured over the whole recording.
pub(super) struct Spectral {
    pub centroid: Stat,
    pub rolloff: Stat,
    pub flatness: Stat,
    pub frame_db: Stat,
    pub mfcc: Vec<Stat>,
    /// Mean positive change of the mel bands' dB, frame to frame: broadband attacks.
    pub onset: Vec<f32>,
    /// Per-bin positive change of compressed magnitude against the previous frame's maximum
    /// over the bin and its neighbours (SuperFlux, Böck and Widmer 2013): new partials, so a
    /// legato note change counts as an onset too.
    pub bin_flux: Vec<f32>,
    pub frame_rate: f32,
}

/// The short-time pass, fed one frame at a time (`frame_size` samples every `hop`, from the
/// first sample; see `Framer`).
pub(super) struct ShortTime {
    n_fft: usize,
    fft: WindowedFft,
    filters: Vec<(usize, Vec<f32>)>,
    dct: Vec<[f32; MEL_BANDS]>,
    bin_hz: f32,
    power: Vec<f32>,
    mags: Vec<f32>,
    prev_mel_db: Option<[f32; MEL_BANDS]>,
    /// The per-bin flux runs over 30 Hz-8 kHz (where notes and drums are), one bin in from
    /// each end so every bin has two neighbours.
    flux_bins: std::ops::Range<usize>,
    compressed: Vec<f32>,
    previous_max: Vec<f32>,
    first_frame: bool,
    /// Window-normalised so a full-scale sine peaks near 0 dB.
    norm: f32,
    out: Spectral,
}

impl ShortTime {
    pub fn new(rate: u32) -> Self {
        let n_fft = fft_size(rate, 2048);
        let hop = n_fft / 2;
        let window = hann(n_fft);
        let bin_hz = rate as f32 / n_fft as f32;
        let bins = n_fft / 2 + 1;
        let norm = 2.0 / window.iter().sum::<f32>();
        Self {
            n_fft,
            fft: WindowedFft::new(window),
            filters: mel_filters(rate as f32, n_fft),
            dct: dct_matrix(),
            bin_hz,
            power: vec![0.0; bins],
            mags: vec![0.0; bins],
            prev_mel_db: None,
            flux_bins: ((30.0 / bin_hz) as usize).max(1)
                ..((8000.0 / bin_hz) as usize).min(bins - 2),
            compressed: vec![0.0; bins],
            previous_max: vec![0.0; bins],
            first_frame: true,
            norm,
            out: Spectral {
                centroid: Stat::default(),
                rolloff: Stat::default(),
                flatness: Stat::default(),
                frame_db: Stat::default(),
                mfcc: vec![Stat::default(); MFCC],
                onset: Vec::new(),
                bin_flux: Vec::new(),
                frame_rate: rate as f32 / hop as f32,
            },
        }
    }

    /// Frame length and hop, in samples.
    pub fn framing(&self) -> (usize, usize) {
        (self.n_fft, self.n_fft / 2)
    }

    /// Frames a recording of `len` samples has: every whole one, or one zero-padded frame if
    /// the recording is shorter than a frame.
    pub fn frames_for(&self, len: usize) -> usize {
        if len < self.n_fft {
            1
        } else {
            (len - self.n_fft) / (self.n_fft / 2) + 1
        }
    }

    pub fn frame(&mut self, samples: &[f32]) {
        let bins = self.n_fft / 2 + 1;
        let spectrum = self.fft.spectrum(samples);
        let (power, mags, out) = (&mut self.power, &mut self.mags, &mut self.out);
        let scale = self.norm * self.norm;
        for ((p, m), c) in power.iter_mut().zip(mags.iter_mut()).zip(spectrum.iter()) {
            *p = c.norm_sqr() * scale;
            *m = p.sqrt();
        }
        let (total, magnitude, weighted, log_sum) = bin_sums(power, mags);
        let weighted = weighted * self.bin_hz;
        let mut mel_db = [0.0f32; MEL_BANDS];
        for (b, (first, w)) in self.filters.iter().enumerate() {
            let e: f32 = w.iter().zip(&power[*first..]).map(|(a, p)| a * p).sum();
            mel_db[b] = 10.0 * (e + 1e-10).log10();
        }
        let flux = self.prev_mel_db.map_or(0.0, |prev| {
            mel_db
                .iter()
                .zip(prev.iter())
                .map(|(a, b)| (a - b).max(0.0))
                .sum::<f32>()
                / MEL_BANDS as f32
        });
        out.onset.push(flux);
        self.prev_mel_db = Some(mel_db);
        // Compressed only where the flux reads: its bins and one neighbour either side.
        let flux_bins = self.flux_bins.clone();
        let read = flux_bins.start - 1..flux_bins.end + 1;
        for (c, m) in self.compressed[read.clone()].iter_mut().zip(&mags[read]) {
            *c = fast_ln(1.0 + FLUX_COMPRESSION * m);
        }
        let rise: f32 = if self.first_frame {
            0.0
        } else {
            self.compressed[flux_bins.clone()]
                .iter()
                .zip(&self.previous_max[flux_bins.clone()])
                .map(|(now, before)| (now - before).max(0.0))
                .sum()
        };
        out.bin_flux.push(rise);
        self.first_frame = false;
        // The next frame is compared with this one's maximum over each bin's neighbours, so a
        // partial that drifts by a bin (vibrato) is not a new onset.
        for k in flux_bins {
            let c = &self.compressed;
            self.previous_max[k] = c[k - 1].max(c[k]).max(c[k + 1]);
        }
        out.frame_db.push(10.0 * (total + 1e-10).log10());
        // Spectral shape is only meaningful when something sounds.
        if total > 1e-8 {
            out.centroid.push(weighted / magnitude.max(1e-12));
            // Over magnitudes, as librosa computes centroid and rolloff.
            let mut acc = 0.0;
            let target = ROLLOFF * magnitude;
            let k = mags
                .iter()
                .position(|m| {
                    acc += m;
                    acc >= target
                })
                .unwrap_or(bins - 1);
            out.rolloff.push(k as f32 * self.bin_hz);
            let geometric = (log_sum / bins as f32).exp();
            out.flatness.push(geometric / (total / bins as f32));
            for (c, row) in self.dct.iter().enumerate() {
                let v: f32 = row.iter().zip(mel_db.iter()).map(|(a, b)| a * b).sum();
                out.mfcc[c].push(v);
            }
        }
    }

    pub fn finish(self) -> Spectral {
        self.out
    }
}
