//! The client side of the handshake: partner users and native users connect.

use std::time::Duration;

use prost::Message as _;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::WebSocketStream;

use super::channel::{Channel, ChannelConfig};
use super::hello::{ClientHello, ServerHello};
use super::keypair::NoiseKeypair;
use super::record::Assembler;
use super::server::{recv_binary, send_binary};
use super::{NOISE_PATTERN, PROLOGUE, TransportError};

#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// The client's static key (a partner user's enlisted `authkey`).
    pub keypair: NoiseKeypair,
    /// Pin the gatekeeper's static key; `None` accepts any (tests only).
    pub server_key: Option<[u8; 32]>,
    pub hello: ClientHello,
    pub handshake_timeout: Duration,
    pub channel: ChannelConfig,
}

impl ClientConfig {
    pub fn new(keypair: NoiseKeypair, hello: ClientHello) -> Self {
        Self {
            keypair,
            server_key: None,
            hello,
            handshake_timeout: Duration::from_secs(10),
            channel: ChannelConfig::default(),
        }
    }
}

/// Connects to `ws://…` and runs the handshake.
pub async fn connect(
    url: &str,
    config: &ClientConfig,
) -> Result<(Channel, ServerHello), TransportError> {
    let fut = async {
        // Nagle off (`true`): records are small and written as they come, and with it on
        // each one after the first waits for the peer's delayed ACK, up to 40 ms.
        let (ws, _) = tokio_tungstenite::connect_async_with_config(url, None, true).await?;
        run(ws, config).await
    };
    tokio::time::timeout(config.handshake_timeout, fut)
        .await
        .map_err(|_| TransportError::HandshakeTimeout)?
}

/// Runs the handshake on an already-open WebSocket (e.g. one over TLS).
pub async fn handshake<S>(
    ws: WebSocketStream<S>,
    config: &ClientConfig,
) -> Result<(Channel, ServerHello), TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    tokio::time::timeout(config.handshake_timeout, run(ws, config))
        .await
        .map_err(|_| TransportError::HandshakeTimeout)?
}

async fn run<S>(
    mut ws: WebSocketStream<S>,
    config: &ClientConfig,
) -> Result<(Channel, ServerHello), TransportError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let params = NOISE_PATTERN.parse()?;
    let mut hs = snow::Builder::new(params)
        .local_private_key(config.keypair.private())?
        .prologue(PROLOGUE)?
        .build_initiator()?;
    let mut buf = vec![0u8; 65535];
    // -> e
    let n = hs.write_message(&[], &mut buf)?;
    send_binary(&mut ws, &buf[..n]).await?;
    // <- e, ee, s, es
    let msg = recv_binary(&mut ws).await?;
    hs.read_message(&msg, &mut buf)?;
    if let Some(pinned) = config.server_key
        && hs.get_remote_static() != Some(&pinned[..])
    {
        return Err(TransportError::ServerKeyMismatch);
    }
    // -> s, se + ClientHello
    let hello = config.hello.encode_to_vec();
    if hello.len() > 60_000 {
        return Err(TransportError::Handshake("client hello too large"));
    }
    let n = hs.write_message(&hello, &mut buf)?;
    send_binary(&mut ws, &buf[..n]).await?;
    let mut noise = hs.into_transport_mode()?;
    // ServerHello as the first record
    let mut asm = Assembler::new(64 * 1024);
    let server_hello = loop {
        let rec = recv_binary(&mut ws).await?;
        if let Some(bytes) = asm.open(&mut noise, &rec)? {
            break ServerHello::decode(bytes.as_slice())?;
        }
    };
    if let Some(err) = server_hello.error.clone() {
        let _ = ws.close(None).await;
        return Err(TransportError::Rejected(err));
    }
    // Follow the server's keep-alive and frame limit when they are stricter.
    let mut channel = config.channel.clone();
    if server_hello.keepalive_secs > 0 {
        channel.keepalive =
            channel.keepalive.min(Duration::from_secs(server_hello.keepalive_secs.into()));
    }
    if server_hello.max_frame_size > 0 {
        channel.max_frame_size = channel.max_frame_size.min(server_hello.max_frame_size as usize);
    }
    Ok((Channel::spawn(ws, noise, channel), server_hello))
}
