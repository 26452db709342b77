//! `completions` and `man`: generated from the clap definitions in `cli.rs`,
//! so they can never list a command or flag the binary does not have.

use std::io::Write;

use clap::CommandFactory;

use crate::cli::{Cli, CompletionShell};
use crate::exit::Result;
use crate::fail;

/// Prints the completion script for `shell` to stdout.
pub fn completions(shell: CompletionShell) -> Result<u8> {
    let mut out = Vec::new();
    write_completions(shell, &mut out);
    emit(&out)
}

/// Writes the completion script for `shell` into `out`.
pub fn write_completions(shell: CompletionShell, out: &mut dyn Write) {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut cmd = Cli::command();
    let name = cmd.get_name().to_string();
    clap_complete::generate(shell, &mut cmd, name, out);
}

/// Prints the man page (roff) to stdout.
pub fn man() -> Result<u8> {
    let mut out = Vec::new();
    write_man(&mut out).map_err(|e| fail!("could not render the man page: {e}"))?;
    emit(&out)
}

/// One page for the whole tool: clap_mangen's top of the page, then a
/// COMMANDS section with each command's synopsis, purpose and options, in
/// place of its list of `ops-atomic-<command>(1)` pages that nobody installs.
pub fn write_man(out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let page = clap_mangen::Man::new(cmd.clone());
    page.render_title(out)?;
    page.render_name_section(out)?;
    page.render_synopsis_section(out)?;
    page.render_description_section(out)?;
    page.render_options_section(out)?;
    out.extend_from_slice(b".SH COMMANDS\n");
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        // The global options and --help are told once, at the top.
        let repeated: Vec<String> = sub
            .get_arguments()
            .filter(|a| a.is_global_set() || a.get_id() == "help")
            .map(|a| a.get_id().to_string())
            .collect();
        let sub = repeated.iter().fold(sub.clone(), |c, id| c.mut_arg(id, |a| a.hide(true)));
        let sub_page = clap_mangen::Man::new(sub.clone());
        let mut part = Vec::new();
        sub_page.render_synopsis_section(&mut part)?;
        sub_page.render_description_section(&mut part)?;
        sub_page.render_options_section(&mut part)?;
        let part = String::from_utf8_lossy(&part);
        let mut headed = false;
        for line in part.lines() {
            // Each part repeats the page preamble and its own .SH headings:
            // the first heading becomes this command's subsection.
            if line.starts_with(".ie ") || line.starts_with(".el ") {
                continue;
            }
            if line.starts_with(".SH ") {
                if !headed {
                    out.extend_from_slice(format!(".SS {}\n", sub.get_name()).as_bytes());
                    headed = true;
                } else {
                    out.extend_from_slice(b".PP\n");
                }
                continue;
            }
            out.extend_from_slice(line.as_bytes());
            out.push(b'\n');
        }
    }
    out.extend_from_slice(EXIT_AND_ENVIRONMENT.as_bytes());
    page.render_version_section(out)
}

/// What the clap definitions do not say: the exit codes (SPEC §1) and the
/// environment.
const EXIT_AND_ENVIRONMENT: &str = r#".SH "EXIT STATUS"
.TP
0
HEALTHY (heartbeat, daily); success (other commands)
.TP
1
WARNINGS
.TP
2
CRITICAL
.TP
3
the tool could not do its job: bad arguments, bad config, lock timeout, unwritable folder
.SH ENVIRONMENT
.TP
OPS_ATOMIC_ROOT, OPS_ATOMIC_CONFIG, OPS_ATOMIC_AGENTS_DIR
defaults for \-\-root, \-\-config, \-\-agents\-dir
.TP
OPS_ALERT_THRESHOLD, REDIS_URL, DATABASE_URL, DISCORD_OPS_WEBHOOK
override the config keys of the same meaning
.TP
NO_COLOR
any value: no colour, even on a terminal
"#;

fn emit(bytes: &[u8]) -> Result<u8> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(0),
        // `ops-atomic man | head` is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(fail!("could not write to stdout: {e}")),
    }
}
