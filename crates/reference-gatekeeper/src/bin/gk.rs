//! `gk`: a native gatekeeper user's client (one E2EE device), for people and tests.
//!
//! Exit codes: 0 ok, 1 error, 2 usage, 3 refused by the gatekeeper,
//! 4 timed out waiting for events.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use reference_gatekeeper::client::{self, ClientError, Command, Home, Session, daemon, register};
use std::io::Write as _;

#[derive(Parser)]
#[command(name = "gk", version, about = "A gatekeeper (WhatsApp-style) user's client")]
struct Cli {
    /// The device's state directory.
    #[arg(long, env = "GK_HOME", global = true, default_value = ".gk")]
    home: PathBuf,
    /// Log level for diagnostics on stderr.
    #[arg(long, env = "GK_LOG", global = true, default_value = "warn")]
    log: String,
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Register this device for a phone number (E.164).
    Register {
        phone: String,
        #[arg(long)]
        name: String,
        /// The gatekeeper's HTTP API.
        #[arg(long, env = "GK_SERVER", default_value = "http://127.0.0.1:8480/")]
        server: String,
        /// A picture file for the profile.
        #[arg(long)]
        avatar: Option<PathBuf>,
    },
    /// Accept third-party chats from a partner, in a separate or the combined inbox.
    OptIn {
        #[arg(long)]
        partner: String,
        #[arg(long, value_parser = ["separate", "combined"])]
        inbox: String,
    },
    /// Stop accepting third-party chats from a partner.
    OptOut {
        #[arg(long)]
        partner: String,
    },
    Block {
        user: String,
    },
    Unblock {
        user: String,
    },
    Blocklist,
    /// Send text as typed (WhatsApp markup such as *bold* stays as is).
    Send {
        to: String,
        text: String,
    },
    Reply {
        to: String,
        msg_id: String,
        text: String,
    },
    React {
        to: String,
        msg_id: String,
        emoji: String,
    },
    Unreact {
        to: String,
        msg_id: String,
    },
    Edit {
        to: String,
        msg_id: String,
        text: String,
    },
    Delete {
        to: String,
        msg_id: String,
    },
    SendFile {
        to: String,
        path: PathBuf,
        #[arg(long, default_value = "")]
        caption: String,
    },
    Typing {
        to: String,
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
    /// Send read receipts.
    Read {
        to: String,
        #[arg(required = true)]
        msg_ids: Vec<String>,
    },
    Profile {
        user: String,
    },
    /// Phone number to internal id.
    Lookup {
        phone: String,
    },
    KeyCount,
    #[command(subcommand)]
    Group(GroupCmd),
    /// Print every received event as one JSON object per line; serve other gk commands.
    Listen {
        /// Exit after this many events (not counting `connected`/`offline_complete`).
        #[arg(long)]
        until_count: Option<usize>,
        /// Exit after this many seconds (code 4 if --until-count was not reached).
        #[arg(long)]
        timeout: Option<f64>,
    },
}

#[derive(Subcommand)]
enum GroupCmd {
    Create {
        subject: String,
        members: Vec<String>,
    },
    Add {
        group: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
    Remove {
        group: String,
        #[arg(required = true)]
        members: Vec<String>,
    },
    Send {
        group: String,
        text: String,
    },
    Info {
        group: String,
    },
}

fn to_command(cmd: Cmd) -> Option<Command> {
    Some(match cmd {
        Cmd::Send { to, text } => Command::Send { to, text },
        Cmd::Reply { to, msg_id, text } => Command::Reply { to, msg_id, text },
        Cmd::React { to, msg_id, emoji } => Command::React { to, msg_id, emoji },
        Cmd::Unreact { to, msg_id } => Command::Unreact { to, msg_id },
        Cmd::Edit { to, msg_id, text } => Command::Edit { to, msg_id, text },
        Cmd::Delete { to, msg_id } => Command::Delete { to, msg_id },
        Cmd::SendFile { to, path, caption } => {
            // The daemon may run elsewhere: give it an absolute path.
            let path = std::path::absolute(&path).unwrap_or(path);
            Command::SendFile { to, path: path.display().to_string(), caption }
        }
        Cmd::Typing { to, state } => Command::Typing { to, on: state == "on" },
        Cmd::Read { to, msg_ids } => Command::Read { to, msg_ids },
        Cmd::Block { user } => Command::Block { user },
        Cmd::Unblock { user } => Command::Unblock { user },
        Cmd::Blocklist => Command::Blocklist,
        Cmd::Profile { user } => Command::Profile { user },
        Cmd::Lookup { phone } => Command::Lookup { phone },
        Cmd::KeyCount => Command::KeyCount,
        Cmd::Group(GroupCmd::Create { subject, members }) => {
            Command::GroupCreate { subject, members }
        }
        Cmd::Group(GroupCmd::Add { group, members }) => Command::GroupAdd { group, members },
        Cmd::Group(GroupCmd::Remove { group, members }) => Command::GroupRemove { group, members },
        Cmd::Group(GroupCmd::Send { group, text }) => Command::Send { to: group, text },
        Cmd::Group(GroupCmd::Info { group }) => Command::GroupInfo { group },
        Cmd::Register { .. } | Cmd::OptIn { .. } | Cmd::OptOut { .. } | Cmd::Listen { .. } => {
            return None;
        }
    })
}

fn fail(e: &ClientError) -> ExitCode {
    eprintln!("gk: {e}");
    match e {
        ClientError::Refused(_) => ExitCode::from(3),
        ClientError::Usage(_) => ExitCode::from(2),
        _ => ExitCode::from(1),
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&cli.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let home = Home::new(cli.home);
    match cli.command {
        Cmd::Register { phone, name, server, avatar } => {
            let avatar = match avatar.map(std::fs::read).transpose() {
                Ok(a) => a.unwrap_or_default(),
                Err(e) => return fail(&ClientError::Io(e)),
            };
            match register::register(&home, &server, &phone, &name, avatar).await {
                Ok(c) => {
                    println!("{}", serde_json::json!({ "user": c.user, "phone": c.phone }));
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Cmd::OptIn { partner, inbox } => opt(&home, &partner, &inbox).await,
        Cmd::OptOut { partner } => opt(&home, &partner, "none").await,
        Cmd::Listen { until_count, timeout } => listen(&home, until_count, timeout).await,
        other => {
            let Some(cmd) = to_command(other) else { return ExitCode::from(2) };
            run_command(&home, cmd).await
        }
    }
}

async fn opt(home: &Home, partner: &str, inbox: &str) -> ExitCode {
    let result = async {
        let (creds, _, _) = home.load()?;
        register::opt_in(&creds, partner, inbox).await
    }
    .await;
    match result {
        Ok(()) => {
            println!("{}", serde_json::json!({ "partner": partner, "inbox": inbox }));
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

/// Through a running `gk listen` if there is one, else on a channel of our own.
async fn run_command(home: &Home, cmd: Command) -> ExitCode {
    if let Some(r) = daemon::forward(&home.socket_path(), &cmd).await {
        return match r {
            Ok(resp) if resp.ok => {
                println!("{}", resp.result);
                ExitCode::SUCCESS
            }
            Ok(resp) => {
                eprintln!("gk: {}", resp.error.unwrap_or_default());
                ExitCode::from(if resp.code.is_some() { 3 } else { 1 })
            }
            Err(e) => fail(&ClientError::Io(e)),
        };
    }
    let result = async {
        let mut session = Session::connect_home(home).await?;
        let r = client::commands::execute(&mut session, cmd).await;
        session.close().await;
        r
    }
    .await;
    match result {
        Ok(v) => {
            println!("{v}");
            ExitCode::SUCCESS
        }
        Err(e) => fail(&e),
    }
}

enum Wake {
    Stanza(Box<Result<interop_proto::Stanza, ClientError>>),
    Conn(std::io::Result<tokio::net::UnixStream>),
    Timeout,
    Signal,
}

async fn listen(home: &Home, until: Option<usize>, timeout: Option<f64>) -> ExitCode {
    let mut session = match Session::connect_home(home).await {
        Ok(s) => s,
        Err(e) => return fail(&e),
    };
    let sock = home.socket_path();
    let listener = match daemon::bind(&sock) {
        Ok(l) => l,
        Err(e) => return fail(&ClientError::Io(e)),
    };
    let mut out = std::io::stdout();
    let connected = client::Event::Connected {
        user: session.user().to_owned(),
        capabilities: session.capabilities().to_wire(),
    };
    let _ = out.write_all(format!("{}\n", connected.to_json_line()).as_bytes());
    let _ = out.flush();
    let deadline =
        timeout.map(|t| tokio::time::Instant::now() + Duration::from_secs_f64(t.max(0.0)));
    let mut count = 0usize;
    let code = loop {
        let wake = tokio::select! {
            s = session.recv_stanza() => Wake::Stanza(Box::new(s)),
            c = listener.accept() => Wake::Conn(c.map(|(s, _)| s)),
            _ = async { match deadline { Some(d) => tokio::time::sleep_until(d).await, None => std::future::pending().await } } => Wake::Timeout,
            _ = tokio::signal::ctrl_c() => Wake::Signal,
        };
        match wake {
            Wake::Stanza(s) => match *s {
                Ok(s) => match session.handle(s).await {
                    Ok(events) => {
                        for ev in events {
                            let _ = out.write_all(format!("{}\n", ev.to_json_line()).as_bytes());
                            if !ev.is_meta() {
                                count += 1;
                            }
                        }
                        let _ = out.flush();
                        if until.is_some_and(|n| count >= n) {
                            break ExitCode::SUCCESS;
                        }
                    }
                    Err(e) => break fail(&e),
                },
                Err(e) => {
                    let ev = client::Event::Closed { reason: e.to_string() };
                    let _ = out.write_all(format!("{}\n", ev.to_json_line()).as_bytes());
                    break fail(&e);
                }
            },
            Wake::Conn(Ok(stream)) => {
                if let Err(e) = daemon::serve_one(&mut session, stream).await {
                    tracing::warn!(error = %e, "local command failed");
                }
            }
            Wake::Conn(Err(e)) => tracing::warn!(error = %e, "accept on the local socket failed"),
            Wake::Timeout => {
                break if until.is_some() { ExitCode::from(4) } else { ExitCode::SUCCESS };
            }
            Wake::Signal => break ExitCode::SUCCESS,
        }
    };
    drop(listener);
    let _ = std::fs::remove_file(&sock);
    let _ = session.save();
    session.close().await;
    code
}
