pub mod checkpoint;
pub mod config;
mod config_doc;
pub mod dashboard;
pub mod data;
pub mod evaluate;
pub mod fsutil;
pub mod guard;
pub mod metrics;
pub mod runs;
pub mod sample;
pub mod tensorboard;
#[cfg(test)]
pub(crate) mod test_skip;
pub mod train;
