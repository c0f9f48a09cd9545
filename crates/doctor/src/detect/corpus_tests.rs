//! The doctor against its own labelled corpus (`crates/doctor/corpus`, in the repository):
//! prints the score table (`cargo test -p rnnlab-doctor corpus -- --nocapture` shows it) and
//! fails when the held-out half falls below the level this code reached, so a change that
//! makes the doctor worse on curves it was not tuned on cannot land silently.

use std::path::Path;

use crate::report::Verdict;
use crate::score::{read_corpus, score, summary};

/// The held-out figures this code reached, per source (see the closing notes), less about a
/// point; the goal is 95 % right and at most 2 % of healthy curves flagged. Per source, because
/// each new batch of published runs (the hardest curves) moves the overall figure by itself.
/// rnnlab's own runs were a fixed list (all right) until session 22 added seeded random draws,
/// scored blind (92.1 % held-out, the same with that session's first binary).
const HOLDOUT_RIGHT_AT_LEAST: [(&str, f64); 3] =
    [("rnnlab", 0.90), ("pytorch", 0.90), ("published", 0.75)];
/// Fresh draws keep raising the held-out share flagged (session 14: 2.3 % → 3.1 %; session
/// 16: 3.3 % → 4.4 %, from generated healthy runs that end within a hair of the labeller's
/// bigram margin and whose references the doctor can only estimate; session 30: 4.9 % → 5.0 %,
/// 118 of 2359, the session's first binary flagging as many; session 31: 5.0 % → 5.8 %, 154 of
/// 2662, from a new source of classifier, regression and fine-tune runs whose small-batch noise
/// the doctor reads as a band or a stall, 36 of 182 healthy ones flagged blind; session 32:
/// 5.8 % → 6.0 %, 173 of 2882, eight more draws of those runs, the session's first binary
/// flagging 179; session 34: 6.2 % → 6.5 %, 222 of 3405, twelve more draws of those runs, 26
/// of their 140 held-out healthy ones flagged, the session's first binary flagging 228): this
/// guards against regressions on top of that, not the goal (2 %).
const HOLDOUT_FALSE_ALARMS_AT_MOST: f64 = 0.068;

#[test]
fn the_held_out_half_of_the_corpus_stays_where_it_was() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let cases = read_corpus(&dir).expect("the corpus is part of the repository");
    assert!(cases.len() >= 200, "{} curves", cases.len());
    let scored = score(&cases);
    println!("{}", summary(&scored));
    let unreadable: Vec<_> = scored.iter().filter(|s| s.error.is_some()).collect();
    assert!(unreadable.is_empty(), "unreadable curves: {unreadable:?}");
    let holdout: Vec<_> = scored
        .iter()
        .filter(|s| s.case.split == "holdout")
        .collect();
    for (source, floor) in HOLDOUT_RIGHT_AT_LEAST {
        let of_source: Vec<_> = holdout.iter().filter(|s| s.case.source == source).collect();
        assert!(!of_source.is_empty(), "no held-out {source} curves");
        let right = of_source.iter().filter(|s| s.right).count() as f64 / of_source.len() as f64;
        assert!(
            right >= floor,
            "held-out {source} accuracy {right:.3} < {floor}"
        );
    }
    let healthy: Vec<_> = holdout.iter().filter(|s| s.case.healthy()).collect();
    let alarms = healthy
        .iter()
        .filter(|s| s.verdict == Verdict::Unhealthy)
        .count() as f64
        / healthy.len() as f64;
    assert!(
        alarms <= HOLDOUT_FALSE_ALARMS_AT_MOST,
        "held-out false alarms {alarms:.3} > {HOLDOUT_FALSE_ALARMS_AT_MOST}"
    );
}

/// The same run found twice (a forum post copied to another site, two checkpoints of one
/// trainer_state.json, a fork's committed log) would count twice, maybe once in each half.
/// Series that say nothing of a run (all NaN, all zero) may repeat.
#[test]
fn no_curve_of_the_corpus_is_a_copy_of_another() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut seen: std::collections::HashMap<String, String> = Default::default();
    let mut copies = Vec::new();
    for source in ["published", "pytorch", "rnnlab"] {
        for entry in std::fs::read_dir(dir.join(source)).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|e| e != "csv") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let rows: Vec<&str> = text.lines().skip(1).collect();
            let distinct: std::collections::HashSet<&str> =
                rows.iter().filter_map(|r| r.split(',').nth(1)).collect();
            if rows.len() < 5 || distinct.len() < 3 {
                continue;
            }
            let name = format!("{source}/{}", path.file_name().unwrap().to_string_lossy());
            if let Some(first) = seen.insert(rows.join("\n"), name.clone()) {
                copies.push(format!("{first} = {name}"));
            }
        }
    }
    assert!(copies.is_empty(), "the same series twice: {copies:?}");
}
