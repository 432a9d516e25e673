//! The server's connections over real sockets: HTTPS with HTTP/1.1 and HTTP/2, certificate
//! reload, header and idle deadlines, and the connection limit (in process, with a hashing
//! embedder; the binary's SIGHUP wiring is tested in the CLI crate's `http` suite).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common;

use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::rt::{TokioExecutor, TokioIo};
use music_rag_server::config::ServerConfig;
use music_rag_server::tls::Certificates;
use rustls::pki_types::{CertificateDer, ServerName};

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

async fn start(config: ServerConfig, tls: Option<Arc<Certificates>>) -> Running {
    let (dir, state) = common::hashing_state(config);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(music_rag_server::serve(listener, state, tls, async move {
        let _ = stopped.await;
    }));
    Running {
        addr,
        stop: Some(stop),
        _dir: dir,
    }
}

struct Pem {
    cert: CertificateDer<'static>,
}

fn write_certificate(dir: &Path) -> Pem {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.join("cert.pem"), made.cert.pem()).unwrap();
    std::fs::write(dir.join("key.pem"), made.key_pair.serialize_pem()).unwrap();
    Pem {
        cert: made.cert.der().clone(),
    }
}

/// A TLS connection that trusts `roots`, offering `alpn`; returns the stream and the
/// certificate the server presented.
async fn connect(
    addr: SocketAddr,
    roots: &[&Pem],
    alpn: &[u8],
) -> (
    tokio_rustls::client::TlsStream<tokio::net::TcpStream>,
    CertificateDer<'static>,
) {
    let mut store = rustls::RootCertStore::empty();
    for r in roots {
        store.add(r.cert.clone()).unwrap();
    }
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(store)
    .with_no_client_auth();
    config.alpn_protocols = vec![alpn.to_vec()];
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .unwrap();
    let presented = tls.get_ref().1.peer_certificates().unwrap()[0].clone();
    assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
    (tls, presented)
}

fn get(path: &str) -> hyper::Request<Empty<Bytes>> {
    hyper::Request::get(format!("https://localhost{path}"))
        .body(Empty::new())
        .unwrap()
}

#[tokio::test]
async fn https_speaks_http1_and_http2_and_a_reloaded_certificate_reaches_new_connections_only() {
    let files = tempfile::tempdir().unwrap();
    let first = write_certificate(files.path());
    let certificates = Certificates::load(
        &files.path().join("cert.pem"),
        &files.path().join("key.pem"),
    )
    .unwrap();
    let server = start(ServerConfig::default(), Some(certificates.clone())).await;

    // HTTP/2 by ALPN.
    let (tls, presented) = connect(server.addr, &[&first], b"h2").await;
    assert_eq!(presented, first.cert);
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tls))
            .await
            .unwrap();
    tokio::spawn(conn);
    let resp = h2.send_request(get("/health")).await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.version(), hyper::Version::HTTP_2);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert!(String::from_utf8_lossy(&body).contains("healthy"));

    // HTTP/1.1 by ALPN, kept open across the reload.
    let (tls, _) = connect(server.addr, &[&first], b"http/1.1").await;
    let (mut h1, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
        .await
        .unwrap();
    tokio::spawn(conn);
    let resp = h1.send_request(get("/health")).await.unwrap();
    assert_eq!(
        (resp.status(), resp.version()),
        (hyper::StatusCode::OK, hyper::Version::HTTP_11)
    );
    resp.into_body().collect().await.unwrap();

    // A key that does not fit the certificate is refused and the old pair stays.
    let other = rcgen::KeyPair::generate().unwrap();
    let good_key = std::fs::read(files.path().join("key.pem")).unwrap();
    std::fs::write(files.path().join("key.pem"), other.serialize_pem()).unwrap();
    let err = certificates.reload().unwrap_err();
    assert!(err.to_string().contains("does not fit"), "{err}");
    let (_, presented) = connect(server.addr, &[&first], b"h2").await;
    assert_eq!(presented, first.cert);
    std::fs::write(files.path().join("key.pem"), good_key).unwrap();

    // A new certificate: new handshakes get it; the open connection still answers.
    let second = write_certificate(files.path());
    certificates.reload().unwrap();
    let (_, presented) = connect(server.addr, &[&first, &second], b"h2").await;
    assert_eq!(presented, second.cert);
    let resp = h1.send_request(get("/ready")).await.unwrap();
    assert_eq!(
        resp.status(),
        200,
        "the connection opened before the reload"
    );

    // Broken files at start are refused naming the setting.
    std::fs::write(files.path().join("cert.pem"), "not a certificate").unwrap();
    let err = Certificates::load(
        &files.path().join("cert.pem"),
        &files.path().join("key.pem"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("tls_cert_file"), "{err}");
}

/// Reads until the server closes the connection; returns how long that took.
fn closed_after(mut socket: TcpStream, started: Instant) -> (Duration, Vec<u8>) {
    socket
        .set_read_timeout(Some(Duration::from_secs(15)))
        .unwrap();
    let mut got = Vec::new();
    let _ = socket.read_to_end(&mut got);
    (started.elapsed(), got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_silent_and_idle_clients_are_cut_off_and_connections_are_capped() {
    // An idle timeout far beyond the test: every close below is the header deadline's.
    let config = ServerConfig {
        header_read_timeout_seconds: 1,
        idle_timeout_seconds: 30,
        max_connections: 2,
        ..ServerConfig::default()
    };
    let server = start(config, None).await;
    let addr = server.addr;
    tokio::task::spawn_blocking(move || {
        // A client that connects and sends nothing, and one that sends half a request.
        let started = Instant::now();
        let silent = TcpStream::connect(addr).unwrap();
        let mut half = TcpStream::connect(addr).unwrap();
        half.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
            .unwrap();
        // Both slots are taken: a third client waits in the listen queue until one frees.
        let mut third = TcpStream::connect(addr).unwrap();
        third
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .unwrap();
        let waiting = std::thread::spawn(move || closed_after(third, started));
        // A fourth sends half a request while it waits: its bytes are there when accepted.
        let mut fourth = TcpStream::connect(addr).unwrap();
        fourth
            .write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n")
            .unwrap();
        let queued = std::thread::spawn(move || closed_after(fourth, started));
        for socket in [silent, half] {
            let (after, got) = closed_after(socket, started);
            assert!(
                after >= Duration::from_millis(900) && after < Duration::from_secs(4),
                "closed after {after:?}"
            );
            assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
        }
        let (after, got) = waiting.join().unwrap();
        let text = String::from_utf8_lossy(&got);
        assert!(text.starts_with("HTTP/1.1 200"), "{text}");
        assert!(
            after >= Duration::from_millis(900),
            "the third connection was served at once ({after:?}), past the limit of 2"
        );
        let (after, got) = queued.join().unwrap();
        assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
        assert!(
            after < Duration::from_millis(3500),
            "half a request that waited in the queue was held {after:?}"
        );

        // Trickling a header a byte at a time does not extend the deadline.
        let started = Instant::now();
        let mut trickle = TcpStream::connect(addr).unwrap();
        trickle
            .set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let mut closed = false;
        for byte in
            b"GET /health HTTP/1.1\r\nHost: localhost\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
        {
            let mut buf = [0u8; 64];
            if matches!(trickle.read(&mut buf), Ok(0)) || trickle.write_all(&[*byte]).is_err() {
                closed = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        assert!(closed, "a trickling client was never cut off");
        assert!(
            started.elapsed() < Duration::from_millis(3000),
            "a trickling client was held {:?}",
            started.elapsed()
        );

        // A kept-alive connection waiting for its next request is closed too.
        let started = Instant::now();
        let mut kept = TcpStream::connect(addr).unwrap();
        kept.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let (after, got) = closed_after(kept, started);
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
        assert!(after < Duration::from_secs(4), "closed after {after:?}");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_http2_connection_is_closed_after_the_idle_timeout() {
    let config = ServerConfig {
        header_read_timeout_seconds: 1,
        idle_timeout_seconds: 2,
        ..ServerConfig::default()
    };
    let server = start(config, None).await;
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    let started = Instant::now();
    let (mut h2, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp))
            .await
            .unwrap();
    let closed = tokio::spawn(conn);
    let resp = h2.send_request(get("/health")).await.unwrap();
    assert_eq!(
        (resp.status(), resp.version()),
        (hyper::StatusCode::OK, hyper::Version::HTTP_2)
    );
    resp.into_body().collect().await.unwrap();
    tokio::time::timeout(Duration::from_secs(6), closed)
        .await
        .expect("the server closes an idle HTTP/2 connection")
        .unwrap()
        .unwrap();
    let after = started.elapsed();
    assert!(
        after >= Duration::from_millis(1900),
        "closed after {after:?}, before the idle timeout"
    );
}
