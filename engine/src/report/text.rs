//! Human output, shaped like rustc's:
//!
//! ```text
//! error[duplicate-key]: duplicate mapping key `name`
//!  --> designs/app.yaml:3:5
//!   |
//! 3 |     name: web
//!   |     ^^^^
//!   |
//!   = component: Deployment/default/web
//!   = hint: remove or rename one of the repeated keys
//! ```
//!
//! followed by one summary line. A small renderer of our own rather than
//! miette's graphical handler: this layout is the CLI contract, and it must
//! be byte-for-byte deterministic for golden tests.

use super::{Report, plural};
use crate::diagnostic::{Diagnostic, Severity};
use crate::load::source::Sources;
use std::collections::HashMap;
use std::fmt::Write;

const TAB: &str = "    ";

#[derive(Clone, Copy)]
struct Style {
    color: bool,
}

impl Style {
    /// `text` wrapped in the SGR sequence `sgr` when colour is on.
    fn paint(self, sgr: &str, text: &str) -> String {
        if self.color && !text.is_empty() { format!("\x1b[{sgr}m{text}\x1b[0m") } else { text.to_owned() }
    }
    fn severity(self, severity: Severity, text: &str) -> String {
        self.paint(severity_sgr(severity), text)
    }
    fn gutter(self, text: &str) -> String {
        self.paint("1;34", text)
    }
    fn bold(self, text: &str) -> String {
        self.paint("1", text)
    }
}

fn severity_sgr(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "1;31",
        Severity::Warning => "1;33",
        Severity::Info => "1;36",
    }
}

pub(super) fn render(report: &Report, sources: &Sources, color: bool) -> String {
    let style = Style { color };
    let texts: HashMap<&str, &str> = sources.iter().map(|f| (f.display.as_str(), &*f.text)).collect();
    let mut out = String::new();
    for diagnostic in &report.diagnostics {
        let text = diagnostic.file.as_deref().and_then(|f| texts.get(f).copied());
        render_diagnostic(&mut out, diagnostic, text, style);
        out.push('\n');
    }
    out.push_str(&summary_line(report, style));
    out.push('\n');
    out
}

fn render_diagnostic(out: &mut String, d: &Diagnostic, text: Option<&str>, style: Style) {
    let head = format!("{}[{}]", d.severity, d.code);
    let message = clean(&d.message);
    let _ = writeln!(out, "{}{}", style.severity(d.severity, &head), style.bold(&format!(": {message}")));

    // The quoted line, when there is a position and the text to quote.
    let snippet = d.span.zip(text).filter(|_| !d.sensitive).and_then(|(span, text)| source_line(text, span.line).map(|line| (span, line)));
    let width = snippet.map_or(1, |(span, _)| span.line.max(1).to_string().len());
    let pad = " ".repeat(width);
    let bar = style.gutter("|");

    if let Some(file) = &d.file {
        let file = clean(file);
        let location = match d.span {
            Some(_) => format!("{file}:{}:{}", d.line(), d.column()),
            None => file,
        };
        let _ = writeln!(out, "{pad}{} {location}", style.gutter("-->"));
    }
    if let Some((span, line)) = snippet {
        let (shown, prefix, marked) = window(underline(line, span.column.max(1), span.len));
        let carets = style.severity(d.severity, &"^".repeat(marked));
        let _ = writeln!(out, "{pad} {bar}");
        let number = style.gutter(&span.line.max(1).to_string());
        let _ = writeln!(out, "{number} {bar}{}{shown}", if shown.is_empty() { "" } else { " " });
        let _ = writeln!(out, "{pad} {bar} {}{carets}", " ".repeat(prefix));
    }

    let mut notes = Vec::new();
    if let Some(component) = &d.component {
        notes.push(("component", component));
    }
    if let Some(hint) = &d.hint {
        notes.push(("hint", hint));
    }
    if !notes.is_empty() && snippet.is_some() {
        let _ = writeln!(out, "{pad} {bar}");
    }
    for (label, value) in notes {
        let _ = writeln!(out, "{pad} {} {}", style.bold(&format!("= {label}:")), clean(value));
    }
}

/// Text from diagnostics can quote file content: keep it from driving the
/// terminal. Line breaks and tabs stay; other control characters become
/// U+FFFD.
fn clean(text: &str) -> String {
    text.replace("\r\n", "\n")
        .chars()
        .map(|c| if c.is_control() && c != '\n' && c != '\t' { '\u{fffd}' } else { c })
        .collect()
}

/// Line `line` (1-based) of `text`, without its line break. The line just
/// past a final newline exists (empty), so end-of-file errors can point at it.
fn source_line(text: &str, line: u32) -> Option<&str> {
    let index = usize::try_from(line.checked_sub(1)?).ok()?;
    let line = text.split('\n').nth(index)?;
    Some(line.strip_suffix('\r').unwrap_or(line))
}

/// The line as shown (tabs expanded, control characters replaced), the
/// display width before the 1-based character `column`, and how many carets
/// cover `len` bytes from there (at least one).
fn underline(line: &str, column: u32, len: u32) -> (String, usize, usize) {
    let start_char = (column - 1) as usize;
    let start_byte = line.char_indices().nth(start_char).map_or(line.len(), |(b, _)| b);
    let end_byte = start_byte.saturating_add(len as usize).min(line.len());

    let mut shown = String::with_capacity(line.len());
    let mut prefix = 0;
    let mut marked = 0;
    for (byte, c) in line.char_indices() {
        let width = match c {
            '\t' => {
                shown.push_str(TAB);
                TAB.len()
            }
            c if c.is_control() => {
                shown.push('\u{fffd}');
                1
            }
            c => {
                shown.push(c);
                1
            }
        };
        if byte < start_byte {
            prefix += width;
        } else if byte < end_byte {
            marked += width;
        }
    }
    // A column past the end of the line (e.g. "unexpected end of line").
    prefix += start_char.saturating_sub(line.chars().count());
    (shown, prefix, marked.max(1))
}

fn summary_line(report: &Report, style: Style) -> String {
    let summary = report.summary();
    let components: usize = report.designs.iter().map(|d| d.components).sum();
    let scope = format!(
        "{} ({}, {})",
        plural(report.files, "file"),
        plural(report.designs.len(), "design"),
        plural(components, "component"),
    );
    let mut counts = Vec::new();
    if summary.errors > 0 {
        counts.push(style.severity(Severity::Error, &plural(summary.errors, "error")));
    }
    if summary.warnings > 0 {
        counts.push(style.severity(Severity::Warning, &plural(summary.warnings, "warning")));
    }
    let found = if counts.is_empty() { style.paint("1;32", "no problems") } else { counts.join(", ") };
    format!("{} {found} in {scope}", style.bold("weft:"))
}

/// Widest source excerpt shown, in characters. Minified JSON designs put
/// a whole file on one line; the excerpt is the part around the caret.
const MAX_EXCERPT: usize = 100;

/// Cuts an underlined line longer than `MAX_EXCERPT` to a window around
/// the marked text, with `…` where it was cut.
fn window((shown, prefix, marked): (String, usize, usize)) -> (String, usize, usize) {
    let chars: Vec<char> = shown.chars().collect();
    if chars.len() <= MAX_EXCERPT {
        return (shown, prefix, marked);
    }
    let start = prefix.saturating_sub(MAX_EXCERPT / 3).min(chars.len());
    let end = (start + MAX_EXCERPT).min(chars.len());
    let mut cut: String = if start > 0 { "…".into() } else { String::new() };
    cut.extend(&chars[start..end]);
    if end < chars.len() {
        cut.push('…');
    }
    let lead = usize::from(start > 0);
    let marked = marked.min(end.saturating_sub(prefix)).max(1);
    (cut, prefix - start + lead, marked)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_cut_around_the_caret() {
        let line = format!("{}\"key\": 1{}", "x".repeat(300), "y".repeat(300));
        let (shown, prefix, marked) = window(underline(&line, 301, 5));
        assert_eq!(shown.chars().count(), MAX_EXCERPT + 2);
        assert!(shown.starts_with('…') && shown.ends_with('…'));
        assert_eq!(shown.chars().skip(prefix).take(marked).collect::<String>(), "\"key\"");
        assert_eq!(window(("short".into(), 1, 2)), ("short".into(), 1, 2));
    }

    #[test]
    fn underline_counts_characters_and_bytes() {
        assert_eq!(underline("  name: web", 3, 4), ("  name: web".into(), 2, 4));
        assert_eq!(underline("x", 5, 0), ("x".into(), 4, 1));
        assert_eq!(underline("\tab", 2, 1), ("    ab".into(), 4, 1));
        // `é` is two bytes: a 3-byte token starting at it covers `éa`.
        assert_eq!(underline("é a", 1, 3), ("é a".into(), 0, 2));
        assert_eq!(underline("ab", 1, 100), ("ab".into(), 0, 2));
    }

    #[test]
    fn control_characters_are_neutralised() {
        assert_eq!(clean("a\r\nb\x1b[31m\tc"), "a\nb\u{fffd}[31m\tc");
    }

    #[test]
    fn source_lines() {
        assert_eq!(source_line("a\r\nb\n", 1), Some("a"));
        assert_eq!(source_line("a\r\nb\n", 3), Some(""));
        assert_eq!(source_line("a\r\nb\n", 4), None);
        assert_eq!(source_line("a", 0), None);
    }
}
