//! When a schedule fires: a cron expression read in a time zone ([`Schedule`], [`Zone`]),
//! its ticks after an instant, and each tick's run date.

use crate::error::{Error, Result};
use abforge_env::Invalid;
use chrono::{DateTime, FixedOffset, NaiveDate, Offset, Utc};
use std::str::FromStr;

/// A time zone of a schedule: UTC, a fixed offset from it, or a named zone of the IANA
/// database (`Europe/Paris`, with its daylight-saving rules, by [`chrono_tz`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zone {
    /// A fixed offset from UTC (UTC itself is offset 0).
    Fixed(FixedOffset),
    /// A zone of the IANA time zone database.
    Named(chrono_tz::Tz),
}

impl Zone {
    /// UTC.
    pub fn utc() -> Zone {
        Zone::Fixed(Utc.fix())
    }

    /// The offset from UTC at the instant `t`.
    pub fn offset_at(self, t: DateTime<Utc>) -> FixedOffset {
        match self {
            Zone::Fixed(o) => o,
            Zone::Named(tz) => t.with_timezone(&tz).offset().fix(),
        }
    }

    /// `t` as a local time in the zone, at its offset then.
    pub fn local(self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.with_timezone(&self.offset_at(t))
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone::utc()
    }
}

impl std::fmt::Display for Zone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Zone::Fixed(o) if o.local_minus_utc() == 0 => f.write_str("UTC"),
            Zone::Fixed(o) => write!(f, "{o}"),
            Zone::Named(tz) => f.write_str(tz.name()),
        }
    }
}

impl FromStr for Zone {
    type Err = Error;

    /// `UTC` (or `Z`), a fixed offset (`+02:00`, `-0530`, `+2`, `UTC+02:00`), or an IANA
    /// zone name (`Europe/Paris`, `America/New_York`; exact spelling).
    fn from_str(s: &str) -> Result<Zone> {
        let t = s.trim();
        let bad = || {
            Error::from(Invalid::new(
                "tz",
                format!(
                    "{s:?} is not a time zone abforge knows; expected UTC, a fixed offset from \
                     it such as +02:00, -05:30 or UTC+1, or a zone of the IANA database such \
                     as Europe/Paris or America/New_York"
                ),
            ))
        };
        let rest = match t.to_ascii_uppercase().as_str() {
            "UTC" | "Z" | "GMT" | "ETC/UTC" => return Ok(Zone::utc()),
            u if u.starts_with("UTC") || u.starts_with("GMT") => t[3..].to_string(),
            _ => t.to_string(),
        };
        let (sign, digits) = match rest.as_bytes().first() {
            Some(b'+') => (1, &rest[1..]),
            Some(b'-') => (-1, &rest[1..]),
            _ => {
                return t
                    .parse::<chrono_tz::Tz>()
                    .map(Zone::Named)
                    .map_err(|_| bad());
            }
        };
        let (h, m) = match digits.split_once(':') {
            Some((h, m)) => (h, m),
            None if digits.len() == 4 => digits.split_at(2),
            None => (digits, "0"),
        };
        let num = |v: &str| {
            (!v.is_empty() && v.len() <= 2 && v.bytes().all(|b| b.is_ascii_digit()))
                .then(|| v.parse::<i32>().ok())
                .flatten()
        };
        let (Some(h), Some(m)) = (num(h), num(m)) else {
            return Err(bad());
        };
        if h > 14 || m > 59 || (h == 14 && m > 0) {
            return Err(bad());
        }
        FixedOffset::east_opt(sign * (h * 3600 + m * 60))
            .map(Zone::Fixed)
            .ok_or_else(bad)
    }
}

/// The next (or previous) tick of `cron` from `t`, read in `tz`.
fn occurrence<Tz: chrono::TimeZone>(
    cron: &croner::Cron,
    t: DateTime<Utc>,
    tz: &Tz,
    next: bool,
    inclusive: bool,
) -> std::result::Result<DateTime<Utc>, croner::errors::CronError> {
    let local = t.with_timezone(tz);
    if next {
        cron.find_next_occurrence(&local, inclusive)
    } else {
        cron.find_previous_occurrence(&local, inclusive)
    }
    .map(|d| d.with_timezone(&Utc))
}

/// A cron expression in a time zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    cron: croner::Cron,
    expression: String,
    zone: Zone,
}

impl Schedule {
    /// Parses `expression` (see the [module docs](crate::schedule)); it must fire at least once in the
    /// next 5000 years.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming `cron`, the expression and what is wrong with it.
    pub fn new(expression: &str, zone: Zone) -> Result<Schedule> {
        let bad = |why: String| {
            Error::from(
                Invalid::new(
                    "cron",
                    format!(
                        "{why}; expected 5 fields (minute hour day-of-month month \
                         day-of-week), or 6 with seconds first, e.g. \"0 9 * * MON\" \
                         (Mondays at 09:00)"
                    ),
                )
                .value(format_args!("{expression:?}")),
            )
        };
        let cron = croner::Cron::from_str(expression).map_err(|e| bad(e.to_string()))?;
        let s = Schedule {
            cron,
            expression: expression.trim().to_string(),
            zone,
        };
        s.next_after(Utc::now())
            .map_err(|_| bad("it never fires (no matching date)".into()))?;
        Ok(s)
    }

    /// The expression as given (trimmed).
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone it is read in.
    pub fn zone(&self) -> Zone {
        self.zone
    }

    fn find(
        &self,
        t: DateTime<Utc>,
        next: bool,
        inclusive: bool,
    ) -> std::result::Result<DateTime<Utc>, croner::errors::CronError> {
        match &self.zone {
            Zone::Fixed(o) => occurrence(&self.cron, t, o, next, inclusive),
            Zone::Named(tz) => occurrence(&self.cron, t, tz, next, inclusive),
        }
    }

    /// The first tick strictly after `t`.
    ///
    /// # Errors
    /// [`Error::Invalid`] when there is none (before the year 5000).
    pub fn next_after(&self, t: DateTime<Utc>) -> Result<DateTime<Utc>> {
        self.find(whole_seconds(t), true, false).map_err(|e| {
            Invalid::new("cron", e.to_string())
                .value(format_args!("{:?}", self.expression))
                .into()
        })
    }

    /// The latest tick at or before `t`, if any.
    pub fn latest_at_or_before(&self, t: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.find(whole_seconds(t), false, true).ok()
    }

    /// The ticks in `(after, until]`, in order: at most the last `limit` of them, and how
    /// many earlier ones were left out.
    ///
    /// # Errors
    /// As [`next_after`](Self::next_after).
    pub fn ticks(
        &self,
        after: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<(Vec<DateTime<Utc>>, usize)> {
        let mut ticks = std::collections::VecDeque::new();
        let mut dropped = 0;
        let mut t = after;
        while t < until {
            let Ok(next) = self.next_after(t) else { break };
            if next > until {
                break;
            }
            if ticks.len() == limit.max(1) {
                ticks.pop_front();
                dropped += 1;
            }
            ticks.push_back(next);
            t = next;
        }
        Ok((ticks.into(), dropped))
    }

    /// The run date of a tick: its date in the schedule's zone.
    pub fn run_date(&self, tick: DateTime<Utc>) -> NaiveDate {
        self.zone.local(tick).date_naive()
    }

    /// A tick as people read it, in the schedule's zone: `2026-11-23 09:00:00 UTC`.
    pub fn show(&self, t: DateTime<Utc>) -> String {
        format!(
            "{} {}",
            self.zone.local(t).format("%Y-%m-%d %H:%M:%S"),
            self.zone
        )
    }
}

fn whole_seconds(t: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp(t.timestamp(), 0).unwrap_or(t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::schedule::DEFAULT_CRON;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn zones_are_utc_or_fixed_offsets() {
        for (s, secs) in [
            ("UTC", 0),
            ("z", 0),
            ("+02:00", 7200),
            ("-05:30", -19_800),
            ("+0530", 19_800),
            ("+2", 7200),
            ("UTC+1", 3600),
            ("utc-03:00", -10_800),
            ("+14:00", 50_400),
        ] {
            assert_eq!(
                s.parse::<Zone>()
                    .unwrap()
                    .offset_at(Utc::now())
                    .local_minus_utc(),
                secs,
                "{s}"
            );
        }
        for bad in [
            "",
            "Europe/Pariss",
            "Mars/Olympus",
            "+25:00",
            "+02:60",
            "2",
            "+",
            "+1:2:3",
            "+14:30",
        ] {
            let e = bad.parse::<Zone>().unwrap_err();
            let tz = e.invalid().is_some_and(|i| i.field == "tz");
            assert!(e.is_usage() && tz, "{bad}: {e}");
        }
        assert_eq!(Zone::utc().to_string(), "UTC");
        assert_eq!("+02:00".parse::<Zone>().unwrap().to_string(), "+02:00");
        assert_eq!(
            "Europe/Paris".parse::<Zone>().unwrap().to_string(),
            "Europe/Paris"
        );
    }

    #[test]
    fn named_zones_follow_daylight_saving_time() {
        let paris: Zone = "Europe/Paris".parse().unwrap();
        let s = Schedule::new("0 9 * * MON", paris).unwrap();
        let utc = |x: &str| DateTime::parse_from_rfc3339(x).unwrap().with_timezone(&Utc);
        // 09:00 in Paris is 08:00 UTC in winter (CET) and 07:00 UTC in summer (CEST).
        assert_eq!(
            s.next_after(utc("2026-11-20T00:00:00Z")).unwrap(),
            utc("2026-11-23T08:00:00Z")
        );
        assert_eq!(
            s.next_after(utc("2026-06-30T00:00:00Z")).unwrap(),
            utc("2026-07-06T07:00:00Z")
        );
        // The run date is the local date: 00:30 in Paris on a Tuesday is Monday in UTC.
        let late = Schedule::new("30 0 * * TUE", paris).unwrap();
        let tick = late.next_after(utc("2026-11-20T00:00:00Z")).unwrap();
        assert_eq!(tick, utc("2026-11-23T23:30:00Z"));
        assert_eq!(late.run_date(tick).to_string(), "2026-11-24");
        assert_eq!(late.show(tick), "2026-11-24 00:30:00 Europe/Paris");
    }

    #[test]
    fn bad_cron_expressions_are_usage_errors_naming_the_flag() {
        for bad in [
            "",
            "0 9 * *",
            "0 25 * * MON",
            "0 9 * * FUNDAY",
            "x",
            "0 0 30 2 *",
        ] {
            let e = Schedule::new(bad, Zone::utc()).unwrap_err();
            assert!(e.is_usage(), "{bad}: {e}");
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("cron {bad:?}: ")) && text.contains("0 9 * * MON"),
                "{text}"
            );
        }
    }

    #[test]
    fn ticks_follow_the_expression_in_its_zone() {
        let s = Schedule::new(DEFAULT_CRON, Zone::utc()).unwrap();
        // 2026-11-23 is a Monday.
        let mon = utc("2026-11-23T09:00:00Z");
        assert_eq!(s.next_after(utc("2026-11-23T08:59:59.5Z")).unwrap(), mon);
        assert_eq!(
            s.next_after(mon).unwrap(),
            utc("2026-11-30T09:00:00Z"),
            "strictly after"
        );
        assert_eq!(s.latest_at_or_before(mon), Some(mon), "inclusive");
        assert_eq!(
            s.latest_at_or_before(utc("2026-11-29T00:00:00Z")),
            Some(mon)
        );
        let (ticks, dropped) = s
            .ticks(
                utc("2026-11-01T00:00:00Z"),
                utc("2026-11-30T09:00:00Z"),
                100,
            )
            .unwrap();
        assert_eq!(dropped, 0);
        assert_eq!(
            ticks,
            [
                "2026-11-02T09:00:00Z",
                "2026-11-09T09:00:00Z",
                "2026-11-16T09:00:00Z",
                "2026-11-23T09:00:00Z",
                "2026-11-30T09:00:00Z"
            ]
            .map(utc)
        );
        let (last, dropped) = s
            .ticks(utc("2026-11-01T00:00:00Z"), utc("2026-11-30T09:00:00Z"), 2)
            .unwrap();
        assert_eq!((last.len(), dropped), (2, 3));
        assert_eq!(last[1], utc("2026-11-30T09:00:00Z"));
        assert!(s.ticks(mon, mon, 10).unwrap().0.is_empty());

        // Mondays 09:00 at +10:00 is Sunday 23:00 UTC; its run date is the Monday.
        let east = Schedule::new(DEFAULT_CRON, "+10:00".parse().unwrap()).unwrap();
        let t = east.next_after(utc("2026-11-22T00:00:00Z")).unwrap();
        assert_eq!(t, utc("2026-11-22T23:00:00Z"));
        assert_eq!(east.run_date(t), "2026-11-23".parse::<NaiveDate>().unwrap());
        assert_eq!(east.show(t), "2026-11-23 09:00:00 +10:00");
        assert_eq!(s.show(mon), "2026-11-23 09:00:00 UTC");

        // Seconds first, six fields.
        let every = Schedule::new("*/10 * * * * *", Zone::utc()).unwrap();
        assert_eq!(
            every.next_after(utc("2026-11-23T09:00:01Z")).unwrap(),
            utc("2026-11-23T09:00:10Z")
        );
    }
}
