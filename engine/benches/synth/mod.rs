//! Deterministic generator of synthetic design repositories for the
//! `validate` benchmark.
//!
//! A repository of N components holds:
//! - `repo/manifests/<area>/<area>-<env>-<nnnn>.yaml`: multi-document files
//!   of 50–100 plain Kubernetes objects each, in eight area folders, one
//!   namespace per file;
//! - `repo/designs/synthetic-design-<d>.yml` (N ≥ 1,000 only): Meshery
//!   designs (`designs.meshery.io/v1beta1`) holding 3 % of N components;
//! - `single-doc/<area>/…` (optional): every manifest object again, one per
//!   file, for validators that cannot read multi-document YAML.
//!
//! Objects come in "stacks" of ten: three ConfigMaps, four Deployments and
//! three Services (40/30/30). Deployments reference their stack's
//! ConfigMaps (envFrom, configMapKeyRef, volumes) and Services select
//! Deployments of the same stack; inside a stack referenced objects come
//! first, so cutting a stack short never leaves a dangling reference.
//! Names are DNS-1123 labels, unique per (kind, namespace, name) because
//! every stack number is used once per repository.
//!
//! The same N always gives byte-identical files: a fixed-seed splitmix64
//! drives every choice, and maps keep insertion order.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::Path;

/// Bump when the output changes, so cached repositories are regenerated.
pub const GENERATOR_VERSION: u32 = 1;

/// What a generated repository holds.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    pub n: usize,
    /// Manifest objects plus design components (= n).
    pub components: usize,
    pub manifest_objects: usize,
    pub design_components: usize,
    pub manifest_files: usize,
    pub design_files: usize,
    /// 0 when the single-document variant was not written.
    pub single_doc_files: usize,
    /// Bytes of `repo/` (manifests and designs).
    pub repo_bytes: u64,
    /// Manifest objects by kind (designs not included).
    pub manifest_kinds: BTreeMap<String, usize>,
}

impl Stats {
    pub fn to_json(&self) -> Value {
        json!({
            "generator": GENERATOR_VERSION,
            "n": self.n,
            "components": self.components,
            "manifest_objects": self.manifest_objects,
            "design_components": self.design_components,
            "manifest_files": self.manifest_files,
            "design_files": self.design_files,
            "single_doc_files": self.single_doc_files,
            "repo_bytes": self.repo_bytes,
            "manifest_kinds": self.manifest_kinds,
        })
    }

    pub fn from_json(v: &Value) -> Option<Stats> {
        let num = |k: &str| v.get(k).and_then(Value::as_u64).map(|x| x as usize);
        if v.get("generator")?.as_u64()? != u64::from(GENERATOR_VERSION) {
            return None;
        }
        let kinds = v
            .get("manifest_kinds")?
            .as_object()?
            .iter()
            .map(|(k, c)| Some((k.clone(), c.as_u64()? as usize)))
            .collect::<Option<BTreeMap<_, _>>>()?;
        Some(Stats {
            n: num("n")?,
            components: num("components")?,
            manifest_objects: num("manifest_objects")?,
            design_components: num("design_components")?,
            manifest_files: num("manifest_files")?,
            design_files: num("design_files")?,
            single_doc_files: num("single_doc_files")?,
            repo_bytes: v.get("repo_bytes")?.as_u64()?,
            manifest_kinds: kinds,
        })
    }
}

/// Components that go into Meshery designs: 3 % of n from n = 1,000 on.
pub fn design_components(n: usize) -> usize {
    if n >= 1000 { n * 3 / 100 } else { 0 }
}

const STAMP: &str = "synth.json";

/// Generates (or reuses) the repository for `n` components in `dir`.
/// `dir` is reused when its stamp names the same generator version, n and
/// single-doc choice; otherwise it is rebuilt next to it and swapped in.
pub fn ensure(dir: &Path, n: usize, single_doc: bool) -> io::Result<(Stats, bool)> {
    if let Ok(text) = fs::read_to_string(dir.join(STAMP))
        && let Ok(v) = serde_json::from_str::<Value>(&text)
        && let Some(stats) = Stats::from_json(&v)
        && stats.n == n
        && (stats.single_doc_files > 0 || !single_doc)
    {
        return Ok((stats, true));
    }
    let tmp = dir.with_extension("tmp");
    if tmp.exists() {
        fs::remove_dir_all(&tmp)?;
    }
    let stats = generate(&tmp, n, single_doc)?;
    fs::write(tmp.join(STAMP), serde_json::to_string_pretty(&stats.to_json())? + "\n")?;
    if dir.exists() {
        fs::remove_dir_all(dir)?;
    }
    fs::rename(&tmp, dir)?;
    Ok((stats, false))
}

/// Writes a repository of `n` components into `root` (which must not exist).
pub fn generate(root: &Path, n: usize, single_doc: bool) -> io::Result<Stats> {
    let mut rng = Rng(0x5745_4654_5359_4e54);
    let mut stats = Stats { n, ..Stats::default() };
    let designed = design_components(n);
    let manifest_total = n - designed;
    let mut stack_no = 0usize;

    // Plain manifests.
    let mut left = manifest_total;
    let mut file_no = 0usize;
    while left > 0 {
        let area = AREAS[file_no % AREAS.len()];
        let env = ENVS[(file_no / AREAS.len()) % ENVS.len()];
        let ns = format!("{area}-{env}");
        let stem = format!("{area}-{env}-{file_no:04}");
        let stacks = 5 + rng.below(6) as usize; // 50–100 objects
        let mut docs = Vec::new();
        for _ in 0..stacks {
            for obj in stack(&mut rng, stack_no, &ns, area) {
                if left == 0 {
                    break;
                }
                docs.push(obj);
                left -= 1;
            }
            stack_no += 1;
        }
        let mut text = format!(
            "# Synthetic manifests for the weft validate benchmark (generator v{GENERATOR_VERSION}).\n# Namespace {ns}: {} objects.\n",
            docs.len()
        );
        let dir = root.join("repo/manifests").join(area);
        fs::create_dir_all(&dir)?;
        for (i, doc) in docs.iter().enumerate() {
            let body = to_yaml(doc);
            text.push_str("---\n");
            text.push_str(&body);
            *stats.manifest_kinds.entry(doc["kind"].as_str().unwrap_or("").to_string()).or_default() += 1;
            if single_doc {
                let sdir = root.join("single-doc").join(area);
                fs::create_dir_all(&sdir)?;
                fs::write(sdir.join(format!("{stem}-{i:03}.yaml")), &body)?;
                stats.single_doc_files += 1;
            }
        }
        stats.repo_bytes += text.len() as u64;
        fs::write(dir.join(format!("{stem}.yaml")), text)?;
        stats.manifest_objects += docs.len();
        stats.manifest_files += 1;
        file_no += 1;
    }

    // Meshery designs: at least two files, at most ~600 components each.
    if designed > 0 {
        let files = designed.div_ceil(600).max(2);
        let dir = root.join("repo/designs");
        fs::create_dir_all(&dir)?;
        for d in 0..files {
            let share = designed / files + usize::from(d < designed % files);
            let ns = format!("{}-demo", DESIGN_SPACES[d % DESIGN_SPACES.len()]);
            let mut components = Vec::with_capacity(share);
            while components.len() < share {
                for (i, obj) in stack(&mut rng, stack_no, &ns, "demo").into_iter().enumerate() {
                    if components.len() == share {
                        break;
                    }
                    let (x, y) = (120.0 * (i as f64) + 40.0, 90.0 * ((stack_no % 50) as f64) + 30.0);
                    components.push(to_component(&mut rng, obj, x, y));
                }
                stack_no += 1;
            }
            let design = json!({
                "id": rng.uuid(),
                "name": format!("Synthetic design {d} ({share} components)"),
                "schemaVersion": "designs.meshery.io/v1beta1",
                "version": format!("0.0.{}", d + 1),
                "metadata": {},
                "components": components,
                "relationships": [],
            });
            let text = format!(
                "# Synthetic Meshery design for the weft validate benchmark (generator v{GENERATOR_VERSION}).\n{}",
                to_yaml(&design)
            );
            stats.repo_bytes += text.len() as u64;
            fs::write(dir.join(format!("synthetic-design-{d}.yml")), text)?;
            stats.design_components += share;
            stats.design_files += 1;
        }
    }
    stats.components = stats.manifest_objects + stats.design_components;
    debug_assert_eq!(stats.components, n);
    Ok(stats)
}

pub const AREAS: &[&str] = &["payments", "catalog", "identity", "analytics", "platform", "edge", "search", "media"];
pub const ENVS: &[&str] = &["prod", "staging", "dev"];
pub const DESIGN_SPACES: &[&str] = &["meshery", "retail", "observability", "billing"];
const ADJ: &[&str] = &[
    "amber", "brisk", "cedar", "dusty", "ember", "frost", "gentle", "hazel", "ivory", "jade", "keen", "lunar", "misty",
    "noble", "opal", "plain", "quiet", "rapid", "silver", "tidal", "umber", "vivid", "windy", "young", "zesty",
];
const NOUN: &[&str] = &[
    "ledger", "basket", "cart", "gateway", "index", "ingest", "invoice", "mailer", "meter", "order", "profile",
    "quote", "ranker", "render", "report", "review", "router", "session", "shipper", "stock", "tracker", "vault",
];
const ROLES: [&str; 4] = ["api", "web", "grpc", "worker"];
const REGISTRIES: &[&str] = &["registry.example.com", "ghcr.io/example", "europe-docker.pkg.dev/example/apps"];
const LOG_LEVELS: &[&str] = &["debug", "info", "warn"];

/// One stack: ConfigMaps for api/web/grpc, Deployments for all four roles,
/// Services for api/web/grpc. Referenced objects come first.
pub fn stack(rng: &mut Rng, stack_no: usize, ns: &str, area: &str) -> Vec<Value> {
    let prefix = format!("{}-{}-{stack_no}", rng.pick(ADJ), rng.pick(NOUN));
    let names: Vec<String> = ROLES.iter().map(|r| format!("{prefix}-{r}")).collect();
    let mut out = Vec::with_capacity(10);
    for k in 0..3 {
        out.push(config_map(rng, &names[k], ns, &prefix, ROLES[k]));
    }
    for k in 0..4 {
        // The worker reads the api's configuration.
        let cm = format!("{}-config", names[if k == 3 { 0 } else { k }]);
        out.push(deployment(rng, &names[k], ns, &prefix, ROLES[k], &cm, area));
    }
    for k in 0..3 {
        out.push(service(rng, &names[k], ns, &prefix, ROLES[k]));
    }
    out
}

fn labels(name: &str, prefix: &str, role: &str) -> Value {
    json!({
        "app.kubernetes.io/name": name,
        "app.kubernetes.io/component": role,
        "app.kubernetes.io/part-of": prefix,
        "app.kubernetes.io/managed-by": "weft",
    })
}

fn port_of(role: &str) -> (&'static str, u64) {
    match role {
        "grpc" => ("grpc", 9090),
        "web" => ("http", 3000),
        _ => ("http", 8080),
    }
}

fn config_map(rng: &mut Rng, name: &str, ns: &str, prefix: &str, role: &str) -> Value {
    let mut data = Map::new();
    data.insert("LOG_LEVEL".into(), json!(rng.pick(LOG_LEVELS)));
    data.insert("LOG_FORMAT".into(), json!("json"));
    data.insert("CACHE_TTL_SECONDS".into(), json!(format!("{}", 30 * (1 + rng.below(20)))));
    data.insert("UPSTREAM_URL".into(), json!(format!("http://{prefix}-api.{ns}.svc.cluster.local:8080")));
    for f in 0..rng.below(4) {
        data.insert(format!("FEATURE_FLAG_{f}"), json!(if rng.below(2) == 0 { "true" } else { "false" }));
    }
    let (_, port) = port_of(role);
    data.insert(
        "application.properties".into(),
        json!(format!(
            "server.port={port}\nserver.shutdown=graceful\nmanagement.endpoints.web.exposure.include=health,metrics\npool.max-size={}\nretry.max-attempts={}\n",
            8 + rng.below(56),
            1 + rng.below(5)
        )),
    );
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": format!("{name}-config"),
            "namespace": ns,
            "labels": labels(name, prefix, role),
        },
        "data": data,
    })
}

fn deployment(rng: &mut Rng, name: &str, ns: &str, prefix: &str, role: &str, cm: &str, area: &str) -> Value {
    let image = format!(
        "{}/{area}/{}:v{}.{}.{}",
        rng.pick(REGISTRIES),
        prefix.rsplit_once('-').map_or(prefix, |(p, _)| p),
        1 + rng.below(3),
        rng.below(20),
        rng.below(10)
    );
    let (port_name, port) = port_of(role);
    let cpu_req = 50 * (1 + rng.below(8));
    let mem_req = 64 * (1 + rng.below(8));
    let mut env = vec![
        json!({"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}),
        json!({"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}),
        json!({"name": "LOG_LEVEL", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "LOG_LEVEL"}}}),
        json!({"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}}}),
    ];
    for e in 0..rng.below(4) {
        env.push(json!({"name": format!("EXTRA_SETTING_{e}"), "value": format!("value-{}", rng.below(1000))}));
    }
    let mut container = json!({
        "name": role,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "env": env,
        "envFrom": [{"configMapRef": {"name": cm}}],
        "resources": {
            "requests": {"cpu": format!("{cpu_req}m"), "memory": format!("{mem_req}Mi")},
            "limits": {"cpu": format!("{}m", cpu_req * 2), "memory": format!("{}Mi", mem_req * 2)},
        },
        "securityContext": {
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "runAsNonRoot": true,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": "/etc/app", "readOnly": true},
            {"name": "tmp", "mountPath": "/tmp"},
        ],
    });
    let c = container.as_object_mut().expect("object");
    if role == "worker" {
        c.insert(
            "args".into(),
            json!(["--queue", format!("{prefix}-jobs"), "--concurrency", format!("{}", 1 + rng.below(16))]),
        );
        c.insert(
            "livenessProbe".into(),
            json!({"exec": {"command": ["/bin/healthcheck", "--liveness"]}, "periodSeconds": 20, "timeoutSeconds": 5}),
        );
    } else {
        c.insert("ports".into(), json!([{"name": port_name, "containerPort": port, "protocol": "TCP"}]));
        c.insert(
            "readinessProbe".into(),
            if role == "grpc" {
                json!({"grpc": {"port": port}, "initialDelaySeconds": 5, "periodSeconds": 10})
            } else {
                json!({"httpGet": {"path": "/healthz/ready", "port": port_name}, "initialDelaySeconds": 5, "periodSeconds": 10, "failureThreshold": 3})
            },
        );
        c.insert(
            "livenessProbe".into(),
            json!({"tcpSocket": {"port": port}, "initialDelaySeconds": 15, "periodSeconds": 20}),
        );
    }
    let mut containers = vec![container];
    if rng.below(4) == 0 {
        containers.push(json!({
            "name": "log-shipper",
            "image": "docker.io/fluent/fluent-bit:3.2.4",
            "args": ["--config", "/fluent-bit/etc/fluent-bit.conf"],
            "resources": {"requests": {"cpu": "10m", "memory": "32Mi"}, "limits": {"memory": "64Mi"}},
            "volumeMounts": [{"name": "tmp", "mountPath": "/var/log/app", "readOnly": true}],
        }));
    }
    let selector = json!({"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": prefix});
    let mut pod_labels = labels(name, prefix, role);
    pod_labels["version"] = json!(format!("v{}", 1 + rng.below(3)));
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": ns,
            "labels": labels(name, prefix, role),
            "annotations": {"weft.dev/owner": format!("team-{area}")},
        },
        "spec": {
            "replicas": 1 + rng.below(5),
            "revisionHistoryLimit": 5,
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
            "selector": {"matchLabels": selector},
            "template": {
                "metadata": {
                    "labels": pod_labels,
                    "annotations": {"prometheus.io/scrape": "true", "prometheus.io/port": format!("{port}")},
                },
                "spec": {
                    "terminationGracePeriodSeconds": 30,
                    "securityContext": {"runAsUser": 1000, "runAsGroup": 1000, "fsGroup": 1000},
                    "containers": containers,
                    "volumes": [
                        {"name": "config", "configMap": {"name": cm, "defaultMode": 420}},
                        {"name": "tmp", "emptyDir": {"sizeLimit": "256Mi"}},
                    ],
                },
            },
        },
    })
}

fn service(rng: &mut Rng, name: &str, ns: &str, prefix: &str, role: &str) -> Value {
    let (port_name, port) = port_of(role);
    let exposed = if port_name == "grpc" { port } else { 80 };
    let mut ports = vec![json!({"name": port_name, "port": exposed, "targetPort": port_name, "protocol": "TCP"})];
    if rng.below(3) == 0 {
        ports.push(json!({"name": "metrics", "port": 9102, "targetPort": 9102, "protocol": "TCP"}));
    }
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": ns, "labels": labels(name, prefix, role)},
        "spec": {
            "type": "ClusterIP",
            "selector": {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": prefix},
            "ports": ports,
        },
    })
}

/// A Kubernetes object as a Meshery v1beta1 design component: the name
/// moves to `displayName`, `apiVersion`/`kind` to `component`, the rest
/// (namespace, labels, spec or data) to `configuration`.
pub fn to_component(rng: &mut Rng, obj: Value, x: f64, y: f64) -> Value {
    let Value::Object(mut conf) = obj else { unreachable!("objects only") };
    let api_version = conf.shift_remove("apiVersion").unwrap_or(Value::Null);
    let kind = conf.shift_remove("kind").unwrap_or(Value::Null);
    let name = conf
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
        .and_then(|m| m.shift_remove("name"))
        .unwrap_or(Value::Null);
    json!({
        "id": rng.uuid(),
        "schemaVersion": "components.meshery.io/v1beta1",
        "version": "v1.0.0",
        "displayName": name,
        "description": "",
        "format": "JSON",
        "modelReference": {
            "version": "v1.0.0",
            "name": "kubernetes",
            "displayName": "Kubernetes",
            "id": "00000000-0000-0000-0000-000000000000",
            "registrant": {"kind": "github"},
            "model": {"version": "v1.35.0"},
        },
        "status": "enabled",
        "metadata": {"genealogy": "", "isAnnotation": false, "isNamespaced": true, "published": false},
        "component": {"version": api_version, "kind": kind, "schema": ""},
        "configuration": conf,
        "styles": {"position": {"x": x, "y": y}},
    })
}

/// splitmix64: tiny, fast, and the same on every platform.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<T: Copy>(&mut self, xs: &[T]) -> T {
        xs[self.below(xs.len() as u64) as usize]
    }
    /// A random (version 4 shaped) UUID.
    pub fn uuid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        let b = (b & 0x3fff_ffff_ffff_ffff) | 0x8000_0000_0000_0000;
        let a = (a & 0xffff_ffff_ffff_0fff) | 0x0000_0000_0000_4000;
        format!(
            "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
}

/// Block-style YAML for a JSON value: what people write by hand, and what
/// any YAML 1.1 or 1.2 reader parses back to the same value.
pub fn to_yaml(v: &Value) -> String {
    let mut out = String::new();
    match v {
        Value::Object(m) if !m.is_empty() => write_map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => write_seq(&mut out, a, 0),
        _ => {
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
    out
}

fn pad(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn write_map(out: &mut String, m: &Map<String, Value>, indent: usize) {
    for (k, v) in m {
        pad(out, indent);
        out.push_str(&plain_or_quoted(k));
        out.push(':');
        write_value(out, v, indent);
    }
}

/// Writes what follows `key:` for a key at `indent`.
fn write_value(out: &mut String, v: &Value, indent: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            write_map(out, m, indent + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            write_seq(out, a, indent);
        }
        Value::String(s) if is_block(s) => write_block(out, s, indent + 2),
        _ => {
            out.push(' ');
            out.push_str(&scalar(v));
            out.push('\n');
        }
    }
}

fn write_seq(out: &mut String, a: &[Value], indent: usize) {
    for item in a {
        pad(out, indent);
        match item {
            Value::Object(m) if !m.is_empty() => {
                let mut inner = String::new();
                write_map(&mut inner, m, indent + 2);
                out.push_str("- ");
                out.push_str(&inner[indent + 2..]);
            }
            Value::Array(inner) if !inner.is_empty() => {
                out.push_str("-\n");
                write_seq(out, inner, indent + 2);
            }
            Value::String(s) if is_block(s) => {
                out.push('-');
                write_block(out, s, indent + 2);
            }
            _ => {
                out.push_str("- ");
                out.push_str(&scalar(item));
                out.push('\n');
            }
        }
    }
}

fn is_block(s: &str) -> bool {
    s.contains('\n') && !s.starts_with([' ', '\t']) && !s.contains('\r') && !s.contains("\n\n")
}

fn write_block(out: &mut String, s: &str, indent: usize) {
    out.push_str(if s.ends_with('\n') { " |\n" } else { " |-\n" });
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        pad(out, indent);
        out.push_str(line);
        out.push('\n');
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => plain_or_quoted(s),
        Value::Object(_) => "{}".into(),
        Value::Array(_) => "[]".into(),
    }
}

/// A string as a plain scalar when no YAML reader could take it for
/// anything else, else double-quoted (JSON escapes are valid YAML).
fn plain_or_quoted(s: &str) -> String {
    const RESERVED: &[&str] = &["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~"];
    // Quantities such as `250m` or `64Mi` never read as numbers.
    let quantity = ["m", "Ki", "Mi", "Gi"]
        .iter()
        .any(|unit| s.strip_suffix(unit).is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())));
    if quantity {
        return s.to_string();
    }
    let plain = !s.is_empty()
        && s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '/' || c == '_')
        && s.chars().all(|c| c.is_ascii_alphanumeric() || "._/-:=@".contains(c))
        && !s.ends_with(':')
        && !RESERVED.contains(&s.to_ascii_lowercase().as_str());
    if plain { s.to_string() } else { serde_json::to_string(s).expect("string") }
}
