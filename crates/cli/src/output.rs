//! How results look: readable text for people, JSON for scripts.

use std::path::Path;

use music_rag_core::{SearchResponse, StoreStats, Track, Vocabulary};
use serde_json::json;

use music_rag_ops::ImportReport;

/// Exit status of an import: 2 when any row or file failed, as `ingest` documents.
pub fn import_exit_code(report: &ImportReport) -> std::process::ExitCode {
    if report.complete() {
        std::process::ExitCode::SUCCESS
    } else {
        std::process::ExitCode::from(2)
    }
}

pub fn import_report(r: &ImportReport, as_json: bool) {
    if as_json {
        outln!("{}", serde_json::to_string(r).expect("report serialises"));
        return;
    }
    if let Some(audio) = &r.audio {
        outln!(
            "{}: {} files: {} created, {} updated, {} unchanged, {} failed ({} untagged) in {:.1}s; \
             {:.0} s of audio at {:.0} s of audio per CPU-second",
            r.source,
            audio.files,
            r.created,
            r.updated,
            audio.skipped_unchanged,
            r.failed.len(),
            audio.untagged,
            r.seconds,
            audio.audio_seconds,
            audio.audio_seconds_per_cpu_second
        );
    } else if r.dry_run {
        outln!(
            "dry run: {} rows, {} valid, {} invalid",
            r.rows,
            r.created,
            r.failed.len()
        );
    } else {
        outln!(
            "{}: {} rows: {} created, {} updated, {} unchanged, {} failed ({} embedded) in {:.1}s ({:.0} tracks/s; embedding {:.1}s, writing {:.1}s)",
            r.source, r.rows, r.created, r.updated, r.unchanged, r.failed.len(), r.embedded, r.seconds, r.tracks_per_second,
            r.embed_seconds, r.write_seconds
        );
    }
    for e in &r.failed {
        let id =
            e.id.as_deref()
                .map(|i| format!(" (id {i})"))
                .unwrap_or_default();
        match (&e.path, e.line) {
            (Some(path), _) => eprintln!("  failed {path}{id}: {}", e.message),
            (None, Some(line)) => eprintln!("  line {line}{id}: {}", e.message),
            (None, None) => eprintln!("  {id}: {}", e.message),
        }
    }
}

pub fn facts(t: &Track) -> String {
    let m = &t.metadata;
    let mut parts: Vec<String> = Vec::new();
    // MusicCaps rows caption ten-second clips and have no audio: said wherever they are listed.
    if t.id.starts_with("musiccaps:") {
        parts.push("clip description, 10 s, no audio".into());
    }
    parts.extend(m.genre.clone());
    if let Some(tempo) = m.tempo {
        parts.push(format!("{tempo:.0} bpm"));
    }
    parts.extend(m.key.clone());
    parts.extend(m.time_signature.clone());
    parts.extend(t.year.map(|y| y.to_string()));
    if !m.mood.is_empty() {
        parts.push(m.mood.join(", "));
    }
    if !m.instrumentation.is_empty() {
        parts.push(m.instrumentation.join(", "));
    }
    if let Some(heard) = heard(t) {
        parts.push(heard);
    }
    parts.join(" · ")
}

/// "heard: piano 0.91, classical 0.74": what the sound model heard, with its confidence, so it
/// is never mistaken for what the tags say.
pub fn heard(t: &Track) -> Option<String> {
    let heard = &t.audio.as_ref()?.heard;
    (!heard.is_empty()).then(|| {
        let words: Vec<String> = heard
            .iter()
            .map(|h| format!("{} {:.2}", h.word, h.confidence))
            .collect();
        format!("heard: {}", words.join(", "))
    })
}

pub fn search(resp: &SearchResponse, as_json: bool, explain: bool) {
    if as_json {
        let hits: Vec<_> = resp
            .hits
            .iter()
            .map(|h| json!({"id": h.track.id, "title": h.track.title, "artist": h.track.artist, "score": h.score,
                "retrieval_type": h.retrieval_type, "scores": h.scores, "why": h.why, "track": h.track}))
            .collect();
        let body = json!({"hits": hits, "parsed": resp.parsed, "route": resp.route,
            "empty_reason": resp.empty_reason, "relaxed": resp.relaxed, "summary": resp.summary,
            "enhancement": resp.enhancement, "timings": resp.timings,
            "conversation": resp.conversation});
        outln!(
            "{}",
            serde_json::to_string(&body).expect("response serialises")
        );
        return;
    }
    if explain {
        outln!("read as: {}", resp.route.describe());
        if let Some(p) = &resp.parsed {
            outln!("searched for: {:?}", p.text);
            for r in &p.recognized {
                outln!("  recognised {r}");
            }
            let hard = p.filters.describe();
            if !hard.is_empty() {
                outln!("  filters: {}", hard.join("; "));
            }
            let soft = p.preferences.describe();
            if !soft.is_empty() {
                outln!("  preferring: {}", soft.join("; "));
            }
        }
    }
    if resp.hits.is_empty() {
        outln!(
            "no tracks match: {}",
            resp.empty_reason.as_deref().unwrap_or("nothing matched")
        );
    }
    let (hits, relaxed) = match &resp.relaxed {
        Some(r) if resp.hits.is_empty() => (&r.hits, true),
        _ => (&resp.hits, false),
    };
    if relaxed {
        if let Some(r) = &resp.relaxed {
            outln!("without {}:", r.dropped.join(", "));
        }
    }
    for (i, h) in hits.iter().enumerate() {
        outln!(
            "{:>2}. {} — {}  [{}]  score {:.3}",
            i + 1,
            h.track.title,
            h.track.artist,
            h.track.id,
            h.score
        );
        let f = facts(&h.track);
        if !f.is_empty() {
            outln!("    {f}");
        }
        if explain {
            outln!("    why: {}", h.why.summary);
        }
    }
    if !resp.hits.is_empty() {
        outln!("{}", resp.summary.text);
    }
    if let Some(e) = &resp.enhancement {
        match (&e.reason, &e.rewritten_query) {
            (Some(r), _) => outln!("enhancement not applied: {r}"),
            (None, Some(q)) => outln!("enhanced query: {q}"),
            (None, None) => {}
        }
    }
    if explain {
        let t = resp.timings;
        outln!(
            "timings: parse {:.2} ms, embed {:.2} ms, retrieve {:.2} ms, fuse {:.2} ms",
            t.parse_ms,
            t.embed_ms,
            t.retrieve_ms,
            t.fuse_ms
        );
    }
}

pub fn track(t: &Track, as_json: bool) {
    if as_json {
        outln!("{}", serde_json::to_string(t).expect("track serialises"));
        return;
    }
    outln!("{} — {}  [{}]", t.title, t.artist, t.id);
    let m = &t.metadata;
    let facts = facts(t);
    if !facts.is_empty() {
        outln!("  {facts}");
    }
    let lines: [(&str, Option<String>); 8] = [
        ("album", t.album.clone()),
        ("origin", m.cultural_origin.clone()),
        ("era", m.era.clone()),
        ("duration", m.duration.map(|d| format!("{d:.0} s"))),
        (
            "live",
            m.is_live_performance
                .map(|l| if l { "yes" } else { "no" }.to_string()),
        ),
        ("tags", (!t.tags.is_empty()).then(|| t.tags.join(", "))),
        ("audio", t.audio_path.clone()),
        ("description", t.description.clone()),
    ];
    for (name, value) in lines {
        if let Some(v) = value {
            outln!("  {name}: {v}");
        }
    }
}

pub fn stats(s: &StoreStats, v: &Vocabulary, open_ms: f64, dir: &Path, as_json: bool) {
    if as_json {
        outln!(
            "{}",
            json!({"tracks": s.tracks, "text_embeddings_count": s.text_embeddings, "audio_embeddings_count": s.audio_embeddings,
                "sequence": s.sequence, "backend": s.backend, "data_dir": dir, "open_ms": open_ms,
                "genres": v.genres().len(), "moods": v.moods().len(), "instruments": v.instruments().len()})
        );
        return;
    }
    outln!("data dir:     {}", dir.display());
    outln!("tracks:       {}", s.tracks);
    outln!(
        "embeddings:   {} text, {} audio",
        s.text_embeddings,
        s.audio_embeddings
    );
    outln!("opened in:    {open_ms:.0} ms");
    let top = |l: &[(String, usize)]| {
        l.iter()
            .take(8)
            .map(|(t, c)| format!("{t} ({c})"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (genres, moods, instruments) = (v.genres(), v.moods(), v.instruments());
    outln!("genres:       {} — {}", genres.len(), top(&genres));
    outln!("moods:        {} — {}", moods.len(), top(&moods));
    outln!(
        "instruments:  {} — {}",
        instruments.len(),
        top(&instruments)
    );
}

/// Writes one line to standard output; a closed pipe ends the process with success.
pub fn write_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let written = out
        .write_fmt(args)
        .and_then(|_| out.write_all(b"\n"))
        .and_then(|_| out.flush());
    if let Err(e) = written {
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(0);
        }
        eprintln!("error: cannot write to standard output: {e}");
        std::process::exit(1);
    }
}

/// Whether an error is a write to a pipe whose reader has gone.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// An error and its causes as one line, "outer: inner", each cause written once: several of
/// the layers' errors already end with their cause's text (the server answers with that text
/// alone), so printing the whole chain as well would say it twice.
pub fn error_line(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if line.ends_with(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod error_line_tests {
    use super::error_line;

    /// An error that writes its cause into its own text and also names it as its source.
    #[derive(Debug)]
    struct Opening {
        source: std::io::Error,
    }

    impl std::fmt::Display for Opening {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "cannot open the store in /x: {}", self.source)
        }
    }

    impl std::error::Error for Opening {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&self.source)
        }
    }

    #[test]
    fn each_cause_is_written_once() {
        let io = std::io::Error::other("the data directory is in use");
        let e = anyhow::Error::new(Opening { source: io });
        assert_eq!(
            error_line(&e),
            "cannot open the store in /x: the data directory is in use"
        );
        let e = anyhow::Error::new(std::io::Error::other("disk full")).context("writing a.json");
        assert_eq!(error_line(&e), "writing a.json: disk full");
    }
}
