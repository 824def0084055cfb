//! The reference figure: the stand-in homeserver's own request rate when it is hit directly
//! with the requests the bridge makes for each message — `PUT …/send/m.room.message/{txnId}`
//! as a ghost, keep-alive connections, one sequential sender per portal (the bridge's portal
//! queues each send one event at a time). No bridge can be faster than this on this machine,
//! so the bridge's throughput is reported as a share of it.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::json;

use crate::{
    report::Reference,
    seq::{self, Stamp},
    standin::{DOMAIN, StandIn},
};

pub async fn measure(
    standin: &StandIn,
    concurrency: usize,
    duration: Duration,
) -> anyhow::Result<Reference> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_idle_timeout(Duration::from_secs(90))
        .build()?;
    // Arrivals are parsed as for the bridge, then dropped (nobody subscribes).
    standin.unsubscribe();
    let done = Arc::new(AtomicU64::new(0));
    let end = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..concurrency {
        let (http, done, base) = (http.clone(), done.clone(), standin.url.clone());
        tasks.push(tokio::spawn(async move {
            let room = format!("!ref{worker}:{DOMAIN}");
            let ghost = format!("@wa_4917{worker:08}:{DOMAIN}");
            let mut n = 0u32;
            while Instant::now() < end {
                let stamp = Stamp { stream: worker as u32, seq: n, sent_ns: seq::now_ns() };
                let txn = format!("ib{worker:08x}{n:024x}");
                let body = json!({
                    "msgtype": "m.text", "body": stamp.body(), "org.interop_bridge.txn_id": txn,
                });
                let url = format!(
                    "{base}/_matrix/client/v3/rooms/{room}/send/m.room.message/{txn}?user_id={}",
                    ghost.replace('@', "%40").replace(':', "%3A")
                );
                let response = http
                    .put(&url)
                    .bearer_auth("as_token")
                    .header("content-type", "application/json")
                    .body(body.to_string())
                    .send()
                    .await;
                if let Ok(r) = response
                    && r.status().is_success()
                    && r.bytes().await.is_ok()
                {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                n += 1;
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    let seconds = started.elapsed().as_secs_f64();
    Ok(Reference { concurrency, requests_per_s: done.load(Ordering::Relaxed) as f64 / seconds })
}
