//! `--format json`: the report as one pretty-printed JSON object whose shape
//! is published as `schemas/validate-output.schema.json`.

use super::{Report, Summary};
use crate::diagnostic::{Diagnostic, Severity};
use serde::Serialize;

#[derive(Serialize)]
struct Output<'a> {
    files: usize,
    designs: Vec<Design<'a>>,
    diagnostics: Vec<Item<'a>>,
    summary: Summary,
}

#[derive(Serialize)]
struct Design<'a> {
    file: &'a str,
    name: &'a str,
    components: usize,
    relationships: usize,
}

#[derive(Serialize)]
struct Item<'a> {
    severity: Severity,
    code: &'a str,
    message: &'a str,
    file: Option<&'a str>,
    line: u32,
    column: u32,
    component: Option<&'a str>,
    hint: Option<&'a str>,
}

impl<'a> From<&'a Diagnostic> for Item<'a> {
    fn from(d: &'a Diagnostic) -> Self {
        Item {
            severity: d.severity,
            code: d.code,
            message: &d.message,
            file: d.file.as_deref(),
            line: d.line(),
            column: d.column(),
            component: d.component.as_deref(),
            hint: d.hint.as_deref(),
        }
    }
}

pub(super) fn render(report: &Report) -> String {
    let output = Output {
        files: report.files,
        designs: report
            .designs
            .iter()
            .map(|d| Design { file: &d.file, name: &d.name, components: d.components, relationships: d.relationships })
            .collect(),
        diagnostics: report.diagnostics.iter().map(Item::from).collect(),
        summary: report.summary(),
    };
    let mut text = serde_json::to_string_pretty(&output).expect("the report serializes");
    text.push('\n');
    text
}
