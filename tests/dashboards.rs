//! The built-in Grafana dashboards and the runbooks of the built-in alerts.
//!
//! Every dashboard is a valid model with a unique uid and title, refers only to
//! the datasources the stack provisions, and holds queries that parse: PromQL with
//! Prometheus's parser, LogQL stream selectors with sextant's own check, after
//! Grafana's variables are replaced by sample values and again by their "All"
//! values. Every built-in rule has a runbook whose file name matches its
//! `runbook_url`, and the runbooks' queries parse too. Each check also runs once
//! on a known-bad input, to show that it can fail.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::queries::{
    Lang, all_panels, dashboards, fenced_blocks, full_stack, load, queries, read_runbook,
    runbooks_dir, substitute, variable_values, variables,
};
use promql_parser::parser::{self, Expr};
use serde_json::{Value, json};
use sextant::builtin::RUNBOOK_BASE;
use sextant::builtin::rules::{builtin_group, builtin_rule_names};
use sextant::model::Capabilities;
use sextant::render::grafana::datasources;
use sextant::validate::check_stream_selector;

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

/// Datasource uid -> type, as the stack provisions them.
fn provisioned() -> BTreeMap<String, String> {
    let ds = serde_json::to_value(datasources(&full_stack())).unwrap();
    ds["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["uid"].as_str().unwrap().to_string(),
                d["type"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

// ---------------------------------------------------------------------------
// Structure
// ---------------------------------------------------------------------------

/// Whether `text` uses Grafana variable `name` (`$name` or `${name...}`).
fn uses_variable(text: &str, name: &str) -> bool {
    let braced = format!("${{{name}");
    let plain = format!("${name}");
    text.match_indices(&braced)
        .any(|(i, _)| matches!(text[i + braced.len()..].chars().next(), Some('}' | ':')))
        || text.match_indices(&plain).any(|(i, _)| {
            !text[i + plain.len()..]
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        })
}

/// Problems with a dashboard model's shape: metadata, panel ids and layout,
/// targets, and variables (the required ones exist, every one is used).
fn structure_problems(dash: &Value) -> Vec<String> {
    let mut p = Vec::new();
    for key in ["uid", "title"] {
        if dash[key].as_str().is_none_or(|s| s.trim().is_empty()) {
            p.push(format!("no {key}"));
        }
    }
    if dash["schemaVersion"].as_u64().is_none_or(|v| v < 39) {
        p.push(format!("schemaVersion {} < 39", dash["schemaVersion"]));
    }
    if !dash["tags"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("sextant")))
    {
        p.push("not tagged \"sextant\"".into());
    }
    let panels = all_panels(dash);
    if panels.is_empty() {
        p.push("no panels".into());
    }
    let mut ids = BTreeSet::new();
    let mut boxes: Vec<(String, [u64; 4])> = Vec::new();
    for panel in &panels {
        let title = panel["title"].as_str().unwrap_or("").to_string();
        if title.trim().is_empty() {
            p.push(format!("panel {} has no title", panel["id"]));
        }
        if !panel["id"].as_u64().is_some_and(|id| ids.insert(id)) {
            p.push(format!("{title}: id {} missing or not unique", panel["id"]));
        }
        let g = &panel["gridPos"];
        let [x, y, w, h] = ["x", "y", "w", "h"].map(|k| g[k].as_u64().unwrap_or(u64::MAX));
        if x == u64::MAX || y == u64::MAX || w == 0 || h == 0 || w > 24 || x + w > 24 {
            p.push(format!("{title}: bad gridPos {g}"));
        } else {
            for (other, b) in &boxes {
                let [ox, oy, ow, oh] = *b;
                if x < ox + ow && ox < x + w && y < oy + oh && oy < y + h {
                    p.push(format!("{title}: overlaps {other}"));
                }
            }
            boxes.push((title.clone(), [x, y, w, h]));
        }
        let kind = panel["type"].as_str().unwrap_or("");
        if kind.is_empty() {
            p.push(format!("{title}: no type"));
        }
        // An alert list reads Grafana's own rules, not a datasource; its name
        // filter is checked against the rules it is for (`slo_dashboard_*`).
        if kind == "row" || kind == "alertlist" {
            continue;
        }
        let targets = panel["targets"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or(&[]);
        if targets.is_empty() {
            p.push(format!("{title}: no targets"));
        }
        let mut refs = BTreeSet::new();
        for t in targets {
            if !t["refId"]
                .as_str()
                .is_some_and(|r| !r.is_empty() && refs.insert(r))
            {
                p.push(format!(
                    "{title}: refId {} missing or not unique",
                    t["refId"]
                ));
            }
        }
    }
    let vars = variables(dash);
    let mut names = BTreeSet::new();
    for v in &vars {
        let name = v["name"].as_str().unwrap_or("");
        if name.is_empty() || !names.insert(name) {
            p.push(format!("variable {name:?} missing a name or not unique"));
        }
    }
    // The Kubernetes dashboards read the kubelet's stats, which carry no OTLP
    // `service.name`: they filter by pod instead.
    let kubernetes = dash["tags"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("kubernetes")));
    // The SLO dashboard filters by SLO: its series are recorded per SLO.
    let slo = dash["tags"]
        .as_array()
        .is_some_and(|t| t.contains(&json!("slo")));
    let wanted: &[&str] = if kubernetes {
        &["namespace", "pod"]
    } else if slo {
        &["slo"]
    } else {
        &["namespace", "service"]
    };
    for required in wanted {
        if !names.contains(*required) {
            p.push(format!("no {required} variable"));
        }
    }
    // A variable is used by a panel or by another variable's query.
    let panels_text = dash["panels"].to_string();
    for v in &vars {
        let name = v["name"].as_str().unwrap_or("");
        let used = uses_variable(&panels_text, name)
            || vars
                .iter()
                .filter(|o| o["name"] != v["name"])
                .any(|o| uses_variable(&o["query"].to_string(), name));
        if !used {
            p.push(format!("variable {name} is not used"));
        }
    }
    p
}

#[test]
fn builtin_dashboards_are_valid_with_unique_uids_and_titles() {
    let mut uids = BTreeSet::new();
    let mut titles = BTreeSet::new();
    for (name, dash) in dashboards() {
        assert_eq!(dash["uid"], format!("sextant-{name}"), "{name}: uid");
        assert!(
            dash["uid"].as_str().unwrap().len() <= 40,
            "{name}: uid over 40"
        );
        assert!(uids.insert(dash["uid"].to_string()), "{name}: uid reused");
        assert!(
            titles.insert(dash["title"].to_string()),
            "{name}: title reused"
        );
        let problems = structure_problems(&dash);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }

    // The same checks reject broken models.
    assert!(load("{\"title\": ").is_err());
    assert!(load("[]").is_err());
    let bad = json!({
        "uid": "x", "title": "x", "schemaVersion": 16, "tags": [],
        "templating": {"list": [{"name": "namespace", "type": "textbox", "query": ""}]},
        "panels": [
            {"id": 1, "type": "stat", "title": "a", "gridPos": {"x": 0, "y": 0, "w": 12, "h": 4},
             "targets": [{"refId": "A"}, {"refId": "A"}]},
            {"id": 1, "type": "stat", "title": "b", "gridPos": {"x": 6, "y": 2, "w": 20, "h": 4},
             "targets": []},
        ],
    });
    let problems = structure_problems(&bad).join("\n");
    for expected in [
        "schemaVersion 16 < 39",
        "not tagged",
        "b: id 1 missing or not unique",
        "b: bad gridPos",
        "a: refId \"A\" missing or not unique",
        "b: no targets",
        "no service variable",
        "variable namespace is not used",
    ] {
        assert!(
            problems.contains(expected),
            "{expected:?} not reported:\n{problems}"
        );
    }
    let overlapping = json!({"panels": [
        {"id": 1, "type": "row", "title": "a", "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1}},
        {"id": 2, "type": "row", "title": "b", "gridPos": {"x": 4, "y": 0, "w": 4, "h": 1}},
    ]});
    assert!(
        structure_problems(&overlapping)
            .iter()
            .any(|p| p == "b: overlaps a")
    );
}

// ---------------------------------------------------------------------------
// Datasources
// ---------------------------------------------------------------------------

/// Problems with datasource references: every panel, target and query variable
/// names one explicitly, and every reference anywhere in the model is a
/// provisioned uid with its type.
fn datasource_problems(dash: &Value, provisioned: &BTreeMap<String, String>) -> Vec<String> {
    fn walk(v: &Value, path: &str, ok: &BTreeMap<String, String>, p: &mut Vec<String>) {
        match v {
            Value::Object(map) => {
                for (k, child) in map {
                    let here = format!("{path}.{k}");
                    if k == "datasource" {
                        let uid = child["uid"].as_str().unwrap_or("");
                        match ok.get(uid) {
                            Some(t) if child["type"] == t.as_str() => {}
                            _ => p.push(format!("{here}: {child} is not a provisioned datasource")),
                        }
                    } else if k == "datasourceUid" {
                        if !child.as_str().is_some_and(|u| ok.contains_key(u)) {
                            p.push(format!("{here}: {child} is not a provisioned datasource"));
                        }
                    } else {
                        walk(child, &here, ok, p);
                    }
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    walk(child, &format!("{path}[{i}]"), ok, p);
                }
            }
            _ => {}
        }
    }
    let mut p = Vec::new();
    walk(dash, "", provisioned, &mut p);
    for panel in all_panels(dash) {
        let title = panel["title"].as_str().unwrap_or("?");
        if panel["type"] == "alertlist" {
            continue;
        }
        if !panel["datasource"].is_object() {
            p.push(format!("panel {title}: no datasource"));
        }
        for t in panel["targets"].as_array().into_iter().flatten() {
            if !t["datasource"].is_object() {
                p.push(format!(
                    "panel {title} target {}: no datasource",
                    t["refId"]
                ));
            } else if t["datasource"] != panel["datasource"] {
                p.push(format!(
                    "panel {title} target {}: datasource differs from the panel's",
                    t["refId"]
                ));
            }
        }
    }
    for v in variables(dash) {
        if v["type"] == "query" && !v["datasource"].is_object() {
            p.push(format!("variable {}: no datasource", v["name"]));
        }
    }
    p
}

#[test]
fn dashboards_use_only_provisioned_datasources() {
    let ok = provisioned();
    assert_eq!(
        ok.keys().map(String::as_str).collect::<Vec<_>>(),
        ["sextant-loki", "sextant-prometheus", "sextant-tempo"]
    );
    for (name, dash) in dashboards() {
        let problems = datasource_problems(&dash, &ok);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }

    let bad = json!({
        "templating": {"list": [{"name": "v", "type": "query", "query": "label_values(up, job)"}]},
        "panels": [
            {"id": 1, "title": "a", "datasource": {"type": "prometheus", "uid": "prometheus"},
             "targets": [{"refId": "A", "expr": "up"}]},
            {"id": 2, "title": "b", "datasource": {"type": "loki", "uid": "sextant-prometheus"},
             "targets": [{"refId": "A", "datasource": "Prometheus"}]},
        ],
    });
    let problems = datasource_problems(&bad, &ok).join("\n");
    for expected in [
        ".panels[0].datasource: {\"type\":\"prometheus\",\"uid\":\"prometheus\"} is not a provisioned",
        ".panels[1].datasource: {\"type\":\"loki\",\"uid\":\"sextant-prometheus\"} is not a provisioned",
        "panel a target \"A\": no datasource",
        "variable \"v\": no datasource",
    ] {
        assert!(
            problems.contains(expected),
            "{expected:?} not reported:\n{problems}"
        );
    }
}

// ---------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------

/// Walks `text` outside string literals ("...", `...`), calling `f(index, char)`.
fn outside_strings(text: &str, mut f: impl FnMut(usize, char)) {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (i, c) in text.char_indices() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '`' => quote = Some(c),
            None => f(i, c),
        }
    }
}

/// Brackets, braces and parentheses outside strings are balanced.
fn check_balanced(text: &str) -> Result<(), String> {
    let mut stack = Vec::new();
    let mut err = None;
    outside_strings(text, |_, c| match c {
        '(' | '[' | '{' => stack.push(c),
        ')' | ']' | '}' => {
            let open = stack.pop();
            let want = match c {
                ')' => '(',
                ']' => '[',
                _ => '{',
            };
            if open != Some(want) && err.is_none() {
                err = Some(format!("unbalanced {c:?}"));
            }
        }
        _ => {}
    });
    match (err, stack.is_empty()) {
        (Some(e), _) => Err(e),
        (None, false) => Err("unclosed bracket".into()),
        (None, true) => Ok(()),
    }
}

/// Range selectors `[...]` hold only the given Grafana variables, never a fixed
/// duration, so panels follow the time picker and the scrape interval.
fn check_ranges(text: &str, allowed: &[&str]) -> Result<(), String> {
    let mut starts = Vec::new();
    let mut ranges = Vec::new();
    outside_strings(text, |i, c| match c {
        '[' => starts.push(i),
        ']' => {
            if let Some(s) = starts.pop() {
                ranges.push(text[s + 1..i].trim().to_string());
            }
        }
        _ => {}
    });
    match ranges.iter().find(|r| !allowed.contains(&r.as_str())) {
        Some(r) => Err(format!("range [{r}] should be one of {allowed:?}")),
        None => Ok(()),
    }
}

/// The first `{...}` of a LogQL query: its stream selector.
fn stream_selector(text: &str) -> Option<&str> {
    let mut start = None;
    let mut end = None;
    let mut depth = 0;
    outside_strings(text, |i, c| {
        if end.is_some() {
            return;
        }
        match c {
            '{' => {
                if start.is_none() {
                    start = Some(i);
                }
                depth += 1;
            }
            '}' if start.is_some() => {
                depth -= 1;
                if depth == 0 {
                    end = Some(i);
                }
            }
            _ => {}
        }
    });
    Some(&text[start?..=end?])
}

fn check_promql(text: &str) -> Result<(), String> {
    parser::parse(text)
        .map(|_| ())
        .map_err(|e| e.replace('\n', " "))
}

fn check_prom_selector(text: &str) -> Result<(), String> {
    match parser::parse(text) {
        Ok(Expr::VectorSelector(_)) => Ok(()),
        Ok(_) => Err("not a series selector".into()),
        Err(e) => Err(e.replace('\n', " ")),
    }
}

fn check_logql(text: &str) -> Result<(), String> {
    check_balanced(text)?;
    let selector = stream_selector(text).ok_or("no stream selector")?;
    check_stream_selector(selector)
}

fn check_traceql(text: &str) -> Result<(), String> {
    if !text.trim_start().starts_with('{') {
        return Err("must start with a span set {...}".into());
    }
    check_balanced(text)
}

/// Problems with the queries of a dashboard in the given languages: each must
/// parse with every variable at a sample value and at its "All" value.
fn query_problems(dash: &Value, langs: &[Lang]) -> Vec<String> {
    let mut p = Vec::new();
    let modes = [
        ("sample values", variable_values(dash, false)),
        ("All values", variable_values(dash, true)),
    ];
    for q in queries(dash)
        .into_iter()
        .filter(|q| langs.contains(&q.lang))
    {
        let ranges = match q.lang {
            Lang::PromQL => check_ranges(&q.text, &["$__rate_interval", "$__range"]),
            Lang::LogQL => check_ranges(&q.text, &["$__interval", "$__range", "$__auto"]),
            _ => Ok(()),
        };
        if let Err(e) = ranges {
            p.push(format!("{}: {e}: {}", q.place, q.text));
        }
        for (mode, values) in &modes {
            let checked = substitute(&q.text, values).and_then(|s| match q.lang {
                Lang::PromQL => check_promql(&s),
                Lang::PromSelector => check_prom_selector(&s),
                Lang::LogQL => check_logql(&s),
                Lang::LokiSelector => check_stream_selector(&s),
                Lang::TraceQL => check_traceql(&s),
            });
            if let Err(e) = checked {
                p.push(format!("{} ({mode}): {e}: {}", q.place, q.text));
            }
        }
    }
    p
}

/// A one-panel dashboard holding one query of a datasource type.
fn one_query(ds: &str, target: Value, vars: Value) -> Value {
    let mut t = target;
    t["refId"] = json!("A");
    t["datasource"] = json!({"type": ds, "uid": format!("sextant-{ds}")});
    json!({
        "templating": {"list": vars},
        "panels": [{"id": 1, "title": "p", "datasource": t["datasource"], "targets": [t]}],
    })
}

fn service_var(all_value: &str) -> Value {
    json!([{"name": "service", "type": "query", "includeAll": true, "allValue": all_value,
            "datasource": {"type": "prometheus", "uid": "sextant-prometheus"},
            "query": "label_values(target_info, service_name)"}])
}

#[test]
fn promql_in_dashboards_parses() {
    let mut count = 0;
    for (name, dash) in dashboards() {
        count += queries(&dash)
            .iter()
            .filter(|q| matches!(q.lang, Lang::PromQL | Lang::PromSelector))
            .count();
        let problems = query_problems(&dash, &[Lang::PromQL, Lang::PromSelector]);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
    assert!(count > 50, "only {count} PromQL queries found");

    let promql = |expr: &str| {
        query_problems(
            &one_query("prometheus", json!({"expr": expr}), service_var(".+")),
            &[Lang::PromQL],
        )
    };
    assert!(promql(r#"sum(rate(up{job="$service"}[$__rate_interval]))"#).is_empty());
    assert!(
        promql("sum(rate(up[$__rate_interval])").len() == 2,
        "unbalanced"
    );
    assert!(promql("sum(rate(up{job=\"$nope\"}[$__rate_interval]))")[0].contains("$nope"));
    assert!(promql("sum(rate(up[5m]))")[0].contains("range [5m]"));
    // A selector that matches everything is fine for a sample value, not for All.
    let all = query_problems(
        &one_query(
            "prometheus",
            json!({"expr": "count({service_name=~\"$service\"})"}),
            service_var(".*"),
        ),
        &[Lang::PromQL],
    );
    assert!(all.len() == 1 && all[0].contains("(All values)"), "{all:?}");
    // label_values(...) variables: the selector is checked.
    let var = json!([{"name": "v", "type": "query",
        "datasource": {"type": "prometheus", "uid": "sextant-prometheus"},
        "query": "label_values(target_info{k8s_namespace_name=~\"x\", service_name=}, service_name)"}]);
    let problems = query_problems(&json!({"templating": {"list": var}}), &[Lang::PromSelector]);
    assert!(problems.len() == 2, "{problems:?}");
}

#[test]
fn logql_stream_selectors_are_valid() {
    let mut count = 0;
    for (name, dash) in dashboards() {
        count += queries(&dash)
            .iter()
            .filter(|q| matches!(q.lang, Lang::LogQL | Lang::LokiSelector))
            .count();
        let problems = query_problems(&dash, &[Lang::LogQL, Lang::LokiSelector]);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
    assert!(count >= 10, "only {count} LogQL queries found");

    assert_eq!(
        stream_selector(r#"sum by (x) (count_over_time({a="}", b=~"$v"} |= "{" [1m]))"#),
        Some(r#"{a="}", b=~"$v"}"#)
    );
    let logql = |expr: &str, all: &str| {
        query_problems(
            &one_query("loki", json!({"expr": expr}), service_var(all)),
            &[Lang::LogQL],
        )
    };
    assert!(logql(r#"{service_name=~"$service"} |= "error""#, ".+").is_empty());
    // Loki refuses a selector whose every matcher matches the empty string.
    let empty = logql(r#"{service_name=~"$service"}"#, ".*");
    assert!(
        empty.len() == 1 && empty[0].contains("(All values)"),
        "{empty:?}"
    );
    assert!(!logql(r#"count_over_time(service_name="x" [$__interval])"#, ".+").is_empty());
    assert!(
        !logql(
            r#"sum(count_over_time({service_name="x"}[$__interval])"#,
            ".+"
        )
        .is_empty()
    );
    assert!(!logql(r#"count_over_time({service_name="x"}[5m])"#, ".+").is_empty());
}

#[test]
fn tempo_queries_are_well_formed() {
    let mut count = 0;
    for (name, dash) in dashboards() {
        count += queries(&dash)
            .iter()
            .filter(|q| q.lang == Lang::TraceQL)
            .count();
        let problems = query_problems(&dash, &[Lang::TraceQL, Lang::PromSelector]);
        assert!(problems.is_empty(), "{name}:\n{}", problems.join("\n"));
    }
    assert!(count >= 3, "only {count} TraceQL queries found");
    let traceql = |q: &str| {
        query_problems(
            &one_query(
                "tempo",
                json!({"queryType": "traceql", "query": q}),
                service_var(".+"),
            ),
            &[Lang::TraceQL],
        )
    };
    assert!(traceql(r#"{resource.service.name="$service" && status=error}"#).is_empty());
    assert!(!traceql(r#"{resource.service.name="$service" && status=error"#).is_empty());
    let map = one_query(
        "tempo",
        json!({"queryType": "serviceMap", "serviceMapQuery": ["{client=\"$service\"}", "rate(x[1m])"]}),
        service_var(".+"),
    );
    assert_eq!(query_problems(&map, &[Lang::PromSelector]).len(), 2);
}

/// Every PromQL expression and selector of the dashboards (variables at sample
/// values) and of the runbooks, as recording rules for `promtool check rules`.
#[test]
fn promtool_accepts_dashboard_and_runbook_queries() {
    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    let mut exprs = Vec::new();
    for (_, dash) in dashboards() {
        let values = variable_values(&dash, false);
        for q in queries(&dash) {
            if matches!(q.lang, Lang::PromQL | Lang::PromSelector) {
                exprs.push(substitute(&q.text, &values).unwrap());
            }
        }
    }
    for name in builtin_rule_names() {
        exprs.extend(fenced_blocks(&read_runbook(name).unwrap(), "promql"));
    }
    let rules: Vec<Value> = exprs
        .iter()
        .enumerate()
        .map(|(i, e)| json!({"record": format!("sextant:dashboard_query_{i}"), "expr": e}))
        .collect();
    let file = json!({"groups": [{"name": "dashboards", "rules": rules}]});
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("queries.yaml");
    std::fs::write(&path, serde_yaml_ng::to_string(&file).unwrap()).unwrap();
    let (ok, out) = common::run(&promtool, &["check", "rules", path.to_str().unwrap()]);
    assert!(ok, "promtool check rules failed:\n{out}");

    std::fs::write(
        &path,
        "groups: [{name: g, rules: [{record: 'a:b', expr: 'sum(rate(x[5m])'}]}]",
    )
    .unwrap();
    let (ok, _) = common::run(&promtool, &["check", "rules", path.to_str().unwrap()]);
    assert!(!ok, "promtool accepted a broken expression");
}

// ---------------------------------------------------------------------------
// What each dashboard shows
// ---------------------------------------------------------------------------

/// Metrics, labels and queries each built-in dashboard must show.
fn required(name: &str) -> &'static [&'static str] {
    match name {
        "stack-health" => &[
            "otelcol_receiver_accepted_spans_total",
            "otelcol_receiver_accepted_metric_points_total",
            "otelcol_receiver_accepted_log_records_total",
            "otelcol_receiver_refused_spans_total",
            "otelcol_receiver_refused_metric_points_total",
            "otelcol_receiver_refused_log_records_total",
            "otelcol_exporter_send_failed_",
            "otelcol_exporter_queue_size / otelcol_exporter_queue_capacity",
            "prometheus_tsdb_head_samples_appended_total",
            "prometheus_tsdb_head_series",
            "loki_distributor_lines_received_total",
            "loki_discarded_samples_total",
            "tempo_distributor_spans_received_total",
            "tempo_discarded_spans_total",
            "prometheus_tsdb_storage_blocks_bytes",
            "prometheus_tsdb_retention_limit_bytes",
            "by (job) (up)",
        ],
        "service-overview" => &[
            "traces_spanmetrics_calls_total",
            "STATUS_CODE_ERROR",
            "histogram_quantile(0.50, sum by (le) (rate(traces_spanmetrics_latency_bucket",
            "histogram_quantile(0.95, sum by (le) (rate(traces_spanmetrics_latency_bucket",
            "histogram_quantile(0.99, sum by (le) (rate(traces_spanmetrics_latency_bucket",
            "traces_service_graph_request_total",
            r#"{service_name="$service""#,
        ],
        "agent-fleet" => &[
            "gen_ai_client_token_usage_sum",
            "gen_ai_client_token_usage_bucket",
            "gen_ai_token_type",
            "gen_ai_request_model",
            "gen_ai_provider_name",
            "gen_ai_system",
            "gen_ai_operation_name",
            "gen_ai_client_operation_duration_seconds_bucket",
            "error_type",
            "agent_tasks_total",
            "outcome",
            "invoke_agent",
            "execute_tool",
            "* 3600",
        ],
        "kubernetes-cluster" => &[
            "k8s_node_condition_ready",
            "k8s_pod_phase",
            "k8s_deployment_available",
            "k8s_statefulset_ready_pods",
            "k8s_daemonset_ready_nodes",
            "k8s_container_restarts",
            "OOMKilled",
            "k8s_container_cpu_request",
            "k8s_container_memory_limit_bytes",
            "service_name=\"kubernetes-events\"",
            "object_type=\"Warning\"",
        ],
        "kubernetes-namespace" => &[
            "k8s_pod_cpu_usage",
            "k8s_container_cpu_limit",
            "k8s_container_memory_request_bytes",
            "k8s_container_restarts",
            "OOMKilled",
            "k8s_pod_memory_working_set_bytes",
            "container_cpu_usage",
            "container_memory_working_set_bytes",
            "k8s_pod_network_io_bytes_total",
            "k8s_volume_available_bytes",
            "k8s_volume_capacity_bytes",
        ],
        "kubernetes-pod-logs" => &[
            "count_over_time",
            "by (k8s_namespace_name, k8s_pod_name)",
            "by (k8s_node_name)",
            "k8s_container_name=~\"$container\"",
            "detected_level=~\"error",
        ],
        "logs-overview" => &[
            "count_over_time",
            "by (service_name)",
            "by (detected_level)",
            "severity_text",
            "detected_level=~\"error",
        ],
        _ => &[],
    }
}

/// What a dashboard's queries lack of the required list, and its panel kinds.
fn missing(dash: &Value, required: &[&str]) -> Vec<String> {
    let texts: Vec<String> = queries(dash).into_iter().map(|q| q.text).collect();
    required
        .iter()
        .filter(|r| !texts.iter().any(|t| t.contains(*r)))
        .map(|r| r.to_string())
        .collect()
}

fn panel_on(dash: &Value, kind: &str, ds: &str) -> bool {
    all_panels(dash)
        .iter()
        .any(|p| p["type"] == kind && p["datasource"]["type"] == ds)
}

#[test]
fn dashboards_show_their_signals() {
    for (name, dash) in dashboards() {
        let lacking = missing(&dash, required(name));
        assert!(lacking.is_empty(), "{name} lacks {lacking:?}");
    }
    let all: BTreeMap<_, _> = dashboards().into_iter().collect();
    let service = &all["service-overview"];
    assert!(
        all_panels(service)
            .iter()
            .flat_map(|p| p["targets"].as_array().into_iter().flatten())
            .any(|t| t["exemplar"] == true && t["datasource"]["uid"] == "sextant-prometheus"),
        "service-overview shows no exemplars"
    );
    assert!(panel_on(service, "nodeGraph", "tempo"));
    assert!(panel_on(service, "logs", "loki"));
    assert!(panel_on(&all["logs-overview"], "logs", "loki"));
    assert!(panel_on(&all["kubernetes-pod-logs"], "logs", "loki"));
    assert!(panel_on(&all["kubernetes-cluster"], "logs", "loki"));
    // Every rate over Prometheus series takes Grafana's window: `$__rate_interval`
    // (at least four scrapes), or `$__range` for the totals of a panel "in range".
    for (name, dash) in &all {
        for q in queries(dash) {
            if q.lang == Lang::PromQL {
                let bad = fixed_rate_windows(&q.text);
                assert!(bad.is_empty(), "{name} {}: rate over {bad:?}", q.place);
            }
        }
    }
    assert_eq!(
        fixed_rate_windows(
            "sum(rate(a[5m])) / sum(irate(b[$__rate_interval])) + increase(c[$__range])"
        ),
        ["5m"]
    );

    let lacking = missing(&all["logs-overview"], required("stack-health"));
    assert!(lacking.contains(&"tempo_discarded_spans_total".to_string()));
    assert!(!panel_on(&all["logs-overview"], "nodeGraph", "tempo"));
}

/// The windows of `rate`, `irate` and `increase` in a query that are not
/// Grafana's `$__rate_interval` or `$__range`.
fn fixed_rate_windows(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    for f in ["rate(", "increase("] {
        for (at, _) in query.match_indices(f) {
            let rest = &query[at..];
            let window = rest.find('[').and_then(|open| {
                rest[open + 1..]
                    .find(']')
                    .map(|close| &rest[open + 1..open + 1 + close])
            });
            if let Some(w) = window
                && w != "$__rate_interval"
                && w != "$__range"
            {
                out.push(w.to_string());
            }
        }
    }
    out
}

/// Names of built-in rules that no stack-health panel description mentions.
fn rules_without_panel(dash: &Value, rules: &[&str]) -> Vec<String> {
    let descriptions: Vec<&str> = all_panels(dash)
        .iter()
        .filter_map(|p| p["description"].as_str())
        .collect();
    rules
        .iter()
        .filter(|r| !descriptions.iter().any(|d| d.contains(*r)))
        .map(|r| r.to_string())
        .collect()
}

#[test]
fn every_builtin_alert_has_a_stack_health_panel() {
    let all: BTreeMap<_, _> = dashboards().into_iter().collect();
    let lacking = rules_without_panel(&all["stack-health"], &builtin_rule_names());
    assert!(
        lacking.is_empty(),
        "no stack-health panel names {lacking:?}"
    );
    assert_eq!(
        rules_without_panel(&all["logs-overview"], &["StackComponentDown"]),
        ["StackComponentDown"]
    );
}

// ---------------------------------------------------------------------------
// Runbooks
// ---------------------------------------------------------------------------

/// Problems with a rule's runbook: it exists, is titled by the rule, has the
/// sections an on-call reader needs, and its queries parse.
fn runbook_problems(name: &str) -> Vec<String> {
    let text = match read_runbook(name) {
        Ok(t) => t,
        Err(e) => return vec![e],
    };
    let mut p = Vec::new();
    if text.lines().next() != Some(format!("# {name}").as_str()) {
        p.push(format!("{name}: first line is not \"# {name}\""));
    }
    for section in ["## Meaning", "## Likely causes", "## Confirm", "## Fix"] {
        if !text.lines().any(|l| l.trim() == section) {
            p.push(format!("{name}: no {section:?} section"));
        }
    }
    let promql = fenced_blocks(&text, "promql");
    if promql.is_empty() {
        p.push(format!("{name}: no ```promql query to confirm with"));
    }
    for q in promql {
        if let Err(e) = check_promql(&q) {
            p.push(format!("{name}: {e}: {q}"));
        }
    }
    for q in fenced_blocks(&text, "logql") {
        if let Err(e) = check_logql(&q) {
            p.push(format!("{name}: {e}: {q}"));
        }
    }
    p
}

#[test]
fn every_builtin_rule_has_a_runbook_matching_its_url() {
    let names = builtin_rule_names();
    let group = builtin_group(&full_stack(), &Capabilities::current()).expect("built-in rules");
    let in_group: Vec<&str> = group.rules.iter().map(|r| r.alert.as_str()).collect();
    assert_eq!(in_group, names, "the full stack provisions every rule");
    for rule in &group.rules {
        let url = &rule.annotations["runbook_url"];
        let file = url
            .strip_prefix(RUNBOOK_BASE)
            .unwrap_or_else(|| panic!("{url} is not under {RUNBOOK_BASE}"));
        assert_eq!(file, format!("{}.md", rule.alert));
        assert!(
            RUNBOOK_BASE.ends_with("/docs/runbooks/"),
            "{RUNBOOK_BASE} does not point at docs/runbooks/"
        );
        assert!(
            runbooks_dir().join(file).is_file(),
            "no docs/runbooks/{file}"
        );
        let problems = runbook_problems(&rule.alert);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    // Every runbook belongs to a rule, and the index lists every rule.
    for entry in std::fs::read_dir(runbooks_dir()).unwrap() {
        let file = entry.unwrap().file_name().to_string_lossy().to_string();
        let stem = file.strip_suffix(".md").unwrap_or(&file);
        assert!(
            stem == "README" || names.contains(&stem),
            "docs/runbooks/{file} is not the runbook of a built-in rule"
        );
    }
    let index = std::fs::read_to_string(runbooks_dir().join("README.md")).unwrap();
    for name in &names {
        assert!(
            index.contains(&format!("[{name}]({name}.md)")),
            "docs/runbooks/README.md does not link {name}"
        );
    }

    let problems = runbook_problems("NoSuchRule");
    assert!(problems.len() == 1 && problems[0].contains("NoSuchRule.md"));
    assert_eq!(
        fenced_blocks("x\n```promql\nsum(rate(up[5m])\n```\n", "promql"),
        ["sum(rate(up[5m])"]
    );
    assert!(check_promql("sum(rate(up[5m])").is_err());
}

// ---------------------------------------------------------------------------
// README
// ---------------------------------------------------------------------------

const README_SECTION: &str = "## Built-in dashboards and alerts";

/// What the built-in section of docs/dashboards-and-alerts.md does not mention.
fn readme_missing(readme: &str, names: &[&str]) -> Vec<String> {
    let Some(start) = readme.find(README_SECTION) else {
        return vec![format!("no {README_SECTION:?} section")];
    };
    let body = &readme[start + README_SECTION.len()..];
    let section = body.find("\n## ").map_or(body, |end| &body[..end]);
    names
        .iter()
        .filter(|n| !section.contains(&format!("`{n}`")))
        .map(|n| n.to_string())
        .collect()
}

#[test]
fn readme_lists_every_builtin_dashboard_and_alert() {
    let readme =
        std::fs::read_to_string(common::root().join("docs/dashboards-and-alerts.md")).unwrap();
    let mut names: Vec<&str> = sextant::builtin::dashboards::all_json()
        .iter()
        .map(|(n, _)| *n)
        .collect();
    names.extend(builtin_rule_names());
    let lacking = readme_missing(&readme, &names);
    assert!(
        lacking.is_empty(),
        "docs/dashboards-and-alerts.md's {README_SECTION:?} lacks {lacking:?}"
    );
    assert_eq!(
        readme_missing(&format!("{README_SECTION}\n`a`\n## Next\n`b`"), &["a", "b"]),
        ["b"]
    );
    assert_eq!(readme_missing("# x", &["a"]).len(), 1);
}

#[test]
fn slo_dashboard_lists_the_slo_alerts_and_only_with_slos() {
    use sextant::builtin::dashboards::{Available, slo_dashboard};
    use sextant::builtin::slos;
    let (_, dash) = dashboards()
        .into_iter()
        .find(|(n, _)| *n == "slos")
        .unwrap();
    let list: Vec<&Value> = all_panels(&dash)
        .into_iter()
        .filter(|p| p["type"] == "alertlist")
        .collect();
    assert_eq!(list.len(), 1);
    // Grafana's alert list keeps rules whose name contains `alertName`, case
    // insensitively (public/app/plugins/panel/alertlist/UnifiedAlertList.tsx,
    // `filterRules`, read in a stored copy, not verified at v12.4.12).
    let filter = list[0]["options"]["alertName"]
        .as_str()
        .unwrap()
        .to_lowercase();
    let stack = sextant::validate::validate(
        &common::with_spec(
            "retention: {metrics: 30d}\nslos: [{name: tasks, target: 0.99, sli: {agentTasks: {}}}]",
        ),
        &sextant::validate::Dereferenced::offline(),
    )
    .unwrap();
    let alerts = slos::alert_groups(&stack);
    assert_eq!(alerts[0].rules.len(), 2);
    for rule in &alerts[0].rules {
        assert!(
            rule.alert.to_lowercase().contains(&filter),
            "{}",
            rule.alert
        );
    }
    for group in sextant::builtin::rules::builtin_group(
        &common::queries::full_stack(),
        &Capabilities::current(),
    )
    .into_iter()
    .chain(stack.spec.grafana.alerting.rule_groups.clone())
    {
        for rule in &group.rules {
            assert!(
                !rule.alert.to_lowercase().contains(&filter),
                "{}",
                rule.alert
            );
        }
    }
    let none = Available {
        slos: false,
        ..Available::ALL
    };
    assert!(slo_dashboard(none).is_none());
    assert!(slo_dashboard(Available::ALL).is_some());
    // Only a stack with SLOs gets it.
    let files = |s: &sextant::model::ValidatedStack| {
        sextant::build::grafana::dashboard_files(s, &Capabilities::current())
            .into_iter()
            .map(|f| f.key)
            .collect::<Vec<_>>()
    };
    assert!(files(&stack).contains(&"builtin-slos.json".to_string()));
    let plain = sextant::validate::validate(
        &common::with_spec("{}"),
        &sextant::validate::Dereferenced::offline(),
    )
    .unwrap();
    assert!(!files(&plain).iter().any(|k| k.contains("slos")));
}
