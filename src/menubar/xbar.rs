//! xbar's dialect. xbar refuses a whole plugin for one key it does not
//! know (`unknown parameter`), so only [`KEYS`] are written; its colours
//! are single, so the variant is chosen from `XBARDarkMode`, which xbar
//! sets for its plugins.

use super::line::{Colour, Dialect};
use super::{Caller, Glance};

/// Every key xbar's parser accepts (`setValueByKey` in xbar's
/// `pkg/plugins/item_params.go`), plus `param1`, `param2`, ….
pub const KEYS: &[&str] = &[
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

pub struct Xbar {
    pub dark: bool,
}

/// Whether xbar says the menu bar is dark.
pub fn dark_mode() -> bool {
    std::env::var("XBARDarkMode").is_ok_and(|v| v.eq_ignore_ascii_case("true"))
}

impl Dialect for Xbar {
    fn colour(&self, c: Colour) -> String {
        let (light, dark) = c.pair();
        (if self.dark { dark } else { light }).to_string()
    }
    fn plain(&self) -> &'static [(&'static str, &'static str)] {
        // xbar unquotes backslash escapes in a line's text when `ansi` is on.
        &[("emojize", "false"), ("ansi", "false")]
    }
    fn rich(&self) -> bool {
        false
    }
}

pub fn render(g: &Glance, caller: &Caller, dark: bool) -> String {
    super::bitbar(g, caller, &Xbar { dark })
}
