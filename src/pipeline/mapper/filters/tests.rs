//! Unit tests of `filters`.

use super::*;

#[test]
fn parse_instant_reads_every_documented_form() {
    let cases = [
        ("2021-02-24T16:25:29Z", "2021-02-24T16:25:29+00:00"),
        (
            "2021-02-24T16:25:29.5-03:00",
            "2021-02-24T19:25:29.500+00:00",
        ),
        ("2021-02-24T16:25:29+0000", "2021-02-24T16:25:29+00:00"),
        ("2024-01-08 10:35:18 +0200", "2024-01-08T08:35:18+00:00"),
        ("2026-03-01 12:00:00", "2026-03-01T12:00:00+00:00"),
        ("2026-03-01T12:00", "2026-03-01T12:00:00+00:00"),
        ("2026-03-01", "2026-03-01T00:00:00+00:00"),
    ];
    for (input, expected) in cases {
        let got = parse_instant(input).map(|at| at.to_rfc3339());
        assert_eq!(got.as_deref(), Some(expected), "{input}");
    }
    for bad in [
        "",
        "yesterday",
        "2026-13-01",
        "2026-03-01 25:00:00",
        "1700000000",
    ] {
        assert_eq!(parse_instant(bad), None, "{bad}");
    }
}

#[test]
fn cut_counts_chars_and_ellipsis() {
    assert_eq!(cut("héllo wörld", 5), "héll…");
    assert_eq!(cut("héllo", 5), "héllo");
    assert_eq!(cut("héllo", 1), "…");
    assert_eq!(cut("héllo", 0), "");
    assert_eq!(cut("", 0), "");
}

#[test]
fn strftime_rejects_bad_specifiers() {
    assert!(strftime("%d/%m/%Y %H:%M").is_ok());
    assert!(strftime("").is_ok());
    assert!(strftime("%Q").is_err());
    assert!(strftime("%").is_err());
    assert!(strftime("%Y-%").is_err());
}

proptest::proptest! {
    /// Writing the local time without the zone's name gives what chrono's own formatting
    /// of the zoned instant gives, for every kind of item.
    #[test]
    fn format_in_writes_what_chrono_writes(
        secs in -62_000_000_000i64..253_000_000_000,
        nanos in 0u32..1_000_000_000,
        zone in proptest::sample::select(vec![
            "UTC", "America/Sao_Paulo", "America/Santiago", "Europe/Madrid", "Asia/Kolkata",
            "Pacific/Chatham", "America/St_Johns",
        ]),
        format in proptest::sample::select(vec![
            "%d/%m/%Y %H:%M", "%Y-%m-%d %H:%M:%S%.f", "%a %b %e %I:%M %p %P", "%A, %B %-d %y",
            "%j %U %W %G %V %u %w %C %q", "%H:%M:%S%.3f%.6f%.9f%3f", "%z %:z %Z %s", "%+", "%c",
            "%F %T %R %D %x %X %r", "%::z %:::z %#z", "%% %t %n",
        ]),
    ) {
        let Some(instant) = DateTime::from_timestamp(secs, nanos) else {
            return Ok(());
        };
        let tz = time_zone(zone).unwrap();
        let items = strftime(format).unwrap();
        let mut chrono = String::new();
        let written = instant
            .with_timezone(&tz)
            .format_with_items(items.iter())
            .write_to(&mut chrono)
            .map(|()| chrono);
        proptest::prop_assert_eq!(format_in(instant, &tz, &items), written);
    }
}
