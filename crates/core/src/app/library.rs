//! The library use cases: the browsable library at the current write sequence (built once per
//! write), album lists by the orders players ask for, random songs, search over songs, artists
//! and albums, and mixes (songs like a song, sonic neighbours, a sonic path) limited to songs
//! that can be played. The Subsonic API and the web page call these.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::app::listen::ListenRequest;
use crate::app::path::PathRequest;
use crate::app::recommend::RecommendRequest;
use crate::app::search::SearchRequest;
use crate::app::Engine;
use crate::domain::catalog::track::Track;
use crate::domain::library::{sort_name, Album, Artist, LibraryIndex};
use crate::domain::query::text::normalize_term;
use crate::domain::retrieval::vector::{dot, normalized};
use crate::error::{CoreError, Result};

/// What one listener has done: the inputs of the personal album lists.
#[derive(Debug, Clone, Default)]
pub struct ListenerState {
    /// Starred item ids and when.
    pub starred: HashMap<String, String>,
    pub ratings: HashMap<String, u8>,
    /// Plays per song: count and the last time.
    pub plays: HashMap<String, (u64, String)>,
}

/// The orders of `getAlbumList2`.
#[derive(Debug, Clone, PartialEq)]
pub enum AlbumOrder {
    Random { seed: u64 },
    Newest,
    Highest,
    Frequent,
    Recent,
    ByName,
    ByArtist,
    Starred,
    ByYear { from: i32, to: i32 },
    ByGenre(String),
}

/// Songs, artists and albums a search found.
#[derive(Debug, Default)]
pub struct LibrarySearch {
    pub artists: Vec<Artist>,
    pub albums: Vec<Album>,
    pub songs: Vec<Arc<Track>>,
}

/// Which part of a search result to page, and how.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub count: usize,
    pub offset: usize,
}

/// A song like another and how alike, 0-1.
#[derive(Debug, Clone)]
pub struct SonicMatch {
    pub track: Arc<Track>,
    pub similarity: f32,
}

/// A small deterministic generator: shuffles need no cryptographic randomness, and a seed makes
/// them repeatable in tests.
pub struct Shuffle(u64);

impl Shuffle {
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x9E37_79B9_7F4A_7C15)
    }
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Fisher-Yates.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// The library built at one write sequence.
pub(crate) type LibraryAt = Option<(u64, Arc<LibraryIndex>)>;

impl Engine {
    /// The library at the current write sequence, built once per write (one pass over the
    /// catalog).
    pub fn library(&self) -> Result<Arc<LibraryIndex>> {
        let sequence = self.store().sequence()?;
        if let Some((seq, index)) = self
            .library
            .lock()
            .ok()
            .and_then(|c| c.clone())
            .filter(|(seq, _)| *seq == sequence)
        {
            debug_assert_eq!(seq, sequence);
            return Ok(index);
        }
        let mut tracks: Vec<Arc<Track>> = Vec::new();
        self.catalog().for_each_page(1000, |page| {
            tracks.extend(page.iter().filter(|t| t.audio_path.is_some()).cloned());
            Ok(())
        })?;
        let index = Arc::new(LibraryIndex::build(tracks));
        if let Ok(mut c) = self.library.lock() {
            *c = Some((sequence, index.clone()));
        }
        Ok(index)
    }

    /// One page of albums in `order` for `listener`.
    pub fn album_list(
        &self,
        order: &AlbumOrder,
        listener: &ListenerState,
        paging: Paging,
        folder: Option<&str>,
    ) -> Result<Vec<Album>> {
        let library = self.library()?;
        let mut albums: Vec<&Album> = library
            .albums
            .iter()
            .filter(|a| {
                folder.is_none_or(|f| {
                    a.song_ids
                        .iter()
                        .filter_map(|s| library.song(s))
                        .any(|t| in_folder(t, f))
                })
            })
            .collect();
        let album_plays = |a: &Album| -> (u64, String) {
            a.song_ids
                .iter()
                .filter_map(|s| listener.plays.get(s))
                .fold((0, String::new()), |(n, last), (c, l)| {
                    (n + c, if *l > last { l.clone() } else { last })
                })
        };
        match order {
            AlbumOrder::Random { seed } => {
                albums.sort_by(|a, b| a.id.cmp(&b.id));
                Shuffle::new(*seed).shuffle(&mut albums);
            }
            AlbumOrder::Newest => albums.sort_by(|a, b| b.created.cmp(&a.created)),
            AlbumOrder::Highest => {
                albums.retain(|a| listener.ratings.contains_key(&a.id));
                albums.sort_by_key(|a| std::cmp::Reverse(listener.ratings[&a.id]));
            }
            AlbumOrder::Frequent => {
                albums.retain(|a| album_plays(a).0 > 0);
                albums.sort_by_cached_key(|a| std::cmp::Reverse(album_plays(a).0));
            }
            AlbumOrder::Recent => {
                albums.retain(|a| album_plays(a).0 > 0);
                albums.sort_by_cached_key(|a| std::cmp::Reverse(album_plays(a).1));
            }
            AlbumOrder::ByName => albums.sort_by_cached_key(|a| sort_name(&a.name)),
            AlbumOrder::ByArtist => {
                albums.sort_by_cached_key(|a| (sort_name(&a.artist), a.year, sort_name(&a.name)))
            }
            AlbumOrder::Starred => {
                albums.retain(|a| listener.starred.contains_key(&a.id));
                albums.sort_by_cached_key(|a| sort_name(&a.name));
            }
            AlbumOrder::ByYear { from, to } => {
                let (lo, hi) = (*from.min(to), *from.max(to));
                albums.retain(|a| a.year.is_some_and(|y| (lo..=hi).contains(&y)));
                // Descending when asked from a later year to an earlier one, as the spec says.
                if from > to {
                    albums.sort_by_key(|a| std::cmp::Reverse(a.year));
                } else {
                    albums.sort_by_key(|a| a.year);
                }
            }
            AlbumOrder::ByGenre(genre) => {
                let g = genre.to_lowercase();
                albums.retain(|a| {
                    a.genres.iter().any(|x| x.to_lowercase() == g)
                        || a.genre.as_deref().is_some_and(|x| x.to_lowercase() == g)
                });
                albums.sort_by_cached_key(|a| sort_name(&a.name));
            }
        }
        Ok(albums
            .into_iter()
            .skip(paging.offset)
            .take(paging.count)
            .cloned()
            .collect())
    }

    /// Up to `size` random songs, optionally of a genre and within years.
    pub fn random_songs(
        &self,
        size: usize,
        genre: Option<&str>,
        years: (Option<i32>, Option<i32>),
        folder: Option<&str>,
        seed: u64,
    ) -> Result<Vec<Arc<Track>>> {
        let library = self.library()?;
        let genre = genre.map(str::to_lowercase);
        let mut songs: Vec<&Arc<Track>> = library
            .songs
            .values()
            .filter(|t| {
                genre.as_ref().is_none_or(|g| {
                    t.metadata
                        .genre
                        .as_deref()
                        .is_some_and(|x| x.to_lowercase() == *g)
                        || t.file
                            .as_ref()
                            .is_some_and(|f| f.genres.iter().any(|x| x.to_lowercase() == *g))
                })
            })
            .filter(|t| folder.is_none_or(|f| in_folder(t, f)))
            .filter(|t| years.0.is_none_or(|from| t.year.is_some_and(|y| y >= from)))
            .filter(|t| years.1.is_none_or(|to| t.year.is_some_and(|y| y <= to)))
            .collect();
        songs.sort_by(|a, b| a.id.cmp(&b.id));
        Shuffle::new(seed).shuffle(&mut songs);
        Ok(songs.into_iter().take(size).cloned().collect())
    }

    /// Searches the library. An empty query pages through everything (players sync this
    /// way); words go through the engine's own search (parsing, filters, hybrid retrieval,
    /// rerank), and artists and albums are those whose names hold the words, then those of
    /// the songs found.
    pub fn search_library(
        &self,
        query: &str,
        artists: Paging,
        albums: Paging,
        songs: Paging,
        folder: Option<&str>,
    ) -> Result<LibrarySearch> {
        let library = self.library()?;
        // Within one music folder when asked: songs scanned from it, their albums and artists.
        let song_ok = |t: &Track| folder.is_none_or(|f| in_folder(t, f));
        let album_ok = |a: &Album| {
            folder.is_none()
                || a.song_ids
                    .iter()
                    .filter_map(|s| library.song(s))
                    .any(|t| song_ok(t))
        };
        let artist_ok = |a: &Artist| {
            folder.is_none()
                || a.album_ids
                    .iter()
                    .filter_map(|al| library.album(al))
                    .any(album_ok)
        };
        // Players send `""` or `"*"`-style wildcards for "everything".
        let q = query.trim().trim_matches('"').trim_matches('*').trim();
        if q.is_empty() {
            let by_artist = library.artists_by_name();
            let mut by_album: Vec<&Album> = library.albums.iter().collect();
            by_album.sort_by_cached_key(|a| (sort_name(&a.artist), sort_name(&a.name)));
            return Ok(LibrarySearch {
                artists: page(
                    by_artist.into_iter().filter(|a| artist_ok(a)).cloned(),
                    artists,
                ),
                albums: page(
                    by_album.into_iter().filter(|a| album_ok(a)).cloned(),
                    albums,
                ),
                songs: page(
                    library
                        .songs_in_order()
                        .into_iter()
                        .filter(|t| song_ok(t))
                        .cloned(),
                    songs,
                ),
            });
        }
        let words = normalize_term(q);
        let named = |name: &str| {
            let n = normalize_term(name);
            !words.is_empty() && (n.contains(&words) || words.contains(&n) && !n.is_empty())
        };
        let mut found_songs: Vec<Arc<Track>> = Vec::new();
        if songs.count > 0 || artists.count > 0 || albums.count > 0 {
            let want = (songs.offset + songs.count).clamp(10, crate::app::search::TOP_K_MAX);
            let response = self.search(&SearchRequest {
                text: q.to_string(),
                top_k: crate::app::search::TOP_K_MAX.min(want * 3),
                ..Default::default()
            })?;
            found_songs = response
                .hits
                .into_iter()
                .filter(|h| library.songs.contains_key(&h.track.id) && song_ok(&h.track))
                .map(|h| h.track)
                .collect();
        }
        let mut artist_ids: Vec<String> = library
            .artists_by_name()
            .into_iter()
            .filter(|a| named(&a.name) && artist_ok(a))
            .map(|a| a.id.clone())
            .collect();
        let mut album_ids: Vec<String> = library
            .albums
            .iter()
            .filter(|a| named(&a.name) && album_ok(a))
            .map(|a| a.id.clone())
            .collect();
        let mut seen_artists: HashSet<String> = artist_ids.iter().cloned().collect();
        let mut seen_albums: HashSet<String> = album_ids.iter().cloned().collect();
        for song in &found_songs {
            if let Some(album) = library.album_of(&song.id) {
                if seen_albums.insert(album.id.clone()) {
                    album_ids.push(album.id.clone());
                }
                if seen_artists.insert(album.artist_id.clone()) {
                    artist_ids.push(album.artist_id.clone());
                }
            }
        }
        Ok(LibrarySearch {
            artists: page(
                artist_ids
                    .iter()
                    .filter_map(|id| library.artist(id))
                    .cloned(),
                artists,
            ),
            albums: page(
                album_ids.iter().filter_map(|id| library.album(id)).cloned(),
                albums,
            ),
            songs: page(found_songs.into_iter(), songs),
        })
    }

    /// Songs like the song, album or artist `id`, by meaning and (when analysed) sound.
    pub fn similar_songs(&self, id: &str, count: usize) -> Result<Vec<Arc<Track>>> {
        let library = self.library()?;
        let seeds: Vec<String> = if let Some(artist) = library.artist(id) {
            artist
                .album_ids
                .iter()
                .filter_map(|a| library.album(a))
                .flat_map(|a| a.song_ids.iter().take(3).cloned())
                .take(10)
                .collect()
        } else if let Some(album) = library.album(id) {
            album.song_ids.iter().take(10).cloned().collect()
        } else if library.song(id).is_some() {
            vec![id.to_string()]
        } else {
            return Err(CoreError::NotFound(format!(
                "id: no song, album or artist {id}"
            )));
        };
        let response = self.recommend(&RecommendRequest {
            positive: seeds.clone(),
            top_k: crate::app::search::TOP_K_MAX,
            ..Default::default()
        })?;
        let seeds: HashSet<String> = seeds.into_iter().collect();
        Ok(response
            .hits
            .into_iter()
            .filter(|h| library.songs.contains_key(&h.track.id) && !seeds.contains(&h.track.id))
            .take(count)
            .map(|h| h.track)
            .collect())
    }

    /// The songs that sound most like song `id`, with how alike (cosine of the sound
    /// embeddings and measured features); by meaning when the song was never analysed.
    pub fn sonic_similar(&self, id: &str, count: usize) -> Result<Vec<SonicMatch>> {
        let library = self.library()?;
        let Some(song) = library.song(id) else {
            return Err(CoreError::NotFound(format!("id: no song {id}")));
        };
        if song.audio.is_none() {
            return Ok(self
                .similar_songs(id, count)?
                .into_iter()
                .enumerate()
                .map(|(i, track)| SonicMatch {
                    track,
                    similarity: 1.0 / (1.0 + i as f32 / 10.0),
                })
                .collect());
        }
        let response = self.listen(
            &ListenRequest {
                track_id: Some(id.to_string()),
                top_k: crate::app::search::TOP_K_MAX,
                ..Default::default()
            },
            None,
        )?;
        Ok(response
            .hits
            .into_iter()
            .filter(|h| h.track.id != id && library.songs.contains_key(&h.track.id))
            .take(count)
            .map(|h| SonicMatch {
                similarity: h.audio_similarity.unwrap_or(h.score).clamp(0.0, 1.0),
                track: h.track,
            })
            .collect())
    }

    /// A path of `count` songs from `from` to `to`, each step a small move in sound and
    /// meaning (the engine behind `/v1/playlist/path`), with each step's likeness to the one
    /// before.
    pub fn sonic_path(&self, from: &str, to: &str, count: usize) -> Result<Vec<SonicMatch>> {
        let playlist = self.path(&PathRequest {
            from: from.to_string(),
            to: to.to_string(),
            length: count,
            ..Default::default()
        })?;
        let mut previous: Option<Vec<f32>> = None;
        Ok(playlist
            .entries
            .into_iter()
            .map(|e| {
                let here = sound_of(&e.track);
                let similarity = match (&previous, &here) {
                    (Some(a), Some(b)) => dot(a, b).clamp(0.0, 1.0),
                    _ => 1.0,
                };
                previous = here;
                SonicMatch {
                    similarity,
                    track: e.track,
                }
            })
            .collect())
    }
}

/// Whether a song was scanned from the music folder `folder` (its real path).
pub fn in_folder(track: &Track, folder: &str) -> bool {
    track
        .file
        .as_ref()
        .and_then(|f| f.folder.as_deref())
        .is_some_and(|f| f == folder)
}

/// A song's sound at unit length: the learned embedding when heard, else the measured vector.
fn sound_of(track: &Track) -> Option<Vec<f32>> {
    track
        .audio
        .as_ref()
        .and_then(|a| a.sound_embedding.clone())
        .or_else(|| crate::app::path::audio_vector(track))
        .map(normalized)
}

fn page<T>(items: impl Iterator<Item = T>, paging: Paging) -> Vec<T> {
    items.skip(paging.offset).take(paging.count).collect()
}

#[cfg(test)]
mod tests {
    use super::Shuffle;

    #[test]
    fn shuffle_is_a_repeatable_permutation() {
        let mut a: Vec<u32> = (0..50).collect();
        let mut b = a.clone();
        Shuffle::new(3).shuffle(&mut a);
        Shuffle::new(3).shuffle(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, (0..50).collect::<Vec<_>>());
        a.sort();
        assert_eq!(a, (0..50).collect::<Vec<_>>());
    }
}
