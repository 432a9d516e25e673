//! Tags with lofty: title, artist, album, genre, year, track number, duration.

use std::path::Path;

use lofty::prelude::*;
use lofty::probe::Probe;

/// What a file's own tags say. Every field may be missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileTags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub genre: Option<String>,
    pub year: Option<u32>,
    pub track_number: Option<u32>,
    pub duration_seconds: Option<f64>,
}

fn clean(v: Option<std::borrow::Cow<'_, str>>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

/// Reads the file's tags; a file lofty cannot parse yields empty tags (the decoder decides
/// whether the audio itself is usable).
pub fn read_tags(path: &Path) -> FileTags {
    let Ok(tagged) = Probe::open(path).and_then(|p| p.read()) else {
        return FileTags::default();
    };
    let duration = tagged.properties().duration().as_secs_f64();
    let mut out = FileTags {
        duration_seconds: (duration > 0.0).then_some(duration),
        ..Default::default()
    };
    if let Some(tag) = tagged.primary_tag().or_else(|| tagged.first_tag()) {
        out.title = clean(tag.title());
        out.artist = clean(tag.artist());
        out.album = clean(tag.album());
        out.genre = clean(tag.genre());
        out.year = tag.year().filter(|y| *y > 0);
        out.track_number = tag.track();
    }
    out
}
