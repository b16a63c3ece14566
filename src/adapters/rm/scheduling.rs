//! The scheduling port: the ERP operations a booking conversation calls, each mapped by
//! configuration to a route of the installation (kind `rm.scheduling`, a conversation
//! [`Service`]).
//!
//! RM's healthcare scheduling routes are not public and differ per installation, so
//! nothing here assumes them: each operation is a [`Route`] (a "consulta SQL" sentence for
//! reads, a DataServer or a REST route for writes) plus where the answer's rows are and
//! which of their fields are the port's. `docs/rm.md` documents every operation's input
//! and answer, with the mapping for an RM "consulta SQL" installation and for a plain REST
//! ERP.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::action::IDEMPOTENCY_HEADER;
use super::client::RmClient;
use super::error::RmError;
use super::route::Route;
use crate::conversation::{Service, ServiceCall, ServiceError};
use crate::http::ProviderFake;
use crate::record::json_kind;
use crate::{Context, SpecError, SpecErrors};

/// Service kind: the scheduling port over an RM connection.
pub const SCHEDULING_KIND: &str = "rm.scheduling";

/// The port's operations: each one's name, the inputs its route may use, and whether it
/// writes (a write carries an `Idempotency-Key`).
pub const OPERATIONS: [Operation; 7] = [
    Operation {
        name: "find_patient",
        inputs: &["cpf", "birth_date", "phone"],
        writes: false,
    },
    Operation {
        name: "list_specialties",
        inputs: &[],
        writes: false,
    },
    Operation {
        name: "list_professionals",
        inputs: &["specialty"],
        writes: false,
    },
    Operation {
        name: "list_slots",
        inputs: &["specialty", "professional", "date_from", "date_to"],
        writes: false,
    },
    Operation {
        name: "book",
        inputs: &["slot", "patient", "specialty", "professional", "starts_at"],
        writes: true,
    },
    Operation {
        name: "list_appointments",
        inputs: &["patient", "date_from", "date_to"],
        writes: false,
    },
    Operation {
        name: "cancel",
        inputs: &["appointment", "patient"],
        writes: true,
    },
];

/// One operation of the port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operation {
    /// Its name, as a conversation calls it (`erp.list_slots`).
    pub name: &'static str,
    /// The inputs its route may name as `{placeholders}`.
    pub inputs: &'static [&'static str],
    /// Whether it changes the ERP.
    pub writes: bool,
}

/// How one operation is performed: the route, where the rows of its answer are, and which
/// fields of each row are the port's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct OperationMap {
    /// The call; `{name}` placeholders take the operation's inputs.
    pub route: Route,
    /// The JSON pointer of the array of rows in the answer (`/items`, `/data/rows`); empty
    /// (the default): the answer itself.
    #[serde(default)]
    pub rows: String,
    /// The port's field names and the dotted path of each in a row of the ERP's answer
    /// (`{"id": "CODHORARIO", "time": "HORA"}`). The ERP's row is kept beside them as
    /// `erp`. Without it, rows are passed on as they are.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    /// The answer is one record (a patient, a booking): the first row, or `null` when
    /// there is none.
    #[serde(default)]
    pub single: bool,
    /// HTTP statuses that mean "the world changed" (the slot was taken): the
    /// conversation's `on_conflict` handles them. Default `[409]`.
    #[serde(default = "conflict_statuses")]
    pub conflict: Vec<u16>,
}

fn conflict_statuses() -> Vec<u16> {
    vec![409]
}

impl OperationMap {
    /// An operation that answers with its rows as they are.
    pub fn new(route: Route) -> Self {
        OperationMap {
            route,
            rows: String::new(),
            fields: BTreeMap::new(),
            single: false,
            conflict: conflict_statuses(),
        }
    }

    /// Where the rows are in the answer (a JSON pointer).
    #[must_use]
    pub fn rows(mut self, pointer: impl Into<String>) -> Self {
        self.rows = pointer.into();
        self
    }

    /// Maps a port field from a field of the ERP's row.
    #[must_use]
    pub fn field(mut self, port: impl Into<String>, erp: impl Into<String>) -> Self {
        self.fields.insert(port.into(), erp.into());
        self
    }

    /// The answer is one record.
    #[must_use]
    pub fn single(mut self) -> Self {
        self.single = true;
        self
    }

    /// Reads an answer into the port's shape.
    fn read(&self, answer: Value) -> Result<Value, ServiceError> {
        let at = if self.rows.is_empty() {
            Some(&answer)
        } else {
            answer.pointer(&self.rows)
        };
        let rows = match at {
            Some(Value::Array(rows)) => rows.clone(),
            Some(Value::Null) | None if self.single => Vec::new(),
            Some(Value::Object(_)) if self.single => vec![at.cloned().unwrap_or(Value::Null)],
            Some(other) => {
                return Err(ServiceError::Unreadable(format!(
                    "expected an array of rows at `{}`, not {}",
                    if self.rows.is_empty() {
                        "/"
                    } else {
                        &self.rows
                    },
                    json_kind(other)
                )))
            }
            None => {
                return Err(ServiceError::Unreadable(format!(
                    "the answer has nothing at `{}`",
                    self.rows
                )))
            }
        };
        let rows: Vec<Value> = rows.into_iter().map(|row| self.row(row)).collect();
        if self.single {
            return Ok(rows.into_iter().next().unwrap_or(Value::Null));
        }
        Ok(Value::Array(rows))
    }

    fn row(&self, row: Value) -> Value {
        if self.fields.is_empty() {
            return row;
        }
        let mut out = Map::new();
        for (port, path) in &self.fields {
            let value = crate::record::lookup(&row, path)
                .cloned()
                .unwrap_or(Value::Null);
            out.insert(port.clone(), value);
        }
        out.insert("erp".into(), row);
        Value::Object(out)
    }
}

/// The scheduling port over an [`RmClient`]: kind `rm.scheduling`. Only the operations
/// given a map exist; a conversation calling another is refused when it is built.
///
/// ```
/// use hubflow::conversation::Service;
/// use hubflow::rm::{OperationMap, RmAuth, RmClient, Route, SchedulingService};
/// use secrecy::SecretString;
///
/// let client = RmClient::new(
///     "https://clinica.rm.cloudtotvs.com.br:8051".parse().unwrap(),
///     RmAuth::Bearer(SecretString::from("token")),
/// );
/// let erp = SchedulingService::new(client).operation(
///     "list_specialties",
///     OperationMap::new(Route::get(
///         "/api/framework/v1/consultaSQLServer/RealizaConsulta/HF.ESPEC/1/G/",
///     ))
///     .field("id", "CODESPECIALIDADE")
///     .field("name", "DESCRICAO"),
/// ).unwrap();
/// assert_eq!(erp.operations(), ["list_specialties"]);
/// ```
#[derive(Clone)]
pub struct SchedulingService {
    client: RmClient,
    operations: BTreeMap<String, OperationMap>,
}

impl fmt::Debug for SchedulingService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SchedulingService")
            .field("client", &self.client)
            .field("operations", &self.operations.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SchedulingService {
    /// A port with no operations yet.
    pub fn new(client: RmClient) -> Self {
        SchedulingService {
            client,
            operations: BTreeMap::new(),
        }
    }

    /// Maps an operation of the port; refused when the name is not one of
    /// [`OPERATIONS`] or its route names a placeholder that is not one of its inputs.
    pub fn operation(
        mut self,
        name: &str,
        map: OperationMap,
    ) -> Result<SchedulingService, SpecErrors> {
        let at = format!("/operations/{}", crate::pointer_token(name));
        let Some(operation) = OPERATIONS.iter().find(|o| o.name == name) else {
            let names: Vec<&str> = OPERATIONS.iter().map(|o| o.name).collect();
            return Err(SpecError::new(
                at,
                format!("`{name}` is not an operation of the scheduling port"),
            )
            .with_hint(format!("operations: {}", names.join(", ")))
            .into());
        };
        map.route.check(&format!("{at}/route"), operation.inputs)?;
        if !map.rows.is_empty() && !map.rows.starts_with('/') {
            return Err(SpecError::new(
                format!("{at}/rows"),
                format!("`{}` is not a JSON pointer: it starts with `/`", map.rows),
            )
            .into());
        }
        self.operations.insert(name.to_owned(), map);
        Ok(self)
    }

    fn error(&self, map: &OperationMap, error: RmError) -> ServiceError {
        match error {
            RmError::Api(e) if map.conflict.contains(&e.status) => {
                ServiceError::Conflict(e.message.clone())
            }
            RmError::Api(e) if e.class.is_retryable() => {
                ServiceError::Unavailable(format!("HTTP {}: {}", e.status, e.message))
            }
            RmError::Api(e) => ServiceError::Refused {
                status: e.status,
                message: e.message.clone(),
            },
            RmError::Response { message } => ServiceError::Unreadable(message),
            RmError::InvalidRequest(message) => ServiceError::Invalid(message),
            other if other.class().is_retryable() => ServiceError::Unavailable(other.to_string()),
            other => ServiceError::Refused {
                status: other.to_provider_error().status,
                message: other.to_string(),
            },
        }
    }
}

#[async_trait]
impl Service for SchedulingService {
    fn describe(&self) -> String {
        format!("the scheduling port of {}", self.client.base_url())
    }

    fn operations(&self) -> Vec<String> {
        self.operations.keys().cloned().collect()
    }

    async fn call(&self, ctx: &Context, call: &ServiceCall) -> Result<Value, ServiceError> {
        let Some(map) = self.operations.get(&call.operation) else {
            return Err(ServiceError::UnknownOperation(call.operation.clone()));
        };
        let values: BTreeMap<String, Value> = match &call.input {
            Value::Object(fields) => fields.clone().into_iter().collect(),
            Value::Null => BTreeMap::new(),
            other => {
                return Err(ServiceError::Invalid(format!(
                    "the input of {} is {}, not an object of named values",
                    call.operation,
                    json_kind(other)
                )))
            }
        };
        let mut request = map
            .route
            .request(&self.client, &values)
            .map_err(|e| self.error(map, e))?;
        let writes = OPERATIONS
            .iter()
            .any(|o| o.name == call.operation && o.writes);
        if writes {
            request = request.header(IDEMPOTENCY_HEADER, call.idempotency_key.clone());
        }
        let (_, answer) = self
            .client
            .send_json(ctx, &request)
            .await
            .map_err(|e| self.error(map, e))?;
        map.read(answer)
    }

    fn fakes(&self) -> Vec<Arc<dyn ProviderFake>> {
        vec![Arc::new(super::fake::RmFake::for_client(&self.client))]
    }
}

#[cfg(test)]
mod tests;
