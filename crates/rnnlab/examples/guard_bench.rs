//! How much the training guard adds to a training step, on the default model.
//!
//! ```sh
//! cargo run --release -p rnnlab --example guard_bench            # default model, 40 steps
//! cargo run --release -p rnnlab --example guard_bench -- 100 1   # 100 steps, 1 thread
//! ```
//!
//! Times the training step itself (zero grads, forward, backward, clip, Adam) and, separately,
//! the guard's own per-step work on the same parameters: the snapshot every `snapshot_every`
//! steps (amortised), the detector's judgement and the window update. Measuring the guard
//! directly (thousands of repetitions) gives a precise figure where timing two whole runs on a
//! busy machine would only measure noise. Prints the overhead as a percentage of a step.

use std::time::Instant;

use engine::model::LanguageModel;
use engine::optim::{clip_grad_norm, AnyOptimizer, Optimizer};
use engine::rng::seeded;
use engine::{Backend, CpuBackend};
use rand::{Rng, SeedableRng};
use rnnlab::config::Config;
use rnnlab::data::DataPosition;
use rnnlab::guard::{Action, Guard, GuardState, Restorable};
use rnnlab::train::setup;

/// Vocabulary of the default built-in corpus.
const VOCAB: usize = 47;

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps: usize = args.first().map_or(Ok(40), |a| a.parse())?;
    let threads: usize = args.get(1).map_or(Ok(0), |a| a.parse())?;
    let config = Config::default();
    let t = &config.train;
    let mut model = LanguageModel::new(setup::model_spec(&config, VOCAB)?, t.seed)?;
    let be = CpuBackend::new(threads);
    let mut optimizer = AnyOptimizer::new(&setup::optimizer(&config)?)?;
    let mut rng = seeded(1);
    let mut hidden = model.zero_state(t.batch);
    let mut data = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let n = t.batch * t.bptt;

    // The training step alone.
    let mut step_times = Vec::new();
    let mut observed = Vec::new();
    for _ in 0..steps + 3 {
        let inputs: Vec<u32> = (0..n).map(|_| data.random_range(0..VOCAB as u32)).collect();
        let targets: Vec<u32> = (0..n).map(|_| data.random_range(0..VOCAB as u32)).collect();
        let start = Instant::now();
        model.params.zero_grads();
        let ce = model.train_batch(
            &be,
            &inputs,
            &targets,
            t.bptt,
            t.batch,
            &mut hidden,
            &mut rng,
        )?;
        let norm = clip_grad_norm(&mut model.params, t.clip)?;
        optimizer.step(&mut model.params, 1e-3)?;
        step_times.push(start.elapsed().as_secs_f64());
        observed.push((ce.mean, norm as f64));
    }
    step_times.drain(..3); // warm-up
    step_times.sort_by(f64::total_cmp);
    let step_s = step_times[step_times.len() / 2];

    // The guard's per-step work over many steps, snapshots included.
    let dir = tempfile::tempdir()?;
    let guard = Guard::new(&config.guard, t.seed, dir.path())?;
    let mut state = GuardState::new(&config.guard);
    let reps = 20_000u64;
    let start = Instant::now();
    let mut applied = 0u64;
    for step in 0..reps {
        guard.before_step(
            &mut state,
            step,
            DataPosition::default(),
            Restorable {
                params: &mut model.params,
                optimizer: &mut optimizer,
                rng: &mut rng,
            },
        );
        // Healthy-looking values: the measured ones with a little wobble.
        let (loss, norm) = observed[step as usize % observed.len()];
        let wobble = 1.0 + 0.01 * ((step as f64 * 0.7).sin());
        let d = guard.decide(&mut state, step, loss * wobble, norm * wobble, false);
        if d.action == Action::Apply {
            guard.applied(&mut state, loss * wobble, norm * wobble);
            applied += 1;
        }
    }
    let guard_s = start.elapsed().as_secs_f64() / reps as f64;
    let snapshot_bytes =
        model.params.len() * 4 * 3 /* values + Adam moments */ * state.snapshot_steps().len();

    println!(
        "model           {} {}x{}, {} parameters, batch {} x bptt {}, {} thread(s)",
        config.model.cell,
        config.model.layers,
        config.model.hidden,
        model.params.len(),
        t.batch,
        t.bptt,
        be.threads()
    );
    println!("training step   {:.2} ms (median of {steps})", step_s * 1e3);
    println!(
        "guard per step  {:.2} us (mean of {reps}: detector + window + a snapshot every {} steps; {applied} applied)",
        guard_s * 1e6,
        config.guard.snapshot_every
    );
    println!(
        "snapshots held  about {:.1} MB",
        snapshot_bytes as f64 / 1e6
    );
    println!(
        "overhead        {:.3}% of a training step",
        100.0 * guard_s / step_s
    );
    Ok(())
}
