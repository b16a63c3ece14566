//! The store conformance suite: every documented rule of [`ClaimStore`], [`CursorStore`],
//! [`StateStore`] and [`HistoryStore`], checked against a store implementation.
//!
//! Run it in the implementation's own tests, on the runtime the store needs:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let store = hubflow::MemoryStore::new();
//! hubflow::testing::store::check_all(&store).await.unwrap();
//! # });
//! ```
//!
//! A failure names the rule that broke ([`ConformanceFailure::rule`]) and what was seen.
//! The suite writes under scopes, keys and flow ids starting with `conformance-` followed
//! by a token fresh for every call, so it can run on a store that holds other data or
//! earlier runs' leftovers, and it removes nothing it did not write. Every instant it passes
//! has microsecond precision (what PostgreSQL's `timestamptz` keeps) and lies in 2026,
//! whatever the real time: stores must judge expiry by the `now` they are given. The
//! concurrency rules start many operations at once (polled together, on the caller's task);
//! for a database store each is its own statement, so they race in the database.
//!
//! | rule | what must hold |
//! |---|---|
//! | `claims.claim_acquires_a_free_key` | a claim on a free key answers `Acquired` |
//! | `claims.claim_reports_in_flight` | a claim on a key in flight answers `InFlight` with the first claim's instant, exactly |
//! | `claims.scopes_are_separate` | the same key in another scope is free |
//! | `claims.peek_changes_nothing` | `peek_claim` answers `None` for a free key without claiming it, and the state otherwise |
//! | `claims.complete_makes_done` | after `complete`, claims answer `Done` with the receipt |
//! | `claims.complete_on_a_free_key_is_done` | completing a key never claimed makes it done |
//! | `claims.done_is_final` | a done key stays done with its first receipt through `complete`, `release` and `reclaim` |
//! | `claims.release_frees` | after `release` of a key in flight, a claim acquires it |
//! | `claims.release_of_a_free_key_is_harmless` | releasing a free key is no error and claims nothing |
//! | `claims.reclaim_is_compare_and_swap` | `reclaim` applies only with the exact `since`, moves it to `now`, and a second taker with the old instant loses |
//! | `claims.concurrent_claims_acquire_once` | of many concurrent claims on a free key exactly one acquires |
//! | `claims.concurrent_reclaims_win_once` | of many concurrent reclaims of one abandoned claim exactly one wins |
//! | `claims.batch_answers_in_order` | `claim_batch` answers one claim per key, in order: free keys acquired, keys in flight or done as found, a key repeated in the batch in flight since `now` the second time |
//! | `claims.batch_claims_for_real` | keys a batch acquired are in flight for a later claim; an empty batch answers nothing |
//! | `claims.concurrent_batches_acquire_once` | of many concurrent batches over overlapping keys, each key is acquired exactly once |
//! | `cursors.start_absent` | a new flow has no saved cursor; its first lease shows none, version 0, `expires_at = now + ttl` |
//! | `cursors.lease_is_exclusive` | while a lease is live, another holder gets `None` |
//! | `cursors.lease_renews_for_its_holder` | the holder leasing again gets the lease with the new expiry |
//! | `cursors.save_is_compare_and_set` | a save with the current version applies and adds one; with an old version it is refused and changes nothing |
//! | `cursors.save_needs_the_lease` | a save by someone who does not hold the lease is refused |
//! | `cursors.lease_expires` | at `expires_at` another holder gets the lease, with the saved cursor and version |
//! | `cursors.lost_lease_refuses_save` | the former holder's save is refused once another holder took over |
//! | `cursors.release_ends_the_lease` | after the holder's release another holder gets the lease at once; the holder can no longer save |
//! | `cursors.release_by_another_is_ignored` | a release by someone else leaves the lease alone |
//! | `cursors.release_keeps_the_cursor` | releasing keeps the cursor and its version |
//! | `cursors.flows_are_separate` | another flow's lease and cursor are independent |
//! | `cursors.concurrent_leases_grant_once` | of many concurrent leases by different holders exactly one is granted |
//! | `cursors.concurrent_saves_apply_once` | of many concurrent saves from one version exactly one applies |
//! | `state.missing_is_absent` | a key never written reads as `None` |
//! | `state.put_then_get` | a put entry reads back equal, value and expiry, while live |
//! | `state.expired_is_invisible` | at and after `expires_at` the entry reads as `None` |
//! | `state.no_expiry_is_forever` | an entry without expiry is live at any instant |
//! | `state.put_replaces` | a second put replaces value and expiry |
//! | `state.swap_from_absent_inserts_once` | `swap_state` expecting absence applies on a missing key, then is refused |
//! | `state.swap_checks_the_expected_value` | a swap expecting another value is refused and changes nothing; expecting the live value it applies |
//! | `state.swap_treats_expired_as_absent` | an expired entry counts as absent for a swap, never as its old value |
//! | `state.swap_compares_json_values` | expected values compare as JSON (nested objects, numbers, strings) |
//! | `state.remove_deletes` | after `remove_state` the key reads as `None`; removing a missing key is no error |
//! | `state.scopes_are_separate` | the same key in another scope is another entry |
//! | `state.concurrent_swaps_apply_once` | of many concurrent swaps from one expected value exactly one applies |
//! | `rates.first_slot_is_now` | a key never reserved gets `now` |
//! | `rates.slots_are_spaced` | further reservations at the same `now` get `now + interval`, `now + 2 × interval`, exactly |
//! | `rates.idle_key_starts_at_now` | after its slots have passed, a key's next reservation gets the new `now`, not a slot in the past |
//! | `rates.keys_are_separate` | another key's slots are independent |
//! | `rates.concurrent_reservations_get_distinct_slots` | of many concurrent reservations on one key, each gets its own slot, `interval` apart |
//! | `history.empty_is_empty` | a flow without runs has an empty history |
//! | `history.entries_round_trip` | appended entries read back equal |
//! | `history.recent_is_newest_first` | `recent_history(n)` gives the last `n` appended, newest first, even when runs started at the same instant |
//! | `history.recent_returns_fewer` | asking for more than there are gives all, and for none gives none |
//! | `history.flows_are_separate` | a flow's history holds only its own runs |
//! | `history.prune_keeps_the_newest` | `prune_history(keep_last)` deletes the older runs of that flow only and says how many |

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

use chrono::{DateTime, TimeZone, Utc};
use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::{
    Claim, ClaimStore, Cursor, CursorStore, HistoryEntry, HistoryStore, RateStore, Receipt,
    StateEntry, StateStore, Store, StoreError,
};

/// A rule of the store's contract that the implementation broke.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConformanceFailure {
    /// The rule, as named in the [module's table](self), e.g. `claims.release_frees`.
    pub rule: &'static str,
    /// What the suite saw instead.
    pub detail: String,
}

impl fmt::Display for ConformanceFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store rule `{}` broken: {}", self.rule, self.detail)
    }
}

impl std::error::Error for ConformanceFailure {}

type Checked = Result<(), ConformanceFailure>;

fn broken(rule: &'static str, detail: impl Into<String>) -> ConformanceFailure {
    ConformanceFailure {
        rule,
        detail: detail.into(),
    }
}

fn ensure(holds: bool, rule: &'static str, detail: impl FnOnce() -> String) -> Checked {
    if holds {
        Ok(())
    } else {
        Err(broken(rule, detail()))
    }
}

/// An operation's result, a store error being a failure of the rule under check.
fn ok<T>(result: Result<T, StoreError>, rule: &'static str) -> Result<T, ConformanceFailure> {
    result.map_err(|e| broken(rule, format!("the store failed: {e}")))
}

/// A name no earlier run used: `conformance-<token>-<what>`.
fn fresh(what: &str) -> String {
    // std's randomly keyed hasher gives a different value for every `RandomState`.
    let token = RandomState::new().build_hasher().finish();
    format!("conformance-{token:016x}-{what}")
}

/// An instant in 2026 with microseconds, `seconds` after the suite's epoch.
fn at(seconds: i64) -> DateTime<Utc> {
    let base = Utc
        .with_ymd_and_hms(2026, 3, 1, 12, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
    base + chrono::Duration::microseconds(123_456) + chrono::Duration::seconds(seconds)
}

/// How many operations the concurrency rules start at once.
const RACERS: usize = 16;

/// Runs every check: claims, cursors, state and history.
pub async fn check_all<S: Store + ?Sized>(store: &S) -> Checked {
    check_claims(store).await?;
    check_cursors(store).await?;
    check_state(store).await?;
    check_history(store).await
}

/// Checks the `rates.*` rules of a [`RateStore`] (not part of [`check_all`]: the rate store
/// is an optional concern).
pub async fn check_rates<S: RateStore + ?Sized>(store: &S) -> Checked {
    let key = fresh("rates");
    let other = fresh("rates-other");
    let interval = Duration::from_millis(250);
    let step = chrono::Duration::milliseconds(250);
    let t0 = at(0);

    let rule = "rates.first_slot_is_now";
    let first = ok(store.reserve_slot(&key, interval, t0).await, rule)?;
    ensure(first == t0, rule, || {
        format!("the first reservation got {first}, expected {t0}")
    })?;

    let rule = "rates.slots_are_spaced";
    let second = ok(store.reserve_slot(&key, interval, t0).await, rule)?;
    let third = ok(store.reserve_slot(&key, interval, t0).await, rule)?;
    ensure(second == t0 + step && third == t0 + step * 2, rule, || {
        format!("reservations at {t0} got {first}, {second}, {third}; expected 250 ms apart")
    })?;

    let rule = "rates.keys_are_separate";
    let elsewhere = ok(store.reserve_slot(&other, interval, t0).await, rule)?;
    ensure(elsewhere == t0, rule, || {
        format!("another key's first reservation got {elsewhere}, expected {t0}")
    })?;

    let rule = "rates.idle_key_starts_at_now";
    let later = at(60);
    let resumed = ok(store.reserve_slot(&key, interval, later).await, rule)?;
    ensure(resumed == later, rule, || {
        format!("after a quiet minute a reservation got {resumed}, expected {later}")
    })?;

    let rule = "rates.concurrent_reservations_get_distinct_slots";
    let raced = fresh("rates-raced");
    let answers = join_all((0..RACERS).map(|_| store.reserve_slot(&raced, interval, t0))).await;
    let mut slots = Vec::with_capacity(RACERS);
    for answer in answers {
        slots.push(ok(answer, rule)?);
    }
    slots.sort();
    let expected: Vec<DateTime<Utc>> = (0..RACERS).map(|n| t0 + step * n as i32).collect();
    ensure(slots == expected, rule, || {
        format!(
            "{RACERS} concurrent reservations got {slots:?}, expected one every 250 ms from {t0}"
        )
    })
}

/// Checks the `claims.*` rules.
pub async fn check_claims<S: ClaimStore + ?Sized>(store: &S) -> Checked {
    let scope = fresh("claims");
    let other_scope = fresh("claims-other");
    let t0 = at(0);

    let rule = "claims.peek_changes_nothing";
    let peeked = ok(store.peek_claim(&scope, "k").await, rule)?;
    ensure(peeked.is_none(), rule, || {
        format!("a free key peeked as {peeked:?}")
    })?;

    let rule = "claims.claim_acquires_a_free_key";
    let first = ok(store.claim(&scope, "k", t0).await, rule)?;
    ensure(first == Claim::Acquired, rule, || {
        format!("the first claim answered {first:?} (after a peek, which must not claim)")
    })?;

    let rule = "claims.claim_reports_in_flight";
    let second = ok(store.claim(&scope, "k", at(5)).await, rule)?;
    ensure(second == Claim::InFlight { since: t0 }, rule, || {
        format!("a second claim answered {second:?}, expected in flight since {t0}")
    })?;

    let rule = "claims.peek_changes_nothing";
    let peeked = ok(store.peek_claim(&scope, "k").await, rule)?;
    ensure(peeked == Some(Claim::InFlight { since: t0 }), rule, || {
        format!("a key in flight since {t0} peeked as {peeked:?}")
    })?;

    let rule = "claims.scopes_are_separate";
    let elsewhere = ok(store.claim(&other_scope, "k", t0).await, rule)?;
    ensure(elsewhere == Claim::Acquired, rule, || {
        format!("the same key in another scope answered {elsewhere:?}")
    })?;

    let rule = "claims.complete_makes_done";
    let receipt = Receipt::new(201)
        .with_id("msg-1")
        .with_details(json!({"to": "5511", "n": [1, 2]}));
    ok(store.complete(&scope, "k", &receipt).await, rule)?;
    let done = ok(store.claim(&scope, "k", at(10)).await, rule)?;
    let expected_done = Claim::Done {
        receipt: receipt.clone(),
    };
    ensure(done == expected_done, rule, || {
        format!("after completion a claim answered {done:?}, expected {expected_done:?}")
    })?;

    let rule = "claims.done_is_final";
    ok(store.complete(&scope, "k", &Receipt::new(500)).await, rule)?;
    ok(store.release(&scope, "k").await, rule)?;
    let reclaimed = ok(store.reclaim(&scope, "k", t0, at(11)).await, rule)?;
    ensure(!reclaimed, rule, || {
        "a reclaim of a done key applied".to_owned()
    })?;
    let still = ok(store.claim(&scope, "k", at(12)).await, rule)?;
    ensure(still == expected_done, rule, || {
        format!("after a second completion, a release and a reclaim the key answered {still:?}, expected {expected_done:?}")
    })?;

    let rule = "claims.complete_on_a_free_key_is_done";
    ok(
        store.complete(&scope, "never-claimed", &receipt).await,
        rule,
    )?;
    let unclaimed = ok(store.claim(&scope, "never-claimed", t0).await, rule)?;
    ensure(unclaimed == expected_done, rule, || {
        format!("a completed key never claimed answered {unclaimed:?}")
    })?;

    let rule = "claims.release_frees";
    ok(store.claim(&scope, "r", t0).await, rule)?;
    ok(store.release(&scope, "r").await, rule)?;
    let again = ok(store.claim(&scope, "r", at(1)).await, rule)?;
    ensure(again == Claim::Acquired, rule, || {
        format!("a claim after the release answered {again:?}")
    })?;

    let rule = "claims.release_of_a_free_key_is_harmless";
    ok(store.release(&scope, "free").await, rule)?;
    let free = ok(store.claim(&scope, "free", t0).await, rule)?;
    ensure(free == Claim::Acquired, rule, || {
        format!("a claim after releasing a free key answered {free:?}")
    })?;

    let rule = "claims.reclaim_is_compare_and_swap";
    ok(store.claim(&scope, "abandoned", t0).await, rule)?;
    let wrong = ok(
        store.reclaim(&scope, "abandoned", at(1), at(60)).await,
        rule,
    )?;
    ensure(!wrong, rule, || {
        "a reclaim with another `since` applied".to_owned()
    })?;
    let taken = ok(store.reclaim(&scope, "abandoned", t0, at(60)).await, rule)?;
    ensure(taken, rule, || {
        "a reclaim with the exact `since` did not apply".to_owned()
    })?;
    let now_since = ok(store.claim(&scope, "abandoned", at(61)).await, rule)?;
    ensure(now_since == Claim::InFlight { since: at(60) }, rule, || {
        format!(
            "after the takeover a claim answered {now_since:?}, expected in flight since {}",
            at(60)
        )
    })?;
    let late = ok(store.reclaim(&scope, "abandoned", t0, at(62)).await, rule)?;
    ensure(!late, rule, || {
        "a second taker with the old instant won too".to_owned()
    })?;
    let missing = ok(store.reclaim(&scope, "missing", t0, at(62)).await, rule)?;
    ensure(!missing, rule, || {
        "a reclaim of a free key applied".to_owned()
    })?;

    let rule = "claims.concurrent_claims_acquire_once";
    let answers = join_all((0..RACERS).map(|_| store.claim(&scope, "raced", t0))).await;
    let mut acquired = 0;
    for answer in answers {
        match ok(answer, rule)? {
            Claim::Acquired => acquired += 1,
            Claim::InFlight { .. } => {}
            other => {
                return Err(broken(
                    rule,
                    format!("a concurrent claim answered {other:?}"),
                ))
            }
        }
    }
    ensure(acquired == 1, rule, || {
        format!("{acquired} of {RACERS} concurrent claims acquired the key")
    })?;

    let rule = "claims.concurrent_reclaims_win_once";
    let answers =
        join_all((0..RACERS).map(|n| store.reclaim(&scope, "raced", t0, at(100 + n as i64)))).await;
    let mut won = 0;
    for answer in answers {
        if ok(answer, rule)? {
            won += 1;
        }
    }
    ensure(won == 1, rule, || {
        format!("{won} of {RACERS} concurrent reclaims took the claim over")
    })?;

    check_claim_batches(store, &scope).await
}

/// The `claims.batch_*` rules, in `scope` (which holds `k` done and `raced` in flight).
async fn check_claim_batches<S: ClaimStore + ?Sized>(store: &S, scope: &str) -> Checked {
    let rule = "claims.batch_answers_in_order";
    let t = at(200);
    ok(store.claim(scope, "b-held", at(150)).await, rule)?;
    let keys = ["b-1", "k", "b-held", "b-2", "b-1"];
    let answers = ok(store.claim_batch(scope, &keys, t).await, rule)?;
    let receipt = Receipt::new(201)
        .with_id("msg-1")
        .with_details(json!({"to": "5511", "n": [1, 2]}));
    let expected = vec![
        Claim::Acquired,
        Claim::Done { receipt },
        Claim::InFlight { since: at(150) },
        Claim::Acquired,
        Claim::InFlight { since: t },
    ];
    ensure(answers == expected, rule, || {
        format!("a batch over {keys:?} answered {answers:?}, expected {expected:?}")
    })?;

    let rule = "claims.batch_claims_for_real";
    let later = ok(store.claim(scope, "b-2", at(201)).await, rule)?;
    ensure(later == Claim::InFlight { since: t }, rule, || {
        format!("a key the batch acquired then answered {later:?}")
    })?;
    let empty = ok(store.claim_batch(scope, &[], t).await, rule)?;
    ensure(empty.is_empty(), rule, || {
        format!("an empty batch answered {empty:?}")
    })?;

    let rule = "claims.concurrent_batches_acquire_once";
    let names: Vec<String> = (0..32).map(|n| format!("cb-{n}")).collect();
    // Batch `n` covers a window of 8 keys starting at `n`, so neighbours overlap.
    let batches: Vec<Vec<&str>> = (0..RACERS)
        .map(|n| names[n..n + 8].iter().map(String::as_str).collect())
        .collect();
    let answers = join_all(batches.iter().map(|keys| store.claim_batch(scope, keys, t))).await;
    let mut acquired = std::collections::HashMap::<&str, usize>::new();
    for (keys, answer) in batches.iter().zip(answers) {
        let claims = ok(answer, rule)?;
        ensure(claims.len() == keys.len(), rule, || {
            format!(
                "a batch of {} keys answered {} claims",
                keys.len(),
                claims.len()
            )
        })?;
        for (key, claim) in keys.iter().zip(claims) {
            if claim == Claim::Acquired {
                *acquired.entry(key).or_default() += 1;
            }
        }
    }
    let covered = RACERS + 7;
    let once = names[..covered]
        .iter()
        .all(|name| acquired.get(name.as_str()) == Some(&1));
    ensure(once, rule, || {
        format!("keys acquired per key over {RACERS} concurrent batches: {acquired:?}")
    })
}

/// Checks the `cursors.*` rules.
pub async fn check_cursors<S: CursorStore + ?Sized>(store: &S) -> Checked {
    let flow = fresh("cursors");
    let other_flow = fresh("cursors-other");
    let ttl = Duration::from_secs(60);
    let t0 = at(0);
    let c1 = Cursor::new(json!({"after": 1, "seen": ["a", "b"]}));
    let c2 = Cursor::new(json!({"after": 2}));

    let rule = "cursors.start_absent";
    let saved = ok(store.saved_cursor(&flow).await, rule)?;
    ensure(saved.is_none(), rule, || {
        format!("a new flow has a saved cursor: {saved:?}")
    })?;
    let lease = ok(store.lease_cursor(&flow, "a", t0, ttl).await, rule)?
        .ok_or_else(|| broken(rule, "the first lease of a new flow was refused"))?;
    ensure(
        lease.cursor.is_none()
            && lease.version == 0
            && lease.holder == "a"
            && lease.expires_at == at(60),
        rule,
        || {
            format!("the first lease is {lease:?}, expected no cursor, version 0, holder `a`, expiring at {}", at(60))
        },
    )?;

    let rule = "cursors.lease_is_exclusive";
    let taken = ok(store.lease_cursor(&flow, "b", at(59), ttl).await, rule)?;
    ensure(taken.is_none(), rule, || {
        format!("another holder got the live lease: {taken:?}")
    })?;

    let rule = "cursors.lease_renews_for_its_holder";
    let renewed = ok(store.lease_cursor(&flow, "a", at(30), ttl).await, rule)?;
    ensure(
        renewed.as_ref().is_some_and(|l| l.expires_at == at(90)),
        rule,
        || {
            format!(
                "the holder leasing again got {renewed:?}, expected its lease until {}",
                at(90)
            )
        },
    )?;

    let rule = "cursors.save_is_compare_and_set";
    let saved = ok(store.save_cursor(&flow, "a", 0, &c1).await, rule)?;
    ensure(saved, rule, || {
        "the holder's save with the current version was refused".to_owned()
    })?;
    let stale = ok(store.save_cursor(&flow, "a", 0, &c2).await, rule)?;
    ensure(!stale, rule, || {
        "a save with a version that moved applied".to_owned()
    })?;
    let read = ok(store.saved_cursor(&flow).await, rule)?;
    ensure(
        read.as_ref()
            .is_some_and(|s| s.cursor == c1 && s.version == 1),
        rule,
        || {
            format!("after one save and one refused save the cursor is {read:?}, expected {c1:?} at version 1")
        },
    )?;

    let rule = "cursors.save_needs_the_lease";
    let intruder = ok(store.save_cursor(&flow, "b", 1, &c2).await, rule)?;
    ensure(!intruder, rule, || {
        "a save by someone without the lease applied".to_owned()
    })?;

    let rule = "cursors.release_by_another_is_ignored";
    ok(store.release_cursor(&flow, "b").await, rule)?;
    let blocked = ok(store.lease_cursor(&flow, "b", at(60), ttl).await, rule)?;
    ensure(blocked.is_none(), rule, || {
        "a release by someone else ended the holder's lease".to_owned()
    })?;

    let rule = "cursors.lease_expires";
    let before = ok(store.lease_cursor(&flow, "b", at(89), ttl).await, rule)?;
    ensure(before.is_none(), rule, || {
        format!("the lease was granted to another before it expired: {before:?}")
    })?;
    let after = ok(store.lease_cursor(&flow, "b", at(90), ttl).await, rule)?.ok_or_else(|| {
        broken(
            rule,
            format!("at its expiry ({}) the lease was still held", at(90)),
        )
    })?;
    ensure(
        after.cursor.as_ref() == Some(&c1) && after.version == 1 && after.holder == "b",
        rule,
        || {
            format!(
                "the lease taken over is {after:?}, expected holder `b` with {c1:?} at version 1"
            )
        },
    )?;

    let rule = "cursors.lost_lease_refuses_save";
    let lost = ok(store.save_cursor(&flow, "a", 1, &c2).await, rule)?;
    ensure(!lost, rule, || {
        "the former holder saved after another took the lease over".to_owned()
    })?;

    let rule = "cursors.release_ends_the_lease";
    ok(store.release_cursor(&flow, "b").await, rule)?;
    let late = ok(store.save_cursor(&flow, "b", 1, &c2).await, rule)?;
    ensure(!late, rule, || {
        "a save after the holder released its lease applied".to_owned()
    })?;
    let next = ok(store.lease_cursor(&flow, "c", at(91), ttl).await, rule)?;
    ensure(next.is_some(), rule, || {
        "after the release another holder was refused".to_owned()
    })?;

    let rule = "cursors.release_keeps_the_cursor";
    ok(store.release_cursor(&flow, "c").await, rule)?;
    let kept = ok(store.saved_cursor(&flow).await, rule)?;
    ensure(
        kept.as_ref()
            .is_some_and(|s| s.cursor == c1 && s.version == 1),
        rule,
        || format!("after releases the cursor is {kept:?}, expected {c1:?} at version 1"),
    )?;

    let rule = "cursors.flows_are_separate";
    let elsewhere = ok(store.lease_cursor(&other_flow, "z", t0, ttl).await, rule)?;
    ensure(
        elsewhere
            .as_ref()
            .is_some_and(|l| l.cursor.is_none() && l.version == 0),
        rule,
        || format!("another flow's first lease is {elsewhere:?}"),
    )?;
    ok(store.release_cursor(&other_flow, "z").await, rule)?;

    let rule = "cursors.concurrent_leases_grant_once";
    let raced = fresh("cursors-raced");
    let holders: Vec<String> = (0..RACERS).map(|n| format!("h{n}")).collect();
    let answers = join_all(
        holders
            .iter()
            .map(|holder| store.lease_cursor(&raced, holder, t0, ttl)),
    )
    .await;
    let mut winner = None;
    let mut granted = 0;
    for answer in answers {
        if let Some(lease) = ok(answer, rule)? {
            granted += 1;
            winner = Some(lease.holder);
        }
    }
    ensure(granted == 1, rule, || {
        format!("{granted} of {RACERS} concurrent leases by different holders were granted")
    })?;

    let rule = "cursors.concurrent_saves_apply_once";
    let winner = winner.unwrap_or_default();
    let cursors: Vec<Cursor> = (0..RACERS)
        .map(|n| Cursor::new(json!({ "n": n })))
        .collect();
    let answers = join_all(
        cursors
            .iter()
            .map(|cursor| store.save_cursor(&raced, &winner, 0, cursor)),
    )
    .await;
    let mut applied = 0;
    for answer in answers {
        if ok(answer, rule)? {
            applied += 1;
        }
    }
    ensure(applied == 1, rule, || {
        format!("{applied} of {RACERS} concurrent saves from version 0 applied")
    })?;
    let version = ok(store.saved_cursor(&raced).await, rule)?.map(|s| s.version);
    ensure(version == Some(1), rule, || {
        format!("after one applied save the version is {version:?}, expected 1")
    })?;
    ok(store.release_cursor(&raced, &winner).await, rule)
}

/// Checks the `state.*` rules.
pub async fn check_state<S: StateStore + ?Sized>(store: &S) -> Checked {
    let scope = fresh("state");
    let other_scope = fresh("state-other");
    let t0 = at(0);

    let rule = "state.missing_is_absent";
    let missing = ok(store.get_state(&scope, "k", t0).await, rule)?;
    ensure(missing.is_none(), rule, || {
        format!("a key never written reads as {missing:?}")
    })?;

    let rule = "state.put_then_get";
    let entry = StateEntry::new(json!({"at": "2026-03-01T12:00:00Z", "n": 1})).expiring_at(at(60));
    ok(store.put_state(&scope, "k", &entry).await, rule)?;
    let read = ok(store.get_state(&scope, "k", at(59)).await, rule)?;
    ensure(read.as_ref() == Some(&entry), rule, || {
        format!("the entry reads back as {read:?}, expected {entry:?}")
    })?;

    let rule = "state.expired_is_invisible";
    for now in [at(60), at(3600)] {
        let expired = ok(store.get_state(&scope, "k", now).await, rule)?;
        ensure(expired.is_none(), rule, || {
            format!(
                "an entry expiring at {} reads at {now} as {expired:?}",
                at(60)
            )
        })?;
    }

    let rule = "state.no_expiry_is_forever";
    let forever = StateEntry::new(json!("kept"));
    ok(store.put_state(&scope, "forever", &forever).await, rule)?;
    let far = at(100 * 365 * 24 * 3600);
    let read = ok(store.get_state(&scope, "forever", far).await, rule)?;
    ensure(read.as_ref() == Some(&forever), rule, || {
        format!("an entry without expiry reads at {far} as {read:?}")
    })?;

    let rule = "state.put_replaces";
    let replaced = StateEntry::new(json!([1, 2, 3])).expiring_at(at(120));
    ok(store.put_state(&scope, "forever", &replaced).await, rule)?;
    let read = ok(store.get_state(&scope, "forever", t0).await, rule)?;
    ensure(read.as_ref() == Some(&replaced), rule, || {
        format!("after a second put the entry reads as {read:?}, expected {replaced:?}")
    })?;
    let gone = ok(store.get_state(&scope, "forever", at(120)).await, rule)?;
    ensure(gone.is_none(), rule, || {
        "the second put did not replace the expiry".to_owned()
    })?;

    let rule = "state.swap_from_absent_inserts_once";
    let one = StateEntry::new(json!(1)).expiring_at(at(60));
    let applied = ok(store.swap_state(&scope, "s", None, &one, t0).await, rule)?;
    ensure(applied, rule, || {
        "a swap expecting absence on a missing key was refused".to_owned()
    })?;
    let two = StateEntry::new(json!(2)).expiring_at(at(60));
    let again = ok(store.swap_state(&scope, "s", None, &two, t0).await, rule)?;
    ensure(!again, rule, || {
        "a swap expecting absence applied over a live entry".to_owned()
    })?;

    let rule = "state.swap_checks_the_expected_value";
    let wrong = ok(
        store
            .swap_state(&scope, "s", Some(&json!(7)), &two, t0)
            .await,
        rule,
    )?;
    let read = ok(store.get_state(&scope, "s", t0).await, rule)?;
    ensure(!wrong && read.as_ref() == Some(&one), rule, || {
        format!("a swap expecting another value applied ({wrong}) or changed the entry to {read:?}")
    })?;
    let three = StateEntry::new(json!(3)).expiring_at(at(30));
    let right = ok(
        store
            .swap_state(&scope, "s", Some(&json!(1)), &three, t0)
            .await,
        rule,
    )?;
    let read = ok(store.get_state(&scope, "s", t0).await, rule)?;
    ensure(right && read.as_ref() == Some(&three), rule, || {
        format!("a swap expecting the live value applied: {right}, entry now {read:?}, expected {three:?}")
    })?;

    let rule = "state.swap_treats_expired_as_absent";
    let four = StateEntry::new(json!(4));
    let as_old = ok(
        store
            .swap_state(&scope, "s", Some(&json!(3)), &four, at(30))
            .await,
        rule,
    )?;
    ensure(!as_old, rule, || {
        "a swap expecting an expired entry's value applied".to_owned()
    })?;
    let as_absent = ok(
        store.swap_state(&scope, "s", None, &four, at(30)).await,
        rule,
    )?;
    let read = ok(store.get_state(&scope, "s", at(30)).await, rule)?;
    ensure(as_absent && read.as_ref() == Some(&four), rule, || {
        format!("a swap expecting absence over an expired entry applied: {as_absent}, entry now {read:?}")
    })?;

    let rule = "state.swap_compares_json_values";
    let nested = json!({"b": [1, {"y": "é", "x": 2.5}], "a": {"d": null, "c": true}});
    ok(
        store
            .put_state(&scope, "json", &StateEntry::new(nested))
            .await,
        rule,
    )?;
    let expected: Value =
        serde_json::from_str(r#"{"a": {"c": true, "d": null}, "b": [1, {"x": 2.5, "y": "é"}]}"#)
            .unwrap_or(Value::Null);
    let five = StateEntry::new(json!(5));
    let matched = ok(
        store
            .swap_state(&scope, "json", Some(&expected), &five, t0)
            .await,
        rule,
    )?;
    ensure(matched, rule, || {
        "a swap expecting an equal JSON value (keys in another order) was refused".to_owned()
    })?;
    let string = ok(
        store
            .swap_state(&scope, "json", Some(&json!("5")), &five, t0)
            .await,
        rule,
    )?;
    ensure(!string, rule, || {
        "a swap expecting the string \"5\" applied over the number 5".to_owned()
    })?;

    let rule = "state.remove_deletes";
    ok(store.remove_state(&scope, "json").await, rule)?;
    let removed = ok(store.get_state(&scope, "json", t0).await, rule)?;
    ensure(removed.is_none(), rule, || {
        format!("a removed entry reads as {removed:?}")
    })?;
    ok(store.remove_state(&scope, "never-written").await, rule)?;

    let rule = "state.scopes_are_separate";
    let elsewhere = ok(store.get_state(&other_scope, "s", at(30)).await, rule)?;
    ensure(elsewhere.is_none(), rule, || {
        format!("the same key in another scope reads as {elsewhere:?}")
    })?;

    let rule = "state.concurrent_swaps_apply_once";
    let entries: Vec<StateEntry> = (0..RACERS)
        .map(|n| StateEntry::new(json!({ "n": n })))
        .collect();
    let answers = join_all(
        entries
            .iter()
            .map(|entry| store.swap_state(&scope, "raced", None, entry, t0)),
    )
    .await;
    let mut applied = 0;
    for answer in answers {
        if ok(answer, rule)? {
            applied += 1;
        }
    }
    ensure(applied == 1, rule, || {
        format!("{applied} of {RACERS} concurrent swaps from absence applied")
    })?;
    let current = ok(store.get_state(&scope, "raced", t0).await, rule)?
        .map(|entry| entry.value)
        .ok_or_else(|| broken(rule, "after the applied swap the key reads as absent"))?;
    // New values unlike the current one, or a swap to the same value would apply again.
    let next: Vec<StateEntry> = (0..RACERS)
        .map(|n| StateEntry::new(json!({ "next": n })))
        .collect();
    let answers = join_all(
        next.iter()
            .map(|entry| store.swap_state(&scope, "raced", Some(&current), entry, t0)),
    )
    .await;
    let mut applied = 0;
    for answer in answers {
        if ok(answer, rule)? {
            applied += 1;
        }
    }
    ensure(applied == 1, rule, || {
        format!("{applied} of {RACERS} concurrent swaps from the live value applied")
    })
}

/// Checks the `history.*` rules.
pub async fn check_history<S: HistoryStore + ?Sized>(store: &S) -> Checked {
    let flow = fresh("history");
    let other_flow = fresh("history-other");

    let rule = "history.empty_is_empty";
    let empty = ok(store.recent_history(&flow, 10).await, rule)?;
    ensure(empty.is_empty(), rule, || {
        format!("a flow without runs has {} in its history", empty.len())
    })?;

    // Five runs; the last two started at the same instant, so only the order of appending
    // can tell them apart.
    let entries: Vec<HistoryEntry> = (0..5)
        .map(|n| {
            let started = at(60 * n.min(3));
            HistoryEntry::new(
                flow.clone(),
                started,
                started + chrono::Duration::milliseconds(1500),
                json!({"run": n, "counts": {"delivered": n}, "warnings": []}),
            )
        })
        .collect();
    let rule = "history.entries_round_trip";
    for entry in &entries {
        ok(store.append_history(entry).await, rule)?;
    }
    ok(
        store
            .append_history(&HistoryEntry::new(
                other_flow.clone(),
                at(0),
                at(1),
                json!({"run": "other"}),
            ))
            .await,
        rule,
    )?;
    let read = ok(store.recent_history(&flow, entries.len()).await, rule)?;
    let missing: Vec<&HistoryEntry> = entries.iter().filter(|e| !read.contains(e)).collect();
    ensure(
        missing.is_empty() && read.len() == entries.len(),
        rule,
        || {
            format!(
                "of {} appended entries these do not read back equal: {missing:?}",
                entries.len()
            )
        },
    )?;

    let runs = |list: &[HistoryEntry]| -> Vec<Value> {
        list.iter().map(|e| e.report["run"].clone()).collect()
    };

    let rule = "history.recent_is_newest_first";
    let recent = ok(store.recent_history(&flow, 3).await, rule)?;
    ensure(
        runs(&recent) == [json!(4), json!(3), json!(2)],
        rule,
        || {
            format!(
                "the 3 most recent runs are {:?}, expected runs 4, 3, 2",
                runs(&recent)
            )
        },
    )?;

    let rule = "history.recent_returns_fewer";
    let all = ok(store.recent_history(&flow, 100).await, rule)?;
    let none = ok(store.recent_history(&flow, 0).await, rule)?;
    ensure(all.len() == 5 && none.is_empty(), rule, || {
        format!(
            "asking for 100 of 5 runs gave {}, for 0 gave {}",
            all.len(),
            none.len()
        )
    })?;

    let rule = "history.flows_are_separate";
    let other = ok(store.recent_history(&other_flow, 10).await, rule)?;
    ensure(
        runs(&other) == [json!("other")] && all.iter().all(|e| e.flow == flow),
        rule,
        || format!("the other flow's history is {:?}", runs(&other)),
    )?;

    let rule = "history.prune_keeps_the_newest";
    let pruned = ok(store.prune_history(&flow, 2).await, rule)?;
    let kept = ok(store.recent_history(&flow, 100).await, rule)?;
    ensure(
        pruned == 3 && runs(&kept) == [json!(4), json!(3)],
        rule,
        || {
            format!(
                "keeping the last 2 of 5 deleted {pruned} and kept {:?}",
                runs(&kept)
            )
        },
    )?;
    let nothing = ok(store.prune_history(&flow, 10).await, rule)?;
    let other = ok(store.recent_history(&other_flow, 10).await, rule)?;
    ensure(nothing == 0 && other.len() == 1, rule, || {
        format!(
            "a prune with room to spare deleted {nothing}; the other flow kept {} of 1",
            other.len()
        )
    })?;
    ok(store.prune_history(&other_flow, 0).await, rule)?;
    Ok(())
}
