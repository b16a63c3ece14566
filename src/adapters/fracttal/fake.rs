//! A fake of Fracttal One's API, for dry runs and for the host's own tests.

use std::fmt;

use serde_json::json;

use super::client::{DEFAULT_BASE_URL, DEFAULT_TOKEN_URL};
use crate::http::{trimmed_path, FakeScript, HttpRequest, HttpResponse, Method, ProviderFake};

/// Answers like Fracttal One: the OAuth token route issues a token, a `POST` (or `PUT`)
/// below the API base path creates or updates an item (`{"success": true, "data":
/// {"id_code": 1, …}}`), a query of work orders by task or folio (`GET work_orders/` with
/// `id_work_order_task` or `folio`, what `fracttal.work_order_note` reads) answers one task
/// row of work order 1 with an empty `note`, any other `GET` lists nothing (`{"success":
/// true, "data": [], "total": 0}`), and on demand any request fails with Fracttal's error
/// envelope.
///
/// The fake knows its routes by path: the token URL's path and the API base URL's path
/// (`/oauth/token` and `/api/` by default, or those of a [`FracttalClient`](super::FracttalClient)
/// through [`for_client`](FracttalFake::for_client)).
///
/// ```
/// use hubflow::fracttal::fake::FracttalFake;
/// use hubflow::http::{HttpRequest, Method, ProviderFake};
/// use serde_json::json;
///
/// let fake = FracttalFake::new();
/// let query = HttpRequest::new(Method::Get,
///     "https://app.fracttal.com/api/work_orders/?id_work_order_task=77".parse().unwrap());
/// let row = &fake.answer(&query).unwrap().json_body().unwrap()["data"][0];
/// assert_eq!((row["id_work_order"].clone(), row["note"].clone()), (json!(1), json!("")));
/// let create = HttpRequest::post_json("https://app.fracttal.com/api/work_requests".parse().unwrap(),
///     &json!({"description": "Pump 3 leaks"})).unwrap();
/// assert_eq!(fake.answer(&create).unwrap().json_body().unwrap()["data"]["id_code"], 1);
/// fake.fail_next(409, "The item was associated before");
/// let refused = fake.answer(&create).unwrap();
/// assert_eq!((refused.status, refused.json_body().unwrap()["success"].clone()), (409, json!(false)));
/// ```
pub struct FracttalFake {
    token_path: String,
    api_path: String,
    script: FakeScript,
}

impl FracttalFake {
    /// A fake on the default routes.
    pub fn new() -> Self {
        let path = |url: &str| {
            url::Url::parse(url)
                .map(|u| trimmed_path(u.path()).to_owned())
                .unwrap_or_default()
        };
        FracttalFake {
            token_path: path(DEFAULT_TOKEN_URL),
            api_path: path(DEFAULT_BASE_URL),
            script: FakeScript::default(),
        }
    }

    /// A fake on the routes `client` calls.
    pub fn for_client(client: &super::FracttalClient) -> Self {
        FracttalFake {
            token_path: trimmed_path(client.token_url().path()).to_owned(),
            api_path: trimmed_path(client.base_url().path()).to_owned(),
            script: FakeScript::default(),
        }
    }

    /// Makes the next request fail with this HTTP status and Fracttal's
    /// `{"success": false, "message": …}` envelope.
    pub fn fail_next(&self, status: u16, message: &str) {
        self.script.fail_next(HttpResponse::json(
            status,
            &json!({"success": false, "message": message}),
        ));
    }
}

impl Default for FracttalFake {
    fn default() -> Self {
        FracttalFake::new()
    }
}

impl fmt::Debug for FracttalFake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FracttalFake")
            .field("token_path", &self.token_path)
            .field("api_path", &self.api_path)
            .finish_non_exhaustive()
    }
}

impl ProviderFake for FracttalFake {
    fn provider(&self) -> &str {
        super::error::PROVIDER
    }

    fn answer(&self, request: &HttpRequest) -> Option<HttpResponse> {
        let path = trimmed_path(request.url.path());
        let is_token = request.method == Method::Post && path == self.token_path;
        let below_api = path
            .strip_prefix(self.api_path.as_str())
            .is_some_and(|rest| rest.starts_with('/'));
        if !is_token && !below_api {
            return None;
        }
        if let Some(failure) = self.script.take_failure() {
            return Some(failure);
        }
        Some(if is_token {
            HttpResponse::json(
                200,
                &json!({
                    "access_token": self.script.next_id("fake-token-"),
                    "token_type": "Bearer",
                    "expires_in": 7200
                }),
            )
        } else if let Some(row) = work_order_query(request) {
            HttpResponse::json(200, &json!({"success": true, "data": [row], "total": 1}))
        } else if request.method == Method::Get {
            HttpResponse::json(200, &json!({"success": true, "data": [], "total": 0}))
        } else {
            let id: u64 = self.script.next_id("").parse().unwrap_or_default();
            let mut item = request.json_body().unwrap_or_else(|_| json!({}));
            if let Some(fields) = item.as_object_mut() {
                fields.insert("id_code".into(), json!(id));
            }
            HttpResponse::json(
                200,
                &json!({"success": true, "message": "200", "data": item, "total": 0}),
            )
        })
    }
}

/// The one task row a query of work orders by task or folio answers: work order 1, the task
/// or folio asked for, an empty note.
fn work_order_query(request: &HttpRequest) -> Option<serde_json::Value> {
    if request.method != Method::Get || !trimmed_path(request.url.path()).ends_with("work_orders") {
        return None;
    }
    let asked = |name: &str| {
        request
            .url
            .query_pairs()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.into_owned())
    };
    let task = asked("id_work_order_task");
    let folio = asked("folio");
    if task.is_none() && folio.is_none() {
        return None;
    }
    Some(json!({
        "id_work_order": 1,
        "wo_folio": folio.unwrap_or_else(|| "1".to_owned()),
        "id_work_orders_tasks": task.unwrap_or_else(|| "1".to_owned()),
        "note": ""
    }))
}
