//! Grafana provisioning files: datasources, dashboard providers, alert rules,
//! contact points and the notification policy.
//!
//! Schema: Grafana 12 (the version pinned in `crate::model::images::GRAFANA`),
//! docs/sources/administration/provisioning/index.md (datasources and dashboard
//! providers), docs/sources/alerting/set-up/provision-alerting-resources/
//! file-provisioning/index.md (rules, contact points, policies), and the
//! datasource pages for Prometheus (exemplars), Tempo (trace to logs/metrics,
//! service graph) and Loki (derived fields).
//!
//! Source read (grafana/grafana is too large to fetch here, so in stored copies of
//! the files, not verified at v12.4.12; each use cites its file): the dashboard
//! file reader (`pkg/services/provisioning/dashboards/file_reader.go`), the
//! alerting config reader (`pkg/services/provisioning/alerting/config_reader.go`),
//! provisioning value interpolation (`pkg/services/provisioning/values/values.go`),
//! setting expansion (`pkg/setting/expanders.go`), alert templates
//! (`pkg/services/ngalert/state/template/template.go`), uid rules
//! (`pkg/util/shortid_generator.go`), rule-group intervals
//! (`pkg/services/ngalert/models/alert_rule.go`) and the Prometheus datasource's
//! exemplar links (`packages/grafana-prometheus/src/result_transformer.ts`).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};

use crate::api::{ContactPoint, ContactPointType, RuleGroup};
use crate::builtin::rules::all_groups;
use crate::model::ValidatedStack;
use crate::model::ports;
use crate::model::{Capabilities, Component};
use crate::units::{format_go_duration, parse_duration};

pub use crate::model::{FOLDER, uid};

/// The exemplar label holding the trace id on OTLP metrics (Prometheus's OTLP
/// receiver keeps the exemplar's trace id as `trace_id`).
pub const OTLP_EXEMPLAR_LABEL: &str = "trace_id";
/// The exemplar label holding the trace id on what Tempo's metrics-generator writes.
pub const TEMPO_EXEMPLAR_LABEL: &str = "traceID";

/// The file `spec.grafana.settings` becomes, mounted over the image's
/// `GF_PATHS_CONFIG` (`/etc/grafana/grafana.ini` in grafana/grafana's
/// Dockerfile).
pub const INI_FILE: &str = "grafana.ini";
/// Where Grafana reads it.
pub const INI_PATH: &str = "/etc/grafana/grafana.ini";

/// `grafana.ini` from `spec.grafana.settings`, or none when there are none.
/// Every value is written between `"""` quotes, which go-ini (go-ini/ini
/// `parser.go` `readValue`, read in a stored copy, not at the version Grafana
/// 12.4.12 pins) takes as written up to the last `"""` of the line: no inline
/// comment (`#`, `;`), quote stripping or line continuation applies.
/// Validation keeps names to letters, digits, `_`, `.` and `-` and values to
/// one line.
pub fn ini(settings: &BTreeMap<String, BTreeMap<String, String>>) -> Option<String> {
    if settings.is_empty() {
        return None;
    }
    let mut out = String::from("; spec.grafana.settings, written by sextant\n");
    for (section, keys) in settings {
        out.push_str(&format!("\n[{section}]\n"));
        for (key, value) in keys {
            out.push_str(&format!("{key} = \"\"\"{value}\"\"\"\n"));
        }
    }
    Some(out)
}

/// Where secret files are mounted in the Grafana pod: `<dir>/<secret>/<key>`.
pub const SECRETS_DIR: &str = "/etc/grafana/secrets";
/// Where dashboards are mounted: `<dir>/<folder>/<name>.json`.
pub const DASHBOARDS_DIR: &str = "/var/lib/grafana/dashboards";

/// `datasources.yaml`.
#[derive(Serialize, Debug, Clone, PartialEq)]
pub struct Datasources {
    #[serde(rename = "apiVersion")]
    api_version: u32,
    prune: bool,
    datasources: Vec<Value>,
}

/// Renders the datasources of the enabled backends, linked to each other.
pub fn datasources(stack: &ValidatedStack) -> Datasources {
    let url = |c: Component, port: i32| format!("http://{}:{port}", stack.service_host(c));
    let mut list = Vec::new();
    if stack.enabled(Component::Prometheus) {
        let mut json_data = json!({"httpMethod": "POST", "timeInterval": format_go_duration(stack.scrape_interval)});
        if stack.enabled(Component::Tempo) {
            // Exemplars carry the trace id under two label names: `trace_id` on OTLP
            // metrics that Prometheus receives from the collector, and `traceID` on the
            // span metrics and service graphs Tempo's metrics-generator remote-writes
            // (grafana/tempo `modules/generator/registry`, see TEMPO_EXEMPLAR_LABEL).
            // Grafana matches each destination by exact label name.
            json_data["exemplarTraceIdDestinations"] = json!([
                {"name": OTLP_EXEMPLAR_LABEL, "datasourceUid": uid::TEMPO},
                {"name": TEMPO_EXEMPLAR_LABEL, "datasourceUid": uid::TEMPO},
            ]);
        }
        if stack.prometheus_ha() {
            // Replicas are read through the Thanos Query (`crate::build::prometheus_ha`);
            // the flavour and version let Grafana use the label APIs it serves
            // (grafana/grafana `packages/grafana-prometheus/src/types.ts`
            // PromApplication, `configuration/PromFlavorVersions.ts`: "0.31.1" is its
            // "> 0.31.x" choice for Thanos; read in stored copies, not at 12.4.12).
            json_data["prometheusType"] = json!("Thanos");
            json_data["prometheusVersion"] = json!("0.31.1");
        }
        list.push(json!({
            "name": "Prometheus", "type": "prometheus", "uid": uid::PROMETHEUS, "access": "proxy",
            "url": stack.prometheus_query_url(), "isDefault": true,
            "editable": false, "jsonData": json_data,
        }));
    }
    if stack.enabled(Component::Tempo) {
        let mut json_data = json!({"nodeGraph": {"enabled": true}, "search": {"hide": false}});
        if stack.enabled(Component::Loki) {
            json_data["tracesToLogsV2"] = json!({
                "datasourceUid": uid::LOKI, "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m",
                "filterByTraceID": true, "filterBySpanID": false,
                "tags": [{"key": "service.name", "value": "service_name"}],
            });
        }
        // Span metrics and service graphs exist only where Tempo's metrics-generator
        // writes them into Prometheus: without it these links point at no series.
        if stack.tempo_generator() {
            json_data["tracesToMetrics"] = json!({
                "datasourceUid": uid::PROMETHEUS, "spanStartTimeShift": "-5m", "spanEndTimeShift": "5m",
                "tags": [{"key": "service.name", "value": "service"}],
                "queries": [
                    {"name": "Request rate", "query": "sum(rate(traces_spanmetrics_calls_total{$$__tags}[5m]))"},
                    {"name": "Error rate", "query": "sum(rate(traces_spanmetrics_calls_total{$$__tags,status_code=\"STATUS_CODE_ERROR\"}[5m]))"},
                ],
            });
            json_data["serviceMap"] = json!({"datasourceUid": uid::PROMETHEUS});
        }
        list.push(json!({
            "name": "Tempo", "type": "tempo", "uid": uid::TEMPO, "access": "proxy",
            "url": url(Component::Tempo, ports::TEMPO_HTTP), "editable": false, "jsonData": json_data,
        }));
    }
    if stack.enabled(Component::Loki) {
        let mut json_data = json!({"maxLines": 1000});
        if stack.enabled(Component::Tempo) {
            json_data["derivedFields"] = json!([{
                "name": "TraceID", "matcherType": "label", "matcherRegex": "trace_id",
                "datasourceUid": uid::TEMPO, "url": "$${__value.raw}", "urlDisplayLabel": "View trace",
            }]);
        }
        list.push(json!({
            "name": "Loki", "type": "loki", "uid": uid::LOKI, "access": "proxy",
            "url": url(Component::Loki, ports::LOKI_HTTP), "editable": false, "jsonData": json_data,
        }));
    }
    Datasources {
        api_version: 1,
        prune: true,
        datasources: list,
    }
}

/// `dashboards.yaml`: one file provider over the mounted dashboards, folders from
/// the directory structure.
///
/// `disableDeletion: false`: a dashboard whose file is withdrawn (taken out of the
/// spec, or its ConfigMap deleted or unselected) is deleted from Grafana on the
/// provider's next scan. With `true` Grafana only un-provisions it: it stays in
/// Grafana's database as an ordinary, editable dashboard, for good (grafana
/// `pkg/services/provisioning/dashboards/file_reader.go`,
/// `handleMissingDashboardFiles`: `UnprovisionDashboard` versus
/// `DeleteProvisionedDashboard`). sextant owns what it provisions, so a withdrawn
/// dashboard goes. `allowUiUpdates: false`: provisioned dashboards cannot be saved
/// from the UI.
pub fn dashboard_providers() -> Value {
    json!({
        "apiVersion": 1,
        "providers": [{
            "name": "sextant", "orgId": 1, "type": "file", "disableDeletion": false,
            "allowUiUpdates": false, "updateIntervalSeconds": 30,
            "options": {"path": DASHBOARDS_DIR, "foldersFromFilesStructure": true},
        }],
    })
}

/// A stable Grafana rule UID (at most 40 characters) for a group and alert name.
fn rule_uid(group: &str, alert: &str) -> String {
    let hash = crate::digest::sha256_short(&format!("{group}\0{alert}"));
    let mut prefix: String = alert
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(23)
        .collect::<String>()
        .to_ascii_lowercase();
    if prefix.is_empty() {
        prefix.push('r');
    }
    format!("{prefix}-{hash}")
}

/// Rewrites a Prometheus rule template for Grafana: `$value` becomes
/// `$values.A.Value`, the value of the rule's expression.
///
/// In a Grafana-managed rule `$value` is the evaluation string (`[ var='A'
/// labels={...} value=... ], ...`), not a number, so `{{ $value | humanize }}` and
/// `humanizePercentage` fail; `$values` maps each query's refId to its value, and
/// `.Value` is a float64 (grafana `pkg/services/ngalert/state/template/template.go`,
/// `Data` and `Expand`, read in a stored copy, not verified at v12.4.12). Query A
/// is the rule's PromQL (see `grafana_rule`). `$values` and `$labels` are left as
/// they are.
pub fn grafana_template(text: &str) -> String {
    const FROM: &str = "$value";
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(FROM) {
        let after = &rest[i + FROM.len()..];
        out.push_str(&rest[..i]);
        if after
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            out.push_str(FROM);
        } else {
            out.push_str("$values.A.Value");
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Converts a Prometheus alerting rule into a Grafana-managed rule the way Grafana's
/// own Prometheus-rule import does (pkg/services/ngalert/prom/convert.go): query A
/// is the expression, evaluated instant; B maps every returned series to 1; C fires
/// where B is above 0. So every series the expression returns fires, as in
/// Prometheus, and no data means nothing fires.
fn grafana_rule<'a>(group: &RuleGroup, rule: &'a crate::api::AlertRule) -> GrafanaRule<'a> {
    let for_ = rule
        .for_
        .as_deref()
        .and_then(|f| parse_duration(f).ok())
        .map(format_go_duration)
        .unwrap_or_else(|| "0s".into());
    let mut annotations: BTreeMap<String, String> = rule
        .annotations
        .iter()
        .map(|(k, v)| (k.clone(), grafana_template(v)))
        .collect();
    annotations
        .entry("summary".into())
        .or_insert_with(|| rule.alert.clone());
    let labels: BTreeMap<String, String> = rule
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), grafana_template(v)))
        .collect();
    let expression = |ref_id, kind, expression, conditions| RuleQuery {
        datasource_uid: "__expr__",
        model: QueryModel {
            conditions,
            datasource: QueryDatasource {
                kind: "__expr__",
                uid: "__expr__",
            },
            expr: None,
            expression: Some(expression),
            instant: None,
            range: None,
            ref_id,
            kind: Some(kind),
        },
        ref_id,
        relative_time_range: None,
    };
    GrafanaRule {
        annotations,
        condition: "C",
        data: [
            RuleQuery {
                datasource_uid: uid::PROMETHEUS,
                model: QueryModel {
                    conditions: None,
                    datasource: QueryDatasource {
                        kind: "prometheus",
                        uid: uid::PROMETHEUS,
                    },
                    expr: Some(&rule.expr),
                    expression: None,
                    instant: Some(true),
                    range: Some(false),
                    ref_id: "A",
                    kind: None,
                },
                ref_id: "A",
                relative_time_range: Some(RelativeTimeRange { from: 600, to: 0 }),
            },
            expression(
                "B",
                "math",
                "is_number($A) || is_nan($A) || is_inf($A)",
                None,
            ),
            expression(
                "C",
                "threshold",
                "B",
                Some([Condition {
                    evaluator: Evaluator {
                        params: [0],
                        kind: "gt",
                    },
                }]),
            ),
        ],
        exec_err_state: "Error",
        for_,
        is_paused: false,
        labels,
        no_data_state: "OK",
        title: &rule.alert,
        uid: rule_uid(&group.name, &rule.alert),
    }
}

// The file's shape, as typed structs rather than `serde_json::Value` trees (half
// the cost of building the rules went to allocating those). Fields are declared in
// alphabetical order of their JSON names: the bytes are those a `Value` (whose
// maps are sorted) wrote before, so the file, and Grafana's config hash, do not
// change.

/// The alert rules' provisioning file.
#[derive(Serialize)]
pub struct AlertRulesFile<'a> {
    #[serde(rename = "apiVersion")]
    api_version: u8,
    groups: Vec<AlertGroup<'a>>,
}

#[derive(Serialize)]
struct AlertGroup<'a> {
    folder: &'static str,
    interval: String,
    name: &'a str,
    #[serde(rename = "orgId")]
    org_id: u8,
    rules: Vec<GrafanaRule<'a>>,
}

#[derive(Serialize)]
struct GrafanaRule<'a> {
    annotations: BTreeMap<String, String>,
    condition: &'static str,
    data: [RuleQuery<'a>; 3],
    #[serde(rename = "execErrState")]
    exec_err_state: &'static str,
    #[serde(rename = "for")]
    for_: String,
    #[serde(rename = "isPaused")]
    is_paused: bool,
    labels: BTreeMap<String, String>,
    #[serde(rename = "noDataState")]
    no_data_state: &'static str,
    title: &'a str,
    uid: String,
}

#[derive(Serialize)]
struct RuleQuery<'a> {
    #[serde(rename = "datasourceUid")]
    datasource_uid: &'static str,
    model: QueryModel<'a>,
    #[serde(rename = "refId")]
    ref_id: &'static str,
    #[serde(rename = "relativeTimeRange", skip_serializing_if = "Option::is_none")]
    relative_time_range: Option<RelativeTimeRange>,
}

#[derive(Serialize)]
struct RelativeTimeRange {
    from: u32,
    to: u32,
}

#[derive(Serialize)]
struct QueryModel<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    conditions: Option<[Condition; 1]>,
    datasource: QueryDatasource,
    #[serde(skip_serializing_if = "Option::is_none")]
    expr: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expression: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    instant: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<bool>,
    #[serde(rename = "refId")]
    ref_id: &'static str,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    kind: Option<&'static str>,
}

#[derive(Serialize)]
struct QueryDatasource {
    #[serde(rename = "type")]
    kind: &'static str,
    uid: &'static str,
}

#[derive(Serialize)]
struct Condition {
    evaluator: Evaluator,
}

#[derive(Serialize)]
struct Evaluator {
    params: [u8; 1],
    #[serde(rename = "type")]
    kind: &'static str,
}

/// The alert rules' file under provisioning/alerting. Grafana's file provisioning
/// of alerting resources reads `.yaml`, `.yml` and `.json` files (the docs page
/// named above; pkg/services/provisioning/alerting/config_reader.go).
pub const ALERT_RULES_FILE: &str = "alert-rules.json";
/// The contact points' and notification policy's file under provisioning/alerting.
pub const CONTACT_POINTS_FILE: &str = "contact-points.yaml";
/// Where Grafana reads alerting provisioning files.
pub const ALERTING_DIR: &str = "/etc/grafana/provisioning/alerting";

/// `alerting/alert-rules.json`: every rule group converted for Grafana.
pub fn alert_rules<'a>(groups: &'a [RuleGroup]) -> Option<AlertRulesFile<'a>> {
    let groups: Vec<AlertGroup> = groups
        .iter()
        .map(|g| AlertGroup {
            folder: FOLDER,
            interval: parse_duration(&g.interval)
                .map(format_go_duration)
                .unwrap_or_else(|_| "1m".into()),
            name: &g.name,
            org_id: 1,
            rules: g.rules.iter().map(|r| grafana_rule(g, r)).collect(),
        })
        .collect();
    (!groups.is_empty()).then_some(AlertRulesFile {
        api_version: 1,
        groups,
    })
}

/// Every rule group the stack's Grafana evaluates (`builtin::rules::all_groups`),
/// none without Prometheus: the input of [`alert_rules`].
pub fn rule_groups(stack: &ValidatedStack, caps: &Capabilities) -> Vec<RuleGroup> {
    if !stack.enabled(Component::Prometheus) {
        return Vec::new();
    }
    all_groups(stack, caps)
}

/// The path a secret key is mounted at in the Grafana pod.
pub fn secret_file(secret: &str, key: &str) -> String {
    format!("{SECRETS_DIR}/{secret}/{key}")
}

/// Escapes a literal for a string value of a Grafana provisioning file, so that
/// Grafana reads back exactly `value`.
///
/// Grafana interpolates every string of a provisioned contact point's settings
/// (`Settings values.JSONValue`, grafana
/// `pkg/services/provisioning/alerting/contact_point_types.go`): `interpolateValue`
/// in `pkg/services/provisioning/values/values.go` splits the YAML-decoded string
/// on `"$$"`, runs each part through `setting.ExpandVar` (`${VAR}`, `$__env{VAR}`,
/// `$__file{path}`, `pkg/setting/expanders.go`) and then `os.ExpandEnv` (`$name`,
/// `${name}`), and joins the parts with `"$"` (read in a stored copy of
/// grafana/grafana, not verified at the v12.4.12 tag). Doubling every `$` leaves
/// no `$` in any part, so neither expander changes it, and the join turns each `$$`
/// back into `$`. Nothing else needs escaping: the YAML serializer quotes the rest.
/// `$__file{...}` or an environment variable would not protect a value: their
/// expansion is interpolated again by `os.ExpandEnv` (`tests/grafana_interpolation.rs`).
pub fn escape_provisioning_literal(value: &str) -> String {
    value.replace('$', "$$")
}

/// What offline rendering (`sextant render`, `sextant check`) writes where a secret
/// value goes: the operator reads the value; a file renders without it.
pub fn secret_placeholder(secret: &str, key: &str) -> String {
    format!("<Secret {secret} key {key}>")
}

/// The value a contact point's `secretRef` stands for, ready for the file: the
/// Secret's value read by the controller (surrounding white space trimmed, as
/// Grafana's `$__file{}` did), escaped; or the placeholder where none is known.
fn secret_setting(stack: &ValidatedStack, c: &ContactPoint) -> String {
    let Some(r) = &c.secret_ref else {
        return String::new();
    };
    let value = stack
        .contact_point_secrets
        .get(&r.name, &r.key)
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| secret_placeholder(&r.name, &r.key));
    escape_provisioning_literal(&value)
}

fn receiver(stack: &ValidatedStack, c: &ContactPoint) -> Value {
    let secret = secret_setting(stack, c);
    let (type_, settings) = match c.type_ {
        ContactPointType::Slack => ("slack", json!({"url": secret})),
        ContactPointType::Webhook => ("webhook", json!({"url": secret, "httpMethod": "POST"})),
        ContactPointType::Pagerduty => ("pagerduty", json!({"integrationKey": secret})),
        ContactPointType::Email => ("email", json!({"addresses": c.addresses.join(";")})),
    };
    // Contact point names are DNS labels of up to 63 characters; Grafana's uids stop
    // at 40 (crate::limits).
    json!({"uid": crate::limits::grafana_uid("sextant", &c.name), "type": type_, "settings": settings,
           "disableResolveMessage": false})
}

/// `alerting/contact-points.yaml` and the root notification policy, when the spec
/// names contact points. It holds the referenced Secrets' values (escaped for
/// Grafana's interpolation), so it goes into a Secret, never a ConfigMap.
pub fn contact_points(stack: &ValidatedStack) -> Option<Value> {
    let a = &stack.spec.grafana.alerting;
    let first = a.contact_points.first()?;
    let default = a
        .default_contact_point
        .clone()
        .unwrap_or_else(|| first.name.clone());
    let mut file = json!({
        "apiVersion": 1,
        "contactPoints": a.contact_points.iter().map(|c| json!({
            "orgId": 1, "name": c.name, "receivers": [receiver(stack, c)],
        })).collect::<Vec<_>>(),
        "policies": [policy(default, a)],
    });
    if !a.mute_timings.is_empty() {
        file["muteTimes"] = a.mute_timings.iter().map(mute_time).collect();
    }
    Some(file)
}

/// The root notification policy and its child routes, as Grafana's file
/// provisioning reads a policy: the fields of `definitions.Route`
/// (`receiver`, `group_by`, `object_matchers` as `[label, op, value]`,
/// `mute_time_intervals`, `continue`, `routes`, `group_wait`,
/// `group_interval`, `repeat_interval`) at the top level of each
/// `policies` entry (pkg/services/provisioning/alerting/notification_policy_types.go
/// and pkg/services/ngalert/api/tooling/definitions, read in stored copies,
/// not verified at v12.4.12). Grafana replaces the whole tree on every
/// provisioning.
fn policy(default: String, a: &crate::api::AlertingSpec) -> Value {
    let root = a.grouping.clone().unwrap_or_default();
    let mut p = json!({
        "orgId": 1, "receiver": default,
        "group_by": root.group_by.unwrap_or_else(|| vec!["grafana_folder".into(), "alertname".into()]),
        "group_wait": root.group_wait.unwrap_or_else(|| "30s".into()),
        "group_interval": root.group_interval.unwrap_or_else(|| "5m".into()),
        "repeat_interval": root.repeat_interval.unwrap_or_else(|| "4h".into()),
    });
    if !a.routes.is_empty() {
        p["routes"] = a.routes.iter().map(route).collect();
    }
    p
}

fn route(r: &crate::api::NotificationRoute) -> Value {
    let mut v = json!({
        "receiver": r.contact_point,
        "object_matchers": r.matchers.iter()
            .map(|m| json!([m.label, m.operator.as_str(), m.value]))
            .collect::<Vec<_>>(),
    });
    if r.continue_ {
        v["continue"] = json!(true);
    }
    if !r.mute_timings.is_empty() {
        v["mute_time_intervals"] = json!(r.mute_timings);
    }
    if let Some(g) = &r.grouping {
        for (key, value) in [
            ("group_wait", &g.group_wait),
            ("group_interval", &g.group_interval),
            ("repeat_interval", &g.repeat_interval),
        ] {
            if let Some(d) = value {
                v[key] = json!(d);
            }
        }
        if let Some(by) = &g.group_by {
            v["group_by"] = json!(by);
        }
    }
    v
}

/// A mute timing as Grafana's file provisioning reads one: `name` and
/// `time_intervals` of Prometheus Alertmanager's `timeinterval.TimeInterval`
/// (`times` of `start_time`/`end_time`, `weekdays`, `days_of_month`,
/// `months`, `years`, `location`; pkg/services/provisioning/alerting/mute_times_types.go,
/// read in a stored copy).
fn mute_time(m: &crate::api::MuteTiming) -> Value {
    json!({
        "orgId": 1,
        "name": m.name,
        "time_intervals": m.intervals.iter().map(|i| {
            let mut v = json!({});
            if !i.times.is_empty() {
                v["times"] = i.times.iter()
                    .map(|t| json!({"start_time": t.start, "end_time": t.end}))
                    .collect();
            }
            for (key, list) in [
                ("weekdays", &i.weekdays),
                ("days_of_month", &i.days_of_month),
                ("months", &i.months),
                ("years", &i.years),
            ] {
                if !list.is_empty() {
                    v[key] = json!(list);
                }
            }
            if let Some(l) = &i.location {
                v["location"] = json!(l);
            }
            v
        }).collect::<Vec<_>>(),
    })
}

/// Every Secret key contact points reference, by Secret name.
pub fn contact_point_secrets(stack: &ValidatedStack) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in &stack.spec.grafana.alerting.contact_points {
        if let Some(r) = &c.secret_ref {
            let keys = out.entry(r.name.clone()).or_default();
            if !keys.contains(&r.key) {
                keys.push(r.key.clone());
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::grafana_template;

    #[test]
    fn value_becomes_the_value_of_query_a() {
        assert_eq!(
            grafana_template("{{ $value | humanizePercentage }} full"),
            "{{ $values.A.Value | humanizePercentage }} full"
        );
        assert_eq!(
            grafana_template("{{ $value }}/{{$value}}"),
            "{{ $values.A.Value }}/{{$values.A.Value}}"
        );
        // Grafana's own names and other variables stay.
        for kept in [
            "{{ $values.B.Value }}",
            "{{ $labels.job }}",
            "{{ $value_x }}",
            "no template",
        ] {
            assert_eq!(grafana_template(kept), kept);
        }
    }
}
