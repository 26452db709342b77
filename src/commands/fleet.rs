//! `ops-atomic fleet rules|alertmanager|dashboard` (SPEC §18): prints the
//! files a team needs around one Pushgateway, kept under `templates/fleet/`
//! and built in; `<root>/templates/fleet/<file>` overrides one, like the
//! report templates.

use crate::cli::FleetFile;
use crate::exit::Result;
use crate::fail;
use crate::paths::Paths;

/// Each output: its file name under `templates/fleet/` and the built-in text.
pub fn builtin(what: FleetFile) -> (&'static str, &'static str) {
    match what {
        FleetFile::Rules => ("rules.yml", include_str!("../../templates/fleet/rules.yml")),
        FleetFile::Alertmanager => ("alertmanager.yml", include_str!("../../templates/fleet/alertmanager.yml")),
        FleetFile::Dashboard => ("dashboard.json", include_str!("../../templates/fleet/dashboard.json")),
    }
}

pub fn run(paths: &Paths, what: FleetFile) -> Result<u8> {
    let (name, text) = builtin(what);
    let own = paths.templates_dir().join("fleet").join(name);
    let text = match std::fs::read_to_string(&own) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => text.to_string(),
        Err(e) => {
            return Err(fail!("could not read {}: {e} (fix or remove it to print the built-in one)", own.display()));
        }
    };
    print!("{text}");
    Ok(0)
}
