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
    clap_mangen::Man::new(Cli::command()).render(&mut out).map_err(|e| fail!("could not render the man page: {e}"))?;
    emit(&out)
}

fn emit(bytes: &[u8]) -> Result<u8> {
    let mut stdout = std::io::stdout().lock();
    match stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        Ok(()) => Ok(0),
        // `ops-atomic man | head` is not a failure.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(fail!("could not write to stdout: {e}")),
    }
}
