//! The world a connector test runs in: store, partner identity, partner endpoints, gatekeeper.

use std::{net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use interop_bridge::{
    appservice::PartnerEndpoints,
    config::{DatabaseConfig, DatabaseKind, GatekeeperConfig, registration::new_pickle_key},
    gatekeeper::{
        interop::{InteropConnector, Tuning},
        partner_identity::StorageKey,
    },
    store::Store,
};
use interop_proto::auth::{Claims, JwtSigner, Scope};
use reference_gatekeeper::{Config, PartnerConfig, Running};
use tokio::{net::TcpListener, task::JoinHandle};
use url::Url;

pub const PARTNER_ID: &str = "example.org";
pub const GATEKEEPER_ID: &str = "gatekeeper.example";

/// Reconnects within a second, so tests that cut the channel stay short.
pub fn fast_tuning() -> Tuning {
    Tuning {
        backoff_initial: Duration::from_millis(200),
        backoff_max: Duration::from_secs(1),
        backoff_min: Duration::from_millis(50),
        ..Tuning::default()
    }
}

pub struct Env {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub signer: Arc<JwtSigner>,
    pub pickle_key: String,
    /// `http://127.0.0.1:<port>/_interop`: where the gatekeeper reaches our partner endpoints.
    pub partner_base: Url,
    partner_addr: SocketAddr,
    partner_server: Option<JoinHandle<()>>,
    gatekeeper: Option<Running>,
    /// The gatekeeper's ports, kept so a restart comes back where partners expect it.
    gatekeeper_addrs: Option<(SocketAddr, SocketAddr)>,
    pub http: reqwest::Client,
}

impl Env {
    /// A fresh SQLite store, partner identity and gatekeeper; the partner endpoints serve the
    /// JWKS.
    pub async fn start() -> Env {
        Self::start_with(None).await
    }

    /// The same on PostgreSQL, in a schema of its own, when `INTEROP_BRIDGE_TEST_POSTGRES`
    /// holds a connection URL; `None` otherwise.
    pub async fn start_postgres() -> Option<Env> {
        match std::env::var("INTEROP_BRIDGE_TEST_POSTGRES") {
            Ok(url) if !url.is_empty() => Some(Self::start_with(Some(url)).await),
            _ => None,
        }
    }

    async fn start_with(postgres: Option<String>) -> Env {
        let dir = tempfile::tempdir().unwrap();
        let db = match postgres {
            None => DatabaseConfig {
                kind: DatabaseKind::Sqlite,
                uri: format!("sqlite:{}", dir.path().join("bridge.db").display()),
                max_connections: 4,
            },
            Some(url) => {
                use rand::Rng;
                let schema = format!("connector_{:016x}", rand::thread_rng().r#gen::<u64>());
                let admin = sqlx::PgPool::connect(&url).await.expect("PostgreSQL reachable");
                sqlx::query(&format!("CREATE SCHEMA {schema}")).execute(&admin).await.unwrap();
                admin.close().await;
                let separator = if url.contains('?') { '&' } else { '?' };
                DatabaseConfig {
                    kind: DatabaseKind::Postgres,
                    uri: format!("{url}{separator}options=-c%20search_path%3D{schema}"),
                    max_connections: 4,
                }
            }
        };
        let store = Store::connect(&db).await.unwrap();
        store.migrate().await.unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let partner_addr = listener.local_addr().unwrap();
        let mut env = Env {
            dir,
            store,
            signer: Arc::new(JwtSigner::generate("partner-test")),
            pickle_key: new_pickle_key(),
            partner_base: Url::parse(&format!("http://{partner_addr}/_interop")).unwrap(),
            partner_addr,
            partner_server: None,
            gatekeeper: None,
            gatekeeper_addrs: None,
            http: reqwest::Client::new(),
        };
        env.serve(env.endpoints(), listener);
        env.start_gatekeeper().await;
        env
    }

    fn endpoints(&self) -> PartnerEndpoints {
        PartnerEndpoints::new(self.partner_base.as_str(), self.signer.clone()).unwrap()
    }

    fn serve(&mut self, endpoints: PartnerEndpoints, listener: TcpListener) {
        let app: axum::Router = endpoints.router();
        self.partner_server = Some(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));
    }

    pub fn gatekeeper(&self) -> &Running {
        self.gatekeeper.as_ref().expect("the gatekeeper is running")
    }

    pub fn gatekeeper_dir(&self) -> PathBuf {
        self.dir.path().join("gatekeeper")
    }

    /// Starts the gatekeeper (again, on the same ports and data after a stop).
    pub async fn start_gatekeeper(&mut self) {
        let mut config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            chat_listen: "127.0.0.1:0".parse().unwrap(),
            data_dir: self.gatekeeper_dir(),
            gatekeeper_id: GATEKEEPER_ID.into(),
            partners: vec![PartnerConfig {
                id: PARTNER_ID.into(),
                base_url: self.partner_base.clone(),
            }],
            ..Config::default()
        };
        config.push.min_interval_secs = 0;
        config.rate_limit.enlist_per_sec = 100.0;
        config.rate_limit.messages_per_sec = 1000.0;
        config.rate_limit.burst = 1000.0;
        if let Some((http, chat)) = self.gatekeeper_addrs {
            config.listen = http;
            config.chat_listen = chat;
        }
        let running = reference_gatekeeper::start(config).await.expect("the gatekeeper starts");
        self.gatekeeper_addrs = Some((running.http_addr, running.chat_addr));
        self.gatekeeper = Some(running);
    }

    pub async fn stop_gatekeeper(&mut self) {
        if let Some(running) = self.gatekeeper.take() {
            running.shutdown().await;
        }
    }

    pub fn gatekeeper_config(&self) -> GatekeeperConfig {
        let (http, _) = self.gatekeeper_addrs.expect("the gatekeeper was started");
        GatekeeperConfig {
            network_name: "WhatsApp".into(),
            protocol_id: "whatsapp".into(),
            address: format!("http://{http}/"),
            gatekeeper_id: GATEKEEPER_ID.into(),
            partner_id: PARTNER_ID.into(),
            partner_base: self.partner_base.to_string(),
            pickle_key: self.pickle_key.clone(),
        }
    }

    /// A connector on this world's store and identity; the partner endpoints now serve it
    /// (push, media). A second call stands for a bridge restart.
    pub async fn connector(&mut self, tuning: Tuning) -> Arc<InteropConnector> {
        let connector = Arc::new(
            InteropConnector::new(
                &self.gatekeeper_config(),
                self.signer.clone(),
                StorageKey::from_config(&self.pickle_key).unwrap(),
                self.store.clone(),
                self.http.clone(),
            )
            .unwrap()
            .with_tuning(tuning),
        );
        if let Some(server) = self.partner_server.take() {
            server.abort();
            let _ = server.await;
        }
        let listener = TcpListener::bind(self.partner_addr).await.unwrap();
        self.serve(self.endpoints().with_connector(connector.clone()), listener);
        connector
    }

    /// `{partner_base}/{path}`.
    pub fn partner_url(&self, path: &str) -> String {
        format!("{}/{path}", self.partner_base.as_str().trim_end_matches('/'))
    }

    /// A token signed by the gatekeeper's own key, as it signs push and media tokens.
    pub fn gatekeeper_token(&self, sub: &str, scope: Scope) -> String {
        let claims = Claims::new(GATEKEEPER_ID, sub, PARTNER_ID, scope, 300);
        self.gatekeeper().shared.keys.jwt.sign(&claims).unwrap()
    }
}
