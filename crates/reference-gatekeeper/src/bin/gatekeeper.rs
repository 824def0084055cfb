//! `gatekeeper`: the reference gatekeeper server.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use reference_gatekeeper::config::{Config, PartnerConfig, Profile};
use reference_gatekeeper::server::{self, shutdown};
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "gatekeeper", version, about = "The reference DMA interop gatekeeper")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Serve until SIGINT/SIGTERM.
    Serve(Overrides),
    /// Load and validate the config, print it as the server would use it.
    CheckConfig(Overrides),
}

/// Every config setting, also settable here (flags win over the file).
#[derive(clap::Args)]
struct Overrides {
    /// YAML config file (see gatekeeper.example.yaml).
    #[arg(long, env = "GATEKEEPER_CONFIG")]
    config: Option<PathBuf>,
    #[arg(long, value_enum)]
    profile: Option<Profile>,
    #[arg(long)]
    gatekeeper_id: Option<String>,
    /// HTTP API address.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// Chat channel address.
    #[arg(long)]
    chat_listen: Option<SocketAddr>,
    #[arg(long)]
    public_url: Option<url::Url>,
    #[arg(long)]
    public_chat_url: Option<String>,
    #[arg(long)]
    data_dir: Option<PathBuf>,
    #[arg(long)]
    mailbox_ttl_days: Option<u64>,
    #[arg(long)]
    max_frame_size: Option<u32>,
    #[arg(long)]
    keepalive_secs: Option<u32>,
    #[arg(long)]
    max_media_bytes: Option<u64>,
    #[arg(long)]
    open_registration: Option<bool>,
    #[arg(long)]
    messages_per_sec: Option<f64>,
    #[arg(long)]
    burst: Option<f64>,
    #[arg(long)]
    enlist_per_sec: Option<f64>,
    #[arg(long)]
    push_min_interval_secs: Option<u64>,
    #[arg(long)]
    push_max_attempts: Option<u32>,
    /// A partner as `id=base_url`; repeatable; adds to the config's list.
    #[arg(long = "partner", value_parser = parse_partner)]
    partners: Vec<PartnerConfig>,
    #[arg(long)]
    log_level: Option<String>,
    /// pretty or json.
    #[arg(long)]
    log_format: Option<String>,
}

fn parse_partner(s: &str) -> Result<PartnerConfig, String> {
    let (id, url) = s.split_once('=').ok_or("expected id=base_url")?;
    let base_url = url::Url::parse(url).map_err(|e| e.to_string())?;
    Ok(PartnerConfig { id: id.to_owned(), base_url })
}

impl Overrides {
    fn into_config(self) -> anyhow::Result<Config> {
        let mut c = match &self.config {
            Some(p) => Config::load(p)?,
            None => Config::default(),
        };
        macro_rules! set {
            ($($field:ident => $($target:ident).+),* $(,)?) => {
                $(if let Some(v) = self.$field { c.$($target).+ = v; })*
            };
        }
        set!(profile => profile, gatekeeper_id => gatekeeper_id, listen => listen, chat_listen => chat_listen,
            data_dir => data_dir, mailbox_ttl_days => mailbox_ttl_days, max_frame_size => max_frame_size,
            keepalive_secs => keepalive_secs, max_media_bytes => max_media_bytes,
            open_registration => open_registration, messages_per_sec => rate_limit.messages_per_sec,
            burst => rate_limit.burst, enlist_per_sec => rate_limit.enlist_per_sec,
            push_min_interval_secs => push.min_interval_secs, push_max_attempts => push.max_attempts,
            log_level => log.level, log_format => log.format);
        if let Some(u) = self.public_url {
            c.public_url = Some(u);
        }
        if let Some(u) = self.public_chat_url {
            c.public_chat_url = Some(u);
        }
        c.partners.extend(self.partners);
        c.validate()?;
        Ok(c)
    }
}

fn init_logging(config: &Config) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&config.log.level));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log.format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Cmd::CheckConfig(o) => {
            let c = o.into_config()?;
            println!("{}", serde_json::to_string_pretty(&c)?);
            Ok(())
        }
        Cmd::Serve(o) => {
            let config = o.into_config()?;
            init_logging(&config);
            let running = server::start(config).await.context("starting the gatekeeper")?;
            println!(
                "{}",
                serde_json::json!({ "http": running.http_url(), "chat": running.chat_url() })
            );
            shutdown::signal().await;
            running.shutdown().await;
            Ok(())
        }
    }
}
