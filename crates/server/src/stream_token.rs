//! Short-lived signed links to a track's audio: an exported playlist (M3U, JSPF) is played by
//! apps that cannot send an API key, so each stream URL carries `?token=EXPIRES.SIGNATURE`, an
//! HMAC-SHA256 of the URL's path and its expiry under a secret derived from the keys in force
//! (`ApiKeys::signing_secret`: every replica with the same keys accepts it, and rotating the
//! keys revokes every link). A link opens that one stream, until it expires, and nothing else.

use hmac::{Hmac, KeyInit, Mac};
use sha2_hmac::Sha256;

/// How long a link plays: an evening's listening.
pub const STREAM_TOKEN_SECONDS: u64 = 12 * 3600;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &[u8; 32], path: &str, expires: u64) -> HmacSha256 {
    let mut mac = HmacSha256::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(path.as_bytes());
    mac.update(b"\n");
    mac.update(expires.to_string().as_bytes());
    mac
}

/// The token for `path` (as it appears in the URL), valid until `now + STREAM_TOKEN_SECONDS`.
pub fn sign(secret: &[u8; 32], path: &str, now: u64) -> String {
    let expires = now + STREAM_TOKEN_SECONDS;
    let signature = mac(secret, path, expires).finalize().into_bytes();
    format!("{expires}.{}", hex::encode(signature))
}

/// Whether `token` was signed for `path` under `secret` and has not expired (the comparison
/// runs in constant time).
pub fn verify(secret: &[u8; 32], path: &str, token: &str, now: u64) -> bool {
    let Some((expires, signature)) = token.split_once('.') else {
        return false;
    };
    let (Ok(expires), Ok(signature)) = (expires.parse::<u64>(), hex::decode(signature)) else {
        return false;
    };
    expires >= now && mac(secret, path, expires).verify_slice(&signature).is_ok()
}

/// Seconds since the epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The `token` query parameter of a query string, if any.
pub fn token_in(query: Option<&str>) -> Option<&str> {
    query?
        .split('&')
        .find_map(|pair| pair.strip_prefix("token="))
        .filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: [u8; 32] = [7; 32];
    const PATH: &str = "/v1/tracks/audio%3Aabc/audio";

    #[test]
    fn a_token_opens_its_own_path_until_it_expires() {
        let token = sign(&SECRET, PATH, 1_000);
        assert!(verify(&SECRET, PATH, &token, 1_000));
        assert!(verify(&SECRET, PATH, &token, 1_000 + STREAM_TOKEN_SECONDS));
        assert!(
            !verify(&SECRET, PATH, &token, 1_001 + STREAM_TOKEN_SECONDS),
            "expired"
        );
        assert!(
            !verify(&SECRET, "/v1/tracks/other/audio", &token, 1_000),
            "another track"
        );
        assert!(!verify(&[8; 32], PATH, &token, 1_000), "another secret");
    }

    #[test]
    fn a_changed_expiry_or_garbage_is_refused() {
        let token = sign(&SECRET, PATH, 1_000);
        let (_, signature) = token.split_once('.').unwrap();
        let later = format!("{}.{signature}", 1_000 + 10 * STREAM_TOKEN_SECONDS);
        assert!(!verify(&SECRET, PATH, &later, 1_000));
        for bad in ["", ".", "abc", "12.zz", "12"] {
            assert!(!verify(&SECRET, PATH, bad, 0), "{bad:?}");
        }
    }

    #[test]
    fn the_token_is_read_from_the_query() {
        assert_eq!(token_in(Some("a=1&token=5.ab")), Some("5.ab"));
        assert_eq!(token_in(Some("token=")), None);
        assert_eq!(token_in(None), None);
    }
}
