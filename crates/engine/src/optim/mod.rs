//! Optimizers, gradient clipping and learning-rate schedules over the flat [`crate::ParamStore`].
