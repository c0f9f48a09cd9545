//! TensorBoard event files (`events.out.tfevents.*`) and folders of them: TFRecord framing,
//! `Event`/`Summary` protobufs (only the fields scalars need, derived by hand with prost so no
//! `protoc` is needed), scalars from `simple_value` or a one-element float/double/half tensor as
//! newer writers emit. Tags are mapped by name; a `val/` or `validation/` folder turns its loss
//! tags into the validation series (Keras writes the same `epoch_loss` tag in both folders).

use super::names::{classify, folder_role, list_names, pick_columns, Role};
use super::series::{normalise, steps_per_epoch};
use super::tfrecord::Records;
use super::LoadOptions;
use crate::error::{DoctorError, Location};
use crate::{Point, Run};
use prost::Message;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Event {
    #[prost(double, tag = "1")]
    pub wall_time: f64,
    #[prost(int64, tag = "2")]
    pub step: i64,
    #[prost(message, optional, tag = "5")]
    pub summary: Option<Summary>,
    #[prost(message, optional, tag = "7")]
    pub session_log: Option<SessionLog>,
}

/// A session marker: `START` at step S means a restart (a resumed run), after which what was
/// logged at S and later before it no longer counts (TensorBoard purges it too).
#[derive(Clone, PartialEq, Message)]
pub(crate) struct SessionLog {
    #[prost(int32, tag = "1")]
    pub status: i32,
}

const SESSION_START: i32 = 1;

#[derive(Clone, PartialEq, Message)]
pub(crate) struct Summary {
    #[prost(message, repeated, tag = "1")]
    pub value: Vec<SummaryValue>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct SummaryValue {
    /// Bytes, not string: a tag that is not UTF-8 must not fail the whole event.
    #[prost(bytes = "vec", tag = "1")]
    pub tag: Vec<u8>,
    #[prost(float, optional, tag = "2")]
    pub simple_value: Option<f32>,
    #[prost(message, optional, tag = "8")]
    pub tensor: Option<TensorProto>,
    #[prost(message, optional, tag = "9")]
    pub metadata: Option<SummaryMetadata>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct SummaryMetadata {
    #[prost(message, optional, tag = "1")]
    pub plugin_data: Option<PluginData>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct PluginData {
    #[prost(bytes = "vec", tag = "1")]
    pub plugin_name: Vec<u8>,
}

#[derive(Clone, PartialEq, Message)]
pub(crate) struct TensorProto {
    #[prost(int32, tag = "1")]
    pub dtype: i32,
    #[prost(bytes = "vec", tag = "4")]
    pub tensor_content: Vec<u8>,
    #[prost(float, repeated, tag = "5")]
    pub float_val: Vec<f32>,
    #[prost(double, repeated, tag = "6")]
    pub double_val: Vec<f64>,
    #[prost(int32, repeated, tag = "13")]
    pub half_val: Vec<i32>,
}

const DT_FLOAT: i32 = 1;
const DT_DOUBLE: i32 = 2;
const DT_BFLOAT16: i32 = 14;
const DT_HALF: i32 = 19;

fn f16_to_f32(bits: u16) -> f32 {
    let sign = ((bits >> 15) as u32) << 31;
    let exp = ((bits >> 10) & 0x1f) as u32;
    let frac = (bits & 0x3ff) as u32;
    let magnitude = match exp {
        0 => {
            // subnormal
            let v = frac as f32 * 2f32.powi(-24);
            return if sign != 0 { -v } else { v };
        }
        0x1f => 0xff << 23 | frac << 13,
        _ => (exp + 127 - 15) << 23 | frac << 13,
    };
    f32::from_bits(sign | magnitude)
}

/// The scalar a summary value holds, if it holds exactly one number.
fn scalar(value: &SummaryValue) -> Option<f64> {
    if let Some(x) = value.simple_value {
        return Some(x as f64);
    }
    let tensor = value.tensor.as_ref()?;
    let plugin = value
        .metadata
        .as_ref()
        .and_then(|m| m.plugin_data.as_ref())
        .map(|p| p.plugin_name.as_slice())
        .unwrap_or_default();
    if !plugin.is_empty() && plugin != b"scalars" {
        return None;
    }
    let content = tensor.tensor_content.as_slice();
    match tensor.dtype {
        DT_FLOAT => match (tensor.float_val.as_slice(), content.len()) {
            ([x], _) => Some(*x as f64),
            ([], 4) => Some(f32::from_le_bytes(content.try_into().ok()?) as f64),
            _ => None,
        },
        DT_DOUBLE => match (tensor.double_val.as_slice(), content.len()) {
            ([x], _) => Some(*x),
            ([], 8) => Some(f64::from_le_bytes(content.try_into().ok()?)),
            _ => None,
        },
        DT_HALF | DT_BFLOAT16 => {
            let bits = match (tensor.half_val.as_slice(), content.len()) {
                ([x], _) => *x as u16,
                ([], 2) => u16::from_le_bytes(content.try_into().ok()?),
                _ => return None,
            };
            Some(if tensor.dtype == DT_HALF {
                f16_to_f32(bits) as f64
            } else {
                f32::from_bits((bits as u32) << 16) as f64
            })
        }
        _ => None,
    }
}

/// Scalar series gathered from one or more event files, keyed by (folder, tag).
#[derive(Debug, Default)]
pub(crate) struct Scalars {
    index: HashMap<(Option<String>, Vec<u8>), usize>,
    series: Vec<Series>,
}

#[derive(Debug)]
struct Series {
    folder: Option<String>,
    tag: String,
    points: Vec<Point>,
}

impl Scalars {
    /// Reads one event file. `folder` is the nearest enclosing folder named like a split
    /// (`train`, `val`, `validation`…), if any.
    pub fn add_file(
        &mut self,
        bytes: &[u8],
        path: &Path,
        folder: Option<&str>,
    ) -> Result<(), DoctorError> {
        let mut offset = 0u64;
        let mut file_tags: HashMap<Vec<u8>, usize> = HashMap::new();
        for record in Records::new(bytes, path) {
            let data = record?;
            let event = Event::decode(data).map_err(|e| {
                DoctorError::parse(
                    path,
                    Location::Byte(offset),
                    format!("expected a TensorBoard Event protobuf: {e}"),
                )
            })?;
            offset += data.len() as u64 + 16;
            if event.session_log.as_ref().map(|l| l.status) == Some(SESSION_START) {
                let from = event.step as f64;
                for s in &mut self.series {
                    s.points.retain(|p| p.step < from);
                }
            }
            let Some(summary) = event.summary else {
                continue;
            };
            let step = event.step as f64;
            for value in &summary.value {
                let Some(v) = scalar(value) else { continue };
                // The folder is fixed for a file: look tags up without allocating.
                let i = match file_tags.get(value.tag.as_slice()) {
                    Some(&i) => i,
                    None => {
                        let key = (folder.map(str::to_string), value.tag.clone());
                        let next = self.series.len();
                        let i = *self.index.entry(key).or_insert(next);
                        if i == next {
                            self.series.push(Series {
                                folder: folder.map(str::to_string),
                                tag: String::from_utf8_lossy(&value.tag).into_owned(),
                                points: Vec::new(),
                            });
                        }
                        file_tags.insert(value.tag.clone(), i);
                        i
                    }
                };
                self.series[i].points.push(Point { step, value: v });
            }
        }
        Ok(())
    }

    /// Maps tags to the run's series by name (and folder), best-ranked tag per role.
    pub fn into_run(self, path: &Path, opts: &LoadOptions) -> Result<Run, DoctorError> {
        let names: Vec<String> = self
            .series
            .iter()
            .map(|s| match &s.folder {
                Some(f) => format!("{f}/{}", s.tag),
                None => s.tag.clone(),
            })
            .collect();
        let roles: Vec<_> = self
            .series
            .iter()
            .map(|s| {
                let role = classify(&s.tag);
                let folder = s.folder.as_deref().and_then(folder_role);
                match (role, folder) {
                    (Some((Role::TrainLoss, rank)), Some(Role::ValLoss)) => {
                        Some((Role::ValLoss, rank))
                    }
                    (Some((Role::Lr | Role::GradNorm, _)), Some(Role::ValLoss)) => None,
                    _ => role,
                }
            })
            .collect();
        let picks = pick_columns(&names, &roles, opts, path)?;
        if picks.train.is_none() && picks.val.is_none() {
            return Err(DoctorError::parse(
                path,
                Location::Whole,
                format!(
                    "expected a scalar loss tag (found tags: {}); use --loss-col",
                    list_names(&names)
                ),
            ));
        }
        let mut series: Vec<Option<Vec<Point>>> =
            self.series.into_iter().map(|s| Some(s.points)).collect();
        let mut take = |i: Option<usize>| i.and_then(|i| series[i].take()).unwrap_or_default();
        let epochs = take(picks.epoch);
        let tag = |i: Option<usize>| i.map(|i| names[i].to_string());
        let columns = crate::SeriesNames {
            step: None,
            train_loss: tag(picks.train),
            val_loss: tag(picks.val),
            lr: tag(picks.lr),
            grad_norm: tag(picks.grad),
        };
        let mut run = Run {
            train_loss: take(picks.train),
            val_loss: take(picks.val),
            lr: take(picks.lr),
            grad_norm: take(picks.grad),
            columns,
            ..Run::default()
        };
        normalise(&mut run);
        let mut epochs = epochs;
        super::series::sort_dedup(&mut epochs);
        let pairs: Vec<(f64, f64)> = epochs.iter().map(|p| (p.step, p.value)).collect();
        run.steps_per_epoch = steps_per_epoch(&pairs);
        Ok(run)
    }
}

/// Whether a file name is a TensorBoard event file's.
pub(crate) fn is_event_file_name(name: &str) -> bool {
    name.contains("tfevents")
}

/// The nearest folder among `components` (outermost first) that names a split.
fn split_folder<'a>(components: impl DoubleEndedIterator<Item = &'a str>) -> Option<String> {
    components
        .rev()
        .find(|c| folder_role(c).is_some())
        .map(str::to_string)
}

/// One event file given directly; its parent folder may name the split.
pub(crate) fn parse_file(
    bytes: &[u8],
    path: &Path,
    opts: &LoadOptions,
) -> Result<Run, DoctorError> {
    let parent = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str());
    let mut scalars = Scalars::default();
    scalars.add_file(bytes, path, split_folder(parent.into_iter()).as_deref())?;
    scalars.into_run(path, opts)
}

/// Every event file under `root` (recursively, in name order, so resumed runs append in time
/// order); sibling split folders become the train and validation series.
pub(crate) fn event_files(root: &Path) -> Result<Vec<PathBuf>, DoctorError> {
    fn walk(dir: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), DoctorError> {
        let entries = std::fs::read_dir(dir).map_err(|source| DoctorError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths {
            if p.is_dir() {
                if depth < 8 {
                    walk(&p, depth + 1, out)?;
                }
            } else if p
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(is_event_file_name)
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(root, 0, &mut out)?;
    Ok(out)
}

/// The run an event file under `root` belongs to: its folder path below `root` without the
/// split folders (`train`, `validation`…); empty for files of the root run itself.
fn run_key(root: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(root).unwrap_or(file);
    relative
        .parent()
        .into_iter()
        .flat_map(|p| p.components())
        .filter_map(|c| c.as_os_str().to_str())
        .filter(|c| folder_role(c).is_none())
        .collect::<Vec<_>>()
        .join("/")
}

pub(crate) fn parse_dir(root: &Path, opts: &LoadOptions) -> Result<Run, DoctorError> {
    let mut files = event_files(root)?;
    let mut runs: Vec<String> = files.iter().map(|f| run_key(root, f)).collect();
    runs.sort();
    runs.dedup();
    let shown = |runs: &[String]| {
        runs.iter()
            .map(|r| if r.is_empty() { "." } else { r.as_str() })
            .collect::<Vec<_>>()
            .join(", ")
    };
    match &opts.run {
        Some(want) => {
            let want = want.trim_matches('/');
            let want = if want == "." { "" } else { want };
            // A run is named by its path or any leading part of it (`gru` for `gru/tensorboard`).
            let under = |r: &str| {
                want.is_empty() && r.is_empty()
                    || !want.is_empty()
                        && (r == want || r.starts_with(want) && r[want.len()..].starts_with('/'))
            };
            if !runs.iter().any(|r| under(r)) {
                return Err(DoctorError::Usage(format!(
                    "{} holds no TensorBoard run `{want}` (runs: {})",
                    root.display(),
                    shown(&runs)
                )));
            }
            files.retain(|f| under(&run_key(root, f)));
        }
        None if runs.len() > 1 => {
            return Err(DoctorError::Usage(format!(
                "{} holds {} TensorBoard runs: {}; choose one with --run NAME",
                root.display(),
                runs.len(),
                shown(&runs)
            )));
        }
        None => {}
    }
    let root_name = root.file_name().and_then(|n| n.to_str());
    let mut scalars = Scalars::default();
    for file in &files {
        let relative = file.strip_prefix(root).unwrap_or(file);
        let dirs = relative
            .parent()
            .into_iter()
            .flat_map(|p| p.components())
            .filter_map(|c| c.as_os_str().to_str());
        let folder = split_folder(root_name.into_iter().chain(dirs));
        let bytes = std::fs::read(file).map_err(|source| DoctorError::Io {
            path: file.clone(),
            source,
        })?;
        scalars.add_file(&bytes, file, folder.as_deref())?;
    }
    scalars.into_run(root, opts)
}

/// Builds event files for tests and benchmarks: the writer side of the same protobufs.
#[cfg(test)]
pub(crate) mod testwrite {
    use super::*;
    use crate::formats::tfrecord::write_record;

    pub fn simple(out: &mut Vec<u8>, step: i64, tag: &str, value: f32) {
        let event = Event {
            wall_time: 1.0,
            step,
            summary: Some(Summary {
                value: vec![SummaryValue {
                    tag: tag.as_bytes().to_vec(),
                    simple_value: Some(value),
                    tensor: None,
                    metadata: None,
                }],
            }),
            session_log: None,
        };
        write_record(out, &event.encode_to_vec());
    }

    pub fn tensor(out: &mut Vec<u8>, step: i64, tag: &str, tensor: TensorProto) {
        let event = Event {
            wall_time: 1.0,
            step,
            summary: Some(Summary {
                value: vec![SummaryValue {
                    tag: tag.as_bytes().to_vec(),
                    simple_value: None,
                    tensor: Some(tensor),
                    metadata: Some(SummaryMetadata {
                        plugin_data: Some(PluginData {
                            plugin_name: b"scalars".to_vec(),
                        }),
                    }),
                }],
            }),
            session_log: None,
        };
        write_record(out, &event.encode_to_vec());
    }

    /// The first record every writer emits: a file version, no summary.
    pub fn header(out: &mut Vec<u8>) {
        let event = Event {
            wall_time: 1.0,
            step: 0,
            summary: None,
            session_log: None,
        };
        let mut data = event.encode_to_vec();
        // field 3 (file_version), a string the reader must skip
        data.extend_from_slice(&[0x1a, 13]);
        data.extend_from_slice(b"brain.Event:2");
        write_record(out, &data);
    }
}

#[cfg(test)]
#[path = "tensorboard_tests.rs"]
mod tests;
