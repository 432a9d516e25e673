//! The catalog commands: import, search, list, show, delete, statistics, the model, the demo.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use indicatif::ProgressBar;
use music_rag_core::app::catalog::PAGE_MAX;
use music_rag_core::{Engine, Filter, Mode, Range, SearchRequest};
use music_rag_embed::{fetch_model, TextEmbedder};
use music_rag_ops::ImportReport;
use music_rag_store::Access;
use serde_json::json;

use crate::engine::{open_catalog, open_engine};
use crate::output::import_exit_code;
use crate::{demo_catalog, output, Global};
use music_rag_import::Row;

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
    #[arg(long, short = 'k', visible_alias = "limit", default_value_t = 10)]
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
    g.engine_settings().model_dir()
}

/// `model embed`: query vectors as JSON lines, for scripts.
pub fn embed_texts(g: &Global, texts: Vec<String>) -> Result<ExitCode> {
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

/// Imports rows with a progress bar (hidden when `quiet`).
pub fn import_rows(
    engine: &Engine,
    rows: Vec<Row>,
    quiet: bool,
    source: &str,
) -> Result<ImportReport> {
    let bar = crate::progress::Bar::new("tracks", quiet);
    Ok(music_rag_ops::import::import_rows(
        engine, rows, source, &bar,
    )?)
}

/// `init-sample-data`: the bundled demo catalog.
pub fn init_sample_data(g: &Global) -> Result<ExitCode> {
    let engine = open_engine(g, Access::ReadWrite)?;
    let rows = demo_catalog::rows();
    let report = import_rows(&engine, rows, g.json, "demo catalog")?;
    output::import_report(&report, g.json);
    Ok(import_exit_code(&report))
}

/// `ingest FILE`: a catalog file, row by row.
pub fn ingest(g: &Global, args: &IngestArgs) -> Result<ExitCode> {
    let (mut rows, ignored) = music_rag_ops::import::read_catalog_file(&args.file)?;
    if !ignored.is_empty() {
        eprintln!("warning: ignoring unknown CSV columns: {ignored:?}");
    }
    if let Some(path) = &args.vectors {
        music_rag_ops::import::attach_vectors_file(&mut rows, path)?;
    }
    let source = args.file.display().to_string();
    let report = if args.dry_run {
        music_rag_ops::import::dry_run(rows, &source)
    } else {
        let engine = open_engine(g, Access::ReadWrite)?;
        import_rows(&engine, rows, false, &source)?
    };
    output::import_report(&report, g.json);
    Ok(import_exit_code(&report))
}

/// `search`: the search use case, rendered.
pub fn search(g: &Global, args: &SearchArgs) -> Result<ExitCode> {
    let engine = if args.enhance || args.model_summary {
        crate::engine::engine_with_configured_provider(g)?
    } else {
        open_engine(g, Access::ReadOnly)?
    };
    let req = args.request()?;
    let resp = engine.search(&req)?;
    output::search(&resp, g.json, args.explain);
    Ok(ExitCode::SUCCESS)
}

/// `list`: tracks in id order.
pub fn list(g: &Global, limit: Option<usize>) -> Result<ExitCode> {
    let catalog = open_catalog(g, Access::ReadOnly)?;
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

/// `item ID`: one track.
pub fn item(g: &Global, id: &str) -> Result<ExitCode> {
    let track = open_catalog(g, Access::ReadOnly)?.track(id)?;
    output::track(&track, g.json);
    Ok(ExitCode::SUCCESS)
}

/// `delete ID`: one track removed.
pub fn delete(g: &Global, id: &str) -> Result<ExitCode> {
    open_catalog(g, Access::ReadWrite)?.delete(id)?;
    if g.json {
        outln!("{}", json!({"status": "deleted", "id": id}));
    } else {
        outln!("deleted {id}");
    }
    Ok(ExitCode::SUCCESS)
}

/// `stats`: counts and the vocabulary at a glance.
pub fn stats(g: &Global) -> Result<ExitCode> {
    let t = Instant::now();
    let catalog = open_catalog(g, Access::ReadOnly)?;
    let open_ms = t.elapsed().as_secs_f64() * 1000.0;
    let stats = catalog.stats()?;
    let vocab = catalog.vocabulary()?;
    output::stats(&stats, &vocab, open_ms, &g.data_dir, g.json);
    Ok(ExitCode::SUCCESS)
}

/// `model fetch`: the model into its folder, then loaded once to prove it works.
pub fn model_fetch(g: &Global) -> Result<ExitCode> {
    let dir = model_dir(g);
    let spinner = ProgressBar::new_spinner()
        .with_message(format!("fetching the model into {}", dir.display()));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let source = fetch_model(&dir);
    spinner.finish_and_clear();
    let source = source?;
    // Prove the files load before saying it worked.
    TextEmbedder::load(&dir)?;
    let sound_dir = music_rag_audio::musicnn::default_sound_model_dir();
    let spinner = ProgressBar::new_spinner().with_message(format!(
        "fetching the sound model into {}",
        sound_dir.display()
    ));
    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
    let fetched = music_rag_audio::musicnn::fetch_sound_model(&sound_dir);
    spinner.finish_and_clear();
    let fetched = fetched.map_err(|e| anyhow::anyhow!("sound model: {e}"))?;
    music_rag_audio::musicnn::SoundModel::load(&sound_dir)
        .map_err(|e| anyhow::anyhow!("sound model: {e}"))?;
    let sound_source = if fetched {
        "converted from the PyPI package musicnn 0.1.0"
    } else {
        "already there"
    };
    if g.json {
        outln!(
            "{}",
            json!({"model_dir": dir, "source": source,
                   "sound_model_dir": sound_dir, "sound_source": sound_source})
        );
    } else {
        outln!("model ready in {} ({source})", dir.display());
        outln!(
            "sound model ready in {} ({sound_source})",
            sound_dir.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// `model path`: where the model is looked for, and whether it is there.
pub fn model_path(g: &Global) -> Result<ExitCode> {
    let dir = model_dir(g);
    let present = music_rag_embed::MODEL_FILES
        .iter()
        .all(|f| dir.join(f).is_file());
    let sound_dir = music_rag_audio::musicnn::default_sound_model_dir();
    let sound_present = music_rag_audio::musicnn::sound_model_present(&sound_dir);
    if g.json {
        outln!(
            "{}",
            json!({"model_dir": dir, "present": present,
                   "sound_model_dir": sound_dir, "sound_present": sound_present})
        );
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
        outln!(
            "{} ({})",
            sound_dir.display(),
            if sound_present {
                "sound model present"
            } else {
                "sound model missing: run `music-rag model fetch`"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
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

pub fn demo(g: &Global) -> Result<ExitCode> {
    let engine = open_engine(g, Access::ReadWrite)?;
    if engine.catalog().count()? == 0 {
        eprintln!("the store is empty: loading the demo catalog (embedding takes a few minutes on 2 cores)");
        let rows = demo_catalog::rows();
        let report = import_rows(&engine, rows, false, "demo catalog")?;
        output::import_report(&report, false);
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

/// `build-demo-catalog`: catalog/*.jsonl from the shared datasets.
pub fn build_demo_catalog(data: &std::path::Path, out: &std::path::Path) -> Result<ExitCode> {
    let n = demo_catalog::build(data, out)?;
    outln!("wrote {n} tracks to {}", out.display());
    Ok(ExitCode::SUCCESS)
}
