//! One module per REST resource.

pub mod compat_api;
pub mod ops_api;
pub mod search_api;
pub mod tracks_api;
