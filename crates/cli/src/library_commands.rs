//! `music-rag scan DIR…` (music folders into the library, incremental, with a progress bar)
//! and `music-rag user add|list|remove|passwd|key|revoke` (the library's users, for the
//! Subsonic API). Each makes one call to the operations layer.

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use music_rag_ops::scan::{ScanOptions, ScanReport};
use music_rag_ops::users::{open_users, Users};

use crate::Global;

#[derive(Args, Debug)]
pub struct ScanArgs {
    /// Music folders to scan (recursively; files are read in place, never written).
    #[arg(required = true)]
    pub folders: Vec<PathBuf>,
    /// Read tags only: no decoding, no analysis (much faster; a later scan without this flag
    /// analyses what was only tagged).
    #[arg(long)]
    pub no_analysis: bool,
    /// Read every file again, changed or not.
    #[arg(long)]
    pub force: bool,
}

pub fn scan(g: &Global, args: &ScanArgs) -> Result<ExitCode> {
    let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadWrite)?;
    let users = users(g)?;
    let bar = crate::progress::Bar::new("files", g.json);
    let options = ScanOptions {
        analyse: !args.no_analysis,
        force: args.force,
    };
    let report =
        music_rag_ops::scan::scan(&engine, users.db(), &args.folders, options, &bar, None)?;
    print_scan(&report, g.json)?;
    Ok(if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        // As `ingest-audio`: the rest went in; some files could not be read.
        ExitCode::from(2)
    })
}

fn print_scan(r: &ScanReport, json: bool) -> Result<()> {
    if json {
        outln!("{}", serde_json::to_string(r)?);
        return Ok(());
    }
    outln!(
        "{} files in {} folder{}: {} read ({} added, {} updated, {} analysed), {} unchanged, \
         {} failed, {} vanished; {:.1} s ({:.0} files/s)",
        r.files,
        r.folders.len(),
        if r.folders.len() == 1 { "" } else { "s" },
        r.read,
        r.added,
        r.updated,
        r.analysed,
        r.unchanged,
        r.failed.len(),
        r.vanished.len(),
        r.seconds,
        r.files_per_second
    );
    if r.failed_unchanged > 0 {
        outln!(
            "  {} files that failed before are unchanged and were not tried again (--force tries them)",
            r.failed_unchanged
        );
    }
    for f in &r.failed {
        outln!(
            "  failed {}: {}",
            f.path.as_deref().unwrap_or("?"),
            f.message
        );
    }
    for v in &r.vanished {
        outln!("  vanished {v} (its song was removed)");
    }
    Ok(())
}

#[derive(Subcommand, Debug)]
pub enum UserCommand {
    /// Add a user (the password is read from a file, or from standard input with `-`).
    Add {
        name: String,
        /// File holding the password (first line); `-` reads standard input.
        #[arg(long)]
        password_file: PathBuf,
        /// May scan, and manage other users' playlists.
        #[arg(long)]
        admin: bool,
    },
    /// List users (never their passwords).
    List,
    /// Remove a user with their stars, ratings, plays, keys and playlists.
    Remove { name: String },
    /// Set a user's password.
    Passwd {
        name: String,
        #[arg(long)]
        password_file: PathBuf,
    },
    /// Make an API key for a user (printed once; only its digest is kept).
    Key {
        name: String,
        /// What the key is for (a device), to revoke it by.
        #[arg(long, default_value = "default")]
        label: String,
    },
    /// Revoke a user's API keys (those with --label, or all).
    Revoke {
        name: String,
        #[arg(long)]
        label: Option<String>,
    },
}

#[derive(Args, Debug)]
pub struct UserArgs {
    #[command(subcommand)]
    pub command: UserCommand,
    /// The server secret passwords are sealed with (default: DATA_DIR/secret.key, made when
    /// missing). The server must use the same one.
    #[arg(long, env = "MUSIC_RAG_SECRET_KEY_FILE", global = true)]
    pub secret_key_file: Option<PathBuf>,
}

/// The library's records of the data directory (no secret needed: no passwords are read).
pub fn library_db(g: &Global) -> Result<std::sync::Arc<music_rag_store::LibraryDb>> {
    let embedded = g.engine_settings().is_embedded()?;
    Ok(std::sync::Arc::new(music_rag_store::LibraryDb::open_in(
        &g.data_dir,
        embedded,
    )?))
}

#[derive(Subcommand, Debug)]
pub enum PlaylistsCommand {
    /// List saved playlists (the default).
    List,
    /// One saved playlist with its tracks.
    Show { id: i64 },
    /// Make a saved playlist again from its rule, leaving out what was played in the last week.
    Refresh { id: i64 },
    /// Delete a saved playlist.
    Delete { id: i64 },
}

#[derive(Args, Debug)]
pub struct PlaylistsArgs {
    #[command(subcommand)]
    pub command: Option<PlaylistsCommand>,
}

pub fn playlists(g: &Global, args: &PlaylistsArgs) -> Result<ExitCode> {
    use music_rag_ops::saved_playlists as saved;
    let db = library_db(g)?;
    let show = |p: &saved::SavedPlaylist| -> Result<()> {
        if g.json {
            outln!("{}", serde_json::to_string(p)?);
        } else {
            outln!(
                "{} {}: {} tracks (made {}{})",
                p.id,
                p.name,
                p.playlist.entries.len(),
                p.refreshed_at.as_deref().unwrap_or("?"),
                if p.avoided > 0 {
                    format!("; {} played in the last week left out", p.avoided)
                } else {
                    String::new()
                }
            );
            for e in &p.playlist.entries {
                outln!(
                    "  {:>2}. {} — {}",
                    e.position,
                    e.track.title,
                    e.track.artist
                );
            }
        }
        Ok(())
    };
    match args.command.as_ref().unwrap_or(&PlaylistsCommand::List) {
        PlaylistsCommand::List => {
            let list = saved::list(&db)?;
            if g.json {
                outln!("{}", serde_json::to_string(&list)?);
            } else if list.is_empty() {
                outln!(
                    "no saved playlists (make one with `music-rag playlist \"...\" --save NAME`)"
                );
            } else {
                for p in list {
                    outln!(
                        "{} {}: {} tracks, made {}",
                        p.id,
                        p.name,
                        p.tracks,
                        p.refreshed_at.as_deref().unwrap_or("?")
                    );
                }
            }
        }
        PlaylistsCommand::Show { id } => {
            let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadOnly)?;
            show(&saved::get(&engine, &db, *id)?)?;
        }
        PlaylistsCommand::Refresh { id } => {
            let engine = crate::engine::open_engine(g, music_rag_store::Access::ReadOnly)?;
            show(&saved::refresh(&engine, &db, *id)?)?;
        }
        PlaylistsCommand::Delete { id } => {
            saved::delete(&db, *id)?;
            say(
                g,
                &serde_json::json!({"deleted": id}),
                &format!("deleted saved playlist {id}"),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn users(g: &Global) -> Result<Users> {
    users_with(
        g,
        std::env::var_os("MUSIC_RAG_SECRET_KEY_FILE").map(PathBuf::from),
    )
}

fn users_with(g: &Global, secret: Option<PathBuf>) -> Result<Users> {
    let embedded = g.engine_settings().is_embedded()?;
    Ok(open_users(&g.data_dir, embedded, secret.as_ref())?)
}

fn read_password(file: &PathBuf) -> Result<String> {
    let mut text = String::new();
    if file.as_os_str() == "-" {
        std::io::stdin().read_to_string(&mut text)?;
    } else {
        text = std::fs::read_to_string(file)
            .with_context(|| format!("--password-file: cannot read {}", file.display()))?;
    }
    Ok(text.lines().next().unwrap_or("").to_string())
}

pub fn user(g: &Global, args: &UserArgs) -> Result<ExitCode> {
    let users = users_with(g, args.secret_key_file.clone())?;
    match &args.command {
        UserCommand::Add {
            name,
            password_file,
            admin,
        } => {
            users.add(name, &read_password(password_file)?, *admin)?;
            say(
                g,
                &serde_json::json!({"added": name, "admin": admin}),
                &format!("added user {name}"),
            );
        }
        UserCommand::List => {
            let list = users.list()?;
            if g.json {
                outln!("{}", serde_json::to_string(&list)?);
            } else {
                for u in list {
                    outln!(
                        "{}{}  (since {}, {} API key{})",
                        u.name,
                        if u.admin { " [admin]" } else { "" },
                        u.created_at,
                        u.api_keys,
                        if u.api_keys == 1 { "" } else { "s" }
                    );
                }
            }
        }
        UserCommand::Remove { name } => {
            users.remove(name)?;
            say(
                g,
                &serde_json::json!({"removed": name}),
                &format!("removed user {name}"),
            );
        }
        UserCommand::Passwd {
            name,
            password_file,
        } => {
            users.set_password(name, &read_password(password_file)?)?;
            say(
                g,
                &serde_json::json!({"password_set": name}),
                &format!("password of {name} set"),
            );
        }
        UserCommand::Key { name, label } => {
            let key = users.add_key(name, label)?;
            say(
                g,
                &serde_json::json!({"user": name, "label": label, "api_key": key}),
                &key,
            );
        }
        UserCommand::Revoke { name, label } => {
            let n = users.revoke_keys(name, label.as_deref())?;
            say(
                g,
                &serde_json::json!({"revoked": n}),
                &format!("revoked {n} key(s) of {name}"),
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn say(g: &Global, json: &serde_json::Value, text: &str) {
    if g.json {
        outln!("{json}");
    } else {
        outln!("{text}");
    }
}
