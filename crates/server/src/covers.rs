//! Cover pictures: resizing to the size a client asks for (the `image` crate; JPEG out, PNG
//! kept when it has transparency is not worth the bytes for thumbnails), recognising a
//! picture's type from its first bytes, and a cache bounded by bytes.

use std::num::NonZeroUsize;
use std::sync::{Arc, Mutex};

/// A picture and its MIME type.
pub type Picture = Arc<(Vec<u8>, String)>;

/// The MIME type of a picture, from its first bytes.
pub fn sniff(bytes: &[u8]) -> &'static str {
    match bytes {
        [0xFF, 0xD8, 0xFF, ..] => "image/jpeg",
        [0x89, b'P', b'N', b'G', ..] => "image/png",
        [b'G', b'I', b'F', b'8', ..] => "image/gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "image/webp",
        _ => "application/octet-stream",
    }
}

/// The picture scaled to fit `size` x `size` (never enlarged), as JPEG; none when it cannot be
/// decoded (the original is sent instead).
pub fn resize(bytes: &[u8], size: u32) -> Option<(Vec<u8>, String)> {
    let image = image::load_from_memory(bytes).ok()?;
    if image.width() <= size && image.height() <= size {
        return Some((bytes.to_vec(), sniff(bytes).to_string()));
    }
    let small = image.thumbnail(size, size).to_rgb8();
    let mut out = std::io::Cursor::new(Vec::new());
    small.write_to(&mut out, image::ImageFormat::Jpeg).ok()?;
    Some((out.into_inner(), "image/jpeg".into()))
}

type Pictures = lru::LruCache<(String, u32), Picture>;

/// Recently served pictures by (id, size), at most `budget` bytes in all.
pub struct CoverCache {
    /// The pictures and the bytes they hold.
    inner: Mutex<(Pictures, usize)>,
    budget: usize,
}

impl CoverCache {
    pub fn new(budget: usize) -> Self {
        Self {
            inner: Mutex::new((
                lru::LruCache::new(NonZeroUsize::new(4096).expect("non-zero")),
                0,
            )),
            budget,
        }
    }

    pub fn get(&self, key: &(String, u32)) -> Option<Picture> {
        self.inner.lock().ok()?.0.get(key).cloned()
    }

    pub fn put(&self, key: (String, u32), picture: Picture) {
        let Ok(mut guard) = self.inner.lock() else {
            return;
        };
        let (cache, bytes) = &mut *guard;
        if picture.0.len() > self.budget / 4 {
            return;
        }
        *bytes += picture.0.len();
        if let Some((_, old)) = cache.push(key, picture) {
            *bytes -= old.0.len();
        }
        while *bytes > self.budget {
            match cache.pop_lru() {
                Some((_, old)) => *bytes -= old.0.len(),
                None => break,
            }
        }
    }
}

/// The picture of a song, album or artist, resized to `size` when asked, through `cache`.
pub fn picture(
    engine: &music_rag_core::Engine,
    id: &str,
    size: Option<u32>,
    roots: &[std::path::PathBuf],
    cache: &CoverCache,
) -> Result<Picture, music_rag_core::CoreError> {
    let key = (id.to_string(), size.unwrap_or(0));
    if let Some(hit) = cache.get(&key) {
        return Ok(hit);
    }
    let (bytes, mime) = music_rag_ops::covers::picture_of(engine, id, roots)?;
    let out = match size.and_then(|s| resize(&bytes, s)) {
        Some(resized) => resized,
        None => {
            let mime = mime
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| sniff(&bytes).to_string());
            (bytes, mime)
        }
    };
    let picture = Arc::new(out);
    cache.put(key, picture.clone());
    Ok(picture)
}

/// A picture as an HTTP response, cacheable by the client for a day.
pub fn response(p: Picture) -> axum::response::Response {
    use axum::http::{header, HeaderValue};
    use axum::response::IntoResponse;
    let mut r = axum::body::Body::from(p.0.clone()).into_response();
    let mime = if p.1.is_empty() {
        "application/octet-stream"
    } else {
        p.1.as_str()
    };
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(mime).unwrap_or(HeaderValue::from_static("application/octet-stream")),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_stays_within_its_budget() {
        let cache = CoverCache::new(1000);
        for i in 0..20 {
            cache.put(
                (format!("a{i}"), 0),
                Arc::new((vec![0; 200], "image/png".into())),
            );
        }
        let held = (0..20)
            .filter(|i| cache.get(&(format!("a{i}"), 0)).is_some())
            .count();
        assert_eq!(held, 5);
        assert!(cache.get(&("a19".into(), 0)).is_some(), "the newest stays");
    }

    #[test]
    fn resizes_to_fit_and_never_enlarges() {
        let img = image::RgbImage::from_pixel(300, 200, image::Rgb([200, 10, 10]));
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let png = png.into_inner();
        let (small, mime) = resize(&png, 60).unwrap();
        assert_eq!(mime, "image/jpeg");
        let back = image::load_from_memory(&small).unwrap();
        assert_eq!((back.width(), back.height()), (60, 40));
        let (same, mime) = resize(&png, 500).unwrap();
        assert_eq!((same.len(), mime.as_str()), (png.len(), "image/png"));
        assert!(resize(b"not a picture", 60).is_none());
    }
}
