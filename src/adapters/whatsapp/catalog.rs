//! The preflight: a flow's template checked against the WABA's template list
//! (`GET /{waba-id}/message_templates`) before anything is sent.
//!
//! A template message is refused by Meta when its name or language does not exist
//! (132001), when its parameters do not match the approved text (132000), or when the
//! template is not approved; a flow that is wrong in one of these ways fails every record.
//! [`preflight`] finds that out once, when the host builds the flow: it plans a sample
//! record, reads the account's templates ([`TemplateCatalog`], cached in the state store
//! for a time to live), and checks the name, the language, the status, the number of
//! parameters of the header, the body and each URL button, and the category the target
//! was told.
//!
//! ```
//! use hubflow::whatsapp::TemplateCatalog;
//! use serde_json::json;
//!
//! // One page of Meta's answer.
//! let page = json!({"data": [{
//!     "id": "1689556908129832", "name": "wo_assignment", "language": "pt_BR",
//!     "status": "APPROVED", "category": "UTILITY",
//!     "components": [
//!         {"type": "HEADER", "format": "TEXT", "text": "OT {{1}}"},
//!         {"type": "BODY", "text": "Olá {{1}}, a ordem {{2}} foi atribuída a você."},
//!         {"type": "BUTTONS", "buttons": [{"type": "URL", "text": "Abrir", "url": "https://erp.example.com/wo/{{1}}"}]}
//!     ]}]});
//! let catalog = TemplateCatalog::from_pages("102290129340398", &[page]).unwrap();
//! let message = json!({"type": "template", "template": {"name": "wo_assignment", "language": {"code": "pt_BR"},
//!     "components": [
//!         {"type": "header", "parameters": [{"type": "text", "text": "OT-1021"}]},
//!         {"type": "body", "parameters": [{"type": "text", "text": "Jonas"}]},
//!         {"type": "button", "sub_type": "url", "index": "0", "parameters": [{"type": "text", "text": "1021"}]}
//!     ]}});
//! let error = catalog.check(&message, None).unwrap_err();
//! assert_eq!(error.to_string(), "template `wo_assignment` (pt_BR): the body takes 2 parameters, the flow gives 1");
//! ```

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::lifecycle::{note_template, TemplateNote};
use super::webhook::TemplateStatus;
use super::{WhatsAppConnection, WhatsAppSend};
use crate::http::{HttpRequest, Method};
use crate::{Context, DeliveryError, Flow, Plan, PlanError, Record, StateEntry};

/// The state scope of cached template lists, keyed by WABA id.
pub const CATALOG_SCOPE: &str = "whatsapp.catalog";
/// How long a fetched template list is used before it is read again: 15 minutes.
pub const DEFAULT_CATALOG_TTL: Duration = Duration::from_secs(15 * 60);
/// The most pages of templates read (100 templates each).
const MAX_PAGES: usize = 50;

/// The header of an approved template.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HeaderSlot {
    /// A text header with this many placeholders.
    Text(usize),
    /// A media header (`IMAGE`, `VIDEO`, `DOCUMENT`, `LOCATION`): one parameter.
    Media(String),
}

/// A button of an approved template that takes a parameter (a URL with a placeholder, a
/// copy-code button).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ButtonSlot {
    /// The button's position, from 0.
    pub index: u8,
    /// Meta's button type (`URL`, `COPY_CODE`).
    pub kind: String,
}

/// One template of the account, in one language, as Meta lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct CatalogTemplate {
    /// The template id.
    pub id: String,
    /// The name.
    pub name: String,
    /// The language code.
    pub language: String,
    /// The status (`APPROVED`, `PAUSED`, …).
    pub status: String,
    /// The category (`UTILITY`, `MARKETING`, `AUTHENTICATION`).
    pub category: Option<String>,
    /// The header, when the template has one.
    pub header: Option<HeaderSlot>,
    /// The body's placeholders.
    pub body_parameters: usize,
    /// The buttons that take a parameter.
    pub buttons: Vec<ButtonSlot>,
}

/// The templates of one WhatsApp Business Account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct TemplateCatalog {
    /// The WhatsApp Business Account id.
    pub waba_id: String,
    /// Every template, in every language.
    pub templates: Vec<CatalogTemplate>,
}

/// Why a preflight failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum PreflightError {
    /// The sample record did not plan to a send (the condition or a lookup skipped it).
    #[error("the sample record plans no send: {0}")]
    Skipped(String),
    /// The sample record could not be planned.
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// The flow's target is not a WhatsApp template message.
    #[error("the flow does not send a WhatsApp template message")]
    NotATemplate,
    /// The connection has no WhatsApp Business Account id to list templates of.
    #[error("the connection has no WhatsApp Business Account id (`waba_id`): templates cannot be listed")]
    NoBusinessAccount,
    /// The template list could not be read.
    #[error("reading the account's templates failed: {0}")]
    Fetch(String),
    /// No template has this name in this language.
    #[error("template `{name}` ({language}) does not exist in the account{}", known(.languages))]
    Unknown {
        /// The name sent.
        name: String,
        /// The language sent.
        language: String,
        /// The languages the template has (empty when the name is unknown).
        languages: Vec<String>,
    },
    /// The template exists but cannot be sent.
    #[error("template `{name}` ({language}) is {status} at Meta: it cannot be sent")]
    NotUsable {
        /// The name.
        name: String,
        /// The language.
        language: String,
        /// Meta's status.
        status: String,
    },
    /// A component's parameter count differs from the approved text's placeholders.
    #[error("template `{name}` ({language}): the {component} takes {expected} parameters, the flow gives {given}")]
    Parameters {
        /// The name.
        name: String,
        /// The language.
        language: String,
        /// `header`, `body`, or `button 0`.
        component: String,
        /// What the template takes.
        expected: usize,
        /// What the flow's message has.
        given: usize,
    },
    /// The category the target was told differs from Meta's.
    #[error(
        "template `{name}` ({language}) is a {found} template at Meta, but the target says {told}"
    )]
    Category {
        /// The name.
        name: String,
        /// The language.
        language: String,
        /// The target's category.
        told: String,
        /// Meta's category.
        found: String,
    },
}

fn known(languages: &[String]) -> String {
    if languages.is_empty() {
        String::new()
    } else {
        format!("; it exists in {}", languages.join(", "))
    }
}

/// The distinct `{{…}}` placeholders of a text.
fn placeholders(text: &str) -> usize {
    text.split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(name, _)| name.trim()))
        .filter(|name| !name.is_empty())
        .collect::<BTreeSet<_>>()
        .len()
}

fn text<'v>(value: &'v Value, key: &str) -> Option<&'v str> {
    value.get(key).and_then(Value::as_str)
}

impl CatalogTemplate {
    fn from_listing(item: &Value, at: &str) -> Result<Self, String> {
        let required = |key: &str| {
            text(item, key)
                .map(str::to_owned)
                .ok_or_else(|| format!("{at}/{key}: expected a string"))
        };
        let mut template = CatalogTemplate {
            id: item.get("id").map(crate::text::text_of).unwrap_or_default(),
            name: required("name")?,
            language: required("language")?,
            status: required("status")?,
            category: text(item, "category").map(str::to_owned),
            header: None,
            body_parameters: 0,
            buttons: Vec::new(),
        };
        let components = item
            .get("components")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        for component in components {
            match text(component, "type")
                .map(str::to_ascii_uppercase)
                .as_deref()
            {
                Some("HEADER") => {
                    template.header = Some(match text(component, "format") {
                        Some(format) if !format.eq_ignore_ascii_case("TEXT") => {
                            HeaderSlot::Media(format.to_ascii_uppercase())
                        }
                        _ => HeaderSlot::Text(placeholders(text(component, "text").unwrap_or(""))),
                    })
                }
                Some("BODY") => {
                    template.body_parameters = placeholders(text(component, "text").unwrap_or(""))
                }
                Some("BUTTONS") => {
                    let buttons = component
                        .get("buttons")
                        .and_then(Value::as_array)
                        .map(Vec::as_slice)
                        .unwrap_or_default();
                    for (i, button) in buttons.iter().enumerate() {
                        let kind = text(button, "type").unwrap_or("").to_ascii_uppercase();
                        let takes = match kind.as_str() {
                            "URL" => placeholders(text(button, "url").unwrap_or("")) > 0,
                            "COPY_CODE" => true,
                            _ => false,
                        };
                        if let (true, Ok(index)) = (takes, u8::try_from(i)) {
                            template.buttons.push(ButtonSlot { index, kind });
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(template)
    }
}

impl TemplateCatalog {
    /// The catalog of `waba_id` from the pages Meta answered (`{"data": [...], "paging"}`).
    pub fn from_pages(waba_id: &str, pages: &[Value]) -> Result<Self, String> {
        let mut templates = Vec::new();
        for (p, page) in pages.iter().enumerate() {
            let Some(data) = page.get("data").and_then(Value::as_array) else {
                return Err(format!("page {p}: /data: expected an array"));
            };
            for (i, item) in data.iter().enumerate() {
                templates.push(CatalogTemplate::from_listing(
                    item,
                    &format!("page {p}: /data/{i}"),
                )?);
            }
        }
        Ok(TemplateCatalog {
            waba_id: waba_id.to_owned(),
            templates,
        })
    }

    /// Reads every template of the connection's account from Meta, page by page.
    pub async fn fetch(
        ctx: &Context,
        connection: &WhatsAppConnection,
    ) -> Result<Self, PreflightError> {
        let waba = connection
            .waba_id()
            .ok_or(PreflightError::NoBusinessAccount)?
            .to_owned();
        let mut pages = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = connection.endpoint(&[&waba, "message_templates"]);
            {
                let mut query = url.query_pairs_mut();
                query.append_pair("fields", "id,name,language,status,category,components");
                query.append_pair("limit", "100");
                if let Some(cursor) = &after {
                    query.append_pair("after", cursor);
                }
            }
            let request = HttpRequest::new(Method::Get, url).header("Accept", "application/json");
            let response = connection
                .api()
                .send(ctx, &request, None)
                .await
                .map_err(|e| {
                    PreflightError::Fetch(e.into_delivery(super::error::PROVIDER).to_string())
                })?;
            if !response.is_success() {
                let error: DeliveryError =
                    super::provider_error(&response, ctx.clock().now()).into();
                return Err(PreflightError::Fetch(error.to_string()));
            }
            let page: Value = serde_json::from_slice(&response.body)
                .map_err(|e| PreflightError::Fetch(format!("the answer is not JSON: {e}")))?;
            let next = page.pointer("/paging/next").is_some_and(|n| !n.is_null());
            after = page
                .pointer("/paging/cursors/after")
                .and_then(Value::as_str)
                .map(str::to_owned);
            pages.push(page);
            if !next || after.is_none() {
                return TemplateCatalog::from_pages(&waba, &pages).map_err(PreflightError::Fetch);
            }
        }
        Err(PreflightError::Fetch(format!(
            "more than {MAX_PAGES} pages of templates"
        )))
    }

    /// The catalog of the connection's account from the state store when it was read less
    /// than `ttl` ago, else from Meta (then cached for `ttl`). Every template's status and
    /// category fetched is also noted for the pre-send checks
    /// ([`template_state`](super::template_state)).
    pub async fn load(
        ctx: &Context,
        connection: &WhatsAppConnection,
        ttl: Duration,
    ) -> Result<Self, PreflightError> {
        let waba = connection
            .waba_id()
            .ok_or(PreflightError::NoBusinessAccount)?;
        let now = ctx.clock().now();
        let cached = ctx
            .state()
            .get_state(CATALOG_SCOPE, waba, now)
            .await
            .map_err(|e| PreflightError::Fetch(e.to_string()))?;
        if let Some(catalog) = cached.and_then(|entry| serde_json::from_value(entry.value).ok()) {
            return Ok(catalog);
        }
        let catalog = TemplateCatalog::fetch(ctx, connection).await?;
        let value =
            serde_json::to_value(&catalog).map_err(|e| PreflightError::Fetch(e.to_string()))?;
        let entry = StateEntry::new(value).expiring_at(crate::clock::add(now, ttl));
        let store = |e: crate::StoreError| PreflightError::Fetch(e.to_string());
        ctx.state()
            .put_state(CATALOG_SCOPE, waba, &entry)
            .await
            .map_err(store)?;
        for template in &catalog.templates {
            let note = TemplateNote::Status {
                status: template.status.clone(),
                reason: None,
                category: template.category.clone(),
            };
            note_template(ctx, waba, &template.name, &template.language, note, now)
                .await
                .map_err(store)?;
        }
        Ok(catalog)
    }

    /// The template `name` in `language`.
    pub fn get(&self, name: &str, language: &str) -> Option<&CatalogTemplate> {
        self.templates
            .iter()
            .find(|t| t.name == name && t.language == language)
    }

    /// Checks a template message's body (as sent) against the template: it exists in its
    /// language, can be sent, its header, body and URL buttons have as many parameters as
    /// the approved text has placeholders, and `category`, when given, is Meta's.
    pub fn check(&self, message: &Value, category: Option<&str>) -> Result<(), PreflightError> {
        let name = message
            .pointer("/template/name")
            .and_then(Value::as_str)
            .unwrap_or("");
        let language = message
            .pointer("/template/language/code")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Some(template) = self.get(name, language) else {
            let languages = self
                .templates
                .iter()
                .filter(|t| t.name == name)
                .map(|t| t.language.clone())
                .collect();
            return Err(PreflightError::Unknown {
                name: name.to_owned(),
                language: language.to_owned(),
                languages,
            });
        };
        if TemplateStatus::parse(&template.status).usable() == Some(false) {
            return Err(PreflightError::NotUsable {
                name: name.to_owned(),
                language: language.to_owned(),
                status: template.status.clone(),
            });
        }
        let components = message
            .pointer("/template/components")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default();
        let given = |kind: &str, index: Option<u8>| {
            components
                .iter()
                .filter(|c| text(c, "type") == Some(kind))
                .filter(|c| {
                    index.is_none_or(|i| text(c, "index").and_then(|s| s.parse().ok()) == Some(i))
                })
                .map(|c| {
                    c.get("parameters")
                        .and_then(Value::as_array)
                        .map_or(0, Vec::len)
                })
                .sum::<usize>()
        };
        let mismatch =
            |component: String, expected: usize, given: usize| PreflightError::Parameters {
                name: name.to_owned(),
                language: language.to_owned(),
                component,
                expected,
                given,
            };
        let header = match &template.header {
            None => 0,
            Some(HeaderSlot::Text(n)) => *n,
            Some(HeaderSlot::Media(_)) => 1,
        };
        if given("header", None) != header {
            return Err(mismatch("header".to_owned(), header, given("header", None)));
        }
        if given("body", None) != template.body_parameters {
            return Err(mismatch(
                "body".to_owned(),
                template.body_parameters,
                given("body", None),
            ));
        }
        for button in &template.buttons {
            let count = given("button", Some(button.index));
            if count != 1 {
                return Err(mismatch(format!("button {}", button.index), 1, count));
            }
        }
        if let (Some(told), Some(found)) = (category, &template.category) {
            if !told.eq_ignore_ascii_case(found) {
                return Err(PreflightError::Category {
                    name: name.to_owned(),
                    language: language.to_owned(),
                    told: told.to_owned(),
                    found: found.clone(),
                });
            }
        }
        Ok(())
    }
}

/// Checks a flow's WhatsApp template against the account's template list, with a sample
/// record of what the flow will send (a work order as the source gives it): the record is
/// planned (condition, lookups, mapping) and the message it gives checked by
/// [`TemplateCatalog::check`]. The list is read through the target's connection (it needs
/// its `waba_id`) and cached for `ttl` ([`DEFAULT_CATALOG_TTL`] is a good default).
///
/// Call it after building the flow and before running it: a wrong template name,
/// language or parameter count then stops the deployment instead of failing every record.
pub async fn preflight(
    ctx: &Context,
    flow: &Flow,
    sample: &Record,
    ttl: Duration,
) -> Result<TemplateCatalog, PreflightError> {
    let action = match flow.plan(ctx, sample).await? {
        Plan::Skip(reason) => return Err(PreflightError::Skipped(reason)),
        Plan::Send(action) => action,
    };
    let send = action
        .downcast_ref::<WhatsAppSend>()
        .ok_or(PreflightError::NotATemplate)?;
    let check = send.template().ok_or(PreflightError::NotATemplate)?;
    let catalog = TemplateCatalog::load(ctx, send.connection(), ttl).await?;
    catalog.check(&send.body(), check.category.as_deref())?;
    Ok(catalog)
}
