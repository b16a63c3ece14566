//! Reading an answer: the parsers of an input spec. Each returns the value stored in the
//! input's variable, or the reason the answer was refused (for the report; the patient
//! gets the spec's re-prompt text).

use chrono::{Datelike, Days, Months, NaiveDate};
use serde_json::{json, Value};

use super::compile::{normalize, Locale};
use super::spec::Parse;

/// The id of the row that shows a long list's next page.
pub(crate) const MORE_ID: &str = "hubflow:more";

/// An option the last prompt showed: its id, its title, and what choosing it stores.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Shown {
    pub(crate) id: String,
    pub(crate) title: String,
    pub(crate) value: Value,
}

/// What the patient sent: a tapped option's id and the text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Answer<'a> {
    pub(crate) reply_id: Option<&'a str>,
    pub(crate) text: Option<&'a str>,
}

/// How an answer was read.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Read {
    /// The value for the input's variable.
    Value(Value),
    /// The "more" row: show the next page.
    More,
}

/// Where parsing happens: the language and today's date in the spec's zone.
pub(crate) struct Reader<'a> {
    pub(crate) locale: Locale,
    pub(crate) language: &'a str,
    pub(crate) today: NaiveDate,
}

impl Reader<'_> {
    pub(crate) fn read(
        &self,
        parse: Parse,
        answer: Answer<'_>,
        shown: &[Shown],
    ) -> Result<Read, String> {
        if parse == Parse::Option {
            return option(answer, shown);
        }
        let blank = |t: &&str| !t.is_empty();
        let Some(text) = answer
            .text
            .map(str::trim)
            .filter(blank)
            .or_else(|| answer.reply_id.map(str::trim).filter(blank))
        else {
            return Err("the message has no text".to_owned());
        };
        let value = match parse {
            Parse::Option => return option(answer, shown),
            Parse::Date => json!(self.date(text)?.to_string()),
            Parse::Time => json!(time(text)?),
            Parse::Cpf => json!(cpf(text)?),
            Parse::BirthDate => json!(self.birth_date(text)?.to_string()),
            Parse::Text { min, max } => {
                let count = text.chars().count();
                if count < min {
                    return Err(format!("{count} characters; at least {min} expected"));
                }
                if count > max {
                    return Err(format!("{count} characters; at most {max} accepted"));
                }
                json!(text)
            }
        };
        Ok(Read::Value(value))
    }

    /// A date today or later.
    fn date(&self, text: &str) -> Result<NaiveDate, String> {
        let word = normalize(text);
        let days = match (self.locale, word.as_str()) {
            (_, "today") | (Locale::Portuguese, "hoje") => Some(0),
            (_, "tomorrow") | (Locale::Portuguese, "amanhã" | "amanha") => Some(1),
            _ => None,
        };
        if let Some(days) = days {
            return self
                .today
                .checked_add_days(Days::new(days))
                .ok_or_else(|| "no such date".to_owned());
        }
        let date = match self.calendar(text, false)? {
            Typed::Full(date) => date,
            Typed::DayMonth(day, month) => {
                // The next such day: this year's, or a later year's once it has passed
                // (29/02 waits for the next leap year).
                (0..=8)
                    .filter_map(|ahead| {
                        NaiveDate::from_ymd_opt(self.today.year() + ahead, month, day)
                    })
                    .find(|date| *date >= self.today)
                    .ok_or_else(|| format!("{day:02}/{month:02} is no date"))?
            }
        };
        if date < self.today {
            return Err(format!("{date} has passed (today is {})", self.today));
        }
        Ok(date)
    }

    /// A full date in the past, at most 130 years ago.
    fn birth_date(&self, text: &str) -> Result<NaiveDate, String> {
        let Typed::Full(date) = self.calendar(text, true)? else {
            return Err("a birth date needs its year".to_owned());
        };
        if date > self.today {
            return Err(format!("{date} is in the future"));
        }
        let oldest = self
            .today
            .checked_sub_months(Months::new(130 * 12))
            .unwrap_or(NaiveDate::MIN);
        if date < oldest {
            return Err(format!("{date} is more than 130 years ago"));
        }
        Ok(date)
    }

    /// A typed calendar date: ISO `yyyy-mm-dd`, or day, month and optional year in the
    /// locale's order, separated by `/`, `-`, `.` or spaces.
    fn calendar(&self, text: &str, past: bool) -> Result<Typed, String> {
        let text = text.trim();
        if let Ok(date) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Typed::Full(date));
        }
        let parts: Vec<&str> = text
            .split(['/', '-', '.', ' '])
            .filter(|p| !p.is_empty())
            .collect();
        let numbers: Vec<u32> = parts
            .iter()
            .map(|p| {
                p.parse::<u32>()
                    .map_err(|_| format!("`{text}` is not a date"))
            })
            .collect::<Result<_, _>>()?;
        let (first, second, year) = match (numbers.as_slice(), parts.get(2)) {
            ([a, b], _) => (*a, *b, None),
            ([a, b, y], Some(raw)) => (*a, *b, Some(self.year(*y, raw.len(), past)?)),
            _ => return Err(format!("`{text}` is not a date")),
        };
        let (day, month) = if self.locale.month_first(self.language) {
            (second, first)
        } else {
            (first, second)
        };
        let check = |year: i32| {
            NaiveDate::from_ymd_opt(year, month, day)
                .ok_or_else(|| format!("`{text}` is not a date: no day {day} in month {month}"))
        };
        match year {
            Some(year) => check(year).map(Typed::Full),
            None => {
                // Checked against a leap year, so 29/02 is a valid day and month.
                check(2000)?;
                Ok(Typed::DayMonth(day, month))
            }
        }
    }

    /// A typed year: four digits as they are; two digits in this century, or (birth
    /// dates) the last hundred years.
    fn year(&self, year: u32, digits: usize, past: bool) -> Result<i32, String> {
        let year = i32::try_from(year).map_err(|_| "no such year".to_owned())?;
        match digits {
            4 => Ok(year),
            2 => {
                let century = self.today.year() / 100 * 100;
                let in_century = century + year;
                Ok(if past && in_century > self.today.year() {
                    in_century - 100
                } else {
                    in_century
                })
            }
            _ => Err("give the year with four digits".to_owned()),
        }
    }
}

enum Typed {
    Full(NaiveDate),
    DayMonth(u32, u32),
}

/// One of the shown options: its id tapped, its number typed, or its title typed.
fn option(answer: Answer<'_>, shown: &[Shown]) -> Result<Read, String> {
    let pick = |choice: &Shown| {
        if choice.id == MORE_ID {
            Read::More
        } else {
            Read::Value(choice.value.clone())
        }
    };
    if let Some(id) = answer.reply_id {
        return match shown.iter().find(|s| s.id == id) {
            Some(choice) => Ok(pick(choice)),
            None => Err(format!(
                "option `{id}` is not one of the last message's ({})",
                ids(shown)
            )),
        };
    }
    let Some(text) = answer.text.map(str::trim).filter(|t| !t.is_empty()) else {
        return Err("the message has no text and taps no option".to_owned());
    };
    if let Ok(number) = text.trim_end_matches(['.', ')']).parse::<usize>() {
        return match number.checked_sub(1).and_then(|i| shown.get(i)) {
            Some(choice) => Ok(pick(choice)),
            None => Err(format!(
                "option {number} does not exist; 1 to {} shown",
                shown.len()
            )),
        };
    }
    let typed = normalize(text);
    match shown.iter().find(|s| normalize(&s.title) == typed) {
        Some(choice) => Ok(pick(choice)),
        None => Err(format!(
            "`{}` names none of the options ({})",
            crate::text::truncate(text, 40),
            ids(shown)
        )),
    }
}

fn ids(shown: &[Shown]) -> String {
    shown
        .iter()
        .map(|s| s.id.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A time of day as `HH:MM`: `14:30`, `14h30`, `14h`, `14`, `9`, `0930`.
fn time(text: &str) -> Result<String, String> {
    let cleaned = text.trim().to_lowercase().replace(' ', "");
    let cleaned = cleaned.trim_end_matches(['h']);
    let (hours, minutes) = match cleaned.split_once([':', 'h']) {
        Some((h, m)) => (h, if m.is_empty() { "0" } else { m }),
        None if cleaned.len() == 4 => cleaned.split_at(2),
        None => (cleaned, "0"),
    };
    let parse = |part: &str, max: u32| {
        if part.is_empty() || part.len() > 2 || !part.chars().all(|c| c.is_ascii_digit()) {
            return None;
        }
        part.parse::<u32>().ok().filter(|v| *v <= max)
    };
    match (parse(hours, 23), parse(minutes, 59)) {
        (Some(h), Some(m)) => Ok(format!("{h:02}:{m:02}")),
        _ => Err(format!(
            "`{}` is not a time of day",
            crate::text::truncate(text, 20)
        )),
    }
}

/// A CPF's 11 digits, check digits verified.
///
/// The first check digit is `10·d1 + 9·d2 + … + 2·d9`, times 10, modulo 11 (10 counts as
/// 0); the second the same over the first ten digits with weights 11 to 2.
pub(crate) fn cpf(text: &str) -> Result<String, String> {
    if text
        .chars()
        .any(|c| !(c.is_ascii_digit() || matches!(c, '.' | '-' | ' ' | '/')))
    {
        return Err("a CPF has only digits (and optionally `.`, `-`, `/` and spaces)".to_owned());
    }
    let digits: Vec<u32> = text.chars().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 11 {
        return Err(format!("{} digits; a CPF has 11", digits.len()));
    }
    if digits.iter().all(|d| *d == digits[0]) {
        return Err("a CPF of one repeated digit is not valid".to_owned());
    }
    let check = |n: usize| {
        let sum: u32 = digits[..n]
            .iter()
            .zip((2..=(n as u32 + 1)).rev())
            .map(|(d, w)| d * w)
            .sum();
        (sum * 10) % 11 % 10
    };
    if check(9) != digits[9] || check(10) != digits[10] {
        return Err("the CPF's check digits do not match".to_owned());
    }
    Ok(digits.iter().map(|d| char::from(b'0' + *d as u8)).collect())
}

#[cfg(test)]
mod tests;
