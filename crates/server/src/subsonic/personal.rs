//! What is each listener's own, kept in the library's records (in every backup): stars,
//! ratings, plays and "now playing" (`scrobble`), and playlists.

use music_rag_core::domain::library::LibraryIndex;
use music_rag_store::library_db::{PlaylistChange, PlaylistRecord};
use serde_json::{json, Value};

use super::views;
use super::wire::{Reply, SubsonicError};
use super::Call;

/// "Now playing" entries older than this are dropped.
const NOW_PLAYING_MINUTES: u64 = 15;

fn records_error(e: music_rag_store::StoreError) -> SubsonicError {
    tracing::error!(error = %e, "library records");
    if e.is_disk_full() {
        SubsonicError::generic("the disk is full: nothing was saved")
    } else {
        SubsonicError::generic("the library records cannot be written")
    }
}

pub fn get_user(call: &Call) -> Result<Reply, SubsonicError> {
    let wanted = call.params.get("username").unwrap_or(&call.listener.name);
    if wanted != call.listener.name && !call.listener.admin {
        return Err(SubsonicError::not_authorised("other users' details"));
    }
    let admin = wanted == call.listener.name && call.listener.admin;
    Ok(Reply::with(
        "user",
        json!({
            "username": wanted, "scrobblingEnabled": true, "adminRole": admin,
            "settingsRole": true, "downloadRole": true, "uploadRole": false,
            "playlistRole": true, "coverArtRole": false, "commentRole": false,
            "podcastRole": false, "streamRole": true, "jukeboxRole": false,
            "shareRole": false, "videoConversionRole": false, "folder": [1],
        }),
    ))
}

/// `star` / `unstar`: songs (`id`), albums (`albumId`) and artists (`artistId`), each
/// repeatable; every id must name something in the library.
pub async fn star(call: &Call, on: bool) -> Result<Reply, SubsonicError> {
    let mut ids: Vec<String> = Vec::new();
    for name in ["id", "albumId", "artistId"] {
        ids.extend(call.params.strings(name));
    }
    if ids.is_empty() {
        return Err(SubsonicError::missing("id"));
    }
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let index = engine.library()?;
        if let Some(unknown) = ids.iter().find(|id| {
            index.song(id).is_none() && index.album(id).is_none() && index.artist(id).is_none()
        }) {
            return Err(SubsonicError::not_found(format!(
                "no song, album or artist {unknown}"
            )));
        }
        let db = library.users.db();
        if on {
            db.star(&user, &ids).map_err(records_error)?;
        } else {
            db.unstar(&user, &ids).map_err(records_error)?;
        }
        Ok(Reply::empty())
    })
    .await
}

pub async fn starred(call: &Call, name: &'static str) -> Result<Reply, SubsonicError> {
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let index = engine.library()?;
        let listener = Call::listener_state(library, &user)?;
        let stars = library.users.db().starred(&user).map_err(records_error)?;
        let (mut artists, mut albums, mut songs) = (Vec::new(), Vec::new(), Vec::new());
        for s in stars {
            if let Some(a) = index.artist(&s.item) {
                artists.push(views::artist(a, &listener));
            } else if let Some(a) = index.album(&s.item) {
                albums.push(views::album(a, &listener));
            } else if let Some(t) = index.song(&s.item) {
                songs.push(views::song(&index, t, &listener));
            }
        }
        Ok(Reply::with(
            name,
            json!({"artist": artists, "album": albums, "song": songs}),
        ))
    })
    .await
}

pub async fn set_rating(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    call.params.required("rating")?;
    let rating = call.params.int("rating", 0, 0, 5)? as u8;
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let index = engine.library()?;
        if index.song(&id).is_none() && index.album(&id).is_none() && index.artist(&id).is_none() {
            return Err(SubsonicError::not_found(format!(
                "no song, album or artist {id}"
            )));
        }
        library
            .users
            .db()
            .set_rating(&user, &id, rating)
            .map_err(records_error)?;
        Ok(Reply::empty())
    })
    .await
}

/// `scrobble`: with `submission=true` (the default) each id counts as played (at `time`, ms
/// since 1970, when sent); with `false` it becomes what the listener is playing now.
pub async fn scrobble(call: &Call) -> Result<Reply, SubsonicError> {
    let ids: Vec<String> = call.params.strings("id");
    if ids.is_empty() {
        return Err(SubsonicError::missing("id"));
    }
    let mut times: Vec<Option<String>> = Vec::new();
    for t in call.params.all("time") {
        let ms: i64 = t.parse().map_err(|_| {
            SubsonicError::generic(format!("time must be milliseconds since 1970 (got {t:?})"))
        })?;
        times.push(Some(rfc3339_of_ms(ms)?));
    }
    let submission = call.params.bool("submission", true)?;
    let user = call.listener.name.clone();
    let client = call.params.get("c").unwrap_or("").to_string();
    call.blocking(move |engine, library| {
        let index = engine.library()?;
        if let Some(unknown) = ids.iter().find(|id| index.song(id).is_none()) {
            return Err(SubsonicError::not_found(format!("no song {unknown}")));
        }
        if submission {
            for (i, id) in ids.iter().enumerate() {
                let at = times.get(i).cloned().flatten();
                library
                    .users
                    .db()
                    .add_play(&user, id, at.as_deref())
                    .map_err(records_error)?;
            }
        } else if let Some(last) = ids.last() {
            library.now_playing(&user, last, &client);
        }
        Ok(Reply::empty())
    })
    .await
}

fn rfc3339_of_ms(ms: i64) -> Result<String, SubsonicError> {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map_err(|_| SubsonicError::generic("time is out of range"))?;
    at.format(&time::format_description::well_known::Rfc3339)
        .map_err(|_| SubsonicError::generic("time is out of range"))
}

pub async fn now_playing(call: &Call) -> Result<Reply, SubsonicError> {
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let index = engine.library()?;
        let listener = Call::listener_state(library, &user)?;
        let entries: Vec<Value> = library
            .playing_now(std::time::Duration::from_secs(NOW_PLAYING_MINUTES * 60))
            .into_iter()
            .filter_map(|(who, track, client, minutes)| {
                let t = index.song(&track)?;
                let mut v = views::song(&index, t, &listener);
                v["username"] = json!(who);
                v["minutesAgo"] = json!(minutes);
                v["playerId"] = json!(0);
                v["playerName"] = json!(client);
                Some(v)
            })
            .collect();
        Ok(Reply::with("nowPlaying", json!({ "entry": entries })))
    })
    .await
}

fn playlist_head(p: &PlaylistRecord, duration: f64) -> Value {
    let mut v = json!({
        "id": p.id.to_string(), "name": p.name, "owner": p.owner, "public": p.public,
        "songCount": p.tracks.len(), "duration": duration.round() as u64,
        "created": p.created_at, "changed": p.changed_at,
    });
    if let Some(c) = &p.comment {
        v["comment"] = json!(c);
    }
    if let Some(first) = p.tracks.first() {
        v["coverArt"] = json!(first);
    }
    v
}

/// Seconds of the songs of a playlist that are in the library.
fn running_time(index: &LibraryIndex, tracks: &[String]) -> f64 {
    tracks
        .iter()
        .filter_map(|t| index.song(t))
        .map(|t| f64::from(t.metadata.duration.unwrap_or(0.0)))
        .sum()
}

fn playlist_id(call: &Call, name: &str) -> Result<i64, SubsonicError> {
    let raw = call.params.required(name)?;
    raw.parse()
        .map_err(|_| SubsonicError::not_found(format!("no playlist {raw}")))
}

fn readable(p: &PlaylistRecord, user: &str) -> bool {
    p.owner == user || p.public
}

pub async fn playlists(call: &Call) -> Result<Reply, SubsonicError> {
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let index = engine.library()?;
        let lists = library.users.db().playlists(&user).map_err(records_error)?;
        let out: Vec<Value> = lists
            .iter()
            .map(|p| {
                let duration = running_time(&index, &p.tracks);
                playlist_head(p, duration)
            })
            .collect();
        Ok(Reply::with("playlists", json!({ "playlist": out })))
    })
    .await
}

fn full_playlist(
    engine: &music_rag_core::Engine,
    library: &crate::state::LibraryState,
    id: i64,
    user: &str,
) -> Result<Value, SubsonicError> {
    let index = engine.library()?;
    let listener = Call::listener_state(library, user)?;
    let p = library
        .users
        .db()
        .playlist(id)
        .map_err(records_error)?
        .filter(|p| readable(p, user))
        .ok_or_else(|| SubsonicError::not_found(format!("no playlist {id}")))?;
    // Songs that left the library stay in the list (they may come back) but are not shown.
    let songs: Vec<Value> = p
        .tracks
        .iter()
        .filter_map(|t| index.song(t))
        .map(|t| views::song(&index, t, &listener))
        .collect();
    let duration = running_time(&index, &p.tracks);
    let mut v = playlist_head(&p, duration);
    v["entry"] = Value::Array(songs);
    Ok(v)
}

pub async fn playlist(call: &Call) -> Result<Reply, SubsonicError> {
    let id = playlist_id(call, "id")?;
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        Ok(Reply::with(
            "playlist",
            full_playlist(engine, library, id, &user)?,
        ))
    })
    .await
}

fn check_songs(engine: &music_rag_core::Engine, ids: &[String]) -> Result<(), SubsonicError> {
    let index = engine.library()?;
    match ids.iter().find(|id| index.song(id).is_none()) {
        Some(unknown) => Err(SubsonicError::not_found(format!("no song {unknown}"))),
        None => Ok(()),
    }
}

/// `createPlaylist`: a new one (`name`), or, with `playlistId`, the songs of one replaced.
pub async fn create_playlist(call: &Call) -> Result<Reply, SubsonicError> {
    let songs: Vec<String> = call.params.strings("songId");
    let existing = match call.params.get("playlistId") {
        Some(_) => Some(playlist_id(call, "playlistId")?),
        None => None,
    };
    let name = match existing {
        Some(_) => call.params.get("name").map(str::to_string),
        None => Some(call.params.required("name")?.to_string()),
    };
    if name.as_ref().is_some_and(|n| n.len() > 512) {
        return Err(SubsonicError::generic("name must be at most 512 bytes"));
    }
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        check_songs(engine, &songs)?;
        let db = library.users.db();
        let id = match existing {
            Some(id) => {
                let p = db
                    .playlist(id)
                    .map_err(records_error)?
                    .ok_or_else(|| SubsonicError::not_found(format!("no playlist {id}")))?;
                if p.owner != user {
                    return Err(SubsonicError::not_authorised("another user's playlist"));
                }
                db.update_playlist(
                    id,
                    &PlaylistChange {
                        name,
                        replace: Some(songs),
                        ..Default::default()
                    },
                )
                .map_err(records_error)?;
                id
            }
            None => db
                .create_playlist(&user, name.as_deref().unwrap_or_default(), &songs)
                .map_err(records_error)?,
        };
        Ok(Reply::with(
            "playlist",
            full_playlist(engine, library, id, &user)?,
        ))
    })
    .await
}

pub async fn update_playlist(call: &Call) -> Result<Reply, SubsonicError> {
    let id = playlist_id(call, "playlistId")?;
    let mut remove = Vec::new();
    for i in call.params.all("songIndexToRemove") {
        remove.push(i.parse::<usize>().map_err(|_| {
            SubsonicError::generic(format!("songIndexToRemove must be a position (got {i:?})"))
        })?);
    }
    let change = PlaylistChange {
        name: call.params.get("name").map(str::to_string),
        comment: call.params.get_raw("comment").map(str::to_string),
        public: match call.params.get("public") {
            Some(_) => Some(call.params.bool("public", false)?),
            None => None,
        },
        add: call.params.strings("songIdToAdd"),
        remove,
        replace: None,
    };
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        check_songs(engine, &change.add)?;
        let db = library.users.db();
        let p = db
            .playlist(id)
            .map_err(records_error)?
            .filter(|p| readable(p, &user))
            .ok_or_else(|| SubsonicError::not_found(format!("no playlist {id}")))?;
        if p.owner != user {
            return Err(SubsonicError::not_authorised("another user's playlist"));
        }
        if let Some(bad) = change.remove.iter().find(|i| **i >= p.tracks.len()) {
            return Err(SubsonicError::generic(format!(
                "songIndexToRemove {bad} is past the playlist's end ({} songs)",
                p.tracks.len()
            )));
        }
        db.update_playlist(id, &change).map_err(records_error)?;
        Ok(Reply::empty())
    })
    .await
}

pub async fn delete_playlist(call: &Call) -> Result<Reply, SubsonicError> {
    let id = playlist_id(call, "id")?;
    let user = call.listener.name.clone();
    let admin = call.listener.admin;
    call.blocking(move |_, library| {
        let db = library.users.db();
        let p = db
            .playlist(id)
            .map_err(records_error)?
            .filter(|p| readable(p, &user))
            .ok_or_else(|| SubsonicError::not_found(format!("no playlist {id}")))?;
        if p.owner != user && !admin {
            return Err(SubsonicError::not_authorised("another user's playlist"));
        }
        db.delete_playlist(id).map_err(records_error)?;
        Ok(Reply::empty())
    })
    .await
}
