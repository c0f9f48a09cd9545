//! The server over a real socket: the page, the event stream following a growing log, 404s.

use super::spawn;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

fn append_steps(dir: &Path, steps: std::ops::Range<u32>, loss: impl Fn(u32) -> f64) {
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("metrics.jsonl"))
        .unwrap();
    // One write, as the trainer appends: a poll never sees half of the batch.
    let text: String = steps
        .map(|s| {
            format!(
                r#"{{"step":{s},"epoch":0.0,"tokens":{},"loss":{},"lr":0.001,"grad_norm":1.0,"clipped":false,"tok_per_s":1000,"time_s":0.1}}"#,
                s * 100,
                loss(s)
            ) + "\n"
        })
        .collect();
    f.write_all(text.as_bytes()).unwrap();
}

fn get(addr: std::net::SocketAddr, path: &str) -> String {
    get_with_host(addr, path, "127.0.0.1")
}

fn get_with_host(addr: std::net::SocketAddr, path: &str, host: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Reads `data:` messages from an event stream until `want` accepts one or time runs out.
fn read_until(reader: &mut impl BufRead, want: impl Fn(&Value) -> bool) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            break;
        }
        if let Some(data) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(data.trim_end()).unwrap();
            let done = want(&v);
            seen.push(v);
            if done {
                return seen;
            }
        }
    }
    panic!("the wanted message never came; got {seen:?}");
}

#[test]
fn page_and_stream_follow_a_growing_log() {
    let dir = tempfile::tempdir().unwrap();
    append_steps(dir.path(), 0..30, |s| 4.0 - s as f64 * 0.01);
    let dash = spawn(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = dash.local_addr();
    assert!(dash.url().starts_with("http://127.0.0.1:"));

    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    write!(
        stream,
        "GET /events HTTP/1.1\r\nHost: localhost:8765\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut status = String::new();
    reader.read_line(&mut status).unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{status}");

    let first = read_until(&mut reader, |m| m["mode"] == "replace");
    let last = first.last().unwrap();
    assert_eq!(last["series"]["train_loss"].as_array().unwrap().len(), 30);
    assert!(last["diagnosis"]["verdict"].is_string());

    append_steps(dir.path(), 30..40, |_| 3.5);
    // However the polls fall, the appended points arrive once each and in order.
    let more = read_until(&mut reader, |m| {
        m["mode"] == "append"
            && m["series"]["train_loss"]
                .as_array()
                .and_then(|a| a.last())
                .is_some_and(|p| p[0].as_f64() == Some(39.0))
    });
    let steps: Vec<f64> = more
        .iter()
        .filter(|m| m["mode"] == "append")
        .flat_map(|m| {
            m["series"]["train_loss"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|p| p[0].as_f64().unwrap())
        .collect();
    assert_eq!(steps, (30..40).map(f64::from).collect::<Vec<_>>());

    let page = get(addr, "/");
    assert!(page.starts_with("HTTP/1.1 200"));
    assert!(page.contains("data-live=\"/events\""));
    assert!(page.contains("id=\"rnnlab-data\""));
    assert!(get(addr, "/nope").starts_with("HTTP/1.1 404"));
    dash.stop();
}

#[test]
fn a_run_with_no_log_yet_serves_an_empty_page() {
    let dir = tempfile::tempdir().unwrap();
    let dash = spawn(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let page = get(dash.local_addr(), "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("data-live"));
    dash.stop();
}

#[test]
fn a_request_line_that_never_ends_is_cut_off_at_the_head_limit() {
    let dir = tempfile::tempdir().unwrap();
    let dash = spawn(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let mut s = TcpStream::connect(dash.local_addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    // 4 MiB of a request line without a newline: the server answers once it has read 16 KiB
    // and stops reading (the rest of the write may fail once it closes).
    let chunk = vec![b'a'; 64 * 1024];
    let _ = s.write_all(b"GET /");
    for _ in 0..64 {
        if s.write_all(&chunk).is_err() {
            break;
        }
    }
    let mut reply = Vec::new();
    let _ = s.read_to_end(&mut reply);
    let reply = String::from_utf8_lossy(&reply);
    assert!(reply.starts_with("HTTP/1.1 400"), "{reply}");
    // And the server is fine afterwards.
    assert!(get(dash.local_addr(), "/").starts_with("HTTP/1.1 200"));
    dash.stop();
}

#[test]
fn a_foreign_host_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dash = spawn(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = dash.local_addr();
    assert!(get_with_host(addr, "/", "evil.example:8765").starts_with("HTTP/1.1 403"));
    for ok in [
        "localhost:8765",
        "127.0.0.1",
        "[::1]:8765",
        "192.168.1.5:80",
    ] {
        assert!(
            get_with_host(addr, "/", ok).starts_with("HTTP/1.1 200"),
            "{ok}"
        );
    }
    dash.stop();
}

#[test]
fn open_event_streams_do_not_starve_the_page() {
    let dir = tempfile::tempdir().unwrap();
    append_steps(dir.path(), 0..5, |_| 3.0);
    let dash = spawn(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = dash.local_addr();
    let mut streams = Vec::new();
    for _ in 0..64 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        write!(s, "GET /events HTTP/1.1\r\nHost: localhost\r\n\r\n").unwrap();
        let mut r = BufReader::new(s);
        let mut status = String::new();
        r.read_line(&mut status).unwrap();
        assert!(status.starts_with("HTTP/1.1 200"), "{status}");
        streams.push(r);
    }
    assert!(
        get(addr, "/").starts_with("HTTP/1.1 200"),
        "the page is still served"
    );
    assert!(
        get(addr, "/events").starts_with("HTTP/1.1 503"),
        "a 65th stream is refused"
    );
    drop(streams);
    dash.stop();
}
