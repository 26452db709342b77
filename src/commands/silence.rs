//! `ops-atomic silence`: checks that run and are recorded but send nothing
//! until the silence ends (SPEC §13). Silences live in the state, under its lock.

use chrono::Utc;

use crate::cli::SilenceArgs;
use crate::config::Config;
use crate::exit::Result;
use crate::fail;
use crate::incidents::Event;
use crate::paths::Paths;
use crate::state::{self, Silence};

pub fn run(paths: &Paths, config: &Config, args: &SilenceArgs) -> Result<u8> {
    let known: Vec<(String, String)> =
        config.checks().into_iter().flat_map(|(_, c)| c.idents()).map(|w| (w.id, w.name)).collect();
    // An id, or a check's name, for people who type what the reports show.
    let mut ids = Vec::new();
    for given in &args.ids {
        match known.iter().find(|(id, name)| id == given || name == given) {
            Some((id, _)) => ids.push(id.clone()),
            None => {
                let list: Vec<&str> = known.iter().map(|(id, _)| id.as_str()).collect();
                return Err(fail!(
                    "no check has the id {given:?}: the configured checks are {}",
                    if list.is_empty() { "none".to_string() } else { list.join(", ") }
                ));
            }
        }
    }
    let now = Utc::now();
    if args.list {
        let st = state::peek(paths).unwrap_or_default();
        let live: Vec<&Silence> = st.silences.iter().filter(|s| s.until > now).collect();
        if live.is_empty() {
            println!("no silences in force");
        }
        for s in live {
            println!("{}", describe(s, &known));
        }
        return Ok(0);
    }
    let lock = state::lock(paths, state::lock_wait(), "silence")?;
    let mut st = state::load(paths, &lock)?;
    let mut events = Vec::new();
    if args.clear {
        let (gone, kept): (Vec<Silence>, Vec<Silence>) = std::mem::take(&mut st.silences)
            .into_iter()
            .partition(|s| ids.is_empty() || s.check.as_ref().is_some_and(|c| ids.contains(c)));
        st.silences = kept;
        for s in &gone {
            let id = s.check.clone().unwrap_or_default();
            let mut e = Event::new(now, &id, &name_of(&id, &known), "unsilenced", "silence cleared");
            e.reason = (!s.reason.is_empty()).then(|| s.reason.clone());
            events.push(e);
            println!("🔔 cleared: {}", describe(s, &known));
        }
        if gone.is_empty() {
            println!("no silence to clear");
        }
    } else {
        let dur = args.duration.as_deref().ok_or_else(|| fail!("silence needs --for DUR (e.g. --for 2h)"))?;
        let dur = crate::duration::parse(dur).map_err(|e| fail!("--for {e}"))?;
        let reason = args.reason.clone().unwrap_or_default();
        if reason.chars().any(char::is_control) {
            return Err(fail!("--reason must be one line of text"));
        }
        let targets: Vec<Option<String>> =
            if ids.is_empty() { vec![None] } else { ids.into_iter().map(Some).collect() };
        for check in targets {
            let s = Silence { check, until: now + dur, reason: reason.clone(), created_at: now };
            let id = s.check.clone().unwrap_or_default();
            let mut e = Event::new(now, &id, &name_of(&id, &known), "silenced", format!("until {}", local(s.until)));
            e.reason = (!reason.is_empty()).then(|| reason.clone());
            events.push(e);
            println!("🔕 {}", describe(&s, &known));
            st.silences.push(s);
        }
    }
    crate::events::append(paths, &events)?;
    state::save(paths, &lock, &st)?;
    Ok(0)
}

fn name_of(id: &str, known: &[(String, String)]) -> String {
    known.iter().find(|(k, _)| k == id).map_or_else(|| id.to_string(), |(_, n)| n.clone())
}

fn local(t: chrono::DateTime<Utc>) -> String {
    t.with_timezone(&chrono::Local).format("%Y-%m-%d %H:%M").to_string()
}

/// "Redis (redis) silenced until 2025-10-27 19:00 — upgrading".
pub fn describe(s: &Silence, known: &[(String, String)]) -> String {
    let who = match &s.check {
        Some(id) => format!("{} ({id})", name_of(id, known)),
        None => "every check".to_string(),
    };
    let why = if s.reason.is_empty() { String::new() } else { format!(" — {}", s.reason) };
    format!("{who} silenced until {}{why}", local(s.until))
}
