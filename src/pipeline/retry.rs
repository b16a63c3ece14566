//! Retrying as a pure decision.

use std::time::Duration;

use crate::{DeliveryError, ErrorClass};

/// When to try a failed delivery again, decided without side effects.
///
/// * a permanent error is never retried;
/// * a retryable error waits the provider's `Retry-After` when it gave one (and gives up
///   when that is longer than `max_retry_after`, leaving the record to a later run),
///   otherwise an exponential backoff with full jitter:
///   `jitter × min(max_delay, base_delay × 2^(attempt-1))`;
/// * nothing is retried after `max_attempts` attempts.
///
/// `jitter` is a number in `[0, 1)` supplied by the caller, which keeps the decision pure and
/// reproducible; the flow derives it from the record key and the attempt number.
///
/// ```
/// use hubflow::{RetryDecision, RetryPolicy, DeliveryError, http::HttpError};
/// use std::time::Duration;
///
/// let policy = RetryPolicy::default();
/// let timeout = DeliveryError::Transport(HttpError::Timeout);
/// assert_eq!(
///     policy.decide(1, &timeout, 0.5),
///     RetryDecision::Retry { after: Duration::from_millis(250) }
/// );
/// assert_eq!(policy.decide(policy.max_attempts, &timeout, 0.5), RetryDecision::GiveUp);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included. `1` means never retry.
    pub max_attempts: u32,
    /// The backoff before the second attempt, before jitter.
    pub base_delay: Duration,
    /// The longest backoff, before jitter.
    pub max_delay: Duration,
    /// The longest `Retry-After` the flow waits for; a longer one ends the attempts.
    pub max_retry_after: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(300),
        }
    }
}

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryDecision {
    /// Try again after waiting this long.
    Retry {
        /// The wait before the next attempt.
        after: Duration,
    },
    /// Stop: the error is permanent or the attempts are used up.
    GiveUp,
}

impl RetryPolicy {
    /// Sets the number of attempts.
    #[must_use]
    pub fn max_attempts(mut self, attempts: u32) -> Self {
        self.max_attempts = attempts;
        self
    }

    /// Sets the backoff bounds.
    #[must_use]
    pub fn backoff(mut self, base: Duration, max: Duration) -> Self {
        self.base_delay = base;
        self.max_delay = max;
        self
    }

    /// Decides what follows failed attempt number `attempt` (1-based).
    pub fn decide(&self, attempt: u32, error: &DeliveryError, jitter: f64) -> RetryDecision {
        self.decide_class(attempt, error.class(), jitter)
    }

    /// [`decide`](RetryPolicy::decide) for an already known class.
    pub fn decide_class(&self, attempt: u32, class: ErrorClass, jitter: f64) -> RetryDecision {
        if attempt >= self.max_attempts {
            return RetryDecision::GiveUp;
        }
        match class {
            ErrorClass::Permanent => RetryDecision::GiveUp,
            ErrorClass::Retryable { after: Some(after) } if after > self.max_retry_after => {
                RetryDecision::GiveUp
            }
            ErrorClass::Retryable { after: Some(after) } => RetryDecision::Retry { after },
            ErrorClass::Retryable { after: None } => RetryDecision::Retry {
                after: self
                    .backoff_ceiling(attempt)
                    .mul_f64(jitter.clamp(0.0, 1.0)),
            },
        }
    }

    /// `min(max_delay, base_delay × 2^(attempt-1))`, the upper bound of the jittered wait.
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << doublings)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// A jitter in `[0, 1)` derived from a key and an attempt number: spreads the retries of
/// different records apart while staying reproducible and free of global state.
pub(crate) fn jitter(key: &str, attempt: u32) -> f64 {
    // A splitmix64 finaliser over the stable hash spreads the top bits evenly.
    let mut hash = crate::record::stable_hash(&[key.as_bytes(), &attempt.to_le_bytes()]);
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^= hash >> 31;
    (hash >> 11) as f64 / (1u64 << 53) as f64
}

/// Serde for `Duration` as whole milliseconds, the unit of every duration in a flow spec.
pub(crate) mod duration_ms {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(value: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(value.as_millis()).unwrap_or(u64::MAX))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        Ok(Duration::from_millis(u64::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests;
