//! Mixes from the recommender: songs like a song, album or artist (`getSimilarSongs2`), an
//! artist's most played songs (`getTopSongs`), and the sonicSimilarity extension: sonic
//! neighbours (`getSonicSimilarTracks`) and a sonic path between two songs (`findSonicPath`).

use music_rag_core::app::library::SonicMatch;
use serde_json::{json, Value};

use super::views;
use super::wire::{Reply, SubsonicError};
use super::Call;

const MIX_MAX: i64 = 100;

pub async fn similar_songs(call: &Call, name: &'static str) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    let count = call.params.int("count", 50, 1, MIX_MAX)? as usize;
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let songs = engine.similar_songs(&id, count)?;
        let index = engine.library()?;
        let listener = Call::listener_state(library, &user)?;
        Ok(Reply::with(
            name,
            json!({"song": songs.iter().map(|t| views::song(&index, t, &listener)).collect::<Vec<_>>()}),
        ))
    })
    .await
}

/// An artist's songs, most played by this listener first, then in album order.
pub async fn top_songs(call: &Call) -> Result<Reply, SubsonicError> {
    let artist = call.params.required("artist")?.to_string();
    let count = call.params.int("count", 50, 0, 500)? as usize;
    call.with_library(move |_, index, listener| {
        let wanted = music_rag_core::domain::query::text::normalize_term(&artist);
        let mut songs: Vec<_> = index
            .songs_in_order()
            .into_iter()
            .filter(|t| {
                music_rag_core::domain::query::text::normalize_term(&t.artist) == wanted
                    || index.album_of(&t.id).is_some_and(|a| {
                        music_rag_core::domain::query::text::normalize_term(&a.artist) == wanted
                    })
            })
            .collect();
        songs.sort_by_key(|t| std::cmp::Reverse(listener.plays.get(&t.id).map_or(0, |p| p.0)));
        let out: Vec<Value> = songs
            .into_iter()
            .take(count)
            .map(|t| views::song(index, t, listener))
            .collect();
        Ok(Reply::with("topSongs", json!({ "song": out })))
    })
    .await
}

fn matches(
    index: &music_rag_core::domain::library::LibraryIndex,
    found: &[SonicMatch],
    listener: &music_rag_core::app::library::ListenerState,
) -> Value {
    Value::Array(
        found
            .iter()
            .map(|m| {
                json!({
                    "entry": views::song(index, &m.track, listener),
                    "similarity": (f64::from(m.similarity) * 1000.0).round() / 1000.0,
                })
            })
            .collect(),
    )
}

/// The matches both at the top of the response (`sonicMatch`, as py-opensonic reads the
/// extension) and inside a named wrapper (as the `opensubsonic` crate reads it): client
/// libraries disagree, and both shapes cost a few bytes.
fn sonic_reply(wrapper: &'static str, list: Value) -> Reply {
    Reply::with_all(vec![
        ("sonicMatch", list.clone()),
        (wrapper, json!({ "sonicMatch": list })),
    ])
}

pub async fn sonic_similar(call: &Call) -> Result<Reply, SubsonicError> {
    let id = call.params.required("id")?.to_string();
    let count = call.params.int("count", 10, 1, MIX_MAX)? as usize;
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let found = engine.sonic_similar(&id, count)?;
        let index = engine.library()?;
        let listener = Call::listener_state(library, &user)?;
        let list = matches(&index, &found, &listener);
        Ok(sonic_reply("sonicSimilarTracks", list))
    })
    .await
}

pub async fn sonic_path(call: &Call) -> Result<Reply, SubsonicError> {
    let from = call.params.required("startSongId")?.to_string();
    let to = call.params.required("endSongId")?.to_string();
    let count = call.params.int("count", 10, 2, 50)? as usize;
    let user = call.listener.name.clone();
    call.blocking(move |engine, library| {
        let index = engine.library()?;
        for id in [&from, &to] {
            if index.song(id).is_none() {
                return Err(SubsonicError::not_found(format!("no song {id}")));
            }
        }
        let found = engine.sonic_path(&from, &to, count)?;
        let listener = Call::listener_state(library, &user)?;
        let list = matches(&index, &found, &listener);
        Ok(sonic_reply("sonicPath", list))
    })
    .await
}
