//! The doctor's answer: a verdict, findings, and their renderings (terminal, JSON, Markdown).

use serde::{Deserialize, Serialize};

use crate::detect::step_str;
use crate::References;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    NonFinite,
    InitLossOff,
    Spike,
    Divergence,
    Instability,
    ExplodingGradients,
    VanishingGradients,
    Stagnation,
    UnigramPlateau,
    Underfitting,
    Oscillation,
    UpwardDrift,
    Overfitting,
    Leakage,
    Periodic,
    InvalidLoss,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    Warning,
    Error,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Healthy,
    Unhealthy,
    /// No problem found, but too little evidence to call the run healthy (a few points, a
    /// run that has barely started); `reasons` says what data would settle it.
    Inconclusive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    pub kind: FindingKind,
    pub severity: Severity,
    pub start_step: Option<f64>,
    pub end_step: Option<f64>,
    pub peak_step: Option<f64>,
    /// One sentence with numbers.
    pub summary: String,
    /// The statistics and reference levels used, by name.
    pub evidence: serde_json::Map<String, serde_json::Value>,
    /// Concrete next steps.
    pub advice: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SeriesInfo {
    pub points: usize,
    /// Validation points read (0 when there is no validation curve).
    #[serde(default)]
    pub val_points: usize,
    pub has_val: bool,
    pub has_lr: bool,
    pub has_grad_norm: bool,
    /// The training curve's first and last step, as read (after stitching restarts).
    #[serde(default)]
    pub steps: Option<(f64, f64)>,
    /// Which column or tag each series came from.
    #[serde(default, skip_serializing_if = "crate::SeriesNames::is_empty")]
    pub columns: crate::SeriesNames,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub references: References,
    pub series: SeriesInfo,
    /// Why the run looks healthy, or why the evidence is too thin to say (and what would
    /// settle it); empty for an unhealthy run.
    #[serde(default)]
    pub reasons: Vec<String>,
}

impl FindingKind {
    pub const ALL: [FindingKind; 16] = [
        FindingKind::NonFinite,
        FindingKind::InitLossOff,
        FindingKind::Spike,
        FindingKind::Divergence,
        FindingKind::Instability,
        FindingKind::ExplodingGradients,
        FindingKind::VanishingGradients,
        FindingKind::Stagnation,
        FindingKind::UnigramPlateau,
        FindingKind::Underfitting,
        FindingKind::Oscillation,
        FindingKind::UpwardDrift,
        FindingKind::Overfitting,
        FindingKind::Leakage,
        FindingKind::Periodic,
        FindingKind::InvalidLoss,
    ];

    /// The kind named `name` (as the JSON writes it).
    pub fn from_name(name: &str) -> Option<FindingKind> {
        FindingKind::ALL.into_iter().find(|k| k.name() == name)
    }

    /// The kind's name exactly as the JSON writes it.
    pub fn name(self) -> &'static str {
        match self {
            FindingKind::NonFinite => "non_finite",
            FindingKind::InitLossOff => "init_loss_off",
            FindingKind::Spike => "spike",
            FindingKind::Divergence => "divergence",
            FindingKind::Instability => "instability",
            FindingKind::ExplodingGradients => "exploding_gradients",
            FindingKind::VanishingGradients => "vanishing_gradients",
            FindingKind::Stagnation => "stagnation",
            FindingKind::UnigramPlateau => "unigram_plateau",
            FindingKind::Underfitting => "underfitting",
            FindingKind::Oscillation => "oscillation",
            FindingKind::UpwardDrift => "upward_drift",
            FindingKind::Overfitting => "overfitting",
            FindingKind::Leakage => "leakage",
            FindingKind::Periodic => "periodic",
            FindingKind::InvalidLoss => "invalid_loss",
        }
    }
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Healthy => "healthy",
            Verdict::Unhealthy => "unhealthy",
            Verdict::Inconclusive => "inconclusive",
        }
    }
}

fn fmt_step(s: Option<f64>) -> String {
    match s {
        Some(s) if s.fract() == 0.0 && s.abs() < 1e15 => format!("{}", s as i64),
        Some(s) => format!("{s}"),
        None => "—".into(),
    }
}

fn fmt_steps(f: &Finding) -> String {
    match (f.start_step, f.end_step) {
        (Some(a), Some(b)) if a == b => fmt_step(Some(a)),
        (Some(a), Some(b)) => format!("{}–{}", fmt_step(Some(a)), fmt_step(Some(b))),
        (a, b) => fmt_step(a.or(b)),
    }
}

/// "steps 10–20", or "step 10" for a finding at a single step.
fn at_steps(f: &Finding) -> String {
    match (f.start_step, f.end_step) {
        (Some(a), Some(b)) if a != b => format!("steps {}", fmt_steps(f)),
        _ => format!("step {}", fmt_steps(f)),
    }
}

fn fmt_ref(x: Option<f64>) -> String {
    x.map_or("unknown".into(), |v| format!("{v:.4}"))
}

impl Diagnosis {
    /// Exactly the issue's schema: verdict, findings, references, series (absent values null).
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }

    fn references_line(&self) -> String {
        let r = &self.references;
        format!(
            "ln V {}, unigram {}, bigram {}, floor {}",
            fmt_ref(r.ln_vocab),
            fmt_ref(r.unigram),
            fmt_ref(r.bigram),
            fmt_ref(r.floor)
        )
    }

    fn series_line(&self) -> String {
        let s = &self.series;
        let mut extra = Vec::new();
        if s.has_val {
            extra.push(match s.val_points {
                0 => "validation".to_string(),
                1 => "validation (1 point)".to_string(),
                n => format!("validation ({n} points)"),
            });
        }
        for (has, name) in [
            (s.has_lr, "learning rate"),
            (s.has_grad_norm, "gradient norm"),
        ] {
            if has {
                extra.push(name.to_string());
            }
        }
        let span = match s.steps {
            Some((a, b)) if s.points > 1 => format!(" (steps {}–{})", step_str(a), step_str(b)),
            Some((a, _)) => format!(" (step {})", step_str(a)),
            None => String::new(),
        };
        format!(
            "{} training point{}{span}{}",
            s.points,
            if s.points == 1 { "" } else { "s" },
            if extra.is_empty() {
                String::new()
            } else {
                format!(", with {}", extra.join(", "))
            }
        )
    }

    /// Human report for a terminal: the verdict, why, then each finding with its advice.
    pub fn to_terminal(&self) -> String {
        let mut out = String::new();
        let problems = self
            .findings
            .iter()
            .filter(|f| f.severity >= Severity::Warning)
            .count();
        match self.verdict {
            Verdict::Healthy => out.push_str("Verdict: HEALTHY — this loss looks normal.\n"),
            Verdict::Unhealthy => out.push_str(&format!(
                "Verdict: UNHEALTHY — {problems} problem{} found.\n",
                if problems == 1 { "" } else { "s" }
            )),
            Verdict::Inconclusive => out.push_str(
                "Verdict: INCONCLUSIVE — no problem found, but too little evidence to call it healthy.\n",
            ),
        }
        out.push_str(&format!("Series: {}\n", self.series_line()));
        if let Some(columns) = self.series.columns.describe() {
            out.push_str(&format!("Read: {columns}\n"));
        }
        out.push_str(&format!("References: {}\n", self.references_line()));
        if !self.reasons.is_empty() {
            out.push_str(match self.verdict {
                Verdict::Inconclusive => "\nWhy it cannot say:\n",
                _ => "\nWhy it looks healthy:\n",
            });
            for r in &self.reasons {
                out.push_str(&format!("  - {r}\n"));
            }
        }
        for f in &self.findings {
            out.push_str(&format!(
                "\n[{}] {} at {}\n  {}\n  Fix: {}\n",
                f.severity.name().to_uppercase(),
                f.kind.name(),
                at_steps(f),
                f.summary,
                f.advice
            ));
            if !f.evidence.is_empty() {
                let ev: Vec<String> = f
                    .evidence
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect();
                out.push_str(&format!("  Evidence: {}\n", ev.join(", ")));
            }
        }
        out
    }

    /// Markdown for issues and notebooks.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("## Loss diagnosis: **{}**\n\n", self.verdict.name());
        out.push_str(&format!("- Series: {}\n", self.series_line()));
        if let Some(columns) = self.series.columns.describe() {
            out.push_str(&format!("- Read: {columns}\n"));
        }
        out.push_str(&format!("- References: {}\n", self.references_line()));
        if !self.reasons.is_empty() {
            out.push_str(match self.verdict {
                Verdict::Inconclusive => "\n### Why it cannot say\n\n",
                _ => "\n### Why it looks healthy\n\n",
            });
            for r in &self.reasons {
                out.push_str(&format!("- {r}\n"));
            }
        }
        if !self.findings.is_empty() {
            out.push_str("\n| severity | kind | steps | summary |\n|---|---|---|---|\n");
            for f in &self.findings {
                out.push_str(&format!(
                    "| {} | `{}` | {} | {} |\n",
                    f.severity.name(),
                    f.kind.name(),
                    fmt_steps(f),
                    f.summary.replace('|', "\\|")
                ));
            }
            for f in &self.findings {
                out.push_str(&format!(
                    "\n### `{}` ({})\n\n{}\n\n**Fix:** {}\n",
                    f.kind.name(),
                    f.severity.name(),
                    f.summary,
                    f.advice
                ));
                if !f.evidence.is_empty() {
                    out.push_str("\n<details><summary>evidence</summary>\n\n```json\n");
                    out.push_str(&serde_json::to_string_pretty(&f.evidence).unwrap_or_default());
                    out.push_str("\n```\n</details>\n");
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Diagnosis {
        let mut evidence = serde_json::Map::new();
        evidence.insert("ratio".into(), serde_json::json!(4.3));
        Diagnosis {
            verdict: Verdict::Unhealthy,
            findings: vec![Finding {
                kind: FindingKind::ExplodingGradients,
                severity: Severity::Warning,
                start_step: Some(400.0),
                end_step: Some(402.0),
                peak_step: None,
                summary: "Loss jumps.".into(),
                evidence,
                advice: "Inspect the batch of step 400.".into(),
            }],
            references: References {
                ln_vocab: Some(4.17),
                ..References::default()
            },
            series: SeriesInfo {
                points: 800,
                val_points: 32,
                has_val: true,
                has_lr: false,
                has_grad_norm: false,
                steps: Some((0.0, 799.0)),
                columns: crate::SeriesNames::default(),
            },
            reasons: vec!["a reason".into()],
        }
    }

    #[test]
    fn json_has_exactly_the_schema_keys_and_names() {
        let text = sample().to_json();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let keys = |v: &serde_json::Value| {
            let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
            k.sort();
            k
        };
        assert_eq!(
            keys(&v),
            ["findings", "reasons", "references", "series", "verdict"]
        );
        assert_eq!(v["reasons"][0], "a reason");
        // Written in the schema's order.
        let pos = |k: &str| text.find(&format!("\"{k}\"")).unwrap();
        assert!(pos("verdict") < pos("findings") && pos("findings") < pos("references"));
        assert_eq!(v["verdict"], "unhealthy");
        let f = &v["findings"][0];
        assert_eq!(f["kind"], "exploding_gradients");
        assert_eq!(f["severity"], "warning");
        assert!(f["peak_step"].is_null());
        assert_eq!(
            keys(f),
            [
                "advice",
                "end_step",
                "evidence",
                "kind",
                "peak_step",
                "severity",
                "start_step",
                "summary"
            ]
        );
        assert_eq!(
            keys(&v["references"]),
            ["bigram", "floor", "ln_vocab", "unigram"]
        );
        assert!(v["references"]["unigram"].is_null());
        assert_eq!(
            keys(&v["series"]),
            [
                "has_grad_norm",
                "has_lr",
                "has_val",
                "points",
                "steps",
                "val_points"
            ]
        );
        assert_eq!(v["series"]["has_val"], true);
    }

    #[test]
    fn kind_names_match_serde() {
        for k in [
            FindingKind::NonFinite,
            FindingKind::UnigramPlateau,
            FindingKind::InvalidLoss,
            FindingKind::UpwardDrift,
        ] {
            assert_eq!(serde_json::to_value(k).unwrap(), k.name());
        }
    }

    #[test]
    fn human_reports_name_the_kind_steps_and_fix() {
        let d = sample();
        let t = d.to_terminal();
        assert!(
            t.contains("UNHEALTHY")
                && t.contains("exploding_gradients at steps 400–402")
                && t.contains("Fix: Inspect")
        );
        let m = d.to_markdown();
        assert!(m.contains("| warning | `exploding_gradients` | 400–402 |"));
    }
}
