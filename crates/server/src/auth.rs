//! API keys with scopes, compared in constant time, never logged.

use std::str::FromStr;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// What a key may do. Each scope includes the ones before it: a `metrics` key may only be
/// scraped with (`/metrics`), so a monitoring system never holds a key that reads the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    Metrics,
    Read,
    Write,
    Admin,
}

impl FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim() {
            "metrics" => Ok(Scope::Metrics),
            "read" => Ok(Scope::Read),
            "write" => Ok(Scope::Write),
            "admin" => Ok(Scope::Admin),
            other => Err(format!(
                "scope {other:?} must be metrics, read, write or admin"
            )),
        }
    }
}

impl Scope {
    pub fn name(self) -> &'static str {
        match self {
            Scope::Metrics => "metrics",
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Admin => "admin",
        }
    }
}

/// Keys are kept only as SHA-256 digests; lookups compare every digest in constant time.
#[derive(Debug, Clone, Default)]
pub struct ApiKeys {
    keys: Vec<([u8; 32], Scope)>,
}

/// The caller behind a request, for its rate-limit bucket: a key's index, or nobody when no
/// keys are set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Key { index: usize },
}

pub const MIN_KEY_LEN: usize = 8;

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl ApiKeys {
    pub fn add(&mut self, key: &str, scope: Scope) -> Result<(), String> {
        if key.len() < MIN_KEY_LEN {
            return Err(format!("keys must be at least {MIN_KEY_LEN} characters"));
        }
        self.keys.push((digest(key), scope));
        Ok(())
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// A short name for the key at `index` that logs may carry: the first bytes of its
    /// SHA-256 digest, from which the key cannot be recovered.
    pub fn key_id(&self, index: usize) -> Option<String> {
        self.keys
            .get(index)
            .map(|(d, _)| d[..4].iter().map(|b| format!("{b:02x}")).collect())
    }

    /// A secret only a holder of the keys in force knows: the HMAC key of signed stream links
    /// (`stream_token`). It changes when the keys change; None when no keys are set.
    pub fn signing_secret(&self) -> Option<[u8; 32]> {
        if self.keys.is_empty() {
            return None;
        }
        let mut h = Sha256::new();
        h.update(b"music-rag stream links v1\0");
        for (digest, scope) in &self.keys {
            if *scope >= Scope::Read {
                h.update(digest);
            }
        }
        Some(h.finalize().into())
    }

    /// The matching key's index and scope.
    pub fn find(&self, presented: &str) -> Option<(usize, Scope)> {
        let d = digest(presented);
        let mut found = None;
        // No early exit: every comparison runs whatever matches.
        for (i, (k, scope)) in self.keys.iter().enumerate() {
            if bool::from(k.ct_eq(&d)) {
                found = Some((i, *scope));
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_match_with_their_scope() {
        let mut k = ApiKeys::default();
        k.add("reader-key-1", Scope::Read).unwrap();
        k.add("admin-key-22", Scope::Admin).unwrap();
        assert_eq!(k.find("reader-key-1"), Some((0, Scope::Read)));
        assert_eq!(k.find("admin-key-22"), Some((1, Scope::Admin)));
        assert_eq!(k.find("reader-key-2"), None);
        assert!(k.add("short", Scope::Read).is_err());
        assert!(Scope::Admin > Scope::Write && Scope::Write > Scope::Read);
        assert!(
            Scope::Read > Scope::Metrics,
            "a metrics key reads nothing else"
        );
        assert_eq!("metrics".parse::<Scope>(), Ok(Scope::Metrics));
    }
}
