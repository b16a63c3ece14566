//! Phone numbers to E.164, with a default country for numbers written without one: the
//! one normalisation behind the mapper's `phone(country)` filter and the targets that take
//! numbers as people type them.

use phonenumber::country;

/// A phone-number region from an ISO 3166 alpha-2 code (any case), only if the metadata
/// knows it (the parser assumes metadata exists for the default region it is given).
pub(crate) fn region(code: &str) -> Option<country::Id> {
    let id: country::Id = code.trim().to_ascii_uppercase().parse().ok()?;
    phonenumber::metadata::DATABASE
        .by_id(id.as_ref())
        .map(|_| id)
}

/// A target's `default_country` setting: the region, or the spec error at
/// `/default_country`.
#[cfg_attr(
    not(any(feature = "rdconversas", feature = "twilio")),
    allow(dead_code)
)]
pub(crate) fn default_country(code: &str) -> Result<country::Id, crate::SpecError> {
    region(code).ok_or_else(|| {
        crate::SpecError::new(
            "/default_country",
            format!("unknown country {:?}", crate::text::truncate(code, 16)),
        )
        .with_hint("an ISO 3166 alpha-2 code, such as \"BR\", \"CL\" or \"ES\"")
    })
}

/// A payload's `to` as E.164, or the error on `to` (which does not quote the number: it
/// is personal data, and reports keep messages).
#[cfg_attr(
    not(any(feature = "rdconversas", feature = "twilio")),
    allow(dead_code)
)]
pub(crate) fn recipient(to: &str, region: country::Id) -> Result<E164, crate::TargetError> {
    e164(to, region).map_err(|reason| {
        crate::TargetError::field(
            "to",
            format!(
                "not a valid phone number ({reason}); write it with its country code \
                 (+55 11 …) or as a national number of {}",
                region.as_ref()
            ),
        )
    })
}

/// A valid number in E.164.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct E164 {
    /// The digits, country code first, without `+` (as the WhatsApp Cloud API wants them).
    pub(crate) digits: String,
    /// The country calling code (`55` for Brazil).
    pub(crate) country_code: u16,
}

/// Parses `raw` (`(11) 99999-1234`, `+55 11 99999-1234`, `0055…`) as a number of `region`
/// unless it says its own country, and checks it against the phone-number metadata of
/// libphonenumber. The error says why, without quoting the number.
pub(crate) fn e164(raw: &str, region: country::Id) -> Result<E164, String> {
    let text = clean(raw)?;
    // The parser indexes and unwraps internally; `clean` only lets ASCII digits with an
    // optional leading `+` through and bounds their count, which keeps it off those paths.
    // Catching an unwind is a second line of defence so a record can never take the flow
    // down.
    std::panic::catch_unwind(|| {
        let number = phonenumber::parse(Some(region), &text).map_err(|e| e.to_string())?;
        if !phonenumber::is_valid(&number) {
            return Err("not a valid number for its country".to_owned());
        }
        let formatted = number.format().mode(phonenumber::Mode::E164).to_string();
        Ok(E164 {
            digits: formatted.trim_start_matches('+').to_owned(),
            country_code: number.code().value(),
        })
    })
    .unwrap_or_else(|_| Err("the phone number library could not read it".to_owned()))
}

/// Keeps the digits and a leading `+` (or `00`, turned into `+`); spaces, dashes, dots,
/// slashes and parentheses are separators; anything else is refused.
fn clean(raw: &str) -> Result<String, String> {
    let mut digits = String::with_capacity(raw.len());
    let mut plus = false;
    for c in raw.trim().chars() {
        match c {
            '0'..='9' => digits.push(c),
            ' ' | '-' | '.' | '/' | '(' | ')' | '\u{a0}' | '\t' => {}
            '+' if digits.is_empty() && !plus => plus = true,
            _ => return Err(format!("unexpected character {c:?}")),
        }
    }
    if !plus {
        if let Some(rest) = digits.strip_prefix("00") {
            digits = rest.to_owned();
            plus = true;
        }
    }
    // E.164 allows 15 digits; a national trunk or carrier prefix can add two.
    match digits.len() {
        0 => Err("no digits".to_owned()),
        1..=3 => Err("too short".to_owned()),
        18.. => Err("too long".to_owned()),
        _ if plus => Ok(format!("+{digits}")),
        _ => Ok(digits),
    }
}

#[cfg(test)]
mod tests;
