//! A throwaway Synapse homeserver for one test, on a free loopback port with a fresh data dir.
//!
//! The heavy lifting (install, config, start-up wait) lives in `scripts/synapse.sh`, so the demo
//! and humans use the same server set-up as the tests. This type only owns the process: it stops
//! Synapse on drop, including when the test panics, and the script's `--watch-pid` stops it when
//! the test process is killed outright.

use std::{
    ffi::OsStr,
    net::TcpListener,
    path::{Path, PathBuf},
    process::Command,
    time::Instant,
};

use anyhow::{Context, bail};
use tempfile::TempDir;

/// Set to keep the data dir (database, logs) of every test Synapse, not only of failed tests.
const KEEP_ENV: &str = "INTEROP_BRIDGE_KEEP_SYNAPSE";
/// How often a start is retried when another process took the chosen port in the meantime.
const PORT_ATTEMPTS: u32 = 3;

/// A running Synapse, stopped when dropped.
pub struct Synapse {
    /// `None` only while dropping, after the dir was handed to `TempDir::keep`.
    data_dir: Option<TempDir>,
    port: u16,
    server_name: String,
    registrations: Vec<PathBuf>,
    running: bool,
    pub(super) http: reqwest::Client,
}

impl Synapse {
    /// Starts Synapse with server name `localhost` and the given appservice registrations.
    ///
    /// Blocks for the few seconds Synapse takes to start (longer on the first run, which installs
    /// it). In a multi-threaded tokio test that is fine; elsewhere use `spawn_blocking`.
    pub fn start(registrations: &[&Path]) -> anyhow::Result<Synapse> {
        Self::start_with_server_name(registrations, "localhost")
    }

    /// Like [`Synapse::start`], with another server name (e.g. the one a bridge config expects).
    pub fn start_with_server_name(
        registrations: &[&Path],
        server_name: &str,
    ) -> anyhow::Result<Synapse> {
        let data_dir = tempfile::Builder::new().prefix("synapse-").tempdir()?;
        let mut synapse = Synapse {
            data_dir: Some(data_dir),
            port: 0,
            server_name: server_name.to_owned(),
            registrations: registrations.iter().map(|path| path.to_path_buf()).collect(),
            running: false,
            http: reqwest::Client::new(),
        };
        for attempt in 1..=PORT_ATTEMPTS {
            synapse.port = free_port()?;
            match synapse.start_again() {
                Ok(()) => return Ok(synapse),
                // Another test may have bound the port between our probe and Synapse's bind.
                Err(error) if attempt < PORT_ATTEMPTS && synapse.port_was_taken() => {
                    eprintln!(
                        "synapse: port {} was taken, trying another ({error:#})",
                        synapse.port
                    );
                }
                Err(error) => return Err(error),
            }
        }
        unreachable!("the last attempt returns")
    }

    /// The client-server API base URL, e.g. `http://127.0.0.1:34567`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn server_name(&self) -> &str {
        &self.server_name
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The data dir: `homeserver.yaml`, the SQLite database, `homeserver.log`, `synapse.out`.
    pub fn data_dir(&self) -> &Path {
        self.data_dir.as_ref().expect("data dir lives until drop").path()
    }

    /// Stops Synapse (for fault injection: the homeserver goes away mid-test).
    pub fn stop(&mut self) -> anyhow::Result<()> {
        if self.running {
            let data_dir = self.data_dir().to_owned();
            run_script(&[OsStr::new("stop"), data_dir.as_os_str()])?;
            self.running = false;
        }
        Ok(())
    }

    /// Starts a stopped Synapse again on the same port with the same data.
    pub fn start_again(&mut self) -> anyhow::Result<()> {
        if self.running {
            bail!("Synapse is already running");
        }
        let started = Instant::now();
        let mut args: Vec<String> = vec![
            "start".into(),
            self.data_dir().display().to_string(),
            self.port.to_string(),
            "--server-name".into(),
            self.server_name.clone(),
            "--watch-pid".into(),
            std::process::id().to_string(),
        ];
        for registration in &self.registrations {
            args.push("--registration".into());
            args.push(registration.display().to_string());
        }
        run_script(&args)?;
        self.running = true;
        eprintln!(
            "synapse: running at {} after {:.1}s",
            self.url(),
            started.elapsed().as_secs_f64()
        );
        Ok(())
    }

    /// Stops and starts Synapse with the same data; users, rooms and tokens survive.
    pub fn restart(&mut self) -> anyhow::Result<()> {
        self.stop()?;
        self.start_again()
    }

    fn port_was_taken(&self) -> bool {
        std::fs::read_to_string(self.data_dir().join("synapse.out"))
            .is_ok_and(|out| out.contains("Address already in use"))
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        if let Err(error) = self.stop() {
            eprintln!("synapse: could not stop Synapse: {error:#}");
        }
        // A failed test's homeserver log is the first thing one wants to read.
        if (std::thread::panicking() || std::env::var_os(KEEP_ENV).is_some())
            && let Some(dir) = self.data_dir.take()
        {
            eprintln!("synapse: kept data dir {} (see homeserver.log)", dir.keep().display());
        }
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn script_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/synapse.sh")
}

/// Runs `scripts/synapse.sh` and fails with its output when it fails.
fn run_script<S: AsRef<OsStr>>(args: &[S]) -> anyhow::Result<()> {
    let script = script_path();
    let output = Command::new("bash")
        .arg(&script)
        .args(args)
        .output()
        .with_context(|| format!("could not run {}", script.display()))?;
    // The script reports install and start times on stderr; it never prints secrets there.
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        bail!("{} failed ({}):\n{stderr}", script.display(), output.status);
    }
    eprint!("{stderr}");
    Ok(())
}
