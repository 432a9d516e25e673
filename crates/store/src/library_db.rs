//! The library's own records, beside the catalog: which files a scan has read (size,
//! modification time, the track they became, or the error they gave), and each user's state
//! (accounts, API keys, stars, ratings, play counts, playlists).
//!
//! The tables live in the embedded store's own `catalog.sqlite` (their own connection, WAL, so
//! the store's writer and this one take turns), which puts them in every snapshot and restore
//! with nothing more to do. With PostgreSQL as the catalog, they live in `library.sqlite` in the
//! data directory.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;

use rusqlite::{params, Connection, OptionalExtension};

use crate::StoreError;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS library_files(
    path TEXT PRIMARY KEY,
    folder TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    track_id TEXT,
    analysed INTEGER NOT NULL DEFAULT 0,
    error TEXT
);
CREATE INDEX IF NOT EXISTS library_files_folder ON library_files(folder);
CREATE TABLE IF NOT EXISTS library_users(
    name TEXT PRIMARY KEY,
    password_sealed BLOB NOT NULL,
    admin INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS library_user_keys(
    digest BLOB PRIMARY KEY,
    user TEXT NOT NULL,
    label TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS library_stars(
    user TEXT NOT NULL,
    item TEXT NOT NULL,
    starred_at TEXT NOT NULL,
    PRIMARY KEY(user, item)
);
CREATE TABLE IF NOT EXISTS library_ratings(
    user TEXT NOT NULL,
    item TEXT NOT NULL,
    rating INTEGER NOT NULL,
    PRIMARY KEY(user, item)
);
CREATE TABLE IF NOT EXISTS library_plays(
    user TEXT NOT NULL,
    track TEXT NOT NULL,
    count INTEGER NOT NULL,
    last_played TEXT NOT NULL,
    PRIMARY KEY(user, track)
);
CREATE TABLE IF NOT EXISTS library_playlists(
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    owner TEXT NOT NULL,
    name TEXT NOT NULL,
    comment TEXT,
    public INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    changed_at TEXT NOT NULL,
    rule TEXT,
    refreshed_at TEXT
);
CREATE TABLE IF NOT EXISTS library_playlist_entries(
    playlist INTEGER NOT NULL,
    position INTEGER NOT NULL,
    track TEXT NOT NULL,
    PRIMARY KEY(playlist, position)
);
";

const NOW: &str = "strftime('%Y-%m-%dT%H:%M:%fZ','now')";

/// A file a scan has seen: what it was when read, and what came of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScannedFile {
    pub path: String,
    pub folder: String,
    pub size: u64,
    pub mtime_ns: i64,
    /// The track the file became (none when it failed).
    pub track_id: Option<String>,
    /// Whether its sound was analysed (not only its tags read).
    pub analysed: bool,
    /// Why reading it failed; retried only when the file changes.
    pub error: Option<String>,
}

/// A user account as stored: the password sealed with the server's secret.
#[derive(Debug, Clone)]
pub struct UserRecord {
    pub name: String,
    pub password_sealed: Vec<u8>,
    pub admin: bool,
    pub created_at: String,
}

/// A starred item and when.
#[derive(Debug, Clone)]
pub struct Starred {
    pub item: String,
    pub at: String,
}

/// A user's plays of one track.
#[derive(Debug, Clone)]
pub struct Plays {
    pub count: u64,
    pub last_played: String,
}

/// A playlist with its entries in order.
#[derive(Debug, Clone)]
pub struct PlaylistRecord {
    pub id: i64,
    pub owner: String,
    pub name: String,
    pub comment: Option<String>,
    pub public: bool,
    pub created_at: String,
    pub changed_at: String,
    /// The request that made it (JSON), for a saved playlist that can be refreshed.
    pub rule: Option<String>,
    pub refreshed_at: Option<String>,
    pub tracks: Vec<String>,
}

/// What an update of a playlist changes.
#[derive(Debug, Clone, Default)]
pub struct PlaylistChange {
    pub name: Option<String>,
    pub comment: Option<String>,
    pub public: Option<bool>,
    /// Tracks appended at the end.
    pub add: Vec<String>,
    /// Positions (0-based, as they were before this change) removed.
    pub remove: Vec<usize>,
    /// When set, the whole list is replaced by these (then `add` and `remove` apply).
    pub replace: Option<Vec<String>>,
}

/// The library's records, over one connection.
pub struct LibraryDb {
    conn: Mutex<Connection>,
}

impl LibraryDb {
    /// Opens (creating the tables when missing) the library records in the SQLite file `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute_batch(SCHEMA)?;
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    /// The records of the embedded store in `data_dir` (its own database file), or, for a
    /// catalog in PostgreSQL, `library.sqlite` there.
    pub fn open_in(data_dir: &Path, embedded: bool) -> Result<Self, StoreError> {
        let file = if embedded {
            crate::DB_FILE
        } else {
            "library.sqlite"
        };
        Self::open(&data_dir.join(file))
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    // ---- scanned files ----

    /// Every file recorded under `folder`, by path.
    pub fn scanned(&self, folder: &str) -> Result<HashMap<String, ScannedFile>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT path, folder, size, mtime_ns, track_id, analysed, error FROM library_files \
             WHERE folder = ?1",
        )?;
        let rows = stmt.query_map([folder], |r| {
            Ok(ScannedFile {
                path: r.get(0)?,
                folder: r.get(1)?,
                size: r.get::<_, i64>(2)? as u64,
                mtime_ns: r.get(3)?,
                track_id: r.get(4)?,
                analysed: r.get::<_, i64>(5)? != 0,
                error: r.get(6)?,
            })
        })?;
        let mut out = HashMap::new();
        for row in rows {
            let row = row?;
            out.insert(row.path.clone(), row);
        }
        Ok(out)
    }

    /// Records what a batch of files became, in one transaction.
    pub fn record_scanned(&self, files: &[ScannedFile]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached(
                "INSERT INTO library_files(path, folder, size, mtime_ns, track_id, analysed, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(path) DO UPDATE SET \
                 folder = excluded.folder, size = excluded.size, mtime_ns = excluded.mtime_ns, \
                 track_id = excluded.track_id, analysed = excluded.analysed, error = excluded.error",
            )?;
            for f in files {
                stmt.execute(params![
                    f.path,
                    f.folder,
                    f.size as i64,
                    f.mtime_ns,
                    f.track_id,
                    i64::from(f.analysed),
                    f.error
                ])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets files (they vanished).
    pub fn forget_scanned(&self, paths: &[String]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        {
            let mut stmt = tx.prepare_cached("DELETE FROM library_files WHERE path = ?1")?;
            for p in paths {
                stmt.execute([p])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Files recorded and, of them, how many failed.
    pub fn scanned_counts(&self) -> Result<(u64, u64), StoreError> {
        let conn = self.conn();
        Ok(conn.query_row(
            "SELECT count(*), count(error) FROM library_files",
            [],
            |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64)),
        )?)
    }

    // ---- users ----

    /// Adds a user; `false` when the name is taken.
    pub fn add_user(&self, name: &str, sealed: &[u8], admin: bool) -> Result<bool, StoreError> {
        let conn = self.conn();
        let n = conn.execute(
            &format!(
                "INSERT INTO library_users(name, password_sealed, admin, created_at) \
                 VALUES (?1, ?2, ?3, {NOW}) ON CONFLICT(name) DO NOTHING"
            ),
            params![name, sealed, i64::from(admin)],
        )?;
        Ok(n == 1)
    }

    pub fn user(&self, name: &str) -> Result<Option<UserRecord>, StoreError> {
        let conn = self.conn();
        Ok(conn
            .query_row(
                "SELECT name, password_sealed, admin, created_at FROM library_users WHERE name = ?1",
                [name],
                |r| {
                    Ok(UserRecord {
                        name: r.get(0)?,
                        password_sealed: r.get(1)?,
                        admin: r.get::<_, i64>(2)? != 0,
                        created_at: r.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    pub fn users(&self) -> Result<Vec<UserRecord>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare(
            "SELECT name, password_sealed, admin, created_at FROM library_users ORDER BY name",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(UserRecord {
                name: r.get(0)?,
                password_sealed: r.get(1)?,
                admin: r.get::<_, i64>(2)? != 0,
                created_at: r.get(3)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Removes a user and everything that is theirs; `false` when there is no such user.
    pub fn remove_user(&self, name: &str) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute("DELETE FROM library_users WHERE name = ?1", [name])?;
        for table in [
            "library_user_keys",
            "library_stars",
            "library_ratings",
            "library_plays",
        ] {
            tx.execute(&format!("DELETE FROM {table} WHERE user = ?1"), [name])?;
        }
        tx.execute(
            "DELETE FROM library_playlist_entries WHERE playlist IN \
             (SELECT id FROM library_playlists WHERE owner = ?1)",
            [name],
        )?;
        tx.execute("DELETE FROM library_playlists WHERE owner = ?1", [name])?;
        tx.commit()?;
        Ok(n == 1)
    }

    /// Replaces a user's sealed password; `false` when there is no such user.
    pub fn set_password(&self, name: &str, sealed: &[u8]) -> Result<bool, StoreError> {
        let conn = self.conn();
        Ok(conn.execute(
            "UPDATE library_users SET password_sealed = ?2 WHERE name = ?1",
            params![name, sealed],
        )? == 1)
    }

    /// Keeps an API key of `user` by its digest.
    pub fn add_key(&self, user: &str, digest: &[u8], label: &str) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            &format!(
                "INSERT INTO library_user_keys(digest, user, label, created_at) \
                 VALUES (?1, ?2, ?3, {NOW})"
            ),
            params![digest, user, label],
        )?;
        Ok(())
    }

    /// Every key digest and its user (a handful per user; compared in constant time by the
    /// caller).
    pub fn keys(&self) -> Result<Vec<(Vec<u8>, String, String)>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare("SELECT digest, user, label FROM library_user_keys")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Revokes a user's keys (all, or those with `label`); how many went.
    pub fn revoke_keys(&self, user: &str, label: Option<&str>) -> Result<usize, StoreError> {
        let conn = self.conn();
        Ok(match label {
            Some(l) => conn.execute(
                "DELETE FROM library_user_keys WHERE user = ?1 AND label = ?2",
                params![user, l],
            )?,
            None => conn.execute("DELETE FROM library_user_keys WHERE user = ?1", [user])?,
        })
    }

    // ---- stars, ratings, plays ----

    pub fn star(&self, user: &str, items: &[String]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for item in items {
            tx.execute(
                &format!(
                    "INSERT INTO library_stars(user, item, starred_at) VALUES (?1, ?2, {NOW}) \
                     ON CONFLICT(user, item) DO NOTHING"
                ),
                params![user, item],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    pub fn unstar(&self, user: &str, items: &[String]) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for item in items {
            tx.execute(
                "DELETE FROM library_stars WHERE user = ?1 AND item = ?2",
                params![user, item],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// What `user` starred, newest first.
    pub fn starred(&self, user: &str) -> Result<Vec<Starred>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT item, starred_at FROM library_stars WHERE user = ?1 ORDER BY starred_at DESC",
        )?;
        let rows = stmt.query_map([user], |r| {
            Ok(Starred {
                item: r.get(0)?,
                at: r.get(1)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets (1-5) or clears (0) a rating.
    pub fn set_rating(&self, user: &str, item: &str, rating: u8) -> Result<(), StoreError> {
        let conn = self.conn();
        if rating == 0 {
            conn.execute(
                "DELETE FROM library_ratings WHERE user = ?1 AND item = ?2",
                params![user, item],
            )?;
        } else {
            conn.execute(
                "INSERT INTO library_ratings(user, item, rating) VALUES (?1, ?2, ?3) \
                 ON CONFLICT(user, item) DO UPDATE SET rating = excluded.rating",
                params![user, item, i64::from(rating)],
            )?;
        }
        Ok(())
    }

    pub fn ratings(&self, user: &str) -> Result<HashMap<String, u8>, StoreError> {
        let conn = self.conn();
        let mut stmt =
            conn.prepare_cached("SELECT item, rating FROM library_ratings WHERE user = ?1")?;
        let rows = stmt.query_map([user], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?.clamp(0, 5) as u8,
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counts one play of `track` by `user` at `at` (RFC 3339; now when none).
    pub fn add_play(&self, user: &str, track: &str, at: Option<&str>) -> Result<(), StoreError> {
        let conn = self.conn();
        conn.execute(
            &format!(
                "INSERT INTO library_plays(user, track, count, last_played) \
                 VALUES (?1, ?2, 1, coalesce(?3, {NOW})) ON CONFLICT(user, track) DO UPDATE SET \
                 count = count + 1, last_played = max(last_played, excluded.last_played)"
            ),
            params![user, track, at],
        )?;
        Ok(())
    }

    pub fn plays(&self, user: &str) -> Result<HashMap<String, Plays>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT track, count, last_played FROM library_plays WHERE user = ?1",
        )?;
        let rows = stmt.query_map([user], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Plays {
                    count: r.get::<_, i64>(1)? as u64,
                    last_played: r.get(2)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    // ---- playlists ----

    pub fn create_playlist(
        &self,
        owner: &str,
        name: &str,
        tracks: &[String],
    ) -> Result<i64, StoreError> {
        self.create_saved_playlist(owner, name, tracks, None, false)
    }

    /// A playlist with the rule (JSON) that made it, to be refreshed; `public` ones every
    /// user sees.
    pub fn create_saved_playlist(
        &self,
        owner: &str,
        name: &str,
        tracks: &[String],
        rule: Option<&str>,
        public: bool,
    ) -> Result<i64, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            &format!(
                "INSERT INTO library_playlists(owner, name, public, rule, created_at, changed_at, \
                 refreshed_at) VALUES (?1, ?2, ?3, ?4, {NOW}, {NOW}, CASE WHEN ?4 IS NULL THEN NULL ELSE {NOW} END)"
            ),
            params![owner, name, i64::from(public), rule],
        )?;
        let id = tx.last_insert_rowid();
        write_entries(&tx, id, tracks)?;
        tx.commit()?;
        Ok(id)
    }

    pub fn playlist(&self, id: i64) -> Result<Option<PlaylistRecord>, StoreError> {
        let conn = self.conn();
        let head = conn
            .query_row(
                "SELECT id, owner, name, comment, public, created_at, changed_at, rule, refreshed_at \
                 FROM library_playlists WHERE id = ?1",
                [id],
                |r| {
                    Ok(PlaylistRecord {
                        id: r.get(0)?,
                        owner: r.get(1)?,
                        name: r.get(2)?,
                        comment: r.get(3)?,
                        public: r.get::<_, i64>(4)? != 0,
                        created_at: r.get(5)?,
                        changed_at: r.get(6)?,
                        rule: r.get(7)?,
                        refreshed_at: r.get(8)?,
                        tracks: Vec::new(),
                    })
                },
            )
            .optional()?;
        let Some(mut playlist) = head else {
            return Ok(None);
        };
        playlist.tracks = entries(&conn, id)?;
        Ok(Some(playlist))
    }

    /// Playlists `user` owns and public ones of others, by name.
    pub fn playlists(&self, user: &str) -> Result<Vec<PlaylistRecord>, StoreError> {
        self.playlists_where("owner = ?1 OR public = 1", [user])
    }

    /// The playlists whose row passes `condition`, by name, each with its entries.
    fn playlists_where(
        &self,
        condition: &str,
        params: impl rusqlite::Params,
    ) -> Result<Vec<PlaylistRecord>, StoreError> {
        let ids: Vec<i64> = {
            let conn = self.conn();
            let mut stmt = conn.prepare(&format!(
                "SELECT id FROM library_playlists WHERE {condition} ORDER BY name, id"
            ))?;
            let rows = stmt.query_map(params, |r| r.get(0))?;
            rows.collect::<Result<_, _>>()?
        };
        let mut out = Vec::new();
        for id in ids {
            if let Some(p) = self.playlist(id)? {
                out.push(p);
            }
        }
        Ok(out)
    }

    /// Applies `change`; `false` when there is no such playlist.
    pub fn update_playlist(&self, id: i64, change: &PlaylistChange) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT id FROM library_playlists WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .optional()?;
        if exists.is_none() {
            return Ok(false);
        }
        if let Some(name) = &change.name {
            tx.execute(
                "UPDATE library_playlists SET name = ?2 WHERE id = ?1",
                params![id, name],
            )?;
        }
        if let Some(comment) = &change.comment {
            tx.execute(
                "UPDATE library_playlists SET comment = ?2 WHERE id = ?1",
                params![id, comment],
            )?;
        }
        if let Some(public) = change.public {
            tx.execute(
                "UPDATE library_playlists SET public = ?2 WHERE id = ?1",
                params![id, i64::from(public)],
            )?;
        }
        let mut tracks = match &change.replace {
            Some(r) => r.clone(),
            None => entries(&tx, id)?,
        };
        let remove: std::collections::HashSet<usize> = change.remove.iter().copied().collect();
        tracks = tracks
            .into_iter()
            .enumerate()
            .filter(|(i, _)| !remove.contains(i))
            .map(|(_, t)| t)
            .collect();
        tracks.extend(change.add.iter().cloned());
        write_entries(&tx, id, &tracks)?;
        tx.execute(
            &format!("UPDATE library_playlists SET changed_at = {NOW} WHERE id = ?1"),
            [id],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Playlists saved with a rule, by name.
    pub fn saved_playlists(&self) -> Result<Vec<PlaylistRecord>, StoreError> {
        self.playlists_where("rule IS NOT NULL", [])
    }

    /// Replaces a saved playlist's tracks with a fresh build; `false` when there is none.
    pub fn refresh_playlist(&self, id: i64, tracks: &[String]) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let n = tx.execute(
            &format!(
                "UPDATE library_playlists SET refreshed_at = {NOW}, changed_at = {NOW} WHERE id = ?1"
            ),
            [id],
        )?;
        if n == 0 {
            return Ok(false);
        }
        write_entries(&tx, id, tracks)?;
        tx.commit()?;
        Ok(true)
    }

    /// Tracks played since `since` (RFC 3339), by `user` or, with none, by anyone; most
    /// recent first.
    pub fn played_since(&self, user: Option<&str>, since: &str) -> Result<Vec<String>, StoreError> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT track FROM library_plays WHERE last_played >= ?1 AND (?2 IS NULL OR user = ?2) \
             GROUP BY track ORDER BY max(last_played) DESC",
        )?;
        let rows = stmt.query_map(params![since, user], |r| r.get(0))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Deletes a playlist; `false` when there is none.
    pub fn delete_playlist(&self, id: i64) -> Result<bool, StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "DELETE FROM library_playlist_entries WHERE playlist = ?1",
            [id],
        )?;
        let n = tx.execute("DELETE FROM library_playlists WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(n == 1)
    }
}

fn entries(conn: &Connection, id: i64) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT track FROM library_playlist_entries WHERE playlist = ?1 ORDER BY position",
    )?;
    let rows = stmt.query_map([id], |r| r.get(0))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

fn write_entries(conn: &Connection, id: i64, tracks: &[String]) -> Result<(), StoreError> {
    conn.execute(
        "DELETE FROM library_playlist_entries WHERE playlist = ?1",
        [id],
    )?;
    let mut stmt = conn.prepare_cached(
        "INSERT INTO library_playlist_entries(playlist, position, track) VALUES (?1, ?2, ?3)",
    )?;
    for (i, t) in tracks.iter().enumerate() {
        stmt.execute(params![id, i as i64, t])?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_reopening_and_playlists_edit_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.sqlite");
        {
            let db = LibraryDb::open(&path).unwrap();
            assert!(db.add_user("ann", b"sealed", true).unwrap());
            assert!(!db.add_user("ann", b"other", false).unwrap());
            db.star("ann", &["t1".into(), "al-x".into()]).unwrap();
            db.add_play("ann", "t1", None).unwrap();
            db.add_play("ann", "t1", None).unwrap();
            db.set_rating("ann", "t1", 4).unwrap();
            let id = db
                .create_playlist("ann", "mix", &["a".into(), "b".into(), "c".into()])
                .unwrap();
            let change = PlaylistChange {
                remove: vec![1],
                add: vec!["d".into()],
                name: Some("mix 2".into()),
                ..Default::default()
            };
            assert!(db.update_playlist(id, &change).unwrap());
            assert!(!db.update_playlist(id + 1, &change).unwrap());
        }
        let db = LibraryDb::open(&path).unwrap();
        assert_eq!(db.user("ann").unwrap().unwrap().password_sealed, b"sealed");
        assert_eq!(db.starred("ann").unwrap().len(), 2);
        assert_eq!(db.plays("ann").unwrap()["t1"].count, 2);
        assert_eq!(db.ratings("ann").unwrap()["t1"], 4);
        let lists = db.playlists("ann").unwrap();
        assert_eq!(lists.len(), 1);
        assert_eq!(lists[0].name, "mix 2");
        assert_eq!(lists[0].tracks, ["a", "c", "d"]);
        assert!(db.playlists("bob").unwrap().is_empty());
        assert!(db.remove_user("ann").unwrap());
        assert!(db.starred("ann").unwrap().is_empty());
        assert!(db.playlists("ann").unwrap().is_empty());
    }
}
