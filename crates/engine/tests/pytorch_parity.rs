//! Parity with PyTorch's `nn.RNN` (tanh, relu), `nn.LSTM` and `nn.GRU`: forward outputs, final
//! states and every gradient, against fixtures written by `bench/make_fixtures.py` (float64
//! reference computed from float32 inputs).

use std::collections::BTreeMap;
use std::path::PathBuf;

use engine::layers::recurrent::{CellKind, RecurrentStack, RecurrentState, StackCache};
use engine::{Backend, CpuBackend, ParamStore};
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixture {
    kind: CellKind,
    input_size: usize,
    hidden: usize,
    layers: usize,
    t: usize,
    b: usize,
    params: BTreeMap<String, Vec<f32>>,
    x: Vec<f32>,
    h0: Vec<Vec<f32>>,
    c0: Vec<Vec<f32>>,
    r: Vec<f32>,
    s_h: Vec<Vec<f32>>,
    s_c: Vec<Vec<f32>>,
    output: Vec<f64>,
    h_n: Vec<Vec<f64>>,
    c_n: Vec<Vec<f64>>,
    grads: BTreeMap<String, Vec<f64>>,
    dx: Vec<f64>,
    dh0: Vec<Vec<f64>>,
    dc0: Vec<Vec<f64>>,
}

fn load(kind: &str) -> Fixture {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/{kind}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Relative 1e-4 with an absolute floor of 1e-5 (values are O(1)).
fn assert_close(what: &str, got: &[f32], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        let err = (*g as f64 - w).abs();
        assert!(
            err <= 1e-4 * w.abs() + 1e-5,
            "{what}[{i}]: got {g}, PyTorch {w} (error {err:.2e})"
        );
    }
}

fn assert_layers_close(what: &str, got: &[Vec<f32>], want: &[Vec<f64>]) {
    assert_eq!(got.len(), want.len(), "{what}: layers");
    for (l, (g, w)) in got.iter().zip(want).enumerate() {
        assert_close(&format!("{what} layer {l}"), g, w);
    }
}

fn check(kind: &str, be: &dyn Backend) {
    let f = load(kind);
    let mut params = ParamStore::new();
    let stack =
        RecurrentStack::new(&mut params, "rnn", f.kind, f.input_size, f.hidden, f.layers).unwrap();
    assert_eq!(
        params.entries().len(),
        f.params.len(),
        "{kind}: parameter count"
    );
    for (name, values) in &f.params {
        let id = params.id(&format!("rnn.{name}")).unwrap();
        params.value_mut(id).copy_from_slice(values);
    }
    let init = RecurrentState {
        h: f.h0.clone(),
        c: f.c0.clone(),
    };
    let mut cache = StackCache::default();
    let fin = stack
        .forward(be, &params, &f.x, f.t, f.b, &init, None, &mut cache)
        .unwrap();
    assert_close(&format!("{kind} output"), stack.output(&cache), &f.output);
    assert_layers_close(&format!("{kind} h_n"), &fin.h, &f.h_n);
    assert_layers_close(&format!("{kind} c_n"), &fin.c, &f.c_n);

    let d_final = RecurrentState {
        h: f.s_h.clone(),
        c: f.s_c.clone(),
    };
    let mut dx = vec![0.0; f.x.len()];
    let d_init = stack
        .backward(be, &mut params, &mut cache, &f.r, Some(&d_final), &mut dx)
        .unwrap();
    for (name, want) in &f.grads {
        let id = params.id(&format!("rnn.{name}")).unwrap();
        assert_close(&format!("{kind} grad {name}"), params.grad(id), want);
    }
    assert_close(&format!("{kind} dx"), &dx, &f.dx);
    assert_layers_close(&format!("{kind} dh0"), &d_init.h, &f.dh0);
    assert_layers_close(&format!("{kind} dc0"), &d_init.c, &f.dc0);
}

#[test]
fn matches_pytorch_for_every_cell_on_one_and_two_threads() {
    for threads in [1, 2] {
        let be = CpuBackend::new(threads);
        for kind in ["rnn_tanh", "rnn_relu", "lstm", "gru"] {
            check(kind, &be);
        }
    }
}

/// The same fixtures through every set of matrix-product kernels this CPU runs, the `gemm`
/// crate among them: the kernels ARM64 takes by default pass here on x86-64 too.
#[test]
fn matches_pytorch_with_every_kernel_set() {
    use engine::backend::Kernels;
    for kernels in Kernels::ALL {
        if !kernels.available() {
            println!("SKIP: this CPU cannot run the {} kernels", kernels.name());
            continue;
        }
        // 4 and 8 threads oversubscribe a small machine; the fixtures' 7 units are one panel,
        // so every count takes the batch split (the unit split's bits are those of one thread:
        // `layers/recurrent/units_tests.rs`).
        for threads in [1, 2, 4, 8] {
            let be = CpuBackend::with_kernels(threads, kernels);
            for kind in ["rnn_tanh", "rnn_relu", "lstm", "gru"] {
                check(kind, &be);
            }
        }
    }
}
