//! `interop-bench`: the load benchmark of interop-bridge.
//!
//! It runs the bridge binary as its own process against an in-process homeserver stand-in and
//! the reference gatekeeper with simulated, end-to-end encrypted gatekeeper users, and prints
//! for each scenario the messages per second sustained, latency percentiles, CPU time per
//! message and memory — with a reference figure from the same run (the stand-in's own request
//! rate) and, when they are installed, two peer appservice frameworks driven the same way.
//! With `--homeserver synapse` it runs against a real Synapse on loopback instead, for
//! end-to-end figures: a message's trip each way, the bridge's own part of it (door to door,
//! [`door`]), and the same trip through Synapse alone.
//! `docs/performance.md` says how to run it and holds the results.
//!
//! # Layout
//!
//! - [`standin`]: the homeserver stand-in; [`pusher`]: transactions pushed as Synapse does.
//! - [`bridge_proc`]: the bridge process; [`gatekeeper`]: the gatekeeper and its users.
//! - [`setup`]: logins through the bot and portals, before anything is measured.
//! - [`synapse`]: a throwaway Synapse; [`matrix_user`]: a real Matrix user on it;
//!   [`synapse_world`]: the set-up against it.
//! - [`scenarios`]: inbound, outbound, mixed, idle, trip (Synapse); [`peers`]: the peer
//!   frameworks.
//! - [`floor`]: the least CPU a message's unavoidable parts cost, beside 1/8 of a peer's.
//! - [`seq`]: numbered messages; [`sink`]: where their arrivals go; [`measure`]: matching,
//!   percentiles, CPU and RSS; [`reference`]: the stand-in's own rate; [`report`]: the output.

mod bridge_proc;
mod compare;
mod door;
mod floor;
mod gatekeeper;
mod matrix_user;
mod measure;
mod pace;
mod peers;
mod pusher;
mod reference;
mod report;
mod scenarios;
mod seq;
mod setup;
mod sink;
mod standin;
mod synapse;
mod synapse_world;

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use anyhow::Context;
use clap::{Parser, ValueEnum};

use crate::{
    bridge_proc::Database,
    pusher::Load,
    report::Report,
    setup::{Sizes, World},
    synapse_world::SynapseWorld,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Scenario {
    Inbound,
    Outbound,
    Mixed,
    Idle,
    Peers,
    /// The unavoidable parts of an outbound message, each alone, with the peers for the budget.
    Floor,
    All,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum DatabaseArg {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Homeserver {
    Standin,
    Synapse,
}

/// Load benchmark of interop-bridge (see docs/performance.md).
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Which scenario to run.
    #[arg(long, value_enum, default_value = "all")]
    scenario: Scenario,
    /// Where the bridge stores its state.
    #[arg(long, value_enum, default_value = "sqlite")]
    database: DatabaseArg,
    /// The PostgreSQL server for `--database postgres` (a fresh schema is made and dropped).
    #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
    postgres_url: String,
    /// The homeserver: the in-process stand-in (isolates the bridge's cost) or a real Synapse.
    #[arg(long, value_enum, default_value = "standin")]
    homeserver: Homeserver,
    /// Seconds each measured run sends for.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Messages/s of the fixed-rate runs (latency at a given load); 0 skips them. The
    /// throughput runs always go as fast as possible. Default 1000; with Synapse, 5 (its runs
    /// are all at a fixed rate).
    #[arg(long)]
    rate: Option<f64>,
    /// Portals in the store for the idle scenario.
    #[arg(long, default_value_t = 100_000)]
    portals: u64,
    /// Matrix users who log in through the bot (default 10; with Synapse, 2).
    #[arg(long)]
    users: Option<usize>,
    /// Gatekeeper users; every Matrix user gets a portal with each (default 10; with
    /// Synapse, 2).
    #[arg(long)]
    contacts: Option<usize>,
    /// Print one JSON object instead of tables.
    #[arg(long)]
    json: bool,
    /// Every scenario, small, short and at a low rate: checks that it runs and reports.
    #[arg(long)]
    smoke: bool,
    /// The bridge binary (default: release/interop-bridge in this binary's target folder).
    #[arg(long)]
    bridge_bin: Option<PathBuf>,
    /// The example config the bridge's config is made from.
    #[arg(long)]
    config_example: Option<PathBuf>,
    /// The checkout whose `bench/peers` holds the peer harnesses (default: this repository).
    #[arg(long)]
    peers_root: Option<PathBuf>,
    /// Another bridge binary (say, a build of an earlier commit) to compare with: the inbound,
    /// outbound and mixed scenarios run for both builds in turn, `--rounds` times, and the
    /// report ends with each scenario's medians and their ratios.
    #[arg(long)]
    against: Option<PathBuf>,
    /// The example config the `--against` build's config is made from (default: the same as
    /// this build's; an older build may not know every key of the newer one).
    #[arg(long)]
    against_config_example: Option<PathBuf>,
    /// Rounds of `--against` (each build runs once per round), and of `--scenario floor` (the
    /// floor and the peers take turns).
    #[arg(long, default_value_t = 3)]
    rounds: usize,
}

/// Messages/s of the smoke run's "as fast as possible" runs.
const SMOKE_RATE: f64 = 200.0;
/// Messages/s of the runs against Synapse, unless `--rate` says otherwise.
const SYNAPSE_RATE: f64 = 5.0;

/// The repository's root, where `config.example.yaml` and `bench/peers` are.
fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_owned).unwrap_or_default()
}

fn default_bridge_bin() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let target = exe
        .parent()
        .and_then(Path::parent)
        .context("cannot tell this binary's target folder; pass --bridge-bin")?;
    Ok(target.join("release").join("interop-bridge"))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Args::parse()).await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(error) => {
            eprintln!("interop-bench: {error:#}");
            std::process::ExitCode::from(2)
        }
    }
}

/// Runs the chosen scenarios; `Ok(false)` when one lost or doubled messages or failed.
async fn run(mut args: Args) -> anyhow::Result<bool> {
    let synapse = args.homeserver == Homeserver::Synapse;
    // Synapse on a small machine is slow: few portals, and a rate that measures latency, not a
    // queue.
    let (mut users, mut contacts) = match synapse {
        true => (args.users.unwrap_or(2), args.contacts.unwrap_or(2)),
        false => (args.users.unwrap_or(10), args.contacts.unwrap_or(10)),
    };
    let mut rate = args.rate.unwrap_or(if synapse { SYNAPSE_RATE } else { 1000.0 });
    anyhow::ensure!(rate.is_finite() && rate >= 0.0, "--rate must be a number ≥ 0, not {rate}");
    if synapse {
        anyhow::ensure!(
            rate > 0.0,
            "--homeserver synapse runs at a fixed rate: --rate must be > 0"
        );
        anyhow::ensure!(
            matches!(args.scenario, Scenario::Inbound | Scenario::Outbound | Scenario::All),
            "--scenario {} runs against the stand-in only; with --homeserver synapse choose inbound, outbound or all",
            format!("{:?}", args.scenario).to_lowercase()
        );
    }
    if args.smoke {
        args.duration = 1;
        users = users.min(2);
        contacts = contacts.min(2);
        args.portals = args.portals.min(1000);
        // Its throughput runs go at SMOKE_RATE; no extra fixed-rate runs (Synapse's runs are
        // all at a fixed rate).
        if !synapse {
            rate = 0.0;
        }
    }
    let sizes = Sizes { users: users.max(1), contacts: contacts.max(1) };
    let bin = match &args.bridge_bin {
        Some(bin) => bin.clone(),
        None => default_bridge_bin()?,
    };
    anyhow::ensure!(
        bin.is_file(),
        "no bridge binary at {}: build it with `cargo build --release -p interop-bridge`, or pass --bridge-bin",
        bin.display()
    );
    let debug_bin = bin.components().any(|c| c.as_os_str() == "debug");
    if debug_bin {
        eprintln!(
            "warning: {} is a debug build; its figures say nothing about the bridge's speed",
            bin.display()
        );
    }
    if cfg!(debug_assertions) && !args.smoke {
        eprintln!("warning: interop-bench itself is a debug build; build it with --release");
    }
    let example =
        args.config_example.clone().unwrap_or_else(|| repo_root().join("config.example.yaml"));
    let database = match args.database {
        DatabaseArg::Sqlite => Database::Sqlite,
        DatabaseArg::Postgres => Database::Postgres { url: args.postgres_url.clone() },
    };
    let db_label = scenarios::idle::label(&database);
    let duration = Duration::from_secs(args.duration.max(1));
    let wants = |s: Scenario| args.scenario == s || args.scenario == Scenario::All;
    let mut report = Report {
        machine: report::machine(),
        bridge_binary: format!(
            "{}{}",
            bin.display(),
            if debug_bin { " (debug build)" } else { "" }
        ),
        homeserver: "in-process stand-in".into(),
        ..Report::default()
    };
    if synapse {
        let directions = scenarios::trip::Directions {
            inbound: wants(Scenario::Inbound),
            outbound: wants(Scenario::Outbound),
        };
        let setup = Setup { bin: &bin, example: &example, database: &database, sizes };
        let ok = against_synapse(setup, directions, duration, rate, &mut report).await?;
        print_report(&report, args.json)?;
        return Ok(ok && !report.failed());
    }
    let rate = (rate > 0.0).then_some(rate);
    if let Some(other) = &args.against {
        anyhow::ensure!(other.is_file(), "no bridge binary at {} (--against)", other.display());
        let other_example = args.against_config_example.clone().unwrap_or(example.clone());
        let builds = [(bin.as_path(), example.as_path()), (other, other_example.as_path())];
        let max_rate = args.smoke.then_some(SMOKE_RATE);
        let compared = |s: Scenario| {
            matches!(s, Scenario::Inbound | Scenario::Outbound | Scenario::Mixed) && wants(s)
        };
        let runs = Runs { duration, rate, max_rate, db: db_label, wants: &compared };
        report.notes.push(format!("{}: {}", compare::OTHER, other.display()));
        let ok =
            compare_builds(builds, &database, sizes, args.rounds.max(1), runs, &mut report).await;
        print_report(&report, args.json)?;
        return Ok(ok && !report.failed());
    }
    let mut ok = true;

    if [Scenario::Inbound, Scenario::Outbound, Scenario::Mixed, Scenario::Peers]
        .into_iter()
        .any(wants)
    {
        eprintln!(
            "setting up: {} Matrix users × {} gatekeeper users = {} portals…",
            sizes.users,
            sizes.contacts,
            sizes.users * sizes.contacts
        );
        let mut world = World::start(&bin, &example, &database, sizes).await?;
        let reference_time =
            if args.smoke { Duration::from_millis(500) } else { Duration::from_secs(3) };
        report.reference =
            Some(reference::measure(&world.standin, world.portals.len(), reference_time).await?);
        // The smoke run checks that everything runs and reports: its "as fast as possible" runs
        // are held to a small rate, so that no backlog makes it long.
        let max_rate = args.smoke.then_some(SMOKE_RATE);
        let result =
            measured(&mut world, duration, rate, max_rate, db_label, &mut report, &wants).await;
        if let Err(error) = result {
            ok = false;
            report.notes.push(format!("a scenario failed: {error:#}"));
            eprintln!("--- bridge warnings ---\n{}", world.bridge.warnings().join("\n"));
        }
        world.stop().await?;
    }
    if wants(Scenario::Idle) {
        eprintln!("idle: start-up and memory with {} portals…", args.portals);
        match scenarios::idle::run(&bin, &example, &database, args.portals).await {
            Ok(row) => report.idle.push(row),
            Err(error) => {
                ok = false;
                report.notes.push(format!("the idle scenario failed: {error:#}"));
            }
        }
    }
    if wants(Scenario::Floor) || wants(Scenario::Peers) {
        let peers_root = args.peers_root.clone().unwrap_or_else(repo_root);
        let portals = sizes.users * sizes.contacts;
        let iterations = if args.smoke { floor::SMOKE_ITERATIONS } else { floor::ITERATIONS };
        let mut rounds = Vec::new();
        if args.scenario == Scenario::Floor {
            // The floor and the peers take turns, so that the budget and the floor come from
            // the same stretch of the machine's load.
            let n = if args.smoke { 1 } else { args.rounds.max(1) };
            for round in 0..n {
                eprintln!("floor, round {} of {n}…", round + 1);
                ok &= floor_round(iterations, &mut rounds, &mut report).await;
                ok &= run_peers(&peers_root, args.smoke, duration, portals, &mut report).await;
            }
        } else {
            if wants(Scenario::Floor) {
                eprintln!("floor: the unavoidable parts of an outbound message, each alone…");
                for _ in 0..if args.smoke { 1 } else { FLOOR_ROUNDS } {
                    ok &= floor_round(iterations, &mut rounds, &mut report).await;
                }
            }
            if wants(Scenario::Peers) {
                ok &= run_peers(&peers_root, args.smoke, duration, portals, &mut report).await;
            }
        }
        report.floor = floor::Floor::of(&rounds);
    }

    print_report(&report, args.json)?;
    Ok(ok && !report.failed())
}

/// Rounds of the floor when it runs with every scenario.
const FLOOR_ROUNDS: usize = 5;

/// One round of the floor into `rounds`; `false` (and a note) when it failed.
async fn floor_round(
    iterations: usize,
    rounds: &mut Vec<floor::Round>,
    report: &mut Report,
) -> bool {
    let measured = tokio::task::spawn_blocking(move || floor::measure_round(iterations)).await;
    match measured.map_err(anyhow::Error::from).and_then(|round| round) {
        Ok(round) => {
            rounds.push(round);
            true
        }
        Err(error) => {
            report.notes.push(format!("the floor failed: {error:#}"));
            false
        }
    }
}

/// Each installed peer at 1 and 10 events per transaction; `false` when a run failed (a peer
/// that is not installed is skipped with a note).
async fn run_peers(
    peers_root: &Path,
    smoke: bool,
    duration: Duration,
    portals: usize,
    report: &mut Report,
) -> bool {
    let rate = if smoke { SMOKE_RATE } else { 0.0 };
    let load = |per_txn| Load { per_txn, rate, duration, reaction_every: None };
    let mut ok = true;
    for peer in peers::Peer::ALL {
        match peers::check_installed(peer, peers_root) {
            Err(why) => report.notes.push(format!("{} skipped: {why}", peer.name())),
            Ok(install) => {
                for per_txn in [1, 10] {
                    match peers::run(peer, &install, load(per_txn), portals).await {
                        Ok(row) => report.rows.push(row),
                        Err(error) => {
                            ok = false;
                            report.notes.push(format!(
                                "{} at {per_txn} ev/txn failed: {error:#}",
                                peer.name()
                            ));
                        }
                    }
                }
            }
        }
    }
    ok
}

fn print_report(report: &Report, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(&report.to_json())?);
    } else {
        print!("{}", report.to_text());
    }
    Ok(())
}

/// How the measured scenarios run.
struct Runs<'a> {
    duration: Duration,
    rate: Option<f64>,
    max_rate: Option<f64>,
    db: &'a str,
    wants: &'a dyn Fn(Scenario) -> bool,
}

/// `--against`: both builds, `(binary, example config)`, in turn for `rounds` rounds (the
/// order flips every round); their rows go into `report`, with the comparison of their
/// medians. `false` when a run failed.
async fn compare_builds(
    builds: [(&Path, &Path); 2],
    database: &Database,
    sizes: Sizes,
    rounds: usize,
    runs: Runs<'_>,
    report: &mut Report,
) -> bool {
    let mut ok = true;
    for round in 0..rounds {
        let mut order = [("bridge", builds[0]), (compare::OTHER, builds[1])];
        if round % 2 == 1 {
            order.reverse();
        }
        for (subject, (bin, example)) in order {
            eprintln!("round {} of {rounds}: {subject} ({})…", round + 1, bin.display());
            let mut part = Report::default();
            let result = async {
                let mut world = World::start(bin, example, database, sizes).await?;
                let measured_result = measured(
                    &mut world,
                    runs.duration,
                    runs.rate,
                    runs.max_rate,
                    runs.db,
                    &mut part,
                    runs.wants,
                )
                .await;
                world.stop().await?;
                measured_result
            }
            .await;
            if let Err(error) = result {
                ok = false;
                report.notes.push(format!("round {} of {subject} failed: {error:#}", round + 1));
            }
            for mut row in part.rows {
                row.subject = subject.to_owned();
                report.rows.push(row);
            }
        }
    }
    report.comparison = compare::of(&report.rows);
    ok
}

/// What the bridge is set up with.
struct Setup<'a> {
    bin: &'a Path,
    example: &'a Path,
    database: &'a Database,
    sizes: Sizes,
}

/// `--homeserver synapse`: the trips against a real Synapse; `Ok(false)` when a run failed.
async fn against_synapse(
    setup: Setup<'_>,
    directions: scenarios::trip::Directions,
    duration: Duration,
    rate: f64,
    report: &mut Report,
) -> anyhow::Result<bool> {
    let Setup { bin, example, database, sizes } = setup;
    eprintln!(
        "setting up Synapse: {} Matrix users × {} gatekeeper users = {} portals…",
        sizes.users,
        sizes.contacts,
        sizes.users * sizes.contacts
    );
    let world = SynapseWorld::start(&repo_root(), bin, example, database, sizes).await?;
    report.homeserver = world.version.clone();
    let db = scenarios::idle::label(database);
    let mut ok = true;
    match scenarios::trip::run(&world, directions, duration, rate, db).await {
        Ok((rows, overhead)) => {
            report.rows.extend(rows);
            report.overhead = overhead;
        }
        Err(error) => {
            ok = false;
            report.notes.push(format!("a trip failed: {error:#}"));
            eprintln!("--- bridge warnings ---\n{}", world.bridge.warnings().join("\n"));
        }
    }
    world.stop().await?;
    Ok(ok)
}

/// The scenarios that run on one set-up.
async fn measured(
    world: &mut World,
    duration: Duration,
    rate: Option<f64>,
    max_rate: Option<f64>,
    db: &str,
    report: &mut Report,
    wants: &dyn Fn(Scenario) -> bool,
) -> anyhow::Result<()> {
    if wants(Scenario::Inbound) {
        report.rows.push(scenarios::inbound::run(world, duration, max_rate, db).await?);
        if rate.is_some() {
            report.rows.push(scenarios::inbound::run(world, duration, rate, db).await?);
        }
    }
    // The bridge's outbound rows double as its side of the peer comparison.
    if wants(Scenario::Outbound) || wants(Scenario::Peers) {
        for per_txn in [1, 10] {
            let load =
                Load { per_txn, rate: max_rate.unwrap_or(0.0), duration, reaction_every: None };
            report.rows.push(scenarios::outbound::run(world, load, db).await?);
        }
        if let Some(rate) = rate {
            let load = Load { per_txn: 1, rate, duration, reaction_every: None };
            report.rows.push(scenarios::outbound::run(world, load, db).await?);
        }
    }
    if wants(Scenario::Mixed) {
        report.rows.extend(scenarios::mixed::run(world, duration, max_rate, db).await?);
    }
    Ok(())
}
