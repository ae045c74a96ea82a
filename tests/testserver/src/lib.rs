//! A Kubernetes-API-compatible test server for weft's tests.
//!
//! [`TestServer::start`] serves the Kubernetes REST API over plain HTTP on
//! 127.0.0.1 from its own thread and tokio runtime; clients (kube-rs,
//! kubectl) reach it through [`TestServer::kubeconfig`]. The server keeps
//! objects in memory, does server-side apply with managedFields, watches,
//! discovery, defaulting and simulated readiness, logs every request, and
//! can inject faults. README.md lists what is and is not reproduced.

mod defaults;
mod discovery;
mod fields;
mod resources;
mod select;
mod server;
mod store;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hyper_util::rt::TokioIo;
use serde_json::Value;

use server::Shared;
use store::{Store, WriteCtx};

/// Server options.
#[derive(Debug, Clone)]
pub struct Options {
    /// Simulate controllers: workloads become ready, Jobs complete, PVCs bind,
    /// LoadBalancers get an address. Default true.
    pub auto_ready: bool,
    /// Time between creating a CustomResourceDefinition and its `Established`
    /// condition (and its resources being served). Default 0.
    pub crd_establish_delay: Duration,
    /// Address to bind; default 127.0.0.1:0.
    pub listen: Option<SocketAddr>,
    /// How long a deleted Namespace stays `Terminating` before it and its
    /// contents are removed (as the namespace controller would). Default 500 ms;
    /// zero removes them at once.
    pub namespace_delete_delay: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options { auto_ready: true, crd_establish_delay: Duration::ZERO, listen: None, namespace_delete_delay: Duration::from_millis(500) }
    }
}

/// A fault for one request; the request then has no effect.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// Respond with this HTTP status and a `Status` body (429 carries `Retry-After: 0`).
    Status(u16),
    /// Close the connection without a response.
    DropConnection,
}

/// The kind of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Verb {
    Discovery,
    Get,
    List,
    Watch,
    Create,
    Update,
    Patch,
    /// PATCH with `application/apply-patch+yaml` (server-side apply).
    Apply,
    Delete,
    DeleteCollection,
    #[default]
    Other,
}

impl Verb {
    pub fn as_str(&self) -> &'static str {
        match self {
            Verb::Discovery => "discovery",
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Watch => "watch",
            Verb::Create => "create",
            Verb::Update => "update",
            Verb::Patch => "patch",
            Verb::Apply => "apply",
            Verb::Delete => "delete",
            Verb::DeleteCollection => "deletecollection",
            Verb::Other => "other",
        }
    }
}

/// One logged request.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// Position among all requests since the server started (not reset).
    pub index: usize,
    pub method: String,
    pub path: String,
    pub query: String,
    pub verb: Verb,
    pub dry_run: bool,
    pub field_manager: Option<String>,
    /// HTTP status; 0 for a dropped connection. Watches log 200 when the stream starts.
    pub status: u16,
}

/// Counts derived from the request log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Counts {
    pub total: usize,
    /// discovery + get + list + watch
    pub reads: usize,
    /// create/update/patch/apply/delete/deletecollection, not dry-run
    pub writes: usize,
    /// writes with dryRun=All
    pub dry_runs: usize,
    /// by [`Verb::as_str`]
    pub by_verb: BTreeMap<String, usize>,
}

/// A running server; dropping it stops the server.
pub struct TestServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl TestServer {
    /// Starts a server on 127.0.0.1 and a free port with default options.
    pub fn start() -> TestServer {
        Self::start_with(Options::default())
    }

    /// Starts a server; panics if the address cannot be bound.
    pub fn start_with(options: Options) -> TestServer {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().thread_name("weft-testserver").build().expect("tokio runtime");
        let addr = options.listen.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
        let std_listener = std::net::TcpListener::bind(addr).unwrap_or_else(|e| panic!("weft-testserver: cannot bind {addr}: {e}"));
        std_listener.set_nonblocking(true).expect("nonblocking");
        let addr = std_listener.local_addr().expect("local addr");
        let mut store = Store::new(options.auto_ready, options.crd_establish_delay);
        store.ns_delete_delay = options.namespace_delete_delay;
        let shared = Arc::new(Shared {
            store: Mutex::new(store),
            log: Mutex::new(Vec::new()),
            faults: Mutex::new(BTreeMap::new()),
            counter: std::sync::atomic::AtomicUsize::new(0),
            writes_until_stall: std::sync::atomic::AtomicUsize::new(usize::MAX),
            handle: rt.handle().clone(),
            verbose: std::env::var_os("WEFT_TESTSERVER_LOG").is_some_and(|v| v == "1"),
        });
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let s2 = shared.clone();
        let thread = std::thread::Builder::new()
            .name("weft-testserver".into())
            .spawn(move || {
                rt.block_on(async move {
                    let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
                    accept_loop(listener, s2, rx).await;
                });
                rt.shutdown_background();
            })
            .expect("spawn server thread");
        TestServer { shared, addr, shutdown: Some(tx), thread: Some(thread) }
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig (YAML) for this server: context, cluster and user `weft-test`, no auth.
    pub fn kubeconfig(&self) -> String {
        kubeconfig_for(&self.url())
    }

    pub fn write_kubeconfig(&self, path: &std::path::Path) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig())
    }

    /// Requests since the start or the last [`reset_requests`](Self::reset_requests), in arrival order.
    pub fn requests(&self) -> Vec<Request> {
        let mut v = self.shared.log.lock().unwrap().clone();
        v.sort_by_key(|r| r.index);
        v
    }

    pub fn reset_requests(&self) {
        self.shared.log.lock().unwrap().clear();
    }

    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for r in self.shared.log.lock().unwrap().iter() {
            c.total += 1;
            *c.by_verb.entry(r.verb.as_str().to_string()).or_default() += 1;
            match r.verb {
                Verb::Discovery | Verb::Get | Verb::List | Verb::Watch => c.reads += 1,
                Verb::Create | Verb::Update | Verb::Patch | Verb::Apply | Verb::Delete | Verb::DeleteCollection => {
                    if r.dry_run {
                        c.dry_runs += 1
                    } else {
                        c.writes += 1
                    }
                }
                Verb::Other => {}
            }
        }
        c
    }

    /// After `n` more writes (not dry-run), every write hangs without an
    /// answer until `release_writes`: a client can then be killed in the
    /// middle of an apply. Hung requests are logged with status 0.
    pub fn stall_writes_after(&self, n: usize) {
        self.shared.writes_until_stall.store(n, Ordering::SeqCst);
    }

    /// Writes are answered again (those already hung stay hung).
    pub fn release_writes(&self) {
        self.shared.writes_until_stall.store(usize::MAX, Ordering::SeqCst);
    }

    /// The `at`-th request from now (0 = the next one) gets `fault`.
    pub fn inject(&self, fault: Fault, at: usize) {
        let index = self.shared.counter.load(Ordering::SeqCst) + at;
        self.shared.faults.lock().unwrap().entry(index).or_default().push(fault);
    }

    /// The stored object, or None.
    pub fn get(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let store = self.shared.store.lock().unwrap();
        let rt = store.find_kind(api_version, kind)?;
        store.get(&rt, namespace.filter(|_| rt.namespaced).unwrap_or(""), name).ok()
    }

    /// All objects of a kind, in all namespaces.
    pub fn list(&self, api_version: &str, kind: &str) -> Vec<Value> {
        let store = self.shared.store.lock().unwrap();
        let Some(rt) = store.find_kind(api_version, kind) else { return Vec::new() };
        store.list_raw(&rt, None).iter().map(|o| store::present(&rt, o)).collect()
    }

    /// Replaces an object's status (as a controller would), bumping its
    /// resourceVersion and notifying watchers. Panics if the object does not exist.
    pub fn set_status(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str, status: Value) {
        let mut store = self.shared.store.lock().unwrap();
        let rt = store.find_kind(api_version, kind).unwrap_or_else(|| panic!("set_status: unknown kind {api_version} {kind}"));
        let ns = namespace.filter(|_| rt.namespaced).unwrap_or("").to_string();
        if let Err(e) = store.write_status(&rt, &ns, name, status, "weft-testserver") {
            panic!("set_status {kind} {name}: {}", e.message);
        }
        // A status write can establish a CRD.
        if rt.kind == "CustomResourceDefinition" {
            drop(store);
            self.shared.schedule();
        }
    }

    /// Server-side apply as `field_manager` (another tool or controller).
    pub fn apply_as(&self, field_manager: &str, object: Value, force: bool) -> Result<Value, String> {
        let r = {
            let mut store = self.shared.store.lock().unwrap();
            let (rt, ns, name) = target(&store, &object)?;
            let ctx = WriteCtx { manager: field_manager.into(), dry_run: false, status: false };
            store.apply(&rt, ns.as_deref(), &name, object, force, &ctx).map(|(_, v)| v).map_err(|e| e.message)
        };
        self.shared.schedule();
        r
    }

    /// A create (POST) as `field_manager`; `metadata.generateName` works
    /// as on a real server. Cluster-scoped objects take no namespace.
    pub fn create_as(&self, field_manager: &str, object: Value) -> Result<Value, String> {
        let r = {
            let mut store = self.shared.store.lock().unwrap();
            let av = object["apiVersion"].as_str().ok_or("apiVersion missing")?;
            let kind = object["kind"].as_str().ok_or("kind missing")?;
            let rt = store.find_kind(av, kind).ok_or_else(|| format!("no resource for {av} {kind}"))?;
            let ns = rt.namespaced.then(|| object["metadata"]["namespace"].as_str().unwrap_or("default").to_string());
            let ctx = WriteCtx { manager: field_manager.into(), dry_run: false, status: false };
            store.create(&rt, ns.as_deref(), object, &ctx).map(|(_, v)| v).map_err(|e| e.message)
        };
        self.shared.schedule();
        r
    }

    /// An Update (like PUT; creates when absent) as `field_manager`.
    pub fn update_as(&self, field_manager: &str, object: Value) -> Result<Value, String> {
        let r = {
            let mut store = self.shared.store.lock().unwrap();
            let (rt, ns, name) = target(&store, &object)?;
            let ctx = WriteCtx { manager: field_manager.into(), dry_run: false, status: false };
            let exists = store.get_raw(&rt, ns.as_deref().unwrap_or(""), &name).is_some();
            let r = if exists { store.update(&rt, ns.as_deref(), &name, object, &ctx) } else { store.create(&rt, ns.as_deref(), object, &ctx) };
            r.map(|(_, v)| v).map_err(|e| e.message)
        };
        self.shared.schedule();
        r
    }
}

fn target(store: &Store, object: &Value) -> Result<(resources::ResourceType, Option<String>, String), String> {
    let av = object["apiVersion"].as_str().ok_or("apiVersion missing")?;
    let kind = object["kind"].as_str().ok_or("kind missing")?;
    let rt = store.find_kind(av, kind).ok_or_else(|| format!("no resource for {av} {kind}"))?;
    let name = object["metadata"]["name"].as_str().filter(|s| !s.is_empty()).ok_or("metadata.name missing")?.to_string();
    let ns = if rt.namespaced { Some(object["metadata"]["namespace"].as_str().unwrap_or("default").to_string()) } else { None };
    Ok((rt, ns, name))
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A kubeconfig for a server at `url` (context, cluster and user `weft-test`).
pub fn kubeconfig_for(url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: weft-test\n  cluster:\n    server: {url}\ncontexts:\n- name: weft-test\n  context:\n    cluster: weft-test\n    user: weft-test\n    namespace: default\ncurrent-context: weft-test\nusers:\n- name: weft-test\n  user: {{}}\npreferences: {{}}\n"
    )
}

async fn accept_loop(listener: tokio::net::TcpListener, shared: Arc<Shared>, mut shutdown: tokio::sync::oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| server::serve(shared.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .keep_alive(true)
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    fn raw(server: &TestServer, req: &str) -> String {
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut buf = Vec::new();
        let _ = s.read_to_end(&mut buf);
        String::from_utf8_lossy(&buf).into_owned()
    }

    #[test]
    fn watch_from_a_compacted_resource_version_is_gone() {
        let server = TestServer::start();
        server.shared.store.lock().unwrap().history_cap = 2;
        for i in 0..5 {
            let cm = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}"), "namespace": "default"}});
            server.update_as("t", cm).unwrap();
        }
        let out = raw(&server, "GET /api/v1/namespaces/default/configmaps?watch=true&resourceVersion=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        assert!(out.contains(r#""type":"ERROR""#), "{out}");
        assert!(out.contains(r#""code":410"#) && out.contains(r#""reason":"Expired""#), "{out}");
        // A recent resourceVersion still replays.
        let rv = server.get("v1", "ConfigMap", Some("default"), "c3").unwrap()["metadata"]["resourceVersion"].as_str().unwrap().to_string();
        let out = raw(&server, &format!("GET /api/v1/namespaces/default/configmaps?watch=true&resourceVersion={rv}&timeoutSeconds=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        // Names are matched as fields: a random uid may contain "c3".
        assert!(out.contains(r#""type":"ADDED""#) && out.contains(r#""name":"c4""#) && !out.contains(r#""name":"c3""#), "{out}");
    }
}
