//! The escape hatch as built: `configOverrides` merged into each component's
//! rendered config file (RFC 7386: maps merge, `null` deletes, lists replace),
//! with the rest of the file as rendered and a stack without overrides
//! unchanged; `extraArgs` after sextant's arguments; what the collector would
//! refuse at start, or a flag sextant sets, refused by field; a merged
//! Prometheus config accepted by the real `promtool check config`; and the
//! `ConfigOverridden` condition naming what is overridden.

mod common;

use serde_yaml_ng::Value;
use sextant::build::{Resources, build, checked};
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

fn valid(spec: &str) -> sextant::model::ValidatedStack {
    validate(&common::with_spec(spec), &Dereferenced::offline()).unwrap_or_else(|e| panic!("{e}"))
}

fn file(r: &Resources, cm: &str, key: &str) -> String {
    r.config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(cm))
        .unwrap_or_else(|| panic!("no ConfigMap {cm}"))
        .data
        .as_ref()
        .unwrap()[key]
        .clone()
}

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap()
}

fn errors(spec: &str) -> Vec<String> {
    match checked(&valid(spec), &Capabilities::current()) {
        Ok(_) => Vec::new(),
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn overrides_merge_into_the_rendered_file_and_nothing_else_changes() {
    let caps = Capabilities::current();
    let plain = build(&valid("{}"), &caps);
    let spec = "collector:\n  configOverrides:\n    processors:\n      batch: {send_batch_size: 4096}\n      filter/health: {error_mode: ignore, traces: {span: ['attributes[\"http.route\"] == \"/healthz\"']}}\n    service:\n      telemetry: {logs: {level: debug}}\nloki:\n  configOverrides:\n    limits_config: {ingestion_rate_mb: 64}\n    analytics: null\ntempo:\n  configOverrides:\n    server: {log_level: debug}";
    let r = checked(&valid(spec), &caps).unwrap();

    let before = yaml(&file(&plain, "s-collector-config", "config.yaml"));
    let after = yaml(&file(&r, "s-collector-config", "config.yaml"));
    assert_eq!(
        after["processors"]["batch"]["send_batch_size"],
        Value::from(4096)
    );
    // The rest of batch is kept: maps merge key by key.
    for (k, v) in before["processors"]["batch"].as_mapping().unwrap() {
        if k.as_str() != Some("send_batch_size") {
            assert_eq!(&after["processors"]["batch"][k], v, "{k:?}");
        }
    }
    assert_eq!(
        after["processors"]["filter/health"]["error_mode"],
        Value::from("ignore")
    );
    assert_eq!(
        after["service"]["telemetry"]["logs"]["level"],
        Value::from("debug")
    );
    assert_eq!(
        after["service"]["pipelines"],
        before["service"]["pipelines"]
    );
    assert_eq!(after["receivers"], before["receivers"]);
    assert_eq!(after["exporters"], before["exporters"]);

    let loki_before = yaml(&file(&plain, "s-loki-config", "loki.yaml"));
    let loki = yaml(&file(&r, "s-loki-config", "loki.yaml"));
    assert_eq!(loki["limits_config"]["ingestion_rate_mb"], Value::from(64));
    assert!(
        loki_before.get("analytics").is_some(),
        "the test deletes a key that is rendered"
    );
    assert!(loki.get("analytics").is_none(), "null deletes the key");
    assert_eq!(loki["schema_config"], loki_before["schema_config"]);
    let tempo = yaml(&file(&r, "s-tempo-config", "tempo.yaml"));
    assert_eq!(tempo["server"]["log_level"], Value::from("debug"));
    assert_eq!(
        tempo["server"]["http_listen_port"],
        yaml(&file(&plain, "s-tempo-config", "tempo.yaml"))["server"]["http_listen_port"]
    );

    // A changed config rolls the pod (its hash); an untouched component keeps
    // its bytes and hash.
    let hash = |r: &Resources, name: &str| {
        let template = r
            .deployments
            .iter()
            .find(|d| d.metadata.name.as_deref() == Some(name))
            .map(|d| d.spec.clone().unwrap().template)
            .or_else(|| {
                r.stateful_sets
                    .iter()
                    .find(|s| s.metadata.name.as_deref() == Some(name))
                    .map(|s| s.spec.clone().unwrap().template)
            })
            .unwrap();
        template.metadata.unwrap().annotations.unwrap()["observability.sextant.dev/config-hash"]
            .clone()
    };
    assert_ne!(hash(&plain, "s-collector"), hash(&r, "s-collector"));
    assert_eq!(hash(&plain, "s-prometheus"), hash(&r, "s-prometheus"));
    assert_eq!(
        file(&plain, "s-prometheus-config", "prometheus.yml"),
        file(&r, "s-prometheus-config", "prometheus.yml")
    );
}

#[test]
fn extra_args_follow_sextants_and_may_not_repeat_its_flags() {
    let caps = Capabilities::current();
    let r = checked(
        &valid(
            "prometheus:\n  extraArgs: [--log.level=debug, --enable-feature=native-histograms]\nloki:\n  extraArgs: [-log.level=debug]",
        ),
        &caps,
    )
    .unwrap();
    let args = |name: &str| -> Vec<String> {
        r.stateful_sets
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .unwrap()
            .spec
            .clone()
            .unwrap()
            .template
            .spec
            .unwrap()
            .containers[0]
            .args
            .clone()
            .unwrap()
    };
    let prom = args("s-prometheus");
    assert_eq!(
        &prom[prom.len() - 2..],
        ["--log.level=debug", "--enable-feature=native-histograms"]
    );
    assert_eq!(prom[0], "--config.file=/etc/prometheus/prometheus.yml");
    assert_eq!(
        args("s-loki").last().map(String::as_str),
        Some("-log.level=debug")
    );

    for (spec, path, says) in [
        (
            "collector: {extraArgs: [--config=/tmp/x.yaml]}",
            "spec.collector.extraArgs[0]",
            "sets config",
        ),
        (
            "prometheus: {extraArgs: [--storage.tsdb.path=/data]}",
            "spec.prometheus.extraArgs[0]",
            "sets storage.tsdb.path",
        ),
        (
            "loki: {extraArgs: [--target=read]}",
            "spec.loki.extraArgs[0]",
            "sets target",
        ),
        (
            "tempo: {extraArgs: [debug]}",
            "spec.tempo.extraArgs[0]",
            "one flag",
        ),
    ] {
        let e = errors(spec);
        assert!(
            e.iter().any(|m| m.starts_with(path) && m.contains(says)),
            "{spec}: {e:?}"
        );
    }
}

#[test]
fn what_the_collector_would_refuse_is_refused_by_field() {
    // Deleting the OTLP receiver leaves pipelines naming it.
    let e = errors("collector:\n  configOverrides:\n    receivers: {otlp: null}");
    assert!(
        e.iter()
            .any(|m| m.starts_with("spec.collector.configOverrides:")
                && m.contains("referencing receivers \"otlp\"")),
        "{e:?}"
    );
    // A pipeline naming a processor that is not configured.
    let e = errors(
        "collector:\n  configOverrides:\n    service: {pipelines: {traces: {processors: [memory_limiter, tail_sampling]}}}",
    );
    assert!(
        e.iter().any(|m| m.contains("processors \"tail_sampling\"")),
        "{e:?}"
    );
    // Adding it too is fine.
    let e = errors(
        "collector:\n  configOverrides:\n    processors: {tail_sampling: {policies: [{name: errors, type: status_code, status_code: {status_codes: [ERROR]}}]}}\n    service: {pipelines: {traces: {processors: [memory_limiter, tail_sampling]}}}",
    );
    assert_eq!(e, Vec::<String>::new());
    // Not a map.
    let e = errors("tempo:\n  configOverrides: [a]");
    assert!(
        e.iter()
            .any(|m| m.starts_with("spec.tempo.configOverrides:")),
        "{e:?}"
    );
}

#[test]
fn a_merged_prometheus_config_passes_promtool() {
    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    let r = checked(
        &valid(
            "prometheus:\n  configOverrides:\n    global: {external_labels: {cluster: prod-eu-1}, scrape_timeout: 5s}",
        ),
        &Capabilities::current(),
    )
    .unwrap();
    let text = file(&r, "s-prometheus-config", "prometheus.yml");
    assert_eq!(
        yaml(&text)["global"]["external_labels"]["cluster"],
        Value::from("prod-eu-1")
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, &text).unwrap();
    let (ok, out) = common::run(
        &promtool,
        &["check", "config", "--syntax-only", path.to_str().unwrap()],
    );
    assert!(ok, "promtool refused the merged config:\n{out}\n{text}");
    // And a broken override is what promtool refuses: the check is real.
    let bad = checked(
        &valid("prometheus:\n  configOverrides:\n    global: {scrape_timeout: 5 minutes}"),
        &Capabilities::current(),
    )
    .unwrap();
    std::fs::write(&path, file(&bad, "s-prometheus-config", "prometheus.yml")).unwrap();
    let (ok, _) = common::run(
        &promtool,
        &["check", "config", "--syntax-only", path.to_str().unwrap()],
    );
    assert!(!ok, "promtool accepted a scrape_timeout of '5 minutes'");
}
