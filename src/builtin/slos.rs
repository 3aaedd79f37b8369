//! What `spec.slos` becomes: per SLO one Prometheus recording group (the
//! error ratio at each burn-rate window and over the SLO window, the objective,
//! the error budget left) and one Grafana alert group (the SRE workbook's
//! multi-window multi-burn-rate alerts over those records), both named
//! `sextant-slo-<name>`.
//!
//! The windows are those of the Google SRE workbook, chapter "Alerting on
//! SLOs", table 5-8, for a 30-day SLO: page at 14.4x over 1h and 5m or 6x over
//! 6h and 30m, ticket at 3x over 1d and 2h or 1x over 3d and 6h. Each is scaled
//! by `window / 30d` and kept at least [`MIN_RATE_WINDOW`] (and four scrape
//! intervals), so a `rate` always holds enough samples.
//!
//! The shorthand SLIs name series the pinned programs expose (see
//! `crate::catalogue`): Tempo's span metrics (`traces_spanmetrics_*`, grafana/tempo
//! modules/generator/processor/spanmetrics/spanmetrics.go @ v2.10.8), the GenAI
//! client duration histogram, and `agent_tasks_total`.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::api::{AlertRule, RecordingRule, RecordingRuleGroup, RuleGroup, Sli, Slo, SpanKind};
use crate::model::{Component, ValidatedStack};
use crate::units::parse_duration;

/// Prefix of every SLO's rule groups; users may not take it.
pub const GROUP_PREFIX: &str = "sextant-slo-";

/// The error ratio of an SLO over a window (label `window`): bad events over
/// all events.
pub const ERROR_RATIO: &str = "sextant:slo_error_ratio";
/// The SLO's target, a constant series.
pub const OBJECTIVE: &str = "sextant:slo_objective";
/// The share of good events over the SLO window: `1 - error ratio`.
pub const SLI: &str = "sextant:slo_sli";
/// The share of the error budget left over the SLO window: 1 is untouched,
/// 0 spent, below 0 overspent.
pub const BUDGET_REMAINING: &str = "sextant:slo_error_budget_remaining";

/// How often the SLO groups are evaluated, in Prometheus and in Grafana.
pub const INTERVAL: &str = "1m";

/// The shortest rate window sextant records: OpenTelemetry SDKs export metrics
/// every 60 s by default (`OTEL_METRIC_EXPORT_INTERVAL`), so a shorter window
/// would often hold one sample or none.
pub const MIN_RATE_WINDOW: Duration = Duration::from_secs(5 * 60);

/// The SRE workbook's reference SLO window.
const REFERENCE_WINDOW: Duration = Duration::from_secs(30 * 24 * 3600);

/// The shortest and longest SLO windows accepted.
pub const MIN_WINDOW: Duration = Duration::from_secs(7 * 24 * 3600);
/// See [`MIN_WINDOW`].
pub const MAX_WINDOW: Duration = Duration::from_secs(90 * 24 * 3600);

/// Tempo's default span-metrics histogram buckets, in seconds: 0.002 doubling
/// 13 times (grafana/tempo modules/generator/processor/spanmetrics/config.go @
/// v2.10.8, `prometheus.ExponentialBuckets(0.002, 2, 14)`); the stack sets no
/// `histogram_buckets`. Written as Tempo writes `le` (registry/histogram.go
/// `formatFloat`, strconv 'f' with the shortest precision).
pub const SPAN_LATENCY_BUCKETS: [&str; 14] = [
    "0.002", "0.004", "0.008", "0.016", "0.032", "0.064", "0.128", "0.256", "0.512", "1.024",
    "2.048", "4.096", "8.192", "16.384",
];

/// One pair of windows and the burn rate both must exceed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BurnWindows {
    /// The long window, which says the budget is really burning.
    pub long: Duration,
    /// The short window, which lets the alert stop soon after the burn does.
    pub short: Duration,
    /// How many times faster than the budget allows errors arrive.
    pub factor: f64,
}

/// Who is told.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Severity {
    /// Someone is paged now: the budget goes within days.
    Page,
    /// A ticket: the budget goes within the window, not today.
    Ticket,
}

impl Severity {
    fn label(self) -> &'static str {
        match self {
            Self::Page => "critical",
            Self::Ticket => "warning",
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Ticket => "ticket",
        }
    }
}

const fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// A long window, a short window and a burn-rate factor.
type Pair = (Duration, Duration, f64);

/// The workbook's windows for 30 days, by severity.
const WORKBOOK: [(Severity, [Pair; 2]); 2] = [
    (
        Severity::Page,
        [
            (minutes(60), minutes(5), 14.4),
            (minutes(360), minutes(30), 6.0),
        ],
    ),
    (
        Severity::Ticket,
        [
            (minutes(1440), minutes(120), 3.0),
            (minutes(4320), minutes(360), 1.0),
        ],
    ),
];

/// The burn-rate windows of an SLO window, by severity: the workbook's,
/// scaled by `window / 30d`, rounded to whole minutes, at least `floor`.
pub fn burn_windows(window: Duration, floor: Duration) -> Vec<(Severity, [BurnWindows; 2])> {
    let scale = window.as_secs_f64() / REFERENCE_WINDOW.as_secs_f64();
    let scaled = |d: Duration| {
        let m = (d.as_secs_f64() * scale / 60.0).round().max(1.0);
        Duration::from_secs(m as u64 * 60).max(floor)
    };
    WORKBOOK
        .iter()
        .map(|(sev, pairs)| {
            let w = pairs.map(|(long, short, factor)| BurnWindows {
                long: scaled(long),
                short: scaled(short),
                factor,
            });
            (*sev, w)
        })
        .collect()
}

/// A duration as a `window` label and PromQL range: days, hours and minutes,
/// with no zero part (`28d`, `22h24m`, `5m`).
pub fn window_label(d: Duration) -> String {
    let total_m = d.as_secs() / 60;
    let (days, hours, mins) = (total_m / 1440, total_m % 1440 / 60, total_m % 60);
    let mut out = String::new();
    for (n, unit) in [(days, "d"), (hours, "h"), (mins, "m")] {
        if n > 0 {
            out.push_str(&format!("{n}{unit}"));
        }
    }
    if out.is_empty() {
        format!("{}s", d.as_secs())
    } else {
        out
    }
}

/// A PromQL double-quoted string literal (Go's escapes for `\`, `"` and
/// control characters, as prometheus/promql/parser/lex.go reads them).
pub fn promql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The error budget, `1 - target`, rounded to nine decimals so `1 - 0.995`
/// reads `0.005`.
pub fn budget(target: f64) -> f64 {
    ((1.0 - target) * 1e9).round() / 1e9
}

/// The bound of Tempo's latency bucket a threshold such as `2.048s`, `2048ms`
/// or `2.048` names, or `None` when it is not one of [`SPAN_LATENCY_BUCKETS`].
pub fn latency_bucket(threshold: &str) -> Option<&'static str> {
    let t = threshold.trim();
    let seconds = if let Some(ms) = t.strip_suffix("ms") {
        ms.parse::<f64>().ok()? / 1000.0
    } else if let Some(s) = t.strip_suffix('s') {
        s.parse::<f64>().ok()?
    } else {
        t.parse::<f64>().ok()?
    };
    SPAN_LATENCY_BUCKETS
        .iter()
        .find(|b| b.parse::<f64>().is_ok_and(|v| (v - seconds).abs() < 1e-9))
        .copied()
}

/// A series selector: a metric and its equality matchers, in order.
fn selector(metric: &str, matchers: &[(&str, &str, &str)]) -> String {
    if matchers.is_empty() {
        return metric.to_string();
    }
    let m: Vec<String> = matchers
        .iter()
        .map(|(k, op, v)| format!("{k}{op}{}", promql_string(v)))
        .collect();
    format!("{metric}{{{}}}", m.join(", "))
}

/// The events an SLI counts, as PromQL selectors of counters.
#[derive(Clone, Debug, PartialEq)]
pub enum Events {
    /// Errors are `bad / total`.
    Bad {
        /// The bad events.
        bad: String,
        /// Every event.
        total: String,
    },
    /// Errors are `(total - good) / total`.
    Good {
        /// The good events.
        good: String,
        /// Every event.
        total: String,
    },
}

fn span_kind(kind: SpanKind) -> Option<&'static str> {
    match kind {
        SpanKind::Server => Some("SPAN_KIND_SERVER"),
        SpanKind::Client => Some("SPAN_KIND_CLIENT"),
        SpanKind::Consumer => Some("SPAN_KIND_CONSUMER"),
        SpanKind::Producer => Some("SPAN_KIND_PRODUCER"),
        SpanKind::Internal => Some("SPAN_KIND_INTERNAL"),
        SpanKind::Any => None,
    }
}

/// Bad events of one counter: its series matching `matchers` and `bad`, over
/// all its series matching `matchers`.
fn bad_of<'a>(
    metric: &str,
    matchers: Vec<(&'a str, &'a str, &'a str)>,
    bad: (&'a str, &'a str, &'a str),
) -> Events {
    let mut with_bad = matchers.clone();
    with_bad.push(bad);
    Events::Bad {
        bad: selector(metric, &with_bad),
        total: selector(metric, &matchers),
    }
}

/// The counters an SLI reads, or `None` when the SLI sets no field or a
/// latency threshold that is not a bucket (validation refuses both).
pub fn events(sli: &Sli) -> Option<Events> {
    if let Some(r) = &sli.ratio {
        let total = r.total.trim().to_string();
        return match (&r.good, &r.bad) {
            (Some(good), None) => Some(Events::Good {
                good: good.trim().to_string(),
                total,
            }),
            (None, Some(bad)) => Some(Events::Bad {
                bad: bad.trim().to_string(),
                total,
            }),
            _ => None,
        };
    }
    if let Some(s) = &sli.spans {
        let mut m: Vec<(&str, &str, &str)> = vec![("service", "=", &s.service)];
        if let Some(name) = &s.span_name {
            m.push(("span_name", "=", name));
        }
        if let Some(kind) = span_kind(s.span_kind) {
            m.push(("span_kind", "=", kind));
        }
        return match &s.latency_threshold {
            Some(t) => {
                let le = latency_bucket(t)?;
                let mut good = m.clone();
                good.push(("le", "=", le));
                Some(Events::Good {
                    good: selector("traces_spanmetrics_latency_bucket", &good),
                    total: selector("traces_spanmetrics_latency_count", &m),
                })
            }
            None => Some(bad_of(
                "traces_spanmetrics_calls_total",
                m,
                ("status_code", "=", "STATUS_CODE_ERROR"),
            )),
        };
    }
    if let Some(a) = &sli.agent_tasks {
        let mut m: Vec<(&str, &str, &str)> = Vec::new();
        if let Some(s) = &a.service {
            m.push(("service_name", "=", s));
        }
        return Some(bad_of("agent_tasks_total", m, ("outcome", "=", "failure")));
    }
    if let Some(g) = &sli.genai_operations {
        let mut m: Vec<(&str, &str, &str)> = Vec::new();
        if let Some(s) = &g.service {
            m.push(("service_name", "=", s));
        }
        if let Some(model) = &g.model {
            m.push(("gen_ai_request_model", "=", model));
        }
        // `error.type` is set only on failed calls (semantic-conventions
        // docs/gen-ai/gen-ai-metrics.md); a missing label matches `=""`.
        return Some(bad_of(
            "gen_ai_client_operation_duration_seconds_count",
            m,
            ("error_type", "!=", ""),
        ));
    }
    None
}

/// The error ratio over one window, from the events' counters.
pub fn error_ratio_expr(events: &Events, window: &str) -> String {
    let rate = |sel: &str| format!("sum(rate({sel}[{window}]))");
    match events {
        Events::Bad { bad, total } => {
            format!("({} or vector(0)) / ({} > 0)", rate(bad), rate(total))
        }
        Events::Good { good, total } => format!(
            "({} - ({} or vector(0))) / ({} > 0)",
            rate(total),
            rate(good),
            rate(total)
        ),
    }
}

/// The rule group name of an SLO (recording and alerting).
pub fn group_name(slo: &Slo) -> String {
    format!("{GROUP_PREFIX}{}", slo.name)
}

/// How every SLO alert's name starts (the SLO dashboard's alert list filters
/// on it).
pub const ALERT_PREFIX: &str = "ErrorBudgetBurn_";

/// The alert name of an SLO at a severity, such as
/// `ErrorBudgetBurn_agent_tasks_page`.
pub fn alert_name(slo: &Slo, severity: Severity) -> String {
    format!(
        "{ALERT_PREFIX}{}_{}",
        slo.name.replace('-', "_"),
        severity.suffix()
    )
}

/// Where the alerts' runbook is.
pub const RUNBOOK_URL: &str =
    "https://github.com/sextant-dev/sextant/blob/main/docs/slos.md#when-a-burn-rate-alert-fires";

/// The shortest rate window the stack records: [`MIN_RATE_WINDOW`] or four
/// scrape intervals, whichever is longer, rounded up to a whole minute.
pub fn rate_floor(stack: &ValidatedStack) -> Duration {
    let four = stack.scrape_interval * 4;
    let m = four.as_secs().div_ceil(60).max(1);
    MIN_RATE_WINDOW.max(Duration::from_secs(m * 60))
}

/// An SLO's window, from its validated spec (7d when unreadable, which
/// validation refuses).
fn slo_window(slo: &Slo) -> Duration {
    parse_duration(&slo.window).unwrap_or(MIN_WINDOW)
}

/// The windows an SLO records the error ratio at, shortest first, no repeats.
pub fn recorded_windows(slo: &Slo, floor: Duration) -> Vec<Duration> {
    let mut all: Vec<Duration> = burn_windows(slo_window(slo), floor)
        .iter()
        .flat_map(|(_, pairs)| pairs.iter().flat_map(|p| [p.long, p.short]))
        .collect();
    all.sort();
    all.dedup();
    all
}

fn labels(slo: &Slo, extra: &[(&str, String)]) -> BTreeMap<String, String> {
    let mut l = slo.labels.clone();
    l.insert("slo".into(), slo.name.clone());
    for (k, v) in extra {
        l.insert((*k).into(), v.clone());
    }
    l
}

/// The recording group of one SLO: the error ratio at every burn-rate window,
/// over the SLO window (the average of the shortest window's ratio), the SLI
/// over the window, the objective and the budget left. Rules of a group run in order, so each sees
/// the ones above it from the same evaluation.
pub fn recording_group(slo: &Slo, floor: Duration) -> Option<RecordingRuleGroup> {
    let events = events(&slo.sli)?;
    let windows = recorded_windows(slo, floor);
    let shortest = window_label(*windows.first()?);
    let slo_window = window_label(slo_window(slo));
    let name = promql_string(&slo.name);
    let mut rules: Vec<RecordingRule> = windows
        .iter()
        .map(|w| {
            let w = window_label(*w);
            RecordingRule {
                record: ERROR_RATIO.into(),
                expr: error_ratio_expr(&events, &w),
                labels: labels(slo, &[("window", w)]),
            }
        })
        .collect();
    rules.push(RecordingRule {
        record: ERROR_RATIO.into(),
        expr: format!(
            "avg_over_time({ERROR_RATIO}{{slo={name}, window={}}}[{slo_window}])",
            promql_string(&shortest)
        ),
        labels: labels(slo, &[("window", slo_window.clone())]),
    });
    let over_window = format!(
        "max without (window) ({ERROR_RATIO}{{slo={name}, window={}}})",
        promql_string(&slo_window)
    );
    rules.push(RecordingRule {
        record: SLI.into(),
        expr: format!("1 - {over_window}"),
        labels: labels(slo, &[]),
    });
    rules.push(RecordingRule {
        record: OBJECTIVE.into(),
        expr: format!("vector({})", slo.target),
        labels: labels(slo, &[]),
    });
    rules.push(RecordingRule {
        record: BUDGET_REMAINING.into(),
        expr: format!("1 - {over_window} / {}", budget(slo.target)),
        labels: labels(slo, &[]),
    });
    Some(RecordingRuleGroup {
        name: group_name(slo),
        interval: Some(INTERVAL.into()),
        rules,
    })
}

/// The burn rate over one window: the recorded error ratio over the budget.
fn burn(slo: &Slo, w: Duration) -> String {
    format!(
        "max without (window) ({ERROR_RATIO}{{slo={}, window={}}}) / {}",
        promql_string(&slo.name),
        promql_string(&window_label(w)),
        budget(slo.target)
    )
}

/// The alert group of one SLO: a page and a ticket, each firing while either
/// of its window pairs burns faster than its factor in both windows. No `for`:
/// the short window already asks that the burn goes on now.
pub fn alert_group(slo: &Slo, floor: Duration) -> Option<RuleGroup> {
    events(&slo.sli)?;
    let what = slo
        .description
        .clone()
        .unwrap_or_else(|| format!("{} of events good over {}", slo.target, slo.window));
    let rules = burn_windows(slo_window(slo), floor)
        .into_iter()
        .map(|(severity, pairs)| {
            let expr = pairs
                .iter()
                .map(|p| {
                    format!(
                        "({} > {f} and {} > {f})",
                        burn(slo, p.long),
                        burn(slo, p.short),
                        f = p.factor
                    )
                })
                .collect::<Vec<_>>()
                .join(" or ");
            let spent = match severity {
                Severity::Page => "within days if it goes on",
                Severity::Ticket => "before the window ends if it goes on",
            };
            let windows = pairs
                .iter()
                .map(|p| {
                    format!(
                        "{}x over {} and {}",
                        p.factor,
                        window_label(p.long),
                        window_label(p.short)
                    )
                })
                .collect::<Vec<_>>()
                .join(", or ");
            AlertRule {
                alert: alert_name(slo, severity),
                expr,
                for_: None,
                labels: labels(slo, &[("severity", severity.label().into())]),
                annotations: BTreeMap::from([
                    (
                        "summary".into(),
                        format!("SLO {} is burning its error budget", slo.name),
                    ),
                    (
                        "description".into(),
                        format!(
                            "Errors arrive faster than SLO {} ({what}) allows ({windows}): its error budget is spent {spent}.",
                            slo.name
                        ),
                    ),
                    ("runbook_url".into(), RUNBOOK_URL.into()),
                ]),
            }
        })
        .collect();
    Some(RuleGroup {
        name: group_name(slo),
        interval: INTERVAL.into(),
        rules,
    })
}

/// Whether the stack's SLOs are rendered: it has some, and Prometheus to
/// record them.
pub fn rendered(stack: &ValidatedStack) -> bool {
    stack.enabled(Component::Prometheus) && !stack.spec.slos.is_empty()
}

/// `make` of every SLO, at the stack's rate floor; none without Prometheus.
fn per_slo<T>(stack: &ValidatedStack, make: impl Fn(&Slo, Duration) -> Option<T>) -> Vec<T> {
    if !rendered(stack) {
        return Vec::new();
    }
    let floor = rate_floor(stack);
    stack
        .spec
        .slos
        .iter()
        .filter_map(|s| make(s, floor))
        .collect()
}

/// The recording groups of every SLO; none without Prometheus.
pub fn recording_groups(stack: &ValidatedStack) -> Vec<RecordingRuleGroup> {
    per_slo(stack, recording_group)
}

/// The alert groups of every SLO; none without Prometheus.
pub fn alert_groups(stack: &ValidatedStack) -> Vec<RuleGroup> {
    per_slo(stack, alert_group)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_scale_with_the_slo_window() {
        let d = |days: u64| Duration::from_secs(days * 86_400);
        let w30 = burn_windows(d(30), MIN_RATE_WINDOW);
        assert_eq!(w30[0].1[0].long, minutes(60));
        assert_eq!(w30[0].1[0].short, minutes(5));
        assert_eq!(w30[1].1[1].long, minutes(4320));
        let w28 = burn_windows(d(28), MIN_RATE_WINDOW);
        assert_eq!(window_label(w28[0].1[0].long), "56m");
        assert_eq!(
            window_label(w28[0].1[0].short),
            "5m",
            "4.67m is raised to the floor"
        );
        assert_eq!(window_label(w28[1].1[0].long), "22h24m");
        assert_eq!(window_label(w28[1].1[1].long), "2d19h12m");
        let w7 = burn_windows(d(7), minutes(6));
        assert_eq!(window_label(w7[0].1[0].short), "6m");
    }

    #[test]
    fn labels_strings_and_buckets() {
        assert_eq!(window_label(minutes(60 * 24 * 28)), "28d");
        assert_eq!(promql_string("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(budget(0.995), 0.005);
        assert_eq!(budget(0.999), 0.001);
        assert_eq!(latency_bucket("2.048s"), Some("2.048"));
        assert_eq!(latency_bucket("2048ms"), Some("2.048"));
        assert_eq!(latency_bucket("16.384"), Some("16.384"));
        assert_eq!(latency_bucket("2s"), None);
        assert_eq!(latency_bucket("fast"), None);
    }
}
