//! One line of a text log: which numbers it holds and what each is (a step, an epoch, the
//! training or validation loss, the LR, the gradient norm), from the words just before each
//! number. The file-level reader (`text.rs`) places the lines' values on one step axis.

use super::consoles;
use super::tokens::{tokens, Token};
use crate::formats::names::{classify, is_val_marker, Role};
use regex::Regex;
use std::sync::OnceLock;

/// What one line says.
#[derive(Debug, Default)]
pub(super) struct LineValues<'a> {
    pub(super) step: Option<(f64, Option<f64>)>,
    pub(super) epoch: Option<(f64, Option<f64>)>,
    pub(super) train: Option<f64>,
    pub(super) val: Option<f64>,
    pub(super) lr: Option<f64>,
    pub(super) grad: Option<f64>,
    /// The loss is ln of a perplexity, the line naming no loss itself.
    pub(super) from_perplexity: bool,
    /// The name the training loss was read under, for the report.
    pub(super) loss_key: Option<&'a str>,
    /// How plainly that name says "the loss" (lower is plainer; see `names::classify`).
    pub(super) train_rank: u32,
    /// The other losses on the line when the one taken is itself a component (`loss_D`
    /// beside `loss_G_fake`, no plain total): the report names them so the user can choose.
    pub(super) rival_keys: Vec<&'a str>,
    /// The name the validation loss was read under, for the report.
    pub(super) val_key: Option<&'a str>,
}

/// Whether `t` can be one of the unnamed counters a line starts with (PyTorch's tutorial
/// prints `[1,    50] loss: 2.600`: epoch and batch): a whole number, no unit or total, and not
/// part of a date or a time (`2024-01-01`, `12:00:01`).
fn leading_counter(t: &Token) -> bool {
    let nameless = t.key.chars().all(|c| !c.is_alphanumeric());
    nameless
        && t.total.is_none()
        && !t.has_unit
        && t.value >= 0.0
        && t.value.fract() == 0.0
        && !matches!(t.next, Some(':' | '-' | '/' | '.'))
}

/// A bare split name before a number (`250 val 3.51`, `1 train 10.91`, as build-nanogpt's
/// `log.txt` writes): that split's loss, ranked below any name that says `loss`.
/// Likewise an epoch counter with a phase's name before it (`Fine-Tune Epoch 2 | Train Loss`),
/// but not a setting (`max epoch`, `steps per epoch`).
/// `ppl`, `perplexity`, `valid ppl`, `Validation perplexity`: a perplexity, whatever split.
fn is_perplexity(key: &str) -> bool {
    key.to_ascii_lowercase()
        .split(|c: char| !c.is_ascii_alphanumeric())
        .rfind(|w| !w.is_empty())
        .is_some_and(|w| w == "ppl" || w == "perplexity")
}

/// The rank of a split's bare name (`Train: 0.3`): a loss only when nothing is named as one.
const BARE_NAME: u32 = 1000;

fn text_only_name(key: &str) -> Option<(Role, u32)> {
    const BARE: u32 = BARE_NAME;
    let lower = key.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    match words.as_slice() {
        ["train" | "training"] => Some((Role::TrainLoss, BARE)),
        // OpenNMT's cross-entropy (`xent: 2.31`), beside its accuracy and perplexity; Neural
        // Monkey's `target/train_xent` beside `target/runtime_xent`.
        ["xent"] | [.., "train" | "training", "xent"] => Some((Role::TrainLoss, 500)),
        [.., "val" | "valid" | "validation" | "eval" | "test", "xent"] => {
            Some((Role::ValLoss, 500))
        }
        [.., "xent"] => Some((Role::TrainLoss, 510)),
        // Likelihood models report their objective as a negative log-likelihood, or in bits
        // per dimension (SurVAE's `Bits/dim: 9.041`, texar's VAE `nll 220.78`).
        ["nll" | "bpd"] | ["bits", "dim"] | ["bits", "per", "dim"] => Some((Role::TrainLoss, 500)),
        // Spelled out (BERT-CRF's `Negative loglikelihood: 9806.5`).
        ["negative", "loglikelihood" | "likelihood"] | ["negative", "log", "likelihood"] => {
            Some((Role::TrainLoss, 500))
        }
        ["train" | "training", "nll" | "bpd"] => Some((Role::TrainLoss, 500)),
        ["val" | "valid" | "validation" | "eval" | "test", "nll" | "bpd"] => {
            Some((Role::ValLoss, 500))
        }
        // An error trained on directly (DeepRecommender's `RMSE: 8.08`, an enhancement
        // model's `l1:0.041`): the loss only when
        // nothing is named as one, and never a validation loss (a test RMSE is a metric).
        ["rmse" | "mse" | "mae" | "l1" | "l2"]
        | ["train" | "training", "rmse" | "mse" | "mae" | "l1" | "l2"] => {
            Some((Role::TrainLoss, BARE + 2))
        }
        // TF1 scripts' and Marian's `cost` (`Epoch: 39984 cost= 86.56`, `Cost 111.24`).
        ["cost"] | ["train" | "training", "cost"] => Some((Role::TrainLoss, 500)),
        ["val" | "valid" | "validation" | "eval" | "test", "cost"] => Some((Role::ValLoss, 500)),
        // Marian's update counter (`Ep. 2 : Up. 116760 : Sen. 6962176 : Cost 111.24`).
        ["up"] => Some((Role::Step, 5)),
        ["val" | "valid" | "validation" | "eval"] => Some((Role::ValLoss, BARE)),
        // `## Epoch no. = 3` (a Markdown log's block header), `Epoch number: 3`.
        ["epoch", "no" | "nr" | "num" | "number"] => Some((Role::Epoch, 5)),
        [first @ .., "epoch"]
            if !first.is_empty()
                && !first
                    .iter()
                    // `Learning Rate for this epoch: 0.001` is a rate, not an epoch.
                    .any(|w| {
                        matches!(
                            *w,
                            "per"
                                | "max"
                                | "num"
                                | "total"
                                | "steps"
                                | "n"
                                | "for"
                                | "this"
                                | "each"
                                | "every"
                        )
                    }) =>
        {
            Some((Role::Epoch, 5))
        }
        _ => None,
    }
}

/// A printed object rather than a log line: argparse's `Namespace(lr=0.1, epochs=6, …)` or a
/// dataclass repr, whose `…_loss_…=1.0` and `epochs=6` would otherwise read as a point.
pub(super) fn is_object_repr(line: &str) -> bool {
    let t = line.trim_start();
    let head = t.split('(').next().unwrap_or("");
    t.len() > head.len()
        && !head.is_empty()
        && head
            .chars()
            .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
        && t.matches('=').count() >= 5
}

/// Python `logging`'s default prefix (`INFO:tensorflow:`, `INFO:root:`, `WARNING:absl:`):
/// `tensorflow:global step` is no name a counter is known by, so it goes before reading.
fn logging_prefix() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*(?:DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL):[\w.\-]*:")
            .expect("valid regex")
    })
}

/// `… at iteration` / `at step` / `at epoch`: the counter of the line, whatever came before.
fn counter_after_at(key: &str) -> Option<Role> {
    // Called for every number of every line: no allocation.
    let mut words = key.split_whitespace().rev();
    let (last, before) = (words.next()?, words.next()?);
    if !before.eq_ignore_ascii_case("at") {
        return None;
    }
    let is = |w: &str| last.eq_ignore_ascii_case(w);
    if is("iteration") || is("iter") || is("step") {
        Some(Role::Step)
    } else if is("epoch") {
        Some(Role::Epoch)
    } else {
        None
    }
}

/// Old Keras callbacks' messages (`Epoch 00008: early stopping`, `Epoch 00005: val_loss
/// improved …`): the zero-padded number is no epoch header (EarlyStopping's is even one
/// behind the `Epoch 9/10` above it); the `Epoch N/T` headers place the results.
fn keras_callback_message() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\s*Epoch 0\d{4}: ").expect("valid regex"))
}

/// The name inside quotes when a key quotes one (MXNet and GluonTS print `Epoch[0] Evaluation
/// metric 'epoch_loss'=0.19` for the training loss): the words around it are the logger's.
fn quoted_name(key: &str) -> &str {
    match key.find(['\'', '"']) {
        Some(open) if open + 1 < key.len() => {
            let rest = &key[open + 1..];
            let end = rest.find(['\'', '"']).unwrap_or(rest.len());
            if end > 0 {
                &rest[..end]
            } else {
                key
            }
        }
        _ => key,
    }
}

/// A metric other than a loss, written after a split's name (`Val Acc`, `val_f1`,
/// `Test AUC`): that split's metric, which makes no evaluation line of the loss beside it.
fn is_metric_word(word: &str) -> bool {
    matches!(
        word,
        "acc"
            | "accuracy"
            | "f1"
            | "auc"
            | "precision"
            | "recall"
            | "map"
            | "bleu"
            | "wer"
            | "cer"
            | "iou"
            | "miou"
            | "top1"
            | "top5"
            | "score"
            | "metric"
            | "mae"
            | "rmse"
            | "r2"
            | "ndcg"
            | "hr"
    )
}

/// A Keras progress bar still running (`1248/60000 [….] - ETA: 2s - loss: 2.3027`).
pub(super) fn is_running_keras_bar(line: &str) -> bool {
    line.contains("ETA:") && keras_bar_in_progress().is_match(line)
}

/// A line read even when it is a running bar: for a paste that holds nothing else (the first
/// epoch of a fit, stopped or still running), its running means are all there is.
pub(super) fn read_running_bar(line: &str) -> LineValues<'_> {
    read_step_and_loss(line)
}

pub(super) fn read_line(line: &str) -> LineValues<'_> {
    // (Cheap tests first: these run on every line.)
    let start = line.trim_start();
    // Weights & Biases' closing blocks (`wandb: Run summary:` then `wandb:  train/box_loss
    // 0.03868`, one final value per line) are a snapshot of several metrics, not a curve.
    if start.starts_with("wandb:") {
        return LineValues::default();
    }
    if is_running_keras_bar(line) {
        // A running mean the finished bar reports in full; but a mean gone NaN part-way is the
        // news, whether or not the epoch finishes.
        let values = read_step_and_loss(line);
        return if values.train.is_some_and(|l| !l.is_finite()) {
            values
        } else {
            LineValues::default()
        };
    }
    read_step_and_loss(line)
}

/// A line's values once the lines that say nothing (bars in progress, W&B summaries) are out.
fn read_step_and_loss(line: &str) -> LineValues<'_> {
    // A callback's message says nothing of the epoch; only a learning rate it sets counts.
    let start = line.trim_start();
    if let Some(m) = start
        .starts_with("Epoch 0")
        .then(|| keras_callback_message().find(line))
        .flatten()
    {
        return LineValues {
            lr: read_line(&line[m.end()..]).lr,
            ..LineValues::default()
        };
    }
    if let Some(v) = consoles::known_line(line, read_line) {
        return v;
    }
    // mpirun / Horovod tag each line with its rank (`[1,0]<stderr>:INFO:absl:…`): not an
    // `[epoch, batch]` pair.
    let (line, start) = match start.find("]<std") {
        Some(i) if start.starts_with('[') => {
            let rest = &start[i + 2..];
            let rest = rest
                .strip_prefix("stderr>:")
                .or_else(|| rest.strip_prefix("stdout>:"))
                .unwrap_or(rest);
            (rest, rest.trim_start())
        }
        _ => (line, start),
    };
    let logged = start.starts_with(['D', 'I', 'W', 'E', 'C']) && start.contains(':');
    let line = match logged.then(|| logging_prefix().find(line)).flatten() {
        Some(m) => &line[m.end()..],
        None => line,
    };
    let mut out = LineValues::default();
    let mut ranks = [u32::MAX; 6];
    let mut bare_counter = None;
    let mut second_counter = None;
    // Numbers with no name of their own after the first (`step 100: 2.345`): the first of
    // them, and how many there were.
    let (mut unnamed_value, mut unnamed_count) = (None, 0usize);
    let tokens = tokens(line);
    let leading: Vec<f64> = tokens
        .iter()
        .take(2)
        .take_while(|t| leading_counter(t))
        .map(|t| t.value)
        .collect();
    let mut perplexity = None;
    // `validation loss at iteration 125 | lm loss value: 2.41` (Megatron), `Validation loss
    // at iteration 200: 3.1`: the number after `at iteration` is the counter, and a loss
    // named before it comes next, with no name of its own.
    let mut loss_named_before_counter = false;
    // Whether the previous number carried a unit and ended its clause (`68.23%, (…)`; not a
    // bar's `5%|` nor a bracketed `( 33%) [0/323`).
    let mut previous_measured = false;
    let mut train_names: Vec<&str> = Vec::new();
    // Values written before their names (tinygrad: `10.50 loss, 0.000017 LR, 8.83 GB used`):
    // read only when no number on the line has its name before it.
    let mut named_after: Vec<(Role, f64, &str)> = Vec::new();
    for (i, t) in tokens.into_iter().enumerate() {
        if let Some((role @ (Role::TrainLoss | Role::ValLoss | Role::Lr), _)) =
            (!t.name_after.is_empty())
                .then(|| classify(t.name_after))
                .flatten()
        {
            named_after.push((role, t.value, t.name_after));
        }
        let after_measure =
            std::mem::replace(&mut previous_measured, t.has_unit && t.next == Some(','));
        let at_counter = counter_after_at(t.key);
        let named = match at_counter {
            Some(role) => {
                loss_named_before_counter = t.key.to_ascii_lowercase().contains("loss");
                Some((role, 0))
            }
            None if t.key.is_empty() && std::mem::take(&mut loss_named_before_counter) => {
                Some((Role::TrainLoss, 0))
            }
            None => {
                let key = quoted_name(t.key);
                classify(key).or_else(|| text_only_name(key))
            }
        };
        let Some((role, rank)) = named else {
            if is_perplexity(t.key) && t.value >= 1.0 && t.value.is_finite() {
                perplexity = perplexity.or(Some(t.value));
            }
            // An unnamed `S/T` counter (`   200/ 2983 batches` in PyTorch's word-language-model
            // example, or a line that starts with one) is the step.
            // (Not a count of right answers after a percentage: `accuracy: 68.23%,
            // (1682685/2466262)`.)
            let unnamed = !after_measure
                && (t.key.is_empty() || (i > 0 && t.key.chars().all(|c| !c.is_alphanumeric())));
            if unnamed && t.total.is_some() && !t.has_unit {
                if bare_counter.is_none() {
                    bare_counter = Some((t.value, t.total));
                } else if i == 1 && second_counter.is_none() {
                    second_counter = Some((t.value, t.total));
                }
            } else if unnamed && i > 0 && !t.has_unit {
                unnamed_value = unnamed_value.or(Some(t.value));
                unnamed_count += 1;
            }
            continue;
        };
        // A step counts whole steps: `batch: 49.5000` (old Keras averaging the batch index
        // like a metric) is no counter.
        if t.has_unit || (role == Role::Step && t.value.fract() != 0.0) {
            continue;
        }
        let slot = role as usize;
        if role == Role::TrainLoss && !t.key.is_empty() && !train_names.contains(&t.key) {
            train_names.push(t.key);
        }
        if rank >= ranks[slot] {
            continue;
        }
        ranks[slot] = rank;
        match role {
            Role::Step => out.step = Some((t.value, t.total)),
            Role::Epoch => out.epoch = Some((t.value, t.total)),
            Role::TrainLoss => {
                out.train = Some(t.value);
                out.loss_key = Some(t.key);
                out.train_rank = rank;
            }
            Role::ValLoss => {
                out.val = Some(t.value);
                out.val_key = Some(t.key);
            }
            Role::Lr => out.lr = Some(t.value),
            Role::GradNorm => out.grad = Some(t.value),
        }
    }
    if out.train.is_none() && out.val.is_none() {
        for &(role, value, name) in &named_after {
            match role {
                Role::TrainLoss if out.train.is_none() => {
                    (out.train, out.loss_key) = (Some(value), Some(name));
                    ranks[Role::TrainLoss as usize] = 0;
                }
                Role::ValLoss if out.val.is_none() => {
                    (out.val, out.val_key) = (Some(value), Some(name))
                }
                Role::Lr if out.lr.is_none() => out.lr = Some(value),
                _ => {}
            }
        }
    }
    // A named counter and one number with no name (`step 100: 2.345`, `epoch 3 - 0.41`, what
    // `print(f"step {i}: {loss}")` writes): nothing else can that number be but the loss.
    let named_counter = out.step.is_some() || out.epoch.is_some();
    if named_counter
        && out.train.is_none()
        && out.val.is_none()
        && out.lr.is_none()
        && out.grad.is_none()
        && perplexity.is_none()
        && unnamed_count == 1
    {
        out.train = unnamed_value;
        out.loss_key = Some("the number after the counter");
        out.train_rank = BARE_NAME;
        ranks[Role::TrainLoss as usize] = BARE_NAME + 1;
    }
    // A bare split name (`Train: 0.30, Val: 0.20`) beside a loss named as one (PyTorch
    // Geometric's `Epoch: 001, Loss: 1.9, Train: 0.3, Val: 0.2, Test: 0.2`) is an accuracy.
    let (train_rank, val_rank) = (
        ranks[Role::TrainLoss as usize],
        ranks[Role::ValLoss as usize],
    );
    // (Its `Val`, `Test` keys then make no evaluation line of it, below.) A loss named with
    // its split (litgpt's `loss train: 2.85, val: 2.86`) makes the bare `val` its counterpart.
    let split_named = out.loss_key.is_some_and(|k| {
        k.split(|c: char| !c.is_alphanumeric())
            .any(|w| matches!(w.to_ascii_lowercase().as_str(), "train" | "training"))
    });
    let accuracies_beside = train_rank < BARE_NAME && val_rank == BARE_NAME && !split_named;
    if accuracies_beside {
        out.val = None;
        out.val_key = None;
    }
    if val_rank < BARE_NAME && train_rank >= BARE_NAME {
        out.train = None;
        out.loss_key = None;
    }
    // Several losses and none the plain total (a GAN's `d_loss` and `g_loss`; `loss_D`, then
    // `loss_G_fake`): each is a component, and which one matters is the user's call. (`loss`
    // beside `loss_ce` or `mean loss` is the total and its parts or statistics: rank 0.)
    if out.train.is_some() && train_rank > 0 {
        out.rival_keys = train_names
            .into_iter()
            .filter(|k| Some(*k) != out.loss_key)
            .collect();
    }
    // A progress bar with nothing to plot (`[train]: 100%|██████████| 5/5 [00:01<00:00,
    // 3.50it/s]`, `Evaluating: 100%|…| 508029/508029`) counts its own loop's batches, not the
    // run's steps: its counter must not place the losses printed after it (an epoch it names,
    // `Epoch 8: 100%|…`, still does).
    let idle_bar = out.train.is_none()
        && out.val.is_none()
        && line.contains("%|")
        && (line.contains("it/s]") || line.contains("s/it]"));
    if out.step.is_none() && !idle_bar {
        out.step = bare_counter;
        // Two unnamed counters opening the line (PyTorch's DCGAN example prints
        // `[1/25][300/3183] Loss_D: …`): the epoch of the run, then the batch of the epoch.
        if let (Some(epoch), Some(batch), None) = (bare_counter, second_counter, out.epoch) {
            if epoch.1 < batch.1 {
                out.epoch = Some(epoch);
                out.step = Some(batch);
            }
        }
    }
    // Unnamed counters at the start of a line that names a loss: `[epoch, batch]` or `step`.
    if out.step.is_none() && (out.train.is_some() || out.val.is_some()) {
        match leading[..] {
            [epoch, step] => {
                out.epoch = out.epoch.or(Some((epoch, None)));
                out.step = Some((step, None));
            }
            [step] => out.step = Some((step, None)),
            _ => {}
        }
    }
    // A line that gives only a perplexity (`Validation perplexity: 1604.68`) gives its loss:
    // perplexity is e to the cross-entropy in nats.
    if out.train.is_none() && out.val.is_none() {
        out.train = perplexity.map(f64::ln);
        out.from_perplexity = out.train.is_some();
    }
    // A loss on an evaluation line (`| valid on 'valid' subset | loss 7.1`, `[eval] loss 2.1`)
    // is a validation loss even when its own name does not say so.
    // Not when the loss's own name says training (`Train_loss: 46.05, Val_los: nan`), nor for
    // a split's name that only heads another metric (`Loss 1.97 | Val Acc 0.18`).
    if out.val.is_none() && out.train.is_some() && !accuracies_beside && !split_named {
        // (A split's name right before a number names that number: `Valid: 92.50%` in
        // PyG's examples is an accuracy, not a section of evaluation results. A progress
        // bar's description, `valid: 100%|…|`, still names its loop.)
        let bar = line.contains("%|");
        // Only a marker before the loss heads its section: `Loss=2.79 … | Test set: Average
        // loss: 2.18` (a training line and its evaluation, joined) is a training loss.
        let head = out
            .loss_key
            .filter(|k| !k.is_empty())
            .and_then(|k| line.find(k))
            .map_or(line, |at| &line[..at]);
        let mut words = head
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .peekable();
        // FuxiCTR reports each evaluation under a `[Metrics]` tag.
        let mut eval_line = line.contains("[Metrics]");
        while let Some(word) = words.next() {
            if is_val_marker(&word.to_lowercase()) {
                let names_another = words.peek().is_some_and(|next| {
                    is_metric_word(&next.to_lowercase())
                        || (!bar && next.chars().all(|c| c.is_ascii_digit()))
                });
                if !names_another {
                    eval_line = true;
                    break;
                }
            }
        }
        if eval_line {
            out.val = out.train.take();
            out.val_key = out.loss_key;
            // An `S/T` counter there counts the evaluation's own batches (`valid: 100%|██|
            // 39/39`), not training steps: the result belongs to the last training step.
            if matches!(out.step, Some((_, Some(_)))) {
                out.step = None;
            }
        }
    }
    out
}

/// A Keras progress bar still running (`59840/60000 [=====>.] - ETA: 0s - loss: 0.0065`):
/// a running mean part-way through an epoch, which its finished bar reports in full.
fn keras_bar_in_progress() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\[[=>.]*\] - ETA:").expect("valid regex"))
}
