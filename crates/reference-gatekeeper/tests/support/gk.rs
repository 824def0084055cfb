//! Driving the real binaries: `gatekeeper serve` and `gk`, as processes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

pub const GK: &str = env!("CARGO_BIN_EXE_gk");
pub const GATEKEEPER: &str = env!("CARGO_BIN_EXE_gatekeeper");

/// A `gatekeeper serve` process; killed (SIGTERM) on drop.
pub struct GatekeeperProc {
    child: Child,
    pub http: String,
    pub chat: String,
}

impl GatekeeperProc {
    pub fn start(config: &Path) -> Self {
        let mut child = Command::new(GATEKEEPER)
            .args(["serve", "--config"])
            .arg(config)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gatekeeper starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let v: Value = serde_json::from_str(&line).expect("gatekeeper prints its addresses");
        Self {
            child,
            http: v["http"].as_str().unwrap().to_owned(),
            chat: v["chat"].as_str().unwrap().to_owned(),
        }
    }

    /// Graceful stop (SIGTERM) and wait.
    pub fn stop(mut self) {
        terminate(&mut self.child);
    }
}

fn terminate(child: &mut Child) {
    let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

impl Drop for GatekeeperProc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            terminate(&mut self.child);
        }
    }
}

/// The result of one `gk` run.
#[derive(Debug)]
pub struct Out {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    pub fn json(&self) -> Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {self:?}"))
    }

    pub fn ok(self) -> Self {
        assert_eq!(self.code, 0, "gk failed: {self:?}");
        self
    }
}

/// Runs `gk --home <home> <args…>`.
pub fn gk(home: &Path, args: &[&str]) -> Out {
    let out = Command::new(GK).arg("--home").arg(home).args(args).output().expect("gk runs");
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A running `gk listen`, its JSON lines collected by a thread.
pub struct Listener {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    pub home: PathBuf,
}

impl Listener {
    pub fn start(home: &Path) -> Self {
        let mut child = Command::new(GK)
            .arg("--home")
            .arg(home)
            .arg("listen")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gk listen starts");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(v) = serde_json::from_str::<Value>(&line) {
                    sink.lock().unwrap().push(v);
                }
            }
        });
        let l = Self { child, lines, home: home.to_owned() };
        l.wait_for("connected", |v| v["event"] == "offline_complete");
        l
    }

    /// Waits until an event matches; returns it.
    pub fn wait_for(&self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = self.lines.lock().unwrap().iter().find(|v| pred(v)) {
                return v.clone();
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; got {:#?}",
                self.lines.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn events(&self) -> Vec<Value> {
        self.lines.lock().unwrap().clone()
    }

    pub fn stop(mut self) {
        terminate(&mut self.child);
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
