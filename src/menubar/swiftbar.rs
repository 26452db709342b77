//! SwiftBar's dialect: light,dark colour pairs, tooltips and SF Symbols,
//! and every parsing of the text turned off (`md`, `emojize`, `symbolize`).

use super::line::{Colour, Dialect};
use super::{Caller, Glance};

/// The parameters SwiftBar documents (its README, "Plugin API"); the
/// output uses a few of them.
pub const KEYS: &[&str] = &[
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
    "stdin",
];

pub struct SwiftBar;

impl Dialect for SwiftBar {
    fn colour(&self, c: Colour) -> String {
        let (light, dark) = c.pair();
        format!("{light},{dark}")
    }
    fn plain(&self) -> &'static [(&'static str, &'static str)] {
        &[("md", "false"), ("emojize", "false"), ("symbolize", "false")]
    }
    fn rich(&self) -> bool {
        true
    }
}

pub fn render(g: &Glance, caller: &Caller) -> String {
    super::bitbar(g, caller, &SwiftBar)
}
