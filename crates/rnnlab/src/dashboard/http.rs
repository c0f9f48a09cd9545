//! The HTTP side: a thread per connection, GET only. `/` is the report page wired to
//! `/events`; `/events` is a server-sent-events stream of [`super::events`] messages.

use super::events::next_message;
use super::extras::read_run_extras;
use super::tail::Shared;
use doctor::{diagnose, Run};
use plot::render_report_html;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// A comment line goes out this often on an idle stream, so a closed tab is noticed.
const KEEPALIVE: Duration = Duration::from_secs(10);
/// Request heads larger than this, request line included, are refused: the reader stops
/// there, however long a line goes on without a newline.
const MAX_HEAD_BYTES: u64 = 16 * 1024;
/// Open `/events` streams at once; one more is refused with 503 while `/` is still served.
pub const MAX_STREAMS: usize = 64;

/// Serves one connection to the end.
pub fn handle(stream: TcpStream, run_dir: &Path, shared: &Arc<Shared>) {
    // A client that never finishes its request must not hold a thread forever.
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let Some((path, host)) = read_request(&stream) else {
        let _ = respond(&stream, "400 Bad Request", "text/plain", b"bad request\n");
        return;
    };
    // A page on another site can make a browser send requests here under a name of its own
    // that resolves to this machine (DNS rebinding); only names that mean this machine pass.
    if !host_allowed(host.as_deref()) {
        let _ = respond(
            &stream,
            "403 Forbidden",
            "text/plain",
            b"this dashboard answers to localhost or an IP address only\n",
        );
        return;
    }
    let route = path.split('?').next().unwrap_or_default();
    let result = match route {
        "/" | "/index.html" => {
            let page = page_html(run_dir, shared);
            respond(
                &stream,
                "200 OK",
                "text/html; charset=utf-8",
                page.as_bytes(),
            )
        }
        "/events" => {
            if shared.streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
                shared.streams.fetch_sub(1, Ordering::SeqCst);
                respond(
                    &stream,
                    "503 Service Unavailable",
                    "text/plain",
                    b"too many open event streams\n",
                )
            } else {
                let r = stream_events(&stream, shared);
                shared.streams.fetch_sub(1, Ordering::SeqCst);
                r
            }
        }
        _ => respond(&stream, "404 Not Found", "text/plain", b"not found\n"),
    };
    // A client that went away is not the server's problem.
    let _ = result;
}

/// The path and `Host` of a `GET` request, or `None` for anything else, including a head
/// longer than [`MAX_HEAD_BYTES`] (never read past that).
fn read_request(stream: &TcpStream) -> Option<(String, Option<String>)> {
    use std::io::Read;
    let mut reader = BufReader::new(stream.take(MAX_HEAD_BYTES));
    let mut first = String::new();
    if reader.read_line(&mut first).ok()? == 0 || !first.ends_with('\n') {
        return None;
    }
    let mut host = None;
    loop {
        let mut line = String::new();
        let n = reader.read_line(&mut line).ok()?;
        if n == 0 || !line.ends_with('\n') {
            // The limit or the end came before the blank line that ends the head.
            return None;
        }
        if line == "\r\n" || line == "\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.trim().eq_ignore_ascii_case("host") {
                host = Some(value.trim().to_string());
            }
        }
    }
    let mut parts = first.split_whitespace();
    match (parts.next(), parts.next()) {
        (Some("GET"), Some(path)) => Some((path.to_string(), host)),
        _ => None,
    }
}

/// `localhost` or an IP address, with or without a port. A request without `Host` (not a
/// browser) is let through.
fn host_allowed(host: Option<&str>) -> bool {
    let Some(host) = host else { return true };
    let name = if let Some(rest) = host.strip_prefix('[') {
        // [::1]:8765
        rest.split(']').next().unwrap_or_default()
    } else {
        host.rsplit_once(':').map_or(host, |(h, port)| {
            if port.chars().all(|c| c.is_ascii_digit()) {
                h
            } else {
                host
            }
        })
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<std::net::IpAddr>().is_ok()
}

fn respond(
    mut stream: &TcpStream,
    status: &str,
    content_type: &str,
    body: &[u8],
) -> std::io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

/// The report page of the run as it is now, subscribed to `/events`.
pub fn page_html(run_dir: &Path, shared: &Shared) -> String {
    let snap = shared.current();
    let (mut extras, _warnings) = read_run_extras(run_dir);
    extras.live_events_url = Some("/events".into());
    let run_name = run_dir.file_name().map_or_else(
        || run_dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    extras.title = Some(format!("{run_name} · live"));
    match (snap.run.as_deref(), snap.diagnosis.as_deref()) {
        (Some(run), Some(diagnosis)) => render_report_html(run, diagnosis, &extras),
        _ => {
            // Nothing logged yet: an empty page that fills in as the stream delivers.
            let empty = Run {
                name: run_name,
                ..Run::default()
            };
            render_report_html(&empty, &diagnose(&empty), &extras)
        }
    }
}

fn stream_events(mut stream: &TcpStream, shared: &Shared) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\nConnection: keep-alive\r\nX-Accel-Buffering: no\r\n\r\nretry: 1000\n\n",
    )?;
    stream.flush()?;
    let mut sent = None;
    let mut snap = shared.current();
    while !shared.stop.load(Ordering::Relaxed) {
        match next_message(&mut sent, &snap) {
            // Messages are one line of JSON: one `data:` field each.
            Some(message) => stream.write_all(format!("data: {message}\n\n").as_bytes())?,
            None => stream.write_all(b": keepalive\n\n")?,
        }
        stream.flush()?;
        let seen = snap.version;
        snap = shared.wait_newer(seen, KEEPALIVE);
    }
    Ok(())
}
