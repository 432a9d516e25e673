//! How tracks are found and ranked: metadata filters ([`filter`]), hits and candidates
//! ([`hit`]), reciprocal rank fusion ([`fusion`]), the second-stage rerank ([`rerank`]) and
//! vector math ([`vector`]).

pub mod filter;
pub mod fusion;
pub mod hit;
pub mod rerank;
pub mod vector;
