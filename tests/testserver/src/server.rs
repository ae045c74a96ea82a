//! HTTP: routing, content negotiation, discovery, lists, tables, watches,
//! fault injection and the request log.

use std::collections::{BTreeMap, HashMap};
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::BodyExt;
use hyper::body::{Frame, Incoming};
use hyper::{Request as HttpRequest, Response};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::resources::ResourceType;
use crate::select::{FieldSelector, LabelSelector};
use crate::store::{ApiError, Event, PatchType, Store, WriteCtx, present};
use crate::{Fault, Request, Verb};

/// A response body: all at once, or streamed (watch).
pub enum Body {
    Full(Option<Bytes>),
    Chan(mpsc::Receiver<Bytes>),
}

impl hyper::body::Body for Body {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            Body::Full(b) => Poll::Ready(b.take().map(|b| Ok(Frame::data(b)))),
            Body::Chan(rx) => rx.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b)))),
        }
    }
    fn is_end_stream(&self) -> bool {
        matches!(self, Body::Full(None))
    }
    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            Body::Full(Some(b)) => http_body::SizeHint::with_exact(b.len() as u64),
            Body::Full(None) => http_body::SizeHint::with_exact(0),
            Body::Chan(_) => http_body::SizeHint::default(),
        }
    }
}

pub struct Shared {
    pub store: Mutex<Store>,
    pub log: Mutex<Vec<Request>>,
    pub faults: Mutex<BTreeMap<usize, Vec<Fault>>>,
    pub counter: AtomicUsize,
    /// Writes (not dry-run) let through before the rest hang: see
    /// `TestServer::stall_writes_after`. usize::MAX when off.
    pub writes_until_stall: AtomicUsize,
    pub handle: tokio::runtime::Handle,
    /// Print each request on stderr (env WEFT_TESTSERVER_LOG=1).
    pub verbose: bool,
}

impl Shared {
    /// Starts timers for CRDs whose establishment is delayed.
    pub fn schedule(self: &Arc<Self>) {
        let (names, delay, namespaces, ns_delay) = {
            let mut s = self.store.lock().unwrap();
            if s.to_schedule.is_empty() && s.to_finalize.is_empty() {
                return;
            }
            (std::mem::take(&mut s.to_schedule), s.crd_delay, std::mem::take(&mut s.to_finalize), s.ns_delete_delay)
        };
        for name in namespaces {
            let shared = self.clone();
            self.handle.spawn(async move {
                tokio::time::sleep(ns_delay).await;
                shared.store.lock().unwrap().finalize_namespace(&name);
            });
        }
        for name in names {
            let shared = self.clone();
            self.handle.spawn(async move {
                tokio::time::sleep(delay).await;
                shared.store.lock().unwrap().establish(&name);
            });
        }
    }
}

/// The error that makes hyper close the connection without a response.
#[derive(Debug)]
pub struct Dropped;
impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}
impl std::error::Error for Dropped {}

#[derive(Debug, Clone, PartialEq)]
enum Route {
    Version,
    Health,
    OpenApiV2,
    OpenApiV3,
    OpenApiV3Gv(String, String),
    Api,
    Apis,
    Group(String),
    GroupVersion(String, String),
    Resource { group: String, version: String, plural: String, ns: Option<String>, name: Option<String>, sub: Option<String> },
    Unknown,
}

fn route(path: &str) -> Route {
    let segs: Vec<&str> = path.trim_end_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let (group, version, rest) = match segs.as_slice() {
        ["version"] => return Route::Version,
        ["healthz" | "readyz" | "livez", ..] => return Route::Health,
        ["openapi", "v2"] => return Route::OpenApiV2,
        ["openapi", "v3"] => return Route::OpenApiV3,
        ["openapi", "v3", "api", v] => return Route::OpenApiV3Gv(String::new(), v.to_string()),
        ["openapi", "v3", "apis", g, v] => return Route::OpenApiV3Gv(g.to_string(), v.to_string()),
        ["api"] => return Route::Api,
        ["apis"] => return Route::Apis,
        ["api", v] => return Route::GroupVersion(String::new(), v.to_string()),
        ["apis", g] => return Route::Group(g.to_string()),
        ["apis", g, v] => return Route::GroupVersion(g.to_string(), v.to_string()),
        ["api", v, rest @ ..] => (String::new(), v.to_string(), rest),
        ["apis", g, v, rest @ ..] => (g.to_string(), v.to_string(), rest),
        _ => return Route::Unknown,
    };
    let s = |x: &&str| Some(x.to_string());
    let (plural, ns, name, sub) = match rest {
        ["namespaces", ns, plural, tail @ ..] if !matches!(*plural, "status" | "finalize") => match tail {
            [] => (plural.to_string(), s(ns), None, None),
            [name] => (plural.to_string(), s(ns), s(name), None),
            [name, sub] => (plural.to_string(), s(ns), s(name), s(sub)),
            _ => return Route::Unknown,
        },
        [plural] => (plural.to_string(), None, None, None),
        [plural, name] => (plural.to_string(), None, s(name), None),
        [plural, name, sub] => (plural.to_string(), None, s(name), s(sub)),
        _ => return Route::Unknown,
    };
    Route::Resource { group, version, plural, ns, name, sub }
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                match u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: &str) -> HashMap<String, String> {
    q.split('&')
        .filter(|s| !s.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn json_response(code: u16, v: &Value) -> Response<Body> {
    json_response_ct(code, v, "application/json")
}

fn json_response_ct(code: u16, v: &Value, ct: &str) -> Response<Body> {
    let bytes = serde_json::to_vec(v).unwrap_or_default();
    Response::builder()
        .status(code)
        .header("Content-Type", ct)
        .header("Cache-Control", "no-cache, private")
        .body(Body::Full(Some(Bytes::from(bytes))))
        .unwrap()
}

fn error_response(e: &ApiError) -> Response<Body> {
    json_response(e.code, &e.status())
}

fn fault_response(code: u16) -> Response<Body> {
    let (reason, message) = match code {
        400 => ("BadRequest", "bad request (injected)"),
        401 => ("Unauthorized", "Unauthorized"),
        403 => ("Forbidden", "forbidden (injected)"),
        404 => ("NotFound", "the server could not find the requested resource"),
        405 => ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
        409 => ("Conflict", "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again"),
        410 => ("Expired", "too old resource version"),
        422 => ("Invalid", "invalid (injected)"),
        429 => ("TooManyRequests", "the server has received too many requests and has asked us to try again later"),
        500 => ("InternalError", "Internal error occurred: injected fault"),
        503 => ("ServiceUnavailable", "the server is currently unable to handle the request"),
        504 => ("Timeout", "the server was unable to return a response in the time allotted"),
        _ => ("", "injected fault"),
    };
    let mut resp = error_response(&ApiError::new(code, reason, message));
    if code == 429 {
        resp.headers_mut().insert("Retry-After", "0".parse().unwrap());
    }
    resp
}

/// Which discovery document the Accept header asks for.
fn aggregated(accept: &str) -> Option<&'static str> {
    for part in accept.split(',') {
        let p = part.replace(' ', "");
        if p.contains("as=APIGroupDiscoveryList") {
            if p.contains("v=v2beta1") {
                return Some("v2beta1");
            }
            if p.contains("v=v2") {
                return Some("v2");
            }
        } else if p.starts_with("application/json") || p.starts_with("*/*") || p.is_empty() {
            return None;
        }
    }
    None
}

fn wants_table(accept: &str) -> bool {
    accept.split(',').next().map(|p| p.contains("as=Table")).unwrap_or(false)
}

fn classify(method: &str, r: &Route, q: &HashMap<String, String>, content_type: &str) -> Verb {
    match r {
        Route::Version | Route::OpenApiV2 | Route::OpenApiV3 | Route::OpenApiV3Gv(..) | Route::Api | Route::Apis | Route::Group(_) | Route::GroupVersion(..) => {
            if method == "GET" { Verb::Discovery } else { Verb::Other }
        }
        Route::Resource { name, .. } => match (method, name.is_some()) {
            ("GET", true) => Verb::Get,
            ("GET", false) if matches!(q.get("watch").map(String::as_str), Some("true" | "1")) => Verb::Watch,
            ("GET", false) => Verb::List,
            ("POST", false) => Verb::Create,
            ("PUT", true) => Verb::Update,
            ("PATCH", true) if content_type.starts_with("application/apply-patch") => Verb::Apply,
            ("PATCH", true) => Verb::Patch,
            ("DELETE", true) => Verb::Delete,
            ("DELETE", false) => Verb::DeleteCollection,
            _ => Verb::Other,
        },
        _ => Verb::Other,
    }
}

fn header<'a>(req: &'a HttpRequest<Incoming>, name: &str) -> &'a str {
    req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// Serves one request (the hyper service).
pub async fn serve(shared: Arc<Shared>, req: HttpRequest<Incoming>) -> Result<Response<Body>, Dropped> {
    let index = shared.counter.fetch_add(1, Ordering::SeqCst);
    let method = req.method().as_str().to_string();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let content_type = header(&req, "content-type").to_string();
    let accept = header(&req, "accept").to_string();
    let user_agent = header(&req, "user-agent").to_string();
    let q = parse_query(&query);
    let r = route(&path);
    let verb = classify(&method, &r, &q, &content_type);
    let dry_run = q.get("dryRun").map(|v| v == "All").unwrap_or(false);
    let field_manager = q.get("fieldManager").cloned().filter(|s| !s.is_empty());
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => return Err(Dropped),
    };
    let mut record = Request { index, method: method.clone(), path: path.clone(), query: query.clone(), verb, dry_run, field_manager: field_manager.clone(), status: 0 };
    let fault = {
        let mut faults = shared.faults.lock().unwrap();
        let f = faults.get_mut(&index).and_then(|v| if v.is_empty() { None } else { Some(v.remove(0)) });
        if faults.get(&index).map(Vec::is_empty).unwrap_or(false) {
            faults.remove(&index);
        }
        f
    };
    if let Some(fault) = fault {
        return match fault {
            Fault::Status(code) => {
                record.status = code;
                shared.log.lock().unwrap().push(record);
                Ok(fault_response(code))
            }
            Fault::DropConnection => {
                shared.log.lock().unwrap().push(record);
                Err(Dropped)
            }
        };
    }
    let is_write = matches!(verb, Verb::Create | Verb::Update | Verb::Patch | Verb::Apply | Verb::Delete | Verb::DeleteCollection) && !dry_run;
    if is_write && shared.writes_until_stall.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| if left == usize::MAX { None } else { Some(left.saturating_sub(1)) }).is_ok_and(|left| left == 0) {
        // A client that dies now leaves its write undone, as a crash mid-apply would.
        record.status = 0;
        shared.log.lock().unwrap().push(record);
        return std::future::pending().await;
    }
    let manager = field_manager.unwrap_or_else(|| user_agent.split('/').next().unwrap_or("").chars().take(128).collect());
    let resp = handle(&shared, &method, &r, &q, &content_type, &accept, &manager, &body);
    shared.schedule();
    record.status = resp.status().as_u16();
    if shared.verbose {
        eprintln!("{} {} {}{}{} {} {}", record.index, record.method, record.path, if query.is_empty() { "" } else { "?" }, query, record.status, user_agent);
    }
    shared.log.lock().unwrap().push(record);
    Ok(resp)
}

#[allow(clippy::too_many_arguments)]
fn handle(shared: &Arc<Shared>, method: &str, r: &Route, q: &HashMap<String, String>, content_type: &str, accept: &str, manager: &str, body: &[u8]) -> Response<Body> {
    match r {
        Route::Version => json_response(
            200,
            &json!({"major": "1", "minor": "32", "emulationMajor": "1", "emulationMinor": "32", "minCompatibilityMajor": "1", "minCompatibilityMinor": "31",
                "gitVersion": "v1.32.0-weft-testserver", "gitCommit": "0000000000000000000000000000000000000000", "gitTreeState": "clean",
                "buildDate": "2024-12-11T00:00:00Z", "goVersion": "go1.23.4", "compiler": "gc", "platform": "linux/amd64"}),
        ),
        Route::Health => Response::builder().status(200).header("Content-Type", "text/plain; charset=utf-8").body(Body::Full(Some(Bytes::from_static(b"ok")))).unwrap(),
        Route::Api | Route::Apis | Route::Group(_) | Route::GroupVersion(..) if method != "GET" => error_response(&ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")),
        Route::Api | Route::Apis => {
            let types = shared.store.lock().unwrap().types.clone();
            let core = *r == Route::Api;
            if let Some(v) = aggregated(accept) {
                let doc = crate::discovery::aggregated(&types, core, v);
                return json_response_ct(200, &doc, &format!("application/json;g=apidiscovery.k8s.io;v={v};as=APIGroupDiscoveryList"));
            }
            json_response(200, &if core { crate::discovery::api_versions() } else { crate::discovery::group_list(&types) })
        }
        Route::Group(g) => {
            let types = shared.store.lock().unwrap().types.clone();
            match crate::discovery::group(&types, g) {
                Some(v) => json_response(200, &v),
                None => not_found_path(),
            }
        }
        Route::GroupVersion(g, v) => {
            let types = shared.store.lock().unwrap().types.clone();
            match crate::discovery::resource_list(&types, g, v) {
                Some(doc) => json_response(200, &doc),
                None => not_found_path(),
            }
        }
        Route::OpenApiV2 => not_found_path(),
        Route::OpenApiV3 => {
            let types = shared.store.lock().unwrap().types.clone();
            json_response(200, &crate::discovery::openapi_v3_root(&types))
        }
        Route::OpenApiV3Gv(g, v) => {
            let types = shared.store.lock().unwrap().types.clone();
            match crate::discovery::openapi_v3_gv(&types, g, v) {
                Some(doc) => json_response(200, &doc),
                None => not_found_path(),
            }
        }
        Route::Resource { group, version, plural, ns, name, sub } => {
            match resource(shared, method, group, version, plural, ns.as_deref(), name.as_deref(), sub.as_deref(), q, content_type, accept, manager, body) {
                Ok(resp) => resp,
                Err(e) => error_response(&e),
            }
        }
        Route::Unknown => not_found_path(),
    }
}

fn not_found_path() -> Response<Body> {
    error_response(&ApiError { code: 404, reason: "NotFound", message: "the server could not find the requested resource".into(), details: json!({}) })
}

fn decode_body(body: &[u8]) -> Result<Value, ApiError> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        return Ok(v);
    }
    let s = std::str::from_utf8(body).map_err(|_| ApiError::bad_request("the body is not UTF-8"))?;
    serde_saphyr::from_str::<Value>(s).map_err(|e| ApiError::bad_request(format!("error decoding YAML: {e}")))
}

#[allow(clippy::too_many_arguments)]
fn resource(
    shared: &Arc<Shared>,
    method: &str,
    group: &str,
    version: &str,
    plural: &str,
    ns: Option<&str>,
    name: Option<&str>,
    sub: Option<&str>,
    q: &HashMap<String, String>,
    content_type: &str,
    accept: &str,
    manager: &str,
    body: &[u8],
) -> Result<Response<Body>, ApiError> {
    let mut store = shared.store.lock().unwrap();
    let Some(rt) = store.find_plural(group, version, plural) else {
        return Ok(not_found_path());
    };
    // A namespaced URL for a cluster-scoped resource is not served.
    if ns.is_some() && !rt.namespaced {
        return Ok(not_found_path());
    }
    let status = match sub {
        None => false,
        Some("status") if rt.status_subresource => true,
        Some(_) => return Ok(not_found_path()),
    };
    let dry_run = match q.get("dryRun").map(String::as_str) {
        None | Some("") => false,
        Some("All") => true,
        Some(other) => return Err(ApiError::bad_request(format!("unsupported dry run value: {other:?}"))),
    };
    let ctx = WriteCtx { manager: manager.to_string(), dry_run, status };
    let body_value = || decode_body(body);
    let ct = content_type.split(';').next().unwrap_or("").trim();
    if ct.starts_with("application/vnd.kubernetes.protobuf") || ct.starts_with("application/cbor") {
        return Err(ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml (weft-testserver does not decode {ct})")));
    }
    let (code, v) = match (method, name) {
        ("GET", Some(name)) => {
            let obj = store.get(&rt, ns.unwrap_or(""), name)?;
            if wants_table(accept) {
                let rv = obj["metadata"]["resourceVersion"].clone();
                return Ok(json_response(200, &table(&rt, &[obj], rv, q)));
            }
            (200, obj)
        }
        ("GET", None) => {
            if matches!(q.get("watch").map(String::as_str), Some("true" | "1")) {
                drop(store);
                return watch(shared, &rt, ns, q);
            }
            let (items, rv, cont) = list(&store, &rt, ns, q)?;
            // Items are shared with the store: serialise them after the
            // lock is released, without copying (large lists are the
            // benchmark's hot path).
            drop(store);
            if wants_table(accept) {
                let presented: Vec<Value> = items.iter().map(|o| present(&rt, o)).collect();
                let mut t = table(&rt, &presented, json!(rv), q);
                if let Some(c) = cont {
                    t["metadata"]["continue"] = json!(c);
                }
                return Ok(json_response(200, &t));
            }
            let mut metadata = json!({"resourceVersion": rv});
            if let Some(c) = cont {
                metadata["continue"] = json!(c);
            }
            let api_version = rt.api_version();
            let items: Vec<std::borrow::Cow<'_, Value>> = items
                .iter()
                .map(|o| if rt.crd.is_some() { std::borrow::Cow::Owned(present(&rt, o)) } else { std::borrow::Cow::Borrowed(&**o) })
                .collect();
            let body = ListBody { kind: format!("{}List", rt.kind), api_version: &api_version, metadata, items };
            return Ok(bytes_response(200, serde_json::to_vec(&body).unwrap_or_default()));
        }
        ("POST", None) => store.create(&rt, ns, body_value()?, &ctx)?,
        ("PUT", Some(name)) => store.update(&rt, ns, name, body_value()?, &ctx)?,
        ("PATCH", Some(name)) => {
            let ct = content_type.split(';').next().unwrap_or("").trim();
            match ct {
                "application/apply-patch+yaml" | "application/apply-patch+json" | "application/apply-patch+cbor" => {
                    if q.get("fieldManager").map(String::is_empty).unwrap_or(true) {
                        return Err(ApiError::bad_request("PATCH, application/apply-patch+yaml requires fieldManager to be set"));
                    }
                    let force = q.get("force").map(|f| f == "true").unwrap_or(false);
                    store.apply(&rt, ns, name, body_value()?, force, &ctx)?
                }
                "application/merge-patch+json" => store.patch(&rt, ns, name, PatchType::Merge, &body_value()?, &ctx)?,
                "application/json-patch+json" => store.patch(&rt, ns, name, PatchType::Json, &body_value()?, &ctx)?,
                "application/strategic-merge-patch+json" => {
                    if rt.crd.is_some() {
                        return Err(ApiError::new(415, "UnsupportedMediaType", "strategic merge patch is not supported for custom resources"));
                    }
                    store.patch(&rt, ns, name, PatchType::Strategic, &body_value()?, &ctx)?
                }
                other => return Err(ApiError::new(415, "UnsupportedMediaType", format!("the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml (got {other:?})"))),
            }
        }
        ("DELETE", Some(name)) => {
            let opts = if body.is_empty() { json!({}) } else { decode_body(body).unwrap_or(json!({})) };
            let dry = dry_run || opts["dryRun"].as_array().map(|a| a.iter().any(|x| x == "All")).unwrap_or(false);
            store.delete(&rt, ns, name, dry, &opts["preconditions"])?
        }
        ("DELETE", None) => {
            let (items, _, _) = list(&store, &rt, ns, q)?;
            let mut deleted = Vec::new();
            for o in items {
                let m = &o["metadata"];
                let (ons, n) = (m["namespace"].as_str().map(str::to_string), m["name"].as_str().unwrap_or("").to_string());
                if let Ok((_, d)) = store.delete(&rt, ons.as_deref(), &n, dry_run, &Value::Null) {
                    deleted.push(d);
                }
            }
            let rv = store.rv.to_string();
            (200, json!({"kind": format!("{}List", rt.kind), "apiVersion": rt.api_version(), "metadata": {"resourceVersion": rv}, "items": deleted}))
        }
        _ => return Err(ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")),
    };
    Ok(json_response(code, &v))
}

#[derive(serde::Serialize)]
struct ListBody<'a> {
    kind: String,
    #[serde(rename = "apiVersion")]
    api_version: &'a str,
    metadata: Value,
    items: Vec<std::borrow::Cow<'a, Value>>,
}

fn bytes_response(code: u16, bytes: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(Body::Full(Some(Bytes::from(bytes))))
        .unwrap()
}

/// Items (filtered, paged), the list resourceVersion and a continue token.
fn list(store: &Store, rt: &ResourceType, ns: Option<&str>, q: &HashMap<String, String>) -> Result<(Vec<Arc<Value>>, String, Option<String>), ApiError> {
    let ls = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or("")).map_err(ApiError::bad_request)?;
    let fs = FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or("")).map_err(ApiError::bad_request)?;
    let start: usize = match q.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => c.parse().map_err(|_| ApiError::bad_request("continue key is not valid"))?,
        None => 0,
    };
    let limit: usize = q.get("limit").and_then(|l| l.parse().ok()).filter(|&l| l > 0).unwrap_or(usize::MAX);
    let all: Vec<_> = store.list_raw(rt, ns).into_iter().filter(|o| ls.matches(o) && fs.matches(o)).collect();
    let end = start.saturating_add(limit).min(all.len());
    let items: Vec<Arc<Value>> = all.get(start.min(all.len())..end).unwrap_or(&[]).to_vec();
    let cont = (end < all.len()).then(|| end.to_string());
    Ok((items, store.rv.to_string(), cont))
}

/// A `meta.k8s.io/v1` Table with the default columns (Name, Created At).
fn table(rt: &ResourceType, items: &[Value], rv: Value, q: &HashMap<String, String>) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0);
    let include_object = q.get("includeObject").map(String::as_str).unwrap_or("Metadata");
    let rows: Vec<Value> = items
        .iter()
        .map(|o| {
            let m = &o["metadata"];
            let object = match include_object {
                "Object" => o.clone(),
                "None" => Value::Null,
                _ => json!({"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": m}),
            };
            let age = m["creationTimestamp"].as_str().map(|t| crate::defaults::age(t, now)).unwrap_or_else(|| "<unknown>".into());
            json!({"cells": [m["name"], age], "object": object})
        })
        .collect();
    let _ = rt;
    json!({
        "kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv},
        "columnDefinitions": [
            {"name": "Name", "type": "string", "format": "name", "description": "Name must be unique within a namespace.", "priority": 0},
            {"name": "Age", "type": "string", "format": "", "description": "CreationTimestamp is a timestamp representing the server time when this object was created.", "priority": 0}
        ],
        "rows": rows
    })
}

fn watch_line(ty: &str, obj: &Value) -> Bytes {
    let mut v = serde_json::to_vec(&json!({"type": ty, "object": obj})).unwrap_or_default();
    v.push(b'\n');
    Bytes::from(v)
}

fn watch(shared: &Arc<Shared>, rt: &ResourceType, ns: Option<&str>, q: &HashMap<String, String>) -> Result<Response<Body>, ApiError> {
    let ls = LabelSelector::parse(q.get("labelSelector").map(String::as_str).unwrap_or("")).map_err(ApiError::bad_request)?;
    let fs = FieldSelector::parse(q.get("fieldSelector").map(String::as_str).unwrap_or("")).map_err(ApiError::bad_request)?;
    let bookmarks = q.get("allowWatchBookmarks").map(|v| v == "true").unwrap_or(false);
    let initial_events = q.get("sendInitialEvents").map(|v| v == "true").unwrap_or(false);
    let timeout = q.get("timeoutSeconds").and_then(|t| t.parse::<u64>().ok()).map(Duration::from_secs).unwrap_or(Duration::from_secs(1800));
    let rv_param = q.get("resourceVersion").cloned().unwrap_or_default();
    let matches = |o: &Value| ls.matches(o) && fs.matches(o);
    let mut initial: Vec<Bytes> = Vec::new();
    let (rx, mut last_rv) = {
        let store = shared.store.lock().unwrap();
        let current = store.rv;
        if initial_events || rv_param.is_empty() || rv_param == "0" {
            for o in store.list_raw(rt, ns) {
                if matches(&o) {
                    initial.push(watch_line("ADDED", &present(rt, &o)));
                }
            }
            if initial_events && bookmarks {
                let bm = json!({"kind": rt.kind, "apiVersion": rt.api_version(), "metadata": {"resourceVersion": current.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}});
                initial.push(watch_line("BOOKMARK", &bm));
            }
        } else {
            let from: u64 = rv_param.parse().map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv_param}")))?;
            if from + 1 < store.oldest_rv && from < current {
                let st = ApiError::new(410, "Expired", format!("too old resource version: {from} ({})", store.oldest_rv - 1)).status();
                initial.push(watch_line("ERROR", &st));
                let (tx, rx) = mpsc::channel(4);
                for b in initial {
                    let _ = tx.try_send(b);
                }
                return Ok(stream_response(rx));
            }
            for ev in store.events.iter().filter(|e| e.rv > from) {
                if let Some(line) = event_line(rt, ns, &matches, ev) {
                    initial.push(line);
                }
            }
        }
        (store.tx.subscribe(), current)
    };
    let (tx, out) = mpsc::channel::<Bytes>(1024);
    let rt = rt.clone();
    let ns = ns.map(str::to_string);
    shared.handle.spawn(async move {
        let mut rx = rx;
        for b in initial {
            if tx.send(b).await.is_err() {
                return;
            }
        }
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = tx.closed() => return,
                ev = rx.recv() => match ev {
                    Ok(ev) => {
                        if ev.rv <= last_rv {
                            continue;
                        }
                        last_rv = ev.rv;
                        if let Some(line) = event_line(&rt, ns.as_deref(), &|o: &Value| ls.matches(o) && fs.matches(o), &ev)
                            && tx.send(line).await.is_err() {
                                return;
                            }
                    }
                    Err(_) => return,
                },
            }
        }
    });
    Ok(stream_response(out))
}

fn stream_response(rx: mpsc::Receiver<Bytes>) -> Response<Body> {
    Response::builder()
        .status(200)
        .header("Content-Type", "application/json")
        .header("Cache-Control", "no-cache, private")
        .body(Body::Chan(rx))
        .unwrap()
}

/// The watch line for an event, or None when the watch does not see it.
fn event_line(rt: &ResourceType, ns: Option<&str>, matches: &dyn Fn(&Value) -> bool, ev: &Event) -> Option<Bytes> {
    if ev.group != rt.group || ev.plural != rt.plural {
        return None;
    }
    if let Some(ns) = ns
        && ev.namespace != ns {
            return None;
        }
    let now = matches(&ev.object);
    let before = ev.prev.as_deref().map(matches).unwrap_or(false);
    let ty = match ev.kind {
        "MODIFIED" if now && !before => "ADDED",
        "MODIFIED" if !now && before => "DELETED",
        "MODIFIED" if !now => return None,
        "DELETED" if !before && !now => return None,
        "ADDED" if !now => return None,
        k => k,
    };
    Some(watch_line(ty, &present(rt, &ev.object)))
}
