//! Prometheus metrics: one recorder per process, rendered at `/metrics`.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

pub const REQUESTS: &str = "music_rag_http_requests_total";
pub const REQUEST_SECONDS: &str = "music_rag_http_request_duration_seconds";
pub const SEARCH_STAGE_SECONDS: &str = "music_rag_search_stage_seconds";
pub const CATALOG_TRACKS: &str = "music_rag_catalog_tracks";
pub const CACHE_HITS: &str = "music_rag_query_cache_hits_total";
pub const CACHE_MISSES: &str = "music_rag_query_cache_misses_total";
pub const CACHE_HIT_RATIO: &str = "music_rag_query_cache_hit_ratio";
pub const RATE_LIMITED: &str = "music_rag_rate_limited_total";
pub const SHED: &str = "music_rag_shed_requests_total";
pub const ANSWERS: &str = "music_rag_answers_total";
pub const LLM_TOKENS: &str = "music_rag_llm_tokens_total";
pub use music_rag_ops::snapshots::{
    SNAPSHOTS, SNAPSHOT_BYTES, SNAPSHOT_LAST_SUCCESS, SNAPSHOT_SECONDS,
};
pub const STORE_WRITABLE: &str = "music_rag_store_writable";
pub const IN_FLIGHT: &str = "music_rag_http_requests_in_flight";
pub const READY: &str = "music_rag_ready";
pub const INGEST_ROWS: &str = "music_rag_ingest_rows_total";
pub const OPEN_CONNECTIONS: &str = "music_rag_http_open_connections";

const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The process-wide recorder (installed on first use; tests start many servers in one process).
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("buckets are not empty")
                .build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            metrics::describe_counter!(REQUESTS, "HTTP requests by route, method and status");
            metrics::describe_histogram!(
                REQUEST_SECONDS,
                metrics::Unit::Seconds,
                "HTTP request latency by route"
            );
            metrics::describe_histogram!(
                SEARCH_STAGE_SECONDS,
                metrics::Unit::Seconds,
                "Search time by stage (parse, embed, retrieve, fuse)"
            );
            metrics::describe_gauge!(CATALOG_TRACKS, "Tracks in the catalog");
            metrics::describe_counter!(CACHE_HITS, "Query embedding cache hits");
            metrics::describe_counter!(CACHE_MISSES, "Query embedding cache misses");
            metrics::describe_gauge!(CACHE_HIT_RATIO, "Query embedding cache hit ratio");
            metrics::describe_counter!(RATE_LIMITED, "Requests refused with 429");
            metrics::describe_counter!(SHED, "Requests shed with 503 under overload");
            metrics::describe_counter!(
                ANSWERS,
                "Answers by generator, grounding and whether the model failed over to extractive"
            );
            metrics::describe_counter!(LLM_TOKENS, "Tokens billed by the model provider, by kind");
            metrics::describe_counter!(SNAPSHOTS, "Snapshots taken, by outcome (success, failure)");
            metrics::describe_gauge!(
                SNAPSHOT_LAST_SUCCESS,
                "Unix time of the last snapshot that was written completely"
            );
            metrics::describe_gauge!(SNAPSHOT_SECONDS, "How long the last snapshot took");
            metrics::describe_counter!(
                music_rag_ops::query_log::QUERIES,
                "Searches and questions answered, by route (keywords, description, ask); not counted with MUSIC_RAG_QUERY_LOG=off"
            );
            metrics::describe_counter!(
                music_rag_ops::query_log::ZERO_RESULT_QUERIES,
                "Searches and questions that found no track"
            );
            metrics::describe_counter!(
                music_rag_ops::query_log::SLOW_QUERIES,
                "Searches and questions slower than MUSIC_RAG_SLOW_QUERY_MS"
            );
            metrics::describe_counter!(
                music_rag_ops::offsite::SNAPSHOT_UPLOADS,
                "Snapshots copied to object storage, by outcome (success, failure)"
            );
            metrics::describe_gauge!(
                music_rag_ops::offsite::SNAPSHOT_UPLOAD_LAST_SUCCESS,
                "Unix time of the newest snapshot copied to object storage"
            );
            metrics::describe_gauge!(SNAPSHOT_BYTES, "Size of the last snapshot file");
            metrics::describe_histogram!(
                music_rag_ops::replica::CATCH_UP_SECONDS,
                "A PostgreSQL replica applying the catalog's changes to its local copy, per catch-up"
            );
            metrics::describe_gauge!(
                music_rag_ops::replica::COPIED_SEQUENCE,
                "The write sequence a PostgreSQL replica's local copy holds"
            );
            metrics::describe_gauge!(
                STORE_WRITABLE,
                "1 while writes succeed, 0 while they fail (for example on a full disk)"
            );
            metrics::describe_gauge!(IN_FLIGHT, "HTTP requests being served now");
            metrics::describe_gauge!(
                OPEN_CONNECTIONS,
                "Client connections open now (at most max_connections)"
            );
            metrics::describe_gauge!(
                READY,
                "1 while /ready answers ready or degraded, 0 while not ready"
            );
            metrics::describe_counter!(
                INGEST_ROWS,
                "Tracks received for writing over HTTP, by outcome (stored, failed)"
            );
            process_collector().describe();
            // Counters that alerts read exist from the start at zero, so "none yet" is a
            // value and not a missing series.
            metrics::counter!(SHED).absolute(0);
            metrics::counter!(RATE_LIMITED).absolute(0);
            metrics::counter!(INGEST_ROWS, "outcome" => "stored").absolute(0);
            metrics::counter!(INGEST_ROWS, "outcome" => "failed").absolute(0);
            metrics::gauge!(IN_FLIGHT).set(0.0);
            metrics::gauge!(OPEN_CONNECTIONS).set(0.0);
            handle
        })
        .clone()
}

/// Process CPU, memory, threads and file descriptors (`process_*`), read at each scrape.
pub fn process_collector() -> &'static metrics_process::Collector {
    static COLLECTOR: OnceLock<metrics_process::Collector> = OnceLock::new();
    COLLECTOR.get_or_init(metrics_process::Collector::default)
}

/// Counts the rows of a write by outcome.
pub fn record_ingest(report: &music_rag_core::IngestReport) {
    let failed = report.failed as u64;
    let stored = (report.results.len() as u64).saturating_sub(failed);
    metrics::counter!(INGEST_ROWS, "outcome" => "stored").increment(stored);
    metrics::counter!(INGEST_ROWS, "outcome" => "failed").increment(failed);
}

/// Counts and times every request by its route template (never the raw path: ids would
/// explode the label set).
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".into());
    let method = req.method().to_string();
    let request_id = crate::request::request_id(&req).to_string();
    let start = Instant::now();
    let in_flight = metrics::gauge!(IN_FLIGHT);
    in_flight.increment(1.0);
    let resp = next.run(req).await;
    in_flight.decrement(1.0);
    let elapsed = start.elapsed();
    let status = resp.status().as_u16();
    let key_id = resp
        .extensions()
        .get::<crate::request::KeyId>()
        .map(|k| k.0.as_str())
        .unwrap_or("");
    // One access-log line per request: the route template, never the raw path or the key.
    tracing::info!(
        target: "music_rag_server::access",
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        request_id = %request_id,
        key_id,
        "request"
    );
    metrics::counter!(REQUESTS, "route" => route.clone(), "method" => method, "status" => status.to_string())
        .increment(1);
    metrics::histogram!(REQUEST_SECONDS, "route" => route).record(elapsed.as_secs_f64());
    resp
}

pub fn record_search(t: &music_rag_core::app::search::StageTimings) {
    for (stage, ms) in [
        ("parse", t.parse_ms),
        ("embed", t.embed_ms),
        ("retrieve", t.retrieve_ms),
        ("fuse", t.fuse_ms),
    ] {
        metrics::histogram!(SEARCH_STAGE_SECONDS, "stage" => stage).record(ms / 1000.0);
    }
}

pub fn record_ask(r: &music_rag_core::AskResponse) {
    metrics::counter!(ANSWERS,
        "generator" => r.generator.clone(),
        "grounded" => r.grounded.to_string(),
        "fallback" => r.fallback.is_some().to_string())
    .increment(1);
    if let Some(u) = r.usage {
        metrics::counter!(LLM_TOKENS, "kind" => "prompt").increment(u.prompt_tokens);
        metrics::counter!(LLM_TOKENS, "kind" => "completion").increment(u.completion_tokens);
    }
    if let Some(f) = &r.fallback {
        tracing::warn!(provider = %f.from, reason = %f.reason, "model provider failed; answered offline");
    }
}
