//! The HTTP server's integration tests in one binary: the router in process and the transport
//! (connections, deadlines, TLS) over real sockets.

mod common;
mod router;
mod transport;
