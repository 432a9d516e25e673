//! Helpers shared by the embedded store's test suites.

use std::path::Path;

use music_rag_core::{Filter, Store, StoredTrack, Track};
use music_rag_store::{Access, EmbeddedStore};

pub const DIM: usize = 8;
pub const MODEL: (&str, usize) = ("test-model", DIM);

/// A track whose unit vector points mostly along `axis` (tracks on different axes differ,
/// and so do axes `DIM` apart).
pub fn item(id: &str, title: &str, axis: usize) -> StoredTrack {
    let mut embedding = vec![0.0; DIM];
    embedding[axis % DIM] = 1.0;
    embedding[(axis + 1) % DIM] = 0.25 * (axis as f32 + 1.0);
    let norm = embedding.iter().map(|x| x * x).sum::<f32>().sqrt();
    embedding.iter_mut().for_each(|x| *x /= norm);
    StoredTrack {
        track: Track {
            id: id.into(),
            title: title.into(),
            artist: "Someone".into(),
            ..Default::default()
        },
        embedding,
        content_hash: format!("c-{id}-{title}"),
        text_hash: format!("t-{id}-{title}"),
    }
}

/// The store in `dir`, opened for writing.
pub fn writer(dir: &Path) -> EmbeddedStore {
    EmbeddedStore::open(dir, Some(MODEL), Access::ReadWrite).unwrap()
}

/// The ids the keyword index finds for `text`, sorted.
pub fn keyword_ids(s: &EmbeddedStore, text: &str) -> Vec<String> {
    let mut ids: Vec<String> = s
        .keyword_search(text, &Filter::default(), 50)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    ids.sort();
    ids
}
