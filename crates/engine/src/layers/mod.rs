//! Layers, each with a forward and a backward pass readable top to bottom.
