//! Songs, albums and artists as the Subsonic schema names them (`Child`, `AlbumID3`,
//! `ArtistID3`, with the OpenSubsonic additions), with what the listener has done to each
//! (starred, rating, plays).

use music_rag_core::app::library::ListenerState;
use music_rag_core::domain::library::{sort_name, Album, Artist, LibraryIndex};
use music_rag_core::Track;
use serde_json::{json, Map, Value};

/// Puts `value` under `key` only when it is there.
fn put(m: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        m.insert(key.into(), v);
    }
}

fn personal(m: &mut Map<String, Value>, id: &str, listener: &ListenerState) {
    put(m, "starred", listener.starred.get(id).map(|at| json!(at)));
    put(m, "userRating", listener.ratings.get(id).map(|r| json!(r)));
}

/// A song (`Child`).
pub fn song(library: &LibraryIndex, track: &Track, listener: &ListenerState) -> Value {
    let album = library.album_of(&track.id);
    let file = track.file.as_ref();
    let mut m = Map::new();
    m.insert("id".into(), json!(track.id));
    put(&mut m, "parent", album.map(|a| json!(a.id)));
    m.insert("isDir".into(), json!(false));
    m.insert("title".into(), json!(track.title));
    m.insert(
        "album".into(),
        json!(album.map_or_else(
            || track.album.clone().unwrap_or_default(),
            |a| a.name.clone()
        )),
    );
    m.insert("artist".into(), json!(track.artist));
    m.insert("displayArtist".into(), json!(track.artist));
    put(&mut m, "displayAlbumArtist", album.map(|a| json!(a.artist)));
    put(
        &mut m,
        "track",
        file.and_then(|f| f.track_number).map(|n| json!(n)),
    );
    put(
        &mut m,
        "discNumber",
        file.and_then(|f| f.disc_number).map(|n| json!(n)),
    );
    put(&mut m, "year", track.year.map(|y| json!(y)));
    put(
        &mut m,
        "genre",
        track.metadata.genre.as_ref().map(|g| json!(g)),
    );
    let genres: Vec<Value> = match file {
        Some(f) if !f.genres.is_empty() => f.genres.iter().map(|g| json!({ "name": g })).collect(),
        _ => track
            .metadata
            .genre
            .iter()
            .map(|g| json!({ "name": g }))
            .collect(),
    };
    m.insert("genres".into(), Value::Array(genres));
    m.insert("coverArt".into(), json!(track.id));
    put(&mut m, "size", file.map(|f| json!(f.size)));
    put(&mut m, "contentType", file.map(|f| json!(f.content_type)));
    put(&mut m, "suffix", file.map(|f| json!(f.suffix)));
    put(
        &mut m,
        "duration",
        track
            .metadata
            .duration
            .map(|d| json!(d.round().max(0.0) as u64)),
    );
    put(
        &mut m,
        "bitRate",
        file.and_then(|f| f.bit_rate).map(|b| json!(b)),
    );
    // A path a client may show or group by; never the server's real one.
    let file_name = track
        .audio_path
        .as_deref()
        .and_then(|p| std::path::Path::new(p).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    put(
        &mut m,
        "path",
        album.map(|a| json!(format!("{}/{}/{}", a.artist, a.name, file_name))),
    );
    put(
        &mut m,
        "created",
        track.created_at.as_ref().map(|c| json!(c)),
    );
    put(&mut m, "albumId", album.map(|a| json!(a.id)));
    put(&mut m, "artistId", album.map(|a| json!(a.artist_id)));
    m.insert("type".into(), json!("music"));
    m.insert("mediaType".into(), json!("song"));
    m.insert("isVideo".into(), json!(false));
    put(
        &mut m,
        "bpm",
        track.metadata.tempo.map(|t| json!(t.round() as u32)),
    );
    m.insert("moods".into(), json!(track.metadata.mood));
    put(
        &mut m,
        "musicBrainzId",
        file.and_then(|f| f.musicbrainz.recording.as_ref())
            .map(|id| json!(id)),
    );
    m.insert("sortName".into(), json!(sort_name(&track.title)));
    if let Some((count, last)) = listener.plays.get(&track.id) {
        m.insert("playCount".into(), json!(count));
        m.insert("played".into(), json!(last));
    }
    personal(&mut m, &track.id, listener);
    Value::Object(m)
}

/// An album (`AlbumID3`), without its songs.
pub fn album(album: &Album, listener: &ListenerState) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(album.id));
    m.insert("name".into(), json!(album.name));
    m.insert("title".into(), json!(album.name));
    m.insert("album".into(), json!(album.name));
    m.insert("artist".into(), json!(album.artist));
    m.insert("displayArtist".into(), json!(album.artist));
    m.insert("artistId".into(), json!(album.artist_id));
    m.insert("isDir".into(), json!(true));
    m.insert("coverArt".into(), json!(album.id));
    m.insert("songCount".into(), json!(album.song_ids.len()));
    m.insert(
        "duration".into(),
        json!(album.duration_seconds.round() as u64),
    );
    if !album.created.is_empty() {
        m.insert("created".into(), json!(album.created));
    }
    put(&mut m, "year", album.year.map(|y| json!(y)));
    put(&mut m, "genre", album.genre.as_ref().map(|g| json!(g)));
    m.insert(
        "genres".into(),
        Value::Array(album.genres.iter().map(|g| json!({ "name": g })).collect()),
    );
    put(
        &mut m,
        "musicBrainzId",
        album.musicbrainz_id.as_ref().map(|id| json!(id)),
    );
    m.insert("isCompilation".into(), json!(album.compilation));
    m.insert("sortName".into(), json!(sort_name(&album.name)));
    let plays: u64 = album
        .song_ids
        .iter()
        .filter_map(|s| listener.plays.get(s))
        .map(|(c, _)| c)
        .sum();
    if plays > 0 {
        m.insert("playCount".into(), json!(plays));
    }
    personal(&mut m, &album.id, listener);
    Value::Object(m)
}

/// An artist (`ArtistID3`).
pub fn artist(artist: &Artist, listener: &ListenerState) -> Value {
    let mut m = Map::new();
    m.insert("id".into(), json!(artist.id));
    m.insert("name".into(), json!(artist.name));
    m.insert("coverArt".into(), json!(artist.id));
    m.insert("albumCount".into(), json!(artist.album_ids.len()));
    m.insert("sortName".into(), json!(sort_name(&artist.name)));
    put(
        &mut m,
        "musicBrainzId",
        artist.musicbrainz_id.as_ref().map(|id| json!(id)),
    );
    personal(&mut m, &artist.id, listener);
    Value::Object(m)
}

/// An album with its songs (`getAlbum`).
pub fn album_with_songs(library: &LibraryIndex, a: &Album, listener: &ListenerState) -> Value {
    let mut v = album(a, listener);
    v["song"] = Value::Array(
        library
            .album_songs(a)
            .into_iter()
            .map(|t| song(library, t, listener))
            .collect(),
    );
    v
}
