//! `enable`, `disable`, `status` and `plist` (SPEC §9).
//!
//! `enable` and `disable` print every step as it happens (✅ / ❌) and stop
//! at the first one that fails, with launchctl's error in words and the fix;
//! that failure exits 3. What a step did is checked, never assumed: the plist
//! is parsed back after writing, and "loaded" / "gone" are verified with
//! launchctl itself, because legacy `load` / `unload` exit 0 on failure.

use std::path::{Path, PathBuf};

use crate::app::Ctx;
use crate::cli::{Agent, AgentsDirArg, DisableArgs, EnableArgs, StatusArgs};
use crate::exit::{Error, Result};
use crate::fail;
use crate::launchd::launchctl::{self, CallError, GONE_TIMEOUT, Launchctl, Probe, Via};
use crate::launchd::plist::{self, Schedule, Spec};
use crate::launchd::say;
use crate::paths;

/// The fixed facts of one agent under the current config.
#[derive(Debug, Clone)]
pub struct AgentDef {
    pub agent: Agent,
    /// `monitor` or `daily`, as typed on the command line.
    pub name: &'static str,
    pub label: String,
    /// The ops-atomic subcommand launchd runs.
    pub subcommand: &'static str,
    pub schedule: Schedule,
}

impl AgentDef {
    pub fn new(ctx: &Ctx, agent: Agent) -> AgentDef {
        let c = &ctx.config;
        match agent {
            Agent::Monitor => AgentDef {
                agent,
                name: "monitor",
                label: c.monitor_label(),
                subcommand: "heartbeat",
                schedule: Schedule::Every(c.launchd.interval_s),
            },
            Agent::Daily => AgentDef {
                agent,
                name: "daily",
                label: c.daily_label(),
                subcommand: "daily",
                schedule: Schedule::Daily { hour: c.daily.hour, minute: c.daily.minute },
            },
        }
    }

    pub fn is_daily(&self) -> bool {
        self.agent == Agent::Daily
    }

    pub fn file_name(&self) -> String {
        format!("{}.plist", self.label)
    }

    /// `<root>/LaunchAgents/<label>.plist`, the copy kept with the root.
    pub fn repo_plist(&self, ctx: &Ctx) -> PathBuf {
        ctx.paths.launchagents_dir().join(self.file_name())
    }
}

/// The canonical path of the running binary: what launchd will run.
pub fn current_binary() -> Result<PathBuf> {
    let exe =
        std::env::current_exe().map_err(|e| fail!("could not find the path of the running ops-atomic binary: {e}"))?;
    exe.canonicalize()
        .map_err(|e| fail!("could not resolve the running binary {}: {}", exe.display(), crate::exit::io_reason(&e)))
}

/// What `enable` would write for this agent now, with every path checked:
/// absolute, without `~`, existing.
pub fn spec(ctx: &Ctx, def: &AgentDef) -> Result<Spec> {
    let binary = current_binary()?;
    let config_file = ctx.loaded.named_file().map(|p| p.canonicalize().unwrap_or_else(|_| p.to_path_buf()));
    let (stdout, stderr) = ctx.paths.agent_logs(def.is_daily());
    let spec = Spec {
        label: def.label.clone(),
        binary,
        subcommand: def.subcommand,
        root: ctx.paths.root.clone(),
        stdout,
        stderr,
        path_env: ctx.config.launchd.path.clone(),
        config_file,
        schedule: def.schedule,
    };
    spec.check_paths()?;
    let mut must_exist = vec![("the ops-atomic binary", &spec.binary), ("the root", &spec.root)];
    if let Some(c) = &spec.config_file {
        must_exist.push(("the config file", c));
    }
    for (what, p) in must_exist {
        if !p.exists() {
            return Err(fail!("{what} {} does not exist", p.display()));
        }
    }
    Ok(spec)
}

/// The agents folder: `--agents-dir` / OPS_ATOMIC_AGENTS_DIR, else
/// `$HOME/Library/LaunchAgents`; absolute and without `~`.
pub fn agents_dir(arg: &AgentsDirArg) -> Result<PathBuf> {
    let dir = match &arg.agents_dir {
        Some(d) => d.clone(),
        None => match std::env::var_os("HOME") {
            Some(h) if !h.is_empty() => PathBuf::from(h).join("Library/LaunchAgents"),
            _ => {
                return Err(fail!(
                    "HOME is not set, so the agents folder ($HOME/Library/LaunchAgents) is unknown: pass --agents-dir DIR or set OPS_ATOMIC_AGENTS_DIR"
                ));
            }
        },
    };
    let dir = paths::absolute(&dir);
    let dir = dir.canonicalize().unwrap_or(dir);
    plist::check_path("the agents folder", &dir)?;
    Ok(dir)
}

fn step_ok(msg: &str) {
    say(&format!("✅ {}", crate::secret::scrub(msg)));
}

fn step_note(msg: &str) {
    say(&format!("➖ {}", crate::secret::scrub(msg)));
}

/// Prints the failed step and returns the error that ends the command (exit 3).
fn step_failed(msg: &str) -> Error {
    let msg = crate::secret::scrub(msg);
    say(&format!("❌ {msg}"));
    fail!("{msg}")
}

fn launchctl_failed(def: &AgentDef, lc: &Launchctl, e: &CallError) -> Error {
    step_failed(&e.explain(def.name, &lc.target(&def.label)))
}

/// Warns when launchd would run a binary that `cargo` may replace or delete.
fn warn_if_dev_binary(binary: &Path) {
    let under_target = binary.components().any(|c| c.as_os_str() == "target");
    if cfg!(debug_assertions) || under_target {
        let kind = if cfg!(debug_assertions) { "a debug build" } else { "a build under target/" };
        say(&format!(
            "⚠️  launchd will run {} ({kind}), which the next `cargo build` or `cargo clean` replaces or removes: install it with `cargo install --path .` and run `ops-atomic enable` again",
            binary.display()
        ));
    }
}

pub fn enable(ctx: &Ctx, args: &EnableArgs) -> Result<u8> {
    crate::log::quiet(true);
    let dir = agents_dir(&args.agents)?;
    warn_if_dev_binary(&current_binary()?);
    if args.dry_run {
        for agent in args.which.agents() {
            dry_run(ctx, &AgentDef::new(ctx, agent), &dir)?;
        }
        say("\nDry run: nothing was written and launchctl was not called.");
        return Ok(0);
    }
    let Some(lc) = Launchctl::detect() else {
        return Err(step_failed(
            "launchctl not found (set OPS_ATOMIC_LAUNCHCTL, or run on macOS); `ops-atomic enable --dry-run` shows what would be done",
        ));
    };
    let defs: Vec<AgentDef> = args.which.agents().into_iter().map(|a| AgentDef::new(ctx, a)).collect();
    for def in &defs {
        say(&format!("\n{} ({})", def.label, def.name));
        enable_one(ctx, def, &dir, &lc)?;
    }
    say("");
    let statuses: Vec<_> =
        defs.iter().map(|d| crate::launchd::status::agent_status(ctx, d, Some(&dir), Some(&lc))).collect();
    say(crate::launchd::status::render_agents(&statuses).trim_end());
    Ok(0)
}

/// Every step of SPEC §9 for one agent; the first failure ends it.
fn enable_one(ctx: &Ctx, def: &AgentDef, dir: &Path, lc: &Launchctl) -> Result<()> {
    let spec = spec(ctx, def).map_err(|e| step_failed(&e.0))?;
    let value = plist::build(&spec);
    let xml = plist::to_xml(&value).map_err(|e| step_failed(&e.0))?;
    step_ok(&format!("Built plist for {} (`{}` {})", def.label, def.subcommand, def.schedule.describe()));
    step_ok(&format!(
        "Paths are absolute, without `~`, and exist: {} --root {}",
        spec.binary.display(),
        spec.root.display()
    ));
    let logs = ctx.paths.logs_dir();
    paths::ensure_dir(&logs).map_err(|e| step_failed(&e.0))?;
    step_ok(&format!("Log folder {} is ready", logs.display()));
    let repo = def.repo_plist(ctx);
    write_plist(&repo, &xml)?;
    step_ok(&format!("Wrote {}", repo.display()));
    parse_back(&repo, &value, &def.label)?;
    step_ok(&format!("Parsed {} back: keys and absolute paths are right", def.file_name()));
    lint(&repo)?;
    let installed = dir.join(def.file_name());
    if !unload(def, lc, &installed)? {
        step_ok(&format!("{} is not loaded: nothing to boot out", def.label));
    }
    paths::ensure_dir(dir).map_err(|e| step_failed(&e.0))?;
    write_plist(&installed, &xml)?;
    step_ok(&format!("Installed {}", installed.display()));
    match lc.enable(&def.label) {
        Ok(Via::Skipped) => {
            step_note("this launchctl has no `enable`: skipped (legacy `load -w` clears the disabled flag)")
        }
        Ok(_) => step_ok(&format!("launchctl enable {}", lc.target(&def.label))),
        Err(e) => return Err(launchctl_failed(def, lc, &e)),
    }
    load(def, lc, &installed)
}

fn write_plist(path: &Path, xml: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        paths::ensure_dir(parent).map_err(|e| step_failed(&e.0))?;
    }
    // 0644 whatever the umask: launchd refuses a group-writable plist.
    paths::write_atomic_mode(path, xml, paths::PLIST_MODE).map_err(|e| step_failed(&e.0))
}

fn parse_back(path: &Path, expected: &plist::Value, label: &str) -> Result<()> {
    let back = plist::read(path).map_err(|e| step_failed(&e.0))?;
    plist::validate(&back, label)
        .map_err(|why| step_failed(&format!("{} does not pass validation: {why}", path.display())))?;
    if &back != expected {
        return Err(step_failed(&format!(
            "{} reads back different from what was written: check the disk and run enable again",
            path.display()
        )));
    }
    Ok(())
}

/// `plutil -lint` where it exists (macOS); it checks syntax only.
fn lint(path: &Path) -> Result<()> {
    let Some(plutil) = crate::proc::which("plutil") else {
        step_note("plutil not found: lint skipped (the plist was parsed back instead)");
        return Ok(());
    };
    let file = path.to_string_lossy();
    match crate::proc::run(&plutil, &["-lint", file.as_ref()], None, launchctl::CALL_TIMEOUT) {
        Ok(out) if out.success() => {
            step_ok(&format!("plutil -lint: {}", out.stdout.trim()));
            Ok(())
        }
        Ok(out) => {
            Err(step_failed(&format!("plutil -lint {file} failed: {}", format!("{}{}", out.stdout, out.stderr).trim())))
        }
        Err(e) => Err(step_failed(&format!("could not run plutil: {e}"))),
    }
}

fn wait_gone(def: &AgentDef, lc: &Launchctl, via: &Via) -> Result<()> {
    match lc.wait_gone(&def.label, GONE_TIMEOUT) {
        Ok(true) => Ok(()),
        Ok(false) => {
            let said = match via {
                Via::Legacy(stderr) if !stderr.trim().is_empty() => {
                    format!(" (launchctl unload said: {})", stderr.trim())
                }
                _ => String::new(),
            };
            Err(step_failed(&format!(
                "{} is still loaded {} s after the bootout{said}: wait a moment and run `ops-atomic disable {}` again, or log out and in",
                def.label,
                GONE_TIMEOUT.as_secs(),
                def.name
            )))
        }
        Err(e) => Err(launchctl_failed(def, lc, &e)),
    }
}

/// bootstrap (or legacy `load -w`), then verify that launchd has the job.
fn load(def: &AgentDef, lc: &Launchctl, installed: &Path) -> Result<()> {
    let via = lc.bootstrap(installed).map_err(|e| launchctl_failed(def, lc, &e))?;
    match &via {
        Via::Legacy(_) => {
            step_ok(&format!("launchctl load -w {} (bootstrap is unknown to this launchctl)", installed.display()))
        }
        _ => step_ok(&format!("launchctl bootstrap {} {}", lc.domain(), installed.display())),
    }
    match lc.probe(&def.label) {
        Ok(Probe::Loaded(_)) => {
            step_ok(&format!("Verified: {} is loaded", def.label));
            Ok(())
        }
        Ok(Probe::NotLoaded) => {
            let stderr = match &via {
                Via::Legacy(s) => s.as_str(),
                _ => "",
            };
            let e = CallError::from_legacy(
                format!("launchctl load -w {}", installed.display()),
                stderr,
                "the job is not loaded afterwards",
            );
            Err(launchctl_failed(def, lc, &e))
        }
        Err(e) => Err(launchctl_failed(def, lc, &e)),
    }
}

fn dry_run(ctx: &Ctx, def: &AgentDef, dir: &Path) -> Result<()> {
    say(&format!("\n{} ({}) — dry run", def.label, def.name));
    let spec = spec(ctx, def).map_err(|e| step_failed(&e.0))?;
    let xml = plist::to_xml(&plist::build(&spec))?;
    step_ok(&format!("Built plist for {}:", def.label));
    say(String::from_utf8_lossy(&xml).trim_end());
    let domain = launchctl::current_uid().map(|u| format!("gui/{u}")).unwrap_or_else(|| "gui/<uid>".into());
    let target = format!("{domain}/{}", def.label);
    let installed = dir.join(def.file_name());
    let repo = def.repo_plist(ctx);
    say("Would do:");
    for line in [
        format!("mkdir -p {}", ctx.paths.logs_dir().display()),
        format!("write {} and parse it back", repo.display()),
        format!("plutil -lint {} (when plutil exists)", repo.display()),
        format!("launchctl bootout {target} (only if loaded), then poll `launchctl print {target}` until exit 113"),
        format!("copy it atomically to {}", installed.display()),
        format!("launchctl enable {target}"),
        format!("launchctl bootstrap {domain} {} (legacy: launchctl load -w)", installed.display()),
        format!("launchctl print {target} (verify it is loaded)"),
    ] {
        say(&format!("  {line}"));
    }
    Ok(())
}

pub fn disable(ctx: &Ctx, args: &DisableArgs) -> Result<u8> {
    crate::log::quiet(true);
    let dir = agents_dir(&args.agents)?;
    let lc = Launchctl::detect();
    for agent in args.which.agents() {
        let def = AgentDef::new(ctx, agent);
        say(&format!("\n{} ({})", def.label, def.name));
        disable_one(&def, &dir, lc.as_ref())?;
    }
    Ok(0)
}

/// bootout (waiting until gone), remove the installed plist, verify.
fn disable_one(def: &AgentDef, dir: &Path, lc: Option<&Launchctl>) -> Result<()> {
    let installed = dir.join(def.file_name());
    let was_loaded = match lc {
        None => {
            say(&format!("⚠️  launchctl not available: cannot check whether {} is loaded", def.label));
            false
        }
        Some(lc) => unload(def, lc, &installed)?,
    };
    let was_installed = installed.exists();
    if was_installed {
        std::fs::remove_file(&installed).map_err(|e| {
            step_failed(&format!("could not remove {}: {}", installed.display(), crate::exit::io_reason(&e)))
        })?;
        step_ok(&format!("Removed {}", installed.display()));
    }
    if let Some(lc) = lc {
        match lc.probe(&def.label) {
            Ok(Probe::NotLoaded) => {}
            Ok(Probe::Loaded(_)) => {
                return Err(step_failed(&format!(
                    "{} is still loaded: run `ops-atomic disable {}` again",
                    def.label, def.name
                )));
            }
            Err(e) => return Err(launchctl_failed(def, lc, &e)),
        }
    }
    if installed.exists() {
        return Err(step_failed(&format!("{} still exists", installed.display())));
    }
    if !was_loaded && !was_installed {
        step_ok(&format!("{} was not enabled (not loaded, no {}): nothing to do", def.label, installed.display()));
    } else {
        step_ok(&format!("Verified: {} is not loaded and not installed", def.label));
    }
    Ok(())
}

/// Boots the job out when loaded and waits until launchd has let go of it
/// (bootout returns before that); `Ok(true)` when it was loaded.
fn unload(def: &AgentDef, lc: &Launchctl, installed: &Path) -> Result<bool> {
    match lc.probe(&def.label) {
        Err(e) => Err(launchctl_failed(def, lc, &e)),
        Ok(Probe::NotLoaded) => Ok(false),
        Ok(Probe::Loaded(_)) => {
            let plist = installed.exists().then_some(installed);
            let via = lc.bootout(&def.label, plist).map_err(|e| launchctl_failed(def, lc, &e))?;
            wait_gone(def, lc, &via)?;
            step_ok(&format!("Booted out {} and waited until it was gone", lc.target(&def.label)));
            Ok(true)
        }
    }
}

pub fn status(ctx: &Ctx, args: &StatusArgs) -> Result<u8> {
    crate::launchd::status::run(ctx, args)
}

pub fn print_plist(ctx: &Ctx, agent: Agent) -> Result<u8> {
    let spec = spec(ctx, &AgentDef::new(ctx, agent))?;
    let xml = plist::to_xml(&plist::build(&spec))?;
    use std::io::Write;
    std::io::stdout().write_all(&xml).map_err(|e| fail!("could not write the plist to stdout: {e}"))?;
    Ok(0)
}
