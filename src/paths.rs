//! Where every file lives under the root (SPEC §2).

use std::path::{Path, PathBuf};

use crate::exit::Result;
use crate::fail;

/// The canonical root and the files under it.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
}

impl Paths {
    /// Resolves `--root` (or the current directory) to an absolute, canonical
    /// path. A root that does not exist is an error: creating a whole tree in
    /// the wrong place because of a typo helps nobody.
    pub fn resolve(root: Option<&Path>) -> Result<Paths> {
        let given = match root {
            Some(r) => r.to_path_buf(),
            None => std::env::current_dir()
                .map_err(|e| fail!("could not read the current directory: {e}; pass --root DIR"))?,
        };
        let root = given.canonicalize().map_err(|e| {
            fail!(
                "root folder {} cannot be used: {} (pass --root DIR or set OPS_ATOMIC_ROOT to an existing folder)",
                given.display(),
                crate::exit::io_reason(&e)
            )
        })?;
        if !root.is_dir() {
            return Err(fail!("root {} is not a folder: pass --root DIR", root.display()));
        }
        Ok(Paths { root })
    }

    pub fn default_config(&self) -> PathBuf {
        self.root.join("g/config/ops_atomic.toml")
    }
    pub fn reports_dir(&self) -> PathBuf {
        self.root.join("g/reports/ops_atomic")
    }
    pub fn state_dir(&self) -> PathBuf {
        self.root.join("g/state")
    }
    pub fn state_file(&self) -> PathBuf {
        self.root.join("g/state/ops_atomic_monitor.json")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("g/state/ops_atomic_monitor.lock")
    }
    pub fn history_file(&self) -> PathBuf {
        self.root.join("g/state/heartbeat_history.jsonl")
    }
    pub fn logs_dir(&self) -> PathBuf {
        self.root.join("g/logs")
    }
    pub fn templates_dir(&self) -> PathBuf {
        self.root.join("templates")
    }
    pub fn launchagents_dir(&self) -> PathBuf {
        self.root.join("LaunchAgents")
    }
    /// launchd's stdout/stderr files of an agent: `(log, err)`.
    pub fn agent_logs(&self, daily: bool) -> (PathBuf, PathBuf) {
        let stem = if daily { "ops_atomic_daily" } else { "ops_monitor" };
        let d = self.logs_dir();
        (d.join(format!("{stem}.log")), d.join(format!("{stem}.err")))
    }
}

/// `p` made absolute against the current directory (as it is, if that
/// cannot be read).
pub fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        return p.to_path_buf();
    }
    std::env::current_dir().map(|d| d.join(p)).unwrap_or_else(|_| p.to_path_buf())
}

/// Creates a folder (and its parents), with an error that names it.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)
        .map_err(|e| fail!("could not create folder {}: {}", dir.display(), crate::exit::io_reason(&e)))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder,
/// flushed to disk, then renamed over the old file. A reader (or a crash)
/// sees the old content or the new, never half of either.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, true)
}

/// [`write_atomic`] without the `fsync`, for files that are cheap to lose in
/// a power cut but must never be read half-written: the heartbeat and daily
/// reports (a new one is written every 5 minutes; the state and history
/// are what matter). A reader still sees no file, or the whole text. The
/// `fsync` is the largest fixed cost of a heartbeat's file work (see the
/// README, "Performance").
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, false)
}

fn replace(path: &Path, bytes: &[u8], sync: bool) -> Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp-{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if sync {
            f.sync_all()?;
        }
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail!("could not write {}: {}", path.display(), crate::exit::io_reason(&e))
    })
}
