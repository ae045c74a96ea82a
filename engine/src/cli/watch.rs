//! `weft watch`: the daemon's loop. It owns the stages (load, analyse,
//! plan, apply, as the other commands run them) and records each step in
//! `weft::watch::Daemon`, which serves it over HTTP and keeps it on disk.
//!
//! One loop, one sync at a time: a new commit (or a changed working tree)
//! is validated, planned and, with auto-sync, applied to every target in
//! turn; between commits the applied one is planned again to find drift.
//! Endpoints, signals, leader election and notifications run on a small
//! runtime of their own, so a long sync never delays `/healthz`.

use super::*;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use weft::watch::notifier::{Event, Notifier};
use weft::watch::{Daemon, Phase};

/// The settings in effect: flags, else weft.yaml `watch`, else defaults.
struct Settings {
    branch: String,
    interval: Duration,
    listen: String,
    state_dir: PathBuf,
    webhook_secret_file: Option<PathBuf>,
    notify: Vec<String>,
}

pub(crate) fn run(mut args: WatchArgs, verbose: bool) -> Result<ExitCode, String> {
    init_logging(args.log_format, verbose);
    let cache = args.git_cache.clone().unwrap_or_else(load::git::default_cache);
    let settings = settle(&mut args, &cache)?;
    if args.self_heal && !args.auto_sync {
        return Err("--self-heal needs --auto-sync (or weft.yaml watch.autoSync)".to_owned());
    }
    let mut status = weft::watch::load_state(&settings.state_dir).unwrap_or_default();
    status.repo = args.repo.clone();
    status.branch = if args.worktree { "(working tree)".to_owned() } else { settings.branch.clone() };
    let secret = match &settings.webhook_secret_file {
        Some(file) => Some(std::fs::read_to_string(file).map_err(|e| format!("cannot read {}: {e}", file.display()))?.trim_end().as_bytes().to_vec()),
        None => None,
    };
    let notifiers = settings.notify.iter().map(|url| Notifier::new(url)).collect::<Result<Vec<_>, _>>()?;
    let daemon = Arc::new(Daemon::new(status, secret));

    let server = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().map_err(|e| e.to_string())?;
    let listener = server.block_on(tokio::net::TcpListener::bind(&settings.listen)).map_err(|e| format!("cannot listen on {}: {e}", settings.listen))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let source = if args.worktree { format!("the working tree {}", args.repo) } else { format!("{} ({})", args.repo, settings.branch) };
    // The address ends the line: scripts (and the tests) read it from there.
    tracing::info!("watching {source} every {:?}; serving on http://{address}", settings.interval);
    server.spawn(weft::watch::serve(listener, daemon.clone()));

    let stop = Arc::new(AtomicBool::new(false));
    let stopping = stop.clone();
    server.spawn(async move {
        let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else { return };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        stopping.store(true, Ordering::SeqCst);
    });

    // Without leader election this process always leads.
    let leading = Arc::new(AtomicBool::new(!args.leader_elect));
    let elector = if args.leader_elect { Some(start_election(&args, &server, &daemon, &leading, &stop)?) } else { None };

    let changed_at: Arc<std::sync::Mutex<Option<Instant>>> = Arc::default();
    let _tree_watcher = if args.worktree {
        let (poke, changed) = (daemon.clone(), changed_at.clone());
        let skip = std::path::absolute(&settings.state_dir).ok();
        let root = std::path::absolute(&args.repo).map_err(|e| format!("{}: {e}", args.repo))?;
        let on_change = move |first_event: Instant| {
            changed.lock().expect("change time lock").get_or_insert(first_event);
            poke.request_poll();
        };
        Some(weft::watch::worktree::watch(&root, skip, args.debounce, on_change)?)
    } else {
        None
    };

    let notify = |event: Event| {
        for notifier in &notifiers {
            let notifier_event = event.clone();
            let daemon = daemon.clone();
            // A clone shares the client (and its connection pool).
            let notifier = notifier.clone();
            server.spawn(async move {
                let delivered = notifier.send(&notifier_event).await;
                daemon.record_notification(if delivered { "delivered" } else { "dropped" });
            });
        }
    };

    let progress = Progress::hidden();
    let mut loop_state = Loop { applied: None, watchers: None, last_drift_check: Instant::now(), next_retry: None, changed_at, leading: leading.clone() };
    let mut poll = true;
    let mut last_poll = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if poll {
            last_poll = Instant::now();
        }
        if leading.load(Ordering::SeqCst) {
            step(&args, &settings, &cache, &daemon, server.handle(), verbose, &progress, &mut loop_state, &notify, poll);
        }
        // Sleep in slices: SIGTERM is answered within a tenth of a second
        // once the step in flight is done. A poll is due at the interval or
        // when asked (a webhook, a changed file); a drift check when a
        // watcher saw a change.
        let drift_due = || daemon.drift_suspected() && loop_state.last_drift_check.elapsed() >= MIN_DRIFT_GAP;
        loop {
            if stop.load(Ordering::SeqCst) || drift_due() {
                poll = false;
                break;
            }
            if daemon.take_poll_request() || last_poll.elapsed() >= settings.interval {
                poll = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(20).min(settings.interval));
        }
    }
    if let Some((elector, task)) = elector {
        // The election stops first, so it cannot take the lease back after the release.
        task.abort();
        server.block_on(elector.release());
    }
    // Deliveries in flight get a moment to finish.
    server.shutdown_timeout(Duration::from_secs(2));
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Drift plans triggered by watchers are at least this far apart: a burst
/// of edits is planned once.
const MIN_DRIFT_GAP: Duration = Duration::from_secs(1);

/// What the loop carries from one step to the next.
struct Loop {
    /// Whether this replica leads; checked again before any write.
    leading: Arc<AtomicBool>,
    /// The objects of the commit last applied by this process: drift is
    /// planned against them without reading git again.
    applied: Option<Prepared>,
    /// Watchers on the applied commit's objects.
    watchers: Option<weft::watch::drift::DriftWatch>,
    last_drift_check: Instant,
    /// A failed sync is retried no sooner than this.
    next_retry: Option<Instant>,
    /// When the working tree first changed since the last look (for the
    /// commit-to-apply latency).
    changed_at: Arc<std::sync::Mutex<Option<Instant>>>,
}

/// One turn of the loop: look for a new commit; sync it, or retry a failed
/// one once its backoff has passed, or look for drift.
#[allow(clippy::too_many_arguments)]
fn step(
    args: &WatchArgs,
    settings: &Settings,
    cache: &Path,
    daemon: &Arc<Daemon>,
    runtime: &tokio::runtime::Handle,
    verbose: bool,
    progress: &Progress,
    state: &mut Loop,
    notify: &dyn Fn(Event),
    poll: bool,
) {
    let current = daemon.status();
    // Woken by a watcher, not for a poll: the branch is not read.
    if !poll {
        check_drift(args, settings, daemon, progress, state, notify, &current);
        return;
    }
    let retry_due = current.phase == Phase::Failed && state.next_retry.is_none_or(|at| Instant::now() >= at);
    let (commit, loaded, committed_at) = if args.worktree {
        // The tree is read at every turn: its fingerprint is its commit id.
        let input = worktree_input(args);
        match load_input(&input, progress) {
            Ok(loaded) => {
                let fingerprint = tree_fingerprint(&loaded);
                let changed_at = state.changed_at.lock().expect("change time lock").take().unwrap_or_else(Instant::now);
                (fingerprint, Some(Ok(loaded)), Some(CommitTime::Seen(changed_at)))
            }
            Err(message) => {
                daemon.update(|s| s.last_error = Some(message));
                return;
            }
        }
    } else {
        match load::git::Source::open(&args.repo, cache).and_then(|source| {
            let id = source.resolve(&settings.branch)?;
            Ok((id.to_string(), source.commit_time(id)))
        }) {
            Ok((commit, time)) => (commit, None, time.map(CommitTime::Committed)),
            Err(e) => {
                daemon.update(|s| s.last_error = Some(e.0));
                return;
            }
        }
    };
    let is_new = current.seen_commit.as_deref() != Some(commit.as_str());
    // A commit only planned before (auto-sync was off) is applied once auto-sync is on.
    let unapplied = args.auto_sync && matches!(current.phase, Phase::OutOfSync | Phase::Pending);
    if is_new || retry_due || unapplied {
        if is_new {
            // A new commit starts afresh: the old one's backoff is not its own.
            state.next_retry = None;
            daemon.update(|s| s.failures = 0);
        }
        let loaded = loaded.unwrap_or_else(|| load_input(&InputArgs::at_revision(&args.paths, &args.models, Some(args.repo.clone()), Some(cache.to_path_buf()), &commit), progress));
        let outcome = sync(args, &settings.state_dir, &commit, loaded, committed_at, daemon, verbose, progress, &state.leading);
        let status = daemon.status();
        match outcome {
            Some(prepared) => {
                state.watchers = watch_for_drift(&prepared, daemon, runtime);
                state.last_drift_check = Instant::now();
                state.applied = Some(prepared);
                state.next_retry = None;
                daemon.update(|s| s.failures = 0);
            }
            None if status.phase == Phase::Failed => {
                daemon.update(|s| s.failures += 1);
                let failures = daemon.status().failures;
                let wait = weft::watch::backoff(settings.interval, failures);
                state.next_retry = Some(Instant::now() + wait);
                tracing::warn!(commit = %commit, failures, retry_in = ?wait, "sync failed; retrying with backoff");
            }
            None => daemon.update(|s| s.failures = 0),
        }
        let status = daemon.status();
        let (event, message) = match status.phase {
            Phase::Synced if args.auto_sync => ("sync-succeeded", format!("{} objects applied", status.objects_managed)),
            Phase::Failed => ("sync-failed", status.last_error.clone().unwrap_or_default()),
            Phase::Invalid => ("sync-invalid", status.last_error.clone().unwrap_or_default()),
            _ => ("", String::new()),
        };
        if !event.is_empty() {
            notify(event_of(&status, event, message, Vec::new()));
        }
        let failed_tests: Vec<String> = status.perf.iter().filter(|(_, v)| *v != "passed").map(|(test, verdict)| format!("{test}: {verdict}")).collect();
        if status.phase == Phase::Synced && !failed_tests.is_empty() {
            notify(event_of(&status, "perf-failed", format!("{} performance test(s) failed", failed_tests.len()), failed_tests));
        }
        if let Err(e) = weft::watch::save_state(&settings.state_dir, &status) {
            tracing::error!("{e}");
        }
    } else if let Some(applied) = current.applied_commit.clone().filter(|_| args.auto_sync && state.applied.is_none() && matches!(current.phase, Phase::Synced | Phase::Invalid)) {
        // A restart: the commit applied before (not the tip, which may be
        // invalid) is read again, not applied, so drift from it is found.
        // A working tree has only its current state to read.
        let loaded = if args.worktree {
            loaded.unwrap_or_else(|| Err("the working tree could not be read".to_owned()))
        } else {
            load_input(&InputArgs::at_revision(&args.paths, &args.models, Some(args.repo.clone()), Some(cache.to_path_buf()), &applied), progress)
        };
        match loaded.and_then(|Loaded { mut repo, registry_dirs }| {
            let registry = Registry::open(&registry_dirs).map_err(|d| d.message)?;
            analyse(&mut repo, &registry, false, &[], verbose, progress);
            targets_of(repo, registry, &args.cluster)
        }) {
            Ok(prepared) => {
                state.watchers = watch_for_drift(&prepared, daemon, runtime);
                state.applied = Some(prepared);
                // Whatever changed while the daemon was down is looked for now.
                daemon.suspect_drift();
            }
            Err(message) => daemon.update(|s| s.last_error = Some(format!("cannot read the applied commit {applied}: {message}"))),
        }
    } else {
        check_drift(args, settings, daemon, progress, state, notify, &current);
    }
}

/// Plans the applied commit when a watcher saw a change, when no watcher
/// runs, or every --resync: what differs is drift.
fn check_drift(args: &WatchArgs, settings: &Settings, daemon: &Daemon, progress: &Progress, state: &mut Loop, notify: &dyn Fn(Event), current: &weft::watch::Status) {
    if let Some(prepared) = state.applied.as_ref().filter(|_| {
        // The last good commit stays watched while a newer one is invalid.
        args.auto_sync && matches!(current.phase, Phase::Synced | Phase::Invalid)
            && (daemon.drift_suspected() && state.last_drift_check.elapsed() >= MIN_DRIFT_GAP
                || state.watchers.is_none()
                || state.last_drift_check.elapsed() >= args.resync)
    }) {
        daemon.take_drift_suspicion();
        state.last_drift_check = Instant::now();
        let drifted = drift(args, prepared, daemon, progress, &state.leading);
        // Told once per new set of drifted objects, not at every poll.
        if !drifted.is_empty() && drifted != current.drift {
            let mut status = daemon.status();
            status.seen_commit = status.applied_commit.clone();
            notify(event_of(&status, "drift", format!("{} object(s) differ from the applied commit", drifted.len()), drifted));
        }
        let status = daemon.status();
        if (status.drift != current.drift || status.phase != current.phase)
            && let Err(e) = weft::watch::save_state(&settings.state_dir, &status)
        {
            tracing::error!("{e}");
        }
    } else {
        daemon.update(|_| {});
    }
}

/// Each target's name and its objects of `commit` by design, in the
/// order of `prepared.targets`.
fn target_statuses(prepared: &Prepared, commit: &str) -> Vec<(String, weft::watch::TargetStatus)> {
    prepared
        .targets
        .iter()
        .map(|target| {
            let mut designs = std::collections::BTreeMap::new();
            for desired in &target.desired {
                let design = prepared.repo.designs.get(desired.component.design).map_or_else(String::new, |d| d.name.clone());
                *designs.entry(design).or_insert(0) += 1;
            }
            let name = target.context.clone().unwrap_or_else(|| "current".to_owned());
            (name, weft::watch::TargetStatus { commit: Some(commit.to_owned()), designs, pending: None, last_error: None })
        })
        .collect()
}

/// Starts watchers on the kinds `prepared` applied; None when they cannot
/// start (drift is then found by a plan at every poll).
fn watch_for_drift(prepared: &Prepared, daemon: &Arc<Daemon>, runtime: &tokio::runtime::Handle) -> Option<weft::watch::drift::DriftWatch> {
    let clusters = prepared
        .targets
        .iter()
        .map(|t| weft::watch::drift::Watched {
            kubeconfig: t.kubeconfig.clone(),
            context: t.context.clone(),
            kinds: t.desired.iter().map(|d| (d.api_version.clone(), d.kind.clone())).collect(),
        })
        .collect();
    let poke = daemon.clone();
    let changed = move |object: String| {
        tracing::debug!(%object, "changed in the cluster");
        poke.suspect_drift();
    };
    match runtime.block_on(weft::watch::drift::start(clusters, &prepared.inventory.id, changed)) {
        Ok(watchers) => Some(watchers),
        Err(message) => {
            tracing::warn!("cannot watch for drift ({message}); planning at every poll instead");
            None
        }
    }
}

fn event_of(status: &weft::watch::Status, event: &'static str, message: String, objects: Vec<String>) -> Event {
    Event {
        event,
        repo: status.repo.clone(),
        branch: status.branch.clone(),
        commit: status.seen_commit.clone(),
        message,
        objects,
        time: jiff::Timestamp::now().to_string(),
    }
}

/// A working tree's state: its design files, and what else changes what a
/// sync does (weft.yaml, and the policy and model folders it names).
fn tree_fingerprint(loaded: &Loaded) -> String {
    let root = &loaded.repo.root;
    let mut extra: Vec<(String, String)> = Vec::new();
    if let Ok(text) = std::fs::read_to_string(root.join(load::config::FILE_NAME)) {
        extra.push((load::config::FILE_NAME.to_owned(), text));
    }
    for dir in loaded.repo.config.policies.iter().chain(&loaded.repo.config.models) {
        for entry in ignore::Walk::new(root.join(dir)).flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let modified = meta.modified().ok().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
            extra.push((entry.path().display().to_string(), format!("{}:{modified}", meta.len())));
        }
    }
    let files = loaded.repo.sources.iter().map(|f| (f.display.as_str(), &*f.text));
    weft::watch::worktree::fingerprint(files.chain(extra.iter().map(|(name, text)| (name.as_str(), text.as_str()))))
}

/// The input of a working tree: the paths below --repo, read from disk.
fn worktree_input(args: &WatchArgs) -> InputArgs {
    let root = Path::new(&args.repo);
    let paths = args.paths.iter().map(|p| if p == Path::new(".") { root.to_path_buf() } else { root.join(p) }).collect();
    InputArgs { paths, models: args.models.clone(), max_file_size: None, max_depth: None, rev: None, repo: None, git_cache: None }
}

/// Validates, plans and (with auto-sync) applies one commit, recording
/// the outcome in the daemon's status and metrics; what was applied, when
/// it was.
#[allow(clippy::too_many_arguments)]
fn sync(
    args: &WatchArgs,
    state_dir: &Path,
    commit: &str,
    loaded: Result<Loaded, String>,
    committed_at: Option<CommitTime>,
    daemon: &Daemon,
    verbose: bool,
    progress: &Progress,
    leading: &AtomicBool,
) -> Option<Prepared> {
    let started = Instant::now();
    daemon.update(|s| s.seen_commit = Some(commit.to_owned()));
    let fail = |result: &'static str, phase: Phase, message: String| -> Option<Prepared> {
        tracing::error!(commit, phase = ?phase, "{message}");
        daemon.update(|s| {
            s.phase = phase;
            s.last_error = Some(message);
        });
        daemon.record_sync(result, started.elapsed().as_secs_f64());
        None
    };
    let analysed = loaded.and_then(|Loaded { mut repo, registry_dirs }| {
        let registry = Registry::open(&registry_dirs).map_err(|d| d.message)?;
        let diagnostics = analyse(&mut repo, &registry, false, &[], verbose, progress).0;
        Ok((repo, registry, diagnostics))
    });
    let (repo, registry, diagnostics) = match analysed {
        Ok(analysed) => analysed,
        Err(message) => return fail("failure", Phase::Failed, message),
    };
    let errors: Vec<&weft::diagnostic::Diagnostic> = diagnostics.iter().filter(|d| d.is_error()).collect();
    if let Some(first) = errors.first() {
        let at = match (&first.file, &first.span) {
            (Some(file), Some(span)) => format!("{file}:{}:{}: ", span.line, span.column),
            (Some(file), None) => format!("{file}: "),
            _ => String::new(),
        };
        return fail("invalid", Phase::Invalid, format!("not applied: {} error(s), first {at}{}", errors.len(), first.message));
    }
    // Validated above; render without reading or validating again.
    let prepared = match targets_of(repo, registry, &args.cluster) {
        Ok(prepared) => prepared,
        Err(message) => return fail("failure", Phase::Failed, message),
    };
    let options = plan_options(&args.prune, args.concurrency);
    if !args.auto_sync {
        return match live_plans(&prepared, &options) {
            Ok((plans, errors)) if errors.is_empty() => {
                let mut pending = std::collections::BTreeMap::new();
                let mut targets = target_statuses(&prepared, commit);
                for (plan, (_, target)) in plans.iter().zip(targets.iter_mut()) {
                    let mut waiting = std::collections::BTreeMap::new();
                    for change in plan.changes.iter().filter(|c| !matches!(c.action, Action::Unchanged)) {
                        let action = format!("{:?}", change.action).to_lowercase();
                        *waiting.entry(action.clone()).or_insert(0) += 1;
                        *pending.entry(action).or_insert(0) += 1;
                    }
                    target.pending = Some(waiting);
                }
                tracing::info!(commit, pending = ?pending, "planned; auto-sync is off");
                daemon.update(|s| {
                    s.phase = if pending.is_empty() { Phase::Synced } else { Phase::OutOfSync };
                    s.pending = Some(pending);
                    s.last_error = None;
                    s.targets = targets.into_iter().collect();
                });
                daemon.record_sync("success", started.elapsed().as_secs_f64());
                None
            }
            Ok((_, errors)) => fail("failure", Phase::Failed, errors.join("; ")),
            Err(message) => fail("failure", Phase::Failed, message),
        };
    }
    // Validation can take seconds; the lease may have gone meanwhile.
    if !leading.load(Ordering::SeqCst) {
        return fail("failure", Phase::Failed, "not applied: this replica lost the lease".to_owned());
    }
    if let Some(at) = committed_at {
        daemon.record_commit_to_apply(at.elapsed_seconds());
    }
    // Performance tests run against ready objects, so their apply waits.
    let wait = !args.steps.skip_perf && !prepared.tests.is_empty();
    let reconcile = weft::reconcile::Options { concurrency: args.concurrency, force_conflicts: args.prune.force_conflicts, wait, timeout: Duration::from_secs(300) };
    match reconcile_all(&prepared, &options, &reconcile, progress, false) {
        Ok((results, errors)) if errors.is_empty() && !results.iter().any(|(plan, report)| report.failed() || plan.summary().error > 0) => {
            let objects = prepared.targets.iter().map(|t| t.desired.len()).sum();
            tracing::info!(commit, objects, seconds = started.elapsed().as_secs_f64(), "synced");
            let perf = if args.steps.skip_perf || prepared.tests.is_empty() {
                std::collections::BTreeMap::new()
            } else {
                let outcomes = super::perf_command::run_steps(&prepared, &args.steps, &state_dir.join("perf"), Some(commit));
                outcomes
                    .into_iter()
                    .map(|o| {
                        if let Some(run) = &o.run {
                            let latency = [(0.5, run.latencies_ms.p50), (0.9, run.latencies_ms.p90), (0.99, run.latencies_ms.p99)]
                                .into_iter()
                                .chain(run.percentiles_ms.get("p99.9").map(|v| (0.999, *v)))
                                .map(|(q, ms)| (q, ms / 1000.0))
                                .collect();
                            let error_ratio = if run.requests == 0 { 0.0 } else { run.errors as f64 / run.requests as f64 };
                            daemon.record_perf(&o.test, o.failures.is_empty(), weft::watch::PerfFigures { latency, requests_per_second: run.actual_qps, error_ratio });
                        }
                        let verdict = if o.failures.is_empty() { "passed".to_owned() } else { format!("failed: {}", o.failures.join("; ")) };
                        tracing::info!(commit, test = %o.test, %verdict, "performance test");
                        (o.test, verdict)
                    })
                    .collect()
            };
            daemon.update(|s| {
                s.phase = Phase::Synced;
                s.applied_commit = Some(commit.to_owned());
                s.last_sync = Some(jiff::Timestamp::now().to_string());
                s.last_error = None;
                s.pending = None;
                s.objects_managed = objects;
                s.drift = Vec::new();
                s.perf = perf;
                s.targets = target_statuses(&prepared, commit).into_iter().collect();
            });
            daemon.record_sync("success", started.elapsed().as_secs_f64());
            Some(prepared)
        }
        Ok((results, errors)) => {
            let failed = failures(&results, errors);
            fail("failure", Phase::Failed, format!("apply failed: {}", failed.join("; ")))
        }
        Err(message) => fail("failure", Phase::Failed, message),
    }
}

/// What went wrong in an apply: each failed step, then each target's error.
fn failures(results: &[(weft::plan::Plan, weft::reconcile::Report)], errors: Vec<String>) -> Vec<String> {
    results
        .iter()
        .flat_map(|(_, report)| report.steps.iter().filter(|s| matches!(s.outcome, weft::reconcile::Outcome::Failed)).map(|s| format!("{} {}: {}", s.kind, s.name, s.message)))
        .chain(errors)
        .collect()
}

/// Plans the commit last applied against the clusters: changes there are
/// drift (someone else's edit or deletion). Recorded, counted, and with
/// --self-heal applied again. The objects found drifted.
fn drift(args: &WatchArgs, prepared: &Prepared, daemon: &Daemon, progress: &Progress, leading: &AtomicBool) -> Vec<String> {
    let options = plan_options(&args.prune, args.concurrency);
    let Ok((plans, errors)) = live_plans(prepared, &options) else { return Vec::new() };
    if !errors.is_empty() {
        daemon.update(|s| s.last_error = Some(errors.join("; ")));
        return Vec::new();
    }
    let drifted: Vec<String> = plans
        .iter()
        .flat_map(|p| &p.changes)
        // Lost inventory labels are drift too: self-heal puts them back.
        .filter(|c| matches!(c.action, Action::Create | Action::Update | Action::Adopt))
        .map(|c| format!("{} {}{}", c.kind, c.namespace.as_deref().map(|n| format!("{n}/")).unwrap_or_default(), c.name))
        .collect();
    if drifted.is_empty() {
        // Drift undone by someone else is no longer reported.
        daemon.update(|s| s.drift = Vec::new());
        return drifted;
    }
    daemon.record_drift(drifted.len());
    tracing::warn!(objects = ?drifted, "drift from the applied commit");
    daemon.update(|s| s.drift = drifted.clone());
    if !args.self_heal || !leading.load(Ordering::SeqCst) {
        return drifted;
    }
    let reconcile = weft::reconcile::Options { concurrency: args.concurrency, force_conflicts: true, wait: false, timeout: Duration::from_secs(300) };
    match reconcile_all(prepared, &options, &reconcile, progress, false) {
        Ok((results, errors)) if errors.is_empty() && !results.iter().any(|(_, report)| report.failed()) => {
            tracing::info!(objects = drifted.len(), "drift undone (self-heal)");
            daemon.update(|s| {
                s.drift = Vec::new();
                s.last_sync = Some(jiff::Timestamp::now().to_string());
            })
        }
        Ok((results, errors)) => {
            let failed = failures(&results, errors);
            tracing::error!("self-heal failed: {}", failed.join("; "));
            daemon.update(|s| {
                s.phase = Phase::Failed;
                s.last_error = Some(format!("self-heal failed: {}", failed.join("; ")));
            })
        }
        Err(message) => daemon.update(|s| {
            s.phase = Phase::Failed;
            s.last_error = Some(message);
        }),
    }
    drifted
}

/// When a commit was made: its committer time (seconds, as git keeps it)
/// or, for a working tree, when the change was seen.
pub(crate) enum CommitTime {
    Committed(i64),
    Seen(Instant),
}

impl CommitTime {
    fn elapsed_seconds(&self) -> f64 {
        match self {
            CommitTime::Committed(seconds) => (jiff::Timestamp::now().as_millisecond() as f64 / 1000.0 - *seconds as f64).max(0.0),
            CommitTime::Seen(at) => at.elapsed().as_secs_f64(),
        }
    }
}

/// Fills the settings flags left unset from weft.yaml `watch`, read from
/// the followed repository (the working tree, or the branch's tip).
fn settle(args: &mut WatchArgs, cache: &Path) -> Result<Settings, String> {
    let (config, base) = if args.worktree {
        (read_config_from_disk(Path::new(&args.repo))?, PathBuf::from(&args.repo))
    } else {
        let branch = args.branch.clone().unwrap_or_else(|| "HEAD".to_owned());
        let config = load::git::Source::open(&args.repo, cache)
            .and_then(|source| {
                let id = source.resolve(&branch)?;
                source.file(id, load::config::FILE_NAME, 1 << 20)
            })
            .ok()
            .flatten()
            .and_then(|blob| blob.content.ok())
            .map(|bytes| load::config::Config::parse(&String::from_utf8_lossy(&bytes), load::config::FILE_NAME).map_err(|d| format!("{}: {}", load::config::FILE_NAME, d.message)))
            .transpose()?
            .unwrap_or_default();
        // Relative paths of weft.yaml are the daemon's, not the repository's.
        (config, PathBuf::from("."))
    };
    let watch = config.watch;
    args.auto_sync |= watch.auto_sync.unwrap_or(false);
    args.self_heal |= watch.self_heal.unwrap_or(false);
    args.prune.prune |= watch.prune.unwrap_or(false);
    args.leader_elect |= watch.leader_elect.unwrap_or(false);
    if args.cluster.env.is_none() && args.cluster.context.is_none() {
        args.cluster.env = watch.env;
    }
    let interval = match (args.interval, &watch.interval) {
        (Some(interval), _) => interval,
        (None, Some(text)) => parse_duration(text).map_err(|e| format!("weft.yaml watch.interval: {e}"))?,
        (None, None) => Duration::from_secs(30),
    };
    Ok(Settings {
        branch: args.branch.clone().or(watch.branch).unwrap_or_else(|| "HEAD".to_owned()),
        interval,
        listen: args.listen.clone().or(watch.listen).unwrap_or_else(|| "127.0.0.1:9464".to_owned()),
        state_dir: args.state_dir.clone().or_else(|| watch.state_dir.map(|d| base.join(d))).unwrap_or_else(|| PathBuf::from(".weft-watch")),
        webhook_secret_file: args.webhook_secret_file.clone().or_else(|| watch.webhook_secret_file.map(|f| base.join(f))),
        notify: if args.notify.is_empty() { watch.notify } else { args.notify.clone() },
    })
}

fn read_config_from_disk(root: &Path) -> Result<load::config::Config, String> {
    let display = load::display_path(&root.join(load::config::FILE_NAME));
    load::config::Config::find(root, &display).map(Option::unwrap_or_default).map_err(|d| format!("{display}: {}", d.message))
}

/// Joins the election and keeps taking part in it on the server runtime;
/// `leading` follows the outcome.
type Election = (Arc<weft::watch::lease::Elector>, tokio::task::JoinHandle<()>);

fn start_election(args: &WatchArgs, server: &tokio::runtime::Runtime, daemon: &Arc<Daemon>, leading: &Arc<AtomicBool>, stop: &Arc<AtomicBool>) -> Result<Election, String> {
    let namespace = args.lease_namespace.clone().unwrap_or_else(weft::watch::lease::default_namespace);
    let identity = weft::watch::lease::identity();
    let target = server.block_on(weft::cluster::Target::connect(args.cluster.kubeconfig.as_deref(), args.cluster.context.as_deref()))?;
    let elector = Arc::new(weft::watch::lease::Elector::new(target.client, &namespace, &args.lease_name, &identity, args.lease_duration));
    tracing::info!(lease = %args.lease_name, %namespace, %identity, "joining leader election");
    daemon.update(|s| s.leader = Some(false));
    let (elector_task, daemon, leading, stop) = (elector.clone(), daemon.clone(), leading.clone(), stop.clone());
    let lease_duration = args.lease_duration;
    let task = server.spawn(async move {
        let mut renewed = Instant::now();
        while !stop.load(Ordering::SeqCst) {
            let attempt = tokio::time::timeout(elector_task.renew_every(), elector_task.try_lead()).await;
            let leads = match attempt {
                Ok(Ok(true)) => {
                    renewed = Instant::now();
                    true
                }
                Ok(Ok(false)) => false,
                Ok(Err(message)) => {
                    tracing::warn!("{message}");
                    // A leader that cannot renew steps down before its lease lapses for others.
                    leading.load(Ordering::SeqCst) && renewed.elapsed() < lease_duration * 2 / 3
                }
                Err(_) => {
                    tracing::warn!("lease renewal timed out");
                    leading.load(Ordering::SeqCst) && renewed.elapsed() < lease_duration * 2 / 3
                }
            };
            if leads != leading.swap(leads, Ordering::SeqCst) {
                if leads {
                    tracing::info!("became the leader");
                } else {
                    tracing::warn!("lost the lease; standing by");
                }
            }
            daemon.update(|s| s.leader = Some(leads));
            tokio::time::sleep(elector_task.renew_every()).await;
        }
    });
    Ok((elector, task))
}

fn init_logging(format: LogFormat, verbose: bool) {
    let default = if verbose { "weft=debug,info" } else { "info" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.with_ansi(use_color(&std::io::stderr())).try_init(),
    };
}
