//! The peers: minimal forwarding appservices built on the two frameworks existing bridges are
//! built with — `mautrix` (Python) and `matrix-appservice-bridge` (Node) — driven with the same
//! transactions against the same stand-in as the bridge's outbound rows, for a fair comparison.
//!
//! The harnesses live in `bench/peers/` and are installed by `bench/peers/install.sh` into
//! `${INTEROP_BRIDGE_CACHE:-.cache}/bench-peers`. Each runs as a subprocess with
//! `--registration REG.yaml --homeserver URL --domain DOMAIN --port PORT --portals PORTALS.json`,
//! prints `ready` once listening, and forwards every `m.room.message` of a source room from a
//! user outside its namespace into the mapped target room as ghost `@peer_<localpart>`. An
//! arrival is the forwarded message at the stand-in; the peer's CPU and RSS are its process's.
//! Each is warmed up for a few seconds before it is measured. A peer that is not installed is
//! skipped with a message.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::Context;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::{
    pusher::{self, Load, Pusher, Stream},
    report::Row,
    scenarios::{Collector, Meters, RunResult, row, stream_base, with_progress},
    standin::{DOMAIN, StandIn},
};

/// How long a peer may take to print `ready`.
const READY: Duration = Duration::from_secs(60);
/// How long a peer is driven before it is measured.
const WARM_UP: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    Mautrix,
    AppserviceBridge,
}

impl Peer {
    pub const ALL: [Peer; 2] = [Peer::Mautrix, Peer::AppserviceBridge];

    pub fn name(self) -> &'static str {
        match self {
            Peer::Mautrix => "mautrix",
            Peer::AppserviceBridge => "appservice-bridge",
        }
    }
}

/// How to start an installed peer: the program and its script.
#[derive(Debug, Clone)]
pub struct Install {
    program: PathBuf,
    script: PathBuf,
    root: PathBuf,
}

/// Where the peers were installed.
fn cache_dir(root: &Path) -> PathBuf {
    let cache = std::env::var_os("INTEROP_BRIDGE_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".cache"));
    let cache = if cache.is_absolute() { cache } else { root.join(cache) };
    cache.join("bench-peers")
}

/// The Node modules of the matrix-appservice-bridge peer.
fn node_modules(root: &Path) -> PathBuf {
    cache_dir(root).join("node").join("node_modules")
}

/// The peer's program and script, or why it cannot run.
pub fn check_installed(peer: Peer, root: &Path) -> Result<Install, String> {
    let cache = cache_dir(root);
    if !cache.is_dir() {
        return Err(format!(
            "not installed ({} does not exist; run bench/peers/install.sh)",
            cache.display()
        ));
    }
    let (program, script) = match peer {
        Peer::Mautrix => (
            cache.join("venv").join("bin").join("python"),
            root.join("bench/peers/mautrix/forward.py"),
        ),
        Peer::AppserviceBridge => {
            (PathBuf::from("node"), root.join("bench/peers/appservice-bridge/forward.js"))
        }
    };
    if peer == Peer::AppserviceBridge && !node_modules(root).is_dir() {
        return Err(format!(
            "{} is missing; run bench/peers/install.sh",
            node_modules(root).display()
        ));
    }
    if !script.is_file() {
        return Err(format!("{} is missing", script.display()));
    }
    if peer == Peer::Mautrix && !program.is_file() {
        return Err(format!("{} is missing; run bench/peers/install.sh", program.display()));
    }
    Ok(Install { program, script, root: root.to_owned() })
}

/// A started peer process.
struct Running {
    child: tokio::process::Child,
    url: String,
    hs_token: String,
    _dir: tempfile::TempDir,
}

async fn start(
    peer: Peer,
    install: &Install,
    standin: &StandIn,
    portals: usize,
) -> anyhow::Result<Running> {
    let dir = tempfile::Builder::new().prefix("bench-peer-").tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let as_token = format!("as{:032x}", rand::random::<u128>());
    let hs_token = format!("hs{:032x}", rand::random::<u128>());
    let registration = format!(
        "id: bench-{name}\nurl: http://127.0.0.1:{port}\nas_token: {as_token}\nhs_token: {hs_token}\n\
         sender_localpart: peerbot\nrate_limited: false\nnamespaces:\n  users:\n    - exclusive: true\n      regex: '@peer_.*'\n  aliases: []\n  rooms: []\n",
        name = peer.name()
    );
    let reg_path = dir.path().join("registration.yaml");
    std::fs::write(&reg_path, registration)?;
    let map: BTreeMap<String, String> =
        (0..portals).map(|i| (source_room(i), format!("!dst{i}:{DOMAIN}"))).collect();
    let portals_path = dir.path().join("portals.json");
    std::fs::write(&portals_path, serde_json::to_string(&map)?)?;
    standin.register_appservice(&as_token, &format!("@peerbot:{DOMAIN}"));
    let log = std::fs::File::create(dir.path().join("peer.log"))?;
    let mut child = tokio::process::Command::new(&install.program)
        .arg(&install.script)
        .arg("--registration")
        .arg(&reg_path)
        .args(["--homeserver", &standin.url, "--domain", DOMAIN, "--port", &port.to_string()])
        .arg("--portals")
        .arg(&portals_path)
        .current_dir(&install.root)
        .env("NODE_PATH", node_modules(&install.root))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log)
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", install.program.display()))?;
    let stdout = child.stdout.take().context("no stdout from the peer")?;
    let mut lines = BufReader::new(stdout).lines();
    let ready = tokio::time::timeout(READY, async {
        while let Some(line) = lines.next_line().await? {
            if line.trim() == "ready" {
                return anyhow::Ok(true);
            }
        }
        anyhow::Ok(false)
    })
    .await;
    if !matches!(ready, Ok(Ok(true))) {
        let log = std::fs::read_to_string(dir.path().join("peer.log")).unwrap_or_default();
        anyhow::bail!("{} did not print `ready` within {READY:?}:\n{log}", peer.name());
    }
    // Keep draining its stdout so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Ok(Running { child, url: format!("http://127.0.0.1:{port}"), hs_token, _dir: dir })
}

fn source_room(i: usize) -> String {
    format!("!src{i}:{DOMAIN}")
}

fn streams(portals: usize, base: u32) -> Vec<Stream> {
    (0..portals)
        .map(|i| Stream {
            id: base + i as u32,
            room: source_room(i),
            sender: format!("@u{}:{DOMAIN}", i % 10),
        })
        .collect()
}

/// Warms `peer` up, then measures it under `load` with `portals` source rooms.
pub async fn run(peer: Peer, install: &Install, load: Load, portals: usize) -> anyhow::Result<Row> {
    let standin = StandIn::start().await?;
    let mut running = start(peer, install, &standin, portals.max(1)).await?;
    let result = measure(peer, &standin, &mut running, load, portals.max(1)).await;
    stop(&mut running.child).await;
    result
}

/// Asks a peer to stop (SIGTERM: it then removes its temporary stores), and kills it if it
/// has not within 5 s.
async fn stop(child: &mut tokio::process::Child) {
    if let Some(pid) = child.id() {
        let _ =
            tokio::process::Command::new("kill").args(["-TERM", &pid.to_string()]).status().await;
        if tokio::time::timeout(Duration::from_secs(5), child.wait()).await.is_ok() {
            return;
        }
    }
    let _ = child.start_kill();
    let _ = child.wait().await;
}

async fn measure(
    peer: Peer,
    standin: &StandIn,
    running: &mut Running,
    load: Load,
    portals: usize,
) -> anyhow::Result<Row> {
    let pid = running.child.id().context("the peer exited")?;
    let mut pusher = Pusher::new(&running.url, &running.hs_token)?;
    let warm = Load { duration: WARM_UP, ..load };
    let warm_streams = streams(portals, stream_base());
    let warm_collector = Collector::start(standin.subscribe());
    let warm_sent = pusher::drive(&mut pusher, &warm_streams, warm, Vec::new).await?;
    let warm_tally = warm_collector.finish(&warm_sent).await;
    anyhow::ensure!(
        warm_tally.delivered() > 0,
        "{} forwarded nothing during the warm-up",
        peer.name()
    );
    let label = format!("{} ({} ev/txn)", peer.name(), load.per_txn);
    let streams = streams(portals, stream_base());
    let collector = Collector::start(standin.subscribe());
    let meters = Meters::start(pid, &label, load.duration).await;
    let sent = with_progress(
        &meters,
        || collector.delivered(),
        pusher::drive(&mut pusher, &streams, load, Vec::new),
    )
    .await?;
    let tally = with_progress(&meters, || 0, collector.finish(&sent)).await;
    standin.unsubscribe();
    let (subject_cpu_s, harness_cpu_s, peak_rss, wall_s) = meters.finish();
    let mut row = row(
        "outbound",
        peer.name(),
        "-",
        RunResult { tally, sent, subject_cpu_s, harness_cpu_s, peak_rss, wall_s },
    );
    row.events_per_txn = Some(load.per_txn);
    row.notes.push("forwards into a room through the stand-in; no encryption, no storage".into());
    Ok(row)
}
