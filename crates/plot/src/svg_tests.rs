//! Structure tests of the rendered SVG: which elements exist and where, computed from the
//! chart's mapping, never compared pixel by pixel.

use crate::style::{self, hex};
use crate::{render_png, render_svg_with_frame, PlotError, PlotOptions};
use doctor::{Event, FindingKind, Point, Run, Severity};

use crate::svg_test_support::*;

#[test]
fn frame_mapping_agrees_with_the_drawn_tick_labels() {
    let run = synthetic_run("a", 1.0);
    let (svg, frame) =
        render_svg_with_frame(&[(run, diagnosis(vec![]))], &PlotOptions::default()).unwrap();
    // The y tick "2" is drawn by plotters at its own mapping of 2.0: ours must agree.
    let tick = elements(&svg, "text")
        .into_iter()
        .zip(texts(&svg))
        .find(|(e, t)| t == "2" && e["text-anchor"] == "end")
        .expect("a y tick labelled 2");
    let (_, y) = frame.pixel(100.0, 2.0).unwrap();
    assert!(
        near(tick.0["y"].parse().unwrap(), y),
        "tick at {} but frame maps 2.0 to {y}",
        tick.0["y"]
    );
}

#[test]
fn spike_run_has_series_marker_and_reference_lines() {
    let Some((run, diagnosis)) = load_curve("spike_bad_batch.csv") else {
        return;
    };
    let spike = diagnosis
        .findings
        .iter()
        .find(|f| f.kind == FindingKind::Spike)
        .expect("the doctor reports the injected spike");
    let step = spike.peak_step.or(spike.start_step).unwrap();
    assert!((step - 400.0).abs() <= 5.0, "spike at {step}");
    let (svg, frame) =
        render_svg_with_frame(&[(run, diagnosis.clone())], &PlotOptions::default()).unwrap();

    let blue = hex(style::RUN_COLORS[0]);
    assert!(
        !polylines_with(&svg, &blue, Some("0.4")).is_empty(),
        "raw training loss, thin and light"
    );
    let smooth = polylines_with(&svg, &blue, Some("1"));
    assert!(
        smooth.iter().any(|e| e["stroke-width"] == "2"),
        "smoothed training loss"
    );
    assert!(
        !polylines_with(&svg, &hex(style::SINGLE_VAL), None).is_empty(),
        "validation line"
    );
    assert!(
        elements(&svg, "circle")
            .iter()
            .filter(|c| c.get("fill").is_some_and(|f| f == &hex(style::SINGLE_VAL)))
            .count()
            >= 20,
        "validation points"
    );
    assert!(
        polylines_with(&svg, &hex(style::SINGLE_LR), None).len() > 10,
        "dashed learning rate"
    );

    let (sx, _) = frame.pixel(step, 5.0).unwrap();
    let ring = elements(&svg, "circle")
        .into_iter()
        .find(|c| c["stroke"] == hex(style::ERROR) && c["r"] == "7")
        .expect("spike ring");
    assert!(
        near(ring["cx"].parse().unwrap(), sx),
        "ring at x={} expected {sx}",
        ring["cx"]
    );
    let label = format!("spike @ {}", step as i64);
    assert!(
        texts(&svg).iter().any(|t| t.starts_with(&label)),
        "{label} labelled"
    );

    for (name, value) in [("ln V", 4.174), ("unigram", 3.347), ("bigram", 2.484)] {
        assert!(
            has_reference_line_at(&svg, &frame, value),
            "{name} line at {value}"
        );
        assert!(
            texts(&svg).iter().any(|t| t.starts_with(name)),
            "{name} labelled"
        );
    }
    assert!(
        !has_reference_line_at(&svg, &frame, 3.0),
        "no line where no reference is"
    );
}

#[test]
fn log_y_puts_references_at_log_positions() {
    let Some((run, diagnosis)) = load_curve("spike_bad_batch.csv") else {
        return;
    };
    let opts = PlotOptions {
        log_y: true,
        log_x: true,
        ..PlotOptions::default()
    };
    let (svg, frame) = render_svg_with_frame(&[(run, diagnosis)], &opts).unwrap();
    assert_eq!(frame.y.scale, crate::Scale::Log10);
    // Independent of Frame::pixel: the log mapping written out.
    let p = frame.plot;
    let y = p.y1 as f64
        - (4.174f64.log10() - frame.y.lo) / (frame.y.hi - frame.y.lo) * (p.y1 - p.y0) as f64;
    let at = polylines_with(&svg, &hex(style::REFERENCE), None)
        .into_iter()
        .filter(|e| points(e).iter().all(|q| near(q.1, y)))
        .count();
    assert!(at > 10, "ln V dashes at y={y}");
    assert!(texts(&svg).iter().any(|t| t == "step (log)"));
}

#[test]
fn overlaid_runs_get_a_legend_entry_and_colour_each() {
    let a = synthetic_run("lstm-run", 1.0);
    let b = synthetic_run("gru-run", 0.9);
    let (svg, _) = render_svg_with_frame(
        &[(a, diagnosis(vec![])), (b, diagnosis(vec![]))],
        &PlotOptions::default(),
    )
    .unwrap();
    let t = texts(&svg);
    for name in [
        "lstm-run train (EMA 0.9)",
        "gru-run train (EMA 0.9)",
        "lstm-run val loss",
        "gru-run val loss",
        "gru-run lr",
    ] {
        assert!(t.iter().any(|x| x == name), "legend has {name}: {t:?}");
    }
    for color in &style::RUN_COLORS[..2] {
        assert!(
            polylines_with(&svg, &hex(*color), Some("1")).len() >= 2,
            "run colour {} drawn",
            hex(*color)
        );
    }
    assert!(
        t.iter().any(|x| x == "lstm-run vs gru-run"),
        "default title names both"
    );
}

#[test]
fn findings_incidents_and_nan_are_marked() {
    let mut run = synthetic_run("guarded", 1.0);
    run.events.push(Event {
        step: 150.0,
        kind: "guard_skip".into(),
        detail: "z=9".into(),
    });
    run.events.push(Event {
        step: 100.0,
        kind: "checkpoint".into(),
        detail: String::new(),
    });
    let findings = vec![
        finding(FindingKind::Instability, Severity::Warning, 100.0, 200.0),
        finding(FindingKind::NonFinite, Severity::Error, 250.0, 259.0),
    ];
    let (svg, frame) =
        render_svg_with_frame(&[(run, diagnosis(findings))], &PlotOptions::default()).unwrap();
    let t = texts(&svg);
    assert!(t.iter().any(|x| x == "instability 100–200"), "{t:?}");
    assert!(t.iter().any(|x| x == "NaN @ 250"), "{t:?}");
    assert!(t.iter().any(|x| x == "guard_skip @ 150"), "{t:?}");
    assert!(
        !t.iter().any(|x| x.starts_with("checkpoint")),
        "routine checkpoints are not marked"
    );

    let (x100, _) = frame.pixel(100.0, 2.0).unwrap();
    let (x200, _) = frame.pixel(200.0, 2.0).unwrap();
    let band = elements(&svg, "rect")
        .into_iter()
        .find(|r| r["fill"] == hex(style::WARNING))
        .expect("instability band");
    let (bx, bw): (f64, f64) = (band["x"].parse().unwrap(), band["width"].parse().unwrap());
    assert!(
        near(bx, x100) && near(bx + bw, x200),
        "band {bx}+{bw} vs {x100}..{x200}"
    );

    let (x250, _) = frame.pixel(250.0, 2.0).unwrap();
    let nan_line = polylines_with(&svg, &hex(style::ERROR), None)
        .into_iter()
        .find(|e| points(e).iter().all(|p| near(p.0, x250)));
    assert!(
        nan_line.is_some(),
        "a red vertical line at the first NaN step"
    );
    let (x150, _) = frame.pixel(150.0, 2.0).unwrap();
    let tri = elements(&svg, "polygon")
        .into_iter()
        .find(|e| e["fill"] == hex(style::EVENT))
        .expect("incident marker");
    let xs: Vec<f64> = points(&tri).iter().map(|p| p.0).collect();
    assert!(
        near(xs.iter().sum::<f64>() / xs.len() as f64, x150),
        "incident marker at step 150"
    );
}

#[test]
fn million_points_are_downsampled_but_keep_the_spike() {
    let mut run = synthetic_run("big", 1.0);
    run.train_loss = (0..1_000_000)
        .map(|i| Point {
            step: i as f64,
            value: 2.0 + (i as f64 * 0.37).sin() * 0.1,
        })
        .collect();
    run.train_loss[654_321].value = 9.0;
    run.val_loss.clear();
    let opts = PlotOptions {
        smooth: 0.0,
        // The whole range, so the spike's own pixel shows it survived downsampling.
        y_range: crate::YRange::Full,
        ..PlotOptions::default()
    };
    let (svg, frame) = render_svg_with_frame(&[(run, diagnosis(vec![]))], &opts).unwrap();
    let lines = polylines_with(&svg, &hex(style::RUN_COLORS[0]), None);
    let drawn: usize = lines.iter().map(|e| points(e).len()).sum();
    let width = (frame.plot.x1 - frame.plot.x0) as usize;
    assert!(
        drawn <= 4 * (width + 2),
        "{drawn} points drawn for {width} columns"
    );
    let (_, spike_y) = frame.pixel(654_321.0, 9.0).unwrap();
    assert!(
        lines.iter().flat_map(points).any(|p| near(p.1, spike_y)),
        "the one-step spike survives"
    );
}

#[test]
fn png_decodes_at_the_requested_size_with_content() {
    let run = synthetic_run("png", 1.0);
    let opts = PlotOptions {
        width: 640,
        height: 400,
        ..PlotOptions::default()
    };
    let bytes = render_png(&[(run, diagnosis(vec![]))], &opts).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (640, 400));
    let px = &buf[..info.buffer_size()];
    let white = px.chunks(3).filter(|c| c == &[255, 255, 255]).count();
    let total = px.len() / 3;
    assert!(
        white > total / 2 && white < total,
        "mostly white background with drawing: {white}/{total}"
    );
    let c = style::RUN_COLORS[0];
    assert!(
        px.chunks(3).any(|p| p == [c.0, c.1, c.2]),
        "the training curve's colour is in the picture"
    );
    // Text is rasterised from the embedded font: dark grey pixels exist (titles, labels).
    assert!(px.chunks(3).filter(|p| p.iter().all(|&v| v < 90)).count() > 200);
}

#[test]
fn bad_input_is_an_error_not_a_panic() {
    let opts = PlotOptions::default();
    assert!(matches!(
        render_svg_with_frame(&[], &opts),
        Err(PlotError::NoRuns)
    ));
    let empty = Run {
        name: "empty.csv".into(),
        ..Default::default()
    };
    let e = render_svg_with_frame(&[(empty, diagnosis(vec![]))], &opts).unwrap_err();
    assert!(e.to_string().contains("empty.csv"), "{e}");
    let run = synthetic_run("x", 1.0);
    let tiny = PlotOptions {
        width: 10,
        ..PlotOptions::default()
    };
    assert!(matches!(
        render_svg_with_frame(&[(run.clone(), diagnosis(vec![]))], &tiny),
        Err(PlotError::BadOptions(_))
    ));
    let smooth = PlotOptions {
        smooth: 1.5,
        ..PlotOptions::default()
    };
    assert!(matches!(
        render_png(&[(run, diagnosis(vec![]))], &smooth),
        Err(PlotError::BadOptions(_))
    ));
}

/// Times a 1,000,000-point run end to end (`cargo test --release -p rnnlab-plot -- --ignored --nocapture`).
#[test]
#[ignore]
fn million_point_render_time() {
    let mut run = synthetic_run("big", 1.0);
    run.train_loss = (0..1_000_000)
        .map(|i| Point {
            step: i as f64,
            value: 2.0 + (i as f64 * 0.37).sin() * 0.1,
        })
        .collect();
    run.val_loss = (0..1_000_000)
        .step_by(1000)
        .map(|i| Point {
            step: i as f64,
            value: 2.1,
        })
        .collect();
    run.lr = (0..1_000_000)
        .map(|i| Point {
            step: i as f64,
            value: 1e-3,
        })
        .collect();
    let runs = [(run, diagnosis(vec![]))];
    for (what, f) in [("svg", true), ("png", false)] {
        let started = std::time::Instant::now();
        let size = if f {
            crate::render_svg(&runs, &PlotOptions::default())
                .unwrap()
                .len()
        } else {
            render_png(&runs, &PlotOptions::default()).unwrap().len()
        };
        let secs = started.elapsed().as_secs_f64();
        println!(
            "1,000,000-point run → {what}: {:.0} ms ({size} bytes)",
            secs * 1e3
        );
        assert!(secs < 1.0, "{what} took {secs:.2}s");
    }
}

/// A run that ended normally: the trainer's `end` event.
fn ended_run() -> Run {
    let mut run = synthetic_run("ended", 1.0);
    run.events.push(Event {
        step: 399.0,
        kind: "end".into(),
        detail: "steps done".into(),
    });
    run
}

#[test]
fn end_event_is_not_a_guard_incident() {
    let (svg, _) =
        render_svg_with_frame(&[(ended_run(), diagnosis(vec![]))], &PlotOptions::default())
            .unwrap();
    assert!(
        !elements(&svg, "polygon")
            .iter()
            .any(|e| e["fill"] == hex(style::EVENT)),
        "no incident triangle for `end`"
    );
    let t = texts(&svg);
    assert!(
        !t.iter().any(|x| x.contains("guard incident")),
        "no guard-incident legend entry for a run that only ended: {t:?}"
    );
    assert!(
        !t.iter().any(|x| x.starts_with("end @")),
        "no `end @ N` label over the end of the curve: {t:?}"
    );
}

/// A loss between about 1.5 and 4 with one point at 50.
fn spiky_run() -> Run {
    let mut run = synthetic_run("spiky", 1.0);
    run.train_loss.retain(|p| p.value.is_finite());
    run.train_loss[200].value = 50.0;
    run
}

#[test]
fn a_lone_spike_does_not_squash_the_curve() {
    let run = spiky_run();
    let (svg, frame) =
        render_svg_with_frame(&[(run.clone(), diagnosis(vec![]))], &PlotOptions::default())
            .unwrap();
    let top = frame.y.scale.inverse(frame.y.hi);
    assert!(
        top < 6.0,
        "the axis ignores the outlier by default, top {top}"
    );
    let t = texts(&svg);
    assert!(
        t.iter().any(|x| x.starts_with("off scale: 50 @ 200")),
        "the clipped point is marked with its value: {t:?}"
    );
    let blue = hex(style::RUN_COLORS[0]);
    for line in polylines_with(&svg, &blue, None) {
        for (_, y) in points(&line) {
            assert!(
                y >= frame.plot.y0 as f64 - 1.0,
                "clipped point drawn at the edge, not above it"
            );
        }
    }

    let full = PlotOptions {
        y_range: crate::YRange::Full,
        ..PlotOptions::default()
    };
    let (_, frame) = render_svg_with_frame(&[(run.clone(), diagnosis(vec![]))], &full).unwrap();
    assert!(frame.y.scale.inverse(frame.y.hi) >= 50.0);

    // A curve without outliers keeps its full range under the default.
    let (_, frame) = render_svg_with_frame(
        &[(synthetic_run("calm", 1.0), diagnosis(vec![]))],
        &PlotOptions::default(),
    )
    .unwrap();
    assert!(frame.y.scale.inverse(frame.y.hi) >= 4.0);
}
