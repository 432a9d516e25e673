//! TLS for talking to a server whose certificate the public roots do not vouch for: a private
//! CA, or a self-signed certificate, named by a PEM file (`backup --server … --cacert`); and
//! for the container probe, which talks to its own server on loopback (`any_certificate`).
//! Certificates in the file are trust anchors for chains, and are also trusted as they are
//! when the server presents one of them itself: `openssl req -x509` makes self-signed
//! certificates marked as CAs, which a chain check refuses as a server's own ("CA used as end
//! entity") although the user named exactly that certificate.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

/// A client configuration that trusts the certificates in the PEM `file` (and nothing else).
pub fn trusting(file: &Path) -> Result<Arc<rustls::ClientConfig>> {
    let pinned: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("{} is not PEM", file.display()))?;
    anyhow::ensure!(
        !pinned.is_empty(),
        "{} holds no certificate",
        file.display()
    );
    let mut roots = rustls::RootCertStore::empty();
    roots.add_parsable_certificates(pinned.iter().cloned());
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let chains = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .with_context(|| format!("the certificates in {}", file.display()))?;
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Checked {
            accept: Accept::PinnedOrChained { pinned, chains },
            provider,
        }))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// TLS for probing this machine's own server on loopback: its certificate names the public
/// host, not 127.0.0.1, so the name and chain are not checked; the handshake signatures are.
pub fn any_certificate() -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("the ring provider supports the default protocol versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(Checked {
            accept: Accept::Any,
            provider,
        }))
        .with_no_client_auth();
    Arc::new(config)
}

/// Which server certificates a [`Checked`] verifier accepts.
#[derive(Debug)]
enum Accept {
    /// Any (the probe of its own server).
    Any,
    /// Exactly one of these, or one that chains to a trust anchor.
    PinnedOrChained {
        pinned: Vec<CertificateDer<'static>>,
        chains: Arc<WebPkiServerVerifier>,
    },
}

/// A verifier that decides on the certificate as `accept` says and always checks the
/// handshake's signatures with the provider's algorithms.
#[derive(Debug)]
struct Checked {
    accept: Accept,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Checked {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match &self.accept {
            Accept::Any => Ok(ServerCertVerified::assertion()),
            // Exactly a certificate the user named: trusted as it is.
            Accept::PinnedOrChained { pinned, .. }
                if pinned.iter().any(|p| p.as_ref() == end_entity.as_ref()) =>
            {
                Ok(ServerCertVerified::assertion())
            }
            Accept::PinnedOrChained { chains, .. } => chains.verify_server_cert(
                end_entity,
                intermediates,
                server_name,
                ocsp_response,
                now,
            ),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
