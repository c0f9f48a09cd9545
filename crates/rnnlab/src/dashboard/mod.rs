//! The live dashboard: a small HTTP server (loopback unless told otherwise) that serves a run's
//! report page at `/` and pushes its new points and the doctor's changing findings to the page
//! as server-sent events at `/events`, while the run's `metrics.jsonl` grows.
//!
//! ```no_run
//! # fn main() -> std::io::Result<()> {
//! let dash = rnnlab::dashboard::spawn("runs/lstm".into(), "127.0.0.1:0".parse().unwrap())?;
//! println!("dashboard at {}", dash.url());
//! # Ok(()) }
//! ```

mod events;
pub use plot::extras;
mod http;
mod tail;

pub use plot::extras::{incident_from_json, parse_samples, read_incidents, read_run_extras};

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Connections served at once; more are refused with 503 (each holds a thread). Event
/// streams take at most [`http::MAX_STREAMS`] of them, so pages are always served.
const MAX_CONNECTIONS: usize = 2 * http::MAX_STREAMS;

/// A running dashboard. Dropping the handle leaves the server running until the process ends
/// (what `rnnlab train --dashboard` wants); [`DashboardHandle::stop`] ends it.
pub struct DashboardHandle {
    addr: SocketAddr,
    shared: Arc<tail::Shared>,
    threads: Vec<JoinHandle<()>>,
}

impl DashboardHandle {
    /// The address the server listens on (with the port picked when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's URL, e.g. `http://127.0.0.1:8765/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops following the run and accepting connections; open streams end at their next wake.
    pub fn stop(mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.wake_all();
        // The accept loop blocks in accept(): one connection wakes it to see the flag.
        let wake = if self.addr.ip().is_unspecified() {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), self.addr.port())
        } else {
            self.addr
        };
        let _ = TcpStream::connect(wake);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Serves the dashboard of `run_dir` (a run directory, or a metrics file) on `bind`; port 0
/// picks a free port. Returns once the socket is listening.
pub fn spawn(run_dir: PathBuf, bind: SocketAddr) -> std::io::Result<DashboardHandle> {
    let listener = TcpListener::bind(bind)?;
    let addr = listener.local_addr()?;
    let shared = tail::Shared::new();
    let follower = {
        let (dir, shared) = (run_dir.clone(), shared.clone());
        std::thread::Builder::new()
            .name("dashboard-tail".into())
            .spawn(move || tail::follow(dir, shared))?
    };
    let acceptor = {
        let shared = shared.clone();
        std::thread::Builder::new()
            .name("dashboard-accept".into())
            .spawn(move || accept_loop(listener, run_dir, shared))?
    };
    Ok(DashboardHandle {
        addr,
        shared,
        threads: vec![follower, acceptor],
    })
}

fn accept_loop(listener: TcpListener, run_dir: PathBuf, shared: Arc<tail::Shared>) {
    let active = Arc::new(AtomicUsize::new(0));
    let run_dir = Arc::new(run_dir);
    for stream in listener.incoming() {
        if shared.stop.load(Ordering::Relaxed) {
            return;
        }
        let Ok(stream) = stream else { continue };
        if active.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            use std::io::Write;
            let _ = (&stream).write_all(
                b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            continue;
        }
        active.fetch_add(1, Ordering::Relaxed);
        let (count, run_dir, shared) = (active.clone(), run_dir.clone(), shared.clone());
        let spawned = std::thread::Builder::new()
            .name("dashboard-conn".into())
            .spawn(move || {
                http::handle(stream, &run_dir, &shared);
                count.fetch_sub(1, Ordering::Relaxed);
            });
        if spawned.is_err() {
            active.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests;
