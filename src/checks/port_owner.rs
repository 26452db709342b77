//! Who listens on a TCP port, for `[[tcp]] owner_contains`: on Linux from
//! `/proc/net/tcp{,6}` (the listening sockets' inodes) and `/proc/*/fd`
//! (which process holds them); elsewhere (macOS) from one
//! `lsof -nP -iTCP:<port> -sTCP:LISTEN -F pcn`. Command lines come from the
//! process table ([`super::process::snapshot`]).

/// A process listening on the port.
#[derive(Debug, Clone, PartialEq)]
pub struct Owner {
    pub pid: u32,
    pub cmdline: String,
}

/// The processes listening on `port` (any address) that this user can see.
pub fn owners(port: u16) -> Result<Vec<Owner>, String> {
    let pids = listening_pids(port)?;
    let table = super::process::scan().unwrap_or_default();
    Ok(pids
        .into_iter()
        .map(|pid| Owner {
            pid,
            cmdline: table.iter().find(|p| p.pid == pid).map(|p| p.cmdline.clone()).unwrap_or_default(),
        })
        .collect())
}

#[cfg(target_os = "linux")]
fn listening_pids(port: u16) -> Result<Vec<u32>, String> {
    let mut inodes = std::collections::BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        inodes.extend(listening_inodes(&text, port));
    }
    let mut pids = Vec::new();
    if inodes.is_empty() {
        return Ok(pids);
    }
    let dir = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        let holds = fds.flatten().any(|fd| {
            std::fs::read_link(fd.path())
                .ok()
                .and_then(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")?.strip_suffix(']')?.parse::<u64>().ok()
                })
                .is_some_and(|i| inodes.contains(&i))
        });
        if holds {
            pids.push(pid);
        }
    }
    pids.sort_unstable();
    Ok(pids)
}

/// The inodes of the sockets in LISTEN (`0A`) on `port` in a `/proc/net/tcp` table.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn listening_inodes(text: &str, port: u16) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let local_port = u16::from_str_radix(f.get(1)?.rsplit(':').next()?, 16).ok()?;
            (local_port == port && *f.get(3)? == "0A").then(|| f.get(9)?.parse().ok())?
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn listening_pids(port: u16) -> Result<Vec<u32>, String> {
    let lsof = ["/usr/sbin/lsof", "/usr/bin/lsof"]
        .into_iter()
        .map(std::path::Path::new)
        .find(|p| p.exists())
        .ok_or("lsof not found (it is in /usr/sbin on macOS)")?;
    let spec = format!("-iTCP:{port}");
    let out =
        crate::proc::run(lsof, &["-nP", &spec, "-sTCP:LISTEN", "-F", "pcn"], None, std::time::Duration::from_secs(5))
            .map_err(|e| format!("could not run lsof: {e}"))?;
    Ok(parse_lsof(&out.stdout))
}

/// The PIDs of `lsof -F pcn` output (`p812`, `cpostgres`, `n*:5432`).
#[cfg_attr(target_os = "linux", allow(dead_code))]
pub fn parse_lsof(text: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = text.lines().filter_map(|l| l.strip_prefix('p')?.parse().ok()).collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// The verdict on the owners of `port`: `None` when one matches.
pub fn judge(port: u16, owners: &[Owner], needle: &str) -> Option<(super::CheckStatus, String)> {
    if owners.iter().any(|o| o.cmdline.contains(needle)) {
        return None;
    }
    let Some(o) = owners.first() else {
        return Some((
            super::CheckStatus::Warn,
            format!(
                "port {port} answers, but its owner is not visible to this user (a process of another user or a container?)"
            ),
        ));
    };
    let cmd: String = o.cmdline.chars().take(120).collect();
    Some((
        super::CheckStatus::Fail,
        format!(
            "port {port} is answered by pid {} `{cmd}`, not by a process with {needle:?} in its command line",
            o.pid
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_and_lsof_are_read() {
        let t = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   999        0 41234 1 0\n   1: 0100007F:1538 0100007F:9C40 01 00000000:00000000 00:00000000 00000000   999        0 41299 1 0\n";
        assert_eq!(listening_inodes(t, 5432), vec![41234]);
        assert_eq!(parse_lsof("p812\ncpostgres\nn*:5432\np812\nn[::]:5432\n"), vec![812]);
        let o =
            [Owner { pid: 812, cmdline: "/Applications/Postgres.app/Contents/Versions/16/bin/postgres -D x".into() }];
        assert_eq!(judge(5432, &o, "Postgres.app"), None);
        let (st, msg) = judge(5432, &o, "homebrew").unwrap();
        assert_eq!(st, super::super::CheckStatus::Fail);
        assert!(msg.starts_with("port 5432 is answered by pid 812 `/Applications/Postgres.app/"), "{msg}");
    }
}
