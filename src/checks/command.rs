//! Commands: any Nagios-compatible plugin or script (the monitoring-plugins
//! convention): exit 0 ok, 1 warning, 2 critical, 3 (or anything else)
//! unknown; the first line of output before `|` is the message; the
//! performance data after `|` (on the first line, and on the long-output
//! lines from the first later `|` on) becomes the result's `metrics`.
//! The plugin runs without a shell, in the root, in its own process group,
//! which is killed whole at the timeout.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Metric, Severity};
use crate::validate;

crate::check_section! {
    /// `[[command]]`: a Nagios-compatible plugin or script.
    pub struct NagiosCommand {
        /// Name shown in reports and alerts.
        pub name: String = String::new(),
        /// argv, no shell; run with the root as working directory.
        pub command: Vec<String> = Vec::new(),
        /// Killed (with everything it started) and failed after this many seconds.
        pub timeout_s: u64 = 10,
        /// What a failure (exit 2, 3 or other) counts as; exit 1 is a warning.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for NagiosCommand {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "command"
    }
    fn section(&self) -> &'static str {
        "Commands"
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::named(self, &self.name, self.severity, self.command.join(" "))]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::name(&mut errs, &format!("{at}.name"), &self.name, "command check");
        validate::argv(
            &mut errs,
            &format!("{at}.command"),
            &self.command,
            "[\"/usr/lib/nagios/plugins/check_tcp\", \"-H\", \"127.0.0.1\", \"-p\", \"3000\"]",
        );
        if !(1..=60).contains(&self.timeout_s) {
            errs.push(format!("{at}.timeout_s = {}: must be between 1 and 60 seconds", self.timeout_s));
        }
        errs
    }
    fn timeout(&self) -> Duration {
        // The plugin's own timeout kills it; the runner's comes a little later.
        Duration::from_secs(self.timeout_s) + Duration::from_millis(500)
    }
    fn run(&self, env: &Env) -> Vec<CheckResult> {
        let start = Instant::now();
        let who = &self.idents()[0];
        let (status, message, metrics) = match self.command.split_first() {
            None => (CheckStatus::Fail, "no command configured".to_string(), Vec::new()),
            Some((program, args)) => {
                let program = resolve(program, &env.root);
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let timeout = Duration::from_secs(self.timeout_s);
                match crate::proc::run(&program, &args, Some(&env.root), timeout) {
                    Err(crate::proc::SpawnError::NotFound) => {
                        (CheckStatus::Fail, format!("program not found: {}", program.display()), Vec::new())
                    }
                    Err(e) => (CheckStatus::Fail, format!("could not run {}: {e}", program.display()), Vec::new()),
                    Ok(out) if out.timed_out => (
                        CheckStatus::Fail,
                        format!("timed out after {} s (killed with everything it started)", self.timeout_s),
                        Vec::new(),
                    ),
                    Ok(out) => {
                        let (msg, metrics) = parse_output(&out.stdout);
                        let msg = if msg.is_empty() { first_line(&out.stderr) } else { msg };
                        let (status, msg) = judge(out.code, msg);
                        (status, msg, metrics)
                    }
                }
            }
        };
        let mut r = CheckResult::new(who, status, message);
        r.metrics = metrics;
        r.latency_ms = start.elapsed().as_millis() as u64;
        vec![r]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

/// A program named by a relative path with a `/` is found in the root (the
/// working directory); a bare name is looked up on PATH.
fn resolve(program: &str, root: &Path) -> PathBuf {
    let p = Path::new(program);
    if program.contains('/') && p.is_relative() { root.join(p) } else { p.to_path_buf() }
}

fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("").to_string()
}

/// The verdict from the exit code (`None`: killed by a signal).
pub fn judge(code: Option<i32>, msg: String) -> (CheckStatus, String) {
    let msg = if msg.is_empty() { "(no output)".to_string() } else { msg };
    match code {
        Some(0) => (CheckStatus::Ok, msg),
        Some(1) => (CheckStatus::Warn, msg),
        Some(2) => (CheckStatus::Fail, msg),
        Some(3) if msg.contains("UNKNOWN") => (CheckStatus::Fail, msg),
        Some(3) => (CheckStatus::Fail, format!("UNKNOWN: {msg}")),
        Some(n) => (CheckStatus::Fail, format!("UNKNOWN (exit {n}): {msg}")),
        None => (CheckStatus::Fail, format!("UNKNOWN (killed by a signal): {msg}")),
    }
}

/// The message (first line, before `|`) and the performance data of a
/// plugin's output, per the Nagios plugin guidelines:
///
/// ```text
/// TEXT OUTPUT | PERFDATA
/// LONG TEXT LINE 1
/// LONG TEXT LINE 2 | PERFDATA LINE 2
/// PERFDATA LINE 3
/// ```
pub fn parse_output(stdout: &str) -> (String, Vec<Metric>) {
    let mut lines = stdout.lines();
    let first = lines.next().unwrap_or("");
    let (msg, mut perf) = match first.split_once('|') {
        Some((m, p)) => (m.trim().to_string(), p.to_string()),
        None => (first.trim().to_string(), String::new()),
    };
    let mut in_perf = false;
    for line in lines {
        if in_perf {
            perf.push(' ');
            perf.push_str(line);
        } else if let Some((_, p)) = line.split_once('|') {
            in_perf = true;
            perf.push(' ');
            perf.push_str(p);
        }
    }
    (msg, parse_perfdata(&perf))
}

/// `'label'=value[UOM];[warn];[crit];[min];[max]`, space-separated; labels
/// with spaces are single-quoted (`''` is a quote). Values that are not
/// numbers (`U`, undetermined) and malformed items are left out.
pub fn parse_perfdata(text: &str) -> Vec<Metric> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let Some(&c) = chars.peek() else { break };
        let mut label = String::new();
        if c == '\'' {
            chars.next();
            loop {
                match chars.next() {
                    Some('\'') if chars.peek() == Some(&'\'') => {
                        chars.next();
                        label.push('\'');
                    }
                    Some('\'') | None => break,
                    Some(ch) => label.push(ch),
                }
            }
            // Anything up to '=' after the closing quote belongs to a malformed item.
            while chars.next_if(|&c| c != '=' && !c.is_whitespace()).is_some() {}
        } else {
            while let Some(ch) = chars.next_if(|&c| c != '=' && !c.is_whitespace()) {
                label.push(ch);
            }
        }
        let mut rest = String::new();
        if chars.next_if_eq(&'=').is_some() {
            while let Some(ch) = chars.next_if(|c| !c.is_whitespace()) {
                rest.push(ch);
            }
        } else {
            continue; // no '=': not a perfdata item
        }
        if label.is_empty() {
            continue;
        }
        let value = rest.split(';').next().unwrap_or("");
        // The longest prefix that is a number (`1.5e-3` too; `,` as a decimal
        // comma) is the value, the rest its unit.
        let end = value
            .find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | ',' | '-' | '+' | 'e' | 'E')))
            .unwrap_or(value.len());
        let parsed = (1..=end).rev().find_map(|i| {
            let v = value[..i].replace(',', ".").parse::<f64>().ok()?;
            v.is_finite().then_some((v, &value[i..]))
        });
        if let Some((v, unit)) = parsed {
            out.push(Metric { label, value: v, unit: unit.to_string() });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(label: &str, value: f64, unit: &str) -> Metric {
        Metric { label: label.into(), value, unit: unit.into() }
    }

    #[test]
    fn exit_codes_follow_the_plugin_convention() {
        assert_eq!(judge(Some(0), "OK".into()), (CheckStatus::Ok, "OK".into()));
        assert_eq!(judge(Some(1), "W".into()).0, CheckStatus::Warn);
        assert_eq!(judge(Some(2), "C".into()).0, CheckStatus::Fail);
        assert_eq!(judge(Some(3), "x".into()), (CheckStatus::Fail, "UNKNOWN: x".into()));
        assert_eq!(judge(Some(3), "DISK UNKNOWN - x".into()).1, "DISK UNKNOWN - x");
        assert_eq!(judge(Some(127), String::new()), (CheckStatus::Fail, "UNKNOWN (exit 127): (no output)".into()));
        assert_eq!(judge(None, "x".into()).0, CheckStatus::Fail);
    }

    #[test]
    fn perfdata_in_every_form() {
        let (msg, metrics) = parse_output(
            "DISK OK - free space: / 3326 MB (56%); | /=2643MB;5948;5958;0;5968\n/ 15272 MB (77%);\n/boot 68 MB (69%);\n/home 69357 MB (27%);\n/var/log 819 MB (84%); | /boot=68MB;88;93;0;98\n/home=69357MB;253404;253409;0;253414 \n'/var/log'=818MB;970;975;0;980\n",
        );
        assert_eq!(msg, "DISK OK - free space: / 3326 MB (56%);");
        assert_eq!(
            metrics,
            vec![m("/", 2643.0, "MB"), m("/boot", 68.0, "MB"), m("/home", 69357.0, "MB"), m("/var/log", 818.0, "MB")]
        );
        assert_eq!(
            parse_perfdata(
                "'time to connect'=0.002s;;;0.000;10.000 'it''s'=5 size=12.5% e=1.5e-3s c=3c;; u=U;1;2 bad junk=x ='1' -5=-5"
            ),
            vec![
                m("time to connect", 0.002, "s"),
                m("it's", 5.0, ""),
                m("size", 12.5, "%"),
                m("e", 0.0015, "s"),
                m("c", 3.0, "c"),
                m("-5", -5.0, "")
            ]
        );
        assert_eq!(parse_output("no perf here\n"), ("no perf here".into(), Vec::new()));
        assert_eq!(parse_output(""), (String::new(), Vec::new()));
    }

    #[test]
    fn validation_names_each_key() {
        let bad = NagiosCommand { timeout_s: 0, ..NagiosCommand::default() };
        let errs = bad.validate("command[0]").join("\n");
        for key in ["command[0].name", "command[0].command", "command[0].timeout_s"] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
    }

    #[test]
    fn a_script_runs_in_the_root_and_is_killed_at_its_timeout() {
        let root = std::env::temp_dir().join(format!("ops-atomic-cmd-{}", std::process::id()));
        std::fs::create_dir_all(&root).unwrap();
        let env = Env { root: root.clone(), ..Env::default() };
        let cmd = |argv: &[&str], t: u64| NagiosCommand {
            name: "c".into(),
            command: argv.iter().map(|s| s.to_string()).collect(),
            timeout_s: t,
            ..NagiosCommand::default()
        };
        let r = &cmd(&["sh", "-c", "pwd; echo '| x=1s' ; exit 1"], 5).run(&env)[0];
        assert_eq!(r.status, CheckStatus::Warn);
        assert_eq!(r.message, root.canonicalize().unwrap().display().to_string());
        assert_eq!(r.metrics, vec![m("x", 1.0, "s")]);
        let t = Instant::now();
        let r = &cmd(&["sh", "-c", "sleep 30; true"], 1).run(&env)[0];
        assert!(t.elapsed() < Duration::from_secs(5));
        assert!(r.message.starts_with("timed out after 1 s"), "{}", r.message);
        let r = &cmd(&["./nope.sh"], 1).run(&env)[0];
        assert!(r.message.contains("program not found"), "{}", r.message);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
