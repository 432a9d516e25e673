//! The audio crate's integration tests, one binary: analysis accuracy on synthesised signals,
//! and the MusiCNN port against the Python package's outputs.

mod accuracy;
mod musicnn_reference;
