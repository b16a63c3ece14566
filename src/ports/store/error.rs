//! The one error type of every store concern.

use std::error::Error;
use std::fmt;
use std::sync::Arc;

/// What kind of failure a [`StoreError`] is, for a caller that reacts differently to each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreErrorKind {
    /// The store could not be reached or did not answer (a database down, a pool exhausted,
    /// a timeout). Retrying later may succeed.
    Unavailable,
    /// A compare-and-swap kept losing to concurrent writers, or a constraint refused the
    /// write. Retrying may succeed.
    Conflict,
    /// The store answered, but what it holds cannot be read (a value that does not
    /// deserialize, a row that breaks the documented invariants).
    Corrupt,
    /// The store was written by a newer version of hubflow (its schema version is higher
    /// than the one this version knows), and is refused rather than misread. Upgrade
    /// hubflow; retrying does not help.
    Incompatible,
}

impl StoreErrorKind {
    fn describe(self) -> &'static str {
        match self {
            StoreErrorKind::Unavailable => "store unavailable",
            StoreErrorKind::Conflict => "store conflict",
            StoreErrorKind::Corrupt => "store data unreadable",
            StoreErrorKind::Incompatible => "store schema too new",
        }
    }
}

/// A store failure: a kind, a message, and optionally the database's own error.
///
/// The message and the source must not contain credentials (a connection string's password,
/// for one): both end up in reports and logs. Cheap to clone (the source is shared).
///
/// ```
/// use std::error::Error;
/// use hubflow::{StoreError, StoreErrorKind};
///
/// let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
/// let error = StoreError::unavailable("claiming a record key").with_source(io);
/// assert_eq!(error.kind(), StoreErrorKind::Unavailable);
/// assert_eq!(error.to_string(), "store unavailable: claiming a record key");
/// assert_eq!(error.source().unwrap().to_string(), "connection refused");
/// ```
#[derive(Clone)]
pub struct StoreError {
    kind: StoreErrorKind,
    message: String,
    source: Option<Arc<dyn Error + Send + Sync + 'static>>,
}

impl StoreError {
    /// An error of `kind` with `message`.
    pub fn new(kind: StoreErrorKind, message: impl Into<String>) -> Self {
        StoreError {
            kind,
            message: message.into(),
            source: None,
        }
    }

    /// The store could not be reached or did not answer.
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError::new(StoreErrorKind::Unavailable, message)
    }

    /// A compare-and-swap kept losing, or a constraint refused the write.
    pub fn conflict(message: impl Into<String>) -> Self {
        StoreError::new(StoreErrorKind::Conflict, message)
    }

    /// What the store holds cannot be read.
    pub fn corrupt(message: impl Into<String>) -> Self {
        StoreError::new(StoreErrorKind::Corrupt, message)
    }

    /// The store's schema is newer than this version of hubflow knows.
    pub fn incompatible(message: impl Into<String>) -> Self {
        StoreError::new(StoreErrorKind::Incompatible, message)
    }

    /// Attaches the underlying error (the database driver's), reachable through
    /// [`Error::source`]. Its message must not contain credentials either.
    #[must_use]
    pub fn with_source(mut self, source: impl Error + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(source));
        self
    }

    /// Attaches an already shared underlying error.
    #[must_use]
    pub fn with_shared_source(mut self, source: Arc<dyn Error + Send + Sync + 'static>) -> Self {
        self.source = Some(source);
        self
    }

    /// The kind of failure.
    pub fn kind(&self) -> StoreErrorKind {
        self.kind
    }

    /// The message, without the kind's prefix.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.kind.describe(), self.message)
    }
}

impl fmt::Debug for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreError")
            .field("kind", &self.kind)
            .field("message", &self.message)
            .field("source", &self.source.as_ref().map(ToString::to_string))
            .finish()
    }
}

impl Error for StoreError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.source.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

/// Two errors are equal when kind and message are; the source is context, not identity.
impl PartialEq for StoreError {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind && self.message == other.message
    }
}

impl Eq for StoreError {}

#[cfg(test)]
mod tests;
