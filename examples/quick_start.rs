//! The README's quick start, as a program (tests/readme.rs keeps the two identical).
use hubflow::http::ReqwestClient;
use hubflow::spec::{Connections, MapSecrets, Registry};
use hubflow::{Context, FlowSpec, Record, SqliteStore, TokioClock};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Without ERP_URL this shows what it would send (a dry run); with it, it sends.
    let erp = std::env::var("ERP_URL").ok();
    // A spec reports every error at once, each with its JSON path.
    let spec = FlowSpec::from_value(&json!({
        "id": "urgent-requests",
        "when": {"field": "priority", "op": "eq", "value": "urgent"},
        "map": {"text": "{{ title | upper }}", "phone": "{{ phone | phone('BR') }}"},
        "target": {"http.post": {
            "url": erp.as_deref().unwrap_or("https://erp.example.com/hooks/requests"),
            "headers": {"Authorization": {"secret": "ERP_TOKEN"}}}},
        "delivery": {"max_attempts": 5, "max_in_flight": 8}
    }))?;
    // Specs name secrets; the host resolves them (here from the environment, or a dev value).
    let token = std::env::var("ERP_TOKEN").unwrap_or_else(|_| "Bearer dev-token".to_owned());
    let secrets = MapSecrets::new().with("ERP_TOKEN", token);
    let flow = spec.build(&Registry::default(), &Connections::new(), &secrets)?;

    // Claims, cursors, windows and run history in one SQLite file: a restart sends nothing twice.
    let store = SqliteStore::open(std::env::temp_dir().join("hubflow-quick-start.db")).await?;
    let ctx = Context::new(ReqwestClient::new()?, TokioClock, store);
    let records = vec![
        Record::new(
            "req-42",
            "request",
            json!({"priority": "urgent", "title": "pump 3 leaks", "phone": "(11) 99999-1234"}),
        ),
        Record::new(
            "req-43",
            "request",
            json!({"priority": "low", "title": "paint the fence", "phone": "(11) 98888-4321"}),
        ),
    ];
    if erp.is_some() {
        let report = flow.process(&ctx, records).await; // skipped / duplicate / delivered / failed
        println!("{report}");
    } else {
        let dry = flow.dry_run(&ctx, records).await; // the real code path, against provider fakes
        println!("{}", dry.report);
        for request in dry.records.iter().flat_map(|r| &r.requests) {
            let body = String::from_utf8_lossy(&request.body);
            println!("would send {} {} {body}", request.method, request.url);
        }
    }
    Ok(())
}
