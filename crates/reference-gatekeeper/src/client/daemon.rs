//! `gk listen` as a local daemon: other `gk` commands for the same home
//! send their [`Command`] over `gk.sock` and get the result back, so one
//! device keeps one channel (a second would replace the first) and one
//! writer of its E2EE state.
//!
//! Wire: one JSON [`Request`] line in, one JSON [`Response`] line out.

use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};

use super::commands::{Command, execute};
use super::session::Session;
use super::{ClientError, describe};

#[derive(Debug, Serialize, Deserialize)]
pub struct Request {
    pub command: Command,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default)]
    pub result: Value,
    /// Set when the gatekeeper refused: its error code.
    #[serde(default)]
    pub code: Option<u32>,
    #[serde(default)]
    pub error: Option<String>,
}

impl Response {
    pub fn from_result(r: Result<Value, ClientError>) -> Self {
        match r {
            Ok(result) => Self { ok: true, result, code: None, error: None },
            Err(ClientError::Refused(e)) => Self {
                ok: false,
                result: Value::Null,
                code: Some(e.code),
                error: Some(format!("refused: {}", describe(&e))),
            },
            Err(e) => {
                Self { ok: false, result: Value::Null, code: None, error: Some(e.to_string()) }
            }
        }
    }
}

/// Binds the home's socket, replacing a stale one.
pub fn bind(path: &Path) -> std::io::Result<UnixListener> {
    if path.exists() {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                "another `gk listen` runs for this home",
            ));
        }
        std::fs::remove_file(path)?;
    }
    UnixListener::bind(path)
}

/// Serves one connection: reads a request, runs it on the session, answers.
pub async fn serve_one(session: &mut Session, stream: UnixStream) -> std::io::Result<()> {
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    let mut reader = BufReader::new(read);
    let n = tokio::time::timeout(std::time::Duration::from_secs(5), reader.read_line(&mut line))
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "slow client"))??;
    if n == 0 {
        return Ok(());
    }
    let response = match serde_json::from_str::<Request>(&line) {
        Ok(req) => Response::from_result(execute(session, req.command).await),
        Err(e) => Response {
            ok: false,
            result: Value::Null,
            code: None,
            error: Some(format!("bad request: {e}")),
        },
    };
    let mut out = serde_json::to_vec(&response).map_err(std::io::Error::other)?;
    out.push(b'\n');
    write.write_all(&out).await
}

/// Sends a command to a running `gk listen`; `None` if none is running.
pub async fn forward(path: &Path, command: &Command) -> Option<std::io::Result<Response>> {
    let stream = UnixStream::connect(path).await.ok()?;
    Some(
        async {
            let (read, mut write) = stream.into_split();
            let mut req = serde_json::to_vec(&Request { command: command.clone() })
                .map_err(std::io::Error::other)?;
            req.push(b'\n');
            write.write_all(&req).await?;
            let mut line = String::new();
            BufReader::new(read).read_line(&mut line).await?;
            serde_json::from_str(&line).map_err(std::io::Error::other)
        }
        .await,
    )
}
