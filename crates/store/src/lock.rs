//! One writer per data directory: an exclusive OS lock (`flock`) on the directory itself and
//! on its `LOCK` file, taken before anything is written and held for the life of the store.
//! The lock on the directory is the one that counts: deleting `LOCK` cannot undo it, so a
//! second writer is refused even then. `LOCK` holds the holder's pid so a refused process can
//! name it, and is put back if someone deletes it (checked before each write). The OS drops
//! both locks when the holder dies, even by `kill -9`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::StoreError;

const LOCK_FILE: &str = "LOCK";

#[derive(Debug)]
pub struct WriterLock {
    // Held for its lock; closing the file releases it.
    _dir: File,
    /// The pid file as opened (held for its lock too), replaced if it is deleted.
    marker: Mutex<File>,
    path: PathBuf,
}

fn refused(dir: &Path, holder: &str) -> StoreError {
    let holder = match holder.trim() {
        "" => "another process".to_string(),
        pid => format!("another music-rag process (pid {pid})"),
    };
    StoreError::Locked(format!(
        "the data directory {} is in use by {holder} that writes to it; stop that process or \
         use another --data-dir (read-only commands such as search, stats, export, verify and \
         backup work beside it)",
        dir.display()
    ))
}

/// Opens `LOCK`, takes its lock and writes our pid into it.
fn open_marker(path: &Path) -> Result<Result<File, String>, StoreError> {
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            return Ok(Err(holder));
        }
        Err(TryLockError::Error(e)) => return Err(e.into()),
    }
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    write!(file, "{}", std::process::id())?;
    Ok(Ok(file))
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

impl WriterLock {
    /// Takes the data directory's writer lock at once, or names who holds it.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(LOCK_FILE);
        let dir_file = File::open(dir)?;
        match dir_file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = std::fs::read_to_string(&path).unwrap_or_default();
                return Err(refused(dir, &holder));
            }
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        let marker = match open_marker(&path)? {
            Ok(file) => file,
            Err(holder) => return Err(refused(dir, &holder)),
        };
        Ok(Self {
            _dir: dir_file,
            marker: Mutex::new(marker),
            path,
        })
    }

    /// Before a write: if `LOCK` was deleted or replaced, writes it again (the directory's
    /// lock never lapsed, so no other writer can have started meanwhile).
    pub fn recheck(&self) -> Result<(), StoreError> {
        let mut marker = self
            .marker
            .lock()
            .map_err(|_| StoreError::Corrupt("writer lock poisoned".into()))?;
        let ours = marker.metadata()?;
        let intact = std::fs::metadata(&self.path).is_ok_and(|now| same_file(&now, &ours));
        if !intact {
            tracing::warn!(path = %self.path.display(), "the LOCK file was deleted or replaced; writing it again (the directory stays locked)");
            let _ = std::fs::remove_file(&self.path);
            match open_marker(&self.path)? {
                Ok(file) => *marker = file,
                Err(holder) => {
                    return Err(StoreError::Locked(format!(
                        "{} is now locked by {holder}; refusing to write",
                        self.path.display()
                    )))
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deleting_the_lock_file_does_not_let_a_second_writer_in() {
        let dir = tempfile::tempdir().unwrap();
        let first = WriterLock::acquire(dir.path()).unwrap();
        assert!(matches!(
            WriterLock::acquire(dir.path()),
            Err(StoreError::Locked(_))
        ));
        std::fs::remove_file(dir.path().join(LOCK_FILE)).unwrap();
        let second = WriterLock::acquire(dir.path());
        assert!(
            matches!(second, Err(StoreError::Locked(_))),
            "a second writer got in after LOCK was deleted: {second:?}"
        );
        // The holder puts the pid file back before its next write.
        first.recheck().unwrap();
        let pid = std::fs::read_to_string(dir.path().join(LOCK_FILE)).unwrap();
        assert_eq!(pid, std::process::id().to_string());
        drop(first);
        WriterLock::acquire(dir.path()).unwrap();
    }
}
