//! Crontab expressions with their classic Vixie/cronie meaning: checked and normalised here,
//! evaluated by the `croner` crate.
//!
//! Five fields are `minute hour day-of-month month day-of-week`; six put `second` first; seven
//! also add a `year` last. A field is a list of `*`, `N` or `A-B`, each optionally stepped (`*/S`,
//! `A-B/S`); months take `jan`–`dec` and weekdays `sun`–`sat` (any case); weekday 0 and 7 are
//! Sunday. When day-of-month and day-of-week are both restricted a day matches when *either*
//! does; as in cronie, a day field that starts with `*` (`*/2`) counts as unrestricted, and then
//! both must match. `@yearly` … `@hourly` stand for their five-field forms. Anything else —
//! Quartz's `?`, `croner`'s `L`, `W`, `#` and `+` — is refused, so an expression means here
//! what it means in a crontab.

use croner::Cron;
use croner::parser::{CronParser, Seconds, Year};

/// Why a cron expression is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CronError {
    #[error("cron expression {expr:?} has {count} fields")]
    FieldCount { expr: String, count: usize },
    #[error("cron expression {expr:?}: unknown macro {name}")]
    Macro { expr: String, name: String },
    #[error("cron expression {expr:?}: {field} {item:?}: {reason}")]
    Field { expr: String, field: &'static str, item: String, reason: String, fix: String },
    #[error("cron expression {expr:?}: {reason}")]
    Invalid { expr: String, reason: String },
    #[error("cron expression {expr:?} never fires after {after}")]
    NeverFires { expr: String, after: String },
}

impl CronError {
    /// What to write instead.
    pub fn hint(&self) -> String {
        match self {
            CronError::FieldCount { .. } => {
                "write 5 fields, minute hour day-of-month month day-of-week (\"0 9 * * 1-5\"), \
                 or 6 with seconds first (\"*/10 * * * * *\"), or 7 with seconds first and a year last"
                    .into()
            }
            CronError::Macro { name, .. } if name.eq_ignore_ascii_case("@reboot") => {
                "probes start at deploy; write every: DURATION with initial_delay: DURATION instead".into()
            }
            CronError::Macro { .. } => {
                "write one of @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly".into()
            }
            CronError::Field { fix, .. } => fix.clone(),
            CronError::Invalid { .. } => SYNTAX.into(),
            CronError::NeverFires { .. } => {
                "no date matches it (like February 30, or only past years); check the day-of-month against the month"
                    .into()
            }
        }
    }
}

/// The syntax reminder for a field that cannot be read.
const SYNTAX: &str = "a field is *, N, A-B or a list of them, each optionally stepped as */S or A-B/S";

/// One field's name, range and names (the first name stands for `min`).
struct Field {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const SECOND: Field = Field { name: "second", min: 0, max: 59, names: &[] };
const MINUTE: Field = Field { name: "minute", min: 0, max: 59, names: &[] };
const HOUR: Field = Field { name: "hour", min: 0, max: 23, names: &[] };
const DOM: Field = Field { name: "day-of-month", min: 1, max: 31, names: &[] };
const MONTH: Field = Field {
    name: "month",
    min: 1,
    max: 12,
    names: &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
};
const DOW: Field =
    Field { name: "day-of-week", min: 0, max: 7, names: &["sun", "mon", "tue", "wed", "thu", "fri", "sat"] };
const YEAR: Field = Field { name: "year", min: 1970, max: croner::YEAR_UPPER_LIMIT as u32 - 1, names: &[] };

/// The `@` macros and the five-field forms they stand for.
const MACROS: &[(&str, &str)] = &[
    ("@yearly", "0 0 1 1 *"),
    ("@annually", "0 0 1 1 *"),
    ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"),
    ("@daily", "0 0 * * *"),
    ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"),
];

/// Check `expr` and build its `croner` evaluator.
pub(super) fn parse(expr: &str) -> Result<Cron, CronError> {
    let trimmed = expr.trim();
    let text = if trimmed.starts_with('@') {
        MACROS
            .iter()
            .find(|(m, _)| m.eq_ignore_ascii_case(trimmed))
            .map(|(_, form)| *form)
            .ok_or_else(|| CronError::Macro { expr: expr.to_string(), name: trimmed.to_string() })?
    } else {
        trimmed
    };
    let fields: Vec<&str> = text.split_whitespace().collect();
    let layout: &[&Field] = match fields.len() {
        5 => &[&MINUTE, &HOUR, &DOM, &MONTH, &DOW],
        6 => &[&SECOND, &MINUTE, &HOUR, &DOM, &MONTH, &DOW],
        7 => &[&SECOND, &MINUTE, &HOUR, &DOM, &MONTH, &DOW, &YEAR],
        count => return Err(CronError::FieldCount { expr: expr.to_string(), count }),
    };
    let mut out = Vec::with_capacity(fields.len());
    for (field, text) in layout.iter().zip(&fields) {
        out.push(normalise(field, text).map_err(|(item, Bad { reason, fix })| CronError::Field {
            expr: expr.to_string(),
            field: field.name,
            item,
            reason,
            fix,
        })?);
    }
    // cronie: a day field starting with `*` makes the day an AND of both fields (croner's `+`);
    // a plain `*` leaves only the other field, which croner does by itself.
    let (dom, dow) = if fields.len() == 5 { (2, 4) } else { (3, 5) };
    if (fields[dom].starts_with('*') || fields[dow].starts_with('*')) && fields[dom] != "*" && fields[dow] != "*" {
        out[dow].insert(0, '+');
    }
    let parser = CronParser::builder().seconds(Seconds::Optional).year(Year::Optional).build();
    parser.parse(&out.join(" ")).map_err(|e| CronError::Invalid { expr: expr.to_string(), reason: e.to_string() })
}

/// Why one item of a field is refused, and what to write instead.
struct Bad {
    reason: String,
    fix: String,
}

fn bad(reason: impl Into<String>, fix: impl Into<String>) -> Bad {
    Bad { reason: reason.into(), fix: fix.into() }
}

/// A field with names replaced by numbers; on error the item and why.
fn normalise(field: &Field, text: &str) -> Result<String, (String, Bad)> {
    let mut items = Vec::new();
    for item in text.split(',') {
        items.push(item_form(field, item).map_err(|b| (item.to_string(), b))?);
    }
    Ok(items.join(","))
}

/// One list item (`*`, `N`, `A-B`, optionally `/S`) in numbers.
fn item_form(field: &Field, item: &str) -> Result<String, Bad> {
    if item.is_empty() {
        return Err(bad("empty list item", "remove the extra comma"));
    }
    let (base, step) = match item.split_once('/') {
        Some((base, s)) => match s.parse::<u32>() {
            Ok(n) if n >= 1 => (base, Some(n)),
            _ => return Err(bad(format!("step {s:?} is not a whole number ≥ 1"), "write e.g. */5")),
        },
        None => (item, None),
    };
    let base = if base == "*" {
        base.to_string()
    } else if let Some((a, b)) = base.split_once('-') {
        let (lo, mut hi) = (value(field, a)?, value(field, b)?);
        if field.name == DOW.name && hi == 0 && lo > 0 && !b.starts_with('0') {
            hi = 7; // `fri-sun`: Sunday is 7 at the end of a range
        }
        if lo > hi {
            let fix = if field.name == DOW.name && hi == 0 {
                format!("write {lo}-7 (7 is Sunday too)")
            } else {
                format!("write {hi}-{lo}, or {lo}-{},{}-{hi} to wrap around", field.max, field.min)
            };
            return Err(bad(format!("range {lo}-{hi} runs backwards"), fix));
        }
        format!("{lo}-{hi}")
    } else {
        let n = value(field, base)?;
        if let Some(s) = step {
            let fix = format!("write {n}-{}/{s} (cron steps need a range or *)", field.max);
            return Err(bad("a single value cannot take a step", fix));
        }
        n.to_string()
    };
    Ok(match step {
        Some(s) => format!("{base}/{s}"),
        None => base,
    })
}

/// A number or name of `field`, in range.
fn value(field: &Field, text: &str) -> Result<u32, Bad> {
    let range = match field.names {
        [] => format!("{}-{}", field.min, field.max),
        names => format!("{}-{} or {}-{}", field.min, field.max, names[0], names[names.len() - 1]),
    };
    let n = if let Some(i) = field.names.iter().position(|n| n.eq_ignore_ascii_case(text)) {
        field.min + i as u32
    } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        text.parse::<u32>().unwrap_or(u32::MAX)
    } else {
        let letters: String = text.chars().filter(|c| !c.is_ascii_digit()).collect();
        let fix = if text == "?" {
            "? is Quartz syntax; write *".to_string()
        } else if matches!(letters.to_ascii_uppercase().as_str(), "L" | "W" | "LW" | "#" | "#L") {
            format!("write a number {range}; L, W and # are not crontab syntax")
        } else {
            format!("write a number {range}")
        };
        return Err(bad(format!("{text:?} is not a {} value", field.name), fix));
    };
    if n < field.min || n > field.max {
        return Err(bad(format!("{text} is out of range"), format!("the {} is {range}", field.name)));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refused_expressions_say_why_and_what_to_write() {
        for (expr, error, hint) in [
            ("* * *", "has 3 fields", "write 5 fields"),
            ("* * * * * * * *", "has 8 fields", "7 with seconds first and a year last"),
            ("61 * * * *", "minute \"61\": 61 is out of range", "the minute is 0-59"),
            ("0 24 * * *", "hour \"24\": 24 is out of range", "the hour is 0-23"),
            ("0 0 0 * *", "day-of-month \"0\"", "1-31"),
            ("0 0 * 13 *", "month \"13\"", "1-12 or jan-dec"),
            ("0 0 * * 8", "day-of-week \"8\": 8 is out of range", "0-7 or sun-sat"),
            ("0 0 * * monday", "\"monday\" is not a day-of-week value", "0-7 or sun-sat"),
            ("0 0 * mon *", "\"mon\" is not a month value", "jan-dec"),
            ("0 0 * * 5-1", "range 5-1 runs backwards", "write 1-5"),
            ("0 0 * * 6-0", "range 6-0 runs backwards", "write 6-7 (7 is Sunday too)"),
            ("0/10 * * * *", "a single value cannot take a step", "write 0-59/10"),
            ("*/0 * * * *", "step \"0\"", "*/5"),
            ("1,,2 * * * *", "empty list item", "remove the extra comma"),
            ("0 0 ? * MON", "\"?\" is not a day-of-month value", "Quartz syntax; write *"),
            ("0 0 L * *", "\"L\" is not a day-of-month value", "L, W and # are not crontab syntax"),
            ("0 0 * * 5#2", "\"5#2\" is not a day-of-week value", "not crontab syntax"),
            ("0 0 * * +1", "\"+1\" is not a day-of-week value", "0-7"),
            ("@reboot", "unknown macro @reboot", "initial_delay"),
            ("@fortnightly", "unknown macro @fortnightly", "@weekly"),
            ("0 0 0 1 1 * 1969", "year \"1969\"", "1970-4999"),
        ] {
            let e = parse(expr).expect_err(expr);
            assert!(e.to_string().contains(error), "{expr}: want {error:?} in {e}");
            assert!(e.hint().contains(hint), "{expr}: want {hint:?} in hint {:?}", e.hint());
        }
    }

    #[test]
    fn names_any_case_and_sunday_at_a_range_end() {
        for (a, b) in [
            ("0 0 * * Mon-FRI", "0 0 * * 1-5"),
            ("0 0 * jan,Jul,DEC sun", "0 0 * 1,7,12 0"),
            ("0 0 * * fri-sun", "0 0 * * 5-7"),
            ("0 0 * * 7", "0 0 * * 0"),
            ("@annually", "0 0 1 1 *"),
            ("@midnight", "0 0 * * *"),
        ] {
            assert_eq!(parse(a).unwrap().pattern.days_of_week, parse(b).unwrap().pattern.days_of_week, "{a}");
            assert_eq!(parse(a).unwrap().pattern.months, parse(b).unwrap().pattern.months, "{a}");
        }
    }
}
