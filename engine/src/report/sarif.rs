//! `--format sarif`: SARIF 2.1.0, for GitHub code scanning and other
//! static-analysis dashboards. One run; one rule per diagnostic code.

use super::Report;
use crate::diagnostic::{Diagnostic, Severity, codes};
use serde_json::{Map, Value, json};

pub const SCHEMA: &str = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";
pub const INFORMATION_URI: &str = "https://weft.dev";

fn level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

pub(super) fn render(report: &Report) -> String {
    let rules: Vec<Value> = codes::ALL
        .iter()
        .map(|code| {
            let mut rule = json!({
                "id": code.name,
                "shortDescription": { "text": code.summary },
                "defaultConfiguration": { "level": level(code.severity) },
            });
            if let Some(hint) = code.hint {
                rule["help"] = json!({ "text": hint });
            }
            rule
        })
        .collect();
    let results: Vec<Value> = report.diagnostics.iter().map(result).collect();
    let log = json!({
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{
            "tool": {
                "driver": {
                    "name": "weft",
                    "version": env!("CARGO_PKG_VERSION"),
                    "informationUri": INFORMATION_URI,
                    "rules": rules,
                }
            },
            // Our columns count characters, not UTF-16 code units.
            "columnKind": "unicodeCodePoints",
            "results": results,
        }]
    });
    let mut text = serde_json::to_string_pretty(&log).expect("the SARIF log serializes");
    text.push('\n');
    text
}

fn result(d: &Diagnostic) -> Value {
    let mut message = d.message.clone();
    if let Some(hint) = &d.hint {
        message.push_str("\nhint: ");
        message.push_str(hint);
    }
    let mut result = Map::new();
    result.insert("ruleId".into(), json!(d.code));
    if let Some(index) = codes::ALL.iter().position(|c| c.name == d.code) {
        result.insert("ruleIndex".into(), json!(index));
    }
    result.insert("level".into(), json!(level(d.severity)));
    result.insert("message".into(), json!({ "text": message }));
    if let Some(file) = &d.file {
        result.insert(
            "locations".into(),
            json!([{
                "physicalLocation": {
                    "artifactLocation": { "uri": uri(file) },
                    "region": { "startLine": d.line(), "startColumn": d.column() },
                }
            }]),
        );
    }
    if let Some(component) = &d.component {
        result.insert("properties".into(), json!({ "component": component }));
    }
    Value::Object(result)
}

/// A display path as a URI reference: forward slashes, percent-encoded
/// (a `:` in `archive.tar:design.yml` would otherwise read as a scheme);
/// absolute paths become `file:` URIs.
pub(super) fn uri(path: &str) -> String {
    let path = path.replace('\\', "/");
    let bytes = path.as_bytes();
    let drive = bytes.len() >= 2
        && bytes[0].is_ascii_alphabetic()
        && bytes[1] == b':'
        && (bytes.len() == 2 || bytes[2] == b'/');
    let (prefix, rest) = if drive {
        ("file:///", format!("{}:{}", &path[..1], encode(&path[2..])))
    } else if path.starts_with('/') {
        ("file://", encode(&path))
    } else {
        ("", encode(&path))
    };
    format!("{prefix}{rest}")
}

fn encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => out.push(byte as char),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::uri;

    #[test]
    fn uris() {
        assert_eq!(uri("designs/app.yaml"), "designs/app.yaml");
        assert_eq!(uri("designs\\my app.yaml"), "designs/my%20app.yaml");
        assert_eq!(uri("bundle.tar:design.yml"), "bundle.tar%3Adesign.yml");
        assert_eq!(uri("/srv/repo/a.yaml"), "file:///srv/repo/a.yaml");
        assert_eq!(uri("C:\\repo\\a.yaml"), "file:///C:/repo/a.yaml");
    }
}
