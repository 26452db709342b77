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
    pub fn events_file(&self) -> PathBuf {
        self.state_dir().join("events.jsonl")
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

/// Mode of every file that can hold message text or service errors (SPEC §2).
pub const FILE_MODE: u32 = 0o600;
/// Mode of the folders ops-atomic creates (SPEC §2).
pub const DIR_MODE: u32 = 0o700;
/// Mode of a plist: launchd refuses group- or world-writable ones.
pub const PLIST_MODE: u32 = 0o644;

/// Creates a folder (and its parents) with mode 0700 whatever the umask,
/// with an error that names it. Folders that already exist keep their mode.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .map_err(|e| fail!("could not create folder {}: {}", dir.display(), crate::exit::io_reason(&e)))
}

/// Opens a file ops-atomic writes (or locks) without following a symlink
/// planted at `path` and without blocking on a FIFO planted there; anything
/// but a regular file is refused. A file it creates gets `mode` whatever
/// the umask, and one it finds is brought back to `mode` (when it is ours
/// to change). `options` says how (append, create, ...).
pub fn open_no_follow(path: &Path, options: &mut std::fs::OpenOptions, mode: u32) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let file = options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC).mode(mode).open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(std::io::Error::other("it is not a regular file (remove whatever is there)"));
    }
    if meta.permissions().mode() & 0o7777 != mode {
        // fchmod on the open file: never a path that could have changed.
        let _ = file.set_permissions(std::fs::Permissions::from_mode(mode));
    }
    Ok(file)
}

/// Appends one line of JSON Lines to `path` (call with the state lock held,
/// so lines never interleave): never through a symlink planted at the path,
/// 0600, in one write call, so a crash leaves a whole line or none.
pub fn append_line(path: &Path, what: &str, line: &str) -> Result<()> {
    use std::io::Write;
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    let mut f = open_no_follow(path, std::fs::OpenOptions::new().create(true).append(true), FILE_MODE)
        .map_err(|e| fail!("could not open {what} {}: {}", path.display(), crate::exit::io_reason(&e)))?;
    f.write_all(text.as_bytes())
        .map_err(|e| fail!("could not append to {what} {}: {}", path.display(), crate::exit::io_reason(&e)))
}

/// How long [`append_line_locked`] waits for the append lock before it
/// appends anyway (a job's record matters more than the order of two lines).
const APPEND_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// [`append_line`] for files that several processes append to at once
/// without the state lock (`ops-atomic run`: twenty runs of one job at the
/// same moment) and that one of them may rewrite (the daily compaction, a
/// job file's trim): an exclusive `flock` on the file itself is held for the
/// write, and a file replaced while waiting for it is opened again, so no
/// line goes to a file that was renamed away.
pub fn append_line_locked(path: &Path, what: &str, line: &str) -> Result<()> {
    use std::io::Write;
    let mut text = String::with_capacity(line.len() + 1);
    text.push_str(line);
    text.push('\n');
    let open_err =
        |e: std::io::Error| fail!("could not open {what} {}: {}", path.display(), crate::exit::io_reason(&e));
    for _ in 0..8 {
        let mut f =
            open_no_follow(path, std::fs::OpenOptions::new().create(true).append(true), FILE_MODE).map_err(open_err)?;
        let locked = lock_within(&f, APPEND_LOCK_WAIT);
        if locked && !same_file(&f, path) {
            continue;
        }
        return f
            .write_all(text.as_bytes())
            .map_err(|e| fail!("could not append to {what} {}: {}", path.display(), crate::exit::io_reason(&e)));
    }
    Err(fail!("could not append to {what} {}: it kept being replaced", path.display()))
}

/// Holds the lock [`append_line_locked`] takes on `path` until dropped
/// (none when there is no file yet: nobody can be appending to it).
pub fn hold_append_lock(path: &Path) -> Option<std::fs::File> {
    let f = open_no_follow(path, std::fs::OpenOptions::new().read(true), FILE_MODE).ok()?;
    use std::os::fd::AsRawFd;
    // SAFETY: flock on a descriptor this function owns.
    (unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX) } == 0).then_some(f)
}

/// Takes an exclusive `flock` on `f`, trying for at most `wait`.
fn lock_within(f: &std::fs::File, wait: std::time::Duration) -> bool {
    use std::os::fd::AsRawFd;
    let until = std::time::Instant::now() + wait;
    let mut pause = std::time::Duration::from_micros(200);
    loop {
        // SAFETY: flock on a descriptor `f` owns.
        if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
            return true;
        }
        if std::time::Instant::now() >= until {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(20));
    }
}

/// Whether the open file is still the one at `path` (not renamed away).
fn same_file(f: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (f.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Rewrites a file under the lock [`append_line_locked`] takes: `rewrite`
/// gets its text and returns the new one (`None`: leave it), written
/// atomically; appenders waiting meanwhile then append to the new file.
pub fn rewrite_locked(path: &Path, rewrite: impl FnOnce(&[u8]) -> Option<Vec<u8>>) -> Result<()> {
    use std::io::Read;
    let Some(mut held) = hold_append_lock(path) else { return Ok(()) };
    let mut bytes = Vec::new();
    held.read_to_end(&mut bytes)
        .map_err(|e| fail!("could not read {}: {}", path.display(), crate::exit::io_reason(&e)))?;
    match rewrite(&bytes) {
        Some(new) => write_atomic(path, &new),
        None => Ok(()),
    }
}

/// Writes `bytes` to `path` atomically, mode 0600: a temporary file in the
/// same folder, flushed to disk, then renamed over the old file. A reader
/// (or a crash) sees the old content or the new, never half of either.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    replace(path, bytes, true, FILE_MODE)
}

/// [`write_atomic`] with another mode (plists: [`PLIST_MODE`]).
pub fn write_atomic_mode(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    replace(path, bytes, true, mode)
}

/// [`write_atomic_mode`] without the `fsync`, for files rewritten on every
/// run that are cheap to lose in a power cut but must never be read
/// half-written: the exports (node_exporter reads its textfile folder at any
/// moment; the next heartbeat writes a new one in 5 minutes). A reader still
/// sees the old file or the whole new text. The `fsync` is the largest fixed
/// cost of a heartbeat's file work (see the README, "Performance").
pub fn write_atomic_unsynced(path: &Path, bytes: &[u8], mode: u32) -> Result<()> {
    replace(path, bytes, false, mode)
}

/// The temporary file is created exclusively (`O_EXCL`, which never follows
/// a symlink) under a name nobody can guess in advance, so a link planted
/// in the folder cannot redirect the write; the rename then replaces the
/// directory entry itself. A symlink found at `path` is refused rather than
/// replaced: someone put it there, and the user should know.
fn replace(path: &Path, bytes: &[u8], sync: bool, mode: u32) -> Result<()> {
    use std::io::Write;
    replace_with(path, sync, mode, |f| f.write_all(bytes))
}

/// [`write_atomic`] of what `write` streams into the temporary file (a log
/// rewritten line by line, never held whole). An error from `write` leaves
/// the old file as it was.
pub fn write_atomic_with(
    path: &Path,
    write: impl FnOnce(&mut std::io::BufWriter<&std::fs::File>) -> std::io::Result<()>,
) -> Result<()> {
    use std::io::Write;
    replace_with(path, true, FILE_MODE, |f| {
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, &*f);
        write(&mut w)?;
        w.flush()
    })
}

fn replace_with(
    path: &Path,
    sync: bool,
    mode: u32,
    write: impl FnOnce(&mut std::fs::File) -> std::io::Result<()>,
) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let refuse_link = || -> std::io::Result<()> {
        match std::fs::symlink_metadata(path) {
            Ok(m) if m.file_type().is_symlink() => Err(std::io::Error::from_raw_os_error(libc::ELOOP)),
            Ok(m) if !m.is_file() => Err(std::io::Error::other("it is not a regular file (remove whatever is there)")),
            _ => Ok(()),
        }
    };
    let mut tmp = dir.join(format!(".{name}.tmp-{}", unpredictable()));
    let result = (|| {
        refuse_link()?;
        let mut tries = 0;
        let mut f = loop {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            match open_no_follow(&tmp, &mut options, mode) {
                Ok(f) => break f,
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && tries < 16 => {
                    tries += 1;
                    tmp = dir.join(format!(".{name}.tmp-{}", unpredictable()));
                }
                Err(e) => return Err(e),
            }
        };
        write(&mut f)?;
        if sync {
            f.sync_all()?;
        }
        refuse_link()?;
        std::fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail!("could not write {}: {}", path.display(), crate::exit::io_reason(&e))
    })
}

/// A name part no other process can predict: the pid, the time in
/// nanoseconds and 64 random bits (from `getentropy`, one system call and no
/// file, or std's randomly keyed hasher where that fails).
pub fn unpredictable() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut bytes = [0u8; 8];
    // SAFETY: getentropy fills the 8 bytes of `bytes`, which outlive the call.
    let random = match unsafe { libc::getentropy(bytes.as_mut_ptr().cast(), bytes.len()) } {
        0 => u64::from_ne_bytes(bytes),
        _ => {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
            );
            h.finish()
        }
    };
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().subsec_nanos();
    format!("{}-{nanos:09}-{random:016x}", std::process::id())
}
