//! Notification routing as built: `spec.grafana.alerting.routes`,
//! `grouping` and `muteTimings` become the notification policy tree and mute
//! timings of Grafana's alerting provisioning file (in the Secret
//! `<stack>-grafana-alerting`), in the fields Grafana's `definitions.Route`
//! and Alertmanager's time intervals read, and every rule Grafana enforces on
//! them is refused first with a field message.
//!
//! What this does not prove: that Grafana v12.4.12 loads the file (no Grafana
//! runs here; the field names were read in stored copies of grafana/grafana),
//! nor how it routes real alerts.

mod common;

use serde_json::{Value, json};
use sextant::build::build;
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

const SPEC: &str = "grafana:
  smtp: {host: 'smtp.example.com:587', fromAddress: grafana@example.com}
  alerting:
    contactPoints:
      - {name: oncall, type: email, addresses: [oncall@example.com]}
      - {name: agents, type: email, addresses: [agents@example.com]}
      - {name: tickets, type: email, addresses: [tickets@example.com]}
    defaultContactPoint: oncall
    grouping: {groupBy: [alertname, slo], groupWait: 1m, repeatInterval: 12h}
    routes:
      - contactPoint: agents
        matchers: [{label: team, value: agents}, {label: severity, operator: regex, value: critical|warning}]
        continue: true
        grouping: {groupBy: ['...'], repeatInterval: 1h}
      - contactPoint: tickets
        matchers: [{label: severity, value: warning}]
        muteTimings: [weekends]
    muteTimings:
      - name: weekends
        intervals:
          - weekdays: ['saturday', 'sunday']
            location: Europe/Berlin
          - weekdays: ['monday:friday']
            times: [{start: '18:00', end: '24:00'}]
            months: ['1:12']";

fn file(spec: &str) -> Value {
    let stack = validate(&common::with_spec(spec), &Dereferenced::offline()).unwrap();
    let r = build(&stack, &Capabilities::current());
    let secret = r
        .rendered_secrets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("s-grafana-alerting"))
        .expect("the alerting Secret");
    let text = secret
        .string_data
        .as_ref()
        .and_then(|d| d.get("contact-points.yaml").cloned())
        .or_else(|| {
            secret
                .data
                .as_ref()
                .and_then(|d| d.get("contact-points.yaml"))
                .map(|b| String::from_utf8(b.0.clone()).unwrap())
        })
        .expect("contact-points.yaml");
    serde_yaml_ng::from_str(&text).unwrap()
}

#[test]
fn routes_and_mute_timings_are_provisioned_as_grafana_reads_them() {
    let f = file(SPEC);
    let policy = &f["policies"][0];
    assert_eq!(policy["receiver"], "oncall");
    assert_eq!(policy["group_by"], json!(["alertname", "slo"]));
    assert_eq!(policy["group_wait"], "1m");
    // Unset at the root: the defaults.
    assert_eq!(policy["group_interval"], "5m");
    assert_eq!(policy["repeat_interval"], "12h");
    assert_eq!(
        policy["routes"],
        json!([
            {
                "receiver": "agents",
                "object_matchers": [["team", "=", "agents"], ["severity", "=~", "critical|warning"]],
                "continue": true,
                "group_by": ["..."],
                "repeat_interval": "1h",
            },
            {
                "receiver": "tickets",
                "object_matchers": [["severity", "=", "warning"]],
                "mute_time_intervals": ["weekends"],
            },
        ])
    );
    assert_eq!(
        f["muteTimes"],
        json!([{
            "orgId": 1,
            "name": "weekends",
            "time_intervals": [
                {"weekdays": ["saturday", "sunday"], "location": "Europe/Berlin"},
                {"weekdays": ["monday:friday"], "times": [{"start_time": "18:00", "end_time": "24:00"}], "months": ["1:12"]},
            ],
        }])
    );
}

#[test]
fn without_routes_the_policy_is_as_before() {
    let f = file(
        "grafana: {smtp: {host: 'smtp.example.com:587', fromAddress: g@example.com}, alerting: {contactPoints: [{name: a, type: email, addresses: [a@b.c]}]}}",
    );
    assert_eq!(
        f["policies"],
        json!([{
            "orgId": 1, "receiver": "a",
            "group_by": ["grafana_folder", "alertname"],
            "group_wait": "30s", "group_interval": "5m", "repeat_interval": "4h",
        }])
    );
    assert!(f.get("muteTimes").is_none());
}

use common::errors;

/// SPEC with its routes or its mute timings replaced (YAML flow lists).
fn with(routes: Option<&str>, timings: Option<&str>) -> String {
    let (head, rest) = SPEC.split_once("    routes:").unwrap();
    let (old_routes, old_timings) = rest.split_once("    muteTimings:").unwrap();
    let routes = routes.map_or(format!("    routes:{old_routes}"), |r| {
        format!("    routes: [{r}]\n")
    });
    let timings = timings.map_or(format!("    muteTimings:{old_timings}"), |t| {
        format!("\n    muteTimings: [{{name: weekends, intervals: [{t}]}}]")
    });
    format!("{head}{routes}{timings}")
}

#[test]
fn what_grafana_refuses_is_refused_by_field() {
    assert!(errors(SPEC).is_empty(), "{:?}", errors(SPEC));
    assert!(errors(&with(None, None)).is_empty());
    let m = "matchers: [{label: team, value: a}]";
    let routes = [
        (
            format!("{{contactPoint: pager, {m}}}"),
            "spec.grafana.alerting.routes[0].contactPoint: \"pager\" is not a contact point",
        ),
        (
            "{contactPoint: agents, matchers: []}".to_string(),
            "spec.grafana.alerting.routes[0].matchers: must hold at least one matcher",
        ),
        (
            "{contactPoint: agents, matchers: [{label: 1team, value: a}]}".to_string(),
            "spec.grafana.alerting.routes[0].matchers[0].label: must be a label name",
        ),
        (
            "{contactPoint: agents, matchers: [{label: team, operator: regex, value: 'a(b'}]}"
                .to_string(),
            "spec.grafana.alerting.routes[0].matchers[0].value: is not a valid regex",
        ),
        (
            format!("{{contactPoint: agents, {m}, muteTimings: [nights]}}"),
            "spec.grafana.alerting.routes[0].muteTimings[0]: \"nights\" is not a mute timing",
        ),
        (
            format!("{{contactPoint: agents, {m}, grouping: {{groupBy: ['...', team]}}}}"),
            "spec.grafana.alerting.routes[0].grouping.groupBy: \"...\" (every label) must stand alone",
        ),
        (
            format!("{{contactPoint: agents, {m}, grouping: {{groupBy: [team, team]}}}}"),
            "spec.grafana.alerting.routes[0].grouping.groupBy[1]: \"team\" is not unique",
        ),
        (
            format!("{{contactPoint: agents, {m}, grouping: {{repeatInterval: 0s}}}}"),
            "spec.grafana.alerting.routes[0].grouping.repeatInterval:",
        ),
    ];
    for (route, expected) in routes {
        let errs = errors(&with(Some(&route), None));
        assert!(
            errs.iter().any(|e| e.starts_with(expected)),
            "{route}: {expected:?} not in {errs:#?}"
        );
    }
    let p = "spec.grafana.alerting.muteTimings[0].intervals[0]";
    for (interval, expected) in [
        (
            "{times: [{start: '18:00', end: '09:00'}]}",
            format!("{p}.times[0]: must be start before end"),
        ),
        (
            "{times: [{start: '25:00', end: '26:00'}]}",
            format!("{p}.times[0].start: must be HH:MM"),
        ),
        (
            "{weekdays: [funday]}",
            format!("{p}.weekdays[0]: must be a weekday"),
        ),
        (
            "{weekdays: ['friday:monday']}",
            format!("{p}.weekdays[0]: must be a weekday"),
        ),
        (
            "{daysOfMonth: ['0']}",
            format!("{p}.daysOfMonth[0]: must be a day"),
        ),
        (
            "{months: ['13']}",
            format!("{p}.months[0]: must be a month"),
        ),
        ("{years: ['soon']}", format!("{p}.years[0]: must be a year")),
        (
            "{location: 'Berlin time'}",
            format!("{p}.location: must be an IANA time zone"),
        ),
    ] {
        let errs = errors(&with(None, Some(interval)));
        assert!(
            errs.iter().any(|e| e.starts_with(&expected)),
            "{interval}: {expected:?} not in {errs:#?}"
        );
    }
    let zero = SPEC.replace(
        "repeatInterval: 12h}",
        "repeatInterval: 12h, groupInterval: 0s}",
    );
    assert!(
        errors(&zero)
            .iter()
            .any(|e| e.starts_with("spec.grafana.alerting.grouping.groupInterval:")),
        "{:?}",
        errors(&zero)
    );
    // Routes without any contact point.
    let errs = errors(
        "grafana: {alerting: {routes: [{contactPoint: a, matchers: [{label: t, value: x}]}]}}",
    );
    assert!(
        errs.iter()
            .any(|e| e.starts_with("spec.grafana.alerting.routes: need contact points")),
        "{errs:?}"
    );
}
