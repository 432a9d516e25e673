//! The domain: pure rules over values, no I/O, no ports, no use cases. Grouped by concept:
//! what the catalog holds ([`catalog`]), what a user typed ([`query`]), how tracks are found
//! and ranked ([`retrieval`]), the library's artists and albums ([`library`]), what an answer may say ([`answer`]), playlist ordering
//! ([`playlist`]), evaluation metrics ([`eval`]) and how request fields are read off the wire
//! ([`wire`]).

pub mod answer;
pub mod catalog;
pub mod eval;
pub mod library;
pub mod playlist;
pub mod query;
pub mod retrieval;
pub mod wire;
