//! `/ui`: the web page. Its files are compiled into the binary; the page's scripts and styles
//! are served under names that carry a hash of their content (cached for a year, never stale),
//! the page itself is revalidated with an ETag, and each is sent gzip-compressed to browsers
//! that accept it. The page talks to the public API only.

use std::io::Write;
use std::sync::OnceLock;

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::ApiPath;

/// A file of the page as written in `assets/ui/`.
struct Source {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
}

const PAGE: &str = include_str!("../../assets/ui/index.html");

const FILES: &[Source] = &[
    Source {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        body: include_str!("../../assets/ui/app.js"),
    },
    Source {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        body: include_str!("../../assets/ui/app.css"),
    },
];

/// Everything the page may load comes from this server; media may also be a blob the page
/// fetched with the API key.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
     img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// A file ready to send: its bytes, their gzip form and the validator.
struct Prepared {
    content_type: &'static str,
    raw: Vec<u8>,
    gzip: Vec<u8>,
    etag: String,
}

impl Prepared {
    fn new(content_type: &'static str, raw: Vec<u8>) -> Self {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        // Writing into a Vec cannot fail.
        let gzip = encoder
            .write_all(&raw)
            .and_then(|_| encoder.finish())
            .unwrap_or_default();
        let etag = format!("\"{}\"", &hex(&Sha256::digest(&raw))[..16]);
        Self {
            content_type,
            raw,
            gzip,
            etag,
        }
    }

    fn respond(&self, headers: &HeaderMap, cache_control: &'static str) -> Response {
        let not_modified = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|tags| tags.split(',').any(|t| t.trim() == self.etag));
        let mut response = if not_modified {
            StatusCode::NOT_MODIFIED.into_response()
        } else if accepts_gzip(headers) && !self.gzip.is_empty() {
            let mut r = self.gzip.clone().into_response();
            r.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            r
        } else {
            self.raw.clone().into_response()
        };
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        h.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static(cache_control),
        );
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
        if let Ok(etag) = HeaderValue::from_str(&self.etag) {
            h.insert(header::ETAG, etag);
        }
        response
    }
}

struct Built {
    page: Prepared,
    /// (hashed name such as `app.3f2a9c1d.js`, file)
    files: Vec<(String, Prepared)>,
}

fn built() -> &'static Built {
    static BUILT: OnceLock<Built> = OnceLock::new();
    BUILT.get_or_init(|| {
        let mut page = PAGE.to_string();
        let mut files = Vec::new();
        for f in FILES {
            let hash = &hex(&Sha256::digest(f.body.as_bytes()))[..12];
            let (stem, ext) = f.name.rsplit_once('.').unwrap_or((f.name, ""));
            let hashed = format!("{stem}.{hash}.{ext}");
            page = page.replace(
                &format!("{{{{{}}}}}", f.name),
                &format!("/ui/assets/{hashed}"),
            );
            files.push((
                hashed,
                Prepared::new(f.content_type, f.body.as_bytes().to_vec()),
            ));
        }
        let page = page.replace("{{version}}", env!("CARGO_PKG_VERSION"));
        Built {
            page: Prepared::new("text/html; charset=utf-8", page.into_bytes()),
            files,
        }
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// The web page.
#[utoipa::path(get, path = "/ui", tag = "operations",
    responses((status = 200, description = "The web page (HTML); also at `/ui/`", content_type = "text/html"), (status = 304, description = "Not modified (ETag)")))]
pub async fn page(headers: HeaderMap) -> Response {
    let mut response = built().page.respond(&headers, "no-cache");
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}

/// One of the page's scripts or styles, by its hashed name (cached as immutable).
#[utoipa::path(get, path = "/ui/assets/{name}", tag = "operations", params(("name" = String, Path)),
    responses((status = 200, description = "JavaScript or CSS"), (status = 304, description = "Not modified (ETag)"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn asset(ApiPath(name): ApiPath<String>, headers: HeaderMap) -> Response {
    match built().files.iter().find(|(n, _)| *n == name) {
        Some((_, file)) => file.respond(&headers, "public, max-age=31536000, immutable"),
        None => ApiError::not_found(format!("the page has no file {name:?}")).into_response(),
    }
}

/// Whether a request comes from a browser asking for a page rather than from an API client.
pub fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_file_of_the_page_is_linked_by_its_hashed_name() {
        let page = String::from_utf8(built().page.raw.clone()).unwrap();
        assert!(!page.contains("{{"), "a placeholder was left in the page");
        for (name, _) in &built().files {
            assert!(
                page.contains(&format!("/ui/assets/{name}")),
                "{name} is not linked"
            );
        }
    }

    #[test]
    fn gzip_is_sent_only_when_accepted() {
        let mut h = HeaderMap::new();
        assert!(!accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip, deflate, br"),
        );
        assert!(accepts_gzip(&h));
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0"),
        );
        assert!(!accepts_gzip(&h));
    }
}
