//! Unit tests of `cluster::queue`.

use super::*;

#[test]
fn a_recipients_queue_is_stable_keyed_and_holds_no_number() {
    let key = b"cluster-key-1";
    let a = recipient_queue(key, "5511999990001");
    assert_eq!(a, recipient_queue(key, "5511999990001"));
    assert!(a.starts_with("hubflow:r:"));
    assert_eq!(a.len(), "hubflow:r:".len() + 32);
    assert!(!a.contains("5511999990001"));
    assert!(!a.contains("999990001"));
    assert_ne!(a, recipient_queue(key, "5511999990002"));
    // Another cluster's key names the same person's queue differently: the name cannot be
    // looked up in a table of hashed numbers.
    assert_ne!(a, recipient_queue(b"cluster-key-2", "5511999990001"));
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
