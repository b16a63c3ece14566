use chrono::NaiveDate;
use serde_json::json;

use super::super::compile::Locale;
use super::super::spec::Parse;
use super::{cpf, time, Answer, Read, Reader, Shown, MORE_ID};

fn reader(locale: Locale, language: &'static str) -> Reader<'static> {
    Reader {
        locale,
        language,
        // A Tuesday.
        today: NaiveDate::from_ymd_opt(2026, 3, 3).unwrap(),
    }
}

fn pt() -> Reader<'static> {
    reader(Locale::Portuguese, "pt-BR")
}

fn typed(text: &str) -> Answer<'_> {
    Answer {
        reply_id: None,
        text: Some(text),
    }
}

fn value(read: Result<Read, String>) -> serde_json::Value {
    match read {
        Ok(Read::Value(v)) => v,
        other => panic!("expected a value, got {other:?}"),
    }
}

#[test]
fn cpf_check_digits_are_verified() {
    // 529.982.247-25 is the classic valid example; its last digit changed is not.
    assert_eq!(cpf("529.982.247-25").unwrap(), "52998224725");
    assert_eq!(cpf("52998224725").unwrap(), "52998224725");
    assert_eq!(cpf(" 529 982 247 25 ").unwrap(), "52998224725");
    assert!(cpf("529.982.247-24").unwrap_err().contains("check digits"));
    assert!(cpf("529.982.247-15").unwrap_err().contains("check digits"));
    assert!(cpf("111.111.111-11").unwrap_err().contains("repeated"));
    assert!(cpf("5299822472").unwrap_err().contains("10 digits"));
    assert!(cpf("529982247250").unwrap_err().contains("12 digits"));
    assert!(cpf("52998224abc").unwrap_err().contains("only digits"));
    // A CPF whose first check digit is 0 (remainder 10).
    assert_eq!(cpf("123.456.789-09").unwrap(), "12345678909");
}

#[test]
fn times_are_read_in_the_usual_forms() {
    for (text, expected) in [
        ("14:30", "14:30"),
        ("14h30", "14:30"),
        ("14h", "14:00"),
        ("14", "14:00"),
        ("9", "09:00"),
        ("09:05", "09:05"),
        ("0930", "09:30"),
        (" 8H15 ", "08:15"),
    ] {
        assert_eq!(time(text).unwrap(), expected, "{text}");
    }
    for bad in ["25:00", "14:60", "abc", "1:2:3", "", "143000"] {
        assert!(time(bad).is_err(), "{bad}");
    }
}

#[test]
fn dates_follow_the_locale_and_must_not_have_passed() {
    let pt = pt();
    let date = |text: &str| pt.read(Parse::Date, typed(text), &[]);
    assert_eq!(value(date("10/03/2026")), json!("2026-03-10"));
    assert_eq!(value(date("10/03/26")), json!("2026-03-10"));
    assert_eq!(value(date("2026-03-10")), json!("2026-03-10"));
    assert_eq!(value(date("10-03")), json!("2026-03-10"));
    // A day and month already past this year is next year's.
    assert_eq!(value(date("01/02")), json!("2027-02-01"));
    assert_eq!(value(date("hoje")), json!("2026-03-03"));
    assert_eq!(value(date("Amanhã")), json!("2026-03-04"));
    assert!(date("02/03/2026").unwrap_err().contains("has passed"));
    assert!(date("31/02/2026")
        .unwrap_err()
        .contains("no day 31 in month 2"));
    assert!(date("quarta").unwrap_err().contains("not a date"));
    let us = reader(Locale::English, "en-US");
    assert_eq!(
        value(us.read(Parse::Date, typed("03/10/2026"), &[])),
        json!("2026-03-10")
    );
    assert_eq!(
        value(us.read(Parse::Date, typed("tomorrow"), &[])),
        json!("2026-03-04")
    );
}

#[test]
fn birth_dates_are_past_full_dates_within_130_years() {
    let pt = pt();
    let birth = |text: &str| pt.read(Parse::BirthDate, typed(text), &[]);
    assert_eq!(value(birth("01/05/1980")), json!("1980-05-01"));
    assert_eq!(value(birth("01/05/80")), json!("1980-05-01"));
    assert_eq!(value(birth("01/05/20")), json!("2020-05-01"));
    assert!(birth("01/05").unwrap_err().contains("year"));
    assert!(birth("01/05/2030").unwrap_err().contains("future"));
    assert!(birth("01/05/1880").unwrap_err().contains("130 years"));
    assert!(birth("1/5/980").unwrap_err().contains("four digits"));
}

#[test]
fn text_limits_are_enforced() {
    let pt = pt();
    let parse = Parse::Text { min: 3, max: 5 };
    assert_eq!(value(pt.read(parse, typed("  Ana  "), &[])), json!("Ana"));
    assert!(pt
        .read(parse, typed("Al"), &[])
        .unwrap_err()
        .contains("at least 3"));
    assert!(pt
        .read(parse, typed("Mariana"), &[])
        .unwrap_err()
        .contains("at most 5"));
    let media = Answer {
        reply_id: None,
        text: None,
    };
    assert!(pt.read(parse, media, &[]).unwrap_err().contains("no text"));
}

#[test]
fn options_are_tapped_numbered_or_named() {
    let shown = vec![
        Shown {
            id: "card".into(),
            title: "Cardiologia".into(),
            value: json!({"id": "card"}),
        },
        Shown {
            id: "derm".into(),
            title: "Dermatologia".into(),
            value: json!({"id": "derm"}),
        },
        Shown {
            id: MORE_ID.into(),
            title: "Ver mais".into(),
            value: json!(null),
        },
    ];
    let pt = pt();
    let tap = |id: &'static str| Answer {
        reply_id: Some(id),
        text: Some("ignored"),
    };
    assert_eq!(
        value(pt.read(Parse::Option, tap("derm"), &shown)),
        json!({"id": "derm"})
    );
    assert_eq!(pt.read(Parse::Option, tap(MORE_ID), &shown), Ok(Read::More));
    assert_eq!(
        value(pt.read(Parse::Option, typed("1"), &shown)),
        json!({"id": "card"})
    );
    assert_eq!(
        value(pt.read(Parse::Option, typed(" dermatologia "), &shown)),
        json!({"id": "derm"})
    );
    assert_eq!(pt.read(Parse::Option, typed("3"), &shown), Ok(Read::More));
    assert!(pt
        .read(Parse::Option, typed("4"), &shown)
        .unwrap_err()
        .contains("1 to 3"));
    assert!(pt
        .read(Parse::Option, tap("old-row"), &shown)
        .unwrap_err()
        .contains("not one of the last message's"));
    assert!(pt
        .read(Parse::Option, typed("pediatria"), &shown)
        .unwrap_err()
        .contains("names none"));
}

#[test]
fn the_29th_of_february_without_a_year_is_the_next_leap_day() {
    let pt = pt();
    assert_eq!(
        value(pt.read(Parse::Date, typed("29/02"), &[])),
        json!("2028-02-29")
    );
}

#[test]
fn a_blank_text_beside_a_tapped_id_reads_the_id() {
    let pt = pt();
    let answer = Answer {
        reply_id: Some("14:30"),
        text: Some("  "),
    };
    assert_eq!(value(pt.read(Parse::Time, answer, &[])), json!("14:30"));
}
