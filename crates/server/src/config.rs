//! The server's settings. Defaults live here; the binary layers a TOML file, environment
//! variables and flags on top, then calls `validate` so a bad setting stops the start with a
//! message a person can act on.

use std::net::{IpAddr, SocketAddr};

use serde::{Deserialize, Serialize};

use crate::auth::{ApiKeys, Scope};

/// A secret setting (an API key, a model provider's key): read from configuration, handed to
/// what needs it with [`Secret::expose`], and printed only as asterisks (Debug, Display,
/// Serialize), so no log line or `music-rag config` output ever shows it.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

const MASK: &str = "********";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(s: &str) -> Self {
        Self::new(s)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl std::fmt::Display for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(MASK)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(MASK)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// `API_HOST`.
    pub host: String,
    /// `API_PORT`.
    pub port: u16,
    /// `API_KEY`: one key with every scope, as in the original service.
    pub api_key: Option<Secret>,
    /// `MUSIC_RAG_API_KEYS`: `key:scope` pairs separated by commas; scope is read, write or admin.
    pub api_keys: Option<Secret>,
    /// Serve without keys on a non-loopback address (refused otherwise).
    pub allow_unauthenticated: bool,
    /// `CORS_ORIGINS`: allowed browser origins, comma-separated (`*` for any).
    pub cors_origins: String,
    /// `ENVIRONMENT`: development (readable logs) or production (JSON logs).
    pub environment: String,
    /// `LOG_LEVEL`.
    pub log_level: String,
    /// `LOG_FORMAT`: `json` (one JSON object a line, for log aggregation; the default in
    /// production) or `text`.
    pub log_format: Option<String>,
    /// `MAX_BATCH_SIZE`: most tracks in one batch upsert.
    pub max_batch_size: usize,
    /// Requests per second allowed per key (or client address without keys).
    pub rate_limit_per_second: u32,
    /// Requests allowed in a burst above the steady rate.
    pub rate_limit_burst: u32,
    /// Failed authentications (wrong or missing keys) allowed per client address a minute,
    /// after a burst of as many; past it the address is refused with 429 for a while.
    pub auth_failures_per_minute: u32,
    pub max_body_bytes: usize,
    /// Largest audio upload (`/v1/tracks/audio`, `/v1/search/audio`).
    pub max_upload_bytes: usize,
    /// Where uploaded audio files are kept (default: `uploads` in the data directory).
    pub upload_dir: Option<String>,
    /// `MUSIC_RAG_AUDIO_DIRS`: folders (comma-separated) whose audio files `/v1/tracks/{id}/audio`
    /// may stream, besides the upload folder and `audio` in the data directory.
    pub audio_dirs: Option<String>,
    /// `MUSIC_RAG_MUSIC_FOLDERS`: music folders (comma-separated) served as the library (the
    /// Subsonic API), scanned at start and on `startScan`; their files are read in place.
    pub music_folders: Option<String>,
    /// `MUSIC_RAG_SCAN_ON_START`: scan the music folders when the server starts (default true).
    pub scan_on_start: bool,
    /// `MUSIC_RAG_WATCH_FOLDERS`: watch the music folders and scan again when they change.
    pub watch_folders: bool,
    /// `MUSIC_RAG_REPLICA_COPY`: with PostgreSQL, search a copy of the catalog kept in the data
    /// directory (`replica/SCHEMA`), following every write at the next read (default true);
    /// false searches in PostgreSQL.
    pub replica_copy: bool,
    /// `MUSIC_RAG_SECRET_KEY_FILE`: the secret library users' passwords are sealed with
    /// (default: `secret.key` in the data directory, made when missing).
    pub secret_key_file: Option<String>,
    pub request_timeout_seconds: u64,
    /// Requests in flight beyond this are shed with 503 and Retry-After.
    pub max_concurrent_requests: usize,
    /// Model inferences and searches that run at once on blocking threads.
    pub max_concurrent_searches: usize,
    /// How long SIGTERM waits for in-flight requests.
    pub shutdown_grace_seconds: u64,
    /// Client connections open at once; beyond this, new ones wait in the listen queue.
    pub max_connections: usize,
    /// Longest time a client may take to send a request's headers (and a TLS handshake);
    /// a connection that sends nothing is closed after it too.
    pub header_read_timeout_seconds: u64,
    /// A connection on which no byte moves for this long is closed (after its current request).
    pub idle_timeout_seconds: u64,
    /// `MUSIC_RAG_TLS_CERT_FILE`: PEM certificate chain; with `tls_key_file`, serve HTTPS
    /// (HTTP/1.1 and HTTP/2). Reloaded on SIGHUP.
    pub tls_cert_file: Option<String>,
    /// `MUSIC_RAG_TLS_KEY_FILE`: the certificate's PEM private key.
    pub tls_key_file: Option<String>,
    /// `OPENAI_BASE_URL`: an OpenAI-compatible server (OpenAI, Ollama, vLLM, llama.cpp) for
    /// answers, query enhancement and summaries, e.g. `http://localhost:11434/v1`. Unset:
    /// everything runs offline.
    pub llm_base_url: Option<String>,
    /// `OPENAI_MODEL`: the model name the server expects.
    pub llm_model: Option<String>,
    /// `OPENAI_API_KEY`.
    pub llm_api_key: Option<Secret>,
    /// Longest wait for the model server to connect or send its next bytes.
    pub llm_timeout_seconds: u64,
    /// Retries after a 429 or 5xx from the model server.
    pub llm_max_retries: u32,
    /// Take a snapshot this often while serving, e.g. `24h`, `30m`, `90s` (unset: never).
    pub snapshot_every: Option<String>,
    /// Snapshots kept (scheduled and taken through the API); older ones are deleted.
    pub snapshot_keep: usize,
    /// Where snapshots go (default: `snapshots` in the data directory).
    pub snapshot_dir: Option<String>,
    /// Also copy each scheduled snapshot to object storage, `s3://BUCKET/PREFIX/`, keeping the
    /// newest `snapshot_keep` there (credentials and endpoint from the `AWS_*` variables).
    pub snapshot_upload: Option<String>,
    /// What is kept of the queries people run (`GET /v1/stats/queries`): `off`, `counts`
    /// (numbers only, the default) or `texts` (the normalised texts too).
    pub query_log: String,
    /// A query slower than this many milliseconds counts as slow in the query log.
    pub slow_query_ms: u64,
    /// The URL clients reach this server at (e.g. https://music.example.org), for the stream
    /// URLs of exported playlists; by default the request's own scheme and host.
    pub public_url: Option<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8000,
            api_key: None,
            api_keys: None,
            allow_unauthenticated: false,
            cors_origins: String::new(),
            environment: "development".into(),
            log_level: "info".into(),
            log_format: None,
            max_batch_size: 1000,
            rate_limit_per_second: 200,
            rate_limit_burst: 400,
            auth_failures_per_minute: 30,
            max_body_bytes: 10 * 1024 * 1024,
            max_upload_bytes: 200 * 1024 * 1024,
            upload_dir: None,
            audio_dirs: None,
            music_folders: None,
            scan_on_start: true,
            watch_folders: false,
            replica_copy: true,
            secret_key_file: None,
            request_timeout_seconds: 30,
            max_concurrent_requests: 512,
            max_concurrent_searches: 4,
            shutdown_grace_seconds: 10,
            max_connections: 1024,
            header_read_timeout_seconds: 10,
            idle_timeout_seconds: 60,
            tls_cert_file: None,
            tls_key_file: None,
            llm_base_url: None,
            llm_model: None,
            llm_api_key: None,
            llm_timeout_seconds: 30,
            llm_max_retries: 2,
            snapshot_every: None,
            snapshot_keep: 7,
            snapshot_dir: None,
            snapshot_upload: None,
            query_log: "counts".into(),
            slow_query_ms: 500,
            public_url: None,
        }
    }
}

/// A setting that cannot work, with how to fix it.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {setting}: {message}")]
pub struct ConfigError {
    pub setting: &'static str,
    pub message: String,
}

fn bad(setting: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        setting,
        message: message.into(),
    }
}

/// The validated form the server runs with.
#[derive(Debug, Clone)]
pub struct Settings {
    pub addr: SocketAddr,
    /// How often to take a snapshot, when scheduled.
    pub snapshot_every: Option<std::time::Duration>,
    pub keys: ApiKeys,
    pub cors_origins: Vec<String>,
    pub config: ServerConfig,
}

impl ServerConfig {
    /// The model provider these settings name (offline when no base URL is set).
    pub fn provider(&self) -> music_rag_ops::ProviderSettings {
        music_rag_ops::ProviderSettings {
            base_url: self.llm_base_url.clone(),
            model: self.llm_model.clone(),
            api_key: self.llm_api_key.as_ref().map(|k| k.expose().to_string()),
            timeout: std::time::Duration::from_secs(self.llm_timeout_seconds),
            max_retries: self.llm_max_retries,
        }
    }

    /// Whether logs are JSON lines: as configured, else in production.
    pub fn json_logs(&self) -> bool {
        match self.log_format.as_deref() {
            Some(f) => f == "json",
            None => self.environment == "production",
        }
    }

    /// The certificate and key files, when HTTPS is configured.
    pub fn tls_files(&self) -> Option<(std::path::PathBuf, std::path::PathBuf)> {
        let cert = self
            .tls_cert_file
            .as_deref()
            .filter(|f| !f.trim().is_empty())?;
        let key = self
            .tls_key_file
            .as_deref()
            .filter(|f| !f.trim().is_empty())?;
        Some((cert.into(), key.into()))
    }

    pub fn validate(&self) -> Result<Settings, ConfigError> {
        let ip: IpAddr = self.host.parse().map_err(|_| {
            bad(
                "host (API_HOST)",
                format!(
                    "{:?} is not an IP address; use 127.0.0.1 or 0.0.0.0",
                    self.host
                ),
            )
        })?;
        if let Some(url) = self.public_url.as_deref().filter(|u| !u.trim().is_empty()) {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(bad(
                    "public_url (MUSIC_RAG_PUBLIC_URL)",
                    format!("{url:?} must be a URL like https://music.example.org"),
                ));
            }
        }
        let mut keys = ApiKeys::default();
        if let Some(k) = self
            .api_key
            .as_ref()
            .map(Secret::expose)
            .filter(|k| !k.is_empty())
        {
            keys.add(k, Scope::Admin)
                .map_err(|m| bad("api_key (API_KEY)", m))?;
        }
        for pair in self
            .api_keys
            .as_ref()
            .map(Secret::expose)
            .unwrap_or("")
            .split(',')
            .map(str::trim)
            .filter(|p| !p.is_empty())
        {
            let (key, scope) = pair.rsplit_once(':').ok_or_else(|| {
                bad(
                    "api_keys (MUSIC_RAG_API_KEYS)",
                    "each entry must be key:scope",
                )
            })?;
            let scope: Scope = scope
                .parse()
                .map_err(|m| bad("api_keys (MUSIC_RAG_API_KEYS)", m))?;
            keys.add(key, scope)
                .map_err(|m| bad("api_keys (MUSIC_RAG_API_KEYS)", m))?;
        }
        if keys.is_empty() && !ip.is_loopback() && !self.allow_unauthenticated {
            return Err(bad(
                "host (API_HOST)",
                format!(
                    "refusing to serve {ip} without an API key: set API_KEY or MUSIC_RAG_API_KEYS, \
                     bind 127.0.0.1, or pass --allow-unauthenticated"
                ),
            ));
        }
        let positive = |name: &'static str, v: usize| {
            if v == 0 {
                Err(bad(name, "must be at least 1"))
            } else {
                Ok(())
            }
        };
        positive("max_batch_size (MAX_BATCH_SIZE)", self.max_batch_size)?;
        positive("rate_limit_per_second", self.rate_limit_per_second as usize)?;
        positive("rate_limit_burst", self.rate_limit_burst as usize)?;
        positive(
            "auth_failures_per_minute",
            self.auth_failures_per_minute as usize,
        )?;
        positive("max_body_bytes", self.max_body_bytes)?;
        positive("max_upload_bytes", self.max_upload_bytes)?;
        positive(
            "request_timeout_seconds",
            self.request_timeout_seconds as usize,
        )?;
        positive("max_concurrent_requests", self.max_concurrent_requests)?;
        positive("max_concurrent_searches", self.max_concurrent_searches)?;
        positive("max_connections", self.max_connections)?;
        positive(
            "header_read_timeout_seconds",
            self.header_read_timeout_seconds as usize,
        )?;
        positive("idle_timeout_seconds", self.idle_timeout_seconds as usize)?;
        let set = |v: &Option<String>| v.as_deref().is_some_and(|f| !f.trim().is_empty());
        match (set(&self.tls_cert_file), set(&self.tls_key_file)) {
            (true, false) => {
                return Err(bad(
                    "tls_key_file (MUSIC_RAG_TLS_KEY_FILE)",
                    "is needed with tls_cert_file: HTTPS takes a certificate and its key",
                ))
            }
            (false, true) => {
                return Err(bad(
                    "tls_cert_file (MUSIC_RAG_TLS_CERT_FILE)",
                    "is needed with tls_key_file: HTTPS takes a certificate and its key",
                ))
            }
            _ => {}
        }
        if !matches!(
            self.environment.as_str(),
            "development" | "production" | "test"
        ) {
            return Err(bad(
                "environment (ENVIRONMENT)",
                "must be development, production or test",
            ));
        }
        if let Some(f) = self.log_format.as_deref() {
            if !matches!(f, "json" | "text") {
                return Err(bad("log_format (LOG_FORMAT)", "must be json or text"));
            }
        }
        let cors_origins: Vec<String> = self
            .cors_origins
            .split(',')
            .map(str::trim)
            .filter(|o| !o.is_empty())
            .map(str::to_string)
            .collect();
        for o in &cors_origins {
            if o != "*" && !(o.starts_with("http://") || o.starts_with("https://")) {
                return Err(bad(
                    "cors_origins (CORS_ORIGINS)",
                    format!("{o:?} must be an origin like https://example.com"),
                ));
            }
        }
        self.provider().validate().map_err(|e| match e {
            music_rag_ops::OpsError::Setting { setting, message } => bad(setting, message),
            other => bad("llm_base_url (OPENAI_BASE_URL)", other.to_string()),
        })?;
        let snapshot_every = self
            .snapshot_every
            .as_deref()
            .filter(|e| !e.trim().is_empty())
            .map(|e| {
                parse_interval(e).ok_or_else(|| {
                    bad(
                        "snapshot_every (MUSIC_RAG_SNAPSHOT_EVERY)",
                        format!("{e:?} must be a number with s, m, h or d, e.g. 24h or 30m, of at least 1s"),
                    )
                })
            })
            .transpose()?;
        self.query_log
            .parse::<music_rag_ops::query_log::QueryLogMode>()
            .map_err(|e| match e {
                music_rag_ops::OpsError::Setting { setting, message } => bad(setting, message),
                other => bad("query_log (MUSIC_RAG_QUERY_LOG)", other.to_string()),
            })?;
        if let Some(upload) = self.snapshot_upload.as_deref().filter(|u| !u.is_empty()) {
            const SETTING: &str = "snapshot_upload (MUSIC_RAG_SNAPSHOT_UPLOAD)";
            upload
                .parse::<music_rag_ops::offsite::OffsiteLocation>()
                .map_err(|e| bad(SETTING, e.to_string()))?;
            if snapshot_every.is_none() {
                return Err(bad(
                    SETTING,
                    "copies scheduled snapshots: set snapshot_every (MUSIC_RAG_SNAPSHOT_EVERY) too",
                ));
            }
        }
        if snapshot_every.is_some() {
            positive(
                "snapshot_keep (MUSIC_RAG_SNAPSHOT_KEEP)",
                self.snapshot_keep,
            )?;
        }
        Ok(Settings {
            addr: SocketAddr::new(ip, self.port),
            snapshot_every,
            keys,
            cors_origins,
            config: self.clone(),
        })
    }

    /// The configuration as JSON, secrets masked, the scopes of `api_keys` kept visible, for
    /// `music-rag config`.
    /// The music folders, in order, each once.
    pub fn music_folder_list(&self) -> Vec<std::path::PathBuf> {
        let mut out: Vec<std::path::PathBuf> = Vec::new();
        for f in self
            .music_folders
            .iter()
            .flat_map(|d| d.split(','))
            .map(str::trim)
        {
            if !f.is_empty() && !out.iter().any(|o| o.as_os_str() == f) {
                out.push(f.into());
            }
        }
        out
    }

    pub fn masked(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        if let Some(list) = &self.api_keys {
            let scopes: Vec<String> = list
                .expose()
                .split(',')
                .filter_map(|p| {
                    p.trim()
                        .rsplit_once(':')
                        .map(|(_, scope)| format!("{MASK}:{scope}"))
                })
                .collect();
            value["api_keys"] = scopes.join(",").into();
        }
        value
    }
}

/// `90s`, `30m`, `24h`, `7d` as a duration (at least one second).
fn parse_interval(text: &str) -> Option<std::time::Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit())?;
    let (number, unit) = text.split_at(split);
    let n: u64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "s" => n,
        "m" => n.checked_mul(60)?,
        "h" => n.checked_mul(3600)?,
        "d" => n.checked_mul(86_400)?,
        _ => return None,
    };
    (seconds > 0).then(|| std::time::Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_intervals_read_as_durations() {
        assert_eq!(parse_interval("24h").unwrap().as_secs(), 86_400);
        assert_eq!(parse_interval("30m").unwrap().as_secs(), 1_800);
        assert_eq!(parse_interval("2d").unwrap().as_secs(), 172_800);
        for bad in ["", "0s", "24", "h", "1w", "-1h"] {
            assert!(parse_interval(bad).is_none(), "{bad}");
        }
        let e = ServerConfig {
            snapshot_every: Some("weekly".into()),
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("snapshot_every") && e.contains("24h"), "{e}");
    }

    #[test]
    fn non_loopback_without_keys_is_refused() {
        let c = ServerConfig {
            host: "0.0.0.0".into(),
            ..Default::default()
        };
        let e = c.validate().unwrap_err().to_string();
        assert!(
            e.contains("API_KEY") && e.contains("--allow-unauthenticated"),
            "{e}"
        );
        let c = ServerConfig {
            host: "0.0.0.0".into(),
            allow_unauthenticated: true,
            ..Default::default()
        };
        assert!(c.validate().is_ok());
        let c = ServerConfig {
            host: "0.0.0.0".into(),
            api_key: Some("s3cret-key-123".into()),
            ..Default::default()
        };
        assert!(c.validate().is_ok());
    }

    #[test]
    fn bad_settings_name_themselves() {
        let e = ServerConfig {
            host: "localhost:80".into(),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.setting.contains("API_HOST"));
        let e = ServerConfig {
            api_keys: Some("abc".into()),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.message.contains("key:scope"));
        let e = ServerConfig {
            api_keys: Some("abcdefgh:root".into()),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.message.contains("read, write or admin"), "{e}");
        let e = ServerConfig {
            cors_origins: "example.com".into(),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.setting.contains("CORS_ORIGINS"));
        let e = ServerConfig {
            max_batch_size: 0,
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        assert!(e.setting.contains("MAX_BATCH_SIZE"));
    }

    #[test]
    fn secrets_are_masked() {
        let c = ServerConfig {
            api_key: Some("topsecret".into()),
            llm_api_key: Some("sk-topsecret".into()),
            api_keys: Some("k1k1k1k1:read,k2k2k2k2:admin".into()),
            ..Default::default()
        };
        let text = serde_json::to_string(&c.masked()).unwrap();
        assert!(
            !text.contains("topsecret") && !text.contains("k1k1"),
            "{text}"
        );
        assert!(text.contains("********:read"));
        // No way of printing the configuration shows a secret.
        for shown in [
            format!("{c:?}"),
            serde_json::to_string(&c).unwrap(),
            c.llm_api_key.as_ref().unwrap().to_string(),
        ] {
            assert!(
                !shown.contains("topsecret") && !shown.contains("k1k1"),
                "{shown}"
            );
        }
        assert_eq!(c.llm_api_key.unwrap().expose(), "sk-topsecret");
    }
}
