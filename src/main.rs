//! ops-atomic: parse the command line, run it, print the error, exit with a code.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;
use clap::error::ErrorKind;

use ops_atomic::{app, cli::Cli, exit};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                // 2 means CRITICAL here, so usage errors are 3.
                _ => ExitCode::from(exit::TOOL_FAILURE),
            };
        }
    };
    match app::run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Not eprintln!, which panics (exit 101) when stderr cannot be
            // written: launchd's log file on a full disk, say.
            let _ = writeln!(std::io::stderr(), "ops-atomic: error: {e}");
            ExitCode::from(exit::TOOL_FAILURE)
        }
    }
}
