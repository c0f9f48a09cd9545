pub mod checkpoint;
pub mod config;
pub mod data;
pub mod evaluate;
pub mod fsutil;
pub mod metrics;
pub mod sample;
pub mod train;
