//! rnnlab's doctor: reads a training run's curves from any common format and says whether the
//! loss is normal — and when it is not, names the pathology, where it happened, the evidence and
//! the fix. Independent of the training engine, so the guard can call it online and other
//! tools' logs (PyTorch, TensorBoard, Hugging Face, Lightning, nanoGPT, llm.c…) can be read.
//!
//! Flow: [`formats`] parse files into a [`Run`] → [`detect`] runs the detectors → a
//! [`Diagnosis`] is rendered by [`report`].

pub mod detect;
pub mod error;
pub mod formats;
pub mod online;
pub mod references;
pub mod report;
pub mod run;
pub mod score;

pub use detect::diagnose;
pub use error::DoctorError;
pub use report::{Diagnosis, Finding, FindingKind, Severity, Verdict};
pub use run::{Event, Point, References, Run, SeriesNames};

pub type Result<T> = std::result::Result<T, DoctorError>;
