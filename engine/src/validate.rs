//! Stage 3: validation. Each component against its kind's schema from the
//! model registry, plus the checks a schema cannot express: unknown kinds,
//! names Kubernetes would reject, namespaces on cluster-scoped kinds.
//! Diagnostics point at the offending field, not at the document.

use crate::design::{Component, Design, Origin};
use crate::diagnostic::{Diagnostic, Severity, codes};
use crate::load::source::Sources;
use crate::load::yaml;
use crate::model::{ComponentDef, Registry, Resolution};
use rayon::prelude::*;

#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Unknown models, kinds and versions are warnings instead of errors.
    pub allow_unknown: bool,
}

/// Schema errors shown per component; past this a count is reported.
const MAX_SCHEMA_ERRORS: usize = 20;

pub fn validate(
    designs: &[Design],
    sources: &Sources,
    registry: &Registry,
    options: Options,
    progress: &crate::progress::Progress,
) -> Vec<Diagnostic> {
    let mut diagnostics = register_repo_crds(designs, sources, registry);
    let components: Vec<(&Design, &Component)> = designs
        .iter()
        .flat_map(|d| d.components.iter().map(move |c| (d, c)))
        .filter(|(_, c)| !c.is_annotation)
        .collect();
    progress.stage("validating", components.len());
    let found: Vec<Vec<Diagnostic>> = components
        .par_iter()
        .map(|(design, component)| {
            let found = Checker { design, component, sources, registry, options }.run();
            progress.inc();
            found
        })
        .collect();
    diagnostics.extend(found.into_iter().flatten());
    diagnostics
}

/// CRDs committed in the repo define kinds its other files may use, so they
/// are registered before anything is validated.
fn register_repo_crds(designs: &[Design], sources: &Sources, registry: &Registry) -> Vec<Diagnostic> {
    let mut diagnostics = Vec::new();
    for design in designs {
        for component in &design.components {
            if component.kind != "CustomResourceDefinition" || component.group() != "apiextensions.k8s.io" {
                continue;
            }
            let mut object = component.configuration.clone();
            if let Some(map) = object.as_object_mut() {
                map.insert("apiVersion".into(), component.api_version.clone().into());
                map.insert("kind".into(), component.kind.clone().into());
            }
            if let Err(message) = registry.add_crd(&object) {
                diagnostics.push(
                    Diagnostic::new(&codes::MODEL_INVALID, format!("cannot use this CRD's schema: {message}"))
                        .severity(Severity::Warning)
                        .at(&design.file, Some(sources.locate_origin(&component.origin)))
                        .component(component.display()),
                );
            }
        }
    }
    diagnostics
}


struct Checker<'a> {
    design: &'a Design,
    component: &'a Component,
    sources: &'a Sources,
    registry: &'a Registry,
    options: Options,
}

impl Checker<'_> {
    fn diagnostic(&self, code: &'static crate::diagnostic::Code, message: String, origin: &Origin) -> Diagnostic {
        Diagnostic::new(code, message)
            .at(&self.design.file, Some(self.sources.locate_origin(origin)))
            .component(self.component.display())
    }

    fn unknown(&self, code: &'static crate::diagnostic::Code, message: String, origin: &Origin) -> Diagnostic {
        let diagnostic = self.diagnostic(code, message, origin);
        if self.options.allow_unknown { diagnostic.severity(Severity::Warning) } else { diagnostic }
    }

    fn run(self) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        let c = self.component;
        if let Some(model) = &c.model
            && !self.registry.has_model(model) {
                out.push(self.unknown(&codes::UNKNOWN_MODEL, format!("unknown model `{model}`"), &c.origin));
                return out;
            }
        match self.registry.resolve(&c.api_version, &c.kind) {
            Resolution::Found(def) => {
                self.check_schema(&def, &mut out);
                self.check_name(&def, &mut out);
                self.check_scope(&def, &mut out);
            }
            Resolution::UnknownVersion { known } => {
                let d = self.unknown(
                    &codes::UNKNOWN_VERSION,
                    format!("{} is not served at apiVersion `{}`", c.kind, c.api_version),
                    &c.kind_origin,
                );
                out.push(d.hint(format!("known versions of {}: {}", c.kind, known.join(", "))));
            }
            Resolution::UnknownKind => match &c.inline_schema {
                Some(schema) => self.check_inline_schema(schema, &mut out),
                None => {
                    let mut d = self.unknown(
                        &codes::UNKNOWN_KIND,
                        match c.api_version.as_str() {
                            "" => format!("unknown kind `{}`", c.kind),
                            v => format!("unknown kind `{}` ({v})", c.kind),
                        },
                        &c.kind_origin,
                    );
                    if let Some(known) = self.registry.suggest_kind(&c.kind) {
                        d = d.hint(format!("did you mean `{known}`?"));
                    }
                    out.push(d);
                }
            },
        }
        out
    }

    fn check_schema(&self, def: &ComponentDef, out: &mut Vec<Diagnostic>) {
        match self.registry.validator(def) {
            Ok(validator) => self.report_schema_errors(&validator, out),
            Err(message) => out.push(self.diagnostic(
                &codes::MODEL_INVALID,
                format!("the schema of {} {} does not compile: {message}", def.api_version, def.kind),
                &self.component.origin,
            )),
        }
    }

    fn check_inline_schema(&self, schema: &str, out: &mut Vec<Diagnostic>) {
        match self.registry.inline_validator(schema) {
            Ok(validator) => self.report_schema_errors(&validator, out),
            Err(message) => out.push(self.diagnostic(
                &codes::MODEL_INVALID,
                format!("component.schema is not a usable JSON schema: {message}"),
                &self.component.origin.child("/component/schema"),
            )),
        }
    }

    fn report_schema_errors(&self, validator: &jsonschema::Validator, out: &mut Vec<Diagnostic>) {
        let c = self.component;
        let mut errors = validator.iter_errors(&c.configuration);
        for error in errors.by_ref().take(MAX_SCHEMA_ERRORS) {
            let path = error.instance_path().to_string();
            let origin = c.configuration_origin.child(&path);
            let at = if path.is_empty() { String::new() } else { format!(" at {}", path) };
            // A Secret's values never reach a report: neither in the message nor as the quoted line.
            let secret = c.kind == "Secret" && matches!(c.api_version.as_str(), "v1" | "") && (path.starts_with("/data/") || path.starts_with("/stringData/"));
            let written = self.sources.scalar_text(origin.source, origin.doc, &origin.pointer).filter(|_| !secret);
            let hint = match written.filter(|w| yaml::is_implicitly_typed(w)) {
                Some(word) => format!(
                    "YAML reads the plain `{word}` as a {}, as Kubernetes does; quote it (\"{word}\") if you mean text",
                    yaml::implicit_type_name(word)
                ),
                None => format!("`weft model show {}` prints the fields {} accepts", c.kind, c.kind),
            };
            let message = if secret { format!("{}{at}", error.to_string().replace(&error.instance().to_string(), "(secret value)")) } else { format!("{error}{at}") };
            let mut diagnostic = self.diagnostic(&codes::SCHEMA, message, &origin).hint(hint);
            diagnostic.sensitive = secret;
            out.push(diagnostic);
        }
        let rest = errors.count();
        if rest > 0 {
            out.push(self.diagnostic(
                &codes::SCHEMA,
                format!("{rest} more schema errors in this component"),
                &c.configuration_origin,
            ));
        }
    }

    fn check_name(&self, def: &ComponentDef, out: &mut Vec<Diagnostic>) {
        let c = self.component;
        let rule = name_rule(&def.kind);
        // A generateName prefix is valid when the name it starts is.
        let name = if c.has_generated_name() { c.name.trim_end_matches('-') } else { c.name.as_str() };
        let checked = if name.is_empty() && c.has_generated_name() { Ok(()) } else { rule.check(name) };
        if let Err(why) = checked {
            out.push(
                self.diagnostic(&codes::INVALID_NAME, format!("{} name `{}` {why}", c.kind, c.name), &c.name_origin)
                    .hint(rule.hint()),
            );
        }
        if let Some(namespace) = &c.namespace
            && let Err(why) = NameRule::Label.check(namespace) {
                out.push(
                    self.diagnostic(
                        &codes::INVALID_NAME,
                        format!("namespace `{namespace}` {why}"),
                        &c.namespace_origin,
                    )
                    .hint(NameRule::Label.hint()),
                );
            }
    }

    fn check_scope(&self, def: &ComponentDef, out: &mut Vec<Diagnostic>) {
        let c = self.component;
        if !def.namespaced && c.namespace.is_some() {
            out.push(self.diagnostic(
                &codes::NAMESPACE_ON_CLUSTER_SCOPED,
                format!("{} is cluster-scoped but sets namespace `{}`", c.kind, c.namespace.as_deref().unwrap_or("")),
                &c.namespace_origin,
            ));
        }
    }
}

/// The name rules the API server applies (apimachinery's validation).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 label: at most 63 characters, `[a-z0-9-]`, alphanumeric at both ends.
    Label,
    /// RFC 1035 label: an RFC 1123 label that starts with a letter (Services,
    /// whose names become DNS names).
    Dns1035Label,
    /// RFC 1123 subdomain: at most 253 characters, labels joined by dots.
    Subdomain,
    /// RBAC objects only forbid what cannot be a URL path segment.
    PathSegment,
}

pub fn name_rule(kind: &str) -> NameRule {
    match kind {
        "Namespace" => NameRule::Label,
        "Service" => NameRule::Dns1035Label,
        "Role" | "ClusterRole" | "RoleBinding" | "ClusterRoleBinding" => NameRule::PathSegment,
        _ => NameRule::Subdomain,
    }
}

impl NameRule {
    pub fn check(self, name: &str) -> Result<(), &'static str> {
        if name.is_empty() {
            return Err("is empty");
        }
        match self {
            NameRule::PathSegment => {
                if name == "." || name == ".." {
                    Err("may not be `.` or `..`")
                } else if name.contains(['/', '%']) {
                    Err("may not contain `/` or `%`")
                } else {
                    Ok(())
                }
            }
            NameRule::Label | NameRule::Dns1035Label => {
                if name.len() > 63 {
                    return Err("is longer than 63 characters");
                }
                if self == NameRule::Dns1035Label && !name.as_bytes()[0].is_ascii_lowercase() {
                    return Err("must start with a lower-case letter");
                }
                check_label(name)
            }
            NameRule::Subdomain => {
                if name.len() > 253 {
                    return Err("is longer than 253 characters");
                }
                name.split('.').try_for_each(check_label)
            }
        }
    }

    fn hint(self) -> &'static str {
        match self {
            NameRule::Label => "use at most 63 lower-case letters, digits and '-', starting and ending with a letter or digit",
            NameRule::Dns1035Label => "use at most 63 lower-case letters, digits and '-', starting with a letter and ending with a letter or digit",
            NameRule::Subdomain => "use lower-case letters, digits, '-' and '.', each part starting and ending with a letter or digit, at most 253 characters",
            NameRule::PathSegment => "remove '/' and '%' from the name",
        }
    }
}

fn check_label(label: &str) -> Result<(), &'static str> {
    let bytes = label.as_bytes();
    if bytes.is_empty() {
        return Err("has an empty part between dots");
    }
    if !bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-') {
        return Err("must consist of lower-case letters, digits and '-'");
    }
    if !bytes[0].is_ascii_alphanumeric() || !bytes[bytes.len() - 1].is_ascii_alphanumeric() {
        return Err("must start and end with a letter or digit");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(NameRule::Subdomain.check("web-1.example").is_ok());
        assert!(NameRule::Subdomain.check("Web").is_err());
        assert!(NameRule::Subdomain.check("web_1").is_err());
        assert!(NameRule::Subdomain.check("-web").is_err());
        assert!(NameRule::Subdomain.check("a..b").is_err());
        assert!(NameRule::Label.check("a.b").is_err());
        assert!(NameRule::Label.check(&"a".repeat(64)).is_err());
        assert!(NameRule::Subdomain.check(&"a".repeat(253)).is_ok());
        assert!(NameRule::Subdomain.check(&"a".repeat(254)).is_err());
        assert!(NameRule::PathSegment.check("system:controller:foo").is_ok());
        assert!(NameRule::PathSegment.check("a/b").is_err());
        assert_eq!(name_rule("Service"), NameRule::Dns1035Label);
        assert!(NameRule::Dns1035Label.check("1web").is_err());
        assert!(NameRule::Label.check("1web").is_ok());
    }
}
