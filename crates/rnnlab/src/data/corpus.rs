//! Loading corpus text and cutting it into train/valid/test splits.
//!
//! Three sources: one file, a directory of files (sorted by name and concatenated), or explicit
//! train/valid/test files (PTB and WikiText-2 style). One file or a directory is split
//! **contiguously** by fraction: the first `train` share of the bytes is training text, the next
//! `valid` share validation, the rest test (default 90/5/5). Cut points move forward to the next
//! UTF-8 character boundary so no character is torn in half.
//!
//! Files of 1 MiB or more are memory-mapped rather than read, so a large corpus costs no copy.
use super::error::DataError;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Files at least this large are memory-mapped instead of read into memory.
const MMAP_THRESHOLD: u64 = 1 << 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Split {
    Train,
    Valid,
    Test,
}

impl Split {
    pub const ALL: [Split; 3] = [Split::Train, Split::Valid, Split::Test];

    pub fn name(self) -> &'static str {
        match self {
            Split::Train => "train",
            Split::Valid => "valid",
            Split::Test => "test",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Split {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Shares of a single text given to each split (contiguous, in this order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SplitFractions {
    pub train: f64,
    pub valid: f64,
    pub test: f64,
}

impl Default for SplitFractions {
    /// 90% train, 5% validation, 5% test.
    fn default() -> Self {
        SplitFractions {
            train: 0.9,
            valid: 0.05,
            test: 0.05,
        }
    }
}

impl SplitFractions {
    pub fn validate(&self) -> Result<(), DataError> {
        let ok = [self.train, self.valid, self.test]
            .iter()
            .all(|f| f.is_finite() && *f >= 0.0)
            && self.train > 0.0
            && (self.train + self.valid + self.test - 1.0).abs() < 1e-9;
        if ok {
            Ok(())
        } else {
            Err(DataError::BadFractions {
                train: self.train,
                valid: self.valid,
                test: self.test,
            })
        }
    }
}

/// Where corpus text comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CorpusSource {
    /// One file, split by fraction.
    File(PathBuf),
    /// Every regular, non-hidden file in a directory, sorted by name, concatenated, split by fraction.
    Dir(PathBuf),
    /// Explicit splits; without a test file the test split is empty.
    Files {
        train: PathBuf,
        valid: PathBuf,
        test: Option<PathBuf>,
    },
}

/// Bytes either owned or memory-mapped.
enum Bytes {
    Owned(Vec<u8>),
    Mapped(memmap2::Mmap),
}

impl Bytes {
    fn as_slice(&self) -> &[u8] {
        match self {
            Bytes::Owned(v) => v,
            Bytes::Mapped(m) => m,
        }
    }
}

/// One loaded text and the files it came from (start offset of each), for error messages.
struct Blob {
    bytes: Bytes,
    parts: Vec<(PathBuf, usize)>,
}

impl Blob {
    /// The file holding absolute byte `offset`, and the offset inside that file.
    fn locate(&self, offset: usize) -> (PathBuf, u64) {
        let idx = self
            .parts
            .iter()
            .rposition(|(_, start)| *start <= offset)
            .unwrap_or(0);
        let (path, start) = &self.parts[idx];
        (path.clone(), (offset - start) as u64)
    }
}

/// A loaded corpus: the bytes of each split plus where they came from.
pub struct Corpus {
    blobs: Vec<Blob>,
    /// Per split: which blob and which byte range of it.
    splits: [(usize, Range<usize>); 3],
    /// Per split: the file (or directory) to name in messages.
    labels: [PathBuf; 3],
}

impl fmt::Debug for Corpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Corpus");
        for split in Split::ALL {
            d.field(split.name(), &(self.path(split), self.bytes(split).len()));
        }
        d.finish()
    }
}

impl Corpus {
    /// Load `source`; a single text is split by `fractions`.
    pub fn load(source: &CorpusSource, fractions: SplitFractions) -> Result<Corpus, DataError> {
        match source {
            CorpusSource::File(path) => {
                let blob = read_file(path)?;
                Self::split_one(blob, path.clone(), fractions)
            }
            CorpusSource::Dir(path) => {
                let blob = read_dir(path)?;
                Self::split_one(blob, path.clone(), fractions)
            }
            CorpusSource::Files { train, valid, test } => {
                let mut blobs = vec![read_file(train)?, read_file(valid)?];
                let mut labels = [train.clone(), valid.clone(), PathBuf::new()];
                let test_range = match test {
                    Some(t) => {
                        blobs.push(read_file(t)?);
                        labels[2] = t.clone();
                        (2, 0..blobs[2].bytes.as_slice().len())
                    }
                    None => (0, 0..0),
                };
                let splits = [
                    (0, 0..blobs[0].bytes.as_slice().len()),
                    (1, 0..blobs[1].bytes.as_slice().len()),
                    test_range,
                ];
                Ok(Corpus {
                    blobs,
                    splits,
                    labels,
                })
            }
        }
    }

    /// A corpus from in-memory texts (the built-in corpus); `label` stands in for a file name.
    pub fn from_texts(label: &str, train: String, valid: String, test: String) -> Corpus {
        let mut blobs = Vec::new();
        let mut splits: [(usize, Range<usize>); 3] = [(0, 0..0), (0, 0..0), (0, 0..0)];
        let mut labels: [PathBuf; 3] = Default::default();
        for (i, text) in [train, valid, test].into_iter().enumerate() {
            let path = PathBuf::from(format!("{label}:{}", Split::ALL[i]));
            let len = text.len();
            blobs.push(Blob {
                bytes: Bytes::Owned(text.into_bytes()),
                parts: vec![(path.clone(), 0)],
            });
            splits[i] = (i, 0..len);
            labels[i] = path;
        }
        Corpus {
            blobs,
            splits,
            labels,
        }
    }

    fn split_one(
        blob: Blob,
        label: PathBuf,
        fractions: SplitFractions,
    ) -> Result<Corpus, DataError> {
        fractions.validate()?;
        let bytes = blob.bytes.as_slice();
        let n = bytes.len();
        let cut =
            |share: f64| char_boundary_at_or_after(bytes, (n as f64 * share).round() as usize);
        let a = cut(fractions.train);
        let b = cut(fractions.train + fractions.valid).max(a);
        Ok(Corpus {
            blobs: vec![blob],
            splits: [(0, 0..a), (0, a..b), (0, b..n)],
            labels: [label.clone(), label.clone(), label],
        })
    }

    /// The raw bytes of a split (possibly empty for `Test`).
    pub fn bytes(&self, split: Split) -> &[u8] {
        let (blob, range) = &self.splits[split.index()];
        &self.blobs[*blob].bytes.as_slice()[range.clone()]
    }

    /// The split as text; invalid UTF-8 is an error naming the file and the byte offset in it.
    pub fn text(&self, split: Split) -> Result<&str, DataError> {
        let (blob_idx, range) = &self.splits[split.index()];
        let blob = &self.blobs[*blob_idx];
        std::str::from_utf8(self.bytes(split)).map_err(|e| {
            let (path, offset) = blob.locate(range.start + e.valid_up_to());
            DataError::InvalidUtf8 { path, offset }
        })
    }

    /// The file (or directory) a split came from, for messages.
    pub fn path(&self, split: Split) -> &Path {
        &self.labels[split.index()]
    }
}

/// First index `>= at` that starts a UTF-8 character (or the end).
fn char_boundary_at_or_after(bytes: &[u8], at: usize) -> usize {
    let mut i = at.min(bytes.len());
    while i < bytes.len() && (bytes[i] & 0xC0) == 0x80 {
        i += 1;
    }
    i
}

fn read_file(path: &Path) -> Result<Blob, DataError> {
    let meta = std::fs::metadata(path).map_err(|e| DataError::io(path, e))?;
    if meta.is_dir() {
        return Err(DataError::Io {
            path: path.to_path_buf(),
            source: std::io::Error::other("is a directory, expected a file"),
        });
    }
    if meta.len() == 0 {
        return Err(DataError::Empty {
            path: path.to_path_buf(),
        });
    }
    let bytes = if meta.len() >= MMAP_THRESHOLD {
        let file = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
        // SAFETY: the map is read-only; a corpus file changed underneath a running job is a
        // user error that at worst yields different text, as reading it would.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| DataError::io(path, e))?;
        Bytes::Mapped(map)
    } else {
        Bytes::Owned(std::fs::read(path).map_err(|e| DataError::io(path, e))?)
    };
    Ok(Blob {
        bytes,
        parts: vec![(path.to_path_buf(), 0)],
    })
}

fn read_dir(dir: &Path) -> Result<Blob, DataError> {
    let entries = std::fs::read_dir(dir).map_err(|e| DataError::io(dir, e))?;
    let mut files = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|e| DataError::io(dir, e))?;
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if !hidden && path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(DataError::EmptyDir {
            path: dir.to_path_buf(),
        });
    }
    let mut bytes = Vec::new();
    let mut parts = Vec::new();
    for path in files {
        parts.push((path.clone(), bytes.len()));
        bytes.extend(std::fs::read(&path).map_err(|e| DataError::io(&path, e))?);
    }
    if bytes.is_empty() {
        return Err(DataError::Empty {
            path: dir.to_path_buf(),
        });
    }
    Ok(Blob {
        bytes: Bytes::Owned(bytes),
        parts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    #[test]
    fn file_is_split_contiguously_by_fraction() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..100)
            .map(|i| char::from(b'a' + (i % 26) as u8))
            .collect();
        let p = write(dir.path(), "c.txt", text.as_bytes());
        let c = Corpus::load(&CorpusSource::File(p), SplitFractions::default()).unwrap();
        assert_eq!(c.bytes(Split::Train).len(), 90);
        assert_eq!(c.bytes(Split::Valid).len(), 5);
        assert_eq!(c.bytes(Split::Test).len(), 5);
        let joined = [Split::Train, Split::Valid, Split::Test]
            .map(|s| c.text(s).unwrap().to_string())
            .concat();
        assert_eq!(joined, text);
    }

    #[test]
    fn cut_never_tears_a_multibyte_character() {
        let dir = tempfile::tempdir().unwrap();
        let text = "é".repeat(51); // 102 bytes: a half cut lands on byte 51, inside a character
        let p = write(dir.path(), "u.txt", text.as_bytes());
        let f = SplitFractions {
            train: 0.5,
            valid: 0.25,
            test: 0.25,
        };
        let c = Corpus::load(&CorpusSource::File(p), f).unwrap();
        assert_eq!(c.bytes(Split::Train).len(), 52);
        for s in Split::ALL {
            c.text(s).unwrap();
        }
    }

    #[test]
    fn directory_files_are_sorted_and_concatenated() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "b.txt", b"BBBB");
        write(dir.path(), "a.txt", b"AAAA");
        write(dir.path(), ".hidden", b"HHHH");
        let f = SplitFractions {
            train: 0.5,
            valid: 0.5,
            test: 0.0,
        };
        let c = Corpus::load(&CorpusSource::Dir(dir.path().into()), f).unwrap();
        assert_eq!(c.text(Split::Train).unwrap(), "AAAA");
        assert_eq!(c.text(Split::Valid).unwrap(), "BBBB");
        assert_eq!(c.text(Split::Test).unwrap(), "");
    }

    #[test]
    fn explicit_files_keep_their_own_splits() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train.txt", b"tr");
        let valid = write(dir.path(), "valid.txt", b"va");
        let src = CorpusSource::Files {
            train,
            valid: valid.clone(),
            test: None,
        };
        let c = Corpus::load(&src, SplitFractions::default()).unwrap();
        assert_eq!(c.text(Split::Train).unwrap(), "tr");
        assert_eq!(c.text(Split::Valid).unwrap(), "va");
        assert!(c.bytes(Split::Test).is_empty());
        assert_eq!(c.path(Split::Valid), valid);
    }

    #[test]
    fn large_files_are_memory_mapped_and_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let text = "abcdefgh\n".repeat((MMAP_THRESHOLD as usize) / 9 + 10);
        let p = write(dir.path(), "big.txt", text.as_bytes());
        let c = Corpus::load(&CorpusSource::File(p), SplitFractions::default()).unwrap();
        assert!(matches!(c.blobs[0].bytes, Bytes::Mapped(_)));
        let total: usize = Split::ALL.iter().map(|s| c.bytes(*s).len()).sum();
        assert_eq!(total, text.len());
        assert_eq!(&text.as_bytes()[..100], &c.bytes(Split::Train)[..100]);
    }

    #[test]
    fn missing_file_error_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("nope.txt");
        let err =
            Corpus::load(&CorpusSource::File(p.clone()), SplitFractions::default()).unwrap_err();
        assert!(matches!(err, DataError::Missing { .. }));
        assert!(err.to_string().contains("nope.txt"), "{err}");
    }

    #[test]
    fn empty_file_error_names_it() {
        let dir = tempfile::tempdir().unwrap();
        let train = write(dir.path(), "train.txt", b"abc");
        let valid = write(dir.path(), "valid.txt", b"");
        let src = CorpusSource::Files {
            train,
            valid,
            test: None,
        };
        let err = Corpus::load(&src, SplitFractions::default()).unwrap_err();
        assert!(matches!(err, DataError::Empty { .. }));
        assert!(err.to_string().contains("valid.txt"), "{err}");
    }

    #[test]
    fn empty_directory_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = Corpus::load(
            &CorpusSource::Dir(dir.path().into()),
            SplitFractions::default(),
        )
        .unwrap_err();
        assert!(matches!(err, DataError::EmptyDir { .. }), "{err}");
    }

    #[test]
    fn invalid_utf8_names_file_and_offset_and_suggests_byte() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "a.txt", b"hello world\n");
        write(dir.path(), "b.bin", b"ok\xff\xfe rest");
        let f = SplitFractions {
            train: 1.0,
            valid: 0.0,
            test: 0.0,
        };
        let c = Corpus::load(&CorpusSource::Dir(dir.path().into()), f).unwrap();
        let err = c.text(Split::Train).unwrap_err();
        match &err {
            DataError::InvalidUtf8 { path, offset } => {
                assert!(path.ends_with("b.bin"));
                assert_eq!(*offset, 2);
            }
            other => panic!("unexpected {other}"),
        }
        assert!(err.to_string().contains("--tokenizer byte"));
        // the byte view still works
        assert_eq!(c.bytes(Split::Train).len(), 12 + 9);
    }

    #[test]
    fn bad_fractions_are_rejected() {
        let f = SplitFractions {
            train: 0.9,
            valid: 0.2,
            test: 0.0,
        };
        assert!(f.validate().is_err());
        assert!(SplitFractions::default().validate().is_ok());
    }
}
