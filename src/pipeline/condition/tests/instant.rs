//! The tolerant instant parser.

use super::*;

#[test]
fn parse_instant_reads_every_documented_format() {
    let noon = utc(2026, 3, 1, 12, 0, 0);
    assert_eq!(parse_instant("2026-03-01T12:00:00Z"), Some(noon));
    assert_eq!(parse_instant("2026-03-01T09:00:00-03:00"), Some(noon));
    assert_eq!(parse_instant("2026-03-01T12:00:00.000Z"), Some(noon));
    assert_eq!(
        parse_instant("2021-02-24T16:25:29+0000"),
        Some(utc(2021, 2, 24, 16, 25, 29))
    );
    assert_eq!(
        parse_instant("2024-01-08 10:35:18 +0200"),
        Some(utc(2024, 1, 8, 8, 35, 18))
    );
    assert_eq!(parse_instant("2026-03-01 12:00:00"), Some(noon));
    assert_eq!(parse_instant("2026-03-01T12:00:00"), Some(noon));
    assert_eq!(
        parse_instant("2026-03-01T12:00:00.250"),
        Some(noon + chrono::Duration::milliseconds(250))
    );
    assert_eq!(parse_instant("2026-03-01"), Some(utc(2026, 3, 1, 0, 0, 0)));
    assert_eq!(
        parse_instant(" 2026-03-01 "),
        Some(utc(2026, 3, 1, 0, 0, 0))
    );
}

#[test]
fn parse_instant_refuses_non_instants() {
    for s in [
        "",
        "12",
        "2026",
        "OT-2026-03-01",
        "2026-13-01",
        "2026-02-30",
        "2026-03-01T25:00:00Z",
        "2026-03-01 noon",
        "01/03/2026",
        "1709294400",
        "2026-03-01T12:00:00+99:00",
        "2026-0é-01",
    ] {
        assert_eq!(parse_instant(s), None, "{s:?}");
    }
}

#[test]
fn the_strict_reading_gives_what_chrono_gives_or_leaves_it_to_chrono() {
    use crate::pipeline::condition::instant::{relaxed, strict_rfc3339};
    for s in [
        "2026-03-01T12:00:00Z",
        "2026-03-01T09:00:00-03:00",
        "2026-03-01T09:00:00.5+0130",
        "2026-03-01T09:00:00.123456789-23:59",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999-00:00",
        "2024-02-29T00:00:00Z",
    ] {
        assert!(strict_rfc3339(s.as_bytes()).is_some(), "{s}");
        assert_eq!(strict_rfc3339(s.as_bytes()), relaxed(s), "{s}");
    }
    // Left to chrono: other separators and zones, leap seconds, days that do not exist,
    // fractions of ten digits, offsets out of range.
    for s in [
        "2026-03-01 12:00:00Z",
        "2026-03-01t12:00:00z",
        "2026-03-01T12:00:00 +02:00",
        "2026-03-01T12:00:00UTC",
        "2026-03-01T12:00:00",
        "2016-12-31T23:59:60Z",
        "2026-02-29T00:00:00Z",
        "2026-03-01T24:00:00Z",
        "2026-03-01T12:00:00.1234567891Z",
        "2026-03-01T12:00:00.Z",
        "2026-03-01T12:00:00+24:00",
        "2026-03-01T12:00:00+01:60",
        "2026-03-01T12:00:00+1",
    ] {
        assert_eq!(strict_rfc3339(s.as_bytes()), None, "{s}");
    }
    assert_eq!(
        parse_instant("2016-12-31T23:59:60Z"),
        relaxed("2016-12-31T23:59:60Z")
    );
}

proptest::proptest! {
    #[test]
    fn the_strict_reading_agrees_with_chrono(
        s in "[0-9]{4}-[01][0-9]-[0-3][0-9][Tt ][0-2][0-9]:[0-6][0-9]:[0-6][0-9](\\.[0-9]{0,11})?(Z|z|[+-][0-9]{2}:?[0-9]{2}|[+-][0-9]{1,3})?"
    ) {
        use crate::pipeline::condition::instant::{relaxed, strict_rfc3339};
        if let Some(at) = strict_rfc3339(s.as_bytes()) {
            proptest::prop_assert_eq!(Some(at), relaxed(&s), "{}", s);
        }
        proptest::prop_assert_eq!(parse_instant(&s), relaxed(&s), "{}", s);
    }
}
