//! `rnnlab.Guard`: the doctor's streaming monitor (`doctor::online`), one call per optimizer
//! step. The judgement and the decision rules are the doctor's, the same ones rnnlab's training
//! guard runs; this file only carries values across and keeps the detector state of the last
//! snapshot so that Python code can roll back.

use doctor::online::{Action, Decision, Detector, DetectorConfig, Mode, Monitor, MonitorConfig};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

fn action_name(a: Action) -> &'static str {
    match a {
        Action::Apply => "ok",
        Action::Skip => "skip",
        Action::Rollback => "rollback",
        Action::Stop => "stop",
    }
}

fn json_name<T: serde::Serialize>(v: T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// What the guard says about one step: `ok` (apply the update), `skip` (drop it: weights and
/// optimizer state untouched), `rollback` (restore the last good snapshot) or `stop`.
#[pyclass(frozen, name = "Action", module = "rnnlab")]
pub struct GuardAction {
    action: Action,
    /// Step, loss and gradient norm judged.
    step: u64,
    loss: f64,
    grad_norm: Option<f64>,
    lr: Option<f64>,
    decision: Option<Decision>,
}

#[pymethods]
impl GuardAction {
    /// `"ok"`, `"skip"`, `"rollback"` or `"stop"`.
    #[getter]
    fn kind(&self) -> &'static str {
        action_name(self.action)
    }
    #[getter]
    fn ok(&self) -> bool {
        self.action == Action::Apply
    }
    /// True for every action that must not apply this update (`skip`, `rollback`, `stop`).
    #[getter]
    fn skip(&self) -> bool {
        self.action != Action::Apply
    }
    #[getter]
    fn rollback(&self) -> bool {
        self.action == Action::Rollback
    }
    #[getter]
    fn stop(&self) -> bool {
        self.action == Action::Stop
    }
    /// Why: `non_finite`, `loss_spike`, `grad_spike`, `divergence`, `repeated_flags`; `None`
    /// when the step is fine.
    #[getter]
    fn reason(&self) -> Option<String> {
        self.decision.and_then(|d| d.reason).map(json_name)
    }
    /// The reason in words (`"loss spike"`), or `None`.
    #[getter]
    fn describe(&self) -> Option<&'static str> {
        self.decision.and_then(|d| d.reason).map(|r| r.describe())
    }
    /// The metrics.jsonl event name rnnlab's trainer writes for this action.
    #[getter]
    fn event(&self) -> &'static str {
        self.action.event()
    }
    #[getter]
    fn step(&self) -> u64 {
        self.step
    }
    #[getter]
    fn loss(&self) -> f64 {
        self.loss
    }
    #[getter]
    fn grad_norm(&self) -> Option<f64> {
        self.grad_norm
    }
    #[getter]
    fn lr(&self) -> Option<f64> {
        self.lr
    }
    /// The statistics behind the decision (window medians, scales, z-scores), as a dict.
    #[getter]
    fn reading<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let Some(d) = self.decision else {
            return Ok(py.None().into_bound(py));
        };
        let text =
            serde_json::to_string(&d.reading).map_err(|e| PyValueError::new_err(e.to_string()))?;
        py.import("json")?.call_method1("loads", (text,))
    }
    fn __bool__(&self) -> bool {
        self.action == Action::Apply
    }
    fn __repr__(&self) -> String {
        match self.decision.and_then(|d| d.reason) {
            Some(r) => format!(
                "Action({} at step {}: {})",
                action_name(self.action),
                self.step,
                r.describe()
            ),
            None => format!("Action({} at step {})", action_name(self.action), self.step),
        }
    }
}

/// Guard(*, mode="full", window=64, warmup=20, z_loss=6.0, min_loss_rise=0.2, z_grad=10.0,
///       min_grad_ratio=10.0, divergence=0.5, rollback_after=3, recent=10, max_rollbacks=3)
///
/// rnnlab's training guard for any loop: one `observe` per optimizer step, before the update
/// is applied, answers whether to apply it. Each step's ln(loss) and ln(pre-clip gradient norm)
/// are scored with robust z-scores against a rolling window of applied steps (skipped steps
/// never enter it, so a burst of bad batches cannot teach it that bad is normal); a NaN or
/// infinite value, or a spike, is skipped; repeated spikes or divergence call for a rollback
/// when a snapshot exists (see `snapshot_taken`), and after `max_rollbacks` rollbacks in one
/// episode of trouble, a stop. The rules and thresholds are those of `rnnlab train --guard`
/// (the doctor's `online` module, shared); `mode="skip"` never rolls back or stops, `"off"`
/// only watches. O(window) per step, no allocation for an `ok` step.
///
///     guard = rnnlab.Guard()
///     for step, batch in enumerate(data):
///         loss = model(batch); loss.backward()
///         gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)  # pre-clip norm
///         if guard.observe(step, loss.item(), gn.item()).skip:
///             opt.zero_grad(); continue
///         opt.step(); opt.zero_grad()
///
/// `rnnlab.torch.guarded_step` does all of that, keeps snapshots for rollbacks and the
/// offending batches for inspection.
#[pyclass(name = "Guard", module = "rnnlab", weakref)]
pub struct RawGuard {
    config: MonitorConfig,
    monitor: Monitor,
    /// The detector as it was at the last snapshot, for a rollback.
    snapshot: Option<Detector>,
    /// Step of the last snapshot.
    snapshot_step: Option<u64>,
    last_step: Option<u64>,
    ok: Py<GuardAction>,
}

#[pymethods]
impl RawGuard {
    #[new]
    #[pyo3(signature = (*, mode="full", window=None, warmup=None, z_loss=None, min_loss_rise=None,
                        z_grad=None, min_grad_ratio=None, divergence=None, rollback_after=None,
                        recent=None, max_rollbacks=None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        mode: &str,
        window: Option<usize>,
        warmup: Option<usize>,
        z_loss: Option<f64>,
        min_loss_rise: Option<f64>,
        z_grad: Option<f64>,
        min_grad_ratio: Option<f64>,
        divergence: Option<f64>,
        rollback_after: Option<usize>,
        recent: Option<u64>,
        max_rollbacks: Option<u32>,
    ) -> PyResult<RawGuard> {
        let mut config = MonitorConfig {
            mode: Mode::parse(mode).map_err(|e| PyValueError::new_err(format!("mode: {e}")))?,
            ..MonitorConfig::default()
        };
        let d: &mut DetectorConfig = &mut config.detector;
        d.window = window.unwrap_or(d.window);
        d.warmup = warmup.unwrap_or(d.warmup);
        d.z_loss = z_loss.unwrap_or(d.z_loss);
        d.min_loss_rise = min_loss_rise.unwrap_or(d.min_loss_rise);
        d.z_grad = z_grad.unwrap_or(d.z_grad);
        d.min_grad_ratio = min_grad_ratio.unwrap_or(d.min_grad_ratio);
        d.divergence = divergence.unwrap_or(d.divergence);
        d.validate()
            .map_err(|(key, why)| PyValueError::new_err(format!("{key}: {why}")))?;
        config.rollback_after = rollback_after.unwrap_or(config.rollback_after);
        config.recent = recent.unwrap_or(config.recent);
        config.max_rollbacks = max_rollbacks.unwrap_or(config.max_rollbacks);
        if config.rollback_after == 0 || config.recent == 0 {
            return Err(PyValueError::new_err(
                "rollback_after and recent must be at least 1",
            ));
        }
        let monitor = Monitor::new(&config.detector);
        let ok = Py::new(
            py,
            GuardAction {
                action: Action::Apply,
                step: 0,
                loss: 0.0,
                grad_norm: None,
                lr: None,
                decision: None,
            },
        )?;
        Ok(RawGuard {
            config,
            monitor,
            snapshot: None,
            snapshot_step: None,
            last_step: None,
            ok,
        })
    }

    /// Judges one step before its update is applied; an `ok` step is recorded as applied.
    #[pyo3(signature = (step, loss, grad_norm=None, lr=None, fresh_state=false))]
    fn observe(
        &mut self,
        py: Python<'_>,
        step: u64,
        loss: f64,
        grad_norm: Option<f64>,
        lr: Option<f64>,
        fresh_state: bool,
    ) -> PyResult<Py<GuardAction>> {
        self.last_step = Some(step);
        let can_roll_back = self.snapshot.is_some();
        let decision = crate::no_panic(|| {
            let decision = self.monitor.observe(
                &self.config,
                step,
                loss,
                grad_norm,
                fresh_state,
                can_roll_back,
            );
            if decision.action == Action::Apply {
                self.monitor.applied(&self.config, loss, grad_norm);
            }
            Ok(decision)
        })?;
        if decision.action == Action::Apply {
            // The common case allocates nothing: one shared `ok` answer.
            return Ok(self.ok.clone_ref(py));
        }
        Py::new(
            py,
            GuardAction {
                action: decision.action,
                step,
                loss,
                grad_norm,
                lr,
                decision: Some(decision),
            },
        )
    }

    /// The caller saved a good state (weights, optimizer): a later rollback returns here.
    fn snapshot_taken(&mut self) {
        self.snapshot = Some(self.monitor.detector.clone());
        self.snapshot_step = self.last_step;
        self.monitor.snapshot_taken();
    }

    /// No step was flagged in the `steps` steps before `step`: a good moment for a snapshot.
    fn quiet_for(&self, step: u64, steps: u64) -> bool {
        self.monitor.quiet_for(step, steps)
    }

    /// The caller restored the last snapshot after a `rollback` action.
    fn rolled_back(&mut self) -> PyResult<()> {
        let Some(restored) = self.snapshot.clone() else {
            return Err(PyValueError::new_err(
                "rolled_back() without a snapshot: call snapshot_taken() when you save a state",
            ));
        };
        self.monitor.rolled_back(restored);
        Ok(())
    }

    /// The caller restored the last snapshot before stopping.
    fn restored_for_stop(&mut self) {
        if let Some(restored) = self.snapshot.clone() {
            self.monitor.restored_for_stop(restored);
        }
    }

    /// One more than the last observed step (0 before any): the default next step number.
    #[getter]
    fn next_step(&self) -> u64 {
        self.last_step.map_or(0, |s| s + 1)
    }
    #[getter]
    fn has_snapshot(&self) -> bool {
        self.snapshot.is_some()
    }
    #[getter]
    fn snapshot_step(&self) -> Option<u64> {
        self.snapshot_step
    }
    #[getter]
    fn mode(&self) -> String {
        json_name(self.config.mode)
    }
    #[getter]
    fn skips(&self) -> u64 {
        self.monitor.skips_total
    }
    #[getter]
    fn rollbacks(&self) -> u32 {
        self.monitor.rollbacks_total
    }
    /// The first flagged step of the current trouble, if any.
    #[getter]
    fn trouble_start(&self) -> Option<u64> {
        self.monitor.trouble_start()
    }
    /// Applied steps in the detector's window.
    #[getter]
    fn accepted(&self) -> usize {
        self.monitor.detector.accepted()
    }

    /// The settings, as a dict.
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let c = &self.config;
        let d = &c.detector;
        let out = PyDict::new(py);
        out.set_item("mode", json_name(c.mode))?;
        out.set_item("window", d.window)?;
        out.set_item("warmup", d.warmup)?;
        out.set_item("z_loss", d.z_loss)?;
        out.set_item("min_loss_rise", d.min_loss_rise)?;
        out.set_item("z_grad", d.z_grad)?;
        out.set_item("min_grad_ratio", d.min_grad_ratio)?;
        out.set_item("divergence", d.divergence)?;
        out.set_item("rollback_after", c.rollback_after)?;
        out.set_item("recent", c.recent)?;
        out.set_item("max_rollbacks", c.max_rollbacks)?;
        Ok(out)
    }
}
