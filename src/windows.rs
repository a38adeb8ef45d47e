//! Change windows (`windows:` on a site, a policy or in `siteward.yaml`): times in which
//! `apply` and `reconcile` must not change a site. Pure: parsing the `deny` syntax and deciding
//! whether an instant is inside a window, in the window's own time zone (IANA database through
//! `chrono-tz`), so daylight-saving changes move the window with the local clock.
//!
//! - `{deny: "Fri 16:00 - Mon 08:00", timezone: Europe/Amsterdam, reason}`: every week, from
//!   the first local day and time up to (not including) the second; it may wrap the week end.
//! - `{from: 2026-11-27, to: 2026-11-30, timezone, reason}`: a freeze over whole local days,
//!   both included.
//!
//! `timezone` defaults to UTC.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Timelike, Utc, Weekday};
use chrono_tz::Tz;

/// When a window denies changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Span {
    /// Every week from `from` up to `to` (minutes since Monday 00:00, local time).
    Weekly { from: u32, to: u32 },
    /// Whole local days, both included.
    Freeze { from: NaiveDate, to: NaiveDate },
}

/// One change window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    pub span: Span,
    pub timezone: Tz,
    /// Why changes are denied (shown as the hold reason).
    pub reason: Option<String>,
    /// How the window was written, for messages: `Fri 16:00 - Mon 08:00` or
    /// `2026-11-27 to 2026-11-30`.
    pub text: String,
}

impl Window {
    /// Whether `now` is inside the window.
    pub fn contains(&self, now: DateTime<Utc>) -> bool {
        let local = now.with_timezone(&self.timezone);
        match self.span {
            Span::Weekly { from, to } => {
                let m = local.weekday().num_days_from_monday() * 24 * 60
                    + local.hour() * 60
                    + local.minute();
                if from < to {
                    from <= m && m < to
                } else {
                    m >= from || m < to
                }
            }
            Span::Freeze { from, to } => (from..=to).contains(&local.date_naive()),
        }
    }

    /// The hold reason of a change inside this window.
    pub fn hold_reason(&self) -> String {
        let why = self.reason.as_deref().unwrap_or("no reason given");
        format!(
            "held: inside the change window `{}` ({}): {why}",
            self.text, self.timezone
        )
    }
}

/// Per site inside a window at `now` (the repo-wide `settings` windows first, then the
/// site's own): the hold reason of the first window that contains it.
pub fn holds<'a>(
    settings: &[Window],
    sites: impl IntoIterator<Item = &'a crate::spec::Site>,
    now: DateTime<Utc>,
) -> std::collections::BTreeMap<String, String> {
    sites
        .into_iter()
        .filter_map(|site| {
            let window = active(settings, now).or_else(|| active(&site.windows, now))?;
            Some((site.name.to_string(), window.hold_reason()))
        })
        .collect()
}

/// `--ignore-windows --reason TEXT`: who overrode the change windows of which sites, and why
/// (in the run record).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct WindowOverride {
    /// The CI user or local `$USER` ([`crate::audit::Trigger`]'s actor), else the audit author.
    pub by: String,
    /// `--reason`.
    pub reason: String,
    /// Sites that were inside a window and were acted on anyway.
    pub sites: Vec<String>,
}

/// The first of `windows` that contains `now`.
pub fn active(windows: &[Window], now: DateTime<Utc>) -> Option<&Window> {
    windows.iter().find(|w| w.contains(now))
}

/// Parses the `deny` syntax `DAY HH:MM - DAY HH:MM` (days `Mon`..`Sun` or full English names,
/// any case) into minutes since Monday 00:00; an empty window is refused.
pub fn parse_weekly(text: &str) -> Result<(u32, u32), String> {
    let (from, to) = text.split_once('-').ok_or_else(|| {
        format!("`{text}` must read `DAY HH:MM - DAY HH:MM`, e.g. `Fri 16:00 - Mon 08:00`")
    })?;
    let from = point(from.trim())?;
    let to = point(to.trim())?;
    if from == to {
        return Err(format!("`{text}` starts and ends at the same time"));
    }
    Ok((from, to))
}

/// `DAY HH:MM` as minutes since Monday 00:00.
fn point(text: &str) -> Result<u32, String> {
    let (day, time) = text
        .split_once(char::is_whitespace)
        .ok_or_else(|| format!("`{text}` must read `DAY HH:MM`, e.g. `Fri 16:00`"))?;
    let day: Weekday = day
        .trim()
        .parse()
        .map_err(|_| format!("`{day}` is not a day; use Mon, Tue, Wed, Thu, Fri, Sat or Sun"))?;
    let time = NaiveTime::parse_from_str(time.trim(), "%H:%M")
        .map_err(|_| format!("`{}` is not a time; use HH:MM (24-hour)", time.trim()))?;
    Ok(day.num_days_from_monday() * 24 * 60 + time.hour() * 60 + time.minute())
}

/// Parses a freeze's dates (`YYYY-MM-DD`); `to` may not be before `from`.
pub fn parse_freeze(from: &str, to: &str) -> Result<(NaiveDate, NaiveDate), String> {
    let date = |s: &str| {
        NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .map_err(|_| format!("`{s}` is not a date; use YYYY-MM-DD"))
    };
    let (from, to) = (date(from)?, date(to)?);
    if to < from {
        return Err(format!("the freeze ends ({to}) before it starts ({from})"));
    }
    Ok((from, to))
}

/// Parses an IANA time zone name such as `Europe/Amsterdam`.
pub fn parse_timezone(name: &str) -> Result<Tz, String> {
    name.parse().map_err(|_| {
        format!(
            "`{name}` is not a time zone of the IANA database, e.g. `Europe/Amsterdam` or `UTC`"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn weekly(text: &str, tz: &str) -> Window {
        let (from, to) = parse_weekly(text).unwrap();
        Window {
            span: Span::Weekly { from, to },
            timezone: parse_timezone(tz).unwrap(),
            reason: Some("weekend".into()),
            text: text.into(),
        }
    }

    #[test]
    fn a_weekend_window_wraps_the_week() {
        let w = weekly("Fri 16:00 - Mon 08:00", "UTC");
        // Friday 27 November 2026.
        assert!(!w.contains(at("2026-11-27T15:59:00Z")));
        assert!(w.contains(at("2026-11-27T16:00:00Z")));
        assert!(w.contains(at("2026-11-29T12:00:00Z")));
        assert!(w.contains(at("2026-11-30T07:59:00Z")));
        assert!(!w.contains(at("2026-11-30T08:00:00Z")));
        assert!(!w.contains(at("2026-12-02T12:00:00Z")));
        let day = weekly("tue 09:00 - Tuesday 17:30", "UTC");
        assert!(day.contains(at("2026-12-01T17:29:00Z")));
        assert!(!day.contains(at("2026-12-01T17:30:00Z")));
    }

    #[test]
    fn daylight_saving_moves_the_window_with_the_local_clock() {
        // Europe/Amsterdam goes from CET (+1) to CEST (+2) on Sunday 29 March 2026 at 02:00.
        let w = weekly("Fri 16:00 - Mon 08:00", "Europe/Amsterdam");
        // Friday 27 March, 16:00 CET is 15:00 UTC.
        assert!(!w.contains(at("2026-03-27T14:59:00Z")));
        assert!(w.contains(at("2026-03-27T15:00:00Z")));
        // Monday 30 March, 08:00 CEST is 06:00 UTC (07:00 UTC with the winter offset).
        assert!(w.contains(at("2026-03-30T05:59:00Z")));
        assert!(!w.contains(at("2026-03-30T06:00:00Z")));
        assert!(!w.contains(at("2026-03-30T06:30:00Z")));
        // The night of the change itself: 01:30 CET, then 03:30 CEST, both inside; 04:00 CEST
        // (02:00 UTC) is outside although a fixed +1 offset would call it 03:00.
        let night = weekly("Sun 01:00 - Sun 04:00", "Europe/Amsterdam");
        assert!(night.contains(at("2026-03-29T00:30:00Z")));
        assert!(night.contains(at("2026-03-29T01:30:00Z")));
        assert!(!night.contains(at("2026-03-29T02:00:00Z")));
        // Back to CET on Sunday 25 October 2026 at 03:00 CEST: 02:30 happens twice, inside
        // both times; 04:00 CET is 03:00 UTC.
        assert!(night.contains(at("2026-10-25T00:30:00Z")));
        assert!(night.contains(at("2026-10-25T01:30:00Z")));
        assert!(night.contains(at("2026-10-25T02:59:00Z")));
        assert!(!night.contains(at("2026-10-25T03:00:00Z")));
    }

    #[test]
    fn a_freeze_covers_whole_local_days() {
        let (from, to) = parse_freeze("2026-11-27", "2026-11-30").unwrap();
        let w = Window {
            span: Span::Freeze { from, to },
            timezone: parse_timezone("Europe/Amsterdam").unwrap(),
            reason: Some("Black Friday".into()),
            text: "2026-11-27 to 2026-11-30".into(),
        };
        // 23:30 UTC on the 26th is already the 27th in Amsterdam.
        assert!(w.contains(at("2026-11-26T23:30:00Z")));
        assert!(!w.contains(at("2026-11-26T22:59:00Z")));
        assert!(w.contains(at("2026-11-30T22:59:00Z")));
        assert!(!w.contains(at("2026-11-30T23:00:00Z")));
        assert_eq!(
            w.hold_reason(),
            "held: inside the change window `2026-11-27 to 2026-11-30` (Europe/Amsterdam): Black Friday"
        );
        assert_eq!(
            active(std::slice::from_ref(&w), at("2026-11-28T12:00:00Z")),
            Some(&w)
        );
        assert_eq!(active(&[w], at("2026-12-28T12:00:00Z")), None);
    }

    #[test]
    fn bad_syntax_is_explained() {
        assert!(
            parse_weekly("Fri 16:00")
                .unwrap_err()
                .contains("DAY HH:MM - DAY HH:MM")
        );
        assert!(
            parse_weekly("Fry 16:00 - Mon 08:00")
                .unwrap_err()
                .contains("`Fry` is not a day")
        );
        assert!(
            parse_weekly("Fri 25:00 - Mon 08:00")
                .unwrap_err()
                .contains("`25:00` is not a time")
        );
        assert!(
            parse_weekly("Fri 16:00 - Fri 16:00")
                .unwrap_err()
                .contains("same time")
        );
        assert!(
            parse_freeze("2026-12-01", "2026-11-01")
                .unwrap_err()
                .contains("before it starts")
        );
        assert!(
            parse_freeze("2026-13-01", "2026-11-01")
                .unwrap_err()
                .contains("not a date")
        );
        assert!(
            parse_timezone("Europe/Amsterdm")
                .unwrap_err()
                .contains("IANA")
        );
    }
}
