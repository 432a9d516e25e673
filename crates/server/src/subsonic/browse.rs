//! Browsing and searching: music folders, the artist index, folder-style directories (emulated
//! from tags: artist, then album, then songs), artists, albums, songs, album lists, genres,
//! artist info, `search3` (plain words through the engine's own search) and random songs.

use std::collections::BTreeMap;

use music_rag_core::app::library::{AlbumOrder, Paging};
use music_rag_core::domain::library::{index_letter, kind_of, ItemKind};
use serde_json::{json, Value};

use super::views;
use super::wire::{Reply, SubsonicError};
use super::Call;

/// Articles an index ignores, as the spec's `ignoredArticles` lists them.
const IGNORED_ARTICLES: &str = "The A An";
const LIST_MAX: i64 = 500;

fn seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub fn music_folders(call: &Call) -> Result<Reply, SubsonicError> {
    let folders: Vec<Value> = if call.library.folders.is_empty() {
        vec![json!({"id": 1, "name": "Music"})]
    } else {
        call.library
            .folders
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let name = f.file_name().map_or_else(
                    || f.display().to_string(),
                    |n| n.to_string_lossy().into_owned(),
                );
                json!({"id": i + 1, "name": name})
            })
            .collect()
    };
    Ok(Reply::with(
        "musicFolders",
        json!({ "musicFolder": folders }),
    ))
}

/// `getIndexes` and `getArtists`: artists by first letter.
pub async fn indexes(call: &Call, name: &'static str) -> Result<Reply, SubsonicError> {
    let folder = music_folder(call)?;
    call.with_library(move |_, index, listener| {
        let mut letters: BTreeMap<String, Vec<Value>> = BTreeMap::new();
        // Within one music folder when asked: artists with a song scanned from it.
        let in_folder = |artist: &music_rag_core::domain::library::Artist| {
            folder.as_deref().is_none_or(|f| {
                artist
                    .album_ids
                    .iter()
                    .filter_map(|al| index.album(al))
                    .flat_map(|al| al.song_ids.iter())
                    .filter_map(|s| index.song(s))
                    .any(|t| music_rag_core::app::library::in_folder(t, f))
            })
        };
        for artist in index.artists_by_name().into_iter().filter(|a| in_folder(a)) {
            letters
                .entry(index_letter(&artist.name))
                .or_default()
                .push(views::artist(artist, listener));
        }
        let index: Vec<Value> = letters
            .into_iter()
            .map(|(letter, artists)| json!({"name": letter, "artist": artists}))
            .collect();
        let mut v = json!({"ignoredArticles": IGNORED_ARTICLES, "index": index});
        if name == "indexes" {
            v["lastModified"] = json!(0);
        }
        Ok(Reply::with(name, v))
    })
    .await
}

/// `getMusicDirectory`: an artist's albums, or an album's songs, as directories.
pub async fn music_directory(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    call.with_library(move |_, index, listener| {
        let v = match kind_of(&id) {
            ItemKind::Artist => {
                let artist = index
                    .artist(&id)
                    .ok_or_else(|| SubsonicError::not_found(format!("no artist {id}")))?;
                let children: Vec<Value> = artist
                    .album_ids
                    .iter()
                    .filter_map(|a| index.album(a))
                    .map(|a| {
                        let mut v = views::album(a, listener);
                        v["parent"] = json!(artist.id);
                        v["title"] = json!(a.name);
                        v
                    })
                    .collect();
                json!({"id": artist.id, "name": artist.name, "child": children})
            }
            ItemKind::Album => {
                let album = index
                    .album(&id)
                    .ok_or_else(|| SubsonicError::not_found(format!("no album {id}")))?;
                let children: Vec<Value> = index
                    .album_songs(album)
                    .into_iter()
                    .map(|t| views::song(index, t, listener))
                    .collect();
                json!({"id": album.id, "parent": album.artist_id, "name": album.name, "child": children})
            }
            ItemKind::Song => {
                return Err(SubsonicError::not_found(format!("no directory {id}")));
            }
        };
        Ok(Reply::with("directory", v))
    })
    .await
}

pub async fn artist(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    call.with_library(move |_, index, listener| {
        let artist = index
            .artist(&id)
            .ok_or_else(|| SubsonicError::not_found(format!("no artist {id}")))?;
        let mut v = views::artist(artist, listener);
        v["album"] = Value::Array(
            artist
                .album_ids
                .iter()
                .filter_map(|a| index.album(a))
                .map(|a| views::album(a, listener))
                .collect(),
        );
        Ok(Reply::with("artist", v))
    })
    .await
}

pub async fn album(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    call.with_library(move |_, index, listener| {
        let album = index
            .album(&id)
            .ok_or_else(|| SubsonicError::not_found(format!("no album {id}")))?;
        Ok(Reply::with(
            "album",
            views::album_with_songs(index, album, listener),
        ))
    })
    .await
}

pub async fn song(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    call.with_library(move |_, index, listener| {
        let track = index
            .song(&id)
            .ok_or_else(|| SubsonicError::not_found(format!("no song {id}")))?;
        Ok(Reply::with("song", views::song(index, track, listener)))
    })
    .await
}

/// The music folder `musicFolderId` names (1 for the first `--music-folder`), as its real path
/// (how the scan records it); none when not given. An id that names no folder is refused.
fn music_folder(call: &Call) -> Result<Option<String>, SubsonicError> {
    let Some(raw) = call.params.get("musicFolderId") else {
        return Ok(None);
    };
    let folders = &call.library.folders;
    let index = raw
        .parse::<usize>()
        .ok()
        .filter(|i| (1..=folders.len()).contains(i))
        .ok_or_else(|| SubsonicError::not_found(format!("no music folder {raw}")))?;
    let folder = &folders[index - 1];
    Ok(Some(
        std::fs::canonicalize(folder)
            .unwrap_or_else(|_| folder.clone())
            .to_string_lossy()
            .into_owned(),
    ))
}

fn album_order(call: &Call) -> Result<AlbumOrder, SubsonicError> {
    let kind = call.params.required("type")?;
    Ok(match kind {
        "random" => AlbumOrder::Random { seed: seed() },
        "newest" => AlbumOrder::Newest,
        "highest" => AlbumOrder::Highest,
        "frequent" => AlbumOrder::Frequent,
        "recent" => AlbumOrder::Recent,
        "alphabeticalByName" => AlbumOrder::ByName,
        "alphabeticalByArtist" => AlbumOrder::ByArtist,
        "starred" => AlbumOrder::Starred,
        "byYear" => AlbumOrder::ByYear {
            from: call.params.int("fromYear", 0, 0, 9999)? as i32,
            to: call.params.int("toYear", 9999, 0, 9999)? as i32,
        },
        "byGenre" => AlbumOrder::ByGenre(call.params.required("genre")?.to_string()),
        other => {
            return Err(SubsonicError::generic(format!(
                "type must be random, newest, highest, frequent, recent, alphabeticalByName, \
                 alphabeticalByArtist, starred, byYear or byGenre (got {other:?})"
            )))
        }
    })
}

/// `getAlbumList2` (and the folder-style `getAlbumList`, same albums).
pub async fn album_list(call: &Call, name: &'static str) -> Result<Reply, SubsonicError> {
    let order = album_order(call)?;
    let folder = music_folder(call)?;
    let paging = Paging {
        count: call.params.int("size", 10, 0, LIST_MAX)? as usize,
        offset: call.params.int("offset", 0, 0, i64::MAX)? as usize,
    };
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let listener = Call::listener_state(library, &user)?;
        let albums = engine.album_list(&order, &listener, paging, folder.as_deref())?;
        let list: Vec<Value> = albums
            .iter()
            .map(|a| {
                let mut v = views::album(a, &listener);
                v["parent"] = json!(a.artist_id);
                v
            })
            .collect();
        Ok(Reply::with(name, json!({ "album": list })))
    })
    .await
}

pub async fn genres(call: &Call) -> Result<Reply, SubsonicError> {
    call.blocking(move |engine, _| {
        let index = engine.library()?;
        let genres: Vec<Value> = index
            .genres
            .iter()
            .map(|g| json!({"value": g.name, "songCount": g.song_count, "albumCount": g.album_count}))
            .collect();
        Ok(Reply::with("genres", json!({ "genre": genres })))
    })
    .await
}

/// What the catalog knows of an artist (no outside look-ups): the descriptions its songs
/// carry and artists whose songs are like theirs.
pub async fn artist_info(call: &Call, name: &'static str) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    let count = call.params.int("count", 20, 0, 100)? as usize;
    call.with_library(move |engine, index, listener| {
        let artist = index
            .artist(&id)
            .ok_or_else(|| SubsonicError::not_found(format!("no artist {id}")))?;
        let mut similar: Vec<Value> = Vec::new();
        if count > 0 {
            let mut seen = std::collections::HashSet::from([artist.id.clone()]);
            for t in engine.similar_songs(&id, 50).unwrap_or_default() {
                if let Some(a) = index
                    .album_of(&t.id)
                    .and_then(|al| index.artist(&al.artist_id))
                {
                    if seen.insert(a.id.clone()) && similar.len() < count {
                        similar.push(views::artist(a, listener));
                    }
                }
            }
        }
        let genres: Vec<String> = artist
            .album_ids
            .iter()
            .filter_map(|a| index.album(a))
            .flat_map(|a| a.genres.clone())
            .fold(Vec::new(), |mut acc, g| {
                if !acc.contains(&g) {
                    acc.push(g);
                }
                acc
            });
        let biography = format!(
            "{} has {} song{} on {} album{} in this library{}.",
            artist.name,
            artist.song_count,
            if artist.song_count == 1 { "" } else { "s" },
            artist.album_ids.len(),
            if artist.album_ids.len() == 1 { "" } else { "s" },
            if genres.is_empty() {
                String::new()
            } else {
                format!(" ({})", genres.join(", "))
            }
        );
        let mut v = json!({"biography": biography, "similarArtist": similar});
        if let Some(mbid) = &artist.musicbrainz_id {
            v["musicBrainzId"] = json!(mbid);
        }
        Ok(Reply::with(name, v))
    })
    .await
}

pub async fn album_info(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    call.blocking(move |engine, _| {
        let index = engine.library()?;
        let album = index
            .album(&id)
            .ok_or_else(|| SubsonicError::not_found(format!("no album {id}")))?;
        let mut v = json!({"notes": format!("{} by {}: {} songs.", album.name, album.artist, album.song_ids.len())});
        if let Some(mbid) = &album.musicbrainz_id {
            v["musicBrainzId"] = json!(mbid);
        }
        Ok(Reply::with("albumInfo", v))
    })
    .await
}

/// `search3` (and `search2`): an empty query pages through everything; words go through the
/// engine's search.
pub async fn search(call: &Call, name: &'static str) -> Result<Reply, SubsonicError> {
    let query = call.params.get_raw("query").unwrap_or("").to_string();
    if query.len() > music_rag_core::domain::catalog::limits::QUERY_MAX_BYTES {
        return Err(SubsonicError::generic(format!(
            "query must be at most {} bytes",
            music_rag_core::domain::catalog::limits::QUERY_MAX_BYTES
        )));
    }
    let paging = |count: &str, offset: &str| -> Result<Paging, SubsonicError> {
        Ok(Paging {
            count: call.params.int(count, 20, 0, LIST_MAX)? as usize,
            offset: call.params.int(offset, 0, 0, i64::MAX)? as usize,
        })
    };
    let artists = paging("artistCount", "artistOffset")?;
    let albums = paging("albumCount", "albumOffset")?;
    let songs = paging("songCount", "songOffset")?;
    let folder = music_folder(call)?;
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let found = engine.search_library(&query, artists, albums, songs, folder.as_deref())?;
        let index = engine.library()?;
        let listener = Call::listener_state(library, &user)?;
        Ok(Reply::with(
            name,
            json!({
                "artist": found.artists.iter().map(|a| views::artist(a, &listener)).collect::<Vec<_>>(),
                "album": found.albums.iter().map(|a| views::album(a, &listener)).collect::<Vec<_>>(),
                "song": found.songs.iter().map(|t| views::song(&index, t, &listener)).collect::<Vec<_>>(),
            }),
        ))
    })
    .await
}

pub async fn random_songs(call: &Call) -> Result<Reply, SubsonicError> {
    let size = call.params.int("size", 10, 0, LIST_MAX)? as usize;
    let folder = music_folder(call)?;
    let genre = call.params.get("genre").map(str::to_string);
    let from = call.params.opt_int("fromYear", 0, 9999)?.map(|y| y as i32);
    let to = call.params.opt_int("toYear", 0, 9999)?.map(|y| y as i32);
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let songs =
            engine.random_songs(size, genre.as_deref(), (from, to), folder.as_deref(), seed())?;
        let index = engine.library()?;
        let listener = Call::listener_state(library, &user)?;
        Ok(Reply::with(
            "randomSongs",
            json!({"song": songs.iter().map(|t| views::song(&index, t, &listener)).collect::<Vec<_>>()}),
        ))
    })
    .await
}

pub async fn songs_by_genre(call: &Call) -> Result<Reply, SubsonicError> {
    let genre = call.params.required("genre")?.to_lowercase();
    let count = call.params.int("count", 10, 0, LIST_MAX)? as usize;
    let offset = call.params.int("offset", 0, 0, i64::MAX)? as usize;
    call.with_library(move |_, index, listener| {
        let songs: Vec<Value> = index
            .songs_in_order()
            .into_iter()
            .filter(|t| {
                t.metadata
                    .genre
                    .as_deref()
                    .is_some_and(|g| g.to_lowercase() == genre)
                    || t.file
                        .as_ref()
                        .is_some_and(|f| f.genres.iter().any(|g| g.to_lowercase() == genre))
            })
            .skip(offset)
            .take(count)
            .map(|t| views::song(index, t, listener))
            .collect();
        Ok(Reply::with("songsByGenre", json!({ "song": songs })))
    })
    .await
}
