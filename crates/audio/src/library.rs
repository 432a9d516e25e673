//! A folder of music files to tracks: find them, fingerprint them, read tags, analyse.

use std::path::{Path, PathBuf};

use music_rag_core::domain::catalog::file::{
    content_type_of, CoverSource, FileInfo, MusicBrainzIds,
};
use music_rag_core::domain::catalog::hash::content_hash;
use music_rag_core::{Metadata, Track};

use crate::{read_tags, AudioError, FileTags};

/// File extensions the decoder handles.
pub const AUDIO_EXTENSIONS: &[&str] = &["mp3", "flac", "ogg", "oga", "wav", "m4a", "mp4", "aac"];

fn is_audio(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| AUDIO_EXTENSIONS.contains(&e.to_ascii_lowercase().as_str()))
}

/// Audio files under `dir`, recursively, in path order, each once (links to the same file are
/// one file). Unreadable folders are skipped.
pub fn find_audio_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            match e.file_type() {
                Ok(t) if t.is_dir() => stack.push(p),
                Ok(_) if is_audio(&p) => out.push(p),
                _ => {}
            }
        }
    }
    out.sort();
    let mut seen = std::collections::HashSet::new();
    out.retain(|p| seen.insert(p.canonicalize().unwrap_or_else(|_| p.clone())));
    out
}

/// Size and modification time: equal means the file was not touched since it was analysed.
pub fn fingerprint(path: &Path) -> Result<String, AudioError> {
    let m = std::fs::metadata(path)?;
    let modified = m
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    Ok(format!("{}:{modified}", m.len()))
}

/// The id of the track a file becomes: stable for the file's location.
pub fn track_id(path: &Path) -> String {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let hash = content_hash(canonical.to_string_lossy().as_bytes());
    format!("audio:{}", &hash[..16])
}

/// "03_-_the_long_road.ogg" -> "03 - the long road".
fn title_from_name(path: &Path) -> String {
    let stem = path
        .file_stem()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_default();
    let spaced: String = stem
        .chars()
        .map(|c| if c == '_' { ' ' } else { c })
        .collect();
    let t = spaced.split_whitespace().collect::<Vec<_>>().join(" ");
    if t.is_empty() {
        "Untitled".into()
    } else {
        t
    }
}

/// A file turned into a track, with what it took.
#[derive(Debug, Clone)]
pub struct AnalysedFile {
    pub track: Track,
    /// Whether the title and artist came from tags (false: from the file name).
    pub tagged: bool,
    pub audio_seconds: f64,
}

/// The file's own facts: format, size, modification time, bit rate, and what the tags say
/// beyond the catalog's fields. `cover` is where its picture is, when it has one.
pub fn file_info(path: &Path, tags: &FileTags, cover: Option<CoverSource>) -> FileInfo {
    let meta = std::fs::metadata(path).ok();
    let suffix = path
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    FileInfo {
        album_artist: tags.album_artist.clone(),
        track_number: tags.track_number,
        disc_number: tags.disc_number,
        genres: tags.genres.clone(),
        compilation: tags.compilation,
        musicbrainz: MusicBrainzIds {
            recording: tags.musicbrainz_recording.clone(),
            release: tags.musicbrainz_release.clone(),
            artist: tags.musicbrainz_artist.clone(),
            release_artist: tags.musicbrainz_release_artist.clone(),
        },
        bit_rate: tags.bit_rate,
        content_type: content_type_of(&suffix).to_string(),
        suffix,
        size: meta.as_ref().map_or(0, std::fs::Metadata::len),
        modified: meta
            .and_then(|m| m.modified().ok())
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map_or(0, |d| d.as_secs() as i64),
        cover,
        folder: None,
    }
}

/// Where a file's cover is: its own tags first, then an image in its folder.
pub fn cover_of(path: &Path, tags: &FileTags) -> Option<CoverSource> {
    if tags.has_picture {
        return Some(CoverSource::Embedded);
    }
    path.parent()
        .and_then(crate::tags::folder_cover)
        .map(|p| CoverSource::Folder(p.to_string_lossy().into_owned()))
}

/// The track a file's tags make, before (or without) listening to it.
fn track_from_tags(path: &Path, tags: &FileTags, cover: Option<CoverSource>) -> Track {
    let canonical = path.canonicalize().unwrap_or_else(|_| path.to_path_buf());
    let description = match (tags.track_number, &tags.album) {
        (Some(n), Some(album)) => Some(format!("Track {n} of {album}.")),
        (Some(n), None) => Some(format!("Track {n}.")),
        _ => None,
    };
    Track {
        id: track_id(path),
        title: tags.title.clone().unwrap_or_else(|| title_from_name(path)),
        artist: tags
            .artist
            .clone()
            .unwrap_or_else(|| music_rag_core::domain::catalog::track::UNKNOWN_ARTIST.into()),
        description,
        audio_path: Some(canonical.to_string_lossy().to_string()),
        album: tags.album.clone(),
        year: tags
            .year
            .and_then(|y| i32::try_from(y).ok())
            .filter(|y| (1000..=2100).contains(y)),
        metadata: Metadata {
            genre: tags.genre.clone(),
            duration: tags.duration_seconds.map(|d| d as f32),
            ..Default::default()
        },
        file: Some(file_info(path, tags, cover)),
        ..Default::default()
    }
}

/// Reads one file's tags only (no decoding): the fast first pass of a library scan. `cover`
/// says where its picture is (`cover_of`, or a caller's cache of folder images). A panic
/// while reading becomes this file's error.
pub fn tag_file(
    path: &Path,
    cover: impl FnOnce(&Path, &FileTags) -> Option<CoverSource>,
) -> Result<AnalysedFile, AudioError> {
    crate::decode::guarded(|| {
        if std::fs::metadata(path)?.len() == 0 {
            return Err(AudioError::Corrupt("the file is empty".into()));
        }
        let tags = crate::tags::try_read_tags(path)?;
        let cover = cover(path, &tags);
        Ok(AnalysedFile {
            tagged: tags.title.is_some(),
            audio_seconds: tags.duration_seconds.unwrap_or(0.0),
            track: track_from_tags(path, &tags, cover),
        })
    })
}

/// Reads tags, decodes and analyses one file. Measured tempo, key and duration fill what the
/// tags lack; the derived words become tags.
/// A panic while reading, decoding or analysing becomes this file's error.
pub fn analyse_file(path: &Path) -> Result<AnalysedFile, AudioError> {
    crate::decode::guarded(|| analyse_file_unguarded(path))
}

fn analyse_file_unguarded(path: &Path) -> Result<AnalysedFile, AudioError> {
    let fingerprint = fingerprint(path)?;
    let tags = read_tags(path);
    let extension = path.extension().and_then(|e| e.to_str());
    let (mut features, decoded) =
        crate::listen::analyse_and_hear_source(Box::new(std::fs::File::open(path)?), extension)?;
    features.file_fingerprint = Some(fingerprint);
    let mut track = track_from_tags(path, &tags, cover_of(path, &tags));
    track.tags = features.words.clone();
    track.metadata.tempo = features.tempo_bpm.map(|t| (t * 10.0).round() / 10.0);
    track.metadata.key = features.key.clone();
    track.metadata.duration =
        Some(tags.duration_seconds.unwrap_or(decoded.duration_seconds) as f32);
    track.audio = Some(features);
    Ok(AnalysedFile {
        track,
        tagged: tags.title.is_some(),
        audio_seconds: decoded.duration_seconds,
    })
}
