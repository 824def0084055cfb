//! Fault injection: no message is lost, doubled or reordered through crashes (DESIGN.md §4, §6;
//! `docs/reliability.md`).
//!
//! A real Synapse, the reference gatekeeper and the bridge binary; several Matrix users, each
//! logged in with a portal to their own native contact. Both ends of every portal send numbered
//! texts, replies and reactions, retrying as real clients do, while the bridge is SIGKILLed and
//! restarted at random moments, the gatekeeper restarted and Synapse restarted. Afterwards every
//! chat and direction must show every item exactly once and in order.
//!
//! `messages_survive_crashes` is the short run of the normal suite. The long run:
//!
//! ```text
//! INTEROP_FAULT_MESSAGES=3000 cargo nextest run --test fault_injection --run-ignored all \
//!     --no-capture many_messages
//! ```
//!
//! (or `scripts/fault-injection.sh 3000`). `INTEROP_FAULT_SEED` replays a run's fault schedule
//! and pacing; every run prints its seed. `INTEROP_FAULT_LOG_DIR` keeps the bridge's log there
//! (with `INTEROP_BRIDGE_KEEP_SYNAPSE=1` Synapse's data dir is kept too).

mod fault_support;
mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use fault_support::{
    Params, chaos,
    ledger::{self, Stream, Verdict},
    matrix_side::{self, MatrixChat},
    native_side::{self, NativeChat},
    number_in, text,
};
use interop_proto::content::Content;
use rand::{SeedableRng, rngs::StdRng};
use reference_gatekeeper::{client::Event, config::Profile};
use ruma::UserId;
use support::world::{BridgeUser, WAIT, World};
use tokio::time::Instant;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_survive_crashes() -> anyhow::Result<()> {
    run(Params::short()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[ignore = "the long run (thousands of messages); see the module docs"]
async fn many_messages_survive_many_crashes() -> anyhow::Result<()> {
    run(Params::from_env()).await
}

/// One Matrix user and their native contact, before the traffic starts.
struct Pair {
    user: BridgeUser,
    chat: MatrixChat,
    native: NativeChat,
}

async fn run(params: Params) -> anyhow::Result<()> {
    eprintln!("fault injection: {params:?} (replay with INTEROP_FAULT_SEED={})", params.seed);
    let mut rng = StdRng::seed_from_u64(params.seed);
    let mut world = World::start(Profile::Messenger).await?;
    let mut pairs = Vec::new();
    for i in 1..=params.users {
        pairs.push(pair(&world, i).await?);
    }

    // Traffic: per pair, a Matrix sender, a Matrix reader and the native device.
    let stop = Arc::new(AtomicBool::new(false));
    let mut streams = Vec::new();
    let (mut senders, mut readers, mut natives) = (Vec::new(), Vec::new(), Vec::new());
    for (i, pair) in pairs.into_iter().enumerate() {
        let label = pair.chat.label.clone();
        let to_native = Stream::new(format!("{label}→gk"));
        let to_matrix = Stream::new(format!("gk→{label}"));
        streams.extend([to_native.clone(), to_matrix.clone()]);
        let state = matrix_side::Shared::default();
        let seed = params.seed.wrapping_add(i as u64 * 2);
        let client = pair.user.client().clone();
        senders.push(tokio::spawn(matrix_side::send_all(
            client.clone(),
            pair.chat.clone(),
            params.clone(),
            to_native.clone(),
            state.clone(),
            seed,
        )));
        let reader = matrix_side::read_live(
            pair.user.matrix,
            pair.chat.clone(),
            to_matrix.clone(),
            state,
            stop.clone(),
        );
        readers.push((tokio::spawn(reader), client, pair.chat, to_matrix.clone()));
        natives.push(tokio::spawn(native_side::run(
            pair.native,
            params.clone(),
            to_matrix,
            to_native,
            stop.clone(),
            seed + 1,
        )));
    }

    let start = Instant::now();
    let schedule = chaos::schedule(&params, &mut rng);
    let tally = chaos::run(&mut world, &schedule, start, &mut rng).await?;
    for sender in senders {
        sender.await??;
    }
    // The native devices send on their own schedule; wait until they sent everything too.
    let expected = params.per_stream() as usize;
    let deadline = Instant::now() + params.drain;
    while streams.iter().any(|s| s.sent_count() < expected) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("fault injection: sending done after {:.1}s", start.elapsed().as_secs_f64());
    let mut progress = Instant::now();
    while !streams.iter().all(|s| s.caught_up()) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(250)).await;
        if progress.elapsed() >= Duration::from_secs(10) {
            progress = Instant::now();
            let waiting: Vec<String> = streams
                .iter()
                .map(|s| s.verdict())
                .filter(|v| !v.lost.is_empty())
                .map(|v| format!("{} {} (first #{})", v.name, v.lost.len(), v.lost[0]))
                .collect();
            eprintln!("fault injection: still on the way: {}", waiting.join(", "));
        }
    }
    eprintln!("fault injection: delivery done after {:.1}s", start.elapsed().as_secs_f64());
    // A little longer, so that a late duplicate still counts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.store(true, Ordering::Release);
    for native in natives {
        native.await??;
    }
    // The Matrix side is judged on the room as stored, not on what /sync happened to show.
    for (reader, client, chat, stream) in readers {
        reader.await?;
        stream.replace_seen(matrix_side::read_all(&client, &chat).await?);
    }

    if let Some(dir) = std::env::var_os("INTEROP_FAULT_LOG_DIR") {
        let path = std::path::Path::new(&dir).join(format!("bridge-{}.log", params.seed));
        std::fs::write(&path, world.bridge.log())?;
        eprintln!("fault injection: bridge log kept at {}", path.display());
    }
    let verdicts: Vec<Verdict> = streams.iter().map(|s| s.verdict()).collect();
    let summary = ledger::summary(&verdicts);
    eprintln!("fault injection: {summary}; survived {tally}; seed {}", params.seed);
    println!("{summary}");
    let problems: String = verdicts.iter().map(Verdict::problems).collect();
    anyhow::ensure!(
        verdicts.iter().all(Verdict::is_clean) && verdicts.iter().all(|v| v.sent == expected),
        "messages were lost, doubled or reordered ({summary}; seed {}):\n{problems}",
        params.seed
    );
    world.stop()
}

/// Matrix user `u{i}`, logged in, with a portal to native contact `+4915100000{i}` (who opted
/// in), and one warm-up message each way so that both encryption sessions exist.
async fn pair(world: &World, i: u32) -> anyhow::Result<Pair> {
    let label = format!("u{i}");
    let phone = format!("+49151000{i:05}");
    let mut user = world.user(&label).await?;
    user.login().await?;
    let mut contact = world
        .gatekeeper
        .native_user(&phone, &format!("Contact {i}"), Some(("localhost", "separate")))
        .await?;
    user.command(&format!("start-chat {phone}"), "Opening a chat").await?;
    let room = user.join_portal().await?;
    let peer = user.remote_id().await?;
    let ghost = UserId::parse(format!("@wa_{}:localhost", phone.trim_start_matches('+')))?;

    user.send_text(&room, &text(&label, "gk", 0)).await?;
    contact
        .wait_for(WAIT.as_secs(), |e| {
            matches!(e, Event::Message { text, .. } if number_in(text, &label, "gk") == Some(0))
        })
        .await?;
    contact.session.send_content(&peer, Content::text(text("gk", &label, 0))).await?;
    user.wait_for(&room, WAIT, |e| {
        e.sender() == ghost
            && support::message_body(e).is_some_and(|b| number_in(b, "gk", &label) == Some(0))
    })
    .await?;
    let chat = MatrixChat { label: label.clone(), room, ghost };
    Ok(Pair { user, chat, native: NativeChat { contact, peer, label } })
}
