//! The built-in dashboards' queries and the runbooks' code blocks, shared by the
//! tests that check them (tests/dashboards.rs, tests/metric_names.rs).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::Value;
use sextant::model::ValidatedStack;
use sextant::validate::{Dereferenced, validate};

/// A stack with every component, autoscaling and so every built-in rule enabled.
pub fn full_stack() -> ValidatedStack {
    validate(
        &super::with_spec(
            "collector: {autoscaling: {enabled: true, minReplicas: 2, maxReplicas: 4}}",
        ),
        &Dereferenced::offline(),
    )
    .unwrap()
}

/// Parses a dashboard model: a JSON object.
pub fn load(text: &str) -> Result<Value, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?;
    if v.is_object() {
        Ok(v)
    } else {
        Err("not a JSON object".into())
    }
}

/// Every built-in dashboard, by name.
pub fn dashboards() -> Vec<(&'static str, Value)> {
    sextant::builtin::dashboards::all_json()
        .into_iter()
        .map(|(name, json)| {
            let v = load(json).unwrap_or_else(|e| panic!("{name}: {e}"));
            (name, v)
        })
        .collect()
}

/// Every panel, rows' nested panels included.
pub fn all_panels(dash: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in dash["panels"].as_array().into_iter().flatten() {
        out.push(p);
        out.extend(p["panels"].as_array().into_iter().flatten());
    }
    out
}

pub fn variables(dash: &Value) -> Vec<&Value> {
    dash["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
        .collect()
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Lang {
    /// A PromQL expression.
    PromQL,
    /// A PromQL series selector (label_values, Tempo's service map filter).
    PromSelector,
    /// A LogQL query (log or metric).
    LogQL,
    /// A LogQL stream selector alone (Loki variable queries).
    LokiSelector,
    /// A TraceQL query.
    TraceQL,
}

#[derive(Debug)]
pub struct Query {
    /// Where the query is: panel and target, or variable.
    pub place: String,
    /// Its language.
    pub lang: Lang,
    /// The query text, Grafana variables not yet replaced.
    pub text: String,
}

/// Splits `label_values(selector, label)` or `label_values(label)`.
pub fn label_values_args(q: &str) -> Option<(Option<String>, String)> {
    let inner = q.trim().strip_prefix("label_values(")?.strip_suffix(')')?;
    // The last comma outside braces and quotes separates the selector.
    let mut depth = 0i32;
    let mut quoted = false;
    let mut split = None;
    let mut prev = ' ';
    for (i, c) in inner.char_indices() {
        match c {
            '"' if prev != '\\' => quoted = !quoted,
            '{' | '(' if !quoted => depth += 1,
            '}' | ')' if !quoted => depth -= 1,
            ',' if !quoted && depth == 0 => split = Some(i),
            _ => {}
        }
        prev = c;
    }
    Some(match split {
        Some(i) => (
            Some(inner[..i].trim().to_string()),
            inner[i + 1..].trim().to_string(),
        ),
        None => (None, inner.trim().to_string()),
    })
}

pub fn is_label_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Every query of a dashboard: panel targets and variable queries.
pub fn queries(dash: &Value) -> Vec<Query> {
    let mut out = Vec::new();
    for panel in all_panels(dash) {
        let title = panel["title"].as_str().unwrap_or("?");
        for t in panel["targets"].as_array().into_iter().flatten() {
            let place = format!("panel {title:?} target {}", t["refId"]);
            let ds = t["datasource"]["type"]
                .as_str()
                .or(panel["datasource"]["type"].as_str())
                .unwrap_or("");
            let text = |k: &str| t[k].as_str().unwrap_or("").to_string();
            match ds {
                "prometheus" => out.push(Query {
                    place,
                    lang: Lang::PromQL,
                    text: text("expr"),
                }),
                "loki" => out.push(Query {
                    place,
                    lang: Lang::LogQL,
                    text: text("expr"),
                }),
                "tempo" if t["queryType"] == "serviceMap" => {
                    let filters = match &t["serviceMapQuery"] {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(a) => a
                            .iter()
                            .map(|s| s.as_str().unwrap_or("").to_string())
                            .collect(),
                        _ => vec![],
                    };
                    for f in filters {
                        out.push(Query {
                            place: place.clone(),
                            lang: Lang::PromSelector,
                            text: f,
                        });
                    }
                }
                "tempo" => out.push(Query {
                    place,
                    lang: Lang::TraceQL,
                    text: text("query"),
                }),
                other => out.push(Query {
                    place,
                    lang: Lang::PromQL,
                    text: format!("unknown datasource type {other:?}"),
                }),
            }
        }
    }
    for v in variables(dash) {
        if v["type"] != "query" {
            continue;
        }
        let place = format!("variable {}", v["name"]);
        let q = &v["query"];
        match v["datasource"]["type"].as_str() {
            Some("prometheus") => {
                let text = q.as_str().or(q["query"].as_str()).unwrap_or("");
                match label_values_args(text) {
                    Some((selector, label)) => {
                        if !is_label_name(&label) {
                            out.push(Query {
                                place: place.clone(),
                                lang: Lang::PromSelector,
                                text: format!("not a label name: {label:?}"),
                            });
                        }
                        if let Some(selector) = selector {
                            out.push(Query {
                                place,
                                lang: Lang::PromSelector,
                                text: selector,
                            });
                        }
                    }
                    None => out.push(Query {
                        place,
                        lang: Lang::PromQL,
                        text: text.to_string(),
                    }),
                }
            }
            Some("loki") => {
                if let Some(stream) = q["stream"].as_str() {
                    out.push(Query {
                        place,
                        lang: Lang::LokiSelector,
                        text: stream.to_string(),
                    });
                }
            }
            _ => {}
        }
    }
    out
}

/// Variable values to substitute: a sample value each, or the "All" value where
/// the variable has one.
pub fn variable_values(dash: &Value, all: bool) -> BTreeMap<String, String> {
    let mut values: BTreeMap<String, String> = [
        ("__rate_interval", "1m"),
        ("__interval", "1m"),
        ("__auto", "1m"),
        ("__range", "6h"),
        ("__interval_ms", "60000"),
        ("__range_s", "21600"),
        ("__range_ms", "21600000"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for v in variables(dash) {
        let name = v["name"].as_str().unwrap_or("").to_string();
        let sample = match name.as_str() {
            "namespace" => "observability",
            "service" => "checkout",
            "model" => "gpt-4o",
            "kind" => "SPAN_KIND_SERVER",
            "search" => "timeout",
            _ => "sample",
        };
        let value = match v["allValue"].as_str() {
            Some(a) if all && v["includeAll"] == true => a.to_string(),
            _ => sample.to_string(),
        };
        values.insert(name, value);
    }
    values
}

/// Replaces `$name` and `${name}` / `${name:format}` by their values; an undefined
/// variable is an error. A `$` not followed by a name (a regex anchor) stays.
pub fn substitute(text: &str, values: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, consumed) = if let Some(braced) = after.strip_prefix('{') {
            let end = braced
                .find('}')
                .ok_or_else(|| format!("unclosed ${{ in {text:?}"))?;
            let inner = &braced[..end];
            (inner.split(':').next().unwrap_or(""), end + 2)
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        if name.is_empty() {
            out.push('$');
            rest = after;
            continue;
        }
        let value = values
            .get(name)
            .ok_or_else(|| format!("undefined variable ${name}"))?;
        out.push_str(value);
        rest = &after[consumed..];
    }
    out.push_str(rest);
    Ok(out)
}

pub fn runbooks_dir() -> PathBuf {
    super::root().join("docs/runbooks")
}

pub fn read_runbook(name: &str) -> Result<String, String> {
    let path = runbooks_dir().join(format!("{name}.md"));
    std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The contents of every fenced code block of a language.
pub fn fenced_blocks(markdown: &str, lang: &str) -> Vec<String> {
    let open = format!("```{lang}");
    let mut out = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in markdown.lines() {
        let trimmed = line.trim();
        match &mut current {
            None if trimmed == open => current = Some(Vec::new()),
            Some(lines) if trimmed == "```" => {
                out.push(lines.join("\n"));
                current = None;
            }
            Some(lines) => lines.push(line),
            None => {}
        }
    }
    out
}
