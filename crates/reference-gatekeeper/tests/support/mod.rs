//! Shared test helpers: an in-process gatekeeper on free loopback ports,
//! native devices, a test partner, and `gk` run as a real process.

#![allow(dead_code)]

pub mod gk;
pub mod partner;

use std::path::Path;
use std::time::Duration;

use reference_gatekeeper::client::{Event, Home, Session, register};
use reference_gatekeeper::config::{Config, PartnerConfig};
use reference_gatekeeper::{Running, start};

/// A config on free loopback ports with data in `dir`.
pub fn config(dir: &Path, partners: Vec<PartnerConfig>) -> Config {
    let mut c = Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        chat_listen: "127.0.0.1:0".parse().unwrap(),
        data_dir: dir.to_owned(),
        partners,
        ..Config::default()
    };
    c.push.min_interval_secs = 0;
    c.rate_limit.enlist_per_sec = 100.0;
    c
}

pub async fn gatekeeper(dir: &Path, partners: Vec<PartnerConfig>) -> Running {
    start(config(dir, partners)).await.expect("gatekeeper starts")
}

/// Registers a native device in `home` against `gk`.
pub async fn native(gk: &Running, home: &Path, phone: &str, name: &str) -> Home {
    let home = Home::new(home);
    register::register(&home, &gk.http_url(), phone, name, Vec::new()).await.expect("register");
    home
}

/// Opts a native device in for `partner`.
pub async fn opt_in(home: &Home, partner: &str, inbox: &str) {
    let (creds, _, _) = home.load().unwrap();
    register::opt_in(&creds, partner, inbox).await.unwrap();
}

/// Reads events until `pick` has matched `n` of them (or panics after `secs`).
pub async fn collect(
    session: &mut Session,
    n: usize,
    secs: u64,
    pick: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while out.len() < n {
        let evs = tokio::time::timeout_at(deadline, session.next_events())
            .await
            .unwrap_or_else(|_| panic!("timed out; got {out:?}"))
            .expect("session alive");
        out.extend(evs.into_iter().filter(|e| pick(e)));
    }
    out
}

/// Reads events for `ms` and returns them (to check nothing more arrives).
pub async fn drain(session: &mut Session, ms: u64) -> Vec<Event> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while let Ok(Ok(evs)) = tokio::time::timeout_at(deadline, session.next_events()).await {
        out.extend(evs);
    }
    out
}

pub fn text_of(e: &Event) -> Option<&str> {
    match e {
        Event::Message { text, .. } => Some(text),
        _ => None,
    }
}

/// Every file under `dir`, read whole (for plaintext checks).
pub fn all_bytes(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(b) = std::fs::read(&p) {
                out.push((p.display().to_string(), b));
            }
        }
    }
    out
}

pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
