//! The checked, compiled form of a [`ConversationSpec`]: templates compiled, rules
//! parsed, names resolved, every problem reported at its JSON pointer.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::time::Duration;

use serde_json::{Map, Value};

use super::limits;
use super::spec::{
    ActionSpec, ConversationSpec, DynamicListSpec, End, InputSpec, OptionSpec, Parse, PromptSpec,
    StateSpec,
};
use crate::{FieldMap, MapError, Mapper, Record, Rule, SpecError, SpecErrors};

/// Names the engine puts beside the session's variables in every template and rule, which
/// a spec therefore cannot use for its own.
pub(crate) const RESERVED: [&str; 7] = ["input", "text", "party", "today", "now", "item", "index"];

/// How many states one message may pass through (states without input move on at once);
/// a spec whose transitions loop without asking ends the turn with an error instead of
/// spinning.
pub(crate) const MAX_STEPS: usize = 16;

/// The language of the texts and of the answers read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Locale {
    Portuguese,
    English,
}

impl Locale {
    fn of(language: &str) -> Locale {
        if language.to_ascii_lowercase().starts_with("pt") {
            Locale::Portuguese
        } else {
            Locale::English
        }
    }

    /// Month before day in typed dates.
    pub(crate) fn month_first(self, language: &str) -> bool {
        self == Locale::English && language.eq_ignore_ascii_case("en-US")
    }
}

pub(crate) struct Compiled {
    pub(crate) id: String,
    pub(crate) language: String,
    pub(crate) locale: Locale,
    pub(crate) zone: chrono_tz::Tz,
    pub(crate) start: String,
    pub(crate) idle: Duration,
    pub(crate) idle_state: Option<String>,
    pub(crate) apology: Text,
    pub(crate) more: String,
    pub(crate) retry: Text,
    pub(crate) commands: Vec<(Vec<String>, String)>,
    pub(crate) states: BTreeMap<String, State>,
}

pub(crate) struct State {
    pub(crate) enter: Vec<Action>,
    pub(crate) prompt: Option<Prompt>,
    pub(crate) input: Option<Input>,
    pub(crate) next: Vec<(Option<Rule>, String)>,
    pub(crate) end: Option<End>,
}

pub(crate) enum Action {
    Call {
        path: String,
        service: String,
        operation: String,
        with: Option<Shape>,
        into: Option<String>,
        on_conflict: Option<(Option<Text>, String)>,
    },
    Set(Vec<(String, Shape)>),
    Clear(Vec<String>),
    Say(Text),
}

pub(crate) enum Prompt {
    Text(Text),
    Buttons {
        text: Text,
        options: Vec<OptionSpec>,
        header: Option<String>,
        footer: Option<String>,
    },
    List {
        text: Text,
        button: String,
        options: Vec<OptionSpec>,
        section: Option<String>,
        header: Option<String>,
        footer: Option<String>,
    },
    Dynamic {
        text: Text,
        button: String,
        rows: String,
        row: Shape,
        section: Option<String>,
        if_empty: Option<String>,
        header: Option<String>,
        footer: Option<String>,
    },
}

impl Prompt {
    /// The limit of the prompt's body, which a re-prompt replaces.
    fn body_limit(&self) -> usize {
        match self {
            Prompt::Text(_) => limits::TEXT_BODY,
            _ => limits::INTERACTIVE_BODY,
        }
    }

    pub(crate) fn has_options(&self) -> bool {
        !matches!(self, Prompt::Text(_))
    }
}

pub(crate) struct Input {
    pub(crate) into: String,
    pub(crate) parse: Parse,
    pub(crate) retry: Option<Text>,
    pub(crate) max_attempts: u32,
    pub(crate) fallback: String,
}

/// A text: a literal, or a template rendered over the turn's variables.
pub(crate) enum Text {
    Literal(String),
    Template(FieldMap),
}

impl Text {
    pub(crate) fn render(&self, data: &Record) -> Result<String, MapError> {
        match self {
            Text::Literal(text) => Ok(text.clone()),
            Text::Template(map) => Ok(match map.map(data)? {
                Value::String(text) => text,
                other => crate::text::text_of(&other),
            }),
        }
    }
}

/// A JSON shape whose strings are templates; a string that is only `{{ path }}` copies
/// the value at that path with its JSON type (an object, a number), so a chosen row can
/// be passed on whole.
pub(crate) struct Shape {
    map: FieldMap,
    typed: Vec<(String, String)>,
}

impl Shape {
    fn new(shape: &Value, path: &str, errors: &mut SpecErrors) -> Option<Shape> {
        let mut typed = Vec::new();
        collect_paths(shape, &mut String::new(), &mut typed);
        match FieldMap::new(shape.clone()) {
            Ok(map) => Some(Shape { map, typed }),
            Err(e) => {
                errors.extend(e.prefixed(path));
                None
            }
        }
    }

    pub(crate) fn render(&self, data: &Record) -> Result<Value, MapError> {
        let mut out = self.map.map(data)?;
        for (pointer, path) in &self.typed {
            if let Some(slot) = out.pointer_mut(pointer) {
                *slot = data.get(path).cloned().unwrap_or(Value::Null);
            }
        }
        Ok(out)
    }
}

/// The dotted path of a string that is exactly `{{ a.b.c }}`.
fn plain_path(text: &str) -> Option<String> {
    let inner = text.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let ok = !inner.is_empty()
        && inner.split('.').all(|part| {
            !part.is_empty() && part.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        })
        && !inner.starts_with(|c: char| c.is_ascii_digit());
    ok.then(|| inner.to_owned())
}

fn collect_paths(value: &Value, pointer: &mut String, out: &mut Vec<(String, String)>) {
    match value {
        Value::String(text) => {
            if let Some(path) = plain_path(text) {
                out.push((pointer.clone(), path));
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                collect_paths(item, pointer, out);
                pointer.truncate(len);
            }
        }
        Value::Object(map) => {
            for (key, item) in map {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&crate::pointer_token(key));
                collect_paths(item, pointer, out);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// The characters of a template outside its `{{ … }}` and `{% … %}` parts: what any
/// rendering has at least.
fn literal_chars(text: &str) -> usize {
    let mut count = 0;
    let mut rest = text;
    loop {
        let next = [rest.find("{{"), rest.find("{%")]
            .into_iter()
            .flatten()
            .min();
        let Some(open) = next else {
            return count + limits::chars(rest);
        };
        count += limits::chars(&rest[..open]);
        let close = if rest[open..].starts_with("{{") {
            "}}"
        } else {
            "%}"
        };
        match rest[open + 2..].find(close) {
            Some(end) => rest = &rest[open + 2 + end + 2..],
            None => return count,
        }
    }
}

/// Checks a text against a limit and compiles it.
fn text(source: &str, path: &str, max: usize, errors: &mut SpecErrors) -> Option<Text> {
    if source.trim().is_empty() {
        errors.push(SpecError::new(
            path,
            "empty text: WhatsApp refuses an empty message",
        ));
        return None;
    }
    let least = literal_chars(source);
    if least > max {
        errors.push(SpecError::new(
            path,
            format!("{least} characters; WhatsApp allows at most {max} here"),
        ));
        return None;
    }
    if !is_template(source) {
        return Some(Text::Literal(source.to_owned()));
    }
    match FieldMap::new(Value::String(source.to_owned())) {
        Ok(map) => Some(Text::Template(map)),
        Err(e) => {
            errors.extend(e.prefixed(path));
            None
        }
    }
}

/// Checks a constant label (button, section, header) that is shown as it is.
fn label(source: &str, path: &str, max: usize, errors: &mut SpecErrors) {
    if source.trim().is_empty() {
        errors.push(SpecError::new(
            path,
            "empty: WhatsApp refuses an empty label",
        ));
    } else if is_template(source) {
        errors.push(SpecError::new(
            path,
            "a label is shown as written: templates are rendered only in texts and list rows",
        ));
    } else if limits::chars(source) > max {
        errors.push(SpecError::new(
            path,
            format!(
                "{} characters; WhatsApp allows at most {max} here",
                limits::chars(source)
            ),
        ));
    }
}

fn variable(name: &str, path: &str, errors: &mut SpecErrors) {
    let valid = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if !valid {
        errors.push(SpecError::new(
            path,
            format!("`{name}` is not a variable name: letters, digits and `_`, not starting with a digit"),
        ));
    } else if RESERVED.contains(&name) {
        errors.push(SpecError::new(
            path,
            format!(
                "`{name}` is reserved; the engine sets {}",
                RESERVED.join(", ")
            ),
        ));
    }
}

impl Compiled {
    pub(crate) fn new(spec: &ConversationSpec) -> Result<Compiled, SpecErrors> {
        let mut errors = SpecErrors::new();
        let locale = Locale::of(&spec.language);
        if spec.id.trim().is_empty() {
            errors.push(SpecError::new("/id", "empty: a conversation needs a name"));
        }
        let zone = match spec.time_zone.parse::<chrono_tz::Tz>() {
            Ok(zone) => zone,
            Err(_) => {
                errors.push(
                    SpecError::new(
                        "/time_zone",
                        format!("unknown time zone `{}`", spec.time_zone),
                    )
                    .with_hint("an IANA name such as America/Sao_Paulo"),
                );
                chrono_tz::UTC
            }
        };
        if spec.max_attempts == 0 {
            errors.push(SpecError::new("/max_attempts", "must be at least 1"));
        }
        if spec.idle.minutes == 0 || spec.idle.minutes > 7 * 24 * 60 {
            errors.push(SpecError::new(
                "/idle/minutes",
                "between 1 and 10080 (a week)",
            ));
        }
        let known = |name: &str| spec.states.contains_key(name);
        let mut dangling = false;
        let mut goto = |name: &str, path: String, errors: &mut SpecErrors| {
            if !known(name) {
                dangling = true;
                let names: Vec<&str> = spec.states.keys().map(String::as_str).collect();
                errors.push(
                    SpecError::new(path, format!("unknown state `{name}`"))
                        .with_hint(format!("states: {}", names.join(", "))),
                );
            }
        };
        goto(&spec.start, "/start".into(), &mut errors);
        if let Some(state) = &spec.idle.state {
            goto(state, "/idle/state".into(), &mut errors);
            if let Some(found) = spec.states.get(state) {
                if found.end != Some(End::Expired) {
                    errors.push(SpecError::new(
                        "/idle/state",
                        format!("`{state}` must be an end state with \"end\": \"expired\""),
                    ));
                }
            }
        }
        if let Some(fallback) = &spec.fallback {
            goto(fallback, "/fallback".into(), &mut errors);
        }
        let defaults = Defaults::of(locale);
        let texts = &spec.texts;
        let apology = text(
            texts.apology.as_deref().unwrap_or(defaults.apology),
            "/texts/apology",
            limits::TEXT_BODY,
            &mut errors,
        );
        let more = texts.more.as_deref().unwrap_or(defaults.more).to_owned();
        label(&more, "/texts/more", limits::ROW_TITLE, &mut errors);
        let retry = text(
            texts.retry.as_deref().unwrap_or(defaults.retry),
            "/texts/retry",
            limits::INTERACTIVE_BODY,
            &mut errors,
        );
        let mut commands = Vec::new();
        let mut words_seen = BTreeMap::new();
        for (i, command) in spec.commands.iter().enumerate() {
            let path = format!("/commands/{i}");
            goto(&command.goto, format!("{path}/goto"), &mut errors);
            if command.words.is_empty() {
                errors.push(SpecError::new(
                    format!("{path}/words"),
                    "empty: name at least one word",
                ));
            }
            let mut words = Vec::new();
            for (j, word) in command.words.iter().enumerate() {
                let normal = normalize(word);
                if normal.is_empty() {
                    errors.push(SpecError::new(format!("{path}/words/{j}"), "empty word"));
                } else if let Some(other) = words_seen.insert(normal.clone(), i) {
                    errors.push(SpecError::new(
                        format!("{path}/words/{j}"),
                        format!("`{word}` is already a word of command {other}"),
                    ));
                }
                words.push(normal);
            }
            commands.push((words, command.goto.clone()));
        }
        if spec.states.is_empty() {
            errors.push(SpecError::new(
                "/states",
                "empty: a conversation needs states",
            ));
        }
        let mut states = BTreeMap::new();
        for (name, state) in &spec.states {
            let path = format!("/states/{}", crate::pointer_token(name));
            if name.trim().is_empty() {
                errors.push(SpecError::new(&path, "a state needs a name"));
            }
            let compiled = compile_state(spec, name, state, &path, &mut goto, &mut errors);
            states.insert(name.clone(), compiled);
        }
        // A transition to an unknown state also strands the states behind it; those
        // follow from the error already reported, so they are not listed too.
        let unreachable = if dangling {
            Vec::new()
        } else {
            unreachable(spec)
        };
        for name in unreachable {
            errors.push(
                SpecError::new(
                    format!("/states/{}", crate::pointer_token(&name)),
                    format!("state `{name}` cannot be reached from `{}`", spec.start),
                )
                .with_hint("no transition, fallback, command, conflict or empty list leads to it"),
            );
        }
        let (Some(apology), Some(retry)) = (apology, retry) else {
            return Err(errors);
        };
        errors.into_result(Compiled {
            id: spec.id.clone(),
            language: spec.language.clone(),
            locale,
            zone,
            start: spec.start.clone(),
            idle: Duration::from_secs(u64::from(spec.idle.minutes) * 60),
            idle_state: spec.idle.state.clone(),
            apology,
            more,
            retry,
            commands,
            states,
        })
    }

    pub(crate) fn state(&self, name: &str) -> Option<&State> {
        self.states.get(name)
    }

    /// The command a message's text names.
    pub(crate) fn command(&self, text: &str) -> Option<&str> {
        let word = normalize(text);
        self.commands
            .iter()
            .find(|(words, _)| words.contains(&word))
            .map(|(_, goto)| goto.as_str())
    }

    /// Every `(service, operation, path)` the spec calls.
    pub(crate) fn calls(&self) -> Vec<(&str, &str, &str)> {
        self.states
            .values()
            .flat_map(|state| &state.enter)
            .filter_map(|action| match action {
                Action::Call {
                    path,
                    service,
                    operation,
                    ..
                } => Some((service.as_str(), operation.as_str(), path.as_str())),
                _ => None,
            })
            .collect()
    }
}

/// Trimmed, lower case, inner whitespace collapsed: how words are compared.
pub(crate) fn normalize(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

struct Defaults {
    apology: &'static str,
    more: &'static str,
    retry: &'static str,
}

impl Defaults {
    fn of(locale: Locale) -> Defaults {
        match locale {
            Locale::Portuguese => Defaults {
                apology: "Desculpe, não consegui concluir agora. Por favor, tente de novo em alguns minutos.",
                more: "Ver mais",
                retry: "Não entendi. Por favor, responda de novo.",
            },
            Locale::English => Defaults {
                apology: "Sorry, I could not finish that now. Please try again in a few minutes.",
                more: "See more",
                retry: "Sorry, I did not understand. Please answer again.",
            },
        }
    }
}

fn compile_state(
    spec: &ConversationSpec,
    name: &str,
    state: &StateSpec,
    path: &str,
    goto: &mut impl FnMut(&str, String, &mut SpecErrors),
    errors: &mut SpecErrors,
) -> State {
    let mut enter = Vec::new();
    for (i, action) in state.enter.iter().enumerate() {
        let at = format!("{path}/enter/{i}");
        match action {
            ActionSpec::Call(call) => {
                let at = format!("{at}/call");
                let (service, operation) = match call.op.split_once('.') {
                    Some((s, o)) if !s.is_empty() && !o.is_empty() => (s.to_owned(), o.to_owned()),
                    _ => {
                        errors.push(SpecError::new(
                            format!("{at}/op"),
                            format!(
                                "`{}` is not `<service>.<operation>` (e.g. `erp.list_slots`)",
                                call.op
                            ),
                        ));
                        (String::new(), String::new())
                    }
                };
                let with = call
                    .with
                    .as_ref()
                    .and_then(|shape| Shape::new(shape, &format!("{at}/with"), errors));
                if let Some(into) = &call.into {
                    variable(into, &format!("{at}/into"), errors);
                }
                let on_conflict = call.on_conflict.as_ref().map(|conflict| {
                    goto(&conflict.goto, format!("{at}/on_conflict/goto"), errors);
                    let say = conflict.say.as_deref().and_then(|say| {
                        text(
                            say,
                            &format!("{at}/on_conflict/say"),
                            limits::TEXT_BODY,
                            errors,
                        )
                    });
                    (say, conflict.goto.clone())
                });
                enter.push(Action::Call {
                    path: format!("{at}/op"),
                    service,
                    operation,
                    with,
                    into: call.into.clone(),
                    on_conflict,
                });
            }
            ActionSpec::Set(values) => {
                let mut set = Vec::new();
                for (name, value) in values {
                    let at = format!("{at}/set/{}", crate::pointer_token(name));
                    variable(name, &at, errors);
                    if let Some(shape) = Shape::new(value, &at, errors) {
                        set.push((name.clone(), shape));
                    }
                }
                enter.push(Action::Set(set));
            }
            ActionSpec::Clear(names) => {
                for (j, name) in names.iter().enumerate() {
                    variable(name, &format!("{at}/clear/{j}"), errors);
                }
                enter.push(Action::Clear(names.clone()));
            }
            ActionSpec::Say(say) => {
                if let Some(say) = text(say, &format!("{at}/say"), limits::TEXT_BODY, errors) {
                    enter.push(Action::Say(say));
                }
            }
        }
    }
    let prompt = state
        .prompt
        .as_ref()
        .and_then(|prompt| compile_prompt(prompt, &format!("{path}/prompt"), goto, errors));
    let mut input = None;
    if let Some(spec_input) = &state.input {
        input = compile_input(
            spec,
            spec_input,
            prompt.as_ref(),
            state.prompt.is_some(),
            path,
            goto,
            errors,
        );
    }
    let mut next = Vec::new();
    for (i, transition) in state.next.iter().enumerate() {
        let at = format!("{path}/next/{i}");
        goto(&transition.goto, format!("{at}/goto"), errors);
        let rule = match &transition.when {
            None => None,
            Some(when) => match Rule::parse(when) {
                Ok(rule) => Some(rule),
                Err(e) => {
                    errors.extend(e.prefixed(&format!("{at}/when")));
                    None
                }
            },
        };
        if transition.when.is_none() && i + 1 < state.next.len() {
            errors.push(SpecError::new(
                format!("{path}/next/{}", i + 1),
                "unreachable: the transition before it has no `when`, so it always applies",
            ));
        }
        next.push((rule, transition.goto.clone()));
    }
    if state.end == Some(End::Expired) && spec.idle.state.as_deref() != Some(name) {
        errors.push(
            SpecError::new(
                format!("{path}/end"),
                "an `expired` state is entered only by the idle timeout",
            )
            .with_hint("name it as `idle.state`, or end with `done`"),
        );
    }
    match state.end {
        Some(end) => {
            if state.input.is_some() {
                errors.push(SpecError::new(
                    format!("{path}/input"),
                    format!("an end state (`{}`) waits for no answer", end.as_str()),
                ));
            }
            if !state.next.is_empty() {
                errors.push(SpecError::new(
                    format!("{path}/next"),
                    format!("an end state (`{}`) has no transitions", end.as_str()),
                ));
            }
        }
        None => match state.next.last() {
            None => errors.push(
                SpecError::new(
                    format!("{path}/next"),
                    "missing: a state that does not end needs transitions",
                )
                .with_hint("end with a default {\"goto\": \"…\"} without `when`, or set \"end\""),
            ),
            Some(last) if last.when.is_some() => errors.push(
                SpecError::new(
                    format!("{path}/next/{}", state.next.len() - 1),
                    "the last transition must be the default: no `when`",
                )
                .with_hint("add {\"goto\": \"…\"} at the end for answers no rule matches"),
            ),
            Some(_) => {}
        },
    }
    State {
        enter,
        prompt,
        input,
        next,
        end: state.end,
    }
}

fn compile_prompt(
    prompt: &PromptSpec,
    path: &str,
    goto: &mut impl FnMut(&str, String, &mut SpecErrors),
    errors: &mut SpecErrors,
) -> Option<Prompt> {
    match prompt {
        PromptSpec::Text(body) => {
            text(body, &format!("{path}/text"), limits::TEXT_BODY, errors).map(Prompt::Text)
        }
        PromptSpec::Buttons(buttons) => {
            let at = format!("{path}/buttons");
            let body = text(
                &buttons.text,
                &format!("{at}/text"),
                limits::INTERACTIVE_BODY,
                errors,
            );
            options(
                &buttons.options,
                &format!("{at}/options"),
                limits::REPLY_BUTTONS,
                limits::BUTTON_TITLE,
                limits::BUTTON_ID,
                false,
                errors,
            );
            headers(
                buttons.header.as_deref(),
                buttons.footer.as_deref(),
                &at,
                errors,
            );
            Some(Prompt::Buttons {
                text: body?,
                options: buttons.options.clone(),
                header: buttons.header.clone(),
                footer: buttons.footer.clone(),
            })
        }
        PromptSpec::List(list) => {
            let at = format!("{path}/list");
            let body = list_head(
                &list.text,
                &list.button,
                list.section.as_deref(),
                &at,
                errors,
            );
            options(
                &list.options,
                &format!("{at}/options"),
                limits::ROWS,
                limits::ROW_TITLE,
                limits::ROW_ID,
                true,
                errors,
            );
            headers(list.header.as_deref(), list.footer.as_deref(), &at, errors);
            Some(Prompt::List {
                text: body?,
                button: list.button.clone(),
                options: list.options.clone(),
                section: list.section.clone(),
                header: list.header.clone(),
                footer: list.footer.clone(),
            })
        }
        PromptSpec::DynamicList(list) => {
            dynamic(list, &format!("{path}/dynamic_list"), goto, errors)
        }
    }
}

/// Checks what every list has: the body, the button that opens it, the section title.
fn list_head(
    body: &str,
    button: &str,
    section: Option<&str>,
    at: &str,
    errors: &mut SpecErrors,
) -> Option<Text> {
    let body = text(
        body,
        &format!("{at}/text"),
        limits::INTERACTIVE_BODY,
        errors,
    );
    label(
        button,
        &format!("{at}/button"),
        limits::BUTTON_TITLE,
        errors,
    );
    if let Some(section) = section {
        label(section, &format!("{at}/section"), limits::ROW_TITLE, errors);
    }
    body
}

fn dynamic(
    list: &DynamicListSpec,
    at: &str,
    goto: &mut impl FnMut(&str, String, &mut SpecErrors),
    errors: &mut SpecErrors,
) -> Option<Prompt> {
    let body = list_head(
        &list.text,
        &list.button,
        list.section.as_deref(),
        at,
        errors,
    );
    if list.rows.trim().is_empty() {
        errors.push(SpecError::new(
            format!("{at}/rows"),
            "empty: name the variable holding the rows",
        ));
    }
    if let Some(state) = &list.if_empty {
        goto(state, format!("{at}/if_empty"), errors);
    }
    headers(list.header.as_deref(), list.footer.as_deref(), at, errors);
    let mut shape = Map::new();
    shape.insert("id".into(), Value::String(list.id.clone()));
    shape.insert("title".into(), Value::String(list.title.clone()));
    if let Some(description) = &list.description {
        shape.insert("description".into(), Value::String(description.clone()));
    }
    // The row's templates are reported at their own fields of the list.
    let row = match FieldMap::new(Value::Object(shape)) {
        Ok(map) => Some(Shape {
            map,
            typed: Vec::new(),
        }),
        Err(e) => {
            errors.extend(e.prefixed(at));
            None
        }
    };
    Some(Prompt::Dynamic {
        text: body?,
        button: list.button.clone(),
        rows: list.rows.clone(),
        row: row?,
        section: list.section.clone(),
        if_empty: list.if_empty.clone(),
        header: list.header.clone(),
        footer: list.footer.clone(),
    })
}

fn options(
    options: &[OptionSpec],
    at: &str,
    most: usize,
    title_max: usize,
    id_max: usize,
    descriptions: bool,
    errors: &mut SpecErrors,
) {
    if options.is_empty() || options.len() > most {
        errors.push(SpecError::new(
            at,
            format!("{} options; WhatsApp shows 1 to {most} here", options.len()),
        ));
    }
    let mut ids = BTreeSet::new();
    let mut titles = BTreeSet::new();
    for (i, option) in options.iter().enumerate() {
        let path = format!("{at}/{i}");
        label(&option.id, &format!("{path}/id"), id_max, errors);
        label(&option.title, &format!("{path}/title"), title_max, errors);
        if !ids.insert(option.id.as_str()) {
            errors.push(SpecError::new(
                format!("{path}/id"),
                format!("`{}` is the id of another option", option.id),
            ));
        }
        if !titles.insert(normalize(&option.title)) {
            errors.push(SpecError::new(
                format!("{path}/title"),
                format!("`{}` is the title of another option", option.title),
            ));
        }
        match (&option.description, descriptions) {
            (Some(description), true) => label(
                description,
                &format!("{path}/description"),
                limits::ROW_DESCRIPTION,
                errors,
            ),
            (Some(_), false) => errors.push(SpecError::new(
                format!("{path}/description"),
                "reply buttons have no description (a list row has)",
            )),
            (None, _) => {}
        }
    }
}

fn headers(header: Option<&str>, footer: Option<&str>, at: &str, errors: &mut SpecErrors) {
    if let Some(header) = header {
        label(header, &format!("{at}/header"), limits::HEADER, errors);
    }
    if let Some(footer) = footer {
        label(footer, &format!("{at}/footer"), limits::HEADER, errors);
    }
}

#[allow(clippy::too_many_arguments)]
fn compile_input(
    spec: &ConversationSpec,
    input: &InputSpec,
    prompt: Option<&Prompt>,
    has_prompt: bool,
    path: &str,
    goto: &mut impl FnMut(&str, String, &mut SpecErrors),
    errors: &mut SpecErrors,
) -> Option<Input> {
    let at = format!("{path}/input");
    variable(&input.into, &format!("{at}/into"), errors);
    match (prompt, input.parse) {
        // A prompt that failed to compile has its own error already.
        (None, _) if has_prompt => {}
        (None, _) => errors.push(SpecError::new(
            &at,
            "an input needs a prompt: the state must ask before it waits",
        )),
        (Some(prompt), Parse::Option) if !prompt.has_options() => errors.push(SpecError::new(
            format!("{at}/parse"),
            "an `option` input needs a buttons, list or dynamic_list prompt",
        )),
        _ => {}
    }
    if let Parse::Text { min, max } = input.parse {
        if min == 0 || min > max {
            errors.push(SpecError::new(
                format!("{at}/parse"),
                format!(
                    "text limits {min}..{max}: min is at least 1 (an empty answer is never \
                     taken) and at most max"
                ),
            ));
        }
    }
    let limit = prompt.map_or(limits::TEXT_BODY, Prompt::body_limit);
    let retry = input
        .retry
        .as_deref()
        .and_then(|retry| text(retry, &format!("{at}/retry"), limit, errors));
    let max_attempts = input.max_attempts.unwrap_or(spec.max_attempts);
    if max_attempts == 0 {
        errors.push(SpecError::new(
            format!("{at}/max_attempts"),
            "must be at least 1",
        ));
    }
    let fallback = match input.fallback.as_ref().or(spec.fallback.as_ref()) {
        Some(fallback) => {
            if input.fallback.is_some() {
                goto(fallback, format!("{at}/fallback"), errors);
            }
            fallback.clone()
        }
        None => {
            errors.push(
                SpecError::new(
                    format!("{at}/fallback"),
                    "missing: where to go after the last wrong answer",
                )
                .with_hint("set it here or as the spec's `fallback`"),
            );
            String::new()
        }
    };
    Some(Input {
        into: input.into.clone(),
        parse: input.parse,
        retry,
        max_attempts,
        fallback,
    })
}

/// States no path reaches from the start, the idle state or a command.
fn unreachable(spec: &ConversationSpec) -> Vec<String> {
    let mut seen: BTreeSet<&str> = BTreeSet::new();
    let mut queue: VecDeque<&str> = VecDeque::new();
    queue.push_back(&spec.start);
    queue.extend(spec.idle.state.as_deref());
    queue.extend(spec.commands.iter().map(|c| c.goto.as_str()));
    while let Some(name) = queue.pop_front() {
        if !seen.insert(name) {
            continue;
        }
        let Some(state) = spec.states.get(name) else {
            continue;
        };
        queue.extend(state.next.iter().map(|t| t.goto.as_str()));
        if let Some(input) = &state.input {
            queue.extend(input.fallback.as_deref().or(spec.fallback.as_deref()));
        }
        for action in &state.enter {
            if let ActionSpec::Call(call) = action {
                queue.extend(call.on_conflict.as_ref().map(|c| c.goto.as_str()));
            }
        }
        if let Some(PromptSpec::DynamicList(list)) = &state.prompt {
            queue.extend(list.if_empty.as_deref());
        }
    }
    spec.states
        .keys()
        .filter(|name| !seen.contains(name.as_str()))
        .cloned()
        .collect()
}
