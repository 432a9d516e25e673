//! `music-rag eval`: retrieval quality of the current store on a query file, per method.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use music_rag_core::domain::eval::{mean, score, EvalQuery, Scores};
use music_rag_core::{AskRequest, SearchRequest};
use serde_json::json;

use crate::Global;

/// The retrieval methods compared, from the original's to the full pipeline.
#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The original service: dense similarity only, no query parsing.
    Original,
    /// Dense and keyword fused (RRF), no parsing.
    Hybrid,
    /// Hybrid plus plain-words parsing into filters and preferences (dual-track).
    Parsed,
    /// Parsed plus the second-stage field-aware rerank.
    Rerank,
}

impl Method {
    const ALL: [Method; 4] = [
        Method::Original,
        Method::Hybrid,
        Method::Parsed,
        Method::Rerank,
    ];

    fn name(self) -> &'static str {
        match self {
            Method::Original => "original (dense only)",
            Method::Hybrid => "hybrid",
            Method::Parsed => "hybrid + parsing",
            Method::Rerank => "hybrid + parsing + rerank",
        }
    }

    fn request(self, query: &str, k: usize) -> SearchRequest {
        let base = SearchRequest {
            text: query.to_string(),
            top_k: k,
            ..Default::default()
        };
        match self {
            Method::Original => SearchRequest {
                semantic_weight: Some(1.0),
                parse: false,
                rerank: false,
                ..base
            },
            Method::Hybrid => SearchRequest {
                parse: false,
                rerank: false,
                ..base
            },
            Method::Parsed => SearchRequest {
                rerank: false,
                ..base
            },
            Method::Rerank => base,
        }
    }
}

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// JSON lines: {"query": "...", "relevant": ["id", ...], "kind": "..."}.
    #[arg(long)]
    pub queries: PathBuf,
    /// Cut-off for P@k, R@k and nDCG@k.
    #[arg(long = "top-k", short = 'k', value_name = "N", default_value_t = 10)]
    pub k: usize,
    /// Methods to compare (default: all four).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub method: Vec<Method>,
    /// Score another server through the original API's `POST /search` instead of this store
    /// (e.g. the original Python service at http://127.0.0.1:8001).
    #[arg(long, value_name = "URL", conflicts_with = "method")]
    pub against: Option<String>,
}

/// Ranked ids from a server speaking the original API: `POST /search` with `text_query`.
fn search_remote(agent: &ureq::Agent, base: &str, query: &str, k: usize) -> Result<Vec<String>> {
    let url = format!("{}/search", base.trim_end_matches('/'));
    let hits: Vec<serde_json::Value> = agent
        .post(&url)
        .send_json(json!({"text_query": query, "top_k": k}))
        .with_context(|| format!("POST {url}"))?
        .into_json()
        .with_context(|| format!("{url} did not answer with a JSON list of hits"))?;
    Ok(hits
        .iter()
        .filter_map(|h| h["id"].as_str().map(str::to_string))
        .collect())
}

fn read_queries(path: &PathBuf) -> Result<Vec<EvalQuery>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let q: EvalQuery = serde_json::from_str(line)
            .with_context(|| format!("{}:{}: not an evaluation query", path.display(), i + 1))?;
        if q.relevant.is_empty() && q.grounded != Some(false) {
            bail!(
                "{}:{}: relevant must list at least one id (or the question be marked \"grounded\": false)",
                path.display(),
                i + 1
            );
        }
        if !q.gains.is_empty() && q.gains.len() != q.relevant.len() {
            bail!(
                "{}:{}: gains must have one number per relevant id ({} for {})",
                path.display(),
                i + 1,
                q.gains.len(),
                q.relevant.len()
            );
        }
        out.push(q);
    }
    if out.is_empty() {
        bail!("{} holds no queries", path.display());
    }
    Ok(out)
}

pub fn run(g: &Global, args: &EvalArgs) -> Result<ExitCode> {
    if !(1..=music_rag_core::domain::catalog::limits::TOP_K_MAX).contains(&args.k) {
        bail!(
            "--k must be between 1 and {}",
            music_rag_core::domain::catalog::limits::TOP_K_MAX
        );
    }
    let queries = read_queries(&args.queries)?;
    let methods = if args.method.is_empty() {
        Method::ALL.to_vec()
    } else {
        args.method.clone()
    };
    let bar = ProgressBar::new((queries.len() * methods.len()) as u64).with_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} queries {elapsed}")
            .expect("valid template"),
    );
    // (kind, method) -> per-query scores
    let mut by: BTreeMap<(String, usize), Vec<Scores>> = BTreeMap::new();
    let kind_of = |q: &EvalQuery| q.kind.clone().unwrap_or_else(|| "all".into());
    if let Some(base) = &args.against {
        let agent = ureq::AgentBuilder::new()
            .timeout(std::time::Duration::from_secs(60))
            .build();
        bar.set_length(queries.len() as u64);
        for q in &queries {
            let ranked = search_remote(&agent, base, &q.query, args.k)?;
            by.entry((kind_of(q), 0)).or_default().push(score(
                &ranked,
                &q.relevant,
                &q.gains,
                args.k,
            ));
            bar.inc(1);
        }
        bar.finish_and_clear();
        let label = format!("server at {base}");
        return Ok(report(g, args.k, &by, &[label], &[]));
    }
    let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadOnly)?;
    for (mi, m) in methods.iter().enumerate() {
        // Questions with no relevant track are scored on their answers only.
        for q in queries.iter().filter(|q| !q.relevant.is_empty()) {
            let resp = engine.search(&m.request(&q.query, args.k))?;
            let ranked: Vec<String> = resp.hits.iter().map(|h| h.track.id.clone()).collect();
            by.entry((kind_of(q), mi)).or_default().push(score(
                &ranked,
                &q.relevant,
                &q.gains,
                args.k,
            ));
            bar.inc(1);
        }
    }
    // Factual questions: does the answer (full pipeline, offline generator) state the fact?
    let mut answers: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for q in queries.iter().filter(|q| q.answer.is_some()) {
        let resp = engine.ask(
            &AskRequest {
                question: q.query.clone(),
                ..Default::default()
            },
            &mut |_| {},
        )?;
        let e = answers
            .entry(q.kind.clone().unwrap_or_else(|| "all".into()))
            .or_default();
        e.0 += usize::from(q.answered(&resp.answer, resp.grounded, &resp.cited));
        e.1 += 1;
    }
    bar.finish_and_clear();
    let names: Vec<String> = methods.iter().map(|m| m.name().to_string()).collect();
    let answer_rows: Vec<serde_json::Value> = answers
        .iter()
        .map(|(kind, (right, n))| json!({"set": kind, "questions": n, "answer_accuracy": *right as f64 / *n as f64}))
        .collect();
    Ok(report(g, args.k, &by, &names, &answer_rows))
}

/// Prints the mean scores per set and method (a Markdown table, or JSON).
fn report(
    g: &Global,
    k: usize,
    by: &BTreeMap<(String, usize), Vec<Scores>>,
    methods: &[String],
    answer_rows: &[serde_json::Value],
) -> ExitCode {
    let rows: Vec<serde_json::Value> = by
        .iter()
        .map(|((kind, mi), scores)| {
            let m = mean(scores);
            json!({"set": kind, "method": methods[*mi], "queries": scores.len(),
                "precision": m.precision, "recall": m.recall, "ndcg": m.ndcg, "mrr": m.reciprocal_rank, "rank1": m.rank1})
        })
        .collect();
    if g.json {
        outln!(
            "{}",
            json!({"k": k, "results": rows, "answers": answer_rows})
        );
        return ExitCode::SUCCESS;
    }
    outln!("| set | method | queries | P@{k} | R@{k} | nDCG@{k} | MRR | rank-1 |");
    outln!("|---|---|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        let pct = |key: &str| r[key].as_f64().unwrap_or(0.0) * 100.0;
        outln!(
            "| {} | {} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            r["set"].as_str().unwrap_or(""),
            r["method"].as_str().unwrap_or(""),
            r["queries"],
            pct("precision"),
            pct("recall"),
            pct("ndcg"),
            pct("mrr"),
            pct("rank1")
        );
    }
    for r in answer_rows {
        outln!(
            "\n{}: the answer states the expected fact and cites it in {:.1} % of {} questions",
            r["set"].as_str().unwrap_or(""),
            r["answer_accuracy"].as_f64().unwrap_or(0.0) * 100.0,
            r["questions"]
        );
    }
    ExitCode::SUCCESS
}
