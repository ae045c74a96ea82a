//! Server-side defaulting and the status that controllers would write.
//! Defaulting only fills fields that are absent; each kind's defaults are
//! one function listed in [`default_object`].

use serde_json::{Map, Value, json};

/// Sets `obj[key]` to `v` when absent.
fn set_default(obj: &mut Value, key: &str, v: Value) {
    if let Some(m) = obj.as_object_mut()
        && !m.contains_key(key) {
            m.insert(key.to_string(), v);
        }
}

/// The child map at `key`, created when absent.
fn child<'a>(obj: &'a mut Value, key: &str) -> &'a mut Value {
    let m = obj.as_object_mut().expect("object");
    if !m.get(key).map(Value::is_object).unwrap_or(false) {
        m.insert(key.to_string(), Value::Object(Map::new()));
    }
    m.get_mut(key).unwrap()
}

fn has_object(obj: &Value, key: &str) -> bool {
    obj.get(key).map(Value::is_object).unwrap_or(false)
}

/// A custom resource's defaults from its CRD's structural schema, as the
/// API server applies them: an absent field with a `default` gets it, in
/// every object the schema describes (properties, list items, map values).
pub fn schema_defaults(obj: &mut Value, schema: &Value) {
    match obj {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            for (key, property) in properties.into_iter().flatten() {
                if !map.contains_key(key)
                    && let Some(default) = property.get("default")
                {
                    map.insert(key.clone(), default.clone());
                }
                if let Some(child) = map.get_mut(key) {
                    schema_defaults(child, property);
                }
            }
            if let Some(values) = schema.get("additionalProperties").filter(|v| v.is_object()) {
                for (key, child) in map.iter_mut() {
                    if !properties.is_some_and(|p| p.contains_key(key)) {
                        schema_defaults(child, values);
                    }
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    schema_defaults(item, item_schema);
                }
            }
        }
        _ => {}
    }
}

/// Context the defaulting needs from the store.
pub struct Alloc<'a> {
    pub next_ip: &'a mut u32,
}

/// Applies the defaults of `kind` (group-qualified kinds are not needed:
/// the built-in kinds are unique by name; custom resources get none).
pub fn default_object(group: &str, kind: &str, obj: &mut Value, alloc: &mut Alloc) {
    if !obj.is_object() {
        return;
    }
    match (group, kind) {
        ("", "Namespace") => namespace(obj),
        ("", "Secret") => secret(obj),
        ("", "Service") => service(obj, alloc),
        ("", "Pod")
            if has_object(obj, "spec") => {
                pod_spec(child(obj, "spec"))
            }
        ("", "PersistentVolumeClaim") => {
            if has_object(obj, "spec") {
                set_default(child(obj, "spec"), "volumeMode", json!("Filesystem"));
            }
            set_default(child(obj, "status"), "phase", json!("Pending"));
        }
        ("apps", "Deployment") => deployment(obj),
        ("apps", "StatefulSet") => statefulset(obj),
        ("apps", "DaemonSet") => daemonset(obj),
        ("apps", "ReplicaSet") => {
            let spec = child(obj, "spec");
            set_default(spec, "replicas", json!(1));
            template(spec);
        }
        ("batch", "Job") => job(obj),
        ("batch", "CronJob") => {
            let spec = child(obj, "spec");
            set_default(spec, "concurrencyPolicy", json!("Allow"));
            set_default(spec, "suspend", json!(false));
            set_default(spec, "successfulJobsHistoryLimit", json!(3));
            set_default(spec, "failedJobsHistoryLimit", json!(1));
            if has_object(spec, "jobTemplate") {
                let jt = child(spec, "jobTemplate");
                if has_object(jt, "spec") {
                    job_spec(child(jt, "spec"));
                }
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            let spec = child(obj, "spec");
            if has_object(spec, "names") {
                let names = child(spec, "names");
                if let Some(kind) = names.get("kind").and_then(Value::as_str).map(str::to_string) {
                    set_default(names, "singular", json!(kind.to_ascii_lowercase()));
                    set_default(names, "listKind", json!(format!("{kind}List")));
                }
            }
            set_default(spec, "conversion", json!({"strategy": "None"}));
        }
        _ => {}
    }
}

fn namespace(obj: &mut Value) {
    let name = obj["metadata"]["name"].as_str().unwrap_or_default().to_string();
    let labels = child(child(obj, "metadata"), "labels");
    labels.as_object_mut().unwrap().insert("kubernetes.io/metadata.name".into(), json!(name));
    set_default(child(obj, "spec"), "finalizers", json!(["kubernetes"]));
    set_default(child(obj, "status"), "phase", json!("Active"));
}

fn secret(obj: &mut Value) {
    set_default(obj, "type", json!("Opaque"));
    let m = obj.as_object_mut().unwrap();
    if let Some(Value::Object(sd)) = m.shift_remove("stringData") {
        let data = child(obj, "data").as_object_mut().unwrap();
        for (k, v) in sd {
            let s = v.as_str().map(str::to_string).unwrap_or_else(|| v.to_string());
            data.insert(k, json!(base64(s.as_bytes())));
        }
    }
}

fn service(obj: &mut Value, alloc: &mut Alloc) {
    let spec = child(obj, "spec");
    set_default(spec, "type", json!("ClusterIP"));
    let ty = spec["type"].as_str().unwrap_or("ClusterIP").to_string();
    set_default(spec, "sessionAffinity", json!("None"));
    if ty != "ExternalName" {
        if spec.get("clusterIP").is_none() {
            *alloc.next_ip += 1;
            let n = *alloc.next_ip;
            spec["clusterIP"] = json!(format!("10.96.{}.{}", (n >> 8) & 0xff, n & 0xff));
        }
        if spec.get("clusterIPs").is_none() {
            let ip = spec["clusterIP"].clone();
            spec["clusterIPs"] = json!([ip]);
        }
        set_default(spec, "ipFamilies", json!(["IPv4"]));
        set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
        set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" || ty == "NodePort" {
        set_default(spec, "externalTrafficPolicy", json!("Cluster"));
    }
    if ty == "LoadBalancer" {
        set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
    }
    let mut node_port = 30000 + (*alloc.next_ip % 2000);
    if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter(|p| p.is_object()) {
            set_default(p, "protocol", json!("TCP"));
            if p.get("targetPort").is_none() {
                let port = p["port"].clone();
                p["targetPort"] = port;
            }
            if (ty == "LoadBalancer" || ty == "NodePort") && p.get("nodePort").is_none() {
                node_port += 1;
                p["nodePort"] = json!(node_port);
            }
        }
    }
}

fn container(c: &mut Value) {
    if !c.is_object() {
        return;
    }
    let image = c["image"].as_str().unwrap_or_default().to_string();
    let last = image.rsplit('/').next().unwrap_or_default();
    let tag = if last.contains('@') { Some("digest") } else { last.split_once(':').map(|(_, t)| t) };
    let policy = match tag {
        None | Some("latest") => "Always",
        _ => "IfNotPresent",
    };
    set_default(c, "imagePullPolicy", json!(policy));
    set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
    set_default(c, "terminationMessagePolicy", json!("File"));
    set_default(c, "resources", json!({}));
    if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
        for p in ports.iter_mut().filter(|p| p.is_object()) {
            set_default(p, "protocol", json!("TCP"));
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if has_object(c, probe) {
            let p = child(c, probe);
            set_default(p, "timeoutSeconds", json!(1));
            set_default(p, "periodSeconds", json!(10));
            set_default(p, "successThreshold", json!(1));
            set_default(p, "failureThreshold", json!(3));
            if has_object(p, "httpGet") {
                set_default(child(p, "httpGet"), "scheme", json!("HTTP"));
            }
        }
    }
    if let Some(env) = c.get_mut("env").and_then(Value::as_array_mut) {
        for e in env.iter_mut().filter(|e| has_object(e, "valueFrom")) {
            field_ref(child(e, "valueFrom"));
        }
    }
}

/// `fieldRef.apiVersion` of a downward-API reference.
fn field_ref(holder: &mut Value) {
    if has_object(holder, "fieldRef") {
        set_default(child(holder, "fieldRef"), "apiVersion", json!("v1"));
    }
}

fn pod_spec(spec: &mut Value) {
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "enableServiceLinks", json!(true));
    // The deprecated alias, kept equal to serviceAccountName.
    if let Some(account) = spec.get("serviceAccountName").cloned() {
        set_default(spec, "serviceAccount", account);
    }
    if let Some(volumes) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in volumes.iter_mut().filter(|v| v.is_object()) {
            for source in ["configMap", "secret", "projected", "downwardAPI"] {
                if has_object(v, source) {
                    let s = child(v, source);
                    set_default(s, "defaultMode", json!(420));
                    if let Some(items) = s.get_mut("items").and_then(Value::as_array_mut) {
                        items.iter_mut().filter(|i| i.is_object()).for_each(field_ref);
                    }
                }
            }
        }
    }
    for key in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(key).and_then(Value::as_array_mut) {
            cs.iter_mut().for_each(container);
        }
    }
}

/// `spec.template.spec` of a workload.
fn template(spec: &mut Value) {
    if has_object(spec, "template") {
        let t = child(spec, "template");
        if has_object(t, "spec") {
            pod_spec(child(t, "spec"));
        }
    }
}

fn deployment(obj: &mut Value) {
    let spec = child(obj, "spec");
    set_default(spec, "replicas", json!(1));
    set_default(spec, "strategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "progressDeadlineSeconds", json!(600));
    template(spec);
}

fn statefulset(obj: &mut Value) {
    let spec = child(obj, "spec");
    set_default(spec, "replicas", json!(1));
    set_default(spec, "podManagementPolicy", json!("OrderedReady"));
    set_default(spec, "updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"partition": 0}}));
    set_default(spec, "revisionHistoryLimit", json!(10));
    set_default(spec, "persistentVolumeClaimRetentionPolicy", json!({"whenDeleted": "Retain", "whenScaled": "Retain"}));
    template(spec);
}

fn daemonset(obj: &mut Value) {
    let spec = child(obj, "spec");
    set_default(spec, "updateStrategy", json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}));
    set_default(spec, "revisionHistoryLimit", json!(10));
    template(spec);
}

fn job_spec(spec: &mut Value) {
    set_default(spec, "parallelism", json!(1));
    set_default(spec, "completions", json!(1));
    set_default(spec, "backoffLimit", json!(6));
    set_default(spec, "completionMode", json!("NonIndexed"));
    set_default(spec, "suspend", json!(false));
    set_default(spec, "podReplacementPolicy", json!("TerminatingOrFailed"));
    if has_object(spec, "template") {
        let t = child(spec, "template");
        if has_object(t, "spec") {
            let ps = child(t, "spec");
            set_default(ps, "restartPolicy", json!("Never"));
            pod_spec(ps);
        }
    }
}

fn job(obj: &mut Value) {
    let uid = obj["metadata"]["uid"].clone();
    let name = obj["metadata"]["name"].clone();
    let spec = child(obj, "spec");
    // Without manualSelector the server selects the Job's pods by its uid
    // and labels the template to match.
    if spec["manualSelector"].as_bool() != Some(true) && spec.get("selector").is_none() && uid.is_string() {
        spec["selector"] = json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid.clone()}});
        if has_object(spec, "template") {
            let labels = child(child(child(spec, "template"), "metadata"), "labels");
            for (key, value) in [("batch.kubernetes.io/controller-uid", &uid), ("batch.kubernetes.io/job-name", &name), ("controller-uid", &uid), ("job-name", &name)] {
                set_default(labels, key, value.clone());
            }
        }
    }
    job_spec(spec);
}

/// The status a controller would have written by now (auto_ready), or None
/// for kinds no controller touches. `generation` is the object's generation.
pub fn ready_status(group: &str, kind: &str, obj: &Value, lb_ip: u32, now: &str) -> Option<Value> {
    let generation = obj["metadata"]["generation"].as_i64().unwrap_or(1);
    let replicas = obj["spec"]["replicas"].as_i64().unwrap_or(1);
    let cond = |ty: &str, reason: &str, msg: &str| {
        json!({"type": ty, "status": "True", "lastUpdateTime": now, "lastTransitionTime": now, "reason": reason, "message": msg})
    };
    let name = obj["metadata"]["name"].as_str().unwrap_or_default();
    Some(match (group, kind) {
        ("apps", "Deployment") => json!({
            "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
            "readyReplicas": replicas, "availableReplicas": replicas,
            "conditions": [
                cond("Available", "MinimumReplicasAvailable", "Deployment has minimum availability."),
                cond("Progressing", "NewReplicaSetAvailable", &format!("ReplicaSet \"{name}\" has successfully progressed.")),
            ]
        }),
        ("apps", "StatefulSet") => json!({
            "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas, "readyReplicas": replicas,
            "availableReplicas": replicas, "currentReplicas": replicas, "currentRevision": format!("{name}-1"), "updateRevision": format!("{name}-1"),
            "collisionCount": 0
        }),
        ("apps", "ReplicaSet") => json!({
            "observedGeneration": generation, "replicas": replicas, "fullyLabeledReplicas": replicas, "readyReplicas": replicas, "availableReplicas": replicas
        }),
        ("apps", "DaemonSet") => json!({
            "observedGeneration": generation, "currentNumberScheduled": 1, "desiredNumberScheduled": 1, "numberAvailable": 1,
            "numberMisscheduled": 0, "numberReady": 1, "updatedNumberScheduled": 1
        }),
        ("batch", "Job") => json!({
            "startTime": now, "completionTime": now, "succeeded": 1, "ready": 0, "terminating": 0,
            "uncountedTerminatedPods": {},
            "conditions": [
                {"type": "SuccessCriteriaMet", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"},
                {"type": "Complete", "status": "True", "lastProbeTime": now, "lastTransitionTime": now, "reason": "CompletionsReached", "message": "Reached expected number of succeeded pods"}
            ]
        }),
        ("", "PersistentVolumeClaim") => {
            let mut s = json!({"phase": "Bound", "accessModes": obj["spec"]["accessModes"].clone()});
            if let Some(st) = obj["spec"]["resources"]["requests"]["storage"].as_str() {
                s["capacity"] = json!({"storage": st});
            }
            s
        }
        ("", "PersistentVolume") => json!({"phase": "Available"}),
        ("", "Service") if obj["spec"]["type"].as_str() == Some("LoadBalancer") => {
            json!({"loadBalancer": {"ingress": [{"ip": format!("192.0.2.{}", 1 + lb_ip % 254), "ipMode": "VIP"}]}})
        }
        _ => return None,
    })
}

/// CRD status once its names are accepted and it is established.
pub fn crd_status(crd: &Value, established: bool, now: &str) -> Value {
    let names = crd["spec"]["names"].clone();
    let stored: Vec<Value> = crd["spec"]["versions"]
        .as_array()
        .map(|vs| vs.iter().filter(|v| v["storage"].as_bool() == Some(true)).map(|v| v["name"].clone()).collect())
        .unwrap_or_default();
    let mut conditions = vec![json!({"type": "NamesAccepted", "status": "True", "lastTransitionTime": now, "reason": "NoConflicts", "message": "no conflicts found"})];
    conditions.push(if established {
        json!({"type": "Established", "status": "True", "lastTransitionTime": now, "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"})
    } else {
        json!({"type": "Established", "status": "False", "lastTransitionTime": now, "reason": "Installing", "message": "the initial names have been accepted"})
    });
    json!({"acceptedNames": names, "conditions": conditions, "storedVersions": stored})
}

pub fn base64(input: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [chunk[0], *chunk.get(1).unwrap_or(&0), *chunk.get(2).unwrap_or(&0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        out.push(T[(n >> 18) as usize & 63] as char);
        out.push(T[(n >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { T[(n >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { T[n as usize & 63] as char } else { '=' });
    }
    out
}

/// RFC 3339 UTC timestamp with seconds precision.
pub fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    format_unix(secs as i64)
}

pub fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86400);
    let rem = secs.rem_euclid(86400);
    // Civil from days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

/// Seconds since the epoch of an RFC 3339 UTC timestamp (`...Z`).
pub fn parse_rfc3339(t: &str) -> Option<i64> {
    let b = t.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let n = |r: std::ops::Range<usize>| t.get(r)?.parse::<i64>().ok();
    let (y, m, d) = (n(0..4)?, n(5..7)?, n(8..10)?);
    let (hh, mm, ss) = (n(11..13)?, n(14..16)?, n(17..19)?);
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(days * 86400 + hh * 3600 + mm * 60 + ss)
}

/// The AGE column as kubectl shows it (Kubernetes' HumanDuration).
pub fn age(created: &str, now: i64) -> String {
    let Some(t) = parse_rfc3339(created) else { return "<unknown>".into() };
    let s = (now - t).max(0);
    let (m, h, d) = (s / 60, s / 3600, s / 86400);
    if s < 120 {
        format!("{s}s")
    } else if m < 10 {
        if s % 60 == 0 { format!("{m}m") } else { format!("{m}m{}s", s % 60) }
    } else if h < 3 {
        format!("{m}m")
    } else if h < 8 {
        if m % 60 == 0 { format!("{h}h") } else { format!("{h}h{}m", m % 60) }
    } else if h < 48 {
        format!("{h}h")
    } else if d < 8 {
        if h % 24 == 0 { format!("{d}d") } else { format!("{d}d{}h", h % 24) }
    } else {
        format!("{d}d")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn age() {
        assert_eq!(super::parse_rfc3339("2023-11-14T22:13:20Z"), Some(1_700_000_000));
        assert_eq!(super::age("2023-11-14T22:13:20Z", 1_700_000_030), "30s");
        assert_eq!(super::age("2023-11-14T22:13:20Z", 1_700_000_000 + 3 * 86400 + 7200), "3d2h");
    }

    #[test]
    fn base64_and_time() {
        assert_eq!(super::base64(b"hello"), "aGVsbG8=");
        assert_eq!(super::base64(b"hi!"), "aGkh");
        assert_eq!(super::format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::format_unix(1_700_000_000), "2023-11-14T22:13:20Z");
    }
}
