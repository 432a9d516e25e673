//! Saved playlists: a playlist kept with the request (its rule: theme, seeds, filters, length)
//! that made it, remade by "refresh", which leaves out what was played in the last week when
//! play counts are known (scrobbles through the Subsonic API). Kept in the library's records,
//! public to every library user, so Subsonic players list them too. `/v1/playlists` and
//! `music-rag playlists` call these.

use music_rag_core::app::playlist::PlaylistRequest;
use music_rag_core::domain::playlist::Playlist;
use music_rag_core::{CoreError, Engine};
use music_rag_store::library_db::PlaylistRecord;
use music_rag_store::LibraryDb;
use serde::Serialize;

use crate::error::{OpsError, Result};

/// Who saved playlists belong to in the library (shown as their owner in Subsonic players).
pub const OWNER: &str = "music-rag";
/// A refresh leaves out what was played this recently.
pub const RECENT_DAYS: i64 = 7;
const NAME_MAX_BYTES: usize = 200;

/// A saved playlist: its rule and its tracks as last made.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedPlaylist {
    pub id: i64,
    pub name: String,
    pub rule: PlaylistRequest,
    pub created_at: String,
    /// When it was last made (saved or refreshed).
    pub refreshed_at: Option<String>,
    /// Recently played tracks the last refresh left out.
    pub avoided: usize,
    pub playlist: Playlist,
}

impl SavedPlaylist {
    fn of(
        record: PlaylistRecord,
        rule: PlaylistRequest,
        avoided: usize,
        playlist: Playlist,
    ) -> Self {
        Self {
            id: record.id,
            name: record.name,
            rule,
            created_at: record.created_at,
            refreshed_at: record.refreshed_at,
            avoided,
            playlist,
        }
    }
}

/// A saved playlist in a list: no tracks.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SavedPlaylistSummary {
    pub id: i64,
    pub name: String,
    pub rule: PlaylistRequest,
    pub tracks: usize,
    pub created_at: String,
    pub refreshed_at: Option<String>,
}

fn store(e: music_rag_store::StoreError) -> OpsError {
    OpsError::store("library records")(e)
}

fn not_found(id: i64) -> OpsError {
    OpsError::Core(CoreError::NotFound(format!("no saved playlist {id}")))
}

fn rule_of(record: &PlaylistRecord) -> Result<PlaylistRequest> {
    let text = record.rule.as_deref().ok_or_else(|| not_found(record.id))?;
    serde_json::from_str(text).map_err(|e| {
        OpsError::Core(CoreError::Internal(format!(
            "the rule of saved playlist {} cannot be read: {e}",
            record.id
        )))
    })
}

fn check_name(name: &str) -> Result<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > NAME_MAX_BYTES || name.chars().any(char::is_control) {
        return Err(OpsError::Core(CoreError::invalid(
            "name",
            format!("must be 1-{NAME_MAX_BYTES} bytes of text without control characters"),
        )));
    }
    Ok(name.to_string())
}

/// Makes the playlist, refusing an empty one (with the reason).
fn build(engine: &Engine, rule: &PlaylistRequest) -> Result<Playlist> {
    let playlist = engine.playlist(rule)?;
    if playlist.entries.is_empty() {
        return Err(OpsError::Core(CoreError::invalid(
            "rule",
            format!(
                "makes an empty playlist: {}",
                playlist.empty_reason.as_deref().unwrap_or("nothing fits")
            ),
        )));
    }
    Ok(playlist)
}

fn ids(playlist: &Playlist) -> Vec<String> {
    playlist
        .entries
        .iter()
        .map(|e| e.track.id.clone())
        .collect()
}

/// Saves the playlist `rule` makes, under `name`.
pub fn save(
    engine: &Engine,
    db: &LibraryDb,
    name: &str,
    rule: PlaylistRequest,
) -> Result<SavedPlaylist> {
    let name = check_name(name)?;
    if !rule.tracks.is_empty() || !rule.avoid.is_empty() {
        return Err(OpsError::Core(CoreError::invalid(
            "rule",
            "a saved playlist is made from a theme, seeds or a playlist to expand; `tracks` and `avoid` are not rules",
        )));
    }
    let playlist = build(engine, &rule)?;
    let json = serde_json::to_string(&rule)
        .map_err(|e| OpsError::Core(CoreError::Internal(e.to_string())))?;
    let id = db
        .create_saved_playlist(OWNER, &name, &ids(&playlist), Some(&json), true)
        .map_err(store)?;
    let record = db
        .playlist(id)
        .map_err(store)?
        .ok_or_else(|| not_found(id))?;
    Ok(SavedPlaylist::of(record, rule, 0, playlist))
}

/// What was played in the last [`RECENT_DAYS`] days, by anyone.
fn recently_played(db: &LibraryDb) -> Result<Vec<String>> {
    let since = time::OffsetDateTime::now_utc() - time::Duration::days(RECENT_DAYS);
    let since = since
        .format(&time::format_description::well_known::Rfc3339)
        .map_err(|e| OpsError::Core(CoreError::Internal(e.to_string())))?;
    let mut played = db.played_since(None, &since).map_err(store)?;
    played.truncate(music_rag_core::app::playlist::AVOID_MAX);
    Ok(played)
}

/// Remakes a saved playlist from its rule, leaving out what was played in the last week
/// (unless too few others fit).
pub fn refresh(engine: &Engine, db: &LibraryDb, id: i64) -> Result<SavedPlaylist> {
    let record = db
        .playlist(id)
        .map_err(store)?
        .ok_or_else(|| not_found(id))?;
    let rule = rule_of(&record)?;
    let mut with_avoid = rule.clone();
    let mut avoid = recently_played(db)?;
    avoid.retain(|t| !rule.seed_ids.contains(t) && !rule.expand.contains(t));
    with_avoid.avoid = avoid.clone();
    let playlist = build(engine, &with_avoid)?;
    let avoided = avoid
        .iter()
        .filter(|a| !playlist.entries.iter().any(|e| &e.track.id == *a))
        .count();
    if !db.refresh_playlist(id, &ids(&playlist)).map_err(store)? {
        return Err(not_found(id));
    }
    let record = db
        .playlist(id)
        .map_err(store)?
        .ok_or_else(|| not_found(id))?;
    Ok(SavedPlaylist::of(record, rule, avoided, playlist))
}

/// A saved playlist with its tracks as last made (tracks that left the catalog are skipped).
pub fn get(engine: &Engine, db: &LibraryDb, id: i64) -> Result<SavedPlaylist> {
    let record = db
        .playlist(id)
        .map_err(store)?
        .ok_or_else(|| not_found(id))?;
    let rule = rule_of(&record)?;
    let catalog = engine.catalog();
    let mut present = Vec::new();
    for t in &record.tracks {
        if catalog.find(t)?.is_some() {
            present.push(t.clone());
        }
    }
    if present.is_empty() {
        // Every track left the catalog: made again from the rule.
        return refresh(engine, db, id);
    }
    let playlist = engine.playlist(&PlaylistRequest {
        tracks: present,
        title: Some(record.name.clone()),
        ..Default::default()
    })?;
    Ok(SavedPlaylist::of(record, rule, 0, playlist))
}

/// Every saved playlist, by name.
pub fn list(db: &LibraryDb) -> Result<Vec<SavedPlaylistSummary>> {
    db.saved_playlists()
        .map_err(store)?
        .iter()
        .map(|r| {
            Ok(SavedPlaylistSummary {
                id: r.id,
                name: r.name.clone(),
                rule: rule_of(r)?,
                tracks: r.tracks.len(),
                created_at: r.created_at.clone(),
                refreshed_at: r.refreshed_at.clone(),
            })
        })
        .collect()
}

/// Deletes a saved playlist.
pub fn delete(db: &LibraryDb, id: i64) -> Result<()> {
    let record = db
        .playlist(id)
        .map_err(store)?
        .ok_or_else(|| not_found(id))?;
    if record.rule.is_none() {
        return Err(not_found(id));
    }
    db.delete_playlist(id).map_err(store)?;
    Ok(())
}
