//! Layers, each with a forward and a backward pass readable top to bottom.
pub mod dropout;
pub mod recurrent;
