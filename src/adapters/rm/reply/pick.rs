//! Several pending appointments for one bare answer: the list the patient picks from.
//!
//! What is rendered here is the `whatsapp.interactive` list payload (`to`, `body`,
//! `list.button`, one section of rows); the sender it goes through is whatever kind the
//! host configured, so nothing here names a channel.

use chrono::{Datelike, NaiveTime, TimeZone, Utc, Weekday};
use serde_json::{json, Value};

use super::{Action, ButtonPayload, PendingConfirmation};

// Meta's limits, from the core, where the WhatsApp adapter reads them too.
pub(super) use crate::conversation::limits::{
    BUTTON_TITLE as MAX_BUTTON_CHARS, INTERACTIVE_BODY as MAX_BODY_CHARS, ROWS as MAX_ROWS,
    ROW_DESCRIPTION as MAX_ROW_DESCRIPTION_CHARS, ROW_TITLE as MAX_ROW_TITLE_CHARS,
};

/// The list's body when none is configured; `{action}` becomes [`action_word`].
pub(super) const DEFAULT_ASK_TEXT: &str =
    "Você tem mais de uma consulta. Qual delas deseja {action}?";
/// The label of the button that opens the list when none is configured.
pub(super) const DEFAULT_ASK_BUTTON: &str = "Ver horários";
/// The one placeholder of the list's body.
pub(super) const ACTION_PLACEHOLDER: &str = "{action}";

/// The Portuguese infinitive of an action, as the list's body says it.
pub(super) fn action_word(action: Action) -> &'static str {
    match action {
        Action::Confirm => "confirmar",
        Action::Cancel => "cancelar",
        Action::Attendant => "falar com um atendente",
    }
}

/// The list's body: `text` with `{action}` replaced.
pub(super) fn body(text: &str, action: Action) -> String {
    text.replace(ACTION_PLACEHOLDER, action_word(action))
}

/// What is wrong with a configured list body, if anything: blank, a placeholder other than
/// `{action}`, or longer than Meta's limit once `{action}` is replaced.
pub(crate) fn ask_text_problem(text: &str) -> Option<String> {
    if text.trim().is_empty() {
        return Some("the list's text is blank".to_owned());
    }
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        rest = &rest[open + 1..];
        let Some(close) = rest.find('}') else { break };
        let name = &rest[..close];
        let is_name = !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_');
        if is_name && name != "action" {
            return Some(format!(
                "unknown placeholder {{{name}}}: the text takes only {ACTION_PLACEHOLDER}"
            ));
        }
    }
    let longest = [Action::Confirm, Action::Cancel]
        .into_iter()
        .map(|action| body(text, action).chars().count())
        .max()
        .unwrap_or(0);
    (longest > MAX_BODY_CHARS).then(|| {
        format!("{longest} characters with {ACTION_PLACEHOLDER} replaced; a list's text has at most {MAX_BODY_CHARS}")
    })
}

/// What is wrong with a configured list button label, if anything: blank or too long.
pub(crate) fn ask_button_problem(label: &str) -> Option<String> {
    let chars = label.chars().count();
    if label.trim().is_empty() {
        Some("the list's button label is blank".to_owned())
    } else if chars > MAX_BUTTON_CHARS {
        Some(format!(
            "{chars} characters; the label of a list's button has at most {MAX_BUTTON_CHARS}"
        ))
    } else {
        None
    }
}

pub(super) use crate::conversation::limits::fit;

/// The appointments a bare answer could be for, as the patient is asked to pick one.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Pick {
    /// Listed, nearest first: at most [`MAX_ROWS`].
    pub(super) listed: Vec<PendingConfirmation>,
    /// Later ones that did not fit in the list, nearest first.
    pub(super) not_listed: Vec<PendingConfirmation>,
    action: Action,
    zone: chrono_tz::Tz,
}

impl Pick {
    /// The candidates sorted by when they start (an appointment without a start time at the
    /// start of its day, in `zone`; ties by appointment id), the nearest [`MAX_ROWS`] listed.
    pub(super) fn new(
        mut candidates: Vec<PendingConfirmation>,
        action: Action,
        zone: chrono_tz::Tz,
    ) -> Self {
        candidates.sort_by(|a, b| {
            (start(a, zone), &a.appointment_id).cmp(&(start(b, zone), &b.appointment_id))
        });
        let not_listed = candidates.split_off(candidates.len().min(MAX_ROWS));
        Pick {
            listed: candidates,
            not_listed,
            action,
            zone,
        }
    }

    /// The rows: `id` the [`ButtonPayload`] `<action>:<appointment_id>:<date>` (what the pick
    /// answers with), `title` the local start time (`HH:MM`), or the date (`dd/mm/yyyy`)
    /// when the time is not known, and `description` the day and the appointment, both cut
    /// to Meta's limits.
    pub(super) fn rows(&self) -> Vec<Value> {
        self.listed
            .iter()
            .map(|p| {
                let id = ButtonPayload::new(self.action, p.appointment_id.clone(), Some(p.date));
                let weekday = weekday(p.date.weekday());
                let day = p.date.format("%d/%m/%Y");
                let (title, description) = match p.starts_at {
                    Some(start) => (
                        start.with_timezone(&self.zone).format("%H:%M").to_string(),
                        format!("{weekday}, {day} · agendamento {}", p.appointment_id),
                    ),
                    None => (
                        day.to_string(),
                        format!("{weekday} · agendamento {}", p.appointment_id),
                    ),
                };
                json!({
                    "id": id.to_string(),
                    "title": fit(&title, MAX_ROW_TITLE_CHARS),
                    "description": fit(&description, MAX_ROW_DESCRIPTION_CHARS),
                })
            })
            .collect()
    }

    /// The list message to `to`: the `whatsapp.interactive` list payload.
    pub(super) fn payload(&self, to: &str, text: &str, button: &str) -> Value {
        json!({
            "to": to,
            "body": fit(&body(text, self.action), MAX_BODY_CHARS),
            "list": {
                "button": fit(button, MAX_BUTTON_CHARS),
                "sections": [{"rows": self.rows()}],
            },
        })
    }
}

/// What a receipt says of appointments: id, date and start when known.
pub(super) fn described(appointments: &[PendingConfirmation]) -> Value {
    appointments
        .iter()
        .map(|p| {
            let mut one = json!({"appointment_id": p.appointment_id, "date": p.date});
            if let Some(start) = p.starts_at {
                one["starts_at"] = json!(start);
            }
            one
        })
        .collect()
}

/// When an appointment starts, for sorting: its start, else the start of its day in `zone`.
fn start(p: &PendingConfirmation, zone: chrono_tz::Tz) -> chrono::DateTime<Utc> {
    p.starts_at.unwrap_or_else(|| {
        let midnight = p.date.and_time(NaiveTime::MIN);
        zone.from_local_datetime(&midnight)
            .earliest()
            .map_or_else(|| midnight.and_utc(), |at| at.with_timezone(&Utc))
    })
}

fn weekday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "segunda-feira",
        Weekday::Tue => "terça-feira",
        Weekday::Wed => "quarta-feira",
        Weekday::Thu => "quinta-feira",
        Weekday::Fri => "sexta-feira",
        Weekday::Sat => "sábado",
        Weekday::Sun => "domingo",
    }
}
