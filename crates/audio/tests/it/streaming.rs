//! A recording analysed and heard while it decodes gives what the whole decoded buffer gives,
//! whatever the sizes of the pieces it arrives in: the streaming path (what ingest runs) is
//! the path the accuracy and reference tests check.

use std::path::Path;

use music_rag_audio::analysis::{measure, Analyser};
use music_rag_audio::musicnn::{default_sound_model_dir, HearingOptions, SoundModel};

fn fixture(name: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

#[test]
fn hearing_in_pieces_is_hearing_the_whole() {
    let model = SoundModel::load(&default_sound_model_dir())
        .expect("the sound model (run `music-rag model fetch`)");
    // The 22.05 kHz fixture goes through the resampler, the 16 kHz ones straight to the
    // spectrogram.
    for name in [
        "musicnn-rock.flac",
        "musicnn-piano.flac",
        "musicnn-choir.flac",
    ] {
        let decoded = music_rag_audio::decode_file(&fixture(name)).unwrap();
        let whole = model.hear(
            &decoded.samples,
            decoded.sample_rate,
            HearingOptions { max_patches: None },
        );
        assert!(whole.patches > 0, "{name}");
        for piece in [1usize, 1000, 4096, 4097, 65_536] {
            let mut listening = model.listen(decoded.sample_rate);
            for chunk in decoded.samples.chunks(piece) {
                listening.push(chunk);
            }
            let streamed = listening.finish(HearingOptions { max_patches: None });
            assert_eq!(
                streamed.patches, whole.patches,
                "{name} in pieces of {piece}"
            );
            assert_eq!(streamed.tags, whole.tags, "{name} in pieces of {piece}");
            assert_eq!(
                streamed.msd_tags, whole.msd_tags,
                "{name} in pieces of {piece}"
            );
            assert_eq!(
                streamed.embedding, whole.embedding,
                "{name} in pieces of {piece}"
            );
        }
        // And straight from the file, as ingest and `reanalyse` hear it.
        let from_file = music_rag_audio::listen::hear_file(&model, &fixture(name)).unwrap();
        assert_eq!(from_file.tags.len(), whole.tags.len());
        let capped = model.hear(
            &decoded.samples,
            decoded.sample_rate,
            HearingOptions::default(),
        );
        assert_eq!(from_file.tags, capped.tags, "{name} from the file");
    }
}

#[test]
fn analysing_in_pieces_is_analysing_the_whole() {
    // A 44.1 kHz rendering (the analysis halves the rate) and a 16 kHz one (it does not).
    let rate = 44_100;
    let chord: Vec<f32> = (0..rate * 12)
        .map(|n| {
            let t = n as f32 / rate as f32;
            let beat = (t * 2.0).fract(); // 120 BPM: a decaying pluck every half second
            let env = (-beat * 8.0).exp();
            // C, E and G with five harmonics each, as an instrument sounds them.
            [261.63f32, 329.63, 392.0]
                .iter()
                .flat_map(|f| {
                    (1..=5).map(move |h| {
                        0.6f32.powi(h - 1) * (2.0 * std::f32::consts::PI * f * h as f32 * t).sin()
                    })
                })
                .sum::<f32>()
                * 0.2
                * env
        })
        .collect();
    let at_16k = music_rag_audio::musicnn::resample(&chord, rate as u32, 16_000);
    for (samples, rate) in [(&chord, rate as u32), (&at_16k, 16_000)] {
        let (whole, _) = measure(samples, rate);
        for piece in [1usize, 777, 4096, 100_000] {
            let mut analyser = Analyser::new(rate);
            for chunk in samples.chunks(piece) {
                analyser.push(chunk);
            }
            let (streamed, _) = analyser.finish();
            assert_eq!(
                streamed.tempo_bpm, whole.tempo_bpm,
                "{rate} Hz in pieces of {piece}"
            );
            assert_eq!(streamed.key, whole.key, "{rate} Hz in pieces of {piece}");
            assert_eq!(streamed.chroma_mean, whole.chroma_mean);
            assert_eq!(streamed.mfcc_mean, whole.mfcc_mean);
            assert_eq!(streamed.onset_density, whole.onset_density);
            assert_eq!(streamed.zero_crossing_rate, whole.zero_crossing_rate);
            // Energy is summed per piece: the same to rounding.
            assert!((streamed.loudness_dbfs - whole.loudness_dbfs).abs() < 1e-3);
        }
        let (features, _) = measure(samples, rate);
        assert!(
            features.tempo_bpm.is_some_and(|t| (t - 120.0).abs() < 3.0),
            "{features:?}"
        );
        assert_eq!(features.key.as_deref(), Some("C major"), "{rate} Hz");
    }
}
