//! Unit tests of `cluster::queue`.

use super::*;

#[test]
fn a_recipients_queue_is_stable_keyed_bounded_and_holds_no_number() {
    let key = b"cluster-key-1";
    let a = recipient_queue(key, "5511999990001", 256);
    assert_eq!(a, recipient_queue(key, "5511999990001", 256));
    let n: u32 = a.strip_prefix("hubflow:r:").unwrap().parse().unwrap();
    assert!(n < 256);
    assert!(!a.contains("999990001"));
    // Recipients spread over every queue, none outside them.
    let queues: std::collections::BTreeSet<String> = (0..2_000)
        .map(|i| recipient_queue(key, &format!("55119{i:08}"), 16))
        .collect();
    let expected: std::collections::BTreeSet<String> =
        (0..16).map(|n| format!("hubflow:r:{n}")).collect();
    assert_eq!(queues, expected);
    // Another cluster's key spreads the same people differently.
    let spread = |key: &[u8]| -> Vec<String> {
        (0..32)
            .map(|i| recipient_queue(key, &format!("55119{i:08}"), 256))
            .collect()
    };
    assert_ne!(spread(key), spread(b"cluster-key-2"));
    // One queue: everyone in it.
    assert_eq!(recipient_queue(key, "5511999990002", 1), "hubflow:r:0");
}

#[test]
fn flow_queues_and_due_keys_fit_graphile_workers_limits() {
    assert_eq!(flow_queue("daily-report"), "hubflow:f:daily-report");
    let long = "f".repeat(300);
    let queue = flow_queue(&long);
    assert!(queue.len() <= 128, "{queue}");
    assert!(queue.starts_with("hubflow:f:#"));
    assert_ne!(queue, flow_queue(&"g".repeat(300)));

    let due: DateTime<Utc> = "2026-03-01T11:00:00.000250Z".parse().unwrap();
    assert_eq!(
        due_key("daily-report", due),
        format!("hubflow:due:daily-report:{}", due.timestamp_micros())
    );
    let key = due_key(&"f".repeat(600), due);
    assert!(key.len() <= 512);
    assert!(key.ends_with(&format!(":{}", due.timestamp_micros())));
    assert_ne!(due_key("daily-report", due), due_key("other", due));
}
