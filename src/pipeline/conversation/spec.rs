//! The conversation spec: the JSON document an author writes, as serde types. Every
//! struct refuses unknown fields; [`ConversationSpec::from_json`] then checks the graph,
//! the texts against Meta's limits, the rules and the templates, and reports every
//! problem at its JSON pointer.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use super::compile::Compiled;
use crate::SpecErrors;

/// A conversation: named states, where it starts, how long it waits, and the words that
/// work everywhere. The reference is `docs/conversation.md`, the JSON Schema
/// `docs/conversation.schema.json`.
///
/// ```
/// use hubflow::conversation::ConversationSpec;
///
/// let spec = ConversationSpec::from_json(r#"{
///     "id": "hello",
///     "start": "ask",
///     "states": {
///         "ask": {
///             "prompt": {"buttons": {"text": "Olá! Posso ajudar?", "options": [
///                 {"id": "yes", "title": "Sim"}, {"id": "no", "title": "Não"}]}},
///             "input": {"into": "answer", "parse": "option", "fallback": "bye"},
///             "next": [{"when": {"field": "answer", "op": "eq", "value": "yes"}, "goto": "human"},
///                      {"goto": "bye"}]
///         },
///         "human": {"prompt": {"text": "Um atendente já vai falar com você."}, "end": "attendant"},
///         "bye": {"prompt": {"text": "Até logo!"}, "end": "done"}
///     }
/// }"#).unwrap();
/// assert_eq!(spec.start, "ask");
///
/// // A transition to a state that does not exist is refused at its path.
/// let broken = ConversationSpec::from_json(r#"{"id": "x", "start": "a", "states": {
///     "a": {"prompt": {"text": "?"}, "input": {"into": "t", "parse": "text", "fallback": "a"},
///           "next": [{"goto": "nowhere"}]}}}"#).unwrap_err();
/// assert_eq!(broken.iter().next().unwrap().path, "/states/a/next/0/goto");
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConversationSpec {
    /// The conversation's name: the session scope in the store and the first part of
    /// every report's id.
    pub id: String,
    /// What it is for, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The language of its texts and of the answers it reads (dates in `pt-BR` are
    /// `dd/mm/aaaa`, in `en-US` `mm/dd/yyyy`); default `pt-BR`.
    #[serde(default = "default_language")]
    pub language: String,
    /// The zone in which "today" is judged (dates, birth dates); default
    /// `America/Sao_Paulo`.
    #[serde(default = "default_time_zone")]
    pub time_zone: String,
    /// The state a new conversation enters.
    pub start: String,
    /// How long a session waits for an answer, and the state that says goodbye.
    #[serde(default)]
    pub idle: IdleSpec,
    /// Wrong answers a state accepts before its fallback (default 3); an input may set
    /// its own.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The state an input goes to after its last wrong answer, when the input names none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
    /// Texts the engine itself sends.
    #[serde(default)]
    pub texts: Texts,
    /// Words that work in every state (`menu`, `atendente`, `sair`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub commands: Vec<CommandSpec>,
    /// The states, by name.
    pub states: BTreeMap<String, StateSpec>,
}

fn default_language() -> String {
    "pt-BR".to_owned()
}

fn default_time_zone() -> String {
    "America/Sao_Paulo".to_owned()
}

fn default_max_attempts() -> u32 {
    3
}

impl ConversationSpec {
    /// Parses and checks a spec: the JSON's shape (unknown fields refused), then every
    /// rule of `docs/conversation.md`, each error at its JSON pointer.
    pub fn from_json(text: &str) -> Result<ConversationSpec, SpecErrors> {
        let value: Value = serde_json::from_str(text)
            .map_err(|e| SpecErrors::from(crate::spec::syntax_error(&e)))?;
        ConversationSpec::from_value(&value)
    }

    /// [`from_json`](ConversationSpec::from_json) for a parsed value.
    pub fn from_value(value: &Value) -> Result<ConversationSpec, SpecErrors> {
        let spec: ConversationSpec = crate::spec::deserialize_at(value)?;
        Compiled::new(&spec)?;
        Ok(spec)
    }

    /// The spec as JSON.
    pub fn to_value(&self) -> Value {
        // Invariant: plain data with string keys serializes.
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

/// The idle timeout: a session that gets no answer for `minutes` ends, entering `state`
/// (an `expired` state whose prompt says goodbye, sent when the 24-hour window still
/// allows it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct IdleSpec {
    /// Minutes without an answer (default 30; at most 10,080, a week).
    #[serde(default = "default_idle_minutes")]
    pub minutes: u32,
    /// The `expired` state entered at the timeout; without one the session ends silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

fn default_idle_minutes() -> u32 {
    30
}

impl Default for IdleSpec {
    fn default() -> Self {
        IdleSpec {
            minutes: default_idle_minutes(),
            state: None,
        }
    }
}

/// Texts the engine sends on its own. Unset texts take the defaults of the spec's
/// language (Portuguese for `pt*`, English otherwise).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Texts {
    /// Sent when an ERP call fails: the state stays as it was, so the patient can answer
    /// again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apology: Option<String>,
    /// The last row of a long list's page, which shows the next page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub more: Option<String>,
    /// Sent instead of a re-prompt when an input has no `retry` text of its own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<String>,
}

/// A word that works in every state while the conversation runs (not while an attendant
/// has the chat): its words (compared trimmed and without case) move the conversation to
/// `goto`. A tapped option is always the answer, even when its title is a command word.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CommandSpec {
    /// The words.
    pub words: Vec<String>,
    /// The state they lead to.
    pub goto: String,
}

/// One state: what happens on entering it, what it asks, what answer it expects, and
/// where each answer leads; or, with `end`, how the conversation ends.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct StateSpec {
    /// Actions run in order on entering: ERP calls, variables set or cleared, texts said.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enter: Vec<ActionSpec>,
    /// The one message that asks (or, in an end state, says goodbye).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt: Option<PromptSpec>,
    /// The answer the state waits for. A state without one moves on at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<InputSpec>,
    /// Where to go next: the first transition whose `when` holds; the last has no `when`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub next: Vec<TransitionSpec>,
    /// Makes the state an end.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<End>,
}

/// How a conversation ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum End {
    /// Finished: the next message starts a new conversation.
    Done,
    /// Handed to a person: messages are left to the attendant until the session is idle
    /// for the timeout (or the host calls `Conversation::reset`).
    Attendant,
    /// Timed out: the state entered by the idle timeout.
    Expired,
}

impl End {
    /// The spec's word for it.
    pub fn as_str(self) -> &'static str {
        match self {
            End::Done => "done",
            End::Attendant => "attendant",
            End::Expired => "expired",
        }
    }
}

/// An action run on entering a state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ActionSpec {
    /// Calls an operation of a service (the ERP).
    Call(CallSpec),
    /// Sets variables: each value a template shape over the session's variables.
    Set(Map<String, Value>),
    /// Clears variables.
    Clear(Vec<String>),
    /// Sends a text before the prompt.
    Say(String),
}

/// An ERP call: `"op": "<service>.<operation>"`, its input (a template shape), the
/// variable that keeps the answer, and where a conflict leads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct CallSpec {
    /// `<service>.<operation>`, e.g. `erp.list_slots`.
    pub op: String,
    /// The operation's input; strings are templates over the session's variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with: Option<Value>,
    /// The variable that keeps the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub into: Option<String>,
    /// What a conflict answer (a slot taken meanwhile) does instead of the apology.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_conflict: Option<ConflictSpec>,
}

/// Where a conflict answer leads: a text, then a state (entered afresh, so a slot list is
/// fetched again).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ConflictSpec {
    /// Said first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub say: Option<String>,
    /// Entered next.
    pub goto: String,
}

/// The message a state sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum PromptSpec {
    /// A text message (a template over the variables).
    Text(String),
    /// Up to three reply buttons.
    Buttons(ButtonsSpec),
    /// A list of up to ten options.
    List(ListSpec),
    /// A list built from an array variable (an ERP answer), paged when it has more than
    /// ten rows.
    DynamicList(DynamicListSpec),
}

/// Reply buttons.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ButtonsSpec {
    /// The body.
    pub text: String,
    /// One to three buttons.
    pub options: Vec<OptionSpec>,
    /// A text header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
}

/// A fixed list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct ListSpec {
    /// The body.
    pub text: String,
    /// The label of the button that opens the list.
    pub button: String,
    /// One to ten rows.
    pub options: Vec<OptionSpec>,
    /// The section's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// A text header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
}

/// A button or list row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OptionSpec {
    /// What an `option` input stores when it is chosen.
    pub id: String,
    /// What is shown.
    pub title: String,
    /// A list row's second line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A list built from the array in variable `rows`: each element is `item` in the `id`,
/// `title` and `description` templates. An `option` input stores the chosen element
/// itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DynamicListSpec {
    /// The body.
    pub text: String,
    /// The label of the button that opens the list.
    pub button: String,
    /// The variable holding the array (dotted paths allowed: `slots.items`).
    pub rows: String,
    /// Each row's id (template over `item`); unique among the rows.
    pub id: String,
    /// Each row's title (template; cut to 24 characters).
    pub title: String,
    /// Each row's description (template; cut to 72 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// The section's title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section: Option<String>,
    /// The state entered instead when the array is empty or missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub if_empty: Option<String>,
    /// A text header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// A footer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub footer: Option<String>,
}

/// The answer a state waits for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InputSpec {
    /// The variable it fills.
    pub into: String,
    /// How it is read and checked.
    pub parse: Parse,
    /// The prompt's text after a wrong answer (the reason is in the report).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<String>,
    /// Wrong answers before the fallback (default: the spec's `max_attempts`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_attempts: Option<u32>,
    /// The state after the last wrong answer (default: the spec's `fallback`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// How an answer is read. In JSON: `"option"`, `"date"`, `"time"`, `"cpf"`,
/// `"birth_date"`, `"text"`, or `{"text": {"min": 2, "max": 120}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Parse {
    /// One of the prompt's options: tapped, typed by its number, or typed as its title.
    Option,
    /// A date today or later: `dd/mm/aaaa`, `dd/mm` (the next such day), ISO,
    /// `today`, `tomorrow`, and in Portuguese `hoje`, `amanhã`; month first (`mm/dd/yyyy`)
    /// only for `en-US`. Stored as `YYYY-MM-DD`.
    Date,
    /// A time of day: `14:30`, `14h30`, `14h`, `9`. Stored as `HH:MM`.
    Time,
    /// A Brazilian CPF, with or without punctuation, its check digits verified. Stored as
    /// its 11 digits.
    Cpf,
    /// A birth date: a full date in the past, at most 130 years ago. Stored as
    /// `YYYY-MM-DD`.
    BirthDate,
    /// Free text, trimmed, between `min` and `max` characters (default 1 and 1000).
    Text {
        /// Fewest characters.
        min: usize,
        /// Most characters.
        max: usize,
    },
}

impl Parse {
    /// Its name in the spec.
    pub fn name(&self) -> &'static str {
        match self {
            Parse::Option => "option",
            Parse::Date => "date",
            Parse::Time => "time",
            Parse::Cpf => "cpf",
            Parse::BirthDate => "birth_date",
            Parse::Text { .. } => "text",
        }
    }
}

const TEXT_MIN: usize = 1;
const TEXT_MAX: usize = 1000;
const PARSERS: &str =
    "option, date, time, cpf, birth_date, text, or {\"text\": {\"min\": …, \"max\": …}}";

impl Serialize for Parse {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Parse::Text { min, max } if (*min, *max) != (TEXT_MIN, TEXT_MAX) => {
                let mut limits = Map::new();
                limits.insert("min".into(), Value::from(*min));
                limits.insert("max".into(), Value::from(*max));
                let mut outer = Map::new();
                outer.insert("text".into(), Value::Object(limits));
                Value::Object(outer).serialize(s)
            }
            other => s.serialize_str(other.name()),
        }
    }
}

impl<'de> Deserialize<'de> for Parse {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Parse, D::Error> {
        use serde::de::Error;
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Limits {
            #[serde(default = "min")]
            min: usize,
            #[serde(default = "max")]
            max: usize,
        }
        fn min() -> usize {
            TEXT_MIN
        }
        fn max() -> usize {
            TEXT_MAX
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct TextForm {
            text: Limits,
        }
        let value = Value::deserialize(d)?;
        match &value {
            Value::String(name) => match name.as_str() {
                "option" => Ok(Parse::Option),
                "date" => Ok(Parse::Date),
                "time" => Ok(Parse::Time),
                "cpf" => Ok(Parse::Cpf),
                "birth_date" => Ok(Parse::BirthDate),
                "text" => Ok(Parse::Text {
                    min: TEXT_MIN,
                    max: TEXT_MAX,
                }),
                other => Err(D::Error::custom(format!(
                    "unknown parser `{other}`; expected {PARSERS}"
                ))),
            },
            Value::Object(_) => {
                let form: TextForm = serde_json::from_value(value)
                    .map_err(|e| D::Error::custom(format!("{e}; expected {PARSERS}")))?;
                Ok(Parse::Text {
                    min: form.text.min,
                    max: form.text.max,
                })
            }
            _ => Err(D::Error::custom(format!("expected {PARSERS}"))),
        }
    }
}

/// A transition: to `goto` when `when` (a [`Rule`](crate::Rule) over the session's
/// variables and `input`) holds; without `when`, always (the default, last).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct TransitionSpec {
    /// The condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub when: Option<Value>,
    /// The next state.
    pub goto: String,
}
