//! What a user typed: text normalisation ([`text`]), query parsing into search text, filters
//! and preferences ([`parse`], its word lists in [`words`]), the catalog's names and the names
//! a question mentions ([`names`], [`entities`]), the route a query takes ([`route`]), and
//! whether it is written in another language ([`language`]); catalogue numbers of works folded
//! as catalogs write them ([`catalogue`]).

pub mod catalogue;
pub mod entities;
pub mod language;
pub mod names;
pub mod parse;
pub mod route;
pub mod text;
pub mod words;
