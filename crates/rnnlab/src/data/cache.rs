//! Token ids cached next to the run: a small binary file per split.
//!
//! Layout: magic `RNLTOK01`, the 32-byte key, the count (u64 LE), then the ids (u32 LE). The key
//! is a sha256 of the source text, the tokenizer's JSON and the split name, so a changed corpus
//! or tokenizer makes the cache stale and it is rebuilt. A truncated or foreign file is treated
//! as stale too: a cache is never worth an error.
use super::error::DataError;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::Path;

const MAGIC: &[u8; 8] = b"RNLTOK01";
const HEADER: usize = 8 + 32 + 8;

pub type CacheKey = [u8; 32];

pub fn cache_key(source: &[u8], tokenizer_json: &str, split: &str) -> CacheKey {
    let mut h = Sha256::new();
    for part in [source, tokenizer_json.as_bytes(), split.as_bytes()] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Whether `load_or_encode` found a valid cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Built,
}

/// The cached ids if `path` holds a cache for `key`.
pub fn read(path: &Path, key: &CacheKey) -> Option<Vec<u32>> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < HEADER || &bytes[..8] != MAGIC || bytes[8..40] != key[..] {
        return None;
    }
    let count = u64::from_le_bytes(bytes[40..48].try_into().ok()?) as usize;
    let body = &bytes[HEADER..];
    if body.len() != count.checked_mul(4)? {
        return None;
    }
    Some(
        body.chunks_exact(4)
            .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

/// Write the cache atomically (temp file + rename).
pub fn write(path: &Path, key: &CacheKey, ids: &[u32]) -> Result<(), DataError> {
    let mut bytes = Vec::with_capacity(HEADER + ids.len() * 4);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(&(ids.len() as u64).to_le_bytes());
    for id in ids {
        bytes.extend_from_slice(&id.to_le_bytes());
    }
    let tmp = crate::fsutil::unique_temp_sibling(path, "tmp");
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(&bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        DataError::Write {
            path: path.to_path_buf(),
            source: e,
        }
    })
}

/// The cached ids, or `encode()`'s result written to the cache.
pub fn load_or_encode(
    path: &Path,
    key: &CacheKey,
    encode: impl FnOnce() -> Result<Vec<u32>, DataError>,
) -> Result<(Vec<u32>, CacheStatus), DataError> {
    if let Some(ids) = read(path, key) {
        return Ok((ids, CacheStatus::Hit));
    }
    let ids = encode()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|e| DataError::io(dir, e))?;
    }
    write(path, key, &ids)?;
    Ok((ids, CacheStatus::Built))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hit_after_build_and_rebuild_when_stale() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("run/tokens-train.bin");
        let key = cache_key(b"hello", "{\"kind\":\"byte\"}", "train");
        let ids = vec![104, 101, 108, 108, 111];
        let (got, status) = load_or_encode(&path, &key, || Ok(ids.clone())).unwrap();
        assert_eq!(
            (got.as_slice(), status),
            (ids.as_slice(), CacheStatus::Built)
        );
        let (got, status) = load_or_encode(&path, &key, || panic!("must not re-encode")).unwrap();
        assert_eq!((got, status), (ids.clone(), CacheStatus::Hit));
        // a different tokenizer (or text) gives another key: rebuilt
        let other = cache_key(b"hello", "{\"kind\":\"char\"}", "train");
        let (_, status) = load_or_encode(&path, &other, || Ok(vec![1, 2])).unwrap();
        assert_eq!(status, CacheStatus::Built);
        assert_eq!(read(&path, &other), Some(vec![1, 2]));
        assert_eq!(read(&path, &key), None);
    }

    #[test]
    fn truncated_cache_is_rebuilt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.bin");
        let key = cache_key(b"x", "t", "valid");
        write(&path, &key, &[1, 2, 3]).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 2]).unwrap();
        assert_eq!(read(&path, &key), None);
        let (ids, status) = load_or_encode(&path, &key, || Ok(vec![1, 2, 3])).unwrap();
        assert_eq!((ids, status), (vec![1, 2, 3], CacheStatus::Built));
    }

    #[test]
    fn a_failed_write_says_it_could_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("no-such-dir").join("train.bin");
        let err = write(&path, &[0; 32], &[1, 2, 3]).unwrap_err().to_string();
        assert!(err.contains("cannot write"), "{err}");
        assert!(!err.contains("cannot read"), "{err}");
    }

    #[test]
    fn key_separates_fields() {
        assert_ne!(
            cache_key(b"ab", "c", "train"),
            cache_key(b"a", "bc", "train")
        );
        assert_ne!(cache_key(b"a", "b", "train"), cache_key(b"a", "b", "valid"));
    }
}
