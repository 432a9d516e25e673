//! What each subcommand does.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use music_rag_core::app::catalog::{Catalog, PAGE_MAX};
use music_rag_core::{Engine, Filter, Mode, Range, SearchRequest, UpsertOutcome};
use music_rag_embed::{default_model_dir, fetch_model, TextEmbedder};
use music_rag_store::Access;
use serde_json::json;

use crate::{demo_catalog, output, Cli, Command, Global, ModelCommand};
use music_rag_import::Row;

/// Tracks per durable write during imports.
const INGEST_BATCH: usize = 64;

#[derive(Args, Debug)]
pub struct IngestArgs {
    /// JSON array (.json), JSON lines (.jsonl) or CSV (.csv) file.
    pub file: PathBuf,
    /// Validate every row and report, without writing anything.
    #[arg(long)]
    pub dry_run: bool,
    /// Vectors computed elsewhere (for example on a GPU), paired with the rows by id: JSON
    /// lines {"id", "embedding", "embedding_model"}. Checked in full before anything is
    /// written; each must come from this catalog's model and have its dimension. Rows without
    /// one are embedded here.
    #[arg(long, value_name = "FILE")]
    pub vectors: Option<PathBuf>,
}

/// Metadata constraints shared by every command that retrieves.
#[derive(Args, Debug, Clone, Default)]
#[command(next_help_heading = "Filters")]
pub struct FilterArgs {
    /// Only these genres (repeat or comma-separate for any of).
    #[arg(long, value_delimiter = ',')]
    pub genre: Vec<String>,
    /// Only tracks with any of these moods.
    #[arg(long, value_delimiter = ',')]
    pub mood: Vec<String>,
    /// Only tracks with any of these instruments.
    #[arg(long, value_delimiter = ',')]
    pub instrument: Vec<String>,
    /// Only tracks without these instruments.
    #[arg(long, value_delimiter = ',')]
    pub without: Vec<String>,
    /// Only tracks of these cultural origins.
    #[arg(long, value_delimiter = ',')]
    pub origin: Vec<String>,
    /// Tempo range in BPM: 90-120, 90- or -120.
    #[arg(long)]
    pub tempo: Option<String>,
    /// Year range: 1980-1989, 1980- or -1989.
    #[arg(long)]
    pub year: Option<String>,
    /// Only these eras.
    #[arg(long, value_delimiter = ',')]
    pub era: Vec<String>,
    /// Only these keys, e.g. "A minor" (enharmonic spellings are one key).
    #[arg(long, value_delimiter = ',')]
    pub key: Vec<String>,
    /// Only major or only minor keys.
    #[arg(long, value_parser = ["major", "minor"])]
    pub mode: Option<String>,
    /// Only these time signatures, e.g. 3/4.
    #[arg(long = "time-signature", value_delimiter = ',')]
    pub time_signature: Vec<String>,
    /// Only tracks with any of these free-form tags.
    #[arg(long, value_delimiter = ',')]
    pub tag: Vec<String>,
    /// Only live performances.
    #[arg(long, conflicts_with = "studio")]
    pub live: bool,
    /// Only studio (not live) recordings.
    #[arg(long)]
    pub studio: bool,
}

impl FilterArgs {
    pub fn filter(&self) -> Result<Filter> {
        Ok(Filter {
            genres: self.genre.clone(),
            tags: self.tag.clone(),
            moods: self.mood.clone(),
            instruments: self.instrument.clone(),
            exclude_instruments: self.without.clone(),
            origins: self.origin.clone(),
            eras: self.era.clone(),
            keys: self.key.clone(),
            mode: self.mode.as_deref().and_then(Mode::parse),
            time_signatures: self.time_signature.clone(),
            tempo: self
                .tempo
                .as_deref()
                .map(|t| Range::parse("--tempo", t))
                .transpose()?,
            year: self
                .year
                .as_deref()
                .map(|y| Range::parse("--year", y))
                .transpose()?,
            live: if self.live {
                Some(true)
            } else if self.studio {
                Some(false)
            } else {
                None
            },
            ..Default::default()
        })
    }
}

#[derive(Args, Debug)]
pub struct SearchArgs {
    /// What you are looking for, in plain words.
    pub query: String,
    /// How many results (1-100).
    #[arg(long, short = 'k', default_value_t = 10)]
    pub top_k: usize,
    /// Weight of meaning against keywords in fusion (0-1; default: 0.5 for a description of
    /// six or more words that names no one, 0.6 otherwise).
    #[arg(long)]
    pub semantic_weight: Option<f32>,
    /// Show how the query was parsed, each hit's score parts and stage timings.
    #[arg(long)]
    pub explain: bool,
    /// Do not turn plain words into filters; search the text as typed.
    #[arg(long)]
    pub no_parse: bool,
    /// Skip the second-stage rerank.
    #[arg(long)]
    pub no_rerank: bool,
    /// Let the configured model rewrite the query and suggest filters (OPENAI_BASE_URL).
    #[arg(long)]
    pub enhance: bool,
    /// Have the configured model write the results summary.
    #[arg(long)]
    pub model_summary: bool,
    #[command(flatten)]
    pub filters: FilterArgs,
}

impl SearchArgs {
    fn request(&self) -> Result<SearchRequest> {
        Ok(SearchRequest {
            text: self.query.clone(),
            filters: self.filters.filter()?,
            top_k: self.top_k,
            semantic_weight: self.semantic_weight,
            parse: !self.no_parse,
            rerank: !self.no_rerank,
            enhance: self.enhance,
            model_summary: self.model_summary,
            ..Default::default()
        })
    }
}

pub fn model_dir(g: &Global) -> PathBuf {
    g.model_dir.clone().unwrap_or_else(default_model_dir)
}

/// `model embed`: query vectors as JSON lines, for scripts.
fn embed_texts(g: &Global, texts: Vec<String>) -> Result<ExitCode> {
    let embedder = TextEmbedder::load_with(&model_dir(g), g.embed_backend)?;
    let model_id = music_rag_core::Embedder::model_id(&embedder).to_string();
    let texts = if texts.is_empty() {
        std::io::stdin()
            .lines()
            .collect::<std::io::Result<Vec<_>>>()
            .context("reading texts from standard input")?
    } else {
        texts
    };
    for text in texts.iter().filter(|t| !t.trim().is_empty()) {
        let embedding = music_rag_core::Embedder::embed_query(&embedder, text)?;
        outln!(
            "{}",
            json!({"text": text, "embedding": embedding, "embedding_model": model_id})
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// The catalog administration use cases, for commands that neither embed nor search.
fn open_catalog(g: &Global, access: Access) -> Result<Catalog> {
    Ok(Catalog::new(crate::database::open(g, None, access)?.0))
}

/// Loads the model and opens the catalog's store (PostgreSQL or the data directory).
pub fn open_engine(g: &Global, access: Access) -> Result<Engine> {
    let embedder = TextEmbedder::load_with(&model_dir(g), g.embed_backend)?;
    let (store, _) = crate::database::open(g, Some(model_of(&embedder)), access)?;
    Ok(Engine::new(Arc::new(embedder), store))
}

/// The model id and vector size the embedder writes.
pub fn model_of(embedder: &TextEmbedder) -> (&str, usize) {
    (
        music_rag_core::Embedder::model_id(embedder),
        music_rag_core::Embedder::dim(embedder),
    )
}

pub fn run(cli: Cli) -> Result<ExitCode> {
    let g = cli.global;
    // The server sets up its own logging from its configuration.
    if !matches!(cli.command, Command::Serve(_) | Command::Config(_)) {
        crate::init_cli_logging(&g.log_level);
    }
    match cli.command {
        Command::Serve(args) => crate::serve::serve(&g, &args),
        Command::Config(args) => crate::serve::print_config(&g, &args),
        Command::Healthcheck(args) => crate::healthcheck::healthcheck(&g, &args),
        Command::InitSampleData => {
            let engine = open_engine(&g, Access::ReadWrite)?;
            let rows = demo_catalog::rows();
            let report = ingest_rows(&engine, rows, false, "demo catalog")?;
            output::ingest_report(&report, g.json);
            Ok(report.exit_code())
        }
        Command::Ingest(args) => {
            let mut rows = read_rows(&args.file)?;
            if let Some(path) = &args.vectors {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("cannot read {}", path.display()))?;
                music_rag_import::attach_vectors(&mut rows, &text)
                    .with_context(|| format!("--vectors {}", path.display()))?;
            }
            let engine = if args.dry_run {
                None
            } else {
                Some(open_engine(&g, Access::ReadWrite)?)
            };
            let report = match &engine {
                Some(e) => ingest_rows(e, rows, false, &args.file.display().to_string())?,
                None => dry_run(rows),
            };
            output::ingest_report(&report, g.json);
            Ok(report.exit_code())
        }
        Command::Search(args) => {
            let engine = if args.enhance || args.model_summary {
                crate::serve::engine_with_configured_provider(&g)?
            } else {
                open_engine(&g, Access::ReadOnly)?
            };
            let req = args.request()?;
            let resp = engine.search(&req)?;
            output::search(&resp, g.json, args.explain);
            Ok(ExitCode::SUCCESS)
        }
        Command::List { limit } => {
            let catalog = open_catalog(&g, Access::ReadOnly)?;
            let mut cursor: Option<String> = None;
            let mut left = limit.unwrap_or(usize::MAX);
            let mut out = std::io::stdout().lock();
            while left > 0 {
                let page = catalog.tracks(cursor.as_deref(), left.min(PAGE_MAX))?;
                for t in &page.tracks {
                    if g.json {
                        writeln!(out, "{}", serde_json::to_string(t.as_ref())?)?;
                    } else {
                        writeln!(out, "{}  {} — {}", t.id, t.title, t.artist)?;
                    }
                }
                left = left.saturating_sub(page.tracks.len());
                match page.next_cursor {
                    Some(c) if !page.tracks.is_empty() => cursor = Some(c),
                    _ => break,
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Item { id } => {
            let track = open_catalog(&g, Access::ReadOnly)?.track(&id)?;
            output::track(&track, g.json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Delete { id } => {
            open_catalog(&g, Access::ReadWrite)?.delete(&id)?;
            if g.json {
                outln!("{}", json!({"status": "deleted", "id": id}));
            } else {
                outln!("deleted {id}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Stats => {
            let t = Instant::now();
            let catalog = open_catalog(&g, Access::ReadOnly)?;
            let open_ms = t.elapsed().as_secs_f64() * 1000.0;
            let stats = catalog.stats()?;
            let vocab = catalog.vocabulary()?;
            output::stats(&stats, &vocab, open_ms, &g.data_dir, g.json);
            Ok(ExitCode::SUCCESS)
        }
        Command::Model(ModelCommand::Fetch) => {
            let dir = model_dir(&g);
            let spinner = ProgressBar::new_spinner()
                .with_message(format!("fetching the model into {}", dir.display()));
            spinner.enable_steady_tick(std::time::Duration::from_millis(120));
            let source = fetch_model(&dir);
            spinner.finish_and_clear();
            let source = source?;
            // Prove the files load before saying it worked.
            TextEmbedder::load(&dir)?;
            if g.json {
                outln!("{}", json!({"model_dir": dir, "source": source}));
            } else {
                outln!("model ready in {} ({source})", dir.display());
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Model(ModelCommand::Path) => {
            let dir = model_dir(&g);
            let present = music_rag_embed::MODEL_FILES
                .iter()
                .all(|f| dir.join(f).is_file());
            if g.json {
                outln!("{}", json!({"model_dir": dir, "present": present}));
            } else {
                outln!(
                    "{} ({})",
                    dir.display(),
                    if present {
                        "present"
                    } else {
                        "missing: run `music-rag model fetch`"
                    }
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Model(ModelCommand::Embed { texts }) => embed_texts(&g, texts),
        Command::Demo => demo(&g),
        Command::Backup(args) => crate::data_commands::backup(&g, &args),
        Command::Restore(args) => crate::data_commands::restore(&g, &args),
        Command::Verify => crate::data_commands::verify(&g),
        Command::Repair => crate::data_commands::repair(&g),
        Command::Reindex => crate::data_commands::reindex(&g),
        Command::Export(args) => crate::data_commands::export(&g, &args),
        Command::IngestAudio(args) => crate::audio_ingest::run(&g, &args),
        Command::Ask(args) => crate::answers::ask(&g, &args),
        Command::Similar(args) => crate::answers::similar(&g, &args),
        Command::Playlist(args) => crate::answers::playlist(&g, &args),
        Command::Eval(args) => crate::eval::run(&g, &args),
        Command::BenchSearch(args) => crate::bench::run(&g, &args),
        Command::BuildDemoCatalog { data, out } => {
            let n = demo_catalog::build(&data, &out)?;
            outln!("wrote {n} tracks to {}", out.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// What an import did, row by row.
#[derive(Debug, Default, serde::Serialize)]
pub struct IngestReport {
    pub source: String,
    pub rows: usize,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Rows replaced by a later row with the same id.
    pub superseded: usize,
    pub failed: Vec<RowError>,
    pub embedded: usize,
    pub embed_seconds: f64,
    pub write_seconds: f64,
    pub seconds: f64,
    pub tracks_per_second: f64,
    pub dry_run: bool,
}

#[derive(Debug, serde::Serialize)]
pub struct RowError {
    pub line: usize,
    pub id: Option<String>,
    pub field: Option<String>,
    pub message: String,
}

impl IngestReport {
    /// Adds one written batch's tallies (its failures are attached by line by the caller).
    fn absorb(&mut self, batch: &music_rag_core::IngestReport) {
        self.created += batch.created;
        self.updated += batch.updated;
        self.unchanged += batch.unchanged;
        self.superseded += batch.superseded;
        self.embedded += batch.embedded;
        self.embed_seconds += batch.embed_ms / 1000.0;
        self.write_seconds += batch.write_ms / 1000.0;
    }

    pub fn exit_code(&self) -> ExitCode {
        if self.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(2)
        }
    }
}

/// Every row of a catalog file, its format known from its name or its first characters.
fn read_rows(path: &std::path::Path) -> Result<Vec<Row>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let format = music_rag_import::detect_format(name, &text);
    let parsed = music_rag_import::parse(&text, format)
        .with_context(|| format!("cannot import {}", path.display()))?;
    if !parsed.ignored_columns.is_empty() {
        eprintln!(
            "warning: ignoring unknown CSV columns: {:?}",
            parsed.ignored_columns
        );
    }
    Ok(parsed.rows)
}

fn dry_run(rows: Vec<Row>) -> IngestReport {
    let mut report = IngestReport {
        rows: rows.len(),
        dry_run: true,
        ..Default::default()
    };
    for row in rows {
        match row.track.map_err(|m| (None, m)).and_then(|t| {
            t.validated().map_err(|e| match e {
                music_rag_core::CoreError::Invalid(f) => (Some(f.field.clone()), f.to_string()),
                other => (None, other.to_string()),
            })
        }) {
            Ok(_) => report.created += 1,
            Err((field, message)) => report.failed.push(RowError {
                line: row.line,
                id: None,
                field,
                message,
            }),
        }
    }
    report
}

/// Imports rows in batches; each batch is one durable write.
pub fn ingest_rows(
    engine: &Engine,
    rows: Vec<Row>,
    quiet: bool,
    source: &str,
) -> Result<IngestReport> {
    let start = Instant::now();
    let mut report = IngestReport {
        source: source.to_string(),
        rows: rows.len(),
        ..Default::default()
    };
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(rows.len() as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} {msg} [{bar:30}] {pos}/{len} tracks, {per_sec}, eta {eta}",
        )
        .expect("valid template")
        .progress_chars("=> "),
    );
    bar.set_message(format!("importing {source}"));
    // A large load into an empty PostgreSQL catalog builds the vector index once, at the end.
    // Batches are cut from the rows as the pipeline asks for them, moving each track, so an
    // import holds its rows once (a million rows with their vectors are gigabytes).
    let total = rows.len();
    let parse_failures = std::cell::RefCell::new(Vec::new());
    let batch_lines = std::cell::RefCell::new(std::collections::VecDeque::new());
    let mut rows = rows.into_iter().peekable();
    let batches = std::iter::from_fn(|| {
        rows.peek()?;
        let (mut lines, mut tracks, mut count) = (Vec::new(), Vec::new(), 0);
        for row in rows.by_ref().take(INGEST_BATCH) {
            count += 1;
            match row.track {
                Ok(t) => {
                    lines.push(row.line);
                    tracks.push((t, row.vector));
                }
                Err(message) => parse_failures.borrow_mut().push(RowError {
                    line: row.line,
                    id: None,
                    field: None,
                    message,
                }),
            }
        }
        batch_lines.borrow_mut().push_back((lines, count));
        Some(tracks)
    });
    // A large load into an empty PostgreSQL catalog builds the vector index once, at the end.
    engine.bulk_load(total, || -> Result<()> {
        // Each batch is embedded while the one before it is written.
        engine.upsert_batches(batches, |batch| -> Result<()> {
            let (lines, count) = batch_lines.borrow_mut().pop_front().unwrap_or_default();
            for (line, outcome) in lines.iter().zip(&batch.results) {
                if let UpsertOutcome::Invalid { id, field, message } = outcome {
                    report.failed.push(RowError {
                        line: *line,
                        id: id.clone(),
                        field: Some(field.clone()),
                        message: message.clone(),
                    });
                }
            }
            report.absorb(&batch);
            bar.inc(count as u64);
            Ok(())
        })?;
        bar.set_message(format!("indexing {source}"));
        Ok(())
    })?;
    report.failed.extend(parse_failures.into_inner());
    bar.finish_and_clear();
    report.seconds = start.elapsed().as_secs_f64();
    report.tracks_per_second = report.rows as f64 / report.seconds.max(1e-9);
    report.failed.sort_by_key(|e| e.line);
    Ok(report)
}

const DEMO_QUERIES: &[&str] = &[
    "sad song with gentle piano and a soft female voice",
    "jakson five abc",
    "fast energetic rock with electric guitar over 120 bpm",
    "calm string quartet",
    "relaxing jazz for a rainy evening",
    "upbeat dance music without vocals",
];

const DEMO_QUESTIONS: &[&str] = &[
    "what tempo is ABC by the Jackson 5?",
    "who sang Bad Romance?",
    "what is the capital of France?",
];

fn demo(g: &Global) -> Result<ExitCode> {
    let engine = open_engine(g, Access::ReadWrite)?;
    if engine.store().count()? == 0 {
        eprintln!("the store is empty: loading the demo catalog (embedding takes a few minutes on 2 cores)");
        let rows = demo_catalog::rows();
        let report = ingest_rows(&engine, rows, false, "demo catalog")?;
        output::ingest_report(&report, false);
    }
    for q in DEMO_QUERIES {
        let req = SearchRequest {
            text: q.to_string(),
            top_k: 5,
            ..Default::default()
        };
        let resp = engine.search(&req)?;
        if g.json {
            output::search(&resp, true, true);
        } else {
            outln!("\n=== {q}");
            output::search(&resp, false, true);
        }
    }
    // Questions answered from the catalog (offline, extractive), with their sources.
    for q in DEMO_QUESTIONS {
        let resp = engine.ask(
            &music_rag_core::AskRequest {
                question: q.to_string(),
                ..Default::default()
            },
            &mut |_| {},
        )?;
        if g.json {
            outln!("{}", serde_json::to_string(&resp)?);
            continue;
        }
        outln!("\n=== ask: {q}\n{}", resp.answer);
        for s in &resp.sources {
            outln!("  [{}] {} — {}  [{}]", s.n, s.title, s.artist, s.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}
