use serde_json::json;

use super::*;
use crate::rm::RmAuth;

fn client() -> RmClient {
    RmClient::new(
        "https://clinica.example.com:8051".parse().unwrap(),
        RmAuth::Bearer(secrecy::SecretString::from("t")),
    )
}

#[test]
fn rows_are_read_at_their_pointer_and_renamed() {
    let map = OperationMap::new(Route::get("/slots"))
        .rows("/data/items")
        .field("id", "CODHORARIO")
        .field("time", "HORA")
        .field("professional", "PROF.NOME");
    let answer = json!({"data": {"items": [
        {"CODHORARIO": 71, "HORA": "08:30", "PROF": {"NOME": "Dr. Rui"}},
        {"CODHORARIO": 72, "HORA": "09:00"}
    ]}});
    let rows = map.read(answer).unwrap();
    assert_eq!(rows[0]["id"], 71);
    assert_eq!(rows[0]["time"], "08:30");
    assert_eq!(rows[0]["professional"], "Dr. Rui");
    assert_eq!(rows[0]["erp"]["HORA"], "08:30");
    assert_eq!(rows[1]["professional"], json!(null));
}

#[test]
fn a_single_answer_is_the_first_row_or_null() {
    let map = OperationMap::new(Route::get("/patients"))
        .single()
        .field("id", "CODPAC");
    assert_eq!(
        map.read(json!([{"CODPAC": "P1"}, {"CODPAC": "P2"}]))
            .unwrap()["id"],
        "P1"
    );
    assert_eq!(map.read(json!([])).unwrap(), json!(null));
    assert_eq!(map.read(json!(null)).unwrap(), json!(null));
    assert_eq!(map.read(json!({"CODPAC": "P9"})).unwrap()["id"], "P9");
}

#[test]
fn an_answer_without_rows_is_unreadable() {
    let map = OperationMap::new(Route::get("/slots")).rows("/items");
    let error = map.read(json!({"items": {"not": "rows"}})).unwrap_err();
    assert!(
        matches!(&error, ServiceError::Unreadable(m) if m.contains("array of rows at `/items`")),
        "{error}"
    );
    let error = map.read(json!({"other": []})).unwrap_err();
    assert!(error.to_string().contains("nothing at `/items`"), "{error}");
}

#[test]
fn operations_are_checked_against_the_port() {
    let service = SchedulingService::new(client());
    let errors = service
        .clone()
        .operation("reserve", OperationMap::new(Route::post("/x")))
        .unwrap_err();
    let error = errors.iter().next().unwrap();
    assert_eq!(error.path, "/operations/reserve");
    assert!(
        error.hint.as_deref().unwrap().contains("list_slots"),
        "{error}"
    );
    let errors = service
        .clone()
        .operation(
            "book",
            OperationMap::new(Route::post("/agenda/{slot}/{doctor}")),
        )
        .unwrap_err();
    let error = errors.iter().next().unwrap();
    assert_eq!(error.path, "/operations/book/route/path");
    assert!(error.message.contains("{doctor}"), "{error}");
    let errors = service
        .operation(
            "list_slots",
            OperationMap::new(Route::get("/x")).rows("items"),
        )
        .unwrap_err();
    assert_eq!(
        errors.iter().next().unwrap().path,
        "/operations/list_slots/rows"
    );
}

#[test]
fn erp_errors_become_service_errors_by_meaning() {
    let service = SchedulingService::new(client());
    let map = OperationMap::new(Route::post("/book"));
    let api = |status: u16| {
        let response = crate::http::HttpResponse::json(status, &json!({"message": "no"}));
        super::super::error::api_error(&response, chrono::Utc::now())
    };
    assert!(matches!(
        service.error(&map, api(409)),
        ServiceError::Conflict(_)
    ));
    assert!(matches!(
        service.error(&map, api(503)),
        ServiceError::Unavailable(_)
    ));
    assert!(matches!(
        service.error(&map, api(422)),
        ServiceError::Refused { status: 422, .. }
    ));
    let mut custom = map.clone();
    custom.conflict = vec![422];
    assert!(matches!(
        service.error(&custom, api(422)),
        ServiceError::Conflict(_)
    ));
    assert!(matches!(
        service.error(
            &map,
            RmError::InvalidRequest("the placeholder {slot} has no value".into())
        ),
        ServiceError::Invalid(_)
    ));
}
