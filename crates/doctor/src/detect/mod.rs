//! The detectors: one module per pathology family, each reading a [`crate::Run`] and
//! returning [`crate::Finding`]s.
