//! What a column, key or tag name means: one classifier shared by every format, so that
//! `train/loss` in TensorBoard, `train_loss` in a CSV header and `loss:` in a text log are all
//! recognised the same way.

use super::LoadOptions;
use crate::error::{DoctorError, Location};
use std::path::Path;

/// The series a named value feeds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Role {
    Step,
    Epoch,
    TrainLoss,
    ValLoss,
    Lr,
    GradNorm,
}

const VAL_MARKERS: &[&str] = &[
    "val",
    // Time-Series-Library (Informer, Autoformer, TimesNet): `Vali Loss: 0.47 Test Loss: 0.56`.
    "vali",
    "valid",
    "validation",
    "eval",
    "evaluation",
    "test",
    "dev",
    "tel",
];
const TRAIN_MARKERS: &[&str] = &["train", "training", "trl", "tr"];
/// Tokens that say a "loss" name is not the loss itself (a scale, a weight, a statistic of it).
const LOSS_EXCLUDERS: &[&str] = &[
    "scale",
    "scaler",
    "weight",
    "coef",
    "coeff",
    "ratio",
    "std",
    "min",
    "max",
    "var",
    "count",
    "num",
    "aux",
    "param",
    "acc",
    "accuracy",
    "ppl",
    "perplexity",
    "diff",
    "delta",
    // A running best (AllenNLP's `best_validation_loss`, a script's `get best test loss`) is
    // no measurement of this step: it only falls, so it would hide any overfitting.
    "best",
    // Settings printed with the run's configuration (`val_loss_every: 4000`).
    "every",
    "interval",
    "freq",
    "frequency",
    "patience",
];
/// Tokens that leave a loss name's meaning unchanged.
const LOSS_NEUTRAL: &[&str] = &[
    "loss", "step", "avg", "mean", "total", "run", "batch", "overall",
];
const LR_NEUTRAL: &[&str] = &[
    "lr",
    "learning",
    "rate",
    "train",
    "adam",
    "adamw",
    "sgd",
    "optimizer",
    "opt",
    "group",
    "pg",
    "base",
    "current",
    "step",
];
const STEP_NAMES: &[&str] = &[
    // A global counter beside a plain one counts the whole run; the plain one may start
    // again each epoch (Coqui: `STEP: 49/377 -- GLOBAL_STEP: 370050`).
    "global_step",
    "step",
    // MaxText: `completed step: 10, seconds: …, loss: 7.1`.
    "completed_step",
    // stable-baselines3's x-axis: environment steps; its `iterations` count rollouts.
    "total_timesteps",
    "iter",
    "iteration",
    "current_steps",
    "current_step",
    "steps",
    "iters",
    "iterations",
    "trainer_global_step",
    "global_steps",
    "num_steps",
    "optimizer_step",
    "s",
    "it",
    // ParlAI's running total; its `updates` counts those since the previous log line.
    "total_train_updates",
    // fairseq's `num_updates` counts updates; its `update` is the fraction of the epoch.
    "num_updates",
    "update",
    "updates",
    "batch",
    "mini_batch",
    "minibatch",
    // The Annotated Transformer's `Epoch Step: 41 | Accumulation Step: 5 | Loss: 7.37`: the
    // batch within the epoch.
    "epoch_step",
    // stable-baselines3: gradient updates (environment steps rank high, above).
    "n_updates",
    // An RL loop's `Episode 12/500 | Reward: 3.0 | Loss: 0.41`, when nothing finer is counted.
    "episode",
    // MobileFaceNet's `epoch 0, total_step 22050, total loss is 48.44`.
    "total_step",
];

/// Lower-case word tokens of a name (`lr-Adam` → `lr adam`, `Loss/train` → `loss train`),
/// with a few glued spellings split.
fn tokens(name: &str) -> Vec<String> {
    let mut out = Vec::new();
    for raw in name
        .split(|c: char| !c.is_alphanumeric())
        .filter(|t| !t.is_empty())
        .flat_map(camel_case_words)
    {
        let t = raw.to_lowercase();
        let split: &[&str] = match t.as_str() {
            "trainloss" => &["train", "loss"],
            "valloss" => &["val", "loss"],
            "evalloss" => &["eval", "loss"],
            "testloss" => &["test", "loss"],
            "gradnorm" => &["grad", "norm"],
            // XGBoost / LightGBM: `train-logloss`, `valid's binary_logloss`.
            "logloss" => &["log", "loss"],
            "learningrate" => &["learning", "rate"],
            // `losses: 3.47` beside `loss_mn: 0.0016` (a sum printed under the plural).
            "losses" => &["loss"],
            // InsightFace's MXNet metric: `acc=0.000000\tlossvalue=41.974941`.
            "lossvalue" => &["loss"],
            // A loss glued to what it measures (`Totalloss:51.6 CTCloss: 51.4 L2loss: 0.2`).
            _ if t.len() > 4 && t.ends_with("loss") && t != "gloss" => {
                out.push(t[..t.len() - 4].to_string());
                out.push("loss".into());
                continue;
            }
            // YOLOv5's `x/lr0`, `x/lr1`: the learning rate of parameter group N.
            _ if t.len() > 2
                && t.starts_with("lr")
                && t[2..].chars().all(|c| c.is_ascii_digit()) =>
            {
                out.push("lr".into());
                out.push(t[2..].to_string());
                continue;
            }
            _ => {
                out.push(t);
                continue;
            }
        };
        out.extend(split.iter().map(|s| s.to_string()));
    }
    out
}

/// The words of a camelCase name (OLMo's `train/CrossEntropyLoss`, `valLoss`): a break
/// before each capital that follows a lower-case letter. Runs of capitals (`LR`, `mAP50`)
/// stay whole.
fn camel_case_words(word: &str) -> impl Iterator<Item = &str> {
    let bytes = word.as_bytes();
    let mut cuts: Vec<usize> = (1..bytes.len())
        .filter(|&i| bytes[i].is_ascii_uppercase() && bytes[i - 1].is_ascii_lowercase())
        .collect();
    cuts.push(bytes.len());
    let mut from = 0;
    cuts.into_iter().map(move |to| {
        let w = &word[from..to];
        from = to;
        w
    })
}

/// Drops the parts of a name that say where it came from rather than what it is: the
/// `run-name - ` prefix of Weights & Biases exports.
fn strip_export_prefix(name: &str) -> &str {
    match name.rfind(" - ") {
        Some(i) => &name[i + 3..],
        None => name,
    }
}

/// Classifies a name; the rank orders candidates for the same role (lower is better).
pub(crate) fn classify(name: &str) -> Option<(Role, u32)> {
    let name = strip_export_prefix(name.trim());
    // spaCy's training table counts its steps under `#` (`E  #  LOSS TOK2VEC  LOSS NER …`):
    // a counter, ranked after every named one.
    if name == "#" {
        return Some((Role::Step, 50));
    }
    let lower = name.to_lowercase();
    if lower.ends_with("__min") || lower.ends_with("__max") || lower.ends_with("__step") {
        return None;
    }
    let toks = tokens(name);
    if toks.is_empty() {
        return None;
    }
    let joined = toks.join("_");
    if let Some(rank) = STEP_NAMES.iter().position(|s| *s == joined) {
        return Some((Role::Step, rank as u32));
    }
    // `train/global_step`, `eval step`: a step counter whichever split logs it.
    let unsplit: Vec<&str> = toks
        .iter()
        .map(String::as_str)
        .filter(|t| !VAL_MARKERS.contains(t) && !TRAIN_MARKERS.contains(t))
        .collect();
    if unsplit.len() < toks.len() {
        if let Some(rank) = STEP_NAMES.iter().position(|s| *s == unsplit.join("_")) {
            return Some((Role::Step, rank as u32 + 1));
        }
    }
    if matches!(
        joined.as_str(),
        "epoch" | "epochs" | "train_epoch" | "trainer_epoch"
    ) {
        return Some((Role::Epoch, 0));
    }
    let has = |t: &str| toks.iter().any(|x| x == t);
    // BasicSR / mmediting name each loss `l_` + what it measures (`l_pix`, `l_g_gan`).
    let basicsr_loss =
        toks.len() >= 2 && toks[0] == "l" && toks[1] != "r" && name.starts_with("l_");
    // MXNet's metric (`Train-cross-entropy=1.74`, `Validation-cross-entropy=1.91`).
    let cross_entropy = has("cross") && has("entropy");
    // Abbreviated split losses, in any case (`TrL=0.63, TrA=0.80, VL=0.29, TeL=0.40`): a
    // test loss ranks after a validation one, as below.
    match toks.concat().as_str() {
        "trl" => return Some((Role::TrainLoss, 0)),
        "vl" => return Some((Role::ValLoss, 0)),
        "tel" => return Some((Role::ValLoss, 3)),
        _ => {}
    }
    if has("loss") || basicsr_loss || cross_entropy {
        return classify_loss(&toks);
    }
    if has("lr") || (has("learning") && has("rate")) {
        if toks
            .iter()
            .any(|t| t == "scale" || t == "scheduler" || t == "decay")
        {
            return None;
        }
        let extra = toks
            .iter()
            .filter(|t| !LR_NEUTRAL.contains(&t.as_str()) && !is_group_index(t))
            .count();
        // Ultralytics' parameter group 0 (`x/lr0`, `lr/pg0`) holds the biases, whose warmup
        // starts at `warmup_bias_lr` (0.1) and falls while the weights' groups rise from 0:
        // the weights' rate (group 1, beside it) is the run's.
        let yolo_bias_group = matches!(lower.as_str(), "x/lr0" | "lr/pg0");
        return Some((Role::Lr, 10 * extra as u32 + u32::from(yolo_bias_group)));
    }
    if joined == "gnorm" || joined == "train_gnorm" {
        return Some((Role::GradNorm, 0));
    }
    let gradish = has("grad") || has("grads") || has("gradient") || has("gradients");
    if has("norm") && !has("param") && !has("weight") {
        if gradish {
            let extra = toks
                .iter()
                .filter(|t| {
                    ![
                        "grad",
                        "grads",
                        "gradient",
                        "gradients",
                        "norm",
                        "train",
                        "global",
                        "step",
                    ]
                    .contains(&t.as_str())
                })
                .count();
            return Some((Role::GradNorm, 10 * extra as u32));
        }
        if joined == "norm" || joined == "total_norm" {
            return Some((Role::GradNorm, 5));
        }
    }
    None
}

fn is_group_index(t: &str) -> bool {
    t.chars().all(|c| c.is_ascii_digit())
        || t.strip_prefix("group")
            .or_else(|| t.strip_prefix("pg"))
            .is_some_and(|rest| rest.chars().all(|c| c.is_ascii_digit()))
}

fn classify_loss(toks: &[String]) -> Option<(Role, u32)> {
    if toks.iter().any(|t| LOSS_EXCLUDERS.contains(&t.as_str())) {
        return None;
    }
    let is_val = toks.iter().any(|t| VAL_MARKERS.contains(&t.as_str()));
    // A test split is often evaluated once, after training (Lightning's `trainer.test()`
    // writes `test_loss` beside `val_loss`): a validation name is preferred when both exist.
    let mut rank = if toks.iter().any(|t| t == "test") {
        3
    } else {
        0
    };
    for t in toks {
        let t = t.as_str();
        if VAL_MARKERS.contains(&t) || TRAIN_MARKERS.contains(&t) || LOSS_NEUTRAL.contains(&t) {
            continue;
        }
        // An epoch average is a coarser view of the same series: use it only when nothing finer
        // exists. spaCy's shared embedding layer (`LOSS TOK2VEC`, `LOSS TRANSFORMER`) sums what
        // the task components send back: the component's own loss (`LOSS NER`) comes first.
        rank += match t {
            "epoch" => 5,
            "tok2vec" | "transformer" => 11,
            _ => 10,
        };
    }
    let role = if is_val {
        Role::ValLoss
    } else {
        Role::TrainLoss
    };
    Some((role, rank))
}

/// Whether a word, in any case, is a split's full name (`train`, `val`, `Valid`, `test`; not
/// the abbreviations `tr`, `trl`, `tel`). No allocation: it runs on every number of a log.
pub(crate) fn is_split_name(word: &str) -> bool {
    VAL_MARKERS
        .iter()
        .chain(&["train", "training"])
        .any(|m| *m != "tel" && word.eq_ignore_ascii_case(m))
}

/// Whether a word marks the validation split (`valid on 'valid' subset`, `[eval]`).
pub(crate) fn is_val_marker(word: &str) -> bool {
    VAL_MARKERS.contains(&word) && word != "tel"
}

/// Whether a folder name says its files hold validation (or training) curves:
/// Keras and others write `train/` and `validation/` siblings with the same tags.
pub(crate) fn folder_role(component: &str) -> Option<Role> {
    let c = component.to_lowercase();
    if VAL_MARKERS.contains(&c.as_str()) && c != "tel" {
        Some(Role::ValLoss)
    } else if c == "train" || c == "training" {
        Some(Role::TrainLoss)
    } else {
        None
    }
}

/// The chosen column (index into the names) for each role.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Picks {
    pub step: Option<usize>,
    pub epoch: Option<usize>,
    pub train: Option<usize>,
    pub val: Option<usize>,
    pub lr: Option<usize>,
    pub grad: Option<usize>,
}

impl Picks {
    fn slot(&mut self, role: Role) -> &mut Option<usize> {
        match role {
            Role::Step => &mut self.step,
            Role::Epoch => &mut self.epoch,
            Role::TrainLoss => &mut self.train,
            Role::ValLoss => &mut self.val,
            Role::Lr => &mut self.lr,
            Role::GradNorm => &mut self.grad,
        }
    }
}

/// The other training losses beside the one taken, when that one is itself a component (a
/// GAN history's `D_loss` beside `G_loss`; YOLO's `box_loss`, `obj_loss`, `cls_loss`) and no
/// plain total exists: which one matters is the user's call, and the report names them. The
/// same loss at another granularity (`train_loss_step` beside `train_loss_epoch`) is no rival.
pub(crate) fn rival_losses<S: AsRef<str>>(
    names: &[S],
    roles: &[Option<(Role, u32)>],
    taken: usize,
) -> Vec<usize> {
    let stem = |i: usize| -> Vec<String> {
        tokens(names[i].as_ref())
            .into_iter()
            .filter(|t| !matches!(t.as_str(), "step" | "steps" | "epoch" | "epochs"))
            .collect()
    };
    match roles.get(taken).copied().flatten() {
        Some((Role::TrainLoss, rank)) if rank > 0 => (0..names.len())
            .filter(|&i| i != taken)
            .filter(|&i| matches!(roles[i], Some((Role::TrainLoss, _))))
            .filter(|&i| stem(i) != stem(taken))
            .collect(),
        _ => Vec::new(),
    }
}

/// Picks the best-ranked name for each role (the first on a tie), then applies the user's
/// column overrides, which must name an existing column.
pub(crate) fn pick_columns<S: AsRef<str>>(
    names: &[S],
    roles: &[Option<(Role, u32)>],
    opts: &LoadOptions,
    path: &Path,
) -> Result<Picks, DoctorError> {
    let mut picks = Picks::default();
    let mut best: Vec<(Role, u32)> = Vec::new();
    for (i, role) in roles.iter().enumerate() {
        let Some((role, rank)) = *role else { continue };
        let current = best.iter().position(|(r, _)| *r == role);
        match current {
            Some(j) if best[j].1 <= rank => {}
            Some(j) => {
                best[j].1 = rank;
                *picks.slot(role) = Some(i);
            }
            None => {
                best.push((role, rank));
                *picks.slot(role) = Some(i);
            }
        }
    }
    let overrides = [
        (&opts.step_col, Role::Step, "--step-col"),
        (&opts.loss_col, Role::TrainLoss, "--loss-col"),
        (&opts.val_col, Role::ValLoss, "--val-col"),
        (&opts.lr_col, Role::Lr, "--lr-col"),
        (&opts.grad_col, Role::GradNorm, "--grad-col"),
    ];
    for (wanted, role, flag) in overrides {
        let Some(wanted) = wanted else { continue };
        let found = names.iter().position(|n| n.as_ref() == wanted).or_else(|| {
            names
                .iter()
                .position(|n| n.as_ref().eq_ignore_ascii_case(wanted))
        });
        match found {
            Some(i) => {
                // A column used for one role by override is no longer a candidate for another.
                for other in [
                    &mut picks.step,
                    &mut picks.epoch,
                    &mut picks.train,
                    &mut picks.val,
                    &mut picks.lr,
                    &mut picks.grad,
                ] {
                    if *other == Some(i) {
                        *other = None;
                    }
                }
                *picks.slot(role) = Some(i);
            }
            None => {
                return Err(DoctorError::parse(
                    path,
                    Location::Whole,
                    format!(
                        "{flag} {wanted:?} names no column (found: {})",
                        list_names(names)
                    ),
                ))
            }
        }
    }
    follow_the_chosen_loss(names, roles, opts, &mut picks);
    Ok(picks)
}

/// A file holding several models' histories (`reg_loss`, `reg_val_loss`, `reg_learning_rate`
/// beside `cls_loss`, `cls_val_loss`, …): when the user picks a loss with `--loss-col`, the
/// validation, LR and gradient-norm columns they did not name come from the same model, the
/// columns whose names carry the chosen loss's other words (`reg`).
fn follow_the_chosen_loss<S: AsRef<str>>(
    names: &[S],
    roles: &[Option<(Role, u32)>],
    opts: &LoadOptions,
    picks: &mut Picks,
) {
    let (Some(_), Some(taken)) = (&opts.loss_col, picks.train) else {
        return;
    };
    let family: Vec<String> = tokens(names[taken].as_ref())
        .into_iter()
        .filter(|t| !LOSS_NEUTRAL.contains(&t.as_str()) && !TRAIN_MARKERS.contains(&t.as_str()))
        .collect();
    if family.is_empty() {
        return;
    }
    let named = [
        (Role::ValLoss, opts.val_col.is_some()),
        (Role::Lr, opts.lr_col.is_some()),
        (Role::GradNorm, opts.grad_col.is_some()),
    ];
    for (role, by_user) in named {
        if by_user {
            continue;
        }
        let best = (0..names.len())
            .filter_map(|i| match roles[i] {
                Some((r, rank)) if r == role => Some((i, rank)),
                _ => None,
            })
            .filter(|&(i, _)| {
                let words = tokens(names[i].as_ref());
                family.iter().all(|f| words.contains(f))
            })
            .min_by_key(|&(_, rank)| rank);
        if let Some((i, _)) = best {
            *picks.slot(role) = Some(i);
        }
    }
}

/// A short comma-separated list of names for error messages.
pub(crate) fn list_names<S: AsRef<str>>(names: &[S]) -> String {
    const SHOWN: usize = 20;
    let mut s = names
        .iter()
        .take(SHOWN)
        .map(|n| n.as_ref())
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        s.push_str(&format!(", … ({} more)", names.len() - SHOWN));
    }
    if s.is_empty() {
        s.push_str("nothing");
    }
    s
}

#[cfg(test)]
#[path = "names_tests.rs"]
mod tests;
