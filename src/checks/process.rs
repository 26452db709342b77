//! Processes: how many running processes' full command lines contain a
//! string. The process table is read **once** per run for every `[[process]]`
//! check ([`snapshot`]): on Linux from `/proc/<pid>/cmdline` and `stat`
//! directly, on macOS with one `ps -axww -o pid=,ppid=,command=` (the full
//! argument list of other users' processes needs the `KERN_PROCARGS2`
//! sysctl, which is what `ps` does; a fork+exec costs about 10 ms there).
//! This process and its children (a `[[command]]` plugin running now) are
//! never counted.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use super::{Check, CheckResult, CheckStatus, Common, Env, Ident, Severity};
use crate::validate;

/// `ps` answers in milliseconds; this guards against a wedged one.
const PS_TIMEOUT: Duration = Duration::from_secs(5);

/// PIDs named in a message, at most.
const PIDS_SHOWN: usize = 10;

crate::check_section! {
    /// `[[process]]`: processes whose command line contains a string.
    pub struct Process {
        /// Name shown in reports and alerts.
        pub name: String = String::new(),
        /// Text the full command line must contain (program and arguments).
        pub cmdline_contains: String = String::new(),
        /// Fewer running = fail.
        pub min: u32 = 1,
        /// More running = fail (1 detects a second instance); 0 = no upper bound.
        pub max: u32 = 0,
        /// What a failure counts as.
        pub severity: Severity = Severity::Critical,
    }
}

impl Check for Process {
    fn common(&self) -> Common {
        self.common()
    }
    fn kind(&self) -> &'static str {
        "process"
    }
    fn section(&self) -> &'static str {
        "Processes"
    }
    fn idents(&self) -> Vec<Ident> {
        vec![Ident::named(
            self,
            &self.name,
            self.severity,
            format!("command line contains {:?}", self.cmdline_contains),
        )]
    }
    fn validate(&self, at: &str) -> Vec<String> {
        let mut errs = Vec::new();
        validate::name(&mut errs, &format!("{at}.name"), &self.name, "process check");
        if self.cmdline_contains.trim().is_empty() {
            errs.push(format!(
                "{at}.cmdline_contains is missing: give text of the command line, e.g. \"qlir/data_server.py\""
            ));
        }
        if self.max > 0 && self.min > self.max {
            errs.push(format!("{at}.min = {}: must not be more than max ({})", self.min, self.max));
        }
        if self.min == 0 && self.max == 0 {
            errs.push(format!("{at}.min = 0 and max = 0 check nothing: set min (at least) or max (at most)"));
        }
        errs
    }
    fn timeout(&self) -> Duration {
        PS_TIMEOUT + Duration::from_secs(1)
    }
    fn run(&self, _env: &Env) -> Vec<CheckResult> {
        let start = Instant::now();
        let who = &self.idents()[0];
        let mut r = match snapshot() {
            Ok(procs) => {
                let pids = matching(procs, &self.cmdline_contains);
                let (status, message) = judge(&pids, self.min, self.max);
                CheckResult::new(who, status, message)
            }
            Err(e) => CheckResult::new(who, CheckStatus::Fail, format!("could not read the process table: {e}")),
        };
        r.latency_ms = start.elapsed().as_millis() as u64;
        vec![r]
    }
    fn boxed(&self) -> Box<dyn Check> {
        Box::new(self.clone())
    }
}

/// One running process.
#[derive(Debug, Clone, PartialEq)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    /// Program and arguments, joined by spaces.
    pub cmdline: String,
}

/// The process table of this run, read by the first process check that
/// asks (the others wait for it), without this process and its children.
pub fn snapshot() -> &'static Result<Vec<Proc>, String> {
    static SNAPSHOT: OnceLock<Result<Vec<Proc>, String>> = OnceLock::new();
    SNAPSHOT.get_or_init(|| scan().map(|all| without_descendants(all, std::process::id())))
}

/// The PIDs whose command line contains `needle`, ascending.
pub fn matching(procs: &[Proc], needle: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = procs.iter().filter(|p| p.cmdline.contains(needle)).map(|p| p.pid).collect();
    pids.sort_unstable();
    pids
}

/// The verdict on the PIDs found: `2 running (PIDs 4242, 4250), at most 1 expected`.
pub fn judge(pids: &[u32], min: u32, max: u32) -> (CheckStatus, String) {
    let n = pids.len();
    let found = match n {
        0 => "none running".to_string(),
        _ => {
            let mut shown: Vec<String> = pids.iter().take(PIDS_SHOWN).map(u32::to_string).collect();
            if n > PIDS_SHOWN {
                shown.push("…".into());
            }
            let word = if n == 1 { "PID" } else { "PIDs" };
            format!("{n} running ({word} {})", shown.join(", "))
        }
    };
    if (n as u64) < u64::from(min) {
        (CheckStatus::Fail, format!("{found}, at least {min} expected"))
    } else if max > 0 && n as u64 > u64::from(max) {
        (CheckStatus::Fail, format!("{found}, at most {max} expected"))
    } else {
        (CheckStatus::Ok, found)
    }
}

/// Drops `me` and every process descending from it.
pub fn without_descendants(all: Vec<Proc>, me: u32) -> Vec<Proc> {
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for p in &all {
        children.entry(p.ppid).or_default().push(p.pid);
    }
    let mut gone = BTreeSet::from([me]);
    let mut stack = vec![me];
    while let Some(pid) = stack.pop() {
        for &c in children.get(&pid).map(Vec::as_slice).unwrap_or_default() {
            if c != pid && gone.insert(c) {
                stack.push(c);
            }
        }
    }
    all.into_iter().filter(|p| !gone.contains(&p.pid)).collect()
}

/// Reads the whole process table now.
#[cfg(target_os = "linux")]
pub fn scan() -> Result<Vec<Proc>, String> {
    let dir = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    let mut out = Vec::new();
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        // A process may exit between the listing and the reads: skip it.
        let Ok(raw) = std::fs::read(entry.path().join("cmdline")) else { continue };
        if raw.is_empty() {
            continue; // a kernel thread or a zombie: no command line
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let cmdline =
            raw.split(|&b| b == 0).filter(|a| !a.is_empty()).map(String::from_utf8_lossy).collect::<Vec<_>>().join(" ");
        out.push(Proc { pid, ppid: stat_ppid(&stat).unwrap_or(0), cmdline });
    }
    Ok(out)
}

/// The parent PID from `/proc/<pid>/stat`: `pid (comm) state ppid …`, where
/// comm may hold spaces and parentheses (so it is cut at the last `)`).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn stat_ppid(stat: &str) -> Option<u32> {
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

/// Reads the whole process table now.
#[cfg(not(target_os = "linux"))]
pub fn scan() -> Result<Vec<Proc>, String> {
    let ps = std::path::Path::new("/bin/ps");
    let out = crate::proc::run(ps, &["-axww", "-o", "pid=,ppid=,command="], None, PS_TIMEOUT)
        .map_err(|e| format!("could not run /bin/ps: {e}"))?;
    if !out.success() {
        return Err(if out.timed_out {
            format!("/bin/ps did not answer within {} s", PS_TIMEOUT.as_secs())
        } else {
            format!("/bin/ps failed: {}", crate::proc::tail(&out.stderr, 2, 200))
        });
    }
    Ok(parse_ps(&out.stdout))
}

/// `ps -o pid=,ppid=,command=` lines: `  PID  PPID command line…`.
#[cfg_attr(target_os = "linux", allow(dead_code))]
pub fn parse_ps(text: &str) -> Vec<Proc> {
    text.lines()
        .filter_map(|line| {
            let line = line.trim_start();
            let (pid, rest) = line.split_once(char::is_whitespace)?;
            let rest = rest.trim_start();
            let (ppid, cmd) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
            Some(Proc { pid: pid.parse().ok()?, ppid: ppid.parse().ok()?, cmdline: cmd.trim().to_string() })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32, cmd: &str) -> Proc {
        Proc { pid, ppid, cmdline: cmd.into() }
    }

    #[test]
    fn counts_are_judged_with_the_pids() {
        assert_eq!(judge(&[], 1, 0), (CheckStatus::Fail, "none running, at least 1 expected".into()));
        assert_eq!(judge(&[7], 1, 0), (CheckStatus::Ok, "1 running (PID 7)".into()));
        assert_eq!(
            judge(&[4242, 4250], 1, 1),
            (CheckStatus::Fail, "2 running (PIDs 4242, 4250), at most 1 expected".into())
        );
        assert_eq!(judge(&[1, 2], 1, 2).0, CheckStatus::Ok);
        assert_eq!(judge(&[1], 2, 0).1, "1 running (PID 1), at least 2 expected");
        let many: Vec<u32> = (1..=12).collect();
        assert!(judge(&many, 1, 0).1.ends_with("10, …)"), "{}", judge(&many, 1, 0).1);
    }

    #[test]
    fn this_process_and_its_children_are_excluded() {
        let all = vec![
            p(1, 0, "init"),
            p(10, 1, "me x"),
            p(11, 10, "child x"),
            p(12, 11, "grandchild x"),
            p(13, 1, "other x"),
        ];
        let left = without_descendants(all, 10);
        assert_eq!(matching(&left, "x"), vec![13]);
    }

    #[test]
    fn ps_and_stat_lines_are_parsed() {
        let ps = "    1     0 /sbin/launchd\n  4242   1 /usr/bin/python3 qlir/data_server.py --port 1\n";
        assert_eq!(
            parse_ps(ps),
            vec![p(1, 0, "/sbin/launchd"), p(4242, 1, "/usr/bin/python3 qlir/data_server.py --port 1")]
        );
        assert_eq!(stat_ppid("42 (a b) c) S 7 42 42 0"), Some(7));
    }

    #[test]
    fn validation_names_each_key() {
        let bad = Process { min: 3, max: 2, ..Process::default() };
        let errs = bad.validate("process[1]").join("\n");
        for key in ["process[1].name", "process[1].cmdline_contains", "process[1].min"] {
            assert!(errs.contains(key), "{key} missing in {errs}");
        }
        let ok = Process { name: "d".into(), cmdline_contains: "x".into(), ..Process::default() };
        assert!(ok.validate("process[0]").is_empty());
    }

    #[test]
    fn the_scan_sees_a_real_process_with_its_arguments() {
        let marker = format!("ops-atomic-scan-{}", std::process::id());
        let mut child = std::process::Command::new("sh").args(["-c", "sleep 30; true", &marker]).spawn().unwrap();
        // Until the child has exec'd, its command line is this test's.
        let cmdline = format!("/proc/{}/cmdline", child.id());
        for _ in 0..200 {
            if std::fs::read(&cmdline).is_ok_and(|c| String::from_utf8_lossy(&c).contains(&marker)) {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let procs = scan().unwrap();
        let found = matching(&procs, &marker);
        let _ = child.kill();
        let _ = child.wait();
        assert_eq!(found, vec![child.id()]);
        // It is a child of this process: the snapshot leaves it out.
        assert!(matching(&without_descendants(procs, std::process::id()), &marker).is_empty());
    }
}
