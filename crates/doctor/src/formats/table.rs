//! CSV and TSV with a header row: plain exports, Lightning `metrics.csv` (train and validation on
//! separate rows of one step, empty cells elsewhere) and Weights & Biases exports (`Step`,
//! `run - train/loss`, with `__MIN`/`__MAX` companions ignored).

use super::series::{Row, Table};
use super::LoadOptions;
use crate::error::{DoctorError, Location};
use crate::Run;
use std::path::Path;

/// The delimiter the header line uses: tab, semicolon or comma.
pub(crate) fn sniff_delimiter(bytes: &[u8]) -> u8 {
    let header = bytes.split(|&b| b == b'\n').next().unwrap_or_default();
    let count = |d: u8| header.iter().filter(|&&b| b == d).count();
    [b'\t', b';', b',']
        .into_iter()
        .max_by_key(|&d| (count(d), d == b','))
        .unwrap_or(b',')
}

/// Parses a cell as a number; `nan`, `inf` and Python's `NaN`/`Infinity` included, empty = absent.
pub(crate) fn parse_number(cell: &str) -> Option<f64> {
    let cell = cell.trim().trim_matches('"');
    if cell.is_empty() {
        return None;
    }
    cell.parse::<f64>()
        .ok()
        .or_else(|| printed_scalar(cell)?.parse::<f64>().ok())
}

/// A printed framework scalar: PyTorch's `tensor(3.2207, device='cuda:0',
/// grad_fn=<NllLossBackward0>)` or `tensor([2.31])`, NumPy 2's `np.float32(0.6931)`, NumPy's
/// `array(0.52, dtype=float32)` and TensorFlow's `tf.Tensor(0.52, shape=(), dtype=float32)`:
/// what `print(loss)` or a logged dict of them writes when the value was never turned into a
/// float. The number is the first group; the wrapper's arguments nest one level of
/// parentheses at most.
fn printed_scalar_pattern() -> &'static regex::Regex {
    static RE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"\b(?:tensor|array|tf\.Tensor|(?:np|numpy)\.(?:float|int)\d*)\(\s*\[?\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?nan|[-+]?inf)\s*\]?\s*(?:,(?:[^()\n]|\([^()\n]*\))*)?\)",
        )
        .expect("the printed-scalar pattern is valid")
    })
}

/// The number inside `text` when the whole of it is a printed framework scalar, or `None`.
pub(crate) fn printed_scalar(text: &str) -> Option<&str> {
    let caps = printed_scalar_pattern().captures(text)?;
    let whole = caps.get(0)?;
    if whole.start() != 0 || whole.end() != text.len() {
        return None;
    }
    caps.get(1).map(|m| m.as_str())
}

/// The text with every printed framework scalar replaced by its number (`'loss':
/// np.float32(2.31)` → `'loss': 2.31`), so that the words before it name the number as usual.
pub(crate) fn unwrap_printed_scalars(text: &str) -> std::borrow::Cow<'_, str> {
    printed_scalar_pattern().replace_all(text, "$1")
}

pub(crate) fn parse(bytes: &[u8], path: &Path, opts: &LoadOptions) -> Result<Run, DoctorError> {
    let text = String::from_utf8_lossy(bytes);
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
    let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    let headerless = first
        .split([',', ';', '\t', ' '])
        .filter(|c| !c.trim().is_empty())
        .all(|c| parse_number(c).is_some());
    if headerless && !first.trim().is_empty() {
        return super::text::parse(text.as_bytes(), path, opts);
    }
    let delimiter = sniff_delimiter(text.as_bytes());
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers = reader
        .headers()
        .map_err(|e| csv_error(path, &e, "a header row"))?
        .iter()
        .map(|h| h.trim().to_string())
        .collect::<Vec<_>>();
    let has = |name: &str| headers.iter().any(|h| h == name);
    // The web page's export (`Name, Created, Runtime, …`), or the API's (`runs` summaries
    // with config columns and `_wandb`, `name`, `id` beside `_step`).
    let api_runs = has("_wandb") || (has("name") && has("id") && has("_step") && has("_runtime"));
    if (has("Name") && has("Runtime") && (has("Created") || has("State"))) || api_runs {
        return Err(DoctorError::parse(
            path,
            Location::Line(1),
            "this is a Weights & Biases runs table (one summary row per run: Name, Created, \
             Runtime, …), not a run's history; export one run's history instead (the run's \
             page → a chart's ⋯ menu → Export → CSV, or `run.history()` in the API)",
        ));
    }
    let mut table = Table {
        columns: headers,
        ..Table::default()
    };
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                // A half-written last row of a run still logging is tolerated.
                if is_at_end(&reader, text.len()) {
                    break;
                }
                return Err(csv_error(path, &e, "a data row"));
            }
        }
        let cells = record
            .iter()
            .enumerate()
            .take(table.columns.len())
            .filter_map(|(i, cell)| parse_number(cell).map(|v| (i, v)))
            .collect();
        table.rows.push(Row { cells });
    }
    table.into_run(path, opts)
}

fn is_at_end(reader: &csv::Reader<&[u8]>, len: usize) -> bool {
    reader.position().byte() as usize >= len
}

fn csv_error(path: &Path, e: &csv::Error, expected: &str) -> DoctorError {
    let location = e
        .position()
        .map(|p| Location::Line(p.line() as usize))
        .unwrap_or(Location::Whole);
    DoctorError::parse(path, location, format!("expected {expected} of CSV: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Point;

    fn load(text: &str) -> Result<Run, DoctorError> {
        parse(text.as_bytes(), Path::new("t.csv"), &LoadOptions::default())
    }

    #[test]
    fn plain_csv_with_gaps() {
        let run = load("step,loss,val_loss,lr,grad_norm\n0,4.2,4.1,0.003,0.3\n1,4.1,,0.003,0.2\n2,nan,,0.003,\n")
            .unwrap();
        assert_eq!(run.train_loss.len(), 3);
        assert!(run.train_loss[2].value.is_nan());
        assert_eq!(
            run.val_loss,
            vec![Point {
                step: 0.0,
                value: 4.1
            }]
        );
        assert_eq!(run.lr.len(), 3);
        assert_eq!(run.grad_norm.len(), 2);
    }

    #[test]
    fn lightning_rows_for_train_and_val_of_one_step() {
        let text = "epoch,step,train_loss_epoch,train_loss_step,val_loss\n\
                    0,49,,7.6,\n0,99,,7.5,\n0,99,,,7.0\n0,99,7.55,,\n1,149,,7.3,\n";
        let run = load(text).unwrap();
        let steps: Vec<f64> = run.train_loss.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![49.0, 99.0, 149.0]);
        assert_eq!(run.train_loss[1].value, 7.5);
        assert_eq!(
            run.val_loss,
            vec![Point {
                step: 99.0,
                value: 7.0
            }]
        );
    }

    #[test]
    fn a_test_loss_logged_after_training_does_not_replace_validation() {
        // Lightning writes its columns in alphabetical order: test_loss comes before val_loss.
        let text = "epoch,step,test_loss,train_loss,val_loss\n\
                    0,400,,0.61,\n0,859,,,0.3169\n1,1200,,0.35,\n1,1719,,,0.2524\n1,1720,0.2302,,\n";
        let run = load(text).unwrap();
        let steps: Vec<f64> = run.val_loss.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![859.0, 1719.0]);
        assert_eq!(run.columns.val_loss.as_deref(), Some("val_loss"));
        // A test loss alone is still the held-out curve.
        let only_test = load("epoch,train_loss,test_loss\n1,0.6,0.7\n2,0.5,0.6\n").unwrap();
        assert_eq!(only_test.val_loss.len(), 2);
    }

    #[test]
    fn wandb_export_and_tsv() {
        let text = "Step\tmyrun - train/loss\tmyrun - train/loss__MIN\tmyrun - train/loss__MAX\n\
                    10\t2.5\t2.4\t2.6\n20\t2.25\t2.2\t2.3\n";
        let run = load(text).unwrap();
        assert_eq!(
            run.train_loss,
            vec![
                Point {
                    step: 10.0,
                    value: 2.5
                },
                Point {
                    step: 20.0,
                    value: 2.25
                }
            ]
        );
    }

    #[test]
    fn the_columns_read_are_named_for_the_user() {
        let run = load("global_step,train_acc,train_loss,val_loss,lr-Adam\n1,0.1,3,,0.01\n2,0.2,2.5,2.7,0.01\n")
            .unwrap();
        let c = &run.columns;
        assert_eq!(c.step.as_deref(), Some("global_step"));
        assert_eq!(c.train_loss.as_deref(), Some("train_loss"));
        assert_eq!(c.val_loss.as_deref(), Some("val_loss"));
        assert_eq!(c.lr.as_deref(), Some("lr-Adam"));
        assert_eq!(c.grad_norm, None);
        let report = crate::diagnose(&run).to_terminal();
        assert!(
            report.contains("Read: step ← \"global_step\", training loss ← \"train_loss\""),
            "{report}"
        );
        assert!(report.contains("(steps 1–2)"), "{report}");
    }

    #[test]
    fn steps_restarting_per_epoch_are_stitched() {
        let run = load("epoch,iter,loss\n1,1,3\n1,2,2.9\n1,3,2.8\n2,1,2.7\n2,2,2.6\n").unwrap();
        let steps: Vec<f64> = run.train_loss.iter().map(|p| p.step).collect();
        assert_eq!(steps, vec![1.0, 2.0, 3.0, 4.0, 5.0]);
    }

    #[test]
    fn a_wandb_runs_table_is_not_a_history() {
        let err = load(
            "\"Name\",\"Created\",\"Runtime\",\"train/loss\"\n\"run_a\",\"2022-06-10\",\"498\",\"1.16\"\n\"run_b\",\"2022-06-10\",\"519\",\"2.23\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("runs table") && err.contains("line 1"),
            "{err}"
        );
        // The same table built with the API: a summary per run, `_step` being each run's last.
        let err = load(
            "learning_rate,_runtime,_step,_timestamp,_wandb,train_loss,val_loss,name,id
0.005,353.5,35,1.7e9,\"{'runtime': 353}\",0.0506,0.1225,trainsample_3404,s4221lzx
0.005,362.3,43,1.7e9,\"{'runtime': 362}\",0.0447,0.1295,trainsample_3064,rm2zewfq
",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("runs table"), "{err}");
    }

    #[test]
    fn no_loss_column_names_what_was_found() {
        let err = load("a,b,c\n1,2,3\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("t.csv"), "{msg}");
        assert!(msg.contains("(found: a, b, c); use --loss-col"), "{msg}");
    }

    #[test]
    fn override_selects_an_unrecognised_column() {
        let opts = LoadOptions {
            loss_col: Some("b".into()),
            step_col: Some("a".into()),
            ..LoadOptions::default()
        };
        let run = parse(b"a,b,c\n1,2,3\n2,1.5,3\n", Path::new("t.csv"), &opts).unwrap();
        assert_eq!(
            run.train_loss[1],
            Point {
                step: 2.0,
                value: 1.5
            }
        );
    }

    #[test]
    fn printed_framework_scalars_in_cells_are_their_numbers() {
        // A CSV written from un-converted tensors: `str(loss)` keeps the device and grad_fn.
        let run = load(
            "epoch,train_loss,val_loss\n\
             1,\"tensor(2.3012, device='cuda:0', grad_fn=<NllLossBackward0>)\",tensor([2.2011])\n\
             2,np.float32(1.9012),\"array(1.9511, dtype=float32)\"\n",
        )
        .unwrap();
        let values = |p: &[Point]| p.iter().map(|p| p.value).collect::<Vec<_>>();
        assert_eq!(values(&run.train_loss), vec![2.3012, 1.9012]);
        assert_eq!(values(&run.val_loss), vec![2.2011, 1.9511]);
        // Only known wrappers: a word with a number in parentheses is no scalar.
        assert_eq!(parse_number("epoch(3)"), None);
    }
}
