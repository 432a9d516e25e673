//! Snapshots off the machine: S3-compatible object storage (AWS S3, MinIO, Ceph, Garage, R2…)
//! as a destination for `backup` and scheduled snapshots, and as a source for `restore` and
//! restoring at start. A backup kept on a volume of the same cluster dies with the cluster;
//! one in a bucket does not.
//!
//! A location is `s3://BUCKET/PREFIX/`. Credentials and the endpoint come from the standard
//! AWS variables, read by `object_store` (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL` for another
//! provider, `AWS_ALLOW_HTTP=true` for a plain-HTTP endpoint, web identity in EKS); a private
//! CA is trusted through `SSL_CERT_FILE`. Objects are written through a multipart upload for
//! large files, so a snapshot never needs to fit in memory, and are visible only once complete.
//! Retention works as in the snapshot folder: only `snapshot-*.mrsnap` names are pruned.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::buffered::{BufReader, BufWriter};
use object_store::path::Path as ObjectPath;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use serde::Serialize;
use tokio::io::AsyncWriteExt;

use crate::error::{OpsError, Result};
use crate::snapshots::{EXTENSION, PREFIX};

/// The URL scheme of an object-storage location.
const SCHEME: &str = "s3://";

/// Whether a `--to`/`--restore-from`/restore argument names object storage rather than a path.
pub fn is_offsite(location: &str) -> bool {
    location.starts_with(SCHEME)
}

/// Where in object storage: a bucket, and a key prefix (empty, or ending in `/`), or one
/// object when the location ends in `.mrsnap`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffsiteLocation {
    pub bucket: String,
    pub prefix: String,
    /// The snapshot's object name when the location names one object.
    pub object: Option<String>,
}

impl std::str::FromStr for OffsiteLocation {
    type Err = OpsError;

    fn from_str(s: &str) -> Result<Self> {
        let invalid = |rule: &str| OpsError::Input {
            what: format!("object storage location {s:?}"),
            message: rule.to_string(),
        };
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| invalid("must start with s3://"))?;
        let (bucket, key) = rest.split_once('/').unwrap_or((rest, ""));
        // S3's bucket naming rules: 3-63 lower-case letters, digits, '.' and '-'.
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
            && !bucket.starts_with(['.', '-'])
            && !bucket.ends_with(['.', '-']);
        if !bucket_ok {
            return Err(invalid(
                "the bucket must be 3-63 lower-case letters, digits, '.' or '-' (s3://BUCKET/PREFIX/)",
            ));
        }
        if key.contains("//") || key.starts_with('/') || key.split('/').any(|p| p == "..") {
            return Err(invalid("the key prefix must not hold empty or '..' parts"));
        }
        let (prefix, object) = if key.ends_with(EXTENSION) {
            match key.rsplit_once('/') {
                Some((dir, name)) => (format!("{dir}/"), Some(name.to_string())),
                None => (String::new(), Some(key.to_string())),
            }
        } else if key.is_empty() || key.ends_with('/') {
            (key.to_string(), None)
        } else {
            (format!("{key}/"), None)
        };
        Ok(Self {
            bucket: bucket.to_string(),
            prefix,
            object,
        })
    }
}

impl std::fmt::Display for OffsiteLocation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{SCHEME}{}/{}{}",
            self.bucket,
            self.prefix,
            self.object.as_deref().unwrap_or("")
        )
    }
}

/// A snapshot stored in object storage.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OffsiteSnapshot {
    /// `s3://BUCKET/KEY`.
    pub url: String,
    pub name: String,
    pub bytes: u64,
    /// When the object was written (RFC 3339, UTC).
    pub created_at: String,
    /// The same, in Unix seconds.
    #[serde(skip)]
    pub created_unix: i64,
}

/// One bucket and prefix of snapshots.
#[derive(Debug, Clone)]
pub struct OffsiteSnapshots {
    location: OffsiteLocation,
    store: Arc<dyn ObjectStore>,
}

fn remote(what: impl Into<String>) -> impl FnOnce(object_store::Error) -> OpsError {
    let what = what.into();
    move |e| OpsError::Offsite {
        what,
        message: e.to_string(),
    }
}

impl OffsiteSnapshots {
    /// The snapshots at `location` (`s3://BUCKET/PREFIX/`), with credentials and endpoint from
    /// the environment. Nothing is contacted until the first call.
    pub fn open(location: &str) -> Result<Self> {
        let location: OffsiteLocation = location.parse()?;
        // HTTPS through rustls on ring, the workspace's one TLS stack; installing it again
        // (a second bucket, the server's own TLS) is refused harmlessly.
        let _ = rustls::crypto::ring::default_provider().install_default();
        // `from_env` reads every AWS_* variable, AWS_REGION and AWS_ENDPOINT_URL included.
        let builder = AmazonS3Builder::from_env().with_bucket_name(&location.bucket);
        let store = builder.build().map_err(|e| OpsError::Setting {
            setting: "object storage (AWS_* variables)",
            message: e.to_string(),
        })?;
        Ok(Self {
            location,
            store: Arc::new(store),
        })
    }

    pub fn location(&self) -> &OffsiteLocation {
        &self.location
    }

    fn key(&self, name: &str) -> ObjectPath {
        ObjectPath::from(format!("{}{name}", self.location.prefix))
    }

    fn url(&self, name: &str) -> String {
        format!(
            "{SCHEME}{}/{}{name}",
            self.location.bucket, self.location.prefix
        )
    }

    /// Uploads the snapshot file as `name` under the prefix; the object appears only when the
    /// whole file is written, and its size is checked against the file's.
    pub async fn upload(&self, file: &Path, name: &str) -> Result<OffsiteSnapshot> {
        let key = self.key(name);
        let mut source = tokio::fs::File::open(file)
            .await
            .map_err(OpsError::io(format!("cannot read {}", file.display())))?;
        let expected = source
            .metadata()
            .await
            .map_err(OpsError::io(format!("cannot read {}", file.display())))?
            .len();
        let mut sink = BufWriter::new(self.store.clone(), key.clone());
        let copied = match tokio::io::copy(&mut source, &mut sink).await {
            Ok(n) => n,
            Err(e) => {
                // Abandons a multipart upload already begun, so no part lingers in the bucket.
                let _ = sink.abort().await;
                return Err(OpsError::Offsite {
                    what: format!("uploading {} to {}", file.display(), self.url(name)),
                    message: e.to_string(),
                });
            }
        };
        sink.shutdown().await.map_err(|e| OpsError::Offsite {
            what: format!("finishing the upload to {}", self.url(name)),
            message: e.to_string(),
        })?;
        let meta = self
            .store
            .head(&key)
            .await
            .map_err(remote(format!("checking {}", self.url(name))))?;
        if copied != expected || meta.size != expected {
            return Err(OpsError::Offsite {
                what: format!("uploading to {}", self.url(name)),
                message: format!("the object holds {} bytes, the file {expected}", meta.size),
            });
        }
        Ok(self.entry(&meta))
    }

    fn entry(&self, meta: &ObjectMeta) -> OffsiteSnapshot {
        let name = meta.location.filename().unwrap_or_default().to_string();
        OffsiteSnapshot {
            url: self.url(&name),
            name,
            bytes: meta.size,
            created_unix: meta.last_modified.timestamp(),
            created_at: time::OffsetDateTime::from_unix_timestamp(meta.last_modified.timestamp())
                .ok()
                .and_then(|t| {
                    t.format(&time::format_description::well_known::Rfc3339)
                        .ok()
                })
                .unwrap_or_default(),
        }
    }

    /// The snapshots directly under the prefix, oldest first (by name, which sorts by time).
    pub async fn list(&self) -> Result<Vec<OffsiteSnapshot>> {
        let prefix = self.location.prefix.trim_end_matches('/');
        let prefix = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
        let listed = self
            .store
            .list_with_delimiter(prefix.as_ref())
            .await
            .map_err(remote(format!("listing {}", self.location)))?;
        let mut out: Vec<OffsiteSnapshot> = listed
            .objects
            .iter()
            .map(|m| self.entry(m))
            .filter(|e| e.name.ends_with(EXTENSION) && !e.name.starts_with('.'))
            .collect();
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Downloads the snapshot the location names, or the newest under its prefix, into
    /// `dir` (to a temporary name, renamed once its size checks out). Returns the file.
    pub async fn download(&self, dir: &Path) -> Result<PathBuf> {
        let name = match &self.location.object {
            Some(name) => name.clone(),
            None => self
                .list()
                .await?
                .into_iter()
                .rfind(|e| e.name.starts_with(PREFIX))
                .map(|e| e.name)
                .ok_or_else(|| {
                    OpsError::Core(music_rag_core::CoreError::NotFound(format!(
                        "no snapshot under {}",
                        self.location
                    )))
                })?,
        };
        let key = self.key(&name);
        let meta = self.store.head(&key).await.map_err(|e| match e {
            object_store::Error::NotFound { .. } => OpsError::Core(
                music_rag_core::CoreError::NotFound(format!("no snapshot at {}", self.url(&name))),
            ),
            other => remote(format!("reading {}", self.url(&name)))(other),
        })?;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(OpsError::io(format!("cannot create {}", dir.display())))?;
        let file = dir.join(&name);
        let part = dir.join(format!("{name}.part"));
        let mut reader = BufReader::new(self.store.clone(), &meta);
        let mut out = tokio::fs::File::create(&part)
            .await
            .map_err(OpsError::io(format!("cannot write {}", part.display())))?;
        let copied = tokio::io::copy(&mut reader, &mut out)
            .await
            .map_err(|e| OpsError::Offsite {
                what: format!("downloading {}", self.url(&name)),
                message: e.to_string(),
            });
        let copied = match copied {
            Ok(n) => n,
            Err(e) => {
                let _ = tokio::fs::remove_file(&part).await;
                return Err(e);
            }
        };
        out.sync_all()
            .await
            .map_err(OpsError::io(format!("cannot write {}", part.display())))?;
        if copied != meta.size {
            let _ = tokio::fs::remove_file(&part).await;
            return Err(OpsError::Offsite {
                what: format!("downloading {}", self.url(&name)),
                message: format!("stopped after {copied} bytes of {}", meta.size),
            });
        }
        tokio::fs::rename(&part, &file)
            .await
            .map_err(OpsError::io(format!("cannot write {}", file.display())))?;
        Ok(file)
    }

    /// Deletes the oldest `snapshot-*` objects beyond the newest `keep`; other names under the
    /// prefix (copied there by hand, pre-upgrade snapshots) stay.
    pub async fn prune(&self, keep: usize) -> Result<Vec<String>> {
        let ours: Vec<OffsiteSnapshot> = self
            .list()
            .await?
            .into_iter()
            .filter(|e| e.name.starts_with(PREFIX))
            .collect();
        let excess = ours.len().saturating_sub(keep.max(1));
        let mut removed = Vec::new();
        for e in ours.into_iter().take(excess) {
            self.store
                .delete(&self.key(&e.name))
                .await
                .map_err(remote(format!("deleting {}", e.url)))?;
            removed.push(e.name);
        }
        Ok(removed)
    }

    /// Exports the upload metrics at start, the time from the newest snapshot the bucket holds
    /// (0 when none, or when the bucket cannot be listed — which is logged), so the stale-upload
    /// alert works across restarts.
    pub async fn export_state(&self) {
        for outcome in ["success", "failure"] {
            metrics::counter!(SNAPSHOT_UPLOADS, "outcome" => outcome).increment(0);
        }
        let newest = match self.list().await {
            Ok(list) => list
                .iter()
                .filter(|e| e.name.starts_with(PREFIX))
                .map(|e| e.created_unix)
                .max()
                .unwrap_or(0),
            Err(e) => {
                tracing::warn!(error = %e, "cannot list the snapshots in object storage");
                0
            }
        };
        metrics::gauge!(SNAPSHOT_UPLOAD_LAST_SUCCESS).set(newest as f64);
    }

    /// Uploads a snapshot just taken and prunes the bucket to `keep`: what `backup --to s3://`
    /// and the schedule do. Records the upload metrics.
    pub async fn upload_and_prune(
        &self,
        file: &Path,
        name: &str,
        keep: Option<usize>,
    ) -> Result<(OffsiteSnapshot, Vec<String>)> {
        let uploaded = self.upload(file, name).await;
        let outcome = if uploaded.is_ok() {
            "success"
        } else {
            "failure"
        };
        metrics::counter!(SNAPSHOT_UPLOADS, "outcome" => outcome).increment(1);
        let uploaded = uploaded?;
        metrics::gauge!(SNAPSHOT_UPLOAD_LAST_SUCCESS).set(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
        );
        let pruned = match keep {
            Some(keep) => self.prune(keep).await?,
            None => Vec::new(),
        };
        Ok((uploaded, pruned))
    }
}

/// Runs an object-storage call from synchronous code (the CLI's commands; restoring at start,
/// before the server's runtime exists) on a runtime of its own.
pub fn blocking<T>(call: impl std::future::Future<Output = Result<T>>) -> Result<T> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(OpsError::io("cannot start the object storage client"))?
        .block_on(call)
}

/// Snapshot uploads to object storage, by outcome.
pub const SNAPSHOT_UPLOADS: &str = "music_rag_snapshot_uploads_total";
/// When the last upload to object storage succeeded (Unix seconds).
pub const SNAPSHOT_UPLOAD_LAST_SUCCESS: &str =
    "music_rag_snapshot_upload_last_success_timestamp_seconds";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_by_the_bucket_rules() {
        let l: OffsiteLocation = "s3://music-backups/prod/".parse().unwrap();
        assert_eq!(
            (l.bucket.as_str(), l.prefix.as_str()),
            ("music-backups", "prod/")
        );
        assert_eq!(l.object, None);
        let l: OffsiteLocation = "s3://music-backups/prod".parse().unwrap();
        assert_eq!(l.prefix, "prod/");
        let l: OffsiteLocation = "s3://music-backups".parse().unwrap();
        assert_eq!(l.prefix, "");
        let l: OffsiteLocation = "s3://music-backups/a/b/snapshot-1.mrsnap".parse().unwrap();
        assert_eq!(l.prefix, "a/b/");
        assert_eq!(l.object.as_deref(), Some("snapshot-1.mrsnap"));
        assert_eq!(l.to_string(), "s3://music-backups/a/b/snapshot-1.mrsnap");
        for bad in [
            "s3://",
            "s3://UPPER/x",
            "s3://ab/",
            "http://bucket/x",
            "s3://bucket//x",
            "s3://bucket/../x",
        ] {
            let e = bad.parse::<OffsiteLocation>().unwrap_err().to_string();
            assert!(e.contains("object storage location"), "{bad}: {e}");
        }
    }
}
