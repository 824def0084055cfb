//! The reference gatekeeper, in process, for the bridge's end-to-end tests: started on free
//! loopback ports, stopped, and started again on the same ports with the same data (its
//! mailbox and keys survive, as a real outage would leave them).

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use reference_gatekeeper::{
    Running,
    client::{Event, Home, Session, register},
    config::{Config, PartnerConfig, Profile},
    start,
};
use tempfile::TempDir;
use url::Url;

pub struct Gatekeeper {
    dir: TempDir,
    config: Config,
    running: Option<Running>,
}

impl Gatekeeper {
    /// Starts a gatekeeper that trusts the bridge's partner endpoints at `partner_base`.
    pub async fn start(
        profile: Profile,
        partner_id: &str,
        partner_base: &str,
    ) -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new().prefix("gatekeeper-").tempdir()?;
        let mut base = Url::parse(partner_base)?;
        if !base.path().ends_with('/') {
            base.set_path(&format!("{}/", base.path()));
        }
        let mut config = Config {
            listen: "127.0.0.1:0".parse()?,
            chat_listen: "127.0.0.1:0".parse()?,
            data_dir: dir.path().to_owned(),
            partners: vec![PartnerConfig { id: partner_id.to_owned(), base_url: base }],
            profile,
            ..Config::default()
        };
        config.push.min_interval_secs = 0;
        config.rate_limit.enlist_per_sec = 100.0;
        let running = start(config.clone()).await?;
        config.listen = running.http_addr;
        config.chat_listen = running.chat_addr;
        Ok(Self { dir, config, running: Some(running) })
    }

    pub fn http_url(&self) -> String {
        format!("http://{}/", self.config.listen)
    }

    pub fn chat_addr(&self) -> SocketAddr {
        self.config.chat_listen
    }

    /// Stops it: every channel is closed, nothing answers until [`Self::start_again`].
    pub async fn stop(&mut self) {
        if let Some(running) = self.running.take() {
            running.shutdown().await;
        }
    }

    /// Starts it again on the same ports and data. The stopped one's database lock and ports
    /// can linger for a moment after its shutdown, so this retries for a while.
    pub async fn start_again(&mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            match start(self.config.clone()).await {
                Ok(running) => {
                    self.running = Some(running);
                    return Ok(());
                }
                Err(error) if tokio::time::Instant::now() < deadline => {
                    eprintln!("gatekeeper did not start again yet ({error}); retrying");
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(error) => return Err(error.into()),
            }
        }
    }

    fn homes(&self) -> PathBuf {
        self.dir.path().join("homes")
    }

    /// Registers a native user and, with `(partner, inbox)`, opts them in for `partner`.
    pub async fn native_user(
        &self,
        phone: &str,
        name: &str,
        opt_in: Option<(&str, &str)>,
    ) -> anyhow::Result<Contact> {
        self.native_user_with_avatar(phone, name, opt_in, Vec::new()).await
    }

    /// Like [`Self::native_user`], with a profile picture.
    pub async fn native_user_with_avatar(
        &self,
        phone: &str,
        name: &str,
        opt_in: Option<(&str, &str)>,
        avatar: Vec<u8>,
    ) -> anyhow::Result<Contact> {
        let home = Home::new(self.homes().join(phone.trim_start_matches('+')));
        register::register(&home, &self.http_url(), phone, name, avatar).await?;
        if let Some((partner, inbox)) = opt_in {
            let (creds, _, _) = home.load()?;
            register::opt_in(&creds, partner, inbox).await?;
        }
        let session = Session::connect_home(&home).await?;
        Ok(Contact { home, session, seen: Vec::new() })
    }
}

/// A native gatekeeper user with one connected device, as `gk` plays it.
pub struct Contact {
    pub home: Home,
    pub session: Session,
    /// Events read but not yet taken by a wait.
    seen: Vec<Event>,
}

impl Contact {
    pub fn id(&self) -> String {
        self.session.user().to_owned()
    }

    /// Waits until an event matches `pick` and returns it; other events stay for later waits.
    pub async fn wait_for(
        &mut self,
        secs: u64,
        mut pick: impl FnMut(&Event) -> bool,
    ) -> anyhow::Result<Event> {
        if let Some(i) = self.seen.iter().position(&mut pick) {
            return Ok(self.seen.remove(i));
        }
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let events = match tokio::time::timeout_at(deadline, self.session.next_events()).await {
                Ok(events) => events?,
                Err(_) => {
                    anyhow::bail!("no matching event within {secs} s; unmatched: {:?}", self.seen)
                }
            };
            for event in events {
                if pick(&event) {
                    return Ok(event);
                }
                self.seen.push(event);
            }
        }
    }

    /// Reconnects the device (after the gatekeeper restarted). The device state is saved
    /// first: the new session starts from what is on disk.
    pub async fn reconnect(&mut self) -> anyhow::Result<()> {
        self.session.save()?;
        self.session = Session::connect_home(&self.home).await?;
        Ok(())
    }

    pub fn home_dir(&self) -> &Path {
        self.home.dir()
    }
}
