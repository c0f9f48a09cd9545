//! The first layer's input as a table lookup ([`RecurrentStack::forward_lookup`]) against the
//! same rows gathered and fed to [`RecurrentStack::forward`].

use super::tests::{problem, KINDS};
use super::*;
use crate::backend::CpuBackend;
use crate::rng::{fill_uniform, seeded};

/// A lookup forward gives the outputs and states of a forward on the gathered rows, and its
/// backward the same weight gradients and, per table row, the sum of the rows' gradients.
#[test]
fn lookup_input_matches_gathered_rows() {
    let vocab = 4;
    for kind in KINDS {
        for threads in [1, 2] {
            let be = CpuBackend::new(threads);
            let mut p = problem(kind, 2, 5, 3, 11);
            let (t, b, input) = (p.t, p.b, p.stack.input_size);
            let mut table = vec![0.0; vocab * input];
            fill_uniform(&mut seeded(4), &mut table, 1.0);
            // Every id occurs, most of them several times.
            let ids: Vec<u32> = (0..t * b).map(|i| (i * 3 % vocab) as u32).collect();
            p.x = ids
                .iter()
                .flat_map(|&id| table[id as usize * input..][..input].to_vec())
                .collect();
            let dropout = Dropout::new(0.3, true).unwrap();
            let mut run = |lookup: bool| {
                let mut cache = StackCache::default();
                let mut rng = seeded(5);
                let between = Some((&dropout, &mut rng));
                let fin = if lookup {
                    let s = &p.stack;
                    s.forward_lookup(
                        &be, &p.params, &table, &ids, t, b, &p.init, between, &mut cache,
                    )
                } else {
                    let s = &p.stack;
                    s.forward(&be, &p.params, &p.x, t, b, &p.init, between, &mut cache)
                }
                .unwrap();
                p.params.zero_grads();
                let mut dx = vec![0.0; if lookup { table.len() } else { p.x.len() }];
                let d_init = p
                    .stack
                    .backward(&be, &mut p.params, &mut cache, &p.r, Some(&p.s), &mut dx)
                    .unwrap();
                let mut all = p.stack.output(&cache).to_vec();
                for v in fin.h.iter().chain(&fin.c).chain(&d_init.h).chain(&d_init.c) {
                    all.extend_from_slice(v);
                }
                all.extend_from_slice(&p.params.grads);
                (all, dx)
            };
            let (rows, dx_rows) = run(false);
            let (looked_up, dx_table) = run(true);
            let mut summed = vec![0.0f32; table.len()];
            for (&id, d) in ids.iter().zip(dx_rows.chunks_exact(input)) {
                for (s, v) in summed[id as usize * input..][..input].iter_mut().zip(d) {
                    *s += v;
                }
            }
            for (what, want, got) in [
                ("outputs, states, grads", &rows, &looked_up),
                ("table gradient", &summed, &dx_table),
            ] {
                for (i, (a, g)) in want.iter().zip(got.iter()).enumerate() {
                    assert!(
                        (a - g).abs() <= 1e-5 * a.abs().max(1.0),
                        "{kind:?} threads={threads} {what}[{i}]: {a} vs {g}"
                    );
                }
            }
        }
    }
}

#[test]
fn lookup_input_errors_name_the_bad_argument() {
    let be = CpuBackend::single_thread();
    let p = problem(CellKind::Lstm, 1, 2, 2, 1);
    let mut cache = StackCache::default();
    let table = vec![0.5; 2 * p.stack.input_size];
    let forward = |table: &[f32], ids: &[u32], cache: &mut StackCache| {
        let s = &p.stack;
        s.forward_lookup(&be, &p.params, table, ids, 2, 2, &p.init, None, cache)
            .unwrap_err()
            .to_string()
    };
    assert!(forward(&table, &[0, 1, 2, 0], &mut cache).contains("id at position 2"));
    assert!(forward(&table, &[0, 1, 1], &mut cache).contains("ids"));
    assert!(forward(&table[1..], &[0, 1, 1, 0], &mut cache).contains("table"));
    let ok = p.stack.forward_lookup(
        &be,
        &p.params,
        &table,
        &[0, 1, 1, 0],
        2,
        2,
        &p.init,
        None,
        &mut cache,
    );
    assert!(ok.is_ok());
    let mut p = p;
    let mut dx_rows = vec![0.0; 2 * 2 * p.stack.input_size];
    let err = p
        .stack
        .backward(&be, &mut p.params, &mut cache, &p.r, None, &mut dx_rows)
        .unwrap_err();
    assert!(err.to_string().contains("table gradient"), "{err}");
}
