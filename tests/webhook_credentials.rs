//! What each webhook source reports of a request's credential (`WebhookReply::credential`):
//! valid when it proved the sender, refused when it was wrong or missing, not checked when
//! the request was refused first or the source has none. Hosts log and trace it; the
//! `tracing` feature's `hubflow.webhook` event carries it as `signature`.

#![cfg(all(
    feature = "whatsapp",
    feature = "timelines",
    feature = "fracttal",
    feature = "twilio"
))]

use hubflow::fracttal::{EventSource, DEFAULT_SECRET_HEADER};
use hubflow::http::Method;
use hubflow::timelines::TimelinesWebhook;
use hubflow::twilio::TwilioWebhook;
use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
use hubflow::{CredentialCheck, InboundRequest, WebhookSource};
use secrecy::SecretString;

fn check(source: &dyn WebhookSource, request: &InboundRequest) -> (u16, CredentialCheck) {
    let reply = source.handle(request);
    (reply.status, reply.credential)
}

#[test]
fn whatsapp_reports_its_signature_and_its_verify_token() {
    let secret = SecretString::from("app-secret");
    let webhook = WhatsAppWebhook::new(SecretString::from("verify"), secret.clone());
    let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
    let post = |signature: String| {
        InboundRequest::new(Method::Post, "/hooks/wa", &body[..])
            .header("X-Hub-Signature-256", signature)
    };
    assert_eq!(
        check(&webhook, &post(sign(&secret, body))),
        (200, CredentialCheck::Valid)
    );
    assert_eq!(
        check(&webhook, &post(format!("sha256={}", "0".repeat(64)))),
        (401, CredentialCheck::Refused)
    );
    let get = |token: &str| {
        InboundRequest::new(
            Method::Get,
            format!("/hooks/wa?hub.mode=subscribe&hub.verify_token={token}&hub.challenge=7"),
            "",
        )
    };
    assert_eq!(
        check(&webhook, &get("verify")),
        (200, CredentialCheck::Valid)
    );
    assert_eq!(
        check(&webhook, &get("guess")),
        (403, CredentialCheck::Refused)
    );
    let put = InboundRequest::new(Method::Put, "/hooks/wa", "");
    assert_eq!(check(&webhook, &put), (405, CredentialCheck::NotChecked));
}

#[test]
fn timelines_reports_its_url_token() {
    let webhook = TimelinesWebhook::new(SecretString::from("0f4c9e1a7b2d4e8f"));
    let body = r#"{"event_type":"message:received:new","message":{}}"#;
    let with =
        |token: &str| InboundRequest::new(Method::Post, format!("/hooks/tl?token={token}"), body);
    // Authentic whatever the body holds: what cannot be read is kept, answered 200.
    assert_eq!(
        check(&webhook, &with("0f4c9e1a7b2d4e8f")),
        (200, CredentialCheck::Valid)
    );
    assert_eq!(check(&webhook, &with("guess")).1, CredentialCheck::Refused);
}

#[test]
fn fracttal_reports_its_secret_or_that_it_has_none() {
    let secret = SecretString::from("hook-secret");
    let guarded = EventSource::new().header_secret(DEFAULT_SECRET_HEADER, secret);
    let body = r#"{"id_work_orders_tasks":1}"#;
    let post = || InboundRequest::new(Method::Post, "/hooks/fracttal", body);
    assert_eq!(
        check(
            &guarded,
            &post().header(DEFAULT_SECRET_HEADER, "hook-secret")
        )
        .1,
        CredentialCheck::Valid
    );
    assert_eq!(
        check(&guarded, &post().header(DEFAULT_SECRET_HEADER, "guess")),
        (401, CredentialCheck::Refused)
    );
    assert_eq!(
        check(&EventSource::new(), &post()).1,
        CredentialCheck::NotChecked
    );
}

#[test]
fn twilio_reports_its_signature() {
    let token = SecretString::from("twilio-auth-token");
    let webhook = TwilioWebhook::new(token.clone(), "https://erp.example.com".parse().unwrap());
    let params = vec![
        ("MessageSid".to_owned(), "SM1".to_owned()),
        ("From".to_owned(), "whatsapp:+5511999991234".to_owned()),
    ];
    let body = "MessageSid=SM1&From=whatsapp%3A%2B5511999991234";
    let post = |signature: String| {
        InboundRequest::new(Method::Post, "/hooks/twilio", body)
            .header("Content-Type", "application/x-www-form-urlencoded")
            .header("X-Twilio-Signature", signature)
    };
    let valid = hubflow::twilio::sign(&token, "https://erp.example.com/hooks/twilio", &params);
    assert_eq!(check(&webhook, &post(valid)), (200, CredentialCheck::Valid));
    assert_eq!(
        check(&webhook, &post("bm90IGl0".to_owned())),
        (401, CredentialCheck::Refused)
    );
}
