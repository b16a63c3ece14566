//! A local stand-in of an RM-style ERP with tomorrow's agenda, and of the WhatsApp Cloud
//! API: not part of a program you copy. With credentials set, the example talks to your
//! ERP and to Meta and none of this runs.
//!
//! The agenda's two pages are canned answers; the ERP's JWT login and its confirm and
//! cancel routes are answered by hubflow's fake (`hubflow::rm::fake::RmFake`), the sends
//! by `hubflow::whatsapp::fake::WhatsAppFake`.
#![allow(dead_code)]

use std::sync::Arc;

use hubflow::http::{FakeClient, Method};
use hubflow::rm::fake::RmFake;
use hubflow::rm::{JwtAuth, RmAuth, RmClient};
use hubflow::whatsapp::fake::WhatsAppFake;
use secrecy::SecretString;
use serde_json::json;

use crate::local::Routes;

/// The ERP at `base_url` (the one `examples/flows/rm-connections.json` names) and Graph,
/// in one client; `graph` is kept by the caller to read what was sent.
pub fn stand_in(base_url: &str, graph: Arc<WhatsAppFake>) -> Result<FakeClient, url::ParseError> {
    let appointments = "/api/healthcare/v1/appointments";
    let agenda = Routes::new("rm")
        .on_query(Method::Get, appointments, ("page", "1"), vec![json!({"hasNext": true, "items": [
            {"id": "A-100", "patientName": "Ana Souza", "mobile": "(11) 99999-1001", "birthDate": "1980-05-01",
             "startsAt": "2026-03-03T08:30:00", "professional": "Dra. Lima", "location": "Unidade Centro"},
            {"id": "A-101", "patientName": "Bruno Alves", "mobile": "(11) 99999-1002", "birthDate": "1975-11-20",
             "startsAt": "2026-03-03T09:00:00", "professional": "Dr. Rui", "location": "Unidade Centro"}
        ]})])
        .on_query(Method::Get, appointments, ("page", "2"), vec![json!({"hasNext": false, "items": [
            {"id": "A-102", "patientName": "Carla Dias", "mobile": null, "birthDate": "1990-02-14",
             "startsAt": "2026-03-03T10:15:00", "professional": "Dra. Lima", "location": "Unidade Norte"}
        ]})]);
    let auth = RmAuth::Jwt(JwtAuth::new("integracao", SecretString::from("unused")));
    let erp = RmFake::for_client(&RmClient::new(base_url.parse()?, auth));
    // Asked in order: the agenda, then Graph, then the ERP's fake, which answers every
    // other path below the ERP's base URL.
    Ok(FakeClient::new().with(agenda).with_arc(graph).with(erp))
}
