//! Stage 6b: what applying the desired objects would change on one
//! cluster.
//!
//! Live objects are read with LISTs, never one GET per object: the
//! inventory's members by label (per namespace, or per kind across all
//! namespaces when there are many), then desired objects not found among
//! them by kind and namespace. An object whose applied hash is unchanged and whose live fields
//! still hold every desired value is unchanged without a request of its
//! own; any other object is diffed by a server-side apply dry-run with
//! weft's field manager, so server defaults and fields written by
//! controllers never show as changes: only what the apply would write does.

use crate::cluster::{Served, Target};
use crate::render::{self, Desired, Inventory};
use futures::{StreamExt, TryStreamExt, stream};
use kube::api::{DynamicObject, ListParams, Patch, PatchParams};
use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::time::Duration;

/// weft's field manager in server-side apply.
pub const FIELD_MANAGER: &str = "weft";

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    Create,
    Update,
    /// A live object weft does not manage yet whose content already
    /// matches: the apply only adds weft's inventory labels (what
    /// onboarding a cluster leads to).
    Adopt,
    Unchanged,
    Delete,
    /// Its kind is served only once an earlier step of this plan (a CRD)
    /// has been applied.
    Deferred,
    /// Would be pruned, but a protection keeps it (see `reason`).
    Retain,
    /// Cannot be planned (an unknown kind, a rejected dry-run).
    Error,
}

#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub action: Action,
    pub kind: String,
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    pub namespace: Option<String>,
    pub name: String,
    /// Unified diff of the normalised, masked objects (live → desired).
    pub diff: String,
    pub reason: String,
    /// Index into the desired objects (absent for deletions).
    #[serde(skip)]
    pub desired: Option<usize>,
    /// Another field manager owns a field this apply changes.
    #[serde(skip)]
    pub conflict: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    pub context: String,
    pub inventory: Inventory,
    pub changes: Vec<Change>,
    /// Kinds and namespaces the inventory listed before this plan (for
    /// the parent update).
    #[serde(skip)]
    pub previous_group_kinds: BTreeSet<String>,
    #[serde(skip)]
    pub previous_namespaces: BTreeSet<String>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    /// Absent from JSON when zero, so reports without adoptions keep their shape.
    #[serde(skip_serializing_if = "is_zero")]
    pub adopt: usize,
    pub unchanged: usize,
    pub delete: usize,
    pub deferred: usize,
    pub retain: usize,
    pub error: usize,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let mut s = Summary::default();
        for c in &self.changes {
            *match c.action {
                Action::Create => &mut s.create,
                Action::Update => &mut s.update,
                Action::Adopt => &mut s.adopt,
                Action::Unchanged => &mut s.unchanged,
                Action::Delete => &mut s.delete,
                Action::Deferred => &mut s.deferred,
                Action::Retain => &mut s.retain,
                Action::Error => &mut s.error,
            } += 1;
        }
        s
    }
    pub fn has_changes(&self) -> bool {
        self.changes.iter().any(|c| matches!(c.action, Action::Create | Action::Update | Action::Adopt | Action::Delete | Action::Deferred))
    }
}

#[derive(Clone, Debug)]
pub struct Options {
    pub force_conflicts: bool,
    pub prune: bool,
    pub prune_protected: bool,
    pub max_deletes: usize,
    /// Prune even when nothing is desired (an empty commit would otherwise
    /// empty the cluster).
    pub allow_empty: bool,
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options { force_conflicts: false, prune: false, prune_protected: false, max_deletes: 10, allow_empty: false, concurrency: 8 }
    }
}

/// Kinds whose deletion loses data or takes much else with it.
pub const PROTECTED_KINDS: &[&str] = &["Namespace", "PersistentVolumeClaim", "PersistentVolume", "CustomResourceDefinition"];

/// A live object weft manages that is no longer desired.
#[derive(Clone, Debug)]
pub struct Orphan {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    pub annotations: BTreeMap<String, String>,
}

/// What a plan starts from: the live objects that matter to it (the
/// inventory's members and the desired objects that exist) and the kinds
/// the server serves. A snapshot is this, written to a file.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Observed {
    pub context: String,
    pub previous_group_kinds: BTreeSet<String>,
    #[serde(default)]
    pub previous_namespaces: BTreeSet<String>,
    pub kinds: Vec<ServedKind>,
    pub objects: Vec<LiveObject>,
}

/// A live object as the server sent it. Kept as JSON text: a no-op plan of
/// a large repo parses each object once, to compare, and holds none.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LiveObject {
    /// From the LIST it came in (API servers leave these out of items).
    pub api_version: String,
    pub kind: String,
    pub object: Box<RawValue>,
    /// Read where the object was listed, so a plan parses it once.
    #[serde(skip)]
    header: Option<Header>,
    /// Listing found the object carrying the desired hash and holding
    /// every desired value: unchanged, with nothing left to compare.
    #[serde(skip)]
    holds_desired: bool,
}

impl LiveObject {
    /// The whole object, with `apiVersion` and `kind`.
    pub fn value(&self) -> Value {
        let mut value: Value = serde_json::from_str(self.object.get()).unwrap_or(Value::Null);
        if let Some(map) = value.as_object_mut() {
            map.entry("apiVersion").or_insert_with(|| json!(self.api_version));
            map.entry("kind").or_insert_with(|| json!(self.kind));
        }
        value
    }

    fn new(api_version: String, kind: String, object: Box<RawValue>) -> LiveObject {
        let header = Some(serde_json::from_str(object.get()).unwrap_or_default());
        LiveObject { api_version, kind, object, header, holds_desired: false }
    }

    fn header(&self) -> std::borrow::Cow<'_, Header> {
        match &self.header {
            Some(header) => std::borrow::Cow::Borrowed(header),
            None => std::borrow::Cow::Owned(serde_json::from_str(self.object.get()).unwrap_or_default()),
        }
    }

    fn key(&self, header: &Header) -> Key {
        (
            crate::cluster::split_api_version(&self.api_version).0.to_owned(),
            self.kind.clone(),
            header.metadata.namespace.clone(),
            header.metadata.name.clone(),
        )
    }

    /// The object's annotations (read for the few a plan prunes).
    fn annotations(&self) -> BTreeMap<String, String> {
        #[derive(Default, serde::Deserialize)]
        struct Object {
            #[serde(default)]
            metadata: Metadata,
        }
        #[derive(Default, serde::Deserialize)]
        struct Metadata {
            #[serde(default)]
            annotations: Option<BTreeMap<String, String>>,
        }
        serde_json::from_str::<Object>(self.object.get()).unwrap_or_default().metadata.annotations.unwrap_or_default()
    }
}

/// The fields of an object a plan reads for every object, without
/// parsing the rest or keeping the other labels and annotations.
#[derive(Clone, Debug, Default, serde::Deserialize)]
struct Header {
    #[serde(default)]
    metadata: HeaderMeta,
}

#[derive(Clone, Debug, Default, serde::Deserialize)]
struct HeaderMeta {
    #[serde(default)]
    name: String,
    #[serde(default)]
    namespace: Option<String>,
    /// The ApplySet the object belongs to.
    #[serde(default, rename = "labels", deserialize_with = "part_of_label")]
    part_of: Option<String>,
    #[serde(default, rename = "annotations", deserialize_with = "applied_hash")]
    applied_hash: Option<String>,
}

fn part_of_label<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_option(PickOne(render::PART_OF_LABEL))
}

fn applied_hash<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    deserializer.deserialize_option(PickOne(render::HASH_ANNOTATION))
}

/// Reads a map of strings (or null) keeping only the value under one key.
struct PickOne(&'static str);

impl<'de> serde::de::Visitor<'de> for PickOne {
    type Value = Option<String>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a map of strings")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = None;
        while let Some(wanted) = map.next_key_seed(KeyIs(self.0))? {
            if wanted {
                found = map.next_value::<Option<String>>()?;
            } else {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// Whether a map key is the one wanted, compared without copying it.
struct KeyIs(&'static str);

impl<'de> serde::de::DeserializeSeed<'de> for KeyIs {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> serde::de::Visitor<'de> for KeyIs {
    type Value = bool;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<bool, E> {
        Ok(key == self.0)
    }
}

/// A served kind, as a snapshot records it.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct ServedKind {
    pub group: String,
    pub version: String,
    pub kind: String,
    pub plural: String,
    pub namespaced: bool,
}

impl Observed {
    fn resolve(&self, api_version: &str, kind: &str) -> Option<Served> {
        let (group, version) = crate::cluster::split_api_version(api_version);
        let k = self.kinds.iter().find(|k| k.group == group && k.kind == kind)?;
        let gvk = kube::core::GroupVersionKind::gvk(group, version, kind);
        Some(Served { resource: kube::discovery::ApiResource::from_gvk_with_plural(&gvk, &k.plural), namespaced: k.namespaced })
    }
}

/// Reads the live state a plan of `desired` needs: the inventory's
/// members (label-selected, every namespace), then one LIST per kind and
/// namespace for desired objects not found among them (the first apply,
/// adopting objects made by others).
pub async fn observe(target: &Target, desired: &[Desired], inventory: &Inventory, options: &Options) -> Result<Observed, String> {
    observe_objects(target, desired, inventory, options, None).await
}

/// The desired objects by key, for checking live objects as they arrive.
struct Screen<'a> {
    desired: &'a [Desired],
    by_key: HashMap<Key, usize>,
}

impl Screen<'_> {
    /// Marks a live object that carries its desired object's hash and
    /// holds every desired value. Run on each page as it arrives, so the
    /// comparing overlaps the server's work on the next pages.
    fn check(&self, live: &mut LiveObject) {
        let header = live.header();
        let Some(&i) = self.by_key.get(&live.key(&header)) else { return };
        let d = &self.desired[i];
        if header.metadata.applied_hash.as_ref() == Some(&d.hash) {
            live.holds_desired = holds_in_text(&d.value(), live.object.get());
        }
    }
}

async fn observe_objects(target: &Target, desired: &[Desired], inventory: &Inventory, options: &Options, screen: Option<&Screen<'_>>) -> Result<Observed, String> {
    let parent = read_inventory(target, inventory).await?;
    let mut group_kinds: BTreeMap<String, Served> = BTreeMap::new();
    for d in desired {
        if let Some(s) = target.resolve(&d.api_version, &d.kind) {
            group_kinds.entry(d.group_kind()).or_insert(s);
        }
    }
    for gk in &parent.group_kinds {
        if group_kinds.contains_key(gk) {
            continue;
        }
        let (kind, group) = gk.split_once('.').unwrap_or((gk.as_str(), ""));
        if let Some(s) = target.resolve_kind(group, kind) {
            group_kinds.insert(gk.clone(), s);
        }
    }
    // Members are listed per namespace the inventory and the designs name,
    // in parallel (as kubectl's ApplySet prune does); without a parent
    // there is no record of namespaces, so every namespace at once.
    let mut namespaces: BTreeSet<String> = parent.namespaces.clone();
    namespaces.extend(desired.iter().filter_map(|d| d.namespace.clone()));
    let selector = format!("{}={}", render::PART_OF_LABEL, inventory.id);
    let mut lists: Vec<(Served, Option<String>, ListParams)> = Vec::new();
    // Beyond a few namespaces, one label-selected LIST per kind across all
    // namespaces costs fewer round trips than one per namespace.
    let per_namespace = parent.exists && namespaces.len() <= options.concurrency.max(1);
    for s in group_kinds.values() {
        if s.namespaced && per_namespace {
            lists.extend(namespaces.iter().map(|ns| (s.clone(), Some(ns.clone()), ListParams::default().labels(&selector))));
        } else {
            lists.push((Served { namespaced: false, ..s.clone() }, None, ListParams::default().labels(&selector)));
        }
    }
    let mut live: HashMap<Key, LiveObject> = HashMap::new();
    for object in list_many(target, lists, options.concurrency, screen).await? {
        live.insert(object.key(&object.header()), object);
    }
    let mut missing: BTreeMap<(String, Option<String>), Served> = BTreeMap::new();
    for d in desired {
        let Some(s) = target.resolve(&d.api_version, &d.kind) else { continue };
        let namespace = if s.namespaced { d.namespace.clone() } else { None };
        if !live.contains_key(&(d.group.clone(), d.kind.clone(), namespace.clone(), d.name.clone())) {
            missing.entry((d.group_kind(), namespace)).or_insert(s);
        }
    }
    let lists = missing.into_iter().map(|((_, namespace), s)| (s, namespace, ListParams::default())).collect();
    for object in list_many(target, lists, options.concurrency, screen).await? {
        live.entry(object.key(&object.header())).or_insert(object);
    }
    let mut objects: Vec<(Key, LiveObject)> = live.into_iter().collect();
    objects.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(Observed {
        context: target.context.clone(),
        previous_group_kinds: parent.group_kinds,
        previous_namespaces: parent.namespaces,
        kinds: target.served_kinds(),
        objects: objects.into_iter().map(|(_, o)| o).collect(),
    })
}

/// Runs the LISTs concurrently.
async fn list_many(target: &Target, lists: Vec<(Served, Option<String>, ListParams)>, concurrency: usize, screen: Option<&Screen<'_>>) -> Result<Vec<LiveObject>, String> {
    let pages: Vec<Vec<LiveObject>> = stream::iter(lists)
        .map(|(served, namespace, params)| {
            let api = target.api(&served, namespace.as_deref());
            let client = target.client.clone();
            async move {
                let (api_version, kind) = (&served.resource.api_version, &served.resource.kind);
                let url = api.resource_url();
                list_all(&client, &url, params, |items| {
                    use rayon::prelude::*;
                    items
                        .into_par_iter()
                        .map(|object| {
                            let mut live = LiveObject::new(api_version.clone(), kind.clone(), object.to_owned());
                            if let Some(screen) = screen {
                                screen.check(&mut live);
                            }
                            live
                        })
                        .collect()
                })
                .await
                .map_err(|e| format!("cannot list {url}: {}", error_text(&e)))
            }
        })
        .buffer_unordered(concurrency.max(1))
        .try_collect()
        .await?;
    Ok(pages.into_iter().flatten().collect())
}

type Key = (String, String, Option<String>, String);

/// A plan before the objects that need a closer look are decided.
struct Draft {
    changes: Vec<Option<Change>>,
    /// Objects neither created nor provably unchanged: (desired index,
    /// how it is served, live object).
    pending: Vec<(usize, Served, Value)>,
    prune: Vec<Change>,
}

fn draft(observed: &Observed, desired: &[Desired], inventory: &Inventory, options: &Options, masked_live: bool) -> Draft {
    use rayon::prelude::*;
    // A kind a CRD of this plan defines is deferred.
    let defined_by_plan: BTreeMap<(&str, &str), &str> =
        desired.iter().filter_map(|d| d.defines.as_ref().map(|(group, kind)| ((group.as_str(), kind.as_str()), d.name.as_str()))).collect();
    let headers: Vec<std::borrow::Cow<Header>> = observed.objects.par_iter().map(LiveObject::header).collect();
    let live: HashMap<Key, usize> = observed.objects.iter().zip(&headers).enumerate().map(|(i, (o, h))| (o.key(h), i)).collect();
    // Where each desired object stands: not served, absent, or live at an index.
    enum Found {
        NotServed,
        Absent,
        Live(usize, Served),
    }
    let mut desired_keys = HashSet::new();
    let found: Vec<Found> = desired
        .iter()
        .map(|d| {
            let Some(s) = observed.resolve(&d.api_version, &d.kind) else { return Found::NotServed };
            let namespace = if s.namespaced { d.namespace.clone() } else { None };
            let key = (d.group.clone(), d.kind.clone(), namespace, d.name.clone());
            let at = live.get(&key).copied();
            desired_keys.insert(key);
            match at {
                Some(at) => Found::Live(at, s),
                None => Found::Absent,
            }
        })
        .collect();
    // Comparing parses both sides of every existing object: in parallel.
    let decided: Vec<(Option<Change>, Option<(usize, Served, Value)>)> = found
        .into_par_iter()
        .zip(desired.par_iter())
        .enumerate()
        .map(|(i, (found, d))| match found {
            Found::NotServed => {
                let (action, reason) = match defined_by_plan.get(&(d.group.as_str(), d.kind.as_str())) {
                    Some(crd) => (Action::Deferred, format!("served once CustomResourceDefinition {crd} of this plan is established")),
                    None => (Action::Error, format!("the cluster does not serve {} {}", d.api_version, d.kind)),
                };
                (Some(change(d, i, action, diff_text(None, Some(&d.value())), reason)), None)
            }
            Found::Absent => (Some(change(d, i, Action::Create, diff_text(None, Some(&d.value())), String::new())), None),
            Found::Live(at, _) if observed.objects[at].holds_desired => (Some(change(d, i, Action::Unchanged, String::new(), String::new())), None),
            Found::Live(at, s) => {
                let live_value = observed.objects[at].value();
                let mut want = d.value();
                // A snapshot holds Secret values as hashes: compare like with like.
                if masked_live {
                    mask_secret(&mut want);
                }
                if headers[at].metadata.applied_hash.as_ref() == Some(&d.hash) && holds(&want, &live_value) {
                    (Some(change(d, i, Action::Unchanged, String::new(), String::new())), None)
                } else {
                    (None, Some((i, s, live_value)))
                }
            }
        })
        .collect();
    let mut changes = Vec::with_capacity(desired.len());
    let mut pending = Vec::new();
    for (change, closer_look) in decided {
        changes.push(change);
        pending.extend(closer_look);
    }

    // Prune: members of the inventory that are no longer desired.
    let mut orphans: Vec<Orphan> = live
        .iter()
        .filter(|(key, at)| !desired_keys.contains(*key) && headers[**at].metadata.part_of.as_ref() == Some(&inventory.id))
        .map(|(key, &at)| Orphan {
            api_version: observed.objects[at].api_version.clone(),
            kind: key.1.clone(),
            namespace: key.2.clone(),
            name: key.3.clone(),
            annotations: observed.objects[at].annotations(),
        })
        .collect();
    orphans.sort_by(|a, b| (deletion_rank(&a.kind), &a.namespace, &a.name).cmp(&(deletion_rank(&b.kind), &b.namespace, &b.name)));
    let prune = prune_changes(&orphans, desired.is_empty(), options);
    Draft { changes, pending, prune }
}

impl Draft {
    fn finish(self, observed: &Observed, inventory: &Inventory) -> Plan {
        let mut changes: Vec<Change> = self.changes.into_iter().flatten().collect();
        changes.extend(self.prune);
        Plan {
            context: observed.context.clone(),
            inventory: inventory.clone(),
            changes,
            previous_group_kinds: observed.previous_group_kinds.clone(),
            previous_namespaces: observed.previous_namespaces.clone(),
        }
    }
}

/// Computes the plan of `desired` against `target`: dry-runs only where
/// the cheap checks cannot decide.
pub async fn plan(target: &Target, desired: &[Desired], inventory: &Inventory, options: &Options) -> Result<Plan, String> {
    let mut by_key = HashMap::with_capacity(desired.len());
    for (i, d) in desired.iter().enumerate() {
        if let Some(s) = target.resolve(&d.api_version, &d.kind) {
            by_key.entry((d.group.clone(), d.kind.clone(), if s.namespaced { d.namespace.clone() } else { None }, d.name.clone())).or_insert(i);
        }
    }
    let screen = Screen { desired, by_key };
    let observed = observe_objects(target, desired, inventory, options, Some(&screen)).await?;
    let mut draft = draft(&observed, desired, inventory, options, false);
    let force = options.force_conflicts;
    let decided: Vec<(usize, Change)> = stream::iter(std::mem::take(&mut draft.pending))
        .map(|(i, s, live_value)| {
            let d = &desired[i];
            let api = target.api(&s, d.namespace.as_deref());
            async move {
                let outcome = dry_run_apply(&api, d, force).await;
                (i, decide(d, i, &live_value, outcome, &api).await)
            }
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;
    for (i, c) in decided {
        draft.changes[i] = Some(c);
    }
    Ok(draft.finish(&observed, inventory))
}

/// The plan of `desired` against a snapshot, without cluster access. What
/// a dry-run would return is computed from the snapshot's object and
/// weft's recorded field ownership (see `offline_apply`) and what the
/// models' schemas default.
pub fn plan_offline(observed: &Observed, desired: &[Desired], inventory: &Inventory, options: &Options, defaults: &Defaults) -> Plan {
    let mut draft = draft(observed, desired, inventory, options, true);
    for (i, _, live_value) in std::mem::take(&mut draft.pending) {
        let d = &desired[i];
        // The snapshot holds Secret values as hashes: merge like with like.
        let mut want = d.value();
        mask_secret(&mut want);
        let mut after = offline_apply(&live_value, &want);
        defaults.apply(&d.api_version, &d.kind, &mut after);
        let diff = diff_text(Some(&live_value), Some(&after));
        // As the server would refuse the apply: a changed value another manager owns.
        let conflicts = if options.force_conflicts { Vec::new() } else { offline_conflicts(&live_value, &want) };
        draft.changes[i] = Some(if !conflicts.is_empty() {
            let mut c = change(d, i, Action::Update, diff, format!("{}; --force-conflicts takes ownership", conflict_message(&conflicts)));
            c.conflict = true;
            c
        } else if diff.is_empty() {
            change(d, i, Action::Unchanged, diff, String::new())
        } else if let Some(reason) = adoption(&live_value, &after) {
            change(d, i, Action::Adopt, diff, reason)
        } else {
            let reason = secret_changes(&live_value, &after);
            change(d, i, Action::Update, diff, reason)
        });
    }
    draft.finish(observed, inventory)
}

/// A field an apply would change that another field manager owns.
struct Conflict {
    manager: String,
    api_version: String,
    path: String,
}

/// Server-side apply's conflicts, from the live object's field ownership:
/// each field `desired` sets to a value other than the live one, owned by
/// a manager other than weft's apply.
fn offline_conflicts(live: &Value, desired: &Value) -> Vec<Conflict> {
    let entries = live.pointer("/metadata/managedFields").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    let others: Vec<(usize, &Value)> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| !(e["manager"] == FIELD_MANAGER && e["operation"] == "Apply") && e.get("subresource").is_none_or(|s| s == ""))
        .filter_map(|(at, e)| Some((at, e.get("fieldsV1")?)))
        .collect();
    let Value::Object(fields) = desired else { return Vec::new() };
    let mut found: Vec<(usize, String)> = Vec::new();
    for (key, want) in fields.iter().filter(|(k, _)| *k != "apiVersion" && *k != "kind") {
        conflicts_below(want, live.get(key), &owners_of(&others, &format!("f:{key}")), &mut format!(".{key}"), &mut found);
    }
    found
        .into_iter()
        .map(|(at, path)| Conflict {
            manager: entries[at]["manager"].as_str().unwrap_or_default().to_owned(),
            api_version: entries[at]["apiVersion"].as_str().unwrap_or_default().to_owned(),
            path,
        })
        .collect()
}

fn owners_of<'v>(owners: &[(usize, &'v Value)], field: &str) -> Vec<(usize, &'v Value)> {
    owners.iter().filter_map(|(at, fields)| Some((*at, fields.get(field)?))).collect()
}

fn conflicts_below(want: &Value, have: Option<&Value>, owners: &[(usize, &Value)], path: &mut String, found: &mut Vec<(usize, String)>) {
    if owners.is_empty() {
        return;
    }
    match want {
        Value::Object(fields) => {
            for (key, value) in fields {
                let at = path.len();
                path.push('.');
                path.push_str(key);
                conflicts_below(value, have.and_then(|h| h.get(key)), &owners_of(owners, &format!("f:{key}")), path, found);
                path.truncate(at);
            }
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_object) => {
            // Keyed list items: ownership is recorded under `k:{…}`, the
            // item's key fields.
            for item in items {
                let mut item_owners = Vec::new();
                let mut key: Option<serde_json::Map<String, Value>> = None;
                for (at, fields) in owners {
                    for (field, sub) in fields.as_object().into_iter().flatten() {
                        let Some(Ok(Value::Object(ids))) = field.strip_prefix("k:").map(serde_json::from_str::<Value>) else { continue };
                        if ids.iter().all(|(k, v)| item.get(k).is_none_or(|x| same(x, v))) && ids.keys().any(|k| item.get(k).is_some()) {
                            item_owners.push((*at, sub));
                            key.get_or_insert(ids);
                        }
                    }
                }
                let Some(key) = key else { continue };
                let live_item = have.and_then(Value::as_array).and_then(|live| live.iter().find(|l| key.iter().all(|(k, v)| l.get(k).is_some_and(|x| same(x, v)))));
                let shown = key.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
                let at = path.len();
                path.push_str(&format!("[{shown}]"));
                conflicts_below(item, live_item, &item_owners, path, found);
                path.truncate(at);
            }
        }
        leaf => {
            if !have.is_some_and(|h| same(h, leaf)) {
                found.extend(owners.iter().map(|(at, _)| (*at, path.clone())));
            }
        }
    }
}

/// The API server's words for a refused apply.
fn conflict_message(conflicts: &[Conflict]) -> String {
    let n = conflicts.len();
    let mut message = format!("Apply failed with {n} conflict{}: ", if n == 1 { "" } else { "s" });
    if let [only] = conflicts {
        message.push_str(&format!("conflict with \"{}\" using {}: {}", only.manager, only.api_version, only.path));
    } else {
        let parts: Vec<String> = conflicts.iter().map(|c| format!("conflict with \"{}\" using {}:\n- {}", c.manager, c.api_version, c.path)).collect();
        message.push_str(&parts.join("\n"));
    }
    message
}

/// What the models' schemas default, by `(apiVersion, kind)`: an offline
/// plan fills absent fields with it where the API server would (custom
/// resources default from their CRD's schema; built-in kinds default in the
/// API server's code, which no schema carries, so their new list items show
/// without server defaults).
#[derive(Debug, Default)]
pub struct Defaults(HashMap<(String, String), Value>);

impl Defaults {
    pub fn new(schemas: impl IntoIterator<Item = ((String, String), Value)>) -> Defaults {
        Defaults(schemas.into_iter().collect())
    }

    /// Fills the absent fields of `object` that its schema defaults.
    pub fn apply(&self, api_version: &str, kind: &str, object: &mut Value) {
        if let Some(schema) = self.0.get(&(api_version.to_owned(), kind.to_owned())) {
            fill_defaults(object, schema, schema, 0);
        }
    }
}

fn fill_defaults(value: &mut Value, schema: &Value, root: &Value, depth: usize) {
    // Schemas may refer to themselves (JSON-like fields); objects are finite.
    if depth > 100 {
        return;
    }
    let schema = resolve_ref(schema, root);
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for (key, property) in properties.into_iter().flatten() {
                let property = resolve_ref(property, root);
                if !map.contains_key(key)
                    && let Some(default) = property.get("default")
                {
                    map.insert(key.clone(), default.clone());
                }
                if let Some(child) = map.get_mut(key) {
                    fill_defaults(child, property, root, depth + 1);
                }
            }
            if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
                for (key, child) in map.iter_mut() {
                    if !properties.is_some_and(|p| p.contains_key(key)) {
                        fill_defaults(child, values, root, depth + 1);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    fill_defaults(item, item_schema, root, depth + 1);
                }
            }
        }
        _ => {}
    }
}

/// Follows `$ref`s into the schema's own `$defs`.
fn resolve_ref<'s>(mut schema: &'s Value, root: &'s Value) -> &'s Value {
    for _ in 0..32 {
        let Some(target) = schema.get("$ref").and_then(Value::as_str).and_then(|r| r.strip_prefix('#')).and_then(|pointer| root.pointer(pointer)) else {
            break;
        };
        schema = target;
    }
    schema
}

/// Server-side apply computed locally: fields weft owned and no longer
/// sets are removed (unless another manager owns them too), then the
/// desired object is merged in. Maps merge by key; lists of objects merge
/// item by item on their key field (`name`, `containerPort`, `port`,
/// `mountPath`, …), other lists are replaced.
pub fn offline_apply(live: &Value, desired: &Value) -> Value {
    let mut result = live.clone();
    let managers = live.pointer("/metadata/managedFields").and_then(Value::as_array).cloned().unwrap_or_default();
    let fields_of = |mine: bool| -> Vec<&Value> {
        managers
            .iter()
            .filter(|m| (m.get("manager").and_then(Value::as_str) == Some(FIELD_MANAGER)) == mine)
            .filter_map(|m| m.get("fieldsV1"))
            .collect()
    };
    let (mine, others) = (fields_of(true), fields_of(false));
    for owned in mine {
        drop_unset(&mut result, Some(desired), owned, &others);
    }
    merge(&mut result, desired);
    result
}

fn drop_unset(result: &mut Value, desired: Option<&Value>, owned: &Value, others: &[&Value]) {
    let Some(owned) = owned.as_object() else { return };
    for (key, sub) in owned {
        if let Some(field) = key.strip_prefix("f:") {
            let wanted = desired.and_then(|d| d.get(field));
            let others_here: Vec<&Value> = others.iter().filter_map(|o| o.get(key)).collect();
            match wanted {
                None if others_here.is_empty() => {
                    if let Some(map) = result.as_object_mut() {
                        map.remove(field);
                    }
                }
                _ => {
                    if let Some(next) = result.get_mut(field) {
                        drop_unset(next, wanted, sub, &others_here);
                    }
                }
            }
        } else if let Some(item_key) = key.strip_prefix("k:") {
            let Ok(Value::Object(item_key)) = serde_json::from_str::<Value>(item_key) else { continue };
            let matches = |item: &Value| item_key.iter().all(|(k, v)| item.get(k).is_some_and(|x| same(x, v)));
            // A key field the server defaults (a port's protocol) may be
            // absent from the desired item.
            let matches_desired = |item: &Value| {
                item_key.keys().any(|k| item.get(k).is_some()) && item_key.iter().all(|(k, v)| item.get(k).is_none_or(|x| same(x, v)))
            };
            let wanted = desired.and_then(Value::as_array).and_then(|items| items.iter().find(|i| matches_desired(i)));
            let others_here: Vec<&Value> = others.iter().filter_map(|o| o.get(key)).collect();
            let Some(items) = result.as_array_mut() else { continue };
            match wanted {
                None if others_here.is_empty() => items.retain(|i| !matches(i)),
                _ => {
                    if let Some(item) = items.iter_mut().find(|i| matches(i)) {
                        drop_unset(item, wanted, sub, &others_here);
                    }
                }
            }
        }
    }
}

fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

const LIST_KEYS: &[&str] = &["name", "containerPort", "port", "mountPath", "devicePath", "ip"];

fn merge(result: &mut Value, desired: &Value) {
    match (result, desired) {
        (Value::Object(have), Value::Object(want)) => {
            for (k, v) in want {
                match have.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        have.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(have), Value::Array(want)) if want.iter().all(Value::is_object) && !want.is_empty() => {
            let key = LIST_KEYS.iter().find(|k| want.iter().all(|i| i.get(**k).is_some()));
            let Some(key) = key else {
                *have = want.clone();
                return;
            };
            let mut merged = Vec::with_capacity(want.len());
            for item in want {
                let id = &item[*key];
                match have.iter().position(|h| h.get(*key).is_some_and(|x| same(x, id))) {
                    Some(at) => {
                        let mut existing = have.remove(at);
                        merge(&mut existing, item);
                        merged.push(existing);
                    }
                    None => merged.push(item.clone()),
                }
            }
            *have = merged;
        }
        (slot, want) => *slot = want.clone(),
    }
}

/// Deletions in reverse dependency order: what uses others goes first,
/// namespaces and CRDs last.
pub fn deletion_rank(kind: &str) -> u8 {
    match kind {
        "CustomResourceDefinition" => 9,
        "Namespace" => 8,
        "PersistentVolume" | "StorageClass" => 7,
        "ClusterRole" | "Role" | "ServiceAccount" => 6,
        "ConfigMap" | "Secret" | "PersistentVolumeClaim" => 5,
        _ => 0,
    }
}

fn prune_changes(
    orphans: &[Orphan],
    nothing_desired: bool,
    options: &Options,
) -> Vec<Change> {
    let allowed: Vec<(bool, String)> = orphans
        .iter()
        .map(|o| {
            if o.annotations.get(render::PRUNE_ANNOTATION).is_some_and(|v| v == "disabled") {
                (false, format!("annotated {}: disabled", render::PRUNE_ANNOTATION))
            } else if PROTECTED_KINDS.contains(&o.kind.as_str())
                && !options.prune_protected
                && !o.annotations.get(render::PRUNE_ANNOTATION).is_some_and(|v| v == "enabled")
            {
                (false, format!("{} is protected: pass --prune-protected or annotate {}: enabled", o.kind, render::PRUNE_ANNOTATION))
            } else if !options.prune {
                (false, "no longer in the designs; pass --prune to delete".to_owned())
            } else if nothing_desired && !options.allow_empty {
                (false, "nothing is desired: an empty set never prunes without --allow-empty".to_owned())
            } else {
                (true, "no longer in the designs".to_owned())
            }
        })
        .collect();
    let deleting = allowed.iter().filter(|(ok, _)| *ok).count();
    let over_cap = deleting > options.max_deletes;
    orphans
        .iter()
        .zip(allowed)
        .map(|(o, (ok, reason))| {
            let (action, reason) = if ok && over_cap {
                (Action::Retain, format!("{deleting} deletions exceed --max-deletes {}; nothing is pruned", options.max_deletes))
            } else if ok {
                (Action::Delete, reason)
            } else {
                (Action::Retain, reason)
            };
            Change {
                action,
                kind: o.kind.clone(),
                api_version: o.api_version.clone(),
                namespace: o.namespace.clone(),
                name: o.name.clone(),
                diff: String::new(),
                reason,
                desired: None,
                conflict: false,
            }
        })
        .collect()
}



fn change(d: &Desired, index: usize, action: Action, diff: String, reason: String) -> Change {
    Change {
        action,
        kind: d.kind.clone(),
        api_version: d.api_version.clone(),
        namespace: d.namespace.clone(),
        name: d.name.clone(),
        diff,
        reason,
        desired: Some(index),
        conflict: false,
    }
}

async fn dry_run_apply(api: &kube::Api<DynamicObject>, d: &Desired, force: bool) -> Result<Value, kube::Error> {
    let mut params = PatchParams::apply(FIELD_MANAGER).dry_run();
    if force {
        params = params.force();
    }
    let patch = Patch::Apply(&*d.object);
    // Parsed as plain JSON, like the LISTs, so both sides of a diff keep
    // the server's field order.
    let client = kube::Client::from(api.clone());
    let url = api.resource_url();
    with_retry(|| async {
        let request = kube::core::Request::new(url).patch(&d.name, &params, &patch).map_err(kube::Error::BuildRequest)?;
        client.request::<Value>(request).await
    })
    .await
}

async fn decide(d: &Desired, i: usize, live: &Value, outcome: Result<Value, kube::Error>, api: &kube::Api<DynamicObject>) -> Change {
    match outcome {
        Ok(after) => {
            let diff = diff_text(Some(live), Some(&after));
            if diff.is_empty() {
                change(d, i, Action::Unchanged, String::new(), String::new())
            } else if let Some(reason) = adoption(live, &after) {
                change(d, i, Action::Adopt, diff, reason)
            } else {
                change(d, i, Action::Update, diff, secret_changes(live, &after))
            }
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            // Show what taking ownership would change.
            let forced = dry_run_apply(api, d, true).await;
            let diff = forced.map(|after| diff_text(Some(live), Some(&after))).unwrap_or_default();
            let mut c = change(d, i, Action::Update, diff, format!("{}; --force-conflicts takes ownership", status.message));
            c.conflict = true;
            c
        }
        Err(e) => change(d, i, Action::Error, String::new(), format!("dry-run rejected: {}", error_text(&e))),
    }
}

/// Why applying `after` over `live` is an adoption, if it is one: `live`
/// is in no weft inventory, and all the apply changes is weft's
/// membership labels and hash annotation. An object in another weft
/// inventory is not adopted but moved, which is an update.
fn adoption(live: &Value, after: &Value) -> Option<String> {
    let live_labels = live.pointer("/metadata/labels");
    if live_labels.and_then(|labels| labels.get(render::PART_OF_LABEL)).is_some() {
        return None;
    }
    if !diff_text(Some(&without_membership(live)), Some(&without_membership(after))).is_empty() {
        return None;
    }
    Some(match live_labels.and_then(|labels| labels.get(render::MANAGED_BY_LABEL)).and_then(Value::as_str) {
        Some(manager) if manager != render::MANAGED_BY => {
            format!("content unchanged; weft takes it over from `{}: {manager}` and adds it to its inventory", render::MANAGED_BY_LABEL)
        }
        _ => "content unchanged; weft adds its inventory labels".to_owned(),
    })
}

/// `object` without what marks it as weft's: the inventory labels and the
/// applied-hash annotation (and the maps they leave empty).
fn without_membership(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(metadata) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let marks: [(&str, &[&str]); 2] = [
            ("labels", &[render::MANAGED_BY_LABEL, render::PART_OF_LABEL]),
            ("annotations", &[render::HASH_ANNOTATION]),
        ];
        for (field, keys) in marks {
            if let Some(Value::Object(map)) = metadata.get_mut(field) {
                for key in keys {
                    map.shift_remove(*key);
                }
                if map.is_empty() {
                    metadata.shift_remove(field);
                }
            }
        }
    }
    object
}

pub fn error_text(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => format!("{} ({})", status.message, status.code),
        other => other.to_string(),
    }
}

/// Whether a failed request is worth repeating: throttling, server errors
/// and broken connections. Client errors are answers.
pub fn is_transient(e: &kube::Error) -> bool {
    match e {
        kube::Error::Api(status) => status.code == 429 || status.code >= 500,
        kube::Error::HyperError(_) | kube::Error::Service(_) => true,
        _ => false,
    }
}

/// Runs `call` again after transient failures, with exponential backoff
/// (50 ms doubling, five attempts).
pub async fn with_retry<T, F, Fut>(mut call: F) -> Result<T, kube::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, kube::Error>>,
{
    let mut delay = Duration::from_millis(50);
    let mut attempt = 1;
    loop {
        match call().await {
            Err(e) if attempt < 5 && is_transient(&e) => {
                tokio::time::sleep(delay).await;
                delay *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

#[derive(serde::Deserialize)]
struct RawList<'a> {
    #[serde(default)]
    metadata: RawListMeta,
    #[serde(default, borrow)]
    items: Vec<&'a RawValue>,
}

#[derive(Default, serde::Deserialize)]
struct RawListMeta {
    #[serde(default, rename = "continue")]
    continue_token: Option<String>,
}

/// Every page of a LIST (500 objects a page, transient failures retried),
/// each page's items turned into `T`s by `take`.
pub(crate) async fn list_all<T>(client: &kube::Client, url: &str, params: ListParams, take: impl Fn(Vec<&RawValue>) -> Vec<T>) -> Result<Vec<T>, kube::Error> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut p = params.clone().limit(500);
        if let Some(t) = &token {
            p = p.continue_token(t);
        }
        let body = with_retry(|| async {
            let request = kube::core::Request::new(url).list(&p).map_err(kube::Error::BuildRequest)?;
            client.request_text(request).await
        })
        .await?;
        let page: RawList = serde_json::from_str(&body).map_err(kube::Error::SerdeError)?;
        token = page.metadata.continue_token.filter(|t| !t.is_empty());
        out.extend(take(page.items));
        if token.is_none() {
            return Ok(out);
        }
    }
}

/// What the inventory's parent records: the kinds and namespaces of its
/// members.
struct Parent {
    exists: bool,
    group_kinds: BTreeSet<String>,
    namespaces: BTreeSet<String>,
}

async fn read_inventory(target: &Target, inventory: &Inventory) -> Result<Parent, String> {
    let mut parent = Parent { exists: false, group_kinds: BTreeSet::new(), namespaces: BTreeSet::new() };
    let Some(served) = target.resolve("v1", "ConfigMap") else { return Ok(parent) };
    let api = target.api(&served, Some(&inventory.namespace));
    let object = with_retry(|| api.get_opt(&inventory.name))
        .await
        .map_err(|e| format!("cannot read inventory {}/{}: {}", inventory.namespace, inventory.name, error_text(&e)))?;
    let Some(object) = object else { return Ok(parent) };
    let annotations = object.metadata.annotations.unwrap_or_default();
    let list = |key: &str| -> BTreeSet<String> {
        annotations.get(key).map(|l| l.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()).unwrap_or_default()
    };
    parent.exists = true;
    parent.group_kinds = list(render::APPLYSET_GROUP_KINDS);
    parent.namespaces = list(render::APPLYSET_NAMESPACES);
    parent.namespaces.insert(inventory.namespace.clone());
    Ok(parent)
}

/// Whether every value of `desired` is present and equal in `live`
/// (metadata the server owns aside). Lists must match item by item.
pub fn holds(desired: &Value, live: &Value) -> bool {
    match (desired, live) {
        (Value::Object(want), Value::Object(have)) => want.iter().all(|(k, v)| match have.get(k) {
            Some(h) => holds(v, h),
            None => v.is_null() || v.as_object().is_some_and(|o| o.is_empty()) || v.as_array().is_some_and(|a| a.is_empty()),
        }),
        (Value::Array(want), Value::Array(have)) => want.len() == have.len() && want.iter().zip(have).all(|(w, h)| holds(w, h)),
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        (a, b) => a == b,
    }
}

/// `holds` against a live object still in its JSON text: walks the text
/// once, looking only at what `desired` sets and skipping the rest
/// (status, field ownership, server defaults) without building values.
/// Text that is not JSON holds nothing.
pub fn holds_in_text(desired: &Value, live: &str) -> bool {
    use serde::de::DeserializeSeed;
    let mut deserializer = serde_json::Deserializer::from_str(live);
    Holds(desired).deserialize(&mut deserializer).is_ok_and(|held| held && deserializer.end().is_ok())
}

/// Reads a JSON value, answering whether it holds the wanted one.
struct Holds<'w>(&'w Value);

impl<'de> serde::de::DeserializeSeed<'de> for Holds<'_> {
    type Value = bool;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for Holds<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(self.0.as_bool() == Some(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<bool, E> {
        Ok(self.0.is_number() && self.0.as_f64() == Some(v as f64))
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<bool, E> {
        Ok(self.0.is_number() && self.0.as_f64() == Some(v as f64))
    }

    fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<bool, E> {
        Ok(self.0.as_f64() == Some(v))
    }

    fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(self.0.as_str() == Some(v))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<bool, E> {
        Ok(self.0.is_null())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let Value::Array(want) = self.0 else {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            return Ok(false);
        };
        let (mut held, mut count) = (true, 0);
        loop {
            let more = match want.get(count) {
                Some(item) if held => seq.next_element_seed(Holds(item))?.map(|h| held &= h),
                _ => seq.next_element::<serde::de::IgnoredAny>()?.map(|_| held = false),
            };
            if more.is_none() {
                break;
            }
            count += 1;
        }
        Ok(held && count == want.len())
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let Value::Object(want) = self.0 else {
            while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
            return Ok(false);
        };
        let mut seen: Vec<&String> = Vec::with_capacity(want.len());
        let mut held = true;
        while let Some(found) = map.next_key_seed(WantedKey(want))? {
            match found {
                Some((key, wanted)) if held => {
                    seen.push(key);
                    held &= map.next_value_seed(Holds(wanted))?;
                }
                _ => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
            }
        }
        // What the live object lacks may only be empty in the desired one.
        Ok(held
            && (seen.len() == want.len()
                || want.iter().all(|(k, v)| seen.contains(&k) || v.is_null() || v.as_object().is_some_and(|o| o.is_empty()) || v.as_array().is_some_and(|a| a.is_empty()))))
    }
}

/// A map key, looked up in the wanted map without copying it.
struct WantedKey<'w>(&'w serde_json::Map<String, Value>);

impl<'de, 'w> serde::de::DeserializeSeed<'de> for WantedKey<'w> {
    type Value = Option<(&'w String, &'w Value)>;
    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de, 'w> serde::de::Visitor<'de> for WantedKey<'w> {
    type Value = Option<(&'w String, &'w Value)>;
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a string key")
    }
    fn visit_str<E: serde::de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(self.0.get_key_value(key))
    }
}

/// The object as a diff shows it: without what the server owns, and with
/// Secret values replaced by their hashes.
pub fn normalise(object: &Value) -> Value {
    let mut object = object.clone();
    if let Some(map) = object.as_object_mut() {
        map.remove("status");
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            for key in ["managedFields", "resourceVersion", "generation", "uid", "creationTimestamp", "selfLink"] {
                metadata.remove(key);
            }
            if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
                annotations.remove(render::HASH_ANNOTATION);
                if annotations.is_empty() {
                    metadata.remove("annotations");
                }
            }
        }
    }
    mask_secret(&mut object);
    object
}

/// Last-applied copies of an object hold its Secret values in clear.
const COPY_ANNOTATIONS: &[&str] = &["kubectl.kubernetes.io/last-applied-configuration"];

/// Replaces a Secret's values (`data`, `stringData`) and any annotation
/// that copies them by `sha256:…` of the value, so a diff shows that a
/// value changed and never what it is.
pub fn mask_secret(object: &mut Value) {
    if object.get("kind").and_then(Value::as_str) != Some("Secret") {
        return;
    }
    let mut secrets: Vec<String> = Vec::new();
    for field in ["data", "stringData"] {
        if let Some(Value::Object(values)) = object.get_mut(field) {
            for value in values.values_mut() {
                let text = match &*value {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                // Already masked (a snapshot): keep, so masking is idempotent.
                if text.starts_with("sha256:") {
                    continue;
                }
                if text.len() >= 4 {
                    secrets.push(text.clone());
                    if let Ok(decoded) = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, &text)
                        && let Ok(decoded) = String::from_utf8(decoded)
                        && decoded.len() >= 4
                    {
                        secrets.push(decoded);
                    }
                }
                *value = json!(masked(&text));
            }
        }
    }
    if let Some(Value::Object(annotations)) = object.pointer_mut("/metadata/annotations") {
        for (key, value) in annotations.iter_mut() {
            let Some(text) = value.as_str() else { continue };
            if text.starts_with(MASKED_COPY) {
                continue;
            }
            if COPY_ANNOTATIONS.contains(&key.as_str()) || secrets.iter().any(|s| text.contains(s.as_str())) {
                *value = json!(format!("{MASKED_COPY}{}", masked(text)));
            }
        }
    }
}

/// For a Secret: which keys change, as `changed (sha256:…)` of the new
/// value, added or removed.
fn secret_changes(live: &Value, after: &Value) -> String {
    if after.get("kind").and_then(Value::as_str) != Some("Secret") {
        return String::new();
    }
    let (mut before, mut now) = (live.clone(), after.clone());
    mask_secret(&mut before);
    mask_secret(&mut now);
    let data = |v: &Value| v.get("data").and_then(Value::as_object).cloned().unwrap_or_default();
    let (before, now) = (data(&before), data(&now));
    let mut parts = Vec::new();
    for (key, value) in &now {
        match before.get(key) {
            Some(old) if old == value => {}
            Some(_) => parts.push(format!("{key}: changed ({})", value.as_str().unwrap_or_default())),
            None => parts.push(format!("{key}: added ({})", value.as_str().unwrap_or_default())),
        }
    }
    parts.extend(before.keys().filter(|k| !now.contains_key(*k)).map(|k| format!("{k}: removed")));
    parts.join(", ")
}

const MASKED_COPY: &str = "(masked: may hold Secret values) ";

fn masked(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!("sha256:{}", &render::hex(&digest)[..16])
}

/// A unified diff between two objects' YAML after `normalise`; empty when
/// they are equal.
pub fn diff_text(before: Option<&Value>, after: Option<&Value>) -> String {
    let yaml = |v: Option<&Value>| v.map(|v| serde_saphyr::to_string(&normalise(v)).unwrap_or_default()).unwrap_or_default();
    let (a, b) = (yaml(before), yaml(after));
    if a == b {
        return String::new();
    }
    similar::TextDiff::from_lines(&a, &b).unified_diff().context_radius(3).header("live", "desired").to_string()
}

/// The text report: a coloured diff per changed object and a summary line
/// per target.
pub fn render_text(plans: &[Plan], color: bool) -> String {
    use std::fmt::Write;
    let paint = |code: &str, text: &str| if color { format!("\x1b[{code}m{text}\x1b[0m") } else { text.to_owned() };
    let mut out = String::new();
    for plan in plans {
        for c in plan.changes.iter().filter(|c| c.action != Action::Unchanged) {
            let (sign, code) = match c.action {
                Action::Create => ("+", "32"),
                Action::Update => ("~", "33"),
                Action::Adopt => ("&", "34"),
                Action::Delete => ("-", "31"),
                Action::Deferred => (">", "36"),
                Action::Retain => ("=", "2"),
                Action::Error => ("!", "1;31"),
                Action::Unchanged => (" ", "0"),
            };
            let at = c.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
            let action = format!("{:?}", c.action).to_lowercase();
            let head = format!("{sign} {action} {} {at}{}", c.kind, c.name);
            let _ = write!(out, "{}", paint(code, &head));
            if !c.reason.is_empty() {
                let _ = write!(out, " ({})", c.reason);
            }
            out.push('\n');
            for line in c.diff.lines().skip(2) {
                let painted = match line.chars().next() {
                    Some('+') => paint("32", line),
                    Some('-') => paint("31", line),
                    Some('@') => paint("36", line),
                    _ => line.to_owned(),
                };
                let _ = writeln!(out, "    {painted}");
            }
        }
        let s = plan.summary();
        let _ = writeln!(
            out,
            "{}: {} to create, {} to update, {} to delete, {} unchanged{}{}{}{}",
            if plan.context.is_empty() { "plan" } else { &plan.context },
            s.create,
            s.update,
            s.delete,
            s.unchanged,
            if s.adopt > 0 { format!(", {} to adopt (weft's labels only)", s.adopt) } else { String::new() },
            if s.deferred > 0 { format!(", {} deferred", s.deferred) } else { String::new() },
            if s.retain > 0 { format!(", {} kept from pruning", s.retain) } else { String::new() },
            if s.error > 0 { format!(", {} errors", s.error) } else { String::new() },
        );
    }
    out
}

/// `--format json`: `{"targets": [{"context", "changes": [...]}], "summary"}`,
/// unchanged objects counted but not listed.
pub fn render_json(plans: &[Plan]) -> String {
    let mut total = Summary::default();
    let targets: Vec<Value> = plans
        .iter()
        .map(|plan| {
            let s = plan.summary();
            total.create += s.create;
            total.update += s.update;
            total.adopt += s.adopt;
            total.unchanged += s.unchanged;
            total.delete += s.delete;
            total.deferred += s.deferred;
            total.retain += s.retain;
            total.error += s.error;
            let changes: Vec<&Change> = plan.changes.iter().filter(|c| c.action != Action::Unchanged).collect();
            json!({"context": plan.context, "inventory": plan.inventory, "changes": changes, "summary": s})
        })
        .collect();
    serde_json::to_string_pretty(&json!({"targets": targets, "summary": total})).unwrap_or_default() + "\n"
}

/// `--format markdown`: a pull-request comment.
pub fn render_markdown(plans: &[Plan]) -> String {
    use std::fmt::Write;
    let mut out = String::from("### weft plan\n\n| target | create | update | delete | unchanged | deferred | kept | errors |\n|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for plan in plans {
        let s = plan.summary();
        let _ = writeln!(out, "| `{}` | {} | {} | {} | {} | {} | {} | {} |", plan.context, s.create, s.update, s.delete, s.unchanged, s.deferred, s.retain, s.error);
    }
    let adopted: usize = plans.iter().map(|p| p.summary().adopt).sum();
    if adopted > 0 {
        let _ = writeln!(out, "\n{adopted} live object(s) are adopted: their content already matches; weft adds its inventory labels.");
    }
    for plan in plans {
        for c in plan.changes.iter().filter(|c| c.action != Action::Unchanged) {
            let at = c.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
            let action = format!("{:?}", c.action).to_lowercase();
            let _ = write!(out, "\n<details><summary><b>{action}</b> {} <code>{at}{}</code>", c.kind, c.name);
            if !c.reason.is_empty() {
                let _ = write!(out, " — {}", c.reason.replace('<', "&lt;"));
            }
            out.push_str("</summary>\n\n");
            if !c.diff.is_empty() {
                let _ = write!(out, "```diff\n{}```\n", c.diff);
            }
            out.push_str("\n</details>\n");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_weft_marks_added_to_an_unmanaged_object_is_an_adoption() {
        let object = |labels: Value, data: &str| json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": labels}, "data": {"k": data}});
        let applied = json!({"app": "web", "app.kubernetes.io/managed-by": "weft", "applyset.kubernetes.io/part-of": "applyset-ours"});
        let mut after = object(applied.clone(), "v");
        after["metadata"]["annotations"] = json!({render::HASH_ANNOTATION: "abc"});

        assert_eq!(adoption(&object(json!({"app": "web"}), "v"), &after).as_deref(), Some("content unchanged; weft adds its inventory labels"));
        let from_helm = adoption(&object(json!({"app": "web", "app.kubernetes.io/managed-by": "Helm"}), "v"), &after).unwrap();
        assert!(from_helm.contains("Helm"), "{from_helm}");
        // Content that changes too is an update.
        assert_eq!(adoption(&object(json!({"app": "web"}), "old"), &after), None);
        assert_eq!(adoption(&object(json!({}), "v"), &after), None, "the app label is the user's change");
        // Another inventory's object is moved, not adopted.
        let theirs = object(json!({"app": "web", "app.kubernetes.io/managed-by": "weft", "applyset.kubernetes.io/part-of": "applyset-theirs"}), "v");
        assert_eq!(adoption(&theirs, &after), None);
    }

    fn live(fields_others: Value) -> Value {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {
                "name": "c", "labels": {"a": "1", "b": "2"},
                "managedFields": [
                    {"manager": "weft", "operation": "Apply", "fieldsV1": {"f:metadata": {"f:labels": {"f:a": {}, "f:b": {}}}, "f:data": {"f:x": {}}}},
                    {"manager": "other", "operation": "Update", "fieldsV1": fields_others},
                ],
            },
            "data": {"x": "1", "y": "2"},
        })
    }

    #[test]
    fn offline_apply_drops_what_weft_stopped_setting_unless_shared() {
        let desired = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "labels": {"a": "1"}}, "data": {"x": "9"}});
        let after = offline_apply(&live(json!({"f:data": {"f:y": {}}})), &desired);
        assert_eq!(after["metadata"]["labels"], json!({"a": "1"}));
        assert_eq!(after["data"], json!({"x": "9", "y": "2"}), "fields of other managers stay");
        let shared = offline_apply(&live(json!({"f:metadata": {"f:labels": {"f:b": {}}}})), &desired);
        assert_eq!(shared["metadata"]["labels"], json!({"a": "1", "b": "2"}), "a label another manager also owns stays");
    }

    #[test]
    fn masking_is_idempotent_and_hides_copies() {
        let mut secret = json!({"kind": "Secret", "data": {"k": "c2VjcmV0LXZhbHVl"}, "metadata": {"annotations": {"note": "copy: secret-value"}}});
        mask_secret(&mut secret);
        let once = secret.clone();
        mask_secret(&mut secret);
        assert_eq!(secret, once);
        let text = secret.to_string();
        assert!(!text.contains("c2VjcmV0LXZhbHVl") && !text.contains("secret-value"), "{text}");
    }

    #[test]
    fn holds_ignores_server_additions_but_not_changes() {
        assert!(holds(&json!({"a": {"b": 1}}), &json!({"a": {"b": 1.0, "c": 2}, "status": {}})));
        assert!(!holds(&json!({"a": {"b": 1}}), &json!({"a": {"b": 2}})));
        assert!(!holds(&json!({"l": [1, 2]}), &json!({"l": [1]})));
    }
}
