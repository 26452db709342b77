//! `ops-atomic events`: the event log, filtered, as lines or JSON Lines,
//! optionally followed like `tail -f` (SPEC §10).

use std::io::{Read, Seek, SeekFrom, Write};
use std::time::Duration;

use chrono::Utc;

use crate::cli::EventsArgs;
use crate::config::Config;
use crate::exit::Result;
use crate::fail;
use crate::incidents::Event;
use crate::paths::Paths;

pub fn run(paths: &Paths, config: &Config, args: &EventsArgs) -> Result<u8> {
    let since = crate::duration::parse(&args.since).map_err(|e| fail!("--since {e}"))?;
    let wanted = Filter::new(config, args);
    let from = Utc::now() - since;
    // Buffered: 100,000 lines are one write each through stdout's line
    // buffer. Printed as they are read, without holding the whole log.
    let mut out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout().lock());
    let mut any = false;
    let skipped = crate::events::visit(paths, Some(from), |e| {
        any = true;
        if wanted.matches(&e) {
            print(&mut out, &e, args.json);
        }
    })?;
    if let Some(s) = skipped.describe("the event log") {
        let _ = out.flush();
        eprintln!("{s}");
    }
    if !args.json && !any && !args.follow {
        let _ = writeln!(out, "no events in the last {} (the log is {})", args.since, paths.events_file().display());
    }
    let _ = out.flush();
    drop(out);
    if args.follow {
        follow(paths, &wanted, args.json)?;
    }
    Ok(0)
}

fn print(out: &mut impl Write, e: &Event, json: bool) {
    let text = if json { serde_json::to_string(e).unwrap_or_default() } else { crate::events::line(e) };
    let _ = writeln!(out, "{}", crate::secret::scrubbed(&text));
}

/// Which events to show: `--check` by id or name, `--type`.
struct Filter {
    checks: Vec<String>,
    types: Vec<String>,
}

impl Filter {
    fn new(config: &Config, args: &EventsArgs) -> Filter {
        // A name given to --check also selects its id, so renamed history still matches.
        let mut checks = args.checks.clone();
        for (_, check) in config.checks() {
            for who in check.idents() {
                if args.checks.iter().any(|c| c == &who.name) {
                    checks.push(who.id);
                }
            }
        }
        Filter { checks, types: args.types.clone() }
    }

    fn matches(&self, e: &Event) -> bool {
        (self.checks.is_empty() || self.checks.iter().any(|c| c == &e.check || c == &e.name))
            && (self.types.is_empty() || self.types.iter().any(|t| t == &e.kind))
    }
}

/// Prints lines appended after now, until interrupted. A log that is
/// rotated or trimmed (shorter than before) is read again from its start.
fn follow(paths: &Paths, wanted: &Filter, json: bool) -> Result<()> {
    let path = paths.events_file();
    let mut offset = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let mut partial: Vec<u8> = Vec::new();
    loop {
        std::thread::sleep(Duration::from_millis(250));
        let Ok(mut f) = std::fs::File::open(&path) else { continue };
        let len = f.metadata().map(|m| m.len()).unwrap_or(0);
        if len < offset {
            offset = 0;
            partial.clear();
        }
        if len == offset {
            continue;
        }
        if f.seek(SeekFrom::Start(offset)).is_err() {
            continue;
        }
        // At most 4 MiB a turn: a log that grew by much is caught up in steps.
        let step = (len - offset).min(4 << 20);
        let mut bytes = Vec::new();
        if f.take(step).read_to_end(&mut bytes).is_err() {
            continue;
        }
        offset += bytes.len() as u64;
        partial.extend_from_slice(&bytes);
        if partial.len() > crate::jsonl::MAX_LINE && !partial.contains(&b'\n') {
            partial.clear(); // a line over the bound: skipped, as the readers do
        }
        let mut out = std::io::stdout().lock();
        while let Some(i) = partial.iter().position(|&b| b == b'\n') {
            let raw: Vec<u8> = partial.drain(..=i).collect();
            let line = String::from_utf8_lossy(&raw);
            for e in crate::events::parse(&line) {
                if wanted.matches(&e) {
                    print(&mut out, &e, json);
                }
            }
        }
        if out.flush().is_err() {
            // stdout closed (a pipe into `head`): nothing more to do.
            return Ok(());
        }
    }
}
