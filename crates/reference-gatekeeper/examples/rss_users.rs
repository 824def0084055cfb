//! The gatekeeper's resident memory with many registered users (and,
//! optionally, many open channels). Runs the real `gatekeeper` binary
//! (built next to this example) and reads its VmRSS from /proc.
//!
//! ```sh
//! cargo build --release -p reference-gatekeeper --bins --examples
//! target/release/examples/rss_users 1000 200
//! ```

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use interop_proto::e2ee::{E2ee, OlmEndpoint};
use interop_proto::enlist::WireSignedPrekey;
use interop_proto::transport::{ClientAuth, ClientConfig, ClientHello, NativeAuth, NoiseKeypair};
use reference_gatekeeper::api::{RegisterRequest, RegisterResponse};

fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let users: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let channels: usize = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(0);
    let exe = std::env::current_exe()?;
    let bin = exe
        .parent()
        .and_then(|p| p.parent())
        .map(|p| p.join("gatekeeper"))
        .ok_or_else(|| anyhow::anyhow!("no bin dir"))?;
    let dir = tempfile::tempdir()?;
    let mut child = Command::new(bin)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--chat-listen",
            "127.0.0.1:0",
            "--log-level",
            "warn",
            "--data-dir",
        ])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .spawn()?;
    let mut line = String::new();
    BufReader::new(child.stdout.take().ok_or_else(|| anyhow::anyhow!("no stdout"))?)
        .read_line(&mut line)?;
    let addrs: serde_json::Value = serde_json::from_str(&line)?;
    let http = addrs["http"].as_str().unwrap_or_default().to_owned();
    let chat = addrs["chat"].as_str().unwrap_or_default().to_owned();
    let pid = child.id();
    println!("idle: {} KiB", rss_kib(pid));

    // One key set for all (the server only checks the prekey signature); 50 one-time keys each.
    let mut e2ee = OlmEndpoint::new();
    let ids = e2ee.identity_keys();
    let spk = e2ee.signed_prekey();
    let otks: Vec<Vec<u8>> = e2ee.generate_one_time_keys(50).into_iter().map(|k| k.key).collect();
    let client = reqwest::Client::new();
    let mut creds = Vec::new();
    for i in 0..users {
        let noise = NoiseKeypair::generate();
        let phone = format!("+49170{:07}", i + 1);
        let req = RegisterRequest {
            phone: phone.clone(),
            name: format!("User {i}"),
            avatar: Vec::new(),
            authkey: noise.public().to_vec(),
            identity_key: ids.curve25519.to_vec(),
            signing_key: ids.ed25519.to_vec(),
            signed_prekey: WireSignedPrekey {
                id: spk.id,
                key: spk.key.clone(),
                signature: spk.signature.clone(),
            },
            one_time_keys: otks.clone(),
        };
        let resp: RegisterResponse = client
            .post(format!("{http}v1/native/register"))
            .json(&req)
            .send()
            .await?
            .json()
            .await?;
        creds.push((phone, resp.token, noise));
    }
    println!("{users} registered users: {} KiB", rss_kib(pid));
    let mut open = Vec::new();
    for (phone, token, noise) in creds.into_iter().take(channels) {
        let hello = ClientHello {
            version: 1,
            client: "rss".into(),
            auth: Some(ClientAuth::Native(NativeAuth { phone, token })),
        };
        let (ch, _) =
            interop_proto::transport::connect(&chat, &ClientConfig::new(noise, hello)).await?;
        open.push(ch);
    }
    if channels > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        println!("{users} registered users, {} open channels: {} KiB", open.len(), rss_kib(pid));
    }
    drop(open);
    let _ = Command::new("kill").arg("-TERM").arg(pid.to_string()).status();
    let _ = child.wait();
    Ok(())
}
