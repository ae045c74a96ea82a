//! The object store: objects, resource versions, the watch event history,
//! and the write paths (create, update, patch, apply, delete) with their
//! metadata, defaulting, managedFields and status bookkeeping.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};
use tokio::sync::broadcast;

use crate::defaults;
use crate::fields::{self, FieldSet, Scope};
use crate::resources::{self, ResourceType};

/// An API error, rendered as a `Status` object.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: Value::Null }
    }
    pub fn not_found(rt: &ResourceType, name: &str) -> Self {
        let resource = qualified(rt);
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("{resource} \"{name}\" not found"),
            details: json!({"name": name, "group": rt.group, "kind": rt.plural}),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }
    pub fn status(&self) -> Value {
        let mut s = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": self.message, "reason": self.reason});
        if !self.details.is_null() {
            let mut d = self.details.clone();
            if d["group"].as_str() == Some("") {
                d.as_object_mut().unwrap().shift_remove("group");
            }
            s["details"] = d;
        }
        s["code"] = json!(self.code);
        s
    }
}

/// `deployments.apps`, or `configmaps` for the core group.
pub fn qualified(rt: &ResourceType) -> String {
    if rt.group.is_empty() { rt.plural.clone() } else { format!("{}.{}", rt.plural, rt.group) }
}

/// One change, as watchers see it.
#[derive(Debug)]
pub struct Event {
    pub rv: u64,
    pub group: String,
    pub plural: String,
    pub namespace: String,
    pub kind: &'static str,
    pub object: Arc<Value>,
    /// The object before the change (MODIFIED), for selector transitions.
    pub prev: Option<Arc<Value>>,
}

type TypeKey = (String, String);
type ObjKey = (String, String);

const HISTORY: usize = 100_000;

pub struct Store {
    pub types: Vec<ResourceType>,
    objects: HashMap<TypeKey, BTreeMap<ObjKey, Arc<Value>>>,
    pub rv: u64,
    pub events: VecDeque<Arc<Event>>,
    /// Oldest resource version a watch can start from.
    pub oldest_rv: u64,
    pub tx: broadcast::Sender<Arc<Event>>,
    next_ip: u32,
    lb_ip: u32,
    pub auto_ready: bool,
    /// CRD names whose establishment is pending (delayed).
    pub establishing: Vec<String>,
    pub crd_delay: std::time::Duration,
    /// CRDs whose delayed establishment the server must schedule.
    pub to_schedule: Vec<String>,
    /// Time a deleted namespace stays Terminating before it and its contents go.
    pub ns_delete_delay: std::time::Duration,
    /// Terminating namespaces the server must finalize after `ns_delete_delay`.
    pub to_finalize: Vec<String>,
    /// Events kept for watches that start from an older resourceVersion.
    pub history_cap: usize,
}

/// What a write is.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    pub manager: String,
    pub dry_run: bool,
    /// The write targets the `status` subresource.
    pub status: bool,
}

/// The outcome of a write: HTTP code and the object.
pub type WriteResult = Result<(u16, Value), ApiError>;

fn meta(obj: &Value) -> &Value {
    &obj["metadata"]
}

fn meta_mut(obj: &mut Value) -> &mut Map<String, Value> {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    obj["metadata"].as_object_mut().unwrap()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

/// One `metadata.managedFields` entry, parsed.
#[derive(Debug, Clone)]
struct Managed {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: String,
    set: FieldSet,
    /// Whether `set` changed since it was parsed (its time is then renewed).
    dirty: bool,
}

fn parse_managed(obj: &Value) -> Vec<Managed> {
    meta(obj)["managedFields"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|e| e.get("manager").is_some())
                .map(|e| Managed {
                    manager: str_of(e, "manager").into(),
                    operation: str_of(e, "operation").into(),
                    api_version: str_of(e, "apiVersion").into(),
                    time: str_of(e, "time").into(),
                    subresource: str_of(e, "subresource").into(),
                    set: fields::from_fields_v1(&e["fieldsV1"]),
                    dirty: false,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn render_managed(entries: &[Managed], now: &str) -> Value {
    Value::Array(
        entries
            .iter()
            .filter(|e| !e.set.is_empty())
            .map(|e| {
                let mut m = json!({"manager": e.manager, "operation": e.operation, "apiVersion": e.api_version,
                    "time": if e.dirty || e.time.is_empty() { now } else { e.time.as_str() }, "fieldsType": "FieldsV1",
                    "fieldsV1": fields::to_fields_v1(&e.set)});
                if !e.subresource.is_empty() {
                    m["subresource"] = json!(e.subresource);
                }
                m
            })
            .collect(),
    )
}

fn set_managed(obj: &mut Value, entries: &[Managed], now: &str) {
    let v = render_managed(entries, now);
    let m = meta_mut(obj);
    if v.as_array().map(Vec::is_empty).unwrap_or(true) {
        m.shift_remove("managedFields");
    } else {
        m.insert("managedFields".into(), v);
    }
}

/// Records an Update by `manager` that changed `changed`; drops ownership of
/// paths no longer in `present`.
fn record_update(entries: &mut Vec<Managed>, manager: &str, api_version: &str, subresource: &str, changed: &FieldSet, present: &FieldSet) {
    for e in entries.iter_mut() {
        let same = e.manager == manager && e.operation == "Update" && e.api_version == api_version && e.subresource == subresource;
        if !same {
            e.set.retain(|p| !changed.contains(p) && present.contains(p));
        }
    }
    if changed.is_empty() {
        for e in entries.iter_mut() {
            e.set.retain(|p| present.contains(p));
        }
        entries.retain(|e| !e.set.is_empty());
        return;
    }
    match entries
        .iter_mut()
        .find(|e| e.manager == manager && e.operation == "Update" && e.api_version == api_version && e.subresource == subresource)
    {
        Some(e) => {
            let before = e.set.clone();
            e.set.extend(changed.iter().cloned());
            e.set.retain(|p| present.contains(p));
            e.dirty |= e.set != before;
        }
        None => entries.push(Managed {
            manager: manager.into(),
            operation: "Update".into(),
            api_version: api_version.into(),
            time: String::new(),
            subresource: subresource.into(),
            set: changed.clone(),
            dirty: true,
        }),
    }
    entries.retain(|e| !e.set.is_empty());
}

impl Store {
    pub fn new(auto_ready: bool, crd_delay: std::time::Duration) -> Store {
        let (tx, _) = broadcast::channel(65_536);
        let mut s = Store {
            types: resources::builtin(),
            objects: HashMap::new(),
            rv: 0,
            events: VecDeque::new(),
            oldest_rv: 1,
            tx,
            next_ip: 0,
            lb_ip: 0,
            auto_ready,
            establishing: Vec::new(),
            crd_delay,
            to_schedule: Vec::new(),
            ns_delete_delay: std::time::Duration::ZERO,
            to_finalize: Vec::new(),
            history_cap: HISTORY,
        };
        let ns_type = s.find_kind("v1", "Namespace").unwrap();
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            s.create(&ns_type, None, obj, &WriteCtx { manager: "kube-apiserver".into(), dry_run: false, status: false }).unwrap();
        }
        // The default service account of each namespace is not created (no controllers).
        s
    }

    pub fn now() -> String {
        defaults::now_rfc3339()
    }

    /// The type serving `api_version` + `kind`.
    pub fn find_kind(&self, api_version: &str, kind: &str) -> Option<ResourceType> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        self.types.iter().find(|t| t.group == group && t.version == version && t.kind == kind).cloned()
    }

    /// The type serving `group`/`version`/`plural`.
    pub fn find_plural(&self, group: &str, version: &str, plural: &str) -> Option<ResourceType> {
        self.types.iter().find(|t| t.group == group && t.version == version && t.plural == plural).cloned()
    }

    fn bucket(&self, rt: &ResourceType) -> Option<&BTreeMap<ObjKey, Arc<Value>>> {
        self.objects.get(&(rt.group.clone(), rt.plural.clone()))
    }

    fn bucket_mut(&mut self, rt: &ResourceType) -> &mut BTreeMap<ObjKey, Arc<Value>> {
        self.objects.entry((rt.group.clone(), rt.plural.clone())).or_default()
    }

    /// The stored object, as the given version presents it.
    pub fn get_raw(&self, rt: &ResourceType, ns: &str, name: &str) -> Option<Arc<Value>> {
        self.bucket(rt)?.get(&(ns.to_string(), name.to_string())).cloned()
    }

    pub fn get(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.get_raw(rt, ns, name).map(|o| present(rt, &o)).ok_or_else(|| ApiError::not_found(rt, name))
    }

    /// Objects of a type, optionally in one namespace, in key order.
    pub fn list_raw(&self, rt: &ResourceType, ns: Option<&str>) -> Vec<Arc<Value>> {
        let Some(b) = self.bucket(rt) else { return Vec::new() };
        match ns {
            Some(ns) => b.range((ns.to_string(), String::new())..).take_while(|((n, _), _)| n == ns).map(|(_, v)| v.clone()).collect(),
            None => b.values().cloned().collect(),
        }
    }

    fn namespace_terminating(&self, ns: &str) -> bool {
        self.objects
            .get(&(String::new(), "namespaces".to_string()))
            .and_then(|b| b.get(&(String::new(), ns.to_string())))
            .map(|o| o["metadata"].get("deletionTimestamp").is_some())
            .unwrap_or(false)
    }

    fn namespace_exists(&self, ns: &str) -> bool {
        self.objects.get(&(String::new(), "namespaces".to_string())).map(|b| b.contains_key(&(String::new(), ns.to_string()))).unwrap_or(false)
    }

    fn emit(&mut self, rt: &ResourceType, kind: &'static str, object: Arc<Value>, prev: Option<Arc<Value>>) {
        let ev = Arc::new(Event {
            rv: self.rv,
            group: rt.group.clone(),
            plural: rt.plural.clone(),
            namespace: str_of(meta(&object), "namespace").to_string(),
            kind,
            object,
            prev,
        });
        self.events.push_back(ev.clone());
        if self.events.len() > self.history_cap
            && let Some(old) = self.events.pop_front() {
                self.oldest_rv = old.rv + 1;
            }
        let _ = self.tx.send(ev);
    }

    /// Checks the name/namespace of a body against the URL and the namespace's existence.
    fn check_target(&self, rt: &ResourceType, ns: Option<&str>, obj: &mut Value, url_name: Option<&str>) -> Result<(), ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml"));
        }
        let body_kind = str_of(obj, "kind");
        if !body_kind.is_empty() && body_kind != rt.kind {
            return Err(ApiError::bad_request(format!("the kind in the body ({body_kind}) does not match the URL ({})", rt.kind)));
        }
        let body_av = str_of(obj, "apiVersion");
        if !body_av.is_empty() && body_av != rt.api_version() {
            let group = body_av.rsplit_once('/').map(|(g, _)| g).unwrap_or("");
            if group != rt.group {
                return Err(ApiError::bad_request(format!("the API version in the data ({body_av}) does not match the expected API version ({})", rt.api_version())));
            }
        }
        obj["apiVersion"] = json!(rt.api_version());
        obj["kind"] = json!(rt.kind);
        let m = meta_mut(obj);
        if let Some(url_name) = url_name {
            match m.get("name").and_then(Value::as_str) {
                None | Some("") => {
                    m.insert("name".into(), json!(url_name));
                }
                Some(n) if n != url_name => {
                    return Err(ApiError::bad_request("the name of the object (".to_string() + n + ") does not match the name on the URL (" + url_name + ")"));
                }
                _ => {}
            }
        }
        if rt.namespaced {
            let ns = ns.ok_or_else(|| ApiError::bad_request("the server could not find the requested resource"))?;
            match m.get("namespace").and_then(Value::as_str) {
                None | Some("") => {
                    m.insert("namespace".into(), json!(ns));
                }
                Some(n) if n != ns => {
                    return Err(ApiError::bad_request("the namespace of the provided object does not match the namespace sent on the request"));
                }
                _ => {}
            }
            if self.namespace_terminating(ns) {
                let m = &*m;
                let obj_name = m.get("name").and_then(Value::as_str).unwrap_or("").to_string();
                return Err(ApiError {
                    code: 403,
                    reason: "Forbidden",
                    message: format!("{} \"{}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated", qualified(rt), obj_name),
                    details: json!({"name": obj_name, "group": rt.group, "kind": rt.plural, "causes": [{"reason": "NamespaceTerminating", "message": format!("namespace {ns} is being terminated"), "field": "metadata.namespace"}]}),
                });
            }
            if !self.namespace_exists(ns) {
                return Err(ApiError {
                    code: 404,
                    reason: "NotFound",
                    message: format!("namespaces \"{ns}\" not found"),
                    details: json!({"name": ns, "kind": "namespaces"}),
                });
            }
        } else {
            m.shift_remove("namespace");
        }
        Ok(())
    }

    fn invalid(rt: &ResourceType, name: &str, field: &str, msg: &str) -> ApiError {
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("{} \"{name}\" is invalid: {field}: {msg}", rt.kind),
            details: json!({"name": name, "group": rt.group, "kind": rt.kind, "causes": [{"reason": "FieldValueRequired", "message": msg, "field": field}]}),
        }
    }

    /// Create (POST) by a non-apply manager.
    pub fn create(&mut self, rt: &ResourceType, ns: Option<&str>, mut obj: Value, ctx: &WriteCtx) -> WriteResult {
        self.check_target(rt, ns, &mut obj, None)?;
        let m = meta_mut(&mut obj);
        let name = m.get("name").and_then(Value::as_str).unwrap_or("").to_string();
        if name.is_empty() {
            if let Some(prefix) = m.get("generateName").and_then(Value::as_str).filter(|s| !s.is_empty()) {
                let suffix: String = uuid::Uuid::new_v4().simple().to_string().chars().filter(|c| !"aeiou013".contains(*c)).take(5).collect();
                let generated = format!("{prefix}{suffix}");
                m.insert("name".into(), json!(generated));
            } else {
                return Err(Self::invalid(rt, "", "metadata.name", "name or generateName is required"));
            }
        }
        let name = str_of(meta(&obj), "name").to_string();
        let ns_s = ns.filter(|_| rt.namespaced).unwrap_or("").to_string();
        if self.get_raw(rt, &ns_s, &name).is_some() {
            return Err(ApiError {
                code: 409,
                reason: "AlreadyExists",
                message: format!("{} \"{name}\" already exists", qualified(rt)),
                details: json!({"name": name, "group": rt.group, "kind": rt.plural}),
            });
        }
        self.commit(rt, &ns_s, &name, None, obj, Manage::Update(ctx.manager.clone()), ctx)
    }

    /// Replace (PUT). Stale resourceVersion → 409.
    pub fn update(&mut self, rt: &ResourceType, ns: Option<&str>, name: &str, mut obj: Value, ctx: &WriteCtx) -> WriteResult {
        self.check_target(rt, ns, &mut obj, Some(name))?;
        let ns_s = ns.filter(|_| rt.namespaced).unwrap_or("").to_string();
        let Some(old) = self.get_raw(rt, &ns_s, name) else { return Err(ApiError::not_found(rt, name)) };
        let rv = str_of(meta(&obj), "resourceVersion");
        if !rv.is_empty() && rv != str_of(meta(&old), "resourceVersion") {
            return Err(conflict_modified(rt, name));
        }
        self.commit(rt, &ns_s, name, Some(old), obj, Manage::Update(ctx.manager.clone()), ctx)
    }

    /// A patch that is not an apply: the patched object is written like a PUT.
    pub fn patch(&mut self, rt: &ResourceType, ns: Option<&str>, name: &str, patch_type: PatchType, patch: &Value, ctx: &WriteCtx) -> WriteResult {
        let ns_s = ns.filter(|_| rt.namespaced).unwrap_or("").to_string();
        let Some(old) = self.get_raw(rt, &ns_s, name) else { return Err(ApiError::not_found(rt, name)) };
        let mut obj = present(rt, &old);
        match patch_type {
            PatchType::Merge => crate::select::merge_patch(&mut obj, patch),
            PatchType::Json => crate::select::json_patch(&mut obj, patch).map_err(|e| ApiError::new(422, "Invalid", e))?,
            PatchType::Strategic => fields::merge(&mut obj, patch, &rt.kind, true),
        }
        let rv = str_of(meta(&obj), "resourceVersion");
        if !rv.is_empty() && rv != str_of(meta(&old), "resourceVersion") {
            return Err(conflict_modified(rt, name));
        }
        self.check_target(rt, ns, &mut obj, Some(name))?;
        self.commit(rt, &ns_s, name, Some(old), obj, Manage::Update(ctx.manager.clone()), ctx)
    }

    /// Server-side apply.
    pub fn apply(&mut self, rt: &ResourceType, ns: Option<&str>, name: &str, mut cfg: Value, force: bool, ctx: &WriteCtx) -> WriteResult {
        if ctx.manager.is_empty() {
            return Err(ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set"));
        }
        if str_of(&cfg, "apiVersion").is_empty() || str_of(&cfg, "kind").is_empty() {
            return Err(ApiError::bad_request("invalid object type: apiVersion and kind must be set in an apply patch"));
        }
        self.check_target(rt, ns, &mut cfg, Some(name))?;
        let ns_s = ns.filter(|_| rt.namespaced).unwrap_or("").to_string();
        let scope = if ctx.status { Scope::Status } else { Scope::Main { status_subresource: rt.status_subresource } };
        let applied = fields::field_set(&cfg, &rt.kind, scope);
        let subresource = if ctx.status { "status" } else { "" };
        let old = self.get_raw(rt, &ns_s, name);
        let Some(old) = old else {
            if ctx.status {
                return Err(ApiError::not_found(rt, name));
            }
            let mut obj = cfg.clone();
            meta_mut(&mut obj).shift_remove("managedFields");
            return self.commit(rt, &ns_s, name, None, obj, Manage::Apply { manager: ctx.manager.clone(), set: applied, subresource: "" }, ctx);
        };
        let rv = str_of(meta(&cfg), "resourceVersion");
        if !rv.is_empty() && rv != str_of(meta(&old), "resourceVersion") {
            return Err(conflict_modified(rt, name));
        }
        let live = present(rt, &old);
        let entries = parse_managed(&live);
        // Conflicts: leaves the applier sets to a different value, owned by others.
        let mut conflicts: Vec<(String, String, fields::Path)> = Vec::new();
        for p in &applied {
            let last = p.last().map(String::as_str).unwrap_or("");
            if last.starts_with("k:") || last.starts_with("v:") {
                continue;
            }
            let Some(cur) = fields::get_at(&live, p) else { continue };
            if Some(cur) == fields::get_at(&cfg, p) {
                continue;
            }
            for e in &entries {
                if e.manager == ctx.manager && e.operation == "Apply" && e.subresource == subresource {
                    continue;
                }
                if e.set.contains(p) {
                    conflicts.push((e.manager.clone(), e.api_version.clone(), p.clone()));
                }
            }
        }
        let mut entries = entries;
        if !conflicts.is_empty() {
            if !force {
                let n = conflicts.len();
                let mut msg = format!("Apply failed with {n} conflict{}: ", if n == 1 { "" } else { "s" });
                let causes: Vec<Value> = conflicts
                    .iter()
                    .map(|(m, av, p)| json!({"reason": "FieldManagerConflict", "message": format!("conflict with \"{m}\" using {av}"), "field": fields::display_path(p)}))
                    .collect();
                if n == 1 {
                    let (m, av, p) = &conflicts[0];
                    msg += &format!("conflict with \"{m}\" using {av}: {}", fields::display_path(p));
                } else {
                    let parts: Vec<String> = conflicts.iter().map(|(m, av, p)| format!("conflict with \"{m}\" using {av}:\n- {}", fields::display_path(p))).collect();
                    msg += &parts.join("\n");
                }
                return Err(ApiError {
                    code: 409,
                    reason: "Conflict",
                    message: msg,
                    details: json!({"name": name, "group": rt.group, "kind": rt.plural, "causes": causes}),
                });
            }
            for e in entries.iter_mut() {
                if !(e.manager == ctx.manager && e.operation == "Apply") {
                    let before = e.set.len();
                    e.set.retain(|p| !conflicts.iter().any(|(_, _, c)| c == p));
                    e.dirty |= before != e.set.len();
                }
            }
        }
        // Merge.
        let mut obj = live.clone();
        let mut cfg_body = cfg.clone();
        {
            let m = meta_mut(&mut cfg_body);
            for k in ["managedFields", "resourceVersion", "uid", "creationTimestamp", "generation"] {
                m.shift_remove(k);
            }
        }
        fields::merge(&mut obj, &cfg_body, &rt.kind, false);
        // Removal of fields the applier owned before and no longer applies.
        let prev = entries
            .iter()
            .find(|e| e.manager == ctx.manager && e.operation == "Apply" && e.subresource == subresource)
            .map(|e| e.set.clone())
            .unwrap_or_default();
        let mut removed: Vec<&fields::Path> = prev.difference(&applied).collect();
        removed.sort_by_key(|p| p.len());
        for p in removed {
            let owned_by_other = entries
                .iter()
                .any(|e| !(e.manager == ctx.manager && e.operation == "Apply" && e.subresource == subresource) && e.set.iter().any(|q| q.starts_with(p)));
            if !owned_by_other {
                fields::remove_at(&mut obj, p);
            }
        }
        set_managed(&mut obj, &entries, "");
        self.commit(rt, &ns_s, name, Some(old), obj, Manage::Apply { manager: ctx.manager.clone(), set: applied, subresource }, ctx)
    }

    /// The common tail of every write.
    #[allow(clippy::too_many_arguments)]
    fn commit(&mut self, rt: &ResourceType, ns: &str, name: &str, old: Option<Arc<Value>>, mut obj: Value, manage: Manage, ctx: &WriteCtx) -> WriteResult {
        let now = Self::now();
        let api_version = rt.api_version();
        // Server-owned metadata.
        let client_managed = meta(&obj).get("managedFields").cloned();
        match &old {
            Some(old) => {
                let om = meta(old).clone();
                let m = meta_mut(&mut obj);
                for k in ["uid", "creationTimestamp", "resourceVersion", "generation"] {
                    match om.get(k) {
                        Some(v) => m.insert(k.into(), v.clone()),
                        None => m.shift_remove(k),
                    };
                }
                m.insert("name".into(), json!(name));
            }
            None => {
                let m = meta_mut(&mut obj);
                m.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
                m.insert("creationTimestamp".into(), json!(now));
                m.shift_remove("resourceVersion");
                m.shift_remove("generation");
                if rt.generation {
                    m.insert("generation".into(), json!(1));
                }
            }
        }
        // Status: main writes keep the old status, status writes change only status.
        if ctx.status {
            let Some(old) = &old else { return Err(ApiError::not_found(rt, name)) };
            let status = obj.get("status").cloned();
            let mut o = present(rt, old);
            match status {
                Some(s) => o["status"] = s,
                None => {
                    o.as_object_mut().unwrap().shift_remove("status");
                }
            }
            obj = o;
        } else if rt.status_subresource {
            match old.as_ref().and_then(|o| o.get("status")) {
                Some(s) => obj["status"] = s.clone(),
                None => {
                    obj.as_object_mut().unwrap().shift_remove("status");
                }
            }
        }
        if !ctx.status {
            if let Some(schema) = rt.crd.as_deref().and_then(|crd| self.crd_schema(crd, &rt.version)) {
                defaults::schema_defaults(&mut obj, &schema);
            }
            let mut next_ip = self.next_ip;
            defaults::default_object(&rt.group, &rt.kind, &mut obj, &mut defaults::Alloc { next_ip: &mut next_ip });
            if !ctx.dry_run {
                self.next_ip = next_ip;
            }
        }
        // Generation.
        if let Some(old) = &old
            && rt.generation && !ctx.status {
                let strip = |v: &Value| {
                    let mut v = v.clone();
                    if let Some(m) = v.as_object_mut() {
                        m.shift_remove("metadata");
                        m.shift_remove("status");
                    }
                    v
                };
                if strip(old) != strip(&obj) {
                    let g = meta(old)["generation"].as_i64().unwrap_or(0) + 1;
                    meta_mut(&mut obj).insert("generation".into(), json!(g));
                }
            }
        // managedFields.
        let subresource = if ctx.status { "status" } else { "" };
        let scope = if ctx.status { Scope::Status } else { Scope::Main { status_subresource: rt.status_subresource } };
        let mut entries = match (&old, &manage) {
            (_, Manage::Apply { .. }) => parse_managed(&obj),
            (Some(old), Manage::Update(_)) => match &client_managed {
                Some(Value::Array(a)) if a.len() == 1 && a[0].as_object().map(Map::is_empty).unwrap_or(false) => Vec::new(),
                Some(v) if Some(v) != meta(old).get("managedFields") => parse_managed(&obj),
                _ => parse_managed(old),
            },
            (None, Manage::Update(_)) => Vec::new(),
        };
        let present_set = fields::field_set(&obj, &rt.kind, Scope::Main { status_subresource: false });
        match &manage {
            Manage::Update(manager) => {
                let new_set = fields::field_set(&obj, &rt.kind, scope);
                let changed = match &old {
                    Some(old) => fields::changed_paths(old, &obj, &new_set),
                    None => new_set,
                };
                record_update(&mut entries, manager, &api_version, subresource, &changed, &present_set);
            }
            Manage::Apply { manager, set, subresource } => {
                for e in entries.iter_mut() {
                    e.set.retain(|p| present_set.contains(p));
                }
                match entries.iter_mut().find(|e| &e.manager == manager && e.operation == "Apply" && e.subresource == *subresource) {
                    Some(e) => {
                        if e.set != *set || e.api_version != api_version {
                            e.set = set.clone();
                            e.api_version = api_version.clone();
                            e.dirty = true;
                        }
                    }
                    None => entries.push(Managed {
                        manager: manager.clone(),
                        operation: "Apply".into(),
                        api_version: api_version.clone(),
                        time: String::new(),
                        subresource: subresource.to_string(),
                        set: set.clone(),
                        dirty: true,
                    }),
                }
                entries.retain(|e| !e.set.is_empty());
            }
        }
        set_managed(&mut obj, &entries, &now);
        // Put metadata fields in the usual order.
        reorder_metadata(&mut obj);
        if let Some(old) = &old
            && **old == obj {
                return Ok((200, present(rt, old)));
            }
        if ctx.dry_run {
            return Ok((if old.is_some() { 200 } else { 201 }, present(rt, &obj)));
        }
        self.rv += 1;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        reorder_metadata(&mut obj);
        let stored = Arc::new(obj);
        self.bucket_mut(rt).insert((ns.to_string(), name.to_string()), stored.clone());
        let created = old.is_none();
        self.emit(rt, if created { "ADDED" } else { "MODIFIED" }, stored.clone(), old);
        let result = present(rt, &stored);
        self.after_write(rt, ns, name);
        Ok((if created { 201 } else { 200 }, result))
    }

    /// The structural schema a CRD gives one of its versions.
    fn crd_schema(&self, crd: &str, version: &str) -> Option<Value> {
        let stored = self.objects.get(&("apiextensions.k8s.io".to_string(), "customresourcedefinitions".to_string()))?.get(&(String::new(), crd.to_string()))?;
        let versions = stored.pointer("/spec/versions")?.as_array()?;
        versions.iter().find(|v| v["name"] == version)?.pointer("/schema/openAPIV3Schema").cloned()
    }

    /// Controller-like reactions to a stored write.
    fn after_write(&mut self, rt: &ResourceType, ns: &str, name: &str) {
        if rt.group == "apiextensions.k8s.io" && rt.kind == "CustomResourceDefinition" {
            let Some(crd) = self.get_raw(rt, ns, name) else { return };
            let established = crd["status"]["conditions"]
                .as_array()
                .map(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
                .unwrap_or(false);
            if !established && !self.establishing.contains(&name.to_string()) {
                if self.crd_delay.is_zero() {
                    self.establish(name);
                } else {
                    self.establishing.push(name.to_string());
                    self.to_schedule.push(name.to_string());
                    let now = Self::now();
                    let status = defaults::crd_status(&crd, false, &now);
                    let _ = self.write_status(rt, ns, name, status, "kube-apiserver");
                }
            }
            self.sync_crd_types(name);
            return;
        }
        if !self.auto_ready {
            return;
        }
        let Some(obj) = self.get_raw(rt, ns, name) else { return };
        self.lb_ip += 1;
        let now = Self::now();
        if let Some(status) = defaults::ready_status(&rt.group, &rt.kind, &obj, self.lb_ip, &now) {
            let mut merged = obj.get("status").cloned().unwrap_or_else(|| json!({}));
            // Keep condition timestamps stable when nothing but them would change.
            let mut candidate = merged.clone();
            fields::merge(&mut candidate, &status, &rt.kind, false);
            let strip_times = |v: &Value| {
                let mut v = v.clone();
                strip_keys(&mut v, &["lastUpdateTime", "lastTransitionTime", "lastProbeTime", "startTime", "completionTime"]);
                v
            };
            if strip_times(&candidate) == strip_times(&merged) {
                return;
            }
            merged = candidate;
            let _ = self.write_status(rt, ns, name, merged, "kube-controller-manager");
        }
    }

    /// Writes `status` through the status subresource as `manager`.
    pub fn write_status(&mut self, rt: &ResourceType, ns: &str, name: &str, status: Value, manager: &str) -> WriteResult {
        let Some(old) = self.get_raw(rt, ns, name) else { return Err(ApiError::not_found(rt, name)) };
        let mut obj = present(rt, &old);
        obj["status"] = status;
        let ctx = WriteCtx { manager: manager.into(), dry_run: false, status: true };
        let auto = std::mem::replace(&mut self.auto_ready, false);
        let r = self.commit(rt, ns, name, Some(old), obj, Manage::Update(manager.into()), &ctx);
        self.auto_ready = auto;
        r
    }

    /// Marks a CRD established and serves its resources.
    pub fn establish(&mut self, name: &str) {
        self.establishing.retain(|n| n != name);
        let Some(rt) = self.find_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition") else { return };
        let Some(crd) = self.get_raw(&rt, "", name) else { return };
        let now = Self::now();
        let status = defaults::crd_status(&crd, true, &now);
        let _ = self.write_status(&rt, "", name, status, "kube-apiserver");
        self.sync_crd_types(name);
    }

    /// Serves exactly the types of an established CRD (none otherwise).
    fn sync_crd_types(&mut self, name: &str) {
        let rt = self.find_kind("apiextensions.k8s.io/v1", "CustomResourceDefinition").unwrap();
        let crd = self.get_raw(&rt, "", name);
        self.types.retain(|t| t.crd.as_deref() != Some(name));
        if let Some(crd) = crd {
            let established = crd["status"]["conditions"]
                .as_array()
                .map(|cs| cs.iter().any(|c| c["type"] == "Established" && c["status"] == "True"))
                .unwrap_or(false);
            if established {
                let new = resources::from_crd(&crd);
                // A group/version/plural served by a built-in wins.
                for t in new {
                    if !self.types.iter().any(|x| x.group == t.group && x.version == t.version && x.plural == t.plural) {
                        self.types.push(t);
                    }
                }
            }
        }
    }

    /// Delete. Returns the deleted object.
    pub fn delete(&mut self, rt: &ResourceType, ns: Option<&str>, name: &str, dry_run: bool, preconditions: &Value) -> WriteResult {
        let ns_s = ns.filter(|_| rt.namespaced).unwrap_or("").to_string();
        let Some(old) = self.get_raw(rt, &ns_s, name) else { return Err(ApiError::not_found(rt, name)) };
        if let Some(uid) = preconditions["uid"].as_str()
            && uid != str_of(meta(&old), "uid") {
                return Err(ApiError::new(
                    409,
                    "Conflict",
                    format!("Operation cannot be fulfilled on {} \"{name}\": Precondition failed: UID in precondition: {uid}, UID in object meta: {}", qualified(rt), str_of(meta(&old), "uid")),
                ));
            }
        if let Some(rv) = preconditions["resourceVersion"].as_str()
            && rv != str_of(meta(&old), "resourceVersion") {
                return Err(conflict_modified(rt, name));
            }
        let mut shown = present(rt, &old);
        if rt.kind == "Namespace" && rt.group.is_empty() {
            if ["default", "kube-system", "kube-public"].contains(&name) {
                return Err(ApiError::new(422, "Forbidden", format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted")));
            }
            shown["status"]["phase"] = json!("Terminating");
            meta_mut(&mut shown).insert("deletionTimestamp".into(), json!(Self::now()));
        }
        if dry_run {
            return Ok((200, shown));
        }
        if rt.kind == "Namespace" && rt.group.is_empty() && !self.ns_delete_delay.is_zero() {
            if old.get("metadata").and_then(|m| m.get("deletionTimestamp")).is_none() {
                self.rv += 1;
                meta_mut(&mut shown).insert("resourceVersion".into(), json!(self.rv.to_string()));
                reorder_metadata(&mut shown);
                let stored = Arc::new(shown.clone());
                self.bucket_mut(rt).insert((String::new(), name.to_string()), stored.clone());
                self.emit(rt, "MODIFIED", stored, Some(old));
                self.to_finalize.push(name.to_string());
            }
            return Ok((200, shown));
        }
        self.finalize_namespace_or_remove(rt, &ns_s, name);
        Ok((200, shown))
    }

    /// Removes a terminating namespace and its contents.
    pub fn finalize_namespace(&mut self, name: &str) {
        let Some(rt) = self.find_kind("v1", "Namespace") else { return };
        if self.get_raw(&rt, "", name).is_some() {
            self.finalize_namespace_or_remove(&rt, "", name);
        }
    }

    fn finalize_namespace_or_remove(&mut self, rt: &ResourceType, ns_s: &str, name: &str) {
        self.remove(rt, ns_s, name);
        if rt.kind == "Namespace" && rt.group.is_empty() {
            let types = self.types.clone();
            let mut seen = Vec::new();
            for t in types.iter().filter(|t| t.namespaced) {
                if seen.contains(&(t.group.clone(), t.plural.clone())) {
                    continue;
                }
                seen.push((t.group.clone(), t.plural.clone()));
                for o in self.list_raw(t, Some(name)) {
                    let n = str_of(meta(&o), "name").to_string();
                    self.remove(t, name, &n);
                }
            }
        }
        if rt.kind == "CustomResourceDefinition" && rt.group == "apiextensions.k8s.io" {
            let served: Vec<ResourceType> = self.types.iter().filter(|t| t.crd.as_deref() == Some(name)).cloned().collect();
            if let Some(t) = served.first() {
                let all = self.list_raw(t, None);
                for o in all {
                    let m = meta(&o);
                    let (ns, n) = (str_of(m, "namespace").to_string(), str_of(m, "name").to_string());
                    self.remove(t, &ns, &n);
                }
            }
            self.types.retain(|t| t.crd.as_deref() != Some(name));
            self.establishing.retain(|n| n != name);
        }
    }

    fn remove(&mut self, rt: &ResourceType, ns: &str, name: &str) {
        let Some(old) = self.bucket_mut(rt).remove(&(ns.to_string(), name.to_string())) else { return };
        self.rv += 1;
        let mut obj = (*old).clone();
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(self.rv.to_string()));
        self.emit(rt, "DELETED", Arc::new(obj), Some(old));
    }
}

enum Manage {
    Update(String),
    Apply { manager: String, set: FieldSet, subresource: &'static str },
}

/// Patch content types other than apply.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum PatchType {
    Merge,
    Json,
    Strategic,
}

pub fn conflict_modified(rt: &ResourceType, name: &str) -> ApiError {
    ApiError {
        code: 409,
        reason: "Conflict",
        message: format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", qualified(rt)),
        details: json!({"name": name, "group": rt.group, "kind": rt.plural}),
    }
}

/// The object as served at `rt`'s version (custom resources are stored
/// once for all versions, without conversion).
pub fn present(rt: &ResourceType, obj: &Value) -> Value {
    let mut v = obj.clone();
    if rt.crd.is_some() {
        v["apiVersion"] = json!(rt.api_version());
    }
    v
}

fn strip_keys(v: &mut Value, keys: &[&str]) {
    match v {
        Value::Object(m) => {
            for k in keys {
                m.shift_remove(*k);
            }
            m.values_mut().for_each(|c| strip_keys(c, keys));
        }
        Value::Array(a) => a.iter_mut().for_each(|c| strip_keys(c, keys)),
        _ => {}
    }
}

const META_ORDER: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];

/// Orders the top level (apiVersion, kind, metadata, ...) and metadata's
/// fields the way the real server prints them.
fn reorder_metadata(obj: &mut Value) {
    let Some(top) = obj.as_object_mut() else { return };
    let mut m = match top.shift_remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let mut ordered = Map::new();
    for k in META_ORDER {
        if let Some(v) = m.shift_remove(*k) {
            ordered.insert(k.to_string(), v);
        }
    }
    ordered.extend(m);
    let mut out = Map::new();
    for k in ["apiVersion", "kind"] {
        if let Some(v) = top.shift_remove(k) {
            out.insert(k.into(), v);
        }
    }
    out.insert("metadata".into(), Value::Object(ordered));
    out.extend(std::mem::take(top));
    *top = out;
}
