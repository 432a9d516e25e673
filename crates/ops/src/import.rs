//! Importing a catalog file (JSON array, JSON lines, CSV): read row by row, so a bad row is
//! that row's failure (named by its line) and the rest still load; written in batches, each one
//! durable write, the next batch embedded while one is written. The CLI's `ingest` and
//! `init-sample-data` call [`import_rows`]; `POST /v1/tracks` with a CSV or JSON lines body
//! calls [`import_text`], which answers with one result per row.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::path::Path;
use std::time::Instant;

use music_rag_core::{CoreError, Engine, IngestReport, Track, UpsertOutcome};
pub use music_rag_import::Format;
use music_rag_import::Row;

use crate::error::{OpsError, Result};
use crate::progress::Progress;
pub use crate::report::{ImportFailure, ImportReport};

/// Tracks per durable write during imports.
pub const IMPORT_BATCH: usize = 64;

/// Every row of a catalog file, its format known from its name or its first characters, with
/// the CSV columns it ignored.
pub fn read_catalog_file(path: &Path) -> Result<(Vec<Row>, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .map_err(OpsError::io(format!("cannot read {}", path.display())))?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let format = music_rag_import::detect_format(name, &text);
    let parsed = music_rag_import::parse(&text, format).map_err(|e| OpsError::Input {
        what: format!("cannot import {}", path.display()),
        message: e.to_string(),
    })?;
    Ok((parsed.rows, parsed.ignored_columns))
}

/// Pairs vectors computed elsewhere (JSON lines `{"id", "embedding", "embedding_model"}`) with
/// the rows by id; checked in full before anything is written.
pub fn attach_vectors_file(rows: &mut [Row], path: &Path) -> Result<()> {
    let text = std::fs::read_to_string(path)
        .map_err(OpsError::io(format!("cannot read {}", path.display())))?;
    music_rag_import::attach_vectors(rows, &text).map_err(|e| OpsError::Input {
        what: format!("--vectors {}", path.display()),
        message: e.to_string(),
    })?;
    Ok(())
}

/// Checks every row as an import would, writing nothing.
pub fn dry_run(rows: Vec<Row>, source: &str) -> ImportReport {
    let mut report = ImportReport {
        source: source.to_string(),
        rows: rows.len(),
        dry_run: true,
        ..Default::default()
    };
    for row in rows {
        let checked = row.track.map_err(|m| (None, m)).and_then(|t| {
            t.validated().map_err(|e| match e {
                CoreError::Invalid(f) => (Some(f.field.clone()), f.to_string()),
                other => (None, other.to_string()),
            })
        });
        match checked {
            Ok(_) => report.created += 1,
            Err((field, message)) => report.failed.push(ImportFailure {
                line: Some(row.line),
                path: None,
                id: None,
                field,
                message,
            }),
        }
    }
    report
}

/// Imports rows in batches of [`IMPORT_BATCH`]; each batch is one durable write, embedded while
/// the one before it is written. Rows are moved into batches as the pipeline asks for them, so
/// an import holds its rows once (a million rows with their vectors are gigabytes).
pub fn import_rows(
    engine: &Engine,
    rows: Vec<Row>,
    source: &str,
    progress: &dyn Progress,
) -> Result<ImportReport> {
    let started = Instant::now();
    let mut report = ImportReport {
        source: source.to_string(),
        rows: rows.len(),
        ..Default::default()
    };
    progress.begin(rows.len() as u64, &format!("importing {source}"));
    let total = rows.len();
    let unreadable = RefCell::new(Vec::new());
    let batch_lines = RefCell::new(VecDeque::new());
    let mut rows = rows.into_iter().peekable();
    let batches = std::iter::from_fn(|| {
        rows.peek()?;
        let (mut lines, mut tracks, mut count) = (Vec::new(), Vec::new(), 0);
        for row in rows.by_ref().take(IMPORT_BATCH) {
            count += 1;
            match row.track {
                Ok(t) => {
                    lines.push(row.line);
                    tracks.push((t, row.vector));
                }
                Err(message) => unreadable.borrow_mut().push(ImportFailure {
                    line: Some(row.line),
                    path: None,
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
        engine.upsert_batches(batches, |batch| -> Result<()> {
            let (lines, count) = batch_lines.borrow_mut().pop_front().unwrap_or_default();
            for (line, outcome) in lines.iter().zip(&batch.results) {
                if let UpsertOutcome::Invalid { id, field, message } = outcome {
                    report.failed.push(ImportFailure {
                        line: Some(*line),
                        path: None,
                        id: id.clone(),
                        field: Some(field.clone()),
                        message: message.clone(),
                    });
                }
            }
            report.absorb(&batch);
            progress.advance(count as u64);
            Ok(())
        })?;
        progress.working_on(&format!("indexing {source}"));
        Ok(())
    })?;
    report.failed.extend(unreadable.into_inner());
    progress.finish();
    report.finish(started);
    report.failed.sort_by_key(|e| e.line);
    Ok(report)
}

/// A catalog file sent as a request body (`text/csv`, JSON lines): the readable rows written
/// in one batch (all or nothing when asked), and one result per row in row order, a row that
/// could not be read named by its line. At most `max_rows` rows.
pub fn import_text(
    engine: &Engine,
    text: &str,
    format: Format,
    all_or_nothing: bool,
    max_rows: usize,
) -> Result<IngestReport> {
    let parsed = music_rag_import::parse(text, format)
        .map_err(|e| CoreError::invalid("body", e.to_string()))?;
    check_batch_size(parsed.rows.len(), max_rows)?;
    let mut unreadable: Vec<(usize, UpsertOutcome)> = Vec::new();
    let mut tracks: Vec<Track> = Vec::new();
    for (i, row) in parsed.rows.into_iter().enumerate() {
        match row.track {
            Ok(t) => tracks.push(t),
            Err(message) => unreadable.push((
                i,
                UpsertOutcome::Invalid {
                    id: None,
                    field: format!("line {}", row.line),
                    message: format!("line {}: {message}", row.line),
                },
            )),
        }
    }
    if all_or_nothing {
        if let Some((_, UpsertOutcome::Invalid { field, message, .. })) = unreadable.first() {
            return Err(CoreError::invalid(
                field.clone(),
                format!("{message}; nothing was written (all_or_nothing)"),
            )
            .into());
        }
    }
    let mut report = write_batch(engine, tracks, all_or_nothing)?;
    for (position, outcome) in unreadable {
        report.failed += 1;
        report.results.insert(position, outcome);
    }
    Ok(report)
}

/// Writes one batch of tracks, all or nothing when asked.
pub fn write_batch(
    engine: &Engine,
    tracks: Vec<Track>,
    all_or_nothing: bool,
) -> Result<IngestReport> {
    Ok(if all_or_nothing {
        engine.upsert_all_or_nothing(tracks)?
    } else {
        engine.upsert(tracks)?
    })
}

/// Refuses a batch of more than `max` tracks (`MAX_BATCH_SIZE`), naming the rule.
pub fn check_batch_size(len: usize, max: usize) -> Result<()> {
    if len > max {
        return Err(OpsError::TooLarge {
            field: "tracks",
            message: format!("must hold at most {max} tracks (MAX_BATCH_SIZE); got {len}"),
        });
    }
    Ok(())
}
