//! Connections: plain HTTP or HTTPS (rustls), HTTP/1.1 and HTTP/2 on both, with the limits a
//! server on an open network needs: at most `max_connections` open at once (the listener
//! stops accepting until one closes), a deadline for a TLS handshake and for request headers,
//! an idle timeout, and a stop that drains within the grace period.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{watch, Semaphore};
use tower::ServiceExt;

use crate::metrics::OPEN_CONNECTIONS;
use crate::tls::Certificates;
use crate::AppState;

/// How connections are held, from the settings.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_connections: usize,
    header_read_timeout: Duration,
    idle_timeout: Duration,
    grace: Duration,
}

/// Serves until `shutdown` resolves, then stops accepting, asks every connection to close
/// after its current request, and waits up to the grace period for them.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    tls: Option<Arc<Certificates>>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let c = &state.settings.config;
    let limits = Limits {
        max_connections: c.max_connections,
        header_read_timeout: Duration::from_secs(c.header_read_timeout_seconds),
        idle_timeout: Duration::from_secs(c.idle_timeout_seconds),
        grace: Duration::from_secs(c.shutdown_grace_seconds),
    };
    let app = crate::app(state);
    let acceptor = tls.map(|t| tokio_rustls::TlsAcceptor::from(t.server_config()));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let (stopping_tx, stopping) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full = false;
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
            _ = &mut shutdown => break,
        };
        if slots.available_permits() == 0 && !warned_full {
            warned_full = true;
            tracing::warn!(
                max_connections = limits.max_connections,
                "connection limit reached; new connections wait until one closes"
            );
        }
        let (tcp, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and similar: pause instead of spinning.
                    tracing::warn!("accepting a connection failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = tcp.set_nodelay(true);
        let app = app.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            app.clone().oneshot(req)
        });
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            metrics::gauge!(OPEN_CONNECTIONS).increment(1.0);
            let io = Watched::new(tcp);
            let activity = io.activity.clone();
            match acceptor {
                None => serve_connection(&builder, io, activity, service, stopping, limits).await,
                Some(acceptor) => {
                    match tokio::time::timeout(limits.header_read_timeout, acceptor.accept(io))
                        .await
                    {
                        Ok(Ok(tls)) => {
                            serve_connection(&builder, tls, activity, service, stopping, limits)
                                .await
                        }
                        Ok(Err(e)) => tracing::debug!(%remote, "TLS handshake failed: {e}"),
                        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
                    }
                }
            }
            metrics::gauge!(OPEN_CONNECTIONS).decrement(1.0);
            drop(slot);
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    // Every slot back means every connection has closed.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(limits.grace, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!(grace = ?limits.grace, "requests still in flight after the grace period; stopping anyway");
    }
    Ok(())
}

/// Drives one connection; asks it to close gracefully (after the request in progress) when
/// the server stops or when no byte has moved for the idle timeout (before its first byte:
/// the header deadline).
async fn serve_connection<IO, S>(
    builder: &auto::Builder<TokioExecutor>,
    io: IO,
    activity: Arc<Activity>,
    service: S,
    mut stopping: watch::Receiver<bool>,
    limits: Limits,
) where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::Service<
            hyper::Request<Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    loop {
        // Before the first byte the header deadline applies, after it the idle timeout.
        let quiet_until = || {
            let limit = if activity.read_any() {
                limits.idle_timeout
            } else {
                limits.header_read_timeout
            };
            activity.last() + limit
        };
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            _ = stopping.changed(), if !closing => {
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(quiet_until().into()), if !closing => {
                if quiet_until() <= Instant::now() {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// When bytes last moved on a connection, and whether any were ever read.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the last read or write; the top bit marks that a byte
    /// was ever read.
    last_ms: AtomicU64,
}

const READ_ANY: u64 = 1 << 63;

impl Activity {
    fn touch(&self, read: bool) {
        let ms = self.opened.elapsed().as_millis() as u64 & !READ_ANY;
        let flag = if read {
            READ_ANY
        } else {
            self.last_ms.load(Ordering::Relaxed) & READ_ANY
        };
        self.last_ms.store(ms | flag, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.opened + Duration::from_millis(self.last_ms.load(Ordering::Relaxed) & !READ_ANY)
    }

    fn read_any(&self) -> bool {
        self.last_ms.load(Ordering::Relaxed) & READ_ANY != 0
    }
}

/// A socket that records its activity.
struct Watched<IO> {
    io: IO,
    activity: Arc<Activity>,
}

impl<IO> Watched<IO> {
    fn new(io: IO) -> Self {
        Self {
            io,
            activity: Arc::new(Activity {
                opened: Instant::now(),
                last_ms: AtomicU64::new(0),
            }),
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let result = Pin::new(&mut self.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch(true);
        }
        result
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write(cx, buf);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch(false);
        }
        result
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let result = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        if matches!(result, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch(false);
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
