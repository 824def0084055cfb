//! Starting and stopping the gatekeeper: open the store, load keys, bind
//! both listeners, run until told to stop, then close every channel with
//! `going_away` and flush the store.

mod housekeeping;
pub mod shutdown;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use interop_proto::stanza::CloseCode;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::config::Config;
use crate::hub::Hub;
use crate::keys::ServerKeys;
use crate::partner_jwks::PartnerJwks;
use crate::push::Pusher;
use crate::ratelimit::RateLimiter;
use crate::state::Shared;
use crate::store::Store;
use crate::{chat, http};

#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("config: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("data dir {0}: {1}")]
    DataDir(String, std::io::Error),
    #[error("store: {0}")]
    Store(#[from] crate::store::StoreError),
    #[error("keys: {0}")]
    Keys(#[from] crate::keys::KeysError),
    #[error("cannot listen on {0}: {1}")]
    Bind(SocketAddr, std::io::Error),
    #[error("http client: {0}")]
    Http(#[from] reqwest::Error),
}

/// A running gatekeeper.
pub struct Running {
    pub http_addr: SocketAddr,
    pub chat_addr: SocketAddr,
    pub shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl std::fmt::Debug for Running {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Running {{ http: {}, chat: {} }}", self.http_addr, self.chat_addr)
    }
}

impl Running {
    /// The channel URL clients connect to.
    pub fn chat_url(&self) -> String {
        format!("ws://{}/chat", self.chat_addr)
    }

    pub fn http_url(&self) -> String {
        format!("http://{}/", self.http_addr)
    }

    /// Closes every channel with `going_away`, stops the listeners and closes the store.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
        self.shared.hub.kick_all(CloseCode::GoingAway);
        self.shared.store.close().await;
        tracing::info!("gatekeeper stopped");
    }
}

/// Binds and starts serving. Port 0 in the config picks free ports.
pub async fn start(mut config: Config) -> Result<Running, StartError> {
    config.validate()?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| StartError::DataDir(config.data_dir.display().to_string(), e))?;
    let store = Store::open(&config.data_dir.join("gatekeeper.db")).await?;
    let keys = ServerKeys::load_or_create(&config.data_dir)?;
    let http_listener =
        TcpListener::bind(config.listen).await.map_err(|e| StartError::Bind(config.listen, e))?;
    let chat_listener = TcpListener::bind(config.chat_listen)
        .await
        .map_err(|e| StartError::Bind(config.chat_listen, e))?;
    let http_addr = http_listener.local_addr().map_err(|e| StartError::Bind(config.listen, e))?;
    let chat_addr =
        chat_listener.local_addr().map_err(|e| StartError::Bind(config.chat_listen, e))?;
    config.listen = http_addr;
    config.chat_listen = chat_addr;
    let client = reqwest::Client::builder().build()?;
    let shared = Arc::new(Shared {
        capabilities: config.profile.capabilities(),
        public_url: config.public_url(),
        message_limit: RateLimiter::new(
            config.rate_limit.messages_per_sec,
            config.rate_limit.burst,
        ),
        enlist_limit: RateLimiter::new(
            config.rate_limit.enlist_per_sec,
            config.rate_limit.enlist_per_sec.max(1.0),
        ),
        jwks: PartnerJwks::new(client.clone()),
        http: client,
        hub: Hub::default(),
        pusher: Pusher::default(),
        known_contacts: Mutex::new(HashSet::new()),
        store,
        keys,
        config,
    });
    let (stop, stopped) = watch::channel(false);
    let mut tasks = Vec::new();
    let app = http::router(shared.clone());
    let mut http_stop = stopped.clone();
    tasks.push(tokio::spawn(async move {
        let serve = axum::serve(http_listener, app).with_graceful_shutdown(async move {
            let _ = http_stop.changed().await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "http server failed");
        }
    }));
    tasks.push(tokio::spawn(chat::serve(shared.clone(), chat_listener, stopped.clone())));
    tasks.push(tokio::spawn(housekeeping::run(shared.clone(), stopped)));
    tracing::info!(
        http = %http_addr,
        chat = %chat_addr,
        profile = ?shared.config.profile,
        gatekeeper_id = %shared.config.gatekeeper_id,
        "gatekeeper listening"
    );
    Ok(Running { http_addr, chat_addr, shared, stop, tasks })
}
