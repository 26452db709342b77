//! Colour in `status` and `summary` (SPEC §1): status words coloured when
//! stdout is a terminal (a pseudo-terminal from util-linux `script`), plain
//! text with `NO_COLOR` or in a pipe; emoji either way.

mod common;

use common::*;

/// Runs `args` with stdout on a pseudo-terminal and returns what it printed.
fn on_a_terminal(root: &TestRoot, args: &[&str], no_color: Option<&str>) -> String {
    ops(root).args(args).current_dir(root.dir()).run_on_terminal(no_color)
}

fn red(word: &str) -> String {
    format!("\x1b[31m{word}\x1b[0m")
}

fn green(word: &str) -> String {
    format!("\x1b[32m{word}\x1b[0m")
}

#[test]
fn status_words_are_coloured_on_a_terminal_only() {
    let root = TestRoot::new();
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n");
    ops(&root).arg("heartbeat").run().expect_code(0);

    let tty = on_a_terminal(&root, &["status"], None);
    assert!(tty.contains(&format!("last run   {}", green("HEALTHY"))), "{tty}");
    assert!(tty.contains(&format!("✅ {}", green("HEALTHY"))), "the latest report's status:\n{tty}");
    assert!(tty.contains(&format!("❌ {}", red("not loaded"))), "{tty}");

    for value in ["1", ""] {
        let plain = on_a_terminal(&root, &["status"], Some(value));
        assert!(!plain.contains('\x1b'), "NO_COLOR={value:?} still coloured:\n{plain}");
        assert!(plain.contains("❌ not loaded") && plain.contains("HEALTHY"), "{plain}");
    }
    let piped = ops(&root).arg("status").env_remove("NO_COLOR").run();
    piped.expect_code(0);
    assert!(!piped.stdout.contains('\x1b') && piped.stdout.contains("last run   HEALTHY"), "{piped}");
}

#[test]
fn summary_is_coloured_on_a_terminal_only() {
    let root = TestRoot::new();
    root.write_config("[redis]\nenabled = false\n[database]\nenabled = false\n[[api]]\nname = \"Nothing\"\nurl = \"http://127.0.0.1:1/\"\n");
    // An API check is a warning-severity failure by default.
    ops(&root).arg("heartbeat").run().expect_code(1);

    let tty = on_a_terminal(&root, &["summary"], None);
    assert!(tty.contains(&red("  0.0%")), "availability under 99% is red:\n{tty}");
    let plain = on_a_terminal(&root, &["summary"], Some("1"));
    assert!(!plain.contains('\x1b') && plain.contains("  0.0%"), "{plain}");
}
