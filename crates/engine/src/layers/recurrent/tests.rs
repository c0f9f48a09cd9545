//! Gradient checks by central differences, determinism, shape and configuration errors.

use super::*;
use crate::backend::CpuBackend;
use crate::rng::{fill_uniform, seeded};

const KINDS: [CellKind; 4] = [
    CellKind::RnnTanh,
    CellKind::RnnRelu,
    CellKind::Lstm,
    CellKind::Gru,
];

/// A small stack with random parameters, input, initial state, and the random weights `r`
/// (for the output) and `s` (for the final state) that define the test loss.
struct Problem {
    params: ParamStore,
    stack: RecurrentStack,
    x: Vec<f32>,
    init: RecurrentState,
    r: Vec<f32>,
    s: RecurrentState,
    t: usize,
    b: usize,
}

fn random_state(stack: &RecurrentStack, b: usize, rng: &mut EngineRng) -> RecurrentState {
    let mut st = stack.zero_state(b);
    for v in st.h.iter_mut().chain(st.c.iter_mut()) {
        fill_uniform(rng, v, 0.8);
    }
    st
}

fn problem(kind: CellKind, layers: usize, t: usize, b: usize, seed: u64) -> Problem {
    let (input, hidden) = (3, 4);
    let mut params = ParamStore::new();
    let stack = RecurrentStack::new(&mut params, "rnn", kind, input, hidden, layers).unwrap();
    let mut rng = seeded(seed);
    // Larger than PyTorch's default so that the gates leave their linear regime.
    for v in params.values.iter_mut() {
        *v = rng.gen_range(-0.8..0.8);
    }
    let mut x = vec![0.0; t * b * input];
    fill_uniform(&mut rng, &mut x, 1.0);
    let init = random_state(&stack, b, &mut rng);
    let mut r = vec![0.0; t * b * hidden];
    fill_uniform(&mut rng, &mut r, 1.0);
    let s = random_state(&stack, b, &mut rng);
    Problem {
        params,
        stack,
        x,
        init,
        r,
        s,
        t,
        b,
    }
}

use rand::Rng;

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
}

impl Problem {
    /// `sum(out * r) + sum(h_T * s.h) + sum(c_T * s.c)`, accumulated in f64, and for ReLU
    /// cells the activation pattern.
    fn loss(
        &self,
        be: &dyn Backend,
        x: &[f32],
        init: &RecurrentState,
        dropout: Option<&Dropout>,
    ) -> (f64, Vec<bool>) {
        let mut cache = StackCache::default();
        let mut rng = seeded(99); // the same masks at every call
        let between = dropout.map(|d| (d, &mut rng));
        let fin = self
            .stack
            .forward(
                be,
                &self.params,
                x,
                self.t,
                self.b,
                init,
                between,
                &mut cache,
            )
            .unwrap();
        let mut total = dot(self.stack.output(&cache), &self.r);
        for (a, b) in fin
            .h
            .iter()
            .zip(&self.s.h)
            .chain(fin.c.iter().zip(&self.s.c))
        {
            total += dot(a, b);
        }
        let pattern = if self.stack.kind == CellKind::RnnRelu {
            positive_pattern(&self.stack.dims(), &mut cache)
        } else {
            Vec::new()
        };
        (total, pattern)
    }

    /// Analytic gradients: (param grads, dx, d_init).
    fn analytic(
        &mut self,
        be: &dyn Backend,
        dropout: Option<&Dropout>,
    ) -> (Vec<f32>, Vec<f32>, RecurrentState) {
        let mut cache = StackCache::default();
        let mut rng = seeded(99);
        let between = dropout.map(|d| (d, &mut rng));
        let (t, b) = (self.t, self.b);
        self.stack
            .forward(
                be,
                &self.params,
                &self.x,
                t,
                b,
                &self.init,
                between,
                &mut cache,
            )
            .unwrap();
        self.params.zero_grads();
        let mut dx = vec![0.0; self.x.len()];
        let d_init = self
            .stack
            .backward(
                be,
                &mut self.params,
                &mut cache,
                &self.r,
                Some(&self.s),
                &mut dx,
            )
            .unwrap();
        (self.params.grads.clone(), dx, d_init)
    }
}

const EPS: f32 = 2e-3;

/// The `i`-th value of layer `slot` of a state, `h` layers first, then `c` layers.
fn state_value(s: &mut RecurrentState, slot: usize, i: usize) -> &mut f32 {
    let n_h = s.h.len();
    if slot < n_h {
        &mut s.h[slot][i]
    } else {
        &mut s.c[slot - n_h][i]
    }
}

/// Central difference, or `None` when a ReLU changed sides between the two evaluations: then a
/// kink lies inside the interval and no difference quotient is right.
fn central(minus: (f64, Vec<bool>), plus: (f64, Vec<bool>)) -> Option<f64> {
    (minus.1 == plus.1).then(|| (plus.0 - minus.0) / (2.0 * EPS as f64))
}

/// Which hidden values of every layer are positive (the ReLU pattern).
fn positive_pattern(d: &Dims, cache: &mut StackCache) -> Vec<bool> {
    use super::cache::{layer_bufs, layer_offset, partition_rows, per_row, split_partition};
    let (_, t, b, threads) = cache.shape.unwrap();
    let row_len = per_row(d, t);
    let mut pattern = Vec::new();
    for (b0, rows) in partition_rows(b, threads) {
        let part = &mut cache.arena[b0 * row_len..(b0 + rows) * row_len];
        let (_, region) = split_partition(d, t, rows, part);
        for l in 0..d.layers {
            let buf = layer_bufs(d, t, rows, l, &mut region[layer_offset(d, t, rows, l)..]);
            pattern.extend(buf.h.iter().map(|v| *v > 0.0));
        }
    }
    pattern
}

fn assert_close(what: &str, numeric: Option<f64>, analytic: f32, worst: &mut (f64, usize)) {
    let (worst, skipped) = (&mut worst.0, &mut worst.1);
    let Some(numeric) = numeric else {
        *skipped += 1;
        return;
    };
    let err = (numeric - analytic as f64).abs();
    let scale = numeric.abs().max(analytic.abs() as f64).max(1.0);
    *worst = worst.max(err / scale);
    assert!(
        err <= 2e-3 * scale,
        "{what}: numeric {numeric} vs analytic {analytic}"
    );
}

/// Returns the worst relative error and the number of values skipped at ReLU kinks.
fn gradient_check(kind: CellKind, threads: usize, dropout: Option<Dropout>) -> (f64, usize) {
    let be = CpuBackend::new(threads);
    let mut p = problem(kind, 2, 4, 3, 11 + kind.gates() as u64);
    let (grads, dx, d_init) = p.analytic(&be, dropout.as_ref());
    let mut worst = (0.0, 0);
    let dropout = dropout.as_ref();
    for (i, &analytic) in grads.iter().enumerate() {
        let orig = p.params.values[i];
        p.params.values[i] = orig + EPS;
        let plus = p.loss(&be, &p.x, &p.init, dropout);
        p.params.values[i] = orig - EPS;
        let minus = p.loss(&be, &p.x, &p.init, dropout);
        p.params.values[i] = orig;
        let name = &p
            .params
            .entries()
            .iter()
            .find(|e| e.range().contains(&i))
            .unwrap()
            .name;
        assert_close(
            &format!("{kind:?} {name}[{i}]"),
            central(minus, plus),
            analytic,
            &mut worst,
        );
    }
    let mut x = p.x.clone();
    for (i, &analytic) in dx.iter().enumerate() {
        let orig = x[i];
        x[i] = orig + EPS;
        let plus = p.loss(&be, &x, &p.init, dropout);
        x[i] = orig - EPS;
        let minus = p.loss(&be, &x, &p.init, dropout);
        x[i] = orig;
        assert_close(
            &format!("{kind:?} x[{i}]"),
            central(minus, plus),
            analytic,
            &mut worst,
        );
    }
    let mut d_init = d_init;
    for slot in 0..p.init.h.len() + p.init.c.len() {
        for i in 0..p.init.h[0].len() {
            let mut init = p.init.clone();
            let orig = *state_value(&mut init, slot, i);
            *state_value(&mut init, slot, i) = orig + EPS;
            let plus = p.loss(&be, &p.x, &init, dropout);
            *state_value(&mut init, slot, i) = orig - EPS;
            let minus = p.loss(&be, &p.x, &init, dropout);
            let numeric = central(minus, plus);
            let analytic = *state_value(&mut d_init, slot, i);
            assert_close(
                &format!("{kind:?} state {slot}[{i}]"),
                numeric,
                analytic,
                &mut worst,
            );
        }
    }
    worst
}

#[test]
fn gradients_match_central_differences_for_every_cell() {
    for kind in KINDS {
        for threads in [1, 2] {
            let (worst, skipped) = gradient_check(kind, threads, None);
            println!(
                "{kind:?} threads={threads}: worst relative error {worst:.2e}, {skipped} at kinks"
            );
            assert!(skipped <= 3, "too many values at ReLU kinks: {skipped}");
        }
    }
}

#[test]
fn gradients_match_central_differences_with_locked_dropout() {
    let dropout = Dropout::new(0.4, true).unwrap();
    for kind in [CellKind::Lstm, CellKind::Gru] {
        let (worst, skipped) = gradient_check(kind, 2, Some(dropout));
        assert_eq!(skipped, 0);
        println!("{kind:?} with locked dropout: worst relative error {worst:.2e}");
    }
}
