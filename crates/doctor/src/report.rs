//! The doctor's answer: a verdict, findings, and their renderings (terminal, JSON, Markdown).

use serde::{Deserialize, Serialize};

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
    pub has_val: bool,
    pub has_lr: bool,
    pub has_grad_norm: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Diagnosis {
    pub verdict: Verdict,
    pub findings: Vec<Finding>,
    pub references: References,
    pub series: SeriesInfo,
}
