//! The ingest use case: validate, skip what did not change, embed what did (reusing vectors
//! whose text did not change), write each batch in one durable write, and report per track.

use std::collections::HashMap;
use std::time::Instant;

use serde::Serialize;

use crate::app::{ms_since, Engine};
use crate::domain::catalog::hash::content_hash;
use crate::domain::catalog::track::{Track, ValidTrack};
use crate::error::{CoreError, FieldError, Result};
use crate::ports::StoredTrack;

/// What happened to one track of an upsert batch.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum UpsertOutcome {
    Created {
        id: String,
    },
    Updated {
        id: String,
    },
    /// Identical to what is stored: nothing was written.
    Unchanged {
        id: String,
    },
    /// A later track in the same batch has this id and was written instead.
    Superseded {
        id: String,
    },
    Invalid {
        id: Option<String>,
        field: String,
        message: String,
    },
}

impl UpsertOutcome {
    pub fn is_ok(&self) -> bool {
        !matches!(self, UpsertOutcome::Invalid { .. })
    }
}

/// What an ingest did: one outcome per input track, in input order, with the tallies and
/// the time each stage took. Every front end (import files, audio folders, HTTP batches and
/// uploads) reports with this one type.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, Serialize)]
pub struct IngestReport {
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    /// Tracks replaced by a later track with the same id in the same batch.
    pub superseded: usize,
    pub failed: usize,
    /// Tracks whose text was embedded, and whose stored vector was reused instead.
    pub embedded: usize,
    pub reused_vectors: usize,
    pub embed_ms: f64,
    pub write_ms: f64,
    /// One result per input track, in input order.
    pub results: Vec<UpsertOutcome>,
}

impl IngestReport {
    fn from_outcomes(results: Vec<UpsertOutcome>) -> Self {
        let mut r = IngestReport::default();
        for o in &results {
            r.count(o);
        }
        r.results = results;
        r
    }

    fn count(&mut self, o: &UpsertOutcome) {
        match o {
            UpsertOutcome::Created { .. } => self.created += 1,
            UpsertOutcome::Updated { .. } => self.updated += 1,
            UpsertOutcome::Unchanged { .. } => self.unchanged += 1,
            UpsertOutcome::Superseded { .. } => self.superseded += 1,
            UpsertOutcome::Invalid { .. } => self.failed += 1,
        }
    }

    /// Adds a later batch's report to this one.
    pub fn absorb(&mut self, other: IngestReport) {
        self.created += other.created;
        self.updated += other.updated;
        self.unchanged += other.unchanged;
        self.superseded += other.superseded;
        self.failed += other.failed;
        self.embedded += other.embedded;
        self.reused_vectors += other.reused_vectors;
        self.embed_ms += other.embed_ms;
        self.write_ms += other.write_ms;
        self.results.extend(other.results);
    }

    /// Tracks now stored as the input had them (created, updated or already so).
    pub fn stored(&self) -> usize {
        self.created + self.updated + self.unchanged
    }
}

impl Engine {
    /// Runs `load`, an import of about `rows` tracks, letting the store defer index upkeep
    /// until it ends; the deferred work runs whether the import succeeded or not.
    pub fn bulk_load<T, E: From<CoreError>>(
        &self,
        rows: usize,
        load: impl FnOnce() -> std::result::Result<T, E>,
    ) -> std::result::Result<T, E> {
        self.store.begin_bulk_load(rows)?;
        let loaded = load();
        let ended = self.store.end_bulk_load();
        let value = loaded?;
        ended?;
        Ok(value)
    }

    /// Upserts one track: its outcome, or the field error that refused it.
    pub fn upsert_one(&self, track: Track) -> Result<UpsertOutcome> {
        let mut report = self.upsert(vec![track])?;
        match report.results.pop() {
            Some(UpsertOutcome::Invalid { field, message, .. }) => {
                Err(CoreError::Invalid(FieldError {
                    rule: message
                        .strip_prefix(&format!("{field} "))
                        .unwrap_or(&message)
                        .to_string(),
                    field,
                }))
            }
            Some(o) => Ok(o),
            None => Err(CoreError::Internal("upsert returned no outcome".into())),
        }
    }

    /// Validates, skips unchanged tracks, embeds what changed (reusing vectors whose text did
    /// not change), and writes the batch in one durable write. Invalid rows are reported and
    /// the valid ones are still written; of several tracks with one id, the last is written.
    pub fn upsert(&self, tracks: Vec<Track>) -> Result<IngestReport> {
        self.upsert_given(tracks.into_iter().map(|t| (t, None)).collect())
    }

    /// As `upsert`, with vectors computed elsewhere (an export, a GPU) used instead of
    /// embedding when they come from this model and have its dimension; a vector that does
    /// not is refused as the track's `embedding` field.
    pub fn upsert_given(&self, tracks: Vec<(Track, Option<GivenVector>)>) -> Result<IngestReport> {
        let prepared = self.prepare_given(tracks)?;
        self.commit(prepared)
    }

    /// Upserts batches in order, embedding each while the one before it is written (by a
    /// second thread), so the write no longer waits for the encoder nor the encoder for the
    /// write. Each batch is still one durable write; `on_written` gets each batch's report, in
    /// order, once that batch is written. A batch holding an id that a batch still in flight
    /// holds waits for that write, so it is compared with what the store then holds.
    pub fn upsert_batches<B, E>(
        &self,
        batches: B,
        mut on_written: impl FnMut(IngestReport) -> std::result::Result<(), E>,
    ) -> std::result::Result<(), E>
    where
        B: IntoIterator<Item = Vec<(Track, Option<GivenVector>)>>,
        E: From<CoreError>,
    {
        std::thread::scope(|scope| {
            // One batch waits while another is written: embedding runs at most one ahead.
            let (to_writer, written_rx) = std::sync::mpsc::sync_channel::<PreparedBatch>(1);
            let (report_tx, reports) = std::sync::mpsc::channel::<Result<IngestReport>>();
            scope.spawn(move || {
                for batch in written_rx {
                    let report = self.commit(batch);
                    let failed = report.is_err();
                    if report_tx.send(report).is_err() || failed {
                        break;
                    }
                }
            });
            let writer_gone = || CoreError::Internal("the ingest writer stopped".into());
            let mut in_flight: std::collections::VecDeque<std::collections::HashSet<String>> =
                Default::default();
            let receive = |in_flight: &mut std::collections::VecDeque<_>| {
                in_flight.pop_front();
                reports.recv().map_err(|_| writer_gone())?
            };
            for batch in batches {
                let overlaps = batch
                    .iter()
                    .any(|(t, _)| in_flight.iter().any(|ids| ids.contains(&t.id)));
                while overlaps && !in_flight.is_empty() {
                    on_written(receive(&mut in_flight)?)?;
                }
                in_flight.push_back(batch.iter().map(|(t, _)| t.id.clone()).collect());
                let prepared = self.prepare_given(batch)?;
                if to_writer.send(prepared).is_err() {
                    // The writer stopped on an error: report it.
                    break;
                }
                while in_flight.len() > 1 {
                    on_written(receive(&mut in_flight)?)?;
                }
            }
            drop(to_writer);
            while !in_flight.is_empty() {
                on_written(receive(&mut in_flight)?)?;
            }
            Ok(())
        })
    }

    /// Validates a batch and checks its given vectors, then prepares the valid tracks' write.
    fn prepare_given(&self, tracks: Vec<(Track, Option<GivenVector>)>) -> Result<PreparedBatch> {
        let (mut outcomes, valid) = validate_batch(tracks)?;
        let valid = valid
            .into_iter()
            .filter_map(|(i, t, given)| match given.map(|g| self.check_given(g)) {
                Some(Err(rule)) => {
                    outcomes[i] = Some(UpsertOutcome::Invalid {
                        id: Some(t.id.clone()),
                        message: format!("embedding {rule}"),
                        field: "embedding".into(),
                    });
                    None
                }
                Some(Ok(v)) => Some((i, t, Some(v))),
                None => Some((i, t, None)),
            })
            .collect();
        self.prepare(outcomes, valid)
    }

    fn check_given(&self, given: GivenVector) -> std::result::Result<Vec<f32>, String> {
        let (model, dim) = (self.embedder.model_id(), self.embedder.dim());
        if given.model_id != model {
            return Err(format!(
                "must come from the model this catalog uses ({model}), not {}",
                given.model_id
            ));
        }
        if given.values.len() != dim {
            return Err(format!(
                "must have {dim} numbers (got {})",
                given.values.len()
            ));
        }
        if given.values.iter().any(|x| !x.is_finite()) {
            return Err("must hold finite numbers only".into());
        }
        Ok(given.values)
    }

    /// Upserts a batch only if every track in it is valid; otherwise writes nothing and names
    /// the first invalid track's field (`tracks[2].title`).
    pub fn upsert_all_or_nothing(&self, tracks: Vec<Track>) -> Result<IngestReport> {
        let (outcomes, valid) = validate_batch(tracks.into_iter().map(|t| (t, None)).collect())?;
        for (i, o) in outcomes.iter().enumerate() {
            if let Some(UpsertOutcome::Invalid { field, message, .. }) = o {
                let rule = message
                    .strip_prefix(&format!("{field} "))
                    .unwrap_or(message);
                return Err(CoreError::Invalid(FieldError {
                    field: format!("tracks[{i}].{field}"),
                    rule: rule.to_string(),
                }));
            }
        }
        let prepared = self.prepare(outcomes, valid)?;
        self.commit(prepared)
    }

    /// Prepares the valid tracks of a validated batch: skips unchanged ones, reuses vectors
    /// whose text did not change, and embeds the rest.
    fn prepare(
        &self,
        mut outcomes: Vec<Option<UpsertOutcome>>,
        latest: Vec<(usize, ValidTrack, Option<Vec<f32>>)>,
    ) -> Result<PreparedBatch> {
        let mut timings = IngestReport::default();
        let ids: Vec<&str> = latest.iter().map(|(_, t, _)| t.id.as_str()).collect();
        let known = self.store.known(&ids)?;
        let model = self.embedder.model_id().to_string();
        let mut to_write: Vec<(usize, StoredTrack, bool)> = Vec::new();
        let mut to_embed: Vec<usize> = Vec::new();
        for (i, t, given) in latest {
            let text = t.embedding_text();
            let text_hash = content_hash(format!("{model}\n{text}").as_bytes());
            let hash = content_hash(
                &serde_json::to_vec(&t).map_err(|e| CoreError::Internal(e.to_string()))?,
            );
            let existing = known.get(&t.id);
            if existing.is_some_and(|k| k.content_hash == hash) {
                outcomes[i] = Some(UpsertOutcome::Unchanged { id: t.id.clone() });
                continue;
            }
            let reuse = match (given, existing) {
                (Some(v), _) => Some(v),
                (None, Some(k)) if k.text_hash == text_hash => self.store.get_embedding(&t.id)?,
                _ => None,
            };
            if reuse.is_none() {
                to_embed.push(to_write.len());
            } else {
                timings.reused_vectors += 1;
            }
            let stored = StoredTrack {
                track: t.into_track(),
                embedding: reuse.unwrap_or_default(),
                content_hash: hash,
                text_hash,
            };
            to_write.push((i, stored, existing.is_some()));
        }
        if !to_embed.is_empty() {
            let t = Instant::now();
            let texts: Vec<String> = to_embed
                .iter()
                .map(|&w| to_write[w].1.track.embedding_text())
                .collect();
            let vectors = self.embedder.embed_documents(&texts)?;
            for (&w, v) in to_embed.iter().zip(vectors) {
                to_write[w].1.embedding = v;
            }
            timings.embedded = to_embed.len();
            timings.embed_ms = ms_since(t);
        }
        let mut items = Vec::with_capacity(to_write.len());
        for (i, stored, existed) in to_write {
            let id = stored.track.id.clone();
            outcomes[i] = Some(if existed {
                UpsertOutcome::Updated { id }
            } else {
                UpsertOutcome::Created { id }
            });
            items.push(stored);
        }
        Ok(PreparedBatch {
            outcomes,
            items,
            timings,
        })
    }

    /// Writes a prepared batch in one durable write and reports it.
    fn commit(&self, batch: PreparedBatch) -> Result<IngestReport> {
        let PreparedBatch {
            outcomes,
            items,
            mut timings,
        } = batch;
        if !items.is_empty() {
            let t = Instant::now();
            self.store.upsert(items)?;
            timings.write_ms = ms_since(t);
        }
        let outcomes = outcomes
            .into_iter()
            .map(|o| o.ok_or_else(|| CoreError::Internal("upsert outcome missing".into())))
            .collect::<Result<Vec<_>>>()?;
        let mut report = IngestReport::from_outcomes(outcomes);
        report.embedded = timings.embedded;
        report.reused_vectors = timings.reused_vectors;
        report.embed_ms = timings.embed_ms;
        report.write_ms = timings.write_ms;
        Ok(report)
    }
}

/// A batch ready for its one durable write: every track's outcome, the tracks to write with
/// their vectors, and the embedding tallies so far.
struct PreparedBatch {
    outcomes: Vec<Option<UpsertOutcome>>,
    items: Vec<StoredTrack>,
    timings: IngestReport,
}

/// A vector computed elsewhere for a track, with the model that computed it.
#[derive(Debug, Clone, PartialEq)]
pub struct GivenVector {
    pub model_id: String,
    pub values: Vec<f32>,
}

/// Validates every track of a batch once: the outcome of each invalid or superseded one (by
/// input position), and the valid tracks to write (the last of each id, with its position
/// and any vector given with it).
type ValidatedBatch<V> = (
    Vec<Option<UpsertOutcome>>,
    Vec<(usize, ValidTrack, Option<V>)>,
);

fn validate_batch<V>(tracks: Vec<(Track, Option<V>)>) -> Result<ValidatedBatch<V>> {
    let mut outcomes: Vec<Option<UpsertOutcome>> = vec![None; tracks.len()];
    let mut valid: Vec<(usize, ValidTrack, Option<V>)> = Vec::new();
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (i, (t, given)) in tracks.into_iter().enumerate() {
        let id_hint = (!t.id.trim().is_empty()).then(|| t.id.trim().to_string());
        match t.validated() {
            Ok(t) => {
                // The last occurrence of an id in a batch wins, as sequential upserts would.
                if let Some(prev) = seen.insert(t.id.clone(), valid.len()) {
                    let (pi, _, _) = &valid[prev];
                    outcomes[*pi] = Some(UpsertOutcome::Superseded { id: t.id.clone() });
                }
                valid.push((i, t, given));
            }
            Err(CoreError::Invalid(FieldError { field, rule })) => {
                outcomes[i] = Some(UpsertOutcome::Invalid {
                    id: id_hint,
                    message: format!("{field} {rule}"),
                    field,
                });
            }
            Err(e) => return Err(e),
        }
    }
    let latest = valid
        .into_iter()
        .enumerate()
        .filter(|(vi, (_, t, _))| seen.get(&t.id) == Some(vi))
        .map(|(_, x)| x)
        .collect();
    Ok((outcomes, latest))
}
