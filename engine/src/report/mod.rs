//! Rendering a run's outcome for people (text) and machines (json, sarif,
//! junit, github). The report is plain data; renderers only format it.

use crate::diagnostic::{Diagnostic, Severity};
use crate::load::source::Sources;
use serde::Serialize;

mod github;
mod json;
mod junit;
mod sarif;
mod text;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum OutputFormat {
    Text,
    Json,
    Sarif,
    Junit,
    Github,
}

/// What `weft validate` found.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    /// Files read (designs, manifests and skipped files alike).
    pub files: usize,
    pub designs: Vec<DesignSummary>,
    pub diagnostics: Vec<Diagnostic>,
}

#[derive(Debug, Serialize)]
pub struct DesignSummary {
    pub file: String,
    pub name: String,
    pub components: usize,
    pub relationships: usize,
}

#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    pub errors: usize,
    pub warnings: usize,
}

impl Report {
    pub fn summary(&self) -> Summary {
        let count = |s| self.diagnostics.iter().filter(|d| d.severity == s).count();
        Summary { errors: count(Severity::Error), warnings: count(Severity::Warning) }
    }
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Renders `report` in `format`. `color` applies to text only; `sources`
/// supplies the lines that text output quotes.
pub fn render(report: &Report, format: OutputFormat, sources: &Sources, color: bool) -> String {
    match format {
        OutputFormat::Text => text::render(report, sources, color),
        OutputFormat::Json => json::render(report),
        OutputFormat::Sarif => sarif::render(report),
        OutputFormat::Junit => junit::render(report),
        OutputFormat::Github => github::render(report),
    }
}

/// `n thing` or `n things`.
fn plural(n: usize, word: &str) -> String {
    if n == 1 { format!("1 {word}") } else { format!("{n} {word}s") }
}
