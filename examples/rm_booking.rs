//! Booking a consultation 100 % over WhatsApp: the ready-made conversation of
//! `examples/flows/rm-booking.json`, played against local stand-ins of the clinic's RM and
//! of the WhatsApp Cloud API (`examples/support/clinic.rs`), printed as a transcript.
//!
//! ```text
//! cargo run --example rm_booking
//! ```
//!
//! Each patient message goes the way a real one does: a signed webhook body into
//! `WhatsAppWebhook`, its window remembered, the records into the conversation flow, which
//! calls the ERP and sends its prompts through Graph. The store is an embedded SQLite one.
//! In a host, the same flow runs in the webhook handler, and a scheduler processes a
//! `conversation::tick` every minute for the idle timeouts.

#[path = "support/clinic.rs"]
mod clinic;

use std::error::Error;
use std::time::Duration;

use clinic::{readable, Clinic, PHONE_NUMBER_ID};
use hubflow::conversation::tick;
use hubflow::http::{Method, ReqwestClient};
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::whatsapp::remember_inbound;
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::{
    Clock, Context, Flow, FlowSpec, InboundRequest, ManualClock, SqliteStore, WebhookSource,
};
use secrecy::SecretString;
use serde_json::{json, Value};

const APP_SECRET: &str = "app-secret";

/// Plays one side of the chat: the patients' messages in, the clinic's answers printed.
struct Chat {
    flow: Flow,
    ctx: Context,
    clock: ManualClock,
    clinic: Clinic,
    webhook: WhatsAppWebhook,
    last: Value,
    next: u32,
}

impl Chat {
    async fn say(&mut self, who: &str, from: &str, text: &str) -> Result<(), Box<dyn Error>> {
        println!("{who:<8}> {text}");
        self.send(from, json!({"type": "text", "text": {"body": text}}))
            .await
    }

    /// Taps the `n`th option (1-based) of the clinic's last message.
    async fn tap(&mut self, who: &str, from: &str, n: usize) -> Result<(), Box<dyn Error>> {
        let interactive = &self.last["interactive"];
        let (kind, option) = match interactive["type"].as_str() {
            Some("list") => (
                "list_reply",
                &interactive["action"]["sections"][0]["rows"][n - 1],
            ),
            _ => (
                "button_reply",
                &interactive["action"]["buttons"][n - 1]["reply"],
            ),
        };
        let (id, title) = (option["id"].clone(), option["title"].clone());
        println!("{who:<8}> (toca em \"{}\")", title.as_str().unwrap_or(""));
        let content = json!({"type": "interactive",
                             "interactive": {"type": kind, kind: {"id": id, "title": title}}});
        self.send(from, content).await
    }

    async fn send(&mut self, from: &str, content: Value) -> Result<(), Box<dyn Error>> {
        self.clock.advance(Duration::from_secs(20));
        self.next += 1;
        let mut message = json!({"from": from, "id": format!("wamid.in.{}", self.next),
                                 "timestamp": self.clock.now().timestamp().to_string()});
        if let (Value::Object(message), Value::Object(content)) = (&mut message, content) {
            message.extend(content);
        }
        let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
            "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
                "metadata": {"display_phone_number": "551130001000", "phone_number_id": PHONE_NUMBER_ID},
                "messages": [message]}}]}]})
        .to_string();
        let request = InboundRequest::new(Method::Post, "/webhooks/whatsapp", body.clone()).header(
            "X-Hub-Signature-256",
            sign(&SecretString::from(APP_SECRET), body.as_bytes()),
        );
        let reply = self.webhook.handle(&request);
        remember_inbound(&self.ctx, &reply.records).await?;
        let report = self.flow.process(&self.ctx, reply.records).await;
        for line in report.dead_letters() {
            println!("          (not handled: {line:?})");
        }
        for line in &report.records {
            if let hubflow::Outcome::Delivered { receipt, .. } = &line.outcome {
                if receipt.details["step"] == "handed_off" {
                    println!(
                        "          (a conversa está com um atendente: o assistente não responde)"
                    );
                }
            }
        }
        self.show();
        Ok(())
    }

    fn show(&mut self) {
        for message in self.clinic.take_sent() {
            println!(
                "Clínica > {}",
                readable(&message).replace('\n', "\n          ")
            );
            if message["type"] == "interactive" {
                self.last = message;
            }
        }
    }

    /// Lets `minutes` pass and runs the scheduler's tick, as a host does every minute.
    async fn wait(&mut self, minutes: u64) -> Result<(), Box<dyn Error>> {
        self.clock.advance(Duration::from_secs(minutes * 60));
        println!("          … {minutes} minutos sem resposta …");
        self.flow
            .process(&self.ctx, vec![tick(self.clock.now())])
            .await;
        self.show();
        Ok(())
    }
}

fn scene(title: &str) {
    println!("\n== {title}");
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    // Tuesday 3 March 2026, 09:00 in São Paulo; the agenda has that day and the next.
    let clinic = Clinic::start(&["2026-03-03", "2026-03-04"]).await;
    let connections = Connections::from_json(&clinic.connections().to_string())?;
    let secrets = MapSecrets::new()
        .with("RM_PASSWORD", "integracao-senha")
        .with("WHATSAPP_TOKEN", "EAAG-local-stand-in");
    let flow = FlowSpec::from_json(include_str!("flows/rm-booking.json"))?.build(
        &Registry::default(),
        &connections,
        &secrets,
    )?;
    let clock = ManualClock::new("2026-03-03T12:00:00Z".parse()?);
    let ctx = Context::new(
        ReqwestClient::new()?,
        clock.clone(),
        SqliteStore::in_memory().await?,
    );
    let webhook =
        WhatsAppWebhook::new(SecretString::from("verify"), SecretString::from(APP_SECRET));
    let mut chat = Chat {
        flow,
        ctx,
        clock,
        clinic,
        webhook,
        last: Value::Null,
        next: 0,
    };
    let (ana, bruno, carla) = ("5511999991001", "5521977770002", "5531966660003");

    scene("1. Ana marca uma consulta (o telefone dela está no cadastro)");
    chat.say("Ana", ana, "Oi, bom dia").await?;
    chat.tap("Ana", ana, 1).await?; // Marcar consulta
    chat.tap("Ana", ana, 1).await?; // Cardiologia
    chat.tap("Ana", ana, 2).await?; // Qualquer um
    chat.say("Ana", ana, "amanhã").await?;
    chat.tap("Ana", ana, 10).await?; // Ver mais opções
    chat.tap("Ana", ana, 2).await?;
    chat.tap("Ana", ana, 1).await?; // Confirmar

    scene("2. Ana cancela a consulta");
    chat.say("Ana", ana, "Olá").await?;
    chat.tap("Ana", ana, 2).await?; // Minhas consultas
    chat.tap("Ana", ana, 1).await?;
    chat.tap("Ana", ana, 1).await?; // Sim, cancelar

    scene("3. Carla erra o CPF duas vezes");
    chat.say("Carla", carla, "Quero marcar consulta").await?;
    chat.say("Carla", carla, "123.456.789-00").await?;
    chat.say("Carla", carla, "1234").await?;
    chat.say("Carla", carla, "alô?").await?;

    scene("4. Bruno se identifica pelo CPF e pede um atendente");
    chat.say("Bruno", bruno, "Boa tarde").await?;
    chat.say("Bruno", bruno, "123.456.789-09").await?;
    chat.say("Bruno", bruno, "20/11/1975").await?;
    chat.say("Bruno", bruno, "atendente").await?;

    scene("5. Ana começa e não responde mais");
    chat.say("Ana", ana, "oi").await?;
    chat.tap("Ana", ana, 1).await?; // Marcar consulta
    chat.wait(31).await?;
    Ok(())
}
