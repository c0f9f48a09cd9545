//! End to end in headless Chromium (Debian's `chromium` + `chromium-driver`), driven over the W3C
//! WebDriver protocol: the live dashboard of a run whose log grows (the chart gains points, a
//! spike finding appears after an injected spike), and a static report whose finding row, when
//! clicked, zooms the chart. Skips with a note where no browser is installed.
//!
//! Screenshots land in the temp dir (`dashboard.png`, `report.png`) for people to
//! look at.

use serde_json::{json, Value};
use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

// ---------- a minimal WebDriver client ----------

/// chromedriver and one browser session; both end on drop.
struct Browser {
    driver: Child,
    base: String,
    session: String,
    _profile: tempfile::TempDir,
}

fn find_program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn call(method: &str, url: &str, body: Option<Value>) -> Result<Value, String> {
    let req = ureq::request(method, url).timeout(Duration::from_secs(60));
    let resp = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    match resp {
        Ok(r) => r
            .into_string()
            .map_err(|e| e.to_string())
            .and_then(|t| serde_json::from_str(&t).map_err(|e| e.to_string())),
        Err(ureq::Error::Status(code, r)) => Err(format!(
            "{method} {url}: HTTP {code}: {}",
            r.into_string().unwrap_or_default()
        )),
        Err(e) => Err(format!("{method} {url}: {e}")),
    }
}

impl Browser {
    fn start(chromium: &Path, chromedriver: &Path) -> Browser {
        let port = free_port();
        let driver = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let base = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while call("GET", &format!("{base}/status"), None)
            .map(|v| v["value"]["ready"] != true)
            .unwrap_or(true)
        {
            assert!(Instant::now() < deadline, "chromedriver never became ready");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--window-size=1280,1100",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([format!("--user-data-dir={}", profile.path().display())])
        .collect::<Vec<_>>();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
        }}});
        let mut browser = Browser {
            driver,
            base,
            session: String::new(),
            _profile: profile,
        };
        let created = call("POST", &format!("{}/session", browser.base), Some(caps))
            .expect("a browser session starts");
        browser.session = created["value"]["sessionId"]
            .as_str()
            .expect("session id")
            .to_string();
        browser
    }

    fn url(&self, tail: &str) -> String {
        format!("{}/session/{}{tail}", self.base, self.session)
    }

    fn goto(&self, url: &str) {
        call("POST", &self.url("/url"), Some(json!({ "url": url }))).unwrap();
    }

    fn eval(&self, script: &str) -> Value {
        let v = call(
            "POST",
            &self.url("/execute/sync"),
            Some(json!({"script": script, "args": []})),
        )
        .unwrap();
        v["value"].clone()
    }

    /// A real pointer click (WebDriver scrolls the element into view first).
    fn click(&self, css: &str) {
        let found = call(
            "POST",
            &self.url("/element"),
            Some(json!({"using": "css selector", "value": css})),
        )
        .unwrap();
        let id = found["value"]
            .as_object()
            .and_then(|o| o.values().next())
            .and_then(Value::as_str)
            .expect("element id")
            .to_string();
        call(
            "POST",
            &self.url(&format!("/element/{id}/click")),
            Some(json!({})),
        )
        .unwrap();
    }

    fn screenshot(&self, path: &Path) {
        use base64::Engine;
        let v = call("GET", &self.url("/screenshot"), None).unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(v["value"].as_str().unwrap())
            .unwrap();
        assert_eq!(&png[1..4], b"PNG");
        std::fs::write(path, png).unwrap();
    }

    /// Polls `script` until `ok` accepts its value; panics with the last value after `secs`.
    fn wait_for(&self, script: &str, secs: u64, ok: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let v = self.eval(script);
            if ok(&v) {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting on `{script}`; last value {v}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.session.is_empty() {
            let _ = call("DELETE", &self.url(""), None);
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

// ---------- a fake live run ----------

const SPIKE_STEP: u32 = 200;
const LAST_STEP: u32 = 300;

/// Loss around 2 with a little deterministic noise, 9 at the spike step.
fn loss_at(step: u32) -> f64 {
    if step == SPIKE_STEP {
        return 9.0;
    }
    let noise = ((step as f64 * 12.9898).sin() * 43758.5453).fract() * 0.06;
    2.0 + 1.5 * (-(step as f64) / 60.0).exp() + noise
}

fn metric_line(step: u32) -> String {
    format!(
        r#"{{"step":{step},"epoch":{},"tokens":{},"loss":{},"lr":0.002,"grad_norm":{},"clipped":false,"tok_per_s":5000,"time_s":{}}}"#,
        step as f64 / 100.0,
        step * 512,
        loss_at(step),
        if step == SPIKE_STEP { 40.0 } else { 1.2 },
        step as f64 * 0.1
    )
}

fn write_run(dir: &Path, steps: std::ops::Range<u32>) {
    std::fs::write(
        dir.join("meta.json"),
        r#"{"vocab_size": 65, "tokenizer": "char", "data": "test", "references": {"ln_vocab": 4.174, "unigram": 3.3, "bigram": 2.5, "floor": null}, "steps_per_epoch": 100}"#,
    )
    .unwrap();
    std::fs::write(
        dir.join("config.toml"),
        "[model]\ncell = \"lstm\"\nhidden = 64\n",
    )
    .unwrap();
    let mut f = std::fs::File::create(dir.join("metrics.jsonl")).unwrap();
    for s in steps {
        writeln!(f, "{}", metric_line(s)).unwrap();
    }
}

/// Appends the next batch of up to ten lines after `from`, in one write; returns the new end.
fn append_batch(dir: &Path, from: u32) -> u32 {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(dir.join("metrics.jsonl"))
        .unwrap();
    let end = (from + 10).min(LAST_STEP);
    let batch: String = (from..end).map(|s| metric_line(s) + "\n").collect();
    f.write_all(batch.as_bytes()).unwrap();
    f.flush().unwrap();
    end
}

fn browser_programs() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_program("chromium").or_else(|| find_program("chromium-browser"));
    let driver = find_program("chromedriver");
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        _ => {
            use std::io::Write;
            let why = "`chromium` and `chromedriver` are not both installed \
                       (apt-get install chromium chromium-driver)";
            if std::env::var_os("RNNLAB_REQUIRE_BROWSER").is_some_and(|v| v != "0") {
                panic!("{why} (RNNLAB_REQUIRE_BROWSER is set)");
            }
            // Straight to stderr, past the test harness's capture: a skip must be visible.
            let _ = writeln!(
                std::io::stderr(),
                "SKIP: live_dashboard_and_report_in_chromium: {why}"
            );
            None
        }
    }
}

const POINTS: &str = "return window.rnnlab ? window.rnnlab.state.series.train_loss.length : -1";
const FINDING_KINDS: &str =
    "return [...document.querySelectorAll('#findings tr.finding code')].map(e => e.textContent)";

fn has_spike(v: &Value) -> bool {
    v.as_array()
        .is_some_and(|kinds| kinds.iter().any(|k| k == "spike"))
}

#[test]
fn live_dashboard_and_report_in_chromium() {
    let Some((chromium, chromedriver)) = browser_programs() else {
        return;
    };
    let run = tempfile::tempdir().unwrap();
    write_run(run.path(), 0..60);
    let dash =
        rnnlab::dashboard::spawn(run.path().to_path_buf(), "127.0.0.1:0".parse().unwrap()).unwrap();
    let browser = Browser::start(&chromium, &chromedriver);

    // (1) The live page: points grow, the spike finding appears only after the spike is logged.
    browser.goto(&dash.url());
    browser.wait_for(POINTS, 20, |v| v.as_i64().unwrap_or(0) >= 60);
    assert!(
        !has_spike(&browser.eval(FINDING_KINDS)),
        "a spike finding before any spike"
    );
    // The log grows by one batch each time the page has shown the previous one, so the
    // test does not race the dashboard's poll against a writer on its own clock.
    let mut written = 60;
    let mut counts = vec![browser.eval(POINTS).as_i64().unwrap()];
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let kinds = browser.eval(FINDING_KINDS);
        let n = browser.eval(POINTS).as_i64().unwrap();
        if n != *counts.last().unwrap() {
            counts.push(n);
        }
        if has_spike(&kinds) {
            assert!(
                written > SPIKE_STEP,
                "spike finding shown before the spike was logged"
            );
            break;
        }
        if n == written as i64 && written < LAST_STEP {
            written = append_batch(run.path(), written);
        }
        assert!(
            Instant::now() < deadline,
            "no spike finding appeared; kinds {kinds}, point counts {counts:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    while written < LAST_STEP {
        written = append_batch(run.path(), written);
    }
    browser.wait_for(POINTS, 20, |v| v.as_i64() == Some(LAST_STEP as i64));
    assert!(
        counts.windows(2).all(|w| w[0] < w[1]) && counts.len() >= 3,
        "the plotted points did not grow step by step: {counts:?}"
    );
    eprintln!("live point counts seen: {counts:?}");
    let shot = std::env::temp_dir().join("dashboard.png");
    browser.screenshot(&shot);
    eprintln!("dashboard screenshot: {}", shot.display());
    dash.stop();

    // (2) The static report of the same run (with a guard incident): clicking the spike's row
    // zooms the chart around the spike.
    let incidents = run.path().join("incidents");
    std::fs::create_dir(&incidents).unwrap();
    std::fs::write(
        incidents.join(format!("step-{SPIKE_STEP:08}.json")),
        json!({"step": SPIKE_STEP, "action": "skip", "loss": 9.0, "batch_text": "qqqq zzzz <odd batch>"})
            .to_string(),
    )
    .unwrap();
    let report = run.path().join("report.html");
    let status = Command::new(env!("CARGO_BIN_EXE_rnnlab"))
        .args([
            "report".as_ref(),
            run.path().as_os_str(),
            "-o".as_ref(),
            report.as_os_str(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    browser.goto(&format!("file://{}", report.display()));
    browser.wait_for(POINTS, 20, |v| v.as_i64() == Some(LAST_STEP as i64));
    assert_eq!(browser.eval("return window.rnnlab.state.view"), Value::Null);
    let batch = browser.eval("return document.querySelector('#incidents pre.batch').textContent");
    assert_eq!(batch, "qqqq zzzz <odd batch>");
    let marked = browser.eval(
        "const rows = [...document.querySelectorAll('#findings tr.finding')]
           .filter(r => r.querySelector('code').textContent === 'spike');
         if (rows.length) rows[0].id = 'spike-row';
         return rows.length",
    );
    assert!(marked.as_i64().unwrap() >= 1, "no spike row in the report");
    browser.click("#spike-row");
    let view = browser.wait_for("return window.rnnlab.state.view", 10, |v| v.is_array());
    let (a, b) = (view[0].as_f64().unwrap(), view[1].as_f64().unwrap());
    assert!(
        a < SPIKE_STEP as f64 && SPIKE_STEP as f64 <= b && b - a < LAST_STEP as f64 / 2.0,
        "the chart did not zoom to the spike: view {a}..{b}"
    );
    let selected =
        browser.eval("return document.querySelector('#spike-row').classList.contains('selected')");
    assert_eq!(selected, true);
    let shot = std::env::temp_dir().join("report.png");
    browser.screenshot(&shot);
    eprintln!(
        "report screenshot (zoomed to the spike): {}",
        shot.display()
    );
}
