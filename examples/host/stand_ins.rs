//! Local stand-ins, for `--selftest` and the admin page's browser test: the crate's provider
//! fakes behind one `FakeClient` (nothing leaves the process), development secrets, and the
//! bodies the providers would post.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use hubflow::fracttal::fake::FracttalFake;
use hubflow::http::{
    FakeClient, HttpClient, HttpError, HttpRequest, HttpResponse, Method, ProviderFake,
};
use hubflow::rm::fake::RmFake;
use hubflow::rm::{JwtAuth, RmAuth, RmClient};
use hubflow::spec::{Connections, MapSecrets};
use hubflow::whatsapp::fake::WhatsAppFake;
use hubflow::{Context, SqliteStore, TokioClock};
use secrecy::SecretString;
use serde_json::{json, Value};
use tokio::sync::watch;

use crate::app::{Error, Setup, WebhookSecrets, CONNECTIONS};

/// The connections' secrets, as the stand-ins take them. Distinct values, so a test can
/// check that none of them ever appears on a page or in an answer.
pub const SECRETS: [(&str, &str); 4] = [
    ("FRACTTAL_KEY", "stand-in-fracttal-key-5d1c"),
    ("FRACTTAL_SECRET", "stand-in-fracttal-secret-8e2f"),
    ("WHATSAPP_TOKEN", "stand-in-whatsapp-token-3a9b"),
    ("RM_PASSWORD", "stand-in-rm-password-7c40"),
];

/// The webhooks' development secrets.
pub const APP_SECRET: &str = "stand-in-app-secret-61f0";
pub const VERIFY_TOKEN: &str = "stand-in-verify-token-0b7e";
pub const TIMELINES_TOKEN: &str = "0f4c9e1a7b2d4e8f9a6b3c5d7e9f1a2b";
pub const FRACTTAL_HOOK_SECRET: &str = "stand-in-fracttal-hook-2d95";

/// The providers, as the host's flows see them.
pub struct StandIns {
    /// The Graph API: every send gets a `wamid.fake.N`.
    pub whatsapp: Arc<WhatsAppFake>,
    /// Fracttal One, able to refuse one work request.
    pub fracttal: Arc<Fracttal>,
    clinic: Arc<Clinic>,
    /// Open (`true`) unless the self-test holds the providers' answers back.
    gate: Arc<watch::Sender<bool>>,
}

impl StandIns {
    /// Fresh stand-ins: nothing sent, no failure queued.
    pub fn new() -> Result<StandIns, Error> {
        Ok(StandIns {
            whatsapp: Arc::new(WhatsAppFake::new()),
            fracttal: Arc::new(Fracttal::default()),
            clinic: Arc::new(Clinic::new()?),
            gate: Arc::new(watch::Sender::new(true)),
        })
    }

    /// Holds every provider's answer until [`release`](StandIns::release): a delivery then
    /// stays in flight for as long as the self-test wants, e.g. across a shutdown.
    pub fn hold(&self) {
        self.gate.send_replace(false);
    }

    /// Lets the held answers, and all later ones, through.
    pub fn release(&self) {
        self.gate.send_replace(true);
    }

    /// A host setup on 127.0.0.1 (ports chosen by the system) against these stand-ins, with
    /// the connections the host ships and a SQLite store in memory.
    pub async fn setup(&self) -> Result<Setup, Error> {
        // The clinic first: it knows its requests by host (see `Clinic`).
        let http = Gated {
            fakes: FakeClient::new()
                .with_arc(self.clinic.clone())
                .with_arc(self.whatsapp.clone())
                .with_arc(self.fracttal.clone()),
            gate: self.gate.subscribe(),
        };
        let secrets = SECRETS
            .iter()
            .fold(MapSecrets::new(), |secrets, (name, value)| {
                secrets.with(*name, *value)
            });
        let loopback = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
        Ok(Setup {
            ctx: Context::new(http, TokioClock, SqliteStore::in_memory().await?),
            connections: Connections::from_json(CONNECTIONS)?,
            secrets: Arc::new(secrets),
            webhooks: WebhookSecrets {
                whatsapp_verify_token: SecretString::from(VERIFY_TOKEN),
                whatsapp_app_secret: SecretString::from(APP_SECRET),
                timelines_token: SecretString::from(TIMELINES_TOKEN),
                fracttal_secret: SecretString::from(FRACTTAL_HOOK_SECRET),
            },
            public: loopback,
            admin: loopback,
        })
    }
}

/// The fakes behind a gate: each request waits until the gate is open.
struct Gated {
    fakes: FakeClient,
    gate: watch::Receiver<bool>,
}

#[async_trait]
impl HttpClient for Gated {
    async fn send(&self, request: &HttpRequest) -> Result<HttpResponse, HttpError> {
        let mut gate = self.gate.clone();
        // The sender lives in `StandIns` as long as the host; if it is gone, nothing waits.
        let _ = gate.wait_for(|open| *open).await;
        self.fakes.send(request).await
    }
}

/// Fracttal as the crate's fake answers, except that it refuses the next work request once
/// when asked to (a 400: permanent, so the record becomes a dead letter at once).
#[derive(Debug, Default)]
pub struct Fracttal {
    fake: FracttalFake,
    refuse_next: AtomicBool,
}

impl Fracttal {
    /// The next `POST work_requests` is refused; the one after is accepted again.
    pub fn refuse_next_work_request(&self) {
        self.refuse_next.store(true, Ordering::SeqCst);
    }
}

impl ProviderFake for Fracttal {
    fn provider(&self) -> &str {
        self.fake.provider()
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let work_request =
            request.method == Method::Post && request.url.path().ends_with("/work_requests");
        if work_request && self.refuse_next.swap(false, Ordering::SeqCst) {
            let body = json!({"success": false, "message": "the asset PUMP-3 is inactive"});
            return Some(HttpResponse::json(400, &body));
        }
        self.fake.answer(request)
    }
}

/// The clinic's ERP: tomorrow's three appointments (Ana and Bruno, and Carla, who has no
/// mobile number), and the crate's RM fake for the rest (login, confirm, cancel).
///
/// The crate's fakes know their requests by path, and RM's routes and Fracttal's both live
/// under `/api/`: this one answers only requests to the RM connection's host.
#[derive(Debug)]
struct Clinic {
    host: String,
    rm: RmFake,
}

/// The appointments route of `examples/flows/rm-confirmations.json`.
const APPOINTMENTS_PATH: &str = "/api/healthcare/v1/appointments";

impl Clinic {
    /// The clinic at the RM connection of `connections.json`.
    fn new() -> Result<Clinic, Error> {
        let connections: Value = serde_json::from_str(CONNECTIONS)?;
        let base: url::Url = connections["rm"]["base_url"]
            .as_str()
            .ok_or("connections.json has no rm.base_url")?
            .parse()?;
        let host = base.host_str().ok_or("rm.base_url has no host")?.to_owned();
        // The password is never sent: the fake issues tokens to anyone.
        let auth = RmAuth::Jwt(JwtAuth::new("integracao", SecretString::from("unused")));
        Ok(Clinic {
            host,
            rm: RmFake::for_client(&RmClient::new(base, auth)),
        })
    }
}

impl ProviderFake for Clinic {
    fn provider(&self) -> &str {
        self.rm.provider()
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        if request.url.host_str() != Some(self.host.as_str()) {
            return None;
        }
        if request.method == Method::Get && request.url.path() == APPOINTMENTS_PATH {
            let items = json!([
                {"id": "A-100", "patientName": "Ana Souza", "mobile": "(11) 99999-1001",
                 "birthDate": "1980-05-01", "startsAt": "08:30", "professional": "Dra. Lima",
                 "location": "Unidade Centro"},
                {"id": "A-101", "patientName": "Bruno Alves", "mobile": "(11) 99999-1002",
                 "birthDate": "1975-11-20", "startsAt": "09:00", "professional": "Dr. Rui",
                 "location": "Unidade Centro"},
                {"id": "A-102", "patientName": "Carla Dias", "mobile": null,
                 "birthDate": "1990-02-14", "startsAt": "10:15", "professional": "Dra. Lima",
                 "location": "Unidade Norte"}
            ]);
            return Some(HttpResponse::json(
                200,
                &json!({"hasNext": false, "items": items}),
            ));
        }
        self.rm.answer(request)
    }
}

/// A patient's tap on a quick-reply button, as Meta posts it.
pub fn button_reply(wamid: &str, from: &str, payload: &str, text: &str) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
    "field": "messages",
    "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Paciente"}, "wa_id": from}],
        "messages": [{"from": from, "id": wamid, "timestamp": "1772449200", "type": "button",
                      "button": {"payload": payload, "text": text}}]
    }}]}]})
}

/// A v2 `message:received:new` event asking for a work request.
pub fn timelines_request(message_uid: &str) -> Value {
    json!({
        "event_type": "message:received:new",
        "chat": {"full_name": "John Doe", "chat_url": "https://app.timelines.ai/chat/123456/messages/",
                 "chat_id": 123456, "is_group": false, "phone": "+15551234567"},
        "whatsapp_account": {"full_name": "Agent Brown", "phone": "+15559876543"},
        "message": {
            "text": "#request Pump 3 in building A is leaking oil near the intake",
            "direction": "received", "origin": "WhatsApp", "timestamp": "2024-01-15 10:30:00 +0200",
            "message_uid": message_uid,
            "sender": {"full_name": "John Doe", "phone": "+15551234567"}
        }
    })
}

/// A task of a work order assigned to `responsible`, as a Fracttal Automator rule forwards it.
pub fn assignment(task: u64, folio: &str, responsible: &str) -> Value {
    json!([{
        "wo_folio": folio, "id_work_order": task - 86000, "id_work_orders_tasks": task,
        "id_status_work_order": 1, "creation_date": "2026-03-02T08:00:00-03:00",
        "created_by": "Ana Souza", "user_assigned": responsible,
        "description": "Replace the intake filter of pump 3",
        "items_log_description": "Centrifugal pump 3", "code": "PUMP-3"
    }])
}
