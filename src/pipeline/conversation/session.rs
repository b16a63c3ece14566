//! A conversation's session in the store's keyed state: where it stands, its variables,
//! what the last prompt showed, the messages it handled, the prompts still to send, and the
//! lock that lets one message at a time move it.
//!
//! Everything is one entry per party (scope `conversation:<id>`, key
//! `<business number>:<party>`), changed only by compare-and-swap, so it works unchanged on
//! every store, across processes. Sessions waiting for an answer are also listed in one of
//! [`BUCKETS`] index entries (scope `conversation.idle:<id>`) with their timeout, so that
//! the idle sweep finds them without a store query the port does not have.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::input::Shown;
use crate::store::{update_state, StateEntry, StoreError};
use crate::Context;

/// How long a lock is held before another worker may take it over: longer than any turn
/// (a few ERP calls and sends, each bounded by its own timeout).
pub(crate) const LOCK_LEASE: Duration = Duration::from_secs(120);
/// How often a worker looks again at a lock held by another process.
pub(crate) const LOCK_POLL: Duration = Duration::from_millis(250);
/// How many times it looks before the message is retried later.
pub(crate) const LOCK_POLLS: u32 = 120;
/// How long a session is kept after its conversation ended or timed out: for
/// recognising late duplicates and out-of-order messages.
pub(crate) const KEEP_ENDED: Duration = Duration::from_secs(24 * 3600);
/// How long a session that waits for an answer is kept past its timeout: long enough for
/// an idle sweep that ran late (the host's scheduler was down) to still find it and report
/// it, even when the 24-hour window no longer lets it say goodbye.
pub(crate) const KEEP_IDLE: Duration = Duration::from_secs(7 * 24 * 3600);
/// Message ids remembered per session.
const SEEN: usize = 32;
/// Index entries per conversation.
pub(crate) const BUCKETS: u64 = 16;

/// A prompt to send: its form (which sender) and its payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Outgoing {
    pub(crate) form: Form,
    pub(crate) payload: Value,
}

/// Which sender a prompt goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Form {
    Text,
    Interactive,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Lock {
    pub(crate) holder: String,
    pub(crate) until: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Session {
    /// The business number the party writes to (`phone_number_id`), or empty.
    #[serde(default)]
    pub(crate) channel: String,
    /// The party's number.
    #[serde(default)]
    pub(crate) party: String,
    /// The state waiting for an answer; `None` when no conversation is under way.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<String>,
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub(crate) vars: Map<String, Value>,
    #[serde(default)]
    pub(crate) attempts: u32,
    /// The page of a long list shown last.
    #[serde(default)]
    pub(crate) page: usize,
    /// The options the last prompt showed, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) shown: Vec<Shown>,
    #[serde(default)]
    pub(crate) handed_off: bool,
    /// The instant of the newest message handled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) last_at: Option<DateTime<Utc>>,
    /// The ids of the messages handled, newest last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) seen: Vec<String>,
    /// When it times out, while waiting for an answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) idle_at: Option<DateTime<Utc>>,
    /// Turns taken, for report and send ids.
    #[serde(default)]
    pub(crate) turn: u64,
    /// Prompts of the last turn not sent yet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) outbox: Vec<Outgoing>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) lock: Option<Lock>,
}

impl Session {
    pub(crate) fn active(&self) -> bool {
        self.state.is_some()
    }

    pub(crate) fn saw(&self, id: &str) -> bool {
        self.seen.iter().any(|seen| seen == id)
    }

    pub(crate) fn note(&mut self, id: &str, at: DateTime<Utc>) {
        if !self.saw(id) {
            self.seen.push(id.to_owned());
            if self.seen.len() > SEEN {
                self.seen.remove(0);
            }
        }
        if self.last_at.is_none_or(|last| at > last) {
            self.last_at = Some(at);
        }
    }

    /// Forgets the conversation, keeping what recognises late messages.
    pub(crate) fn end(&mut self) {
        *self = Session {
            channel: std::mem::take(&mut self.channel),
            party: std::mem::take(&mut self.party),
            last_at: self.last_at,
            seen: std::mem::take(&mut self.seen),
            turn: self.turn,
            lock: self.lock.take(),
            outbox: std::mem::take(&mut self.outbox),
            ..Session::default()
        };
    }

    fn entry(&self, now: DateTime<Utc>) -> StateEntry {
        let keep = match self.idle_at {
            Some(at) if self.active() => crate::clock::add(at, KEEP_IDLE),
            _ => crate::clock::add(now, KEEP_ENDED),
        };
        // Invariant: plain data with string keys serializes.
        StateEntry::new(serde_json::to_value(self).unwrap_or(Value::Null)).expiring_at(keep)
    }
}

/// One party's session, held under its lock.
pub(crate) struct Held {
    scope: String,
    key: String,
    holder: String,
    /// The value in the store, for the next compare-and-swap.
    stored: Option<Value>,
    pub(crate) session: Session,
}

pub(crate) fn scope(id: &str) -> String {
    format!("conversation:{id}")
}

fn index_scope(id: &str) -> String {
    format!("conversation.idle:{id}")
}

fn bucket(key: &str) -> String {
    format!(
        "b{}",
        crate::record::stable_hash(&[key.as_bytes()]) % BUCKETS
    )
}

/// What waiting for the lock found.
pub(crate) enum Locked {
    Held(Box<Held>),
    /// Another process holds it for longer than this worker waits.
    Busy(DateTime<Utc>),
}

/// Takes the lock of `key`'s session, waiting while another process holds it.
pub(crate) async fn lock(ctx: &Context, id: &str, key: &str) -> Result<Locked, StoreError> {
    let scope = scope(id);
    let holder = ctx.next_lease_holder();
    let mut busy_until = ctx.clock().now();
    for _ in 0..LOCK_POLLS {
        let now = ctx.clock().now();
        let current = ctx.state().get_state(&scope, key, now).await?;
        let stored = current.map(|entry| entry.value);
        // An entry that is not a session (written by another version, or by hand) would
        // block the party for good if it were an error: the conversation starts afresh
        // over it, by compare-and-swap on what is there.
        let mut session = stored
            .as_ref()
            .and_then(|value| serde_json::from_value::<Session>(value.clone()).ok())
            .unwrap_or_default();
        if let Some(lock) = &session.lock {
            if lock.until > now {
                busy_until = lock.until;
                ctx.clock().sleep(LOCK_POLL).await;
                continue;
            }
        }
        session.lock = Some(Lock {
            holder: holder.clone(),
            until: crate::clock::add(now, LOCK_LEASE),
        });
        let entry = session.entry(now);
        if ctx
            .state()
            .swap_state(&scope, key, stored.as_ref(), &entry, now)
            .await?
        {
            return Ok(Locked::Held(Box::new(Held {
                scope,
                key: key.to_owned(),
                holder,
                stored: Some(entry.value),
                session,
            })));
        }
    }
    Ok(Locked::Busy(busy_until))
}

impl Held {
    /// Writes the session, keeping the lock.
    pub(crate) async fn save(&mut self, ctx: &Context) -> Result<(), StoreError> {
        self.write(ctx).await
    }

    /// Writes the session and lets go of the lock.
    pub(crate) async fn release(mut self, ctx: &Context) -> Result<(), StoreError> {
        self.session.lock = None;
        self.write(ctx).await
    }

    async fn write(&mut self, ctx: &Context) -> Result<(), StoreError> {
        let now = ctx.clock().now();
        if self.session.lock.is_some() {
            self.session.lock = Some(Lock {
                holder: self.holder.clone(),
                until: crate::clock::add(now, LOCK_LEASE),
            });
        }
        let entry = self.session.entry(now);
        let applied = ctx
            .state()
            .swap_state(&self.scope, &self.key, self.stored.as_ref(), &entry, now)
            .await?;
        if !applied {
            return Err(StoreError::conflict(format!(
                "session `{}` in `{}` was taken over by another worker while this one held it \
                 (a turn longer than the {} s lease)",
                self.key,
                self.scope,
                LOCK_LEASE.as_secs()
            )));
        }
        self.stored = Some(entry.value);
        Ok(())
    }
}

/// Lists (or, with `None`, unlists) a session's timeout in its index entry.
pub(crate) async fn index(
    ctx: &Context,
    id: &str,
    key: &str,
    idle_at: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let scope = index_scope(id);
    let bucket = bucket(key);
    let now = ctx.clock().now();
    update_state(ctx.state(), &scope, &bucket, now, |current| {
        let mut map = match current.map(|entry| &entry.value) {
            Some(Value::Object(map)) => map.clone(),
            _ => Map::new(),
        };
        let wanted = idle_at.map(|at| Value::String(at.to_rfc3339()));
        if map.get(key) == wanted.as_ref() {
            return Ok(None);
        }
        match wanted {
            Some(at) => map.insert(key.to_owned(), at),
            None => map.remove(key),
        };
        Ok(Some(StateEntry::new(Value::Object(map))))
    })
    .await?;
    Ok(())
}

/// The sessions whose listed timeout is at or before `now`.
pub(crate) async fn due(ctx: &Context, id: &str) -> Result<Vec<String>, StoreError> {
    let scope = index_scope(id);
    let now = ctx.clock().now();
    let mut due = Vec::new();
    for n in 0..BUCKETS {
        let Some(entry) = ctx.state().get_state(&scope, &format!("b{n}"), now).await? else {
            continue;
        };
        let Value::Object(map) = entry.value else {
            continue;
        };
        for (key, at) in map {
            let at = at
                .as_str()
                .and_then(|at| DateTime::parse_from_rfc3339(at).ok())
                .map(|at| at.with_timezone(&Utc));
            // An unreadable instant is due: the sweep then reads the session itself.
            if at.is_none_or(|at| at <= now) {
                due.push(key);
            }
        }
    }
    due.sort();
    Ok(due)
}
