//! The binary's integration tests, one test binary (one link, not nine): each module drives the
//! real `music-rag` binary, its HTTP server, the model, PostgreSQL or a browser.

mod answers;
mod audio;
mod common;
mod data_safety;
mod hostile;
mod http;
mod ingest;
mod offsite;
mod postgres;
mod query_log;
mod search;
mod subsonic;
mod ui;
