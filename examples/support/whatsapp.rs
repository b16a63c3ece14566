//! WhatsApp's side, played locally: the webhook bodies Meta posts when a customer writes,
//! taps a button or sends a photo, signed as Meta signs them, and a self-test that plays
//! Meta against a webhook endpoint. Not part of a program you copy: with a real number,
//! Meta posts these bodies to your endpoint and the WhatsApp Cloud API answers the sends
//! (locally, hubflow's `hubflow::whatsapp::fake::WhatsAppFake` does).
#![allow(dead_code)]

use hubflow::http::Method;
use hubflow::whatsapp::webhook::sign;
use hubflow::InboundRequest;
use secrecy::SecretString;
use serde_json::{json, Value};

/// The business number the stand-ins answer for.
pub const PHONE_NUMBER_ID: &str = "106540352242922";

/// The photo a stand-in customer sends.
pub const PHOTO: &[u8] =
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00 photo of pump 3's broken valve \xff\xd9";

/// A `messages` notification as Meta posts it: `messages` from `from` (named `name`) to
/// the business number `phone_number_id`.
pub fn notification(phone_number_id: &str, name: &str, from: &Value, messages: Value) -> Value {
    json!({"object": "whatsapp_business_account", "entry": [{"id": "102290129340398", "changes": [{
    "field": "messages",
    "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": phone_number_id},
        "contacts": [{"profile": {"name": name}, "wa_id": from}],
        "messages": messages
    }}]}]})
}

/// `body` posted to `path`, signed with the app secret as Meta signs it.
pub fn signed(path: &str, body: &Value, app_secret: &SecretString) -> InboundRequest {
    let body = body.to_string();
    let signature = sign(app_secret, body.as_bytes());
    InboundRequest::new(Method::Post, path, body).header("X-Hub-Signature-256", signature)
}

/// A tap on a template's quick-reply button, answering the message `context`.
pub fn button_reply(id: &str, from: &str, context: &str, payload: &str, text: &str) -> Value {
    json!({"context": {"from": "15550783881", "id": context}, "from": from, "id": id,
           "timestamp": "1772449200", "type": "button",
           "button": {"payload": payload, "text": text}})
}

/// The sha256 Meta announces for the stand-in's [`PHOTO`] (lower-case hex).
pub fn photo_sha256() -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(PHOTO))
}

/// A photo message by its media id, sent now, announcing `sha256` when given (Meta always
/// does; a real photo's is in the webhook that brought its media id).
pub fn photo_message(from: &str, media_id: &str, sha256: Option<&str>) -> Value {
    let mut image = json!({"caption": "Pump 3 valve", "mime_type": "image/jpeg", "id": media_id});
    if let Some(sha256) = sha256 {
        image["sha256"] = json!(sha256);
    }
    json!({"from": from, "id": "wamid.EXAMPLE.PHOTO", "timestamp": chrono::Utc::now().timestamp().to_string(),
           "type": "image", "image": image})
}

/// hubflow's fake of the Graph API, serving the stand-in customer's [`PHOTO`].
pub fn stand_in() -> hubflow::http::FakeClient {
    let graph = hubflow::whatsapp::fake::WhatsAppFake::new();
    let [_, _, _, photo_id] = stand_in_settings();
    hubflow::http::FakeClient::new().with(graph.with_media(&photo_id, PHOTO, "image/jpeg"))
}

/// The settings [`stand_in`] answers for: a token, the business number, a customer who
/// wrote in the last 24 hours, and the media id of the photo that customer sent.
pub fn stand_in_settings() -> [String; 4] {
    [
        "EAAG-stand-in",
        PHONE_NUMBER_ID,
        "16505551234",
        "1003383421387256",
    ]
    .map(str::to_owned)
}

/// The records the WhatsApp webhook makes of Meta's post of a [`photo_message`] from
/// `from` to the business number `phone_number_id`.
pub fn photo_records(
    phone_number_id: &str,
    from: &str,
    media_id: &str,
    sha256: Option<&str>,
) -> Result<Vec<hubflow::Record>, Box<dyn std::error::Error>> {
    let messages = json!([photo_message(from, media_id, sha256)]);
    let body = notification(phone_number_id, "Sheena Nelson", &json!(from), messages);
    let events = hubflow::whatsapp::webhook::parse(&serde_json::to_vec(&body)?)?;
    Ok(events.iter().map(|event| event.to_record()).collect())
}

/// Plays Meta against the endpoint at `url`: the subscription handshake with
/// `verify_token`, then Meta's own sample button reply signed with `app_secret`, then the
/// same body with a forged signature, which must be refused. Prints each answer.
#[cfg(feature = "reqwest")]
pub async fn act_as_meta(
    url: &str,
    verify_token: &str,
    app_secret: &SecretString,
) -> Result<(), Box<dyn std::error::Error>> {
    let client = reqwest::Client::new();
    let handshake = client
        .get(format!(
            "{url}?hub.mode=subscribe&hub.verify_token={verify_token}&hub.challenge=1158201444"
        ))
        .send()
        .await?;
    let status = handshake.status();
    println!("GET handshake: {status} {}", handshake.text().await?);
    if !status.is_success() {
        return Err(
            "the handshake was refused (is WHATSAPP_VERIFY_TOKEN set to something else?)".into(),
        );
    }
    let body = SAMPLE_BUTTON_REPLY.as_bytes();
    for (what, secret) in [
        ("signed sample", app_secret.clone()),
        (
            "with a forged signature",
            SecretString::from("wrong secret"),
        ),
    ] {
        let answer = client
            .post(url)
            .header("Content-Type", "application/json")
            .header("X-Hub-Signature-256", sign(&secret, body))
            .body(body)
            .send()
            .await?;
        println!("POST {what}: {}", answer.status());
        let expected = if what == "signed sample" { 200 } else { 401 };
        if answer.status().as_u16() != expected {
            return Err(format!("POST {what}: expected {expected}").into());
        }
    }
    Ok(())
}

/// Meta's "Interactive Button Reply Message" example: a customer tapped "Cancel".
pub const SAMPLE_BUTTON_REPLY: &str = r#"{
  "object": "whatsapp_business_account",
  "entry": [{
    "id": "419561257915477",
    "changes": [{
      "value": {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "15550783881", "phone_number_id": "106540352242922"},
        "contacts": [{"profile": {"name": "Sheena Nelson"}, "wa_id": "16505551234"}],
        "messages": [{
          "context": {"from": "15550783881", "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3MEM2RUJFNkI0RENGQTVDRjUA"},
          "from": "16505551234",
          "id": "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTZBQzg0MzQ4QjRCM0NGNkVGOAA=",
          "timestamp": "1750025136",
          "type": "interactive",
          "interactive": {"type": "button_reply", "button_reply": {"id": "cancel-button", "title": "Cancel"}}
        }]
      },
      "field": "messages"
    }]
  }]
}"#;
