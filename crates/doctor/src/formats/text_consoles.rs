//! Console formats whose numbers carry no names to read: each is matched whole.
//!
//! - darknet / YOLOv2-v4: `75: 625.195312, 517.632019 avg, 0.000000 rate, 351.3 seconds, 4800
//!   images` (AlexeyAB's fork writes `avg loss`): the iteration, that batch's loss, a running
//!   average (left out: the doctor measures the noise itself) and the learning rate. Its
//!   classifier writes the epoch after the iteration: `40245, 4.021: 6.907692, 6.910023 avg,
//!   0.081346 rate, …`.
//! - CatBoost: `34:\tlearn: 0.9508429\ttest: 0.8235312\tbest: 0.8356368 (1)\ttotal: …`: the
//!   iteration, the training and (when there is an eval set) the test metric.
//! - ESPnet's trainer: `5epoch:train:3376-3750batch: iter_time=…, loss=1.733, …, lr_0=0.100`
//!   (a range of the epoch's batches: its end is the step, the rest reads as any line) and
//!   `5epoch results: [train] … loss=1.73, … [valid] loss=1.80, acc=…, [att_plot] time=…` (the
//!   epoch's summary: each bracketed section read on its own).
//! - Ultralytics YOLO's console: a header `Epoch GPU_mem box_loss obj_loss cls_loss Instances
//!   Size` (YOLOv5 before 7.0: `gpu_mem box obj cls labels img_size`) above each epoch's row
//!   `0/499 10.2G 0.1095 0.03323 0.0419 26 640: 100%|…`; the first loss column is judged, as in
//!   its `results.csv` (`train/box_loss`).
//! - YOLOv3/v5/v7's `results.txt` (before `results.csv`): no header, one row per epoch of 15
//!   fields, `0/59 5.21G 0.1226 0.03017 0 0.1528 79 640 P R mAP.5 mAP.5:.95 0.08325 0.0219 0`:
//!   the epoch, GPU memory, the box (GIoU), objectness, class and total training losses, the
//!   labels and image size, four metrics, and the validation box, objectness and class losses.
//!   The box losses are judged, training and validation, as for the console and `results.csv`.
//! - mmengine (MMDetection 3, mmpretrain, mmseg 1): `05/24 08:46:22 - mmengine - INFO -
//!   Epoch(train)  [10][100/235]  lr: 1.9e-03  eta: …  grad_norm: 1.38  loss: 3.95`: the epoch,
//!   then the iteration of the epoch (the `05/24` date before it is no counter); `Epoch(val)`
//!   lines are the evaluation's.
//! - Deeplearning4j's `ScoreIterationListener`: `Score at iteration 40 is 0.6931`: the score is
//!   the loss (with regularisation) of that minibatch.
//! - CNTK: `Epoch[10 of 10]-Minibatch[ 391- 400, 12.60%]: ce = 3.972 * 2560; err = 0.882 *
//!   2560; …`: the epoch, the last minibatch of the block within it, and the training
//!   criterion, the first value named (its name is the user's: `ce`, `loss`, `CE`).
//! - pix2pix / CycleGAN (`loss_log.txt` and its console): `(epoch: 355, iters: 100, time:
//!   0.078, data: 3.094) G_GAN: 18.230 G_L1: 12.882 D_real: 0.001 D_fake: 0.000`: every name
//!   after the parenthesis is a loss, none says so, and none is the total. The generator's
//!   first (`G_GAN`, `G_A`) is judged; the others are named so the user can choose.
//! - makemore / "Neural Networks: Zero to Hero": `  10000/ 200000: 2.0322`, the step, the
//!   run's length and that minibatch's loss, nothing named.
//! - PyTorch's "NLP From Scratch" tutorials: the translation one prints `0m 42s (- 35m 0s)
//!   (1000 2%) 3.2168` (time spent and left, the iteration and its share, the mean loss since
//!   the last print), the name classifier `5000 5% (0m 8s) 2.1557 Chong / Chinese ✓` (the
//!   iteration, its share, the time, that example's loss, then a sample guess).

use super::LineValues;
use regex::Regex;
use std::sync::OnceLock;

const NUMBER: &str = r"[-+]?(?:nan|inf|\d+\.?\d*(?:e[-+]?\d+)?)";

fn darknet() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)^\s*(\d+)(?:, \d+\.\d+)?: ({NUMBER}), ({NUMBER}) avg(?: loss)?, ({NUMBER}) rate"
        ))
        .expect("valid regex")
    })
}

/// YOLACT: `[  0]      10 || B: 5.774 | C: 18.310 | M: 6.371 | S: 44.301 | T: 74.756 || ETA: …`,
/// epoch and iteration, then one letter per loss (box, class, mask, semantic) and `T`, their
/// total.
fn yolact() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)^\s*\[\s*(\d+)\]\s+(\d+)\s*\|\|.*\bT: ({NUMBER})\s*(?:\|\||$)"
        ))
        .expect("valid regex")
    })
}

fn makemore() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(r"^\s*(\d+)/\s*(\d+): ({NUMBER})\s*$")).expect("valid regex")
    })
}

fn tutorial_translation() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            r"^\s*\d+m \d+s \(- -?\d+m -?\d+s\) \((\d+) \d+%\) ({NUMBER})\s*$"
        ))
        .expect("valid regex")
    })
}

fn tutorial_classifier() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(r"^\s*(\d+) \d+% \(\d+m \d+s\) ({NUMBER})(?:\s|$)"))
            .expect("valid regex")
    })
}

fn catboost() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)^\s*(\d+):\s+learn:\s*({NUMBER})(?:\s+test:\s*({NUMBER}))?"
        ))
        .expect("valid regex")
    })
}

fn espnet_batches() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(\d+)epoch:(\w+):\d+-(\d+)batch:").expect("valid regex"))
}

fn espnet_results() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"(\d+)epoch results:").expect("valid regex"))
}

fn section_marker() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"\[(\w+)\]").expect("valid regex"))
}

/// An ESPnet line's values; `read` reads the rest of a line as any other.
fn espnet<'a>(line: &'a str, read: fn(&'a str) -> LineValues<'a>) -> Option<LineValues<'a>> {
    if let Some(c) = espnet_batches().captures(line) {
        let mut v = read(&line[c.get(0)?.end()..]);
        v.epoch = c[1].parse().ok().map(|e| (e, None));
        v.step = c[3].parse().ok().map(|s| (s, None));
        if &c[2] != "train" {
            v.val = v.train.take().or(v.val);
        }
        return Some(v);
    }
    let c = espnet_results().captures(line)?;
    let rest = &line[c.get(0)?.end()..];
    let markers: Vec<_> = section_marker().captures_iter(rest).collect();
    let section = |name: &str| {
        let i = markers.iter().position(|m| &m[1] == name)?;
        let from = markers[i].get(0)?.end();
        let to = markers
            .get(i + 1)
            .map_or(rest.len(), |m| m.get(0).map_or(rest.len(), |g| g.start()));
        Some(&rest[from..to])
    };
    let mut v = section("train").map(read).unwrap_or_default();
    v.val = section("valid").and_then(|s| read(s).train);
    v.step = None;
    v.epoch = c[1].parse().ok().map(|e| (e, None));
    Some(v)
}

fn dl4j() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(r"(?i)\bscore at iteration (\d+) is ({NUMBER})")).expect("valid regex")
    })
}

fn cntk() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(&format!(
            r"(?i)\bEpoch\[\s*(\d+) of (\d+)\]-Minibatch\[\s*\d+-\s*(\d+)[^\]]*\]:\s*(\w+) = ({NUMBER})"
        ))
        .expect("valid regex")
    })
}

fn pix2pix() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*\(epoch: (\d+), iters: (\d+)[^)]*\)\s*(.*)$").expect("valid regex")
    })
}

fn named_value() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(&format!(r"(?i)(\w+): ({NUMBER})")).expect("valid regex"))
}

fn mmengine() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"Epoch\((train|val|test)\)\s*\[(\d+)\]\s*\[\s*(\d+)\s*/\s*(\d+)\s*\]")
            .expect("valid regex")
    })
}

/// An mmengine line's values; `read` reads the rest of the line as any other.
fn mmengine_line<'a>(line: &'a str, read: fn(&'a str) -> LineValues<'a>) -> Option<LineValues<'a>> {
    let c = mmengine().captures(line)?;
    let mut v = read(&line[c.get(0)?.end()..]);
    v.epoch = c[2].parse().ok().map(|e| (e, None));
    if &c[1] == "train" {
        let total = c[4].parse().ok();
        v.step = c[3].parse().ok().map(|s| (s, total));
    } else {
        // The evaluation's own batches are no training step.
        v.step = None;
        v.val = v.train.take().or(v.val);
        v.val_key = v.loss_key.take().or(v.val_key);
    }
    Some(v)
}

/// A pix2pix / CycleGAN line's values.
fn pix2pix_line(line: &str) -> Option<LineValues<'_>> {
    let c = pix2pix().captures(line)?;
    let losses: Vec<(&str, f64)> = named_value()
        .captures_iter(c.get(3)?.as_str())
        .filter_map(|m| {
            let value = super::super::table::parse_number(m.get(2)?.as_str())?;
            Some((m.get(1)?.as_str(), value))
        })
        .collect();
    let chosen = losses
        .iter()
        .position(|(k, _)| k.starts_with('G'))
        .or((!losses.is_empty()).then_some(0))?;
    Some(LineValues {
        epoch: c[1].parse().ok().map(|e| (e, None)),
        step: c[2].parse().ok().map(|s| (s, None)),
        train: Some(losses[chosen].1),
        loss_key: Some(losses[chosen].0),
        train_rank: 1,
        rival_keys: losses
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != chosen)
            .map(|(_, (k, _))| *k)
            .collect(),
        ..LineValues::default()
    })
}

/// The values of a line in one of the formats above, or `None`.
pub(super) fn known_line<'a>(
    line: &'a str,
    read: fn(&'a str) -> LineValues<'a>,
) -> Option<LineValues<'a>> {
    if line.contains("epoch") {
        if let Some(v) = espnet(line, read) {
            return Some(v);
        }
        if line.trim_start().starts_with("(epoch: ") {
            return pix2pix_line(line);
        }
    }
    if line.contains("Epoch(") {
        if let Some(v) = mmengine_line(line, read) {
            return Some(v);
        }
    }
    let number =
        |m: Option<regex::Match>| m.and_then(|m| super::super::table::parse_number(m.as_str()));
    let counter = |m: Option<regex::Match>| number(m).map(|s| (s, None));
    if line.contains("core at iteration") {
        if let Some(c) = dl4j().captures(line) {
            return Some(LineValues {
                step: counter(c.get(1)),
                train: number(c.get(2)),
                ..LineValues::default()
            });
        }
    }
    if line.contains("-Minibatch[") {
        if let Some(c) = cntk().captures(line) {
            return Some(LineValues {
                epoch: number(c.get(1)).map(|e| (e, number(c.get(2)))),
                step: counter(c.get(3)),
                train: number(c.get(5)),
                loss_key: c.get(4).map(|m| m.as_str()),
                ..LineValues::default()
            });
        }
    }
    if line.contains("|| T: ") || line.contains("| T: ") {
        if let Some(c) = yolact().captures(line) {
            return Some(LineValues {
                epoch: counter(c.get(1)),
                step: counter(c.get(2)),
                train: number(c.get(3)),
                loss_key: Some("T"),
                ..LineValues::default()
            });
        }
    }
    // Both start with the iteration: most lines of other logs go no further.
    if !line.trim_start().starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let step_and_loss = |c: regex::Captures<'a>, loss: usize| LineValues {
        step: counter(c.get(1)),
        train: number(c.get(loss)),
        loss_key: Some("the number after the counter"),
        ..LineValues::default()
    };
    if line.contains("/ ") || line.contains(": ") {
        if let Some(c) = makemore().captures(line) {
            return Some(step_and_loss(c, 3));
        }
    }
    if line.contains("%)") {
        if let Some(c) = tutorial_translation().captures(line) {
            return Some(step_and_loss(c, 2));
        }
    }
    if line.contains("% (") {
        if let Some(c) = tutorial_classifier().captures(line) {
            return Some(step_and_loss(c, 2));
        }
    }
    if let Some(v) = yolo_results_row(line) {
        return Some(v);
    }
    if let Some(c) = darknet().captures(line) {
        return Some(LineValues {
            step: counter(c.get(1)),
            train: number(c.get(2)),
            lr: number(c.get(4)),
            ..LineValues::default()
        });
    }
    let c = catboost().captures(line)?;
    Some(LineValues {
        step: counter(c.get(1)),
        train: number(c.get(2)),
        val: number(c.get(3)),
        ..LineValues::default()
    })
}

/// A row of YOLOv3/v5/v7's `results.txt` (see the module doc), or `None`: `e/E`, the memory
/// (`5.21G`), then thirteen numbers.
fn yolo_results_row(line: &str) -> Option<LineValues<'_>> {
    // Every line that starts with a digit comes here: look before collecting anything.
    let mut it = line.split_whitespace();
    if !it.next()?.contains('/') || it.count() != 14 {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let (epoch, total) = words[0].split_once('/')?;
    let (epoch, total): (f64, f64) = (epoch.parse().ok()?, total.parse().ok()?);
    let memory = words[1].trim_end_matches(['G', 'M', 'K']);
    memory.parse::<f64>().ok()?;
    let numbers: Vec<f64> = words[2..]
        .iter()
        .map(|w| super::super::table::parse_number(w))
        .collect::<Option<_>>()?;
    Some(LineValues {
        epoch: Some((epoch, Some(total))),
        train: Some(numbers[0]),
        val: Some(numbers[10]),
        loss_key: Some("box"),
        ..LineValues::default()
    })
}

/// The loss column of an Ultralytics YOLO console header, and where it sits, once one is seen.
#[derive(Debug, Clone)]
pub(super) struct YoloHeader {
    loss_at: usize,
    name: &'static str,
}

/// A YOLO console header line (`Epoch GPU_mem box_loss …`), or `None`.
pub(super) fn yolo_header(line: &str) -> Option<YoloHeader> {
    let line = line.trim_start().trim_start_matches('`').trim_start();
    // (Every line of every log comes here: the cheap test first.)
    if !line.starts_with("Epoch ") {
        return None;
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    let is_header =
        words.len() >= 4 && words[0] == "Epoch" && words[1].eq_ignore_ascii_case("gpu_mem");
    if !is_header {
        return None;
    }
    let loss_at = words.iter().position(|w| {
        let w = w.to_ascii_lowercase();
        w.ends_with("_loss") || matches!(w.as_str(), "box" | "obj" | "cls" | "dfl")
    })?;
    const NAMES: [&str; 8] = [
        "box_loss", "obj_loss", "cls_loss", "dfl_loss", "box", "obj", "cls", "dfl",
    ];
    let lower = words[loss_at].to_ascii_lowercase();
    Some(YoloHeader {
        loss_at,
        name: NAMES.into_iter().find(|n| *n == lower).unwrap_or("loss"),
    })
}

impl YoloHeader {
    /// The values of an epoch's row under this header (`0/499  10.2G  0.1095 …`).
    pub(super) fn row<'a>(&self, line: &'a str) -> Option<LineValues<'a>> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let (epoch, total) = words.first()?.split_once('/')?;
        let epoch: f64 = epoch.parse().ok()?;
        let total: f64 = total.parse().ok()?;
        let loss = words
            .get(self.loss_at)
            .and_then(|w| super::super::table::parse_number(w.trim_end_matches(':')))?;
        Some(LineValues {
            epoch: Some((epoch, Some(total))),
            train: Some(loss),
            loss_key: Some(self.name),
            ..LineValues::default()
        })
    }
}

/// A line that says the loss went non-finite without a step or a value to read: DeiT's, MAE's
/// and DETR's `Loss is nan, stopping training`, `NaN detected`, Keras' `TerminateOnNaN`
/// (`Batch 7: Invalid loss, terminating training`).
pub(super) fn announces_non_finite_loss(line: &str) -> bool {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)\bloss (?:is|was|became|becomes) (?:nan|inf)\b|\b(?:nan|inf) loss\b|\bnan (?:is )?detected\b|\bdetected nan\b|\binvalid loss, terminating\b|\bencountered (?:a )?nan\b",
        )
        .expect("valid regex")
    })
    .is_match(line)
}
