//! Embedding throughput and query latency on real catalog texts.
//! `cargo run --release -p music-rag-embed --example embed_throughput -- [N] [packed|candle]`

use std::time::Instant;

use music_rag_core::{Embedder, Track};
use music_rag_embed::{default_model_dir, Backend, TextEmbedder};

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(256);
    let backend: Backend = std::env::args()
        .nth(2)
        .unwrap_or_else(|| "packed".into())
        .parse()
        .expect("backend");
    let m = TextEmbedder::load_with(&default_model_dir(), backend)
        .expect("model: run `music-rag model fetch`");
    let texts: Vec<String> = include_str!("../../../catalog/musiccaps.jsonl")
        .lines()
        .take(n)
        .map(|l| serde_json::from_str::<Track>(l).unwrap().embedding_text())
        .collect();
    m.embed_documents(&texts[..8.min(texts.len())]).unwrap();
    let t = Instant::now();
    m.embed_documents(&texts).unwrap();
    let s = t.elapsed().as_secs_f64();
    println!(
        "documents: {} texts in {:.2}s = {:.1} texts/s",
        texts.len(),
        s,
        texts.len() as f64 / s
    );
    let queries = [
        "slow sad piano ballads with a soft female voice",
        "upbeat electronic music for running",
        "jakson five abc",
    ];
    let mut lat = Vec::new();
    for i in 0..60 {
        let q = format!("{} {i}", queries[i % queries.len()]);
        let t = Instant::now();
        m.embed_query(&q).unwrap();
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    lat.sort_by(f64::total_cmp);
    println!(
        "query: p50 {:.2} ms, p95 {:.2} ms",
        lat[lat.len() / 2],
        lat[lat.len() * 95 / 100]
    );
}
