//! [`Channel`]: an established, encrypted stanza stream.
//!
//! Two tasks drive the WebSocket, one reading and one writing, and talk to
//! the `Channel` handle through queues. That keeps `send` usable from many
//! tasks ([`ChannelSender`]) while `recv` stays with one owner, and lets
//! keep-alives be answered without the owner. They share the Noise state
//! (each record needs `&mut`) behind a lock held only to seal or open one.

use std::time::Duration;

use std::sync::{Arc, Mutex};

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use snow::TransportState;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::interval;
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

/// Told when a send was written (and flushed), or why not.
type SendDone = oneshot::Sender<Result<(), TransportError>>;

enum Cmd {
    Send(Vec<u8>, SendDone),
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
        self.send_all(std::slice::from_ref(stanza)).await
    }

    /// Sends the stanzas in order; returns once all are written to the socket, or with the
    /// first failure. They are queued together, so they go out in as few writes as the
    /// socket takes, instead of one write and one wait each.
    pub async fn send_all(&self, stanzas: &[Stanza]) -> Result<(), TransportError> {
        let mut written = Vec::with_capacity(stanzas.len());
        for stanza in stanzas {
            let bytes = frame::encode_checked(stanza, self.max_frame)?;
            let (tx, rx) = oneshot::channel();
            let queued = self.cmds.send(Cmd::Send(bytes, tx)).await;
            queued.map_err(|_| TransportError::ChannelClosed)?;
            written.push(rx);
        }
        for done in written {
            done.await.map_err(|_| TransportError::ChannelClosed)??;
        }
        Ok(())
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
        let (sink, stream) = ws.split();
        let noise = Arc::new(Mutex::new(noise));
        let reader = Reader {
            stream,
            noise: noise.clone(),
            assembler: Assembler::new(max_frame),
            events: ev_tx.clone(),
            max_frame,
            idle_after: config.keepalive * 3,
        };
        let reader = AbortOnDrop(tokio::spawn(reader.run()));
        tokio::spawn(
            Writer { sink, noise, events: ev_tx, keepalive: config.keepalive }.run(cmd_rx, reader),
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

    /// Sends the stanzas in order, written together (see [`ChannelSender::send_all`]).
    pub async fn send_all(&self, stanzas: &[Stanza]) -> Result<(), TransportError> {
        self.sender.send_all(stanzas).await
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

/// Why the reading half stopped.
enum ReadEnd {
    /// The peer closed with a reason.
    Closed(TransportError),
    /// A frame or record we cannot read: the channel is closed as a protocol error.
    Malformed(TransportError),
    /// Nothing came, not even a pong, for three keep-alive periods.
    Idle,
    /// The connection broke or ended without a close.
    Lost(TransportError),
}

/// Reads the WebSocket into the inbox. It runs apart from the writing half, so that a write
/// blocked on a full socket never stops the reading: otherwise two ends that both write more
/// than the sockets buffer wait for each other to read, and neither does. When the inbox is
/// full it waits for room, which stops the reading (back-pressure on the peer).
struct Reader<S> {
    stream: SplitStream<WebSocketStream<S>>,
    noise: Arc<Mutex<TransportState>>,
    assembler: Assembler,
    events: mpsc::Sender<Result<Stanza, TransportError>>,
    max_frame: usize,
    idle_after: Duration,
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Reader<S> {
    async fn run(mut self) -> ReadEnd {
        loop {
            // Counted only while reading: time spent waiting for room in the inbox is ours.
            let Ok(msg) = tokio::time::timeout(self.idle_after, self.stream.next()).await else {
                return ReadEnd::Idle;
            };
            match self.on_message(msg) {
                // The receiver gone means the channel is being closed: the stanza is dropped,
                // and reading goes on until the peer's close.
                Ok(Some(stanza)) => {
                    let _ = self.events.send(Ok(stanza)).await;
                }
                Ok(None) => {}
                Err(e @ TransportError::Closed { .. }) => return ReadEnd::Closed(e),
                Err(
                    e @ (TransportError::Frame(_)
                    | TransportError::Noise(_)
                    | TransportError::RecordTooLarge),
                ) => return ReadEnd::Malformed(e),
                Err(e) => return ReadEnd::Lost(e),
            }
        }
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
        let opened = {
            let mut noise = self.noise.lock().unwrap_or_else(|e| e.into_inner());
            self.assembler.open(&mut noise, &data)?
        };
        let Some(bytes) = opened else { return Ok(None) };
        match frame::decode(&bytes, self.max_frame) {
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
}

/// Aborts the reading half when the writing half ends, however it ends: its inbox handle
/// would otherwise keep the channel looking open.
struct AbortOnDrop(JoinHandle<ReadEnd>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Serves sends, closes and keep-alive pings, and ends the channel when the reading half
/// stops. Sends that are queued together are written together and flushed once.
struct Writer<S> {
    sink: SplitSink<WebSocketStream<S>, Message>,
    noise: Arc<Mutex<TransportState>>,
    events: mpsc::Sender<Result<Stanza, TransportError>>,
    keepalive: Duration,
}

/// Sends written before one flush, at most.
const SENDS_PER_FLUSH: usize = 64;

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Writer<S> {
    async fn run(mut self, mut cmds: mpsc::Receiver<Cmd>, mut reader: AbortOnDrop) {
        let mut ping = interval(self.keepalive);
        ping.tick().await;
        let mut next: Option<Cmd> = None;
        loop {
            let cmd = match next.take() {
                Some(cmd) => Some(cmd),
                None => tokio::select! {
                    cmd = cmds.recv() => cmd,
                    end = &mut reader.0 => return self.on_read_end(end, &mut reader).await,
                    _ = ping.tick() => {
                        if self.sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                            self.report(TransportError::ConnectionLost);
                            return;
                        }
                        continue;
                    }
                },
            };
            match cmd {
                Some(Cmd::Send(bytes, done)) => {
                    let mut batch = vec![(bytes, done)];
                    while batch.len() < SENDS_PER_FLUSH {
                        match cmds.try_recv() {
                            Ok(Cmd::Send(bytes, done)) => batch.push((bytes, done)),
                            Ok(other) => {
                                next = Some(other);
                                break;
                            }
                            Err(_) => break,
                        }
                    }
                    if !self.write_batch(batch).await {
                        return;
                    }
                }
                Some(Cmd::Close(code, reason, done)) => {
                    self.close(code, &reason, &mut reader).await;
                    let _ = done.send(());
                    return;
                }
                None => {
                    return self.close(CloseCode::GoingAway, "channel dropped", &mut reader).await;
                }
            }
        }
    }

    /// Writes the frames, flushes once and answers each send; false when the channel broke.
    /// A send counts as written only once the flush after it succeeded.
    async fn write_batch(&mut self, batch: Vec<(Vec<u8>, SendDone)>) -> bool {
        let mut failure = None;
        for (bytes, _) in &batch {
            if let Err(e) = self.feed_frame(bytes).await {
                failure = Some(e);
                break;
            }
        }
        if failure.is_none()
            && let Err(e) = self.sink.flush().await
        {
            failure = Some(e.into());
        }
        let broken = failure.is_some();
        // Nothing of the batch is known to have left: the first hears why, the rest that the
        // channel broke.
        for (_, done) in batch {
            let _ = done.send(match failure.take() {
                Some(error) => Err(error),
                None if broken => Err(TransportError::ConnectionLost),
                None => Ok(()),
            });
        }
        !broken
    }

    /// The reading half stopped: tell the owner why, and close as that calls for.
    async fn on_read_end(
        &mut self,
        end: Result<ReadEnd, tokio::task::JoinError>,
        reader: &mut AbortOnDrop,
    ) {
        match end {
            Ok(ReadEnd::Closed(e)) => {
                self.report(e);
                let _ = self.sink.close().await;
            }
            Ok(ReadEnd::Malformed(e)) => {
                self.report(e);
                self.close(CloseCode::ProtocolError, "malformed frame", reader).await;
            }
            Ok(ReadEnd::Idle) => {
                self.report(TransportError::IdleTimeout);
                self.close(CloseCode::IdleTimeout, "no keep-alive", reader).await;
            }
            Ok(ReadEnd::Lost(e)) => self.report(e),
            Err(_) => self.report(TransportError::ConnectionLost),
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

    async fn feed_frame(&mut self, frame: &[u8]) -> Result<(), TransportError> {
        let records = {
            let mut noise = self.noise.lock().unwrap_or_else(|e| e.into_inner());
            seal(&mut noise, frame)?
        };
        for record in records {
            self.sink.feed(Message::Binary(record.into())).await?;
        }
        Ok(())
    }

    /// Sends our close, closes the WebSocket and waits (briefly) for the peer's close, which
    /// ends the reading half.
    async fn close(&mut self, code: CloseCode, reason: &str, reader: &mut AbortOnDrop) {
        let close = Stanza::Close(Close { code: code as i32, reason: reason.to_owned() });
        if self.feed_frame(&frame::encode(&close)).await.is_ok() {
            let _ = self.sink.flush().await;
        }
        let _ = self.sink.close().await;
        if !reader.0.is_finished() {
            let _ = tokio::time::timeout(Duration::from_secs(2), &mut reader.0).await;
        }
    }
}
