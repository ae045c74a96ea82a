//! `weft-testserver --listen 127.0.0.1:PORT --kubeconfig-out FILE`: serves
//! until killed; prints the bound address on stdout.

// glibc's allocator spent most of a large LIST in malloc bookkeeping. Only
// the binary sets it: in-process, the test binary's allocator applies.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use weft_testserver::{Options, TestServer};

#[derive(Parser)]
#[command(name = "weft-testserver", about = "A Kubernetes-API-compatible test server (in memory, plain HTTP, no auth)")]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: std::net::SocketAddr,
    /// Write a kubeconfig (context "weft-test") pointing at the server here.
    #[arg(long)]
    kubeconfig_out: Option<PathBuf>,
    /// Do not simulate controllers (workloads stay unready).
    #[arg(long)]
    no_auto_ready: bool,
    /// Delay before a CustomResourceDefinition is established, in milliseconds.
    #[arg(long, default_value_t = 0)]
    crd_establish_delay_ms: u64,
    /// How long a deleted Namespace stays Terminating, in milliseconds.
    #[arg(long, default_value_t = 500)]
    namespace_delete_delay_ms: u64,
}

fn main() {
    let args = Args::parse();
    let server = TestServer::start_with(Options {
        auto_ready: !args.no_auto_ready,
        crd_establish_delay: Duration::from_millis(args.crd_establish_delay_ms),
        listen: Some(args.listen),
        namespace_delete_delay: Duration::from_millis(args.namespace_delete_delay_ms),
    });
    if let Some(path) = &args.kubeconfig_out
        && let Err(e) = server.write_kubeconfig(path) {
            eprintln!("weft-testserver: cannot write {}: {e}", path.display());
            std::process::exit(2);
        }
    println!("{}", server.addr());
    let _ = std::io::stdout().flush();
    loop {
        std::thread::park();
    }
}
