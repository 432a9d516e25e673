//! How tracks are found and ranked: metadata filters ([`filter`]), hits and candidates
//! ([`hit`]), reciprocal rank fusion ([`fusion`]), the second-stage rerank ([`rerank`]) and
//! vector math ([`vector`]) and variety for a bare genre word ([`variety`]).

pub mod filter;
pub mod fusion;
pub mod hit;
pub mod rerank;
pub mod steer;
pub mod variety;
pub mod vector;
