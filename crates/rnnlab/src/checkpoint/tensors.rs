//! The trainer state's large float buffers (optimizer moments, the guard's snapshot of the
//! weights and its moments) go into `trainer.safetensors`, 4 bytes a number, instead of into
//! `trainer.msgpack`, where every float costs 5 bytes and is neither checked for shape nor
//! readable by other tools. The rest of the state stays in MessagePack with those buffers
//! empty. A checkpoint without `trainer.safetensors` (written before it existed) holds them in
//! MessagePack and still loads.

use safetensors::tensor::{Dtype, TensorView};
use std::path::Path;

use super::{format_err, CheckpointError};

pub const STATE_TENSORS: &str = "trainer.safetensors";

/// One buffer of a trainer state, by a stable name.
pub struct Slot<'a> {
    pub name: String,
    pub buf: &'a mut Vec<f32>,
    /// A buffer created on first use (optimizer moments) may be empty; a snapshot of the
    /// weights never is.
    pub may_be_empty: bool,
}

impl<'a> Slot<'a> {
    pub fn weights(name: impl Into<String>, buf: &'a mut Vec<f32>) -> Slot<'a> {
        Slot {
            name: name.into(),
            buf,
            may_be_empty: false,
        }
    }

    pub fn moments(name: impl Into<String>, buf: &'a mut Vec<f32>) -> Slot<'a> {
        Slot {
            name: name.into(),
            buf,
            may_be_empty: true,
        }
    }
}

/// A state whose large float buffers a checkpoint stores as tensors.
pub trait StateTensors {
    /// Every large buffer, in a stable order.
    fn slots(&mut self) -> Vec<Slot<'_>>;
}

impl StateTensors for () {
    fn slots(&mut self) -> Vec<Slot<'_>> {
        Vec::new()
    }
}

/// Takes the buffers out of `state` (leaving them empty), by name.
pub(super) fn take<S: StateTensors>(state: &mut S) -> Vec<(String, Vec<f32>)> {
    state
        .slots()
        .into_iter()
        .map(|s| (s.name, std::mem::take(s.buf)))
        .collect()
}

/// Puts back what [`take`] took.
pub(super) fn put_back<S: StateTensors>(state: &mut S, taken: Vec<(String, Vec<f32>)>) {
    for (slot, (_, values)) in state.slots().into_iter().zip(taken) {
        *slot.buf = values;
    }
}

/// The buffers as safetensors bytes: one 1-D F32 tensor each (empty ones too, so every
/// slot is accounted for on load).
pub(super) fn to_bytes(
    taken: &[(String, Vec<f32>)],
) -> Result<Vec<u8>, safetensors::SafeTensorError> {
    let views: Vec<(&str, TensorView<'_>)> = taken
        .iter()
        .map(|(name, values)| {
            let bytes: &[u8] = bytemuck::cast_slice(values);
            let view = TensorView::new(Dtype::F32, vec![values.len()], bytes)
                .expect("shape matches length");
            (name.as_str(), view)
        })
        .collect();
    safetensors::serialize(views, &None)
}

/// Parses a safetensors file's `bytes`; a damaged one is an error naming `path` (the
/// library's own error names, `MetadataIncompleteBuffer` and the like, mean nothing to a user).
pub(super) fn deserialize<'a>(
    path: &Path,
    bytes: &'a [u8],
) -> Result<safetensors::SafeTensors<'a>, CheckpointError> {
    safetensors::SafeTensors::deserialize(bytes).map_err(|_| {
        format_err(
            path,
            "not a readable safetensors file (truncated or damaged)",
        )
    })
}

/// Fills every slot of `state` from `bytes` (the contents of `path`); each slot needs its
/// tensor and the file may hold no other.
pub(super) fn fill<S: StateTensors>(
    path: &Path,
    bytes: &[u8],
    state: &mut S,
) -> Result<(), CheckpointError> {
    let tensors = deserialize(path, bytes)?;
    let mut slots = state.slots();
    if tensors.len() != slots.len() {
        let known: Vec<&str> = slots.iter().map(|s| s.name.as_str()).collect();
        let extra = tensors
            .names()
            .into_iter()
            .find(|n| !known.contains(&n.as_str()))
            .map_or(String::new(), |n| format!(" (`{n}` has no place in it)"));
        return Err(format_err(
            path,
            format!(
                "holds {} tensors, the trainer state has {} buffers{extra}",
                tensors.len(),
                slots.len()
            ),
        ));
    }
    for slot in &mut slots {
        let t = tensors
            .tensor(&slot.name)
            .map_err(|_| format_err(path, format!("missing tensor `{}`", slot.name)))?;
        if t.dtype() != Dtype::F32 || t.shape().len() != 1 {
            return Err(format_err(
                path,
                format!(
                    "tensor `{}` is {:?} {:?}, expected a 1-D F32 tensor",
                    slot.name,
                    t.dtype(),
                    t.shape()
                ),
            ));
        }
        *slot.buf = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
            .collect();
    }
    Ok(())
}

/// Every buffer must fit a model of `params` numbers (moments may still be empty), so a
/// state that does not belong to the weights is refused instead of used.
pub(super) fn check_sizes<S: StateTensors>(state: &mut S, params: usize) -> Result<(), String> {
    for slot in state.slots() {
        let n = slot.buf.len();
        if n != params && !(n == 0 && slot.may_be_empty) {
            return Err(format!(
                "`{}` holds {n} numbers, the model has {params} parameters",
                slot.name
            ));
        }
    }
    Ok(())
}
