//! Docker Compose to Kubernetes objects, following kompose's mapping:
//! each service becomes a Deployment (labelled `io.kompose.service`), a
//! Service when it has ports, a ConfigMap of its `environment` (read
//! through `envFrom`) and PersistentVolumeClaims for its volumes. What has
//! no Kubernetes counterpart (image builds, host networks, Compose
//! secrets, ...) is listed, with its line, as not converted; values are
//! never part of those notes. `depends_on` is kept as the Deployment's
//! `weft.io/depends-on` annotation: Kubernetes has no start order, and
//! readiness probes are what orders a start there.

use crate::diagnostic::Span;
use crate::load::yaml::{Node, Value as YamlValue};
use serde_json::{Map, Value, json};

const SERVICE_LABEL: &str = "io.kompose.service";
/// Where a service's `depends_on` is recorded: Kubernetes has no start order.
const DEPENDS_ON_ANNOTATION: &str = "weft.io/depends-on";
/// kompose's size for claims it makes.
const CLAIM_SIZE: &str = "100Mi";

/// The objects of a Compose file and what could not be converted.
#[derive(Debug, Default)]
pub struct Conversion {
    pub objects: Vec<Value>,
    /// `line L: services.web.build: not converted: why`, in file order.
    pub unconverted: Vec<String>,
    /// The project's `name:`, if the file sets one.
    pub name: Option<String>,
}

/// A Compose file: a `services` mapping of mappings, none of them a
/// Meshery service (which has a `type` or `settings`).
pub fn is_compose(document: &Node) -> bool {
    let Some(YamlValue::Map(services)) = document.get("services").map(|s| &s.value) else { return false };
    !services.is_empty() && services.iter().all(|s| s.value.is_map() && s.value.get("type").is_none() && s.value.get("settings").is_none())
}

/// Converts `document`, parsed from `source` (the text it was read from,
/// for scalars YAML 1.1 would resolve where Compose, reading YAML 1.2,
/// keeps the text: an `environment` key `N` or a value `yes`).
pub fn convert(document: &Node, source: &str) -> Conversion {
    let source = Source::new(source);
    let source = &source;
    let mut conversion = Conversion::default();
    let YamlValue::Map(entries) = &document.value else { return conversion };
    let mut claims: Vec<String> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for entry in entries {
        match entry.key.as_str() {
            "services" => {
                if let YamlValue::Map(services) = &entry.value.value {
                    for service in services {
                        let mut converter = Service::new(&service.key, source, &mut conversion, &mut claims);
                        // `my_db` and `my-db` (or two names of non-ASCII letters) make one
                        // Kubernetes name: the later service's objects get a name of their own.
                        if names.contains(&converter.name) {
                            let base = converter.name.clone();
                            let unique = (2..)
                                .map(|n: usize| {
                                    let suffix = format!("-{n}");
                                    format!("{}{suffix}", base[..base.len().min(63 - suffix.len())].trim_end_matches('-'))
                                })
                                .find(|name| !names.contains(name))
                                .unwrap_or_else(|| base.clone());
                            converter.rename(&unique);
                            converter.conversion.unconverted.push(format!(
                                "line {}: services.{}: renamed: `{base}` names another service's objects; this service's are named `{unique}`",
                                service.key_span.line, service.key
                            ));
                        }
                        names.push(converter.name.clone());
                        converter.convert(&service.value);
                        converter.finish();
                    }
                }
            }
            "name" => conversion.name = entry.value.as_str().map(str::to_owned),
            // Named volumes become claims where services mount them.
            "version" | "volumes" => {}
            key if key.starts_with("x-") => {}
            "networks" => note(&mut conversion, entry.key_span.line, "networks", "Pods of a namespace share one network; no NetworkPolicy is generated"),
            "secrets" | "configs" => note(&mut conversion, entry.key_span.line, &entry.key, "its files are not read; create the Secrets or ConfigMaps yourself"),
            other => note(&mut conversion, entry.key_span.line, other, "no Kubernetes counterpart"),
        }
    }
    conversion
}

fn note(conversion: &mut Conversion, line: u32, path: &str, why: &str) {
    conversion.unconverted.push(format!("line {line}: {path}: not converted: {why}"));
}

/// A lower-case DNS-1123 label made of a Compose name (`my_db` → `my-db`).
fn dns_name(name: &str) -> String {
    let mut out: String = name.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '-' }).collect();
    out.truncate(63);
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() { "service".into() } else { trimmed.to_owned() }
}

/// The Compose file's text, to read scalars as written.
struct Source<'t> {
    text: &'t str,
    /// Where each line starts.
    lines: Vec<usize>,
    /// Columns count characters; in ASCII text they are bytes.
    ascii: bool,
}

impl<'t> Source<'t> {
    fn new(text: &'t str) -> Self {
        let lines = std::iter::once(0).chain(text.match_indices('\n').map(|(at, _)| at + 1)).collect();
        Source { text, lines, ascii: text.is_ascii() }
    }

    /// The text of a plain scalar as written (none when quoted, tagged,
    /// anchored or an alias).
    fn written(&self, span: Span) -> Option<&'t str> {
        let line_start = *self.lines.get((span.line as usize).checked_sub(1)?)?;
        let column = (span.column as usize).checked_sub(1)?;
        let start = if self.ascii { line_start + column } else { line_start + self.text.get(line_start..)?.char_indices().nth(column)?.0 };
        let text = self.text.get(start..start.checked_add(span.len as usize)?)?;
        (!text.is_empty() && !text.contains('\n') && !text.starts_with(['"', '\'', '!', '&', '*'])).then_some(text)
    }
}

/// Whether a value holds text Compose interpolates: `${VAR}` or `$VAR`
/// (`$$` is a literal `$`).
fn interpolates(node: &Node) -> bool {
    match &node.value {
        YamlValue::String(text) => {
            let bytes = text.as_bytes();
            let mut at = 0;
            while at < bytes.len() {
                if bytes[at] == b'$' {
                    match bytes.get(at + 1) {
                        Some(b'$') => at += 1,
                        Some(b'{') => return true,
                        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => return true,
                        _ => {}
                    }
                }
                at += 1;
            }
            false
        }
        YamlValue::Seq(items) => items.iter().any(interpolates),
        YamlValue::Map(entries) => entries.iter().any(|e| interpolates(&e.value)),
        _ => false,
    }
}

/// Text as Compose leaves it after interpolation, `$$` being a literal `$`.
/// Only for fields Kubernetes does not expand: in `command`, `args` and
/// `env` it reduces `$$` to `$` itself.
fn literal_dollars(text: &str) -> String {
    text.replace("$$", "$")
}

/// A scalar as the string Compose means (`80`, `true`, `1.5`).
fn scalar(node: &Node) -> Option<String> {
    match &node.value {
        YamlValue::String(s) => Some(s.clone()),
        YamlValue::Number(n) => Some(n.to_string()),
        YamlValue::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

struct Service<'a> {
    key: String,
    name: String,
    /// The Compose file's text.
    source: &'a Source<'a>,
    conversion: &'a mut Conversion,
    /// Claims made so far in the file: a named volume two services mount is one claim.
    claims: &'a mut Vec<String>,
    container: Map<String, Value>,
    annotations: Map<String, Value>,
    environment: Map<String, Value>,
    service_ports: Vec<Value>,
    container_ports: Vec<Value>,
    volumes: Vec<Value>,
    mounts: Vec<Value>,
    new_claims: Vec<Value>,
    replicas: Option<u64>,
    limits: Map<String, Value>,
    requests: Map<String, Value>,
    hostname: Option<String>,
}

impl<'a> Service<'a> {
    fn new(key: &str, source: &'a Source<'a>, conversion: &'a mut Conversion, claims: &'a mut Vec<String>) -> Self {
        let name = dns_name(key);
        let mut container = Map::new();
        container.insert("name".into(), json!(name));
        Service {
            key: key.to_owned(),
            name,
            source,
            conversion,
            claims,
            container,
            annotations: Map::new(),
            environment: Map::new(),
            service_ports: Vec::new(),
            container_ports: Vec::new(),
            volumes: Vec::new(),
            mounts: Vec::new(),
            new_claims: Vec::new(),
            replicas: None,
            limits: Map::new(),
            requests: Map::new(),
            hostname: None,
        }
    }

    fn rename(&mut self, name: &str) {
        self.name = name.to_owned();
        self.container.insert("name".into(), json!(name));
    }

    /// A mapping key as Compose reads it: as written (YAML 1.2 has no
    /// boolean `N`, `Y`, `on` or `no`, which the loader's YAML 1.1 resolves).
    fn key_text(&self, entry: &crate::load::yaml::Entry) -> String {
        let resolved = matches!(entry.key.as_str(), "true" | "false" | "null") || entry.key.starts_with(|c: char| c.is_ascii_digit() || "+-.".contains(c));
        if resolved && let Some(text) = self.source.written(entry.key_span) {
            return text.to_owned();
        }
        entry.key.clone()
    }

    /// A scalar value as Compose reads it: `yes`, `on` and `N` stay text;
    /// only `true` and `false` (any case) are booleans in YAML 1.2.
    fn value_text(&self, node: &Node) -> Option<String> {
        if let YamlValue::Bool(_) = node.value
            && let Some(text) = self.source.written(node.span)
            && !text.eq_ignore_ascii_case("true")
            && !text.eq_ignore_ascii_case("false")
        {
            return Some(text.to_owned());
        }
        scalar(node)
    }

    fn skip(&mut self, line: u32, key: &str, why: &str) {
        let path = format!("services.{}.{key}", self.key);
        note(self.conversion, line, &path, why);
    }

    fn convert(&mut self, node: &Node) {
        let YamlValue::Map(entries) = &node.value else { return };
        for entry in entries {
            let line = entry.key_span.line;
            let value = &entry.value;
            if !entry.key.starts_with("x-") && interpolates(value) {
                // Compose fills `${VAR}` from the environment and `.env`; the
                // objects would hold the text `${VAR}`. The value is not quoted.
                let path = format!("services.{}.{}", self.key, entry.key);
                self.conversion.unconverted.push(format!(
                    "line {line}: {path}: converted in part: `${{...}}` and `$VAR` are not interpolated (weft reads no environment or .env file); set the values in the design"
                ));
            }
            match entry.key.as_str() {
                "image" => {
                    if let Some(image) = value.as_str() {
                        self.container.insert("image".into(), json!(image));
                    }
                }
                "build" => self.skip(line, "build", "weft does not build images; build and push the image, then set `image`"),
                "container_name" => {
                    if let Some(name) = value.as_str() {
                        self.container.insert("name".into(), json!(dns_name(name)));
                    }
                }
                "ports" => {
                    for port in value.as_seq().unwrap_or_default() {
                        self.port(port);
                    }
                }
                "expose" => {
                    for port in value.as_seq().unwrap_or_default() {
                        let text = scalar(port).unwrap_or_default();
                        let (number, protocol) = text.split_once('/').unwrap_or((&text, "tcp"));
                        match number.parse::<u16>() {
                            Ok(target) => self.add_port(None, target, &protocol.to_ascii_uppercase()),
                            Err(_) => self.skip(port.span.line, "expose", "not a port number"),
                        }
                    }
                }
                "environment" => self.environment(value),
                "env_file" => self.skip(line, "env_file", "the file is not read; put its variables under `environment`"),
                "volumes" => {
                    for (index, volume) in value.as_seq().unwrap_or_default().iter().enumerate() {
                        self.volume(index, volume);
                    }
                }
                "depends_on" => {
                    let names: Vec<String> = match &value.value {
                        YamlValue::Seq(items) => items.iter().filter_map(Node::as_str).map(dns_name).collect(),
                        YamlValue::Map(services) => services.iter().map(|s| dns_name(&s.key)).collect(),
                        _ => Vec::new(),
                    };
                    if !names.is_empty() {
                        self.annotations.insert(DEPENDS_ON_ANNOTATION.into(), json!(names.join(",")));
                    }
                }
                "command" => self.words("args", value, line, "command"),
                "entrypoint" => self.words("command", value, line, "entrypoint"),
                "working_dir" => {
                    if let Some(dir) = value.as_str() {
                        self.container.insert("workingDir".into(), json!(literal_dollars(dir)));
                    }
                }
                "restart" => {
                    if !matches!(value.as_str(), Some("always" | "unless-stopped")) {
                        self.skip(line, "restart", "a Deployment always restarts its containers");
                    }
                }
                "healthcheck" => self.healthcheck(value, line),
                "deploy" => self.deploy(value),
                // The older spelling of deploy.replicas, which wins when both are set.
                "scale" => {
                    if self.replicas.is_none() {
                        self.replica_count(value, line, "scale");
                    }
                }
                "mem_limit" => self.resource("memory", value, true, line, "mem_limit"),
                "mem_reservation" => self.resource("memory", value, false, line, "mem_reservation"),
                "cpus" => self.resource("cpu", value, true, line, "cpus"),
                "stdin_open" | "tty" => {
                    if let YamlValue::Bool(on) = value.value {
                        self.container.insert(if entry.key == "tty" { "tty" } else { "stdin" }.into(), json!(on));
                    }
                }
                "hostname" => self.hostname = value.as_str().map(str::to_owned),
                "labels" => {
                    let labels: Vec<(String, Option<String>)> = match &value.value {
                        YamlValue::Map(labels) => labels.iter().map(|l| (self.key_text(l), self.value_text(&l.value))).collect(),
                        YamlValue::Seq(items) => items
                            .iter()
                            .filter_map(Node::as_str)
                            .map(|l| l.split_once('=').map_or((l.to_owned(), Some(String::new())), |(k, v)| (k.to_owned(), Some(v.to_owned()))))
                            .collect(),
                        _ => Vec::new(),
                    };
                    for (key, text) in labels {
                        self.annotations.insert(key, json!(literal_dollars(&text.unwrap_or_default())));
                    }
                }
                "networks" => self.skip(line, "networks", "Pods of a namespace share one network"),
                "secrets" | "configs" => self.skip(line, &entry.key, "Compose secrets and configs are files; create Secrets or ConfigMaps and mount them"),
                key if key.starts_with("x-") => {}
                other => self.skip(line, other, "no Kubernetes counterpart in this conversion"),
            }
        }
        if !self.container.contains_key("image") {
            // kompose's fallback: the service name as the image's.
            self.container.insert("image".into(), json!(self.name));
        }
    }

    /// `"8080:80/udp"`, `"127.0.0.1:8080:80"`, `80`, or `{target, published, protocol}`.
    fn port(&mut self, port: &Node) {
        let line = port.span.line;
        if port.is_map() {
            let number = |key: &str| port.get(key).and_then(scalar).and_then(|p| p.parse::<u16>().ok());
            let protocol = port.get("protocol").and_then(Node::as_str).unwrap_or("tcp").to_ascii_uppercase();
            match (number("target"), port.get("published").filter(|p| !p.is_null()).map(|_| number("published"))) {
                (Some(target), None) => self.add_port(None, target, &protocol),
                (Some(target), Some(Some(published))) => self.add_port(Some(published), target, &protocol),
                // A range (`published: "8080-8081"`) has no single Service port.
                (Some(_), Some(None)) => self.skip(line, "ports", "port ranges and unparsable mappings"),
                (None, _) => self.skip(line, "ports", "a port without a numeric `target`"),
            }
            return;
        }
        let Some(text) = scalar(port) else {
            self.skip(line, "ports", "not a port mapping");
            return;
        };
        let (mapping, protocol) = text.split_once('/').map_or((text.as_str(), "tcp"), |(m, p)| (m, p));
        let mut parts = mapping.rsplit(':');
        let target = parts.next().and_then(|t| t.parse::<u16>().ok());
        let published = parts.next().map(|p| p.parse::<u16>().ok());
        match (target, published) {
            (Some(target), None) => self.add_port(None, target, &protocol.to_ascii_uppercase()),
            (Some(target), Some(Some(published))) => self.add_port(Some(published), target, &protocol.to_ascii_uppercase()),
            _ => self.skip(line, "ports", "port ranges and unparsable mappings"),
        }
    }

    fn add_port(&mut self, published: Option<u16>, target: u16, protocol: &str) {
        let port = published.unwrap_or(target);
        let with_protocol = |mut value: Value| {
            if protocol != "TCP" {
                value["protocol"] = json!(protocol);
            }
            value
        };
        let container_port = with_protocol(json!({"containerPort": target}));
        if !self.container_ports.contains(&container_port) {
            self.container_ports.push(container_port);
        }
        let name = if protocol == "TCP" { port.to_string() } else { format!("{port}-{}", protocol.to_ascii_lowercase()) };
        if !self.service_ports.iter().any(|p| p["name"] == name) {
            self.service_ports.push(with_protocol(json!({"name": name, "port": port, "targetPort": target})));
        }
    }

    /// `environment` as a mapping or a list of `KEY=VALUE`.
    fn environment(&mut self, value: &Node) {
        // (key, value, line); a value of None comes from the host, Some(None) is not a scalar.
        let pairs: Vec<(String, Option<Option<String>>, u32)> = match &value.value {
            YamlValue::Map(entries) => entries
                .iter()
                .map(|e| {
                    let text = if e.value.is_null() { None } else { Some(self.value_text(&e.value)) };
                    (self.key_text(e), text, e.key_span.line)
                })
                .collect(),
            YamlValue::Seq(items) => items
                .iter()
                .filter_map(|item| {
                    // A bare `- Y` is a name (YAML 1.2), not the boolean of YAML 1.1.
                    let as_written = || matches!(item.value, YamlValue::Bool(_) | YamlValue::Number(_)).then(|| self.source.written(item.span)).flatten();
                    item.as_str().or_else(as_written).map(|text| (text.to_owned(), item.span.line))
                })
                .map(|(text, line)| match text.split_once('=') {
                    Some((key, value)) => (key.to_owned(), Some(Some(value.to_owned())), line),
                    None => (text, None, line),
                })
                .collect(),
            _ => Vec::new(),
        };
        for (key, text, line) in pairs {
            match text {
                Some(Some(text)) => {
                    // A ConfigMap's values are not expanded: Compose's `$$` is a `$`.
                    self.environment.insert(key, json!(literal_dollars(&text)));
                }
                Some(None) => self.skip(line, &format!("environment.{key}"), "a list or map, not a value"),
                None => self.skip(line, &format!("environment.{key}"), "its value comes from the host's environment"),
            }
        }
    }

    /// A volume: a named volume or an anonymous one becomes a claim of its
    /// own, a bind mount an empty claim (the host's files stay behind).
    fn volume(&mut self, index: usize, volume: &Node) {
        let line = volume.span.line;
        let mut declared_bind = false;
        let (source, target, read_only, tmpfs) = if volume.is_map() {
            let text = |key: &str| volume.get(key).and_then(Node::as_str).map(str::to_owned);
            let read_only = matches!(volume.get("read_only").map(|n| &n.value), Some(YamlValue::Bool(true)));
            // A bind mount's source is a path, relative ones included (`type: bind, source: config`).
            declared_bind = text("type").as_deref() == Some("bind");
            (text("source"), text("target"), read_only, text("type").as_deref() == Some("tmpfs"))
        } else {
            let Some(text) = volume.as_str() else {
                self.skip(line, "volumes", "not a volume");
                return;
            };
            let parts: Vec<&str> = text.split(':').collect();
            match parts.as_slice() {
                [target] => (None, Some((*target).to_owned()), false, false),
                [source, target] => (Some((*source).to_owned()), Some((*target).to_owned()), false, false),
                [source, target, mode, ..] => (Some((*source).to_owned()), Some((*target).to_owned()), mode.split(',').any(|m| m == "ro"), false),
                [] => (None, None, false, false),
            }
        };
        let Some(target) = target else {
            self.skip(line, "volumes", "a volume without a target path");
            return;
        };
        let volume_name;
        if tmpfs {
            volume_name = format!("{}-tmpfs{index}", self.name);
            self.volumes.push(json!({"name": volume_name, "emptyDir": {"medium": "Memory"}}));
        } else {
            let bind = declared_bind || source.as_deref().is_some_and(|s| s.starts_with(['.', '/', '~']) || s.contains('/'));
            let claim = match source.as_deref() {
                Some(named) if !bind => dns_name(named),
                _ => format!("{}-claim{index}", self.name),
            };
            if bind {
                let path = format!("services.{}.volumes", self.key);
                self.conversion.unconverted.push(format!(
                    "line {line}: {path}: converted in part: the bind mount becomes the empty claim `{claim}`; the host's files are not copied"
                ));
            }
            if !self.claims.contains(&claim) {
                self.claims.push(claim.clone());
                self.new_claims.push(json!({
                    "apiVersion": "v1",
                    "kind": "PersistentVolumeClaim",
                    "metadata": {"name": claim, "labels": {SERVICE_LABEL: claim}},
                    "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": CLAIM_SIZE}}},
                }));
            }
            volume_name = claim.clone();
            if !self.volumes.iter().any(|v| v["name"] == volume_name) {
                self.volumes.push(json!({"name": volume_name, "persistentVolumeClaim": {"claimName": claim}}));
            }
        }
        let mut mount = json!({"name": volume_name, "mountPath": target});
        if read_only {
            mount["readOnly"] = json!(true);
        }
        self.mounts.push(mount);
    }

    /// `command`/`entrypoint`: a list as is, a string split as a shell would.
    fn words(&mut self, field: &str, value: &Node, line: u32, key: &str) {
        let words: Option<Vec<String>> = match &value.value {
            YamlValue::Seq(items) => items.iter().map(scalar).collect(),
            YamlValue::String(text) => split_words(text),
            _ => None,
        };
        match words {
            Some(words) => {
                self.container.insert(field.into(), json!(words));
            }
            None => self.skip(line, key, "not a list of words, or unbalanced quotes"),
        }
    }

    fn healthcheck(&mut self, value: &Node, line: u32) {
        if matches!(value.get("disable").map(|n| &n.value), Some(YamlValue::Bool(true))) {
            return;
        }
        // `test: ["NONE"]` turns off a check the image declares: no probe either.
        if value.get("test").and_then(Node::as_seq).is_some_and(|words| words.first().and_then(Node::as_str) == Some("NONE")) {
            return;
        }
        let command: Option<Vec<String>> = match value.get("test").map(|t| &t.value) {
            Some(YamlValue::String(text)) => Some(vec!["sh".into(), "-c".into(), text.clone()]),
            Some(YamlValue::Seq(items)) => {
                let words: Vec<String> = items.iter().filter_map(scalar).collect();
                match words.split_first() {
                    Some((first, rest)) if first == "CMD" => Some(rest.to_vec()),
                    Some((first, rest)) if first == "CMD-SHELL" => Some(vec!["sh".into(), "-c".into(), rest.join(" ")]),
                    _ => None,
                }
            }
            _ => None,
        };
        let Some(command) = command.filter(|c| !c.is_empty()) else {
            self.skip(line, "healthcheck", "no `test` command");
            return;
        };
        // Compose reads `$$` as `$`; Kubernetes expands nothing in a probe's command.
        let command: Vec<String> = command.iter().map(|word| literal_dollars(word)).collect();
        let mut probe = json!({"exec": {"command": command}});
        for (key, field) in [("interval", "periodSeconds"), ("timeout", "timeoutSeconds"), ("start_period", "initialDelaySeconds")] {
            if let Some(text) = value.get(key).and_then(Node::as_str) {
                match seconds(text) {
                    Some(seconds) => probe[field] = json!(seconds),
                    None => self.skip(line, &format!("healthcheck.{key}"), "not a duration"),
                }
            }
        }
        if let Some(retries) = value.get("retries").and_then(scalar).and_then(|r| r.parse::<u64>().ok()) {
            probe["failureThreshold"] = json!(retries);
        }
        self.container.insert("livenessProbe".into(), probe);
    }

    fn replica_count(&mut self, value: &Node, line: u32, key: &str) {
        match scalar(value).and_then(|r| r.parse::<u64>().ok()) {
            Some(count) => self.replicas = Some(count),
            None => self.skip(line, key, "not a number of replicas; the Deployment runs 1"),
        }
    }

    fn deploy(&mut self, value: &Node) {
        let YamlValue::Map(entries) = &value.value else { return };
        for entry in entries {
            let line = entry.key_span.line;
            match entry.key.as_str() {
                "replicas" => self.replica_count(&entry.value, line, "deploy.replicas"),
                "resources" => {
                    for (kind, limit) in [("limits", true), ("reservations", false)] {
                        let Some(resources) = entry.value.get(kind) else { continue };
                        if let Some(memory) = resources.get("memory") {
                            self.resource("memory", memory, limit, memory.span.line, &format!("deploy.resources.{kind}.memory"));
                        }
                        if let Some(cpus) = resources.get("cpus") {
                            self.resource("cpu", cpus, limit, cpus.span.line, &format!("deploy.resources.{kind}.cpus"));
                        }
                    }
                }
                other => self.skip(line, &format!("deploy.{other}"), "no Kubernetes counterpart in this conversion"),
            }
        }
    }

    fn resource(&mut self, resource: &str, value: &Node, limit: bool, line: u32, key: &str) {
        let quantity = scalar(value).and_then(|text| if resource == "memory" { memory(&text) } else { cpu(&text) });
        let Some(quantity) = quantity else {
            self.skip(line, key, "not a size");
            return;
        };
        let target = if limit { &mut self.limits } else { &mut self.requests };
        target.insert(resource.into(), json!(quantity));
    }

    fn finish(mut self) {
        let labels = json!({SERVICE_LABEL: self.name});
        let metadata = |name: &str, annotations: &Map<String, Value>| {
            let mut metadata = json!({"name": name, "labels": labels});
            if !annotations.is_empty() {
                metadata["annotations"] = Value::Object(annotations.clone());
            }
            metadata
        };
        let mut service_annotations = self.annotations.clone();
        service_annotations.shift_remove(DEPENDS_ON_ANNOTATION);
        if !self.environment.is_empty() {
            let config_map = format!("{}-env", self.name);
            self.conversion.objects.push(json!({
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "metadata": {"name": config_map, "labels": labels},
                "data": self.environment,
            }));
            self.container.insert("envFrom".into(), json!([{"configMapRef": {"name": config_map}}]));
        }
        if !self.container_ports.is_empty() {
            self.container.insert("ports".into(), Value::Array(self.container_ports.clone()));
        }
        let mut resources = Map::new();
        if !self.limits.is_empty() {
            resources.insert("limits".into(), Value::Object(self.limits.clone()));
        }
        if !self.requests.is_empty() {
            resources.insert("requests".into(), Value::Object(self.requests.clone()));
        }
        if !resources.is_empty() {
            self.container.insert("resources".into(), Value::Object(resources));
        }
        if !self.mounts.is_empty() {
            self.container.insert("volumeMounts".into(), Value::Array(self.mounts.clone()));
        }
        let mut pod = json!({"containers": [self.container], "restartPolicy": "Always"});
        if let Some(hostname) = &self.hostname {
            pod["hostname"] = json!(hostname);
        }
        if !self.volumes.is_empty() {
            pod["volumes"] = Value::Array(self.volumes.clone());
        }
        let mut spec = json!({
            "replicas": self.replicas.unwrap_or(1),
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        });
        // A claim is ReadWriteOnce: the old Pod lets go of it before the new one starts.
        if self.volumes.iter().any(|v| v.get("persistentVolumeClaim").is_some()) {
            spec["strategy"] = json!({"type": "Recreate"});
        }
        let claims = std::mem::take(&mut self.new_claims);
        self.conversion.objects.extend(claims);
        self.conversion.objects.push(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": metadata(&self.name, &self.annotations), "spec": spec}));
        if !self.service_ports.is_empty() {
            self.conversion.objects.push(json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": metadata(&self.name, &service_annotations),
                "spec": {"selector": labels, "ports": self.service_ports},
            }));
        }
    }
}

/// Splits a command line into words as `sh` would for plain words and
/// quotes; `None` when a quote is left open.
fn split_words(text: &str) -> Option<Vec<String>> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '\'' => break,
                        other => word.push(other),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next()? {
                        '"' => break,
                        '\\' => word.push(chars.next()?),
                        other => word.push(other),
                    }
                }
            }
            '\\' => {
                in_word = true;
                word.push(chars.next()?);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            other => {
                in_word = true;
                word.push(other);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    Some(words)
}

/// A Compose duration (`1m30s`, `500ms`, `10s`) in whole seconds, at least 1.
fn seconds(text: &str) -> Option<u64> {
    let mut total = 0.0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(rest.len());
        let number: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let unit = rest.find(|c: char| c.is_ascii_digit()).unwrap_or(rest.len());
        total += number
            * match &rest[..unit] {
                "h" => 3600.0,
                "m" => 60.0,
                "s" | "" => 1.0,
                "ms" => 0.001,
                "us" => 0.000_001,
                _ => return None,
            };
        rest = &rest[unit..];
    }
    Some((total.ceil() as u64).max(1))
}

/// A Compose byte size (`1.5G`, `512m`, `100mb`, `1024`) as a Kubernetes
/// quantity: Compose's `m` is mebibytes, Kubernetes' would be millibytes.
fn memory(text: &str) -> Option<String> {
    let text = text.trim().to_ascii_lowercase();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.').unwrap_or(text.len());
    let number: f64 = text[..split].parse().ok()?;
    let scale: f64 = match &text[split..] {
        "" | "b" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        "g" | "gb" => 1024.0 * 1024.0 * 1024.0,
        _ => return None,
    };
    let bytes = (number * scale).round();
    if !(0.0..=9.0e18).contains(&bytes) {
        return None;
    }
    let bytes = bytes as u64;
    Some(match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{}Mi", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{}Ki", b >> 10),
        b => b.to_string(),
    })
}

/// Compose `cpus` (`0.5`, `2`) as a Kubernetes quantity (`500m`, `2`).
fn cpu(text: &str) -> Option<String> {
    let cpus: f64 = text.trim().parse().ok()?;
    if !(0.0..1.0e9).contains(&cpus) {
        return None;
    }
    let millis = (cpus * 1000.0).round() as u64;
    Some(if millis % 1000 == 0 { (millis / 1000).to_string() } else { format!("{millis}m") })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_split_like_a_shell() {
        assert_eq!(split_words("--default-authentication-plugin=mysql_native_password"), Some(vec!["--default-authentication-plugin=mysql_native_password".to_owned()]));
        assert_eq!(split_words(r#"sh -c 'echo "hi there"' a\ b"#), Some(vec!["sh".into(), "-c".into(), "echo \"hi there\"".into(), "a b".into()]));
        assert_eq!(split_words("echo 'open"), None);
    }

    #[test]
    fn sizes_and_durations_convert() {
        assert_eq!(memory("1.5G").as_deref(), Some("1536Mi"));
        assert_eq!(memory("512m").as_deref(), Some("512Mi"));
        assert_eq!(memory("1000").as_deref(), Some("1000"));
        assert_eq!(memory("lots"), None);
        assert_eq!(cpu("0.5").as_deref(), Some("500m"));
        assert_eq!(cpu("2").as_deref(), Some("2"));
        assert_eq!(seconds("1m30s"), Some(90));
        assert_eq!(seconds("500ms"), Some(1));
        assert_eq!(seconds("soon"), None);
    }

    #[test]
    fn names_become_dns_labels() {
        assert_eq!(dns_name("my_database"), "my-database");
        assert_eq!(dns_name("__"), "service");
    }
}
