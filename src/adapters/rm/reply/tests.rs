//! Unit tests of `reply`.

use super::*;

#[test]
fn intent_words_are_case_and_space_insensitive() {
    let words = IntentWords::default();
    assert_eq!(words.action("  Sim "), Some(Action::Confirm));
    assert_eq!(words.action("NÃO"), Some(Action::Cancel));
    assert_eq!(words.action("3"), Some(Action::Attendant));
    assert_eq!(words.action("talvez"), None);
}

fn pending_at(id: &str, date: &str, starts_at: Option<&str>) -> PendingConfirmation {
    PendingConfirmation::new(
        id,
        date.parse().unwrap(),
        "5511999991234",
        "2026-03-02T10:00:00Z".parse().unwrap(),
    )
    .starts_at(starts_at.map(|at| at.parse().unwrap()))
}

#[test]
fn the_pick_rows_are_sorted_by_start_with_payload_ids() {
    let zone = chrono_tz::America::Sao_Paulo;
    let pick = pick::Pick::new(
        vec![
            pending_at("A-3", "2026-03-04", Some("2026-03-04T12:00:00Z")),
            pending_at("A-2", "2026-03-03", Some("2026-03-03T13:00:00Z")),
            pending_at("A-1", "2026-03-03", Some("2026-03-03T11:30:00Z")),
            // No start time: the start of its day, before the day's timed ones.
            pending_at("A-0", "2026-03-03", None),
        ],
        Action::Confirm,
        zone,
    );
    let rows = pick.rows();
    let ids: Vec<_> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "confirm:A-0:2026-03-03",
            "confirm:A-1:2026-03-03",
            "confirm:A-2:2026-03-03",
            "confirm:A-3:2026-03-04"
        ]
    );
    // Every id reads back as the button payload of its appointment.
    for (row, id) in rows.iter().zip(["A-0", "A-1", "A-2", "A-3"]) {
        let payload = ButtonPayload::parse(row["id"].as_str().unwrap()).unwrap();
        assert_eq!(
            (payload.action, payload.appointment_id.as_str()),
            (Action::Confirm, id)
        );
    }
    let titles: Vec<_> = rows.iter().map(|r| r["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["03/03/2026", "08:30", "10:00", "09:00"]);
    assert_eq!(rows[0]["description"], "terça-feira · agendamento A-0");
    assert_eq!(
        rows[1]["description"],
        "terça-feira, 03/03/2026 · agendamento A-1"
    );
    assert_eq!(
        rows[3]["description"],
        "quarta-feira, 04/03/2026 · agendamento A-3"
    );
    assert!(pick.not_listed.is_empty());
}

#[test]
fn the_pick_keeps_the_ten_nearest_and_cuts_long_values() {
    let zone = chrono_tz::America::Sao_Paulo;
    let long_id = format!("AG-{}", "9".repeat(80));
    let mut candidates: Vec<_> = (0..12)
        .map(|i| {
            pending_at(
                &format!("B-{i:02}"),
                "2026-03-05",
                Some(&format!("2026-03-05T{:02}:00:00Z", 23 - i)),
            )
        })
        .collect();
    candidates.push(pending_at(
        &long_id,
        "2026-03-04",
        Some("2026-03-04T12:00:00Z"),
    ));
    let pick = pick::Pick::new(candidates, Action::Cancel, zone);
    assert_eq!(pick.listed.len(), 10);
    assert_eq!(pick.listed[0].appointment_id, long_id);
    // The latest three did not fit: B-02 (20:00 UTC), B-01 and B-00.
    let later: Vec<_> = pick
        .not_listed
        .iter()
        .map(|p| p.appointment_id.as_str())
        .collect();
    assert_eq!(later, ["B-02", "B-01", "B-00"]);
    let payload = pick.payload("5511999991234", "Qual deseja {action}?", "Ver horários");
    let rows = payload["list"]["sections"][0]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 10);
    assert_eq!(payload["body"], "Qual deseja cancelar?");
    assert_eq!(payload["to"], "5511999991234");
    assert_eq!(payload["list"]["button"], "Ver horários");
    // The id is never cut (it must come back whole); the description is, with an ellipsis.
    assert_eq!(rows[0]["id"], format!("cancel:{long_id}:2026-03-04"));
    let description = rows[0]["description"].as_str().unwrap();
    assert_eq!(description.chars().count(), 72);
    assert!(description.starts_with("quarta-feira, 04/03/2026 · agendamento AG-999"));
    assert!(description.ends_with('…'));
    for row in rows {
        assert!(row["title"].as_str().unwrap().chars().count() <= 24);
        assert!(row["description"].as_str().unwrap().chars().count() <= 72);
    }
}

#[test]
fn long_texts_are_cut_to_the_limits_and_checked_for_specs() {
    assert_eq!(pick::fit("abc", 3), "abc");
    assert_eq!(pick::fit("abcd", 3), "ab…");
    assert_eq!(pick::fit("ação", 2), "a…");
    let pick = pick::Pick::new(
        vec![pending_at("A-1", "2026-03-03", None)],
        Action::Confirm,
        chrono_tz::America::Sao_Paulo,
    );
    let payload = pick.payload("55", &"x".repeat(2000), "Escolha um dos horários");
    assert_eq!(payload["body"].as_str().unwrap().chars().count(), 1024);
    assert_eq!(payload["list"]["button"], "Escolha um dos horá…");

    assert_eq!(ask_text_problem("Qual deseja {action}?"), None);
    assert_eq!(ask_text_problem("Qual? {} {1 2}"), None);
    assert!(ask_text_problem("  ").unwrap().contains("blank"));
    assert!(ask_text_problem("Qual deseja {acao}?")
        .unwrap()
        .contains("unknown placeholder {acao}"));
    // Measured with the longer word in place of {action}.
    let at_limit = format!("{}{{action}}", "x".repeat(1024 - "confirmar".len()));
    assert_eq!(ask_text_problem(&at_limit), None);
    assert!(ask_text_problem(&format!("x{at_limit}"))
        .unwrap()
        .contains("1025 characters"));
    assert_eq!(ask_button_problem("Ver horários"), None);
    assert!(ask_button_problem("Escolha um dos horários")
        .unwrap()
        .contains("23 characters"));
    assert!(ask_button_problem(" ").unwrap().contains("blank"));
}
