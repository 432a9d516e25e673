//! Files being written under a temporary name (snapshots, downloads, uploads) hold an OS lock
//! while their writer lives. A killed writer's file is then told apart from one still being
//! written without guessing from its age: if its lock can be taken, nobody is writing it, and
//! [`sweep`] removes it.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};

/// Creates (or truncates) `path` for writing and locks it for as long as the file is open.
pub fn create_locked(path: &Path) -> std::io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => Err(std::io::Error::new(
            std::io::ErrorKind::WouldBlock,
            format!("{} is being written by another process", path.display()),
        )),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether a writer still holds `path` open under its lock.
pub fn is_being_written(path: &Path) -> bool {
    match File::open(path) {
        Ok(f) => matches!(f.try_lock(), Err(TryLockError::WouldBlock)),
        Err(_) => false,
    }
}

/// Removes the files in `dir` whose names `is_partial` accepts and that no living writer holds.
/// Returns what was removed; a missing folder has nothing to sweep.
pub fn sweep(dir: &Path, is_partial: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let path = entry.path();
        if !is_partial(&name) || !path.is_file() || is_being_written(&path) {
            continue;
        }
        if std::fs::remove_file(&path).is_ok() {
            removed.push(path);
        }
    }
    removed.sort();
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_still_being_written_is_kept_and_an_abandoned_one_is_removed() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join(".live.partial");
        let dead = dir.path().join(".dead.partial");
        let other = dir.path().join("keep.mrsnap");
        let _writer = create_locked(&live).unwrap();
        std::fs::write(&dead, b"left by a killed writer").unwrap();
        std::fs::write(&other, b"a finished file").unwrap();
        let removed = sweep(dir.path(), |n| n.ends_with(".partial"));
        assert_eq!(removed, vec![dead.clone()]);
        assert!(live.exists() && other.exists() && !dead.exists());
    }
}
