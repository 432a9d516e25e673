//! Documented size limits. They keep one bad row or request from bloating the store, the
//! embedder or a response.

pub const ID_MAX_BYTES: usize = 256;
pub const SHORT_TEXT_MAX_BYTES: usize = 1024;
pub const DESCRIPTION_MAX_BYTES: usize = 16 * 1024;
pub const LYRICS_MAX_BYTES: usize = 64 * 1024;
pub const LIST_MAX_ITEMS: usize = 64;
pub const LIST_ITEM_MAX_BYTES: usize = 128;
pub const TEMPO_MIN: f32 = 1.0;
pub const TEMPO_MAX: f32 = 400.0;
pub const YEAR_MIN: i32 = 1000;
pub const YEAR_MAX: i32 = 2100;
pub const DURATION_MAX_SECONDS: f32 = 86_400.0;

/// Hits one search may return.
pub const TOP_K_MAX: usize = 100;
/// Bytes of query text one request may carry.
pub const QUERY_MAX_BYTES: usize = 2048;

/// One rule for every store: text may not hold U+0000. PostgreSQL cannot store it in `text`,
/// and no title, tag or description needs it; refusing it here (a 422 naming the field)
/// makes both stores accept exactly the same tracks.
pub fn check_no_nul(field: &str, value: &str) -> Result<(), crate::error::FieldError> {
    if value.contains('\0') {
        return Err(crate::error::FieldError::new(
            field,
            "must not contain the NUL character (U+0000)",
        ));
    }
    Ok(())
}
