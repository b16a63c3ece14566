//! Unit tests of `fake`.

use super::*;

fn request(method: Method, url: &str) -> HttpRequest {
    HttpRequest::new(method, url.parse().unwrap())
}

#[test]
fn recognises_only_graph_paths() {
    let fake = WhatsAppFake::new();
    assert!(fake
        .answer(&request(Method::Post, "https://x/v23.0/1/messages"))
        .is_some());
    assert!(fake
        .answer(&request(Method::Post, "https://x/proxy/v23.0/1/media"))
        .is_some());
    assert!(fake
        .answer(&request(Method::Get, "https://x/v23.0/77"))
        .is_some());
    assert!(fake
        .answer(&request(Method::Post, "https://x/api/messages"))
        .is_none());
    assert!(fake
        .answer(&request(Method::Get, "https://x/oauth/token"))
        .is_none());
}

#[test]
fn media_lookup_points_at_a_download_the_fake_serves_with_its_sha256() {
    let fake = WhatsAppFake::new().with_media("77", &b"%PDF-1.4"[..], "application/pdf");
    let lookup = fake
        .answer(&request(
            Method::Get,
            "https://x/v23.0/77?phone_number_id=1",
        ))
        .unwrap()
        .json_body()
        .unwrap();
    assert_eq!(lookup["mime_type"], "application/pdf");
    assert_eq!(lookup["file_size"], "8");
    let download = fake
        .answer(&request(Method::Get, lookup["url"].as_str().unwrap()))
        .unwrap();
    assert_eq!(download.body.as_ref(), b"%PDF-1.4");
    assert_eq!(lookup["sha256"], hex::encode(Sha256::digest(b"%PDF-1.4")));
}

#[test]
fn failures_are_served_once_in_order_with_metas_statuses() {
    let fake = WhatsAppFake::new();
    fake.fail_next(190, "token expired");
    fake.fail_next(130429, "throughput");
    let send = request(Method::Post, "https://x/v23.0/1/messages");
    assert_eq!(fake.answer(&send).unwrap().status, 401);
    assert_eq!(fake.answer(&send).unwrap().status, 429);
    assert_eq!(fake.answer(&send).unwrap().status, 200);
}
