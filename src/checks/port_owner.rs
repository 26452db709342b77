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

/// A TCP port something listens on, and who: for `init`'s proposals.
#[derive(Debug, Clone, PartialEq)]
pub struct Listener {
    pub port: u16,
    /// Only on loopback (127.0.0.1 / ::1), or on every address.
    pub loopback: bool,
    pub owners: Vec<Owner>,
}

/// Every TCP port in LISTEN that this user can see, ascending, with its
/// owners where they are visible.
pub fn listeners() -> Result<Vec<Listener>, String> {
    let found = listening_sockets()?;
    let table = super::process::scan().unwrap_or_default();
    let mut by_port: std::collections::BTreeMap<u16, Listener> = std::collections::BTreeMap::new();
    for (port, loopback, pid) in found {
        let l = by_port.entry(port).or_insert(Listener { port, loopback: true, owners: Vec::new() });
        l.loopback &= loopback;
        if let Some(pid) = pid
            && !l.owners.iter().any(|o| o.pid == pid)
        {
            let cmdline = table.iter().find(|p| p.pid == pid).map(|p| p.cmdline.clone()).unwrap_or_default();
            l.owners.push(Owner { pid, cmdline });
        }
    }
    Ok(by_port.into_values().collect())
}

#[cfg(target_os = "linux")]
fn listening_pids(port: u16) -> Result<Vec<u32>, String> {
    let mut inodes = std::collections::BTreeSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        inodes.extend(listening_inodes(&text, port));
    }
    let mut pids: Vec<u32> = socket_holders(&inodes)?.into_iter().map(|(_, pid)| pid).collect();
    pids.sort_unstable();
    pids.dedup();
    Ok(pids)
}

/// (port, on loopback only, pid if visible) for each listening socket.
#[cfg(target_os = "linux")]
fn listening_sockets() -> Result<Vec<(u16, bool, Option<u32>)>, String> {
    let mut sockets = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else { continue };
        sockets.extend(listening_table(&text));
    }
    let inodes = sockets.iter().map(|s| s.2).collect();
    let holders = socket_holders(&inodes)?;
    let mut out = Vec::new();
    for (port, loopback, inode) in sockets {
        let pids: Vec<u32> = holders.iter().filter(|(i, _)| *i == inode).map(|(_, p)| *p).collect();
        if pids.is_empty() {
            out.push((port, loopback, None));
        }
        out.extend(pids.into_iter().map(|p| (port, loopback, Some(p))));
    }
    Ok(out)
}

/// (inode, pid) for each process holding one of `inodes` (one pass over /proc).
#[cfg(target_os = "linux")]
fn socket_holders(inodes: &std::collections::BTreeSet<u64>) -> Result<Vec<(u64, u32)>, String> {
    let mut out = Vec::new();
    if inodes.is_empty() {
        return Ok(out);
    }
    let dir = std::fs::read_dir("/proc").map_err(|e| format!("/proc: {e}"))?;
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else { continue };
        for fd in fds.flatten() {
            let inode = std::fs::read_link(fd.path()).ok().and_then(|l| {
                let l = l.to_string_lossy().into_owned();
                l.strip_prefix("socket:[")?.strip_suffix(']')?.parse::<u64>().ok()
            });
            if let Some(i) = inode.filter(|i| inodes.contains(i))
                && !out.contains(&(i, pid))
            {
                out.push((i, pid));
            }
        }
    }
    Ok(out)
}

/// The inodes of the sockets in LISTEN (`0A`) on `port` in a `/proc/net/tcp` table.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn listening_inodes(text: &str, port: u16) -> Vec<u64> {
    listening_table(text).into_iter().filter(|s| s.0 == port).map(|s| s.2).collect()
}

/// (port, on loopback only, inode) of every socket in LISTEN in a `/proc/net/tcp{,6}` table.
#[cfg_attr(not(target_os = "linux"), allow(dead_code))]
pub fn listening_table(text: &str) -> Vec<(u16, bool, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let (addr, port) = f.get(1)?.rsplit_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            if *f.get(3)? != "0A" {
                return None;
            }
            // 127.x.x.x is 7F in the last byte (little-endian); ::1 ends in 01000000.
            let loopback = (addr.len() == 8 && addr.ends_with("7F"))
                || addr == "00000000000000000000000001000000"
                || (addr.len() == 32 && addr.starts_with("0000000000000000FFFF0000") && addr.ends_with("7F"));
            Some((port, loopback, f.get(9)?.parse().ok()?))
        })
        .collect()
}

#[cfg(not(target_os = "linux"))]
fn lsof(args: &[&str]) -> Result<String, String> {
    let lsof = ["/usr/sbin/lsof", "/usr/bin/lsof"]
        .into_iter()
        .map(std::path::Path::new)
        .find(|p| p.exists())
        .ok_or("lsof not found (it is in /usr/sbin on macOS)")?;
    let out = crate::proc::run(lsof, args, None, std::time::Duration::from_secs(5))
        .map_err(|e| format!("could not run lsof: {e}"))?;
    Ok(out.stdout)
}

#[cfg(not(target_os = "linux"))]
fn listening_pids(port: u16) -> Result<Vec<u32>, String> {
    let spec = format!("-iTCP:{port}");
    Ok(parse_lsof(&lsof(&["-nP", &spec, "-sTCP:LISTEN", "-F", "pcn"])?))
}

#[cfg(not(target_os = "linux"))]
fn listening_sockets() -> Result<Vec<(u16, bool, Option<u32>)>, String> {
    Ok(parse_lsof_listeners(&lsof(&["-nP", "-iTCP", "-sTCP:LISTEN", "-F", "pcn"])?))
}

/// The PIDs of `lsof -F pcn` output (`p812`, `cpostgres`, `n*:5432`).
#[cfg_attr(target_os = "linux", allow(dead_code))]
pub fn parse_lsof(text: &str) -> Vec<u32> {
    let mut pids: Vec<u32> = text.lines().filter_map(|l| l.strip_prefix('p')?.parse().ok()).collect();
    pids.sort_unstable();
    pids.dedup();
    pids
}

/// (port, on loopback only, pid) of each `n` line of `lsof -F pcn` output.
#[cfg_attr(target_os = "linux", allow(dead_code))]
pub fn parse_lsof_listeners(text: &str) -> Vec<(u16, bool, Option<u32>)> {
    let mut pid = None;
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(p) = line.strip_prefix('p') {
            pid = p.parse().ok();
        } else if let Some(name) = line.strip_prefix('n') {
            let Some((addr, port)) = name.rsplit_once(':') else { continue };
            let Ok(port) = port.parse::<u16>() else { continue };
            let loopback = addr.starts_with("127.") || addr == "[::1]" || addr == "localhost";
            out.push((port, loopback, pid));
        }
    }
    out
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
        assert_eq!(listening_table(t), vec![(5432, true, 41234)]);
        assert_eq!(
            parse_lsof_listeners("p812\ncpostgres\nn*:5432\nn[::1]:5432\np90\ncnode\nn127.0.0.1:3000\n"),
            vec![(5432, false, Some(812)), (5432, true, Some(812)), (3000, true, Some(90))]
        );
        let o =
            [Owner { pid: 812, cmdline: "/Applications/Postgres.app/Contents/Versions/16/bin/postgres -D x".into() }];
        assert_eq!(judge(5432, &o, "Postgres.app"), None);
        let (st, msg) = judge(5432, &o, "homebrew").unwrap();
        assert_eq!(st, super::super::CheckStatus::Fail);
        assert!(msg.starts_with("port 5432 is answered by pid 812 `/Applications/Postgres.app/"), "{msg}");
    }
}
