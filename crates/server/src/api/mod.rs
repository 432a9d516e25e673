//! One module per REST resource.

pub mod admin_api;
pub mod ask_api;
pub mod audio_api;
pub mod compat_api;
pub mod library_api;
pub mod ops_api;
pub mod playlist_api;
pub mod recommend_api;
pub mod search_api;
pub mod stats_api;
pub mod tracks_api;
pub mod ui_api;
