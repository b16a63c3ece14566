//! The appointments due in N days: source kind `rm.appointments`.

use std::collections::BTreeMap;
use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Days, NaiveDate, NaiveDateTime, NaiveTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::action::defaults;
use super::client::RmClient;
use super::error::RmError;
use super::pending::appointment_key;
use super::route::Route;
use crate::text::text_of;
use crate::{Batch, Context, Cursor, Record, Source, SourceError};

/// The record kind of an appointment.
pub const APPOINTMENT_KIND: &str = "rm.appointment";
/// The most pages one poll reads; more is taken as a paging loop.
pub const MAX_PAGES: u32 = 1000;
/// The placeholders the appointments route may use.
pub const QUERY_PLACEHOLDERS: &[&str] = &["date", "date_br", "days_ahead", "page", "page_size"];

/// Where each of hubflow's appointment fields is in an ERP row (dotted paths). The
/// defaults are camel-case guesses, not RM facts: map your installation's names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct FieldNames {
    /// The appointment's id (default `id`).
    pub appointment_id: String,
    /// The patient's name (default `patientName`).
    pub patient_name: String,
    /// The patient's mobile number (default `mobile`).
    pub mobile: String,
    /// The patient's birth date (default `birthDate`).
    pub birth_date: String,
    /// When it starts: a date-time with or without offset (without: in the clinic's time
    /// zone), or only a time of day on the queried date (default `startsAt`).
    pub starts_at: String,
    /// The professional (default `professional`).
    pub professional: String,
    /// Where (default `location`).
    pub location: String,
}

impl Default for FieldNames {
    fn default() -> Self {
        FieldNames {
            appointment_id: "id".into(),
            patient_name: "patientName".into(),
            mobile: "mobile".into(),
            birth_date: "birthDate".into(),
            starts_at: "startsAt".into(),
            professional: "professional".into(),
            location: "location".into(),
        }
    }
}

/// How the appointments route pages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum Paging {
    /// One request returns every appointment.
    None,
    /// TOTVS API style: `?page=1&pageSize=100` → `{"hasNext": true, "items": [...]}`; the
    /// next page is asked while `hasNext` is true.
    HasNext {
        /// The page-number parameter (default `page`).
        #[serde(default = "page_param")]
        page_param: String,
        /// The page-size parameter (default `pageSize`).
        #[serde(default = "size_param")]
        size_param: String,
        /// The page size (default 100).
        #[serde(default = "page_size")]
        page_size: u32,
        /// The first page's number (default 1).
        #[serde(default = "first_page")]
        first_page: u32,
    },
}

fn page_param() -> String {
    "page".into()
}
fn size_param() -> String {
    "pageSize".into()
}
fn page_size() -> u32 {
    100
}
fn first_page() -> u32 {
    1
}

impl Default for Paging {
    fn default() -> Self {
        Paging::HasNext {
            page_param: page_param(),
            size_param: size_param(),
            page_size: page_size(),
            first_page: first_page(),
        }
    }
}

/// The appointments on the day `days_ahead` days after today in the clinic's time zone
/// (`1` = all of tomorrow's), from a configurable ERP query. Kind `rm.appointments`.
///
/// Today is taken from the context's clock in `time_zone` (default `America/Sao_Paulo`),
/// so at 22:30 in São Paulo (01:30 UTC the next day) "tomorrow" is still the São Paulo one.
///
/// **The query**: a [`Route`] (default `GET` [`defaults::APPOINTMENTS_PATH`]`?date={date}`)
/// with placeholders `{date}` (`2026-03-03`), `{date_br}` (`03/03/2026`), `{days_ahead}`,
/// and, with [`Paging::HasNext`], the page parameters added to the query. The answer is a
/// JSON array of rows, or an object with the rows at `items_path` (default `items`).
///
/// **Every row becomes a record**, so none is lost: kind [`APPOINTMENT_KIND`], key
/// `rm:appt:<appointment_id>:<date>` (a row without an id gets `rm:appt:?<n>:<date>` and
/// fails later, visibly), `occurred_at` its start, and data:
///
/// | field | value |
/// |---|---|
/// | `appointment_id`, `patient_name`, `mobile`, `birth_date`, `professional`, `location` | from the row by [`FieldNames`]; text, `null` when absent or blank |
/// | `starts_at` | RFC 3339 with the zone's offset, when it could be read; else as given |
/// | `date`, `day`, `time` | the appointment's date `2026-03-03`, `03/03/2026`, and start `08:30` (local) |
/// | `raw` | the row as the ERP gave it |
///
/// Whether a row is sent is the flow's condition (mobile and birth date present: see
/// [`confirmation_condition`](super::confirmation_condition)). The source keeps no cursor:
/// running it twice on a day yields the same keys, which the flow's claims skip.
#[derive(Clone)]
pub struct AppointmentsSource {
    client: RmClient,
    route: Route,
    fields: FieldNames,
    items_path: String,
    paging: Paging,
    days_ahead: u32,
    time_zone: chrono_tz::Tz,
}

impl AppointmentsSource {
    /// Tomorrow's appointments (in São Paulo) from the default route, paged `hasNext` style.
    pub fn new(client: RmClient) -> Self {
        AppointmentsSource {
            client,
            route: Route::get(defaults::APPOINTMENTS_PATH).query("date", "{date}"),
            fields: FieldNames::default(),
            items_path: "items".into(),
            paging: Paging::default(),
            days_ahead: 1,
            time_zone: chrono_tz::America::Sao_Paulo,
        }
    }

    /// The query route.
    #[must_use]
    pub fn route(mut self, route: Route) -> Self {
        self.route = route;
        self
    }

    /// Where the fields are in a row.
    #[must_use]
    pub fn fields(mut self, fields: FieldNames) -> Self {
        self.fields = fields;
        self
    }

    /// Where the rows are in an answer object (dotted path; default `items`).
    #[must_use]
    pub fn items_path(mut self, path: impl Into<String>) -> Self {
        self.items_path = path.into();
        self
    }

    /// How the route pages.
    #[must_use]
    pub fn paging(mut self, paging: Paging) -> Self {
        self.paging = paging;
        self
    }

    /// How many days ahead (RM's "Quantidade de dias anteriores à consulta"; `1` = tomorrow).
    #[must_use]
    pub fn days_ahead(mut self, days: u32) -> Self {
        self.days_ahead = days;
        self
    }

    /// The clinic's time zone.
    #[must_use]
    pub fn time_zone(mut self, zone: chrono_tz::Tz) -> Self {
        self.time_zone = zone;
        self
    }

    /// The day queried at `now`: today in the time zone plus `days_ahead`.
    ///
    /// ```
    /// use hubflow::rm::{AppointmentsSource, RmAuth, RmClient};
    /// # let client = RmClient::new("https://erp.example".parse().unwrap(), RmAuth::Bearer("t".to_owned().into()));
    /// let source = AppointmentsSource::new(client).days_ahead(1);
    /// // 01:30 UTC on 3 March is 22:30 on 2 March in São Paulo: tomorrow is 3 March.
    /// let now = "2026-03-03T01:30:00Z".parse().unwrap();
    /// assert_eq!(source.target_date(now).to_string(), "2026-03-03");
    /// ```
    pub fn target_date(&self, now: DateTime<Utc>) -> NaiveDate {
        let today = now.with_timezone(&self.time_zone).date_naive();
        today
            .checked_add_days(Days::new(u64::from(self.days_ahead)))
            .unwrap_or(today)
    }

    fn values(&self, date: NaiveDate, page: Option<(u32, u32)>) -> BTreeMap<String, Value> {
        let mut values = BTreeMap::new();
        values.insert("date".into(), json!(date.to_string()));
        values.insert("date_br".into(), json!(date.format("%d/%m/%Y").to_string()));
        values.insert("days_ahead".into(), json!(self.days_ahead));
        if let Some((page, size)) = page {
            values.insert("page".into(), json!(page));
            values.insert("page_size".into(), json!(size));
        }
        values
    }

    /// One page's rows and whether there is another.
    async fn page(
        &self,
        ctx: &Context,
        date: NaiveDate,
        page: Option<u32>,
    ) -> Result<(Vec<Value>, bool), RmError> {
        let mut route = self.route.clone();
        let mut paging = None;
        if let (
            Some(number),
            Paging::HasNext {
                page_param,
                size_param,
                page_size,
                ..
            },
        ) = (page, &self.paging)
        {
            route = route
                .query(page_param.clone(), number.to_string())
                .query(size_param.clone(), page_size.to_string());
            paging = Some((number, *page_size));
        }
        let request = route.request(&self.client, &self.values(date, paging))?;
        let (_, answer) = self.client.send_json(ctx, &request).await?;
        let where_ = format!("page {}", page.unwrap_or(1));
        let rows = match &answer {
            Value::Array(rows) => rows.clone(),
            Value::Object(_) => match crate::record::lookup(&answer, &self.items_path) {
                Some(Value::Array(rows)) => rows.clone(),
                Some(Value::Null) | None => Vec::new(),
                Some(_) => {
                    return Err(RmError::Response {
                        message: format!("{where_}: `{}` is not a list", self.items_path),
                    })
                }
            },
            Value::Null => Vec::new(),
            _ => {
                return Err(RmError::Response {
                    message: format!("{where_}: the answer is neither a list nor an object"),
                })
            }
        };
        let has_next = match answer.get("hasNext") {
            Some(Value::Bool(b)) => *b,
            Some(Value::String(s)) => s.eq_ignore_ascii_case("true"),
            _ => false,
        };
        Ok((rows, has_next))
    }

    /// A row as an `rm.appointment` record.
    pub fn to_record(&self, row: &Value, date: NaiveDate, position: usize) -> Record {
        let get = |path: &str| {
            crate::record::lookup(row, path)
                .filter(|v| !v.is_null())
                .map(text_of)
                .map(|s| s.trim().to_owned())
                .filter(|s| !s.is_empty())
        };
        let id = get(&self.fields.appointment_id);
        let start_text = get(&self.fields.starts_at);
        let start = start_text
            .as_deref()
            .and_then(|s| parse_start(s, date, self.time_zone));
        let local = start.map(|s| s.with_timezone(&self.time_zone));
        let day = local.map(|l| l.date_naive()).unwrap_or(date);
        let mut data = Map::new();
        data.insert("appointment_id".into(), json!(id));
        for (name, path) in [
            ("patient_name", &self.fields.patient_name),
            ("mobile", &self.fields.mobile),
            ("birth_date", &self.fields.birth_date),
            ("professional", &self.fields.professional),
            ("location", &self.fields.location),
        ] {
            data.insert(name.into(), json!(get(path)));
        }
        data.insert(
            "starts_at".into(),
            match local {
                Some(l) => json!(l.to_rfc3339()),
                None => json!(start_text),
            },
        );
        data.insert("date".into(), json!(day.to_string()));
        data.insert("day".into(), json!(day.format("%d/%m/%Y").to_string()));
        data.insert(
            "time".into(),
            json!(local.map(|l| l.format("%H:%M").to_string())),
        );
        data.insert("raw".into(), row.clone());
        let key = match &id {
            Some(id) => appointment_key(id, day),
            None => format!("rm:appt:?{position}:{day}"),
        };
        let record = Record::new(key, APPOINTMENT_KIND, Value::Object(data));
        match start {
            Some(start) => record.occurred_at(start),
            None => record,
        }
    }
}

/// Reads a start: RFC 3339; a naive date-time (`2026-03-03T08:30:00`, `2026-03-03 08:30`)
/// in `zone`; or a time of day (`08:30`) on `date`.
fn parse_start(text: &str, date: NaiveDate, zone: chrono_tz::Tz) -> Option<DateTime<Utc>> {
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
    .or_else(|| {
        ["%H:%M:%S", "%H:%M"]
            .iter()
            .find_map(|f| NaiveTime::parse_from_str(text, f).ok())
            .map(|t| date.and_time(t))
    })?;
    zone.from_local_datetime(&naive)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
}

impl fmt::Debug for AppointmentsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppointmentsSource")
            .field("client", &self.client)
            .field("route", &self.route)
            .field("days_ahead", &self.days_ahead)
            .field("time_zone", &self.time_zone)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl Source for AppointmentsSource {
    async fn poll(&self, ctx: &Context, _cursor: Option<&Cursor>) -> Result<Batch, SourceError> {
        let date = self.target_date(ctx.clock().now());
        let mut rows = Vec::new();
        match &self.paging {
            Paging::None => rows = self.page(ctx, date, None).await?.0,
            Paging::HasNext { first_page, .. } => {
                let mut page = *first_page;
                loop {
                    let (mut found, has_next) = self.page(ctx, date, Some(page)).await?;
                    let empty = found.is_empty();
                    rows.append(&mut found);
                    if !has_next || empty {
                        break;
                    }
                    if page - first_page + 1 >= MAX_PAGES {
                        return Err(SourceError::Response {
                            provider: super::error::PROVIDER.to_owned(),
                            message: format!(
                                "more than {MAX_PAGES} pages of appointments for {date}: the paging \
                                 parameters are probably ignored by the route"
                            ),
                        });
                    }
                    page += 1;
                }
            }
        }
        let records = rows
            .iter()
            .enumerate()
            .map(|(i, row)| self.to_record(row, date, i))
            .collect();
        Ok(Batch::new(records, None))
    }
}
