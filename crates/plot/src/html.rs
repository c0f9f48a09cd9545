//! The self-contained HTML report: one file, no network (styles, script and data inline), with an
//! interactive chart, the doctor's verdict and findings, incidents, samples and the config.
//!
//! The page is also the live dashboard: its script exposes `window.rnnlab.update(message)`, where
//! a message is what [`page_data_json`] writes, and when [`ReportExtras::live_events_url`] is set
//! it subscribes to that server-sent-events URL and feeds every event's data to `update`.

use crate::series::min_max_downsample;
use doctor::{Diagnosis, Finding, Point, Run, Severity};
use serde_json::{json, Value};

const CSS: &str = include_str!("../assets/report.css");
const JS: &str = include_str!("../assets/report.js");
const JS_RANGE: &str = include_str!("../assets/report_range.js");

/// Series longer than this are embedded reduced to per-bucket min/max (spikes kept), so a
/// million-step run still makes a page a browser opens quickly.
const MAX_EMBEDDED_POINTS: usize = 200_000;

/// A generated text sample.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    pub step: Option<f64>,
    pub text: String,
}

/// A guard incident: what was seen and done (its JSON file) and the batch that caused it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Incident {
    pub step: f64,
    /// The action or trigger, e.g. `skip`, `rollback`.
    pub kind: String,
    /// The incident file's content, shown verbatim.
    pub json: String,
    /// The offending batch decoded to text, when known.
    pub batch_text: Option<String>,
}

/// What a report shows besides the curves and the diagnosis.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ReportExtras {
    /// Page heading; defaults to the run's name.
    pub title: Option<String>,
    /// The run's configuration, shown verbatim (TOML or JSON).
    pub config: Option<String>,
    pub samples: Vec<Sample>,
    pub incidents: Vec<Incident>,
    /// Server-sent-events URL (e.g. `/events`) for the live dashboard; `None` for a static report.
    pub live_events_url: Option<String>,
    /// Facts for the summary card that the loss curves do not hold.
    pub facts: RunFacts,
}

/// What a run directory knows about a run beyond its losses (from `meta.json` and
/// `metrics.jsonl`); each is left out of the summary card when unknown.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunFacts {
    /// Trainable parameters.
    pub params: Option<u64>,
    /// Wall-clock training time in seconds.
    pub time_s: Option<f64>,
    /// Training throughput, tokens per second (median of the logged steps).
    pub tok_per_s: Option<f64>,
    /// The tokenizer (`char`, `byte`, `word`, …): names the unit of the bits.
    pub tokenizer: Option<String>,
    /// Validation tokens per character and per byte of the validation text (from `meta.json`),
    /// so a word or BPE run's loss also reads in bits per character and per byte.
    pub tokens_per_char: Option<f64>,
    pub tokens_per_byte: Option<f64>,
}

fn duration_text(s: f64) -> String {
    if s < 60.0 {
        format!("{s:.1} s")
    } else if s < 3600.0 {
        format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64)
    } else {
        format!(
            "{}h {:02}m",
            (s / 3600.0) as u64,
            ((s % 3600.0) / 60.0) as u64
        )
    }
}

fn count_text(n: f64) -> String {
    if n >= 1e9 {
        format!("{:.2}G", n / 1e9)
    } else if n >= 1e6 {
        format!("{:.2}M", n / 1e6)
    } else if n >= 1e4 {
        format!("{:.1}k", n / 1e3)
    } else {
        format!("{n:.0}")
    }
}

/// The summary card's entries (label, value): best and final validation loss with perplexity
/// and bits, final training loss, parameters, time and throughput; unknown ones left out.
pub fn summary_entries(run: &Run, facts: &RunFacts) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let unit = match facts.tokenizer.as_deref() {
        Some("char") => "char",
        Some("byte") => "byte",
        Some("word") => "word",
        _ => "token",
    };
    let finite = |points: &[Point]| -> Vec<Point> {
        points
            .iter()
            .copied()
            .filter(|p| p.value.is_finite())
            .collect()
    };
    let val = finite(&run.val_loss);
    let best = val
        .iter()
        .copied()
        .min_by(|a, b| a.value.total_cmp(&b.value));
    if let Some(b) = best {
        out.push((
            "best val loss".into(),
            format!("{:.4} @ step {}", b.value, step_text(Some(b.step))),
        ));
        out.push(("best val ppl".into(), format!("{:.3}", b.value.exp())));
        let bits = b.value / std::f64::consts::LN_2;
        out.push((format!("best val bits/{unit}"), format!("{bits:.4}")));
        // Per character and per byte too where the token is another unit: the figures that
        // compare across tokenizers.
        for (name, per) in [
            ("char", facts.tokens_per_char),
            ("byte", facts.tokens_per_byte),
        ] {
            if let Some(per) = per.filter(|p| p.is_finite() && *p > 0.0 && unit != name) {
                out.push((
                    format!("best val bits/{name}"),
                    format!("{:.4}", bits * per),
                ));
            }
        }
    }
    if let Some(last) = val.last() {
        out.push((
            "final val loss".into(),
            format!("{:.4} (ppl {:.3})", last.value, last.value.exp()),
        ));
    }
    if let Some(last) = finite(&run.train_loss).last() {
        out.push((
            "final train loss".into(),
            format!("{:.4} @ step {}", last.value, step_text(Some(last.step))),
        ));
    }
    if let Some(p) = facts.params {
        out.push(("parameters".into(), count_text(p as f64)));
    }
    if let Some(t) = facts.time_s.filter(|t| t.is_finite() && *t > 0.0) {
        out.push(("time".into(), duration_text(t)));
    }
    if let Some(r) = facts.tok_per_s.filter(|r| r.is_finite() && *r > 0.0) {
        out.push(("tok/s".into(), count_text(r)));
    }
    out
}

fn summary_html(run: &Run, facts: &RunFacts) -> String {
    let entries = summary_entries(run, facts);
    if entries.is_empty() {
        return String::new();
    }
    let items: String = entries
        .iter()
        .map(|(k, v)| format!("<div><dt>{}</dt><dd>{}</dd></div>", escape(k), escape(v)))
        .collect();
    format!("<section class=\"card\" id=\"summary\">\n<h2>Summary</h2>\n<dl class=\"summary\">{items}</dl>\n</section>\n")
}

/// How a data message changes what the page holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// Everything is replaced (the page's first message, or a reload).
    Replace,
    /// Points with steps beyond those held are appended; events are added; a diagnosis, when
    /// present, replaces the shown one.
    Append,
}

fn series_json(points: &[Point]) -> Value {
    let reduced;
    let points = if points.len() > MAX_EMBEDDED_POINTS {
        let (lo, hi) = (points[0].step, points[points.len() - 1].step);
        let buckets = (MAX_EMBEDDED_POINTS / 4) as f64;
        let width = (hi - lo).max(f64::MIN_POSITIVE);
        reduced = min_max_downsample(points, |s| ((s - lo) / width * buckets) as i64);
        &reduced[..]
    } else {
        points
    };
    // JSON has no NaN: non-finite values travel as null, which the page draws as a gap.
    Value::Array(
        points
            .iter()
            .map(|p| {
                json!([
                    p.step,
                    if p.value.is_finite() {
                        json!(p.value)
                    } else {
                        Value::Null
                    }
                ])
            })
            .collect(),
    )
}

/// The message the page's `rnnlab.update` takes: series as `[step, value|null]` pairs, events,
/// reference levels and (optionally) the diagnosis. Safe to embed in a `<script>` element.
pub fn page_data_json(run: &Run, diagnosis: Option<&Diagnosis>, mode: UpdateMode) -> String {
    let r = &run.references;
    let d = diagnosis.map(|d| &d.references);
    let pick = |a: Option<f64>, b: Option<Option<f64>>| a.or(b.flatten());
    let message = json!({
        "mode": match mode { UpdateMode::Replace => "replace", UpdateMode::Append => "append" },
        "name": run.name,
        "series": {
            "train_loss": series_json(&run.train_loss),
            "val_loss": series_json(&run.val_loss),
            "lr": series_json(&run.lr),
            "grad_norm": series_json(&run.grad_norm),
        },
        "events": run.events,
        "references": {
            "ln V": pick(r.ln_vocab, d.map(|d| d.ln_vocab)),
            "unigram": pick(r.unigram, d.map(|d| d.unigram)),
            "bigram": pick(r.bigram, d.map(|d| d.bigram)),
            "floor": pick(r.floor, d.map(|d| d.floor)),
        },
        "diagnosis": diagnosis,
    });
    // `<` only occurs inside strings, where \u003c means the same: no `</script>` can close early.
    message.to_string().replace('<', "\\u003c")
}

pub(crate) fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn step_text(s: Option<f64>) -> String {
    match s {
        Some(s) if s.fract() == 0.0 && s.abs() < 1e15 => format!("{}", s as i64),
        Some(s) => format!("{s}"),
        None => "—".into(),
    }
}

fn steps_text(f: &Finding) -> String {
    match (f.start_step, f.end_step) {
        (Some(a), Some(b)) if a != b => format!("{}–{}", step_text(Some(a)), step_text(Some(b))),
        (a, b) => step_text(a.or(f.peak_step).or(b)),
    }
}

fn attr_step(s: Option<f64>) -> String {
    s.filter(|v| v.is_finite())
        .map_or(String::new(), |v| v.to_string())
}

/// The findings table's rows (the script rebuilds them the same way when a diagnosis arrives).
fn finding_rows(diagnosis: &Diagnosis) -> String {
    if diagnosis.findings.is_empty() {
        return "<tr class=\"none\"><td colspan=\"5\">No findings.</td></tr>".into();
    }
    let mut rows = String::new();
    for f in &diagnosis.findings {
        let sev = match f.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        };
        rows.push_str(&format!(
            "<tr class=\"finding sev-{sev}\" data-start=\"{}\" data-end=\"{}\" data-peak=\"{}\" title=\"Click to zoom the chart to these steps\">\
             <td><span class=\"badge\">{sev}</span></td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            attr_step(f.start_step),
            attr_step(f.end_step),
            attr_step(f.peak_step),
            escape(f.kind.name()),
            escape(&steps_text(f)),
            escape(&f.summary),
            escape(&f.advice),
        ));
    }
    rows
}

fn verdict_html(diagnosis: &Diagnosis) -> String {
    let problems = diagnosis
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .count();
    match diagnosis.verdict {
        doctor::Verdict::Healthy => "<div id=\"verdict\" class=\"verdict healthy\">Healthy — this loss looks normal.</div>".into(),
        doctor::Verdict::Unhealthy => format!(
            "<div id=\"verdict\" class=\"verdict unhealthy\">Unhealthy — {problems} problem{} found.</div>",
            if problems == 1 { "" } else { "s" }
        ),
        doctor::Verdict::Inconclusive => "<div id=\"verdict\" class=\"verdict inconclusive\">Inconclusive — no problem found, but too little evidence to call it healthy.</div>".into(),
    }
}

fn incidents_html(incidents: &[Incident]) -> String {
    let mut out = String::new();
    for i in incidents {
        out.push_str(&format!(
            "<details class=\"incident\" data-step=\"{}\"><summary>step {} — {}</summary><h3>incident</h3><pre>{}</pre>",
            attr_step(Some(i.step)),
            escape(&step_text(Some(i.step))),
            escape(&i.kind),
            escape(&i.json)
        ));
        if let Some(batch) = &i.batch_text {
            out.push_str(&format!(
                "<h3>batch text</h3><pre class=\"batch\">{}</pre>",
                escape(batch)
            ));
        }
        out.push_str("</details>");
    }
    out
}

fn samples_html(samples: &[Sample]) -> String {
    samples
        .iter()
        .map(|s| {
            let head = s.step.map_or(String::new(), |st| {
                format!("<h3>step {}</h3>", escape(&step_text(Some(st))))
            });
            format!(
                "<div class=\"sample\">{head}<pre>{}</pre></div>",
                escape(&s.text)
            )
        })
        .collect()
}

/// The whole report page for one run.
pub fn render_report_html(run: &Run, diagnosis: &Diagnosis, extras: &ReportExtras) -> String {
    let title = extras.title.clone().unwrap_or_else(|| run.name.clone());
    // Sections with nothing to show (a plain CSV has no incidents, samples or config) are left out.
    let section = |id: &str, heading: &str, body: String| {
        if body.is_empty() {
            String::new()
        } else {
            format!(
                "<section class=\"card\">\n<h2>{heading}</h2>\n<div id=\"{id}\">{body}</div>\n</section>\n"
            )
        }
    };
    let extra_sections = [
        section("incidents", "Incidents", incidents_html(&extras.incidents)),
        section("samples", "Samples", samples_html(&extras.samples)),
        section(
            "config",
            "Config",
            extras
                .config
                .as_deref()
                .filter(|c| !c.trim().is_empty())
                .map_or(String::new(), |c| format!("<pre>{}</pre>", escape(c))),
        ),
    ]
    .concat();
    let live = extras
        .live_events_url
        .as_deref()
        .map_or(String::new(), |u| format!(" data-live=\"{}\"", escape(u)));
    let data = page_data_json(run, Some(diagnosis), UpdateMode::Replace);
    format!(
        r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>rnnlab · {title}</title>
<style>
{CSS}</style>
</head>
<body{live}>
<header>
<h1>{title}</h1>
{verdict}
<span id="live-status" class="live-status" hidden>live</span>
</header>
<main>
{summary}<section class="card" id="chart-card">
<div class="toolbar">
<div id="legend" class="legend"></div>
<label>smoothing <input id="smooth" type="range" min="0" max="0.99" step="0.01" value="0.9"><output id="smooth-value">0.9</output></label>
<label><input id="log-y" type="checkbox"> log y</label>
<label title="Fit the loss axis to what the curves mostly show, so a spike does not squash them (on by itself when a few points would)"><input id="ignore-outliers" type="checkbox"> ignore outliers</label>
<button id="reset-zoom" type="button">reset zoom</button>
</div>
<div class="chart" id="loss-chart"></div>
<div class="chart small" id="grad-chart" hidden></div>
<p class="hint">Drag across the chart or scroll to zoom the steps, double-click to reset; click a finding to zoom to it.</p>
</section>
<section class="card">
<h2>Findings</h2>
<table id="findings">
<thead><tr><th>severity</th><th>kind</th><th>steps</th><th>summary</th><th>fix</th></tr></thead>
<tbody>{rows}</tbody>
</table>
</section>
{extra_sections}</main>
<script id="rnnlab-data" type="application/json">{data}</script>
<script>
{JS_RANGE}
{JS}</script>
</body>
</html>
"#,
        title = escape(&title),
        verdict = verdict_html(diagnosis),
        rows = finding_rows(diagnosis),
        summary = summary_html(run, &extras.facts),
    )
}

#[cfg(test)]
#[path = "html_tests.rs"]
mod tests;
