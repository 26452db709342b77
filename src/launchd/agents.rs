//! `enable`, `disable`, `status` and `plist` (SPEC §9).
//!
//! `enable` and `disable` print every step as it happens (✅ / ❌) and stop
//! at the first one that fails, with launchctl's error in words and the fix;
//! that failure exits 3. What a step did is checked, never assumed: the plist
//! is parsed back after writing, and "loaded" / "gone" are verified with
//! launchctl itself, because legacy `load` / `unload` exit 0 on failure.

use std::path::Path;

use crate::cli::{Agent, DisableArgs, EnableArgs};
use crate::config::{Loaded, Source};
use crate::exit::{Error, Result};
use crate::fail;
use crate::launchd::agent::{self, AgentDef, agents_dir, current_binary, spec};
use crate::launchd::launchctl::{self, CallError, GONE_TIMEOUT, Launchctl, Probe, Via};
use crate::launchd::plist;
use crate::launchd::say;
use crate::paths::{self, Paths};

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
    step_failed(&agent::explain(e, def, lc))
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

pub fn enable(paths: &Paths, loaded: &Loaded, args: &EnableArgs) -> Result<u8> {
    crate::log::quiet(true);
    let dir = agents_dir(&args.agents)?;
    warn_if_dev_binary(&current_binary()?);
    for warning in environment_warnings(loaded) {
        say(&format!("⚠️  {warning}"));
    }
    let defs: Vec<AgentDef> = args.which.agents().into_iter().map(|a| AgentDef::new(&loaded.config, a)).collect();
    // Before the dry run too: it says what `enable` would do, refusals included.
    check_other_roots(paths, &defs, &dir, args.force)?;
    if args.dry_run {
        for def in &defs {
            dry_run(paths, loaded, def, &dir)?;
        }
        say("\nDry run: nothing was written and launchctl was not called.");
        return Ok(0);
    }
    let Some(lc) = Launchctl::detect() else {
        return Err(step_failed(
            "launchctl not found (set OPS_ATOMIC_LAUNCHCTL, or run on macOS); `ops-atomic enable --dry-run` shows what would be done",
        ));
    };
    for def in &defs {
        say(&format!("\n{} ({})", def.label, def.name));
        enable_one(paths, loaded, def, &dir, &lc)?;
    }
    say("");
    let statuses: Vec<_> = defs.iter().map(|d| agent::agent_status(paths, loaded, d, Some(&dir), Some(&lc))).collect();
    say(agent::render_agents(&statuses, &paths.root.display().to_string()).trim_end());
    Ok(0)
}

/// Settings this shell's environment gives ops-atomic that launchd will not
/// give the agents (their environment is the plist's: PATH and
/// OPS_ATOMIC_CONFIG only), each naming where to put it instead.
pub fn environment_warnings(loaded: &Loaded) -> Vec<String> {
    let file = match &loaded.source {
        Source::File { path, .. } => path.display().to_string(),
        Source::Defaults(path) => format!("{} (create it)", path.display()),
    };
    let mut out: Vec<String> = loaded
        .overrides
        .iter()
        .map(|var| {
            let key = match *var {
                "REDIS_URL" => "[redis] url",
                "DATABASE_URL" => "[database] url",
                "DISCORD_OPS_WEBHOOK" => "[discord] webhook_url",
                "OPS_ALERT_THRESHOLD" => "[monitor] alert_threshold",
                other => other,
            };
            format!(
                "{var} is set in this shell, but launchd will not pass it to the agents, which will use the config file's value instead: put it in the config file {file} as {key}"
            )
        })
        .collect();
    for api in &loaded.config.api {
        for (header, value) in &api.headers {
            for var in template_vars(value) {
                out.push(format!(
                    "[[api]] {:?} header {header} uses ${{{var}}}, which launchd will not pass to the agents: put the value in the config file {file}",
                    api.name
                ));
            }
        }
    }
    out
}

/// The `NAME`s of the `${NAME}`s in a header template.
fn template_vars(text: &str) -> Vec<&str> {
    text.split("${").skip(1).filter_map(|rest| rest.split_once('}').map(|(name, _)| name)).collect()
}

/// An agent installed for another root is moved only with `--force`: one
/// `enable` in the wrong folder must not silently end another root's monitoring.
fn check_other_roots(paths: &Paths, defs: &[AgentDef], dir: &Path, force: bool) -> Result<()> {
    let ours = paths.root.display().to_string();
    let mut refused = Vec::new();
    for def in defs {
        let Some(other) = agent::plist_root(&dir.join(def.file_name())).filter(|r| *r != ours) else {
            continue;
        };
        if force {
            say(&format!("⚠️  {} watches {other}; --force moves it to this root, {ours}", def.label));
        } else {
            let msg = format!(
                "{} is installed for another root, {other} (this root: {ours}): enabling it here would stop monitoring {other}. Run `ops-atomic enable {} --force` to move it here, or leave it and use `ops-atomic --root {other} status`",
                def.label, def.name
            );
            say(&format!("❌ {}", crate::secret::scrub(&msg)));
            refused.push(msg);
        }
    }
    if refused.is_empty() { Ok(()) } else { Err(fail!("{}", refused.join("\n"))) }
}

/// Every step of SPEC §9 for one agent; the first failure ends it.
fn enable_one(paths: &Paths, loaded: &Loaded, def: &AgentDef, dir: &Path, lc: &Launchctl) -> Result<()> {
    let spec = spec(paths, loaded, def).map_err(|e| step_failed(&e.0))?;
    let value = plist::build(&spec);
    let xml = plist::to_xml(&value).map_err(|e| step_failed(&e.0))?;
    step_ok(&format!("Built plist for {} (`{}` {})", def.label, def.subcommand, def.schedule.describe()));
    step_ok(&format!(
        "Paths are absolute, without `~`, and exist: {} --root {}",
        spec.binary.display(),
        spec.root.display()
    ));
    let logs = paths.logs_dir();
    paths::ensure_dir(&logs).map_err(|e| step_failed(&e.0))?;
    step_ok(&format!("Log folder {} is ready", logs.display()));
    let repo = def.repo_plist(paths);
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
///
/// Legacy `load` exits 0 even when it fails: its ✅ waits for the
/// verification, and a `Load failed: N: …` it printed is the error.
fn load(def: &AgentDef, lc: &Launchctl, installed: &Path) -> Result<()> {
    let via = lc.bootstrap(installed).map_err(|e| launchctl_failed(def, lc, &e))?;
    let (command, stderr) = match &via {
        Via::Legacy(s) => (format!("launchctl load -w {}", installed.display()), s.as_str()),
        Via::Modern(s) => (format!("launchctl bootstrap {} {}", lc.domain(), installed.display()), s.as_str()),
        Via::Skipped => (format!("launchctl bootstrap {} {}", lc.domain(), installed.display()), ""),
    };
    let legacy = matches!(via, Via::Legacy(_));
    if legacy && launchctl::error_number(stderr).is_some() {
        return Err(launchctl_failed(def, lc, &CallError::from_legacy(command, stderr, "")));
    }
    if !legacy {
        step_ok(&command);
    }
    match lc.probe(&def.label) {
        Ok(Probe::Loaded(_)) => {
            if legacy {
                step_ok(&format!("{command} (bootstrap is unknown to this launchctl)"));
            }
            step_ok(&format!("Verified: {} is loaded", def.label));
            Ok(())
        }
        Ok(Probe::NotLoaded) => {
            let e = CallError::from_legacy(command, stderr, "the job is not loaded afterwards");
            Err(launchctl_failed(def, lc, &e))
        }
        Err(e) => Err(launchctl_failed(def, lc, &e)),
    }
}

fn dry_run(paths: &Paths, loaded: &Loaded, def: &AgentDef, dir: &Path) -> Result<()> {
    say(&format!("\n{} ({}) — dry run", def.label, def.name));
    let spec = spec(paths, loaded, def).map_err(|e| step_failed(&e.0))?;
    let xml = plist::to_xml(&plist::build(&spec))?;
    step_ok(&format!("Built plist for {}:", def.label));
    say(String::from_utf8_lossy(&xml).trim_end());
    let domain = launchctl::current_uid().map(|u| format!("gui/{u}")).unwrap_or_else(|| "gui/<uid>".into());
    let target = format!("{domain}/{}", def.label);
    let installed = dir.join(def.file_name());
    let repo = def.repo_plist(paths);
    say("Would do:");
    for line in [
        format!("mkdir -p {}", paths.logs_dir().display()),
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

pub fn disable(loaded: &Loaded, args: &DisableArgs) -> Result<u8> {
    crate::log::quiet(true);
    let dir = agents_dir(&args.agents)?;
    let lc = Launchctl::detect();
    for agent in args.which.agents() {
        let def = AgentDef::new(&loaded.config, agent);
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

pub fn print_plist(paths: &Paths, loaded: &Loaded, agent: Agent) -> Result<u8> {
    let spec = spec(paths, loaded, &AgentDef::new(&loaded.config, agent))?;
    let xml = plist::to_xml(&plist::build(&spec))?;
    use std::io::Write;
    std::io::stdout().write_all(&xml).map_err(|e| fail!("could not write the plist to stdout: {e}"))?;
    Ok(0)
}
