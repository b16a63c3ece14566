//! A local stand-in of a clinic's RM installation and of the WhatsApp Cloud API, on one
//! HTTP server on 127.0.0.1: the "consulta SQL" sentences and DataServer routes that
//! `examples/flows/rm-booking.json` maps, over a small agenda kept in memory, and Graph's
//! `/messages`, which keeps every message the clinic sends.
//!
//! A local stand-in, not part of a program you copy: with a real installation, your RM
//! and Meta answer, and real patients write. It also plays the patients of the
//! `rm_booking` example ([`SCRIPT`], [`Patients`]). Used by that example and by
//! `tests/rm_booking.rs`, so what the example shows is what the tests check. A real installation has its own sentence codes and
//! DataServer names; docs/rm.md shows how to map them.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Value};

/// The business number the stand-in's Graph answers for.
pub const PHONE_NUMBER_ID: &str = "106540352242922";

/// One free or taken time in the agenda.
#[derive(Debug, Clone)]
pub struct Slot {
    pub id: String,
    pub specialty: String,
    pub professional: String,
    pub date: String,
    pub time: String,
    pub taken: bool,
}

/// A booked appointment.
#[derive(Debug, Clone)]
pub struct Appointment {
    pub id: String,
    pub patient: String,
    pub slot: String,
}

#[derive(Debug, Default)]
pub struct Agenda {
    pub slots: Vec<Slot>,
    pub appointments: Vec<Appointment>,
    /// The ERP answers 503 to everything while this is set.
    pub down: bool,
    /// Every ERP request: method, path and the `parameters` or body.
    pub requests: Vec<(String, String, Value)>,
    /// Every message sent through Graph, in order.
    pub sent: Vec<Value>,
    next_id: u32,
}

/// Handles on the running stand-in.
#[derive(Clone)]
pub struct Clinic {
    pub url: String,
    pub agenda: Arc<Mutex<Agenda>>,
}

const PROFESSIONALS: [(&str, &str, &str); 3] = [
    ("PR1", "CARD", "Dra. Helena Prado"),
    ("PR2", "CARD", "Dr. Otávio Ramos de Almeida Figueiredo"),
    ("PR3", "DERM", "Dra. Lúcia Tanaka"),
];

/// Patients on file: Ana (whose phone the clinic has) and Bruno (known only by CPF).
const PATIENTS: [(&str, &str, &str, &str, &str); 2] = [
    (
        "P1",
        "Ana Souza",
        "52998224725",
        "1980-05-01",
        "5511999991001",
    ),
    (
        "P2",
        "Bruno Lima",
        "12345678909",
        "1975-11-20",
        "5521988880002",
    ),
];

impl Clinic {
    /// Starts the stand-in with the agenda of `dates` (`YYYY-MM-DD`): for each cardiologist
    /// seven times a day from 08:00, for the dermatologist five.
    pub async fn start(dates: &[&str]) -> Clinic {
        let mut agenda = Agenda::default();
        for date in dates {
            for (professional, specialty, _) in PROFESSIONALS {
                let count = if specialty == "CARD" { 7 } else { 5 };
                for n in 0..count {
                    agenda.slots.push(Slot {
                        id: format!("H-{professional}-{}-{n}", date.replace('-', "")),
                        specialty: specialty.to_owned(),
                        professional: professional.to_owned(),
                        date: (*date).to_owned(),
                        time: format!("{:02}:{:02}", 8 + n / 2, (n % 2) * 30),
                        taken: false,
                    });
                }
            }
        }
        let agenda = Arc::new(Mutex::new(agenda));
        let router = Router::new()
            .route(
                "/api/framework/v1/consultaSQLServer/RealizaConsulta/{sentence}/{company}/{system}/",
                get(sentence),
            )
            .route("/RMSRestDataServer/rest/HcAgendaData", post(book))
            .route("/RMSRestDataServer/rest/HcAgendaData/{id}", put(cancel))
            .route("/v23.0/{number}/messages", post(message))
            .with_state(agenda.clone());
        let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0)))
            .await
            .expect("a local port");
        let address = listener.local_addr().expect("a bound address");
        tokio::spawn(async move { axum::serve(listener, router).await });
        Clinic {
            url: format!("http://{address}"),
            agenda,
        }
    }

    /// The connections of `examples/flows/rm-booking.json`, pointed at the stand-in.
    pub fn connections(&self) -> Value {
        json!({
            "rm": {"base_url": self.url, "auth": {"basic": {"username": "integracao", "password": {"secret": "RM_PASSWORD"}}}},
            "whatsapp": {"phone_number_id": PHONE_NUMBER_ID, "access_token": {"secret": "WHATSAPP_TOKEN"},
                         "base_url": self.url}
        })
    }

    /// The messages sent since the last call.
    pub fn take_sent(&self) -> Vec<Value> {
        std::mem::take(&mut self.agenda.lock().expect("the agenda").sent)
    }

    /// Someone else books `slot` (at the front desk).
    pub fn take_slot(&self, slot: &str) {
        let mut agenda = self.agenda.lock().expect("the agenda");
        if let Some(found) = agenda.slots.iter_mut().find(|s| s.id == slot) {
            found.taken = true;
        }
    }

    pub fn set_down(&self, down: bool) {
        self.agenda.lock().expect("the agenda").down = down;
    }

    pub fn appointments(&self) -> Vec<Appointment> {
        self.agenda.lock().expect("the agenda").appointments.clone()
    }

    /// The ERP requests made, as `(method, path, parameters or body)`.
    pub fn requests(&self) -> Vec<(String, String, Value)> {
        self.agenda.lock().expect("the agenda").requests.clone()
    }
}

/// Consulta SQL's `parameters=A=1;B=2`.
fn parameters(query: &BTreeMap<String, String>) -> BTreeMap<String, String> {
    query
        .get("parameters")
        .map(|all| {
            all.split(';')
                .filter_map(|pair| pair.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn unavailable() -> Response {
    (
        StatusCode::SERVICE_UNAVAILABLE,
        json!({"message": "Servidor de aplicação indisponível"}).to_string(),
    )
        .into_response()
}

fn ok(value: Value) -> Response {
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        value.to_string(),
    )
        .into_response()
}

fn name_of(professional: &str) -> &'static str {
    PROFESSIONALS
        .iter()
        .find(|p| p.0 == professional)
        .map_or("", |p| p.2)
}

fn br(date: &str) -> String {
    let parts: Vec<&str> = date.split('-').collect();
    match parts.as_slice() {
        [y, m, d] => format!("{d}/{m}/{y}"),
        _ => date.to_owned(),
    }
}

async fn sentence(
    State(agenda): State<Arc<Mutex<Agenda>>>,
    Path((sentence, _, _)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    let p = parameters(&query);
    let mut agenda = agenda.lock().expect("the agenda");
    agenda
        .requests
        .push(("GET".into(), sentence.clone(), json!(p)));
    if agenda.down {
        return unavailable();
    }
    let get = |name: &str| p.get(name).map(String::as_str).unwrap_or("");
    let rows: Vec<Value> = match sentence.as_str() {
        "HF.PACIENTE" => PATIENTS
            .iter()
            .filter(|(_, _, cpf, birth, phone)| {
                (!get("CELULAR").is_empty() && get("CELULAR") == *phone)
                    || (!get("CPF").is_empty() && get("CPF") == *cpf && get("DTNASC") == *birth)
            })
            .map(|(id, name, ..)| json!({"CODPACIENTE": id, "NOME": name}))
            .collect(),
        "HF.ESPECIALIDADES" => vec![
            json!({"CODESPECIALIDADE": "CARD", "DESCRICAO": "Cardiologia"}),
            json!({"CODESPECIALIDADE": "DERM", "DESCRICAO": "Dermatologia"}),
        ],
        "HF.PROFISSIONAIS" => PROFESSIONALS
            .iter()
            .filter(|p| p.1 == get("CODESPECIALIDADE"))
            .map(|p| json!({"CODPROFISSIONAL": p.0, "NOME": p.2}))
            .collect(),
        "HF.HORARIOSLIVRES" => agenda
            .slots
            .iter()
            .filter(|s| {
                !s.taken
                    && s.specialty == get("CODESPECIALIDADE")
                    && (get("CODPROFISSIONAL").is_empty() || s.professional == get("CODPROFISSIONAL"))
                    && s.date.as_str() >= get("DATAINI")
                    && s.date.as_str() <= get("DATAFIM")
            })
            .map(|s| {
                json!({"CODHORARIO": s.id, "DATA": br(&s.date), "HORA": s.time,
                       "INICIO": format!("{}T{}:00-03:00", s.date, s.time),
                       "PROFISSIONAL": name_of(&s.professional), "CODPROFISSIONAL": s.professional,
                       "UNIDADE": "Unidade Centro"})
            })
            .collect(),
        "HF.AGENDAMENTOS" => agenda
            .appointments
            .iter()
            .filter(|a| a.patient == get("CODPACIENTE"))
            .filter_map(|a| agenda.slots.iter().find(|s| s.id == a.slot).map(|s| (a, s)))
            .filter(|(_, s)| s.date.as_str() >= get("DATAINI"))
            .map(|(a, s)| {
                json!({"CODAGENDAMENTO": a.id, "DATA": br(&s.date), "HORA": s.time,
                       "ESPECIALIDADE": if s.specialty == "CARD" { "Cardiologia" } else { "Dermatologia" },
                       "PROFISSIONAL": name_of(&s.professional)})
            })
            .collect(),
        other => {
            return (
                StatusCode::NOT_FOUND,
                json!({"message": format!("sentença {other} não encontrada")}).to_string(),
            )
                .into_response()
        }
    };
    ok(Value::Array(rows))
}

async fn book(State(agenda): State<Arc<Mutex<Agenda>>>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut agenda = agenda.lock().expect("the agenda");
    agenda
        .requests
        .push(("POST".into(), "HcAgendaData".into(), body.clone()));
    if agenda.down {
        return unavailable();
    }
    let slot = body["CODHORARIO"].as_str().unwrap_or_default().to_owned();
    let patient = body["CODPACIENTE"].as_str().unwrap_or_default().to_owned();
    let Some(found) = agenda.slots.iter_mut().find(|s| s.id == slot) else {
        return (
            StatusCode::BAD_REQUEST,
            json!({"message": "horário inexistente"}).to_string(),
        )
            .into_response();
    };
    if found.taken {
        return (
            StatusCode::CONFLICT,
            json!({"message": "Horário indisponível: já agendado"}).to_string(),
        )
            .into_response();
    }
    found.taken = true;
    agenda.next_id += 1;
    let id = format!("AG-{}", 1000 + agenda.next_id);
    agenda.appointments.push(Appointment {
        id: id.clone(),
        patient,
        slot,
    });
    ok(json!({"CODAGENDAMENTO": id}))
}

async fn cancel(
    State(agenda): State<Arc<Mutex<Agenda>>>,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut agenda = agenda.lock().expect("the agenda");
    agenda
        .requests
        .push(("PUT".into(), format!("HcAgendaData/{id}"), body));
    if agenda.down {
        return unavailable();
    }
    let Some(index) = agenda.appointments.iter().position(|a| a.id == id) else {
        return (
            StatusCode::NOT_FOUND,
            json!({"message": "agendamento inexistente"}).to_string(),
        )
            .into_response();
    };
    let appointment = agenda.appointments.remove(index);
    if let Some(slot) = agenda.slots.iter_mut().find(|s| s.id == appointment.slot) {
        slot.taken = false;
    }
    ok(json!({"CODAGENDAMENTO": id, "STATUS": "C"}))
}

async fn message(State(agenda): State<Arc<Mutex<Agenda>>>, body: Bytes) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let mut agenda = agenda.lock().expect("the agenda");
    agenda.sent.push(body.clone());
    let n = agenda.sent.len();
    let to = body["to"].as_str().unwrap_or_default();
    ok(
        json!({"messaging_product": "whatsapp", "contacts": [{"input": to, "wa_id": to}],
              "messages": [{"id": format!("wamid.clinic.{n}")}]}),
    )
}

/// A message the clinic sent, as a person reads it: the text, buttons in brackets, list
/// rows numbered.
pub fn readable(message: &Value) -> String {
    match message["type"].as_str() {
        Some("text") => message["text"]["body"].as_str().unwrap_or("").to_owned(),
        Some("interactive") => {
            let interactive = &message["interactive"];
            let mut out = interactive["body"]["text"]
                .as_str()
                .unwrap_or("")
                .to_owned();
            if let Some(buttons) = interactive["action"]["buttons"].as_array() {
                let titles: Vec<String> = buttons
                    .iter()
                    .map(|b| format!("[{}]", b["reply"]["title"].as_str().unwrap_or("")))
                    .collect();
                out.push_str(&format!("\n    {}", titles.join(" ")));
            }
            if let Some(sections) = interactive["action"]["sections"].as_array() {
                let rows = sections
                    .iter()
                    .flat_map(|s| s["rows"].as_array().cloned().unwrap_or_default());
                for (i, row) in rows.enumerate() {
                    let description = row["description"]
                        .as_str()
                        .map(|d| format!(" — {d}"))
                        .unwrap_or_default();
                    out.push_str(&format!(
                        "\n    {}. {}{description}",
                        i + 1,
                        row["title"].as_str().unwrap_or("")
                    ));
                }
            }
            out
        }
        other => format!("({} message)", other.unwrap_or("unknown")),
    }
}

/// The id of the `n`th row (1-based) of a list the clinic sent, or of its `n`th button.
pub fn option_id(message: &Value, n: usize) -> String {
    let action = &message["interactive"]["action"];
    let from_rows = action["sections"][0]["rows"][n - 1]["id"].as_str();
    let from_buttons = action["buttons"][n - 1]["reply"]["id"].as_str();
    from_rows.or(from_buttons).unwrap_or_default().to_owned()
}

/// One line of the patients' side of the chat, as the `rm_booking` example plays it.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    /// A new scene, with its title.
    Scene(&'static str),
    /// A patient (by first name) writes a text.
    Say(&'static str, &'static str),
    /// A patient taps the `n`th option (1-based) of the clinic's last message.
    Tap(&'static str, usize),
    /// Nobody writes for this many minutes.
    Idle(u64),
}

/// What reaches the host for a step.
pub enum Input {
    /// A signed webhook request, as Meta posts it.
    Webhook(hubflow::InboundRequest),
    /// The scheduler's minute tick, at this instant.
    Tick(chrono::DateTime<chrono::Utc>),
}

/// Five conversations: Ana books and cancels, Carla gets her CPF wrong, Bruno identifies
/// by CPF and asks for an attendant, Ana starts and goes quiet.
pub const SCRIPT: &[Step] = &[
    Step::Scene("1. Ana marca uma consulta (o telefone dela está no cadastro)"),
    Step::Say("Ana", "Oi, bom dia"),
    Step::Tap("Ana", 1), // Marcar consulta
    Step::Tap("Ana", 1), // Cardiologia
    Step::Tap("Ana", 2), // Qualquer um
    Step::Say("Ana", "amanhã"),
    Step::Tap("Ana", 10), // Ver mais opções
    Step::Tap("Ana", 2),
    Step::Tap("Ana", 1), // Confirmar
    Step::Scene("2. Ana cancela a consulta"),
    Step::Say("Ana", "Olá"),
    Step::Tap("Ana", 2), // Minhas consultas
    Step::Tap("Ana", 1),
    Step::Tap("Ana", 1), // Sim, cancelar
    Step::Scene("3. Carla erra o CPF duas vezes"),
    Step::Say("Carla", "Quero marcar consulta"),
    Step::Say("Carla", "123.456.789-00"),
    Step::Say("Carla", "1234"),
    Step::Say("Carla", "alô?"),
    Step::Scene("4. Bruno se identifica pelo CPF e pede um atendente"),
    Step::Say("Bruno", "Boa tarde"),
    Step::Say("Bruno", "123.456.789-09"),
    Step::Say("Bruno", "20/11/1975"),
    Step::Say("Bruno", "atendente"),
    Step::Scene("5. Ana começa e não responde mais"),
    Step::Say("Ana", "oi"),
    Step::Tap("Ana", 1), // Marcar consulta
    Step::Idle(31),
];

/// The patients' phones: each step becomes what Meta would post (signed with
/// `app_secret`), and the clinic's answers are printed as the patients read them.
pub struct Patients {
    clock: hubflow::ManualClock,
    app_secret: secrecy::SecretString,
    last: Value,
    next: u32,
}

impl Patients {
    pub fn new(clock: hubflow::ManualClock, app_secret: &str) -> Self {
        Patients {
            clock,
            app_secret: secrecy::SecretString::from(app_secret.to_owned()),
            last: Value::Null,
            next: 0,
        }
    }

    /// Prints the step and makes what reaches the host of it, if anything.
    pub fn act(&mut self, step: Step) -> Option<Input> {
        use hubflow::Clock;
        let phone = |who: &str| match who {
            "Ana" => "5511999991001",
            "Bruno" => "5521977770002",
            _ => "5531966660003",
        };
        let (who, content) = match step {
            Step::Scene(title) => {
                println!("\n== {title}");
                return None;
            }
            Step::Idle(minutes) => {
                self.clock
                    .advance(std::time::Duration::from_secs(minutes * 60));
                println!("          … {minutes} minutos sem resposta …");
                return Some(Input::Tick(self.clock.now()));
            }
            Step::Say(who, text) => {
                println!("{who:<8}> {text}");
                (who, json!({"type": "text", "text": {"body": text}}))
            }
            Step::Tap(who, n) => {
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
                let reply = json!({"type": kind, kind: {"id": id, "title": title}});
                (who, json!({"type": "interactive", "interactive": reply}))
            }
        };
        self.clock.advance(std::time::Duration::from_secs(20));
        self.next += 1;
        let mut message = json!({"from": phone(who), "id": format!("wamid.in.{}", self.next),
                                 "timestamp": self.clock.now().timestamp().to_string()});
        if let (Value::Object(message), Value::Object(content)) = (&mut message, content) {
            message.extend(content);
        }
        Some(Input::Webhook(webhook_request(
            vec![message],
            &self.app_secret,
        )))
    }

    /// Prints the clinic's messages, remembering the last one with options to tap.
    pub fn read(&mut self, sent: Vec<Value>) {
        for message in sent {
            println!(
                "Clínica > {}",
                readable(&message).replace('\n', "\n          ")
            );
            if message["type"] == "interactive" {
                self.last = message;
            }
        }
    }
}

/// `messages` as Meta posts them to the clinic's number, signed with `app_secret`.
pub fn webhook_request(
    messages: Vec<Value>,
    app_secret: &secrecy::SecretString,
) -> hubflow::InboundRequest {
    let body = json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398",
        "changes": [{"field": "messages", "value": {"messaging_product": "whatsapp",
            "metadata": {"display_phone_number": "15550783881", "phone_number_id": PHONE_NUMBER_ID},
            "contacts": [{"profile": {"name": "Paciente"}, "wa_id": messages.first().map(|m| m["from"].clone())}],
            "messages": messages}}]}]})
    .to_string();
    let signature = hubflow::whatsapp::webhook::sign(app_secret, body.as_bytes());
    hubflow::InboundRequest::new(hubflow::http::Method::Post, "/webhooks/whatsapp", body)
        .header("X-Hub-Signature-256", signature)
}
