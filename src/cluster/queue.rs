//! Names the cluster gives graphile_worker: queue names and job keys, within its length
//! limits, and without personal data.
//!
//! * A record's step job runs in its recipient's queue, `hubflow:r:<n>`, one of the
//!   cluster's [`recipient_queues`](super::ClusterConfig::recipient_queues): `n` is
//!   HMAC-SHA256 of the recipient (as the target's action names it, e.g. a phone number)
//!   under the cluster's queue key, modulo the number of queues. The key is drawn by the
//!   database when the cluster's tables are created and shared by every node, so every node
//!   puts one recipient in the same queue, while graphile_worker's queue table and logs
//!   show no phone number.
//!
//!   A fixed set of queues rather than one per recipient: graphile_worker keeps a row per
//!   queue name until a cleanup, and every job fetch locks every idle queue's row. With a
//!   queue per recipient, a day's thousands of recipients made each fetch take hundreds of
//!   milliseconds (docs/performance.md); with a fixed set, the fetch's cost is bounded.
//! * A flow's scheduled and manual runs share the queue `hubflow:f:<flow id>`: one run of a
//!   flow at a time, the others wait.
//! * A scheduled run's job key is `hubflow:due:<flow id>:<instant in microseconds>`.
//!
//! Flow ids too long for a limit are replaced by `#` and a SHA-256 of the id.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// graphile_worker's limit on queue names.
const MAX_QUEUE_NAME: usize = 128;

/// graphile_worker's limit on job keys.
const MAX_JOB_KEY: usize = 512;

/// The hex digits of a hash kept in a name: 128 bits.
const HASH_HEX: usize = 32;

/// The queue of the record jobs for `recipient`, one of `queues` (at least 1).
pub(crate) fn recipient_queue(key: &[u8], recipient: &str, queues: u32) -> String {
    // HMAC takes keys of any length, so this cannot fail; the fallback keeps it total.
    let digest = match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(recipient.as_bytes());
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Sha256::digest([key, recipient.as_bytes()].concat()).to_vec(),
    };
    // Both digests are 32 bytes; a shorter one would only change the number, not panic.
    let head = digest
        .iter()
        .take(8)
        .fold(0u64, |n, byte| (n << 8) | u64::from(*byte));
    format!("hubflow:r:{}", head % u64::from(queues.max(1)))
}

/// The queue of a flow's runs.
pub(crate) fn flow_queue(flow: &str) -> String {
    bounded("hubflow:f:", flow, "", MAX_QUEUE_NAME)
}

/// The job key of a flow's run due at `due`.
pub(crate) fn due_key(flow: &str, due: DateTime<Utc>) -> String {
    let suffix = format!(":{}", due.timestamp_micros());
    bounded("hubflow:due:", flow, &suffix, MAX_JOB_KEY)
}

/// `prefix + flow + suffix`, or with the flow id hashed when that is longer than `max`.
fn bounded(prefix: &str, flow: &str, suffix: &str, max: usize) -> String {
    if prefix.len() + flow.len() + suffix.len() <= max {
        return format!("{prefix}{flow}{suffix}");
    }
    format!(
        "{prefix}#{}{suffix}",
        short_hex(&Sha256::digest(flow.as_bytes()))
    )
}

fn short_hex(digest: &[u8]) -> String {
    let mut text = hex::encode(digest);
    text.truncate(HASH_HEX);
    text
}

#[cfg(test)]
mod tests;
