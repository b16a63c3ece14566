//! Errors shared by the whole crate.
//!
//! Each stage has its own error type so that a host can match on what went wrong where:
//! [`SpecErrors`] when a flow is built, [`MapError`](crate::MapError) when a record is mapped,
//! [`TargetError`](crate::TargetError) when a request is prepared,
//! [`DeliveryError`](crate::DeliveryError) when it is sent. None of them ever carries a
//! secret: credentials live in [`secrecy::SecretString`] and are redacted before any
//! message is formatted.

use std::fmt;

use serde::{Deserialize, Serialize};

/// One problem found in a flow spec, mapping or rule, located by a JSON pointer.
///
/// ```
/// use hubflow::SpecError;
/// let e = SpecError::new("/when/all/0/op", "unknown operator \"equal\"")
///     .with_hint("expected one of eq, ne, contains, …");
/// assert_eq!(
///     e.to_string(),
///     "/when/all/0/op: unknown operator \"equal\" (hint: expected one of eq, ne, contains, …)"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct SpecError {
    /// JSON pointer (RFC 6901) to the offending value, `""` for the document itself.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// How to fix it, when there is something useful to say.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl SpecError {
    /// A problem at `path` (a JSON pointer).
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        SpecError {
            path: path.into(),
            message: message.into(),
            hint: None,
        }
    }

    /// Adds a hint on how to fix the problem.
    #[must_use]
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }
}

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.path.is_empty() {
            "/"
        } else {
            &self.path
        };
        write!(f, "{path}: {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

/// Every problem found while validating a spec, never only the first.
///
/// ```
/// use hubflow::{SpecError, SpecErrors};
/// let errors = SpecErrors::from(vec![SpecError::new("/op", "unknown operator")]);
/// let errors = errors.prefixed("/when/all/0");
/// assert_eq!(errors.iter().next().unwrap().path, "/when/all/0/op");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SpecErrors(Vec<SpecError>);

impl SpecErrors {
    /// No errors yet.
    pub fn new() -> Self {
        SpecErrors(Vec::new())
    }

    /// Adds one error.
    pub fn push(&mut self, error: SpecError) {
        self.0.push(error);
    }

    /// Adds all errors of `other`.
    pub fn extend(&mut self, other: SpecErrors) {
        self.0.extend(other.0);
    }

    /// Whether nothing was found.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// How many problems were found.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// The problems, in the order they were found.
    pub fn iter(&self) -> std::slice::Iter<'_, SpecError> {
        self.0.iter()
    }

    /// Puts `prefix` (a JSON pointer) in front of every path, for errors found in a nested part.
    #[must_use]
    pub fn prefixed(mut self, prefix: &str) -> Self {
        for error in &mut self.0 {
            error.path = format!("{prefix}{}", error.path);
        }
        self
    }

    /// `Ok(value)` when no error was collected, else `Err(self)`.
    pub fn into_result<T>(self, value: T) -> Result<T, SpecErrors> {
        if self.0.is_empty() {
            Ok(value)
        } else {
            Err(self)
        }
    }
}

impl From<Vec<SpecError>> for SpecErrors {
    fn from(errors: Vec<SpecError>) -> Self {
        SpecErrors(errors)
    }
}

impl From<SpecError> for SpecErrors {
    fn from(error: SpecError) -> Self {
        SpecErrors(vec![error])
    }
}

impl IntoIterator for SpecErrors {
    type Item = SpecError;
    type IntoIter = std::vec::IntoIter<SpecError>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

impl fmt::Display for SpecErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.len() {
            0 => f.write_str("no errors"),
            1 => write!(f, "{}", self.0[0]),
            n => {
                write!(f, "{n} problems:")?;
                for error in &self.0 {
                    write!(f, "\n  {error}")?;
                }
                Ok(())
            }
        }
    }
}

impl std::error::Error for SpecErrors {}

/// Escapes one JSON-pointer token (RFC 6901: `~` → `~0`, `/` → `~1`).
///
/// ```
/// assert_eq!(hubflow::pointer_token("a/b~c"), "a~1b~0c");
/// ```
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
