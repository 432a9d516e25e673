//! What the catalog holds: tracks and their validation ([`track`]), measured sound
//! ([`audio`]), a library file's own facts ([`file`]), musical keys ([`key`]), content hashes ([`hash`]), request limits ([`limits`]),
//! the vocabulary filters match ([`vocabulary`]), the catalog at a glance ([`overview`]) and the
//! numeric facts questions sort by ([`measure`]).

pub mod audio;
pub mod file;
pub mod hash;
pub mod key;
pub mod limits;
pub mod measure;
pub mod overview;
pub mod track;
pub mod vocabulary;
