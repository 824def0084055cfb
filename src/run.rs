//! `interop-bridge run`: start-up, serving, and graceful shutdown.
//!
//! Order matters: the store is migrated before anything is accepted; the homeserver is waited
//! for (with a log line per attempt) before the bot registers; the logins are back in place
//! before any stored work runs, so that a message replayed after a crash waits for its login's
//! channel instead of being refused as "not logged in"; the HTTP listener is up before the
//! homeserver is pinged, because the ping makes the homeserver call us back (and resend
//! anything queued). On SIGINT/SIGTERM we stop taking transactions, process what is stored for a
//! few seconds (the rest waits, stored, for the next start), and exit cleanly.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use anyhow::Context;
use ruma::{
    UserId,
    api::client::{
        appservice::request_ping,
        discovery::get_supported_versions,
        profile::{get_profile, set_profile_field},
    },
    profile::ProfileFieldValue,
};
use tokio::sync::{Notify, watch};

use crate::{
    appservice::{self, AppserviceState, PartnerEndpoints, txn_order},
    bridge::{Bridge, catch_up, processor, queue::PortalQueues, remote_events::BridgeEvents},
    config::Config,
    gatekeeper::{
        interop::InteropConnector,
        partner_identity::{self, StorageKey},
        unconfigured::Unconfigured,
    },
    matrix::{Ghosts, MatrixClient, register_appservice_user},
    store::Store,
};

pub async fn run(config: Config) -> anyhow::Result<()> {
    let started_at = Instant::now();
    if !config.appservice.tokens_generated() {
        anyhow::bail!(
            "appservice.as_token and appservice.hs_token are not set: run \
             `interop-bridge generate-registration` first and register the file with your homeserver"
        );
    }
    if !config.gatekeeper.pickle_key_generated() {
        anyhow::bail!(
            "gatekeeper.pickle_key is not set: run `interop-bridge generate-registration` first \
             (it fills in the pickle key and keeps one that is already set)"
        );
    }
    let storage_key = StorageKey::from_config(&config.gatekeeper.pickle_key)?;
    let config = Arc::new(config);
    let store = Store::connect(&config.database).await.context("cannot open the database")?;
    store.migrate().await.context("cannot apply database migrations")?;
    let partner_signer = partner_identity::load_or_create(&store, &storage_key)
        .await
        .context("cannot load the partner signing key")?;
    tracing::info!(kid = partner_signer.kid(), "partner signing key ready");
    let partner_signer = Arc::new(partner_signer);
    let partner = PartnerEndpoints::new(&config.gatekeeper.partner_base, partner_signer.clone())
        .context("gatekeeper.partner_base is not a URL")?;

    let http = crate::http_client::build().context("cannot build the HTTP client")?;
    // The interop connector, when a gatekeeper is configured; it serves push and media on the
    // partner endpoints. Logins and portals (src/bridge) are to take it from here.
    let connector = match config.gatekeeper.address.as_str() {
        "" => None,
        _ => Some(Arc::new(
            InteropConnector::new(
                &config.gatekeeper,
                partner_signer.clone(),
                storage_key,
                store.clone(),
                http.clone(),
            )
            .context("cannot set up the gatekeeper connector")?,
        )),
    };
    let partner = match &connector {
        Some(connector) => partner.with_connector(connector.clone()),
        None => partner,
    };
    let client =
        MatrixClient::new(http.clone(), &config.homeserver.address, &config.appservice.as_token);
    wait_for_homeserver(&client).await;
    let client =
        client.with_server_versions().await.context("cannot read the homeserver's versions")?;

    let bot_user_id = UserId::parse(config.bot_user_id())
        .with_context(|| format!("{} is not a valid user id", config.bot_user_id()))?;
    register_appservice_user(&client, bot_user_id.localpart()).await.context(
        "cannot register the bot user; is the registration file loaded by the homeserver?",
    )?;
    set_bot_profile(&client, &config, &bot_user_id).await;

    let ghosts = Ghosts::new(
        client.clone(),
        store.clone(),
        config.bridge.username_template.clone(),
        config.homeserver.domain.clone(),
    );
    // Read before anything can queue work: what is queued up to here, the last run may have
    // applied in part.
    let replays_up_to =
        store.last_portal_work_seq().await.context("cannot read the portal queues")?;
    let bridge = Arc::new(Bridge {
        config: config.clone(),
        store: store.clone(),
        bot: client.clone(),
        bot_user_id,
        ghosts: ghosts.clone(),
        started_at,
        http,
        connector: match &connector {
            Some(connector) => connector.clone(),
            None => Arc::new(Unconfigured { network_name: config.gatekeeper.network_name.clone() }),
        },
        logins: Default::default(),
        queues: PortalQueues::new(replays_up_to),
        typing: Default::default(),
        catch_up: Default::default(),
        fresh_profiles: Default::default(),
        rows: Default::default(),
        mappings: Default::default(),
    });
    // Synapse may have restarted while the bridge was down, dropping events it had not pushed
    // yet: catch up on everything since the bridge last heard from it before taking new
    // transactions (its backlog for the bridge is queued in order then, too).
    let last_heard =
        store.last_transaction_received_at().await.context("cannot read the database")?;
    bridge.catch_up.needed(last_heard.unwrap_or_else(crate::store::now_ms));

    let wake = Arc::new(Notify::new());
    // Typing and receipts, from the transaction worker and from the door, in arrival order.
    let lane = Arc::new(crate::bridge::ephemeral::Lane::start(bridge.clone()));
    let recent = store.recent_transaction_ids(1000).await.context("cannot read the database")?;
    // Newest first from the store; the order follows them as they arrived.
    let order = txn_order::TxnOrder::resume(recent.iter().rev().map(String::as_str));
    let state = Arc::new(AppserviceState {
        hs_token: config.appservice.hs_token.clone(),
        max_body_bytes: config.appservice.max_body_bytes,
        protocol_id: config.gatekeeper.protocol_id.clone(),
        network_name: config.gatekeeper.network_name.clone(),
        store: store.clone(),
        ghosts,
        wake_processor: wake.clone(),
        accepting: AtomicBool::new(true),
        partner,
        order,
        door: (store.routes_at_the_door())
            .then(|| crate::bridge::door::Door::new(&bridge, lane.clone())),
    });
    let bind = format!("{}:{}", config.appservice.hostname, config.appservice.port);
    let listener = tokio::net::TcpListener::bind(&bind).await.with_context(|| {
        format!("cannot listen on {bind} (appservice.hostname/appservice.port)")
    })?;
    tracing::info!(address = %bind, "listening for the homeserver");

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    connect_logins(&bridge).await;
    let processor =
        tokio::spawn(processor::run(bridge.clone(), lane, wake.clone(), shutdown_rx.clone()));
    tokio::spawn(catch_up::watch(bridge.clone(), wake, shutdown_rx.clone()));
    let server = {
        let mut shutdown_rx = shutdown_rx.clone();
        let router = appservice::router(state.clone());
        // No Nagle: an answer written in parts would otherwise wait for the homeserver's
        // delayed acknowledgement of the first (up to 40 ms).
        let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
            if let Err(error) = tcp.set_nodelay(true) {
                tracing::debug!(%error, "cannot turn off Nagle's algorithm on a connection");
            }
        });
        tokio::spawn(async move {
            axum::serve(listener, router)
                .with_graceful_shutdown(async move {
                    let _ = shutdown_rx.wait_for(|stop| *stop).await;
                })
                .await
        })
    };

    ping_homeserver(&client, &config.appservice.id).await;
    bridge.queues.resume_all(&bridge).await;
    tracing::info!(startup_ms = started_at.elapsed().as_millis() as u64, "bridge is running");

    wait_for_signal().await;
    tracing::info!(
        drain_s = processor::SHUTDOWN_DRAIN.as_secs(),
        "shutting down: no new transactions; processing what is stored for a while"
    );
    state.accepting.store(false, Ordering::Release);
    let _ = shutdown_tx.send(true);
    match server.await {
        Ok(Err(error)) => tracing::warn!(%error, "HTTP server stopped with an error"),
        Err(error) => tracing::warn!(%error, "HTTP server task failed"),
        Ok(Ok(())) => {}
    }
    if let Err(error) = processor.await {
        tracing::warn!(%error, "transaction worker failed");
    }
    if let Some(connector) = &connector {
        connector.shutdown().await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// Reconnects every user who was logged in when the bridge last stopped.
async fn connect_logins(bridge: &Arc<Bridge>) {
    let users = match bridge.store.login_user_ids().await {
        Ok(users) => users,
        Err(error) => {
            tracing::error!(%error, "cannot read the stored logins; nobody is connected");
            return;
        }
    };
    for user in users {
        let handler = Arc::new(BridgeEvents { bridge: Arc::downgrade(bridge) });
        match bridge.connector.connect(&user, handler).await {
            Ok(login) => bridge.logins.insert(&user, login),
            Err(error) => tracing::warn!(%user, %error, "cannot reconnect a login"),
        }
    }
    if bridge.logins.count() > 0 {
        tracing::info!(logins = bridge.logins.count(), "reconnecting logins to the gatekeeper");
    }
}

/// Waits until the homeserver answers `/versions`, retrying with capped back-off.
async fn wait_for_homeserver(client: &MatrixClient) {
    let mut delay = Duration::from_millis(250);
    let mut attempt = 1u32;
    loop {
        match client.send(get_supported_versions::Request::new()).await {
            Ok(_) => return,
            Err(error) => {
                tracing::warn!(
                    homeserver = client.homeserver(),
                    attempt,
                    retry_in_ms = delay.as_millis() as u64,
                    %error,
                    "waiting for the homeserver"
                );
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(10));
                attempt += 1;
            }
        }
    }
}

/// Sets the bot's display name and avatar when they differ from the config.
async fn set_bot_profile(client: &MatrixClient, config: &Config, bot: &UserId) {
    let current = client.send(get_profile::v3::Request::new(bot.to_owned())).await.ok();
    let current_field = |name: &str| {
        current
            .as_ref()
            .and_then(|p| p.get(name))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    };
    let bot_config = &config.appservice.bot;
    if current_field("displayname") != bot_config.displayname {
        let value = ProfileFieldValue::DisplayName(bot_config.displayname.clone());
        if let Err(error) =
            client.send(set_profile_field::v3::Request::new(bot.to_owned(), value)).await
        {
            tracing::warn!(%error, "could not set the bot's display name");
        }
    }
    if !bot_config.avatar.is_empty() && current_field("avatar_url") != bot_config.avatar {
        let value = ProfileFieldValue::AvatarUrl(bot_config.avatar.as_str().into());
        if let Err(error) =
            client.send(set_profile_field::v3::Request::new(bot.to_owned(), value)).await
        {
            tracing::warn!(%error, "could not set the bot's avatar");
        }
    }
}

/// Asks the homeserver to ping us and logs the round trip; this also flushes its queue.
async fn ping_homeserver(client: &MatrixClient, appservice_id: &str) {
    match client.send(request_ping::v1::Request::new(appservice_id.to_owned())).await {
        Ok(response) => tracing::info!(
            round_trip_ms = response.duration.as_millis() as u64,
            "homeserver reached the bridge (appservice ping)"
        ),
        Err(error) => tracing::warn!(
            %error,
            "the homeserver could not ping the bridge: check that appservice.address is reachable \
             from the homeserver and that the registration file is loaded"
        ),
    }
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(
            tokio::signal::unix::SignalKind::terminate(),
        ) {
            Ok(term) => term,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops the bridge");
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
