//! Loading the in-memory catalog from the database at open: this thread reads the rows, workers
//! parse them (JSON, facets, vectors) on the other cores, and one thread inserts them in slot
//! order, so reading, parsing and inserting overlap. A catalog the track cache can hold whole
//! leaves its tracks in the cache on the way.

use std::collections::BTreeMap;
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::{Arc, Mutex};

use music_rag_core::Track;

use crate::bodies::Bodies;
use crate::memory::{Catalog, Entry};
use crate::sqlite::{Db, RawRow};
use crate::StoreError;

/// Rows per message between the threads.
const CHUNK: usize = 2048;

/// A loaded row: its entry, its vector, and the track when the cache keeps it.
type Loaded = (Entry, Vec<f32>, Option<Arc<Track>>);
type Parsed = Result<Vec<Loaded>, StoreError>;

pub(crate) fn load_catalog(
    db: &Db,
    dim: usize,
    bodies: &Bodies,
    index_from: usize,
) -> Result<Catalog, StoreError> {
    let mut catalog = Catalog::new(dim);
    catalog.index_from(index_from);
    let tracks = db.track_count()?;
    catalog.reserve(tracks);
    let keep = tracks <= bodies.capacity();
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get().clamp(1, 4));
    let (raw_tx, raw_rx) = sync_channel::<(usize, Vec<RawRow>)>(workers * 2);
    // Shared by the workers; dropped with the last of them, so a reader whose rows nobody
    // takes any more fails to send instead of waiting.
    let raw_rx = Arc::new(Mutex::new(raw_rx));
    let (parsed_tx, parsed_rx) = sync_channel::<(usize, Parsed)>(workers * 2);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            let (raw_rx, parsed_tx) = (raw_rx.clone(), parsed_tx.clone());
            scope.spawn(move || {
                parse_chunks(&raw_rx, dim, keep, |n, parsed| {
                    parsed_tx.send((n, parsed)).is_ok()
                })
            });
        }
        drop((raw_rx, parsed_tx));
        let inserter = scope.spawn(move || insert_in_order(catalog, parsed_rx, bodies));
        let mut n = 0;
        let read = db.raw_rows(CHUNK, |rows| {
            raw_tx
                .send((n, rows))
                .map_err(|_| StoreError::Corrupt("the catalog loader stopped".into()))?;
            n += 1;
            Ok(())
        });
        drop(raw_tx);
        let loaded = inserter
            .join()
            .map_err(|_| StoreError::Corrupt("the catalog loader panicked".into()))?;
        // The inserter's error is the cause when both failed.
        let catalog = loaded?;
        read?;
        Ok(catalog)
    })
}

/// Takes chunks until the reader is done; `send` returns false once nobody listens.
fn parse_chunks(
    raw_rx: &Mutex<Receiver<(usize, Vec<RawRow>)>>,
    dim: usize,
    keep: bool,
    send: impl Fn(usize, Parsed) -> bool,
) {
    loop {
        let next = match raw_rx.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((n, rows)) = next else { return };
        let parsed = rows.into_iter().map(|r| parse(r, dim, keep)).collect();
        if !send(n, parsed) {
            return;
        }
    }
}

fn parse(raw: RawRow, dim: usize, keep: bool) -> Result<Loaded, StoreError> {
    let r = raw.parse()?;
    if r.embedding.len() != dim {
        return Err(StoreError::Corrupt(format!(
            "track {} has a vector of {} floats, expected {dim}",
            r.track.id,
            r.embedding.len()
        )));
    }
    let entry = Entry::of(r.slot, &r.track, r.content_hash, r.text_hash);
    Ok((entry, r.embedding, keep.then(|| Arc::new(r.track))))
}

/// Inserts the chunks in the order they were read, whatever order the workers finish in.
fn insert_in_order(
    mut catalog: Catalog,
    parsed: Receiver<(usize, Parsed)>,
    bodies: &Bodies,
) -> Result<Catalog, StoreError> {
    let mut pending = BTreeMap::new();
    let mut next = 0;
    for (n, chunk) in parsed {
        pending.insert(n, chunk);
        while let Some(chunk) = pending.remove(&next) {
            for (entry, vector, track) in chunk? {
                if let Some(track) = track {
                    bodies.put(entry.slot, track);
                }
                catalog.insert(entry, &vector);
            }
            next += 1;
        }
    }
    Ok(catalog)
}
