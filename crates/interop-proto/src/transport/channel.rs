//! [`Channel`]: an established, encrypted stanza stream.
//!
//! A driver task owns the WebSocket and the Noise state (both need `&mut`
//! for every record) and talks to the `Channel` handle through queues. That
//! keeps `send` usable from many tasks ([`ChannelSender`]) while `recv`
//! stays with one owner, and lets the driver answer keep-alives on its own.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use snow::TransportState;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, interval};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::TransportError;
use super::record::{Assembler, seal};
use crate::frame::{self, DEFAULT_MAX_FRAME_SIZE, FrameError};
use crate::stanza::{Close, CloseCode, Stanza};

/// Tuning shared by client and server.
#[derive(Debug, Clone)]
pub struct ChannelConfig {
    /// Ping after this much quiet; give up after three times this.
    pub keepalive: Duration,
    pub max_frame_size: usize,
    /// Received stanzas buffered before the driver stops reading.
    pub inbox: usize,
}

impl Default for ChannelConfig {
    fn default() -> Self {
        Self {
            keepalive: Duration::from_secs(20),
            max_frame_size: DEFAULT_MAX_FRAME_SIZE,
            inbox: 1024,
        }
    }
}

enum Cmd {
    Send(Vec<u8>, oneshot::Sender<Result<(), TransportError>>),
    Close(CloseCode, String, oneshot::Sender<()>),
}

/// A cloneable handle for sending on a channel from other tasks.
#[derive(Clone)]
pub struct ChannelSender {
    cmds: mpsc::Sender<Cmd>,
    max_frame: usize,
}

impl ChannelSender {
    /// Sends one stanza; returns once it is written to the socket.
    pub async fn send(&self, stanza: &Stanza) -> Result<(), TransportError> {
        let bytes = frame::encode_checked(stanza, self.max_frame)?;
        let (tx, rx) = oneshot::channel();
        self.cmds.send(Cmd::Send(bytes, tx)).await.map_err(|_| TransportError::ChannelClosed)?;
        rx.await.map_err(|_| TransportError::ChannelClosed)?
    }
}

/// An authenticated, encrypted stanza stream.
pub struct Channel {
    sender: ChannelSender,
    inbox: mpsc::Receiver<Result<Stanza, TransportError>>,
    remote_static: [u8; 32],
}

impl std::fmt::Debug for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Channel {{ remote: {} }}", crate::hex(&self.remote_static))
    }
}

impl Channel {
    pub(crate) fn spawn<S>(
        ws: WebSocketStream<S>,
        noise: TransportState,
        config: ChannelConfig,
    ) -> Self
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let remote_static: [u8; 32] =
            noise.get_remote_static().and_then(|k| k.try_into().ok()).unwrap_or([0; 32]);
        let (cmd_tx, cmd_rx) = mpsc::channel(64);
        let (ev_tx, ev_rx) = mpsc::channel(config.inbox.max(1));
        let max_frame = config.max_frame_size;
        tokio::spawn(
            Driver { ws, noise, assembler: Assembler::new(max_frame), events: ev_tx, config }
                .run(cmd_rx),
        );
        Self { sender: ChannelSender { cmds: cmd_tx, max_frame }, inbox: ev_rx, remote_static }
    }

    /// The peer's Noise static public key (a partner user's `authkey`).
    pub fn remote_static(&self) -> [u8; 32] {
        self.remote_static
    }

    pub async fn send(&self, stanza: &Stanza) -> Result<(), TransportError> {
        self.sender.send(stanza).await
    }

    pub fn sender(&self) -> ChannelSender {
        self.sender.clone()
    }

    /// The next stanza. `Err(Closed { .. })` when the peer closed with a
    /// reason; any error is final. Unknown stanza types are skipped.
    pub async fn recv(&mut self) -> Result<Stanza, TransportError> {
        self.inbox.recv().await.unwrap_or(Err(TransportError::ChannelClosed))
    }

    /// The next stanza if one was received already, without waiting; as [`Self::recv`]
    /// otherwise. Lets a caller batch what arrived together.
    pub fn try_recv(&mut self) -> Option<Result<Stanza, TransportError>> {
        match self.inbox.try_recv() {
            Ok(received) => Some(received),
            Err(mpsc::error::TryRecvError::Empty) => None,
            Err(mpsc::error::TryRecvError::Disconnected) => {
                Some(Err(TransportError::ChannelClosed))
            }
        }
    }

    /// Sends `close` with a reason, closes the WebSocket and waits (briefly) for the peer.
    pub async fn close(self, code: CloseCode, reason: &str) {
        // Unread stanzas are dropped first: a driver waiting for room in a full inbox would
        // never see the close otherwise. The peer delivers them again, as they were not acked.
        let Channel { sender, inbox, .. } = self;
        drop(inbox);
        let (tx, rx) = oneshot::channel();
        if sender.cmds.send(Cmd::Close(code, reason.to_owned(), tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

struct Driver<S> {
    ws: WebSocketStream<S>,
    noise: TransportState,
    assembler: Assembler,
    events: mpsc::Sender<Result<Stanza, TransportError>>,
    config: ChannelConfig,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Driver<S> {
    /// Serves commands and reads the WebSocket until the channel ends. A stanza that finds
    /// the inbox full waits in `waiting`, and reading pauses (back-pressure on the peer) while
    /// commands are still served: the owner may be waiting for a send before it reads again.
    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>) {
        let mut ping = interval(self.config.keepalive);
        ping.tick().await;
        let mut last_rx = Instant::now();
        let mut waiting: Option<Stanza> = None;
        // A handle of its own for `reserve`, which borrows it while the other arms run.
        let inbox = self.events.clone();
        loop {
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(Cmd::Send(bytes, done)) => {
                        let r = self.write_frame(&bytes).await;
                        let failed = r.is_err();
                        let _ = done.send(r);
                        if failed {
                            return;
                        }
                    }
                    Some(Cmd::Close(code, reason, done)) => {
                        self.close(code, &reason).await;
                        let _ = done.send(());
                        return;
                    }
                    None => return self.close(CloseCode::GoingAway, "channel dropped").await,
                },
                permit = inbox.reserve(), if waiting.is_some() => {
                    // The receiver gone means the channel is being closed: drop the stanza.
                    if let (Ok(permit), Some(stanza)) = (permit, waiting.take()) {
                        permit.send(Ok(stanza));
                    }
                    last_rx = Instant::now();
                }
                msg = self.ws.next(), if waiting.is_none() => {
                    last_rx = Instant::now();
                    match self.on_message(msg) {
                        Ok(Some(stanza)) => {
                            if let Err(mpsc::error::TrySendError::Full(Ok(stanza))) =
                                self.events.try_send(Ok(stanza))
                            {
                                waiting = Some(stanza);
                            }
                        }
                        Ok(None) => {}
                        Err(e) => {
                            let fatal_protocol = matches!(e, TransportError::Frame(_) | TransportError::Noise(_) | TransportError::RecordTooLarge);
                            let closed = matches!(e, TransportError::Closed { .. });
                            self.report(e);
                            if fatal_protocol {
                                self.close(CloseCode::ProtocolError, "malformed frame").await;
                            } else if closed {
                                let _ = self.ws.close(None).await;
                            }
                            return;
                        }
                    }
                }
                _ = ping.tick() => {
                    if waiting.is_none() && last_rx.elapsed() > self.config.keepalive * 3 {
                        self.report(TransportError::IdleTimeout);
                        return self.close(CloseCode::IdleTimeout, "no keep-alive").await;
                    }
                    if self.ws.send(Message::Ping(Vec::new().into())).await.is_err() {
                        self.report(TransportError::ConnectionLost);
                        return;
                    }
                }
            }
        }
    }

    /// Queues the error that ends the channel behind what the inbox holds, without waiting
    /// for room here.
    fn report(&self, error: TransportError) {
        let events = self.events.clone();
        tokio::spawn(async move {
            let _ = events.send(Err(error)).await;
        });
    }

    /// Reads one WebSocket message: the stanza it completes, if any; `Err` ends the channel.
    fn on_message(
        &mut self,
        msg: Option<Result<Message, tokio_tungstenite::tungstenite::Error>>,
    ) -> Result<Option<Stanza>, TransportError> {
        let data = match msg {
            Some(Ok(Message::Binary(data))) => data,
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => return Ok(None),
            Some(Ok(Message::Close(_))) | None => return Err(TransportError::ConnectionLost),
            Some(Ok(_)) => return Err(TransportError::Frame(FrameError::UnknownStanza)),
            Some(Err(e)) => return Err(e.into()),
        };
        let Some(bytes) = self.assembler.open(&mut self.noise, &data)? else {
            return Ok(None);
        };
        match frame::decode(&bytes, self.config.max_frame_size) {
            Ok(Stanza::Close(c)) => Err(TransportError::Closed {
                code: CloseCode::try_from(c.code).unwrap_or(CloseCode::Unspecified),
                reason: c.reason,
            }),
            Ok(stanza) => Ok(Some(stanza)),
            Err(FrameError::UnknownStanza) => {
                tracing::debug!("skipping a stanza of unknown type");
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn write_frame(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        for record in seal(&mut self.noise, frame)? {
            self.ws.feed(Message::Binary(record.into())).await?;
        }
        self.ws.flush().await?;
        Ok(())
    }

    async fn close(&mut self, code: CloseCode, reason: &str) {
        let close = Stanza::Close(Close { code: code as i32, reason: reason.to_owned() });
        let _ = self.write_frame(&frame::encode(&close)).await;
        let _ = self.ws.close(None).await;
        // Drain until the peer's close arrives, bounded.
        let _ = tokio::time::timeout(Duration::from_secs(2), async {
            while let Some(Ok(_)) = self.ws.next().await {}
        })
        .await;
    }
}
