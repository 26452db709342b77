//! `enable menubar` / `disable menubar`: the plugin file in SwiftBar's or
//! xbar's plugin folder (or a Raycast script command), and the redraw a
//! heartbeat asks for when what the menu shows changed.
//!
//! The plugin is two lines, a shebang and an `exec` of this binary for this
//! root, so upgrading ops-atomic never needs a new plugin. Where it was put
//! is recorded in `g/state/menubar.json`; `disable` removes that one file,
//! and only when it is ours.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::App;
use crate::exit::Result;
use crate::fail;
use crate::launchd::say;
use crate::paths::Paths;

/// The plugin's file name: `1m` is how often SwiftBar and xbar run it.
pub const PLUGIN: &str = "ops-atomic.1m.sh";
/// The Raycast script command's file name.
pub const RAYCAST_SCRIPT: &str = "ops-atomic.sh";
/// SwiftBar's preferences domain (`defaults read com.ameba.SwiftBar PluginDirectory`).
pub const SWIFTBAR_DOMAIN: &str = "com.ameba.SwiftBar";
/// How long `defaults` and `open` may take.
const CHILD_TIMEOUT: Duration = Duration::from_secs(3);

/// What `enable menubar` installed, kept in `g/state/menubar.json`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Record {
    pub app: App,
    pub path: PathBuf,
    pub installed_at: DateTime<Utc>,
}

pub fn record_file(paths: &Paths) -> PathBuf {
    paths.state_dir().join("menubar.json")
}

fn read_record(paths: &Paths) -> Option<Record> {
    let bytes = std::fs::read(record_file(paths)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// The plugin installed for this root, if its file is still there and ours.
pub fn installed(paths: &Paths) -> Option<Record> {
    let r = read_record(paths)?;
    let text = std::fs::read_to_string(&r.path).ok()?;
    ours_for(&text, &paths.root).then_some(r)
}

/// `'…'` for sh: nothing inside is interpreted.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The `exec` line of the plugin.
fn exec_line(app: App, exe: &Path, root: &Path, config: Option<&Path>) -> String {
    let mut line =
        format!("exec {} --root {}", sh_quote(&exe.display().to_string()), sh_quote(&root.display().to_string()));
    if let Some(c) = config {
        line.push_str(&format!(" --config {}", sh_quote(&c.display().to_string())));
    }
    line.push_str(&format!(" menubar --format {}", app.as_str()));
    line
}

/// The plugin file's text.
pub fn text(app: App, exe: &Path, root: &Path, config: Option<&Path>) -> String {
    let exec = exec_line(app, exe, root, config);
    match app {
        App::Raycast => super::raycast::script(&exec),
        _ => format!("#!/bin/sh\n{exec}\n"),
    }
}

/// `menubar --script`: the plugin as `enable menubar` would write it, on stdout.
pub fn print(paths: &Paths, config: Option<&Path>, app: App) -> Result<u8> {
    let exe = crate::launchd::agent::current_binary()?;
    say(text(app, &exe, &paths.root, config).trim_end());
    Ok(0)
}

/// Whether a plugin file is ops-atomic's (for any root).
fn ours(text: &str) -> bool {
    text.starts_with("#!/bin/sh\n") && text.lines().any(|l| l.starts_with("exec ") && l.contains(" menubar --format "))
}

/// Whether a plugin file is ops-atomic's for this root.
fn ours_for(text: &str, root: &Path) -> bool {
    let needle = format!(" --root {} ", sh_quote(&root.display().to_string()));
    ours(text) && text.lines().any(|l| l.starts_with("exec ") && l.contains(&needle))
}

/// SwiftBar's plugin folder, from its preference.
fn swiftbar_dir() -> std::result::Result<PathBuf, String> {
    let Some(defaults) = crate::proc::which("defaults") else {
        return Err("`defaults` is not on PATH (is this a Mac?)".into());
    };
    let out = crate::proc::run(&defaults, &["read", SWIFTBAR_DOMAIN, "PluginDirectory"], None, CHILD_TIMEOUT)
        .map_err(|e| format!("`defaults read {SWIFTBAR_DOMAIN} PluginDirectory` could not run: {e}"))?;
    if !out.success() {
        return Err(format!(
            "SwiftBar has no plugin folder set (`defaults read {SWIFTBAR_DOMAIN} PluginDirectory`: {})",
            crate::proc::tail(out.stderr.trim(), 1, 200)
        ));
    }
    let raw = out.stdout.trim();
    let dir = match raw.strip_prefix("~/") {
        Some(rest) => home()?.join(rest),
        None => PathBuf::from(raw),
    };
    if !dir.is_absolute() || !dir.is_dir() {
        return Err(format!("SwiftBar's plugin folder {} does not exist", dir.display()));
    }
    Ok(dir)
}

fn home() -> std::result::Result<PathBuf, String> {
    std::env::var_os("HOME").map(PathBuf::from).ok_or_else(|| "HOME is not set".to_string())
}

/// xbar's plugin folder (fixed by xbar).
fn xbar_dir() -> std::result::Result<PathBuf, String> {
    let dir = home()?.join("Library/Application Support/xbar/plugins");
    if dir.is_dir() { Ok(dir) } else { Err(format!("xbar's plugin folder {} does not exist", dir.display())) }
}

/// Where the plugin goes, and for which app.
fn resolve(dir: Option<&Path>, app: Option<App>) -> Result<(PathBuf, App)> {
    if let Some(d) = dir {
        let d = crate::paths::absolute(d);
        if !d.is_dir() {
            return Err(fail!(
                "--plugins-dir {} is not a folder: create it or point at the app's plugin folder",
                d.display()
            ));
        }
        let guessed = if d.components().any(|c| c.as_os_str() == "xbar") { App::Xbar } else { App::Swiftbar };
        return Ok((d, app.unwrap_or(guessed)));
    }
    match app {
        Some(App::Swiftbar) => swiftbar_dir()
            .map(|d| (d, App::Swiftbar))
            .map_err(|e| fail!("{e}: open SwiftBar and choose its plugin folder, or pass --plugins-dir DIR")),
        Some(App::Xbar) => xbar_dir()
            .map(|d| (d, App::Xbar))
            .map_err(|e| fail!("{e}: start xbar once (it creates the folder), or pass --plugins-dir DIR")),
        Some(App::Raycast) => Err(fail!(
            "Raycast has no plugin folder to find: pass --plugins-dir DIR with a folder you add in Raycast (Settings → Extensions → Script Commands → Add Directories)"
        )),
        None => match (swiftbar_dir(), xbar_dir()) {
            (Ok(d), _) => Ok((d, App::Swiftbar)),
            (_, Ok(d)) => Ok((d, App::Xbar)),
            (Err(s), Err(x)) => Err(fail!(
                "no menu-bar app found: {s}, and {x}. Install SwiftBar (brew install swiftbar) or xbar and choose a plugin folder, or pass --plugins-dir DIR"
            )),
        },
    }
}

fn file_name(app: App) -> &'static str {
    if app == App::Raycast { RAYCAST_SCRIPT } else { PLUGIN }
}

/// What `enable menubar` and `disable menubar` are told.
pub struct Options<'a> {
    pub plugins_dir: Option<&'a Path>,
    pub app: Option<App>,
    pub dry_run: bool,
    pub force: bool,
}

/// `enable menubar`.
pub fn enable(paths: &Paths, config: Option<&Path>, o: &Options) -> Result<u8> {
    let (dir, app) = resolve(o.plugins_dir, o.app)?;
    let exe = crate::launchd::agent::current_binary()?;
    let path = dir.join(file_name(app));
    let body = text(app, &exe, &paths.root, config);
    if o.dry_run {
        say(&format!("Would write {} (0755) for {}:", path.display(), app.title()));
        say(body.trim_end());
        return Ok(0);
    }
    match std::fs::symlink_metadata(&path) {
        Ok(m) if !m.is_file() && !o.force => {
            return Err(fail!(
                "{} is there and is not a plain file: remove it, or pass --force to replace it",
                path.display()
            ));
        }
        Ok(_) if !o.force => {
            let there = std::fs::read_to_string(&path).unwrap_or_default();
            if !ours(&there) {
                return Err(fail!(
                    "{} is there and is not ops-atomic's plugin: move it away, or pass --force to replace it",
                    path.display()
                ));
            }
            if !ours_for(&there, &paths.root) {
                return Err(fail!(
                    "{} shows another ops-atomic folder: pass --force to show this one ({}) instead",
                    path.display(),
                    paths.root.display()
                ));
            }
        }
        _ => {}
    }
    crate::paths::write_atomic_mode(&path, body.as_bytes(), 0o755)?;
    say(&format!("✅ Wrote the {} plugin {}", app.title(), path.display()));
    let record = Record { app, path: path.clone(), installed_at: Utc::now() };
    let json = serde_json::to_vec_pretty(&record).map_err(|e| fail!("could not encode the menu-bar record: {e}"))?;
    crate::paths::ensure_dir(&paths.state_dir())?;
    crate::paths::write_atomic(&record_file(paths), &json)?;
    match app {
        App::Raycast => say("   Raycast lists it as \"ops-atomic\" once the folder is one of its script directories"),
        _ => {
            say(&format!(
                "   {} shows it within a minute; each heartbeat that changes what it shows redraws it",
                app.title()
            ));
            refresh(app, PLUGIN);
        }
    }
    Ok(0)
}

/// `disable menubar`: removes the recorded plugin (or the one found in the
/// app's folder) when it is ours for this root; nothing else.
pub fn disable(paths: &Paths, o: &Options) -> Result<u8> {
    let recorded = read_record(paths).map(|r| r.path);
    let found = || {
        let (dir, app) = resolve(o.plugins_dir, o.app).ok()?;
        Some(dir.join(file_name(app)))
    };
    let candidates: Vec<PathBuf> = recorded.into_iter().chain(found()).collect();
    let mut removed = false;
    for path in &candidates {
        let Ok(there) = std::fs::read_to_string(path) else { continue };
        if !ours_for(&there, &paths.root) {
            say(&format!("➖ Left {} alone: it is not ops-atomic's plugin for this folder", path.display()));
            continue;
        }
        std::fs::remove_file(path)
            .map_err(|e| fail!("could not remove {}: {}", path.display(), crate::exit::io_reason(&e)))?;
        say(&format!("✅ Removed {}", path.display()));
        removed = true;
        break;
    }
    let record = record_file(paths);
    if record.exists() {
        std::fs::remove_file(&record)
            .map_err(|e| fail!("could not remove {}: {}", record.display(), crate::exit::io_reason(&e)))?;
    }
    if !removed {
        say("➖ No menu-bar plugin of this folder was installed");
    }
    Ok(0)
}

/// The URL that asks the app to run the plugin again now.
fn refresh_url(app: App, name: &str) -> Option<String> {
    match app {
        App::Swiftbar => Some("swiftbar://refreshplugin?name=ops-atomic".to_string()),
        App::Xbar => Some(format!("xbar://app.xbarapp.com/refreshPlugin?path={name}")),
        App::Raycast => None,
    }
}

/// Asks the app to redraw (`open -g URL`: in the background, bounded).
/// A failure is a log line, never the run's outcome.
pub fn refresh(app: App, name: &str) {
    let Some(url) = refresh_url(app, name) else { return };
    let Some(open) = crate::proc::which("open") else {
        crate::log::warn("Menu bar not redrawn: `open` is not on PATH");
        return;
    };
    match crate::proc::run(&open, &["-g", &url], None, CHILD_TIMEOUT) {
        Ok(o) if o.success() => crate::log::info(&format!("Menu bar asked to redraw ({url})")),
        Ok(o) => crate::log::warn(&format!(
            "Menu bar not redrawn: open -g {url} {}",
            if o.timed_out { "timed out".to_string() } else { format!("exited {:?}", o.code) }
        )),
        Err(e) => crate::log::warn(&format!("Menu bar not redrawn: open could not run: {e}")),
    }
}

/// After a heartbeat: redraw the installed plugin when what it shows changed.
pub fn after_heartbeat(
    paths: &Paths,
    before: Option<&crate::state::State>,
    after: &crate::state::State,
    cfg: &crate::config::Config,
) {
    let Some(r) = installed(paths) else { return };
    if r.app == App::Raycast {
        return;
    }
    let now = Utc::now();
    let glance = |st: Option<&crate::state::State>| {
        super::Glance::of(&super::Inputs {
            state: st,
            state_exists: st.is_some(),
            last: None,
            now,
            interval_s: cfg.launchd.interval_s,
            windows: &cfg.maintenance,
            clocks: None,
            woke_at: None,
            host: String::new(),
            files: Default::default(),
        })
        .fingerprint()
    };
    if glance(before) != glance(Some(after)) {
        let name = r.path.file_name().and_then(|n| n.to_str()).unwrap_or(PLUGIN).to_string();
        refresh(r.app, &name);
    }
}

/// What `status` says about the menu bar.
#[derive(Debug, Serialize)]
pub struct MenubarStatus {
    pub installed: bool,
    pub app: Option<App>,
    pub path: Option<String>,
}

pub fn status(paths: &Paths) -> MenubarStatus {
    match installed(paths) {
        Some(r) => MenubarStatus { installed: true, app: Some(r.app), path: Some(r.path.display().to_string()) },
        None => MenubarStatus { installed: false, app: None, path: None },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plugin_is_two_lines_that_name_this_binary_and_root() {
        let t = text(App::Swiftbar, Path::new("/opt/bin/ops-atomic"), Path::new("/Users/me/it's"), None);
        assert_eq!(t, "#!/bin/sh\nexec '/opt/bin/ops-atomic' --root '/Users/me/it'\\''s' menubar --format swiftbar\n");
        assert!(ours_for(&t, Path::new("/Users/me/it's")));
        assert!(!ours_for(&t, Path::new("/Users/me/other")));
        assert!(!ours("#!/bin/sh\necho hello\n"));
    }

    #[test]
    fn the_raycast_script_has_its_header() {
        let t = text(App::Raycast, Path::new("/b/ops-atomic"), Path::new("/r"), Some(Path::new("/c.toml")));
        assert!(t.contains("# @raycast.schemaVersion 1\n# @raycast.title ops-atomic\n# @raycast.mode inline\n"));
        assert!(t.ends_with("exec '/b/ops-atomic' --root '/r' --config '/c.toml' menubar --format raycast\n"));
        assert!(ours_for(&t, Path::new("/r")));
    }
}
