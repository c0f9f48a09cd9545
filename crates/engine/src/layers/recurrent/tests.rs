//! Gradient checks by central differences, determinism, shape and configuration errors.

use super::*;
use crate::backend::CpuBackend;
use crate::rng::{fill_uniform, seeded};

pub(super) const KINDS: [CellKind; 4] = [
    CellKind::RnnTanh,
    CellKind::RnnRelu,
    CellKind::Lstm,
    CellKind::Gru,
];

/// A small stack with random parameters, input, initial state, and the random weights `r`
/// (for the output) and `s` (for the final state) that define the test loss.
pub(super) struct Problem {
    pub(super) params: ParamStore,
    pub(super) stack: RecurrentStack,
    pub(super) x: Vec<f32>,
    pub(super) init: RecurrentState,
    pub(super) r: Vec<f32>,
    pub(super) s: RecurrentState,
    pub(super) t: usize,
    pub(super) b: usize,
}

fn random_state(stack: &RecurrentStack, b: usize, rng: &mut EngineRng) -> RecurrentState {
    let mut st = stack.zero_state(b);
    for v in st.h.iter_mut().chain(st.c.iter_mut()) {
        fill_uniform(rng, v, 0.8);
    }
    st
}

pub(super) fn problem(kind: CellKind, layers: usize, t: usize, b: usize, seed: u64) -> Problem {
    problem_sized(kind, (3, 4), layers, t, b, seed)
}

/// [`problem`] with `(input, hidden)` sizes.
pub(super) fn problem_sized(
    kind: CellKind,
    (input, hidden): (usize, usize),
    layers: usize,
    t: usize,
    b: usize,
    seed: u64,
) -> Problem {
    let mut params = ParamStore::new();
    let stack = RecurrentStack::new(&mut params, "rnn", kind, input, hidden, layers).unwrap();
    let mut rng = seeded(seed);
    // Larger than PyTorch's default so that the gates leave their linear regime.
    for v in params.values.iter_mut() {
        *v = rng.random_range(-0.8..0.8);
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
pub(super) fn gradient_check(
    kind: CellKind,
    be: &CpuBackend,
    dropout: Option<Dropout>,
) -> (f64, usize) {
    gradient_check_with(kind, be, dropout, 4)
}

/// [`gradient_check`] of a stack of `hidden` units.
pub(super) fn gradient_check_with(
    kind: CellKind,
    be: &CpuBackend,
    dropout: Option<Dropout>,
    hidden: usize,
) -> (f64, usize) {
    let mut p = problem_sized(kind, (3, hidden), 2, 4, 3, 11 + kind.gates() as u64);
    let (grads, dx, d_init) = p.analytic(be, dropout.as_ref());
    let mut worst = (0.0, 0);
    let dropout = dropout.as_ref();
    for (i, &analytic) in grads.iter().enumerate() {
        let orig = p.params.values[i];
        p.params.values[i] = orig + EPS;
        let plus = p.loss(be, &p.x, &p.init, dropout);
        p.params.values[i] = orig - EPS;
        let minus = p.loss(be, &p.x, &p.init, dropout);
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
        let plus = p.loss(be, &x, &p.init, dropout);
        x[i] = orig - EPS;
        let minus = p.loss(be, &x, &p.init, dropout);
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
            let plus = p.loss(be, &p.x, &init, dropout);
            *state_value(&mut init, slot, i) = orig - EPS;
            let minus = p.loss(be, &p.x, &init, dropout);
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
            let (worst, skipped) = gradient_check(kind, &CpuBackend::new(threads), None);
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
        let (worst, skipped) = gradient_check(kind, &CpuBackend::new(2), Some(dropout));
        assert_eq!(skipped, 0);
        println!("{kind:?} with locked dropout: worst relative error {worst:.2e}");
    }
}

/// Output, final state, all gradients, dx and d_init of one training step, flattened.
pub(super) fn one_step(
    p: &mut Problem,
    be: &dyn Backend,
    cache: &mut StackCache,
    seed: u64,
) -> Vec<f32> {
    let dropout = Dropout::new(0.3, false).unwrap();
    let mut rng = seeded(seed);
    let (t, b) = (p.t, p.b);
    let fin = p
        .stack
        .forward(
            be,
            &p.params,
            &p.x,
            t,
            b,
            &p.init,
            Some((&dropout, &mut rng)),
            cache,
        )
        .unwrap();
    p.params.zero_grads();
    let mut dx = vec![0.0; p.x.len()];
    let d_init = p
        .stack
        .backward(be, &mut p.params, cache, &p.r, Some(&p.s), &mut dx)
        .unwrap();
    let mut all = p.stack.output(cache).to_vec();
    for v in fin.h.iter().chain(&fin.c).chain(&d_init.h).chain(&d_init.c) {
        all.extend_from_slice(v);
    }
    all.extend_from_slice(&p.params.grads);
    all.extend_from_slice(&dx);
    all
}

#[test]
fn same_seed_and_threads_give_bit_identical_results_and_threads_agree() {
    for kind in KINDS {
        let mut p = problem(kind, 3, 6, 5, 3);
        let be2 = CpuBackend::new(2);
        let mut reused = StackCache::default();
        let first = one_step(&mut p, &be2, &mut reused, 8);
        let again = one_step(&mut p, &be2, &mut reused, 8);
        let fresh = one_step(&mut p, &be2, &mut StackCache::default(), 8);
        assert_eq!(first, again, "{kind:?}: reused cache");
        assert_eq!(first, fresh, "{kind:?}: fresh cache");
        let other_mask = one_step(&mut p, &be2, &mut reused, 9);
        assert_ne!(first, other_mask, "{kind:?}: the dropout seed must matter");
        let one = one_step(&mut p, &CpuBackend::new(1), &mut StackCache::default(), 8);
        for (a, b) in first.iter().zip(&one) {
            assert!(
                (a - b).abs() <= 1e-5 * a.abs().max(1.0),
                "{kind:?}: {a} vs {b}"
            );
        }
    }
}

#[test]
fn cache_follows_shape_changes() {
    let be = CpuBackend::new(2);
    let mut cache = StackCache::default();
    let mut long = problem(CellKind::Lstm, 2, 5, 4, 21);
    let mut short = problem(CellKind::Lstm, 2, 2, 3, 21);
    let a = one_step(&mut long, &be, &mut cache, 1);
    let b = one_step(&mut short, &be, &mut cache, 1);
    assert_eq!(a, one_step(&mut long, &be, &mut StackCache::default(), 1));
    assert_eq!(b, one_step(&mut short, &be, &mut StackCache::default(), 1));
}

#[test]
fn batch_rows_are_independent() {
    // Row 0 of a batch of 3 must equal the same sequence run alone (partitions split rows).
    let be = CpuBackend::new(2);
    let p = problem(CellKind::Gru, 2, 3, 3, 5);
    let mut cache = StackCache::default();
    p.stack
        .forward(&be, &p.params, &p.x, 3, 3, &p.init, None, &mut cache)
        .unwrap();
    let full = p.stack.output(&cache).to_vec();
    let (n_in, h) = (p.stack.input_size, p.stack.hidden);
    let x0: Vec<f32> = (0..3)
        .flat_map(|s| p.x[s * 3 * n_in..s * 3 * n_in + n_in].to_vec())
        .collect();
    let init0 = RecurrentState {
        h: p.init.h.iter().map(|v| v[..h].to_vec()).collect(),
        c: Vec::new(),
    };
    p.stack
        .forward(&be, &p.params, &x0, 3, 1, &init0, None, &mut cache)
        .unwrap();
    for s in 0..3 {
        assert_eq!(
            &full[s * 3 * h..s * 3 * h + h],
            &p.stack.output(&cache)[s * h..(s + 1) * h]
        );
    }
}

#[test]
fn bad_shapes_and_configurations_are_errors() {
    let mut params = ParamStore::new();
    for (i, h, l) in [(0, 4, 1), (3, 0, 1), (3, 4, 0)] {
        let err = RecurrentStack::new(&mut params, "bad", CellKind::Lstm, i, h, l).unwrap_err();
        assert!(matches!(err, EngineError::Config(_)), "{err}");
    }
    let be = CpuBackend::new(1);
    let mut p = problem(CellKind::Lstm, 2, 3, 2, 1);
    let mut cache = StackCache::default();
    let (t, b) = (p.t, p.b);
    let shape_err = |r: Result<RecurrentState>| {
        assert!(matches!(r, Err(EngineError::Shape { .. })), "{r:?}");
    };
    let short_x = &p.x[1..];
    shape_err(
        p.stack
            .forward(&be, &p.params, short_x, t, b, &p.init, None, &mut cache),
    );
    let gru_like = RecurrentState {
        h: p.init.h.clone(),
        c: Vec::new(),
    };
    shape_err(
        p.stack
            .forward(&be, &p.params, &p.x, t, b, &gru_like, None, &mut cache),
    );
    let wrong_batch = p.stack.zero_state(b + 1);
    shape_err(
        p.stack
            .forward(&be, &p.params, &p.x, t, b, &wrong_batch, None, &mut cache),
    );
    shape_err(p.stack.forward(
        &be,
        &ParamStore::new(),
        &p.x,
        t,
        b,
        &p.init,
        None,
        &mut cache,
    ));
    let zero_t = p
        .stack
        .forward(&be, &p.params, &[], 0, b, &p.init, None, &mut cache);
    assert!(matches!(zero_t, Err(EngineError::Config(_))));
    let bad_dropout = Dropout {
        p: 1.0,
        locked: true,
    };
    let mut rng = seeded(0);
    let r = p.stack.forward(
        &be,
        &p.params,
        &p.x,
        t,
        b,
        &p.init,
        Some((&bad_dropout, &mut rng)),
        &mut cache,
    );
    assert!(matches!(r, Err(EngineError::Config(_))));

    // Backward before any forward, with wrong gradients, and twice after one forward.
    let mut dx = vec![0.0; p.x.len()];
    let mut fresh = StackCache::default();
    let r = p
        .stack
        .backward(&be, &mut p.params, &mut fresh, &p.r, None, &mut dx);
    assert!(matches!(r, Err(EngineError::Config(_))));
    p.stack
        .forward(&be, &p.params, &p.x, t, b, &p.init, None, &mut cache)
        .unwrap();
    shape_err(
        p.stack
            .backward(&be, &mut p.params, &mut cache, &p.r[1..], None, &mut dx),
    );
    shape_err(
        p.stack
            .backward(&be, &mut p.params, &mut cache, &p.r, None, &mut dx[1..]),
    );
    shape_err(p.stack.backward(
        &be,
        &mut p.params,
        &mut cache,
        &p.r,
        Some(&gru_like),
        &mut dx,
    ));
    p.stack
        .backward(&be, &mut p.params, &mut cache, &p.r, None, &mut dx)
        .unwrap();
    let again = p
        .stack
        .backward(&be, &mut p.params, &mut cache, &p.r, None, &mut dx);
    assert!(matches!(again, Err(EngineError::Config(_))));
}

#[test]
fn registers_pytorch_names_and_initialises_like_pytorch() {
    let mut params = ParamStore::new();
    let stack = RecurrentStack::new(&mut params, "rnn", CellKind::Lstm, 5, 16, 2).unwrap();
    let names: Vec<_> = params
        .entries()
        .iter()
        .map(|e| (e.name.clone(), e.shape.clone()))
        .collect();
    assert_eq!(names[0], ("rnn.weight_ih_l0".to_string(), vec![64, 5]));
    assert_eq!(names[1], ("rnn.weight_hh_l0".to_string(), vec![64, 16]));
    assert_eq!(names[2], ("rnn.bias_ih_l0".to_string(), vec![64]));
    assert_eq!(names[3], ("rnn.bias_hh_l0".to_string(), vec![64]));
    assert_eq!(names[4], ("rnn.weight_ih_l1".to_string(), vec![64, 16]));
    assert_eq!(names.len(), 8);

    stack.init(&mut params, &mut seeded(4), Some(1.0));
    let bound = 0.25; // 1/sqrt(16)
    assert!(params.values.iter().all(|v| v.abs() <= 1.0));
    let w = params.value(params.id("rnn.weight_hh_l1").unwrap());
    assert!(w.iter().all(|v| v.abs() < bound));
    let spread = w.iter().fold(0.0f32, |m, v| m.max(v.abs()));
    assert!(
        spread > 0.9 * bound,
        "weights should fill the range, max {spread}"
    );
    for l in 0..2 {
        let b_ih = params.value(params.id(&format!("rnn.bias_ih_l{l}")).unwrap());
        let b_hh = params.value(params.id(&format!("rnn.bias_hh_l{l}")).unwrap());
        assert!(b_ih[16..32].iter().all(|v| *v == 1.0));
        assert!(b_hh[16..32].iter().all(|v| *v == 0.0));
        assert!(b_ih[..16].iter().all(|v| v.abs() < bound && *v != 0.0));
    }
    let zero = stack.zero_state(3);
    assert_eq!((zero.h.len(), zero.c.len(), zero.h[1].len()), (2, 2, 48));
}

#[test]
fn cell_kinds_serialise_in_snake_case() {
    assert_eq!(
        serde_json::to_string(&CellKind::RnnTanh).unwrap(),
        "\"rnn_tanh\""
    );
    let k: CellKind = serde_json::from_str("\"gru\"").unwrap();
    assert_eq!((k, k.gates()), (CellKind::Gru, 3));
    assert_eq!(CellKind::Lstm.gates(), 4);
    assert_eq!(CellKind::RnnRelu.gates(), 1);
}
