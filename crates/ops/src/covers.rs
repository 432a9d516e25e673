//! The cover picture of a song, album or artist, read from where the scan found it: the song
//! file's own tags, or an image in its folder (only inside `roots`, the folders the server may
//! read). The Subsonic `getCoverArt` and `/v1/library/covers/{id}` share it.

use std::path::{Path, PathBuf};

use music_rag_core::domain::catalog::file::CoverSource;
use music_rag_core::domain::library::{kind_of, ItemKind};
use music_rag_core::{CoreError, Engine};

/// A picture's bytes and, when its source says it, its MIME type.
pub type RawPicture = (Vec<u8>, Option<String>);

fn none(id: &str) -> CoreError {
    CoreError::NotFound(format!("{id} has no cover art"))
}

/// The picture of `id` (a song, `al-…` album or `ar-…` artist); not found when the item or its
/// picture is missing.
pub fn picture_of(engine: &Engine, id: &str, roots: &[PathBuf]) -> Result<RawPicture, CoreError> {
    let index = engine.library()?;
    let song_id = match kind_of(id) {
        ItemKind::Song => index.song(id).map(|t| t.id.clone()),
        ItemKind::Album => index.album(id).and_then(|a| a.cover_song.clone()),
        ItemKind::Artist => index.artist(id).and_then(|a| a.cover_song.clone()),
    };
    let song = song_id
        .and_then(|s| index.song(&s).cloned())
        .ok_or_else(|| CoreError::NotFound(format!("no song, album or artist {id}")))?;
    let source = song.file.as_ref().and_then(|f| f.cover.clone());
    match (source, song.audio_path.as_deref()) {
        (Some(CoverSource::Embedded), Some(audio)) => {
            music_rag_audio::tags::embedded_picture(Path::new(audio)).ok_or_else(|| none(id))
        }
        (Some(CoverSource::Folder(path)), _) => {
            let real = std::fs::canonicalize(&path).map_err(|_| none(id))?;
            let inside = roots
                .iter()
                .filter_map(|r| std::fs::canonicalize(r).ok())
                .any(|r| real.starts_with(r));
            if !inside {
                return Err(none(id));
            }
            Ok((std::fs::read(&real).map_err(|_| none(id))?, None))
        }
        _ => Err(none(id)),
    }
}
