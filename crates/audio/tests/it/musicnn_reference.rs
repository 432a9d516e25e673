//! The Rust MusiCNN against the Python `musicnn` package on the same files: per-tag
//! probabilities within 0.02 and embeddings (penultimate layer) at cosine ≥ 0.99, per patch.
//!
//! `tests/fixtures/musicnn-*.flac` are 6.5-second excerpts of the labelled set
//! (`bench/audio/labelled_set.py`): two at 16 kHz, one at 22.05 kHz so the resampler is
//! covered. `musicnn-reference.jsonl` is what `bench/audio/musicnn_reference.py` printed for
//! them with musicnn 0.1.0 on TensorFlow 2.21 (`musicnn-reference-msd.jsonl` with `--msd`, the
//! Million Song Dataset model). The models are the ones `music-rag model fetch` converts
//! (`SOUND_MODEL_DIR`). Both precisions are held to it: f32, and the int8 wide timbral
//! convolution where the processor has VNNI (elsewhere that load is f32 again).

use std::path::Path;

use music_rag_audio::musicnn::{
    default_sound_model_dir, resample, HearingOptions, Precision, SoundModel, Tagger,
};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

#[test]
fn the_magnatagatune_model_matches_the_python_package_per_patch() {
    matches_the_package(Tagger::Mtt, "musicnn-reference.jsonl");
}

#[test]
fn the_million_song_model_matches_the_python_package_per_patch() {
    matches_the_package(Tagger::Msd, "musicnn-reference-msd.jsonl");
}

fn matches_the_package(tagger: Tagger, reference: &str) {
    for precision in [Precision::F32, Precision::Int8WhereNative] {
        matches_the_package_at(tagger, reference, precision);
    }
}

fn matches_the_package_at(tagger: Tagger, reference: &str, precision: Precision) {
    let model = SoundModel::load_with(&default_sound_model_dir(), precision)
        .expect("the sound model (run `music-rag model fetch`)");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let reference = std::fs::read_to_string(fixtures.join(reference)).unwrap();
    let mut files = 0;
    for line in reference.lines().filter(|l| !l.trim().is_empty()) {
        let row: serde_json::Value = serde_json::from_str(line).unwrap();
        let name = row["file"].as_str().unwrap();
        let decoded = music_rag_audio::decode_file(&fixtures.join(name)).unwrap();
        let samples = if decoded.sample_rate == 16_000 {
            decoded.samples
        } else {
            resample(&decoded.samples, decoded.sample_rate, 16_000)
        };
        let patches = model.taggram(tagger, &model.spectrogram(&samples));
        let want_tags = row["taggram"].as_array().unwrap();
        let want_embeddings = row["penultimate"].as_array().unwrap();
        assert_eq!(patches.len(), want_tags.len(), "{name}: patch count");
        for (i, patch) in patches.iter().enumerate() {
            let tags: Vec<f32> = want_tags[i]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let worst = patch
                .tags
                .iter()
                .zip(&tags)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            assert!(
                worst <= 0.02,
                "{name} patch {i} ({precision:?}): a tag differs by {worst}"
            );
            let embedding: Vec<f32> = want_embeddings[i]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            let cos = cosine(&patch.embedding, &embedding);
            assert!(
                cos >= 0.99,
                "{name} patch {i} ({precision:?}): embedding cosine {cos}"
            );
        }
        files += 1;
    }
    assert_eq!(files, 3, "every fixture has a reference");
}

#[test]
fn the_model_hears_the_instrument_of_each_fixture() {
    let model = SoundModel::load(&default_sound_model_dir())
        .expect("the sound model (run `music-rag model fetch`)");
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    for (file, word) in [
        ("musicnn-piano.flac", "piano"),
        ("musicnn-rock.flac", "guitar"),
        ("musicnn-choir.flac", "choir"),
    ] {
        let decoded = music_rag_audio::decode_file(&fixtures.join(file)).unwrap();
        let mut features = music_rag_audio::analyse(&decoded.samples, decoded.sample_rate);
        let hearing = model.hear(
            &decoded.samples,
            decoded.sample_rate,
            HearingOptions::default(),
        );
        model.fill_heard(&mut features, hearing);
        let heard: Vec<&str> = features.heard.iter().map(|h| h.word.as_str()).collect();
        assert!(heard.contains(&word), "{file}: heard {heard:?}");
        assert_eq!(features.sound_embedding.as_ref().map(Vec::len), Some(200));
        features.validate().unwrap();
    }
}
