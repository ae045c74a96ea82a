//! Diagnostics as data: every stage reports problems as `Diagnostic` values
//! that carry a stable code and a source position, and the report stage
//! renders them. Nothing here prints.

use serde::Serialize;
use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// A position in a source file. Lines and columns are 1-based (columns count
/// characters); `len` is the byte length of the token, for drawing carets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize)]
pub struct Span {
    pub line: u32,
    pub column: u32,
    #[serde(skip)]
    pub len: u32,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub code: &'static str,
    pub message: String,
    /// Display path of the file, relative to the directory weft was run on.
    pub file: Option<String>,
    #[serde(skip)]
    pub span: Option<Span>,
    /// `Kind/namespace/name` of the component the diagnostic is about.
    pub component: Option<String>,
    pub hint: Option<String>,
    /// The source line holds a secret value: reports show where, not the line.
    #[serde(skip)]
    pub sensitive: bool,
}

/// A code named at run time (by a relationship definition or a policy)
/// as a `'static` str. Codes are few and live for the whole run, so each
/// distinct one is leaked once.
pub fn intern(code: &str) -> &'static str {
    if let Some(known) = codes::ALL.iter().find(|c| c.name == code) {
        return known.name;
    }
    static INTERNED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let mut interned = INTERNED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(found) = interned.iter().find(|c| **c == code) {
        return found;
    }
    let leaked: &'static str = Box::leak(code.to_owned().into_boxed_str());
    interned.push(leaked);
    leaked
}

impl Diagnostic {
    /// A diagnostic with a code known only at run time.
    pub fn dynamic(code: &str, severity: Severity, message: impl Into<String>) -> Self {
        let known = codes::ALL.iter().find(|c| c.name == code);
        Diagnostic {
            severity,
            code: intern(code),
            message: message.into(),
            file: None,
            span: None,
            component: None,
            hint: known.and_then(|c| c.hint).map(str::to_owned),
            sensitive: false,
        }
    }

    pub fn new(code: &'static Code, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: code.severity,
            code: code.name,
            message: message.into(),
            file: None,
            span: None,
            component: None,
            hint: code.hint.map(str::to_owned),
            sensitive: false,
        }
    }
    pub fn at(mut self, file: impl Into<String>, span: Option<Span>) -> Self {
        self.file = Some(file.into());
        self.span = span;
        self
    }
    pub fn component(mut self, component: impl Into<String>) -> Self {
        self.component = Some(component.into());
        self
    }
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
    pub fn severity(mut self, severity: Severity) -> Self {
        self.severity = severity;
        self
    }
    pub fn line(&self) -> u32 {
        self.span.map_or(1, |s| s.line.max(1))
    }
    pub fn column(&self) -> u32 {
        self.span.map_or(1, |s| s.column.max(1))
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

/// A diagnostic code: its stable name, default severity, what it means and
/// the hint shown when the emitting site has nothing more specific.
#[derive(Debug)]
pub struct Code {
    pub name: &'static str,
    pub severity: Severity,
    pub summary: &'static str,
    pub hint: Option<&'static str>,
}

macro_rules! codes {
    ($( $ident:ident = ($name:literal, $sev:ident, $summary:literal, $hint:expr); )*) => {
        pub mod codes {
            use super::{Code, Severity};
            $( pub static $ident: Code = Code { name: $name, severity: Severity::$sev, summary: $summary, hint: $hint }; )*
            /// Every code weft can emit, for SARIF rule tables and the docs.
            pub static ALL: &[&Code] = &[ $( &$ident ),* ];
        }
    };
}

codes! {
    YAML_SYNTAX = ("yaml-syntax", Error, "The file is not well-formed YAML or JSON.", Some("fix the syntax at the marked position"));
    DUPLICATE_KEY = ("duplicate-key", Error, "A mapping repeats a key; YAML requires unique keys and tools disagree on which value wins.", Some("remove or rename one of the repeated keys"));
    ALIAS_LIMIT = ("alias-limit", Error, "Expanding YAML aliases exceeded the budget (a \"billion laughs\" document).", Some("avoid deeply nested anchors and aliases; weft caps alias expansion to keep memory bounded"));
    NESTING_LIMIT = ("nesting-limit", Error, "The document nests deeper than the configured cap.", Some("flatten the document or raise `limits.maxDepth` in weft.yaml"));
    FILE_TOO_LARGE = ("file-too-large", Error, "The file is larger than the configured size cap.", Some("split the file or raise `limits.maxFileSize` in weft.yaml"));
    NOT_UTF8 = ("not-utf8", Error, "The file is not valid UTF-8.", Some("save the file as UTF-8"));
    EMPTY_DOCUMENT = ("empty-document", Warning, "The file holds no YAML document (only comments and separators, or nothing).", Some("delete the file or give it content"));
    UNREADABLE = ("unreadable", Error, "The file or archive could not be read.", Some("check that the file is readable and not truncated or corrupt"));
    SKIPPED_FILE = ("skipped-file", Info, "The file is neither a design nor a Kubernetes object and was skipped.", Some("list it under `ignore` in weft.yaml to stop weft reading it"));
    INVALID_DESIGN = ("invalid-design", Error, "A design is missing a required field or has one of the wrong type.", Some("schemas/design-v1beta1.schema.json describes the design format"));
    INVALID_MANIFEST = ("invalid-manifest", Error, "A Kubernetes object lacks apiVersion, kind or metadata.name, or has them of the wrong type.", Some("every object needs apiVersion, kind and metadata.name (or metadata.generateName)"));
    DUPLICATE_COMPONENT_ID = ("duplicate-component-id", Error, "Two components of one design share an id.", Some("give each component a unique id (a UUID)"));
    DUPLICATE_OBJECT = ("duplicate-object", Error, "Two components describe the same Kubernetes object (group, kind, namespace, name).", Some("keep one definition of the object, or change the name or namespace of one of them"));
    DANGLING_RELATIONSHIP = ("dangling-relationship", Error, "A relationship refers to a component id that the design does not contain.", Some("remove the relationship or restore the component it refers to"));
    UNKNOWN_KIND = ("unknown-kind", Error, "No model in the registry defines this kind.", Some("import a model for it (`weft model import --crd FILE`) or pass --allow-unknown"));
    UNKNOWN_VERSION = ("unknown-version", Error, "The kind is known, but not at this apiVersion.", Some("use an apiVersion the model serves (`weft model show KIND`)"));
    UNKNOWN_MODEL = ("unknown-model", Error, "The design names a model that the registry does not have.", Some("import the model, or pass --allow-unknown"));
    SCHEMA = ("schema", Error, "The component's configuration does not match its kind's schema.", Some("`weft model show KIND` prints the fields the kind accepts"));
    INVALID_NAME = ("invalid-name", Error, "The name is not a valid DNS-1123 name.", Some("use lower-case letters, digits, '-' and '.', starting and ending with a letter or digit, at most 253 characters"));
    NAMESPACE_ON_CLUSTER_SCOPED = ("namespace-on-cluster-scoped", Error, "A namespace is set on a cluster-scoped kind.", Some("remove metadata.namespace: the kind is cluster-scoped"));
    CYCLE = ("cycle", Warning, "Relationships form a cycle, so there is no order in which to apply the components.", Some("remove or reverse one relationship of the cycle"));
    CONFIG = ("config", Error, "weft.yaml is invalid.", Some("schemas/weft.schema.json describes weft.yaml"));
    MISSING_REFERENCE = ("missing-reference", Error, "An object refers to another (ConfigMap, Secret, Service, Role, ...) that is neither in the repository nor declared external.", Some("add the object, or declare it external: a stub with the annotation `weft.io/external: \"true\"`, or an entry under `external` in weft.yaml"));
    SERVICE_SELECTS_NOTHING = ("service-selects-nothing", Warning, "A Service's selector matches no Pod or workload in its namespace, so it has no endpoints.", Some("make the selector match the Pod template labels of a workload in the same namespace"));
    SELECTOR_MATCHES_NOTHING = ("selector-matches-nothing", Warning, "A selector matches no Pod or workload in its namespace.", Some("make the selector match the Pod template labels of a workload in the same namespace"));
    SELECTOR_TEMPLATE_MISMATCH = ("selector-template-mismatch", Error, "A workload's selector names a label its Pod template does not carry; the API server rejects the object.", Some("add the selector's labels to spec.template.metadata.labels"));
    TARGET_PORT_MISMATCH = ("target-port-mismatch", Warning, "A Service port's targetPort names or numbers no container port of the workloads the Service selects.", Some("make targetPort the name or number of a container port of the selected Pods"));
    BACKEND_PORT_MISMATCH = ("backend-port-mismatch", Error, "An Ingress or Gateway API route sends to a port its Service does not expose.", Some("use one of the Service's `spec.ports` (number or name)"));
    SELECTOR_OTHER_NAMESPACE = ("selector-other-namespace", Warning, "A selector matches nothing in its own namespace but matches workloads in another; selectors never cross namespaces.", Some("move the object into the workloads' namespace, or set the right namespace on it"));
    POLICY_ERROR = ("policy-error", Error, "A Rego policy failed to load or to evaluate; the other checks still ran.", Some("fix the policy at the marked position; the other policies and checks ran without it"));
    IMAGE_LATEST_TAG = ("image-latest-tag", Warning, "A container image has no tag, or the tag `latest`: what runs can change without a commit, and a rollback restores nothing.", Some("pin a version tag or a digest (`image@sha256:...`)"));
    MISSING_RESOURCE_REQUESTS = ("missing-resource-requests", Warning, "A container sets no CPU or memory request, so the scheduler places it blindly.", Some("set resources.requests.cpu and resources.requests.memory"));
    MISSING_MEMORY_LIMIT = ("missing-memory-limit", Warning, "A container sets no memory limit: one leak can exhaust its node.", Some("set resources.limits.memory"));
    MISSING_READINESS_PROBE = ("missing-readiness-probe", Warning, "A long-running container has no readiness probe, so it receives traffic before it is ready.", Some("add a readinessProbe (httpGet, tcpSocket, grpc or exec)"));
    MISSING_LIVENESS_PROBE = ("missing-liveness-probe", Warning, "A long-running container has no liveness probe, so a hung process is never restarted.", Some("add a livenessProbe"));
    PRIVILEGED_CONTAINER = ("privileged-container", Error, "A container runs privileged, with every capability of the node.", Some("remove securityContext.privileged, and add only the capabilities it needs"));
    HOST_NETWORK = ("host-network", Warning, "A Pod uses the node's network namespace.", Some("remove hostNetwork: true, or waive the check on the object with `weft.io/ignore: host-network`"));
    HOST_PID_IPC = ("host-pid-ipc", Warning, "A Pod shares the node's process or IPC namespace.", Some("remove hostPID / hostIPC"));
    HOST_PATH_VOLUME = ("host-path-volume", Warning, "A Pod mounts a path of its node (hostPath).", Some("use a PersistentVolumeClaim, a ConfigMap or an emptyDir, or waive the check on the object with `weft.io/ignore: host-path-volume`"));
    CONTAINER_RUNTIME_SOCKET = ("container-runtime-socket", Error, "A Pod mounts the container runtime socket (docker.sock, containerd.sock), which controls the node.", Some("do not mount the runtime socket; build images with a daemonless builder"));
    RUN_AS_ROOT = ("run-as-root", Warning, "A Pod or container runs as user 0 (root).", Some("run as a non-root user (runAsUser > 0, runAsNonRoot: true)"));
    DANGEROUS_CAPABILITY = ("dangerous-capability", Warning, "A container adds a Linux capability that gives power over the node (ALL, SYS_ADMIN, NET_ADMIN, ...).", Some("drop the capability, or waive the check on the object with `weft.io/ignore: dangerous-capability`"));
    LOAD_BALANCER_NOT_ALLOWED = ("load-balancer-not-allowed", Warning, "A Service of type LoadBalancer does not carry the annotation that allows it, so a public cloud load balancer may be created by accident.", Some("annotate the Service with `weft.io/allow-load-balancer: \"true\"`, or use ClusterIP behind an Ingress or Gateway"));
    SECRET_IN_ENV = ("secret-in-env", Warning, "An environment variable named like a credential has a literal value in the manifest.", Some("move the value to a Secret and use valueFrom.secretKeyRef"));
    RBAC_WILDCARD = ("rbac-wildcard", Warning, "A Role or ClusterRole grants `*` in verbs, resources or API groups.", Some("list the verbs, resources and groups the subject needs"));
    CLUSTER_ADMIN_BINDING = ("cluster-admin-binding", Warning, "A binding grants the cluster-admin ClusterRole.", Some("bind a Role with the permissions the subject needs"));
    MODEL_INVALID = ("model-invalid", Error, "A model or component definition in the registry is invalid.", Some("fix the definition; patterns use RE2 syntax (no lookaround), as Kubernetes does"));
}
