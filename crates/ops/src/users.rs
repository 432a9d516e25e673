//! Library users: accounts with a password and an admin flag, API keys per user, and checking
//! the credentials a Subsonic client sends (plain or `enc:` hex password, token and salt, or
//! an API key). The CLI's `user` commands and the server call these.
//!
//! Token authentication (`t = md5(password + salt)`) needs the password itself, so it is kept
//! sealed (ChaCha20-Poly1305) with the server's secret (`MUSIC_RAG_SECRET_KEY_FILE`, else a key
//! generated once in the data directory, mode 0600). Passwords are never logged or printed; API
//! keys are kept only as SHA-256 digests and shown once when made.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use md5::Digest as _;
use music_rag_store::LibraryDb;
use serde::Serialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::{OpsError, Result};

/// Where a generated secret is kept when no secret file is configured.
pub const SECRET_FILE: &str = "secret.key";
pub const PASSWORD_MIN_CHARS: usize = 8;
const NAME_MAX_CHARS: usize = 64;
const PASSWORD_MAX_CHARS: usize = 1024;

/// The server's secret: the key passwords are sealed with.
pub struct Secret {
    key: Key,
}

impl Secret {
    /// The secret from `file` (any text; its SHA-256 is the key), or, without one, from
    /// `data_dir/secret.key`, made (32 random bytes, hex, mode 0600) when missing.
    pub fn load(file: Option<&Path>, data_dir: &Path) -> Result<Self> {
        let text = match file {
            Some(f) => std::fs::read_to_string(f).map_err(|e| OpsError::Setting {
                setting: "MUSIC_RAG_SECRET_KEY_FILE",
                message: format!("cannot read {}: {e}", f.display()),
            })?,
            None => {
                let path = data_dir.join(SECRET_FILE);
                match std::fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => make_secret(&path)?,
                    Err(e) => return Err(OpsError::io(path.display().to_string())(e)),
                }
            }
        };
        let text = text.trim();
        if text.len() < 16 {
            return Err(OpsError::Setting {
                setting: "MUSIC_RAG_SECRET_KEY_FILE",
                message: "the secret must be at least 16 characters".into(),
            });
        }
        let digest: [u8; 32] = Sha256::digest(text.as_bytes()).into();
        Ok(Self { key: digest.into() })
    }

    fn seal(&self, password: &str) -> Result<Vec<u8>> {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| internal(format!("no randomness: {e}")))?;
        let cipher = ChaCha20Poly1305::new(&self.key);
        let sealed = cipher
            .encrypt(Nonce::from_slice(&nonce), password.as_bytes())
            .map_err(|_| internal("cannot seal the password".into()))?;
        Ok([nonce.as_slice(), &sealed].concat())
    }

    fn open(&self, sealed: &[u8]) -> Result<String> {
        if sealed.len() < 12 {
            return Err(internal("a stored password is damaged".into()));
        }
        let (nonce, body) = sealed.split_at(12);
        let cipher = ChaCha20Poly1305::new(&self.key);
        let plain = cipher
            .decrypt(Nonce::from_slice(nonce), body)
            .map_err(|_| {
                internal(
                    "a stored password cannot be opened: the server secret changed \
                 (MUSIC_RAG_SECRET_KEY_FILE); set the old secret, or set the password again \
                 with `music-rag user passwd`"
                        .into(),
                )
            })?;
        String::from_utf8(plain).map_err(|_| internal("a stored password is damaged".into()))
    }
}

fn internal(message: String) -> OpsError {
    OpsError::Core(music_rag_core::CoreError::Internal(message))
}

fn make_secret(path: &Path) -> Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| internal(format!("no randomness: {e}")))?;
    let text = hex::encode(bytes);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(OpsError::io(dir.display().to_string()))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut f) => {
            use std::io::Write;
            f.write_all(text.as_bytes())
                .and_then(|()| f.sync_all())
                .map_err(OpsError::io(path.display().to_string()))?;
            Ok(text)
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::read_to_string(path).map_err(OpsError::io(path.display().to_string()))
        }
        Err(e) => Err(OpsError::io(path.display().to_string())(e)),
    }
}

/// A user as listed (never with the password).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct UserInfo {
    pub name: String,
    pub admin: bool,
    pub created_at: String,
    /// How many API keys the user has.
    pub api_keys: usize,
}

/// Who a request comes from, once its credentials were checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listener {
    pub name: String,
    pub admin: bool,
}

/// How a client proved who it is.
#[derive(Debug, Clone)]
pub enum Credentials<'a> {
    /// `p=` (plain, or `enc:` followed by the password's hex).
    Password { user: &'a str, password: &'a str },
    /// `t=md5(password + salt)`, `s=salt`.
    Token {
        user: &'a str,
        token: &'a str,
        salt: &'a str,
    },
    /// `apiKey=`.
    ApiKey(&'a str),
}

/// Why credentials were refused (each has its own Subsonic error code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    WrongCredentials,
    UnknownApiKey,
}

/// The library's users over its records.
#[derive(Clone)]
pub struct Users {
    db: Arc<LibraryDb>,
    secret: Arc<Secret>,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.chars().count() <= NAME_MAX_CHARS
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(())
    } else {
        Err(OpsError::Input {
            what: "name".into(),
            message: format!(
                "must be 1-{NAME_MAX_CHARS} ASCII letters, digits, '.', '_', '-' or '@' (got {name:?})"
            ),
        })
    }
}

fn check_password(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if !(PASSWORD_MIN_CHARS..=PASSWORD_MAX_CHARS).contains(&chars) {
        return Err(OpsError::Input {
            what: "password".into(),
            message: format!(
                "must be {PASSWORD_MIN_CHARS} to {PASSWORD_MAX_CHARS} characters long"
            ),
        });
    }
    // The C0 controls and DEL, as the OpenAPI document's pattern states.
    if password.chars().any(|c| c < ' ' || c == '\x7f') {
        return Err(OpsError::Input {
            what: "password".into(),
            message: "must not contain control characters".into(),
        });
    }
    Ok(())
}

fn no_user(name: &str) -> OpsError {
    OpsError::Core(music_rag_core::CoreError::NotFound(format!(
        "name: no user {name:?}"
    )))
}

fn store(e: music_rag_store::StoreError) -> OpsError {
    OpsError::store("library records")(e)
}

fn key_digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

impl Users {
    pub fn new(db: Arc<LibraryDb>, secret: Arc<Secret>) -> Self {
        Self { db, secret }
    }

    pub fn db(&self) -> &Arc<LibraryDb> {
        &self.db
    }

    pub fn add(&self, name: &str, password: &str, admin: bool) -> Result<()> {
        check_name(name)?;
        check_password(password)?;
        let sealed = self.secret.seal(password)?;
        if !self.db.add_user(name, &sealed, admin).map_err(store)? {
            return Err(OpsError::Input {
                what: "name".into(),
                message: format!("a user {name:?} exists already"),
            });
        }
        Ok(())
    }

    pub fn list(&self) -> Result<Vec<UserInfo>> {
        let keys = self.db.keys().map_err(store)?;
        Ok(self
            .db
            .users()
            .map_err(store)?
            .into_iter()
            .map(|u| UserInfo {
                api_keys: keys.iter().filter(|(_, user, _)| *user == u.name).count(),
                name: u.name,
                admin: u.admin,
                created_at: u.created_at,
            })
            .collect())
    }

    pub fn remove(&self, name: &str) -> Result<()> {
        if !self.db.remove_user(name).map_err(store)? {
            return Err(no_user(name));
        }
        Ok(())
    }

    pub fn set_password(&self, name: &str, password: &str) -> Result<()> {
        check_password(password)?;
        let sealed = self.secret.seal(password)?;
        if !self.db.set_password(name, &sealed).map_err(store)? {
            return Err(no_user(name));
        }
        Ok(())
    }

    /// Makes an API key for `name`, returned once (only its digest is kept).
    pub fn add_key(&self, name: &str, label: &str) -> Result<String> {
        if self.db.user(name).map_err(store)?.is_none() {
            return Err(no_user(name));
        }
        let mut bytes = [0u8; 24];
        getrandom::fill(&mut bytes).map_err(|e| internal(format!("no randomness: {e}")))?;
        let key = format!("mrk_{}", hex::encode(bytes));
        self.db
            .add_key(name, &key_digest(&key), label)
            .map_err(store)?;
        Ok(key)
    }

    /// Revokes `name`'s keys (those with `label`, or all); how many.
    pub fn revoke_keys(&self, name: &str, label: Option<&str>) -> Result<usize> {
        if self.db.user(name).map_err(store)?.is_none() {
            return Err(no_user(name));
        }
        self.db.revoke_keys(name, label).map_err(store)
    }

    /// Checks credentials; the listener they prove, or why not.
    pub fn authenticate(
        &self,
        credentials: &Credentials<'_>,
    ) -> Result<std::result::Result<Listener, Refusal>> {
        let (user, ok) = match credentials {
            Credentials::ApiKey(key) => {
                let digest = key_digest(key);
                let keys = self.db.keys().map_err(store)?;
                let mut owner = None;
                for (d, user, _) in &keys {
                    if bool::from(d.as_slice().ct_eq(&digest)) {
                        owner = Some(user.clone());
                    }
                }
                let Some(owner) = owner else {
                    return Ok(Err(Refusal::UnknownApiKey));
                };
                (owner, true)
            }
            Credentials::Password { user, password } => {
                let Some(record) = self.db.user(user).map_err(store)? else {
                    return Ok(Err(Refusal::WrongCredentials));
                };
                let stored = self.secret.open(&record.password_sealed)?;
                let given = match password.strip_prefix("enc:") {
                    Some(hexed) => hex::decode(hexed)
                        .ok()
                        .and_then(|b| String::from_utf8(b).ok())
                        .unwrap_or_default(),
                    None => password.to_string(),
                };
                (
                    user.to_string(),
                    bool::from(stored.as_bytes().ct_eq(given.as_bytes())),
                )
            }
            Credentials::Token { user, token, salt } => {
                let Some(record) = self.db.user(user).map_err(store)? else {
                    return Ok(Err(Refusal::WrongCredentials));
                };
                let stored = self.secret.open(&record.password_sealed)?;
                let expected = hex::encode(md5::Md5::digest(format!("{stored}{salt}").as_bytes()));
                (
                    user.to_string(),
                    bool::from(
                        expected
                            .as_bytes()
                            .ct_eq(token.to_ascii_lowercase().as_bytes()),
                    ),
                )
            }
        };
        if !ok {
            return Ok(Err(Refusal::WrongCredentials));
        }
        match self.db.user(&user).map_err(store)? {
            Some(record) => Ok(Ok(Listener {
                name: record.name,
                admin: record.admin,
            })),
            None => Ok(Err(Refusal::WrongCredentials)),
        }
    }
}

/// Opens the library's records and users for a data directory: in the embedded store's
/// database when the catalog lives there, else in `library.sqlite`.
pub fn open_users(data_dir: &Path, embedded: bool, secret_file: Option<&PathBuf>) -> Result<Users> {
    let db = LibraryDb::open_in(data_dir, embedded).map_err(store)?;
    let secret = Secret::load(secret_file.map(PathBuf::as_path), data_dir)?;
    Ok(Users::new(Arc::new(db), Arc::new(secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_way_of_logging_in_checks_the_sealed_password() {
        let dir = tempfile::tempdir().unwrap();
        let users = open_users(dir.path(), true, None).unwrap();
        users.add("ann", "sesame-open", false).unwrap();
        assert!(users.add("ann", "sesame-open", false).is_err());
        assert!(users.add("bad name", "sesame-open", false).is_err());
        assert!(users.add("bob", "short", false).is_err());
        let ann = Ok(Listener {
            name: "ann".into(),
            admin: false,
        });
        let login = |c: Credentials<'_>| users.authenticate(&c).unwrap();
        assert_eq!(
            login(Credentials::Password {
                user: "ann",
                password: "sesame-open"
            }),
            ann
        );
        let enc = format!("enc:{}", hex::encode("sesame-open"));
        assert_eq!(
            login(Credentials::Password {
                user: "ann",
                password: &enc
            }),
            ann
        );
        let token = hex::encode(md5::Md5::digest(b"sesame-openc19b2d"));
        assert_eq!(
            login(Credentials::Token {
                user: "ann",
                token: &token,
                salt: "c19b2d"
            }),
            ann
        );
        assert_eq!(
            login(Credentials::Token {
                user: "ann",
                token: &token,
                salt: "other"
            }),
            Err(Refusal::WrongCredentials)
        );
        assert_eq!(
            login(Credentials::Password {
                user: "ann",
                password: "wrong-one"
            }),
            Err(Refusal::WrongCredentials)
        );
        assert_eq!(
            login(Credentials::Password {
                user: "nobody",
                password: "sesame-open"
            }),
            Err(Refusal::WrongCredentials)
        );
        let key = users.add_key("ann", "phone").unwrap();
        assert_eq!(login(Credentials::ApiKey(&key)), ann);
        assert_eq!(users.revoke_keys("ann", None).unwrap(), 1);
        assert_eq!(
            login(Credentials::ApiKey(&key)),
            Err(Refusal::UnknownApiKey)
        );
        // The password is not stored as text anywhere in the database file.
        let raw = std::fs::read(dir.path().join("catalog.sqlite")).unwrap();
        let wal = std::fs::read(dir.path().join("catalog.sqlite-wal")).unwrap_or_default();
        for bytes in [raw, wal] {
            assert!(!bytes.windows(11).any(|w| w == b"sesame-open"));
        }
        // Reopened with the same secret, the password still opens; a new secret refuses.
        let again = open_users(dir.path(), true, None).unwrap();
        assert_eq!(
            again
                .authenticate(&Credentials::Password {
                    user: "ann",
                    password: "sesame-open"
                })
                .unwrap(),
            ann
        );
        let other_secret = dir.path().join("other.key");
        std::fs::write(&other_secret, "a different secret of enough length").unwrap();
        let rotated = open_users(dir.path(), true, Some(&other_secret)).unwrap();
        assert!(rotated
            .authenticate(&Credentials::Password {
                user: "ann",
                password: "sesame-open"
            })
            .is_err());
    }
}
