//! Templates (tera) and report files.
//!
//! The binary embeds its templates, so it works from any folder; a file
//! `<root>/templates/<name>.tera` overrides the built-in one. A broken
//! override is reported and the built-in template is used instead: a typo in
//! a template must not silence the monitor.

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::exit::Result;
use crate::fail;

/// The built-in templates, by name.
pub const BUILTIN: [(&str, &str); 5] = [
    ("heartbeat.md", include_str!("../templates/heartbeat.md.tera")),
    ("daily.md", include_str!("../templates/daily.md.tera")),
    ("message.md", include_str!("../templates/message.md.tera")),
    ("discord_daily.md", include_str!("../templates/discord_daily.md.tera")),
    ("status.html", include_str!("../templates/status.html.tera")),
];

/// Renders `name` with `context`, from the override in `templates_dir` when
/// there is one. Returns the text and, when an override was broken, why.
pub fn render(templates_dir: &Path, name: &str, context: &tera::Context) -> Result<(String, Option<String>)> {
    let builtin = BUILTIN
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| fail!("no built-in template named {name}"))?;
    let problem = match render_override(templates_dir, name, |text| render_str(name, text, context)) {
        Some(Ok(out)) => return Ok((out, None)),
        Some(Err(why)) => Some(why),
        None => None,
    };
    let out = render_str(name, builtin, context).map_err(|e| fail!("built-in template {name} failed: {e}"))?;
    Ok((out, problem))
}

/// Like [`render`], for a template whose built-in text is also written in
/// Rust (`builtin`, which must give the same bytes): tera runs only for an
/// override, with `view`'s fields as its names.
pub fn render_or(
    templates_dir: &Path,
    name: &str,
    view: &impl serde::Serialize,
    builtin: impl FnOnce() -> String,
) -> Result<(String, Option<String>)> {
    let render = |text: &str| {
        let context = tera::Context::from_serialize(view).map_err(|e| chain(&e))?;
        render_str(name, text, &context)
    };
    match render_override(templates_dir, name, render) {
        Some(Ok(out)) => Ok((out, None)),
        Some(Err(why)) => Ok((builtin(), Some(why))),
        None => Ok((builtin(), None)),
    }
}

/// The override `<templates_dir>/<name>.tera` rendered by `render`, when
/// the file exists: its text, or why it is broken.
fn render_override(
    templates_dir: &Path,
    name: &str,
    render: impl FnOnce(&str) -> std::result::Result<String, String>,
) -> Option<std::result::Result<String, String>> {
    let path = templates_dir.join(format!("{name}.tera"));
    let text = std::fs::read_to_string(&path).ok()?;
    Some(render(&text).map_err(|e| {
        format!("template {} is broken ({e}); used the built-in one instead: fix or delete the file", path.display())
    }))
}

pub(crate) fn render_str(name: &str, text: &str, context: &tera::Context) -> std::result::Result<String, String> {
    let mut t = tera::Tera::default();
    // Markdown goes out as written; HTML (the status page) is escaped.
    t.autoescape_on(vec![".html"]);
    t.add_raw_template(name, text).map_err(|e| chain(&e))?;
    t.render(name, context).map_err(|e| chain(&e))
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A report name reserved on disk: `<prefix>_YYYY-MM-DD_HH-MM-SS[_N].md`.
#[derive(Debug)]
pub struct Reserved {
    pub path: PathBuf,
    /// The file [`reserve`] created, kept open for [`write`]: the report
    /// goes into this run's own inode, whatever is at the name by then.
    file: Option<std::fs::File>,
    /// Why the reservation failed (the folder is not writable, say); the
    /// write will fail with this reason later, after the state is saved.
    pub problem: Option<String>,
    /// Set once [`write`] filled the file; until then, dropping the
    /// reservation removes the empty placeholder, so a run that fails
    /// (lock timeout, full disk) leaves no 0-byte report behind.
    filled: std::sync::atomic::AtomicBool,
}

impl Drop for Reserved {
    fn drop(&mut self) {
        if self.problem.is_some() || self.filled.load(std::sync::atomic::Ordering::SeqCst) {
            return;
        }
        // Only the empty regular file reserve() created, never a link or
        // a file someone filled meanwhile.
        if std::fs::symlink_metadata(&self.path).is_ok_and(|m| m.is_file() && m.len() == 0) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

impl Reserved {
    fn new(path: PathBuf, file: Option<std::fs::File>, problem: Option<String>) -> Reserved {
        Reserved { path, file, problem, filled: std::sync::atomic::AtomicBool::new(false) }
    }

    pub fn file_name(&self) -> String {
        self.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }
}

/// Picks a report name no other run has taken, even within the same second,
/// by creating the file exclusively (it is filled in later by [`write`]).
pub fn reserve(dir: &Path, prefix: &str, now: DateTime<Utc>) -> Reserved {
    let stem = format!("{prefix}_{}", now.format("%Y-%m-%d_%H-%M-%S"));
    let first = dir.join(format!("{stem}.md"));
    if let Err(e) = crate::paths::ensure_dir(dir) {
        let why = format!("the report folder cannot be created ({})", e.0);
        return Reserved::new(first, None, Some(why));
    }
    for n in 0..10_000 {
        let path = if n == 0 { first.clone() } else { dir.join(format!("{stem}_{n}.md")) };
        // create_new (O_EXCL) never follows a symlink planted at the name:
        // such a name counts as taken.
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        match crate::paths::open_no_follow(&path, &mut options, crate::paths::FILE_MODE) {
            Ok(file) => {
                return Reserved::new(path, Some(file), None);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                let why =
                    format!("the report folder {} is not writable ({})", dir.display(), crate::exit::io_reason(&e));
                return Reserved::new(path, None, Some(why));
            }
        }
    }
    Reserved::new(first, None, Some("10000 reports already exist for this second".into()))
}

/// The UTC time in a report's name (`<prefix>_YYYY-MM-DD_HH-MM-SS[_N].md`),
/// as [`reserve`] writes it.
pub fn name_time(name: &str) -> Option<DateTime<Utc>> {
    let (_, rest) = name.split_once('_')?;
    let stamp = rest.get(..19)?;
    chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%d_%H-%M-%S").ok().map(|t| t.and_utc())
}

/// Fills a reserved report: one write into the file [`reserve`] created
/// (a report written again is replaced whole, atomically).
/// Until then a reader sees it empty (and, for the instant of the write,
/// maybe part of it); a write that fails (a full disk) empties the file,
/// which is then removed, so no half report is left. Not fsynced: every run
/// writes a new report and losing one to a power cut costs little (the
/// state keeps its fsync). Writing in place rather than renaming a
/// temporary file over the placeholder saves creating and deleting a file
/// on every run.
pub fn write(reserved: &Reserved, text: &str) -> Result<()> {
    use std::io::Write;
    let file = match (&reserved.problem, &reserved.file) {
        (None, Some(file)) => file,
        (problem, _) => {
            let why = problem.as_deref().unwrap_or("it was not reserved");
            return Err(fail!("could not write the report {}: {why}", reserved.path.display()));
        }
    };
    let text = crate::secret::scrub(text);
    if reserved.filled.load(std::sync::atomic::Ordering::SeqCst) {
        // Written before (the daily report, updated when the run ends):
        // replaced whole, so a reader sees one version or the other.
        return crate::paths::write_atomic_unsynced(&reserved.path, text.as_bytes(), crate::paths::FILE_MODE);
    }
    let mut f = file;
    match f.write_all(text.as_bytes()) {
        Ok(()) => {
            reserved.filled.store(true, std::sync::atomic::Ordering::SeqCst);
            Ok(())
        }
        Err(e) => {
            let _ = file.set_len(0); // emptied: dropping the reservation removes it
            Err(fail!("could not write the report {}: {}", reserved.path.display(), crate::exit::io_reason(&e)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_templates_parse() {
        for (name, text) in BUILTIN {
            let mut t = tera::Tera::default();
            t.add_raw_template(name, text).unwrap_or_else(|e| panic!("{name}: {}", chain(&e)));
        }
    }

    #[test]
    fn names_are_unique_within_one_second() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-report-{}", std::process::id()));
        let now = Utc::now();
        let a = reserve(&dir, "heartbeat", now);
        let b = reserve(&dir, "heartbeat", now);
        let c = reserve(&dir, "heartbeat", now);
        assert_ne!(a.path, b.path);
        assert!(b.file_name().ends_with("_1.md"), "{}", b.file_name());
        assert!(c.file_name().ends_with("_2.md"), "{}", c.file_name());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_override_wins_and_a_broken_one_falls_back_to_the_builtin() {
        let dir = std::env::temp_dir().join(format!("ops-atomic-tpl-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ctx = tera::Context::new();
        ctx.insert("checks", &Vec::<String>::new());
        ctx.insert("also_up", &Vec::<String>::new());
        ctx.insert("still_down", &Vec::<String>::new());
        ctx.insert("report", "/r/heartbeat_x.md");

        std::fs::write(dir.join("message.md.tera"), "see {{ report }}").unwrap();
        let (text, problem) = render(&dir, "message.md", &ctx).unwrap();
        assert_eq!((text.as_str(), problem), ("see /r/heartbeat_x.md", None));

        std::fs::write(dir.join("message.md.tera"), "{% if %}").unwrap();
        let (text, problem) = render(&dir, "message.md", &ctx).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(text.contains("Report: `/r/heartbeat_x.md`"), "{text}");
        assert!(problem.unwrap().contains("message.md.tera"));
    }
}
