//! What the catalog holds: tracks and their validation ([`track`]), measured sound
//! ([`audio`]), musical keys ([`key`]), content hashes ([`hash`]), request limits ([`limits`]),
//! the vocabulary filters match ([`vocabulary`]) and the catalog at a glance ([`overview`]).

pub mod audio;
pub mod hash;
pub mod key;
pub mod limits;
pub mod overview;
pub mod track;
pub mod vocabulary;
