//! Tags with lofty: title, artist, album, album artist, genres, year, track and disc number,
//! compilation, MusicBrainz ids, duration and bit rate; and the cover picture a file carries.

use std::path::Path;

use lofty::prelude::*;
use lofty::probe::Probe;
use lofty::tag::{ItemKey, Tag};

/// What a file's own tags say. Every field may be missing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FileTags {
    pub title: Option<String>,
    pub artist: Option<String>,
    pub album: Option<String>,
    pub album_artist: Option<String>,
    /// The first genre; `genres` holds them all.
    pub genre: Option<String>,
    pub genres: Vec<String>,
    pub year: Option<u32>,
    pub track_number: Option<u32>,
    pub disc_number: Option<u32>,
    pub compilation: bool,
    pub musicbrainz_recording: Option<String>,
    pub musicbrainz_release: Option<String>,
    pub musicbrainz_artist: Option<String>,
    pub musicbrainz_release_artist: Option<String>,
    pub duration_seconds: Option<f64>,
    /// Kilobits per second.
    pub bit_rate: Option<u32>,
    /// Whether the tags hold a picture.
    pub has_picture: bool,
}

fn clean(v: Option<std::borrow::Cow<'_, str>>) -> Option<String> {
    v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty())
}

fn text(tag: &Tag, key: &ItemKey) -> Option<String> {
    tag.get_string(key)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// "Rock; Pop", "Rock/Pop" and repeated genre fields become one list; ID3v1 numeric genres
/// ("(17)") are left as lofty gives them.
fn genres(tag: &Tag) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for value in tag.get_strings(&ItemKey::Genre) {
        for part in value.split([';', '/', '\0']) {
            let g = part.trim();
            if !g.is_empty() && !out.iter().any(|o| o.eq_ignore_ascii_case(g)) {
                out.push(g.to_string());
            }
        }
    }
    out
}

/// The year of a date tag such as "2004-05-01" or "2004".
fn year_of(date: &str) -> Option<u32> {
    date.get(..4)?.parse().ok().filter(|y| *y > 0)
}

/// Reads the file's tags; a file lofty cannot parse yields empty tags (the decoder decides
/// whether the audio itself is usable).
pub fn read_tags(path: &Path) -> FileTags {
    try_read_tags(path).unwrap_or_default()
}

/// Reads the file's tags and its audio properties; a file that is no audio file lofty knows,
/// or is damaged where the tags are, is an error (a tags-only scan has no decoder to decide).
pub fn try_read_tags(path: &Path) -> Result<FileTags, crate::AudioError> {
    let tagged = Probe::open(path)
        .map_err(|e| crate::AudioError::Corrupt(e.to_string()))?
        .guess_file_type()?
        .read()
        .map_err(|e| crate::AudioError::Corrupt(e.to_string()))?;
    let properties = tagged.properties();
    let duration = properties.duration().as_secs_f64();
    let mut out = FileTags {
        duration_seconds: (duration > 0.0).then_some(duration),
        bit_rate: properties
            .audio_bitrate()
            .or(properties.overall_bitrate())
            .filter(|b| *b > 0),
        ..Default::default()
    };
    if let Some(tag) = tagged.primary_tag().or_else(|| tagged.first_tag()) {
        out.title = clean(tag.title());
        out.artist = clean(tag.artist());
        out.album = clean(tag.album());
        out.album_artist = text(tag, &ItemKey::AlbumArtist);
        out.genres = genres(tag);
        out.genre = out.genres.first().cloned().or_else(|| clean(tag.genre()));
        out.year = tag.year().filter(|y| *y > 0).or_else(|| {
            [
                ItemKey::RecordingDate,
                ItemKey::ReleaseDate,
                ItemKey::OriginalReleaseDate,
            ]
            .iter()
            .find_map(|k| tag.get_string(k).and_then(year_of))
        });
        out.track_number = tag.track().filter(|n| *n > 0);
        out.disc_number = tag.disk().filter(|n| *n > 0);
        out.compilation = text(tag, &ItemKey::FlagCompilation)
            .is_some_and(|v| matches!(v.as_str(), "1" | "true" | "True" | "TRUE" | "yes"));
        out.musicbrainz_recording = text(tag, &ItemKey::MusicBrainzRecordingId);
        out.musicbrainz_release = text(tag, &ItemKey::MusicBrainzReleaseId);
        out.musicbrainz_artist = text(tag, &ItemKey::MusicBrainzArtistId);
        out.musicbrainz_release_artist = text(tag, &ItemKey::MusicBrainzReleaseArtistId);
        out.has_picture = !tag.pictures().is_empty();
    }
    if !out.has_picture {
        out.has_picture = tagged.tags().iter().any(|t| !t.pictures().is_empty());
    }
    Ok(out)
}

/// The front cover inside a file's tags (or the first picture when none is marked front), as
/// bytes and a MIME type when the tags say one.
pub fn embedded_picture(path: &Path) -> Option<(Vec<u8>, Option<String>)> {
    let tagged = Probe::open(path).and_then(|p| p.read()).ok()?;
    let pictures: Vec<&lofty::picture::Picture> =
        tagged.tags().iter().flat_map(|t| t.pictures()).collect();
    let pick = pictures
        .iter()
        .find(|p| p.pic_type() == lofty::picture::PictureType::CoverFront)
        .or_else(|| pictures.first())?;
    Some((
        pick.data().to_vec(),
        pick.mime_type().map(|m| m.as_str().to_string()),
    ))
}

/// Image names a folder's cover goes by, best first (as Navidrome and most players look).
const COVER_NAMES: &[&str] = &["cover", "folder", "front", "album", "albumart", "artwork"];
const IMAGE_EXTENSIONS: &[&str] = &["jpg", "jpeg", "png", "webp", "gif"];

/// The cover image file in `dir`, if one is there.
pub fn folder_cover(dir: &Path) -> Option<std::path::PathBuf> {
    let mut best: Option<(usize, std::path::PathBuf)> = None;
    for entry in std::fs::read_dir(dir).ok()?.flatten() {
        let path = entry.path();
        let (Some(stem), Some(ext)) = (
            path.file_stem().and_then(|s| s.to_str()),
            path.extension().and_then(|s| s.to_str()),
        ) else {
            continue;
        };
        if !IMAGE_EXTENSIONS.contains(&ext.to_ascii_lowercase().as_str()) {
            continue;
        }
        let stem = stem.to_ascii_lowercase();
        if let Some(rank) = COVER_NAMES.iter().position(|n| *n == stem) {
            if best
                .as_ref()
                .is_none_or(|(r, p)| rank < *r || (rank == *r && path < *p))
            {
                best = Some((rank, path));
            }
        }
    }
    best.map(|(_, p)| p)
}
