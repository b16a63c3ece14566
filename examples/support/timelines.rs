//! What TimelinesAI posts, played locally: the webhook bodies of its documentation. Not
//! part of a program you copy: in a host the body comes from the HTTP endpoint
//! TimelinesAI calls, checked by `hubflow::timelines::TimelinesWebhook` (URL token, size
//! limit) before it is parsed.
#![allow(dead_code)]

/// Three webhook bodies: the two complete examples of TimelinesAI's v1 webhook
/// documentation (a single message and an hourly bundle), and a v2
/// `message:received:new` event whose text starts with `#request`.
pub const SAMPLE_BODIES: [(&str, &str); 3] = [
    (
        "v1 single message",
        include_str!("../payloads/timelines_v1_single.json"),
    ),
    (
        "v1 hourly bundle",
        include_str!("../payloads/timelines_v1_bundle.json"),
    ),
    (
        "v2 message:received:new",
        include_str!("../payloads/timelines_v2_request.json"),
    ),
];
