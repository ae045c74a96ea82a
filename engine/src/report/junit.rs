//! `--format junit`: JUnit XML for CI test dashboards. One test case per
//! design, failing with one `<failure>` per error in the design's file, and
//! one more case holding the diagnostics of files that never became a
//! design (YAML syntax errors, unreadable files), so that no error is lost.
//! Warnings and notes go to the case's `<system-out>`.

use super::Report;
use crate::diagnostic::Diagnostic;
use crate::markup::{escape, escape_text};
use std::collections::HashMap;
use std::fmt::Write;

pub const SUITE: &str = "weft validate";
/// Class and name of the case for diagnostics outside every design's file.
pub const OTHER_CLASS: &str = "weft";
pub const OTHER_NAME: &str = "files outside designs";

struct Case<'a> {
    classname: &'a str,
    name: &'a str,
    diagnostics: Vec<&'a Diagnostic>,
}

impl Case<'_> {
    fn failed(&self) -> bool {
        self.diagnostics.iter().any(|d| d.is_error())
    }
}

pub(super) fn render(report: &Report) -> String {
    let mut by_file: HashMap<&str, Vec<&Diagnostic>> = HashMap::new();
    for design in &report.designs {
        by_file.entry(design.file.as_str()).or_default();
    }
    let mut other = Vec::new();
    for d in &report.diagnostics {
        match d.file.as_deref().and_then(|f| by_file.get_mut(f)) {
            Some(list) => list.push(d),
            None => other.push(d),
        }
    }
    let mut cases: Vec<Case> = report
        .designs
        .iter()
        .map(|design| Case {
            classname: &design.file,
            name: &design.name,
            diagnostics: by_file[design.file.as_str()].clone(),
        })
        .collect();
    if !other.is_empty() {
        cases.push(Case { classname: OTHER_CLASS, name: OTHER_NAME, diagnostics: other });
    }

    // `failures` counts failed test cases (a case may hold several
    // `<failure>` elements), so `tests - failures` is what passed.
    let failures = cases.iter().filter(|c| c.failed()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\">",
        escape(SUITE),
        cases.len(),
    );
    for case in &cases {
        let head = format!("  <testcase classname=\"{}\" name=\"{}\"", escape(case.classname), escape(case.name));
        if case.diagnostics.is_empty() {
            let _ = writeln!(out, "{head}/>");
            continue;
        }
        let _ = writeln!(out, "{head}>");
        let mut others = String::new();
        for d in &case.diagnostics {
            if d.is_error() {
                let _ = writeln!(
                    out,
                    "    <failure message=\"{}\" type=\"{}\">{}</failure>",
                    escape(&d.message),
                    escape(d.code),
                    escape_text(&details(d)),
                );
            } else {
                let _ = writeln!(others, "{}[{}] {}", d.severity, d.code, details(d));
            }
        }
        if !others.is_empty() {
            let _ = writeln!(out, "    <system-out>{}</system-out>", escape_text(others.trim_end()));
        }
        out.push_str("  </testcase>\n");
    }
    out.push_str("</testsuite>\n");
    out
}

/// `file:line:col message`, then the component and hint on lines of their own.
fn details(d: &Diagnostic) -> String {
    let mut text = match &d.file {
        Some(file) => format!("{file}:{}:{} {}", d.line(), d.column(), d.message),
        None => d.message.clone(),
    };
    if let Some(component) = &d.component {
        let _ = write!(text, "\ncomponent: {component}");
    }
    if let Some(hint) = &d.hint {
        let _ = write!(text, "\nhint: {hint}");
    }
    text
}
