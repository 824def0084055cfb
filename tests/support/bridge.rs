//! The bridge binary as an admin runs it: configured from `config.example.yaml`, registered with
//! `generate-registration`, started with `run`, and stopped with SIGTERM (or killed outright with
//! SIGKILL, for fault injection).
//!
//! Tests use the real binary (not the library in-process) so that the command line, the config
//! file, start-up, logging and shutdown are all exercised the way users meet them.

use std::{
    net::TcpListener,
    path::{Path, PathBuf},
    process::{Child, Command, ExitStatus, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use tempfile::TempDir;

/// The bridge's binary, built by cargo for this test run.
pub const BIN: &str = env!("CARGO_BIN_EXE_interop-bridge");

/// A configured (and maybe running) bridge in its own folder.
pub struct Bridge {
    dir: TempDir,
    pub port: u16,
    child: Option<Child>,
}

impl Bridge {
    /// Writes `config.yaml` from the example for server `localhost` (every local user may use the
    /// bridge; `@mallory:localhost` only at relay level) and generates the registration.
    pub fn configure() -> anyhow::Result<Bridge> {
        let dir = tempfile::Builder::new().prefix("bridge-").tempdir()?;
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let example = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.yaml"),
        )?;
        let config = example
            .replace("example.org: user", "localhost: user")
            .replace("\"@admin:example.org\": admin", "\"@mallory:localhost\": relay")
            .replace("example.org", "localhost")
            .replace("29340", &port.to_string())
            .replace("level: info", "level: debug");
        let bridge = Bridge { dir, port, child: None };
        std::fs::write(bridge.config_path(), config)?;
        let output = Command::new(BIN)
            .args(["generate-registration", "--config"])
            .arg(bridge.config_path())
            .arg("--registration")
            .arg(bridge.registration_path())
            .output()?;
        if !output.status.success() {
            bail!("generate-registration failed: {}", String::from_utf8_lossy(&output.stderr));
        }
        Ok(bridge)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    pub fn registration_path(&self) -> PathBuf {
        self.dir.path().join("registration.yaml")
    }

    pub fn log_path(&self) -> PathBuf {
        self.dir.path().join("bridge.log")
    }

    /// The whole log, every run of the process included. Lossy: a SIGKILL may cut a line in
    /// the middle of a character.
    pub fn log(&self) -> String {
        self.log_since(0)
    }

    /// The log from byte `offset` on.
    fn log_since(&self, offset: usize) -> String {
        let bytes = std::fs::read(self.log_path()).unwrap_or_default();
        String::from_utf8_lossy(bytes.get(offset..).unwrap_or_default()).into_owned()
    }

    /// A value from the generated config, e.g. `as_token`.
    pub fn config_value(&self, key: &str) -> anyhow::Result<String> {
        let text = std::fs::read_to_string(self.config_path())?;
        text.lines()
            .find_map(|line| line.trim().strip_prefix(&format!("{key}:")))
            .map(|value| {
                value.split(" #").next().unwrap_or_default().trim().trim_matches('"').to_owned()
            })
            .with_context(|| format!("{key} not in config"))
    }

    /// Points the config at the homeserver (known only once Synapse runs).
    pub fn set_homeserver(&self, url: &str) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(self.config_path())?;
        std::fs::write(self.config_path(), text.replace("http://127.0.0.1:8008", url))?;
        Ok(())
    }

    /// Points the config at the gatekeeper's HTTP API.
    pub fn set_gatekeeper(&self, url: &str) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(self.config_path())?;
        std::fs::write(
            self.config_path(),
            text.replacen("address: \"\"", &format!("address: \"{url}\""), 1),
        )?;
        Ok(())
    }

    /// Where the bridge serves its partner endpoints (JWKS, push, media).
    pub fn partner_base(&self) -> String {
        format!("http://127.0.0.1:{}/_interop", self.port)
    }

    /// Starts `interop-bridge run` and waits until it says it is running.
    pub fn start(&mut self) -> anyhow::Result<()> {
        let from = self.launch()?;
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if self.log_since(from).contains("bridge is running") {
                return Ok(());
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                bail!("the bridge exited with {status} during start-up:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        bail!("the bridge did not start within 60 s:\n{}", self.log())
    }

    /// Starts `interop-bridge run` without waiting for it (to kill it during start-up).
    /// Returns where this run's output begins in the log: the file is appended to across
    /// restarts, so only what follows counts.
    pub fn launch(&mut self) -> anyhow::Result<usize> {
        if self.child.is_some() {
            bail!("the bridge is already running");
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let from = log.metadata()?.len() as usize;
        let child = Command::new(BIN)
            .args(["run", "--config"])
            .arg(self.config_path())
            .env("NO_COLOR", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()?;
        self.child = Some(child);
        Ok(from)
    }

    /// Whether the bridge process runs (it was started and not stopped or killed since).
    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// Kills the bridge with SIGKILL, as a crash or the OOM killer would: no shutdown code runs,
    /// whatever was in flight is cut off mid-way.
    pub fn kill(&mut self) -> anyhow::Result<()> {
        let mut child = self.child.take().context("the bridge is not running")?;
        // `Child::kill` sends SIGKILL on Unix.
        child.kill()?;
        child.wait()?;
        Ok(())
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(&mut self) -> anyhow::Result<ExitStatus> {
        let mut child = self.child.take().context("the bridge is not running")?;
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait()? {
                return Ok(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        child.kill()?;
        bail!("the bridge did not stop within 30 s of SIGTERM")
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!("--- bridge log ---\n{}", self.log());
        }
    }
}
