//! Layers, each with a forward and a backward pass readable top to bottom.
pub mod dropout;
pub mod embedding;
pub mod linear;
pub mod loss;
pub mod recurrent;
