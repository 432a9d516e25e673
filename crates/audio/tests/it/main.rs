//! The audio crate's integration tests, one binary: analysis accuracy on synthesised signals,
//! the MusiCNN port against the Python package's outputs, and streaming against whole buffers.

mod accuracy;
mod musicnn_reference;
mod streaming;
