//! The escape hatch: `spec.<component>.configOverrides` merged into the
//! rendered config file as a JSON merge patch (RFC 7386), and
//! `spec.<component>.extraArgs` appended to the container's arguments; and
//! [`check`], which refuses what the program would refuse at start or what
//! would fight sextant's own arguments.
//!
//! The merge works on the YAML document of the rendered config, so the keys
//! keep their rendered order and the file of a stack without overrides is the
//! same bytes as before.

use serde::Serialize;
use serde_yaml_ng::{Mapping, Value};

use super::Resources;
use super::common::*;
use crate::render::to_yaml;
use crate::validate::FieldError;

/// Flags a program takes more than once, so an extra one adds to sextant's
/// rather than fighting it (Prometheus `--enable-feature`, a kingpin
/// `Strings` flag in prometheus/prometheus `cmd/prometheus/main.go`).
const REPEATABLE: [(Component, &str); 1] = [(Component::Prometheus, "enable-feature")];

/// The config file of `c` as YAML: `rendered`, with `configOverrides` merged in.
pub(super) fn config_text<T: Serialize>(
    stack: &ValidatedStack,
    c: Component,
    rendered: &T,
) -> String {
    let Some(patch) = c.overrides(&stack.spec).0 else {
        return to_yaml(rendered);
    };
    let mut doc = serde_yaml_ng::to_value(rendered).unwrap_or(Value::Null);
    merge(&mut doc, &json_to_yaml(patch));
    to_yaml(&doc)
}

fn has_overrides(stack: &ValidatedStack, c: Component) -> bool {
    let (config, args) = c.overrides(&stack.spec);
    config.is_some() || !args.is_empty()
}

/// Whether any component of the stack, enabled or not, has `configOverrides`
/// or `extraArgs` (which `check` then looks at).
pub fn any(stack: &ValidatedStack) -> bool {
    Component::ALL.into_iter().any(|c| has_overrides(stack, c))
}

/// The components whose `configOverrides` or `extraArgs` are in effect (set,
/// and the component runs), for the `ConfigOverridden` condition.
pub fn in_effect(stack: &ValidatedStack) -> Vec<Component> {
    Component::ALL
        .into_iter()
        .filter(|c| stack.enabled(*c) && has_overrides(stack, *c))
        .collect()
}

/// `args` followed by `extraArgs` of `c`.
pub(super) fn with_extra_args(
    stack: &ValidatedStack,
    c: Component,
    mut args: Vec<String>,
) -> Vec<String> {
    args.extend(c.overrides(&stack.spec).1.iter().cloned());
    args
}

/// RFC 7386 on YAML values: a mapping patch merges key by key (a null value
/// removes the key), anything else replaces the target.
fn merge(target: &mut Value, patch: &Value) {
    let Value::Mapping(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_mapping() {
        *target = Value::Mapping(Mapping::new());
    }
    if let Value::Mapping(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

fn json_to_yaml(v: &serde_json::Value) -> Value {
    serde_yaml_ng::to_value(v).unwrap_or(Value::Null)
}

/// The flag name of an argument: `--a.b=c` and `-a.b` are `a.b` (Go's `flag`
/// package, which Loki, Tempo and the collector use, takes one dash or two).
fn flag_name(arg: &str) -> &str {
    let bare = arg.trim_start_matches('-');
    bare.split_once('=').map_or(bare, |(name, _)| name)
}

/// What `configOverrides` and `extraArgs` break, by field: overrides that are
/// not a map; a merged collector config that the collector would refuse to
/// start with (the checks of opentelemetry-collector v0.159.0
/// `otelcol/config.go` `Config.Validate` and `service/pipelines/config.go`);
/// and extra arguments that are not `--flag=value` or repeat a flag sextant
/// sets. Prometheus, Tempo and Loki configs are not checked beyond the merge:
/// those programs do not run in the operator.
pub fn check(stack: &ValidatedStack, r: &Resources) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for c in Component::ALL {
        let (config, extra) = c.overrides(&stack.spec);
        let field = format!("spec.{}", c.field());
        if let Some(patch) = config {
            if !patch.is_object() {
                errors.push(FieldError {
                    path: format!("{field}.configOverrides"),
                    message: "must be a map of the config file's keys".into(),
                });
            } else if matches!(
                c,
                Component::Collector | Component::NodeAgent | Component::ClusterCollector
            ) && let Some(text) = collector_config(stack, c, r)
            {
                let doc: Value = serde_yaml_ng::from_str(&text).unwrap_or(Value::Null);
                errors.extend(collector_problems(&doc).into_iter().map(|p| FieldError {
                    path: format!("{field}.configOverrides"),
                    message: format!("the merged config {p}"),
                }));
            }
        }
        if extra.is_empty() {
            continue;
        }
        let Some(args) = container_args(stack, c, r) else {
            continue;
        };
        let own = &args[..args.len().saturating_sub(extra.len())];
        for (i, arg) in extra.iter().enumerate() {
            let path = format!("{field}.extraArgs[{i}]");
            let name = flag_name(arg);
            if !arg.starts_with('-') || name.is_empty() || arg.contains(['\n', '\r']) {
                errors.push(FieldError {
                    path,
                    message: "must be one flag, written --flag or --flag=value".into(),
                });
            } else if !REPEATABLE.contains(&(c, name))
                && let Some(set) = own.iter().find(|a| flag_name(a) == name)
            {
                errors.push(FieldError {
                    path,
                    message: format!(
                        "sets {name}, which sextant sets ({set}): change it through the spec or configOverrides"
                    ),
                });
            }
        }
    }
    errors
}

/// The rendered `config.yaml` of a collector-image component `c`, in its
/// ConfigMap `<stack>-<c>-config` (`common::collector_container` reads it).
fn collector_config(stack: &ValidatedStack, c: Component, r: &Resources) -> Option<String> {
    let name = child_name(&stack.name, c, Some("config"));
    let cm = r
        .config_maps
        .iter()
        .find(|m| m.metadata.name.as_deref() == Some(name.as_str()))?;
    cm.data.as_ref()?.get("config.yaml").cloned()
}

/// The arguments of the main container of `c`'s workload.
fn container_args(stack: &ValidatedStack, c: Component, r: &Resources) -> Option<Vec<String>> {
    let name = child_name(&stack.name, c, None);
    let named = |n: &Option<String>| n.as_deref() == Some(name.as_str());
    let template = r
        .deployments
        .iter()
        .find(|d| named(&d.metadata.name))
        .and_then(|d| d.spec.as_ref().map(|s| &s.template))
        .or_else(|| {
            r.stateful_sets
                .iter()
                .find(|s| named(&s.metadata.name))
                .and_then(|s| s.spec.as_ref().map(|s| &s.template))
        })
        .or_else(|| {
            r.daemon_sets
                .iter()
                .find(|d| named(&d.metadata.name))
                .and_then(|d| d.spec.as_ref().map(|s| &s.template))
        })?;
    template.spec.as_ref()?.containers.first()?.args.clone()
}

/// Why the collector would refuse a config, as `otelcol` checks it at start.
fn collector_problems(doc: &Value) -> Vec<String> {
    let Some(root) = doc.as_mapping() else {
        return vec!["leaves no config".into()];
    };
    let section = |name: &str| root.get(name).and_then(Value::as_mapping);
    let has = |kind: &str, id: &str| section(kind).is_some_and(|m| m.contains_key(id));
    let mut problems = Vec::new();
    for kind in ["receivers", "exporters"] {
        if section(kind).is_none_or(Mapping::is_empty) {
            problems.push(format!("has no {kind} (the collector needs one)"));
        }
    }
    let service = root.get("service").and_then(Value::as_mapping);
    let list = |m: &Mapping, key: &str| -> Vec<String> {
        m.get(key)
            .and_then(Value::as_sequence)
            .map(|s| {
                s.iter()
                    .filter_map(|v| v.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    if let Some(service) = service {
        for ext in list(service, "extensions") {
            if !has("extensions", &ext) {
                problems.push(format!(
                    "lists extension {ext:?} in service.extensions, which is not configured"
                ));
            }
        }
    }
    let pipelines = service
        .and_then(|s| s.get("pipelines"))
        .and_then(Value::as_mapping);
    let Some(pipelines) = pipelines.filter(|p| !p.is_empty()) else {
        problems.push("has no service.pipelines (the collector needs one)".into());
        return problems;
    };
    for (id, p) in pipelines {
        let id = id.as_str().unwrap_or_default();
        let Some(p) = p.as_mapping() else {
            problems.push(format!("has pipeline {id:?} that is not a map"));
            continue;
        };
        for (key, kinds) in [
            ("receivers", ["receivers", "connectors"].as_slice()),
            ("processors", ["processors"].as_slice()),
            ("exporters", ["exporters", "connectors"].as_slice()),
        ] {
            let refs = list(p, key);
            if key != "processors" && refs.is_empty() {
                problems.push(format!("has pipeline {id:?} without {key}"));
            }
            for r in refs {
                if !kinds.iter().any(|k| has(k, &r)) {
                    problems.push(format!(
                        "has pipeline {id:?} referencing {key} {r:?}, which is not configured"
                    ));
                }
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(s: &str) -> Value {
        serde_yaml_ng::from_str(s).unwrap()
    }

    /// The examples of RFC 7386 appendix A that do not depend on arrays of
    /// objects, on YAML values.
    #[test]
    fn merge_follows_rfc_7386() {
        let cases = [
            ("{a: b}", "{a: c}", "{a: c}"),
            ("{a: b}", "{b: c}", "{a: b, b: c}"),
            ("{a: b}", "{a: null}", "{}"),
            ("{a: b, b: c}", "{a: null}", "{b: c}"),
            ("{a: [b]}", "{a: c}", "{a: c}"),
            ("{a: c}", "{a: [b]}", "{a: [b]}"),
            ("{a: {b: c}}", "{a: {b: d, c: null}}", "{a: {b: d}}"),
            ("{a: [1, 2]}", "{a: [3]}", "{a: [3]}"),
            ("[a, b]", "{a: b}", "{a: b}"),
            ("{e: null}", "{a: 1}", "{e: null, a: 1}"),
            ("{}", "{a: {bb: {ccc: null}}}", "{a: {bb: {}}}"),
        ];
        for (target, patch, want) in cases {
            let mut t = yaml(target);
            merge(&mut t, &yaml(patch));
            assert_eq!(t, yaml(want), "{target} + {patch}");
        }
    }

    #[test]
    fn flag_names() {
        assert_eq!(flag_name("--log.level=debug"), "log.level");
        assert_eq!(flag_name("-config.file=/x"), "config.file");
        assert_eq!(flag_name("--web.enable-lifecycle"), "web.enable-lifecycle");
    }

    #[test]
    fn collector_problems_follow_otelcol() {
        let ok = "receivers: {otlp: {}}\nexporters: {debug: {}}\nconnectors: {spanmetrics: {}}\nextensions: {health_check: {}}\nservice:\n  extensions: [health_check]\n  pipelines:\n    traces: {receivers: [otlp], exporters: [spanmetrics]}\n    metrics: {receivers: [spanmetrics], processors: [], exporters: [debug]}";
        assert_eq!(collector_problems(&yaml(ok)), Vec::<String>::new());
        let broken = "receivers: {otlp: {}}\nexporters: {debug: {}}\nservice:\n  extensions: [pprof]\n  pipelines:\n    traces: {receivers: [otlp], processors: [batch], exporters: []}";
        let p = collector_problems(&yaml(broken));
        assert!(p.iter().any(|m| m.contains("\"pprof\"")), "{p:?}");
        assert!(
            p.iter().any(|m| m.contains("processors \"batch\"")),
            "{p:?}"
        );
        assert!(p.iter().any(|m| m.contains("without exporters")), "{p:?}");
        assert!(!collector_problems(&yaml("receivers: {}")).is_empty());
    }
}
