//! Numeric kernels that more than one model runs: no I/O, no knowledge of music. The text
//! encoder (`music-rag-embed`) and the sound model (`music-rag-audio`) both multiply in int8
//! where the processor does so natively.

pub mod int8;

pub use int8::{int8_is_native, QuantLinear, QuantScratch};
