//! The domain: tracks, keys, filters, the catalog's vocabulary and names, query parsing,
//! fusion, rerank, answers' rules, playlist ordering, summaries and evaluation metrics. Pure
//! rules over values: no I/O, no ports, no use cases.

pub mod answer;
pub mod audio;
pub mod citations;
pub mod eval;
pub mod filter;
pub mod fusion;
pub mod hash;
pub mod hit;
pub mod key;
pub mod limits;
pub mod names;
pub mod overview;
pub mod parse;
pub mod playlist;
pub mod rerank;
pub mod route;
pub mod summary;
pub mod text;
pub mod track;
pub mod vector;
pub mod vocabulary;
pub mod wire;
