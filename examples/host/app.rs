//! The host's wiring: which flows it runs and which webhook feeds each, then starting the
//! two servers and the scheduler, and stopping them in order.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, PoisonError};

use hubflow::spec::{Connections, Registry, SecretResolver};
use hubflow::{Context, Flow, FlowSpec, Record};
use secrecy::SecretString;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::{admin, scheduler, server};

/// Errors that end the host (at start, mostly): shown to the operator as they are.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The webhook that hands records to a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Intake {
    /// Meta's signed posts: the patients' answers to the confirmations.
    WhatsApp,
    /// TimelinesAI's posts to a secret URL: WhatsApp messages captured there.
    Timelines,
    /// Rows a Fracttal Automator rule forwards: tasks assigned.
    Fracttal,
}

/// The flows this host runs, each with the webhook that feeds it, if any. Flows with a
/// source and a timed trigger are also run by the scheduler: `wo-assigned` is both, since
/// Fracttal's Automator forwards an assignment at once and the poll catches any it missed,
/// and the store's claims send each assignment once.
///
/// A real host keeps its specs in its own database, where its users edit them (the admin
/// page's editor validates them), and builds them like this at start.
const FLOWS: [(&str, Option<Intake>); 6] = [
    (include_str!("../flows/rm-confirmations.json"), None),
    (
        include_str!("../flows/rm-replies.json"),
        Some(Intake::WhatsApp),
    ),
    (
        include_str!("../flows/wo-assigned.json"),
        Some(Intake::Fracttal),
    ),
    (include_str!("../flows/wo-status-changed.json"), None),
    (include_str!("../flows/critical-reading.json"), None),
    (
        include_str!("flows/timelines-work-request.json"),
        Some(Intake::Timelines),
    ),
];

/// Where the flows connect to (Fracttal, WhatsApp, RM), naming their secrets; the host's
/// secret resolver supplies the values. `HUBFLOW_CONNECTIONS` names a file to use instead.
pub const CONNECTIONS: &str = include_str!("connections.json");

/// What the host is given from outside.
pub struct Setup {
    /// The HTTP client, the clock and the store the flows run with.
    pub ctx: Context,
    /// The connections the specs name.
    pub connections: Connections,
    /// Where the connections' secrets come from (the environment, in `main`).
    pub secrets: Arc<dyn SecretResolver>,
    /// The webhooks' own secrets.
    pub webhooks: WebhookSecrets,
    /// Where the providers' webhooks are served: behind the TLS proxy they call.
    pub public: SocketAddr,
    /// Where the admin page is served: keep it on loopback, or put an authenticating proxy
    /// in front; it has no login of its own.
    pub admin: SocketAddr,
}

/// The secrets that prove a webhook request comes from its provider.
pub struct WebhookSecrets {
    /// The verify token typed into Meta's App Dashboard (the subscription handshake).
    pub whatsapp_verify_token: SecretString,
    /// The app secret whose HMAC signs Meta's posts.
    pub whatsapp_app_secret: SecretString,
    /// The `?token=` of the URL given to TimelinesAI (it signs nothing).
    pub timelines_token: SecretString,
    /// The header secret the Fracttal Hub HTTP request sends.
    pub fracttal_secret: SecretString,
}

/// A flow as the host runs it: the flow, its spec as written, and the webhook feeding it.
pub struct Hosted {
    /// The built flow.
    pub flow: Flow,
    /// The spec it was built from (it names secrets; it never holds their values).
    pub spec: Value,
    /// The webhook that hands it records, if any.
    pub intake: Option<Intake>,
}

/// Everything the servers and the scheduler share.
pub struct App {
    /// The context every flow runs with.
    pub ctx: Context,
    /// The flows, in [`FLOWS`] order.
    pub flows: Vec<Hosted>,
    /// What specs are built and validated against.
    pub registry: Registry,
    /// The JSON Schema of specs for this registry (every kind with its config), compiled
    /// once: the editor checks a spec against it, and `GET /api/schema` serves it to forms.
    pub schema: jsonschema::Validator,
    /// The connections specs may name.
    pub connections: Connections,
    /// The resolver of the connections' secrets.
    pub secrets: Arc<dyn SecretResolver>,
    /// The last scheduled run's error per flow: a run whose source failed stores no report,
    /// so the history alone would not show it.
    errors: Mutex<HashMap<String, String>>,
}

impl App {
    /// Builds every flow, reporting every problem of every spec at once.
    pub fn build(
        ctx: Context,
        connections: Connections,
        secrets: Arc<dyn SecretResolver>,
    ) -> Result<App, Error> {
        let registry = Registry::default();
        let mut flows = Vec::new();
        let mut problems = Vec::new();
        for (text, intake) in FLOWS {
            let spec: Value = serde_json::from_str(text)?;
            let built = FlowSpec::from_value(&spec)
                .and_then(|parsed| parsed.build(&registry, &connections, secrets.as_ref()));
            match built {
                Ok(flow) => flows.push(Hosted { flow, spec, intake }),
                Err(errors) => problems.push(format!("flow {}: {errors}", spec["id"])),
            }
        }
        if !problems.is_empty() {
            return Err(problems.join("\n").into());
        }
        let schema = jsonschema::validator_for(registry.flow_schema().as_value())
            .map_err(|e| format!("the registry's flow schema does not compile: {e}"))?;
        Ok(App {
            ctx,
            flows,
            registry,
            schema,
            connections,
            secrets,
            errors: Mutex::default(),
        })
    }

    /// The flow with this id.
    pub fn flow(&self, id: &str) -> Option<&Flow> {
        self.flows
            .iter()
            .map(|hosted| &hosted.flow)
            .find(|flow| flow.id() == id)
    }

    /// Hands a webhook's records to every flow it feeds. Each run's report goes to the
    /// store's history (the admin page reads it there) and its summary to the log: keys,
    /// outcomes and messages, never a record's payload (messages may quote the value that
    /// failed; a flow with `"dead_letters": "key_only"` withholds them).
    pub async fn deliver(&self, intake: Intake, records: Vec<Record>) {
        if intake == Intake::WhatsApp {
            // Before the flows: the 24-hour windows, template changes and opt-outs the
            // records tell, which the WhatsApp targets consult.
            if let Err(e) = hubflow::whatsapp::remember(&self.ctx, &records).await {
                eprintln!("whatsapp: the windows and opt-outs were not stored: {e}");
            }
        }
        for hosted in self.flows.iter().filter(|h| h.intake == Some(intake)) {
            let report = hosted.flow.process(&self.ctx, records.clone()).await;
            println!("{report}");
        }
    }

    /// Notes (or, with `None`, clears) the error of a flow's last scheduled run.
    pub fn note_error(&self, flow: &str, error: Option<String>) {
        // A map of whole strings cannot be left half-written: a poisoned lock is still valid.
        let mut errors = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        match error {
            Some(message) => errors.insert(flow.to_owned(), message),
            None => errors.remove(flow),
        };
    }

    /// The error of a flow's last scheduled run, if it failed.
    pub fn last_error(&self, flow: &str) -> Option<String> {
        let errors = self.errors.lock().unwrap_or_else(PoisonError::into_inner);
        errors.get(flow).cloned()
    }
}

/// The running host.
pub struct Host {
    /// What the servers and the scheduler share.
    pub app: Arc<App>,
    /// The webhooks' address.
    pub public: SocketAddr,
    /// The admin page's address.
    pub admin: SocketAddr,
    shutdown: CancellationToken,
    tasks: Vec<JoinHandle<()>>,
    in_flight: TaskTracker,
}

impl Host {
    /// Builds the flows, binds both addresses and starts the servers and the scheduler.
    pub async fn start(setup: Setup) -> Result<Host, Error> {
        let app = Arc::new(App::build(setup.ctx, setup.connections, setup.secrets)?);
        let public = TcpListener::bind(setup.public).await?;
        let admin = TcpListener::bind(setup.admin).await?;
        let (public_addr, admin_addr) = (public.local_addr()?, admin.local_addr()?);
        let shutdown = CancellationToken::new();
        let in_flight = TaskTracker::new();
        let webhooks = server::webhooks(app.clone(), &setup.webhooks, in_flight.clone());
        let tasks = vec![
            tokio::spawn(server::serve(
                "webhooks",
                public,
                webhooks,
                shutdown.clone(),
            )),
            tokio::spawn(server::serve(
                "admin",
                admin,
                admin::router(app.clone(), admin_addr.port()),
                shutdown.clone(),
            )),
            tokio::spawn(scheduler::run(app.clone(), shutdown.clone())),
        ];
        Ok(Host {
            app,
            public: public_addr,
            admin: admin_addr,
            shutdown,
            tasks,
            in_flight,
        })
    }

    /// Stops in order: the servers accept nothing more and finish the requests they are
    /// answering (a replay from the admin page included); the scheduler starts no new run
    /// and lets a run in progress end; then the webhook records still being delivered
    /// finish. Nothing is cut off halfway, so a service manager's stop timeout must cover
    /// the longest run.
    pub async fn shutdown(self) {
        self.shutdown.cancel();
        for task in self.tasks {
            if let Err(e) = task.await {
                eprintln!("a host task ended abnormally: {e}");
            }
        }
        self.in_flight.close();
        self.in_flight.wait().await;
    }
}
