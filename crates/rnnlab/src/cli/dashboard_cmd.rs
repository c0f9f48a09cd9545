//! `rnnlab dashboard`: serves a finished or running run's live page until interrupted.

use anyhow::{bail, Context};
use clap::Args;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

#[derive(Args)]
pub struct DashboardArgs {
    /// Run directory (its metrics.jsonl is followed as it grows).
    run_dir: PathBuf,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 8765)]
    port: u16,
    /// Address to listen on. The default serves this machine only; 0.0.0.0 serves the network.
    #[arg(long, default_value = "127.0.0.1")]
    bind: IpAddr,
}

pub fn run(a: DashboardArgs) -> anyhow::Result<()> {
    if !a.run_dir.exists() {
        bail!("{}: no such run directory", a.run_dir.display());
    }
    let addr = SocketAddr::new(a.bind, a.port);
    let dash = rnnlab::dashboard::spawn(a.run_dir.clone(), addr)
        .with_context(|| format!("cannot listen on {addr}"))?;
    println!(
        "dashboard of {} at {} (Ctrl-C to stop)",
        a.run_dir.display(),
        dash.url()
    );
    // Serve until the process is interrupted.
    loop {
        std::thread::park();
    }
}
