//! `ask`, `similar` and `playlist`: the answering half of the command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use music_rag_core::app::listen::ListenRequest;
use music_rag_core::app::playlist::PlaylistRequest;
use music_rag_core::app::recommend::RecommendRequest;
use music_rag_core::domain::answer::followup::Conversation;
use music_rag_core::domain::playlist::{Locations, Playlist};
use music_rag_core::{AnswerEvent, AskRequest};

use crate::commands::FilterArgs;
use crate::output::facts;
use crate::Global;

#[derive(Args, Debug)]
pub struct AskArgs {
    /// The question, in plain words.
    pub question: String,
    /// How many tracks to retrieve as sources (1-20).
    #[arg(long, short = 'k', default_value_t = 5)]
    pub top_k: usize,
    /// Skip the second-stage rerank.
    #[arg(long)]
    pub no_rerank: bool,
    /// Let the configured model rewrite the query and suggest filters first.
    #[arg(long)]
    pub enhance: bool,
    /// Refine an earlier answer or search ("only the ones with piano", "calmer", "more like
    /// the second one", "why that one?"): a file holding its `--json` output or just its
    /// `conversation`; `-` reads standard input.
    #[arg(long, value_name = "FILE")]
    pub previous: Option<PathBuf>,
    #[command(flatten)]
    pub filters: FilterArgs,
}

/// The conversation to follow up: a whole `ask`/`search` JSON response or its `conversation`.
fn previous_conversation(file: &std::path::Path) -> Result<Conversation> {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())
            .context("reading --previous from standard input")?
    } else {
        std::fs::read_to_string(file)
            .with_context(|| format!("reading --previous {}", file.display()))?
    };
    let mut value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("--previous {}: not JSON", file.display()))?;
    if let Some(inner) = value.get_mut("conversation") {
        value = inner.take();
    }
    serde_json::from_value(value).with_context(|| {
        format!(
            "--previous {}: must be an answer's or a search's --json output, or its `conversation`",
            file.display()
        )
    })
}

pub fn ask(g: &Global, args: &AskArgs) -> Result<ExitCode> {
    let engine = crate::engine::engine_with_configured_provider(g)?;
    let req = AskRequest {
        question: args.question.clone(),
        filters: args.filters.filter()?,
        top_k: args.top_k,
        enhance: args.enhance,
        rerank: !args.no_rerank,
        previous: args
            .previous
            .as_deref()
            .map(previous_conversation)
            .transpose()?,
        ..Default::default()
    };
    let mut out = std::io::stdout().lock();
    let resp = engine.ask(&req, &mut |ev| {
        if g.json {
            return;
        }
        // Text mode streams the answer as it is written.
        match ev {
            AnswerEvent::Token(t) => {
                let _ = write!(out, "{t}");
                let _ = out.flush();
            }
            AnswerEvent::Restart => {
                let _ = writeln!(out, "\n(the model failed; answering offline instead)");
            }
        }
    })?;
    drop(out);
    if g.json {
        outln!("{}", serde_json::to_string(&resp)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!();
    if !resp.citation_issues.is_empty() {
        outln!(
            "(removed {} invalid citation(s))",
            resp.citation_issues.len()
        );
    }
    if let Some(f) = &resp.fallback {
        eprintln!(
            "note: {} failed ({}); the answer is extractive",
            f.from, f.reason
        );
    }
    if !resp.sources.is_empty() {
        outln!("\nSources:");
        for s in &resp.sources {
            outln!("  [{}] {} — {}  [{}]", s.n, s.title, s.artist, s.id);
        }
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Args, Debug)]
pub struct SimilarArgs {
    /// Track ids to find more like, or one audio file to find tracks that sound like it.
    #[arg(required = true, value_name = "ID|FILE")]
    pub ids: Vec<String>,
    /// Ids of tracks to steer away from.
    #[arg(long = "not", value_name = "ID")]
    pub negative: Vec<String>,
    /// Compare by sound only (audio vectors), for one track id.
    #[arg(long)]
    pub sound: bool,
    /// Words to combine with the sound of a file or track ("but calmer"); with several ids or
    /// --not, words that compare ("calmer", "faster", "darker") steer from the seeds' sound.
    #[arg(long)]
    pub text: Option<String>,
    /// Weight of sound against the words (0-1).
    #[arg(long, default_value_t = 0.7)]
    pub audio_weight: f32,
    /// How many results (1-100).
    #[arg(long, short = 'k', visible_alias = "limit", default_value_t = 10)]
    pub top_k: usize,
    #[command(flatten)]
    pub filters: FilterArgs,
}

fn print_hit(i: usize, t: &music_rag_core::Track, score: f32, extra: &str) {
    outln!(
        "{:>2}. {} — {}  [{}]  score {score:.3}",
        i + 1,
        t.title,
        t.artist,
        t.id
    );
    let f = facts(t);
    if !f.is_empty() {
        outln!("    {f}");
    }
    if !extra.is_empty() {
        outln!("    {extra}");
    }
}

pub fn similar(g: &Global, args: &SimilarArgs) -> Result<ExitCode> {
    let file = (args.ids.len() == 1)
        .then(|| std::path::Path::new(&args.ids[0]))
        .filter(|p| p.is_file());
    // Several seeds, or seeds to avoid, with words: alchemy (recommend, steered by the words).
    let alchemy = args.ids.len() > 1 || !args.negative.is_empty();
    if file.is_some() || args.sound || (args.text.is_some() && !alchemy) {
        if args.ids.len() != 1 || !args.negative.is_empty() {
            bail!("listening takes one file or one track id (and no --not)");
        }
        let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadOnly)?;
        let clip = match file {
            Some(path) => Some(
                music_rag_audio::analyse_file(path)
                    .with_context(|| format!("cannot analyse {}", path.display()))?
                    .track
                    .audio
                    .context("the analysis produced no measurements")?,
            ),
            None => None,
        };
        let mut resp = engine.listen(
            &ListenRequest {
                track_id: file.is_none().then(|| args.ids[0].clone()),
                text: args.text.clone(),
                audio_weight: args.audio_weight,
                filters: args.filters.filter()?,
                top_k: args.top_k,
            },
            clip,
        )?;
        // A file already in the catalog is not its own recommendation.
        let own = file.map(music_rag_audio::library::track_id);
        resp.hits.retain(|h| Some(&h.track.id) != own.as_ref());
        if g.json {
            outln!("{}", serde_json::to_string(&resp)?);
            return Ok(ExitCode::SUCCESS);
        }
        if resp.hits.is_empty() {
            outln!("no tracks with audio match");
        }
        for (i, h) in resp.hits.iter().enumerate() {
            let sim = h
                .audio_similarity
                .map(|s| format!("sound likeness {s:.2}"))
                .unwrap_or_default();
            print_hit(i, &h.track, h.score, &sim);
        }
        return Ok(ExitCode::SUCCESS);
    }
    let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadOnly)?;
    let resp = engine.recommend(&RecommendRequest {
        positive: args.ids.clone(),
        negative: args.negative.clone(),
        filters: args.filters.filter()?,
        top_k: args.top_k,
        text: args.text.clone(),
    })?;
    if g.json {
        outln!("{}", serde_json::to_string(&resp)?);
        return Ok(ExitCode::SUCCESS);
    }
    if resp.hits.is_empty() {
        outln!("no similar tracks match");
    }
    for (i, h) in resp.hits.iter().enumerate() {
        let extra = format!(
            "closest to {} ({:.2})",
            h.closest_seed, h.closest_similarity
        );
        print_hit(i, &h.track, h.score, &extra);
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlaylistFormat {
    M3u,
    Jspf,
    Json,
}

#[derive(Args, Debug)]
pub struct PlaylistArgs {
    /// What the playlist is about, e.g. "rainy day jazz".
    pub prompt: Option<String>,
    /// Seed track ids; they open the playlist (repeatable).
    #[arg(long = "seed", value_name = "ID")]
    pub seeds: Vec<String>,
    /// Extend this playlist: an M3U (this server's stream links, or files ingested with
    /// `ingest-audio`) or a list of track ids, one per line. It is kept as it is; -n or
    /// --minutes more tracks follow (default 10).
    #[arg(long, value_name = "FILE", conflicts_with = "seeds")]
    pub expand: Option<PathBuf>,
    /// Number of tracks (1-100, default 20).
    #[arg(long, short = 'n', conflicts_with = "minutes")]
    pub length: Option<usize>,
    /// Target running time in minutes instead of a count.
    #[arg(long)]
    pub minutes: Option<f32>,
    /// Write the playlist to this file (.m3u/.m3u8 or .jspf/.json).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// File format; by default taken from the output file's extension.
    #[arg(long, value_enum)]
    pub format: Option<PlaylistFormat>,
    /// Locate tracks at a server's streams (URL/v1/tracks/ID/audio) instead of this
    /// machine's files, so another device can play the file.
    #[arg(long, value_name = "URL", requires = "output")]
    pub base_url: Option<String>,
    /// Save the playlist under this name with what made it, so `music-rag playlists refresh
    /// ID` can make it again (shared with every library user's Subsonic player).
    #[arg(long, value_name = "NAME")]
    pub save: Option<String>,
    #[command(flatten)]
    pub filters: FilterArgs,
}

fn format_for(args: &PlaylistArgs) -> Result<PlaylistFormat> {
    if let Some(f) = args.format {
        return Ok(f);
    }
    format_of(args.output.as_deref())
}

/// The export format an output file's extension names (M3U without one).
fn format_of(output: Option<&std::path::Path>) -> Result<PlaylistFormat> {
    let ext = output
        .and_then(|p| p.extension())
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase);
    Ok(match ext.as_deref() {
        Some("m3u") | Some("m3u8") => PlaylistFormat::M3u,
        Some("jspf") => PlaylistFormat::Jspf,
        Some("json") => PlaylistFormat::Json,
        Some(other) => bail!(
            "--output: unknown extension .{other}; use .m3u, .jspf or .json, or pass --format"
        ),
        None => PlaylistFormat::M3u,
    })
}

/// The track ids of a playlist file: stream links give their ids, files on this machine the id
/// `ingest-audio` gave them, and any other line is taken as an id.
fn playlist_ids(file: &std::path::Path) -> Result<Vec<String>> {
    use music_rag_core::domain::playlist::{read_m3u, M3uEntry};
    let text = std::fs::read_to_string(file)
        .with_context(|| format!("--expand: cannot read {}", file.display()))?;
    let base = file.parent().unwrap_or(std::path::Path::new("."));
    let ids: Vec<String> = read_m3u(&text)
        .into_iter()
        .map(|entry| match entry {
            M3uEntry::Track(id) => id,
            M3uEntry::Location(place) => {
                // Relative paths in an M3U are relative to the file.
                let path = base.join(&place);
                if path.is_file() {
                    music_rag_audio::library::track_id(&path)
                } else {
                    place
                }
            }
        })
        .collect();
    anyhow::ensure!(
        !ids.is_empty(),
        "--expand: {} holds no tracks",
        file.display()
    );
    Ok(ids)
}

/// Where an exported file locates tracks: a server's streams with `--base-url`, else files.
fn locations(base_url: Option<&str>) -> Locations {
    match base_url {
        Some(base) => Locations::Streams {
            base: base.to_string(),
            sign: None,
        },
        None => Locations::Files,
    }
}

fn render(p: &Playlist, format: PlaylistFormat, at: &Locations) -> Result<String> {
    Ok(match format {
        PlaylistFormat::M3u => p.to_m3u(at),
        PlaylistFormat::Jspf => serde_json::to_string_pretty(&p.to_jspf(at))?,
        PlaylistFormat::Json => serde_json::to_string_pretty(p)?,
    })
}

#[derive(Args, Debug)]
pub struct PathArgs {
    /// The track the path starts at.
    pub from: String,
    /// The track the path ends at.
    pub to: String,
    /// Tracks in the path, both ends included (2-50).
    #[arg(long, short = 'n', default_value_t = 8)]
    pub length: usize,
    /// Write the path to this file (.m3u/.m3u8 or .jspf/.json).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    /// Locate tracks at a server's streams (URL/v1/tracks/ID/audio) instead of local files.
    #[arg(long, value_name = "URL", requires = "output")]
    pub base_url: Option<String>,
    #[command(flatten)]
    pub filters: FilterArgs,
}

/// `path FROM TO`: the tracks between two, each step a small move.
pub fn path(g: &Global, args: &PathArgs) -> Result<ExitCode> {
    let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadOnly)?;
    let p = engine.path(&music_rag_core::app::path::PathRequest {
        from: args.from.clone(),
        to: args.to.clone(),
        length: args.length,
        filters: args.filters.filter()?,
    })?;
    if let Some(out) = &args.output {
        let format = format_of(Some(out))?;
        let at = locations(args.base_url.as_deref());
        std::fs::write(out, render(&p, format, &at)?)
            .with_context(|| format!("cannot write {}", out.display()))?;
    }
    if g.json {
        outln!("{}", serde_json::to_string(&p)?);
        return Ok(ExitCode::SUCCESS);
    }
    outln!("{}", p.title);
    print_entries(&p, false);
    Ok(ExitCode::SUCCESS)
}

/// A playlist's entries, one line each with the tempo step from the one before (and, with
/// `with_facts`, a line of the track's facts).
fn print_entries(p: &Playlist, with_facts: bool) {
    for e in &p.entries {
        let step = e
            .transition
            .as_ref()
            .and_then(|t| t.tempo_step)
            .map(|s| format!("  (tempo step {s:.0})"))
            .unwrap_or_default();
        outln!(
            "{:>2}. {} — {}  [{}]{step}",
            e.position,
            e.track.title,
            e.track.artist,
            e.track.id
        );
        let f = facts(&e.track);
        if with_facts && !f.is_empty() {
            outln!("    {f}");
        }
    }
}

/// "12 tracks, 31 min", or, with lengths unknown, an estimate that says it is one.
fn running_time(p: &music_rag_core::domain::playlist::Playlist) -> String {
    let n = p.entries.len();
    let each = p.assumed_seconds_each / 60.0;
    match (p.unknown_durations, p.total_seconds > 0.0) {
        (0, _) => format!("{n} tracks, {:.0} min", p.total_seconds / 60.0),
        (u, true) => format!(
            "{n} tracks, about {:.0} min ({:.0} min known; {u} of unknown length counted as {each:.1} min each)",
            p.estimated_seconds / 60.0,
            p.total_seconds / 60.0
        ),
        (_, false) => format!(
            "{n} tracks, about {:.0} min (no lengths known; each counted as {each:.1} min)",
            p.estimated_seconds / 60.0
        ),
    }
}

pub fn playlist(g: &Global, args: &PlaylistArgs) -> Result<ExitCode> {
    let format = format_for(args)?;
    let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadOnly)?;
    let expand = match &args.expand {
        Some(file) => playlist_ids(file)?,
        None => Vec::new(),
    };
    let request = PlaylistRequest {
        prompt: args.prompt.clone(),
        seed_ids: args.seeds.clone(),
        expand,
        length: args.length,
        minutes: args.minutes,
        filters: args.filters.filter()?,
        ..Default::default()
    };
    let p = match &args.save {
        Some(name) => {
            let db = crate::library_commands::library_db(g)?;
            let saved = music_rag_ops::saved_playlists::save(&engine, &db, name, request)?;
            eprintln!(
                "saved as playlist {} ({name}); `music-rag playlists refresh {}` makes it again",
                saved.id, saved.id
            );
            saved.playlist
        }
        None => engine.playlist(&request)?,
    };
    if let Some(path) = &args.output {
        let at = locations(args.base_url.as_deref());
        std::fs::write(path, render(&p, format, &at)?)
            .with_context(|| format!("cannot write {}", path.display()))?;
        let left_out = p.unplayable();
        if format == PlaylistFormat::M3u && left_out > 0 {
            eprintln!(
                "{left_out} of {} tracks left out of the M3U: they have no audio file (a JSPF export lists every track)",
                p.entries.len()
            );
        }
    }
    // An empty playlist is a failure that says why (exit 1), as a search says why it is empty.
    let status = if p.entries.is_empty() {
        eprintln!(
            "no playlist: {}",
            p.empty_reason
                .as_deref()
                .unwrap_or("nothing in the catalog fits")
        );
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    };
    if g.json {
        outln!("{}", serde_json::to_string(&p)?);
        return Ok(status);
    }
    print_entries(&p, true);
    if !p.entries.is_empty() {
        outln!("{}", running_time(&p));
    }
    if let Some(path) = &args.output {
        outln!("wrote {}", path.display());
    }
    Ok(status)
}
