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
        /// Resident memory above this, in MiB, of any matching process = fail; 0 = not checked.
        pub max_rss_mb: u64 = 0,
        /// CPU above this percentage (100 = one core) over the interval since the previous run = fail; 0 = not checked.
        pub max_cpu_percent: u32 = 0,
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
    fn run(&self, env: &Env) -> Vec<CheckResult> {
        let start = Instant::now();
        let who = &self.idents()[0];
        let mut r = match snapshot() {
            Ok(procs) => {
                let pids = matching(procs, &self.cmdline_contains);
                let (mut status, mut message) = judge(&pids, self.min, self.max);
                let mut memo = None;
                if self.max_rss_mb > 0 || self.max_cpu_percent > 0 {
                    let now_ms = chrono::Utc::now().timestamp_millis();
                    let before: Usage =
                        env.memo(&who.id).and_then(|v| serde_json::from_value(v.clone()).ok()).unwrap_or_default();
                    let mine: Vec<&Proc> = procs.iter().filter(|p| pids.contains(&p.pid)).collect();
                    let (over, next) = resources(self, &mine, &before, now_ms);
                    if !over.is_empty() {
                        status = CheckStatus::Fail;
                        message = format!("{message}; {}", over.join("; "));
                    }
                    memo = serde_json::to_value(next).ok();
                }
                let mut r = CheckResult::new(who, status, message);
                r.memo = memo;
                r
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
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Proc {
    pub pid: u32,
    pub ppid: u32,
    /// Program and arguments, joined by spaces.
    pub cmdline: String,
    /// Resident memory, in KiB.
    pub rss_kb: u64,
    /// CPU time used since it started (user + system), in ms.
    pub cpu_ms: u64,
}

/// What a resource-checked `[[process]]` keeps between runs: when it
/// looked and each PID's cumulative CPU time then.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Usage {
    pub at_ms: i64,
    pub cpu_ms: BTreeMap<u32, u64>,
}

/// The processes over `max_rss_mb` or `max_cpu_percent`, in words, and the
/// usage to keep. CPU is judged over the interval since `before` (a PID not
/// seen then, or the first run, only records).
pub fn resources(cfg: &Process, procs: &[&Proc], before: &Usage, now_ms: i64) -> (Vec<String>, Usage) {
    let mut over = Vec::new();
    let interval_ms = now_ms - before.at_ms;
    for p in procs {
        let rss_mb = p.rss_kb / 1024;
        if cfg.max_rss_mb > 0 && rss_mb > cfg.max_rss_mb {
            over.push(format!(
                "PID {} uses {} of memory (max_rss_mb = {})",
                p.pid,
                super::human_bytes(p.rss_kb * 1024),
                cfg.max_rss_mb
            ));
        }
        if cfg.max_cpu_percent > 0
            && before.at_ms > 0
            && interval_ms > 0
            && let Some(&was) = before.cpu_ms.get(&p.pid)
        {
            let used = p.cpu_ms.saturating_sub(was) as f64;
            let percent = used * 100.0 / interval_ms as f64;
            if percent > f64::from(cfg.max_cpu_percent) {
                over.push(format!(
                    "PID {} used {percent:.0}% CPU over the last {} (max_cpu_percent = {})",
                    p.pid,
                    super::human_secs((interval_ms / 1000) as u64),
                    cfg.max_cpu_percent
                ));
            }
        }
    }
    (over, Usage { at_ms: now_ms, cpu_ms: procs.iter().map(|p| (p.pid, p.cpu_ms)).collect() })
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
        let (rss_kb, cpu_ms) = stat_usage(&stat).unwrap_or_default();
        out.push(Proc { pid, ppid: stat_ppid(&stat).unwrap_or(0), cmdline, rss_kb, cpu_ms });
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

/// Resident KiB and CPU ms from `/proc/<pid>/stat`: after the `)`, utime
/// and stime are fields 12 and 13 (clock ticks), rss field 22 (pages).
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
fn stat_usage(stat: &str) -> Option<(u64, u64)> {
    let f: Vec<&str> = stat[stat.rfind(')')? + 1..].split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let pages: u64 = f.get(21)?.parse().ok()?;
    // SAFETY: sysconf(3) takes an integer name and touches no memory.
    let (hz, page) = unsafe { (libc::sysconf(libc::_SC_CLK_TCK), libc::sysconf(libc::_SC_PAGESIZE)) };
    let (hz, page) = (u64::try_from(hz).ok().filter(|&h| h > 0)?, u64::try_from(page).ok()?);
    Some((pages * page / 1024, ticks * 1000 / hz))
}

/// Reads the whole process table now.
#[cfg(not(target_os = "linux"))]
pub fn scan() -> Result<Vec<Proc>, String> {
    let ps = std::path::Path::new("/bin/ps");
    let out = crate::proc::run(ps, &["-axww", "-o", "pid=,ppid=,rss=,time=,command="], None, PS_TIMEOUT)
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

/// `ps -o pid=,ppid=,rss=,time=,command=` lines: `  PID  PPID  RSS  TIME command line…`.
#[cfg_attr(target_os = "linux", allow(dead_code))]
pub fn parse_ps(text: &str) -> Vec<Proc> {
    text.lines()
        .filter_map(|line| {
            let mut rest = line.trim_start();
            let mut word = || {
                let (w, r) = rest.split_once(char::is_whitespace).unwrap_or((rest, ""));
                rest = r.trim_start();
                w
            };
            let (pid, ppid, rss, time) = (word(), word(), word(), word());
            Some(Proc {
                pid: pid.parse().ok()?,
                ppid: ppid.parse().ok()?,
                rss_kb: rss.parse().ok()?,
                cpu_ms: ps_time_ms(time)?,
                cmdline: rest.trim().to_string(),
            })
        })
        .collect()
}

/// `ps`'s cumulative CPU time, `[[dd-]hh:]mm:ss[.hh]`, in ms.
#[cfg_attr(target_os = "linux", allow(dead_code))]
fn ps_time_ms(t: &str) -> Option<u64> {
    let (days, t) = match t.split_once('-') {
        Some((d, rest)) => (d.parse::<u64>().ok()?, rest),
        None => (0, t),
    };
    let mut secs = 0.0;
    for part in t.split(':') {
        secs = secs * 60.0 + part.parse::<f64>().ok()?;
    }
    Some(days * 86_400_000 + (secs * 1000.0).round() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: u32, ppid: u32, cmd: &str) -> Proc {
        Proc { pid, ppid, cmdline: cmd.into(), ..Proc::default() }
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
        let ps = "    1     0  9344  12:03.52 /sbin/launchd\n  4242   1 27262976 1-02:00:01 /usr/bin/python3 qlir/data_server.py --port 1\n";
        let got = parse_ps(ps);
        assert_eq!(
            got.iter().map(|p| (p.pid, p.ppid, p.cmdline.as_str())).collect::<Vec<_>>(),
            [(1, 0, "/sbin/launchd"), (4242, 1, "/usr/bin/python3 qlir/data_server.py --port 1")]
        );
        assert_eq!((got[0].rss_kb, got[0].cpu_ms), (9344, 723_520));
        assert_eq!((got[1].rss_kb, got[1].cpu_ms), (27_262_976, 93_601_000));
        assert_eq!(stat_ppid("42 (a b) c) S 7 42 42 0"), Some(7));
    }

    #[test]
    fn memory_and_cpu_are_judged_with_the_pid_and_the_number_seen() {
        let cfg = Process { max_rss_mb: 1024, max_cpu_percent: 50, ..Process::default() };
        let hog = Proc { pid: 812, rss_kb: 26 * 1024 * 1024, cpu_ms: 100_000, ..Proc::default() };
        let (over, usage) = resources(&cfg, &[&hog], &Usage::default(), 1_000_000);
        assert_eq!(over, ["PID 812 uses 26.0 GiB of memory (max_rss_mb = 1024)"], "the first run only records CPU");
        assert_eq!(usage.cpu_ms.get(&812), Some(&100_000));
        // 270 s of CPU in 300 s: 90 %.
        let later = Proc { cpu_ms: 370_000, rss_kb: 1024, ..hog.clone() };
        let (over, _) = resources(&cfg, &[&later], &usage, 1_300_000);
        assert_eq!(over, ["PID 812 used 90% CPU over the last 5 min (max_cpu_percent = 50)"]);
        let idle = Proc { cpu_ms: 101_000, ..later };
        assert!(resources(&cfg, &[&idle], &usage, 1_300_000).0.is_empty());
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
