//! hubflow as a long-running service: the starter a vendor copies.
//!
//! ```text
//! cargo run --example host --features axum,postgres,schema -- --selftest # everything against local stand-ins, then exits
//! cargo run --example host --features axum,postgres,schema          # serves for real (see the environment below)
//! ```
//!
//! * **Webhooks** (`server.rs`), on `--listen` (127.0.0.1:8080): WhatsApp at
//!   `/hooks/whatsapp` (Meta's GET handshake and signed posts: the patients' answers to the
//!   confirmations go to RM), TimelinesAI at `/hooks/timelines?token=…` (`#request`
//!   messages become Fracttal work requests) and Fracttal's Automator at `/hooks/fracttal`
//!   (assigned tasks notify the technician on WhatsApp). Providers need HTTPS: put a
//!   TLS-terminating proxy in front.
//! * **Scheduler** (`scheduler.rs`): the daily RM confirmations and the Fracttal polls, when
//!   their triggers say.
//! * **Admin page** (`admin.rs`), on `--admin` (127.0.0.1:8081): the flows, their last runs,
//!   the dead letters with a replay button, and a spec editor that validates. It has no
//!   login: keep it on loopback or put an authenticating proxy in front.
//! * **Store**: SQLite (`--store`, or `HUBFLOW_STORE`; `hubflow.db`), or PostgreSQL when
//!   `DATABASE_URL` is set. Claims, cursors, windows, pending confirmations and run history
//!   live there, so a restart sends nothing twice.
//! * **Shutdown** on SIGINT or SIGTERM: stop accepting, let the records in flight finish,
//!   exit.
//!
//! The flows are the specs in `examples/flows/` (listed in `app.rs`) over the connections in
//! `connections.json` (or the file `HUBFLOW_CONNECTIONS` names). Their secrets come from the
//! environment: `FRACTTAL_KEY`, `FRACTTAL_SECRET`, `WHATSAPP_TOKEN`, `RM_PASSWORD`; the
//! webhooks' from `WHATSAPP_APP_SECRET`, `WHATSAPP_VERIFY_TOKEN`, `TIMELINES_WEBHOOK_TOKEN`
//! and `FRACTTAL_HOOK_SECRET`. A missing one stops the start with its name.

mod admin;
mod app;
mod scheduler;
mod selftest;
mod server;
mod stand_ins;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use hubflow::http::ReqwestClient;
use hubflow::spec::{Connections, EnvSecrets};
use hubflow::{Context, PgStore, SqliteStore, TokioClock};
use secrecy::SecretString;

use app::{Error, Host, Setup, WebhookSecrets};

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("host: {e}");
            ExitCode::FAILURE
        }
    }
}

/// What the command line asks for.
struct Args {
    selftest: bool,
    store: PathBuf,
    listen: SocketAddr,
    admin: SocketAddr,
}

/// `[--selftest] [--store <path>] [--listen <addr>] [--admin <addr>]`, each flag falling
/// back on an environment variable, then on a default.
fn parse_args() -> Result<Args, Error> {
    let usage = "usage: host [--selftest] [--store <path>] [--listen <addr>] [--admin <addr>]";
    let mut selftest = false;
    let (mut store, mut listen, mut admin) = (None, None, None);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let slot = match arg.as_str() {
            "--selftest" => {
                selftest = true;
                continue;
            }
            "--store" => &mut store,
            "--listen" => &mut listen,
            "--admin" => &mut admin,
            _ => return Err(format!("unknown argument `{arg}`; {usage}").into()),
        };
        *slot = Some(args.next().ok_or(format!("{arg} needs a value; {usage}"))?);
    }
    let or_env = |flag: Option<String>, name: &str, default: &str| {
        flag.or_else(|| std::env::var(name).ok().filter(|v| !v.is_empty()))
            .unwrap_or_else(|| default.to_owned())
    };
    let address = |text: String| {
        text.parse::<SocketAddr>()
            .map_err(|e| format!("`{text}` is not an address like 127.0.0.1:8080: {e}"))
    };
    Ok(Args {
        selftest,
        store: or_env(store, "HUBFLOW_STORE", "hubflow.db").into(),
        listen: address(or_env(listen, "HUBFLOW_LISTEN", "127.0.0.1:8080"))?,
        // Loopback by default: the admin page has no login of its own.
        admin: address(or_env(admin, "HUBFLOW_ADMIN_LISTEN", "127.0.0.1:8081"))?,
    })
}

async fn run() -> Result<(), Error> {
    let args = parse_args()?;
    if args.selftest {
        return selftest::run().await;
    }
    let connections = match std::env::var_os("HUBFLOW_CONNECTIONS") {
        Some(path) => std::fs::read_to_string(&path)
            .map_err(|e| format!("cannot read {}: {e}", PathBuf::from(path).display()))?,
        None => app::CONNECTIONS.to_owned(),
    };
    let webhooks = WebhookSecrets {
        whatsapp_verify_token: required("WHATSAPP_VERIFY_TOKEN")?,
        whatsapp_app_secret: required("WHATSAPP_APP_SECRET")?,
        timelines_token: required("TIMELINES_WEBHOOK_TOKEN")?,
        fracttal_secret: required("FRACTTAL_HOOK_SECRET")?,
    };
    let setup = Setup {
        ctx: context(&args.store).await?,
        connections: Connections::from_json(&connections)?,
        secrets: Arc::new(EnvSecrets::new()),
        webhooks,
        public: args.listen,
        admin: args.admin,
    };
    let host = Host::start(setup).await?;
    println!("webhooks on http://{}", host.public);
    println!("admin page on http://{}/", host.admin);
    stop_requested().await;
    println!("stopping: no new requests; finishing the records in flight");
    host.shutdown().await;
    println!("stopped");
    Ok(())
}

/// The flows' context: the reqwest client, the system clock, and the store.
async fn context(sqlite: &std::path::Path) -> Result<Context, Error> {
    let http = ReqwestClient::new()?;
    Ok(match std::env::var("DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            // Never print the URL: it holds the password.
            let store = PgStore::connect(&url).await?;
            println!("store: PostgreSQL, schema {}", store.schema());
            // The database also shares the rate limits between the workers it serves.
            Context::new(http, TokioClock, store.clone()).with_rates(store)
        }
        _ => {
            println!("store: SQLite file {}", sqlite.display());
            Context::new(http, TokioClock, SqliteStore::open(sqlite).await?)
        }
    })
}

/// A webhook secret from the environment. There are no defaults: a webhook whose secret is
/// known would accept anyone's posts.
fn required(name: &str) -> Result<SecretString, Error> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Ok(SecretString::from(value)),
        _ => Err(format!("set {name} (or run with --selftest)").into()),
    }
}

/// SIGINT (Ctrl-C) or, on Unix, SIGTERM (what service managers and container runtimes send).
async fn stop_requested() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            eprintln!("cannot listen for Ctrl-C: {e}");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut stream) => {
                stream.recv().await;
            }
            Err(e) => {
                eprintln!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {}
        () = terminate => {}
    }
}
