//! One flat buffer for all parameters and one for their gradients, with named views.
//! Clipping, optimizers and checkpoints are then simple loops over two `Vec<f32>`.

use serde::{Deserialize, Serialize};
use std::ops::Range;

use crate::{EngineError, Result};

/// Index of a parameter in its [`ParamStore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ParamId(pub usize);

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ParamEntry {
    /// PyTorch-style name, e.g. `rnn.weight_ih_l0`.
    pub name: String,
    pub shape: Vec<usize>,
    pub offset: usize,
    pub len: usize,
}

impl ParamEntry {
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + self.len
    }
}

#[derive(Debug, Clone, Default)]
pub struct ParamStore {
    pub values: Vec<f32>,
    pub grads: Vec<f32>,
    entries: Vec<ParamEntry>,
}

impl ParamStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a zero-initialised parameter and returns its id.
    pub fn add(&mut self, name: impl Into<String>, shape: &[usize]) -> ParamId {
        let len = shape.iter().product();
        let offset = self.values.len();
        self.values.resize(offset + len, 0.0);
        self.grads.resize(offset + len, 0.0);
        self.entries.push(ParamEntry {
            name: name.into(),
            shape: shape.to_vec(),
            offset,
            len,
        });
        ParamId(self.entries.len() - 1)
    }

    pub fn entries(&self) -> &[ParamEntry] {
        &self.entries
    }

    pub fn entry(&self, id: ParamId) -> &ParamEntry {
        &self.entries[id.0]
    }

    pub fn range(&self, id: ParamId) -> Range<usize> {
        self.entries[id.0].range()
    }

    pub fn id(&self, name: &str) -> Result<ParamId> {
        self.entries
            .iter()
            .position(|e| e.name == name)
            .map(ParamId)
            .ok_or_else(|| EngineError::UnknownParam(name.to_string()))
    }

    pub fn value(&self, id: ParamId) -> &[f32] {
        &self.values[self.range(id)]
    }

    pub fn value_mut(&mut self, id: ParamId) -> &mut [f32] {
        let r = self.range(id);
        &mut self.values[r]
    }

    pub fn grad(&self, id: ParamId) -> &[f32] {
        &self.grads[self.range(id)]
    }

    pub fn grad_mut(&mut self, id: ParamId) -> &mut [f32] {
        let r = self.range(id);
        &mut self.grads[r]
    }

    /// Zeroes every gradient, in parallel on rayon's current pool (see `Backend::install`).
    pub fn zero_grads(&mut self) {
        use rayon::prelude::*;
        self.grads
            .par_chunks_mut(crate::optim::CHUNK)
            .for_each(|c| c.fill(0.0));
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn views_are_disjoint_and_named() {
        let mut p = ParamStore::new();
        let a = p.add("a", &[2, 3]);
        let b = p.add("b", &[4]);
        p.value_mut(b).fill(1.0);
        assert_eq!(p.value(a), &[0.0; 6]);
        assert_eq!(p.value(b), &[1.0; 4]);
        assert_eq!(p.id("b").unwrap(), b);
        assert!(p.id("c").is_err());
        assert_eq!(p.len(), 10);
    }
}
