//! Settling unknown outcomes with status webhooks (documented on [`settle_statuses`], as
//! this module is private).

use serde::Serialize;
use serde_json::json;

use super::error::PROVIDER;
use super::webhook::{DeliveryState, StatusUpdate, WebhookEvent};
use super::GraphError;
use crate::{
    Context, Flow, ReportedFailure, RunReport, SettleReport, Settled, Settlement, StoreError,
};

/// Why a status cannot settle a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum NotSettleable {
    /// The status has no `biz_opaque_callback_data` (or an empty one), so it names no
    /// record: the message was sent without it (`callback_data: false`), or by another
    /// sender.
    #[error("the status carries no biz_opaque_callback_data, so it names no record")]
    NoCallbackData,
    /// The status says nothing of whether Meta took the message (`deleted`, or a value
    /// this crate does not know).
    #[error("status `{status}` says nothing of whether the message was sent")]
    Status {
        /// The status as received.
        status: String,
    },
}

impl StatusUpdate {
    /// The record key this status refers to: its `biz_opaque_callback_data`, when present
    /// and not empty.
    pub fn settlement_key(&self) -> Option<&str> {
        self.biz_opaque_callback_data
            .as_deref()
            .filter(|key| !key.is_empty())
    }

    /// The status as evidence for [`Flow::settle`], with the key it settles; see
    /// [`settle_statuses`] for what each status is.
    ///
    /// ```
    /// use hubflow::whatsapp::webhook::{parse, WebhookEvent};
    /// use hubflow::whatsapp::NotSettleable;
    /// use hubflow::Settlement;
    ///
    /// let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
    ///   "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
    ///   "statuses":[
    ///     {"id":"wamid.A","status":"read","timestamp":"1750030073","recipient_id":"16505551234","biz_opaque_callback_data":"wo:1021"},
    ///     {"id":"wamid.B","status":"failed","timestamp":"1750030074","recipient_id":"16505551234","biz_opaque_callback_data":"wo:1022",
    ///      "errors":[{"code":131026,"title":"Message undeliverable","error_data":{"details":"Message Undeliverable."}}]},
    ///     {"id":"wamid.C","status":"delivered","timestamp":"1750030075","recipient_id":"16505551234"}]}}]}]}"#;
    /// let events = parse(body).unwrap();
    /// let status = |i: usize| match &events[i] { WebhookEvent::Status(s) => s.clone(), _ => unreachable!() };
    ///
    /// let (key, evidence) = status(0).settlement().unwrap();
    /// assert_eq!(key, "wo:1021");
    /// assert!(matches!(evidence, Settlement::Delivered { ref id, .. } if id == "wamid.A"));
    ///
    /// let (_, evidence) = status(1).settlement().unwrap();
    /// let Settlement::Failed(failure) = evidence else { panic!() };
    /// assert_eq!(failure.code.as_deref(), Some("131026"));
    /// assert_eq!(failure.message, "Message undeliverable: Message Undeliverable.");
    ///
    /// assert_eq!(status(2).settlement().unwrap_err(), NotSettleable::NoCallbackData);
    /// ```
    pub fn settlement(&self) -> Result<(String, Settlement), NotSettleable> {
        let key = self
            .settlement_key()
            .ok_or(NotSettleable::NoCallbackData)?
            .to_owned();
        let evidence = match &self.status {
            DeliveryState::Failed => Settlement::failed(self.reported_failure()),
            // sent, delivered, read, played: each one means Meta took the message.
            state if state.rank() > 0 => {
                Settlement::delivered(PROVIDER, &self.id, state.as_str(), Some(self.timestamp))
            }
            other => {
                return Err(NotSettleable::Status {
                    status: other.as_str().to_owned(),
                })
            }
        };
        Ok((key, evidence))
    }

    /// A `failed` status's errors as one reported failure: the first error's code and
    /// class, every error's text.
    fn reported_failure(&self) -> ReportedFailure {
        let mut failure = ReportedFailure::new(PROVIDER, "").with_id(self.id.as_str());
        let mut texts = Vec::with_capacity(self.errors.len());
        for (index, error) in self.errors.iter().enumerate() {
            // The send path's reading of a Graph error, so the text is redacted and the
            // code classed exactly as a send answered with it would be.
            let graph = GraphError {
                message: error
                    .title
                    .clone()
                    .or_else(|| error.message.clone())
                    .unwrap_or_default(),
                error_type: String::new(),
                code: error.code,
                error_subcode: None,
                details: error.details.clone(),
                fbtrace_id: None,
                is_transient: None,
                error_user_title: None,
                error_user_msg: None,
            };
            let provider = graph.into_provider_error(0, None);
            if index == 0 {
                failure = failure
                    .with_code(error.code.to_string())
                    .with_class(provider.class);
            }
            texts.push(provider.message);
        }
        failure.message = if texts.is_empty() {
            "the status gives no error".to_owned()
        } else {
            texts.join("; ")
        };
        if !self.errors.is_empty() {
            failure = failure.with_details(json!({ "errors": self.errors }));
        }
        failure
    }
}

/// What [`settle_statuses`] did with one status of the webhook.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StatusSettlement {
    /// The wamid the status is about.
    pub wamid: String,
    /// The status.
    pub status: DeliveryState,
    /// The record key it names (its `biz_opaque_callback_data`), if any.
    pub key: Option<String>,
    /// What became of it.
    pub answer: StatusAnswer,
}

impl StatusSettlement {
    /// Whether this is a `failed` status for a key that was already delivered: Meta took
    /// the message, then could not deliver it. The delivery stands (done is final); alert a
    /// person if the message matters.
    pub fn late_failure(&self) -> bool {
        self.status == DeliveryState::Failed
            && matches!(
                self.answer,
                StatusAnswer::Settled(Settled::AlreadyDelivered { .. })
            )
    }
}

/// The answer for one status.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum StatusAnswer {
    /// The flow's answer ([`Flow::settle`]): settled, already delivered, or nothing to
    /// settle.
    Settled(Settled),
    /// The status cannot settle anything; the flow was not asked.
    NotSettleable(NotSettleable),
    /// The store failed for this status; the others are unaffected. Settle the events
    /// again later: a second settlement of the same evidence changes nothing that the
    /// first one changed.
    Store(StoreError),
}

/// What [`settle_statuses`] did: one entry per status of the webhook, in order, and the
/// history entry of the claims that changed.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct StatusSettlements {
    /// One entry per status event, in the webhook's order (messages and system errors are
    /// not statuses and have none).
    pub statuses: Vec<StatusSettlement>,
    /// The report appended to the run history, when a claim changed (see
    /// [`SettleReport::report`]).
    pub report: Option<RunReport>,
}

/// Settles every status of a parsed webhook (what [`webhook::parse`](super::webhook::parse)
/// or [`WhatsAppWebhook::events`](super::webhook::WhatsAppWebhook::events) returns) in
/// `flow`, and answers for each; messages and system errors are passed over. Verify the
/// signature first: `WhatsAppWebhook::events` does.
///
/// [`WhatsAppTarget`](super::WhatsAppTarget) sends every message with the record's key in
/// `biz_opaque_callback_data`, and Meta echoes it in each status webhook of that message.
/// So when a send's answer was lost or unreadable and the flow left the record's claim in
/// flight (an unknown outcome), the statuses that follow say how it ended
/// ([`StatusUpdate::settlement`]):
///
/// | status | evidence |
/// |---|---|
/// | `sent`, `delivered`, `read`, `played` | [`Settlement::Delivered`] with the wamid: Meta took the message |
/// | `failed` | [`Settlement::Failed`] with Meta's first error's code, every error's title, message and details, classed like a send error with that code ([`GraphError::class`]) |
/// | `deleted` or any other value | [`NotSettleable::Status`]: it says nothing of acceptance |
/// | no `biz_opaque_callback_data` (or an empty one) | [`NotSettleable::NoCallbackData`]: it names no record |
///
/// The evidence is settled in one call of [`Flow::settle_all`], in the webhook's order, so
/// the rules are the flow's: only a claim in flight changes; a done key stays done (a
/// `failed` after `sent` is answered [`Settled::AlreadyDelivered`], and
/// [`StatusSettlement::late_failure`] says so); a key the flow never claimed has nothing to
/// settle. Settling the same webhook twice is harmless: the second time nothing changes.
///
/// The callback data holds the record key alone, not the flow: hand the statuses to the
/// flow that sends from the number they came through ([`StatusUpdate::phone_number_id`]),
/// and keep record keys unique among the flows that share a number. A key longer than
/// [`MAX_CALLBACK_DATA_CHARS`](super::MAX_CALLBACK_DATA_CHARS) was cut when it was sent,
/// so its statuses find nothing to settle.
///
/// ```
/// use hubflow::{ClaimStore, Context, Flow, ManualClock, MemoryStore, Settled};
/// use hubflow::http::RecordingClient;
/// use hubflow::whatsapp::{settle_statuses, MessageKind, StatusAnswer, WhatsAppConnection, WhatsAppTarget};
/// use hubflow::whatsapp::webhook::{sign, WhatsAppWebhook};
/// use hubflow::InboundRequest;
/// use hubflow::http::Method;
/// use secrecy::SecretString;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let connection = WhatsAppConnection::new("106540352242922", SecretString::from("EAAG…"));
/// let flow = Flow::builder("wo-assigned")
///     .target(WhatsAppTarget::new(MessageKind::Template, connection))
///     .build()
///     .unwrap();
/// let store = MemoryStore::new();
/// let now = chrono::Utc::now();
/// let ctx = Context::new(RecordingClient::new(), ManualClock::new(now), store.clone());
/// // The send of `wo:1021` was never recorded: its claim is in flight.
/// store.claim("wo-assigned", "wo:1021", now).await.unwrap();
///
/// let app_secret = SecretString::from("app-secret");
/// let webhook = WhatsAppWebhook::new(SecretString::from("verify-me"), app_secret.clone());
/// let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{
///   "metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
///   "statuses":[{"id":"wamid.A","status":"sent","timestamp":"1750030073","recipient_id":"16505551234","biz_opaque_callback_data":"wo:1021"}]}}]}]}"#;
/// let request = InboundRequest::new(Method::Post, "/hooks/wa", &body[..])
///     .header("X-Hub-Signature-256", sign(&app_secret, body));
/// let events = webhook.events(&request).unwrap();
///
/// let settled = settle_statuses(&flow, &ctx, &events).await;
/// assert!(matches!(settled.statuses[0].answer, StatusAnswer::Settled(Settled::Delivered { .. })));
/// assert!(matches!(store.peek_claim("wo-assigned", "wo:1021").await.unwrap(), Some(hubflow::Claim::Done { .. })));
/// # });
/// ```
pub async fn settle_statuses(
    flow: &Flow,
    ctx: &Context,
    events: &[WebhookEvent],
) -> StatusSettlements {
    let mut statuses = Vec::new();
    let mut batch = Vec::new();
    for event in events {
        let WebhookEvent::Status(status) = event else {
            continue;
        };
        let answer = match status.settlement() {
            Ok(pair) => {
                batch.push(pair);
                // Filled in from the flow's answers below, in the same order.
                None
            }
            Err(reason) => Some(StatusAnswer::NotSettleable(reason)),
        };
        statuses.push((status, answer));
    }
    let SettleReport { results, report } = flow.settle_all(ctx, batch).await;
    let mut results = results.into_iter();
    let statuses = statuses
        .into_iter()
        .map(|(status, answer)| {
            let answer = answer.unwrap_or_else(|| match results.next() {
                Some(Ok(settled)) => StatusAnswer::Settled(settled),
                Some(Err(error)) => StatusAnswer::Store(error),
                // settle_all answers once per pair; were it not to, say so rather than guess.
                None => StatusAnswer::Store(StoreError::corrupt(
                    "the flow gave fewer settlement answers than statuses",
                )),
            });
            StatusSettlement {
                wamid: status.id.clone(),
                status: status.status.clone(),
                key: status.settlement_key().map(str::to_owned),
                answer,
            }
        })
        .collect();
    StatusSettlements { statuses, report }
}

#[cfg(test)]
mod tests;
