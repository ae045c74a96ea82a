//! The renderers of `weft validate`: golden files for every format (rewrite
//! them with `WEFT_UPDATE_GOLDEN=1 cargo test --test report_render`) and
//! structural checks that hold whatever the exact bytes are.

#[path = "common/report_fixture.rs"]
mod fixture;

use serde_json::Value;
use std::collections::HashSet;
use weft::diagnostic::{Diagnostic, Severity, codes};
use weft::load::source::Sources;
use weft::report::{OutputFormat, Report, render};

fn golden(name: &str, actual: &str) {
    let path = fixture::repo_root().join("tests/golden/report").join(name);
    // The tool version in SARIF changes with every release; the golden
    // file holds a placeholder.
    let actual = actual
        .replace(&format!("\"version\": \"{}\"", env!("CARGO_PKG_VERSION")), "\"version\": \"$CARGO_PKG_VERSION\"");
    if std::env::var_os("WEFT_UPDATE_GOLDEN").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (run with WEFT_UPDATE_GOLDEN=1 to create it)", path.display()));
    if expected != actual {
        panic!(
            "{} differs from the output (rerun with WEFT_UPDATE_GOLDEN=1 if the change is intended)\n\
             --- expected\n{expected}\n--- actual\n{actual}",
            path.display()
        );
    }
}

fn fixed(format: OutputFormat, color: bool) -> String {
    render(&fixture::report(), format, &fixture::sources(), color)
}

#[test]
fn golden_text() {
    golden("validate.txt", &fixed(OutputFormat::Text, false));
}

#[test]
fn golden_text_color() {
    golden("validate.color.txt", &fixed(OutputFormat::Text, true));
}

#[test]
fn golden_text_clean() {
    let report = Report { files: 3, designs: fixture::report().designs, diagnostics: vec![] };
    golden("clean.txt", &render(&report, OutputFormat::Text, &fixture::sources(), false));
}

#[test]
fn golden_json() {
    golden("validate.json", &fixed(OutputFormat::Json, false));
}

#[test]
fn golden_sarif() {
    golden("validate.sarif", &fixed(OutputFormat::Sarif, false));
}

#[test]
fn golden_junit() {
    golden("validate.junit.xml", &fixed(OutputFormat::Junit, false));
}

#[test]
fn golden_github() {
    golden("validate.github.txt", &fixed(OutputFormat::Github, false));
}

#[test]
fn text_without_color_has_no_escapes() {
    let plain = fixed(OutputFormat::Text, false);
    assert!(!plain.contains('\x1b'), "{plain}");
    let colored = fixed(OutputFormat::Text, true);
    assert!(colored.contains("\x1b["), "{colored}");
    // Stripping the colour gives the plain output back.
    assert_eq!(strip_ansi(&colored), plain);
}

#[test]
fn text_quotes_lines_and_marks_spans() {
    let text = fixed(OutputFormat::Text, false);
    assert!(text.starts_with("error[duplicate-component-id]: component id `7d0c1f62-"), "{text}");
    assert!(text.contains(" --> designs/app.yaml:7:9\n"), "{text}");
    assert!(text.contains("7 |   - id: 7d0c1f62-0000-4000-8000-000000000001\n"), "{text}");
    assert!(text.contains(&format!("  |         {}\n", "^".repeat(36))), "{text}");
    // 9 bytes, 8 characters.
    assert!(text.contains(&format!("  |                  {}\n", "^".repeat(8))), "{text}");
    assert!(text.contains("  = hint: did you mean `Deployment`?\n"), "{text}");
    assert!(text.contains("  = component: Deploymnet/café-api\n"), "{text}");
    // No span: location without a snippet.
    assert!(
        text.contains("warning[cycle]: relationships form a cycle: web -> café-api -> web\n --> designs/app.yaml\n")
    );
    // No file at all.
    assert!(text.contains("error[unreadable]: cannot read `secrets/`: permission denied (os error 13)\n\n"));
    assert!(text.ends_with("weft: 5 errors, 1 warning in 4 files (2 designs, 5 components)\n"), "{text}");
}

#[test]
fn text_is_one_line_when_all_is_well() {
    let report = Report { files: 1, designs: vec![], diagnostics: vec![] };
    let text = render(&report, OutputFormat::Text, &Sources::default(), false);
    assert_eq!(text, "weft: no problems in 1 file (0 designs, 0 components)\n");
}

#[test]
fn text_without_source_text_still_locates() {
    // The file is not among the sources: position, but no snippet.
    let report = Report {
        files: 1,
        designs: vec![],
        diagnostics: vec![
            Diagnostic { hint: None, ..Diagnostic::new(&codes::SCHEMA, "bad") }
                .at("elsewhere.yaml", Some(weft::diagnostic::Span { line: 3, column: 2, len: 1 })),
        ],
    };
    let text = render(&report, OutputFormat::Text, &Sources::default(), false);
    assert_eq!(
        text,
        "error[schema]: bad\n --> elsewhere.yaml:3:2\n\nweft: 1 error in 1 file (0 designs, 0 components)\n"
    );
}

fn strip_ansi(text: &str) -> String {
    let mut out = String::new();
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn keys(value: &Value) -> Vec<&str> {
    value.as_object().expect("an object").keys().map(String::as_str).collect()
}

#[test]
fn json_shape() {
    let report = fixture::report();
    let json: Value = serde_json::from_str(&fixed(OutputFormat::Json, false)).unwrap();
    assert_eq!(keys(&json), ["files", "designs", "diagnostics", "summary"]);
    assert_eq!(json["files"], 4);
    let designs = json["designs"].as_array().unwrap();
    assert_eq!(designs.len(), report.designs.len());
    for design in designs {
        assert_eq!(keys(design), ["file", "name", "components", "relationships"]);
    }
    assert_eq!(designs[1]["relationships"], 1);
    let diagnostics = json["diagnostics"].as_array().unwrap();
    assert_eq!(diagnostics.len(), report.diagnostics.len());
    for (item, d) in diagnostics.iter().zip(&report.diagnostics) {
        assert_eq!(keys(item), ["severity", "code", "message", "file", "line", "column", "component", "hint"]);
        assert_eq!(item["severity"], d.severity.to_string());
        assert!(["error", "warning", "info"].contains(&item["severity"].as_str().unwrap()));
        assert_eq!(item["code"], d.code);
        assert_eq!(item["message"], d.message.as_str());
        assert_eq!(item["file"].as_str(), d.file.as_deref());
        assert_eq!(item["line"], d.line());
        assert_eq!(item["column"], d.column());
        assert!(item["line"].as_u64().unwrap() >= 1 && item["column"].as_u64().unwrap() >= 1);
        assert_eq!(item["component"].as_str(), d.component.as_deref());
        assert_eq!(item["hint"].as_str(), d.hint.as_deref());
    }
    assert_eq!(diagnostics[0]["line"], 7);
    assert_eq!(diagnostics[0]["column"], 9);
    assert!(diagnostics[6]["file"].is_null());
    assert!(diagnostics[3]["component"].is_null());
    assert!(diagnostics[3]["hint"].is_null());
    assert_eq!(keys(&json["summary"]), ["errors", "warnings"]);
    assert_eq!(json["summary"]["errors"], 5);
    assert_eq!(json["summary"]["warnings"], 1);
}

#[test]
fn sarif_structure() {
    let report = fixture::report();
    let log: Value = serde_json::from_str(&fixed(OutputFormat::Sarif, false)).unwrap();
    assert!(log["$schema"].as_str().unwrap().contains("sarif"));
    assert_eq!(log["version"], "2.1.0");
    let runs = log["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    let driver = &runs[0]["tool"]["driver"];
    assert_eq!(driver["name"], "weft");
    assert_eq!(driver["version"], env!("CARGO_PKG_VERSION"));
    assert!(driver["informationUri"].as_str().unwrap().starts_with("https://"));

    let rules = driver["rules"].as_array().unwrap();
    assert_eq!(rules.len(), codes::ALL.len());
    let mut ids = HashSet::new();
    for (rule, code) in rules.iter().zip(codes::ALL) {
        assert_eq!(rule["id"], code.name);
        assert!(ids.insert(code.name), "duplicate rule {}", code.name);
        assert_eq!(rule["shortDescription"]["text"], code.summary);
        let level = rule["defaultConfiguration"]["level"].as_str().unwrap();
        assert_eq!(level, sarif_level(code.severity));
    }

    let results = runs[0]["results"].as_array().unwrap();
    assert_eq!(results.len(), report.diagnostics.len());
    for (result, d) in results.iter().zip(&report.diagnostics) {
        assert_eq!(result["ruleId"], d.code);
        let index = result["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index]["id"], d.code);
        assert_eq!(result["level"], sarif_level(d.severity));
        let text = result["message"]["text"].as_str().unwrap();
        assert!(text.starts_with(&d.message));
        if let Some(hint) = &d.hint {
            assert!(text.contains(hint.as_str()));
        }
        match &d.file {
            None => assert!(result.get("locations").is_none(), "{result}"),
            Some(file) => {
                let locations = result["locations"].as_array().unwrap();
                assert_eq!(locations.len(), 1);
                let physical = &locations[0]["physicalLocation"];
                let uri = physical["artifactLocation"]["uri"].as_str().unwrap();
                assert_eq!(uri, file, "plain relative paths stay as they are");
                assert!(!uri.contains('\\') && !uri.contains(':'));
                assert_eq!(physical["region"]["startLine"], d.line());
                assert_eq!(physical["region"]["startColumn"], d.column());
            }
        }
    }
}

fn sarif_level(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
        Severity::Info => "note",
    }
}

/// The elements of an XML document, checked for balance and escaping: the
/// tag names in document order, with their attributes.
fn xml_elements(xml: &str) -> Vec<(String, Vec<(String, String)>)> {
    let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").expect("XML declaration");
    let mut elements = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        check_text(&rest[..start]);
        let end = rest[start..].find('>').expect("tag closes") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "unbalanced </{name}>");
            continue;
        }
        let (tag, empty) = match tag.strip_suffix('/') {
            Some(tag) => (tag, true),
            None => (tag, false),
        };
        let (name, mut attrs_text) = tag.split_once(' ').unwrap_or((tag, ""));
        let mut attrs = Vec::new();
        while let Some((key, after)) = attrs_text.trim_start().split_once("=\"") {
            let close = after.find('"').expect("attribute closes");
            check_text(&after[..close]);
            assert!(!after[..close].contains(['\n', '\t']), "raw whitespace in attribute");
            attrs.push((key.to_owned(), unescape(&after[..close])));
            attrs_text = &after[close + 1..];
        }
        assert!(attrs_text.trim().is_empty(), "junk in tag: {tag}");
        elements.push((name.to_owned(), attrs));
        if !empty {
            stack.push(name.to_owned());
        }
    }
    check_text(rest);
    assert!(stack.is_empty(), "unclosed {stack:?}");
    elements
}

fn check_text(text: &str) {
    assert!(!text.contains('>') && !text.contains('"'), "unescaped text: {text:?}");
    assert!(!text.contains('\r'), "raw CR in {text:?}");
    for (i, _) in text.match_indices('&') {
        let entity = &text[i..text[i..].find(';').map_or(text.len(), |e| i + e + 1)];
        assert!(
            ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;", "&#10;", "&#13;", "&#9;"].contains(&entity),
            "bad entity {entity:?}"
        );
    }
}

fn unescape(text: &str) -> String {
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&#10;", "\n")
        .replace("&#13;", "\r")
        .replace("&#9;", "\t")
        .replace("&amp;", "&")
}

fn attr<'a>(attrs: &'a [(String, String)], key: &str) -> &'a str {
    attrs.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str()).unwrap_or_else(|| panic!("no {key}"))
}

#[test]
fn junit_counts() {
    let xml = fixed(OutputFormat::Junit, false);
    let elements = xml_elements(&xml);
    let names: Vec<&str> = elements.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.iter().filter(|n| **n == "testsuite").count(), 1);
    let suite = &elements[0];
    assert_eq!(suite.0, "testsuite");
    assert_eq!(attr(&suite.1, "name"), "weft validate");

    // Test cases: shop (3 errors), ok (clean), and the case for the other
    // files (the YAML error and the file-less unreadable error).
    let cases: Vec<&Vec<(String, String)>> = elements.iter().filter(|(n, _)| n == "testcase").map(|(_, a)| a).collect();
    assert_eq!(cases.len(), 3);
    assert_eq!(attr(cases[0], "classname"), "designs/app.yaml");
    assert_eq!(attr(cases[0], "name"), "shop");
    assert_eq!(attr(cases[1], "classname"), "manifests/ok.yaml");
    assert_eq!(attr(cases[1], "name"), "ok");
    assert_eq!(attr(&suite.1, "tests"), "3");
    assert_eq!(attr(&suite.1, "failures"), "2");

    let failures: Vec<&Vec<(String, String)>> =
        elements.iter().filter(|(n, _)| n == "failure").map(|(_, a)| a).collect();
    let errors = fixture::report().diagnostics.iter().filter(|d| d.is_error()).count();
    assert_eq!(failures.len(), errors, "one <failure> per error");
    assert_eq!(attr(failures[0], "type"), "duplicate-component-id");
    // Escaped and restored losslessly, line breaks included.
    assert_eq!(attr(failures[3], "message"), fixture::NASTY);
    assert_eq!(attr(failures[3], "type"), "yaml-syntax");

    // The failure's text is `file:line:col message`.
    assert!(xml.contains(">designs/app.yaml:7:9 component id"), "{xml}");
}

#[test]
fn junit_without_designs_or_problems() {
    let report = Report { files: 0, designs: vec![], diagnostics: vec![] };
    let xml = render(&report, OutputFormat::Junit, &Sources::default(), false);
    let elements = xml_elements(&xml);
    assert_eq!(elements.len(), 1);
    assert_eq!(attr(&elements[0].1, "tests"), "0");
    assert_eq!(attr(&elements[0].1, "failures"), "0");
}

#[test]
fn github_commands_and_escaping() {
    let out = fixed(OutputFormat::Github, false);
    let lines: Vec<&str> = out.lines().collect();
    let report = fixture::report();
    assert_eq!(lines.len(), report.diagnostics.len(), "one command per diagnostic and nothing else");
    assert_eq!(
        lines[0],
        "::error file=designs/app.yaml,line=7,col=9,title=duplicate-component-id::\
         component id `7d0c1f62-0000-4000-8000-000000000001` is also used by Deployment/web"
    );
    assert!(lines[3].starts_with("::warning file=designs/app.yaml,line=1,col=1,title=cycle::"));
    assert_eq!(
        lines[4],
        "::error file=manifests/broken.yaml,line=5,col=1,title=yaml-syntax::found unexpected end of stream \
         in a quoted scalar \"a: <started here> & 100%25 sure,%0D%0Asecond line"
    );
    assert!(lines[5].starts_with("::notice file=notes/readme.txt,"));
    assert_eq!(lines[6], "::error title=unreadable::cannot read `secrets/`: permission denied (os error 13)");

    // Properties escape `:` and `,` too.
    let odd = Report {
        files: 1,
        designs: vec![],
        diagnostics: vec![Diagnostic::new(&codes::SCHEMA, "100%\nbad").at("a,b/c:d%.yaml", None)],
    };
    let out = render(&odd, OutputFormat::Github, &Sources::default(), false);
    assert_eq!(out, "::error file=a%2Cb/c%3Ad%25.yaml,line=1,col=1,title=schema::100%25%0Abad\n");
}

#[test]
fn every_format_renders_an_empty_report() {
    let report = Report::default();
    for format in
        [OutputFormat::Text, OutputFormat::Json, OutputFormat::Sarif, OutputFormat::Junit, OutputFormat::Github]
    {
        let out = render(&report, format, &Sources::default(), false);
        if format != OutputFormat::Github {
            assert!(!out.is_empty());
        }
        if matches!(format, OutputFormat::Json | OutputFormat::Sarif) {
            let _: Value = serde_json::from_str(&out).unwrap();
        }
    }
}
