//! Messages per second relayed between two gk-style clients, one channel
//! each, through an in-process gatekeeper (SQLite mailbox on a temp dir).
//!
//! ```sh
//! cargo run --release -p reference-gatekeeper --example relay_throughput -- 5000
//! ```
//!
//! Each message: sender encrypts (Olm) and waits for the server's ack; the
//! server stores it in the mailbox and pumps it out; the receiver decrypts,
//! records it and answers `receipt DELIVERED`, which the server routes back.

use std::time::{Duration, Instant};

use interop_proto::content::Content;
use reference_gatekeeper::client::{Event, Home, Session, register};
use reference_gatekeeper::config::Config;

fn pct(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i].as_secs_f64() * 1000.0
}

/// `window` = 1: send, wait for the ack, send the next (what `gk` does);
/// larger: keep that many messages in flight.
async fn run(n: usize, autosave: bool, window: usize) -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let config = Config {
        listen: "127.0.0.1:0".parse()?,
        chat_listen: "127.0.0.1:0".parse()?,
        data_dir: dir.path().join("gk"),
        rate_limit: reference_gatekeeper::config::RateLimitConfig {
            messages_per_sec: 1e9,
            burst: 1e9,
            enlist_per_sec: 5.0,
        },
        ..Config::default()
    };
    let gk = reference_gatekeeper::start(config).await?;
    let (a, b) = (Home::new(dir.path().join("a")), Home::new(dir.path().join("b")));
    register::register(&a, &gk.http_url(), "+491700000001", "A", Vec::new()).await?;
    register::register(&b, &gk.http_url(), "+491700000002", "B", Vec::new()).await?;
    let mut sender = Session::connect_home(&a).await?;
    let mut receiver = Session::connect_home(&b).await?;
    sender.set_autosave(autosave);
    receiver.set_autosave(autosave);
    let to = receiver.user().to_owned();
    // Warm-up: the first message sets up the Olm session.
    sender.send_content(&to, Content::text("warm-up")).await?;
    let mut got = 0;
    while got < 1 {
        got += receiver
            .next_events()
            .await?
            .iter()
            .filter(|e| matches!(e, Event::Message { .. }))
            .count();
    }
    let recv = tokio::spawn(async move {
        let mut got = 0usize;
        while got < n {
            got += receiver
                .next_events()
                .await?
                .iter()
                .filter(|e| matches!(e, Event::Message { .. }))
                .count();
        }
        receiver.save()?;
        Ok::<_, anyhow::Error>(Instant::now())
    });
    let start = Instant::now();
    let mut acks = Vec::with_capacity(n);
    let text =
        |i: usize| Content::text(format!("message number {i} with some typical length text"));
    let mut i = 0;
    while i < n {
        let t = Instant::now();
        if window == 1 {
            sender.send_content(&to, text(i)).await?;
            acks.push(t.elapsed());
            i += 1;
        } else {
            let batch = window.min(n - i);
            for k in 0..batch {
                sender.send_content_nowait(&to, text(i + k)).await?;
            }
            sender.wait_acks(batch).await?;
            acks.push(t.elapsed());
            i += batch;
        }
        sender.process_backlog().await?;
    }
    let sent = start.elapsed();
    let done = recv.await??;
    let total = done.duration_since(start);
    acks.sort();
    println!(
        "window={window:3} autosave={autosave:5}  n={n}  sent in {:.2}s ({:.0} msg/s)  all received in {:.2}s => {:.0} msg/s relayed  ack (per window) p50 {:.2} ms p99 {:.2} ms",
        sent.as_secs_f64(),
        n as f64 / sent.as_secs_f64(),
        total.as_secs_f64(),
        n as f64 / total.as_secs_f64(),
        pct(&acks, 0.5),
        pct(&acks, 0.99),
    );
    gk.shutdown().await;
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let n = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(2000);
    run(n, false, 1).await?;
    run(n, false, 64).await?;
    run(n.min(1000), true, 1).await?;
    Ok(())
}
