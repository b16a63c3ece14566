//! Unit tests of `source`.

use super::*;
use crate::http::Method;

#[test]
fn debug_shows_no_token_or_header_value() {
    let request = InboundRequest::new(Method::Post, "/hooks/tl?token=s3cr3t&x=1", &b"{}"[..])
        .header("X-Hubflow-Secret", "sh4red");
    let shown = format!("{request:?}");
    assert!(
        !shown.contains("s3cr3t") && !shown.contains("sh4red"),
        "{shown}"
    );
    assert!(
        shown.contains("/hooks/tl")
            && shown.contains("token")
            && shown.contains("X-Hubflow-Secret")
    );
    assert_eq!(request.query("token").as_deref(), Some("s3cr3t"));
}
