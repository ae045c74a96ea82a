//! Benchmark of `weft check` on a pull request of a large repository.
//! One command: `cargo bench -p weft --bench check`.
//!
//! A bare git repository is built with git2 (deterministic: same files,
//! same commit ids): the base commit holds 1,000 design files with 10,000
//! components in all (970 multi-document manifest files of one synthetic
//! "stack" each, 30 Meshery designs of one stack each; see `synth`), and
//! the head commit changes 10 of those files: fields of ConfigMaps,
//! Deployments, Services and one Meshery design component, one Service
//! removed and one added. The bench runs the release `weft check --repo
//! <repo> --base base --head head --format json` (one warm-up, then 5
//! timed runs), checks that every run exits 0 and that the JSON lists
//! exactly the expected component changes (fields, impact) and
//! relationship changes, and prints the median, min–max and peak RSS
//! against the target: ≤ 3 s. For context it times `weft validate` of the
//! head alone (`--repo <repo> --rev head`) the same way. No peer runs:
//! no other tool compares the relationships of two revisions.
//! Figures also go to `target/bench-results/check.json`.
//!
//! Knobs: `WEFT_BIN` (binary to time), `WEFT_BENCH_RUNS` (default 5).

#[allow(dead_code)]
mod synth;
#[path = "common/mod.rs"]
#[allow(dead_code)]
mod common;

use common::*;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Bump when the repository changes, so a cached one is rebuilt.
const GENERATOR_VERSION: u32 = 1;
const MANIFEST_FILES: usize = 970;
const DESIGN_FILES: usize = 30;
const TARGET_S: f64 = 3.0;

/// One file of a revision.
#[derive(Clone)]
enum Content {
    /// Kubernetes objects, one YAML document each.
    Manifests(Vec<Value>),
    /// One Meshery design.
    Design(Value),
}

type Tree = BTreeMap<String, Content>;

fn render(path: &str, content: &Content) -> String {
    match content {
        Content::Manifests(docs) => {
            let mut text = format!("# Synthetic manifests for the weft check benchmark (v{GENERATOR_VERSION}): {path}\n");
            for doc in docs {
                text.push_str("---\n");
                text.push_str(&synth::to_yaml(doc));
            }
            text
        }
        Content::Design(design) => {
            format!("# Synthetic Meshery design for the weft check benchmark (v{GENERATOR_VERSION}).\n{}", synth::to_yaml(design))
        }
    }
}

/// The base revision: 970 manifest files and 30 designs, one stack of ten
/// objects each (3 ConfigMaps, 4 Deployments, 3 Services, with references
/// and selectors inside the stack), namespaces shared by area and stage.
fn base_tree() -> Tree {
    let mut rng = synth::Rng(0x5745_4654_4348_4543);
    let mut tree = Tree::new();
    for f in 0..MANIFEST_FILES {
        let area = synth::AREAS[f % synth::AREAS.len()];
        let env = synth::ENVS[(f / synth::AREAS.len()) % synth::ENVS.len()];
        let docs = synth::stack(&mut rng, f, &format!("{area}-{env}"), area);
        tree.insert(format!("manifests/{area}/{area}-{env}-{f:04}.yaml"), Content::Manifests(docs));
    }
    for d in 0..DESIGN_FILES {
        let ns = format!("{}-demo", synth::DESIGN_SPACES[d % synth::DESIGN_SPACES.len()]);
        let stack_no = MANIFEST_FILES + d;
        let components: Vec<Value> = synth::stack(&mut rng, stack_no, &ns, "demo")
            .into_iter()
            .enumerate()
            .map(|(i, obj)| synth::to_component(&mut rng, obj, 120.0 * i as f64 + 40.0, 90.0 * (d % 50) as f64 + 30.0))
            .collect();
        let design = json!({
            "id": rng.uuid(),
            "name": format!("Synthetic design {d}"),
            "schemaVersion": "designs.meshery.io/v1beta1",
            "version": "0.0.1",
            "metadata": {},
            "components": components,
            "relationships": [],
        });
        tree.insert(format!("designs/design-{d:02}.yml"), Content::Design(design));
    }
    tree
}

/// A component as `weft check` names it.
fn key(doc: &Value) -> String {
    let kind = doc["kind"].as_str().unwrap_or_default();
    let kind = if kind == "Deployment" { "Deployment.apps".to_owned() } else { kind.to_owned() };
    format!("{kind} {}/{}", doc["metadata"]["namespace"].as_str().unwrap_or_default(), doc["metadata"]["name"].as_str().unwrap_or_default())
}

fn design_key(component: &Value) -> String {
    let kind = component["component"]["kind"].as_str().unwrap_or_default();
    let kind = if kind == "Deployment" { "Deployment.apps".to_owned() } else { kind.to_owned() };
    let ns = component["configuration"]["metadata"]["namespace"].as_str().unwrap_or_default();
    format!("{kind} {ns}/{}", component["displayName"].as_str().unwrap_or_default())
}

/// What the check must report: a component change with its fields and
/// (some of) the components it must list as impact.
#[derive(Clone, Debug)]
struct Expected {
    change: &'static str,
    component: String,
    file: String,
    fields: Vec<String>,
    impact: Vec<String>,
}

/// The relationship changes the check must report (family, from, to).
type ExpectedEdge = (&'static str, String, String);

fn docs_mut<'a>(tree: &'a mut Tree, path: &str) -> &'a mut Vec<Value> {
    match tree.get_mut(path) {
        Some(Content::Manifests(docs)) => docs,
        _ => panic!("{path} holds manifests"),
    }
}

/// Sets `pointer` of object `doc` of the file at `path` to `value`, and
/// expects the check to report `field` changed, with the objects at
/// `impact` (of the same file) among its impact.
#[allow(clippy::too_many_arguments)]
fn changed(tree: &mut Tree, path: &str, doc: usize, pointer: &str, value: Value, field: &str, impact: &[usize], expected: &mut Vec<Expected>) {
    let docs = docs_mut(tree, path);
    let before = docs[doc].pointer(pointer).cloned();
    assert_ne!(before.as_ref(), Some(&value), "{path}: {pointer} must change");
    let (parent, last) = pointer.rsplit_once('/').expect("a pointer");
    let last = last.replace("~1", "/").replace("~0", "~");
    docs[doc].pointer_mut(parent).and_then(Value::as_object_mut).expect("an object").insert(last, value);
    expected.push(Expected {
        change: "changed",
        component: key(&docs[doc]),
        file: path.to_owned(),
        fields: vec![field.to_owned()],
        impact: impact.iter().map(|&i| key(&docs[i])).collect(),
    });
}

/// The head: ten files of the base changed. Returns it with the changes
/// `weft check` must report.
fn head_tree(base: &Tree) -> (Tree, Vec<Expected>, Vec<ExpectedEdge>) {
    let mut head = base.clone();
    let manifests: Vec<String> = base.keys().filter(|p| p.starts_with("manifests/")).cloned().collect();
    let designs: Vec<String> = base.keys().filter(|p| p.starts_with("designs/")).cloned().collect();
    let mut expected = Vec::new();
    let mut edges = Vec::new();
    // Stack order: ConfigMaps api, web, grpc (0–2); Deployments api, web,
    // grpc, worker (3–6); Services api, web, grpc (7–9).
    // 1. A ConfigMap read by two Deployments (api and worker).
    changed(&mut head, &manifests[5], 0, "/data/LOG_LEVEL", json!("error"), "/data/LOG_LEVEL", &[3, 6], &mut expected);
    // 2. Replicas.
    changed(&mut head, &manifests[50], 4, "/spec/replicas", json!(9), "/spec/replicas", &[], &mut expected);
    // 3. An image.
    let image = "registry.example.com/bench/changed:v9.9.9";
    let mut containers = match &base[&manifests[150]] {
        Content::Manifests(docs) => docs[5]["spec"]["template"]["spec"]["containers"].clone(),
        Content::Design(_) => unreachable!(),
    };
    containers[0]["image"] = json!(image);
    changed(&mut head, &manifests[150], 5, "/spec/template/spec/containers", containers, "/spec/template/spec/containers/0/image", &[], &mut expected);
    // 4. A Service removed: the api Deployment it selected is its impact.
    {
        let docs = docs_mut(&mut head, &manifests[250]);
        let service = docs.remove(7);
        expected.push(Expected { change: "removed", component: key(&service), file: manifests[250].clone(), fields: vec![], impact: vec![key(&docs[3])] });
        edges.push(("edge/non-binding/network", key(&service), key(&docs[3])));
    }
    // 5. A Service added in front of an api Deployment.
    {
        let docs = docs_mut(&mut head, &manifests[350]);
        let mut service = docs[7].clone();
        let name = format!("{}-internal", service["metadata"]["name"].as_str().expect("a name"));
        service["metadata"]["name"] = json!(name);
        expected.push(Expected { change: "added", component: key(&service), file: manifests[350].clone(), fields: vec![], impact: vec![] });
        edges.push(("edge/non-binding/network", key(&service), key(&docs[3])));
        docs.push(service);
    }
    // 6. A Service port.
    changed(&mut head, &manifests[450], 8, "/spec/ports/0/port", json!(8081), "/spec/ports/0/port", &[4], &mut expected);
    // 7. A ConfigMap key added.
    changed(&mut head, &manifests[550], 1, "/data/FEATURE_BENCH", json!("enabled"), "/data/FEATURE_BENCH", &[4], &mut expected);
    // 8. A pod template annotation.
    changed(
        &mut head,
        &manifests[650],
        3,
        "/spec/template/metadata/annotations/prometheus.io~1scrape",
        json!("false"),
        "/spec/template/metadata/annotations/prometheus.io~1scrape",
        &[0],
        &mut expected,
    );
    // 9. An object annotation.
    changed(&mut head, &manifests[850], 6, "/metadata/annotations/weft.dev~1owner", json!("team-bench"), "/metadata/annotations/weft.dev~1owner", &[0], &mut expected);
    // 10. A component of a Meshery design: its ConfigMap for the api.
    let Some(Content::Design(design)) = head.get_mut(&designs[3]) else { panic!("a design") };
    let components = design["components"].as_array_mut().expect("components");
    let before = components[0]["configuration"]["data"]["CACHE_TTL_SECONDS"].clone();
    assert_ne!(before, json!("999"));
    components[0]["configuration"]["data"]["CACHE_TTL_SECONDS"] = json!("999");
    expected.push(Expected {
        change: "changed",
        component: design_key(&components[0]),
        file: designs[3].clone(),
        fields: vec!["/data/CACHE_TTL_SECONDS".to_owned()],
        impact: vec![design_key(&components[3]), design_key(&components[6])],
    });
    let order = |c: &str| ["added", "removed", "changed"].iter().position(|x| *x == c).unwrap_or(3);
    expected.sort_by(|a, b| (order(a.change), &a.component).cmp(&(order(b.change), &b.component)));
    (head, expected, edges)
}

/// Writes `files` as a tree (subtrees for folders) and returns its id.
fn write_tree(repo: &git2::Repository, files: &BTreeMap<String, String>) -> git2::Oid {
    fn build(repo: &git2::Repository, entries: &[(&str, &str)]) -> git2::Oid {
        let mut builder = repo.treebuilder(None).expect("a tree builder");
        let mut i = 0;
        while i < entries.len() {
            let (path, text) = entries[i];
            match path.split_once('/') {
                None => {
                    let blob = repo.blob(text.as_bytes()).expect("a blob");
                    builder.insert(path, blob, 0o100644).expect("an entry");
                    i += 1;
                }
                Some((dir, _)) => {
                    let prefix = format!("{dir}/");
                    let below: Vec<(&str, &str)> =
                        entries[i..].iter().take_while(|(p, _)| p.starts_with(&prefix)).map(|(p, t)| (&p[prefix.len()..], *t)).collect();
                    i += below.len();
                    let tree = build(repo, &below);
                    builder.insert(dir, tree, 0o040000).expect("an entry");
                }
            }
        }
        builder.write().expect("a tree")
    }
    let entries: Vec<(&str, &str)> = files.iter().map(|(p, t)| (p.as_str(), t.as_str())).collect();
    build(repo, &entries)
}

fn rendered(tree: &Tree) -> BTreeMap<String, String> {
    let mut files: BTreeMap<String, String> = tree.iter().map(|(p, c)| (p.clone(), render(p, c))).collect();
    files.insert("weft.yaml".into(), "name: check-bench\n".into());
    files
}

/// The bare repository with branches `base` and `head`, built once and
/// reused while its stamp matches.
fn ensure_repo(dir: &Path, base: &Tree, head: &Tree) -> Result<(bool, String, String), String> {
    let stamp_path = dir.join("stamp.json");
    let git_dir = dir.join("repo.git");
    if let Ok(text) = fs::read_to_string(&stamp_path)
        && let Ok(stamp) = serde_json::from_str::<Value>(&text)
        && stamp["generator"] == json!(GENERATOR_VERSION)
        && stamp["synth"] == json!(synth::GENERATOR_VERSION)
        && git2::Repository::open_bare(&git_dir).is_ok()
    {
        let id = |k: &str| stamp[k].as_str().unwrap_or_default().to_owned();
        return Ok((true, id("base"), id("head")));
    }
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(|e| format!("cannot clear {}: {e}", dir.display()))?;
    }
    fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let repo = git2::Repository::init_bare(&git_dir).map_err(|e| e.message().to_owned())?;
    // A fixed author and time: the same commit ids on every machine.
    let signature = git2::Signature::new("weft bench", "bench@example.com", &git2::Time::new(1_700_000_000, 0)).expect("a signature");
    let base_tree = repo.find_tree(write_tree(&repo, &rendered(base))).expect("the base tree");
    let base_id = repo.commit(Some("refs/heads/base"), &signature, &signature, "base: 1,000 design files", &base_tree, &[]).expect("the base commit");
    let parent = repo.find_commit(base_id).expect("the base commit");
    let head_tree = repo.find_tree(write_tree(&repo, &rendered(head))).expect("the head tree");
    let head_id = repo.commit(Some("refs/heads/head"), &signature, &signature, "head: 10 files changed", &head_tree, &[&parent]).expect("the head commit");
    repo.set_head("refs/heads/head").map_err(|e| e.message().to_owned())?;
    let stamp = json!({"generator": GENERATOR_VERSION, "synth": synth::GENERATOR_VERSION, "base": base_id.to_string(), "head": head_id.to_string()});
    fs::write(&stamp_path, serde_json::to_string_pretty(&stamp).expect("json") + "\n").map_err(|e| format!("cannot write the stamp: {e}"))?;
    Ok((false, base_id.to_string(), head_id.to_string()))
}

#[derive(Default)]
struct Series {
    walls: Vec<f64>,
    cpus: Vec<f64>,
    rss: Vec<f64>,
    error: Option<String>,
}

impl Series {
    fn ok(&self) -> bool {
        self.error.is_none() && !self.walls.is_empty()
    }
    fn min(&self) -> f64 {
        self.walls.iter().copied().fold(f64::INFINITY, f64::min)
    }
    fn max(&self) -> f64 {
        self.walls.iter().copied().fold(0.0, f64::max)
    }
    fn peak_rss(&self) -> f64 {
        self.rss.iter().copied().fold(0.0, f64::max)
    }
    fn to_json(&self, command: &str) -> Value {
        let num = |x: f64| if x.is_finite() { json!((x * 1e6).round() / 1e6) } else { Value::Null };
        json!({
            "command": command,
            "ok": self.ok(),
            "error": self.error,
            "runs": self.walls.len(),
            "wall_s": self.walls.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "cpu_s": self.cpus.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "rss_mib": self.rss.iter().map(|&x| num(x)).collect::<Vec<_>>(),
            "median_wall_s": num(median(&self.walls)),
            "min_wall_s": num(self.min()),
            "max_wall_s": num(self.max()),
            "peak_rss_mib": num(self.peak_rss()),
            "cores_used": num(median(&self.cpus) / median(&self.walls)),
        })
    }
}

/// One warm-up and `runs` timed runs of `weft ARGS`; `verify` checks each
/// run's output and returns why it is wrong.
fn series(bin: &Path, cwd: &Path, args: &[&str], runs: usize, verify: &dyn Fn(&Measure) -> Result<(), String>) -> Series {
    let mut s = Series::default();
    for i in 0..=runs {
        let mut cmd = Command::new(bin);
        cmd.args(args).current_dir(cwd).env("NO_COLOR", "1").env_remove("WEFT_TIMINGS");
        let m = match measure(&mut cmd) {
            Ok(m) => m,
            Err(e) => {
                s.error = Some(e);
                break;
            }
        };
        if let Err(why) = verify(&m) {
            s.error = Some(format!("{why}\n    stderr: {}", tail(&m.stderr, 600)));
            break;
        }
        if i > 0 {
            s.walls.push(m.wall);
            s.cpus.push(m.cpu);
            s.rss.push(m.rss_mib);
        }
    }
    s
}

/// The check's JSON against what the head changed.
fn verify_check(m: &Measure, expected: &[Expected], edges: &[ExpectedEdge]) -> Result<(), String> {
    if m.code != Some(0) {
        return Err(format!("weft check exited {:?}: {}", m.code, tail(&m.stdout, 600)));
    }
    let v: Value = serde_json::from_str(&m.stdout).map_err(|e| format!("weft check printed no JSON ({e}): {}", tail(&m.stdout, 300)))?;
    if v.pointer("/report/summary/errors").and_then(Value::as_u64) != Some(0) {
        return Err(format!("the head has errors: {}", v["report"]["summary"]));
    }
    let components = v.pointer("/changes/components").and_then(Value::as_array).ok_or("no changes.components")?;
    let got: Vec<(String, String)> = components.iter().map(|c| (c["change"].as_str().unwrap_or_default().to_owned(), c["component"].as_str().unwrap_or_default().to_owned())).collect();
    let want: Vec<(String, String)> = expected.iter().map(|e| (e.change.to_owned(), e.component.clone())).collect();
    if got != want {
        return Err(format!("component changes differ:\n    got  {got:?}\n    want {want:?}"));
    }
    for (c, e) in components.iter().zip(expected) {
        if c["file"] != json!(e.file) {
            return Err(format!("{}: file {} (want {})", e.component, c["file"], e.file));
        }
        let fields: Vec<String> = c["fields"].as_array().map(|f| f.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default();
        if fields != e.fields {
            return Err(format!("{}: fields {fields:?} (want {:?})", e.component, e.fields));
        }
        let impact: Vec<&str> = c["impact"].as_array().map(|i| i.iter().filter_map(|r| r["component"].as_str()).collect()).unwrap_or_default();
        if let Some(missing) = e.impact.iter().find(|k| !impact.contains(&k.as_str())) {
            return Err(format!("{}: impact {impact:?} lacks {missing}", e.component));
        }
    }
    let relationships = v.pointer("/changes/relationships").and_then(Value::as_array).ok_or("no changes.relationships")?;
    let (removed, added) = (&edges[0], &edges[1]);
    for (change, (family, from, to)) in [("removed", removed), ("added", added)] {
        if !relationships.iter().any(|r| r["change"] == change && r["relationship"] == *family && r["from"] == json!(from) && r["to"] == json!(to)) {
            return Err(format!("no {change} relationship {family}: {from} -> {to} in {relationships:?}"));
        }
    }
    // Nothing else changed: every relationship change is the removed or the added Service's.
    if let Some(r) = relationships.iter().find(|r| ![&removed.1, &added.1].iter().any(|s| r["from"] == json!(s) || r["to"] == json!(s))) {
        return Err(format!("an unexpected relationship change: {r}"));
    }
    Ok(())
}

fn verify_validate(m: &Measure) -> Result<(), String> {
    let v: Value = serde_json::from_str(&m.stdout).map_err(|e| format!("weft validate printed no JSON ({e})"))?;
    let errors = v.pointer("/summary/errors").and_then(Value::as_u64);
    let components: u64 = v["designs"].as_array().map_or(0, |ds| ds.iter().filter_map(|d| d["components"].as_u64()).sum());
    if m.code != Some(0) || errors != Some(0) {
        return Err(format!("weft validate exited {:?} with {errors:?} errors", m.code));
    }
    if components != 10_000 {
        return Err(format!("weft validate read {components} components, the head holds 10,000"));
    }
    Ok(())
}

fn row(name: &str, s: &Series) {
    if !s.ok() {
        println!("  {name:<16} FAILED: {}", s.error.as_deref().unwrap_or("no runs"));
        return;
    }
    println!(
        "  {name:<16} {:>5} {:>8.3} s {:>7.3}–{:.3} s {:>7.1} MiB {:>6.2}",
        s.walls.len(),
        median(&s.walls),
        s.min(),
        s.max(),
        s.peak_rss(),
        median(&s.cpus) / median(&s.walls)
    );
}

fn main() {
    let target = target_dir();
    let bin = match weft_binary(&target) {
        Ok(bin) => bin,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let runs: usize = std::env::var("WEFT_BENCH_RUNS").ok().and_then(|v| v.parse().ok()).filter(|&n| n > 0).unwrap_or(5);
    println!("\n== weft check benchmark (1,000 design files, 10,000 components, 10 files changed; v{GENERATOR_VERSION}) ==");
    let busy = busy_cores();
    println!(
        "machine: {} cores, CPU {}; binary {}; busy before start: {}",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        cpu_model(),
        bin.display(),
        busy.map_or("unknown".into(), |b| format!("{b:.2} cores"))
    );
    warn_if_busy(busy);

    let base = base_tree();
    let (head, expected, edges) = head_tree(&base);
    let components = |tree: &Tree| -> usize {
        tree.values().map(|c| match c {
            Content::Manifests(docs) => docs.len(),
            Content::Design(d) => d["components"].as_array().map_or(0, Vec::len),
        }).sum()
    };
    assert_eq!((base.len(), components(&base)), (1_000, 10_000), "the base holds 1,000 files and 10,000 components");
    let changed_files = base.keys().filter(|p| render(p, &base[*p]) != render(p, &head[*p])).count();
    assert_eq!(changed_files, 10, "the head changes 10 files");
    let dir = target.join("bench-repos/check-n10000");
    let t = Instant::now();
    let (reused, base_id, head_id) = match ensure_repo(&dir, &base, &head) {
        Ok(x) => x,
        Err(e) => {
            eprintln!("error: cannot build the repository in {}: {e}", dir.display());
            std::process::exit(2);
        }
    };
    let repo = dir.join("repo.git");
    println!(
        "repo: {} {} (base {} = {} files, {} components; head {} = 10 files changed, {} components){}",
        if reused { "reused" } else { "built" },
        repo.display(),
        &base_id[..12.min(base_id.len())],
        base.len(),
        components(&base),
        &head_id[..12.min(head_id.len())],
        components(&head),
        if reused { String::new() } else { format!(" in {:.1} s", t.elapsed().as_secs_f64()) }
    );
    println!("expected: {} component changes, relationship changes around the removed and the added Service", expected.len());

    let repo_arg = repo.to_str().expect("a UTF-8 path");
    let check_args = ["check", "--repo", repo_arg, "--base", "base", "--head", "head", "--format", "json"];
    let validate_args = ["validate", "--repo", repo_arg, "--rev", "head", "--format", "json"];
    println!("\n1 warm-up, then {runs} timed runs each:");
    println!("  {:<16} {:>5} {:>10} {:>17} {:>11} {:>6}", "command", "runs", "median", "min–max", "peak RSS", "cores");
    let check = series(&bin, &dir, &check_args, runs, &|m| verify_check(m, &expected, &edges));
    row("weft check", &check);
    let validate = series(&bin, &dir, &validate_args, runs, &verify_validate);
    row("weft validate", &validate);
    println!("  weft check      = weft {}\n  weft validate   = weft {} (the head alone, for context)", check_args.join(" "), validate_args.join(" "));
    println!("  cores = median CPU (user+sys) / median wall; peak RSS = max VmHWM over the runs");

    let met = check.ok() && median(&check.walls) <= TARGET_S;
    println!("\ntarget:");
    if check.ok() {
        println!("  weft check, 10,000 components, 10 files changed: median {:.3} s (target ≤ {TARGET_S:.0} s)   {}", median(&check.walls), if met { "MET" } else { "NOT MET" });
        if validate.ok() {
            println!("  check ÷ validate of the head: {:.2}×", median(&check.walls) / median(&validate.walls));
        }
    } else {
        println!("  not evaluated: the check failed");
    }
    let busy_end = busy_cores();
    println!("\nbusy after the runs: {}", busy_end.map_or("unknown".into(), |b| format!("{b:.2} cores")));
    warn_if_busy(busy_end);

    let results = json!({
        "benchmark": "weft check",
        "generator_version": GENERATOR_VERSION,
        "unix_time": SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "machine": {"nproc": std::thread::available_parallelism().map_or(1, |n| n.get()), "cpu_model": cpu_model(), "busy_cores_at_start": busy, "busy_cores_at_end": busy_end, "weft_bin": bin.display().to_string()},
        "repo": {"files": base.len(), "components": components(&base), "changed_files": changed_files, "base": base_id, "head": head_id},
        "expected_component_changes": expected.len(),
        "check": check.to_json(&format!("weft {}", check_args.join(" "))),
        "validate_head": validate.to_json(&format!("weft {}", validate_args.join(" "))),
        "target": {"median_s": median(&check.walls), "target_s": TARGET_S, "met": met},
    });
    let out = target.join("bench-results/check.json");
    let written = fs::create_dir_all(out.parent().expect("parent")).and_then(|()| fs::write(&out, serde_json::to_string_pretty(&results).expect("json") + "\n"));
    match written {
        Ok(()) => println!("\nfigures written to {}", out.display()),
        Err(e) => eprintln!("error: cannot write {}: {e}", out.display()),
    }
    // A missed target never fails the run; a wrong answer does.
    if !check.ok() || !validate.ok() {
        eprintln!("error: weft did not check (or validate) the repository correctly (see above)");
        std::process::exit(1);
    }
}
