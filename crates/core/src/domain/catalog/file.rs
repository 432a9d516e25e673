//! What a music file in a library says of itself beyond the catalog's own fields: album
//! artist, track and disc numbers, every genre, the compilation flag, MusicBrainz ids, and the
//! file's format, size and bit rate. Browsing by artist and album, and the Subsonic API, read
//! these; search reads the catalog fields the scan fills from the same tags.

use serde::{Deserialize, Serialize};

use crate::domain::catalog::limits::{self, SHORT_TEXT_MAX_BYTES};
use crate::error::FieldError;

/// Where a song's cover picture is.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "path")]
pub enum CoverSource {
    /// A picture inside the audio file's tags (ID3 APIC, FLAC/Vorbis picture, MP4 covr).
    Embedded,
    /// An image file in the song's folder (cover.jpg, folder.png, ...).
    Folder(String),
}

/// MusicBrainz identifiers found in the tags.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct MusicBrainzIds {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artist: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub release_artist: Option<String>,
}

impl MusicBrainzIds {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A library file's own facts.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub album_artist: Option<String>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::domain::wire::optional_u32"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100000))]
    pub track_number: Option<u32>,
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::domain::wire::optional_u32"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100000))]
    pub disc_number: Option<u32>,
    /// Every genre the tags name, in their order (the catalog's `metadata.genre` is the first).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub genres: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub compilation: bool,
    #[serde(
        skip_serializing_if = "MusicBrainzIds::is_empty",
        deserialize_with = "crate::domain::wire::object"
    )]
    pub musicbrainz: MusicBrainzIds,
    /// Kilobits per second.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::domain::wire::optional_u32"
    )]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 100000))]
    pub bit_rate: Option<u32>,
    /// The file name's extension, lower case ("mp3", "flac").
    pub suffix: String,
    /// The MIME type a player is sent ("audio/mpeg").
    pub content_type: String,
    /// Bytes.
    #[cfg_attr(
        feature = "openapi",
        schema(minimum = 0, maximum = 9223372036854775807_u64)
    )]
    pub size: u64,
    /// Modification time, seconds since 1970.
    pub modified: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cover: Option<CoverSource>,
    /// The music folder the file was found under (a scan's root); none for uploads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub folder: Option<String>,
}

/// The MIME type of an audio file's extension.
pub fn content_type_of(suffix: &str) -> &'static str {
    match suffix {
        "mp3" => "audio/mpeg",
        "flac" => "audio/flac",
        "ogg" | "oga" => "audio/ogg",
        "opus" => "audio/ogg",
        "wav" => "audio/wav",
        "m4a" | "mp4" | "aac" => "audio/mp4",
        _ => "application/octet-stream",
    }
}

impl FileInfo {
    pub(crate) fn normalize(&mut self) {
        if let Some(a) = &mut self.album_artist {
            let t = a.trim();
            if t.is_empty() {
                self.album_artist = None;
            } else {
                *a = t.to_string();
            }
        }
        self.genres
            .iter_mut()
            .for_each(|g| *g = g.trim().to_string());
        self.genres.retain(|g| !g.is_empty());
        let mut seen = std::collections::HashSet::new();
        self.genres.retain(|g| seen.insert(g.to_lowercase()));
    }

    pub(crate) fn validate(&self) -> Result<(), FieldError> {
        let texts = [
            ("file.album_artist", self.album_artist.as_deref()),
            ("file.suffix", Some(self.suffix.as_str())),
            ("file.content_type", Some(self.content_type.as_str())),
            (
                "file.musicbrainz.recording",
                self.musicbrainz.recording.as_deref(),
            ),
            (
                "file.musicbrainz.release",
                self.musicbrainz.release.as_deref(),
            ),
            (
                "file.musicbrainz.artist",
                self.musicbrainz.artist.as_deref(),
            ),
            (
                "file.musicbrainz.release_artist",
                self.musicbrainz.release_artist.as_deref(),
            ),
            (
                "file.cover.path",
                match &self.cover {
                    Some(CoverSource::Folder(p)) => Some(p.as_str()),
                    _ => None,
                },
            ),
            ("file.folder", self.folder.as_deref()),
        ];
        for (field, value) in texts {
            if let Some(v) = value {
                if v.len() > SHORT_TEXT_MAX_BYTES {
                    return Err(FieldError::new(
                        field,
                        format!("must be at most {SHORT_TEXT_MAX_BYTES} bytes"),
                    ));
                }
                limits::check_no_nul(field, v)?;
            }
        }
        if self.genres.len() > limits::LIST_MAX_ITEMS {
            return Err(FieldError::new(
                "file.genres",
                format!("must have at most {} items", limits::LIST_MAX_ITEMS),
            ));
        }
        for (i, g) in self.genres.iter().enumerate() {
            if g.len() > limits::LIST_ITEM_MAX_BYTES {
                return Err(FieldError::new(
                    format!("file.genres[{i}]"),
                    format!("must be at most {} bytes", limits::LIST_ITEM_MAX_BYTES),
                ));
            }
            limits::check_no_nul(&format!("file.genres[{i}]"), g)?;
        }
        if self.size > i64::MAX as u64 {
            return Err(FieldError::new(
                "file.size",
                "must be at most 2^63 - 1 bytes",
            ));
        }
        for (field, n) in [
            ("file.track_number", self.track_number),
            ("file.disc_number", self.disc_number),
            ("file.bit_rate", self.bit_rate),
        ] {
            if n.is_some_and(|n| n > 100_000) {
                return Err(FieldError::new(field, "must be at most 100000"));
            }
        }
        Ok(())
    }
}
