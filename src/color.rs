//! Colour for human output on a terminal (SPEC §1): on when stdout is a
//! terminal and `NO_COLOR` is not set (to any value), off otherwise, so
//! pipes, files and launchd's logs get plain text. Emoji are not colour:
//! they stay either way.

use std::io::IsTerminal;
use std::sync::OnceLock;

/// The few styles the tool uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    Bold,
    Dim,
    Green,
    Yellow,
    Red,
}

impl Style {
    fn code(self) -> &'static str {
        match self {
            Style::Bold => "1",
            Style::Dim => "2",
            Style::Green => "32",
            Style::Yellow => "33",
            Style::Red => "31",
        }
    }
}

/// Whether stdout gets colour, decided once per process.
pub fn enabled() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| decide(std::env::var_os("NO_COLOR").is_some(), std::io::stdout().is_terminal()))
}

/// The rule itself, apart from the process's environment: colour only on a
/// terminal and only without `NO_COLOR`.
pub fn decide(no_color_set: bool, stdout_is_terminal: bool) -> bool {
    stdout_is_terminal && !no_color_set
}

/// `text` in `style` when colour is on, else `text` unchanged.
pub fn paint(style: Style, text: &str) -> String {
    paint_if(enabled(), style, text)
}

/// [`paint`] with the decision given.
pub fn paint_if(on: bool, style: Style, text: &str) -> String {
    if on { format!("\x1b[{}m{text}\x1b[0m", style.code()) } else { text.to_string() }
}

/// The colour of a status word: `HEALTHY`/`ok` green, `WARNINGS`/`warn`
/// yellow, `CRITICAL`/`fail` red; anything else is left plain.
pub fn status_style(word: &str) -> Option<Style> {
    match word {
        "HEALTHY" | "ok" => Some(Style::Green),
        "WARNINGS" | "warn" => Some(Style::Yellow),
        "CRITICAL" | "fail" => Some(Style::Red),
        _ => None,
    }
}

/// A status word painted in its colour (see [`status_style`]).
pub fn status(word: &str) -> String {
    match status_style(word) {
        Some(style) => paint(style, word),
        None => word.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(decide(false, true));
        assert!(!decide(true, true), "NO_COLOR (any value) turns colour off");
        assert!(!decide(false, false), "a pipe or a file gets plain text");
        assert!(!decide(true, false));
    }

    #[test]
    fn painting_off_leaves_the_text_alone() {
        assert_eq!(paint_if(false, Style::Red, "❌ CRITICAL"), "❌ CRITICAL");
        assert_eq!(paint_if(true, Style::Red, "CRITICAL"), "\x1b[31mCRITICAL\x1b[0m");
    }

    #[test]
    fn status_words_have_their_colour() {
        assert_eq!(status_style("HEALTHY"), Some(Style::Green));
        assert_eq!(status_style("WARNINGS"), Some(Style::Yellow));
        assert_eq!(status_style("CRITICAL"), Some(Style::Red));
        assert_eq!(status_style("skipped"), None);
    }
}
