//! The shipped Grafana dashboard queries only metrics `weft watch`
//! exports, and is importable as is (its data source is an input).

use std::collections::BTreeSet;

#[test]
fn the_dashboard_queries_only_metrics_weft_exports() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards/weft.json");
    let dashboard: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    let panels = dashboard["panels"].as_array().unwrap();
    assert!(panels.len() >= 10);

    // Every series a daemon can export, with each kind of record made once.
    let daemon = weft::watch::Daemon::new(weft::watch::Status { leader: Some(true), ..Default::default() }, None);
    daemon.record_sync("success", 0.3);
    daemon.record_commit_to_apply(0.2);
    daemon.record_drift(1);
    daemon.record_notification("delivered");
    daemon.record_perf("shop/checkout (shop)", true, weft::watch::PerfFigures { latency: vec![(0.5, 0.001), (0.99, 0.004)], requests_per_second: 990.0, error_ratio: 0.0 });
    let exported: BTreeSet<String> = daemon
        .metrics_text()
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap().to_owned())
        .collect();

    let mut queried = BTreeSet::new();
    for panel in panels {
        assert_eq!(panel["datasource"]["uid"], "${DS_PROMETHEUS}", "panel {} names its data source through the input", panel["title"]);
        for target in panel["targets"].as_array().unwrap() {
            let expr = target["expr"].as_str().unwrap();
            for word in expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).filter(|w| w.starts_with("weft_")) {
                queried.insert(word.to_owned());
            }
        }
    }
    assert!(queried.len() >= 10, "{queried:?}");
    for metric in &queried {
        assert!(exported.contains(metric), "the dashboard queries {metric}, which weft does not export: {exported:?}");
    }
    for expected in ["weft_sync_duration_seconds_bucket", "weft_commit_to_apply_seconds_bucket", "weft_perf_latency_seconds", "weft_drift_events_total"] {
        assert!(queried.contains(expected), "the dashboard shows {expected}");
    }
}
