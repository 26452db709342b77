//! The command line around the commands (SPEC §1): shell completions, the
//! man page, and colour only on a terminal without `NO_COLOR`.

mod common;

use std::process::Command;

use clap::CommandFactory;
use common::*;

/// Every command the parser knows, so a new one is checked without editing
/// this file.
fn subcommands() -> Vec<String> {
    ops_atomic::cli::Cli::command().get_subcommands().map(|c| c.get_name().to_string()).collect()
}

#[test]
fn completions_name_every_command_in_each_shell() {
    let root = TestRoot::new();
    for shell in ["bash", "zsh", "fish"] {
        let run = ops(&root).args(["completions", shell]).run();
        run.expect_code(0);
        for cmd in subcommands() {
            assert!(run.stdout.contains(&cmd), "{shell} completion lacks {cmd}\n{run}");
        }
        assert!(!run.stdout.contains("redis-addr"), "hidden test options stay hidden\n{run}");
    }
}

#[test]
fn the_bash_script_loads_and_registers_the_completion() {
    let root = TestRoot::new();
    let run = ops(&root).args(["completions", "bash"]).run();
    run.expect_code(0);
    let script = root.write("ops-atomic.bash", &run.stdout);
    let check = Command::new("bash").arg("-n").arg(&script).output().expect("run bash -n");
    assert!(check.status.success(), "bash -n: {}", String::from_utf8_lossy(&check.stderr));
    let loaded = Command::new("bash")
        .arg("-c")
        .arg(format!("source '{}' && complete -p ops-atomic", script.display()))
        .output()
        .expect("run bash");
    let out = String::from_utf8_lossy(&loaded.stdout);
    assert!(loaded.status.success() && out.contains("ops-atomic"), "complete -p: {out}");
}

#[test]
fn man_prints_one_roff_page_with_every_command() {
    let root = TestRoot::new();
    let run = ops(&root).arg("man").run();
    run.expect_code(0);
    assert!(run.stdout.lines().any(|l| l.starts_with(".TH ops-atomic 1")), "no .TH line\n{run}");
    for cmd in subcommands() {
        assert!(run.stdout.contains(&format!(".SS {cmd}\n")), "man lacks a section for {cmd}\n{run}");
    }
    assert!(run.stdout.contains("EXIT STATUS"), "{run}");
    assert!(!run.stdout.contains("ops\\-atomic\\-heartbeat(1)"), "no pointers to pages that do not exist");
}

#[test]
fn completions_and_man_need_no_root_and_no_config() {
    let root = TestRoot::new();
    root.write_config("this is not toml");
    ops(&root).arg("man").run().expect_code(0);
    ops(&root).args(["completions", "fish"]).run().expect_code(0);
    ops(&root)
        .without_root_flag()
        .arg("--root")
        .arg("/nonexistent/root")
        .args(["completions", "zsh"])
        .run()
        .expect_code(0);
}

#[test]
fn usage_errors_still_exit_3() {
    let root = TestRoot::new();
    let run = ops(&root).args(["completions", "powershell"]).run();
    run.expect_code(3);
    assert!(run.stderr.contains("bash"), "names the shells there are\n{run}");
    ops(&root).args(["completions"]).run().expect_code(3);
    ops(&root).args(["man", "extra"]).run().expect_code(3);
    ops(&root).args(["init", "--nope"]).run().expect_code(3);
    ops(&root).args(["completions", "--help"]).run().expect_code(0);
}

/// Runs `init` with stdout on a pseudo-terminal and returns what it printed.
fn init_on_a_terminal(root: &TestRoot, no_color: Option<&str>) -> String {
    ops(root)
        .arg("init")
        .arg("--force")
        .env("OPS_ATOMIC_INIT_REDIS_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("OPS_ATOMIC_INIT_PG_ADDR", format!("127.0.0.1:{}", free_port()))
        .current_dir(root.dir())
        .run_on_terminal(no_color)
}

#[test]
fn colour_on_a_terminal_unless_no_color_and_never_in_a_pipe() {
    let root = TestRoot::new();
    let tty = init_on_a_terminal(&root, None);
    assert!(tty.contains("\x1b["), "a terminal gets colour:\n{tty}");
    assert!(tty.contains("✅"), "{tty}");

    for value in ["1", ""] {
        let plain = init_on_a_terminal(&root, Some(value));
        assert!(!plain.contains('\x1b'), "NO_COLOR={value:?} still coloured:\n{plain}");
        assert!(plain.contains("✅"), "emoji stay:\n{plain}");
    }

    let piped = ops(&root)
        .args(["init", "--force"])
        .env("OPS_ATOMIC_INIT_REDIS_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("OPS_ATOMIC_INIT_PG_ADDR", format!("127.0.0.1:{}", free_port()))
        .env_remove("NO_COLOR")
        .run();
    piped.expect_code(0);
    assert!(!piped.output().contains('\x1b'), "a pipe gets plain text\n{piped}");
}
