//! The catalog model: a track with the original service's fields plus album, year, tags and
//! timestamps, and its validation.

use serde::{Deserialize, Serialize};

use crate::domain::query::text::normalize_term;
use crate::error::{CoreError, FieldError};

pub use crate::domain::catalog::limits;

/// The artist credited when a source names none (untagged files, MusicCaps clips).
pub const UNKNOWN_ARTIST: &str = "Unknown artist";

/// Whether an artist credit says only that the artist is unknown: such tracks share no artist.
pub fn is_placeholder_artist(artist: &str) -> bool {
    matches!(
        normalize_term(artist).as_str(),
        "" | "unknown" | "unknown artist" | "various artists"
    )
}

/// Descriptive and factual metadata, shaped as the original service's `metadata` object.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Metadata {
    pub genre: Option<String>,
    pub subgenre: Option<String>,
    pub cultural_origin: Option<String>,
    /// Beats per minute.
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 400))]
    pub tempo: Option<f32>,
    pub key: Option<String>,
    pub time_signature: Option<String>,
    pub instrumentation: Vec<String>,
    pub mood: Vec<String>,
    pub era: Option<String>,
    /// Seconds, more than 0 and at most a day.
    #[cfg_attr(feature = "openapi", schema(exclusive_minimum = 0, maximum = 86400))]
    pub duration: Option<f32>,
    pub is_live_performance: Option<bool>,
    pub venue: Option<String>,
    pub audience_response: Option<String>,
    pub lyrics: Option<String>,
}

/// One catalog entry. `created_at` and `updated_at` are set by the store (RFC 3339, UTC).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Track {
    pub id: String,
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, min_length = 1, pattern = r"\S")
    )]
    pub title: String,
    #[cfg_attr(
        feature = "openapi",
        schema(required = true, min_length = 1, pattern = r"\S")
    )]
    pub artist: String,
    pub description: Option<String>,
    pub audio_path: Option<String>,
    pub album: Option<String>,
    #[serde(deserialize_with = "crate::domain::wire::optional_i32")]
    #[cfg_attr(feature = "openapi", schema(minimum = 1000, maximum = 2100))]
    pub year: Option<i32>,
    pub tags: Vec<String>,
    #[serde(deserialize_with = "crate::domain::wire::object")]
    pub metadata: Metadata,
    /// Audio analysis, when the track was ingested from an audio file.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::domain::wire::optional_object"
    )]
    pub audio: Option<crate::domain::catalog::audio::AudioFeatures>,
    /// What a library file's tags and the file itself say beyond the fields above (album
    /// artist, track and disc, genres, format, size), when the track is a file of a library.
    #[serde(
        skip_serializing_if = "Option::is_none",
        deserialize_with = "crate::domain::wire::optional_object"
    )]
    pub file: Option<crate::domain::catalog::file::FileInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

fn check_text(field: &str, value: &Option<String>, max: usize) -> Result<(), FieldError> {
    match value {
        Some(v) if v.len() > max => Err(FieldError::new(
            field,
            format!("must be at most {max} bytes (got {})", v.len()),
        )),
        Some(v) => limits::check_no_nul(field, v),
        None => Ok(()),
    }
}

fn check_list(field: &str, values: &[String]) -> Result<(), FieldError> {
    if values.len() > limits::LIST_MAX_ITEMS {
        return Err(FieldError::new(
            field,
            format!(
                "must have at most {} items (got {})",
                limits::LIST_MAX_ITEMS,
                values.len()
            ),
        ));
    }
    for (i, v) in values.iter().enumerate() {
        if v.len() > limits::LIST_ITEM_MAX_BYTES {
            return Err(FieldError::new(
                format!("{field}[{i}]"),
                format!("must be at most {} bytes", limits::LIST_ITEM_MAX_BYTES),
            ));
        }
        limits::check_no_nul(&format!("{field}[{i}]"), v)?;
    }
    Ok(())
}

fn trim_opt(value: &mut Option<String>) {
    if let Some(v) = value {
        let t = v.trim();
        if t.is_empty() {
            *value = None;
        } else if t.len() != v.len() {
            *value = Some(t.to_string());
        }
    }
}

fn trim_list(values: &mut Vec<String>) {
    values.iter_mut().for_each(|v| *v = v.trim().to_string());
    values.retain(|v| !v.is_empty());
    let mut seen = std::collections::HashSet::new();
    values.retain(|v| seen.insert(v.to_lowercase()));
}

/// A track that passed [`Track::validated`]: normalised, and every rule checked. Only
/// `validated` makes one, so what takes one never validates again.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(transparent)]
pub struct ValidTrack(Track);

impl ValidTrack {
    pub fn into_track(self) -> Track {
        self.0
    }
}

impl std::ops::Deref for ValidTrack {
    type Target = Track;
    fn deref(&self) -> &Track {
        &self.0
    }
}

impl Track {
    /// Normalises whitespace and empty values, then checks every rule. The error names the
    /// first field that breaks a rule and the rule itself.
    pub fn validated(mut self) -> Result<ValidTrack, CoreError> {
        self.normalize();
        self.validate().map_err(CoreError::Invalid)?;
        Ok(ValidTrack(self))
    }

    fn normalize(&mut self) {
        self.id = self.id.trim().to_string();
        self.title = self.title.trim().to_string();
        self.artist = self.artist.trim().to_string();
        for field in [
            &mut self.description,
            &mut self.audio_path,
            &mut self.album,
            &mut self.metadata.genre,
            &mut self.metadata.subgenre,
            &mut self.metadata.cultural_origin,
            &mut self.metadata.key,
            &mut self.metadata.time_signature,
            &mut self.metadata.era,
            &mut self.metadata.venue,
            &mut self.metadata.audience_response,
            &mut self.metadata.lyrics,
        ] {
            trim_opt(field);
        }
        trim_list(&mut self.tags);
        trim_list(&mut self.metadata.instrumentation);
        trim_list(&mut self.metadata.mood);
        if let Some(f) = &mut self.file {
            f.normalize();
        }
    }

    fn validate(&self) -> Result<(), FieldError> {
        use limits::*;
        if let Some(a) = &self.audio {
            a.validate()?;
        }
        if let Some(f) = &self.file {
            f.validate()?;
        }
        if self.id.is_empty() {
            return Err(FieldError::new("id", "must not be empty"));
        }
        if self.id.len() > ID_MAX_BYTES {
            return Err(FieldError::new(
                "id",
                format!("must be at most {ID_MAX_BYTES} bytes"),
            ));
        }
        if self.id.chars().any(char::is_control) {
            return Err(FieldError::new("id", "must not contain control characters"));
        }
        for (field, value) in [("title", &self.title), ("artist", &self.artist)] {
            if value.is_empty() {
                return Err(FieldError::new(field, "is required and must not be empty"));
            }
            if value.len() > SHORT_TEXT_MAX_BYTES {
                return Err(FieldError::new(
                    field,
                    format!("must be at most {SHORT_TEXT_MAX_BYTES} bytes"),
                ));
            }
            limits::check_no_nul(field, value)?;
        }
        let m = &self.metadata;
        for (field, value) in [
            ("audio_path", &self.audio_path),
            ("album", &self.album),
            ("metadata.genre", &m.genre),
            ("metadata.subgenre", &m.subgenre),
            ("metadata.cultural_origin", &m.cultural_origin),
            ("metadata.key", &m.key),
            ("metadata.time_signature", &m.time_signature),
            ("metadata.era", &m.era),
            ("metadata.venue", &m.venue),
            ("metadata.audience_response", &m.audience_response),
        ] {
            check_text(field, value, SHORT_TEXT_MAX_BYTES)?;
        }
        check_text("description", &self.description, DESCRIPTION_MAX_BYTES)?;
        check_text("metadata.lyrics", &m.lyrics, LYRICS_MAX_BYTES)?;
        check_list("tags", &self.tags)?;
        check_list("metadata.instrumentation", &m.instrumentation)?;
        check_list("metadata.mood", &m.mood)?;
        if let Some(t) = m.tempo {
            if !(TEMPO_MIN..=TEMPO_MAX).contains(&t) {
                return Err(FieldError::new(
                    "metadata.tempo",
                    format!("must be between {TEMPO_MIN} and {TEMPO_MAX} BPM (got {t})"),
                ));
            }
        }
        if let Some(d) = m.duration {
            if !(d > 0.0 && d <= DURATION_MAX_SECONDS) {
                return Err(FieldError::new(
                    "metadata.duration",
                    format!(
                        "must be more than 0 and at most {DURATION_MAX_SECONDS} seconds (got {d})"
                    ),
                ));
            }
        }
        if let Some(y) = self.year {
            if !(YEAR_MIN..=YEAR_MAX).contains(&y) {
                return Err(FieldError::new(
                    "year",
                    format!("must be between {YEAR_MIN} and {YEAR_MAX} (got {y})"),
                ));
            }
        }
        Ok(())
    }

    /// Whether the title names the track, rather than describing it with the track's own
    /// aspects ("Sad ballad", "Energetic piano piece", "Clip"), as catalogs without titles fill
    /// them in: such a title is no evidence that a query naming those aspects names this
    /// track, so it counts as a description, not as a name.
    pub fn title_is_name(&self) -> bool {
        const GENERIC: [&str; 3] = ["piece", "clip", "untitled"];
        let m = &self.metadata;
        let aspects = normalize_term(
            &[m.genre.as_deref(), m.subgenre.as_deref()]
                .into_iter()
                .flatten()
                .chain(m.mood.iter().map(String::as_str))
                .chain(m.instrumentation.iter().map(String::as_str))
                .collect::<Vec<_>>()
                .join(" "),
        );
        let aspect_words: std::collections::HashSet<&str> = aspects.split(' ').collect();
        !normalize_term(&self.title)
            .split(' ')
            .filter(|w| !w.is_empty())
            .all(|w| GENERIC.contains(&w) || aspect_words.contains(w))
    }

    /// The title when it names the track (see [`Track::title_is_name`]), else "".
    pub fn name_title(&self) -> &str {
        if self.title_is_name() {
            &self.title
        } else {
            ""
        }
    }

    /// The text a track is embedded as: lean (every token costs inference time) and ordered
    /// by how much each field says about the music.
    /// A placeholder title ("Sad ballad") or artist ("Unknown artist") is left out: it only
    /// repeats the facets or says nothing, and in the vector it outweighs the description
    /// (dense-only nDCG@10 on the descriptive sets: 20.8 / 22.3 with them, 25.4 / 27.6
    /// without; see docs/QUALITY.md).
    pub fn embedding_text(&self) -> String {
        let m = &self.metadata;
        let title = self.name_title();
        let artist = if is_placeholder_artist(&self.artist) {
            ""
        } else {
            self.artist.as_str()
        };
        let mut out = match (title.is_empty(), artist.is_empty()) {
            (false, false) => format!("{title} by {artist}."),
            (false, true) => format!("{title}."),
            (true, false) => format!("By {artist}."),
            (true, true) => String::new(),
        };
        let mut push = |label: &str, value: String| {
            if !value.is_empty() {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(label);
                out.push_str(&value);
                out.push('.');
            }
        };
        let genre = [m.genre.as_deref(), m.subgenre.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(", ");
        push("Genre: ", genre);
        push("Mood: ", m.mood.join(", "));
        push("Instruments: ", m.instrumentation.join(", "));
        push("Origin: ", m.cultural_origin.clone().unwrap_or_default());
        if let Some(a) = &self.audio {
            push("Sound: ", a.words.join(", "));
            let heard: Vec<&str> = a.heard.iter().map(|h| h.word.as_str()).collect();
            push("Heard: ", heard.join(", "));
        }
        if let Some(d) = &self.description {
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(d);
        }
        out
    }

    /// Every text a person might type to find this track, for the keyword index.
    pub fn facet_text(&self) -> String {
        let m = &self.metadata;
        let mut parts: Vec<&str> = Vec::new();
        parts.extend(m.genre.as_deref());
        parts.extend(m.subgenre.as_deref());
        parts.extend(m.mood.iter().map(String::as_str));
        parts.extend(m.instrumentation.iter().map(String::as_str));
        parts.extend(self.tags.iter().map(String::as_str));
        parts.extend(m.cultural_origin.as_deref());
        parts.extend(m.era.as_deref());
        parts.extend(m.key.as_deref());
        if let Some(a) = &self.audio {
            parts.extend(a.words.iter().map(String::as_str));
            parts.extend(a.heard.iter().map(|h| h.word.as_str()));
        }
        parts.join(" ; ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_title_made_of_the_tracks_own_aspects_is_not_a_name() {
        let clip = |title: &str| Track {
            title: title.into(),
            metadata: Metadata {
                genre: Some("Rock".into()),
                mood: vec!["romantic".into()],
                instrumentation: vec!["acoustic guitar".into()],
                ..Default::default()
            },
            ..Default::default()
        };
        for placeholder in ["Romantic rock", "Romantic guitar piece", "Rock", "Clip"] {
            assert!(!clip(placeholder).title_is_name(), "{placeholder}");
            assert_eq!(clip(placeholder).name_title(), "");
        }
        for name in ["Romantic Rock Ballad", "Guitar Man", "ABC"] {
            assert!(clip(name).title_is_name(), "{name}");
        }
    }

    fn track() -> Track {
        Track {
            id: "t1".into(),
            title: "ABC".into(),
            artist: "The Jackson 5".into(),
            ..Default::default()
        }
    }

    fn field_of(t: Track) -> String {
        match t.validated() {
            Err(CoreError::Invalid(e)) => e.field,
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    #[test]
    fn valid_track_passes_and_is_trimmed() {
        let mut t = track();
        t.title = "  ABC ".into();
        t.metadata.mood = vec!["happy".into(), " Happy".into(), "".into()];
        let t = t.validated().unwrap();
        assert_eq!(t.title, "ABC");
        assert_eq!(t.metadata.mood, vec!["happy".to_string()]);
    }

    #[test]
    fn each_rule_names_its_field() {
        let mut t = track();
        t.id = "  ".into();
        assert_eq!(field_of(t), "id");
        let mut t = track();
        t.id = "x".repeat(257);
        assert_eq!(field_of(t), "id");
        let mut t = track();
        t.title = String::new();
        assert_eq!(field_of(t), "title");
        let mut t = track();
        t.artist = String::new();
        assert_eq!(field_of(t), "artist");
        let mut t = track();
        t.metadata.tempo = Some(0.0);
        assert_eq!(field_of(t), "metadata.tempo");
        let mut t = track();
        t.metadata.tempo = Some(401.0);
        assert_eq!(field_of(t), "metadata.tempo");
        let mut t = track();
        t.year = Some(999);
        assert_eq!(field_of(t), "year");
        let mut t = track();
        t.year = Some(2101);
        assert_eq!(field_of(t), "year");
        let mut t = track();
        t.description = Some("x".repeat(limits::DESCRIPTION_MAX_BYTES + 1));
        assert_eq!(field_of(t), "description");
        let mut t = track();
        t.metadata.mood = vec!["x".repeat(200)];
        assert_eq!(field_of(t), "metadata.mood[0]");
        let mut t = track();
        t.metadata.duration = Some(-1.0);
        assert_eq!(field_of(t), "metadata.duration");
    }

    #[test]
    fn boundary_values_are_accepted() {
        let mut t = track();
        t.id = "x".repeat(256);
        t.metadata.tempo = Some(400.0);
        t.year = Some(2100);
        assert!(t.validated().is_ok());
    }

    #[test]
    fn original_service_json_parses() {
        let json = r#"{"id":"a","title":"T","artist":"A","description":"d","audio_path":null,
            "metadata":{"genre":"jazz","tempo":120,"mood":["calm"],"instrumentation":["piano"],
            "is_live_performance":false,"lyrics":"la la"}}"#;
        let t: Track = serde_json::from_str(json).unwrap();
        assert_eq!(t.metadata.tempo, Some(120.0));
        assert_eq!(t.metadata.mood, vec!["calm"]);
    }

    #[test]
    fn embedding_text_is_lean_and_complete() {
        let mut t = track();
        t.metadata.genre = Some("pop".into());
        t.metadata.mood = vec!["happy".into()];
        assert_eq!(
            t.embedding_text(),
            "ABC by The Jackson 5. Genre: pop. Mood: happy."
        );
        // A clip without a title or an artist is embedded as what it sounds like.
        t.title = "Happy pop".into();
        t.artist = UNKNOWN_ARTIST.into();
        t.description = Some("Bright synths.".into());
        assert_eq!(
            t.embedding_text(),
            "Genre: pop. Mood: happy. Bright synths."
        );
        t.artist = "Clip Maker".into();
        assert!(t.embedding_text().starts_with("By Clip Maker. Genre: pop."));
    }
}
