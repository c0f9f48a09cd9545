//! `rnnlab._rnnlab`: the compiled half of the `rnnlab` Python package. It wraps the doctor, guard
//! and plot crates directly (no subprocess); the Python half (`python/rnnlab/`) gives it a typed,
//! documented face and the framework integrations.
//!
//! Every entry point returns a Python exception rather than unwinding: a Rust error becomes
//! `ValueError` (bad input), `FileNotFoundError`/`PermissionError`/`OSError` (file trouble) with
//! the message the CLI prints, and a panic (a bug) becomes `RuntimeError`.

mod guard;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use doctor::formats::{
    load_bytes_for_diagnosis, load_columns_for_diagnosis, load_for_diagnosis, Column, LoadOptions,
};
use doctor::{DoctorError, References, Run};
use pyo3::exceptions::{
    PyFileNotFoundError, PyOSError, PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;
use pyo3::types::PyBytes;

/// The error and its causes on one line, skipping a cause the message already quotes: what the
/// CLI prints after `error: `.
fn one_line(err: &dyn std::error::Error) -> String {
    let mut line = String::new();
    let mut cause: Option<&dyn std::error::Error> = Some(err);
    while let Some(e) = cause {
        let text = e.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
        cause = e.source();
    }
    line
}

fn io_err(kind: std::io::ErrorKind, message: String) -> PyErr {
    match kind {
        std::io::ErrorKind::NotFound => PyFileNotFoundError::new_err(message),
        std::io::ErrorKind::PermissionDenied => PyPermissionError::new_err(message),
        _ => PyOSError::new_err(message),
    }
}

fn doctor_err(e: DoctorError) -> PyErr {
    let message = one_line(&e);
    match &e {
        DoctorError::Io { source, .. } => io_err(source.kind(), message),
        _ => PyValueError::new_err(message),
    }
}

fn plot_err(e: plot::PlotError) -> PyErr {
    let message = one_line(&e);
    match &e {
        plot::PlotError::Io { source, .. } => io_err(source.kind(), message),
        _ => PyValueError::new_err(message),
    }
}

/// Runs `f`, turning a panic into `RuntimeError` so that no unwinding reaches Python.
fn no_panic<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "unknown panic".into());
        Err(PyRuntimeError::new_err(format!(
            "rnnlab internal error (please report it): {what}"
        )))
    })
}

/// Reference levels of a training text, as `rnnlab doctor --corpus PATH` computes them with
/// its default (character) tokenizer.
fn corpus_references(path: &Path, tokenizer: &str) -> PyResult<References> {
    if tokenizer != "char" {
        return Err(PyValueError::new_err(format!(
            "tokenizer {tokenizer:?} is not available from Python (only \"char\"); compute the \
             levels with `rnnlab doctor --corpus {} --tokenizer {tokenizer}`",
            path.display()
        )));
    }
    let text = std::fs::read_to_string(path).map_err(|e| {
        io_err(
            e.kind(),
            format!(
                "{}: cannot read the corpus as UTF-8 text: {e}",
                path.display()
            ),
        )
    })?;
    Ok(doctor::references::from_text(&text))
}

/// What every `diagnose_*` entry point takes besides the data: the CLI's flags.
#[allow(clippy::too_many_arguments)]
fn load_options(
    vocab_size: Option<usize>,
    steps_per_epoch: Option<f64>,
    step_col: Option<String>,
    loss_col: Option<String>,
    val_col: Option<String>,
    lr_col: Option<String>,
    grad_col: Option<String>,
    pattern: Option<String>,
) -> PyResult<LoadOptions> {
    if let Some(s) = steps_per_epoch {
        if !(s.is_finite() && s > 0.0) {
            return Err(PyValueError::new_err(format!(
                "steps_per_epoch must be a positive number, not {s}"
            )));
        }
    }
    Ok(LoadOptions {
        step_col,
        loss_col,
        val_col,
        lr_col,
        grad_col,
        pattern,
        vocab_size,
        steps_per_epoch,
        run: None,
    })
}

/// A run and the doctor's diagnosis of it.
#[pyclass(frozen, module = "rnnlab._rnnlab")]
struct RawDiagnosis {
    run: Run,
    diagnosis: doctor::Diagnosis,
    /// The input the run was read from, for the report's config, samples and incidents.
    input: Option<PathBuf>,
}

fn diagnosed(run: Run, input: Option<PathBuf>) -> RawDiagnosis {
    let diagnosis = doctor::diagnose(&run);
    RawDiagnosis {
        run,
        diagnosis,
        input,
    }
}

/// Reads one run from files (every format `rnnlab doctor` reads; several paths are one run)
/// and diagnoses it, exactly as `rnnlab doctor PATHS…` does.
#[pyfunction]
#[pyo3(signature = (paths, *, vocab_size=None, steps_per_epoch=None, corpus=None, tokenizer="char",
                    step_col=None, loss_col=None, val_col=None, lr_col=None, grad_col=None, pattern=None))]
#[allow(clippy::too_many_arguments)]
fn diagnose_paths(
    py: Python<'_>,
    paths: Vec<PathBuf>,
    vocab_size: Option<usize>,
    steps_per_epoch: Option<f64>,
    corpus: Option<PathBuf>,
    tokenizer: &str,
    step_col: Option<String>,
    loss_col: Option<String>,
    val_col: Option<String>,
    lr_col: Option<String>,
    grad_col: Option<String>,
    pattern: Option<String>,
) -> PyResult<RawDiagnosis> {
    let opts = load_options(
        vocab_size,
        steps_per_epoch,
        step_col,
        loss_col,
        val_col,
        lr_col,
        grad_col,
        pattern,
    )?;
    let tokenizer = tokenizer.to_string();
    py.allow_threads(|| {
        no_panic(|| {
            let corpus = corpus
                .as_deref()
                .map(|c| corpus_references(c, &tokenizer))
                .transpose()?;
            let run = load_for_diagnosis(&paths, &opts, corpus.as_ref()).map_err(doctor_err)?;
            let input = (paths.len() == 1).then(|| paths[0].clone());
            Ok(diagnosed(run, input))
        })
    })
}

/// Diagnoses an in-memory table: `(name, values)` columns, `None` for a missing cell. Read
/// exactly as the same table written to `NAME.csv` would be.
#[pyfunction]
#[pyo3(signature = (columns, *, name="data", vocab_size=None, steps_per_epoch=None, corpus=None,
                    tokenizer="char", step_col=None, loss_col=None, val_col=None, lr_col=None,
                    grad_col=None))]
#[allow(clippy::too_many_arguments)]
fn diagnose_columns(
    py: Python<'_>,
    columns: Vec<Column>,
    name: &str,
    vocab_size: Option<usize>,
    steps_per_epoch: Option<f64>,
    corpus: Option<PathBuf>,
    tokenizer: &str,
    step_col: Option<String>,
    loss_col: Option<String>,
    val_col: Option<String>,
    lr_col: Option<String>,
    grad_col: Option<String>,
) -> PyResult<RawDiagnosis> {
    let opts = load_options(
        vocab_size,
        steps_per_epoch,
        step_col,
        loss_col,
        val_col,
        lr_col,
        grad_col,
        None,
    )?;
    let (name, tokenizer) = (name.to_string(), tokenizer.to_string());
    py.allow_threads(|| {
        no_panic(|| {
            let corpus = corpus
                .as_deref()
                .map(|c| corpus_references(c, &tokenizer))
                .transpose()?;
            let run = load_columns_for_diagnosis(&columns, &name, &opts, corpus.as_ref())
                .map_err(doctor_err)?;
            Ok(diagnosed(run, None))
        })
    })
}

/// Diagnoses a file's content held in memory, read as a file called `name` would be (the
/// name picks the format: `trainer_state.json`, `x.jsonl`, `x.csv`, …).
#[pyfunction]
#[pyo3(signature = (data, name, *, vocab_size=None, steps_per_epoch=None, corpus=None,
                    tokenizer="char", step_col=None, loss_col=None, val_col=None, lr_col=None,
                    grad_col=None, pattern=None))]
#[allow(clippy::too_many_arguments)]
fn diagnose_bytes(
    py: Python<'_>,
    data: &[u8],
    name: &str,
    vocab_size: Option<usize>,
    steps_per_epoch: Option<f64>,
    corpus: Option<PathBuf>,
    tokenizer: &str,
    step_col: Option<String>,
    loss_col: Option<String>,
    val_col: Option<String>,
    lr_col: Option<String>,
    grad_col: Option<String>,
    pattern: Option<String>,
) -> PyResult<RawDiagnosis> {
    let opts = load_options(
        vocab_size,
        steps_per_epoch,
        step_col,
        loss_col,
        val_col,
        lr_col,
        grad_col,
        pattern,
    )?;
    let (name, tokenizer) = (name.to_string(), tokenizer.to_string());
    py.allow_threads(|| {
        no_panic(|| {
            let corpus = corpus
                .as_deref()
                .map(|c| corpus_references(c, &tokenizer))
                .transpose()?;
            let run = load_bytes_for_diagnosis(data, &name, &opts, corpus.as_ref())
                .map_err(doctor_err)?;
            Ok(diagnosed(run, None))
        })
    })
}

fn plot_options(
    smooth: f64,
    log_x: bool,
    log_y: bool,
    width: u32,
    height: u32,
    title: Option<String>,
) -> PyResult<plot::PlotOptions> {
    if !(0.0..1.0).contains(&smooth) {
        return Err(PyValueError::new_err(format!(
            "smooth {smooth} is outside [0, 1)"
        )));
    }
    if width == 0 || height == 0 {
        return Err(PyValueError::new_err(format!(
            "size {width}x{height} is empty"
        )));
    }
    Ok(plot::PlotOptions {
        smooth,
        log_x,
        log_y,
        width,
        height,
        title,
        y_range: plot::YRange::Auto,
    })
}

impl RawDiagnosis {
    fn pair(&self) -> [(Run, doctor::Diagnosis); 1] {
        [(self.run.clone(), self.diagnosis.clone())]
    }
}

#[pymethods]
impl RawDiagnosis {
    /// `healthy`, `unhealthy` or `inconclusive`, as the JSON writes it.
    #[getter]
    fn verdict(&self) -> String {
        serde_json::to_value(self.diagnosis.verdict)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default()
    }

    /// The run's display name (file, folder or the `name` given).
    #[getter]
    fn name(&self) -> String {
        self.run.name.clone()
    }

    /// Exactly what `rnnlab doctor --json` prints.
    fn to_json(&self) -> PyResult<String> {
        no_panic(|| Ok(self.diagnosis.to_json()))
    }

    /// What `rnnlab doctor --markdown` prints.
    fn to_markdown(&self) -> PyResult<String> {
        no_panic(|| Ok(self.diagnosis.to_markdown()))
    }

    /// What `rnnlab doctor` prints on a terminal.
    fn to_terminal(&self) -> PyResult<String> {
        no_panic(|| Ok(self.diagnosis.to_terminal()))
    }

    /// Why the doctor judged as it did, in sentences.
    fn reasons(&self) -> Vec<String> {
        self.diagnosis.reasons.clone()
    }

    /// What the reader warned about while loading (the CLI prints these as `warning: …`).
    fn warnings(&self) -> Vec<String> {
        self.run.warnings.clone()
    }

    /// The training-loss points as `(step, value)` pairs (for tests and custom plots).
    fn train_loss(&self) -> Vec<(f64, f64)> {
        self.run
            .train_loss
            .iter()
            .map(|p| (p.step, p.value))
            .collect()
    }

    /// The chart as an SVG document, as `rnnlab plot -o x.svg` draws it.
    #[pyo3(signature = (*, smooth=0.9, log_x=false, log_y=false, width=1200, height=720, title=None))]
    #[allow(clippy::too_many_arguments)]
    fn svg(
        &self,
        py: Python<'_>,
        smooth: f64,
        log_x: bool,
        log_y: bool,
        width: u32,
        height: u32,
        title: Option<String>,
    ) -> PyResult<String> {
        let opts = plot_options(smooth, log_x, log_y, width, height, title)?;
        py.allow_threads(|| no_panic(|| plot::render_svg(&self.pair(), &opts).map_err(plot_err)))
    }

    /// The chart as PNG bytes.
    #[pyo3(signature = (*, smooth=0.9, log_x=false, log_y=false, width=1200, height=720, title=None))]
    #[allow(clippy::too_many_arguments)]
    fn png<'py>(
        &self,
        py: Python<'py>,
        smooth: f64,
        log_x: bool,
        log_y: bool,
        width: u32,
        height: u32,
        title: Option<String>,
    ) -> PyResult<Bound<'py, PyBytes>> {
        let opts = plot_options(smooth, log_x, log_y, width, height, title)?;
        let bytes = py.allow_threads(|| {
            no_panic(|| plot::render_png(&self.pair(), &opts).map_err(plot_err))
        })?;
        Ok(PyBytes::new(py, &bytes))
    }

    /// Writes the chart to `path`, SVG or PNG by its extension.
    #[pyo3(signature = (path, *, smooth=0.9, log_x=false, log_y=false, width=1200, height=720, title=None))]
    #[allow(clippy::too_many_arguments)]
    fn write_plot(
        &self,
        py: Python<'_>,
        path: PathBuf,
        smooth: f64,
        log_x: bool,
        log_y: bool,
        width: u32,
        height: u32,
        title: Option<String>,
    ) -> PyResult<()> {
        let opts = plot_options(smooth, log_x, log_y, width, height, title)?;
        py.allow_threads(|| {
            no_panic(|| plot::write_plot(&path, &self.pair(), &opts).map_err(plot_err))
        })
    }

    /// The self-contained HTML report, as `rnnlab report` writes it: with the config, samples
    /// and guard incidents when the run was read from an rnnlab run directory.
    #[pyo3(signature = (*, title=None))]
    fn report_html(&self, py: Python<'_>, title: Option<String>) -> PyResult<String> {
        py.allow_threads(|| {
            no_panic(|| {
                let mut extras = match &self.input {
                    Some(input) => plot::extras::extras_for_input(input).0,
                    None => plot::ReportExtras::default(),
                };
                extras.title = title;
                Ok(plot::render_report_html(
                    &self.run,
                    &self.diagnosis,
                    &extras,
                ))
            })
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "<RawDiagnosis {}: {}, {} findings>",
            self.run.name,
            self.verdict(),
            self.diagnosis.findings.len()
        )
    }
}

/// The compiled core of the `rnnlab` package.
#[pymodule]
fn _rnnlab(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add_class::<RawDiagnosis>()?;
    m.add_class::<guard::RawGuard>()?;
    m.add_class::<guard::GuardAction>()?;
    m.add_function(wrap_pyfunction!(diagnose_paths, m)?)?;
    m.add_function(wrap_pyfunction!(diagnose_columns, m)?)?;
    m.add_function(wrap_pyfunction!(diagnose_bytes, m)?)?;
    Ok(())
}
