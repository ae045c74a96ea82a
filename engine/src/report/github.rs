//! `--format github`: one GitHub Actions workflow command per diagnostic,
//! which the runner turns into annotations on the pull request:
//! `::error file=F,line=L,col=C,title=CODE::MESSAGE`.

use super::Report;
use crate::diagnostic::Severity;
use std::fmt::Write;

pub(super) fn render(report: &Report) -> String {
    let mut out = String::new();
    for d in &report.diagnostics {
        let command = match d.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "notice",
        };
        let mut properties = Vec::new();
        if let Some(file) = &d.file {
            properties.push(format!("file={}", escape_property(file)));
            properties.push(format!("line={}", d.line()));
            properties.push(format!("col={}", d.column()));
        }
        properties.push(format!("title={}", escape_property(d.code)));
        let _ = writeln!(out, "::{command} {}::{}", properties.join(","), escape_data(&d.message));
    }
    out
}

/// Escapes a command's message, as the runner's `escapeData` does.
pub(super) fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// Escapes a property value, as the runner's `escapeProperty` does.
pub(super) fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping() {
        assert_eq!(escape_data("50% a\r\nb: c, d"), "50%25 a%0D%0Ab: c, d");
        assert_eq!(escape_property("a:b,c%\n"), "a%3Ab%2Cc%25%0A");
    }
}
