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
