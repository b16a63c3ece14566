//! Meta's limits on the messages a conversation sends, in characters (Unicode scalar
//! values, as Meta counts them). The conversation spec is checked against them when it is
//! loaded, and the WhatsApp adapter checks every payload against the same constants, so
//! the two can never disagree.

/// A text message's body.
pub const TEXT_BODY: usize = 4096;
/// An interactive message's body text.
pub const INTERACTIVE_BODY: usize = 1024;
/// An interactive message's text header and its footer.
pub const HEADER: usize = 60;
/// A reply button's title, a list's button, a CTA's display text.
pub const BUTTON_TITLE: usize = 20;
/// A reply button's id.
pub const BUTTON_ID: usize = 256;
/// Reply buttons in one message.
pub const REPLY_BUTTONS: usize = 3;
/// Sections in one list.
pub const SECTIONS: usize = 10;
/// Rows in one list, all sections together.
pub const ROWS: usize = 10;
/// A list row's title and a section's title.
pub const ROW_TITLE: usize = 24;
/// A list row's description.
pub const ROW_DESCRIPTION: usize = 72;
/// A list row's id.
pub const ROW_ID: usize = 200;

/// How many characters `text` has, as Meta counts them.
pub fn chars(text: &str) -> usize {
    text.chars().count()
}

/// `text` cut to at most `max` characters, ending with `…` when something was cut: for
/// values that come from an ERP at run time (a professional's long name in a list row),
/// which must still fit. Constant texts are checked when the spec loads instead.
///
/// ```
/// use hubflow::conversation::limits::{fit, ROW_TITLE};
/// assert_eq!(fit("08:30", ROW_TITLE), "08:30");
/// let long = fit("Dra. Maria Aparecida dos Santos Oliveira", ROW_TITLE);
/// assert_eq!(long.chars().count(), ROW_TITLE);
/// assert!(long.ends_with('…'));
/// ```
pub fn fit(text: &str, max: usize) -> String {
    if text.chars().nth(max).is_none() {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}
