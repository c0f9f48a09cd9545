//! Durable file writes: write a sibling temp file, sync it, rename over the target, sync the
//! directory. A crash, a power cut or a full disk leaves the previous file intact, and once
//! the call returns the new one survives a power cut too.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A sibling name no other process or thread uses at the same time: `.NAME.tmp-PID-N`.
pub fn unique_temp_sibling(path: &Path, what: &str) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.{what}-{}-{n}", std::process::id()))
}

/// Flushes a directory's entries (a rename or a new file in it) to the disk. Where a
/// directory cannot be opened for that (not Unix), it is a no-op.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// A full disk (or a file-size or quota limit) is the one write failure a user can fix
/// without touching the run, so messages about one say how: `what` is what was not written.
pub fn is_out_of_space(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
    matches!(e.kind(), StorageFull | FileTooLarge | QuotaExceeded)
}

/// The directory holding `path` (`.` for a bare file name).
pub fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// The highest directory that creating `dir` (with `create_dir_all`) would create: `dir`
/// itself or one of its missing ancestors; `None` when `dir` exists.
pub fn topmost_missing(dir: &Path) -> Option<PathBuf> {
    if dir.exists() {
        return None;
    }
    let mut top = dir.to_path_buf();
    while let Some(up) = top.parent().filter(|p| !p.as_os_str().is_empty()) {
        if up.exists() {
            break;
        }
        top = up.to_path_buf();
    }
    Some(top)
}

/// Removes `dir` if it is empty, then each empty parent up to and including `top` (what
/// [`topmost_missing`] said creating it would create), so a failed start leaves nothing
/// behind; a directory something else wrote to in the meantime is kept.
pub fn remove_empty_up_to(dir: &Path, top: &Path) {
    let mut d = dir;
    loop {
        if !d.starts_with(top) || std::fs::remove_dir(d).is_err() || d == top {
            return;
        }
        match d.parent() {
            Some(up) if up.starts_with(top) => d = up,
            _ => return,
        }
    }
}

pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    write_atomic_with(path, |f| f.write_all(bytes))
}

/// [`write_atomic`] with the contents written by `fill`; an error from it (a full disk
/// half-way) leaves the previous file as it was and removes the temp file.
pub fn write_atomic_with(
    path: &Path,
    fill: impl FnOnce(&mut File) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = unique_temp_sibling(path, "tmp");
    let result = (|| {
        let mut f = File::create(&tmp)?;
        fill(&mut f)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)?;
        sync_dir(parent_of(path))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_contents_and_leaves_no_temp() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn failure_keeps_previous_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"previous").unwrap();
        // The disk fills up half-way through the new contents.
        let err = write_atomic_with(&p, |f| {
            f.write_all(b"half of the ne")?;
            Err(std::io::Error::from(std::io::ErrorKind::StorageFull))
        })
        .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::StorageFull);
        assert_eq!(std::fs::read(&p).unwrap(), b"previous");
        let names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.json"], "no temp file is left behind");
    }

    #[test]
    fn what_a_failed_start_created_is_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let run = dir.path().join("runs/group/name");
        let top = topmost_missing(&run).unwrap();
        assert_eq!(top, dir.path().join("runs"));
        std::fs::create_dir_all(&run).unwrap();
        assert_eq!(topmost_missing(&run), None);
        remove_empty_up_to(&run, &top);
        assert!(!top.exists());
        assert!(dir.path().exists());
        // A sibling written meanwhile keeps its parents.
        std::fs::create_dir_all(&run).unwrap();
        std::fs::write(dir.path().join("runs/other"), b"x").unwrap();
        remove_empty_up_to(&run, &top);
        assert!(!run.exists() && !run.parent().unwrap().exists());
        assert!(top.join("other").exists());
        // Folders that existed before are never removed.
        std::fs::remove_file(top.join("other")).unwrap();
        remove_empty_up_to(&top, &run);
        assert!(top.exists());
    }

    #[test]
    fn temp_names_differ_within_a_process() {
        let p = Path::new("/x/metrics.jsonl");
        let a = unique_temp_sibling(p, "tmp");
        let b = unique_temp_sibling(p, "tmp");
        assert_ne!(a, b);
        assert!(a
            .to_string_lossy()
            .contains(&std::process::id().to_string()));
    }
}
