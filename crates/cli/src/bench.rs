//! `music-rag bench-search`: in-process search latency (embedding included) on the open store:
//! cold (new texts), warm embedding cache (known texts, new requests), and warm (repeated
//! requests, served from the response cache), with and without filters, plus open time and
//! peak memory.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use music_rag_core::{Filter, Range, SearchRequest};
use serde_json::json;

use crate::Global;

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Plain-words queries, one per line.
    #[arg(long)]
    pub queries: PathBuf,
    /// Passes over the query set for the warm-cache measurement.
    #[arg(long, default_value_t = 5)]
    pub warm_rounds: usize,
    /// Measure without the second-stage rerank (to see its cost).
    #[arg(long)]
    pub no_rerank: bool,
}

fn percentiles(mut ms: Vec<f64>) -> serde_json::Value {
    if ms.is_empty() {
        // `--warm-rounds 0`: nothing was measured.
        return json!({"n": 0});
    }
    ms.sort_by(f64::total_cmp);
    let at = |p: f64| ms[((ms.len() as f64 - 1.0) * p).round() as usize];
    json!({"n": ms.len(), "p50_ms": at(0.50), "p95_ms": at(0.95), "p99_ms": at(0.99), "mean_ms": ms.iter().sum::<f64>() / ms.len() as f64})
}

/// Peak resident memory of this process in MiB (Linux).
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

pub fn run(g: &Global, args: &BenchArgs) -> Result<ExitCode> {
    let text = std::fs::read_to_string(&args.queries)
        .with_context(|| format!("reading {}", args.queries.display()))?;
    let base: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect();
    anyhow::ensure!(!base.is_empty(), "no queries in {}", args.queries.display());
    let t = Instant::now();
    let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadOnly)?;
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    let tracks = engine.catalog().count()?;
    // Distinct texts so every "cold" query misses the cache.
    let prefixes = ["", "some ", "play me ", "I want ", "find "];
    let cold_queries: Vec<String> = prefixes
        .iter()
        .flat_map(|p| base.iter().map(move |q| format!("{p}{q}")))
        .collect();
    let rerank = !args.no_rerank;
    let vocab = engine.catalog().vocabulary()?;
    let genre = vocab.genres().first().map(|(g, _)| g.clone());
    let filtered = |text: &str, top_k: usize| SearchRequest {
        text: text.to_string(),
        top_k,
        filters: Filter {
            genres: genre.iter().cloned().collect(),
            tempo: Some(Range::new(Some(60.0), Some(180.0))),
            ..Default::default()
        },
        rerank,
        ..Default::default()
    };
    let time = |req: &SearchRequest| -> Result<f64> {
        let t = Instant::now();
        engine.search(req)?;
        Ok(t.elapsed().as_secs_f64() * 1000.0)
    };
    let first_query_ms = time(&SearchRequest {
        text: "warm up the vocabulary".into(),
        ..Default::default()
    })?;
    // Even queries unfiltered, odd ones filtered; one pass over the set.
    let pass = |plain: &mut Vec<f64>, with_filter: &mut Vec<f64>, top_k: usize| -> Result<()> {
        for (i, q) in cold_queries.iter().enumerate() {
            if i % 2 == 0 {
                plain.push(time(&SearchRequest {
                    text: q.clone(),
                    top_k,
                    rerank,
                    ..Default::default()
                })?);
            } else {
                with_filter.push(time(&filtered(q, top_k))?);
            }
        }
        Ok(())
    };
    let (mut cold, mut cold_filtered) = (Vec::new(), Vec::new());
    pass(&mut cold, &mut cold_filtered, 10)?;
    // Same texts (embeddings cached) but new requests (top_k differs): full retrieval.
    let (mut warm_embed, mut warm_embed_filtered) = (Vec::new(), Vec::new());
    pass(&mut warm_embed, &mut warm_embed_filtered, 9)?;
    // Repeated requests: served from the response cache.
    let (mut warm, mut warm_filtered) = (Vec::new(), Vec::new());
    for _ in 0..args.warm_rounds {
        pass(&mut warm, &mut warm_filtered, 10)?;
    }
    let report = json!({
        "tracks": tracks,
        "open_ms": open_ms,
        "first_query_ms": first_query_ms,
        "cold": percentiles(cold),
        "cold_filtered": percentiles(cold_filtered),
        "warm_embedding_cache": percentiles(warm_embed),
        "warm_embedding_cache_filtered": percentiles(warm_embed_filtered),
        "warm": percentiles(warm),
        "warm_filtered": percentiles(warm_filtered),
        "filter": {"genre": genre, "tempo": "60-180"},
        "peak_rss_mib": peak_rss_mib(),
    });
    if g.json {
        outln!("{report}");
    } else {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    }
    Ok(ExitCode::SUCCESS)
}
