//! HTTPS: a certificate and key from PEM files, offered to every new TLS handshake and
//! replaced in place by [`Certificates::reload`] (on SIGHUP), so connections already open keep
//! the certificate they started with and nothing is dropped.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

use crate::config::ConfigError;

/// The certificate the server presents, reloadable from its files.
#[derive(Debug)]
pub struct Certificates {
    cert_file: PathBuf,
    key_file: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn load(cert_file: &Path, key_file: &Path) -> Result<CertifiedKey, ConfigError> {
    let cert_setting = "tls_cert_file (MUSIC_RAG_TLS_CERT_FILE)";
    let key_setting = "tls_key_file (MUSIC_RAG_TLS_KEY_FILE)";
    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| ConfigError {
            setting: cert_setting,
            message: format!(
                "cannot read a PEM certificate from {}: {e}",
                cert_file.display()
            ),
        })?;
    if chain.is_empty() {
        return Err(ConfigError {
            setting: cert_setting,
            message: format!("{} holds no PEM certificate", cert_file.display()),
        });
    }
    let key = PrivateKeyDer::from_pem_file(key_file).map_err(|e| ConfigError {
        setting: key_setting,
        message: format!(
            "cannot read a PEM private key from {}: {e}",
            key_file.display()
        ),
    })?;
    CertifiedKey::from_der(chain, key, &provider()).map_err(|e| ConfigError {
        setting: key_setting,
        message: format!(
            "the key in {} does not fit the certificate in {}: {e}",
            key_file.display(),
            cert_file.display()
        ),
    })
}

impl Certificates {
    /// Reads and checks the certificate chain and its private key.
    pub fn load(cert_file: &Path, key_file: &Path) -> Result<Arc<Self>, ConfigError> {
        let key = load(cert_file, key_file)?;
        Ok(Arc::new(Self {
            cert_file: cert_file.to_path_buf(),
            key_file: key_file.to_path_buf(),
            current: RwLock::new(Arc::new(key)),
        }))
    }

    /// Reads the files again; new handshakes get the new certificate. A pair that does not
    /// load keeps the old one in force.
    pub fn reload(&self) -> Result<(), ConfigError> {
        let key = load(&self.cert_file, &self.key_file)?;
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(key);
        Ok(())
    }

    /// rustls settings for the server: TLS 1.2 and 1.3, HTTP/2 or HTTP/1.1 by ALPN.
    pub fn server_config(self: &Arc<Self>) -> Arc<rustls::ServerConfig> {
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .expect("the ring provider supports the default protocol versions")
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Arc::new(config)
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(|p| p.into_inner())
                .clone(),
        )
    }
}
