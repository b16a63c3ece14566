//! Unit tests of `memory`.

use super::*;
use chrono::TimeZone;
use serde_json::json;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 12, minute, 0).unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn claims_move_from_free_to_in_flight_to_done() {
    block_on(async {
        let s = MemoryStore::new();
        assert_eq!(s.claim("f", "k", at(0)).await.unwrap(), Claim::Acquired);
        assert_eq!(
            s.claim("f", "k", at(1)).await.unwrap(),
            Claim::InFlight { since: at(0) }
        );
        assert_eq!(
            s.peek_claim("f", "k").await.unwrap(),
            Some(Claim::InFlight { since: at(0) })
        );
        // Claims are per scope.
        assert_eq!(s.claim("g", "k", at(1)).await.unwrap(), Claim::Acquired);
        let receipt = Receipt::new(200).with_id("m1");
        s.complete("f", "k", &receipt).await.unwrap();
        // Done is final, receipt included.
        s.complete("f", "k", &Receipt::new(201)).await.unwrap();
        assert_eq!(
            s.claim("f", "k", at(2)).await.unwrap(),
            Claim::Done {
                receipt: receipt.clone()
            }
        );
        // A release after completion must not forget the delivery.
        s.release("f", "k").await.unwrap();
        assert_eq!(
            s.claim("f", "k", at(3)).await.unwrap(),
            Claim::Done { receipt }
        );
        assert_eq!(s.peek_claim("f", "free").await.unwrap(), None);
    });
}

#[test]
fn release_frees_the_key_and_reclaim_is_a_compare_and_swap() {
    block_on(async {
        let s = MemoryStore::new();
        s.claim("f", "k", at(0)).await.unwrap();
        s.release("f", "k").await.unwrap();
        assert_eq!(s.claim("f", "k", at(1)).await.unwrap(), Claim::Acquired);
        assert!(!s.reclaim("f", "k", at(5), at(10)).await.unwrap());
        assert!(s.reclaim("f", "k", at(1), at(10)).await.unwrap());
        // The second taker saw the old instant and loses.
        assert!(!s.reclaim("f", "k", at(1), at(11)).await.unwrap());
        assert!(!s.reclaim("f", "missing", at(0), at(11)).await.unwrap());
    });
}

#[test]
fn a_cursor_is_saved_under_its_lease_with_compare_and_set() {
    block_on(async {
        let s = MemoryStore::new();
        let ttl = Duration::from_secs(60);
        let lease = s.lease_cursor("f", "a", at(0), ttl).await.unwrap().unwrap();
        assert_eq!((lease.cursor.clone(), lease.version), (None, 0));
        assert_eq!(s.lease_cursor("f", "b", at(0), ttl).await.unwrap(), None);
        let c = Cursor::new(json!({"since": 3}));
        assert!(s.save_cursor("f", "a", 0, &c).await.unwrap());
        assert!(
            !s.save_cursor("f", "a", 0, &c).await.unwrap(),
            "version moved"
        );
        assert!(
            !s.save_cursor("f", "b", 1, &c).await.unwrap(),
            "not the holder"
        );
        assert_eq!(
            s.saved_cursor("f").await.unwrap(),
            Some(SavedCursor {
                cursor: c.clone(),
                version: 1
            })
        );
        // The lease runs out at `expires_at`: b takes it, and a's save is refused.
        let b = s.lease_cursor("f", "b", at(1), ttl).await.unwrap().unwrap();
        assert_eq!((b.cursor, b.version), (Some(c.clone()), 1));
        assert!(!s.save_cursor("f", "a", 1, &c).await.unwrap());
        s.release_cursor("f", "a").await.unwrap();
        assert_eq!(s.lease_cursor("f", "c", at(1), ttl).await.unwrap(), None);
        s.release_cursor("f", "b").await.unwrap();
        assert!(s
            .lease_cursor("f", "c", at(1), ttl)
            .await
            .unwrap()
            .is_some());
    });
}

#[test]
fn expired_state_is_absent_and_dropped() {
    block_on(async {
        let s = MemoryStore::new();
        let entry = StateEntry::new(json!(1)).expiring_at(at(10));
        s.put_state("w", "k", &entry).await.unwrap();
        assert_eq!(s.get_state("w", "k", at(9)).await.unwrap(), Some(entry));
        assert_eq!(s.get_state("w", "k", at(10)).await.unwrap(), None);
        assert!(s.lock().state.is_empty(), "dropped on access");
        let two = StateEntry::new(json!(2));
        assert!(s.swap_state("w", "k", None, &two, at(11)).await.unwrap());
        assert!(!s.swap_state("w", "k", None, &two, at(11)).await.unwrap());
        let three = StateEntry::new(json!(3));
        assert!(!s
            .swap_state("w", "k", Some(&json!(1)), &three, at(11))
            .await
            .unwrap());
        assert!(s
            .swap_state("w", "k", Some(&json!(2)), &three, at(11))
            .await
            .unwrap());
        s.remove_state("w", "k").await.unwrap();
        assert_eq!(s.get_state("w", "k", at(11)).await.unwrap(), None);
    });
}

#[test]
fn history_is_newest_first_and_pruned_per_flow() {
    block_on(async {
        let s = MemoryStore::new();
        for n in 0..4 {
            let entry = HistoryEntry::new("f", at(0), at(1), json!(n));
            s.append_history(&entry).await.unwrap();
        }
        s.append_history(&HistoryEntry::new("g", at(0), at(1), json!("g")))
            .await
            .unwrap();
        let reports = |runs: Vec<HistoryEntry>| -> Vec<Value> {
            runs.into_iter().map(|e| e.report).collect()
        };
        assert_eq!(
            reports(s.recent_history("f", 2).await.unwrap()),
            [json!(3), json!(2)]
        );
        assert_eq!(s.prune_history("f", 1).await.unwrap(), 3);
        assert_eq!(
            reports(s.recent_history("f", 10).await.unwrap()),
            [json!(3)]
        );
        assert_eq!(s.recent_history("g", 10).await.unwrap().len(), 1);
    });
}
