//! Stage 7: make a cluster match a plan.
//!
//! Objects are applied with server-side apply in dependency order: an
//! object starts the moment everything it depends on is applied (and, with
//! `wait`, ready), never on a fixed wave delay. Dependencies are CRD before
//! its custom resources, Namespace before what lives in it, and the
//! referenced object before the one referencing it (from the inferred
//! relationships). Independent objects run in parallel up to the
//! concurrency bound. A failed object's dependents are skipped and
//! reported; running again converges.

use crate::cluster::{Served, Target};
use crate::graph::ComponentRef;
use crate::plan::{self, Action, FIELD_MANAGER, Plan, with_retry};
use crate::relate::{End, Inference};
use crate::render::{self, Desired};
use futures::{StreamExt, TryStreamExt};
use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams, PropagationPolicy};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Options {
    pub concurrency: usize,
    pub force_conflicts: bool,
    /// Wait until each object is ready before its dependents start, and
    /// for every object before returning.
    pub wait: bool,
    pub timeout: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Applied,
    Deleted,
    Unchanged,
    Retained,
    Failed,
    /// Not attempted: something it depends on failed.
    Skipped,
}

#[derive(Clone, Debug, Serialize)]
pub struct Step {
    pub outcome: Outcome,
    /// What the plan said.
    pub action: Action,
    pub kind: String,
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub namespace: Option<String>,
    pub name: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub context: String,
    pub steps: Vec<Step>,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.steps.iter().any(|s| matches!(s.outcome, Outcome::Failed | Outcome::Skipped))
    }
    pub fn count(&self, outcome: Outcome) -> usize {
        self.steps.iter().filter(|s| s.outcome == outcome).count()
    }
}

/// For each desired object, the desired objects it depends on.
pub fn dependencies(desired: &[Desired], inference: Option<&Inference>) -> Vec<Vec<usize>> {
    let mut deps: Vec<BTreeSet<usize>> = vec![BTreeSet::new(); desired.len()];
    let mut crds: HashMap<(String, String), usize> = HashMap::new();
    let mut namespaces: HashMap<String, usize> = HashMap::new();
    let mut by_component: HashMap<ComponentRef, usize> = HashMap::new();
    for (i, d) in desired.iter().enumerate() {
        by_component.insert(d.component, i);
        match d.kind.as_str() {
            "CustomResourceDefinition" => {
                if let Some(defines) = &d.defines {
                    crds.insert(defines.clone(), i);
                }
            }
            "Namespace" if d.api_version == "v1" => {
                namespaces.insert(d.name.clone(), i);
            }
            _ => {}
        }
    }
    for (i, d) in desired.iter().enumerate() {
        if let Some(&crd) = crds.get(&(d.group.clone(), d.kind.clone())) {
            deps[i].insert(crd);
        }
        if let Some(&ns) = d.namespace.as_ref().and_then(|n| namespaces.get(n)) {
            deps[i].insert(ns);
        }
    }
    if let Some(inference) = inference {
        let of = |end: End| match end {
            End::Component { design, component } => by_component.get(&ComponentRef { design, component }).copied(),
            End::External(_) => None,
        };
        for r in &inference.relationships {
            let Some(check) = &inference.rules[r.rule].check else { continue };
            // The side a check looks at holds the reference; the other
            // side is what it refers to and goes first.
            let (referencing, referenced) = if check.side == "from" { (r.from, r.to) } else { (r.to, r.from) };
            let holder = r.via.and_then(of).or_else(|| of(referencing));
            if let (Some(a), Some(b)) = (holder, of(referenced))
                && a != b
            {
                deps[a].insert(b);
            }
        }
    }
    // A cycle in references must not deadlock the apply: drop the edges
    // that close one (the API server does not need the order to accept).
    let mut deps: Vec<Vec<usize>> = deps.into_iter().map(|s| s.into_iter().collect()).collect();
    break_cycles(&mut deps);
    deps
}

fn break_cycles(deps: &mut [Vec<usize>]) {
    // Depth-first search; an edge to a node on the stack closes a cycle.
    let n = deps.len();
    let mut state = vec![0u8; n]; // 0 new, 1 on stack, 2 done
    for start in 0..n {
        if state[start] != 0 {
            continue;
        }
        let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
        state[start] = 1;
        while let Some(&mut (node, ref mut next)) = stack.last_mut() {
            if *next < deps[node].len() {
                let target = deps[node][*next];
                if state[target] == 1 {
                    deps[node].remove(*next);
                    continue;
                }
                *next += 1;
                if state[target] == 0 {
                    state[target] = 1;
                    stack.push((target, 0));
                }
            } else {
                state[node] = 2;
                stack.pop();
            }
        }
    }
}

/// Applies `plan`: the inventory first (so an interrupted run still knows
/// what it owns), then creates and updates in dependency order, then the
/// deletions the plan allows, then the inventory's final membership.
pub async fn apply(target: &mut Target, plan: &Plan, desired: &[Desired], deps: &[Vec<usize>], options: &Options, progress: &crate::progress::Progress) -> Report {
    let mut steps: Vec<Option<Step>> = vec![None; desired.len()];
    let mut extra_steps = Vec::new();
    let desired_group_kinds: BTreeSet<String> = desired.iter().map(Desired::group_kind).collect();
    // The parent's own namespace always counts (the parent lists only the others).
    let mut namespaces: BTreeSet<String> = desired.iter().filter_map(|d| d.namespace.clone()).collect();
    namespaces.insert(plan.inventory.namespace.clone());
    let work = plan.changes.iter().filter(|c| !matches!(c.action, Action::Unchanged | Action::Retain)).count();
    progress.stage("applying", work);

    let union: BTreeSet<String> = plan.previous_group_kinds.union(&desired_group_kinds).cloned().collect();
    let all_namespaces: BTreeSet<String> = plan.previous_namespaces.union(&namespaces).cloned().collect();
    if (union != plan.previous_group_kinds || !namespaces.is_subset(&plan.previous_namespaces))
        && let Err(message) = write_inventory(target, plan, &union, &all_namespaces).await
    {
        return Report { context: target.context.clone(), steps: vec![inventory_failure(plan, format!("inventory not written, nothing applied: {message}"))] };
    }

    // Per desired object: what to do.
    let mut action: Vec<Option<Action>> = vec![None; desired.len()];
    for c in &plan.changes {
        if let Some(i) = c.desired {
            action[i] = Some(c.action);
            if matches!(c.action, Action::Unchanged | Action::Error) {
                let outcome = if c.action == Action::Unchanged { Outcome::Unchanged } else { Outcome::Failed };
                steps[i] = Some(step(&desired[i], c.action, outcome, c.reason.clone()));
            }
        }
    }
    let mut waiting: Vec<usize> = deps.iter().map(Vec::len).collect();
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); desired.len()];
    for (i, ds) in deps.iter().enumerate() {
        for &d in ds {
            dependents[d].push(i);
        }
    }
    let mut ready: std::collections::VecDeque<usize> = (0..desired.len()).filter(|&i| waiting[i] == 0).collect();
    let mut running = futures::stream::FuturesUnordered::new();
    // Objects decided without a request (unchanged, failed in planning,
    // not served): their dependents are released without waiting.
    let mut settled: std::collections::VecDeque<Finished> = Default::default();
    let mut done = vec![false; desired.len()];
    loop {
        while running.len() < options.concurrency.max(1) {
            let Some(i) = ready.pop_front() else { break };
            let d = &desired[i];
            if steps[i].is_some() {
                settled.push_back(Finished { index: i, result: Ok(None) });
                continue;
            }
            let Some(served) = target.resolve(&d.api_version, &d.kind) else {
                let message = format!("the cluster does not serve {} {}", d.api_version, d.kind);
                steps[i] = Some(step(d, action[i].unwrap_or(Action::Deferred), Outcome::Failed, message));
                settled.push_back(Finished { index: i, result: Ok(None) });
                continue;
            };
            let api = target.api(&served, d.namespace.as_deref());
            let object = d.object.clone();
            let (name, kind) = (d.name.clone(), d.kind.clone());
            let group = d.defines.as_ref().map(|(group, _)| group.clone());
            let options = options.clone();
            running.push(async move {
                let result = apply_one(&api, &name, &kind, &object, &options).await;
                Finished { index: i, result: result.map(|()| group) }
            });
        }
        let finished = match settled.pop_front() {
            Some(finished) => finished,
            None => match running.next().await {
                Some(finished) => finished,
                None => break,
            },
        };
        let i = finished.index;
        done[i] = true;
        let ok = match finished.result {
            Ok(group) => {
                if steps[i].is_none() {
                    steps[i] = Some(step(&desired[i], action[i].unwrap_or(Action::Update), Outcome::Applied, String::new()));
                    progress.inc();
                }
                if let Some(group) = group
                    && let Err(message) = target.discover_group(&group).await
                {
                    if let Some(s) = &mut steps[i] {
                        s.message = message;
                    }
                }
                steps[i].as_ref().is_some_and(|s| matches!(s.outcome, Outcome::Applied | Outcome::Unchanged))
            }
            Err(message) => {
                steps[i] = Some(step(&desired[i], action[i].unwrap_or(Action::Update), Outcome::Failed, message));
                progress.inc();
                false
            }
        };
        for &next in &dependents[i] {
            if ok {
                waiting[next] -= 1;
                if waiting[next] == 0 {
                    ready.push_back(next);
                }
            } else {
                skip(next, i, desired, &dependents, &mut steps, &mut done, &action);
            }
        }
    }

    let any_failed = steps.iter().flatten().any(|s| matches!(s.outcome, Outcome::Failed | Outcome::Skipped));
    // Deletions, in the plan's order (dependents first). Not after a
    // failure: a half-applied change keeps everything it had.
    for c in plan.changes.iter().filter(|c| c.desired.is_none()) {
        let mut s = Step {
            outcome: Outcome::Retained,
            action: c.action,
            kind: c.kind.clone(),
            api_version: c.api_version.clone(),
            namespace: c.namespace.clone(),
            name: c.name.clone(),
            message: c.reason.clone(),
        };
        if c.action == Action::Delete {
            if any_failed {
                s.message = "not deleted: the apply had failures".into();
            } else {
                match delete_one(target, c).await {
                    Ok(()) => {
                        s.outcome = Outcome::Deleted;
                        s.message.clear();
                    }
                    Err(message) => {
                        s.outcome = Outcome::Failed;
                        s.message = message;
                    }
                }
                progress.inc();
            }
        }
        extra_steps.push(s);
    }
    progress.finish();
    let any_failed = any_failed || extra_steps.iter().any(|s| s.outcome == Outcome::Failed);
    let retained: BTreeSet<String> = extra_steps
        .iter()
        .filter(|s| s.outcome != Outcome::Deleted)
        .map(|s| render::group_kind(crate::cluster::split_api_version(&s.api_version).0, &s.kind))
        .collect();
    let final_kinds: BTreeSet<String> = desired_group_kinds.union(&retained).cloned().collect();
    let mut final_namespaces = namespaces.clone();
    final_namespaces.extend(extra_steps.iter().filter(|s| s.outcome != Outcome::Deleted).filter_map(|s| s.namespace.clone()));
    if !any_failed
        && (final_kinds != union || final_namespaces != all_namespaces)
        && let Err(message) = write_inventory(target, plan, &final_kinds, &final_namespaces).await
    {
        extra_steps.push(inventory_failure(plan, format!("inventory not updated: {message}")));
    }
    let mut all: Vec<Step> = steps.into_iter().flatten().collect();
    all.extend(extra_steps);
    Report { context: target.context.clone(), steps: all }
}

struct Finished {
    index: usize,
    /// On success, the API group a CRD just made available.
    result: Result<Option<String>, String>,
}

/// A failed write of the inventory's parent, as a step of the report.
fn inventory_failure(plan: &Plan, message: String) -> Step {
    Step {
        outcome: Outcome::Failed,
        action: Action::Update,
        kind: "ConfigMap".into(),
        api_version: "v1".into(),
        namespace: Some(plan.inventory.namespace.clone()),
        name: plan.inventory.name.clone(),
        message,
    }
}

fn skip(i: usize, because: usize, desired: &[Desired], dependents: &[Vec<usize>], steps: &mut [Option<Step>], done: &mut [bool], action: &[Option<Action>]) {
    if done[i] {
        return;
    }
    done[i] = true;
    let cause = &desired[because];
    steps[i] = Some(step(&desired[i], action[i].unwrap_or(Action::Update), Outcome::Skipped, format!("not applied: {} {} did not succeed", cause.kind, cause.name)));
    for &next in &dependents[i] {
        skip(next, i, desired, dependents, steps, done, action);
    }
}

fn step(d: &Desired, action: Action, outcome: Outcome, message: String) -> Step {
    Step { outcome, action, kind: d.kind.clone(), api_version: d.api_version.clone(), namespace: d.namespace.clone(), name: d.name.clone(), message }
}

async fn apply_one(api: &Api<DynamicObject>, name: &str, kind: &str, object: &serde_json::value::RawValue, options: &Options) -> Result<(), String> {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if options.force_conflicts {
        params = params.force();
    }
    let patch = Patch::Apply(object);
    // The response is not needed: skip building a typed object from it.
    let client = kube::Client::from(api.clone());
    let url = api.resource_url();
    with_retry(|| async {
        let request = kube::core::Request::new(url).patch(name, &params, &patch).map_err(kube::Error::BuildRequest)?;
        client.request::<serde::de::IgnoredAny>(request).await
    })
    .await
    .map_err(|e| plan::error_text(&e))?;
    // Custom resources need their CRD established, wait or not.
    if options.wait || kind == "CustomResourceDefinition" {
        tokio::time::timeout(options.timeout, wait_ready(api, name, kind))
            .await
            .map_err(|_| format!("not ready after {:?}", options.timeout))??;
    }
    Ok(())
}

async fn delete_one(target: &Target, c: &plan::Change) -> Result<(), String> {
    let (group, _) = crate::cluster::split_api_version(&c.api_version);
    let served: Served = target.resolve(&c.api_version, &c.kind).or_else(|| target.resolve_kind(group, &c.kind)).ok_or_else(|| format!("the cluster no longer serves {}", c.kind))?;
    let api = target.api(&served, c.namespace.as_deref());
    let params = DeleteParams { propagation_policy: Some(PropagationPolicy::Background), ..Default::default() };
    match with_retry(|| api.delete(&c.name, &params)).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => Err(plan::error_text(&e)),
    }
}

async fn write_inventory(target: &Target, plan: &Plan, group_kinds: &BTreeSet<String>, namespaces: &BTreeSet<String>) -> Result<(), String> {
    let served = target.resolve("v1", "ConfigMap").ok_or("the cluster does not serve ConfigMaps")?;
    let api = target.api(&served, Some(&plan.inventory.namespace));
    let parent = plan.inventory.parent(group_kinds, namespaces);
    let (patch, params) = (Patch::Apply(&parent), PatchParams::apply(FIELD_MANAGER).force());
    with_retry(|| api.patch(&plan.inventory.name, &params, &patch))
        .await
        .map(|_| ())
        .map_err(|e| plan::error_text(&e))
}

/// Readiness of an object by kind.
#[derive(Debug, PartialEq, Eq)]
pub enum Readiness {
    Ready,
    Pending(String),
    Failed(String),
}

pub fn readiness(kind: &str, object: &Value) -> Readiness {
    let int = |p: &str| object.pointer(p).and_then(Value::as_i64);
    let generation = int("/metadata/generation").unwrap_or(0);
    let observed = int("/status/observedGeneration");
    let condition = |t: &str| {
        object.pointer("/status/conditions").and_then(Value::as_array).and_then(|cs| {
            cs.iter().find(|c| c.get("type").and_then(Value::as_str) == Some(t)).map(|c| {
                (c.get("status").and_then(Value::as_str) == Some("True"), c.get("reason").and_then(Value::as_str).unwrap_or_default().to_owned())
            })
        })
    };
    let stale = || observed.is_none_or(|o| o < generation);
    match kind {
        "Deployment" => {
            if let Some((_, reason)) = condition("Progressing").filter(|(_, r)| r == "ProgressDeadlineExceeded") {
                return Readiness::Failed(format!("rollout failed: {reason}"));
            }
            let want = int("/spec/replicas").unwrap_or(1);
            let updated = int("/status/updatedReplicas").unwrap_or(0);
            let available = int("/status/availableReplicas").unwrap_or(0);
            if stale() {
                Readiness::Pending("rollout not observed yet".into())
            } else if updated < want || available < want {
                Readiness::Pending(format!("{available} of {want} replicas available, {updated} updated"))
            } else {
                Readiness::Ready
            }
        }
        "StatefulSet" => {
            let want = int("/spec/replicas").unwrap_or(1);
            let ready = int("/status/readyReplicas").unwrap_or(0);
            if stale() || ready < want { Readiness::Pending(format!("{ready} of {want} replicas ready")) } else { Readiness::Ready }
        }
        "DaemonSet" => {
            let want = int("/status/desiredNumberScheduled").unwrap_or(0);
            let ready = int("/status/numberReady").unwrap_or(0);
            if stale() || ready < want { Readiness::Pending(format!("{ready} of {want} pods ready")) } else { Readiness::Ready }
        }
        "Job" => match (condition("Complete"), condition("Failed")) {
            (_, Some((true, reason))) => Readiness::Failed(format!("job failed: {reason}")),
            (Some((true, _)), _) => Readiness::Ready,
            _ => Readiness::Pending("job not complete".into()),
        },
        "PersistentVolumeClaim" => match object.pointer("/status/phase").and_then(Value::as_str) {
            Some("Bound") => Readiness::Ready,
            Some("Lost") => Readiness::Failed("claim lost its volume".into()),
            phase => Readiness::Pending(format!("phase {}", phase.unwrap_or("unknown"))),
        },
        "CustomResourceDefinition" => match condition("Established") {
            Some((true, _)) => Readiness::Ready,
            _ => Readiness::Pending("not established".into()),
        },
        "Namespace" => match object.pointer("/status/phase").and_then(Value::as_str) {
            Some("Terminating") => Readiness::Failed("namespace is terminating".into()),
            _ => Readiness::Ready,
        },
        "Service" => {
            let balanced = object.pointer("/spec/type").and_then(Value::as_str) == Some("LoadBalancer");
            let addressed = object.pointer("/status/loadBalancer/ingress").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
            if balanced && !addressed { Readiness::Pending("no load balancer address yet".into()) } else { Readiness::Ready }
        }
        _ => match condition("Ready").or_else(|| condition("Available")) {
            Some((true, _)) | None => Readiness::Ready,
            Some((false, reason)) => Readiness::Pending(format!("not ready: {reason}")),
        },
    }
}

/// Watches one object until it is ready (or failed).
async fn wait_ready(api: &Api<DynamicObject>, name: &str, kind: &str) -> Result<(), String> {
    use kube::runtime::{WatchStreamExt, watcher};
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = std::pin::pin!(watcher::watcher(api.clone(), config).default_backoff());
    let mut last = String::new();
    while let Some(event) = events.try_next().await.map_err(|e| format!("watch failed: {e}"))? {
        let object = match event {
            watcher::Event::Apply(o) | watcher::Event::InitApply(o) => o,
            _ => continue,
        };
        let value = serde_json::to_value(&object).unwrap_or(Value::Null);
        match readiness(kind, &value) {
            Readiness::Ready => return Ok(()),
            Readiness::Failed(reason) => return Err(reason),
            Readiness::Pending(reason) => last = reason,
        }
    }
    Err(format!("watch ended before the object was ready ({last})"))
}
