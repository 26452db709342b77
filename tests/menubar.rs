//! The menu bar (SPEC §19) as SwiftBar, xbar and Raycast meet it: every
//! output is read by a parser written from the apps' documented line
//! grammar (xbar strictly: a key it does not know fails the plugin, as
//! xbar itself does), each action line is executed as the app executes it
//! (the program and its `paramN` arguments, no shell), and its effect
//! asserted. `enable menubar` / `disable menubar` run against temporary
//! plugin folders, a fake `defaults` and a fake `open` on PATH.

mod common;

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;

use common::*;
use serde_json::json;

/// What SwiftBar documents; xbar's list is the keys its parser accepts.
const SWIFTBAR_KEYS: &[&str] = &[
    "href",
    "color",
    "sfcolor",
    "font",
    "size",
    "bash",
    "shell",
    "terminal",
    "refresh",
    "dropdown",
    "length",
    "trim",
    "alternate",
    "image",
    "templateimage",
    "sfimage",
    "sfsize",
    "checked",
    "tooltip",
    "emojize",
    "symbolize",
    "ansi",
    "md",
    "shortcut",
    "webview",
    "webvieww",
    "webviewh",
    "badge",
    "sfconfig",
];
const XBAR_KEYS: &[&str] = &[
    "disabled",
    "key",
    "href",
    "color",
    "font",
    "size",
    "shell",
    "bash",
    "templateImage",
    "image",
    "terminal",
    "refresh",
    "dropdown",
    "length",
    "trim",
    "alternate",
    "emojize",
    "ansi",
];
const BOOLS: &[&str] = &[
    "terminal",
    "refresh",
    "dropdown",
    "trim",
    "alternate",
    "emojize",
    "ansi",
    "disabled",
    "md",
    "symbolize",
    "checked",
];

#[derive(Debug, Clone, Copy, PartialEq)]
enum App {
    SwiftBar,
    Xbar,
}

/// One menu line as the app reads it.
#[derive(Debug, Clone)]
struct MenuLine {
    depth: usize,
    text: String,
    params: BTreeMap<String, String>,
    separator: bool,
}

impl MenuLine {
    /// The program and arguments the app runs for this line, if any.
    fn action(&self) -> Option<(String, Vec<String>)> {
        let bash = self.params.get("bash").or_else(|| self.params.get("shell"))?.clone();
        let mut params: Vec<(u32, String)> = self
            .params
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("param")?.parse::<u32>().ok()?, v.clone())))
            .collect();
        params.sort();
        // xbar fills the list by index: a gap would be an empty argument.
        for (i, (n, _)) in params.iter().enumerate() {
            assert_eq!(*n as usize, i + 1, "param{} missing in {self:?}", i + 1);
        }
        Some((bash, params.into_iter().map(|(_, v)| v).collect()))
    }
}

#[derive(Debug)]
struct Menu {
    title: Vec<MenuLine>,
    dropdown: Vec<MenuLine>,
}

impl Menu {
    fn items(&self) -> impl Iterator<Item = &MenuLine> {
        self.dropdown.iter().filter(|l| !l.separator)
    }
    fn find(&self, needle: &str) -> &MenuLine {
        self.items().find(|l| l.text.contains(needle)).unwrap_or_else(|| panic!("no line with {needle:?} in {self:#?}"))
    }
    fn has(&self, needle: &str) -> bool {
        self.items().any(|l| l.text.contains(needle))
    }
    /// The first line with `needle` at depth `depth` after the top-level line holding `parent`.
    fn under(&self, parent: &str, needle: &str) -> &MenuLine {
        let start = self
            .dropdown
            .iter()
            .position(|l| l.depth == 0 && l.text.contains(parent))
            .unwrap_or_else(|| panic!("no line {parent:?} in {self:#?}"));
        self.dropdown[start + 1..]
            .iter()
            .take_while(|l| l.depth > 0)
            .find(|l| l.text.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} under {parent:?} in {self:#?}"))
    }
}

fn is_colour(v: &str) -> bool {
    let named = ["red", "green", "blue", "orange", "black", "white", "gray", "grey", "yellow", "purple"];
    match v.strip_prefix('#') {
        Some(hex) => [3, 4, 6, 8].contains(&hex.len()) && hex.chars().all(|c| c.is_ascii_hexdigit()),
        None => named.contains(&v),
    }
}

/// Reads a plugin's output as the app does: the title lines until the
/// first `---`, then the dropdown; in each line the text up to the first
/// `|`, then `key=value` pairs separated by spaces, a value quoted with
/// `"` or `'` running to the same mark; `--` per submenu level. Fails on
/// what the app would refuse (xbar: an unknown key, a bool that is not
/// true/false, a bad colour or number) and on keys SwiftBar does not know.
fn parse(output: &str, app: App) -> Result<Menu, String> {
    let mut menu = Menu { title: Vec::new(), dropdown: Vec::new() };
    let mut expanded = false;
    for (n, raw) in output.lines().enumerate() {
        let at = format!("line {}: {raw:?}", n + 1);
        if raw.trim() == "---" {
            if expanded {
                menu.dropdown.push(MenuLine {
                    depth: 0,
                    text: String::new(),
                    params: BTreeMap::new(),
                    separator: true,
                });
            }
            expanded = true;
            continue;
        }
        let (text, rest) = match raw.find('|') {
            Some(i) => (&raw[..i], &raw[i + 1..]),
            None => (raw, ""),
        };
        let mut params = BTreeMap::new();
        let chars: Vec<char> = rest.chars().collect();
        let mut i = 0;
        loop {
            while i < chars.len() && chars[i] == ' ' {
                i += 1;
            }
            if i >= chars.len() {
                break;
            }
            let key_start = i;
            while i < chars.len() && chars[i] != '=' {
                i += 1;
            }
            if i >= chars.len() {
                return Err(format!("{at}: malformed parameters: missing equals"));
            }
            let key: String = chars[key_start..i].iter().collect::<String>().trim().to_string();
            i += 1;
            let value: String = if i < chars.len() && (chars[i] == '"' || chars[i] == '\'') {
                let q = chars[i];
                let s = i + 1;
                let e = (s..chars.len()).find(|&j| chars[j] == q).ok_or_else(|| format!("{at}: unclosed quote"))?;
                i = e + 1;
                chars[s..e].iter().collect()
            } else {
                let s = i;
                while i < chars.len() && chars[i] != ' ' {
                    i += 1;
                }
                chars[s..i].iter().collect()
            };
            let is_param = key.strip_prefix("param").is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n > 0));
            let known = match app {
                App::Xbar => XBAR_KEYS.contains(&key.as_str()),
                App::SwiftBar => SWIFTBAR_KEYS.contains(&key.to_lowercase().as_str()),
            };
            if !known && !is_param {
                return Err(format!("{at}: unknown parameter: {key}"));
            }
            if BOOLS.contains(&key.as_str()) && value != "true" && value != "false" {
                return Err(format!("{at}: {key}: expected \"true\" or \"false\", not {value:?}"));
            }
            if (key == "size" || key == "length") && value.parse::<i64>().is_err() {
                return Err(format!("{at}: {key}: expected an int, not {value:?}"));
            }
            if key == "color" {
                let ok = match app {
                    App::Xbar => is_colour(&value),
                    App::SwiftBar => value.split(',').all(is_colour) && value.split(',').count() <= 2,
                };
                if !ok {
                    return Err(format!("{at}: invalid colour {value:?}"));
                }
            }
            if params.insert(key.clone(), value).is_some() {
                return Err(format!("{at}: {key} given twice"));
            }
        }
        let mut depth = 0;
        let mut t = text;
        while let Some(r) = t.strip_prefix("--") {
            depth += 1;
            t = r;
        }
        let line = MenuLine { depth, text: t.trim().to_string(), params, separator: false };
        if expanded { menu.dropdown.push(line) } else { menu.title.push(line) }
    }
    if !expanded {
        return Err("no --- after the title".into());
    }
    Ok(menu)
}

fn menubar(root: &TestRoot, app: App, env: &[(&str, &str)]) -> Menu {
    let format = if app == App::Xbar { "xbar" } else { "swiftbar" };
    let mut cmd = ops(root).args(["menubar", "--format", format]);
    for (k, v) in env {
        cmd = cmd.env(k, v);
    }
    let run = cmd.run();
    run.expect_code(0);
    parse(&run.stdout, app).unwrap_or_else(|e| panic!("{app:?} would refuse this output: {e}\n{}", run.stdout))
}

/// Both dialects, each read by its parser; the SwiftBar one is returned.
fn both(root: &TestRoot) -> Menu {
    let x = menubar(root, App::Xbar, &[]);
    let s = menubar(root, App::SwiftBar, &[]);
    assert_eq!(x.title[0].text, s.title[0].text, "both apps show the same title");
    assert_eq!(
        x.items().map(|l| &l.text).collect::<Vec<_>>(),
        s.items().map(|l| &l.text).collect::<Vec<_>>(),
        "both apps show the same lines"
    );
    s
}

/// Runs an action line the way SwiftBar and xbar do (terminal=false: the
/// program with its params as arguments, no shell), in the environment
/// the tests give the binary.
fn click(root: &TestRoot, line: &MenuLine) -> Run {
    let (program, args) = line.action().unwrap_or_else(|| panic!("{line:?} does nothing"));
    assert_eq!(line.params.get("terminal").map(String::as_str), Some("false"), "{line:?}");
    assert_eq!(line.params.get("refresh").map(String::as_str), Some("true"), "{line:?}");
    assert!(Path::new(&program).is_absolute(), "{program} is not an absolute path");
    let mut cmd = Command::new(&program);
    cmd.args(&args);
    for v in TOOL_ENV {
        cmd.env_remove(v);
    }
    cmd.env("HOME", root.home()).env("OPS_ATOMIC_LAUNCHCTL", root.launchctl().program());
    let started = std::time::Instant::now();
    Run::from_output(cmd.output().expect("run the action"), started.elapsed())
}

/// A root watching `live` (a listener held by the test) and a closed port.
fn config(root: &TestRoot, live: &TcpListener, dead_name: &str, extra: &str) {
    let dead = free_port();
    quiet_config(
        root,
        &format!(
            r#"
[monitor]
alert_threshold = 1
host_name = "mac-mini"

[[tcp]]
name = "web"
address = "{}"

[[tcp]]
name = "{dead_name}"
address = "127.0.0.1:{dead}"
timeout_ms = 300
{extra}
"#,
            live.local_addr().unwrap()
        ),
    );
}

/// `body` with the default Redis, PostgreSQL and `[self]` checks off.
fn quiet_config(root: &TestRoot, body: &str) {
    root.write_config(&format!(
        "[redis]\nenabled = false\n[database]\nenabled = false\n[self]\nenabled = false\n{body}"
    ));
}

fn listener() -> TcpListener {
    TcpListener::bind("127.0.0.1:0").unwrap()
}

#[test]
fn a_healthy_root_shows_a_tick_the_last_heartbeat_and_actions_that_work() {
    let root = TestRoot::new();
    let live = listener();
    quiet_config(&root, &format!("[[tcp]]\nname = \"web\"\naddress = \"{}\"\n", live.local_addr().unwrap()));
    ops(&root).arg("heartbeat").run().expect_code(0);
    let m = both(&root);
    assert_eq!(m.title.len(), 1);
    assert_eq!(m.title[0].text, "✅");
    assert!(m.find("Last heartbeat").text.contains("1 checks"), "{m:#?}");
    assert!(m.find("ops-atomic on").text.contains("ops-atomic on"));
    assert!(!m.has("⏸") && !m.has("❌"), "{m:#?}");

    // Run a heartbeat now: a second history line.
    let before = root.history().len();
    click(&root, m.find("Run a heartbeat now")).expect_code(0);
    assert_eq!(root.history().len(), before + 1);
    // The report opens through its file:// URL.
    let report = m.find("Open the report").params["href"].clone();
    let path = report.strip_prefix("file://").unwrap();
    assert!(Path::new(path).is_file(), "{report}");
    assert!(path.contains("/g/reports/ops_atomic/heartbeat_"));
    // The status page is written, then opened (`open --open` finds no browser here: it says so, the page is there).
    let page = click(&root, m.find("Open the status page"));
    assert!(root.exists("g/reports/status.html"), "{page}");
    // A Terminal action runs `status`.
    let status = m.find("ops-atomic status in Terminal");
    assert_eq!(status.params["terminal"], "true");
    assert_eq!(status.action().unwrap().1.last().unwrap(), "status");
}

#[test]
fn two_checks_down_with_a_dependency_then_silenced_from_the_menu_and_cleared() {
    let root = TestRoot::new();
    let live = listener();
    let dead = free_port();
    quiet_config(
        &root,
        &format!(
            r#"
[monitor]
alert_threshold = 1
host_name = "mac-mini"

[[tcp]]
name = "db"
address = "127.0.0.1:{dead}"
timeout_ms = 300

[[tcp]]
name = "cache"
address = "127.0.0.1:{}"
timeout_ms = 300
depends_on = ["tcp:db"]

[[tcp]]
name = "web"
address = "{}"
"#,
            free_port(),
            live.local_addr().unwrap()
        ),
    );
    ops(&root).arg("heartbeat").run().expect_code(2);
    let m = both(&root);
    assert_eq!(m.title[0].text, "❌ 2", "{m:#?}");
    assert!(m.title[0].params["color"].starts_with("#b3261e,"), "red in light and dark: {:?}", m.title[0].params);
    let lines: Vec<&str> = m.items().filter(|l| l.depth == 0).map(|l| l.text.as_str()).collect();
    let db = lines.iter().position(|l| l.starts_with("❌ db down for")).expect("db first");
    let cache = lines.iter().position(|l| l.starts_with("❌ cache down for")).expect("cache listed");
    assert!(db < cache, "{lines:#?}");
    assert!(lines[cache].contains("because db fails"), "{lines:#?}");
    assert_eq!(m.under("❌ db", "connection refused by 127.0.0.1:").depth, 1);
    assert!(m.under("❌ db", "Down since").text.contains("Down since"));

    // Silence db for an hour, from the menu.
    click(&root, m.under("❌ db", "Silence for 1 h")).expect_code(0);
    let list = ops(&root).args(["silence", "--list"]).run();
    assert!(list.stdout.contains("tcp:db"), "{list}");
    let silences = root.state()["silences"].as_array().unwrap().clone();
    assert_eq!(silences.len(), 1);
    assert_eq!(silences[0]["check"], "tcp:db");
    assert_eq!(silences[0]["reason"], "from the menu bar");
    let m = both(&root);
    assert_eq!(m.title[0].text, "❌ 1", "a silenced check does not count in the title: {m:#?}");
    assert!(m.has("🔕 db down"), "{m:#?}");
    assert!(m.find("db until").text.contains("from the menu bar"));
    // Clear it, from the menu.
    click(&root, m.under("🔕 db", "Clear the silence")).expect_code(0);
    assert!(root.state()["silences"].as_array().unwrap().is_empty());
    assert_eq!(both(&root).title[0].text, "❌ 2");
}

#[test]
fn a_monitor_that_stopped_is_flagged_and_a_mac_that_slept_is_not() {
    let root = TestRoot::new();
    let live = listener();
    quiet_config(&root, &format!("[[tcp]]\nname = \"web\"\naddress = \"{}\"\n", live.local_addr().unwrap()));
    ops(&root).arg("heartbeat").env("OPS_ATOMIC_SLEPT_S", "100").run().expect_code(0);
    // Three hours without a heartbeat, awake.
    let mut st = root.state();
    let three_h_ago = chrono::Utc::now() - chrono::Duration::hours(3);
    st["last_run_at"] = json!(three_h_ago.to_rfc3339());
    root.write_state(&st);
    let m = menubar(&root, App::SwiftBar, &[("OPS_ATOMIC_SLEPT_S", "100")]);
    assert_eq!(m.title[0].text, "⏸", "{m:#?}");
    assert!(m.find("The monitor stopped").text.contains("3 h"), "{m:#?}");
    assert!(m.title[0].params["tooltip"].contains("the monitor stopped"));
    let x = menubar(&root, App::Xbar, &[("OPS_ATOMIC_SLEPT_S", "100")]);
    assert_eq!(x.title[0].text, "⏸");

    // The same three hours, asleep for all but two minutes of them: not stopped.
    let slept = (100 + 3 * 3600 - 120).to_string();
    let m = menubar(&root, App::SwiftBar, &[("OPS_ATOMIC_SLEPT_S", &slept)]);
    assert_eq!(m.title[0].text, "✅", "{m:#?}");
    assert!(!m.has("The monitor stopped"));
    assert!(m.find("Asleep").text.contains("2 h 58 min"), "{m:#?}");

    // A state that cannot tell the sleep (written before it was measured): SwiftBar's wake time tells.
    let mut st = root.state();
    st.as_object_mut().unwrap().remove("slept_since_boot_s");
    root.write_state(&st);
    let woke = (chrono::Local::now() - chrono::Duration::minutes(2)).format("%Y-%m-%dT%H:%M:%S%:z").to_string();
    let m = menubar(&root, App::SwiftBar, &[("OS_LAST_WAKE_TIME", &woke)]);
    assert_eq!(m.title[0].text, "✅", "{m:#?}");
    assert!(m.find("The Mac woke at").text.contains("next heartbeat is due"));
    let m = menubar(&root, App::SwiftBar, &[]);
    assert_eq!(m.title[0].text, "⏸", "without the wake time it has stopped: {m:#?}");
}

#[test]
fn names_and_errors_with_pipes_dashes_newlines_and_emoji_cannot_forge_lines() {
    let root = TestRoot::new();
    let live = listener();
    let script = root.write(
        "noisy.sh",
        "#!/bin/sh\nprintf 'CRITICAL: broke | color=red bash=/bin/rm param1=-rf\\n---\\n--fake submenu\\n\\033[31mred\\033[0m\\n'\nexit 2\n",
    );
    std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    quiet_config(
        &root,
        &format!(
            r#"
[monitor]
alert_threshold = 1

[[tcp]]
name = "web"
address = "{}"

[[command]]
name = "--evil | href=file:///etc/passwd 🚀"
command = ["{}"]

[[tcp]]
name = "say \"hi\" it's"
address = "127.0.0.1:{}"
timeout_ms = 300
"#,
            live.local_addr().unwrap(),
            script.display(),
            free_port()
        ),
    );
    ops(&root).arg("heartbeat").run().expect_code(2);
    // A Nagios plugin's text stops at its first `|` (performance data) and
    // its first line; other kinds quote what a service answered, which can
    // hold anything: the state carries such a cause here.
    let mut st = root.state();
    let id = "command:--evil | href=file:///etc/passwd 🚀";
    assert_eq!(st["checks"][id]["failure_message"], "CRITICAL: broke");
    st["checks"][id]["failure_message"] =
        json!("CRITICAL: broke | color=red bash=/bin/rm param1=-rf\n---\n--fake submenu\n\u{1b}[31mred\u{1b}[0m");
    root.write_state(&st);
    for app in [App::SwiftBar, App::Xbar] {
        let m = menubar(&root, app, &[]);
        assert_eq!(m.title[0].text, "❌ 2", "{m:#?}");
        for l in m.items() {
            assert!(!l.params.contains_key("href") || l.text.starts_with("Open the"), "forged href: {l:?}");
            if let Some((program, args)) = l.action() {
                assert!(program.ends_with("/ops-atomic"), "forged program: {l:?}");
                assert!(!args.iter().any(|a| a == "-rf"), "{l:?}");
            }
            assert!(l.depth <= 1, "forged submenu: {l:?}");
            assert!(!l.text.contains('\u{1b}'), "an escape reached the menu: {l:?}");
        }
        let evil = m.find("−−evil ¦ href=file:///etc/passwd 🚀");
        assert!(evil.text.starts_with("❌ −−evil"), "{evil:?}");
        let cause = m.under("−−evil", "CRITICAL: broke ¦ color=red");
        assert!(cause.text.contains("--- --fake submenu"), "newlines became spaces on one line: {cause:?}");
        assert_eq!(cause.depth, 1);
        // The check with both quote marks in its name: listed, but no action can carry its id.
        let quoted = m.find("say \"hi\" it's");
        assert!(quoted.text.starts_with("❌"));
        let under: Vec<&MenuLine> = {
            let start = m.dropdown.iter().position(|l| l.text == quoted.text).unwrap();
            m.dropdown[start + 1..].iter().take_while(|l| l.depth > 0).collect()
        };
        assert!(!under.iter().any(|l| l.text == "Silence for 1 h"), "{under:#?}");
        // The other one can be silenced, its id passed as one argument.
        let silence = m.under("−−evil", "Silence for 1 h");
        assert_eq!(silence.action().unwrap().1.last().unwrap(), "command:--evil | href=file:///etc/passwd 🚀");
    }
    let m = menubar(&root, App::SwiftBar, &[]);
    click(&root, m.under("−−evil", "Silence for 1 h")).expect_code(0);
    assert_eq!(root.state()["silences"][0]["check"], "command:--evil | href=file:///etc/passwd 🚀");
}

#[test]
fn xbar_gets_one_colour_for_its_mode_and_swiftbar_gets_pairs_and_symbols() {
    let root = TestRoot::new();
    let live = listener();
    config(&root, &live, "db", "");
    ops(&root).arg("heartbeat").run().expect_code(2);
    // Run by xbar without --format: xbar's dialect, which xbar's parser accepts.
    let run = ops(&root).arg("menubar").env("XBARDarkMode", "false").run();
    run.expect_code(0);
    parse(&run.stdout, App::Xbar).unwrap_or_else(|e| panic!("xbar would refuse it: {e}\n{}", run.stdout));
    assert!(!run.stdout.contains("sfimage="), "{run}");
    let run = ops(&root).arg("menubar").env("SWIFTBAR", "1").run();
    assert!(run.stdout.contains("sfimage="), "SwiftBar's own: {run}");
    let light = menubar(&root, App::Xbar, &[]);
    let dark = menubar(&root, App::Xbar, &[("XBARDarkMode", "true")]);
    assert_eq!(light.title[0].params["color"], "#b3261e");
    assert_eq!(dark.title[0].params["color"], "#ff8a80");
    for l in light.items() {
        assert_eq!(l.params.get("ansi").map(String::as_str), Some("false"), "{l:?}");
        assert!(!l.params.contains_key("sfimage") && !l.params.contains_key("tooltip"));
    }
    let s = menubar(&root, App::SwiftBar, &[]);
    assert_eq!(s.title[0].params["color"], "#b3261e,#ff8a80");
    assert_eq!(s.find("Run a heartbeat now").params["sfimage"], "arrow.clockwise");
    assert_eq!(s.find("❌ db").params.get("md").map(String::as_str), Some("false"));
}

#[test]
fn pending_messages_are_counted_per_channel() {
    let root = TestRoot::new();
    let live = listener();
    let dead = free_port();
    let token = "tok3nSecretValue-abcdefghijklmnop";
    config(
        &root,
        &live,
        "db",
        &format!("\n[discord]\nwebhook_url = \"http://127.0.0.1:{dead}/api/webhooks/1234/{token}\"\n"),
    );
    ops(&root).arg("heartbeat").run().expect_code(2);
    let m = both(&root);
    let pending = m.find("waiting");
    assert!(pending.text.starts_with("📨 1 message waiting: discord 1"), "{pending:?}");
    assert!(m.under("📨", "Last error: could not reach Discord").depth == 1);
    for format in ["swiftbar", "xbar", "raycast"] {
        let out = ops(&root).args(["menubar", "--format", format]).run();
        assert!(out.stdout.contains("could not reach Discord") || format == "raycast", "{out}");
        assert!(!out.output().contains(token), "the webhook token is a secret: {out}");
    }
}

/// A folder with fake `defaults` and `open` programs; `open` appends its arguments to `open.log`.
struct FakeMac {
    bin: TempDir,
}

impl FakeMac {
    fn new(plugin_dir: Option<&Path>) -> FakeMac {
        let bin = TempDir::new("fake-mac");
        let defaults = match plugin_dir {
            Some(d) => format!(
                "#!/bin/sh\nif [ \"$1 $2 $3\" = 'read com.ameba.SwiftBar PluginDirectory' ]; then echo '{}'; exit 0; fi\necho 'unexpected' >&2; exit 1\n",
                d.display()
            ),
            None => "#!/bin/sh\necho \"\n The domain/default pair of (com.ameba.SwiftBar, PluginDirectory) does not exist\" >&2\nexit 1\n".to_string(),
        };
        write_exe(&bin.path().join("defaults"), &defaults);
        write_exe(
            &bin.path().join("open"),
            &format!("#!/bin/sh\necho \"$@\" >> '{}'\n", bin.path().join("open.log").display()),
        );
        FakeMac { bin }
    }
    fn path(&self) -> String {
        format!("{}:{}", self.bin.path().display(), std::env::var("PATH").unwrap_or_default())
    }
    fn opened(&self) -> Vec<String> {
        std::fs::read_to_string(self.bin.path().join("open.log"))
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    }
}

fn write_exe(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn enable_menubar_installs_the_swiftbar_plugin_that_heartbeats_redraw_and_disable_removes_only_it() {
    let root = TestRoot::new();
    let live = listener();
    let dead = free_port();
    quiet_config(
        &root,
        &format!(
            "[monitor]\nalert_threshold = 1\n\n[[tcp]]\nname = \"web\"\naddress = \"{}\"\n\n[[tcp]]\nname = \"db\"\naddress = \"127.0.0.1:{dead}\"\ntimeout_ms = 300\n",
            live.local_addr().unwrap()
        ),
    );
    let plugins = TempDir::new("swiftbar-plugins");
    std::fs::write(plugins.path().join("other.5m.sh"), "#!/bin/sh\necho other\n").unwrap();
    let mac = FakeMac::new(Some(plugins.path()));
    let plugin = plugins.path().join("ops-atomic.1m.sh");

    // Before: status says how to install it.
    let st = ops(&root).arg("status").env("PATH", mac.path()).run();
    assert!(st.stdout.contains("Menu bar\n  ➖ not installed (ops-atomic enable menubar)"), "{st}");

    let dry = ops(&root).args(["enable", "menubar", "--dry-run"]).env("PATH", mac.path()).run();
    dry.expect_code(0);
    assert!(dry.stdout.contains(&format!("Would write {} (0755) for SwiftBar", plugin.display())), "{dry}");
    assert!(dry.stdout.contains("menubar --format swiftbar"), "{dry}");
    assert!(!plugin.exists() && mac.opened().is_empty(), "a dry run writes and opens nothing");

    let run = ops(&root).args(["enable", "menubar"]).env("PATH", mac.path()).run();
    run.expect_code(0);
    assert!(run.stdout.contains(&format!("Wrote the SwiftBar plugin {}", plugin.display())), "{run}");
    assert_eq!(mode(&plugin), 0o755);
    let text = std::fs::read_to_string(&plugin).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert_eq!(text.lines().next(), Some("#!/bin/sh"));
    assert!(text.contains(&format!("--root '{}' menubar --format swiftbar", root.dir().display())), "{text}");
    assert_eq!(mac.opened(), ["-g swiftbar://refreshplugin?name=ops-atomic"], "enable asks SwiftBar to show it");

    // The app runs the plugin: its output parses, and it shows this root.
    let out = Command::new("/bin/sh")
        .arg(&plugin)
        .env("HOME", root.home())
        .env("OPS_ATOMIC_LAUNCHCTL", root.launchctl().program())
        .output()
        .unwrap();
    let menu = parse(&String::from_utf8_lossy(&out.stdout), App::SwiftBar).unwrap();
    assert_eq!(menu.title[0].text, "❔", "no heartbeat yet: {menu:#?}");

    let st = ops(&root).args(["status", "--json"]).env("PATH", mac.path()).run();
    let doc = st.json();
    assert_eq!(doc["menubar"]["installed"], true);
    assert_eq!(doc["menubar"]["app"], "swiftbar");
    assert_eq!(doc["menubar"]["path"], plugin.display().to_string());

    // A heartbeat that opens an incident redraws; the next, with nothing new, does not.
    ops(&root).arg("heartbeat").env("PATH", mac.path()).run().expect_code(2);
    assert_eq!(mac.opened().len(), 2, "{:?}", mac.opened());
    assert_eq!(mac.opened()[1], "-g swiftbar://refreshplugin?name=ops-atomic");
    ops(&root).arg("heartbeat").env("PATH", mac.path()).run().expect_code(2);
    assert_eq!(mac.opened().len(), 2, "nothing changed, nothing redrawn: {:?}", mac.opened());

    // Installing again is fine; a foreign file of that name is not replaced without --force.
    ops(&root).args(["enable", "menubar"]).env("PATH", mac.path()).run().expect_code(0);
    std::fs::write(plugins.path().join("ops-atomic.1m.sh.bak"), "x").unwrap();
    let other_root = TestRoot::new();
    let refused = ops(&other_root).args(["enable", "menubar"]).env("PATH", mac.path()).run();
    refused.expect_code(3);
    assert!(refused.output().contains("shows another ops-atomic folder: pass --force"), "{refused}");

    let run = ops(&root).args(["disable", "menubar"]).env("PATH", mac.path()).run();
    run.expect_code(0);
    assert!(!plugin.exists());
    assert!(plugins.path().join("other.5m.sh").exists(), "only our file is removed");
    assert!(!root.exists("g/state/menubar.json"));
    let st = ops(&root).arg("status").env("PATH", mac.path()).run();
    assert!(st.stdout.contains("not installed"), "{st}");
    // No plugin, no redraw.
    let opened = mac.opened().len();
    std::fs::remove_file(root.path(STATE)).unwrap();
    ops(&root).arg("heartbeat").env("PATH", mac.path()).run().expect_code(2);
    assert_eq!(mac.opened().len(), opened);
}

#[test]
fn xbar_and_raycast_install_where_they_are_told_and_a_missing_app_is_explained() {
    let root = TestRoot::new();
    let live = listener();
    quiet_config(&root, &format!("[[tcp]]\nname = \"web\"\naddress = \"{}\"\n", live.local_addr().unwrap()));
    ops(&root).arg("heartbeat").run().expect_code(0);
    let mac = FakeMac::new(None);

    // No SwiftBar preference and no xbar folder: the error says what to do.
    let run = ops(&root).args(["enable", "menubar"]).env("PATH", mac.path()).run();
    run.expect_code(3);
    assert!(run.output().contains("no menu-bar app found"), "{run}");
    assert!(run.output().contains("--plugins-dir DIR"), "{run}");

    // xbar's own folder under HOME.
    let xbar = root.home().join("Library/Application Support/xbar/plugins");
    std::fs::create_dir_all(&xbar).unwrap();
    let run = ops(&root).args(["enable", "menubar"]).env("PATH", mac.path()).run();
    run.expect_code(0);
    let plugin = xbar.join("ops-atomic.1m.sh");
    let text = std::fs::read_to_string(&plugin).unwrap();
    assert!(text.ends_with("menubar --format xbar\n"), "{text}");
    assert_eq!(mac.opened(), ["-g xbar://app.xbarapp.com/refreshPlugin?path=ops-atomic.1m.sh"]);
    let out = Command::new("/bin/sh").arg(&plugin).env("HOME", root.home()).output().unwrap();
    let menu = parse(&String::from_utf8_lossy(&out.stdout), App::Xbar).unwrap();
    assert_eq!(menu.title[0].text, "✅");
    ops(&root).args(["disable", "menubar"]).env("PATH", mac.path()).run().expect_code(0);
    assert!(!plugin.exists());

    // Raycast: a script command in inline mode, in the folder given.
    let scripts = TempDir::new("raycast");
    let run = ops(&root)
        .args(["enable", "menubar", "--app", "raycast", "--plugins-dir"])
        .arg(scripts.path())
        .env("PATH", mac.path())
        .run();
    run.expect_code(0);
    let script = scripts.path().join("ops-atomic.sh");
    assert_eq!(mode(&script), 0o755);
    let text = std::fs::read_to_string(&script).unwrap();
    let header: BTreeMap<&str, &str> =
        text.lines().filter_map(|l| l.strip_prefix("# @raycast.")).filter_map(|l| l.split_once(' ')).collect();
    assert_eq!(header["schemaVersion"], "1");
    assert_eq!(header["mode"], "inline");
    assert_eq!(header["title"], "ops-atomic");
    assert!(header.contains_key("refreshTime"));
    let out = Command::new(&script).env("HOME", root.home()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "inline mode shows one line: {stdout:?}");
    assert!(stdout.contains("✅ 1 checks healthy · last heartbeat"), "{stdout:?}");
    // `menubar --format raycast --script` prints that same script command.
    let printed = ops(&root).args(["menubar", "--format", "raycast", "--script"]).run();
    printed.expect_code(0);
    assert_eq!(printed.stdout, text, "the script printed is the one installed");
    // Raycast redraws on its own timer: nothing was opened.
    assert_eq!(mac.opened().len(), 1);
    ops(&root)
        .args(["disable", "menubar", "--app", "raycast", "--plugins-dir"])
        .arg(scripts.path())
        .run()
        .expect_code(0);
    assert!(!script.exists());
}

#[test]
fn raycast_says_what_is_down_in_one_line() {
    let root = TestRoot::new();
    let live = listener();
    config(&root, &live, "db", "");
    ops(&root).arg("heartbeat").run().expect_code(2);
    let run = ops(&root).args(["menubar", "--format", "raycast"]).run();
    run.expect_code(0);
    assert_eq!(run.stdout.lines().count(), 1);
    assert!(run.stdout.starts_with("\u{1b}[31m❌ 1 down: db · last heartbeat"), "{:?}", run.stdout);
    // A bad format is a usage error.
    ops(&root).args(["menubar", "--format", "bitbar"]).run().expect_code(3);
}

#[test]
fn a_broken_config_or_state_is_said_in_the_menu_instead_of_breaking_it() {
    let root = TestRoot::new();
    let live = listener();
    quiet_config(&root, &format!("[[tcp]]\nname = \"web\"\naddress = \"{}\"\n", live.local_addr().unwrap()));
    ops(&root).arg("heartbeat").run().expect_code(0);
    // A typo in the config: the app still gets a menu, which names the key.
    root.write_config("[monitor]\nalert_threshold = \"three\"\n");
    for app in [App::SwiftBar, App::Xbar] {
        let m = menubar(&root, app, &[]);
        assert_eq!(m.title[0].text, "⚠️ config", "{m:#?}");
        assert!(m.has("The config file does not load"), "{m:#?}");
        assert!(m.under("The config file does not load", "alert_threshold").depth == 1, "{m:#?}");
        assert_eq!(m.under("The config file does not load", "config check in Terminal").params["terminal"], "true");
        assert!(m.has("Last heartbeat"), "what the state says is still shown: {m:#?}");
    }
    let raycast = ops(&root).args(["menubar", "--format", "raycast"]).run();
    raycast.expect_code(0);
    assert!(raycast.stdout.contains("the config file does not load"), "{raycast}");
    // A state file that does not parse.
    quiet_config(&root, &format!("[[tcp]]\nname = \"web\"\naddress = \"{}\"\n", live.local_addr().unwrap()));
    std::fs::write(root.path(STATE), "{ not json").unwrap();
    let m = both(&root);
    assert_eq!(m.title[0].text, "❔ state", "{m:#?}");
    assert!(m.has("The state file cannot be read"));
    click(&root, m.find("Run a heartbeat now")).expect_code(0);
    assert_eq!(both(&root).title[0].text, "✅");
}
