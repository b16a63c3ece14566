//! The public server: the providers' webhooks, each mounted with `WebhookRoute`, which checks
//! the request (signature, token, size), answers the provider at once, and hands the records
//! to the flows on a task of their own, so a slow ERP never makes a provider retry.

use std::sync::Arc;

use axum::Router;
use hubflow::axum::WebhookRoute;
use hubflow::fracttal::{EventRecords, EventSource, DEFAULT_SECRET_HEADER};
use hubflow::timelines::TimelinesWebhook;
use hubflow::whatsapp::webhook::WhatsAppWebhook;
use hubflow::Record;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::app::{App, Intake, WebhookSecrets};

/// Meta's callback URL: the GET subscription handshake and the signed POSTs.
pub const WHATSAPP_PATH: &str = "/hooks/whatsapp";
/// TimelinesAI's webhook URL, with `?token=` (the URL is its only credential).
pub const TIMELINES_PATH: &str = "/hooks/timelines";
/// Where a Fracttal Hub HTTP request forwards the Automator's rows, with the
/// `X-Hubflow-Secret` header.
pub const FRACTTAL_PATH: &str = "/hooks/fracttal";

/// The webhook routes. `in_flight` counts the records handed to the flows, so that shutdown
/// waits for them.
pub fn webhooks(app: Arc<App>, secrets: &WebhookSecrets, in_flight: TaskTracker) -> Router {
    let to_flows = |intake: Intake| {
        let app = app.clone();
        let in_flight = in_flight.clone();
        move |records: Vec<Record>| {
            // Taken while the request is still being answered, before the task starts:
            // once the server has stopped, every handed-over batch holds a token.
            let token = in_flight.token();
            let app = app.clone();
            async move {
                app.deliver(intake, records).await;
                drop(token);
            }
        }
    };
    let whatsapp = WhatsAppWebhook::new(
        secrets.whatsapp_verify_token.clone(),
        secrets.whatsapp_app_secret.clone(),
    );
    let timelines = TimelinesWebhook::new(secrets.timelines_token.clone());
    let fracttal = EventSource::new()
        .records(EventRecords::Assignment)
        .header_secret(DEFAULT_SECRET_HEADER, secrets.fracttal_secret.clone());
    Router::new()
        .merge(
            WebhookRoute::new(whatsapp)
                .on_records(to_flows(Intake::WhatsApp))
                .router(WHATSAPP_PATH),
        )
        .merge(
            WebhookRoute::new(timelines)
                .on_records(to_flows(Intake::Timelines))
                .router(TIMELINES_PATH),
        )
        .merge(
            WebhookRoute::new(fracttal)
                .on_records(to_flows(Intake::Fracttal))
                .router(FRACTTAL_PATH),
        )
}

/// Serves `router` on `listener` until `shutdown`, then stops accepting and returns once
/// the requests in progress are answered.
pub async fn serve(
    name: &'static str,
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) {
    let served = axum::serve(listener, router)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await;
    if let Err(e) = served {
        eprintln!("the {name} server stopped: {e}");
    }
}
