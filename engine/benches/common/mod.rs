//! What the benchmarks that time the `weft` binary share: finding it,
//! timing a child process (wall, CPU, peak RSS), reading the machine, and
//! formatting figures. Included by each bench with `#[path]`.

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

pub fn target_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        return PathBuf::from(dir);
    }
    // benches run with the package directory as manifest dir; the
    // workspace's target directory is one level up.
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let root = manifest.parent().filter(|p| p.join("Cargo.toml").exists()).unwrap_or(manifest);
    root.join("target")
}

/// `WEFT_BIN`, else the weft binary cargo built for this bench (the bench
/// profile inherits release, and `cargo bench` rebuilds it when stale),
/// else `target/release/weft` after `cargo build --release -p weft`.
pub fn weft_binary(target: &Path) -> Result<PathBuf, String> {
    if let Some(bin) = std::env::var_os("WEFT_BIN") {
        let bin = PathBuf::from(bin);
        return if bin.exists() { Ok(bin) } else { Err(format!("WEFT_BIN={} does not exist", bin.display())) };
    }
    if let Some(bin) = option_env!("CARGO_BIN_EXE_weft")
        && Path::new(bin).exists()
    {
        return Ok(PathBuf::from(bin));
    }
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(&cargo)
        .args(["build", "--release", "-p", "weft", "--bin", "weft"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .map_err(|e| format!("cannot run {cargo}: {e}"))?;
    let bin = target.join("release/weft");
    if status.success() && bin.exists() {
        Ok(bin)
    } else {
        Err(format!("`cargo build --release -p weft` failed ({status}); set WEFT_BIN to a weft binary"))
    }
}

pub fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let m = v.len() / 2;
    if v.len() % 2 == 1 { v[m] } else { (v[m - 1] + v[m]) / 2.0 }
}

pub fn fmt_int(x: f64) -> String {
    if !x.is_finite() {
        return "-".into();
    }
    let s = format!("{:.0}", x);
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

pub fn cpu_model() -> String {
    fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

/// Cores kept busy by other processes: the non-idle share of all CPU time
/// in /proc/stat over one second while this process sleeps.
pub fn busy_cores() -> Option<f64> {
    fn sample() -> Option<(u64, u64)> {
        let stat = fs::read_to_string("/proc/stat").ok()?;
        let cpu: Vec<u64> = stat.lines().next()?.split_whitespace().skip(1).filter_map(|x| x.parse().ok()).collect();
        // user nice system idle iowait irq softirq steal (guest time is inside user).
        let total: u64 = cpu.iter().take(8).sum();
        let idle = cpu.get(3)? + cpu.get(4).unwrap_or(&0);
        Some((total, idle))
    }
    let (t0, i0) = sample()?;
    std::thread::sleep(std::time::Duration::from_secs(1));
    let (t1, i1) = sample()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let dt = (t1 - t0) as f64;
    (dt > 0.0).then(|| (1.0 - (i1 - i0) as f64 / dt) * cores)
}

pub fn warn_if_busy(busy: Option<f64>) {
    if let Some(b) = busy.filter(|&b| b > 0.25) {
        println!("  warning: other processes keep {b:.2} cores busy; timings are noisy, rerun on an idle machine");
    }
}

pub fn tail(s: &str, max: usize) -> String {
    let s = s.trim();
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &s[start..])
}

/// One timed process: wall time from spawn to reaping, CPU time from
/// `wait4`'s rusage for exactly that child, its peak RSS, and the CPU the
/// bench process itself used meanwhile (the in-process test server, for
/// the reconcile bench).
pub struct Measure {
    pub wall: f64,
    pub cpu: f64,
    /// Peak RSS of the exec'd program (VmHWM), else ru_maxrss.
    pub rss_mib: f64,
    /// wait4's ru_maxrss, inflated by this process's size (see `measure`).
    pub rss_wait4_mib: f64,
    /// CPU of the bench process during the run.
    pub server_cpu: f64,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

pub fn self_cpu() -> f64 {
    // SAFETY: plain old data filled by the kernel.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    tv(u.ru_utime) + tv(u.ru_stime)
}

pub fn tv(t: libc::timeval) -> f64 {
    t.tv_sec as f64 + t.tv_usec as f64 / 1e6
}

pub fn measure(cmd: &mut Command) -> Result<Measure, String> {
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let cpu0 = self_cpu();
    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("cannot start {:?}: {e}", cmd.get_program()))?;
    let reader = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = reader(Box::new(child.stdout.take().expect("piped")));
    let err = reader(Box::new(child.stderr.take().expect("piped")));
    let pid = child.id() as libc::pid_t;
    // Peak RSS: wait4's ru_maxrss is not usable here. The child is spawned
    // with vfork semantics from this process, and Linux carries the high
    // water mark of the parent's address space (this process holds the
    // test server and its objects) into the child's ru_maxrss at exec. So
    // VmHWM of the exec'd program is sampled from /proc every 2 ms instead;
    // it is a high water mark, so only growth in the last 2 ms can be missed.
    let comm: String = Path::new(cmd.get_program()).file_name().map_or(String::new(), |n| n.to_string_lossy().chars().take(15).collect());
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut peak_kib: Option<u64> = None;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let Ok(status) = fs::read_to_string(format!("/proc/{pid}/status")) else { break };
                let field = |k: &str| status.lines().find_map(|l| l.strip_prefix(k)).map(str::trim);
                // Before exec the child still shows this process's name and memory.
                if field("Name:") == Some(comm.as_str())
                    && let Some(kib) = field("VmHWM:").and_then(|v| v.trim_end_matches("kB").trim().parse::<u64>().ok())
                {
                    peak_kib = Some(peak_kib.map_or(kib, |p| p.max(kib)));
                }
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
            peak_kib
        })
    };
    let mut status: libc::c_int = 0;
    // SAFETY: rusage is plain old data; wait4 fills it for our own child,
    // which std never reaps because we never call `Child::wait`.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(format!("wait4: {e}"));
        }
    }
    let wall = start.elapsed().as_secs_f64();
    let server_cpu = self_cpu() - cpu0;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let polled_kib = poller.join().ok().flatten();
    drop(child);
    let code = if libc::WIFEXITED(status) { Some(libc::WEXITSTATUS(status)) } else { None };
    Ok(Measure {
        wall,
        cpu: tv(usage.ru_utime) + tv(usage.ru_stime),
        // Linux reports both in KiB.
        rss_mib: polled_kib.map_or(usage.ru_maxrss as f64, |k| k as f64) / 1024.0,
        rss_wait4_mib: usage.ru_maxrss as f64 / 1024.0,
        server_cpu,
        code,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
    })
}
