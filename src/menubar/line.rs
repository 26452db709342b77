//! The line grammar SwiftBar and xbar share (BitBar's): `text | key=value …`,
//! `---` between the title and the dropdown, `--` per submenu level.
//!
//! Text that comes from the machine (check names, error messages, reasons)
//! is made inert here, so that no name can forge a line, a parameter or a
//! submenu: a `|` becomes `¦`, control characters (newlines, ANSI escapes)
//! become spaces, leading dashes become `−`. Parameter values are quoted
//! the way both apps read them, and a value neither can read safely (both
//! quote marks, a backslash, a control character) is refused: the caller
//! then leaves the action out rather than build a line that means
//! something else.

/// The colours the menu uses, each a light and a dark variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Colour {
    Red,
    Orange,
    Green,
    Grey,
}

impl Colour {
    /// (light appearance, dark appearance).
    pub fn pair(self) -> (&'static str, &'static str) {
        match self {
            Colour::Red => ("#b3261e", "#ff8a80"),
            Colour::Orange => ("#9a5b00", "#ffb74d"),
            Colour::Green => ("#1b6e20", "#81c784"),
            Colour::Grey => ("#5f6368", "#9aa0a6"),
        }
    }
}

/// What a line does when clicked.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Runs this binary with these arguments, in the background, then redraws.
    Run(Vec<String>),
    /// Runs this binary with these arguments in a Terminal window.
    Terminal(Vec<String>),
    /// Opens a file (its `file://` URL).
    Open(std::path::PathBuf),
}

/// One menu line before it is written in an app's dialect.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Submenu level: 0 is the dropdown itself.
    pub depth: usize,
    /// Already inert (built with [`inert`] or from fixed words).
    pub text: String,
    pub colour: Option<Colour>,
    pub action: Option<Action>,
    /// A longer text shown on hover, where the app can (SwiftBar).
    pub tooltip: Option<String>,
    /// Smaller type, for secondary lines.
    pub small: bool,
    /// An SF Symbol beside it, where the app can (SwiftBar).
    pub symbol: Option<&'static str>,
}

impl Item {
    pub fn new(text: impl Into<String>) -> Item {
        Item { depth: 0, text: text.into(), colour: None, action: None, tooltip: None, small: false, symbol: None }
    }
    pub fn at_depth(mut self, depth: usize) -> Item {
        self.depth = depth;
        self
    }
    pub fn colour(mut self, c: Colour) -> Item {
        self.colour = Some(c);
        self
    }
    pub fn maybe_colour(mut self, c: Option<Colour>) -> Item {
        self.colour = c;
        self
    }
    pub fn act(mut self, a: Action) -> Item {
        self.action = Some(a);
        self
    }
    pub fn tip(mut self, t: impl Into<String>) -> Item {
        self.tooltip = Some(t.into());
        self
    }
    pub fn symbol(mut self, s: &'static str) -> Item {
        self.symbol = Some(s);
        self
    }
    pub fn small(mut self) -> Item {
        self.small = true;
        self
    }
}

/// Text from the machine made safe to print as (part of) a menu line, cut
/// to `max` characters with `…`.
pub fn inert(s: &str, max: usize) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c == '|' {
                '¦'
            } else if c.is_control() {
                ' '
            } else {
                c
            }
        })
        .collect();
    // Runs of spaces left by newlines read as one.
    while out.contains("  ") {
        out = out.replace("  ", " ");
    }
    let out = out.trim();
    let dashes = out.chars().take_while(|c| *c == '-').count();
    let mut out = format!("{}{}", "−".repeat(dashes), &out[dashes..]);
    if out.chars().count() > max {
        out = out.chars().take(max.saturating_sub(1)).collect::<String>().trim_end().to_string() + "…";
    }
    out
}

/// A parameter value as both apps read it: bare when it has no space,
/// else in the quote mark it does not hold. `None` when no quoting reads
/// back as the same value.
pub fn quote(v: &str) -> Option<String> {
    if v.is_empty() || v.chars().any(|c| c.is_control() || c == '\\') {
        return None;
    }
    // Both apps read a quoted value to its closing mark, `|` and spaces included.
    let plain = !v.chars().any(|c| c == ' ' || c == '"' || c == '\'' || c == '=' || c == '|');
    if plain {
        Some(v.to_string())
    } else if !v.contains('"') {
        Some(format!("\"{v}\""))
    } else if !v.contains('\'') {
        Some(format!("'{v}'"))
    } else {
        None
    }
}

/// A `file://` URL for `open`: absolute, each byte that is not plainly
/// safe percent-encoded (so spaces and quotes need no quoting).
pub fn file_url(path: &std::path::Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut out = String::from("file://");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The `bash=… param1=…` of running `exe` with `args`; `None` when one of
/// them cannot be written safely.
pub fn run_params(exe: &str, args: &[String]) -> Option<Vec<(String, String)>> {
    let mut out = vec![("bash".to_string(), quote(exe)?)];
    for (i, a) in args.iter().enumerate() {
        out.push((format!("param{}", i + 1), quote(a)?));
    }
    Some(out)
}

/// How one app writes what SwiftBar and xbar share.
pub trait Dialect {
    /// The value of `color=` for a colour.
    fn colour(&self, c: Colour) -> String;
    /// Parameters every line carries: emoji, symbol, markdown and ANSI
    /// parsing off, so that a name reads as it is written.
    fn plain(&self) -> &'static [(&'static str, &'static str)];
    /// The app shows `tooltip=` and `sfimage=`.
    fn rich(&self) -> bool;
}

/// The parameters of one item in a dialect.
pub fn params(item: &Item, exe: &str, d: &dyn Dialect) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = Vec::new();
    if let Some(c) = item.colour {
        out.push(("color".into(), d.colour(c)));
    }
    if item.small {
        out.push(("size".into(), "12".into()));
    }
    match &item.action {
        Some(Action::Run(args)) | Some(Action::Terminal(args)) => {
            if let Some(p) = run_params(exe, args) {
                out.extend(p);
                let terminal = matches!(item.action, Some(Action::Terminal(_)));
                out.push(("terminal".into(), terminal.to_string()));
                out.push(("refresh".into(), (!terminal).to_string()));
            }
        }
        Some(Action::Open(path)) => out.push(("href".into(), file_url(path))),
        None => {}
    }
    if d.rich() {
        if let Some(t) = item.tooltip.as_deref().and_then(quote) {
            out.push(("tooltip".into(), t));
        }
        if let Some(s) = item.symbol {
            out.push(("sfimage".into(), s.into()));
        }
    }
    out.extend(d.plain().iter().map(|(k, v)| (k.to_string(), v.to_string())));
    out
}

/// Joins a text and its parameters into one line.
pub fn join(depth: usize, text: &str, params: &[(String, String)]) -> String {
    let mut line = "--".repeat(depth);
    line.push_str(text);
    if !params.is_empty() {
        line.push_str(" |");
        for (k, v) in params {
            line.push(' ');
            line.push_str(k);
            line.push('=');
            line.push_str(v);
        }
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_cannot_forge_lines_parameters_or_submenus() {
        assert_eq!(inert("a | color=red\n---\nb", 200), "a ¦ color=red --- b");
        assert_eq!(inert("--deeper", 200), "−−deeper");
        assert_eq!(inert("---", 200), "−−−");
        assert_eq!(inert("\x1b[31mred", 200), "[31mred");
        assert_eq!(inert("naïve 🚀 name", 200), "naïve 🚀 name");
        assert_eq!(inert("abcdefghij", 5), "abcd…");
    }

    #[test]
    fn values_are_quoted_the_way_both_apps_read_them() {
        assert_eq!(quote("/usr/local/bin/ops-atomic").unwrap(), "/usr/local/bin/ops-atomic");
        assert_eq!(quote("/Users/me/My Root").unwrap(), "\"/Users/me/My Root\"");
        assert_eq!(quote("say \"hi\"").unwrap(), "'say \"hi\"'");
        assert_eq!(quote("a=b").unwrap(), "\"a=b\"");
        assert!(quote("both \" and '").is_none());
        assert!(quote("back\\slash").is_none());
        assert_eq!(quote("api:a | b").unwrap(), "\"api:a | b\"");
        assert!(quote("new\nline").is_none());
        assert!(quote("").is_none());
    }

    #[test]
    fn file_urls_need_no_quoting() {
        let url = file_url(std::path::Path::new("/Users/me/My \"Root\"/g/reports/status.html"));
        assert_eq!(url, "file:///Users/me/My%20%22Root%22/g/reports/status.html");
    }
}
