//! The server side of the handshake: the gatekeeper accepts channels.
//!
//! [`accept`] runs the Noise handshake and returns a [`PendingClient`] with
//! the client's static key and hello; the gatekeeper checks the credentials
//! against its own records and then calls `accept` or `reject`.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use prost::Message as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;

use super::channel::{Channel, ChannelConfig};
use super::hello::{ClientHello, ServerHello};
use super::keypair::NoiseKeypair;
use super::record::seal;
use super::{NOISE_PATTERN, PROLOGUE, TransportError};
use crate::error_code::ErrorCode;
use crate::frame::PROTOCOL_VERSION;
use crate::stanza::StanzaError;

#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The gatekeeper's static key; partners pin its public half.
    pub keypair: NoiseKeypair,
    pub handshake_timeout: Duration,
    pub channel: ChannelConfig,
}

impl ServerConfig {
    pub fn new(keypair: NoiseKeypair) -> Self {
        Self {
            keypair,
            handshake_timeout: Duration::from_secs(10),
            channel: ChannelConfig::default(),
        }
    }
}

/// A client that finished the Noise handshake but is not yet admitted.
pub struct PendingClient<S> {
    ws: WebSocketStream<S>,
    noise: snow::TransportState,
    client_key: [u8; 32],
    hello: ClientHello,
    channel: ChannelConfig,
}

impl<S> std::fmt::Debug for PendingClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "PendingClient {{ key: {}, hello: {:?} }}",
            crate::hex(&self.client_key),
            self.hello
        )
    }
}

/// Upgrades a TCP (or TLS) stream to WebSocket and runs the Noise handshake.
/// A client speaking another protocol version is refused here with 426.
pub async fn accept<S>(stream: S, config: &ServerConfig) -> Result<PendingClient<S>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let fut = async {
        let ws = tokio_tungstenite::accept_async(stream).await?;
        run(ws, config).await
    };
    let pending = tokio::time::timeout(config.handshake_timeout, fut)
        .await
        .map_err(|_| TransportError::HandshakeTimeout)??;
    if pending.hello.version != PROTOCOL_VERSION {
        let v = pending.hello.version;
        pending
            .reject(StanzaError::new(
                ErrorCode::VersionUnsupported,
                format!("version {v} unsupported, use {PROTOCOL_VERSION}"),
            ))
            .await;
        return Err(TransportError::Handshake("client protocol version unsupported"));
    }
    Ok(pending)
}

/// Runs the handshake on an already-upgraded WebSocket.
pub async fn handshake<S>(
    ws: WebSocketStream<S>,
    config: &ServerConfig,
) -> Result<PendingClient<S>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::time::timeout(config.handshake_timeout, run(ws, config))
        .await
        .map_err(|_| TransportError::HandshakeTimeout)?
}

async fn run<S>(
    mut ws: WebSocketStream<S>,
    config: &ServerConfig,
) -> Result<PendingClient<S>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let params = NOISE_PATTERN.parse()?;
    let mut hs = snow::Builder::new(params)
        .local_private_key(config.keypair.private())?
        .prologue(PROLOGUE)?
        .build_responder()?;
    let mut buf = vec![0u8; 65535];
    let msg = recv_binary(&mut ws).await?;
    hs.read_message(&msg, &mut buf)?;
    let n = hs.write_message(&[], &mut buf)?;
    send_binary(&mut ws, &buf[..n]).await?;
    let msg = recv_binary(&mut ws).await?;
    let n = hs.read_message(&msg, &mut buf)?;
    let hello = ClientHello::decode(&buf[..n])?;
    let client_key: [u8; 32] = hs
        .get_remote_static()
        .and_then(|k| k.try_into().ok())
        .ok_or(TransportError::Handshake("no client static key"))?;
    let noise = hs.into_transport_mode()?;
    Ok(PendingClient { ws, noise, client_key, hello, channel: config.channel.clone() })
}

impl<S> PendingClient<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// The client's Noise static key: must equal the enlisted `authkey`.
    pub fn client_key(&self) -> [u8; 32] {
        self.client_key
    }

    pub fn hello(&self) -> &ClientHello {
        &self.hello
    }

    /// Admits the client: sends the hello (version, user, limits) and starts the channel.
    pub async fn accept(mut self, mut hello: ServerHello) -> Result<Channel, TransportError> {
        hello.error = None;
        hello.version = PROTOCOL_VERSION;
        if hello.keepalive_secs == 0 {
            hello.keepalive_secs = self.channel.keepalive.as_secs() as u32;
        }
        if hello.max_frame_size == 0 {
            hello.max_frame_size = self.channel.max_frame_size as u32;
        }
        self.send_hello(&hello).await?;
        Ok(Channel::spawn(self.ws, self.noise, self.channel))
    }

    /// Refuses the client with a reason and closes the connection.
    pub async fn reject(mut self, error: StanzaError) {
        let hello =
            ServerHello { version: PROTOCOL_VERSION, error: Some(error), ..Default::default() };
        let _ = self.send_hello(&hello).await;
        let _ = self.ws.close(None).await;
    }

    async fn send_hello(&mut self, hello: &ServerHello) -> Result<(), TransportError> {
        for record in seal(&mut self.noise, &hello.encode_to_vec())? {
            send_binary(&mut self.ws, &record).await?;
        }
        Ok(())
    }
}

pub(crate) async fn send_binary<S>(
    ws: &mut WebSocketStream<S>,
    data: &[u8],
) -> Result<(), TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.send(Message::Binary(data.to_vec().into())).await?;
    Ok(())
}

/// The next binary message, skipping pings; errors on close or text.
pub(crate) async fn recv_binary<S>(ws: &mut WebSocketStream<S>) -> Result<Vec<u8>, TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    loop {
        match ws.next().await {
            Some(Ok(Message::Binary(b))) => return Ok(b.to_vec()),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            Some(Ok(Message::Close(_))) | None => return Err(TransportError::ConnectionLost),
            Some(Ok(_)) => return Err(TransportError::Handshake("unexpected text message")),
            Some(Err(e)) => return Err(e.into()),
        }
    }
}
