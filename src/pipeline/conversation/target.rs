//! A conversation as a flow's target (kind `conversation`), and its spec form.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::runtime::{Conversation, Inbound};
use super::service::DynService;
use super::spec::ConversationSpec;
use crate::http::ProviderFake;
use crate::spec::{BuildContext, Registry};
use crate::text::text_of;
use crate::{Context, DeliveryError, Receipt, Record, SpecError, SpecErrors, Target, TargetError};

/// What a conversation prepares from a record: a message to handle, or the idle sweep.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "turn", rename_all = "snake_case")]
#[non_exhaustive]
pub enum TurnAction {
    /// A party's message.
    Message(Inbound),
    /// A [`tick`](super::tick): end the sessions idle past the timeout.
    Sweep {
        /// The tick's instant.
        #[serde(skip_serializing_if = "Option::is_none")]
        at: Option<DateTime<Utc>>,
    },
}

impl crate::Action for TurnAction {
    fn recipient(&self) -> Option<&str> {
        match self {
            TurnAction::Message(message) => Some(&message.from),
            TurnAction::Sweep { .. } => None,
        }
    }
}

#[async_trait]
impl Target for Conversation {
    type Action = TurnAction;

    /// Reads a message from the payload (without a mapper, the record's data): `from` (the
    /// party's number, required), `id` (the message id; else the record's key),
    /// `phone_number_id` (the business number), `timestamp` (RFC 3339; else the record's
    /// instant), `text` and `reply_id`, the fields of a `whatsapp.message` record. A record
    /// of kind `conversation.tick` (or a payload whose `type` is `conversation.tick`)
    /// prepares the idle sweep.
    fn prepare(&self, record: &Record, payload: &Value) -> Result<TurnAction, TargetError> {
        let Value::Object(fields) = payload else {
            return Err(TargetError::InvalidPayload(
                "expected a message's fields: from, id, text, reply_id, timestamp".to_owned(),
            ));
        };
        let text_at = |field: &str| {
            fields
                .get(field)
                .filter(|v| !v.is_null())
                .map(text_of)
                .filter(|s| !s.trim().is_empty())
        };
        if record.kind == super::TICK_KIND || text_at("type").as_deref() == Some(super::TICK_KIND) {
            let at = text_at("at")
                .and_then(|at| DateTime::parse_from_rfc3339(&at).ok())
                .map(|at| at.with_timezone(&Utc))
                .or(record.occurred_at);
            return Ok(TurnAction::Sweep { at });
        }
        let from: String = text_at("from")
            .map(|f| f.chars().filter(char::is_ascii_digit).collect())
            .filter(|f: &String| !f.is_empty())
            .ok_or_else(|| {
                TargetError::field("from", "missing: the number of the party who wrote")
            })?;
        let at = match text_at("timestamp") {
            Some(at) => Some(
                DateTime::parse_from_rfc3339(&at)
                    .map_err(|e| {
                        TargetError::field("timestamp", format!("not an RFC 3339 instant: {e}"))
                    })?
                    .with_timezone(&Utc),
            ),
            None => record.occurred_at,
        };
        Ok(TurnAction::Message(Inbound {
            id: text_at("id").unwrap_or_else(|| record.key.clone()),
            channel: text_at("phone_number_id").unwrap_or_default(),
            from,
            at,
            text: text_at("text"),
            reply_id: text_at("reply_id"),
        }))
    }

    async fn deliver(
        &self,
        ctx: &Context,
        _record: &Record,
        action: &TurnAction,
    ) -> Result<Receipt, DeliveryError> {
        match action {
            TurnAction::Message(message) => {
                let turn = self.handle(ctx, message).await?;
                let id = turn.sent.first().cloned().unwrap_or_else(|| {
                    format!("conversation:{}:{}:{}", self.id(), message.from, message.id)
                });
                Ok(Receipt::new(200).with_id(id).with_details(json!(turn)))
            }
            TurnAction::Sweep { .. } => {
                let expired = self.expire_idle(ctx).await?;
                Ok(Receipt::new(200)
                    .with_id(format!("conversation:{}:sweep", self.id()))
                    .with_details(json!({"expired": expired})))
            }
        }
    }

    fn fakes(&self) -> Vec<Arc<dyn ProviderFake>> {
        self.senders()
            .flat_map(Target::fakes)
            .chain(self.services().flat_map(|service| service.fakes()))
            .collect()
    }
}

/// The spec form of the `conversation` target.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TargetSpec {
    /// The senders of text and interactive prompts, each `{"<kind>": {…}}`.
    send: SendSpec,
    /// The services the spec calls, by name, each `{"<kind>": {…}}`.
    #[serde(default)]
    services: BTreeMap<String, BTreeMap<String, Value>>,
    /// The conversation.
    spec: Value,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendSpec {
    text: BTreeMap<String, Value>,
    #[serde(default)]
    interactive: Option<BTreeMap<String, Value>>,
}

/// Exactly one `{"<kind>": config}`.
fn one_kind<'a>(
    map: &'a BTreeMap<String, Value>,
    path: &str,
    what: &str,
) -> Result<(&'a str, &'a Value), SpecError> {
    let mut entries = map.iter();
    match (entries.next(), entries.next()) {
        (Some((kind, config)), None) => Ok((kind, config)),
        _ => Err(SpecError::new(
            path,
            format!("name exactly one {what} kind"),
        )),
    }
}

/// Registers the `conversation` target kind, with its config schema under feature `schema`.
pub(crate) fn register(registry: &mut Registry) {
    registry.register_target(super::KIND, |cx, config| {
        let spec: TargetSpec = cx.deserialize(config)?;
        let mut errors = SpecErrors::new();
        let conversation = match ConversationSpec::from_value(&spec.spec) {
            Ok(conversation) => Some(conversation),
            Err(e) => {
                errors.extend(e.prefixed("/spec"));
                None
            }
        };
        let sender = |map: &BTreeMap<String, Value>, path: &str, errors: &mut SpecErrors| {
            let (kind, config) = match one_kind(map, path, "sending") {
                Ok(found) => found,
                Err(e) => {
                    errors.push(
                        e.with_hint("e.g. {\"whatsapp.text\": {\"connection\": \"whatsapp\"}}"),
                    );
                    return None;
                }
            };
            let at = format!("{path}/{}", crate::pointer_token(kind));
            match cx.target(kind, config) {
                Ok(target) => Some(target),
                Err(e) => {
                    errors.extend(e.prefixed(&at));
                    None
                }
            }
        };
        let text = sender(&spec.send.text, "/send/text", &mut errors);
        let interactive = spec
            .send
            .interactive
            .as_ref()
            .and_then(|map| sender(map, "/send/interactive", &mut errors));
        let mut services: Vec<(String, DynService)> = Vec::new();
        for (name, kinds) in &spec.services {
            let path = format!("/services/{}", crate::pointer_token(name));
            match one_kind(kinds, &path, "service") {
                Ok((kind, config)) => match service(cx, kind, config) {
                    Ok(service) => services.push((name.clone(), service)),
                    Err(e) => {
                        errors.extend(e.prefixed(&format!("{path}/{}", crate::pointer_token(kind))))
                    }
                },
                Err(e) => errors.push(e),
            }
        }
        let (Some(conversation), Some(text)) = (conversation, text) else {
            return Err(errors);
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        let mut builder = Conversation::builder(conversation).text_sender(text);
        if let Some(interactive) = interactive {
            builder = builder.interactive_sender(interactive);
        }
        for (name, service) in services {
            builder = builder.shared_service(name, service);
        }
        match builder.build() {
            Ok(conversation) => Ok(crate::DynTarget::new(conversation)),
            // Calls are checked at the spec's paths; senders at the target's.
            Err(e) => Err(e
                .into_iter()
                .map(|error| {
                    if error.path.starts_with("/send") {
                        error
                    } else {
                        SpecError {
                            path: format!("/spec{}", error.path),
                            ..error
                        }
                    }
                })
                .collect::<Vec<_>>()
                .into()),
        }
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_with(
        crate::spec::KindRole::Target,
        super::KIND,
        super::schema::target_config_schema,
    );
}

fn service(cx: &BuildContext<'_>, kind: &str, config: &Value) -> Result<DynService, SpecErrors> {
    match cx.registry.service(kind) {
        Some(factory) => factory(cx, config),
        None => {
            Err(crate::spec::unknown_kind("", "service", kind, cx.registry.service_kinds()).into())
        }
    }
}
