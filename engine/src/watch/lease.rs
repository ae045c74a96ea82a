//! Leader election through a `coordination.k8s.io/v1` Lease, as
//! Kubernetes' own controllers do it: the holder renews the lease well
//! within its duration; another replica takes it over only once a renewal
//! is overdue. Writes use the lease's resourceVersion, so two replicas
//! racing for an expired lease cannot both win. Whether another holder's
//! renewal is overdue is judged by when this process last saw the lease
//! change, not by the holder's clock, as client-go does: clocks may differ.

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, PostParams};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A lease's holder and renew time, as last read.
type Record = (String, Option<jiff::Timestamp>);

pub struct Elector {
    api: Api<Lease>,
    name: String,
    identity: String,
    duration: Duration,
    /// Another holder's record (holder, renew time) and when it was first
    /// seen unchanged.
    observed: Mutex<Option<(Record, Instant)>>,
}

impl Elector {
    pub fn new(client: kube::Client, namespace: &str, name: &str, identity: &str, duration: Duration) -> Elector {
        Elector { api: Api::namespaced(client, namespace), name: name.to_owned(), identity: identity.to_owned(), duration, observed: Mutex::new(None) }
    }

    /// How often the holder renews: a third of the duration, so two
    /// renewals can fail before the lease lapses.
    pub fn renew_every(&self) -> Duration {
        self.duration / 3
    }

    /// Takes the lease if it is free or lapsed, renews it if this process
    /// holds it; whether this process leads afterwards.
    pub async fn try_lead(&self) -> Result<bool, String> {
        let now = jiff::Timestamp::now();
        let seconds = self.duration.as_secs().max(1) as i32;
        let current = self.api.get_opt(&self.name).await.map_err(|e| format!("lease {}: {e}", self.name))?;
        let Some(mut lease) = current else {
            let lease = Lease {
                metadata: ObjectMeta { name: Some(self.name.clone()), ..Default::default() },
                spec: Some(LeaseSpec {
                    holder_identity: Some(self.identity.clone()),
                    lease_duration_seconds: Some(seconds),
                    acquire_time: Some(MicroTime(now)),
                    renew_time: Some(MicroTime(now)),
                    lease_transitions: Some(0),
                    ..Default::default()
                }),
            };
            return match self.api.create(&PostParams::default(), &lease).await {
                Ok(_) => Ok(true),
                // Another replica created it first.
                Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
                Err(e) => Err(format!("cannot create lease {}: {e}", self.name)),
            };
        };
        let spec = lease.spec.get_or_insert_with(Default::default);
        let holder = spec.holder_identity.clone().unwrap_or_default();
        if holder != self.identity {
            let held_for = Duration::from_secs(spec.lease_duration_seconds.unwrap_or(seconds).max(0) as u64);
            let record = (holder.clone(), spec.renew_time.as_ref().map(|t| t.0));
            let unchanged_since = {
                let mut observed = self.observed.lock().expect("lease observation lock");
                match &*observed {
                    Some((seen, since)) if *seen == record => *since,
                    _ => {
                        *observed = Some((record, Instant::now()));
                        Instant::now()
                    }
                }
            };
            let lapsed = holder.is_empty() || unchanged_since.elapsed() > held_for;
            if !lapsed {
                return Ok(false);
            }
            spec.holder_identity = Some(self.identity.clone());
            spec.acquire_time = Some(MicroTime(now));
            spec.lease_transitions = Some(spec.lease_transitions.unwrap_or(0) + 1);
        }
        spec.lease_duration_seconds = Some(seconds);
        spec.renew_time = Some(MicroTime(now));
        // The resourceVersion read above makes this a compare-and-swap.
        match self.api.replace(&self.name, &PostParams::default(), &lease).await {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(status)) if status.code == 409 => Ok(false),
            Err(e) => Err(format!("cannot renew lease {}: {e}", self.name)),
        }
    }

    /// Gives the lease up (on shutdown), so a standby replica takes over
    /// at its next try instead of waiting for the lease to lapse.
    pub async fn release(&self) {
        let Ok(Some(mut lease)) = self.api.get_opt(&self.name).await else { return };
        let spec = lease.spec.get_or_insert_with(Default::default);
        if spec.holder_identity.as_deref() != Some(self.identity.as_str()) {
            return;
        }
        spec.holder_identity = None;
        let _ = self.api.replace(&self.name, &PostParams::default(), &lease).await;
    }
}

/// This replica's name in the lease: the pod's name when the downward API
/// gives it, else the host name and process id.
pub fn identity() -> String {
    if let Ok(pod) = std::env::var("POD_NAME")
        && !pod.is_empty()
    {
        return pod;
    }
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_owned()).unwrap_or_else(|_| "weft".to_owned());
    format!("{host}-{}", std::process::id())
}

/// The namespace of the lease by default: the pod's (downward API or the
/// service account's namespace file), else `default`.
pub fn default_namespace() -> String {
    std::env::var("POD_NAMESPACE")
        .ok()
        .filter(|n| !n.is_empty())
        .or_else(|| std::fs::read_to_string("/var/run/secrets/kubernetes.io/serviceaccount/namespace").ok().map(|n| n.trim().to_owned()))
        .unwrap_or_else(|| "default".to_owned())
}
