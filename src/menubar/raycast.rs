//! Raycast: a script command in inline mode shows the first line its script
//! prints, refreshed every `refreshTime`. `menubar --format raycast` prints
//! that one line; [`script`] is the script command `enable menubar --app
//! raycast` installs, its `@raycast` header first.

use super::{Freshness, Glance};

/// The one status line (ANSI colours, which Raycast shows in inline mode).
pub fn render(g: &Glance) -> String {
    let colour = if g.down() > 0 {
        "31"
    } else if g.warnings() > 0 || !matches!(g.freshness, Freshness::Fresh) {
        "33"
    } else {
        "32"
    };
    format!("\u{1b}[{colour}m{}\u{1b}[0m", g.summary())
}

/// The script command: the `@raycast` header lines, then one line that
/// runs this binary for this root.
pub fn script(exec_line: &str) -> String {
    format!(
        "#!/bin/sh\n\
         # @raycast.schemaVersion 1\n\
         # @raycast.title ops-atomic\n\
         # @raycast.mode inline\n\
         # @raycast.refreshTime 1m\n\
         # @raycast.packageName ops-atomic\n\
         # @raycast.icon 🩺\n\
         # @raycast.description What the local monitor last saw: checks down, failing or silenced\n\
         {exec_line}\n"
    )
}
