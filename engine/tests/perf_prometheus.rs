//! `weft perf run --prometheus`: a real Prometheus server (Debian's
//! `prometheus`) scraping a real node exporter (`prometheus-node-exporter`),
//! both started here on free ports, is asked for the machine's CPU and
//! memory over the test window; the figures land in the result. Skipped,
//! with a note, when the two programs are not installed (`.ci/run`
//! installs them).

mod common;

use common::http_target;
use std::io::Read;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn get(url: &str) -> Option<String> {
    let rest = url.strip_prefix("http://")?;
    let (host, path) = rest.split_once('/').map_or((rest, "/".to_owned()), |(h, p)| (h, format!("/{p}")));
    let mut stream = std::net::TcpStream::connect(host).ok()?;
    use std::io::Write;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned())
}

fn installed(program: &str) -> bool {
    Command::new(program).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok()
}

#[test]
fn target_cpu_and_memory_come_from_a_real_prometheus() {
    if !installed("prometheus") || !installed("prometheus-node-exporter") {
        // CI installs them (.ci/run): there a missing server is a failure, not a skip.
        assert!(std::env::var_os("CI").is_none(), "prometheus and prometheus-node-exporter must be installed in CI");
        eprintln!("skipped: prometheus and prometheus-node-exporter are not installed (Debian packages of the same names; .ci/run installs them)");
        return;
    }
    let scratch = tempfile::tempdir().unwrap();
    let (exporter_port, prometheus_port) = (free_port(), free_port());
    let _exporter = Killed(
        Command::new("prometheus-node-exporter")
            .arg(format!("--web.listen-address=127.0.0.1:{exporter_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let config = scratch.path().join("prometheus.yml");
    std::fs::write(&config, format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: node\n    static_configs:\n      - targets: ['127.0.0.1:{exporter_port}']\n")).unwrap();
    let _prometheus = Killed(
        Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", scratch.path().join("data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{prometheus_port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let prometheus = format!("http://127.0.0.1:{prometheus_port}");
    // Ready, and the exporter scraped a few times (rate() needs two points).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let up = get(&format!("{prometheus}/api/v1/query?query=count_over_time(up%5B1m%5D)")).unwrap_or_default();
        let samples: f64 = serde_json::from_str::<serde_json::Value>(&up).ok().and_then(|v| v["data"]["result"][0]["value"][1].as_str().and_then(|s| s.parse().ok())).unwrap_or(0.0);
        if samples >= 3.0 {
            break;
        }
        assert!(Instant::now() < deadline, "Prometheus did not scrape the exporter: {up}");
        std::thread::sleep(Duration::from_millis(250));
    }

    let url = format!("{}/", http_target(Duration::ZERO));
    let output = Command::new(env!("CARGO_BIN_EXE_weft"))
        .args(["perf", "run", "--url", &url, "-c", "4", "-d", "3s", "--warmup", "0s", "--format", "json"])
        .args(["--prometheus", &prometheus, "--prometheus-query", "scrapes=count(up)"])
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let run: weft::perf::Run = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&output.stdout)));
    let metrics = &run.environment.target_metrics;
    let cpu = metrics.get("node_cpu_percent_avg").copied().unwrap_or_else(|| panic!("no CPU figure: {metrics:?} {stderr}"));
    assert!((0.0..=100.0).contains(&cpu) && cpu > 0.0, "CPU busy share {cpu}: the generator itself was busy");
    assert!(metrics["node_cpu_percent_max"] >= cpu);
    let memory = metrics["node_memory_used_mib_avg"];
    assert!(memory > 16.0 && memory < 1024.0 * 1024.0, "used memory {memory} MiB");
    assert_eq!(metrics["scrapes_avg"], 1.0, "the user's own query: {metrics:?}");
    assert!(run.requests > 0);
}
