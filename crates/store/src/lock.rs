//! One writer per data directory: an exclusive OS lock on `LOCK`, taken before anything is
//! written and held for the life of the store. The holder's pid is written into the file so a
//! refused process can name it. The OS drops the lock when the holder dies, even by `kill -9`.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::StoreError;

const LOCK_FILE: &str = "LOCK";

#[derive(Debug)]
pub struct WriterLock {
    // Held for its lock; closing the file releases it.
    _file: File,
}

impl WriterLock {
    /// Takes the data directory's writer lock at once, or names who holds it.
    pub fn acquire(dir: &Path) -> Result<Self, StoreError> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = match holder.trim() {
                    "" => "another process".to_string(),
                    pid => format!("another music-rag process (pid {pid})"),
                };
                return Err(StoreError::Locked(format!(
                    "the data directory {} is in use by {holder} that writes to it; stop that \
                     process or use another --data-dir (read-only commands such as search, stats, \
                     export, verify and backup work beside it)",
                    dir.display()
                )));
            }
            Err(TryLockError::Error(e)) => return Err(e.into()),
        }
        file.set_len(0)?;
        file.seek(SeekFrom::Start(0))?;
        write!(file, "{}", std::process::id())?;
        Ok(Self { _file: file })
    }
}
