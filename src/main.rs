//! ops-atomic: parse the command line, run it, print the error, exit with a code.

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
            eprintln!("ops-atomic: error: {e}");
            ExitCode::from(exit::TOOL_FAILURE)
        }
    }
}
