//! From samples to measurements: one pass of short-time spectra (2048 points at 44.1/48 kHz,
//! hop 512) gives loudness, spectral centroid, rolloff and flatness, MFCC and two onset
//! envelopes; a second pass with long windows gives chroma, fine enough to tell semitones apart
//! in the bass, and the notes that sound (`notes`). Whether there is a beat is read from the
//! broadband onset envelope's autocorrelation, how fast it goes from the per-bin flux's
//! onsets; the key from the notes' pitch classes against Temperley's profiles.

use std::f32::consts::PI;

use music_rag_core::domain::catalog::audio::{AudioFeatures, AUDIO_VECTOR_DIM};
use music_rag_core::domain::catalog::key::{Key, Mode};

mod chroma;
pub(crate) mod frames;
mod notes;
mod spectral;
mod tempo;

use self::chroma::{chroma_contrast, key_of};
use self::spectral::Stat;
use self::tempo::{above_local_mean, onset_density, tempo};

/// Below this level a recording is silence: no tempo, no key.
const SILENT_DBFS: f32 = -60.0;
const SILENT: &str = "silent";
/// Mean onset flux (dB per frame over the mel bands) below which nothing starts or changes: a
/// steady tone or drone has no beat. Music measured 0.43 or more, a steady sine 0.04 or less.
const MIN_FLUX_DB: f32 = 0.1;
/// Pulse clarity below which there is no beat to count: speech and noise measured 0.06-0.09,
/// rendered music 0.22 or more (`examples/decision_inputs.rs`).
const MIN_PULSE_CLARITY: f32 = 0.15;
/// Autocorrelation of the onsets at the beat period, over their energy, below which the period
/// is not clear enough to state: on the labelled sets, 56 of the 92 wrong tempos measured under
/// 0.15 and 26 under 0.10 (ambient pads, choirs, slow strings), against 1 of the 220 right ones
/// under 0.10; on 91 real soundtrack files 8 fall under it.
const MIN_PERIOD_CLARITY: f32 = 0.1;
/// Chroma contrast below which there is no pitched harmony: noise and speech measured 0.18-0.25,
/// music with a key 0.28 or more.
const MIN_CHROMA_CONTRAST: f32 = 0.27;
/// A pitch class holding more than this share of the chroma is one note, not a key.
const SINGLE_PITCH_SHARE: f32 = 0.6;
/// The best key's profile correlation needed to name it: the notes of pieces with a key
/// measured 0.53 or more, and the two under 0.55 were named wrongly at any threshold (two sets
/// of 160 pieces, `bench/audio/labelled_set.py` seeds 7 and 11); drum kits are told apart by
/// how little of their spectrum is notes, below.
const MIN_KEY_CORRELATION: f32 = 0.55;
/// Frames either side of the local mean subtracted from the per-bin flux (about 0.37 s at 43
/// frames a second): what stays is where flux rises above its surroundings, an onset, not the
/// steady shimmer of bowing, breath or a chorus effect.
const FLUX_LOCAL_MEAN_FRAMES: usize = 16;
/// Share of the spectrum's magnitude in the found notes' peaks needed to name a key: rendered
/// drum kits measured 0.073-0.086, pieces with a key 0.120 or more (the same two sets; the
/// threshold sits between), chords of near-pure tones about 0.4. White noise measures 0.07 and
/// speech 0.10-0.11 (told apart by their flat chroma as well).
const MIN_NOTE_SHARE: f32 = 0.1;

/// Two envelopes of one recording, each scaled to its mean, summed: neither outweighs the
/// other by its units.
fn mean_scaled_sum(a: &[f32], b: &[f32]) -> Vec<f32> {
    let mean = |v: &[f32]| (v.iter().sum::<f32>() / v.len().max(1) as f32).max(1e-9);
    let (ma, mb) = (mean(a), mean(b));
    a.iter().zip(b).map(|(x, y)| x / ma + y / mb).collect()
}

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

/// The value at a fractional peak by a parabola through three points: (offset, height).
fn parabolic(y0: f32, y1: f32, y2: f32) -> (f32, f32) {
    let d = y0 - 2.0 * y1 + y2;
    if d.abs() < 1e-12 {
        return (0.0, y1);
    }
    let off = (0.5 * (y0 - y2) / d).clamp(-0.5, 0.5);
    (off, y1 - 0.25 * (y0 - y2) * off)
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
    /// The same for the onsets the period is read from.
    pub period_clarity: Option<f32>,
    /// The best key profile's correlation.
    pub key_correlation: Option<f32>,
    pub chroma_contrast: f32,
    /// The share of the spectrum's magnitude in the found notes' peaks.
    pub note_share: f32,
    pub loudness_dbfs: f32,
    /// Mean onset flux in dB.
    pub flux_db: f32,
}

/// The features and the numbers their tempo and key decisions rest on, from one pass.
#[doc(hidden)]
pub fn measure(samples: &[f32], rate: u32) -> (AudioFeatures, DecisionInputs) {
    let mut analyser = Analyser::new(rate);
    analyser.push(samples);
    analyser.finish()
}

/// The analysis of one recording, fed its mono samples as they are decoded (any chunk sizes):
/// it keeps a few frames and running sums, not the recording.
pub struct Analyser {
    original_rate: u32,
    samples: u64,
    energy: f64,
    crossings: u64,
    last_sample: Option<f32>,
    /// At 32 kHz and above the spectra are taken at half the rate: music above 11 kHz adds
    /// little to these features, and half the samples halve the spectral work.
    decimator: Option<frames::Decimator>,
    passes: SpectralPasses,
}

/// The two spectral passes, each behind the framer that feeds it.
struct SpectralPasses {
    short_time: spectral::ShortTime,
    short_frames: frames::Framer,
    chroma: chroma::ChromaPass,
    chroma_frames: frames::Framer,
}

impl SpectralPasses {
    fn new(rate: u32) -> Self {
        let short_time = spectral::ShortTime::new(rate);
        let (size, hop) = short_time.framing();
        let chroma = chroma::ChromaPass::new(rate);
        let window = chroma.frame_size();
        Self {
            short_time,
            short_frames: frames::Framer::new(size, hop, 0),
            chroma,
            chroma_frames: frames::Framer::new(window, window, 0),
        }
    }

    /// Samples at the analysed rate, to both passes.
    fn feed(&mut self, samples: &[f32]) {
        let (short_time, chroma) = (&mut self.short_time, &mut self.chroma);
        self.short_frames.push(samples, |f| short_time.frame(f));
        self.chroma_frames.push(samples, |f| chroma.frame(f));
    }

    /// The last, zero-padded frames, and what each pass measured.
    fn finish(mut self) -> (spectral::Spectral, chroma::Chroma) {
        let analysed = self.short_frames.received();
        let (short_time, chroma) = (&mut self.short_time, &mut self.chroma);
        self.short_frames
            .finish(short_time.frames_for(analysed), |f| short_time.frame(f));
        self.chroma_frames
            .finish(chroma.frames_for(analysed), |f| chroma.frame(f));
        (self.short_time.finish(), self.chroma.finish())
    }
}

impl Analyser {
    pub fn new(rate: u32) -> Self {
        let (decimator, rate_analysed) = if rate >= 32_000 {
            (Some(frames::Decimator::new()), rate / 2)
        } else {
            (None, rate)
        };
        Self {
            original_rate: rate,
            samples: 0,
            energy: 0.0,
            crossings: 0,
            last_sample: None,
            decimator,
            passes: SpectralPasses::new(rate_analysed),
        }
    }

    /// Adds the next mono samples.
    pub fn push(&mut self, samples: &[f32]) {
        self.samples += samples.len() as u64;
        // Sums of squares in f32 lanes per block of 4096, then f64: vectorisable and exact
        // enough.
        self.energy += samples
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
                f64::from(lanes.iter().sum::<f32>() + tail)
            })
            .sum::<f64>();
        // Sign changes from the sign bits, in lanes the compiler vectorises.
        let sign_changes = |a: &f32, b: &f32| u64::from((a.to_bits() ^ b.to_bits()) >> 31);
        if let (Some(last), Some(first)) = (self.last_sample, samples.first()) {
            self.crossings += sign_changes(&last, first);
        }
        self.crossings += samples
            .iter()
            .zip(samples.iter().skip(1))
            .map(|(a, b)| sign_changes(a, b))
            .sum::<u64>();
        if let Some(&last) = samples.last() {
            self.last_sample = Some(last);
        }
        let passes = &mut self.passes;
        match &mut self.decimator {
            Some(decimator) => decimator.push(samples, |half| passes.feed(half)),
            None => passes.feed(samples),
        }
    }

    /// The features, and what their tempo and key decisions rest on.
    pub fn finish(mut self) -> (AudioFeatures, DecisionInputs) {
        if let Some(decimator) = &mut self.decimator {
            let passes = &mut self.passes;
            decimator.finish(|half| passes.feed(half));
        }
        let (spectral, chroma) = self.passes.finish();
        decide(
            self.samples,
            self.original_rate,
            self.energy,
            self.crossings,
            spectral,
            chroma,
        )
    }
}

/// From the passes' measurements to features: loudness, tempo and key with their reasons.
fn decide(
    samples: u64,
    original_rate: u32,
    energy: f64,
    crossings: u64,
    spectral: spectral::Spectral,
    chroma: chroma::Chroma,
) -> (AudioFeatures, DecisionInputs) {
    let n = samples.max(1);
    let rms = (energy / n as f64).sqrt();
    let loudness_dbfs = (20.0 * (rms * std::f64::consts::SQRT_2 + 1e-12).log10()) as f32;
    let chroma::Chroma {
        mean: chroma_mean,
        notes: note_chroma,
        note_share,
    } = chroma;
    let density = onset_density(&spectral.onset, spectral.frame_rate);
    let silent = loudness_dbfs < SILENT_DBFS;
    let flux = spectral.onset.iter().sum::<f32>() / spectral.onset.len().max(1) as f32;
    // Whether there is a beat at all is read from the broadband envelope (where speech and noise
    // were measured against music); how fast it goes, from the onsets of both envelopes: the
    // broadband one's attacks (drums) and the per-bin flux's new partials, which also mark the
    // note changes of a melody that has no attacks.
    let pulse = tempo(&spectral.onset, spectral.frame_rate, density);
    let onsets = above_local_mean(
        &mean_scaled_sum(&spectral.onset, &spectral.bin_flux),
        FLUX_LOCAL_MEAN_FRAMES,
    );
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
            (Some(_), Some((_, _, clarity))) if clarity < MIN_PERIOD_CLARITY => (
                None,
                false,
                Some(format!(
                    "no clear beat period (clarity {clarity:.2}): a slow or free rhythm"
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
    } else if note_share < MIN_NOTE_SHARE {
        (
            None,
            Some(format!(
                "no notes to speak of (note share {note_share:.2}): percussion or noise"
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
        period_clarity: period.map(|t| t.2),
        key_correlation: key_fit.map(|k| k.2),
        chroma_contrast: contrast,
        note_share,
        loudness_dbfs,
        flux_db: flux,
    };
    (f, inputs)
}

#[cfg(test)]
mod tests {
    use super::*;

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
