//! Property tests: every spec that passes validation builds without panicking, and
//! every object name it produces is a valid Kubernetes name.

mod common;

use proptest::prelude::*;
use sextant::api::ObservabilityStack;
use sextant::build::build;
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, is_dns_label, is_dns_subdomain, validate};

fn duration() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            1u32..400,
            prop::sample::select(vec!["h", "d", "w", "m", "s"])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        "[0-9a-z]{0,6}",
    ]
}

fn quantity() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            1u32..2000,
            prop::sample::select(vec!["Gi", "Mi", "Ti", "G", ""])
        )
            .prop_map(|(n, u)| format!("{n}{u}")),
        "[0-9a-zA-Z.]{0,6}",
    ]
}

prop_compose! {
    fn stack()(
        name in "[a-z][a-z0-9-]{0,50}",
        metrics in duration(), logs in duration(), traces in duration(),
        min in -2i32..120, max in -2i32..120, replicas in -1i32..3,
        ratio in -0.5f64..1.5, size in quantity(), retention_size in "[0-9]{1,4}(GiB|MB|B|x)",
        enabled in prop::array::uniform5(any::<bool>()),
        selector in prop_oneof![Just("{a=\"b\"}".to_string()), "[{}a-z=\"~.*]{0,12}"],
        expr in prop_oneof![Just("up == 0".to_string()), "[a-z()\\[\\]0-9 >=_]{0,16}"],
        dashboard in prop_oneof![Just("{\"title\": \"t\"}".to_string()), "[{}\":a-z0-9 ,]{0,16}"],
    ) -> ObservabilityStack {
        let spec = serde_json::json!({
            "retention": {"metrics": metrics, "logs": logs, "traces": traces},
            "collector": {"enabled": enabled[0], "autoscaling": {"minReplicas": min, "maxReplicas": max},
                          "sampling": {"traceRatio": ratio}},
            "prometheus": {"enabled": enabled[1], "replicas": replicas, "storage": {"size": size},
                           "retention": {"size": retention_size}},
            "tempo": {"enabled": enabled[2]},
            "loki": {"enabled": enabled[3], "retention": {"streams": [{"selector": selector, "period": "48h"}]}},
            "grafana": {"enabled": enabled[4],
                        "alerting": {"ruleGroups": [{"name": "g", "rules": [{"alert": "A", "expr": expr}]}]},
                        "dashboards": {"inline": [{"name": "d", "json": dashboard}]}},
        });
        serde_json::from_value(serde_json::json!({
            "apiVersion": "observability.sextant.dev/v1alpha1", "kind": "ObservabilityStack",
            "metadata": {"name": name, "namespace": "ns", "uid": "0000-1111"}, "spec": spec,
        })).unwrap()
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn valid_specs_build_with_valid_names(stack in stack()) {
        // validate never panics; when it accepts, build never panics either.
        if let Ok(valid) = validate(&stack, &Dereferenced::offline()) {
            let objects = build(&valid, &Capabilities::current()).to_values();
            prop_assert!(!objects.is_empty() || !(valid.spec.collector.enabled || valid.spec.grafana.enabled));
            for o in objects {
                let name = o["metadata"]["name"].as_str().unwrap();
                if o["kind"] == "ClusterRoleBinding" {
                    // Cluster-scoped, unowned, named `sextant:<namespace>:<stack>:<grant>`.
                    prop_assert!(name.len() <= 253 && name.split(':').all(is_dns_label), "{}", name);
                    prop_assert!(o["metadata"]["ownerReferences"].is_null());
                    continue;
                }
                // Services are DNS labels; every other kind here a DNS subdomain
                // (k8s.io/apimachinery `ValidateObjectMeta` with the kind's name
                // rule).
                if o["kind"] == "Service" {
                    prop_assert!(is_dns_label(name), "{} is not a DNS label", name);
                } else {
                    prop_assert!(is_dns_subdomain(name), "{} is not a DNS subdomain", name);
                }
                if o["kind"] == "DaemonSet" {
                    // Its ControllerRevisions are `<name>-<10-char hash>` too.
                    prop_assert!(name.len() <= 52, "DaemonSet name {} too long", name);
                }
                if o["kind"] == "StatefulSet" {
                    // Room for the controller's `-<10-char hash>` revision label.
                    prop_assert!(name.len() <= 52, "StatefulSet name {} too long", name);
                }
                if o["kind"] == "Service" {
                    prop_assert!(name.starts_with(|c: char| c.is_ascii_lowercase()));
                }
                prop_assert_eq!(&o["metadata"]["ownerReferences"][0]["uid"], "0000-1111");
            }
        }
    }

    #[test]
    fn cli_parse_never_panics(text in "[-a-z:{} \\[\\]\n\"'0-9.,]{0,200}") {
        let _ = sextant::cli::parse("fuzz.yaml", &text);
    }
}

#[test]
fn deeply_nested_yaml_is_an_error_not_a_crash() {
    let text = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert!(sextant::cli::parse("deep.yaml", &text).is_err());
}
