//! One admitted channel: register with the hub, start the mailbox pump,
//! then dispatch every stanza the client sends until it closes, is
//! replaced, or the server shuts down.

use std::sync::Arc;

use interop_proto::stanza::{CloseCode, Ib, IbBody, ServerInfo, Stanza};
use interop_proto::transport::{PendingClient, ServerHello, TransportError};
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::{auth, iq};
use crate::state::Shared;
use crate::{mailbox, relay};

pub async fn run(
    shared: Arc<Shared>,
    pending: PendingClient<TcpStream>,
    mut shutdown: watch::Receiver<bool>,
) {
    let user = match auth::authenticate(&shared, pending.hello(), pending.client_key()).await {
        Ok(u) => u,
        Err(e) => {
            tracing::info!(code = e.code, reason = %e.text, "log-in refused");
            pending.reject(e).await;
            return;
        }
    };
    let caps = shared.capabilities.to_wire();
    let hello = ServerHello {
        user: user.id.clone(),
        server_time: interop_proto::now_ms(),
        capabilities: caps.clone(),
        ..Default::default()
    };
    let mut channel = match pending.accept(hello).await {
        Ok(c) => c,
        Err(e) => {
            tracing::info!(user = %user.id, error = %e, "could not start channel");
            return;
        }
    };
    let _ = shared.store.touch_user(&user.id).await;
    let info = ServerInfo {
        capabilities: caps,
        server_time: interop_proto::now_ms(),
        max_frame_size: shared.config.max_frame_size,
        media_host: shared.public_url.to_string(),
    };
    if channel.send(&Stanza::Ib(Ib { body: Some(IbBody::ServerInfo(info)) })).await.is_err() {
        return;
    }
    let mut reg = shared.hub.register(&user.id, channel.sender());
    // Un-enlisted between the log-in and the registration: the kick missed this channel.
    if let Ok(None) = shared.store.user(&user.id).await {
        shared.hub.unregister(&user.id, reg.conn_id);
        channel.close(CloseCode::Unenlisted, "unenlisted by the partner").await;
        return;
    }
    tracing::info!(user = %user.id, "channel open");
    let pump = tokio::spawn(mailbox::pump(
        shared.clone(),
        user.id.clone(),
        channel.sender(),
        reg.wake.clone(),
    ));
    let close: Option<(CloseCode, &str)> = loop {
        tokio::select! {
            r = channel.recv() => match r {
                Ok(stanza) => dispatch(&shared, &user, &channel, stanza).await,
                Err(TransportError::Closed { code, reason }) => {
                    tracing::info!(user = %user.id, ?code, %reason, "client closed the channel");
                    break None;
                }
                Err(e) => {
                    tracing::info!(user = %user.id, error = %e, "channel ended");
                    break None;
                }
            },
            _ = reg.kicked.changed() => {
                let code = (*reg.kicked.borrow()).unwrap_or(CloseCode::Normal);
                break Some((code, "closed by the server"));
            }
            _ = shutdown.changed() => break Some((CloseCode::GoingAway, "server shutting down")),
        }
    };
    pump.abort();
    shared.hub.unregister(&user.id, reg.conn_id);
    let _ = shared.store.touch_user(&user.id).await;
    if let Some((code, reason)) = close {
        let reason = if code == CloseCode::Replaced { "a newer channel took over" } else { reason };
        channel.close(code, reason).await;
    }
    tracing::info!(user = %user.id, "channel closed");
}

async fn dispatch(
    shared: &Arc<Shared>,
    user: &crate::store::UserRow,
    channel: &interop_proto::transport::Channel,
    stanza: Stanza,
) {
    let reply = match stanza {
        Stanza::Message(m) => Some(relay::on_message(shared, user, m).await),
        Stanza::Receipt(r) => Some(relay::on_receipt(shared, user, r).await),
        Stanza::Iq(q) => Some(Stanza::IqResult(iq::handle(shared, user, q).await)),
        Stanza::ChatState(c) => {
            relay::on_chatstate(shared, user, c).await;
            None
        }
        Stanza::Ack(a) => {
            relay::on_ack(shared, user, a).await;
            None
        }
        // Server-to-client stanzas from a client are ignored.
        Stanza::IqResult(_) | Stanza::Notification(_) | Stanza::Ib(_) | Stanza::Close(_) => None,
    };
    if let Some(reply) = reply {
        let _ = channel.send(&reply).await;
    }
}
