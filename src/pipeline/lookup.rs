//! Lookups: a record enriched from a directory between the condition and the mapper.
//!
//! Sources know what happened, not always who to tell: a Fracttal work-order row names the
//! responsible (`"Jonas Campos"`), not their phone. A [`Lookup`] reads one field of the
//! record (`responsible`), finds its entry in a [`Directory`] (a map written in the spec,
//! the host's own function, an HTTP JSON API) and puts the entry into the record
//! (`responsible_phone`), where the mapper reads it like any field.
//!
//! ```json
//! "lookup": {
//!   "field": "responsible",
//!   "into": "responsible_phone",
//!   "from": {"map": {"entries": {"Jonas Campos": "5511999991234"}, "case_insensitive": true}},
//!   "on_missing": "skip",
//!   "cache_seconds": 300
//! }
//! ```
//!
//! # Where it runs, and what it answers
//!
//! A flow runs its lookups, in order, after its condition held and before its mapper: a
//! record that is skipped costs no lookup, and a later lookup may read what an earlier one
//! added. When there is no entry (the field is missing or empty, or the directory has
//! nothing for it) the lookup's [`OnMissing`] policy decides: the record is skipped with the
//! reason (the default) or fails, permanently, as a dead letter. When the directory cannot
//! answer (an HTTP lookup's timeout, a 503) the flow retries it with its delivery policy's
//! retry rules; a record whose lookup still fails ends failed at the
//! [`Stage::Lookup`](crate::Stage::Lookup) stage, retryable when the error is, with nothing
//! sent.
//!
//! # The cache
//!
//! Every lookup keeps the entries it found, and the keys it did not find, for its cache
//! time (5 minutes by default; [`Lookup::cache_for`]), measured on the context's clock, and
//! at most [`Lookup::cache_capacity`] keys: a batch of forty work orders for one technician
//! asks the directory once, also when they are in flight together (records waiting for the
//! same key share one question). The cache belongs to the lookup (its flow's clones share
//! it); no state is global. Errors are not cached.
//!
//! # Dry runs
//!
//! A [dry run](crate::Flow::dry_run) performs its lookups for real, through the host's HTTP
//! client (directories are read, never written), and shows each one's result in
//! [`DryRunRecord::lookups`](crate::DryRunRecord::lookups).

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_util::future::{BoxFuture, FutureExt, Shared};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::record::json_kind;
use crate::{Context, DeliveryError, Record};

/// The default time a lookup keeps what it found: 5 minutes.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(300);

/// The default number of keys a lookup's cache holds.
pub const DEFAULT_CACHE_CAPACITY: usize = 10_000;

/// Where a [`Lookup`] finds entries: a map ([`MapDirectory`]), a host function
/// ([`directory_fn`]), an HTTP JSON API (`HttpDirectory` of the `http` feature), or any
/// type of the host's.
///
/// ```
/// use hubflow::{Context, DeliveryError};
/// use hubflow::lookup::Directory;
/// use serde_json::{json, Value};
///
/// /// The host's own staff table, read through its database pool.
/// struct Staff;
///
/// #[async_trait::async_trait]
/// impl Directory for Staff {
///     async fn find(&self, _ctx: &Context, name: &str) -> Result<Option<Value>, DeliveryError> {
///         // e.g. `SELECT phone FROM staff WHERE name = $1`
///         Ok((name == "Jonas Campos").then(|| json!("5511999991234")))
///     }
///
///     fn describe(&self) -> String {
///         "the staff table".to_owned()
///     }
/// }
/// ```
#[async_trait]
pub trait Directory: Send + Sync {
    /// The entry for `key`; `Ok(None)` when the directory has none. An error is the
    /// directory failing to answer: its [class](DeliveryError::class) says whether the flow
    /// retries.
    async fn find(&self, ctx: &Context, key: &str) -> Result<Option<Value>, DeliveryError>;

    /// What the directory is, for skip reasons and dry runs: `a map of 12 entries`,
    /// `GET https://hr.example.com/api/people`. Never a credential.
    fn describe(&self) -> String {
        "the directory".to_owned()
    }
}

/// A directory held in memory: the `map` kind of flow specs.
///
/// ```
/// use hubflow::lookup::MapDirectory;
/// use serde_json::json;
///
/// let staff = MapDirectory::new([
///     ("Jonas Campos", json!("5511999991234")),
///     ("Marta Lima", json!({"phone": "5521988884321", "language": "pt_BR"})),
/// ])
/// .case_insensitive(true);
/// assert_eq!(staff.get(" jonas campos "), Some(&json!("5511999991234")));
/// assert_eq!(staff.get("Rafael Costa"), None);
/// ```
#[derive(Debug, Clone, Default)]
pub struct MapDirectory {
    entries: HashMap<String, Value>,
    case_insensitive: bool,
}

impl MapDirectory {
    /// A directory of these entries, matched exactly.
    pub fn new<K: Into<String>>(entries: impl IntoIterator<Item = (K, Value)>) -> Self {
        MapDirectory {
            entries: entries.into_iter().map(|(k, v)| (k.into(), v)).collect(),
            case_insensitive: false,
        }
        .normalized()
    }

    /// Matches keys ignoring case and surrounding spaces (`"jonas campos "` finds
    /// `"Jonas Campos"`), as people's names are typed in forms.
    #[must_use]
    pub fn case_insensitive(mut self, yes: bool) -> Self {
        self.case_insensitive = yes;
        self.normalized()
    }

    /// The entry for `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries.get(self.normalize(key).as_ref())
    }

    /// How many entries it has.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it has no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn normalize<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        if self.case_insensitive {
            std::borrow::Cow::Owned(key.trim().to_lowercase())
        } else {
            std::borrow::Cow::Borrowed(key)
        }
    }

    /// The entries under their normalized keys; a later duplicate (after normalizing)
    /// replaces an earlier one.
    fn normalized(mut self) -> Self {
        if self.case_insensitive {
            self.entries = std::mem::take(&mut self.entries)
                .into_iter()
                .map(|(k, v)| (k.trim().to_lowercase(), v))
                .collect();
        }
        self
    }

    /// Builds the directory from its spec config: `{"entries": {…}, "case_insensitive": true}`.
    pub fn from_spec(
        cx: &crate::spec::BuildContext<'_>,
        config: &Value,
    ) -> Result<Self, crate::SpecErrors> {
        let config: MapConfig = cx.deserialize(config)?;
        Ok(MapDirectory::new(config.entries).case_insensitive(config.case_insensitive))
    }
}

/// The config of the `map` directory kind.
#[derive(Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
struct MapConfig {
    /// The entries: each key (a value of the looked-up field) with what goes into the record.
    entries: serde_json::Map<String, Value>,
    /// Match keys ignoring case and surrounding spaces.
    #[serde(default)]
    case_insensitive: bool,
}

/// Registers the `map` directory kind, with its config schema under feature `schema`.
pub(crate) fn register(registry: &mut crate::spec::Registry) {
    registry.register_directory(MAP_KIND, |cx, config| {
        Ok(Arc::new(MapDirectory::from_spec(cx, config)?) as Arc<dyn Directory>)
    });
    #[cfg(feature = "schema")]
    registry.set_config_schema_of::<MapConfig>(crate::spec::KindRole::Directory, MAP_KIND);
}

#[async_trait]
impl Directory for MapDirectory {
    async fn find(&self, _ctx: &Context, key: &str) -> Result<Option<Value>, DeliveryError> {
        Ok(self.get(key).cloned())
    }

    fn describe(&self) -> String {
        match self.entries.len() {
            1 => "a map of 1 entry".to_owned(),
            n => format!("a map of {n} entries"),
        }
    }
}

/// The kind name of [`MapDirectory`] in flow specs.
pub const MAP_KIND: &str = "map";

/// A directory from a host function that answers at once (a table the host keeps in
/// memory, a config file it loaded). For one that does I/O, implement [`Directory`].
///
/// ```
/// use hubflow::lookup::{directory_fn, Lookup};
/// use serde_json::json;
///
/// let phones = directory_fn("the technicians file", |name| {
///     (name == "Jonas Campos").then(|| json!("5511999991234"))
/// });
/// let lookup = Lookup::new("responsible", "responsible_phone", phones);
/// assert_eq!(lookup.into_field(), "responsible_phone");
/// ```
pub fn directory_fn<F>(description: impl Into<String>, find: F) -> DirectoryFn<F>
where
    F: Fn(&str) -> Option<Value> + Send + Sync,
{
    DirectoryFn {
        description: description.into(),
        find,
    }
}

/// A directory made by [`directory_fn`].
pub struct DirectoryFn<F> {
    description: String,
    find: F,
}

#[async_trait]
impl<F> Directory for DirectoryFn<F>
where
    F: Fn(&str) -> Option<Value> + Send + Sync,
{
    async fn find(&self, _ctx: &Context, key: &str) -> Result<Option<Value>, DeliveryError> {
        Ok((self.find)(key))
    }

    fn describe(&self) -> String {
        self.description.clone()
    }
}

impl<F> fmt::Debug for DirectoryFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DirectoryFn")
            .field("description", &self.description)
            .finish_non_exhaustive()
    }
}

/// What a lookup does with a record it finds no entry for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum OnMissing {
    /// Skip the record, with the reason: nobody to tell is not an error (the default).
    #[default]
    Skip,
    /// Fail the record, permanently: it is kept as a dead letter for a person to fix the
    /// directory and replay it.
    Fail,
}

/// One enrichment step of a flow: the entry for the record's `field` in a [`Directory`],
/// put into the record at `into`. See the [module docs](self).
///
/// ```
/// use hubflow::lookup::{Lookup, MapDirectory, OnMissing};
/// use hubflow::{Context, Flow, ManualClock, MemoryStore, Outcome, Record};
/// use hubflow::http::RecordingClient;
/// use hubflow::http_target::HttpTarget;
/// use serde_json::json;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let staff = MapDirectory::new([("Jonas Campos", json!("5511999991234"))]);
/// let flow = Flow::builder("assigned")
///     .lookup(Lookup::new("responsible", "phone", staff).on_missing(OnMissing::Skip))
///     .map(hubflow::FieldMap::new(json!({"to": "{{ phone }}", "folio": "{{ wo_folio }}"})).unwrap())
///     .target(HttpTarget::new("https://ops.example.com/hook".parse().unwrap()))
///     .build()
///     .unwrap();
/// let http = RecordingClient::new();
/// let ctx = Context::new(http.clone(), ManualClock::new(chrono::Utc::now()), MemoryStore::new());
/// let report = flow.process(&ctx, vec![
///     Record::new("a", "wo", json!({"responsible": "Jonas Campos", "wo_folio": "OT-1"})),
///     Record::new("b", "wo", json!({"responsible": "Rafael Costa", "wo_folio": "OT-2"})),
/// ]).await;
/// assert_eq!(http.requests()[0].json_body().unwrap()["to"], "5511999991234");
/// let Outcome::Skipped { reason } = &report.records[1].outcome else { panic!() };
/// assert_eq!(reason, "lookup `phone`: no entry for `Rafael Costa` in a map of 1 entry");
/// # });
/// ```
#[derive(Clone)]
pub struct Lookup {
    field: String,
    into: String,
    directory: Arc<dyn Directory>,
    on_missing: OnMissing,
    ttl: Duration,
    capacity: usize,
    cache: Arc<Mutex<Cache>>,
}

impl Lookup {
    /// Looks up the value of the record's `field` (a dotted path) in `directory` and puts
    /// the entry at `into` (a dotted path; missing objects on the way are created).
    pub fn new(
        field: impl Into<String>,
        into: impl Into<String>,
        directory: impl Directory + 'static,
    ) -> Self {
        Lookup::with_directory(field, into, Arc::new(directory))
    }

    /// [`Lookup::new`] with a shared directory.
    pub fn with_directory(
        field: impl Into<String>,
        into: impl Into<String>,
        directory: Arc<dyn Directory>,
    ) -> Self {
        Lookup {
            field: field.into(),
            into: into.into(),
            directory,
            on_missing: OnMissing::default(),
            ttl: DEFAULT_CACHE_TTL,
            capacity: DEFAULT_CACHE_CAPACITY,
            cache: Arc::new(Mutex::new(Cache::default())),
        }
    }

    /// What happens to a record without an entry (default: [`OnMissing::Skip`]).
    #[must_use]
    pub fn on_missing(mut self, policy: OnMissing) -> Self {
        self.on_missing = policy;
        self
    }

    /// How long an answer is kept, found or not (default 5 minutes; zero: never kept, the
    /// directory is asked for every record).
    #[must_use]
    pub fn cache_for(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// How many keys the cache holds at most (default 10,000); when full, the oldest
    /// entry makes room.
    #[must_use]
    pub fn cache_capacity(mut self, keys: usize) -> Self {
        self.capacity = keys;
        self
    }

    /// The record field whose value is looked up.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Where the entry goes in the record.
    pub fn into_field(&self) -> &str {
        &self.into
    }

    /// The policy for a record without an entry.
    pub fn missing_policy(&self) -> OnMissing {
        self.on_missing
    }

    /// What the directory is.
    pub fn describe(&self) -> String {
        self.directory.describe()
    }

    /// Problems with the step's own settings, as `(field, message)` pairs.
    pub(crate) fn problems(&self) -> Vec<(&'static str, &'static str)> {
        let mut problems = Vec::new();
        if self.field.trim().is_empty() {
            problems.push(("field", "the field to look up is empty"));
        }
        if self.into.trim().is_empty() {
            problems.push(("into", "the field to put the entry in is empty"));
        }
        problems
    }

    /// The key the record gives this lookup: its field's text (a number as written).
    fn key_of(&self, record: &Record) -> Result<String, String> {
        match record.get(&self.field) {
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.clone()),
            Some(Value::String(_)) => Err(format!("`{}` is empty", self.field)),
            Some(Value::Number(n)) => Ok(n.to_string()),
            None | Some(Value::Null) => Err(format!("the record has no `{}`", self.field)),
            Some(other) => Err(format!(
                "`{}` is {}, not a text to look up",
                self.field,
                json_kind(other)
            )),
        }
    }

    /// Asks the directory (or the cache) for the record's entry, once. `Ok` carries what
    /// was found, for the record and the trace; `Err` is the directory's error.
    pub(crate) async fn find(
        &self,
        ctx: &Context,
        record: &Record,
    ) -> Result<LookupResult, Arc<DeliveryError>> {
        let key = match self.key_of(record) {
            Ok(key) => key,
            Err(why) => {
                return Ok(LookupResult {
                    into: self.into.clone(),
                    key: None,
                    found: None,
                    cached: false,
                    missing: Some(why),
                })
            }
        };
        let now = ctx.clock().now();
        let (found, from_cache) = match self.cached_or_pending(ctx, &key, now) {
            Answer::Cached(found) => (found, true),
            Answer::Pending(pending) => {
                let answer = pending.await;
                self.settle(&key, &answer, now);
                (answer?, false)
            }
        };
        let missing = match &found {
            None | Some(Value::Null) => Some(format!(
                "no entry for `{key}` in {}",
                self.directory.describe()
            )),
            Some(_) => None,
        };
        Ok(LookupResult {
            into: self.into.clone(),
            key: Some(key),
            found: found.filter(|v| !v.is_null()),
            cached: from_cache,
            missing,
        })
    }

    fn caches(&self) -> bool {
        !self.ttl.is_zero() && self.capacity > 0
    }

    /// The cached answer for `key`, or the question to the directory: the one already
    /// asked for it by a concurrent record (so forty records for one person in flight at
    /// once ask once), or a new one.
    fn cached_or_pending(&self, ctx: &Context, key: &str, now: DateTime<Utc>) -> Answer {
        let ask = || {
            let directory = self.directory.clone();
            let ctx = ctx.clone();
            let key = key.to_owned();
            async move { directory.find(&ctx, &key).await.map_err(Arc::new) }
                .boxed()
                .shared()
        };
        if !self.caches() {
            return Answer::Pending(ask());
        }
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((at, found)) = cache.entries.get(key) {
            if crate::clock::add(*at, self.ttl) > now {
                return Answer::Cached(found.clone());
            }
        }
        let pending = cache
            .asking
            .entry(key.to_owned())
            .or_insert_with(ask)
            .clone();
        Answer::Pending(pending)
    }

    /// Keeps an answer (not an error) and forgets the question.
    fn settle(
        &self,
        key: &str,
        answer: &Result<Option<Value>, Arc<DeliveryError>>,
        now: DateTime<Utc>,
    ) {
        if !self.caches() {
            return;
        }
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        cache.asking.remove(key);
        if let Ok(found) = answer {
            cache.insert(key, found.clone(), now, self.capacity);
        }
    }
}

impl fmt::Debug for Lookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lookup")
            .field("field", &self.field)
            .field("into", &self.into)
            .field("directory", &self.directory.describe())
            .field("on_missing", &self.on_missing)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

/// A directory's answer to a question, shared by every record waiting for it.
type Asked = Shared<BoxFuture<'static, Result<Option<Value>, Arc<DeliveryError>>>>;

/// What a lookup has for a key: an answer kept, or a question to wait for.
enum Answer {
    Cached(Option<Value>),
    Pending(Asked),
}

/// Answers kept by key with the instant they were asked, and the order they came in, so
/// that a full cache drops the oldest; and the questions being asked.
#[derive(Default)]
struct Cache {
    entries: HashMap<String, (DateTime<Utc>, Option<Value>)>,
    order: VecDeque<String>,
    asking: HashMap<String, Asked>,
}

impl Cache {
    fn insert(&mut self, key: &str, found: Option<Value>, now: DateTime<Utc>, capacity: usize) {
        if let Some(entry) = self.entries.get_mut(key) {
            *entry = (now, found);
            return;
        }
        while self.entries.len() >= capacity {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.entries.insert(key.to_owned(), (now, found));
        self.order.push_back(key.to_owned());
    }
}

/// What one lookup found for a record: what a dry run shows
/// ([`DryRunRecord::lookups`](crate::DryRunRecord::lookups)).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct LookupResult {
    /// Where the entry went in the record.
    pub into: String,
    /// The key looked up; `None` when the record gave none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// The entry found; `None` when there was none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub found: Option<Value>,
    /// Whether the answer came from the lookup's cache.
    pub cached: bool,
    /// Why nothing was found, when nothing was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

impl LookupResult {
    /// Puts the entry found into `record` at `into`, creating the objects on the way.
    /// `Err` says why it cannot: a value on the way that is not an object.
    pub(crate) fn apply(&self, record: &mut Record) -> Result<(), String> {
        let Some(found) = &self.found else {
            return Ok(());
        };
        set_path(&mut record.data, &self.into, found.clone())
    }
}

/// Sets the value at a dotted path, creating missing objects (a `null` counts as missing).
fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), String> {
    let (parent, last) = match path.rsplit_once('.') {
        Some((parent, last)) => (Some(parent), last),
        None => (None, path),
    };
    let mut at = root;
    if let Some(parent) = parent {
        for segment in parent.split('.') {
            if at.is_null() {
                *at = Value::Object(serde_json::Map::new());
            }
            at = match at {
                Value::Object(map) => map
                    .entry(segment.to_owned())
                    .or_insert(Value::Object(serde_json::Map::new())),
                other => {
                    return Err(format!(
                        "`{path}` runs through {}, not an object",
                        json_kind(other)
                    ))
                }
            };
        }
    }
    if at.is_null() {
        *at = Value::Object(serde_json::Map::new());
    }
    match at {
        Value::Object(map) => {
            map.insert(last.to_owned(), value);
            Ok(())
        }
        other => Err(format!(
            "`{path}` runs through {}, not an object",
            json_kind(other)
        )),
    }
}

/// Why a lookup stopped a record.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// There was no entry and the lookup's policy is [`OnMissing::Fail`]; or the entry
    /// could not be put into the record.
    #[error("lookup `{into}`: {reason}")]
    Missing {
        /// The lookup's `into` field.
        into: String,
        /// Why, in words.
        reason: String,
    },
    /// The directory did not answer, after the flow's retries.
    #[error("lookup `{into}`: {error}")]
    Directory {
        /// The lookup's `into` field.
        into: String,
        /// The directory's error (shared: plans are cloned).
        error: Arc<DeliveryError>,
    },
}

impl PartialEq for LookupError {
    /// Equal when they say the same: the directory's error is compared by its message.
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (
                LookupError::Missing { into, reason },
                LookupError::Missing {
                    into: other_into,
                    reason: other_reason,
                },
            ) => into == other_into && reason == other_reason,
            (
                LookupError::Directory { into, error },
                LookupError::Directory {
                    into: other_into,
                    error: other_error,
                },
            ) => into == other_into && error.to_string() == other_error.to_string(),
            _ => false,
        }
    }
}

/// Runs `lookups` on `record` in order: the record enriched and each one's result, or the
/// reason to skip it, or the error that fails it. `retry` decides on directory errors.
pub(crate) async fn enrich(
    lookups: &[Lookup],
    ctx: &Context,
    record: &mut Record,
    retry: &crate::RetryPolicy,
    results: &mut Vec<LookupResult>,
) -> Result<Option<String>, LookupError> {
    for lookup in lookups {
        let mut attempt = 1;
        let result = loop {
            match lookup.find(ctx, record).await {
                Ok(result) => break result,
                Err(error) => {
                    match retry.decide(
                        attempt,
                        error.as_ref(),
                        crate::retry::jitter(&record.key, attempt),
                    ) {
                        crate::RetryDecision::Retry { after } => {
                            if !after.is_zero() {
                                ctx.clock().sleep(after).await;
                            }
                            attempt += 1;
                        }
                        crate::RetryDecision::GiveUp => {
                            return Err(LookupError::Directory {
                                into: lookup.into.clone(),
                                error,
                            })
                        }
                    }
                }
            }
        };
        if let Err(reason) = result.apply(record) {
            return Err(LookupError::Missing {
                into: lookup.into.clone(),
                reason,
            });
        }
        let missing = result.missing.clone();
        results.push(result);
        if let Some(reason) = missing {
            return match lookup.on_missing {
                OnMissing::Skip => Ok(Some(format!("lookup `{}`: {reason}", lookup.into))),
                OnMissing::Fail => Err(LookupError::Missing {
                    into: lookup.into.clone(),
                    reason,
                }),
            };
        }
    }
    Ok(None)
}

// The tests deliver through the HTTP target.
#[cfg(all(test, feature = "http"))]
mod tests;
