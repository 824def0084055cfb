//! The chat channel endpoint: accepts WebSocket connections, runs the Noise
//! handshake (from `interop-proto`), authenticates, and hands each admitted
//! channel to a [`session`].

mod auth;
mod iq;
mod session;

use std::sync::Arc;
use std::time::Duration;

use interop_proto::transport::{self, ChannelConfig, ServerConfig};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::state::Shared;

/// Serves channels until `shutdown` turns true, then waits (bounded) for sessions to close.
pub async fn serve(
    shared: Arc<Shared>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut server = ServerConfig::new(shared.keys.noise.clone());
    server.channel = ChannelConfig {
        keepalive: Duration::from_secs(shared.config.keepalive_secs.into()),
        max_frame_size: shared.config.max_frame_size as usize,
        inbox: 256,
    };
    let server = Arc::new(server);
    let mut sessions = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, peer) = match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let (shared, server, shutdown) = (shared.clone(), server.clone(), shutdown.clone());
                sessions.spawn(async move {
                    match transport::accept(stream, &server).await {
                        Ok(pending) => session::run(shared, pending, shutdown).await,
                        Err(e) => tracing::info!(%peer, error = %e, "handshake failed"),
                    }
                });
            }
            Some(_) = sessions.join_next(), if !sessions.is_empty() => {}
            _ = shutdown.changed() => break,
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(5), async {
        while sessions.join_next().await.is_some() {}
    })
    .await;
    sessions.abort_all();
}
