//! Connections: plain HTTP or HTTPS (rustls), HTTP/1.1 and HTTP/2 on both, with the limits a
//! server on an open network needs: at most `max_connections` open at once (the listener
//! stops accepting until one closes), a deadline for a TLS handshake and for request headers,
//! an idle timeout, and a stop that drains within the grace period.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
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
        let io = Watched::new(tcp);
        let activity = io.activity.clone();
        let requests = activity.clone();
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(remote));
            let started = requests.request_started(req.version() == hyper::Version::HTTP_2);
            let answer = app.clone().oneshot(req);
            async move {
                let response = answer.await?;
                // The request counts as in progress until its body is sent (or dropped).
                Ok::<_, std::convert::Infallible>(response.map(|body| InProgress {
                    body,
                    _request: started,
                }))
            }
        });
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            metrics::gauge!(OPEN_CONNECTIONS).increment(1.0);
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
/// the server stops, when an HTTP/1 client has not sent a complete request head within the
/// header deadline of connecting or of its previous answer (however slowly its bytes trickle
/// in), or when no byte has moved for the idle timeout.
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
            Response = hyper::Response<InProgress>,
            Error = std::convert::Infallible,
        > + Send
        + 'static,
    S::Future: Send + 'static,
{
    let conn = builder.serve_connection(TokioIo::new(io), service);
    let mut conn = std::pin::pin!(conn);
    let mut closing = false;
    loop {
        let (deadline, _) = activity.deadline(&limits);
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!("connection ended: {e}");
                }
                return;
            }
            _ = stopping.changed(), if !closing => {
                if activity.waiting_for_a_head() {
                    return;
                }
                closing = true;
                conn.as_mut().graceful_shutdown();
            }
            _ = tokio::time::sleep_until(deadline.into()) => {
                match activity.deadline(&limits) {
                    // Nothing is in progress, so nothing is lost by closing now; a graceful
                    // close would wait for the head that never comes.
                    (at, Expiry::Head) if at <= Instant::now() => return,
                    (at, Expiry::Idle) if at <= Instant::now() && !closing => {
                        closing = true;
                        conn.as_mut().graceful_shutdown();
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A response body that keeps its request counted as in progress until it is sent.
struct InProgress {
    body: axum::body::Body,
    _request: RequestStarted,
}

impl hyper::body::Body for InProgress {
    type Data = hyper::body::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// Which rule a connection's deadline comes from.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Expiry {
    /// No complete request head in time, with nothing in progress: close at once.
    Head,
    /// No byte moved for the idle timeout: close after the request in progress.
    Idle,
}

/// What a connection is doing: when bytes last moved, requests in progress, and since when
/// it has waited for a request head.
#[derive(Debug)]
struct Activity {
    opened: Instant,
    /// Milliseconds after `opened` of the last read or write.
    last_io_ms: AtomicU64,
    /// Milliseconds after `opened` since which no request has been in progress.
    waiting_since_ms: AtomicU64,
    in_flight: AtomicUsize,
    http2: AtomicBool,
}

/// Ends a request's part in [`Activity`] when its answer has been sent (or dropped).
struct RequestStarted(Arc<Activity>);

impl Drop for RequestStarted {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0
                .waiting_since_ms
                .store(self.0.now_ms(), Ordering::Release);
        }
    }
}

impl Activity {
    fn now_ms(&self) -> u64 {
        self.opened.elapsed().as_millis() as u64
    }

    fn touch(&self) {
        self.last_io_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn request_started(self: &Arc<Self>, http2: bool) -> RequestStarted {
        if http2 {
            self.http2.store(true, Ordering::Relaxed);
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        RequestStarted(self.clone())
    }

    /// HTTP/1 (or not yet known) with no request in progress: the next thing due is a head.
    fn waiting_for_a_head(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0 && !self.http2.load(Ordering::Relaxed)
    }

    /// When the connection is to be closed if nothing changes, and by which rule: no byte
    /// for the idle timeout; while waiting for a head, no complete head within the header
    /// deadline of connecting or of the previous answer.
    fn deadline(&self, limits: &Limits) -> (Instant, Expiry) {
        let at = |ms: &AtomicU64| self.opened + Duration::from_millis(ms.load(Ordering::Acquire));
        let idle = at(&self.last_io_ms) + limits.idle_timeout;
        let head = at(&self.waiting_since_ms) + limits.header_read_timeout;
        if self.waiting_for_a_head() && head <= idle {
            (head, Expiry::Head)
        } else {
            (idle, Expiry::Idle)
        }
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
                last_io_ms: AtomicU64::new(0),
                waiting_since_ms: AtomicU64::new(0),
                in_flight: AtomicUsize::new(0),
                http2: AtomicBool::new(false),
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
            self.activity.touch();
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
            self.activity.touch();
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
            self.activity.touch();
        }
        result
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}
