//! Real validators over what sextant renders: `promtool check config` and
//! `promtool check rules` (Prometheus 3.5.3), and `kubernetes-validate --strict`
//! against the Kubernetes 1.33 schemas. The tools come from `scripts/tools.sh`.

mod common;

use sextant::build::build;
use sextant::builtin::rules;
use sextant::model::Capabilities;
use sextant::render::{prometheus, to_yaml};
use sextant::validate::Dereferenced;
use sextant::validate::validate;

#[test]
fn promtool_accepts_prometheus_config() {
    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    for (name, stack) in common::samples() {
        let valid = validate(&stack, &Dereferenced::offline()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("prometheus.yml");
        std::fs::write(
            &path,
            to_yaml(&prometheus::render(
                &valid,
                sextant::build::prometheus_discovery(
                    &valid,
                    &sextant::model::Capabilities::current(),
                )
                .as_ref(),
            )),
        )
        .unwrap();
        let (ok, out) = common::run(
            &promtool,
            &["check", "config", "--syntax-only", path.to_str().unwrap()],
        );
        assert!(ok, "{name}: promtool check config failed:\n{out}");
        assert!(out.contains("SUCCESS"), "{name}: {out}");
    }
}

#[test]
fn promtool_accepts_alert_rules() {
    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    for (name, stack) in common::samples() {
        let valid = validate(&stack, &Dereferenced::offline()).unwrap();
        let file = prometheus::RuleFile {
            groups: rules::all_groups(&valid),
        };
        assert!(!file.groups.is_empty(), "{name}: no rules to check");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rules.yml");
        std::fs::write(&path, to_yaml(&file)).unwrap();
        let (ok, out) = common::run(&promtool, &["check", "rules", path.to_str().unwrap()]);
        assert!(ok, "{name}: promtool check rules failed:\n{out}");
        assert!(out.contains("SUCCESS"), "{name}: {out}");
    }
}

#[test]
fn promtool_rejects_a_broken_config() {
    // The check above can fail: promtool really reads what it is given.
    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, "global: {scrape_interval: often}\n").unwrap();
    let (ok, _) = common::run(
        &promtool,
        &["check", "config", "--syntax-only", path.to_str().unwrap()],
    );
    assert!(!ok);
}

#[test]
fn kubernetes_validate_accepts_every_rendered_object() {
    let Some(kv) = common::tool("kubernetes-validate") else {
        return;
    };
    for (name, stack) in common::samples() {
        let resources = build(
            &validate(&stack, &Dereferenced::offline()).unwrap(),
            &Capabilities::current(),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("{name}.yaml"));
        std::fs::write(
            &path,
            sextant::cli::format(&resources, sextant::cli::Format::Yaml),
        )
        .unwrap();
        let (ok, out) = common::run(&kv, &["--strict", "-k", "1.33.0", path.to_str().unwrap()]);
        assert!(ok, "{name}: kubernetes-validate failed:\n{out}");
        let invalid: Vec<_> = out.lines().filter(|l| !l.starts_with("INFO")).collect();
        assert!(invalid.is_empty(), "{name}: {invalid:#?}");
    }
}
