//! Recording rules as built: `spec.prometheus.recordingRuleGroups` becomes a
//! rule file in Prometheus's ConfigMap, named by `rule_files` where the
//! ConfigMap is mounted; Prometheus 3.5.3's `promtool check rules` accepts it
//! and `promtool test rules` evaluates it over input series to the values the
//! rules mean (Prometheus's own rule engine), at each group's interval.

mod common;

use serde_json::json;
use sextant::build::build;
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

const SPEC: &str = "prometheus:
  recordingRuleGroups:
    - name: agents
      interval: 30s
      rules:
        - record: service:agent_tasks:rate5m
          expr: sum by (service_name) (rate(agent_tasks_total[5m]))
        - record: service:agent_task_failures:ratio_rate5m
          expr: |
            sum by (service_name) (rate(agent_tasks_total{outcome=\"failure\"}[5m]))
            /
            sum by (service_name) (rate(agent_tasks_total[5m]))
          labels: {team: agents}";

fn files() -> (String, String, k8s_openapi::api::core::v1::PodSpec) {
    let stack = validate(&common::with_spec(SPEC), &Dereferenced::offline()).unwrap();
    let r = build(&stack, &Capabilities::current());
    let cm = r
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("s-prometheus-config"))
        .unwrap();
    let data = cm.data.as_ref().unwrap();
    let pod = common::pod_of(&r, "s-prometheus");
    (
        data["prometheus.yml"].clone(),
        data["recording-rules.yml"].clone(),
        pod,
    )
}

#[test]
fn the_rule_file_is_named_where_it_is_mounted() {
    let (config, rules, pod) = files();
    let config: serde_yaml_ng::Value = serde_yaml_ng::from_str(&config).unwrap();
    let mount = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "config")
        .unwrap();
    assert_eq!(
        config["rule_files"],
        serde_yaml_ng::Value::from(vec![format!("{}/recording-rules.yml", mount.mount_path)])
    );
    let rules: serde_yaml_ng::Value = serde_yaml_ng::from_str(&rules).unwrap();
    assert_eq!(
        rules["groups"][0]["interval"],
        serde_yaml_ng::Value::from("30s")
    );
    // Without recording rules, no rule file and no rule_files.
    let plain = build(
        &validate(&common::with_spec("{}"), &Dereferenced::offline()).unwrap(),
        &Capabilities::current(),
    );
    let cm = plain
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("s-prometheus-config"))
        .unwrap();
    assert!(
        !cm.data
            .as_ref()
            .unwrap()
            .contains_key("recording-rules.yml")
    );
    assert!(!cm.data.as_ref().unwrap()["prometheus.yml"].contains("rule_files"));
}

#[test]
fn promtool_accepts_and_evaluates_the_rendered_rules() {
    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    let (_, rules, _) = files();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("rules.yml"), &rules).unwrap();
    let (ok, out) = common::run(
        &promtool,
        &[
            "check",
            "rules",
            dir.path().join("rules.yml").to_str().unwrap(),
        ],
    );
    assert!(ok, "promtool check rules:\n{out}\n{rules}");
    // 60 tasks a minute for one agent, 15 of them failing: 1/s and a quarter.
    let tests = json!({
        "rule_files": ["rules.yml"],
        "evaluation_interval": "30s",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": "agent_tasks_total{service_name=\"planner\",outcome=\"success\"}", "values": "0+45x20"},
                {"series": "agent_tasks_total{service_name=\"planner\",outcome=\"failure\"}", "values": "0+15x20"},
            ],
            "promql_expr_test": [
                {
                    "expr": "service:agent_tasks:rate5m",
                    "eval_time": "10m",
                    "exp_samples": [{"labels": "service:agent_tasks:rate5m{service_name=\"planner\"}", "value": 1}],
                },
                {
                    "expr": "service:agent_task_failures:ratio_rate5m",
                    "eval_time": "10m",
                    "exp_samples": [{"labels": "service:agent_task_failures:ratio_rate5m{service_name=\"planner\",team=\"agents\"}", "value": 0.25}],
                },
            ],
        }],
    });
    let path = dir.path().join("tests.yml");
    std::fs::write(&path, serde_yaml_ng::to_string(&tests).unwrap()).unwrap();
    let (ok, out) = common::run(&promtool, &["test", "rules", path.to_str().unwrap()]);
    assert!(ok, "promtool test rules:\n{out}");
    // The test is real: a wrong expectation fails.
    let wrong = serde_yaml_ng::to_string(&tests)
        .unwrap()
        .replace("value: 0.25", "value: 0.5");
    std::fs::write(&path, wrong).unwrap();
    let (ok, _) = common::run(&promtool, &["test", "rules", path.to_str().unwrap()]);
    assert!(!ok, "promtool passed a wrong ratio");
}
