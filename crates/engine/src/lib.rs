//! rnnlab's numerical core: fused whole-sequence recurrent layers (RNN, LSTM, GRU) with
//! hand-written forward and backward passes, the layers around them (embedding, dropout,
//! output head, softmax cross-entropy), optimizers, clipping and learning-rate schedules.
//!
//! Tensors are plain `f32` slices in row-major order; recurrent activations are time-major
//! (`[T, B, features]`). Parameters and gradients live in one flat [`ParamStore`].

pub mod backend;
pub mod error;
pub mod layers;
pub mod model;
pub mod optim;
pub mod params;
pub mod rng;
mod simd;

pub use backend::{Backend, CpuBackend};
pub use error::EngineError;
pub use params::{ParamId, ParamStore};

pub type Result<T> = std::result::Result<T, EngineError>;
