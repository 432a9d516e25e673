//! The real model against sentence-transformers' own vectors (fixtures/reference.json,
//! computed by bench/reference_vectors.py). Needs the model: `music-rag model fetch`.

use music_rag_core::Embedder;
use music_rag_embed::{default_model_dir, Backend, TextEmbedder};

fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let na: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
    let nb: f32 = b.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (na * nb)
}

fn reference() -> Vec<(String, Vec<f32>)> {
    let text = include_str!("fixtures/reference.json");
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    v.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let vec = e["vector"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect();
            (e["text"].as_str().unwrap().to_string(), vec)
        })
        .collect()
}

fn model_with(backend: Backend) -> TextEmbedder {
    TextEmbedder::load_with(&default_model_dir(), backend)
        .expect("model present: run `music-rag model fetch` first")
}

fn model() -> TextEmbedder {
    model_with(Backend::default())
}

#[test]
fn packed_vectors_match_sentence_transformers() {
    matches_reference(Backend::Packed, 0.999);
}

#[test]
fn candle_vectors_match_sentence_transformers() {
    matches_reference(Backend::Candle, 0.999);
}

/// The accuracy bar that lets int8 vectors share the f32 model's id (issue 15).
#[test]
fn int8_vectors_match_sentence_transformers() {
    matches_reference(Backend::Int8, 0.995);
}

#[test]
fn long_batches_match_one_by_one() {
    // Packing many texts of different lengths into one pass must not mix them.
    let m = model();
    let texts: Vec<String> = (0..40)
        .map(|i| format!("track {i}: {}", "calm piano ".repeat(i % 13 + 1)))
        .collect();
    let batch = m.embed_documents(&texts).unwrap();
    for (t, v) in texts.iter().zip(&batch) {
        let single = m.embed_documents(std::slice::from_ref(t)).unwrap();
        assert!(cosine(&single[0], v) > 0.99999, "{t}");
    }
}

fn matches_reference(backend: Backend, min_cosine: f32) {
    let m = model_with(backend);
    let refs = reference();
    let texts: Vec<String> = refs.iter().map(|(t, _)| t.clone()).collect();
    let got = m.embed_documents(&texts).unwrap();
    assert_eq!(m.dim(), 384);
    for ((text, want), got) in refs.iter().zip(&got) {
        let c = cosine(want, got);
        eprintln!("{backend:?} cosine {c:.5} for {text:?}");
        assert!(c >= min_cosine, "{backend:?}: cosine {c} for {text:?}");
        let norm: f32 = got.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "not unit length: {norm}");
    }
}

#[test]
fn query_embedding_matches_and_is_cached() {
    let m = model();
    let (text, want) = &reference()[0];
    let first = m.embed_query(text).unwrap();
    assert!(cosine(want, &first) >= 0.995);
    let before = m.cache_stats();
    let second = m.embed_query(text).unwrap();
    assert_eq!(first, second);
    let after = m.cache_stats();
    assert_eq!(after.hits, before.hits + 1);
    assert_eq!(after.misses, before.misses);
}

/// The default embeds documents and queries with the int8 encoder where the processor has
/// AVX-512 VNNI (its kernel), else in f32: the same vectors as that backend gives.
#[test]
fn the_default_backend_embeds_with_the_fastest_encoder_of_the_processor() {
    let auto = model();
    let (f32s, int8) = (model_with(Backend::Packed), model_with(Backend::Int8));
    let text = "slow sad piano ballads with a soft female voice".to_string();
    let vnni = std::is_x86_feature_detected!("avx512vnni");
    let expected = if vnni { &int8 } else { &f32s };
    let docs = auto.embed_documents(std::slice::from_ref(&text)).unwrap();
    assert_eq!(
        docs,
        expected
            .embed_documents(std::slice::from_ref(&text))
            .unwrap(),
        "AVX-512 VNNI: {vnni}"
    );
    let query = auto.embed_query(&text).unwrap();
    assert_eq!(
        query,
        expected.embed_query(&text).unwrap(),
        "AVX-512 VNNI: {vnni}"
    );
    // Both backends name the same model: their vectors are comparable (the accuracy bar).
    assert_eq!(f32s.model_id(), int8.model_id());
}

#[test]
fn a_missing_model_says_how_to_fetch_it() {
    let dir = tempfile::tempdir().unwrap();
    let err = TextEmbedder::load(dir.path())
        .err()
        .expect("an empty folder is not a model")
        .to_string();
    assert!(err.contains("music-rag model fetch"), "{err}");
    assert!(err.contains("config.json"), "{err}");
}
