"""The faults a PyTorch corpus run can carry: `setup_fault` changes the drawn settings for a fault
kind (LR, clipping, initialisation, data order, ...), `place_fault` picks where in the run it
strikes. `pytorch_runs.py` trains with them; `pytorch_labels.py` reads back what they left.
"""

CHAR_CORPORA = ["tinyshakespeare", "alice", "sherlock", "war_and_peace", "ptb_char", "enwik8"]


def setup_fault(rng, c, kind):
    c["fault"] = kind
    c["fault_desc"] = "sane settings"
    if kind == "healthy":
        c["col_val"] = c["col_val"] or rng.random() < 0.3
        c["val_big"] = True
    elif kind == "healthy_short":
        c["points"] = rng.randint(4, 8)
        c["interval"] = rng.choice([10, 20, 25, 50])
        c["log_first"] = False
        c["budget_s"] = 4
    elif kind == "bad_batch":
        c["bad_kind"] = rng.choice(["random_targets", "random_targets", "random_targets", "shuffled_text"])
        if rng.random() < 0.6:
            c["interval"] = min(c["interval"], rng.choice([1, 2, 5]))
        c["batch"] = max(c["batch"], 8)
        c["clip"] = c["clip"] if rng.random() < 0.5 else 0.0
        if c["cell"].startswith("rnn"):
            c["clip"] = 1.0
    elif kind == "lr_excursion":
        c["exc_factor"] = rng.choice([30, 100, 300])
        c["exc_len"] = rng.choice([1, 2, 3, 5, 10])
    elif kind == "nan":
        c["stop_on_nan"] = rng.random() < 0.5
        c["nan_extra_points"] = rng.choice([0, 1, 2, 5])
    elif kind in ("lr_high", "osc_stag"):
        if c["optimizer"] in ("sgd", "sgdm"):
            c["lr"] = 10 ** rng.uniform(1.0, 2.3) / (10 if c["optimizer"] == "sgdm" else 1)
            c["clip"] = rng.choice([0.0, c["clip"]])
        else:
            c["lr"] = 10 ** rng.uniform(-1.3, -0.3)
        c["schedule"] = rng.choice(["constant", "constant", "cosine", "step"]) if kind == "lr_high" else "constant"
        if kind == "osc_stag":
            c["cell"] = rng.choice(["lstm", "gru"])
            c["optimizer"] = "sgd"
            c["clip"] = rng.choice([0.25, 0.5, 1.0])
            c["lr"] = rng.choice([10.0, 20.0, 40.0]) / c["clip"]
            c["interval"] = rng.choice([1, 2, 5])
            c["reduce"] = "last"
        c["fault_desc"] = f"LR far too high ({c['optimizer']} lr {c['lr']:.3g})"
        c["min_steps"] = 500
    elif kind == "lr_low":
        f = 10 ** rng.uniform(-3.5, -2.5)
        c["lr"] *= f
        c["schedule"] = rng.choice(["constant", "cosine", "step"])
        c["fault_desc"] = f"LR far too low ({c['optimizer']} lr {c['lr']:.3g})"
        c["min_steps"] = 500
    elif kind == "overfit":
        c["n_train"] = rng.choice([1500, 3000, 6000]) if c["level"] == "char" else rng.choice([800, 1500, 3000])
        c["hidden"] = rng.choice([128, 192, 256])
        c["cell"] = rng.choice(["lstm", "gru"])
        c["optimizer"] = rng.choice(["adam", "adamw", "rmsprop"])
        c["lr"] = rng.choice([2e-3, 3e-3, 5e-3])
        c["dropout"] = 0.0
        c["mode"] = "random"
        c["batch"] = rng.choice([8, 16, 32])
        c["bptt"] = rng.choice([32, 48, 64])
        c["col_val"] = True
        c["clip"] = 1.0
        c["schedule"] = rng.choice(["constant", "constant", "cosine"])
        c["min_steps"] = 300
        c["fault_desc"] = f"trained on a tiny subset ({c['n_train']} tokens) for many epochs"
    elif kind == "periodic":
        c["mode"] = "stream"
        c["interval"] = rng.choice([1, 1, 2])
        c["reduce"] = "last" if c["interval"] == 1 else c["reduce"]
        c["batch"] = rng.choice([8, 16, 32])
        c["bptt"] = rng.choice([32, 48, 64])
        c["per_epoch_target"] = rng.randint(12, 40)
        c["n_train"] = c["batch"] * (c["bptt"] * c["per_epoch_target"] + 1)
        c["col_epoch"] = True
        c["cell"] = rng.choice(["lstm", "gru", "lstm"])
        c["optimizer"] = rng.choice(["adam", "adamw"])
        c["lr"] = rng.choice([2e-3, 3e-3, 5e-3])
        c["clip"] = 1.0
        c["schedule"] = rng.choice(["constant", "cosine"])
        c["hidden"] = rng.choice([64, 128, 192])
        c["layers"] = rng.choice([1, 1, 2])
        c["min_steps"] = 200
    elif kind == "state_reset":
        c["mode"] = "stream"
        c["reset_kind"] = rng.choice(["noise", "noise", "noise", "zero_every_batch"])
        c["reset_scale"] = rng.choice([30.0, 60.0, 100.0])
        c["interval"] = rng.choice([1, 1, 2, 5])
        c["reduce"] = "last" if rng.random() < 0.6 else c["reduce"]
        c["cell"] = rng.choice(["lstm", "gru"])
        c["level"] = "char"
        c["corpus"] = rng.choice(CHAR_CORPORA)
        c["bptt"] = rng.choice([16, 24, 32])
        c["batch"] = rng.choice([8, 16, 32])
        c["clip"] = c["clip"] or 1.0
        c["min_steps"] = 200
    elif kind == "frozen":
        c["freeze"] = rng.choice(["all_but_bias", "enc_rnn", "enc_rnn", "all_but_bias", "enc"])
        c["optimizer"] = rng.choice(["adam", "adamw", "rmsprop"])
        c["lr"] = rng.choice([0.03, 0.05, 0.1]) if c["freeze"] == "all_but_bias" else rng.choice([0.01, 0.02])
        c["schedule"] = rng.choice(["constant", "constant", "cosine", "step"])
        c["min_steps"] = 600
        c["fault_desc"] = {"all_but_bias": "every weight frozen but the output bias",
                           "enc_rnn": "embedding and recurrent layers frozen (only the head trains)",
                           "rnn": "recurrent layers frozen", "enc": "embedding frozen"}[c["freeze"]]
    elif kind == "leak":
        c["leak_p"] = rng.choice([1.0, 1.0, 0.7])
        c["col_val"] = True
        c["cell"] = rng.choice(["lstm", "gru"])
        c["layers"] = 1
        c["optimizer"] = rng.choice(["adam", "adamw"])
        c["lr"] = rng.choice([3e-3, 5e-3])
        c["hidden"] = max(64, c["hidden"])
        c["embed"] = max(32, c["embed"])
        c["dropout"] = 0.0
        c["min_steps"] = 400
        if c["level"] == "word" and rng.random() < 0.7:
            c["level"] = "char"
            c["corpus"] = rng.choice(CHAR_CORPORA)
        c["fault_desc"] = f"target leak: inputs replaced by the targets with probability {c['leak_p']} (train and validation)"
    elif kind == "init_scale":
        c["init_scale"] = rng.choice([1.0 + 1e-9, 2.0, 3.0, 5.0])
        c["log_first"] = True if rng.random() < 0.7 else c["log_first"]
        c["interval"] = min(c["interval"], rng.choice([1, 5, 10]))
        c["fault_desc"] = f"output layer initialised N(0, {c['init_scale']:.3g}) (weights and bias)"
    elif kind == "init_stag":
        c["init_scale"] = rng.choice([2.0, 3.0, 5.0])
        c["optimizer"] = rng.choice(["sgd", "adam"])
        c["lr"] = 1e-5 if c["optimizer"] == "sgd" else 1e-7
        c["schedule"] = "constant"
        c["log_first"] = True
        c["interval"] = min(c["interval"], 10)
        c["min_steps"] = 500
        c["fault_desc"] = f"output layer initialised N(0, {c['init_scale']:g}) and LR {c['lr']:g} ({c['optimizer']})"
    elif kind == "lr_grow":
        c["grow_total"] = rng.choice([30.0, 100.0, 1000.0])
        c["schedule"] = "constant"
        c["min_steps"] = 400
    elif kind == "no_zero_grad":
        c["min_steps"] = 400
    elif kind == "wd_huge":
        wd = rng.choice([0.3, 1.0, 3.0])
        if c["optimizer"] == "adamw":
            c["weight_decay"] = wd * 10
        else:
            c["l2"] = wd * (0.1 if c["optimizer"] in ("adam", "rmsprop") else 1.0)
        c["min_steps"] = 400
        c["fault_desc"] = (f"weight decay {c['weight_decay']:g} (AdamW)" if c["optimizer"] == "adamw"
                           else f"L2 weight decay {c['l2']:g} ({c['optimizer']})")
    elif kind == "repeat_batch":
        c["col_val"] = True
        c["min_steps"] = 400
    elif kind == "loss_sum":
        c["reduction"] = "sum"
        c["min_steps"] = 300
        c["fault_desc"] = "loss bug: cross-entropy summed over the batch's tokens (reduction='sum'), not averaged"
    elif kind == "smooth_huge":
        c["label_smoothing"] = rng.choice([0.5, 0.7, 0.9])
        c["min_steps"] = 400
        c["fault_desc"] = f"label smoothing {c['label_smoothing']:g}: the target is mostly a uniform guess"
    elif kind == "lr_to_zero":
        c["min_steps"] = 400
    elif kind in ("reinit", "optim_reset", "sched_restart"):
        c["min_steps"] = 400
        if kind == "sched_restart" and c["schedule"] in ("constant", "plateau"):
            # A schedule that does not move cannot restart visibly.
            c["schedule"] = rng.choice(["cosine", "step", "warmup_linear"])
    elif kind == "scrambled_targets":
        c["min_steps"] = 400
        c["fault_desc"] = "data bug: targets shuffled within each batch (inputs and targets no longer aligned)"
    elif kind == "tiny_clip":
        c["clip"] = rng.choice([1e-4, 3e-4, 1e-3])
        c["optimizer"] = rng.choice(["sgd", "sgdm"])
        c["lr"] = rng.choice([0.1, 0.3, 1.0])
        c["schedule"] = rng.choice(["constant", "cosine"])
        c["min_steps"] = 400
        c["fault_desc"] = f"gradients clipped at norm {c['clip']:g} ({c['optimizer']} lr {c['lr']:g}): every step a crawl"
    elif kind == "dropout_huge":
        c["dropout"] = rng.choice([0.7, 0.8, 0.9])
        c["layers"] = max(2, c["layers"])
        c["col_val"] = True
        c["min_steps"] = 400
        c["fault_desc"] = f"dropout {c['dropout']:g} between layers and before the head"
    elif kind == "exploding":
        c["cell"] = rng.choice(["rnn_tanh", "rnn_relu", "rnn_relu", "rnn_relu", "lstm"])
        c["clip"] = 0.0
        c["whh_scale"] = rng.choice([1.0, 1.5, 2.0]) if c["cell"] != "lstm" else 1.0
        c["optimizer"] = rng.choice(["sgd", "sgdm"])
        c["lr"] = 10 ** rng.uniform(-1.0, 0.0) * (3 if c["cell"] != "rnn_relu" else 1) / (3 if c["optimizer"] == "sgdm" else 1)
        c["min_steps"] = 400
        c["col_grad"] = rng.random() < 0.8
        c["bptt"] = rng.choice([64, 100, 128])
        c["fault_desc"] = f"no gradient clipping, {c['cell']} (W_hh x{c['whh_scale']:g}), {c['optimizer']} lr {c['lr']:.3g}"


# Faults that strike at one step drawn from a share of the run and last to its end: the share
# (from, to) and the description.
STRIKES_ONCE = {
    "no_zero_grad": (0.2, 0.6, "optimizer.zero_grad() dropped from step {s}: gradients accumulate"),
    "lr_to_zero": (0.15, 0.45, "LR schedule bug: the LR is 0 from step {after} on"),
    "repeat_batch": (0.2, 0.5, "data-loader bug: the batch of step {s} is served again at every later step"),
    "reinit": (0.3, 0.7, "resume bug: the weights are re-initialised at step {s} (the optimizer starts over too)"),
    "optim_reset": (0.3, 0.7, "resume bug: the optimizer's state starts over at step {s} (moments and step count)"),
    "sched_restart": (0.3, 0.7, "resume bug: the LR schedule starts over at step {s}"),
}


def place_fault(rng, c):
    n, interval = c["steps"], c["interval"]
    kind = c["fault"]
    if kind == "bad_batch":
        s = rng.randint(int(0.3 * n), int(0.85 * n))
        if c["reduce"] == "last" and rng.random() < 0.75:
            s = max(interval, (s // interval) * interval)
        c["fault_steps"] = [s]
        c["fault_desc"] = f"bad batch ({c['bad_kind'].replace('_', ' ')}) at step {s}" + (", no clipping" if c["clip"] == 0 else "")
    elif kind == "lr_excursion":
        s = rng.randint(int(0.3 * n), int(0.8 * n))
        if c["reduce"] == "last" and rng.random() < 0.6:
            s = max(interval, (s // interval) * interval - rng.randint(0, c["exc_len"] - 1))
        c["exc"] = (s, c["exc_len"], c["exc_factor"])
        c["fault_steps"] = [s]
        c["fault_desc"] = f"LR x{c['exc_factor']} for {c['exc_len']} step(s) from step {s}"
    elif kind == "nan":
        s = rng.randint(int(0.35 * n), int(0.9 * n))
        c["fault_step"] = s
        c["fault_desc"] = f"NaN injected into the loss at step {s}"
    elif kind == "state_reset":
        if c["reset_kind"] == "noise":
            c["reset_every"] = interval * rng.randint(5, 15)
            c["period_steps"] = c["reset_every"]
            c["fault_desc"] = f"hidden-state bug: state replaced by N(0,{c['reset_scale']:g}) noise every {c['reset_every']} steps"
        else:
            c["fault_desc"] = "hidden-state bug: state reset every batch in a contiguous stream (no visible mark expected)"
    elif kind == "periodic":
        c["fault_desc"] = "unshuffled fixed-order epochs on a small set"
    elif kind == "lr_grow":
        s = rng.randint(int(0.2 * n), int(0.6 * n))
        c["grow"] = c["grow_total"] ** (1.0 / max(1, n - s))
        c["fault_steps"] = [s]
        c["fault_desc"] = f"LR schedule bug: the LR grows x{c['grow']:.4g} per step from step {s} (x{c['grow_total']:g} by the end)"
    elif kind in STRIKES_ONCE:
        lo, hi, desc = STRIKES_ONCE[kind]
        s = rng.randint(int(lo * n), int(hi * n))
        c["fault_steps"] = [s]
        c["fault_desc"] = desc.format(s=s, after=s + 1)
