//! [`MapError`]: why a record could not be mapped, naming the template that failed.

/// Why a record could not be mapped.
///
/// `template` is the JSON pointer of the shape leaf whose template failed (`/body/1`);
/// `""` is a shape that is itself a single template string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MapError {
    /// The template references a field the record does not have (and no `default`).
    #[error("{}: missing field `{field}`", shown(template))]
    MissingField {
        /// Pointer of the template leaf.
        template: String,
        /// Dotted path of the missing field, e.g. `chat.phone`.
        field: String,
    },
    /// `phone` could not make a valid number of the value.
    #[error("{}: invalid phone number {value:?}: {reason}", shown(template))]
    InvalidPhone {
        /// Pointer of the template leaf.
        template: String,
        /// The value, shortened when long.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// `date` could not read the value as an instant.
    #[error("{}: invalid date {value:?}: {reason}", shown(template))]
    InvalidDate {
        /// Pointer of the template leaf.
        template: String,
        /// The value, shortened when long.
        value: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A filter was used with arguments it cannot work with.
    #[error("{}: filter `{filter}`: {message}", shown(template))]
    Filter {
        /// Pointer of the template leaf.
        template: String,
        /// The filter's name.
        filter: String,
        /// What went wrong.
        message: String,
    },
    /// The template failed for another reason (e.g. an invalid operation on a value).
    #[error("{}: {message}", shown(template))]
    Render {
        /// Pointer of the template leaf.
        template: String,
        /// What went wrong.
        message: String,
    },
    /// A custom mapper's own failure.
    #[error("{message}")]
    Invalid {
        /// What went wrong.
        message: String,
    },
}

/// The whole document's pointer is empty; show it as `/` like [`SpecError`](crate::SpecError) does.
fn shown(pointer: &str) -> &str {
    if pointer.is_empty() {
        "/"
    } else {
        pointer
    }
}

impl MapError {
    /// The JSON pointer of the template that failed, when a template failed.
    ///
    /// ```
    /// use hubflow::MapError;
    /// let e = MapError::MissingField { template: "/body/1".into(), field: "wo_folio".into() };
    /// assert_eq!(e.template(), Some("/body/1"));
    /// assert_eq!(e.to_string(), "/body/1: missing field `wo_folio`");
    /// ```
    pub fn template(&self) -> Option<&str> {
        match self {
            MapError::MissingField { template, .. }
            | MapError::InvalidPhone { template, .. }
            | MapError::InvalidDate { template, .. }
            | MapError::Filter { template, .. }
            | MapError::Render { template, .. } => Some(template),
            MapError::Invalid { .. } => None,
        }
    }
}
