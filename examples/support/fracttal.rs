//! A local stand-in of Fracttal One, with the work orders, meters and requests of the
//! examples: not part of a program you copy. With credentials set, the examples talk to
//! Fracttal itself and none of this runs.
//!
//! Fracttal's OAuth token route and everything the data below does not cover are answered
//! by hubflow's own fake (`hubflow::fracttal::fake::FracttalFake`); the rows are what
//! Fracttal's API returns, and what its Automator forwards, for the same work orders.
#![allow(dead_code)]

use hubflow::Record;
use serde_json::{json, Value};

use crate::local::{ago, Routes};

/// Fracttal for `flow` (one of the `--flow` names of `wo_assignment_whatsapp`), with the
/// data that flow reads. For `wo-assigned`, the first poll of a `first_run` finds the work
/// orders unassigned, and every later poll finds them assigned.
#[cfg(feature = "fracttal")]
pub fn stand_in(
    flow: &str,
    first_run: bool,
) -> Vec<std::sync::Arc<dyn hubflow::http::ProviderFake>> {
    use hubflow::http::Method;
    use std::sync::Arc;
    let routes = Routes::new("fracttal");
    let routes = match flow {
        "wo-assigned" => {
            let mut polls = vec![envelope(assigned_rows())];
            if first_run {
                let mut rows = assigned_rows();
                for row in rows.as_array_mut().into_iter().flatten() {
                    row["user_assigned"] = json!("");
                }
                polls.insert(0, envelope(rows));
            }
            routes.on(Method::Get, "/api/work_orders/", polls)
        }
        "wo-status-changed" => routes.on(Method::Get, "/api/work_orders/", status_changes()),
        "critical-reading" => {
            let (meters, readings) = readings();
            routes
                .on(Method::Get, "/api/meters_list", vec![envelope(meters)])
                .on(
                    Method::Get,
                    "/api/meters_reading_list",
                    vec![envelope(readings)],
                )
        }
        "new-work-request" => routes.on(
            Method::Get,
            "/api/work_requests",
            vec![envelope(work_requests())],
        ),
        _ => routes,
    };
    vec![
        Arc::new(routes),
        Arc::new(hubflow::fracttal::fake::FracttalFake::new()),
    ]
}

/// Fracttal's list envelope.
fn envelope(rows: Value) -> Value {
    let total = rows.as_array().map_or(0, Vec::len);
    json!({"success": true, "message": "200", "data": rows, "total": total})
}

/// Four work orders created this morning, assigned since: two to Jonas Campos, one to
/// Marta Lima, one to Rafael Costa (a contractor). The rows as Fracttal returns them, and as
/// its Automator rule "WO assigned" forwards them: the responsible's name, no phone.
pub fn assigned_rows() -> Value {
    let created = ago(3600);
    json!([
        {"wo_folio": "OT-1021", "id_work_order": 4410, "id_work_orders_tasks": 90211, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Ana Souza", "user_assigned": "Jonas Campos",
         "description": "Replace the intake filter of pump 3",
         "items_log_description": "Centrifugal pump 3", "code": "PUMP-3"},
        {"wo_folio": "OT-1022", "id_work_order": 4411, "id_work_orders_tasks": 90212, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Ana Souza", "user_assigned": "Marta Lima",
         "description": "Lubricate the conveyor bearings",
         "items_log_description": "Conveyor 7", "code": "CONV-7"},
        {"wo_folio": "OT-1023", "id_work_order": 4412, "id_work_orders_tasks": 90213, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Carlos Dias", "user_assigned": "Jonas Campos",
         "description": "Inspect the fire pump",
         "items_log_description": "Fire pump", "code": "FIRE-1"},
        {"wo_folio": "OT-1024", "id_work_order": 4413, "id_work_orders_tasks": 90214, "id_status_work_order": 1,
         "creation_date": created, "created_by": "Carlos Dias", "user_assigned": "Rafael Costa",
         "description": "Replace the roof fan belt",
         "items_log_description": "Roof fan 2", "code": "FAN-2"}
    ])
}

/// "Query tasks in WOs": three open work orders on the first poll; on every later one,
/// one completed, one cancelled and one sent to review.
fn status_changes() -> Vec<Value> {
    let task = |folio: u32, status: u32, description: &str, asset: &str| {
        json!({"wo_folio": format!("OT-{folio}"), "id_work_order": folio + 3000,
               "id_work_orders_tasks": folio + 90000, "id_status_work_order": status,
               "creation_date": ago(2 * 24 * 3600), "created_by": "Ana Souza",
               "personnel_description": "Jonas Campos", "description": description,
               "items_log_description": asset})
    };
    let poll = |statuses: [u32; 3]| {
        envelope(json!([
            task(
                1031,
                statuses[0],
                "Replace the intake filter of pump 3",
                "Centrifugal pump 3"
            ),
            task(1032, statuses[1], "Align the conveyor belt", "Conveyor 7"),
            task(1033, statuses[2], "Inspect the fire pump", "Fire pump"),
        ]))
    };
    vec![poll([1, 2, 1]), poll([3, 4, 2])]
}

/// The meters (with and without limits) and five new readings: one above its meter's
/// maximum, one below its minimum, one exactly at the maximum, one inside, one of a meter
/// without limits.
fn readings() -> (Value, Value) {
    let meters = json!([
        {"serial": "M-100", "description": "Discharge temperature", "units_code": "°C",
         "min_value": 10, "max_value": 80, "code": "COMP-2", "items_description": "Compressor 2"},
        {"serial": "M-200", "description": "Suction pressure", "units_code": "bar",
         "min_value": 2, "max_value": null, "code": "PUMP-3", "items_description": "Centrifugal pump 3"},
        {"serial": "M-300", "description": "Run hours", "is_counter": true, "units_code": "h",
         "min_value": null, "max_value": null, "code": "PUMP-3", "items_description": "Centrifugal pump 3"}
    ]);
    let readings = json!([
        {"serial": "M-100", "date": ago(50), "value": 95.5, "source": "API"},
        {"serial": "M-100", "date": ago(40), "value": 80, "source": "API"},
        {"serial": "M-100", "date": ago(30), "value": 64.2, "source": "API"},
        {"serial": "M-200", "date": ago(20), "value": 1.4, "source": "MANUAL"},
        {"serial": "M-300", "date": ago(10), "value": 15240, "source": "WORK_ORDER"}
    ]);
    (meters, readings)
}

/// Three new work requests, two of them urgent.
fn work_requests() -> Value {
    json!([
        {"id_code": 5012, "date": ago(40), "is_urgent": true, "description": "Water leaking under pump 3",
         "types_description": "Failure", "items_description": "Centrifugal pump 3",
         "requested_by": "Ana Souza", "email_requested_by": "ana.souza@example.com", "id_status": 1},
        {"id_code": 5013, "date": ago(30), "is_urgent": false, "description": "Repaint the handrail of stair B",
         "types_description": "Request", "items_description": "Building B",
         "requested_by": "Carlos Dias", "email_requested_by": "carlos.dias@example.com", "id_status": 1},
        {"id_code": 5014, "date": ago(20), "is_urgent": 1, "description": "Compressor 2 trips on high temperature",
         "types_description": "Failure", "items_description": "Compressor 2",
         "requested_by": "Marta Lima", "email_requested_by": "marta.lima@example.com", "id_status": 1}
    ])
}

/// Three work-order task rows shaped like Fracttal's `GET /api/work_orders/` output (two
/// assigned to Jonas Campos, one to Marta Lima), as records a host's source would yield.
pub fn sample_work_orders() -> Vec<Record> {
    let rows = [
        json!({"id_work_orders_tasks": 5001, "id_status_work_order": 1, "wo_folio": "OT-1021",
               "user_assigned": "Jonas Campos", "responsible_phone": "(11) 99999-1234",
               "task_todo_description": "Replace the air filter of chiller 2 and check the refrigerant pressure",
               "creation_date": "2026-03-02T11:15:00+00:00", "created_by": "Ana Souza",
               "item_description": "Chiller 2 - Building A"}),
        json!({"id_work_orders_tasks": 5002, "id_status_work_order": 1, "wo_folio": "OT-1022",
               "user_assigned": "Marta Lima", "responsible_phone": "(21) 98888-4321",
               "task_todo_description": "Lubricate conveyor bearings",
               "creation_date": "2026-03-02T12:40:00+00:00", "created_by": "Ana Souza",
               "item_description": "Conveyor 7"}),
        json!({"id_work_orders_tasks": 5003, "id_status_work_order": 2, "wo_folio": "OT-1023",
               "user_assigned": "jonas campos", "responsible_phone": "+55 11 99999-1234",
               "task_todo_description": "Inspect fire pump",
               "creation_date": "2026-03-02T13:05:00+00:00", "created_by": "Carlos Dias"}),
    ];
    rows.into_iter()
        .map(|row| {
            let key = format!(
                "fracttal:wo:{}:{}",
                row["id_work_orders_tasks"], row["id_status_work_order"]
            );
            Record::new(key, "fracttal.work_order", row)
        })
        .collect()
}
