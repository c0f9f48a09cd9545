use super::*;
use doctor::{Event, FindingKind, References};

fn run() -> Run {
    let train_loss = (0..300)
        .map(|i| Point {
            step: i as f64,
            value: if i == 200 {
                f64::NAN
            } else {
                1.5 + 2.5 * (-(i as f64) / 50.0).exp()
            },
        })
        .collect();
    Run {
        name: "lstm </script><b>".into(),
        train_loss,
        val_loss: vec![
            Point {
                step: 0.0,
                value: 4.1,
            },
            Point {
                step: 100.0,
                value: 2.0,
            },
        ],
        lr: vec![Point {
            step: 0.0,
            value: 1e-3,
        }],
        grad_norm: vec![Point {
            step: 0.0,
            value: 0.5,
        }],
        events: vec![Event {
            step: 150.0,
            kind: "guard_skip".into(),
            detail: "z=12".into(),
        }],
        references: References {
            ln_vocab: Some(4.174),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn diagnosis() -> Diagnosis {
    let finding = |kind, severity, start: f64, end: f64, summary: &str| Finding {
        kind,
        severity,
        start_step: Some(start),
        end_step: Some(end),
        peak_step: None,
        summary: summary.into(),
        evidence: Default::default(),
        advice: "Lower the learning rate & retry.".into(),
    };
    Diagnosis {
        verdict: doctor::Verdict::Unhealthy,
        findings: vec![
            finding(
                FindingKind::Spike,
                Severity::Warning,
                149.0,
                151.0,
                "Loss jumps 4x <at> step 150.",
            ),
            finding(
                FindingKind::Overfitting,
                Severity::Error,
                120.0,
                290.0,
                "Validation rises.",
            ),
        ],
        references: References {
            unigram: Some(3.347),
            ..Default::default()
        },
        series: doctor::report::SeriesInfo {
            points: 300,
            val_points: 12,
            has_val: true,
            has_lr: true,
            has_grad_norm: true,
            steps: None,
            columns: Default::default(),
        },
        reasons: Vec::new(),
    }
}

fn extras() -> ReportExtras {
    ReportExtras {
        title: None,
        config: Some("[model]\nkind = \"lstm\" # <not a tag>".into()),
        samples: vec![Sample {
            step: Some(300.0),
            text: "ROMEO: <script>alert(1)</script>".into(),
        }],
        incidents: vec![Incident {
            step: 150.0,
            kind: "skip".into(),
            json: "{\"step\": 150, \"z\": 12.0}".into(),
            batch_text: Some("a bad & random batch".into()),
        }],
        live_events_url: None,
        facts: RunFacts {
            params: Some(1_234_567),
            time_s: Some(125.0),
            tok_per_s: Some(48_000.0),
            tokenizer: Some("char".into()),
            ..RunFacts::default()
        },
    }
}

fn page() -> String {
    render_report_html(&run(), &diagnosis(), &extras())
}

/// The embedded data block's text.
fn data_block(html: &str) -> &str {
    let open = "<script id=\"rnnlab-data\" type=\"application/json\">";
    let start = html.find(open).expect("data block") + open.len();
    &html[start..start + html[start..].find("</script>").unwrap()]
}

/// Body of the last inline script (the page's code).
fn script(html: &str) -> &str {
    let start = html.rfind("<script>").unwrap() + "<script>".len();
    &html[start..start + html[start..].find("</script>").unwrap()]
}

/// Checks that every non-void element outside script/style is closed in order.
fn check_balanced(html: &str) -> Result<usize, String> {
    const VOID: [&str; 6] = ["meta", "input", "br", "img", "link", "hr"];
    let mut stack: Vec<String> = Vec::new();
    let mut rest = html;
    let mut count = 0;
    while let Some(lt) = rest.find('<') {
        rest = &rest[lt + 1..];
        let gt = rest.find('>').ok_or("unclosed <")?;
        let tag = &rest[..gt];
        rest = &rest[gt + 1..];
        if tag.starts_with('!') {
            continue;
        }
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("</{name}> closes nothing"))?;
            if open != name.trim() {
                return Err(format!("</{name}> closes <{open}>"));
            }
            continue;
        }
        let name = tag
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        count += 1;
        if VOID.contains(&name.as_str()) {
            continue;
        }
        if name == "script" || name == "style" {
            let close = format!("</{name}>");
            let end = rest.find(&close).ok_or(format!("unclosed <{name}>"))?;
            rest = &rest[end + close.len()..];
            continue;
        }
        stack.push(name);
    }
    if stack.is_empty() {
        Ok(count)
    } else {
        Err(format!("unclosed elements {stack:?}"))
    }
}

#[test]
fn report_is_one_self_contained_well_formed_page() {
    let html = page();
    assert!(html.starts_with("<!DOCTYPE html>"));
    let elements = check_balanced(&html).unwrap();
    assert!(elements > 40, "{elements} elements");
    for external in [
        " src=", "href=", "<link", "@import", "url(", "http://", "https://",
    ] {
        assert!(
            !html.contains(external),
            "page must not load anything: found {external}"
        );
    }
}

#[test]
fn findings_table_verdict_and_extras_are_present_and_escaped() {
    let html = page();
    assert!(html.contains("<table id=\"findings\">"));
    assert!(
        html.contains("class=\"finding sev-warning\" data-start=\"149\" data-end=\"151\""),
        "spike row carries its steps"
    );
    assert!(html.contains("<code>overfitting</code></td><td>120–290</td>"));
    assert!(html.contains("Loss jumps 4x &lt;at&gt; step 150."));
    assert!(html.contains("Lower the learning rate &amp; retry."));
    assert!(html.contains("Unhealthy — 2 problems found."));
    assert!(
        html.contains("ROMEO: &lt;script&gt;alert(1)&lt;/script&gt;"),
        "samples escaped"
    );
    assert!(
        html.contains("kind = &quot;lstm&quot; # &lt;not a tag&gt;"),
        "config escaped"
    );
    assert!(
        html.contains("<summary>step 150 — skip</summary>")
            && html.contains("a bad &amp; random batch")
    );
    assert!(html.contains("<h1>lstm &lt;/script&gt;&lt;b&gt;</h1>"));
    assert!(
        !html.contains("data-live"),
        "static report does not connect anywhere"
    );
}

#[test]
fn embedded_data_parses_and_cannot_close_its_script() {
    let html = page();
    let data: Value = serde_json::from_str(data_block(&html)).expect("data block is JSON");
    assert_eq!(data["mode"], "replace");
    assert_eq!(
        data["name"], "lstm </script><b>",
        "name survives the \\u003c escaping"
    );
    let train = data["series"]["train_loss"].as_array().unwrap();
    assert_eq!(train.len(), 300);
    assert!(train[200][1].is_null(), "NaN travels as null");
    assert_eq!(data["references"]["ln V"], 4.174);
    assert_eq!(
        data["references"]["unigram"], 3.347,
        "the diagnosis supplies what the run lacks"
    );
    assert_eq!(data["diagnosis"]["findings"][1]["kind"], "overfitting");
    assert_eq!(data["events"][0]["kind"], "guard_skip");
}

#[test]
fn live_page_names_its_event_stream_and_updates_append() {
    let mut extras = extras();
    extras.live_events_url = Some("/events".into());
    let html = render_report_html(&run(), &diagnosis(), &extras);
    assert!(html.contains("<body data-live=\"/events\">"));
    let tail = Run {
        train_loss: vec![Point {
            step: 300.0,
            value: 1.6,
        }],
        ..Default::default()
    };
    let msg: Value =
        serde_json::from_str(&page_data_json(&tail, None, UpdateMode::Append)).unwrap();
    assert_eq!(msg["mode"], "append");
    assert_eq!(msg["series"]["train_loss"], json!([[300.0, 1.6]]));
    assert!(
        msg["diagnosis"].is_null(),
        "no diagnosis means keep the shown one"
    );
}

#[test]
fn huge_series_are_embedded_reduced_with_spikes_kept() {
    let mut big = run();
    big.train_loss = (0..1_000_000)
        .map(|i| Point {
            step: i as f64,
            value: 2.0 + (i % 7) as f64 * 0.01,
        })
        .collect();
    big.train_loss[777_777].value = 40.0;
    let msg: Value =
        serde_json::from_str(&page_data_json(&big, None, UpdateMode::Replace)).unwrap();
    let train = msg["series"]["train_loss"].as_array().unwrap();
    assert!(train.len() <= MAX_EMBEDDED_POINTS + 4, "{}", train.len());
    assert!(train.iter().any(|p| p[0] == 777_777.0 && p[1] == 40.0));
}

#[test]
fn page_script_is_valid_javascript() {
    let html = page();
    let path = std::env::temp_dir().join(format!("rnnlab-report-check-{}.js", std::process::id()));
    std::fs::write(&path, script(&html)).unwrap();
    let checked = std::process::Command::new("node")
        .arg("--check")
        .arg(&path)
        .output();
    let _ = std::fs::remove_file(&path);
    match checked {
        Ok(out) => assert!(
            out.status.success(),
            "node --check: {}",
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) => crate::test_skip::skip(
            "RNNLAB_REQUIRE_NODE",
            "page_script_is_valid_javascript",
            "node is not installed",
        ),
    }
}

#[test]
fn a_plain_log_gets_no_empty_sections() {
    let html = render_report_html(&run(), &diagnosis(), &ReportExtras::default());
    for gone in [
        "<h2>Incidents</h2>",
        "<h2>Samples</h2>",
        "<h2>Config</h2>",
        "No guard incidents",
        "No samples",
        "No configuration recorded",
    ] {
        assert!(!html.contains(gone), "{gone} shown for a plain log");
    }
    assert!(html.contains("<h2>Findings</h2>"));
    let full = page();
    for kept in ["<h2>Incidents</h2>", "<h2>Samples</h2>", "<h2>Config</h2>"] {
        assert!(full.contains(kept), "{kept} missing when there is content");
    }
    check_balanced(&html).unwrap();
}

#[test]
fn summary_card_shows_best_and_final_val_params_time_and_speed() {
    let html = page();
    assert!(html.contains("<h2>Summary</h2>"), "summary card");
    let entries = summary_entries(&run(), &extras().facts);
    let get = |k: &str| {
        entries
            .iter()
            .find(|(label, _)| label == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing from {entries:?}"))
    };
    let best = run()
        .val_loss
        .iter()
        .map(|p| p.value)
        .filter(|v| v.is_finite())
        .fold(f64::INFINITY, f64::min);
    assert!(get("best val loss").starts_with(&format!("{best:.4}")));
    assert_eq!(get("best val ppl"), format!("{:.3}", best.exp()));
    assert_eq!(
        get("best val bits/char"),
        format!("{:.4}", best / std::f64::consts::LN_2)
    );
    get("final val loss");
    assert_eq!(get("parameters"), "1.23M");
    assert_eq!(get("time"), "2m 05s");
    assert_eq!(get("tok/s"), "48.0k");
    // Unknown facts are left out, not shown empty.
    let bare = summary_entries(&run(), &RunFacts::default());
    assert!(bare
        .iter()
        .all(|(k, _)| k != "parameters" && k != "time" && k != "tok/s"));
    assert!(bare.iter().any(|(k, _)| k == "best val bits/token"));
    // A word run whose validation text holds 5 characters and 6 bytes per token: its bits per
    // token also read per character and per byte.
    let word = RunFacts {
        tokenizer: Some("word".into()),
        tokens_per_char: Some(0.2),
        tokens_per_byte: Some(1.0 / 6.0),
        ..RunFacts::default()
    };
    let entries = summary_entries(&run(), &word);
    let get = |k: &str| {
        entries
            .iter()
            .find(|(label, _)| label == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("{k} missing from {entries:?}"))
    };
    let bits = best / std::f64::consts::LN_2;
    assert_eq!(get("best val bits/word"), format!("{bits:.4}"));
    assert_eq!(get("best val bits/char"), format!("{:.4}", bits * 0.2));
    assert_eq!(get("best val bits/byte"), format!("{:.4}", bits / 6.0));
}

#[test]
fn page_has_an_ignore_outliers_toggle_that_keeps_a_spike_from_squashing_the_curve() {
    let html = page();
    assert!(html.contains(r#"<input id="ignore-outliers" type="checkbox">"#));
    // The page's own range logic, run in node with a stand-in for the browser.
    let probe = r#"
const window = {};
const document = { readyState: "loading", addEventListener() {} };
SCRIPT
const curve = (spike) => Array.from({ length: 300 }, (_, i) =>
  [i, i === 150 && spike ? 50 : 2 + Math.exp(-i / 60) + 0.02 * Math.sin(i)]);
const r = window.rnnlab.lossRange;
const out = {
  spikeAuto: r([curve(true)], 0, 299, false, [], "auto"),
  spikeFull: r([curve(true)], 0, 299, false, [], "full"),
  plainAuto: r([curve(false)], 0, 299, false, [], "auto"),
  plainRobust: r([curve(false)], 0, 299, false, [], "robust"),
};
console.log(JSON.stringify(out));
"#
    .replace("SCRIPT", script(&html));
    let path = std::env::temp_dir().join(format!("rnnlab-ylim-{}.js", std::process::id()));
    std::fs::write(&path, probe).unwrap();
    let ran = std::process::Command::new("node").arg(&path).output();
    let _ = std::fs::remove_file(&path);
    let out = match ran {
        Ok(out) => out,
        Err(_) => {
            return crate::test_skip::skip(
                "RNNLAB_REQUIRE_NODE",
                "page_has_an_ignore_outliers_toggle",
                "node is not installed",
            )
        }
    };
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top = |k: &str| v[k]["range"][1].as_f64().unwrap();
    // By itself the spike to 50 is ignored: the axis ends near the curve (3 at most).
    assert_eq!(v["spikeAuto"]["robust"], true, "{v}");
    assert!(top("spikeAuto") < 3.5, "{v}");
    // Unticked, every value shows.
    assert_eq!(v["spikeFull"]["robust"], false, "{v}");
    assert!(top("spikeFull") > 50.0, "{v}");
    // A curve without outliers keeps its full range unless asked.
    assert_eq!(v["plainAuto"]["robust"], false, "{v}");
    assert_eq!(v["plainRobust"]["robust"], true, "{v}");
}
