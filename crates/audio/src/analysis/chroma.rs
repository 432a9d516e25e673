//! Long-window spectra (8192 points at 44.1/48 kHz, one after another): the chroma that is the
//! sound's colour, and the notes that sound (`notes`), whose pitch classes name the key
//! against Temperley's profiles. Fed frame by frame.

use super::frames::WindowedFft;
use super::notes::NoteEstimator;
use super::{fft_size, hann};

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

/// Mean chroma (energy per pitch class, C first, each frame scaled to its loudest class) over
/// 60 Hz-5 kHz, the sound's colour; and the notes found in the same frames, where the key is
/// read.
pub(super) struct Chroma {
    pub mean: [f32; 12],
    /// Salience of the notes per pitch class, each frame scaled to its strongest.
    pub notes: [f32; 12],
    /// The share of the spectrum's magnitude (40 Hz-5 kHz, every frame) in the peaks of the
    /// notes found: how much of what sounds is notes in harmonic series rather than noise and
    /// unrelated peaks (drums, cymbals).
    pub note_share: f32,
}

/// The long-window pass, fed one frame at a time (`frame_size` samples, one after another,
/// the last zero-padded; see `Framer`).
pub(super) struct ChromaPass {
    n_fft: usize,
    fft: WindowedFft,
    /// Pitch class of each bin from `first` (60 Hz) to `last` (5 kHz); the rest carry no
    /// harmony.
    first: usize,
    last: usize,
    classes: Vec<usize>,
    estimator: NoteEstimator,
    mags: Vec<f32>,
    sum: [f32; 12],
    note_sum: [f32; 12],
    note_magnitude: f64,
    band_magnitude: f64,
    frames: usize,
}

impl ChromaPass {
    pub fn new(rate: u32) -> Self {
        let n_fft = fft_size(rate, 8192);
        let bin_hz = rate as f32 / n_fft as f32;
        let first = (60.0 / bin_hz).ceil() as usize;
        let last = ((5000.0 / bin_hz).floor() as usize).min(n_fft / 2);
        let classes = (first..=last)
            .map(|k| {
                let midi = 69.0 + 12.0 * (k as f32 * bin_hz / 440.0).log2();
                (midi.round() as i64).rem_euclid(12) as usize
            })
            .collect();
        Self {
            n_fft,
            fft: WindowedFft::new(hann(n_fft)),
            first,
            last,
            classes,
            estimator: NoteEstimator::new(rate, n_fft),
            mags: vec![0.0; n_fft / 2 + 1],
            sum: [0.0; 12],
            note_sum: [0.0; 12],
            note_magnitude: 0.0,
            band_magnitude: 0.0,
            frames: 0,
        }
    }

    /// Frame length (also the hop: chroma needs coverage, not overlap).
    pub fn frame_size(&self) -> usize {
        self.n_fft
    }

    /// Frames a recording of `len` samples has: one per started window.
    pub fn frames_for(&self, len: usize) -> usize {
        len.div_ceil(self.n_fft)
    }

    pub fn frame(&mut self, samples: &[f32]) {
        let spectrum = self.fft.spectrum(samples);
        for (m, c) in self.mags.iter_mut().zip(spectrum) {
            *m = c.norm_sqr().sqrt();
        }
        let mut frame = [0.0f32; 12];
        for (m, &pc) in self.mags[self.first..=self.last].iter().zip(&self.classes) {
            frame[pc] += m * m;
        }
        let max = frame.iter().copied().fold(0.0f32, f32::max);
        if max > 1e-9 {
            for (s, f) in self.sum.iter_mut().zip(frame) {
                *s += f / max;
            }
            self.frames += 1;
        }
        let found = self.estimator.frame(&self.mags);
        self.note_magnitude += f64::from(found.note_magnitude);
        self.band_magnitude += f64::from(found.band_magnitude);
        let strongest = found.chroma.iter().copied().fold(0.0f32, f32::max);
        if strongest > 0.0 {
            for (s, f) in self.note_sum.iter_mut().zip(found.chroma) {
                *s += f / strongest;
            }
        }
    }

    pub fn finish(mut self) -> Chroma {
        if self.frames > 0 {
            let n = self.frames as f32;
            self.sum.iter_mut().for_each(|s| *s /= n);
            self.note_sum.iter_mut().for_each(|s| *s /= n);
        }
        Chroma {
            mean: self.sum,
            notes: self.note_sum,
            note_share: (self.note_magnitude / self.band_magnitude.max(1e-12)) as f32,
        }
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
pub(super) fn chroma_contrast(chroma: &[f32; 12]) -> f32 {
    let mean = chroma.iter().sum::<f32>() / 12.0;
    if mean <= 0.0 {
        return 0.0;
    }
    let var = chroma.iter().map(|c| (c - mean).powi(2)).sum::<f32>() / 12.0;
    var.sqrt() / mean
}

/// The best-correlated of the 24 major and minor keys: (tonic pitch class, minor, correlation).
pub(super) fn key_of(chroma: &[f32; 12]) -> Option<(usize, bool, f32)> {
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
}
