//! Native gatekeeper users, played by the reference gatekeeper's own client.

use std::{path::Path, time::Duration};

use reference_gatekeeper::client::{Event, Home, Session, register};

use super::env::{Env, PARTNER_ID};

pub struct Native {
    pub home: Home,
    pub phone: String,
    pub session: Session,
}

impl Native {
    /// Registers a native user (opted in to our chats if `opt_in`) and connects it.
    pub async fn join(env: &Env, name: &str, phone: &str, opt_in: bool) -> Native {
        let home = Home::new(env.dir.path().join(format!("native-{name}")));
        let creds =
            register::register(&home, &env.gatekeeper().http_url(), phone, name, Vec::new())
                .await
                .expect("native registration");
        if opt_in {
            register::opt_in(&creds, PARTNER_ID, "separate").await.expect("opt-in");
        }
        let session = Session::connect_home(&home).await.expect("native connects");
        Native { home, phone: phone.to_owned(), session }
    }

    pub fn id(&self) -> String {
        self.session.user().to_owned()
    }

    /// Connects again (after a gatekeeper restart).
    pub async fn reconnect(&mut self) {
        self.session = Session::connect_home(&self.home).await.expect("native reconnects");
    }

    pub fn files(&self) -> std::path::PathBuf {
        self.home.files_dir()
    }

    pub fn home_dir(&self) -> &Path {
        self.home.dir()
    }
}

/// Reads events until `pick` matched `n` of them (panics after `secs`).
pub async fn collect(
    session: &mut Session,
    n: usize,
    secs: u64,
    pick: impl Fn(&Event) -> bool,
) -> Vec<Event> {
    let mut out = Vec::new();
    let mut all = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while out.len() < n {
        let events = tokio::time::timeout_at(deadline, session.next_events())
            .await
            .unwrap_or_else(|_| panic!("timed out; got {all:?}"))
            .expect("native session alive");
        for e in events {
            all.push(e.clone());
            if pick(&e) {
                out.push(e);
            }
        }
    }
    out
}

/// Reads events for `ms` and returns them.
pub async fn drain(session: &mut Session, ms: u64) -> Vec<Event> {
    let mut out = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_millis(ms);
    while let Ok(Ok(events)) = tokio::time::timeout_at(deadline, session.next_events()).await {
        out.extend(events);
    }
    out
}
