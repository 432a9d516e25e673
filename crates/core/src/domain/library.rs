//! The library view of the catalog: artists, albums and songs built from the tracks that have
//! a playable file, for browsing (the Subsonic API, the web page's album and artist pages).
//!
//! Artists are grouped by album artist (the track artist when the tags name none; "Various
//! Artists" for compilations without one), albums by album artist and album name, compared
//! after normalisation so "AC/DC" and "ac-dc" are one. Ids are stable hashes of those names:
//! `ar-…` for artists, `al-…` for albums; a song's id is its track id.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::domain::catalog::hash::content_hash;
use crate::domain::catalog::track::Track;
use crate::domain::query::text::normalize_term;

/// The album name songs without one are filed under (as Navidrome does).
pub const UNKNOWN_ALBUM: &str = "[Unknown Album]";
pub const VARIOUS_ARTISTS: &str = "Various Artists";

/// What an id names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemKind {
    Artist,
    Album,
    Song,
}

/// The kind of item an id names, by its prefix (songs are everything else).
pub fn kind_of(id: &str) -> ItemKind {
    if id.starts_with("ar-") {
        ItemKind::Artist
    } else if id.starts_with("al-") {
        ItemKind::Album
    } else {
        ItemKind::Song
    }
}

fn key(name: &str) -> String {
    let n = normalize_term(name);
    if n.is_empty() {
        name.trim().to_lowercase()
    } else {
        n
    }
}

pub fn artist_id(name: &str) -> String {
    format!("ar-{}", &content_hash(key(name).as_bytes())[..16])
}

pub fn album_id(album_artist: &str, album: &str) -> String {
    let both = format!("{}\u{1f}{}", key(album_artist), key(album));
    format!("al-{}", &content_hash(both.as_bytes())[..16])
}

/// The artist an album is filed under.
pub fn album_artist_of(track: &Track) -> String {
    match &track.file {
        Some(f) if f.album_artist.is_some() => f.album_artist.clone().unwrap_or_default(),
        Some(f) if f.compilation => VARIOUS_ARTISTS.to_string(),
        _ => track.artist.clone(),
    }
}

pub fn album_name_of(track: &Track) -> String {
    track.album.clone().unwrap_or_else(|| UNKNOWN_ALBUM.into())
}

/// A song's place in its album: disc, then track number, then title.
fn song_order(t: &Track) -> (u32, u32, String) {
    let f = t.file.as_ref();
    (
        f.and_then(|f| f.disc_number).unwrap_or(1),
        f.and_then(|f| f.track_number).unwrap_or(u32::MAX),
        t.title.to_lowercase(),
    )
}

/// An artist of the library: the albums filed under them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct Artist {
    pub id: String,
    pub name: String,
    pub album_ids: Vec<String>,
    pub song_count: usize,
    /// A song whose cover stands for the artist.
    pub cover_song: Option<String>,
    pub musicbrainz_id: Option<String>,
}

/// An album of the library: its songs in disc and track order.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, serde::Serialize)]
pub struct Album {
    pub id: String,
    pub name: String,
    pub artist: String,
    pub artist_id: String,
    pub year: Option<i32>,
    pub genre: Option<String>,
    pub genres: Vec<String>,
    pub song_ids: Vec<String>,
    pub duration_seconds: f64,
    /// When its first song was added.
    pub created: String,
    pub cover_song: Option<String>,
    pub musicbrainz_id: Option<String>,
    pub compilation: bool,
}

/// A genre and how many songs and albums carry it.
#[derive(Debug, Clone)]
pub struct Genre {
    pub name: String,
    pub song_count: usize,
    pub album_count: usize,
}

/// The browsable library at one write sequence.
#[derive(Debug, Default)]
pub struct LibraryIndex {
    pub artists: Vec<Artist>,
    pub albums: Vec<Album>,
    pub songs: HashMap<String, Arc<Track>>,
    pub genres: Vec<Genre>,
    artist_at: HashMap<String, usize>,
    album_at: HashMap<String, usize>,
    song_album: HashMap<String, usize>,
}

impl LibraryIndex {
    /// Builds the library from every track with a playable file (`audio_path`); catalog-only
    /// tracks (descriptions without audio) are not songs of the library.
    pub fn build(tracks: impl IntoIterator<Item = Arc<Track>>) -> Self {
        let mut index = LibraryIndex::default();
        for track in tracks {
            if track.audio_path.is_none() {
                continue;
            }
            let artist_name = album_artist_of(&track);
            let album_name = album_name_of(&track);
            let ar_id = artist_id(&artist_name);
            let al_id = album_id(&artist_name, &album_name);
            let has_cover = track.file.as_ref().is_some_and(|f| f.cover.is_some());
            let artist_at = *index.artist_at.entry(ar_id.clone()).or_insert_with(|| {
                index.artists.push(Artist {
                    id: ar_id.clone(),
                    name: artist_name.clone(),
                    album_ids: Vec::new(),
                    song_count: 0,
                    cover_song: None,
                    musicbrainz_id: None,
                });
                index.artists.len() - 1
            });
            let album_at = *index.album_at.entry(al_id.clone()).or_insert_with(|| {
                index.albums.push(Album {
                    id: al_id.clone(),
                    name: album_name.clone(),
                    artist: artist_name.clone(),
                    artist_id: ar_id.clone(),
                    year: None,
                    genre: None,
                    genres: Vec::new(),
                    song_ids: Vec::new(),
                    duration_seconds: 0.0,
                    created: String::new(),
                    cover_song: None,
                    musicbrainz_id: None,
                    compilation: false,
                });
                index.artists[artist_at].album_ids.push(al_id.clone());
                index.albums.len() - 1
            });
            let artist = &mut index.artists[artist_at];
            artist.song_count += 1;
            if artist.cover_song.is_none() && has_cover {
                artist.cover_song = Some(track.id.clone());
            }
            if artist.musicbrainz_id.is_none() {
                artist.musicbrainz_id = track
                    .file
                    .as_ref()
                    .and_then(|f| f.musicbrainz.release_artist.clone());
            }
            let album = &mut index.albums[album_at];
            album.song_ids.push(track.id.clone());
            album.duration_seconds += f64::from(track.metadata.duration.unwrap_or(0.0));
            album.year = album.year.or(track.year);
            if let Some(f) = &track.file {
                album.compilation |= f.compilation;
                for g in &f.genres {
                    if !album.genres.iter().any(|x| x.eq_ignore_ascii_case(g)) {
                        album.genres.push(g.clone());
                    }
                }
                if album.musicbrainz_id.is_none() {
                    album.musicbrainz_id = f.musicbrainz.release.clone();
                }
            }
            if album.genre.is_none() {
                album.genre = track.metadata.genre.clone();
            }
            let created = track.created_at.clone().unwrap_or_default();
            if album.created.is_empty() || (!created.is_empty() && created < album.created) {
                album.created = created;
            }
            if album.cover_song.is_none() && has_cover {
                album.cover_song = Some(track.id.clone());
            }
            index.song_album.insert(track.id.clone(), album_at);
            index.songs.insert(track.id.clone(), track);
        }
        for album in &mut index.albums {
            let songs = &index.songs;
            album
                .song_ids
                .sort_by_cached_key(|id| songs.get(id).map(|t| song_order(t)));
            if album.cover_song.is_none() {
                album.cover_song = album.song_ids.first().cloned();
            }
        }
        for artist in &mut index.artists {
            if artist.cover_song.is_none() {
                artist.cover_song = artist
                    .album_ids
                    .first()
                    .and_then(|a| index.album_at.get(a))
                    .and_then(|&i| index.albums[i].cover_song.clone());
            }
        }
        let mut genres: HashMap<String, (String, usize, HashSet<usize>)> = HashMap::new();
        for (id, track) in &index.songs {
            let names: Vec<String> = match &track.file {
                Some(f) if !f.genres.is_empty() => f.genres.clone(),
                _ => track.metadata.genre.iter().cloned().collect(),
            };
            for name in names {
                let entry = genres
                    .entry(name.to_lowercase())
                    .or_insert_with(|| (name.clone(), 0, HashSet::new()));
                entry.1 += 1;
                entry.2.insert(index.song_album[id]);
            }
        }
        index.genres = genres
            .into_values()
            .map(|(name, songs, albums)| Genre {
                name,
                song_count: songs,
                album_count: albums.len(),
            })
            .collect();
        index
            .genres
            .sort_by(|a, b| b.song_count.cmp(&a.song_count).then(a.name.cmp(&b.name)));
        index
    }

    pub fn artist(&self, id: &str) -> Option<&Artist> {
        self.artist_at.get(id).map(|&i| &self.artists[i])
    }

    pub fn album(&self, id: &str) -> Option<&Album> {
        self.album_at.get(id).map(|&i| &self.albums[i])
    }

    pub fn song(&self, id: &str) -> Option<&Arc<Track>> {
        self.songs.get(id)
    }

    /// The album a song is filed in.
    pub fn album_of(&self, song: &str) -> Option<&Album> {
        self.song_album.get(song).map(|&i| &self.albums[i])
    }

    /// The songs of an album, in album order.
    pub fn album_songs(&self, album: &Album) -> Vec<&Arc<Track>> {
        album
            .song_ids
            .iter()
            .filter_map(|id| self.songs.get(id))
            .collect()
    }

    /// Artists sorted by name, ignoring a leading "The"/"A" the way players index them.
    pub fn artists_by_name(&self) -> Vec<&Artist> {
        let mut out: Vec<&Artist> = self.artists.iter().collect();
        out.sort_by_cached_key(|a| sort_name(&a.name));
        out
    }

    /// Songs in a stable order (artist, album, disc, track), for paging through everything.
    pub fn songs_in_order(&self) -> Vec<&Arc<Track>> {
        let mut albums: Vec<&Album> = self.albums.iter().collect();
        albums.sort_by_cached_key(|a| (sort_name(&a.artist), a.name.to_lowercase(), a.id.clone()));
        albums
            .into_iter()
            .flat_map(|a| self.album_songs(a))
            .collect()
    }
}

/// The name an index sorts by: lower case, without a leading article.
pub fn sort_name(name: &str) -> String {
    let lower = name.trim().to_lowercase();
    for article in ["the ", "a ", "an "] {
        if let Some(rest) = lower.strip_prefix(article) {
            if !rest.is_empty() {
                return rest.to_string();
            }
        }
    }
    lower
}

/// The letter an artist is indexed under ("#" for anything not a letter).
pub fn index_letter(name: &str) -> String {
    match sort_name(name).chars().next() {
        Some(c) if c.is_alphabetic() => c.to_uppercase().collect(),
        _ => "#".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::catalog::file::FileInfo;

    fn song(id: &str, title: &str, artist: &str, album: &str, n: u32) -> Arc<Track> {
        Arc::new(Track {
            id: id.into(),
            title: title.into(),
            artist: artist.into(),
            album: Some(album.into()),
            audio_path: Some(format!("/m/{id}.mp3")),
            file: Some(FileInfo {
                track_number: Some(n),
                genres: vec!["Rock".into()],
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    #[test]
    fn groups_songs_into_albums_and_artists_in_album_order() {
        let index = LibraryIndex::build([
            song("b", "Second", "The Band", "First Album", 2),
            song("a", "First", "The Band", "First Album", 1),
            song("c", "Other", "the band", "Live", 1),
            Arc::new(Track {
                id: "clip".into(),
                title: "Clip".into(),
                artist: "Nobody".into(),
                ..Default::default()
            }),
        ]);
        assert_eq!(index.artists.len(), 1, "names compare normalised");
        assert_eq!(index.albums.len(), 2);
        assert_eq!(index.songs.len(), 3, "a track without audio is not a song");
        let album = index.album(&album_id("The Band", "First Album")).unwrap();
        assert_eq!(album.song_ids, ["a", "b"]);
        assert_eq!(index.album_of("c").unwrap().name, "Live");
        assert_eq!(index.genres[0].song_count, 3);
        assert_eq!(index.genres[0].album_count, 2);
        assert_eq!(index_letter("The Band"), "B");
        assert_eq!(kind_of(&album.id), ItemKind::Album);
        assert_eq!(kind_of("audio:1"), ItemKind::Song);
    }
}
