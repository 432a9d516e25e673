//! What the question planner costs, on a stored catalog, in a warm process: reading a
//! question's intent and whether it is off topic (no store), and whole planned answers (intent,
//! scope parsing, the exact selection on the store, the composed answer), per question.
//!
//!     cargo run --release -p music-rag-store --example planner_speed -- DATA_DIR [QUESTIONS.jsonl]
//!
//! QUESTIONS.jsonl: `{"query": ...}` per line (`bench/eval/questions_set.py` writes one);
//! without it, a few built-in questions. The embedder is never called for planned questions,
//! so a hashing embedder of the store's dimension stands in for the model. Prints JSON.

use std::sync::Arc;
use std::time::Instant;

use music_rag_core::domain::answer::plan::{intent_of, is_off_topic};
use music_rag_core::testing::HashingEmbedder;
use music_rag_core::{AskRequest, Engine, Store};
use music_rag_store::{Access, EmbeddedStore};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let dir = args
        .next()
        .ok_or("usage: planner_speed DATA_DIR [QUESTIONS.jsonl]")?;
    let questions: Vec<String> = match args.next() {
        Some(path) => std::fs::read_to_string(path)?
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["query"].as_str().map(str::to_string))
            .collect(),
        None => [
            "what's the fastest metal song in the catalog?",
            "how many songs by Rihanna are in the catalog?",
            "which songs by daft punk are here?",
            "do you have anything by beyonse?",
            "what is the capital of France?",
        ]
        .map(String::from)
        .to_vec(),
    };
    let store = EmbeddedStore::open(std::path::Path::new(&dir), None, Access::ReadOnly)?;
    let dim = store.dim();
    let tracks = store.count()?;
    let store: Arc<dyn Store> = Arc::new(store);
    let vocab = store.vocabulary()?;
    let engine = Engine::new(Arc::new(HashingEmbedder::new(dim)), store);
    // Reading the words only.
    let term = |w: &str| vocab.kind_of(w).is_some();
    let name = |w: &[String]| {
        vocab.names.artist_named(w).is_some() || vocab.names.title_named(w).is_some()
    };
    let mut reading = Vec::new();
    for _ in 0..5 {
        for q in &questions {
            let t = Instant::now();
            if intent_of(q).is_none() {
                std::hint::black_box(is_off_topic(q, &term, &name));
            }
            reading.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    // Whole planned answers (others go to a search, which needs the model: not timed here).
    let mut planned = Vec::new();
    for q in &questions {
        let req = AskRequest {
            question: q.clone(),
            ..Default::default()
        };
        let t = Instant::now();
        let prepared = engine.prepare_answer(&req);
        let ms = t.elapsed().as_secs_f64() * 1e3;
        if let Ok(p) = prepared {
            let r = engine.write_answer(p, &mut |_| {})?;
            if r.generator == music_rag_core::app::answer::PLANNER {
                planned.push(ms);
            }
        }
    }
    println!(
        "{}",
        serde_json::json!({
            "tracks": tracks,
            "questions": questions.len(),
            "reading_ms_median": median(reading.clone()),
            "reading_ms_max": reading.iter().cloned().fold(0.0, f64::max),
            "planned_answers": planned.len(),
            "planned_answer_ms_median": if planned.is_empty() { 0.0 } else { median(planned.clone()) },
            "planned_answer_ms_max": planned.iter().cloned().fold(0.0, f64::max),
        })
    );
    Ok(())
}
