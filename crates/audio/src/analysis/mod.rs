//! From samples to measurements: one pass of short-time spectra (2048 points at 44.1/48 kHz,
//! hop 512) gives loudness, spectral centroid, rolloff and flatness, MFCC and two onset
//! envelopes; a second pass with long windows gives chroma, fine enough to tell semitones apart
//! in the bass, and the notes that sound (`notes`). Whether there is a beat is read from the
//! broadband onset envelope's autocorrelation, how fast it goes from the per-bin flux's
//! onsets; the key from the notes' pitch classes against Temperley's profiles.

use std::f32::consts::PI;

use music_rag_core::domain::catalog::audio::{AudioFeatures, AUDIO_VECTOR_DIM};
use music_rag_core::domain::catalog::key::{Key, Mode};
use realfft::RealFftPlanner;

mod notes;

const MEL_BANDS: usize = 40;
const MFCC: usize = 13;
const ROLLOFF: f32 = 0.85;
const TEMPO_MIN: f32 = 40.0;
const TEMPO_MAX: f32 = 240.0;
/// Below this level a recording is silence: no tempo, no key.
const SILENT_DBFS: f32 = -60.0;
const SILENT: &str = "silent";
/// Mean onset flux (dB per frame over the mel bands) below which nothing starts or changes: a
/// steady tone or drone has no beat. Music measured 0.43 or more, a steady sine 0.04 or less.
const MIN_FLUX_DB: f32 = 0.1;
/// Pulse clarity below which there is no beat to count: speech and noise measured 0.06-0.09,
/// rendered music 0.22 or more (`examples/decision_inputs.rs`).
const MIN_PULSE_CLARITY: f32 = 0.15;
/// Chroma contrast below which there is no pitched harmony: noise and speech measured 0.18-0.25,
/// music with a key 0.28 or more.
const MIN_CHROMA_CONTRAST: f32 = 0.27;
/// A pitch class holding more than this share of the chroma is one note, not a key.
const SINGLE_PITCH_SHARE: f32 = 0.6;
/// The best key's profile correlation needed to name it: the notes of pieces with a key
/// measured 0.53 or more, and the two under 0.55 were named wrongly at any threshold (two sets
/// of 160 pieces, `bench/audio/labelled_set.py` seeds 7 and 11); drum kits are told apart by
/// their harmonicity, below.
const MIN_KEY_CORRELATION: f32 = 0.55;
/// librosa's default tempo prior: log-normal around 120 BPM, one octave wide.
const TEMPO_PRIOR_BPM: f32 = 120.0;
/// Magnitudes are compressed as `ln(1 + λ·|X|)` before the per-bin flux (SuperFlux's λ order;
/// full scale is 1), so quiet partials count and loud ones do not swamp the rest.
const FLUX_COMPRESSION: f32 = 1000.0;
/// Frames either side of the local mean subtracted from the per-bin flux (about 0.37 s at 43
/// frames a second): what stays is where flux rises above its surroundings, an onset, not the
/// steady shimmer of bowing, breath or a chorus effect.
const FLUX_LOCAL_MEAN_FRAMES: usize = 16;
/// Temperley's key profiles (Kostka-Payne corpus, "Music and Probability", 2007): how often
/// each scale degree sounds in major and minor. On the labelled set they named the key more
/// often than his earlier (1999) profiles, which weigh the fifth nearly as much as the tonic, so
/// the harmonics of a recording pulled a major key to its dominant and a minor one to its
/// relative major.
const MAJOR: [f32; 12] = [
    0.748, 0.060, 0.488, 0.082, 0.670, 0.460, 0.096, 0.715, 0.104, 0.366, 0.057, 0.400,
];
const MINOR: [f32; 12] = [
    0.712, 0.084, 0.474, 0.618, 0.049, 0.460, 0.105, 0.747, 0.404, 0.067, 0.133, 0.330,
];
/// Share of spectral peak magnitude that found notes' upper harmonics must account for to name
/// a key: rendered drum kits measured 0.102-0.116, pieces with a key 0.163 or more (the same two
/// sets; the threshold sits between). Noise and speech measure 0.17-0.23 (chance matches among
/// dense peaks) and are told apart by their flat chroma instead.
const MIN_HARMONICITY: f32 = 0.14;

/// Natural log to about three decimals, cheap enough for every bin of every frame (only the
/// flatness, a ratio of means, uses it).
fn fast_ln(x: f32) -> f32 {
    let bits = x.to_bits();
    let exponent = ((bits >> 23) & 0xff) as f32 - 127.0;
    let m = f32::from_bits((bits & 0x007f_ffff) | 0x3f80_0000);
    // ln(m) = 2 atanh((m - 1) / (m + 1)), a fast series for m in [1, 2).
    let t = (m - 1.0) / (m + 1.0);
    let t2 = t * t;
    let ln_m = 2.0 * t * (1.0 + t2 * (1.0 / 3.0 + t2 * (1.0 / 5.0 + t2 / 7.0)));
    exponent * std::f32::consts::LN_2 + ln_m
}

/// Halves the rate with a 31-tap windowed-sinc low-pass: music above 11 kHz adds little to
/// these features, and half the samples halve the spectral work.
fn decimate_by_two(samples: &[f32]) -> Vec<f32> {
    const TAPS: usize = 31;
    const HALF: usize = TAPS / 2;
    let kernel: Vec<f32> = (0..TAPS)
        .map(|i| {
            let n = i as f32 - HALF as f32;
            let sinc = if n == 0.0 {
                0.5
            } else {
                (PI * n / 2.0).sin() / (PI * n)
            };
            let w = 0.42 - 0.5 * (2.0 * PI * i as f32 / (TAPS - 1) as f32).cos()
                + 0.08 * (4.0 * PI * i as f32 / (TAPS - 1) as f32).cos();
            sinc * w
        })
        .collect();
    let gain: f32 = kernel.iter().sum();
    // A half-band filter: every other tap is zero except the centre, so the output is the
    // centre sample plus symmetric pairs at odd distances (8 multiplies per output).
    let centre_tap = kernel[HALF] / gain;
    let pairs: Vec<(usize, f32)> = (1..=HALF)
        .step_by(2)
        .map(|d| (d, kernel[HALF + d] / gain))
        .collect();
    // Split into even and odd samples so every pass is over contiguous slices (vectorised):
    // x[2o] = even[o], x[2o - d] = odd[o - j - 1] and x[2o + d] = odd[o + j] for d = 2j + 1.
    let out_len = samples.len() / 2;
    let even: Vec<f32> = samples.chunks_exact(2).map(|p| p[0]).collect();
    let odd: Vec<f32> = samples.chunks_exact(2).map(|p| p[1]).collect();
    let reach = pairs.len();
    let (lo, hi) = (reach, out_len.min(odd.len().saturating_sub(reach)));
    if lo >= hi {
        return even;
    }
    // In place: output o reads even[o] only, before writing it.
    let mut out = even;
    let taps: Vec<f32> = pairs.iter().map(|&(_, k)| k).collect();
    // Eight outputs at a time in a fixed-size array, which the compiler keeps in registers.
    let mut o = lo;
    while o + 8 <= hi {
        let mut acc = [0.0f32; 8];
        for (a, x) in acc.iter_mut().zip(&out[o..o + 8]) {
            *a = centre_tap * x;
        }
        for (j, &k) in taps.iter().enumerate() {
            let before: &[f32; 8] = odd[o - j - 1..o - j + 7].try_into().expect("eight");
            let after: &[f32; 8] = odd[o + j..o + j + 8].try_into().expect("eight");
            for i in 0..8 {
                acc[i] += k * (before[i] + after[i]);
            }
        }
        out[o..o + 8].copy_from_slice(&acc);
        o += 8;
    }
    for (y, o) in out[o..hi].iter_mut().zip(o..hi) {
        *y = centre_tap * *y
            + taps
                .iter()
                .enumerate()
                .map(|(j, k)| k * (odd[o - j - 1] + odd[o + j]))
                .sum::<f32>();
    }
    out
}

fn hann(n: usize) -> Vec<f32> {
    (0..n)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f32 / n as f32).cos())
        .collect()
}

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

/// Running mean and variance (Welford).
#[derive(Clone, Copy, Default)]
struct Stat {
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
    fn mean(&self) -> f32 {
        self.mean as f32
    }
    fn std(&self) -> f32 {
        if self.n > 1.0 {
            (self.m2 / self.n).sqrt() as f32
        } else {
            0.0
        }
    }
}

/// FFT sizes scale with the rate so windows last about the same time.
fn fft_size(rate: u32, at_44k: usize) -> usize {
    if rate > 32_000 {
        at_44k
    } else if rate > 16_000 {
        at_44k / 2
    } else {
        at_44k / 4
    }
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

struct Spectral {
    centroid: Stat,
    rolloff: Stat,
    flatness: Stat,
    frame_db: Stat,
    mfcc: Vec<Stat>,
    /// Mean positive change of the mel bands' dB, frame to frame: broadband attacks.
    onset: Vec<f32>,
    /// Per-bin positive change of compressed magnitude against the previous frame's maximum
    /// over the bin and its neighbours (SuperFlux, Böck and Widmer 2013): new partials, so a
    /// legato note change counts as an onset too.
    bin_flux: Vec<f32>,
    frame_rate: f32,
}

fn short_time(samples: &[f32], rate: u32) -> Spectral {
    let n_fft = fft_size(rate, 2048);
    // librosa's frame rate at 22,050 Hz (hop 512): about 43 frames a second.
    let hop = n_fft / 2;
    let window = hann(n_fft);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let filters = mel_filters(rate as f32, n_fft);
    let dct = dct_matrix();
    let bin_hz = rate as f32 / n_fft as f32;
    let bins = n_fft / 2 + 1;
    let mut power = vec![0.0f32; bins];
    let mut mags = vec![0.0f32; bins];
    let mut mel_db = [0.0f32; MEL_BANDS];
    let mut prev_mel_db: Option<[f32; MEL_BANDS]> = None;
    // The per-bin flux runs over 30 Hz-8 kHz (where notes and drums are), one bin in from each
    // end so every bin has two neighbours.
    let flux_bins = ((30.0 / bin_hz) as usize).max(1)..((8000.0 / bin_hz) as usize).min(bins - 2);
    let mut compressed = vec![0.0f32; bins];
    let mut previous_max = vec![0.0f32; bins];
    let mut first_frame = true;
    let mut out = Spectral {
        centroid: Stat::default(),
        rolloff: Stat::default(),
        flatness: Stat::default(),
        frame_db: Stat::default(),
        mfcc: vec![Stat::default(); MFCC],
        onset: Vec::with_capacity(samples.len() / hop + 1),
        bin_flux: Vec::with_capacity(samples.len() / hop + 1),
        frame_rate: rate as f32 / hop as f32,
    };
    // Window-normalised so a full-scale sine peaks near 0 dB.
    let norm = 2.0 / window.iter().sum::<f32>();
    let mut start = 0;
    while start + n_fft <= samples.len().max(n_fft) {
        for (i, x) in input.iter_mut().enumerate() {
            *x = samples.get(start + i).copied().unwrap_or(0.0) * window[i];
        }
        if fft
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .is_err()
        {
            break;
        }
        let scale = norm * norm;
        for ((p, m), c) in power.iter_mut().zip(mags.iter_mut()).zip(spectrum.iter()) {
            *p = c.norm_sqr() * scale;
            *m = p.sqrt();
        }
        let (total, magnitude, weighted, log_sum) = bin_sums(&power, &mags);
        let weighted = weighted * bin_hz;
        for (b, (first, w)) in filters.iter().enumerate() {
            let e: f32 = w.iter().zip(&power[*first..]).map(|(a, p)| a * p).sum();
            mel_db[b] = 10.0 * (e + 1e-10).log10();
        }
        let flux = prev_mel_db.map_or(0.0, |prev| {
            mel_db
                .iter()
                .zip(prev.iter())
                .map(|(a, b)| (a - b).max(0.0))
                .sum::<f32>()
                / MEL_BANDS as f32
        });
        out.onset.push(flux);
        prev_mel_db = Some(mel_db);
        for (c, m) in compressed.iter_mut().zip(&mags) {
            *c = fast_ln(1.0 + FLUX_COMPRESSION * m);
        }
        let rise: f32 = if first_frame {
            0.0
        } else {
            compressed[flux_bins.clone()]
                .iter()
                .zip(&previous_max[flux_bins.clone()])
                .map(|(now, before)| (now - before).max(0.0))
                .sum()
        };
        out.bin_flux.push(rise);
        first_frame = false;
        // The next frame is compared with this one's maximum over each bin's neighbours, so a
        // partial that drifts by a bin (vibrato) is not a new onset.
        for k in flux_bins.clone() {
            previous_max[k] = compressed[k - 1].max(compressed[k]).max(compressed[k + 1]);
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
            out.rolloff.push(k as f32 * bin_hz);
            let geometric = (log_sum / bins as f32).exp();
            out.flatness.push(geometric / (total / bins as f32));
            for (c, row) in dct.iter().enumerate() {
                let v: f32 = row.iter().zip(mel_db.iter()).map(|(a, b)| a * b).sum();
                out.mfcc[c].push(v);
            }
        }
        start += hop;
        if start + n_fft > samples.len() {
            break;
        }
    }
    out
}

/// Mean chroma (energy per pitch class, C first, each frame scaled to its loudest class) over
/// 60 Hz-5 kHz, the sound's colour; and the notes found in the same frames, where the key is
/// read.
struct Chroma {
    mean: [f32; 12],
    /// Salience of the notes per pitch class, each frame scaled to its strongest.
    notes: [f32; 12],
    /// The share of spectral peak magnitude that the found notes' upper harmonics account
    /// for: how much of what sounds comes in harmonic series (pitched notes) rather than as
    /// unrelated peaks (drums, cymbals).
    harmonicity: f32,
}

fn chroma(samples: &[f32], rate: u32) -> Chroma {
    let n_fft = fft_size(rate, 8192);
    // Mean chroma needs coverage, not overlap.
    let hop = n_fft;
    let window = hann(n_fft);
    let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
    let mut input = fft.make_input_vec();
    let mut spectrum = fft.make_output_vec();
    let mut scratch = fft.make_scratch_vec();
    let bin_hz = rate as f32 / n_fft as f32;
    // Pitch classes of the bins between 60 Hz and 5 kHz; the rest carry no harmony.
    let first = (60.0 / bin_hz).ceil() as usize;
    let last = ((5000.0 / bin_hz).floor() as usize).min(n_fft / 2);
    let classes: Vec<usize> = (first..=last)
        .map(|k| {
            let midi = 69.0 + 12.0 * (k as f32 * bin_hz / 440.0).log2();
            (midi.round() as i64).rem_euclid(12) as usize
        })
        .collect();
    let mut estimator = notes::NoteEstimator::new(rate, n_fft);
    let mut mags = vec![0.0f32; spectrum.len()];
    let mut sum = [0.0f32; 12];
    let mut note_sum = [0.0f32; 12];
    let (mut peak_magnitude, mut harmonic_magnitude) = (0.0f64, 0.0f64);
    let mut frames = 0usize;
    let mut start = 0;
    while start < samples.len() {
        for (i, x) in input.iter_mut().enumerate() {
            *x = samples.get(start + i).copied().unwrap_or(0.0) * window[i];
        }
        if fft
            .process_with_scratch(&mut input, &mut spectrum, &mut scratch)
            .is_err()
        {
            break;
        }
        for (m, c) in mags.iter_mut().zip(&spectrum) {
            *m = c.norm();
        }
        let mut frame = [0.0f32; 12];
        for (m, &pc) in mags[first..=last].iter().zip(&classes) {
            frame[pc] += m * m;
        }
        let max = frame.iter().copied().fold(0.0f32, f32::max);
        if max > 1e-9 {
            for (s, f) in sum.iter_mut().zip(frame) {
                *s += f / max;
            }
            frames += 1;
        }
        let found = estimator.frame(&mags);
        peak_magnitude += f64::from(found.peak_magnitude);
        harmonic_magnitude += f64::from(found.harmonic_magnitude);
        let strongest = found.chroma.iter().copied().fold(0.0f32, f32::max);
        if strongest > 0.0 {
            for (s, f) in note_sum.iter_mut().zip(found.chroma) {
                *s += f / strongest;
            }
        }
        start += hop;
    }
    if frames > 0 {
        sum.iter_mut().for_each(|s| *s /= frames as f32);
        note_sum.iter_mut().for_each(|s| *s /= frames as f32);
    }
    Chroma {
        mean: sum,
        notes: note_sum,
        harmonicity: (harmonic_magnitude / peak_magnitude.max(1e-12)) as f32,
    }
}

fn pearson(a: &[f32; 12], b: &[f32; 12]) -> f32 {
    let ma = a.iter().sum::<f32>() / 12.0;
    let mb = b.iter().sum::<f32>() / 12.0;
    let (mut num, mut da, mut db) = (0.0, 0.0, 0.0);
    for i in 0..12 {
        num += (a[i] - ma) * (b[i] - mb);
        da += (a[i] - ma).powi(2);
        db += (b[i] - mb).powi(2);
    }
    num / (da.sqrt() * db.sqrt()).max(1e-12)
}

/// How unevenly energy spreads over the pitch classes: standard deviation over mean (0 for
/// noise's flat chroma, 3.3 for a single pitch class).
fn chroma_contrast(chroma: &[f32; 12]) -> f32 {
    let mean = chroma.iter().sum::<f32>() / 12.0;
    if mean <= 0.0 {
        return 0.0;
    }
    let var = chroma.iter().map(|c| (c - mean).powi(2)).sum::<f32>() / 12.0;
    var.sqrt() / mean
}

/// The best-correlated of the 24 major and minor keys: (tonic pitch class, minor, correlation).
fn key_of(chroma: &[f32; 12]) -> Option<(usize, bool, f32)> {
    if chroma.iter().all(|c| *c <= 0.0) {
        return None;
    }
    let mut best: Option<(usize, bool, f32)> = None;
    for tonic in 0..12 {
        for (minor, profile) in [(false, &MAJOR), (true, &MINOR)] {
            let mut rotated = [0.0f32; 12];
            for (i, r) in rotated.iter_mut().enumerate() {
                *r = profile[(i + 12 - tonic) % 12];
            }
            let r = pearson(chroma, &rotated);
            if best.is_none_or(|b| r > b.2) {
                best = Some((tonic, minor, r));
            }
        }
    }
    best
}

/// The value at a fractional peak by a parabola through three points: (offset, height).
fn parabolic(y0: f32, y1: f32, y2: f32) -> (f32, f32) {
    let d = y0 - 2.0 * y1 + y2;
    if d.abs() < 1e-12 {
        return (0.0, y1);
    }
    let off = (0.5 * (y0 - y2) / d).clamp(-0.5, 0.5);
    (off, y1 - 0.25 * (y0 - y2) * off)
}

/// The tempo, whether half or double fits nearly as well, and the pulse clarity: the onset
/// envelope's autocorrelation at the beat period over its energy (near 0 for noise or speech,
/// well above for music with a pulse).
fn tempo(onset: &[f32], frame_rate: f32, onset_density: f32) -> Option<(f32, bool, f32)> {
    let n = onset.len();
    let lag_min = (frame_rate * 60.0 / TEMPO_MAX).floor().max(1.0) as usize;
    let lag_max = (frame_rate * 60.0 / TEMPO_MIN).ceil() as usize;
    if n < 2 * lag_max {
        return None;
    }
    let mean = onset.iter().sum::<f32>() / n as f32;
    let centred: Vec<f32> = onset.iter().map(|x| x - mean).collect();
    let longest = (4 * lag_max + 4).min(n - 1);
    let mut ac = vec![0.0f32; longest + 1];
    for (lag, a) in ac.iter_mut().enumerate() {
        let s: f32 = centred[..n - lag]
            .iter()
            .zip(&centred[lag..])
            .map(|(x, y)| x * y)
            .sum();
        // Unbiased: every lag averaged over the pairs it has.
        *a = s / (n - lag) as f32;
    }
    if ac[0] <= 0.0 {
        return None;
    }
    let bpm_of = |lag: f32| 60.0 * frame_rate / lag;
    let prior = |bpm: f32| (-0.5 * (bpm / TEMPO_PRIOR_BPM).log2().powi(2)).exp();
    // The strongest correlation near a lag (within a frame either side), for the multiples of
    // a period, which fall between frames.
    let near_max = |target: usize| -> f32 {
        let lo = target.saturating_sub(1).max(1);
        let hi = (target + 1).min(longest);
        (lo..=hi).map(|l| ac[l]).fold(0.0f32, f32::max)
    };
    // A beat period repeats at its multiples (bars, phrases); a chance peak does not. Its own
    // correlation plus its multiples' (weighted 1/k) is what the prior then weighs.
    let score = |lag: usize| {
        let harmonics: f32 = (2..=4).map(|k| near_max(k * lag) / k as f32).sum();
        (ac[lag].max(0.0) + harmonics) * prior(bpm_of(lag as f32))
    };
    let is_peak = |l: usize| l > 0 && l < longest && ac[l] >= ac[l - 1] && ac[l] >= ac[l + 1];
    let best = (lag_min..=lag_max.min(longest - 1))
        .filter(|&l| is_peak(l))
        .max_by(|&a, &b| score(a).total_cmp(&score(b)))?;
    if ac[best] <= 0.05 * ac[0] {
        return None;
    }
    // The nearest peak to a lag, within two frames.
    let peak_near = |target: f32| -> Option<usize> {
        let lo = (target - 2.0).max(1.0) as usize;
        let hi = ((target + 2.0) as usize).min(longest - 1);
        (lo..=hi)
            .filter(|&l| is_peak(l))
            .max_by(|&a, &b| ac[a].total_cmp(&ac[b]))
    };
    let mut chosen = best;
    let mut ambiguous = false;
    for other in [best as f32 / 2.0, best as f32 * 2.0] {
        if let Some(l) = peak_near(other) {
            let bpm = bpm_of(l as f32);
            if (TEMPO_MIN..=TEMPO_MAX).contains(&bpm) && score(l) >= 0.8 * score(best) {
                ambiguous = true;
                // Between octaves that fit alike, the one nearer the onsets' own rate.
                let beats = |lag: usize| bpm_of(lag as f32) / 60.0;
                if (beats(l) - onset_density).abs() < (beats(chosen) - onset_density).abs() {
                    chosen = l;
                }
            }
        }
    }
    // Refine the period on its multiples: each peak's sub-frame position divided by its order.
    let (mut sum, mut weights) = (0.0f32, 0.0f32);
    for k in 1..=4 {
        let Some(l) = peak_near((chosen * k) as f32) else {
            continue;
        };
        let (off, _) = parabolic(ac[l - 1], ac[l], ac[l + 1]);
        sum += k as f32 * ((l as f32 + off) / k as f32);
        weights += k as f32;
    }
    let period = if weights > 0.0 {
        sum / weights
    } else {
        chosen as f32
    };
    Some((bpm_of(period), ambiguous, ac[chosen] / ac[0]))
}

/// The envelope minus its mean over `reach` frames either side, negative parts dropped.
fn above_local_mean(envelope: &[f32], reach: usize) -> Vec<f32> {
    let n = envelope.len();
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0f64);
    for (i, x) in envelope.iter().enumerate() {
        prefix.push(prefix[i] + f64::from(*x));
    }
    (0..n)
        .map(|i| {
            let (lo, hi) = (i.saturating_sub(reach), (i + reach + 1).min(n));
            let mean = ((prefix[hi] - prefix[lo]) / (hi - lo) as f64) as f32;
            (envelope[i] - mean).max(0.0)
        })
        .collect()
}

/// Onsets per second: local maxima of the onset envelope above its mean plus one deviation.
fn onset_density(onset: &[f32], frame_rate: f32) -> f32 {
    if onset.len() < 3 {
        return 0.0;
    }
    let n = onset.len() as f32;
    let mean = onset.iter().sum::<f32>() / n;
    let std = (onset.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / n).sqrt();
    let threshold = mean + std;
    let gap = (frame_rate * 0.05).ceil() as usize; // at most one onset per 50 ms
    let mut count = 0;
    let mut last: Option<usize> = None;
    for i in 1..onset.len() - 1 {
        if onset[i] > threshold
            && onset[i] >= onset[i - 1]
            && onset[i] > onset[i + 1]
            && last.is_none_or(|l| i - l >= gap)
        {
            count += 1;
            last = Some(i);
        }
    }
    count as f32 / (n / frame_rate)
}

/// Plain words for the measurements, for keyword search and the embedded text.
fn words(f: &AudioFeatures) -> Vec<String> {
    let mut w = Vec::new();
    if let Some(t) = f.tempo_bpm {
        if t < 80.0 {
            w.push("slow");
        } else if t > 130.0 {
            w.push("fast");
        }
    }
    if f.spectral_centroid_hz > 0.0 {
        if f.spectral_centroid_hz < 1500.0 {
            w.push("dark");
        } else if f.spectral_centroid_hz > 3000.0 {
            w.push("bright");
        }
    }
    if f.loudness_dbfs < -24.0 {
        w.push("quiet");
    } else if f.loudness_dbfs > -12.0 {
        w.push("loud");
    }
    match f.key.as_deref() {
        Some(k) if k.ends_with("minor") => w.push("minor key"),
        Some(_) => w.push("major key"),
        None => {}
    }
    w.into_iter().map(str::to_string).collect()
}

/// The listen-alike vector: timbre (MFCC means and spread), harmony (chroma), brightness,
/// noisiness, loudness, dynamics, tempo, onset density and mode, each scaled to a comparable
/// range around a typical value, then L2-normalised.
fn vector(f: &AudioFeatures, centroid_std: f32, level_std: f32) -> Vec<f32> {
    let mut v = Vec::with_capacity(AUDIO_VECTOR_DIM);
    for (i, m) in f.mfcc_mean.iter().enumerate() {
        v.push(if i == 0 {
            (m + 250.0) / 100.0
        } else {
            m / 30.0
        });
    }
    v.extend(f.mfcc_std.iter().map(|s| (s - 5.0) / 10.0));
    let chroma_total: f32 = f.chroma_mean.iter().sum::<f32>().max(1e-6);
    v.extend(
        f.chroma_mean
            .iter()
            .map(|c| (c / chroma_total - 1.0 / 12.0) * 6.0),
    );
    v.push((f.spectral_centroid_hz - 2000.0) / 1500.0);
    v.push((f.spectral_rolloff_hz - 4000.0) / 3000.0);
    v.push((f.spectral_flatness - 0.1) * 5.0);
    v.push((f.zero_crossing_rate - 0.05) * 15.0);
    v.push((f.loudness_dbfs + 18.0) / 8.0);
    v.push((level_std - 6.0) / 5.0);
    v.push((centroid_std - 800.0) / 800.0);
    v.push(f.tempo_bpm.map_or(0.0, |t| (t - 110.0) / 40.0));
    v.push((f.onset_density - 2.0) / 2.0);
    v.push(match f.key.as_deref() {
        Some(k) if k.ends_with("minor") => -0.5,
        Some(_) => 0.5,
        None => 0.0,
    });
    music_rag_core::domain::retrieval::vector::normalize(&mut v);
    debug_assert_eq!(v.len(), AUDIO_VECTOR_DIM);
    v
}

/// Analyses mono samples at `rate` (rates of 32 kHz and above are halved first; loudness and
/// zero crossings are measured before).
pub fn analyse(samples: &[f32], rate: u32) -> AudioFeatures {
    measure(samples, rate).0
}

/// What the tempo and key decisions rest on, for setting their thresholds
/// (`examples/decision_inputs.rs`).
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct DecisionInputs {
    /// Autocorrelation at the beat period over the onset envelope's energy.
    pub pulse_clarity: Option<f32>,
    /// The best key profile's correlation.
    pub key_correlation: Option<f32>,
    pub chroma_contrast: f32,
    /// The share of spectral peaks the found notes' upper harmonics account for.
    pub harmonicity: f32,
    pub loudness_dbfs: f32,
    /// Mean onset flux in dB.
    pub flux_db: f32,
}

/// The features and the numbers their tempo and key decisions rest on, from one pass.
#[doc(hidden)]
pub fn measure(samples: &[f32], rate: u32) -> (AudioFeatures, DecisionInputs) {
    let n = samples.len().max(1);
    let original_rate = rate;
    // Sums of squares in f32 lanes per block of 4096, then f64: vectorisable and exact enough.
    let energy: f64 = samples
        .chunks(4096)
        .map(|block| {
            let mut lanes = [0.0f32; 8];
            let mut it = block.chunks_exact(8);
            for c in &mut it {
                for (l, x) in lanes.iter_mut().zip(c) {
                    *l += x * x;
                }
            }
            let tail: f32 = it.remainder().iter().map(|x| x * x).sum();
            (lanes.iter().sum::<f32>() + tail) as f64
        })
        .sum();
    let rms = (energy / n as f64).sqrt();
    let loudness_dbfs = (20.0 * (rms * std::f64::consts::SQRT_2 + 1e-12).log10()) as f32;
    // Sign changes from the sign bits, in lanes the compiler vectorises.
    let crossings: usize = samples
        .iter()
        .zip(samples.iter().skip(1))
        .map(|(a, b)| ((a.to_bits() ^ b.to_bits()) >> 31) as usize)
        .sum();
    let decimated;
    let (samples, rate) = if rate >= 32_000 {
        decimated = decimate_by_two(samples);
        (decimated.as_slice(), rate / 2)
    } else {
        (samples, rate)
    };
    let spectral = short_time(samples, rate);
    let Chroma {
        mean: chroma_mean,
        notes: note_chroma,
        harmonicity,
    } = chroma(samples, rate);
    let density = onset_density(&spectral.onset, spectral.frame_rate);
    let silent = loudness_dbfs < SILENT_DBFS;
    let flux = spectral.onset.iter().sum::<f32>() / spectral.onset.len().max(1) as f32;
    // Whether there is a beat at all is read from the broadband envelope (where speech and noise
    // were measured against music); how fast it goes, from the per-bin flux's onsets, which
    // also hear the note changes of a melody that has no attacks.
    let pulse = tempo(&spectral.onset, spectral.frame_rate, density);
    let onsets = above_local_mean(&spectral.bin_flux, FLUX_LOCAL_MEAN_FRAMES);
    let period = tempo(
        &onsets,
        spectral.frame_rate,
        onset_density(&onsets, spectral.frame_rate),
    );

    let key_fit = key_of(&note_chroma);
    let (tempo_bpm, tempo_octave_ambiguous, no_tempo_reason) = if silent {
        (None, false, Some(SILENT.to_string()))
    } else if flux < MIN_FLUX_DB {
        (None, false, Some("no onsets: a steady sound".to_string()))
    } else {
        match (pulse, period) {
            (Some((_, _, clarity)), _) if clarity < MIN_PULSE_CLARITY => (
                None,
                false,
                Some(format!(
                    "no steady pulse (clarity {clarity:.2}): speech, noise or free time"
                )),
            ),
            (Some(_), Some((bpm, ambiguous, _))) => (Some(bpm), ambiguous, None),
            _ => (None, false, Some("no periodic onsets".to_string())),
        }
    };
    let total: f32 = chroma_mean.iter().sum();
    let top_share = chroma_mean.iter().copied().fold(0.0, f32::max) / total.max(1e-9);
    let contrast = chroma_contrast(&chroma_mean);
    let (key, no_key_reason) = if silent {
        (None, Some(SILENT.to_string()))
    } else if top_share > SINGLE_PITCH_SHARE {
        (None, Some("a single pitch, not a key".to_string()))
    } else if contrast < MIN_CHROMA_CONTRAST {
        (
            None,
            Some(format!(
                "no pitched harmony (contrast {contrast:.2}): noise, speech or percussion"
            )),
        )
    } else if harmonicity < MIN_HARMONICITY {
        (
            None,
            Some(format!(
                "no harmonic notes (harmonicity {harmonicity:.2}): percussion or noise"
            )),
        )
    } else {
        match key_fit {
            Some((tonic, minor, r)) if r >= MIN_KEY_CORRELATION => (
                // Spelled as the catalog spells keys everywhere (`Key`'s names: Eb, Ab, Bb).
                Some(
                    Key::new(tonic as u8, if minor { Mode::Minor } else { Mode::Major })
                        .to_string(),
                ),
                None,
            ),
            Some((_, _, r)) => (
                None,
                Some(format!(
                    "no clear key: the pitch classes fit no major or minor key well (r {r:.2})"
                )),
            ),
            None => (None, Some("no pitched harmony".to_string())),
        }
    };
    let mut f = AudioFeatures {
        tempo_bpm,
        tempo_octave_ambiguous,
        key,
        loudness_dbfs,
        spectral_centroid_hz: spectral.centroid.mean(),
        spectral_rolloff_hz: spectral.rolloff.mean(),
        spectral_flatness: spectral.flatness.mean(),
        zero_crossing_rate: crossings as f32 / n as f32,
        onset_density: density,
        mfcc_mean: spectral.mfcc.iter().map(Stat::mean).collect(),
        mfcc_std: spectral.mfcc.iter().map(Stat::std).collect(),
        chroma_mean: chroma_mean.to_vec(),
        analysed_seconds: n as f32 / original_rate as f32,
        words: Vec::new(),
        vector: Vec::new(),
        file_fingerprint: None,
        heard: Vec::new(),
        sound_embedding: None,
        no_tempo_reason,
        no_key_reason,
    };
    f.words = words(&f);
    f.vector = vector(&f, spectral.centroid.std(), spectral.frame_db.std());
    let inputs = DecisionInputs {
        pulse_clarity: pulse.map(|t| t.2),
        key_correlation: key_fit.map(|k| k.2),
        chroma_contrast: contrast,
        harmonicity,
        loudness_dbfs,
        flux_db: flux,
    };
    (f, inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_profiles_name_their_own_keys() {
        let mut c = [0.0f32; 12];
        c.copy_from_slice(&MAJOR);
        assert_eq!(key_of(&c).map(|(t, m, _)| (t, m)), Some((0, false)));
        let mut a_minor = [0.0f32; 12];
        for (i, v) in a_minor.iter_mut().enumerate() {
            *v = MINOR[(i + 12 - 9) % 12];
        }
        assert_eq!(key_of(&a_minor).map(|(t, m, _)| (t, m)), Some((9, true)));
    }

    #[test]
    fn fast_ln_is_close() {
        for x in [1e-12f32, 1e-6, 0.01, 0.5, 1.0, 1.5, 2.0, 10.0, 12345.0] {
            assert!(
                (fast_ln(x) - x.ln()).abs() < 2e-3,
                "{x}: {} vs {}",
                fast_ln(x),
                x.ln()
            );
        }
    }

    #[test]
    fn decimation_keeps_low_tones_and_drops_high_ones() {
        let tone = |f: f32| -> Vec<f32> {
            (0..44_100)
                .map(|i| (2.0 * PI * f * i as f32 / 44_100.0).sin())
                .collect()
        };
        let rms = |v: &[f32]| (v.iter().map(|x| x * x).sum::<f32>() / v.len() as f32).sqrt();
        let low = decimate_by_two(&tone(1000.0));
        assert!((rms(&low) - rms(&tone(1000.0))).abs() < 0.01);
        let high = decimate_by_two(&tone(16_000.0));
        assert!(rms(&high) < 0.05, "aliasing {}", rms(&high));
    }

    #[test]
    fn parabola_finds_the_true_peak() {
        // y = -(x - 0.3)^2 sampled at -1, 0, 1.
        let f = |x: f32| -(x - 0.3f32).powi(2);
        let (off, _) = parabolic(f(-1.0), f(0.0), f(1.0));
        assert!((off - 0.3).abs() < 1e-5);
    }

    #[test]
    fn silence_has_no_tempo_or_key_and_a_full_vector() {
        let f = analyse(&vec![0.0; 44_100 * 3], 44_100);
        assert_eq!(f.tempo_bpm, None);
        assert_eq!(f.key, None);
        assert_eq!(f.vector.len(), AUDIO_VECTOR_DIM);
        assert!(f.vector.iter().all(|v| v.is_finite()));
        assert!(f.loudness_dbfs < -200.0);
    }
}
