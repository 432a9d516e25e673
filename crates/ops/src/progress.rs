//! How a long operation reports progress without knowing who watches: the CLI draws a progress
//! bar, the server and tests pass [`NoProgress`].

/// Receives progress of a long operation. Every method has a do-nothing default.
pub trait Progress: Sync {
    /// A stage starts with `total` steps (rows, files, tracks).
    fn begin(&self, _total: u64, _stage: &str) {}
    /// `steps` more are done.
    fn advance(&self, _steps: u64) {}
    /// What is being worked on now (a file's title).
    fn working_on(&self, _what: &str) {}
    /// A line worth showing the user now (a skipped file).
    fn note(&self, _line: &str) {}
    /// The operation is over.
    fn finish(&self) {}
}

/// Progress nobody watches.
pub struct NoProgress;

impl Progress for NoProgress {}
