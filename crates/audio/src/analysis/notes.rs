//! The notes that sound in one spectrum frame, for the key: spectral peaks grouped into
//! harmonic series. A candidate pitch's salience is the weighted sum of the peaks at its
//! harmonics; the most salient pitch is taken and its harmonics' share removed from the peaks,
//! then the next, for a few notes (Klapuri's iterative estimate-and-cancel, 2006). A note's
//! third and fifth harmonics (a fifth and a major third up) then count for the note, not as
//! pitch classes of their own, which is what pulled the plain chroma to the dominant or the
//! parallel major.

/// Lowest and highest note considered: A1 (55 Hz) to C6 (1,047 Hz), where melodies, chords and
/// bass lines have their fundamentals.
const LOWEST_MIDI: usize = 33;
const HIGHEST_MIDI: usize = 84;
/// Harmonics summed per candidate note.
const HARMONICS: usize = 8;
/// Each higher harmonic counts this much less than the one below it in a note's salience (a
/// plain geometric decay in place of Klapuri's fitted weights).
const HARMONIC_WEIGHT_DECAY: f32 = 0.8;
/// At most this many notes a frame (chord plus bass plus melody), and none under a tenth of
/// the first one's salience.
const NOTES_PER_FRAME: usize = 6;
const WEAKEST_NOTE: f32 = 0.1;
/// Peaks count within this ratio of the frame's loudest bin (50 dB).
const PEAK_FLOOR: f32 = 0.003;
/// Peaks are read from 40 Hz to 5 kHz: a C6's eighth harmonic is 8.4 kHz, but few partials that
/// high stand out of a mix.
const LOWEST_HZ: f32 = 40.0;
const HIGHEST_HZ: f32 = 5000.0;

/// What one frame's notes give.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct FrameNotes {
    /// Salience of the notes found, per pitch class (C first).
    pub chroma: [f32; 12],
    /// Magnitude of the spectral peaks the found notes account for (their fundamentals and
    /// harmonics).
    pub note_magnitude: f32,
    /// Magnitude of every bin from 40 Hz to 5 kHz, peaks or not.
    pub band_magnitude: f32,
}

/// Finds notes in magnitude spectra of one size and rate; keeps its peak buffer between frames.
pub(super) struct NoteEstimator {
    bin_hz: f32,
    low_bin: usize,
    top_bin: usize,
    /// (pitch in fractional MIDI numbers, magnitude), in rising pitch.
    peaks: Vec<(f32, f32)>,
    /// For each candidate note, the peak at each of its harmonics (if any): found once a
    /// frame, read by every round of estimate-and-cancel.
    harmonic_peaks: Vec<[Option<u32>; HARMONICS]>,
    harmonic_offsets: [f32; HARMONICS],
}

fn midi_of(hz: f32) -> f32 {
    69.0 + 12.0 * (hz / 440.0).log2()
}

/// How far above its note each harmonic lies, in semitones (`12 · log2 h`).
fn harmonic_offsets() -> [f32; HARMONICS] {
    std::array::from_fn(|i| 12.0 * ((i + 1) as f32).log2())
}

impl NoteEstimator {
    /// For spectra of `n_fft` points at `rate`.
    pub fn new(rate: u32, n_fft: usize) -> Self {
        let bin_hz = rate as f32 / n_fft as f32;
        Self {
            bin_hz,
            low_bin: ((LOWEST_HZ / bin_hz) as usize).max(1),
            top_bin: ((HIGHEST_HZ / bin_hz) as usize).min(n_fft / 2 - 1),
            peaks: Vec::new(),
            harmonic_peaks: vec![[None; HARMONICS]; HIGHEST_MIDI + 1 - LOWEST_MIDI],
            harmonic_offsets: harmonic_offsets(),
        }
    }

    /// The notes of one frame's magnitude spectrum (`n_fft / 2 + 1` bins).
    pub fn frame(&mut self, mags: &[f32]) -> FrameNotes {
        let mut out = FrameNotes::default();
        let top_bin = self.top_bin.min(mags.len().saturating_sub(2));
        if self.low_bin > top_bin {
            return out;
        }
        let loudest = mags[self.low_bin..=top_bin]
            .iter()
            .copied()
            .fold(0.0f32, f32::max);
        if loudest <= 1e-6 {
            return out;
        }
        // Peaks placed by a parabola through the log magnitudes: a fraction of a bin, since
        // semitones are narrower than bins in the bass.
        let floor = loudest * PEAK_FLOOR;
        self.peaks.clear();
        for k in self.low_bin..=top_bin {
            let (a, b, c) = (mags[k - 1], mags[k], mags[k + 1]);
            if b > floor && b > a && b >= c {
                let (offset, height) = super::parabolic(a.max(1e-9).ln(), b.ln(), c.max(1e-9).ln());
                let hz = (k as f32 + offset) * self.bin_hz;
                self.peaks.push((midi_of(hz), height.exp()));
            }
        }
        out.band_magnitude = mags[self.low_bin..=top_bin].iter().sum();
        let peaks = &mut self.peaks;
        for (i, slots) in self.harmonic_peaks.iter_mut().enumerate() {
            let note = (LOWEST_MIDI + i) as f32;
            for (slot, offset) in slots.iter_mut().zip(&self.harmonic_offsets) {
                *slot = nearest(peaks, note + offset).map(|j| j as u32);
            }
        }
        let mut first_salience = 0.0f32;
        for _ in 0..NOTES_PER_FRAME {
            let mut best: Option<(usize, f32)> = None;
            for (i, slots) in self.harmonic_peaks.iter().enumerate() {
                // A note needs its own fundamental: a pitch an octave under a real note would
                // otherwise collect that note's partials as its even harmonics.
                if slots[0].is_none_or(|f| peaks[f as usize].1 <= 0.0) {
                    continue;
                }
                let mut salience = 0.0f32;
                let mut weight = 1.0f32;
                for j in slots.iter() {
                    if let Some(j) = j {
                        salience += weight * peaks[*j as usize].1;
                    }
                    weight *= HARMONIC_WEIGHT_DECAY;
                }
                if best.is_none_or(|b| salience > b.1) {
                    best = Some((LOWEST_MIDI + i, salience));
                }
            }
            let Some((midi, salience)) = best else {
                break;
            };
            if first_salience == 0.0 {
                first_salience = salience;
            } else if salience < WEAKEST_NOTE * first_salience {
                break;
            }
            out.chroma[midi % 12] += salience;
            // Cancel the note: each harmonic keeps only what rises above the note's own
            // non-increasing envelope, which belongs to another note (a G's fundamental is
            // also a C's third harmonic).
            let mut envelope = f32::MAX;
            for j in self.harmonic_peaks[midi - LOWEST_MIDI].iter() {
                if let Some(j) = j.map(|j| j as usize) {
                    let own = peaks[j].1.min(envelope);
                    envelope = own;
                    peaks[j].1 -= own;
                    out.note_magnitude += own;
                }
            }
        }
        out
    }
}

/// The strongest peak within half a semitone of a pitch.
fn nearest(peaks: &[(f32, f32)], pitch: f32) -> Option<usize> {
    let i = peaks.partition_point(|p| p.0 < pitch - 0.5);
    (i..peaks.len())
        .take_while(|&j| peaks[j].0 <= pitch + 0.5)
        .max_by(|&a, &b| peaks[a].1.total_cmp(&peaks[b].1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use realfft::RealFftPlanner;

    /// Magnitudes of a Hann-windowed frame of harmonic tones at `rate`.
    fn spectrum(notes: &[(f32, usize)], rate: u32, n_fft: usize) -> Vec<f32> {
        let samples: Vec<f32> = (0..n_fft)
            .map(|n| {
                let t = n as f32 / rate as f32;
                let w = 0.5 - 0.5 * (2.0 * std::f32::consts::PI * n as f32 / n_fft as f32).cos();
                let x: f32 = notes
                    .iter()
                    .flat_map(|&(hz, harmonics)| {
                        (1..=harmonics).map(move |h| {
                            (2.0 * std::f32::consts::PI * hz * h as f32 * t).sin()
                                * 0.7f32.powi(h as i32)
                        })
                    })
                    .sum();
                x * w
            })
            .collect();
        let fft = RealFftPlanner::<f32>::new().plan_fft_forward(n_fft);
        let mut input = samples;
        let mut out = fft.make_output_vec();
        fft.process(&mut input, &mut out).unwrap();
        out.iter().map(|c| c.norm()).collect()
    }

    #[test]
    fn a_chord_of_rich_tones_is_its_own_pitch_classes() {
        // C3, E3, G3 with six harmonics each: the plain chroma would also hold D (G's third
        // harmonic), B (E's third) and G# (E's fifth); the notes are C, E and G.
        let (rate, n_fft) = (22_050, 4096);
        let mags = spectrum(&[(130.81, 6), (164.81, 6), (196.0, 6)], rate, n_fft);
        let notes = NoteEstimator::new(rate, n_fft).frame(&mags);
        let strongest = notes.chroma.iter().copied().fold(0.0f32, f32::max);
        for pc in [0, 4, 7] {
            assert!(
                notes.chroma[pc] > 0.3 * strongest,
                "{pc}: {:?}",
                notes.chroma
            );
        }
        for pc in [2, 8, 11] {
            assert!(
                notes.chroma[pc] < 0.1 * strongest,
                "{pc}: {:?}",
                notes.chroma
            );
        }
        // Nearly all of the spectrum is these notes (what is not is the window's spread).
        assert!(
            notes.note_magnitude > 0.25 * notes.band_magnitude,
            "{notes:?}"
        );
    }

    #[test]
    fn silence_has_no_notes() {
        let notes = NoteEstimator::new(22_050, 4096).frame(&vec![0.0; 2049]);
        assert_eq!(notes.chroma, [0.0; 12]);
        assert_eq!(notes.note_magnitude, 0.0);
    }
}
