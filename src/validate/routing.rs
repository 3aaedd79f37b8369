//! `spec.grafana.alerting` routing: what makes Grafana refuse the provisioned
//! notification policy tree or mute timings, which stops Grafana at start,
//! checked before anything is written. The rules are Grafana's
//! `definitions.Route` validation (`ValidateChild`: no `...` with other
//! `group_by` labels, no label twice, no zero `group_interval` or
//! `repeat_interval`; the policy service: every receiver and mute timing
//! exists) and Prometheus Alertmanager's time intervals (`timeinterval`:
//! `HH:MM` times with start before end, weekday, day-of-month, month and year
//! ranges), read in stored copies of grafana/grafana and
//! prometheus/alertmanager, not verified at Grafana v12.4.12.

use std::collections::BTreeSet;

use super::Validator;
use super::syntax::{is_label_name, one_line};
use crate::api::{AlertingSpec, MatchOperator, NotificationGrouping, TimeInterval};
use crate::builtin::slos::promql_string;

const WEEKDAYS: [&str; 7] = [
    "sunday",
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
];
const MONTHS: [&str; 12] = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];

/// Reads one end of a range.
type End = fn(&str) -> Option<i64>;

/// A value or `a:b` range whose ends `end` reads, or `None`.
fn range_of(v: &str, end: impl Fn(&str) -> Option<i64>) -> Option<(i64, i64)> {
    match v.split_once(':') {
        Some((a, b)) => Some((end(a)?, end(b)?)),
        None => end(v).map(|x| (x, x)),
    }
}

fn weekday(s: &str) -> Option<i64> {
    WEEKDAYS
        .iter()
        .position(|d| d.eq_ignore_ascii_case(s.trim()))
        .map(|i| i as i64)
}

fn month(s: &str) -> Option<i64> {
    let s = s.trim();
    MONTHS
        .iter()
        .position(|m| m.eq_ignore_ascii_case(s))
        .map(|i| i as i64 + 1)
        .or_else(|| s.parse::<i64>().ok().filter(|m| (1..=12).contains(m)))
}

fn day_of_month(s: &str) -> Option<i64> {
    s.trim()
        .parse::<i64>()
        .ok()
        .filter(|d| *d != 0 && (-31..=31).contains(d))
}

fn year(s: &str) -> Option<i64> {
    s.trim().parse::<i64>().ok().filter(|y| *y > 0)
}

fn minutes_of(hhmm: &str) -> Option<u32> {
    let (h, m) = hhmm.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h <= 24 && m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m)
}

/// An IANA zone name such as `UTC`, `Europe/Berlin` or `America/Argentina/Buenos_Aires`.
fn is_location(s: &str) -> bool {
    !s.is_empty()
        && s.split('/').all(|part| {
            !part.is_empty()
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-+".contains(c))
        })
}

impl Validator {
    pub(super) fn routing(&mut self, a: &AlertingSpec) {
        let base = "spec.grafana.alerting";
        if let Some(g) = &a.grouping {
            self.grouping(&format!("{base}.grouping"), g);
        }
        let contact_points: BTreeSet<&str> =
            a.contact_points.iter().map(|c| c.name.as_str()).collect();
        let mut timings = BTreeSet::new();
        for (i, m) in a.mute_timings.iter().enumerate() {
            let p = format!("{base}.muteTimings[{i}]");
            if m.name.trim().is_empty() {
                self.err(format!("{p}.name"), "must not be empty");
            }
            self.unique(
                &mut timings,
                format!("{p}.name"),
                &m.name,
                " among the mute timings",
            );
            if m.intervals.is_empty() {
                self.err(format!("{p}.intervals"), "must hold at least one interval");
            }
            for (j, t) in m.intervals.iter().enumerate() {
                self.time_interval(&format!("{p}.intervals[{j}]"), t);
            }
        }
        if !a.routes.is_empty() && a.contact_points.is_empty() {
            self.err(
                format!("{base}.routes"),
                "need contact points to send to: set spec.grafana.alerting.contactPoints",
            );
        }
        for (i, r) in a.routes.iter().enumerate() {
            let p = format!("{base}.routes[{i}]");
            if !a.contact_points.is_empty() && !contact_points.contains(r.contact_point.as_str()) {
                self.err(
                    format!("{p}.contactPoint"),
                    format!(
                        "{:?} is not a contact point of spec.grafana.alerting.contactPoints ({})",
                        r.contact_point,
                        contact_points
                            .iter()
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                );
            }
            if r.matchers.is_empty() {
                self.err(
                    format!("{p}.matchers"),
                    "must hold at least one matcher: a route without matchers takes every alert (set defaultContactPoint for that)",
                );
            }
            for (j, m) in r.matchers.iter().enumerate() {
                let mp = format!("{p}.matchers[{j}]");
                if !is_label_name(&m.label) {
                    self.err(
                        format!("{mp}.label"),
                        "must be a label name (letters, digits and '_', not starting with a digit)",
                    );
                    continue;
                }
                if matches!(m.operator, MatchOperator::Regex | MatchOperator::NotRegex) {
                    // The regex as Alertmanager compiles it (Go RE2, anchored);
                    // promql-parser compiles matcher regexes with the regex crate,
                    // whose syntax is RE2's.
                    let sel = format!(
                        "x{{{}{}{}}}",
                        m.label,
                        m.operator.as_str(),
                        promql_string(&m.value)
                    );
                    if let Err(e) = super::promql::parse(&sel) {
                        self.err(
                            format!("{mp}.value"),
                            format!("is not a valid regex: {}", one_line(&e)),
                        );
                    }
                }
            }
            for (j, name) in r.mute_timings.iter().enumerate() {
                if !timings.contains(name.as_str()) {
                    self.err(
                        format!("{p}.muteTimings[{j}]"),
                        format!(
                            "{name:?} is not a mute timing of spec.grafana.alerting.muteTimings"
                        ),
                    );
                }
            }
            if let Some(g) = &r.grouping {
                self.grouping(&format!("{p}.grouping"), g);
            }
        }
    }

    fn grouping(&mut self, p: &str, g: &NotificationGrouping) {
        if let Some(by) = &g.group_by {
            let mut seen = BTreeSet::new();
            for (i, l) in by.iter().enumerate() {
                if l == "..." {
                    if by.len() > 1 {
                        self.err(
                            format!("{p}.groupBy"),
                            "\"...\" (every label) must stand alone: Grafana refuses it with other labels",
                        );
                    }
                } else if !is_label_name(l) {
                    self.err(
                        format!("{p}.groupBy[{i}]"),
                        format!("{l:?} is not a label name"),
                    );
                }
                self.unique(&mut seen, format!("{p}.groupBy[{i}]"), l, " in groupBy");
            }
        }
        for (field, v) in [
            ("groupWait", &g.group_wait),
            ("groupInterval", &g.group_interval),
            ("repeatInterval", &g.repeat_interval),
        ] {
            if let Some(v) = v {
                if field == "groupWait" {
                    self.duration(&format!("{p}.{field}"), v);
                } else {
                    self.positive_duration(&format!("{p}.{field}"), v);
                }
            }
        }
    }

    fn time_interval(&mut self, p: &str, t: &TimeInterval) {
        for (k, r) in t.times.iter().enumerate() {
            let tp = format!("{p}.times[{k}]");
            match (minutes_of(&r.start), minutes_of(&r.end)) {
                (Some(a), Some(b)) if a < b && a < 24 * 60 => {}
                (None, _) => self.err(format!("{tp}.start"), "must be HH:MM, 00:00 to 23:59"),
                (_, None) => self.err(format!("{tp}.end"), "must be HH:MM, 00:01 to 24:00"),
                _ => self.err(
                    tp,
                    "must be start before end (a range past midnight is two ranges: 22:00 to 24:00 and 00:00 to 06:00)",
                ),
            }
        }
        let lists: [(&str, &Vec<String>, End, &str); 4] = [
            (
                "weekdays",
                &t.weekdays,
                weekday,
                "a weekday or range such as saturday or monday:friday",
            ),
            (
                "daysOfMonth",
                &t.days_of_month,
                day_of_month,
                "a day 1 to 31 (or -31 to -1 from the end) or a range such as 1:7",
            ),
            (
                "months",
                &t.months,
                month,
                "a month name or 1 to 12, or a range such as 1:3 or june:august",
            ),
            ("years", &t.years, year, "a year or range such as 2027:2028"),
        ];
        for (field, list, end, rule) in lists {
            for (k, v) in list.iter().enumerate() {
                let ok = range_of(v, end).is_some_and(|(a, b)| {
                    // Day-of-month ranges mix signs only as Alertmanager allows:
                    // both ends on the same side of zero, or a positive start
                    // and a negative end.
                    a <= b || (field == "daysOfMonth" && a > 0 && b < 0)
                });
                if !ok {
                    self.err(format!("{p}.{field}[{k}]"), format!("must be {rule}"));
                }
            }
        }
        if let Some(l) = &t.location
            && !is_location(l)
        {
            self.err(
                format!("{p}.location"),
                "must be an IANA time zone name such as UTC or Europe/Berlin",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_names() {
        assert_eq!(range_of("monday:friday", weekday), Some((1, 5)));
        assert_eq!(range_of("Saturday", weekday), Some((6, 6)));
        assert_eq!(range_of("funday", weekday), None);
        assert_eq!(range_of("1:3", month), Some((1, 3)));
        assert_eq!(range_of("june:august", month), Some((6, 8)));
        assert_eq!(range_of("13", month), None);
        assert_eq!(range_of("0", day_of_month), None);
        assert_eq!(range_of("-1", day_of_month), Some((-1, -1)));
        assert_eq!(minutes_of("24:00"), Some(1440));
        assert_eq!(minutes_of("24:01"), None);
        assert!(is_location("America/Argentina/Buenos_Aires"));
        assert!(is_location("UTC"));
        assert!(!is_location("Europe//Berlin"));
        assert!(!is_location("UTC+1 hour"));
    }
}
