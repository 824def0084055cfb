//! The `interop-bridge` command line: run the bridge, generate its registration, check its
//! config, or migrate its database.

use std::{path::PathBuf, process::ExitCode};

use anyhow::Context;
use clap::{Parser, Subcommand};
use interop_bridge::{
    config::{Config, registration},
    logging, run,
    store::Store,
};

#[derive(Parser)]
#[command(
    version,
    about = "A Matrix bridge to WhatsApp and Messenger through DMA interoperability"
)]
struct Cli {
    /// The config file.
    #[arg(
        short,
        long,
        global = true,
        default_value = "config.yaml",
        env = "INTEROP_BRIDGE_CONFIG"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the bridge (the default).
    Run,
    /// Create fresh tokens, write them into the config, and write the homeserver's registration file.
    GenerateRegistration {
        /// Where to write the registration file.
        #[arg(short, long, default_value = "registration.yaml")]
        registration: PathBuf,
    },
    /// Validate the config and print every problem found.
    CheckConfig,
    /// Apply database migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Run) {
        Command::CheckConfig => return check_config(&cli.config),
        Command::GenerateRegistration { registration } => {
            generate_registration(&cli.config, &registration)
        }
        Command::Migrate => runtime(1).and_then(|rt| rt.block_on(migrate(&cli.config))),
        Command::Run => Config::load(&cli.config).map_err(anyhow::Error::from).and_then(|config| {
            runtime(config.bridge.worker_threads)
                .and_then(|rt| rt.block_on(run_bridge(config, &cli.config)))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// The async runtime, with `worker_threads` threads. One thread saves the hand-offs between
/// threads that each wake-up costs with two, and the bridge's work rarely needs more than a core.
fn runtime(worker_threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

fn check_config(path: &std::path::Path) -> ExitCode {
    match Config::load(path) {
        Ok(config) => {
            if !config.appservice.tokens_generated() {
                println!(
                    "note: appservice.as_token/hs_token are not generated yet; \
                     run `interop-bridge generate-registration` before `run`"
                );
            }
            if !config.gatekeeper.pickle_key_generated() {
                println!(
                    "note: gatekeeper.pickle_key is not generated yet; \
                     run `interop-bridge generate-registration` before `run`"
                );
            }
            println!("{}: OK", path.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("{error}");
            ExitCode::FAILURE
        }
    }
}

fn generate_registration(
    config_path: &std::path::Path,
    registration_path: &std::path::Path,
) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    let (as_token, hs_token) = (registration::new_token(), registration::new_token());
    let text = std::fs::read_to_string(config_path)
        .with_context(|| format!("cannot read {}", config_path.display()))?;
    let mut updated = registration::set_keys(
        &text,
        "appservice",
        &[("as_token", &as_token), ("hs_token", &hs_token)],
    )?;
    // Only a placeholder is replaced: a new pickle key could not open the keys already stored.
    if !config.gatekeeper.pickle_key_generated() {
        let pickle_key = registration::new_pickle_key();
        updated = registration::set_keys(&updated, "gatekeeper", &[("pickle_key", &pickle_key)])?;
    }
    let registration = registration::Registration::for_config(&config, as_token, hs_token);
    registration::write_secret_file(registration_path, &registration.to_yaml()?)?;
    registration::write_secret_file(config_path, &updated)?;
    println!(
        "Wrote {} and new tokens into {}.\nAdd the registration's path to app_service_config_files \
         in your homeserver's config and restart the homeserver.",
        registration_path.display(),
        config_path.display()
    );
    Ok(())
}

async fn migrate(config_path: &std::path::Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    logging::init(&config.logging);
    let store = Store::connect(&config.database).await.context("cannot open the database")?;
    store.migrate().await.context("cannot apply migrations")?;
    store.close().await;
    println!("Database is up to date.");
    Ok(())
}

async fn run_bridge(config: Config, config_path: &std::path::Path) -> anyhow::Result<()> {
    logging::init(&config.logging);
    tracing::info!(version = env!("CARGO_PKG_VERSION"), config = %config_path.display(), "starting interop-bridge");
    run::run(config).await
}
