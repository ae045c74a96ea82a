//! Policy checks: Rego rules run on every component, conftest-style. The
//! best-practice pack ships in `policies/checks/`; teams add their own
//! modules with `--policies DIR` or `policies:` in weft.yaml.
//!
//! The contract (policies/README.md has the long form): `input` is one
//! Kubernetes object, `apiVersion` and `kind` included. weft evaluates the
//! `deny`, `violation` and `warn` rules of package `main` and every package
//! below it (for the shipped pack, `weft.checks.*`); other packages are
//! libraries. `deny_combined`, `violation_combined` and `warn_combined`
//! run once over every object (conftest's `--combine`). A result is a message, or an object
//! `{msg, code, path, severity}` whose `path` names the offending field so
//! the diagnostic points at its line.
//!
//! A module that fails to parse or to compile, or a rule that fails to
//! evaluate, is reported as `policy-error` at its position; every other
//! rule still runs.

use crate::design::{Component, Design};
use crate::diagnostic::{Diagnostic, Severity, codes};
use crate::load::source::Sources;
use crate::rego::{self, RegoError};
use regorus::languages::rego::compiler::Compiler;
use regorus::rvm::{Program, RegoVM};
use regorus::{Engine, Value as RegoValue};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The annotation that waives checks on one object: `weft.io/ignore: CODE[,CODE]`.
pub const IGNORE_ANNOTATION: &str = "weft.io/ignore";

/// Packages whose rules weft evaluates: conftest's default namespace for
/// users, `weft.checks` for the shipped pack.
const USER_PREFIX: &str = "data.main";
const SHIPPED_PREFIX: &str = "data.weft.checks";
const ENTRY_RULES: [(&str, Severity); 6] = [
    ("deny", Severity::Error),
    ("violation", Severity::Error),
    ("warn", Severity::Warning),
    // Evaluated once, with `input` every object (conftest's --combine).
    ("deny_combined", Severity::Error),
    ("violation_combined", Severity::Error),
    ("warn_combined", Severity::Warning),
];

/// The package weft generates to collect every entry rule in one query.
const COLLECTOR: &str = "weft-collector.rego";
/// The per-object entry point of the generated collector module.
const COLLECTOR_RESULTS: &str = "data.weft_collector.results";
/// The collector's per-object rules of the shipped pack and of the user.
const COLLECTOR_SHIPPED: &str = "data.weft_collector.shipped";
const COLLECTOR_USER: &str = "data.weft_collector.user";

macro_rules! shipped {
    ($($file:literal),* $(,)?) => {
        [$(( concat!("policies/checks/", $file), include_str!(concat!("../../policies/checks/", $file)) )),*]
    };
}

const SHIPPED: [(&str, &str); 9] = shipped!(
    "workloads.rego",
    "images.rego",
    "resources.rego",
    "probes.rego",
    "security.rego",
    "services.rego",
    "secrets.rego",
    "rbac.rego",
    "selectors.rego",
);

/// One Rego module: where it is shown from and its text.
#[derive(Clone, Debug)]
pub struct Module {
    pub display: String,
    pub text: String,
    pub shipped: bool,
}

/// The best-practice pack built into weft.
pub fn shipped_modules() -> Vec<Module> {
    SHIPPED.iter().map(|(display, text)| Module { display: (*display).into(), text: (*text).into(), shipped: true }).collect()
}

/// The `.rego` files below `dirs` (tests, `*_test.rego`, are skipped as
/// conftest and opa skip them), in path order.
pub fn user_modules(dirs: &[PathBuf]) -> (Vec<Module>, Vec<Diagnostic>) {
    let mut modules = Vec::new();
    let mut diagnostics = Vec::new();
    for dir in dirs {
        if !dir.exists() {
            diagnostics.push(Diagnostic::new(&codes::POLICY_ERROR, format!("policy directory {} does not exist", dir.display())));
            continue;
        }
        let mut files: Vec<PathBuf> = ignore::WalkBuilder::new(dir)
            .standard_filters(false)
            .build()
            .filter_map(Result::ok)
            .map(ignore::DirEntry::into_path)
            .filter(|p| p.extension().is_some_and(|e| e == "rego") && !p.to_string_lossy().ends_with("_test.rego"))
            .collect();
        files.sort();
        for path in files {
            let display = crate::load::display_path(&path);
            match std::fs::read_to_string(&path) {
                Ok(text) => modules.push(Module { display, text, shipped: false }),
                Err(e) => diagnostics.push(Diagnostic::new(&codes::POLICY_ERROR, format!("cannot read policy: {e}")).at(display, None)),
            }
        }
    }
    (modules, diagnostics)
}

/// A rule weft evaluates: `data.<package>.<rule>`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    package: String,
    rule: &'static str,
    severity: Severity,
    /// The module that declares it, for errors without a position.
    module: String,
    shipped: bool,
}

impl Entry {
    fn combined(&self) -> bool {
        self.rule.ends_with("_combined")
    }
    fn path(&self) -> String {
        format!("{}.{}", self.package, self.rule)
    }
    /// The code of results that name none: the package, without `data.`.
    fn default_code(&self) -> &str {
        self.package.strip_prefix("data.").unwrap_or(&self.package)
    }
}

/// An engine holding the modules that compiled, and the rules to run:
/// per object, and once over every object.
struct Prepared {
    engine: Engine,
    /// Per-object rules of the shipped pack, compiled for regorus's
    /// virtual machine (about four times faster than the interpreter).
    /// The machine treats a rule that fails as undefined; users' rules stay
    /// on the interpreter so that their failures are reported.
    machine: Option<(Arc<Program>, Vec<Entry>)>,
    /// Per-object rules the interpreter runs.
    interpreted: Vec<Entry>,
    time_limit: Duration,
    combined: Vec<Entry>,
}

impl Prepared {
    fn new(engine: Engine, all: Vec<Entry>, options: &Options) -> Self {
        let (combined, per_object): (Vec<Entry>, Vec<Entry>) = all.into_iter().partition(Entry::combined);
        let (shipped, user): (Vec<Entry>, Vec<Entry>) = per_object.iter().cloned().partition(|e| e.shipped);
        let program = if options.machine && !shipped.is_empty() { compile(&engine) } else { None };
        let (machine, interpreted) = match program {
            Some(program) => (Some((program, shipped)), user),
            None => (None, per_object),
        };
        Prepared { engine, machine, interpreted, time_limit: options.time_limit, combined }
    }

    /// A virtual machine loaded with the shipped collector, if it compiled.
    fn machine(&self) -> Option<(RegoVM, &[Entry])> {
        let (program, entries) = self.machine.as_ref()?;
        let mut machine = RegoVM::new();
        machine.load_program(Arc::clone(program));
        machine.set_execution_timer_config(Some(rego::timer(self.time_limit)));
        // Builtins that fail raise an error, which sends the object to the
        // interpreter, the reference.
        machine.set_strict_builtin_errors(true);
        Some((machine, entries))
    }

    fn has_per_object_rules(&self) -> bool {
        self.machine.is_some() || !self.interpreted.is_empty()
    }

    /// The interpreter's collector: the user's rules when the machine runs
    /// the pack, else every per-object rule.
    fn interpreted_query(&self) -> &'static str {
        if self.machine.is_some() { COLLECTOR_USER } else { COLLECTOR_RESULTS }
    }
}

/// Whether the shipped pack runs on the virtual machine (for the tests
/// that hold it to the interpreter's results).
pub fn runs_on_machine(modules: &[Module]) -> bool {
    let options = Options::default();
    prepare(modules, &options, &mut Vec::new()).is_some_and(|p| p.machine.is_some())
}

fn compile(engine: &Engine) -> Option<Arc<Program>> {
    let mut engine = engine.clone();
    let policy = engine.compile_with_entrypoint(&COLLECTOR_SHIPPED.into()).ok()?;
    Compiler::compile_from_policy(&policy, &[COLLECTOR_SHIPPED]).ok()
}

pub struct Options {
    pub time_limit: Duration,
    /// Run per-object rules on regorus's virtual machine where they
    /// compile for it (`false`: the interpreter only, the reference the
    /// tests compare the machine against).
    pub machine: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { time_limit: rego::DEFAULT_TIME_LIMIT, machine: true }
    }
}

/// Runs `modules` on every component of `designs`.
pub fn check(designs: &[Design], sources: &Sources, modules: &[Module], options: &Options) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    let Some(prepared) = prepare(modules, options, &mut diagnostics) else { return diagnostics };
    let components: Vec<(&Design, &Component)> = designs
        .iter()
        .flat_map(|d| d.components.iter().map(move |c| (d, c)))
        .filter(|(_, c)| !c.is_annotation && !c.ignored)
        .collect();
    use rayon::prelude::*;
    let chunk = components.len().div_ceil(rayon::current_num_threads().max(1) * 4).max(1);
    let per_object = if prepared.has_per_object_rules() { &components[..] } else { &[][..] };
    let mut found: Vec<(Vec<Diagnostic>, Vec<(Entry, RegoError)>)> = per_object
        .par_chunks(chunk)
        .map(|chunk| {
            let mut engine = prepared.engine.clone();
            let mut machine = prepared.machine();
            let mut found = Vec::new();
            let mut failures = Vec::new();
            for (design, component) in chunk {
                let at = |_: &Value| Some((*design, *component));
                let input = RegoValue::from(component.object());
                if let Some((machine, entries)) = machine.as_mut() {
                    machine.set_input(input.clone());
                    match machine.execute_entry_point_by_index(0) {
                        Ok(results) => collect(entries, &results, &at, sources, &mut found),
                        // The interpreter decides and reports what failed.
                        Err(_) => {
                            engine.set_input(input.clone());
                            rule_by_rule(&mut engine, entries, &at, sources, &mut found, &mut failures);
                        }
                    }
                }
                if prepared.interpreted.is_empty() {
                    continue;
                }
                engine.set_input(input);
                match engine.eval_rule(prepared.interpreted_query().into()) {
                    Ok(results) => collect(&prepared.interpreted, &results, &at, sources, &mut found),
                    // One rule failed: run them one by one to keep the rest
                    // and to know which.
                    Err(_) => rule_by_rule(&mut engine, &prepared.interpreted, &at, sources, &mut found, &mut failures),
                }
            }
            (found, failures)
        })
        .collect();
    if !prepared.combined.is_empty() {
        found.push(check_combined(&prepared, &components, sources));
    }
    let mut reported = BTreeSet::new();
    for (found, failures) in found {
        diagnostics.extend(found);
        for (entry, error) in failures {
            if reported.insert(entry.path()) {
                diagnostics.push(policy_error(&error, &entry.module, &format!("{} failed: ", entry.path())));
            }
        }
    }
    diagnostics
}

/// Evaluates `entries` one at a time on the current input, keeping the
/// results of those that succeed and the errors of those that fail.
fn rule_by_rule<'a>(
    engine: &mut Engine,
    entries: &[Entry],
    at: &dyn Fn(&Value) -> Option<(&'a Design, &'a Component)>,
    sources: &Sources,
    found: &mut Vec<Diagnostic>,
    failures: &mut Vec<(Entry, RegoError)>,
) {
    for entry in entries {
        match engine.eval_rule(entry.path()) {
            Ok(value) => collect(std::slice::from_ref(entry), &RegoValue::from(vec![value]), at, sources, found),
            Err(error) => failures.push((entry.clone(), RegoError::parse(&error))),
        }
    }
}

/// Loads the modules that compile, reporting the others, and finds the
/// entry rules. `None` when nothing is left to run.
fn prepare(modules: &[Module], options: &Options, diagnostics: &mut Vec<Diagnostic>) -> Option<Prepared> {
    let mut kept: Vec<&Module> = Vec::new();
    for module in modules {
        // Parse alone first: a syntax error names its module exactly.
        let mut probe = rego::engine(options.time_limit);
        match probe.add_policy(module.display.clone(), module.text.clone()) {
            Ok(_) => kept.push(module),
            Err(error) => diagnostics.push(policy_error(&RegoError::parse(&error), &module.display, "")),
        }
    }
    // Compile errors (an unknown function, a conflicting rule) show only
    // when the modules are prepared together: drop the module they name and
    // try again, each time with one module fewer.
    loop {
        let mut engine = rego::engine(options.time_limit);
        let mut entries = Vec::new();
        for module in &kept {
            let package = engine.add_policy(module.display.clone(), module.text.clone()).expect("parsed above");
            let evaluated = if module.shipped { is_below(&package, SHIPPED_PREFIX) } else { is_below(&package, USER_PREFIX) };
            if !evaluated {
                continue;
            }
            for (rule, severity) in ENTRY_RULES {
                if engine.has_declared_rule_rooted_at(&module.display, rule).unwrap_or(false) {
                    entries.push(Entry {
                        package: package.clone(),
                        rule,
                        severity,
                        module: module.display.clone(),
                        shipped: module.shipped,
                    });
                }
            }
        }
        entries.sort();
        entries.dedup_by(|a, b| a.package == b.package && a.rule == b.rule);
        if entries.is_empty() {
            return None;
        }
        // A complete rule (`deny := ...`) may be undefined; a default keeps
        // the others' results.
        let mut collector = String::from("package weft_collector\n\n");
        for (i, entry) in entries.iter().enumerate() {
            collector.push_str(&format!("default r{i} := set()\n\nr{i} := {}\n\n", entry.path()));
        }
        let list = |keep: &dyn Fn(&Entry) -> bool| {
            entries.iter().enumerate().filter(|(_, e)| keep(e)).map(|(i, _)| format!("r{i}")).collect::<Vec<_>>().join(", ")
        };
        collector.push_str(&format!(
            "results := [{}]\n\nshipped := [{}]\n\nuser := [{}]\n",
            list(&|e| !e.combined()),
            list(&|e| !e.combined() && e.shipped),
            list(&|e| !e.combined() && !e.shipped),
        ));
        engine.add_policy(COLLECTOR.into(), collector).expect("the collector is well-formed");
        // Preparing happens on the first evaluation; an empty object is an
        // input every policy must cope with.
        engine.set_input(RegoValue::from(serde_json::json!({})));
        let Err(error) = engine.eval_rule(COLLECTOR_RESULTS.into()) else {
            return Some(Prepared::new(engine, entries, options));
        };
        let error = RegoError::parse(&error);
        let culprit = error.file.as_ref().and_then(|file| kept.iter().position(|m| &m.display == file));
        match culprit {
            Some(index) => {
                diagnostics.push(policy_error(&error, &kept[index].display, ""));
                kept.remove(index);
            }
            // A failure on empty input that names no module (or names the
            // collector) is a runtime error of some rule: let the per-rule
            // evaluation find it component by component.
            None => return Some(Prepared::new(engine, entries, options)),
        }
    }
}

/// `package` is `prefix` or a package below it.
fn is_below(package: &str, prefix: &str) -> bool {
    package == prefix || package.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
}

fn policy_error(error: &RegoError, module: &str, prefix: &str) -> Diagnostic {
    let file = error.file.clone().unwrap_or_else(|| module.to_owned());
    let span = (error.line > 0).then_some(crate::diagnostic::Span { line: error.line, column: error.column.max(1), len: 0 });
    Diagnostic::new(&codes::POLICY_ERROR, format!("{prefix}{}", error.message)).at(file, span)
}

/// The `*_combined` rules, evaluated once with `input` every object as
/// `{path, id, contents}` (conftest's --combine shape plus the component
/// id). A result names its object by `object` (index into `input`) or `id`.
fn check_combined(
    prepared: &Prepared,
    components: &[(&Design, &Component)],
    sources: &Sources,
) -> (Vec<Diagnostic>, Vec<(Entry, RegoError)>) {
    let mut engine = prepared.engine.clone();
    let input: Vec<Value> = components
        .iter()
        .map(|(d, c)| serde_json::json!({"path": d.file, "id": c.id, "contents": c.object()}))
        .collect();
    engine.set_input(RegoValue::from(Value::Array(input)));
    let by_id: std::collections::HashMap<&str, usize> = components.iter().enumerate().map(|(i, (_, c))| (c.id.as_str(), i)).collect();
    let locate = |item: &Value| -> Option<(&Design, &Component)> {
        let index = match (item.get("object").and_then(Value::as_u64), item.get("id").and_then(Value::as_str)) {
            (Some(i), _) => i as usize,
            (None, Some(id)) => *by_id.get(id)?,
            _ => return None,
        };
        components.get(index).copied()
    };
    let mut found = Vec::new();
    let mut failures = Vec::new();
    rule_by_rule(&mut engine, &prepared.combined, &locate, sources, &mut found, &mut failures);
    (found, failures)
}

/// Turns collected results into diagnostics, each at the component
/// `locate` finds for it (for a per-object rule, always the object).
fn collect<'a>(
    entries: &[Entry],
    results: &RegoValue,
    locate: &dyn Fn(&Value) -> Option<(&'a Design, &'a Component)>,
    sources: &Sources,
    out: &mut Vec<Diagnostic>,
) {
    let Ok(results) = results.as_array() else { return };
    for (entry, found) in entries.iter().zip(results.iter()) {
        let items: Vec<&RegoValue> = match found {
            RegoValue::Set(items) => items.iter().collect(),
            RegoValue::Array(items) => items.iter().collect(),
            _ => continue,
        };
        for item in items {
            let Ok(item) = serde_json::from_str::<Value>(&item.to_json_str().unwrap_or_default()) else { continue };
            let (message, code, path, severity) = match &item {
                Value::String(message) => (message.clone(), None, None, None),
                Value::Object(fields) => (
                    fields.get("msg").or_else(|| fields.get("message")).and_then(Value::as_str).unwrap_or("policy violation").to_owned(),
                    fields.get("code").and_then(Value::as_str).map(str::to_owned),
                    fields.get("path").map(path_segments),
                    fields.get("severity").and_then(|s| serde_json::from_value::<Severity>(s.clone()).ok()),
                ),
                other => (other.to_string(), None, None, None),
            };
            let code = code.unwrap_or_else(|| entry.default_code().to_owned());
            let diagnostic = Diagnostic::dynamic(&code, severity.unwrap_or(entry.severity), message);
            out.push(match locate(&item) {
                Some((design, component)) => {
                    let origin = path.as_deref().map_or_else(|| component.origin.clone(), |p| component.field_origin(p));
                    diagnostic.at(&design.file, Some(sources.locate_origin(&origin))).component(component.display())
                }
                None => diagnostic,
            });
        }
    }
}

/// A result's `path`: an array of keys and indices, a JSON pointer
/// (`/spec/containers/0`) or a dotted path (`spec.containers[0].image`).
fn path_segments(path: &Value) -> Vec<String> {
    match path {
        Value::Array(items) => items
            .iter()
            .map(|s| match s {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        Value::String(s) if s.starts_with('/') => {
            s[1..].split('/').map(|p| p.replace("~1", "/").replace("~0", "~")).collect()
        }
        Value::String(s) => s
            .split('.')
            .flat_map(|part| part.split(['[', ']']))
            .filter(|p| !p.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// Drops the diagnostics an object waives with `weft.io/ignore: CODE[,CODE]`.
pub fn apply_waivers(diagnostics: &mut Vec<Diagnostic>, designs: &[Design]) {
    let mut waived: HashMap<String, Vec<String>> = HashMap::new();
    for component in designs.iter().flat_map(|d| &d.components) {
        let Some(codes) = component
            .configuration
            .pointer(&format!("/metadata/annotations/{}", IGNORE_ANNOTATION.replace('/', "~1")))
            .and_then(Value::as_str)
        else {
            continue;
        };
        waived
            .entry(component.display())
            .or_default()
            .extend(codes.split(',').map(str::trim).filter(|c| !c.is_empty()).map(str::to_owned));
    }
    if waived.is_empty() {
        return;
    }
    diagnostics.retain(|d| {
        let Some(codes) = d.component.as_ref().and_then(|c| waived.get(c)) else { return true };
        !codes.iter().any(|c| c == d.code)
    });
}

/// Directories named in weft.yaml are relative to the repo root.
pub fn config_dirs(root: &Path, dirs: &[String]) -> Vec<PathBuf> {
    dirs.iter().map(|d| root.join(d)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_in_three_spellings() {
        let expected = vec!["spec", "containers", "0", "image"];
        assert_eq!(path_segments(&serde_json::json!(["spec", "containers", 0, "image"])), expected);
        assert_eq!(path_segments(&serde_json::json!("/spec/containers/0/image")), expected);
        assert_eq!(path_segments(&serde_json::json!("spec.containers[0].image")), expected);
    }

    #[test]
    fn packages_below_a_prefix() {
        assert!(is_below("data.main", USER_PREFIX));
        assert!(is_below("data.main.naming", USER_PREFIX));
        assert!(!is_below("data.mainly", USER_PREFIX));
        assert!(!is_below("data.lib", USER_PREFIX));
    }
}
