//! The bridge under test, as its own process: configured from `config.example.yaml` the way an
//! admin does (and as `tests/support/bridge.rs` does), registered with
//! `generate-registration`, started with `run`, logging at `warn`.
//!
//! A separate process, so that its CPU time and memory are measured alone (`/proc/<pid>`).
//! Its store is SQLite in its temporary folder, or a fresh schema `bench_<random>` in
//! PostgreSQL, dropped again when the bridge is.

use std::{
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};
use tempfile::TempDir;

use crate::standin::DOMAIN;

/// Which database the bridge stores in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    Sqlite,
    Postgres { url: String },
}

/// A configured (and maybe running) bridge in its own folder.
pub struct BridgeProc {
    dir: TempDir,
    bin: PathBuf,
    pub port: u16,
    child: Option<Child>,
    /// The PostgreSQL schema to drop at the end, with the server's URL.
    schema: Option<(String, String)>,
    /// The database URI the bridge uses.
    pub database_uri: String,
    pub database: Database,
}

impl BridgeProc {
    /// Writes `config.yaml` for server [`DOMAIN`] with the homeserver at `homeserver`, and
    /// generates the registration.
    pub async fn configure(
        bin: &Path,
        example: &Path,
        homeserver: &str,
        database: &Database,
    ) -> anyhow::Result<BridgeProc> {
        let dir = tempfile::Builder::new().prefix("bench-bridge-").tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let example = std::fs::read_to_string(example)
            .with_context(|| format!("reading {}", example.display()))?;
        let (schema, database_uri) = match database {
            Database::Sqlite => {
                (None, format!("sqlite:{}", dir.path().join("interop-bridge.db").display()))
            }
            Database::Postgres { url } => {
                let schema = format!("bench_{:016x}", rand::random::<u64>());
                let admin = sqlx::PgPool::connect(url)
                    .await
                    .with_context(|| format!("connecting to PostgreSQL at {url}"))?;
                sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await?;
                admin.close().await;
                let separator = if url.contains('?') { '&' } else { '?' };
                let uri = format!("{url}{separator}options=-c%20search_path%3D{schema}");
                (Some((url.clone(), schema)), uri)
            }
        };
        let kind = match database {
            Database::Sqlite => "sqlite",
            Database::Postgres { .. } => "postgres",
        };
        let config = example
            .replace("example.org: user", &format!("{DOMAIN}: user"))
            .replace("\"@admin:example.org\": admin", &format!("\"@admin:{DOMAIN}\": admin"))
            .replace("example.org", DOMAIN)
            .replace("29340", &port.to_string())
            .replace("http://127.0.0.1:8008", homeserver)
            .replace("type: sqlite", &format!("type: {kind}"))
            .replace("uri: sqlite:interop-bridge.db", &format!("uri: \"{database_uri}\""))
            .replace("level: info", "level: warn");
        let bridge = BridgeProc {
            dir,
            bin: bin.to_owned(),
            port,
            child: None,
            schema,
            database_uri,
            database: database.clone(),
        };
        std::fs::write(bridge.config_path(), config)?;
        let output = Command::new(&bridge.bin)
            .args(["generate-registration", "--config"])
            .arg(bridge.config_path())
            .arg("--registration")
            .arg(bridge.registration_path())
            .output()
            .with_context(|| format!("running {}", bridge.bin.display()))?;
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

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn partner_base(&self) -> String {
        format!("http://127.0.0.1:{}/_interop", self.port)
    }

    pub fn log(&self) -> String {
        String::from_utf8_lossy(&std::fs::read(self.log_path()).unwrap_or_default()).into_owned()
    }

    /// A value from the generated config, e.g. `hs_token`.
    pub fn config_value(&self, key: &str) -> anyhow::Result<String> {
        let text = std::fs::read_to_string(self.config_path())?;
        text.lines()
            .find_map(|line| line.trim().strip_prefix(&format!("{key}:")))
            .map(|value| {
                value.split(" #").next().unwrap_or_default().trim().trim_matches('"').to_owned()
            })
            .with_context(|| format!("{key} not in the bridge's config"))
    }

    /// Has the homeserver push to `url` instead of straight to the bridge (the registration's
    /// `url`).
    pub fn push_through(&self, url: &str) -> anyhow::Result<()> {
        let text = std::fs::read_to_string(self.registration_path())?;
        let line =
            text.lines().find(|l| l.starts_with("url:")).context("no url in the registration")?;
        std::fs::write(self.registration_path(), text.replacen(line, &format!("url: {url}"), 1))?;
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

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Starts `interop-bridge run` and waits until it says it is running. Returns the time
    /// from spawning to that line, and the start-up time the bridge itself logged.
    pub async fn start(&mut self) -> anyhow::Result<(Duration, Option<u64>)> {
        if self.child.is_some() {
            bail!("the bridge is already running");
        }
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.log_path())?;
        let from = log.metadata()?.len() as usize;
        let spawned = Instant::now();
        let child = Command::new(&self.bin)
            .args(["run", "--config"])
            .arg(self.config_path())
            .env("NO_COLOR", "1")
            // Warnings only, and the one start-up line the benchmark waits for.
            .env("RUST_LOG", "warn,interop_bridge::run=info")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("starting {}", self.bin.display()))?;
        self.child = Some(child);
        let deadline = spawned + Duration::from_secs(120);
        while Instant::now() < deadline {
            let text = self.log();
            let new = text.get(from..).unwrap_or_default();
            if let Some(line) = new.lines().find(|l| l.contains("bridge is running")) {
                let elapsed = spawned.elapsed();
                let startup_ms = line
                    .split("startup_ms=")
                    .nth(1)
                    .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
                    .and_then(|n| n.parse().ok());
                return Ok((elapsed, startup_ms));
            }
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                self.child = None;
                bail!("the bridge exited with {status} during start-up:\n{new}");
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        bail!("the bridge did not start within 120 s:\n{}", self.log())
    }

    /// Stops the bridge with SIGTERM and waits (up to 30 s, then SIGKILL).
    pub async fn stop(&mut self) -> anyhow::Result<()> {
        let Some(mut child) = self.child.take() else { return Ok(()) };
        Command::new("kill").args(["-TERM", &child.id().to_string()]).status()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        child.kill()?;
        child.wait()?;
        let log = self.log();
        let tail: Vec<&str> = log.lines().rev().take(20).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        bail!(
            "the bridge did not stop within 30 s of SIGTERM; the end of its log:\n{}",
            tail.join("\n")
        )
    }

    /// Drops the PostgreSQL schema, if there is one.
    pub async fn drop_schema(&mut self) {
        if let Some((url, schema)) = self.schema.take()
            && let Ok(admin) = sqlx::PgPool::connect(&url).await
        {
            let _ = sqlx::query(&format!("DROP SCHEMA {schema} CASCADE")).execute(&admin).await;
            admin.close().await;
        }
    }

    /// Warnings and errors the bridge logged (its log is at `warn`).
    pub fn warnings(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|l| l.contains("WARN") || l.contains("ERROR"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for BridgeProc {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
