//! Test settings from what users write: SMP test configurations and Meshery
//! performance profiles (`weft perf run -f FILE`, YAML or JSON), and
//! `PerformanceTest` components of a design (`from_component`).
//!
//! - **SMP test configuration** (`PerformanceTestConfig`, as `mesheryctl
//!   perf apply -f` reads it): `test: {name, labels, clients: [{protocol,
//!   connections, rps, headers, cookies, body, content_type,
//!   endpoint_urls, load_generator}], duration}` and `mesh: {type}` (a
//!   bare `PerformanceTestConfig`, `clients` at the top, is read too).
//!   One client with one endpoint URL: weft runs one generator against one
//!   URL per test, and says so rather than dropping the others.
//! - **Meshery performance profile**: `name`, `endpoints`, `qps`,
//!   `concurrentRequest`, `duration`, `requestHeaders`, `requestCookies`
//!   (a map, or a JSON object in a string as Meshery stores them),
//!   `requestBody`, `contentType`, `loadGenerators`, `serviceMesh`,
//!   `metadata` (its text values become labels); the fields Meshery's
//!   server manages (`id`, `owner`, `createdAt`, …) are ignored.
//! - **`PerformanceTest`** (`perf.weft.dev/v1alpha1`, the `weft` model):
//!   the spec documented in `models/sources/crds/weft-v0.1.0.yaml`. A file
//!   holding one is read too; its Service target is then left for `--url`.
//!
//! Every field is accepted in snake_case and camelCase; durations are Go
//! durations (`30s`, `1h30m`, `250ms`). As fortio does for Meshery, a body
//! turns the default method into POST. Errors name the field and, for
//! files, its `file:line:column`.

use super::{Settings, percentile_of};
use crate::load::yaml::{self, Node};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Display;
use std::path::Path;
use std::time::Duration;

/// Reads an SMP test configuration (`test: {clients, duration, …}`), a
/// Meshery performance profile (`qps`, `concurrentRequest`, …) or a
/// `PerformanceTest` object, YAML or JSON.
pub fn from_file(path: &Path) -> Result<Settings, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    from_text(&path.display().to_string(), &text)
}

/// `from_file` on text already read; `file` labels the errors.
pub fn from_text(file: &str, text: &str) -> Result<Settings, String> {
    let docs = yaml::parse_stream(file, text, &yaml::Limits::default()).map_err(|d| match d.span {
        Some(span) => format!("{file}:{}:{}: {}", span.line, span.column, d.message),
        None => format!("{file}: {}", d.message),
    })?;
    let root = match docs.as_slice() {
        [] => return Err(format!("{file}: the file is empty; {NEITHER}")),
        [root] => root,
        [_, second, ..] => {
            return Err(format!(
                "{file}:{}:{}: a second YAML document; a test file holds one test",
                second.span.line, second.span.column
            ));
        }
    };
    let value = root.to_json();
    let reader = Reader { at: Where::File { file, root }, lenient: true };
    let Value::Object(top) = &value else {
        return Err(reader.error("", format!("found {}; {NEITHER}", kind_of(&value))));
    };
    if top.contains_key("test") || top.contains_key("clients") {
        reader.smp(&value)
    } else if top.get("kind").and_then(Value::as_str) == Some("PerformanceTest") {
        let name = value.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("perf");
        let spec = top.get("spec").unwrap_or(&Value::Null);
        let mut settings = reader.performance_test(name, spec, "/spec", None, None)?;
        settings.labels = reader.string_map_at(value.pointer("/metadata/labels"), "/metadata/labels")?.into_iter().collect();
        Ok(settings)
    } else if top.keys().any(|k| PROFILE_MARKS.contains(&snake(k).as_str())) {
        reader.profile(&value)
    } else {
        Err(reader.error("", NEITHER))
    }
}

/// Settings of a `PerformanceTest` component named `name`. `spec` is the
/// component's `spec`, or its whole configuration (`{metadata, spec}`),
/// from which the namespace and labels are taken too.
///
/// A Service target becomes a URL through `resolve_service(namespace,
/// name, port)`, which answers a base URL (`http://10.0.0.7:8080`, or a
/// port-forward's `http://127.0.0.1:41234`) or None when the Service
/// cannot be reached. The namespace is `target.service.namespace`, else
/// the configuration's `metadata.namespace`, else "" (the caller's: the
/// namespace the test lands in). `port` is as written, a number or a
/// name. The target's `scheme` replaces the base URL's and its `path`
/// (default `/`) is appended.
pub fn from_component(
    name: &str,
    spec: &Value,
    resolve_service: &dyn Fn(&str, &str, &Value) -> Option<String>,
) -> Result<Settings, String> {
    let reader = Reader { at: Where::Component { name }, lenient: false };
    let (spec, namespace, labels) = match spec.get("spec") {
        Some(inner) if inner.is_object() => {
            let labels = reader.string_map_at(spec.pointer("/metadata/labels"), "/metadata/labels")?;
            (inner, spec.pointer("/metadata/namespace").and_then(Value::as_str), labels)
        }
        _ => (spec, None, Vec::new()),
    };
    let mut settings = reader.performance_test(name, spec, "/spec", namespace, Some(resolve_service))?;
    settings.labels = labels.into_iter().collect();
    Ok(settings)
}

/// A Go duration (`time.ParseDuration`): `300ms`, `1.5h`, `2h45m`, `0`.
/// Units: ns, us (µs), ms, s, m, h; a sign is refused (a test's times are
/// positive).
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("`{text}` is not a Go duration (a number and a unit: 30s, 5m, 1h30m, 250ms)");
    let s = text.trim();
    if s == "0" {
        return Ok(Duration::ZERO);
    }
    if s.starts_with(['-', '+']) {
        return Err(format!("`{text}`: a duration here cannot have a sign"));
    }
    let mut rest = s;
    let mut seconds = 0.0f64;
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let (number, after) = rest.split_at(digits);
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(bad());
        }
        let value: f64 = number.parse().map_err(|_| bad())?;
        let unit_len = after.find(|c: char| c.is_ascii_digit() || c == '.').unwrap_or(after.len());
        let (unit, after) = after.split_at(unit_len);
        let scale = match unit {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "" => return Err(format!("`{text}`: `{number}` needs a unit (ns, us, ms, s, m, h)")),
            other => return Err(format!("`{text}`: unknown unit `{other}` (ns, us, ms, s, m, h)")),
        };
        seconds += value * scale;
        rest = after;
    }
    // As the command line's durations: a test's times add up to deadlines
    // (Instant + Duration), which must not overflow.
    Duration::try_from_secs_f64(seconds).ok().filter(|d| d.as_secs() < MAX_DURATION_SECS).ok_or_else(|| format!("`{text}` is too long a duration"))
}

/// Ten years: longer than any test, short enough that deadlines built
/// from several durations cannot overflow.
const MAX_DURATION_SECS: u64 = 10 * 365 * 86_400;

/// `10%` → 0.1, `0.1` → 0.1.
pub fn parse_ratio(text: &str) -> Result<f64, String> {
    let value = match text.trim().strip_suffix('%') {
        Some(percent) => percent.trim().parse::<f64>().map(|p| p / 100.0),
        None => text.trim().parse::<f64>(),
    }
    .map_err(|_| format!("`{text}` is not a ratio (10% or 0.1)"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("`{text}` must be a positive ratio"));
    }
    Ok(value)
}

const NEITHER: &str = "expected an SMP test configuration (`test:` with `clients` and `duration`), a Meshery performance profile (`endpoints`, `qps`, `concurrentRequest`, `duration`) or a PerformanceTest";

/// Fields of which one marks a file as a Meshery performance profile.
const PROFILE_MARKS: &[&str] = &["endpoints", "qps", "concurrent_request", "duration", "load_generators", "request_headers", "request_body"];

const SMP_ROOT: &[&str] = &["test", "mesh"];
const SMP_TEST: &[&str] = &["smp_version", "id", "name", "labels", "clients", "duration"];
const SMP_CLIENT: &[&str] = &[
    "internal",
    "load_generator",
    "protocol",
    "connections",
    "rps",
    "headers",
    "cookies",
    "body",
    "content_type",
    "endpoint_urls",
    "ssl_certificate",
    "additional_options",
];
const SMP_MESH: &[&str] = &["type", "version", "labels", "annotations"];
const PROFILE: &[&str] = &[
    "id",
    "name",
    "owner",
    "user_id",
    "schedule",
    "load_generators",
    "endpoints",
    "service_mesh",
    "concurrent_request",
    "qps",
    "duration",
    "request_headers",
    "request_cookies",
    "request_body",
    "content_type",
    "metadata",
    "last_run",
    "total_results",
    "created_at",
    "updated_at",
];
const SPEC: &[&str] = &["target", "rate", "connections", "duration", "warmup", "method", "headers", "body", "http2", "timeout", "thresholds"];
const TARGET: &[&str] = &["service", "path", "scheme", "url"];
const SERVICE: &[&str] = &["name", "namespace", "port"];
const THRESHOLDS: &[&str] = &["latency", "max_error_rate", "min_rate", "max_regression"];

/// SMP's `ServiceMesh.Type`, as result labels.
const MESHES: &[&str] = &[
    "",
    "app_mesh",
    "consul",
    "istio",
    "kuma",
    "linkerd",
    "traefik_mesh",
    "octarine",
    "network_service_mesh",
    "tanzu",
    "open_service_mesh",
    "nginx_service_mesh",
    "cilium_service_mesh",
];

/// `from_component`'s Service resolver.
type Resolve<'r> = dyn Fn(&str, &str, &Value) -> Option<String> + 'r;

/// Where errors point.
enum Where<'a> {
    File { file: &'a str, root: &'a Node },
    Component { name: &'a str },
}

struct Reader<'a> {
    at: Where<'a>,
    /// Files: numbers may be written as strings (protojson writes int64
    /// so) and scalars read as text. Components are schema-checked first.
    lenient: bool,
}

/// The fields of one mapping, by snake_case name: (pointer, value), nulls
/// left out.
struct Fields<'v> {
    map: BTreeMap<String, (String, &'v Value)>,
}

impl Fields<'_> {
    fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
    }
}

impl Reader<'_> {
    fn error(&self, pointer: &str, message: impl Display) -> String {
        let field = dotted(pointer);
        let field = if field.is_empty() { String::new() } else { format!("{field}: ") };
        match &self.at {
            Where::File { file, root } => {
                let span = root.locate(pointer);
                format!("{file}:{}:{}: {field}{message}", span.line, span.column)
            }
            Where::Component { name } => format!("PerformanceTest `{name}`: {field}{message}"),
        }
    }

    fn fields<'v>(&self, value: &'v Value, pointer: &str, what: &str, known: &[&str]) -> Result<Fields<'v>, String> {
        let mut map = BTreeMap::new();
        let mut seen: BTreeMap<String, String> = BTreeMap::new();
        match value {
            Value::Null => {}
            Value::Object(object) => {
                for (key, value) in object {
                    let name = snake(key);
                    let at = format!("{pointer}/{}", yaml::escape_segment(key));
                    if !known.contains(&name.as_str()) {
                        return Err(self.error(&at, format!("unknown field `{key}` in {what} (known: {})", known.join(", "))));
                    }
                    if let Some(first) = seen.insert(name.clone(), key.clone()) {
                        return Err(self.error(&at, format!("`{first}` and `{key}` are the same field; give one")));
                    }
                    if !value.is_null() {
                        map.insert(name, (at, value));
                    }
                }
            }
            other => return Err(self.error(pointer, format!("{what} must be a mapping, not {}", kind_of(other)))),
        }
        Ok(Fields { map })
    }

    fn get<'f, 'v>(&self, fields: &'f Fields<'v>, name: &str) -> Option<(&'f str, &'v Value)> {
        fields.map.get(name).map(|(at, v)| (at.as_str(), *v))
    }

    fn text(&self, fields: &Fields, name: &str) -> Result<Option<String>, String> {
        let Some((at, value)) = self.get(fields, name) else { return Ok(None) };
        self.text_at(value, at).map(Some)
    }

    fn text_at(&self, value: &Value, at: &str) -> Result<String, String> {
        match value {
            Value::String(s) => Ok(s.clone()),
            Value::Number(n) if self.lenient => Ok(n.to_string()),
            Value::Bool(b) if self.lenient => Ok(b.to_string()),
            other => Err(self.error(at, format!("must be text, not {}", kind_of(other)))),
        }
    }

    fn number(&self, fields: &Fields, name: &str) -> Result<Option<(f64, String)>, String> {
        let Some((at, value)) = self.get(fields, name) else { return Ok(None) };
        let number = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) if self.lenient => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match number.filter(|n| n.is_finite()) {
            Some(n) => Ok(Some((n, at.to_owned()))),
            None => Err(self.error(at, format!("must be a number, not {}", describe(value)))),
        }
    }

    /// A number ≥ `min`.
    fn at_least(&self, fields: &Fields, name: &str, min: f64) -> Result<Option<f64>, String> {
        match self.number(fields, name)? {
            Some((n, at)) if n < min => Err(self.error(&at, format!("must be at least {min}, not {n}"))),
            other => Ok(other.map(|(n, _)| n)),
        }
    }

    /// A whole number ≥ 1.
    fn count(&self, fields: &Fields, name: &str) -> Result<Option<usize>, String> {
        match self.number(fields, name)? {
            Some((n, at)) if n.fract() != 0.0 || !(1.0..=1e9).contains(&n) => {
                Err(self.error(&at, format!("must be a whole number, at least 1, not {n}")))
            }
            other => Ok(other.map(|(n, _)| n as usize)),
        }
    }

    fn boolean(&self, fields: &Fields, name: &str) -> Result<Option<bool>, String> {
        match self.get(fields, name) {
            None => Ok(None),
            Some((_, Value::Bool(b))) => Ok(Some(*b)),
            Some((at, value)) => Err(self.error(at, format!("must be true or false, not {}", describe(value)))),
        }
    }

    fn duration(&self, fields: &Fields, name: &str, zero: bool) -> Result<Option<Duration>, String> {
        let Some((at, value)) = self.get(fields, name) else { return Ok(None) };
        let Value::String(text) = value else {
            return Err(self.error(at, format!("must be a Go duration such as `30s` or `1h30m`, not {}", describe(value))));
        };
        let duration = parse_go_duration(text).map_err(|e| self.error(at, e))?;
        if duration.is_zero() && !zero {
            return Err(self.error(at, "must be longer than 0"));
        }
        Ok(Some(duration))
    }

    fn string_map(&self, fields: &Fields, name: &str) -> Result<Vec<(String, String)>, String> {
        match self.get(fields, name) {
            None => Ok(Vec::new()),
            Some((at, value)) => self.string_map_at(Some(value), at),
        }
    }

    /// A mapping of text, as `(key, value)` in written order.
    fn string_map_at(&self, value: Option<&Value>, at: &str) -> Result<Vec<(String, String)>, String> {
        match value {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Object(map)) => map
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| Ok((k.clone(), self.text_at(v, &format!("{at}/{}", yaml::escape_segment(k)))?)))
                .collect(),
            Some(other) => Err(self.error(at, format!("must be a mapping of names to text, not {}", kind_of(other)))),
        }
    }

    /// A mapping, or (as Meshery stores profiles) a JSON object in a
    /// string; "" is none. Other text is `raw`'s.
    fn map_or_json(&self, fields: &Fields, name: &str, raw: impl Fn(&str) -> Result<Vec<(String, String)>, String>) -> Result<Vec<(String, String)>, String> {
        match self.get(fields, name) {
            Some((at, Value::String(text))) => {
                let trimmed = text.trim();
                if trimmed.is_empty() {
                    Ok(Vec::new())
                } else if trimmed.starts_with('{') {
                    let parsed: BTreeMap<String, Value> =
                        serde_json::from_str(trimmed).map_err(|e| self.error(at, format!("not a JSON object: {e}")))?;
                    parsed
                        .into_iter()
                        .filter(|(_, v)| !v.is_null())
                        .map(|(k, v)| match v {
                            Value::String(s) => Ok((k, s)),
                            Value::Number(_) | Value::Bool(_) => Ok((k, v.to_string())),
                            other => Err(self.error(at, format!("`{k}` in the JSON object must be text, not {}", kind_of(&other)))),
                        })
                        .collect()
                } else {
                    raw(trimmed).map_err(|e| self.error(at, e))
                }
            }
            _ => self.string_map(fields, name),
        }
    }

    fn strings(&self, fields: &Fields, name: &str) -> Result<Vec<(String, String)>, String> {
        match self.get(fields, name) {
            None => Ok(Vec::new()),
            Some((at, Value::Array(items))) => items
                .iter()
                .enumerate()
                .filter(|(_, v)| !v.is_null())
                .map(|(i, v)| {
                    let at = format!("{at}/{i}");
                    Ok((self.text_at(v, &at)?, at))
                })
                .collect(),
            Some((at, Value::String(one))) if self.lenient => Ok(vec![(one.clone(), at.to_owned())]),
            Some((at, other)) => Err(self.error(at, format!("must be a list of text, not {}", kind_of(other)))),
        }
    }

    fn url(&self, url: &str, at: &str) -> Result<String, String> {
        let lower = url.to_ascii_lowercase();
        let rest = lower.strip_prefix("http://").or_else(|| lower.strip_prefix("https://"));
        match rest {
            Some(rest) if !rest.is_empty() && !rest.starts_with(['/', '?', '#']) => Ok(url.to_owned()),
            Some(_) => Err(self.error(at, format!("`{url}` names no host"))),
            None => Err(self.error(at, format!("`{url}` is not an http:// or https:// URL"))),
        }
    }

    /// The one endpoint of a client or profile; none leaves the URL to
    /// `--url`.
    fn endpoint(&self, urls: &[(String, String)], field: &str) -> Result<String, String> {
        match urls {
            [] => Ok(String::new()),
            [(url, at)] => self.url(url, at),
            [_, (second, at), ..] => Err(self.error(
                at,
                format!(
                    "{} URLs in `{field}`, and weft loads one URL per test (here `{}`); keep one, or write a test per URL (a second: `{second}`)",
                    urls.len(),
                    urls[0].0
                ),
            )),
        }
    }

    /// `weft` and `fortio` run weft's own generator; `wrk` and `hey` the
    /// external tool.
    fn generator(&self, name: &str, at: &str) -> Result<Option<String>, String> {
        match name.trim().to_ascii_lowercase().as_str() {
            "" | "weft" | "fortio" => Ok(None),
            known @ ("wrk" | "hey") => Ok(Some(known.to_owned())),
            other => {
                let why = match other {
                    "wrk2" | "nighthawk" => " (for a constant rate as wrk2 and Nighthawk's open loop send it, give `weft` with a rate: weft's own generator runs open loop and corrects for coordinated omission)",
                    _ => "",
                };
                Err(self.error(
                    at,
                    format!("load generator `{name}` is not supported: use `weft` (weft's own, which also stands in for Meshery's default `fortio`), or `wrk` or `hey` when installed{why}"),
                ))
            }
        }
    }

    fn smp(&self, top: &Value) -> Result<Settings, String> {
        let (test, test_at) = if top.get("test").is_some() {
            self.fields(top, "", "an SMP test configuration", SMP_ROOT)?;
            (top.get("test").unwrap_or(&Value::Null), "/test".to_owned())
        } else {
            (top, String::new())
        };
        let fields = self.fields(test, &test_at, "test", SMP_TEST)?;
        let mut settings = Settings::default();
        if let Some(name) = self.text(&fields, "name")?.filter(|n| !n.trim().is_empty()) {
            settings.name = name;
        }
        settings.labels = self.string_map(&fields, "labels")?.into_iter().collect();
        if let Some(duration) = self.duration(&fields, "duration", false)? {
            settings.duration = duration;
        }
        let clients_at = format!("{test_at}/clients");
        let clients: &[Value] = match self.get(&fields, "clients") {
            None => &[],
            Some((_, Value::Array(items))) => items,
            Some((at, other)) => return Err(self.error(at, format!("must be a list of clients, not {}", kind_of(other)))),
        };
        match clients {
            [] => {
                let at = if fields.has("clients") { clients_at.as_str() } else { test_at.as_str() };
                return Err(self.error(at, "no client: SMP names the endpoint, rate and connections in `clients`"));
            }
            [client] => self.smp_client(client, &format!("{clients_at}/0"), &mut settings)?,
            [_, ..] => {
                return Err(self.error(
                    &format!("{clients_at}/1"),
                    format!("{} clients, and weft runs one client per test (SMP's distributed load generators are not supported); keep one, or write a test per client", clients.len()),
                ));
            }
        }
        if let Some(mesh) = top.get("mesh").filter(|_| top.get("test").is_some()) {
            let mesh_fields = self.fields(mesh, "/mesh", "mesh", SMP_MESH)?;
            if let Some((at, kind)) = self.get(&mesh_fields, "type") {
                let name = match kind {
                    Value::Number(n) => n.as_u64().and_then(|i| MESHES.get(i as usize)).map(|m| (*m).to_owned()),
                    Value::String(s) => Some(s.trim().to_ascii_lowercase()),
                    _ => None,
                }
                .ok_or_else(|| self.error(at, format!("not an SMP service mesh type (0–{}, or its name)", MESHES.len() - 1)))?;
                if !name.is_empty() && name != "invalid_mesh" {
                    settings.labels.entry("mesh".to_owned()).or_insert(name);
                }
            }
            if let Some(version) = self.text(&mesh_fields, "version")?.filter(|v| !v.is_empty()) {
                settings.labels.entry("mesh_version".to_owned()).or_insert(version);
            }
        }
        Ok(settings)
    }

    fn smp_client(&self, client: &Value, at: &str, settings: &mut Settings) -> Result<(), String> {
        let fields = self.fields(client, at, "a client", SMP_CLIENT)?;
        if let Some((at, protocol)) = self.get(&fields, "protocol") {
            let name = match protocol {
                Value::Number(n) => n.as_u64().map(|n| n.to_string()),
                Value::String(s) => Some(s.trim().to_ascii_uppercase().trim_start_matches("PROTOCOL_").to_owned()),
                _ => None,
            };
            match name.as_deref() {
                Some("0" | "1" | "HTTP" | "INVALID") => {}
                Some(other @ ("2" | "3" | "4" | "TCP" | "UDP" | "GRPC")) => {
                    let name = match other {
                        "2" | "TCP" => "TCP",
                        "3" | "UDP" => "UDP",
                        _ => "gRPC",
                    };
                    return Err(self.error(at, format!("protocol {name} is not supported: weft's load generator speaks HTTP (HTTP/1.1 and HTTP/2); use protocol: 1 (HTTP)")));
                }
                _ => return Err(self.error(at, format!("{} is not an SMP protocol (1 = HTTP, 2 = TCP, 3 = UDP, 4 = gRPC)", describe(protocol)))),
            }
        }
        // Inside the mesh or not, the client only sends: checked, not used.
        self.boolean(&fields, "internal")?;
        if let Some(generator) = self.text(&fields, "load_generator")? {
            settings.load_generator = self.generator(&generator, self.get(&fields, "load_generator").map_or(at, |f| f.0))?;
        }
        if let Some(connections) = self.count(&fields, "connections")? {
            settings.connections = connections;
        }
        if let Some(rate) = self.at_least(&fields, "rps", 0.0)? {
            settings.rate = rate;
        }
        settings.headers = self.string_map(&fields, "headers")?;
        let cookies = self.string_map(&fields, "cookies")?;
        self.body_and_cookies(&fields, "body", cookies, settings)?;
        settings.url = self.endpoint(&self.strings(&fields, "endpoint_urls")?, "endpoint_urls")?;
        for unsupported in ["ssl_certificate", "additional_options"] {
            if let Some(text) = self.text(&fields, unsupported)?.filter(|t| !t.trim().is_empty()) {
                let why = if unsupported == "ssl_certificate" {
                    "weft checks https targets against the system's trusted roots"
                } else {
                    "these are options of another load generator"
                };
                let at = self.get(&fields, unsupported).map_or(at, |f| f.0);
                return Err(self.error(at, format!("`{}` is not supported ({why}); remove it", text.lines().next().unwrap_or(""))));
            }
        }
        Ok(())
    }

    /// Body, content type and cookies, shared by SMP clients and profiles.
    fn body_and_cookies(&self, fields: &Fields, body_field: &str, cookies: Vec<(String, String)>, settings: &mut Settings) -> Result<(), String> {
        if !cookies.is_empty() {
            let header = cookies.iter().map(|(k, v)| if k.is_empty() { v.clone() } else { format!("{k}={v}") }).collect::<Vec<_>>().join("; ");
            settings.headers.push(("cookie".to_owned(), header));
        }
        if let Some(body) = self.text(fields, body_field)?.filter(|b| !b.is_empty()) {
            settings.body = body.into_bytes();
            settings.method = "POST".to_owned();
        }
        let content_type_given = settings.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        if let Some(content_type) = self.text(fields, "content_type")?.filter(|c| !c.trim().is_empty())
            && !content_type_given
        {
            settings.headers.push(("content-type".to_owned(), content_type));
        }
        Ok(())
    }

    fn profile(&self, top: &Value) -> Result<Settings, String> {
        let fields = self.fields(top, "", "a Meshery performance profile", PROFILE)?;
        let mut settings = Settings::default();
        if let Some(name) = self.text(&fields, "name")?.filter(|n| !n.trim().is_empty()) {
            settings.name = name;
        }
        if let Some((at, metadata)) = self.get(&fields, "metadata") {
            let Value::Object(map) = metadata else {
                return Err(self.error(at, format!("must be a mapping, not {}", kind_of(metadata))));
            };
            for (key, value) in map {
                let text = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => continue,
                };
                settings.labels.insert(key.clone(), text);
            }
        }
        if let Some(mesh) = self.text(&fields, "service_mesh")?.filter(|m| !m.trim().is_empty()) {
            settings.labels.entry("mesh".to_owned()).or_insert(mesh.trim().to_ascii_lowercase());
        }
        let generators = self.strings(&fields, "load_generators")?;
        match generators.as_slice() {
            [] => {}
            [(name, at)] => settings.load_generator = self.generator(name, at)?,
            [_, (second, at), ..] => {
                return Err(self.error(
                    at,
                    format!("{} load generators, and a test runs one (here `{}`); keep one, or write a profile per generator (a second: `{second}`)", generators.len(), generators[0].0),
                ));
            }
        }
        settings.url = self.endpoint(&self.strings(&fields, "endpoints")?, "endpoints")?;
        if let Some(rate) = self.at_least(&fields, "qps", 0.0)? {
            settings.rate = rate;
        }
        if let Some(connections) = self.count(&fields, "concurrent_request")? {
            settings.connections = connections;
        }
        if let Some(duration) = self.duration(&fields, "duration", false)? {
            settings.duration = duration;
        }
        settings.headers = self.map_or_json(&fields, "request_headers", |text| {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(|line| {
                    line.split_once(':')
                        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
                        .ok_or_else(|| format!("`{line}`: headers are a mapping, a JSON object, or `Name: value` lines"))
                })
                .collect()
        })?;
        let cookies = self.map_or_json(&fields, "request_cookies", |text| Ok(vec![(String::new(), text.to_owned())]))?;
        self.body_and_cookies(&fields, "request_body", cookies, &mut settings)?;
        Ok(settings)
    }

    /// A PerformanceTest's spec at `at`. Without a resolver a Service
    /// target leaves the URL empty.
    fn performance_test(
        &self,
        name: &str,
        spec: &Value,
        at: &str,
        namespace: Option<&str>,
        resolve: Option<&Resolve>,
    ) -> Result<Settings, String> {
        if spec.is_null() {
            return Err(self.error(at, "missing: a PerformanceTest needs a spec with a target"));
        }
        let fields = self.fields(spec, at, "spec", SPEC)?;
        let mut settings = Settings { name: name.to_owned(), ..Settings::default() };
        let Some((target_at, target)) = self.get(&fields, "target") else {
            return Err(self.error(at, "no target: give `target.service` (a Service of the design) or `target.url`"));
        };
        let target_fields = self.fields(target, target_at, "target", TARGET)?;
        let path = self.text(&target_fields, "path")?;
        let scheme = self.text(&target_fields, "scheme")?;
        match (self.get(&target_fields, "url"), self.get(&target_fields, "service")) {
            (Some(_), Some((service_at, _))) => {
                return Err(self.error(service_at, "give `service` or `url`, not both"));
            }
            (None, None) => return Err(self.error(target_at, "give `service` (a Service of the design) or `url`")),
            (Some((url_at, _)), None) => {
                for (field, given) in [("path", &path), ("scheme", &scheme)] {
                    if given.is_some() {
                        let at = self.get(&target_fields, field).map_or(target_at, |f| f.0);
                        return Err(self.error(at, format!("`{field}` goes with `service`; a URL carries its own")));
                    }
                }
                let url = self.text(&target_fields, "url")?.unwrap_or_default();
                settings.url = self.url(&url, url_at)?;
            }
            (None, Some((service_at, service))) => {
                let service_fields = self.fields(service, service_at, "service", SERVICE)?;
                let service_name = self.text(&service_fields, "name")?.filter(|n| !n.is_empty());
                let Some(service_name) = service_name else {
                    return Err(self.error(service_at, "no `name`: the Service to load"));
                };
                let Some((port_at, port)) = self.get(&service_fields, "port") else {
                    return Err(self.error(service_at, "no `port`: the Service port, by number or name"));
                };
                match port {
                    Value::Number(n) if n.as_u64().is_some_and(|p| (1..=65535).contains(&p)) => {}
                    Value::String(s) if !s.is_empty() => {}
                    other => return Err(self.error(port_at, format!("must be a port number (1–65535) or a port name, not {}", describe(other)))),
                }
                let service_namespace = self.text(&service_fields, "namespace")?.filter(|n| !n.is_empty());
                if let Some(scheme) = &scheme
                    && !matches!(scheme.as_str(), "http" | "https")
                {
                    let at = self.get(&target_fields, "scheme").map_or(target_at, |f| f.0);
                    return Err(self.error(at, format!("`{scheme}`: the scheme is http or https")));
                }
                if let Some(path) = &path
                    && !path.starts_with('/')
                {
                    let at = self.get(&target_fields, "path").map_or(target_at, |f| f.0);
                    return Err(self.error(at, format!("`{path}` must start with `/`")));
                }
                if let Some(resolve) = resolve {
                    let namespace = service_namespace.as_deref().or(namespace).unwrap_or("");
                    let Some(base) = resolve(namespace, &service_name, port) else {
                        let shown = if namespace.is_empty() { service_name.clone() } else { format!("{namespace}/{service_name}") };
                        return Err(self.error(
                            service_at,
                            format!("Service `{shown}` port {} has no address to load: it is not applied on this cluster, or cannot be forwarded to", describe(port)),
                        ));
                    };
                    settings.url = service_url(&base, scheme.as_deref(), path.as_deref());
                }
            }
        }
        if let Some(rate) = self.at_least(&fields, "rate", 0.0)? {
            settings.rate = rate;
        }
        if let Some(connections) = self.count(&fields, "connections")? {
            settings.connections = connections;
        }
        if let Some(duration) = self.duration(&fields, "duration", false)? {
            settings.duration = duration;
        }
        if let Some(warmup) = self.duration(&fields, "warmup", true)? {
            settings.warmup = warmup;
        }
        if let Some(timeout) = self.duration(&fields, "timeout", false)? {
            settings.timeout = timeout;
        }
        if let Some(method) = self.text(&fields, "method")? {
            if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()) {
                let at = self.get(&fields, "method").map_or(at, |f| f.0);
                return Err(self.error(at, format!("`{method}` is not an HTTP method")));
            }
            settings.method = method.to_ascii_uppercase();
        }
        settings.headers = self.string_map(&fields, "headers")?;
        if let Some(body) = self.text(&fields, "body")? {
            settings.body = body.into_bytes();
        }
        if let Some(http2) = self.boolean(&fields, "http2")? {
            settings.http2 = http2;
        }
        if let Some((thresholds_at, thresholds)) = self.get(&fields, "thresholds") {
            let gates = self.fields(thresholds, thresholds_at, "thresholds", THRESHOLDS)?;
            if let Some((latency_at, latency)) = self.get(&gates, "latency") {
                let Value::Object(map) = latency else {
                    return Err(self.error(latency_at, format!("must be a mapping of percentiles to durations (`p99: 25ms`), not {}", kind_of(latency))));
                };
                for (percentile, limit) in map {
                    let at = format!("{latency_at}/{}", yaml::escape_segment(percentile));
                    if percentile_of(percentile).is_none() {
                        return Err(self.error(&at, format!("`{percentile}` is not a percentile (p50, p90, p99, p99.9, …)")));
                    }
                    let Value::String(text) = limit else {
                        return Err(self.error(&at, format!("must be a duration such as `25ms`, not {}", describe(limit))));
                    };
                    let limit = parse_go_duration(text).map_err(|e| self.error(&at, e))?;
                    settings.thresholds.latency_ms.insert(percentile.clone(), limit.as_secs_f64() * 1000.0);
                }
            }
            if let Some((rate, at)) = self.number(&gates, "max_error_rate")? {
                if !(0.0..=1.0).contains(&rate) {
                    return Err(self.error(&at, format!("is a share of requests, 0 to 1, not {rate}")));
                }
                settings.thresholds.max_error_rate = Some(rate);
            }
            settings.thresholds.min_rate = self.at_least(&gates, "min_rate", 0.0)?;
            settings.thresholds.max_regression = match self.get(&gates, "max_regression") {
                None => None,
                Some((_, Value::Number(n))) if n.as_f64().is_some_and(|n| n >= 0.0) => n.as_f64(),
                Some((at, Value::String(text))) => Some(parse_ratio(text).map_err(|e| self.error(at, e))?),
                Some((at, other)) => return Err(self.error(at, format!("must be a ratio such as `10%`, not {}", describe(other)))),
            };
        }
        Ok(settings)
    }
}

/// `base` with the target's scheme and path.
fn service_url(base: &str, scheme: Option<&str>, path: Option<&str>) -> String {
    let (base_scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let scheme = scheme.unwrap_or(base_scheme);
    let rest = rest.trim_end_matches('/');
    format!("{scheme}://{rest}{}", path.unwrap_or("/"))
}

/// `concurrentRequest` → `concurrent_request`; snake_case stays.
fn snake(key: &str) -> String {
    let mut out = String::with_capacity(key.len() + 4);
    for (i, c) in key.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `/test/clients/0/rps` → `test.clients[0].rps`.
fn dotted(pointer: &str) -> String {
    let mut out = String::new();
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.chars().all(|c| c.is_ascii_digit()) {
            out.push_str(&format!("[{segment}]"));
        } else {
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(&segment);
        }
    }
    out
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// A value for a message: scalars as written, others by kind.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("`{s}`"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => kind_of(other).to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/perf").join(name)
    }

    fn header<'a>(settings: &'a Settings, name: &str) -> Option<&'a str> {
        settings.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    #[test]
    fn go_durations() {
        let cases = [
            ("30s", 30.0),
            ("30m", 1800.0),
            ("1h30m", 5400.0),
            ("1.5h", 5400.0),
            ("250ms", 0.25),
            ("1m30.5s", 90.5),
            ("2h45m10s", 9910.0),
            ("100us", 0.0001),
            ("100µs", 0.0001),
            ("5000ns", 0.000005),
            (".5s", 0.5),
            ("0", 0.0),
        ];
        for (text, seconds) in cases {
            let got = parse_go_duration(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert!((got.as_secs_f64() - seconds).abs() < 1e-9, "{text}: {got:?}");
        }
        for bad in ["", "30", "1d", "-1s", "s", "1h-5m", "1..5s", "fast", "1.5", "10 s"] {
            assert!(parse_go_duration(bad).is_err(), "{bad:?} parsed");
        assert!(parse_go_duration("100000000h").unwrap_err().contains("too long"), "deadlines built from it would overflow");
        }
        assert!(parse_go_duration("60").unwrap_err().contains("needs a unit"));
        assert!(parse_go_duration("3d").unwrap_err().contains("unknown unit `d`"));
    }

    #[test]
    fn ratios() {
        assert_eq!(parse_ratio("10%").unwrap(), 0.1);
        assert_eq!(parse_ratio("0.25").unwrap(), 0.25);
        assert!(parse_ratio("-5%").is_err());
        assert!(parse_ratio("lots").is_err());
    }

    #[test]
    fn the_shipped_smp_samples() {
        for (file, name) in [("smp-load-test.yaml", "Load Test"), ("smp-soak-test.yaml", "Soak Test")] {
            let settings = from_file(&fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
            assert_eq!(settings.name, name);
            assert_eq!(settings.url, "https://smp-spec.io");
            assert_eq!(settings.connections, 2);
            assert_eq!(settings.rate, 10.0);
            assert_eq!(settings.duration, Duration::from_secs(60));
            assert_eq!(settings.method, "GET");
            assert!(settings.headers.is_empty() && settings.body.is_empty(), "{file}: empty headers, cookies, body and content type add nothing");
            // `fortio` runs on weft's own generator; `mesh: {type: 3}` is Istio.
            assert_eq!(settings.load_generator, None);
            assert_eq!(settings.labels.get("mesh").map(String::as_str), Some("istio"));
        }
    }

    #[test]
    fn an_smp_client_with_everything() {
        let text = "\
test:
  name: checkout
  labels: {team: shop, build: 42}
  clients:
    - internal: true
      load_generator: wrk
      protocol: PROTOCOL_HTTP
      connections: 8
      rps: '500'
      headers: {X-Trace: on, Authorization: Bearer t}
      cookies: {session: abc, theme: dark}
      body: '{\"item\": 1}'
      content_type: application/json
      endpoint_urls: ['http://localhost:2323/productpage']
  duration: 1h30m
mesh: {type: LINKERD, version: '2.14'}
";
        let settings = from_text("t.yaml", text).unwrap();
        assert_eq!(settings.name, "checkout");
        assert_eq!(settings.labels.get("build").map(String::as_str), Some("42"));
        assert_eq!(settings.labels.get("mesh").map(String::as_str), Some("linkerd"));
        assert_eq!(settings.labels.get("mesh_version").map(String::as_str), Some("2.14"));
        assert_eq!(settings.load_generator.as_deref(), Some("wrk"));
        assert_eq!((settings.connections, settings.rate), (8, 500.0));
        assert_eq!(settings.duration, Duration::from_secs(5400));
        assert_eq!(settings.url, "http://localhost:2323/productpage");
        assert_eq!(header(&settings, "x-trace"), Some("true"), "YAML 1.1 reads a plain `on` as true, as Kubernetes does");
        assert_eq!(header(&settings, "authorization"), Some("Bearer t"));
        assert_eq!(header(&settings, "cookie"), Some("session=abc; theme=dark"));
        assert_eq!(header(&settings, "content-type"), Some("application/json"));
        assert_eq!(settings.body, b"{\"item\": 1}");
        assert_eq!(settings.method, "POST", "a body makes a POST, as with fortio");
    }

    #[test]
    fn smp_in_json_and_camel_case_and_bare() {
        let json = r#"{"test": {"smpVersion": "v0.0.1", "name": "j", "clients": [{"loadGenerator": "hey", "protocol": 1, "connections": 4, "rps": 0, "endpointUrls": ["https://example.com/x"], "contentType": "text/plain"}], "duration": "45s"}}"#;
        let settings = from_text("t.json", json).unwrap();
        assert_eq!((settings.name.as_str(), settings.connections, settings.rate), ("j", 4, 0.0));
        assert_eq!(settings.load_generator.as_deref(), Some("hey"));
        assert_eq!(settings.duration, Duration::from_secs(45));
        assert_eq!(header(&settings, "content-type"), Some("text/plain"));

        let bare = "clients: [{connections: 3, endpoint_urls: ['http://a:1/']}]\nduration: 5s\n";
        let settings = from_text("bare.yaml", bare).unwrap();
        assert_eq!((settings.connections, settings.url.as_str()), (3, "http://a:1/"));
        // Scheduled benchmarks inject the URL later: none is not an error here.
        let settings = from_text("n.yaml", "test: {clients: [{rps: 5}], duration: 10s}\n").unwrap();
        assert_eq!(settings.url, "");
    }

    #[track_caller]
    fn fails(text: &str, expected: &[&str]) -> String {
        let error = from_text("t.yaml", text).expect_err(text);
        for part in expected {
            assert!(error.contains(part), "`{error}` lacks `{part}`");
        }
        error
    }

    #[test]
    fn smp_errors_name_the_place_and_the_reason() {
        let client = |line: &str| format!("test:\n  name: x\n  clients:\n    - connections: 2\n      {line}\n  duration: 30s\n");
        fails(&client("protocol: 4"), &["t.yaml:5:7: test.clients[0].protocol:", "gRPC is not supported", "HTTP"]);
        fails(&client("protocol: 2"), &["TCP is not supported"]);
        fails(&client("protocol: UDP"), &["UDP is not supported"]);
        fails(&client("protocol: 9"), &["9 is not an SMP protocol"]);
        fails(&client("rps: fast"), &["t.yaml:5:7: test.clients[0].rps: must be a number, not `fast`"]);
        fails(&client("rps: -1"), &["rps: must be at least 0"]);
        fails("test:\n  clients: [{connections: 0}]\n", &["t.yaml:2:14: test.clients[0].connections: must be a whole number, at least 1"]);
        fails(&client("load_generator: nighthawk"), &["t.yaml:5:7", "`nighthawk` is not supported", "wrk", "hey", "fortio", "open loop"]);
        fails(&client("load_generator: gatling"), &["`gatling` is not supported"]);
        fails(&client("endpoint_urls: [http://a/, http://b/]"), &["t.yaml:5:", "2 URLs", "one URL per test", "http://b/"]);
        fails(&client("endpoint_urls: [localhost:8080]"), &["not an http:// or https:// URL"]);
        fails(&client("rsp: 10"), &["t.yaml:5:7: test.clients[0].rsp: unknown field `rsp` in a client (known: internal"]);
        fails(&client("ssl_certificate: /etc/ca.pem"), &["not supported", "trusted roots"]);
        fails(&client("headers: [a]"), &["headers: must be a mapping"]);
        fails(&client("content_type: a\n      contentType: b"), &["`content_type` and `contentType` are the same field"]);
        fails("test:\n  clients: []\n  duration: 30s\n", &["t.yaml:2:3: test.clients: no client"]);
        fails("test:\n  clients: [{rps: 1}, {rps: 2}]\n", &["test.clients[1]: 2 clients", "one client per test"]);
        fails("test:\n  clients: [{rps: 1}]\n  duration: 60\n", &["t.yaml:3:3: test.duration: must be a Go duration such as `30s`"]);
        fails("test:\n  clients: [{rps: 1}]\n  duration: 1d\n", &["test.duration: `1d`: unknown unit `d`"]);
        fails("test:\n  clients: [{rps: 1}]\nmesh: {type: 99}\n", &["not an SMP service mesh type"]);
    }

    #[test]
    fn malformed_files_point_at_the_line() {
        let error = fails("test:\n  clients: [{rps: 1}\n  duration: 30s\n", &["t.yaml:"]);
        assert!(error.starts_with("t.yaml:2:") || error.starts_with("t.yaml:3:"), "{error}");
        fails("test:\n  name: a\n  name: b\n", &["t.yaml:3:3", "duplicate"]);
        fails("", &["t.yaml: the file is empty; expected an SMP test configuration"]);
        fails("- 1\n", &["found a list; expected an SMP test configuration"]);
        fails("apiVersion: v1\nkind: ConfigMap\n", &["expected an SMP test configuration", "performance profile"]);
        fails("test: {}\n---\ntest: {}\n", &["t.yaml:3:1: a second YAML document"]);
        let error = from_text("bad.json", "{\"qps\": 10,, }").unwrap_err();
        assert!(error.starts_with("bad.json:1:"), "{error}");
    }

    #[test]
    fn meshery_profiles_in_both_casings() {
        let camel = "\
name: checkout-profile
endpoints: [https://shop.example.com/cart]
loadGenerators: [fortio]
serviceMesh: Istio
concurrentRequest: 32
qps: 0
duration: 2m30s
requestHeaders: '{\"X-Env\": \"staging\"}'
requestCookies: '{\"session\": \"abc\"}'
requestBody: ''
contentType: ''
metadata: {team: shop, nested: {a: 1}}
id: 6f2a1c2e-0000-4000-8000-000000000000
owner: 6f2a1c2e-0000-4000-8000-000000000001
createdAt: '2026-01-01T00:00:00Z'
updatedAt: '2026-01-01T00:00:00Z'
totalResults: 3
";
        let settings = from_text("p.yaml", camel).unwrap();
        assert_eq!(settings.name, "checkout-profile");
        assert_eq!(settings.url, "https://shop.example.com/cart");
        assert_eq!((settings.connections, settings.rate), (32, 0.0), "qps 0 = as fast as possible");
        assert_eq!(settings.duration, Duration::from_secs(150));
        assert_eq!(header(&settings, "x-env"), Some("staging"));
        assert_eq!(header(&settings, "cookie"), Some("session=abc"));
        assert_eq!(header(&settings, "content-type"), None);
        assert_eq!(settings.method, "GET");
        assert_eq!(settings.labels.get("team").map(String::as_str), Some("shop"));
        assert_eq!(settings.labels.get("mesh").map(String::as_str), Some("istio"));
        assert!(!settings.labels.contains_key("nested"));

        let snake = r#"{"name": "p", "endpoints": ["http://127.0.0.1:8080/"], "load_generators": ["wrk"], "concurrent_request": 4, "qps": 250,
            "duration": "10s", "request_headers": {"A": "1"}, "request_cookies": "k=v; k2=v2", "request_body": "hello", "content_type": "text/plain"}"#;
        let settings = from_text("p.json", snake).unwrap();
        assert_eq!((settings.connections, settings.rate), (4, 250.0));
        assert_eq!(settings.load_generator.as_deref(), Some("wrk"));
        assert_eq!(header(&settings, "a"), Some("1"));
        assert_eq!(header(&settings, "cookie"), Some("k=v; k2=v2"));
        assert_eq!(header(&settings, "content-type"), Some("text/plain"));
        assert_eq!((settings.body.as_slice(), settings.method.as_str()), (&b"hello"[..], "POST"));

        let lines = from_text("p.yaml", "qps: 1\nrequestHeaders: \"X-A: 1\\nX-B: two\"\n").unwrap();
        assert_eq!((header(&lines, "x-a"), header(&lines, "x-b")), (Some("1"), Some("two")));
    }

    #[test]
    fn profile_errors() {
        fails("qps: 10\nconcurrentRequest: 0\n", &["t.yaml:2:1: concurrentRequest: must be a whole number, at least 1"]);
        fails("qps: 10\nconcurrentRequest: 4\nconcurrent_request: 4\n", &["t.yaml:3:1", "are the same field"]);
        fails("qps: 10\nduration: 30\n", &["t.yaml:2:1: duration: must be a Go duration"]);
        fails("qps: 10\nendpoints: [http://a/, http://b/]\n", &["t.yaml:2:24: endpoints[1]: 2 URLs"]);
        fails("qps: 10\nloadGenerators: [fortio, wrk2]\n", &["2 load generators"]);
        fails("qps: 10\nloadGenerators: [wrk2]\n", &["`wrk2` is not supported", "open loop"]);
        fails("qps: 10\nrequestHeaders: '{bad'\n", &["t.yaml:2:1: requestHeaders: not a JSON object"]);
        fails("qps: 10\nrequestHeaders: 'no colon here'\n", &["`no colon here`: headers are"]);
        fails("qps: 10\nqsp: 10\n", &["t.yaml:2:1: qsp: unknown field `qsp` in a Meshery performance profile"]);
        fails("qps: fast\n", &["t.yaml:1:1: qps: must be a number, not `fast`"]);
    }

    fn resolver(namespace: &str, name: &str, port: &Value) -> Option<String> {
        (name != "gone").then(|| format!("http://{name}.{}.svc:{}/", if namespace.is_empty() { "default" } else { namespace }, port.as_u64().unwrap_or(80)))
    }

    #[test]
    fn performance_test_components() {
        let spec = json!({
            "target": {"service": {"name": "web", "port": 8080}, "path": "/api/health"},
            "rate": 250,
            "connections": 8,
            "duration": "1m",
            "warmup": "5s",
            "method": "post",
            "headers": {"X-Test": "1"},
            "body": "{}",
            "http2": true,
            "timeout": "2s",
            "thresholds": {"latency": {"p50": "5ms", "p99.9": "1.5s"}, "maxErrorRate": 0.01, "minRate": 240, "maxRegression": "10%"},
        });
        let settings = from_component("web-latency", &spec, &resolver).unwrap();
        assert_eq!(settings.name, "web-latency");
        assert_eq!(settings.url, "http://web.default.svc:8080/api/health");
        assert_eq!((settings.rate, settings.connections), (250.0, 8));
        assert_eq!((settings.duration, settings.warmup, settings.timeout), (Duration::from_secs(60), Duration::from_secs(5), Duration::from_secs(2)));
        assert_eq!((settings.method.as_str(), settings.body.as_slice(), settings.http2), ("POST", &b"{}"[..], true));
        assert_eq!(settings.headers, vec![("X-Test".to_owned(), "1".to_owned())]);
        let t = &settings.thresholds;
        assert_eq!(t.latency_ms.get("p50"), Some(&5.0));
        assert_eq!(t.latency_ms.get("p99.9"), Some(&1500.0));
        assert_eq!((t.max_error_rate, t.min_rate, t.max_regression), (Some(0.01), Some(240.0), Some(0.1)));

        // The whole configuration: namespace and labels from metadata; the
        // scheme replaces the resolver's; a named port is passed as written.
        let object = json!({
            "metadata": {"name": "x", "namespace": "shop", "labels": {"app": "web"}},
            "spec": {"target": {"service": {"name": "web", "port": "https"}, "scheme": "https"}},
        });
        let seen = std::cell::RefCell::new(Vec::new());
        let settings = from_component("x", &object, &|ns: &str, name: &str, port: &Value| {
            seen.borrow_mut().push((ns.to_owned(), name.to_owned(), port.clone()));
            Some("http://127.0.0.1:41234".to_owned())
        })
        .unwrap();
        assert_eq!(settings.url, "https://127.0.0.1:41234/");
        assert_eq!(seen.borrow().as_slice(), &[("shop".to_owned(), "web".to_owned(), json!("https"))]);
        assert_eq!(settings.labels.get("app").map(String::as_str), Some("web"));
        // An explicit namespace wins.
        let other = json!({"target": {"service": {"name": "api", "namespace": "backend", "port": 80}}});
        assert_eq!(from_component("y", &other, &resolver).unwrap().url, "http://api.backend.svc:80/");
        // A URL target needs no resolver; defaults hold for the rest.
        let url = from_component("z", &json!({"target": {"url": "https://example.com/"}, "rate": 0}), &|_: &str, _: &str, _: &Value| None).unwrap();
        assert_eq!((url.url.as_str(), url.rate, url.connections), ("https://example.com/", 0.0, Settings::default().connections));
    }

    #[test]
    fn performance_test_errors() {
        let check = |spec: Value, expected: &[&str]| {
            let error = from_component("t", &spec, &resolver).expect_err(&spec.to_string());
            for part in expected {
                assert!(error.contains(part), "`{error}` lacks `{part}`");
            }
        };
        let service = json!({"service": {"name": "web", "port": 80}});
        check(json!({"target": service, "rate": "fast"}), &["PerformanceTest `t`: spec.rate: must be a number, not `fast`"]);
        check(json!({"rate": 1}), &["spec: no target"]);
        check(json!({"target": {}}), &["spec.target: give `service`"]);
        check(json!({"target": {"url": "http://a/", "service": {"name": "a", "port": 1}}}), &["not both"]);
        check(json!({"target": {"url": "http://a/", "path": "/x"}}), &["spec.target.path: `path` goes with `service`"]);
        check(json!({"target": {"url": "ftp://a/"}}), &["spec.target.url: `ftp://a/` is not an http"]);
        check(json!({"target": {"service": {"name": "gone", "port": 80}}}), &["spec.target.service: Service `gone` port 80 has no address"]);
        check(json!({"target": {"service": {"name": "web"}}}), &["no `port`"]);
        check(json!({"target": {"service": {"name": "web", "port": 0}}}), &["spec.target.service.port: must be a port number"]);
        check(json!({"target": service, "connections": 1.5}), &["spec.connections: must be a whole number"]);
        check(json!({"target": service, "duration": "30"}), &["spec.duration: `30`: `30` needs a unit"]);
        check(json!({"target": service, "duration": "0s"}), &["spec.duration: must be longer than 0"]);
        check(json!({"target": service, "method": "GET /"}), &["not an HTTP method"]);
        check(json!({"target": service, "http2": "yes"}), &["spec.http2: must be true or false"]);
        check(json!({"target": service, "thresholds": {"latency": {"p100.5": "1ms"}}}), &["spec.thresholds.latency.p100.5: `p100.5` is not a percentile"]);
        check(json!({"target": service, "thresholds": {"latency": {"p99": 25}}}), &["must be a duration such as `25ms`, not 25"]);
        check(json!({"target": service, "thresholds": {"maxErrorRate": 5}}), &["spec.thresholds.maxErrorRate: is a share of requests, 0 to 1"]);
        check(json!({"target": service, "thresholds": {"maxRegression": "a lot"}}), &["spec.thresholds.maxRegression: `a lot` is not a ratio"]);
        check(json!({"target": service, "thresholds": {"p99": "1ms"}}), &["unknown field `p99` in thresholds"]);
        check(json!({"target": service, "rps": 1}), &["spec.rps: unknown field `rps` in spec (known: target, rate"]);
    }

    #[test]
    fn a_performance_test_file_runs_standalone() {
        let text = "\
apiVersion: perf.weft.dev/v1alpha1
kind: PerformanceTest
metadata: {name: web-latency, namespace: shop, labels: {app: web}}
spec:
  target: {url: 'http://127.0.0.1:8080/'}
  rate: 100
  duration: 10s
";
        let settings = from_text("pt.yaml", text).unwrap();
        assert_eq!((settings.name.as_str(), settings.url.as_str(), settings.rate), ("web-latency", "http://127.0.0.1:8080/", 100.0));
        assert_eq!(settings.labels.get("app").map(String::as_str), Some("web"));
        // A Service target is left for `--url`.
        let service = text.replace("{url: 'http://127.0.0.1:8080/'}", "{service: {name: web, port: 80}}");
        assert_eq!(from_text("pt.yaml", &service).unwrap().url, "");
        let bad = text.replace("rate: 100", "rate: fast");
        fails(&bad, &["t.yaml:6:3: spec.rate: must be a number, not `fast`"]);
    }
}
