//! Tempo from an onset envelope: its autocorrelation, each candidate beat period scored with
//! its multiples (a beat repeats at bars and phrases, a chance peak does not) under a prior
//! around 120 BPM, octaves settled by how often onsets come.

use super::parabolic;

const TEMPO_MIN: f32 = 40.0;
const TEMPO_MAX: f32 = 240.0;
/// librosa's default tempo prior: log-normal around 120 BPM, one octave wide.
const TEMPO_PRIOR_BPM: f32 = 120.0;

/// The tempo, whether half or double fits nearly as well, and the pulse clarity: the onset
/// envelope's autocorrelation at the beat period over its energy (near 0 for noise or speech,
/// well above for music with a pulse).
pub(super) fn tempo(
    onset: &[f32],
    frame_rate: f32,
    onset_density: f32,
) -> Option<(f32, bool, f32)> {
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
pub(super) fn above_local_mean(envelope: &[f32], reach: usize) -> Vec<f32> {
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
pub(super) fn onset_density(onset: &[f32], frame_rate: f32) -> f32 {
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
