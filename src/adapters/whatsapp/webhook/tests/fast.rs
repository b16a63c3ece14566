//! The fast reader against the walker: on every body both read, the same events; where
//! the fast one declines, the walker's reading (with its pointers) is what `read` gives.

use std::path::Path;

use serde_json::Value;

use super::*;

/// Every body of the fixtures: the reference payloads, pywa's 74, Meta's official
/// examples when the conformance data is there.
fn fixture_bodies() -> Vec<(String, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut bodies = Vec::new();
    let json_files = |dir: &Path| {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        files
    };
    for path in json_files(&root.join("tests/fixtures/whatsapp")) {
        bodies.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    for path in json_files(&root.join("tests/fixtures/pywa")) {
        let cases: serde_json::Map<String, Value> =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        for (name, body) in cases {
            bodies.push((name, serde_json::to_vec(&body).unwrap()));
        }
    }
    let official = std::env::var_os("HUBFLOW_CONFORMANCE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/conformance"))
        .join("whatsapp/webhooks");
    for path in json_files(&official) {
        bodies.push((path.display().to_string(), std::fs::read(&path).unwrap()));
    }
    bodies
}

/// A `messages` change around `value`'s fields.
fn body(value: &str) -> Vec<u8> {
    format!(
        r#"{{"object":"whatsapp_business_account","entry":[{{"id":"1","time":1750000000,"changes":[{{"field":"messages","value":{{"metadata":{{"phone_number_id":"1065","display_phone_number":15550783881}},{value}}}}}]}}]}}"#
    )
    .into_bytes()
}

fn message(fields: &str) -> Vec<u8> {
    body(&format!(
        r#""contacts":[{{"profile":{{"name":"Ana"}},"wa_id":"5511"}}],"messages":[{{"from":"5511","id":"wamid.A","timestamp":"1749416383",{fields}}}]"#
    ))
}

/// Bodies at the edges of what either reader takes.
fn edge_bodies() -> Vec<(String, Vec<u8>)> {
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("text", message(r#""type":"text","text":{"body":"Ol\u00e1 \/ \"x\""}"#)),
        ("text as an array", message(r#""type":"text","text":["hi"]"#)),
        ("text body a number", message(r#""type":"text","text":{"body":5}"#)),
        ("text of another type", message(r#""type":"image","text":5,"image":{"id":"m1"}"#)),
        ("media null", message(r#""type":"image","image":null"#)),
        ("media absent", message(r#""type":"video""#)),
        ("voice not a bool", message(r#""type":"audio","audio":{"id":"a","voice":"yes"}"#)),
        (
            "button_reply null, list_reply there",
            message(r#""type":"interactive","interactive":{"type":"list_reply","button_reply":null,"list_reply":{"id":"r1","title":"One"}}"#),
        ),
        (
            "list reply",
            message(r#""type":"interactive","interactive":{"type":"list_reply","list_reply":{"id":"r1","title":"One","description":"d"}}"#),
        ),
        (
            "flow answer",
            message(r#""type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"body":"Sent","response_json":"{\"flow_token\":\"t\"}"}}"#),
        ),
        (
            "flow answer not an object",
            message(r#""type":"interactive","interactive":{"type":"nfm_reply","nfm_reply":{"response_json":"[1]"}}"#),
        ),
        (
            "call permission",
            message(r#""type":"interactive","interactive":{"type":"call_permission_reply","call_permission_reply":{"response":"accept"}}"#),
        ),
        (
            "edit",
            message(r#""type":"edit","edit":{"original_message_id":"wamid.O","message":{"type":"image","image":{"id":"m","caption":"new"}}}"#),
        ),
        (
            "edit of an edit",
            message(r#""type":"edit","edit":{"message":{"type":"edit","edit":{"x":1}}}"#),
        ),
        ("revoke", message(r#""type":"revoke","revoke":{"original_message_id":"wamid.O"}"#)),
        ("reaction", message(r#""type":"reaction","reaction":{"message_id":"wamid.O","emoji":"👍"}"#)),
        ("button", message(r#""type":"button","button":{"payload":"p","text":"Yes"}"#)),
        ("unknown type", message(r#""type":"poll","poll":{"votes":[1,2]}"#)),
        ("no type", message(r#""text":{"body":"x"}"#)),
        ("context", message(r#""type":"text","context":{"from":15550783881,"id":"wamid.T","forwarded":true}"#)),
        ("context forwarded not a bool", message(r#""type":"text","context":{"forwarded":1}"#)),
        ("errors with a string code", message(r#""type":"unsupported","errors":[{"code":"131051","title":"t","error_data":{"details":"d"}}]"#)),
        ("error code fractional", message(r#""type":"unsupported","errors":[{"code":1.5}]"#)),
        ("duplicate key", message(r#""type":"text","type":"image""#)),
        ("emoji as a surrogate pair", message(r#""type":"text","text":{"body":"\ud83d\udc4d"},"shiny":"\ud83d\udc4d \u00e9""#)),
        ("lone surrogate in an unknown field", message(r#""type":"text","shiny":"\ud800x""#)),
        ("lone low surrogate in an unknown field", message(r#""type":"text","shiny":"\udc00""#)),
        ("escaped key", message(r#""type":"text","t\u0065xt":{"body":"x"}"#)),
        ("timestamp with spaces", body(r#""messages":[{"id":"wamid.B","timestamp":" 1749416383 "}]"#)),
        ("timestamp an integer", body(r#""messages":[{"id":"wamid.B","timestamp":1749416383}]"#)),
        ("timestamp out of range", body(r#""messages":[{"id":"wamid.B","timestamp":"99999999999999999"}]"#)),
        ("id missing", body(r#""messages":[{"timestamp":"1"}]"#)),
        ("id null", body(r#""messages":[{"id":null,"timestamp":"1"}]"#)),
        ("from an integer", body(r#""messages":[{"id":"wamid.B","from":16505551234,"timestamp":"1"}]"#)),
        ("from a float", body(r#""messages":[{"id":"wamid.B","from":1.5,"timestamp":"1"}]"#)),
        ("messages null", body(r#""messages":null,"contacts":null,"statuses":[]"#)),
        ("message null", body(r#""messages":[null]"#)),
        ("escaped messages key", body(r#""m\u0065ssages":[{"id":"wamid.B","timestamp":"1"}]"#)),
        (
            "status",
            body(r#""statuses":[{"id":"wamid.S","status":"read","timestamp":"1750030073","recipient_id":"5511","recipient_user_id":"user.1","group_id":"g","biz_opaque_callback_data":"k","conversation":{"id":"c","expiration_timestamp":1750100000,"origin":{"type":"utility"}},"pricing":{"billable":true,"pricing_model":"CBP","category":"utility","type":"regular"},"shiny":[1]}]"#),
        ),
        ("status failed", body(r#""statuses":[{"id":"wamid.S","status":"failed","timestamp":"1","errors":[{"code":131026,"message":"m","href":"h"}]}]"#)),
        ("status without status", body(r#""statuses":[{"id":"wamid.S","timestamp":"1"}]"#)),
        ("status billable a string", body(r#""statuses":[{"id":"wamid.S","status":"sent","timestamp":"1","pricing":{"billable":"yes"}}]"#)),
        ("system errors", body(r#""errors":[{"code":131000,"title":"Something went wrong"}]"#)),
        (
            "contacts by user id",
            body(r#""contacts":[{"profile":{"name":"A","username":"@a","country_code":"BR"},"wa_id":"","user_id":"user.1"},{"wa_id":"5522"}],"messages":[{"from":"","from_user_id":"user.1","id":"wamid.U","timestamp":"1"}]"#),
        ),
        ("contact profile an array", body(r#""contacts":[{"profile":[]}],"messages":[]"#)),
        ("metadata missing", br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messages":[]}}]}]}"#.to_vec()),
        ("not whatsapp", br#"{"object":"page","entry":[]}"#.to_vec()),
        ("not json", b"{".to_vec()),
        ("an array", b"[]".to_vec()),
        ("entry an object", br#"{"object":"whatsapp_business_account","entry":{}}"#.to_vec()),
        ("entry id an object", br#"{"object":"whatsapp_business_account","entry":[{"id":{},"changes":[]}]}"#.to_vec()),
        (
            "one bad change among good ones, and another field",
            br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
                {"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"wamid.1","timestamp":"1"}]}},
                {"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"wamid.2","timestamp":{}}]}},
                {"value":{"metadata":{"phone_number_id":"1"},"groups":[{"group_id":"g","type":"group_create","timestamp":"1"}]},"field":"group_lifecycle_update"},
                {"field":"brand_new","value":{"x":[1,{"y":"}"}]}},
                {"field":"calls","value":{"calls":"nope"}}
            ]}]}"#.to_vec(),
        ),
        (
            "other fields, one of them bad",
            br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
                {"field":"messages","value":{"metadata":{"phone_number_id":"1"},"messages":[{"id":"wamid.1","timestamp":"1"}]}},
                {"value":{"metadata":{"phone_number_id":"1"},"groups":[{"group_id":"g","type":"group_create","timestamp":"1"}]},"field":"group_lifecycle_update"},
                {"field":"calls","value":{"calls":"nope"}},
                {"field":"brand_new","value":{"x":[1,{"y":"}"}]}}
            ]}]}"#.to_vec(),
        ),
        (
            "groups",
            br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"group_participants_update","value":{
                "metadata":{"phone_number_id":1065},
                "groups":[{"group_id":"g1","type":"group_participants_add","timestamp":1,"added_participants":[{"input":"+5511"},{"wa_id":5522,"input":"x"}],"errors":[{"code":"1"}]},
                          {"group_id":"g2","timestamp":"2","removed_participants":[]}],
                "errors":[{"code":131000}]}}]}]}"#.to_vec(),
        ),
        (
            "group without timestamp",
            br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"group_status_update","value":{"groups":[{"group_id":"g"}]}}]}]}"#.to_vec(),
        ),
        (
            "group participant a string",
            br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"group_status_update","value":{"groups":[{"group_id":"g","timestamp":"1","added_participants":["5511"]}]}}]}]}"#.to_vec(),
        ),
        (
            "two entries, value before field, spacing",
            b"{ \"entry\" : [ { \"changes\" : [ { \"value\" : { \"messages\" : [ { \"timestamp\" : \"1\" , \"id\" : \"wamid.X\" } ] , \"metadata\" : { \"phone_number_id\" : 1 } } , \"field\" : \"messages\" } ] , \"id\" : 7 } , { \"id\" : \"2\" } ] , \"object\" : \"whatsapp_business_account\" }".to_vec(),
        ),
    ];
    cases
        .into_iter()
        .map(|(name, body)| (name.to_owned(), body))
        .collect()
}

fn same_reading(name: &str, body: &[u8]) -> bool {
    let walked = parse::walk(body);
    let fast = parse::read_fast(body);
    if let Some(fast) = &fast {
        let walked = walked.as_ref().unwrap_or_else(|e| {
            panic!("{name}: the fast reader read what the walker refused: {e}")
        });
        assert_eq!(fast.events, walked.events, "{name}: events");
        assert_eq!(fast.problems, walked.problems, "{name}: problems");
        for (a, b) in fast.events.iter().zip(&walked.events) {
            assert_eq!(a.to_record(), b.to_record(), "{name}: records");
        }
    }
    // Whichever reads it, `read` gives the walker's answer.
    let read = parse::read(body);
    match (&read, &walked) {
        (Ok(read), Ok(walked)) => {
            assert_eq!(read.events, walked.events, "{name}");
            assert_eq!(read.problems, walked.problems, "{name}");
        }
        (Err(read), Err(walked)) => assert_eq!(read, walked, "{name}"),
        _ => panic!("{name}: read and walk disagree"),
    }
    fast.is_some()
}

#[test]
fn the_fast_reader_reads_every_fixture_like_the_walker() {
    let bodies = fixture_bodies();
    assert!(bodies.len() >= 74 + 17, "the fixtures are there");
    let fast = bodies
        .iter()
        .filter(|(name, body)| same_reading(name, body))
        .count();
    // Every fixture is well-formed: the fast reader takes them all.
    assert_eq!(fast, bodies.len(), "every fixture read fast");
}

#[test]
fn at_the_edges_the_fast_reader_declines_or_agrees() {
    let mut declined = Vec::new();
    for (name, body) in edge_bodies() {
        if !same_reading(&name, &body) {
            declined.push(name);
        }
    }
    // What the walker refuses must never be read fast.
    for refused in [
        "text as an array",
        "text body a number",
        "voice not a bool",
        "flow answer not an object",
        "context forwarded not a bool",
        "error code fractional",
        "timestamp out of range",
        "id missing",
        "id null",
        "from a float",
        "message null",
        "status without status",
        "status billable a string",
        "contact profile an array",
        "metadata missing",
        "lone surrogate in an unknown field",
        "lone low surrogate in an unknown field",
        "group without timestamp",
        "group participant a string",
        "not whatsapp",
        "not json",
        "an array",
        "entry an object",
        "entry id an object",
        "one bad change among good ones, and another field",
    ] {
        assert!(
            declined.iter().any(|d| d == refused),
            "{refused} is left to the walker"
        );
    }
    // And the common shapes are read fast.
    for taken in [
        "text",
        "emoji as a surrogate pair",
        "media null",
        "button_reply null, list_reply there",
        "flow answer",
        "edit",
        "status",
        "system errors",
        "contacts by user id",
        "other fields, one of them bad",
        "groups",
        "two entries, value before field, spacing",
    ] {
        assert!(!declined.iter().any(|d| d == taken), "{taken} is read fast");
    }
}
