//! Tests of writing, reading, verifying and replacing checkpoints.

use super::*;

/// A trainer state in miniature: a scalar, optimizer-like moments and a snapshot of weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct TestState {
    step: u64,
    moments: Vec<f32>,
    snapshot: Option<Vec<f32>>,
}

impl StateTensors for TestState {
    fn slots(&mut self) -> Vec<Slot<'_>> {
        let mut out = vec![Slot::moments("optimizer.exp_avg", &mut self.moments)];
        if let Some(s) = &mut self.snapshot {
            out.push(Slot::weights("guard.snapshot.values", s));
        }
        out
    }
}

/// A state that fits [`store`] (17 numbers).
fn test_state(step: u64) -> TestState {
    TestState {
        step,
        moments: (0..17).map(|i| i as f32 * 1e-3 - 0.0).collect(),
        snapshot: Some(vec![1.5f32; 17]),
    }
}

fn store() -> ParamStore {
    let mut p = ParamStore::new();
    let a = p.add("rnn.weight_ih_l0", &[4, 3]);
    let b = p.add("decoder.bias", &[5]);
    for (i, v) in p.value_mut(a).iter_mut().enumerate() {
        *v = i as f32 * 0.5 - 1.0;
    }
    p.value_mut(b).fill(f32::MIN_POSITIVE);
    p
}

#[test]
fn round_trip_is_exact_and_old_checkpoints_survive_a_failed_write() {
    let dir = tempfile::tempdir().unwrap();
    let ckpts = dir.path().join("checkpoints");
    let p = store();
    let mut state = test_state(42);
    state.moments[3] = -0.0;
    state.moments[4] = f32::EPSILON;
    for step in [100, 200, 300] {
        let info = CheckpointInfo {
            step,
            val_loss: Some(1.0),
            params: p.len(),
        };
        write_checkpoint(&step_dir(&ckpts, step), &p, &mut state, &info).unwrap();
    }
    prune(&ckpts, 2).unwrap();
    let left = list_step_checkpoints(&ckpts);
    assert_eq!(left.len(), 2);
    assert!(left[1].ends_with("step-00000300"));

    let mut q = store();
    q.values.fill(0.0);
    load_safetensors_into(&left[1].join("model.safetensors"), &mut q).unwrap();
    assert_eq!(q.values, p.values);
    let back: TestState = read_trainer_state(&left[1], p.len()).unwrap();
    assert_eq!(back, state);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    assert_eq!(bits(&back.moments), bits(&state.moments), "-0.0 stays -0.0");
    assert_eq!(read_info(&left[1]).unwrap().step, 300);

    // Writing under a path whose parent is a file fails cleanly and harms nothing.
    let blocker = dir.path().join("file");
    std::fs::write(&blocker, b"x").unwrap();
    let info = CheckpointInfo {
        step: 1,
        val_loss: None,
        params: 0,
    };
    assert!(write_checkpoint(&blocker.join("step-1"), &p, &mut state, &info).is_err());
    assert_eq!(list_step_checkpoints(&ckpts).len(), 2);
}

#[test]
fn load_rejects_wrong_shape_naming_the_tensor() {
    let dir = tempfile::tempdir().unwrap();
    let p = store();
    let path = dir.path().join("m.safetensors");
    std::fs::write(&path, params_to_safetensors(&p).unwrap()).unwrap();
    let mut other = ParamStore::new();
    other.add("rnn.weight_ih_l0", &[3, 4]);
    let err = load_safetensors_into(&path, &mut other)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("rnn.weight_ih_l0") && err.contains("m.safetensors"),
        "{err}"
    );
    let mut missing = ParamStore::new();
    missing.add("encoder.weight", &[2]);
    let err = load_safetensors_into(&path, &mut missing)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing tensor `encoder.weight`"), "{err}");
}

fn write_steps(ckpts: &Path, steps: &[u64]) -> ParamStore {
    let p = store();
    for &step in steps {
        let info = CheckpointInfo {
            step,
            val_loss: None,
            params: p.len(),
        };
        write_checkpoint(&step_dir(ckpts, step), &p, &mut test_state(step), &info).unwrap();
    }
    p
}

fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = at.min(bytes.len() - 1);
    bytes[i] ^= 0x40;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn damage_is_named_and_the_newest_intact_checkpoint_is_found() {
    let dir = tempfile::tempdir().unwrap();
    let ckpts = dir.path().join("checkpoints");
    let p = write_steps(&ckpts, &[100, 200, 300]);
    let s300 = step_dir(&ckpts, 300);
    let s200 = step_dir(&ckpts, 200);
    // A flipped byte deep inside the weights, where the format itself cannot notice.
    let weights = s300.join("model.safetensors");
    let len = std::fs::metadata(&weights).unwrap().len() as usize;
    flip_byte(&weights, len - 3);
    let mut q = store();
    let err = load_weights(&s300, &mut q).unwrap_err().to_string();
    assert_eq!(
        err,
        format!(
            "checkpoint {} is damaged: checksum mismatch in model.safetensors",
            s300.display()
        )
    );
    // A truncated trainer state in the next one.
    let state = s200.join("trainer.msgpack");
    let bytes = std::fs::read(&state).unwrap();
    std::fs::write(&state, &bytes[..bytes.len() / 2]).unwrap();
    let err = read_trainer_state::<TestState>(&s200, p.len())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("trainer.msgpack is") && err.contains("truncated"),
        "{err}"
    );

    let (intact, damaged) = newest_intact(&ckpts);
    assert_eq!(intact.unwrap(), step_dir(&ckpts, 100));
    assert_eq!(damaged.len(), 2);
    load_weights(&step_dir(&ckpts, 100), &mut q).unwrap();
    assert_eq!(q.values, p.values);

    // No manifest (an incomplete copy): damaged too.
    std::fs::remove_file(step_dir(&ckpts, 100).join(MANIFEST)).unwrap();
    assert!(newest_intact(&ckpts).0.is_none());
    assert!(verify(&step_dir(&ckpts, 100))
        .unwrap_err()
        .to_string()
        .contains("manifest.json is missing"));
}

#[test]
fn a_bare_damaged_weights_file_gets_a_plain_message() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    let bytes = params_to_safetensors(&store()).unwrap();
    std::fs::write(&path, &bytes[..20]).unwrap();
    let err = load_safetensors_into(&path, &mut store())
        .unwrap_err()
        .to_string();
    assert!(err.contains("truncated or damaged"), "{err}");
    assert!(!err.contains("Metadata"), "{err}");
}

#[test]
fn replacing_best_always_leaves_a_best_and_a_crash_between_renames_is_recovered() {
    let dir = tempfile::tempdir().unwrap();
    let ckpts = dir.path().join("checkpoints");
    let best = ckpts.join("best");
    let p = store();
    let info = |step| CheckpointInfo {
        step,
        val_loss: Some(1.0),
        params: p.len(),
    };
    write_checkpoint(&best, &p, &mut (), &info(1)).unwrap();
    write_checkpoint(&best, &p, &mut (), &info(2)).unwrap();
    assert_eq!(read_info(&best).unwrap().step, 2);
    verify(&best).unwrap();
    let names: Vec<_> = std::fs::read_dir(&ckpts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["best"], "the previous copy and temps are gone");

    // A crash after `best` was moved aside and before the new one was moved in.
    std::fs::rename(&best, ckpts.join(".best.old")).unwrap();
    assert_eq!(existing_or_old(&best), ckpts.join(".best.old"));
    recover(&ckpts).unwrap();
    assert_eq!(read_info(&best).unwrap().step, 2);
    assert!(!ckpts.join(".best.old").exists());
    // A crash after both renames: the old copy is dropped, a leftover temp too.
    std::fs::create_dir(ckpts.join(".best.old")).unwrap();
    std::fs::create_dir(ckpts.join(".best.tmp-1-0")).unwrap();
    recover(&ckpts).unwrap();
    let names: Vec<_> = std::fs::read_dir(&ckpts)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["best"]);
}

fn file_len(path: &Path) -> usize {
    std::fs::metadata(path).unwrap().len() as usize
}

#[test]
fn buffers_are_tensors_beside_the_rest_and_are_put_back_after_writing() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("step-00000001");
    let p = store();
    let mut state = test_state(1);
    let info = CheckpointInfo {
        step: 1,
        val_loss: None,
        params: p.len(),
    };
    write_checkpoint(&ckpt, &p, &mut state, &info).unwrap();
    assert_eq!(state, test_state(1), "the caller's state is whole again");
    // The numbers are in the tensor file, 4 bytes each; the MessagePack holds the rest.
    let tensors = std::fs::read(ckpt.join(STATE_TENSORS)).unwrap();
    let st = safetensors::SafeTensors::deserialize(&tensors).unwrap();
    let mut names = st.names();
    names.sort();
    assert_eq!(names, ["guard.snapshot.values", "optimizer.exp_avg"]);
    assert!(file_len(&ckpt.join("trainer.msgpack")) < 40);
    assert_eq!(
        Manifest::read(&ckpt).unwrap().files.len(),
        4,
        "weights, tensors, state, summary"
    );
    let back: TestState = read_trainer_state(&ckpt, p.len()).unwrap();
    assert_eq!(back, state);
    // Empty moments (an optimizer before its first step) round-trip as empty.
    let mut fresh = TestState {
        moments: Vec::new(),
        ..test_state(2)
    };
    write_checkpoint(&ckpt, &p, &mut fresh, &info).unwrap();
    assert_eq!(
        read_trainer_state::<TestState>(&ckpt, p.len()).unwrap(),
        fresh
    );
}

#[test]
fn a_checkpoint_from_before_the_tensor_file_still_loads() {
    let dir = tempfile::tempdir().unwrap();
    let ckpt = dir.path().join("step-00000001");
    let p = store();
    let state = test_state(1);
    // The old layout: every number inside trainer.msgpack, no trainer.safetensors.
    let weights = params_to_safetensors(&p).unwrap();
    let msgpack = rmp_serde::to_vec_named(&state).unwrap();
    write_files(
        &ckpt,
        &[
            ("model.safetensors", &weights),
            ("trainer.msgpack", &msgpack),
            ("checkpoint.json", b"{}"),
        ],
    )
    .unwrap();
    let back: TestState = read_trainer_state(&ckpt, p.len()).unwrap();
    assert_eq!(back, state);
}

/// Rewrites `name` in `dir` with `bytes` and updates the manifest, as a checkpoint that is
/// consistent on disk but wrong inside would be.
fn replace_consistently(dir: &Path, name: &str, bytes: &[u8]) {
    std::fs::write(dir.join(name), bytes).unwrap();
    let mut manifest = Manifest::read(dir).unwrap();
    manifest.add(name, bytes);
    std::fs::write(
        dir.join(MANIFEST),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
}

#[test]
fn a_damaged_or_mismatched_snapshot_is_refused_never_used() {
    let dir = tempfile::tempdir().unwrap();
    let ckpts = dir.path().join("checkpoints");
    let p = write_steps(&ckpts, &[100, 200]);
    let s200 = step_dir(&ckpts, 200);
    let path = s200.join(STATE_TENSORS);
    let good = std::fs::read(&path).unwrap();
    let read = || read_trainer_state::<TestState>(&s200, p.len()).map(|_| ());

    // A flipped bit in the snapshot's numbers: the checksum catches it, resume passes it over.
    flip_byte(&path, good.len() - 5);
    let err = read().unwrap_err().to_string();
    assert!(
        err.contains("is damaged: checksum mismatch in trainer.safetensors"),
        "{err}"
    );
    assert_eq!(newest_intact(&ckpts).0.unwrap(), step_dir(&ckpts, 100));

    // Damage that matches its manifest: safetensors' own validation, then the sizes.
    replace_consistently(&s200, STATE_TENSORS, &good[..good.len() / 2]);
    let err = read().unwrap_err().to_string();
    assert!(
        err.contains("trainer.safetensors: not a readable safetensors file"),
        "{err}"
    );
    let short = tensors::to_bytes(&[
        ("optimizer.exp_avg".into(), vec![0.0; 17]),
        ("guard.snapshot.values".into(), vec![0.0; 16]),
    ])
    .unwrap();
    replace_consistently(&s200, STATE_TENSORS, &short);
    let err = read().unwrap_err().to_string();
    assert!(
        err.contains(
            "does not fit the model: `guard.snapshot.values` holds 16 numbers, the model has 17"
        ),
        "{err}"
    );
    let missing = tensors::to_bytes(&[("optimizer.exp_avg".into(), vec![0.0; 17])]).unwrap();
    replace_consistently(&s200, STATE_TENSORS, &missing);
    let err = read().unwrap_err().to_string();
    assert!(
        err.contains("holds 1 tensors, the trainer state has 2 buffers"),
        "{err}"
    );
    let renamed = tensors::to_bytes(&[
        ("optimizer.exp_avg".into(), vec![0.0; 17]),
        ("guard.snapshot.weights".into(), vec![0.0; 17]),
    ])
    .unwrap();
    replace_consistently(&s200, STATE_TENSORS, &renamed);
    let err = read().unwrap_err().to_string();
    assert!(
        err.contains("missing tensor `guard.snapshot.values`"),
        "{err}"
    );
    // The file dropped with its manifest entry: the empty snapshot left in the MessagePack is
    // not taken for one.
    std::fs::remove_file(&path).unwrap();
    let mut manifest = Manifest::read(&s200).unwrap();
    manifest.files.remove(STATE_TENSORS);
    std::fs::write(
        s200.join(MANIFEST),
        serde_json::to_vec_pretty(&manifest).unwrap(),
    )
    .unwrap();
    let err = read().unwrap_err().to_string();
    assert!(
        err.contains("`guard.snapshot.values` holds 0 numbers"),
        "{err}"
    );
}
