//! A throwaway Synapse on loopback for `--homeserver synapse`: the end-to-end figures, where a
//! message's trip includes a real homeserver.
//!
//! Installing, configuring and starting Synapse is `scripts/synapse.sh`'s job (the tests and
//! the demo use it too), so the benchmark's Synapse is set up exactly like theirs. This type
//! only owns the server: it picks the port, registers users with the script, and stops Synapse
//! when dropped — also when the benchmark fails half-way — while the script's `--watch-pid`
//! stops it if the benchmark is killed outright. The data folder is removed with it.

use std::{
    ffi::OsStr,
    path::{Path, PathBuf},
    process::Stdio,
};

use anyhow::{Context, bail};
use serde::Deserialize;
use tempfile::TempDir;
use tokio::process::Command;

/// A running Synapse, stopped when dropped.
pub struct Synapse {
    dir: TempDir,
    port: u16,
    script: PathBuf,
}

/// A user registered on Synapse: its id and access token.
#[derive(Deserialize)]
pub struct Registered {
    pub user_id: String,
    pub access_token: String,
}

impl Synapse {
    /// Installs Synapse if needed (the first run takes a minute) and picks its port and data
    /// folder; [`Synapse::start`] starts it. The port is known first because the bridge's
    /// config names it, and Synapse needs the bridge's registration to start.
    pub async fn prepare(repo_root: &Path) -> anyhow::Result<Synapse> {
        let script = repo_root.join("scripts").join("synapse.sh");
        anyhow::ensure!(script.is_file(), "no {} (is this a checkout?)", script.display());
        // The install reports its progress itself, on stderr: it may take a while.
        let status = Command::new("bash")
            .arg(&script)
            .arg("install")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .await
            .with_context(|| format!("running {}", script.display()))?;
        anyhow::ensure!(status.success(), "installing Synapse with {} failed", script.display());
        let dir = tempfile::Builder::new().prefix("bench-synapse-").tempdir()?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        Ok(Synapse { dir, port, script })
    }

    /// Starts Synapse for `server_name` with the appservice registrations in `registrations`,
    /// and waits until its client API answers.
    pub async fn start(&self, server_name: &str, registrations: &[&Path]) -> anyhow::Result<()> {
        let watch = std::process::id().to_string();
        let port = self.port.to_string();
        let mut args: Vec<&OsStr> = vec![
            "start".as_ref(),
            self.dir.path().as_os_str(),
            port.as_ref(),
            "--server-name".as_ref(),
            server_name.as_ref(),
            "--watch-pid".as_ref(),
            watch.as_ref(),
        ];
        for registration in registrations {
            args.extend(["--registration".as_ref(), registration.as_os_str()]);
        }
        self.script(&args).await.map(drop)
    }

    /// Writes the registration of the baseline's own appservice into Synapse's folder: users
    /// `@bench_…`, no URL (Synapse pushes it nothing), not rate-limited — its users send as the
    /// bridge's ghosts do, without a bridge. Returns its path and `as_token`.
    pub fn baseline_registration(&self, server_name: &str) -> anyhow::Result<(PathBuf, String)> {
        let token = || format!("{:016x}{:016x}", rand::random::<u64>(), rand::random::<u64>());
        let (as_token, hs_token) = (token(), token());
        // A regex in a YAML double-quoted string: `\\.` there is `\.` in the regex.
        let domain = server_name.replace('.', r"\\.");
        let yaml = format!(
            r#"id: interop-bench-baseline
url: null
as_token: "{as_token}"
hs_token: "{hs_token}"
sender_localpart: bench_baseline
rate_limited: false
namespaces:
  users:
    - exclusive: true
      regex: "@bench_.*:{domain}"
  aliases: []
  rooms: []
"#
        );
        let path = self.dir.path().join("baseline-registration.yaml");
        std::fs::write(&path, yaml)?;
        Ok((path, as_token))
    }

    /// The client-server API, e.g. `http://127.0.0.1:34567`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Synapse's process id, for its CPU time.
    pub fn pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.dir.path().join("synapse.pid")).ok()?.trim().parse().ok()
    }

    /// Registers `localpart` with the registration shared secret (public registration is off).
    pub async fn register(&self, localpart: &str) -> anyhow::Result<Registered> {
        let password = format!("pw-{:016x}", rand::random::<u64>());
        let port = self.port.to_string();
        let args: [&OsStr; 5] = [
            "register".as_ref(),
            self.dir.path().as_os_str(),
            port.as_ref(),
            localpart.as_ref(),
            password.as_ref(),
        ];
        let out = self.script(&args).await?;
        serde_json::from_str(&out)
            .with_context(|| format!("registering {localpart}: unexpected answer from Synapse"))
    }

    /// "Synapse <version>", as the running server reports it.
    pub async fn version(&self, http: &reqwest::Client) -> String {
        let url = format!("{}/_synapse/admin/v1/server_version", self.url());
        let version = async {
            let body: serde_json::Value = http.get(url).send().await.ok()?.json().await.ok()?;
            body["server_version"].as_str().map(str::to_owned)
        };
        match version.await {
            Some(version) => format!("Synapse {version} on loopback"),
            None => "Synapse (version unknown) on loopback".to_owned(),
        }
    }

    /// Runs the script; returns its stdout, or fails with its stderr.
    async fn script(&self, args: &[&OsStr]) -> anyhow::Result<String> {
        let output = Command::new("bash")
            .arg(&self.script)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .await
            .with_context(|| format!("running {}", self.script.display()))?;
        if !output.status.success() {
            // The script never prints secrets or tokens on stderr.
            bail!(
                "{} {} failed ({}):\n{}",
                self.script.display(),
                args.first().map(|a| a.to_string_lossy()).unwrap_or_default(),
                output.status,
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for Synapse {
    fn drop(&mut self) {
        // Synchronous: a drop cannot wait on the runtime, and stopping takes well under a second.
        let stopped = std::process::Command::new("bash")
            .arg(&self.script)
            .arg("stop")
            .arg(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status();
        if !stopped.is_ok_and(|s| s.success()) {
            eprintln!(
                "warning: could not stop the benchmark's Synapse ({})",
                self.dir.path().display()
            );
        }
    }
}
