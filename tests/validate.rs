//! One test per validation rule: the spec that breaks it, and the exact message.

mod common;

use common::stack;
use sextant::validate::Dereferenced;
use sextant::validate::validate;

/// The error lines `validate` reports for a spec.
use common::errors;

fn assert_error(spec: &str, expected: &str) {
    let errs = errors(spec);
    assert!(
        errs.iter().any(|e| e == expected),
        "expected error {expected:?}, got {errs:#?}"
    );
}

#[test]
fn a_valid_spec_has_no_errors() {
    assert_eq!(errors("{}"), Vec::<String>::new());
}

#[test]
fn reports_every_error_at_once() {
    let errs = errors(
        "retention: {metrics: 0s}\ncollector: {autoscaling: {minReplicas: 5, maxReplicas: 2}}\nloki: {storage: {size: 0Gi}}",
    );
    assert_eq!(errs.len(), 3, "{errs:#?}");
}

#[test]
fn max_replicas_at_least_min_replicas() {
    assert_error(
        "collector: {autoscaling: {minReplicas: 4, maxReplicas: 3}}",
        "spec.collector.autoscaling.maxReplicas: must be >= minReplicas (4)",
    );
}

#[test]
fn autoscaling_targets_in_range() {
    assert_error(
        "collector: {autoscaling: {targetMemoryUtilizationPercentage: 0}}",
        "spec.collector.autoscaling.targetMemoryUtilizationPercentage: must be from 1 to 100 (is 0)",
    );
}

#[test]
fn stack_name_fits_child_names() {
    let name = "a".repeat(41);
    let s = stack(&format!(
        "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {{name: {name}}}\nspec: {{}}"
    ));
    let errs: Vec<String> = validate(&s, &Dereferenced::offline())
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        vec![
            "metadata.name: must be at most 40 characters (is 41), so that every child name fits a 63-character DNS label"
        ]
    );
}

#[test]
fn stack_name_is_a_dns_1035_label() {
    let s = stack(
        "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {name: 9.lives}\nspec: {}",
    );
    let errs: Vec<String> = validate(&s, &Dereferenced::offline())
        .unwrap_err()
        .0
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        errs,
        vec![
            "metadata.name: must start with a lower case letter and hold only lower case letters, digits and '-' (child Services need a DNS-1035 label)"
        ]
    );
}

#[test]
fn retention_must_parse() {
    assert_error(
        "retention: {metrics: forever}",
        "spec.retention.metrics: \"forever\" is not a duration such as 30s, 15m, 168h, 15d or 1w",
    );
}

#[test]
fn retention_must_be_positive() {
    assert_error(
        "retention: {traces: 0h}",
        "spec.retention.traces: must be longer than 0s",
    );
}

#[test]
fn loki_retention_in_whole_days() {
    assert_error(
        "retention: {logs: 36h}",
        "spec.retention.logs: must be a whole number of days (24h, 48h, 7d...): Loki's compactor retains logs per daily index",
    );
}

#[test]
fn component_retention_overrides_must_parse() {
    assert_error(
        "tempo: {retention: {period: 1x}}",
        "spec.tempo.retention.period: \"1x\" is not a duration such as 30s, 15m, 168h, 15d or 1w",
    );
}

#[test]
fn loki_retention_is_at_least_a_day() {
    assert_error(
        "loki: {retention: {period: 12h}}",
        "spec.loki.retention.period: must be a whole number of days (24h, 48h, 7d...): Loki's compactor retains logs per daily index",
    );
}

#[test]
fn volume_size_must_parse() {
    assert_error(
        "prometheus: {storage: {size: lots}}",
        "spec.prometheus.storage.size: \"lots\" is not a quantity such as 512Mi, 20Gi or 1G",
    );
}

#[test]
fn volume_size_must_be_positive() {
    assert_error(
        "tempo: {storage: {size: \"0\"}}",
        "spec.tempo.storage.size: must be larger than 0",
    );
}

#[test]
fn prometheus_retention_size_must_parse() {
    assert_error(
        "prometheus: {retention: {size: 45G}}",
        "spec.prometheus.retention.size: \"45G\" is not a byte size such as 512MB or 45GiB",
    );
}

#[test]
fn prometheus_retention_size_fits_the_volume() {
    assert_error(
        "prometheus: {retention: {size: 60GiB}, storage: {size: 50Gi}}",
        "spec.prometheus.retention.size: must not exceed spec.prometheus.storage.size (50Gi), or the volume fills before retention deletes anything",
    );
}

#[test]
fn scrape_interval_must_parse() {
    assert_error(
        "prometheus: {scrapeInterval: soon}",
        "spec.prometheus.scrapeInterval: \"soon\" is not a duration such as 30s, 15m, 168h, 15d or 1w",
    );
}

#[test]
fn resources_requests_within_limits() {
    assert_error(
        "grafana: {resources: {requests: {memory: 2Gi}, limits: {memory: 1Gi}}}",
        "spec.grafana.resources.requests.memory: must be <= limits.memory (1Gi)",
    );
}

#[test]
fn resources_must_parse() {
    assert_error(
        "tempo: {resources: {limits: {cpu: lots}}}",
        "spec.tempo.resources.limits.cpu: \"lots\" is not a CPU quantity such as 250m or 2",
    );
}

#[test]
fn collector_memory_limit_leaves_room_for_the_limiter() {
    assert_error(
        "collector: {resources: {limits: {memory: 64Mi}}}",
        "spec.collector.resources.limits.memory: must be at least 128Mi: the memory_limiter is derived from it",
    );
}

#[test]
fn resource_attribute_keys_not_empty() {
    assert_error(
        "collector: {resourceAttributes: {' ': x}}",
        "spec.collector.resourceAttributes: keys must not be empty",
    );
}

#[test]
fn collector_needs_a_backend() {
    assert_error(
        "prometheus: {enabled: false}\ntempo: {enabled: false}\nloki: {enabled: false}",
        "spec.collector.enabled: the collector needs at least one of prometheus, tempo or loki enabled, or a destination in spec.export",
    );
    // A destination is enough: the collector sends there.
    assert!(
        errors(
            "prometheus: {enabled: false}
tempo: {enabled: false}
loki: {enabled: false}
grafana: {enabled: false}
export: [{name: vendor, signals: [traces], otlp: {endpoint: 'otlp.example.com:4317'}}]"
        )
        .is_empty()
    );
}

#[test]
fn stream_selector_must_parse() {
    let errs = errors("loki: {retention: {streams: [{selector: '{namespace=}', period: 48h}]}}");
    assert!(
        errs.iter().any(|e| e.starts_with(
            "spec.loki.retention.streams[0].selector: is not a valid stream selector:"
        )),
        "{errs:#?}"
    );
}

#[test]
fn stream_selector_is_only_a_selector() {
    assert_error(
        "loki: {retention: {streams: [{selector: '{namespace=\"dev\"} offset 5m', period: 48h}]}}",
        "spec.loki.retention.streams[0].selector: must be only a stream selector, such as {namespace=\"dev\"}",
    );
}

#[test]
fn stream_selector_needs_a_non_empty_matcher() {
    assert_error(
        "loki: {retention: {streams: [{selector: '{namespace=~\".*\"}', period: 48h}]}}",
        "spec.loki.retention.streams[0].selector: is not a valid stream selector: vector selector must contain at least one non-empty matcher",
    );
}

#[test]
fn stream_period_at_least_a_day() {
    assert_error(
        "loki: {retention: {streams: [{selector: '{namespace=\"dev\"}', period: 1h}]}}",
        "spec.loki.retention.streams[0].period: must be a whole number of days (24h, 48h, 7d...): Loki's compactor retains logs per daily index",
    );
}

#[test]
fn alert_expr_must_be_promql() {
    let errs = errors(
        "grafana: {alerting: {ruleGroups: [{name: g, rules: [{alert: A, expr: 'sum(rate(x[5m]) >'}]}]}}",
    );
    assert!(
        errs.iter().any(|e| e.starts_with(
            "spec.grafana.alerting.ruleGroups[0].rules[0].expr: is not valid PromQL:"
        )),
        "{errs:#?}"
    );
}

#[test]
fn rule_group_names_unique() {
    assert_error(
        "grafana: {alerting: {ruleGroups: [{name: g, rules: [{alert: A, expr: up}]}, {name: g, rules: [{alert: B, expr: up}]}]}}",
        "spec.grafana.alerting.ruleGroups[1].name: \"g\" is not unique",
    );
}

#[test]
fn rule_group_name_not_reserved() {
    assert_error(
        "grafana: {alerting: {ruleGroups: [{name: sextant-builtin, rules: [{alert: A, expr: up}]}]}}",
        "spec.grafana.alerting.ruleGroups[0].name: \"sextant-builtin\" is reserved for the built-in rules",
    );
}

#[test]
fn alert_names_unique_in_group() {
    assert_error(
        "grafana: {alerting: {ruleGroups: [{name: g, rules: [{alert: A, expr: up}, {alert: A, expr: up}]}]}}",
        "spec.grafana.alerting.ruleGroups[0].rules[1].alert: \"A\" is not unique in group \"g\"",
    );
}

#[test]
fn rule_group_needs_rules() {
    assert_error(
        "grafana: {alerting: {ruleGroups: [{name: g, rules: []}]}}",
        "spec.grafana.alerting.ruleGroups[0].rules: must hold at least one rule",
    );
}

#[test]
fn alert_for_must_parse() {
    assert_error(
        "grafana: {alerting: {ruleGroups: [{name: g, rules: [{alert: A, expr: up, for: 5 minutes}]}]}}",
        "spec.grafana.alerting.ruleGroups[0].rules[0].for: \"5 minutes\" is not a duration such as 30s, 15m, 168h, 15d or 1w",
    );
}

#[test]
fn alert_label_names_valid() {
    assert_error(
        "grafana: {alerting: {ruleGroups: [{name: g, rules: [{alert: A, expr: up, labels: {team-name: x}}]}]}}",
        "spec.grafana.alerting.ruleGroups[0].rules[0]: label or annotation name \"team-name\" must match [a-zA-Z_][a-zA-Z0-9_]*",
    );
}

#[test]
fn disabled_builtin_rules_must_exist() {
    let errs = errors("grafana: {alerting: {builtinRules: {disabled: [NoSuchRule]}}}");
    assert!(
        errs.iter().any(|e| e.starts_with("spec.grafana.alerting.builtinRules.disabled: \"NoSuchRule\" is not a built-in rule (known: CollectorRefusingData,")),
        "{errs:#?}"
    );
}

#[test]
fn inline_dashboard_json_must_parse() {
    let errs = errors("grafana: {dashboards: {inline: [{name: d, json: '{\"title\": '}]}}");
    assert!(
        errs.iter()
            .any(|e| e.starts_with("spec.grafana.dashboards.inline[0].json: is not valid JSON:")),
        "{errs:#?}"
    );
}

#[test]
fn inline_dashboard_needs_title() {
    assert_error(
        "grafana: {dashboards: {inline: [{name: d, json: '{\"panels\": []}'}]}}",
        "spec.grafana.dashboards.inline[0].json: must have a non-empty \"title\"",
    );
}

#[test]
fn inline_dashboard_is_an_object() {
    assert_error(
        "grafana: {dashboards: {inline: [{name: d, json: '[1, 2]'}]}}",
        "spec.grafana.dashboards.inline[0].json: must be a JSON object (a dashboard model)",
    );
}

#[test]
fn inline_dashboard_names_unique() {
    assert_error(
        "grafana: {dashboards: {inline: [{name: d, json: '{\"title\": \"a\"}'}, {name: d, json: '{\"title\": \"b\"}'}]}}",
        "spec.grafana.dashboards.inline[1].name: \"d\" is not unique",
    );
}

#[test]
fn inline_dashboard_titles_unique_per_folder() {
    assert_error(
        "grafana: {dashboards: {inline: [{name: a, json: '{\"title\": \"t\"}'}, {name: b, json: '{\"title\": \"t\"}'}]}}",
        "spec.grafana.dashboards.inline[1].json: title \"t\" is used by another dashboard in folder \"sextant\"",
    );
}

#[test]
fn inline_dashboard_folder_is_a_path_element() {
    assert_error(
        "grafana: {dashboards: {inline: [{name: a, folder: '../etc', json: '{\"title\": \"t\"}'}]}}",
        "spec.grafana.dashboards.inline[0].folder: must not contain '/'",
    );
}

#[test]
fn inline_dashboard_folder_is_not_hidden() {
    // Grafana's dashboard file reader skips directories whose name starts with '.'.
    assert_error(
        "grafana: {dashboards: {inline: [{name: a, folder: '.team', json: '{\"title\": \"t\"}'}]}}",
        "spec.grafana.dashboards.inline[0].folder: must not start with '.': Grafana skips hidden folders",
    );
}

#[test]
fn inline_dashboard_uid_fits_grafana() {
    let uid = "u".repeat(41);
    assert_error(
        &format!(
            "grafana: {{dashboards: {{inline: [{{name: a, json: '{{\"title\": \"t\", \"uid\": \"{uid}\"}}'}}]}}}}"
        ),
        &format!(
            "spec.grafana.dashboards.inline[0].json: \"uid\" \"{uid}\" must be at most 40 characters of letters, digits, '-' and '_' (Grafana refuses it)"
        ),
    );
}

#[test]
fn rule_group_interval_is_a_multiple_of_grafanas_base_interval() {
    for bad in ["15s", "45s", "1m5s"] {
        assert_error(
            &format!(
                "grafana: {{alerting: {{ruleGroups: [{{name: g, interval: {bad}, rules: [{{alert: A, expr: up == 0}}]}}]}}}}"
            ),
            "spec.grafana.alerting.ruleGroups[0].interval: must be a whole multiple of 10s: Grafana evaluates rules on a 10s base interval and refuses any other",
        );
    }
    for ok in ["10s", "1m30s", "2m"] {
        let stack = common::with_spec(&format!(
            "grafana: {{alerting: {{ruleGroups: [{{name: g, interval: {ok}, rules: [{{alert: A, expr: up == 0}}]}}]}}}}"
        ));
        assert!(validate(&stack, &Dereferenced::offline()).is_ok(), "{ok}");
    }
}

#[test]
fn builtin_dashboards_unique() {
    assert_error(
        "grafana: {dashboards: {builtin: [agent-fleet, agent-fleet]}}",
        "spec.grafana.dashboards.builtin: \"agent-fleet\" is listed twice",
    );
}

#[test]
fn contact_point_names_unique() {
    assert_error(
        "grafana: {alerting: {contactPoints: [{name: a, type: email, addresses: [x@y.z]}, {name: a, type: email, addresses: [x@y.z]}]}}",
        "spec.grafana.alerting.contactPoints[1].name: \"a\" is not unique",
    );
}

#[test]
fn secret_contact_points_need_secret_ref() {
    assert_error(
        "grafana: {alerting: {contactPoints: [{name: a, type: slack}]}}",
        "spec.grafana.alerting.contactPoints[0].secretRef: slack, webhook and pagerduty need secretRef (the URL or key is read from a Secret)",
    );
}

#[test]
fn email_contact_points_need_addresses() {
    assert_error(
        "grafana: {alerting: {contactPoints: [{name: a, type: email}]}}",
        "spec.grafana.alerting.contactPoints[0].addresses: email needs at least one address",
    );
}

#[test]
fn email_addresses_look_like_addresses() {
    assert_error(
        "grafana: {alerting: {contactPoints: [{name: a, type: email, addresses: [nobody]}]}}",
        "spec.grafana.alerting.contactPoints[0].addresses: \"nobody\" is not an e-mail address",
    );
}

#[test]
fn default_contact_point_must_exist() {
    assert_error(
        "grafana: {alerting: {defaultContactPoint: ghost, contactPoints: [{name: a, type: email, addresses: [x@y.z]}]}}",
        "spec.grafana.alerting.defaultContactPoint: \"ghost\" names no contact point in contactPoints",
    );
}

#[test]
fn admin_secret_name_is_a_dns_name() {
    assert_error(
        "grafana: {adminCredentials: {secretName: Not_A_Name}}",
        "spec.grafana.adminCredentials.secretName: must be a DNS subdomain name (lower case letters, digits, '-' and '.')",
    );
}

#[test]
fn trace_ratio_in_range() {
    assert_error(
        "collector: {sampling: {traceRatio: 1.5}}",
        "spec.collector.sampling.traceRatio: must be a number from 0 to 1",
    );
}

#[test]
fn images_and_storage_class_not_empty() {
    assert_error(
        "loki: {image: ''}",
        "spec.loki.image: must not be empty (leave it out for the default)",
    );
    assert_error(
        "storage: {storageClassName: ''}",
        "spec.storage.storageClassName: must not be empty (leave it out for the default)",
    );
}

#[test]
fn stream_priority_in_range() {
    assert_error(
        "loki: {retention: {streams: [{selector: '{a=\"b\"}', period: 48h, priority: 5000}]}}",
        "spec.loki.retention.streams[0].priority: must be from 0 to 1000 (is 5000)",
    );
}

#[test]
fn secret_keys_are_plain_keys() {
    assert_error(
        "grafana: {alerting: {contactPoints: [{name: a, type: webhook, secretRef: {name: s, key: ../../etc/passwd}}]}}",
        "spec.grafana.alerting.contactPoints[0].secretRef.key: must be a Secret key: letters, digits, '-', '_' and '.', not '.' or '..'",
    );
    assert_error(
        "grafana: {adminCredentials: {secretName: s, userKey: 'admin user'}}",
        "spec.grafana.adminCredentials.userKey: must be a Secret key: letters, digits, '-', '_' and '.', not '.' or '..'",
    );
}

#[test]
fn contact_point_names_are_dns_labels() {
    assert_error(
        "grafana: {alerting: {contactPoints: [{name: On Call, type: email, addresses: [x@y.z]}]}}",
        "spec.grafana.alerting.contactPoints[0].name: must hold only lower case letters, digits and '-' (at most 63)",
    );
}

#[test]
fn rule_group_names_not_empty() {
    assert_error(
        "grafana: {alerting: {ruleGroups: [{name: '', rules: [{alert: A, expr: up}]}]}}",
        "spec.grafana.alerting.ruleGroups[0].name: must be 1 to 190 characters",
    );
}

#[test]
fn inline_dashboards_have_a_size_limit() {
    let big = "x".repeat(262_200);
    assert_error(
        &format!(
            "grafana: {{dashboards: {{inline: [{{name: d, json: '{{\"title\": \"{big}\"}}'}}]}}}}"
        ),
        "spec.grafana.dashboards.inline[0].json: must be at most 262144 bytes (is 262213): put large dashboards in a ConfigMap selected by configMapSelector",
    );
}

#[test]
fn config_map_selector_is_a_valid_selector() {
    assert_error(
        "grafana: {dashboards: {configMapSelector: {matchExpressions: [{key: team, operator: Resembles, values: [a]}]}}}",
        "spec.grafana.dashboards.configMapSelector.matchExpressions[0].operator: \"Resembles\" is not one of In, NotIn, Exists, DoesNotExist",
    );
    assert_error(
        "grafana: {dashboards: {configMapSelector: {matchLabels: {team: 'not a value!'}}}}",
        "spec.grafana.dashboards.configMapSelector.matchLabels: \"not a value!\" (for \"team\") is not a valid label value",
    );
}

// What the controller read from the cluster (`Dereferenced`) is checked here, by
// the same pure `validate`: missing Secrets and keys are reported by field, a bad
// ConfigMap dashboard is left out with a reason, values never reach a message.
mod dereferenced {
    use std::collections::BTreeMap;

    use k8s_openapi::ByteString;
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use sextant::model::{Component, FOLDER, FOLDER_ANNOTATION, ValidatedStack};
    use sextant::validate::{Dereferenced, dashboard_selector, referenced_secret_names, validate};

    use super::common::with_spec;

    const SPEC: &str = "grafana:
  adminCredentials: {secretName: grafana-admin}
  dashboards: {configMapSelector: {matchLabels: {dash: 'yes'}}}
  alerting:
    contactPoints:
      - {name: chat, type: slack, secretRef: {name: slack, key: url}}
    defaultContactPoint: chat";

    fn secret(name: &str, data: &[(&str, &[u8])]) -> Option<Secret> {
        Some(Secret {
            metadata: ObjectMeta {
                name: Some(name.into()),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), ByteString(v.to_vec())))
                    .collect(),
            ),
            ..Secret::default()
        })
    }

    fn config_map(name: &str, folder: Option<&str>, data: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                annotations: folder
                    .map(|f| BTreeMap::from([(FOLDER_ANNOTATION.to_string(), f.to_string())])),
                ..ObjectMeta::default()
            },
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            ),
            ..ConfigMap::default()
        }
    }

    fn valid(refs: &Dereferenced) -> ValidatedStack {
        validate(&with_spec(SPEC), refs).unwrap()
    }

    #[test]
    fn offline_nothing_is_missing_or_skipped() {
        let v = valid(&Dereferenced::offline());
        assert!(v.missing_secrets.is_empty(), "{:?}", v.missing_secrets);
        assert!(v.skipped_dashboards.is_empty());
        assert!(v.config_map_dashboards.is_empty());
        assert!(v.contact_point_secrets.is_empty());
    }

    #[test]
    fn the_controller_reads_every_referenced_secret_and_only_those() {
        let names: Vec<String> = referenced_secret_names(&with_spec(SPEC).spec)
            .into_iter()
            .collect();
        assert_eq!(names, ["grafana-admin", "slack"]);
        let without_grafana = with_spec(&format!("{SPEC}\n  enabled: false"));
        assert!(referenced_secret_names(&without_grafana.spec).is_empty());
    }

    #[test]
    fn missing_secrets_and_keys_are_named_by_field_once() {
        let refs = Dereferenced {
            dashboard_config_maps: Vec::new(),
            monitors: None,
            secrets: Some(BTreeMap::from([
                ("grafana-admin".to_string(), None),
                ("slack".to_string(), secret("slack", &[("url", b"  ")])),
            ])),
        };
        let v = valid(&refs);
        let missing: Vec<(Component, &str)> = v
            .missing_secrets
            .iter()
            .map(|(c, m)| (*c, m.as_str()))
            .collect();
        assert_eq!(
            missing,
            [
                (
                    Component::Grafana,
                    "Secret grafana-admin (spec.grafana.adminCredentials.secretName) does not exist"
                ),
                (
                    Component::Grafana,
                    "Secret slack key url is empty (spec.grafana.alerting.contactPoints[0].secretRef.key)"
                ),
            ]
        );
        assert!(v.contact_point_secrets.is_empty());
    }

    /// The collector's pods mount its certificate, client CAs and tokens: a
    /// missing one is the collector's to report (its pods cannot start), and
    /// a certificate cert-manager is asked to issue is not missing yet.
    #[test]
    fn the_collectors_secrets_are_read_and_reported_as_its_own() {
        let spec = "collector:\n  tls: {secretName: otlp-tls, clientCaSecretName: otlp-ca}\n  auth: {secretName: otlp-tokens}";
        let names: Vec<String> = referenced_secret_names(&with_spec(spec).spec)
            .into_iter()
            .collect();
        assert_eq!(names, ["otlp-ca", "otlp-tls", "otlp-tokens"]);
        let refs = Dereferenced {
            dashboard_config_maps: Vec::new(),
            monitors: None,
            secrets: Some(BTreeMap::from([
                (
                    "otlp-tls".to_string(),
                    secret("otlp-tls", &[("tls.crt", b"PEM")]),
                ),
                (
                    "otlp-ca".to_string(),
                    secret("otlp-ca", &[("ca.crt", b"PEM")]),
                ),
                ("otlp-tokens".to_string(), None),
            ])),
        };
        let v = validate(&with_spec(spec), &refs).unwrap();
        let missing: Vec<(Component, &str)> = v
            .missing_secrets
            .iter()
            .map(|(c, m)| (*c, m.as_str()))
            .collect();
        assert_eq!(
            missing,
            [
                (
                    Component::Collector,
                    "Secret otlp-tls has no key tls.key (spec.collector.tls.secretName (tls.key))"
                ),
                (
                    Component::Collector,
                    "Secret otlp-tokens (spec.collector.auth.secretName) does not exist"
                ),
            ]
        );
        let issued =
            "collector:\n  tls: {secretName: otlp-tls, certificate: {issuerRef: {name: ca}}}";
        let v = validate(
            &with_spec(issued),
            &Dereferenced {
                dashboard_config_maps: Vec::new(),
                monitors: None,
                secrets: Some(BTreeMap::new()),
            },
        )
        .unwrap();
        assert!(v.missing_secrets.is_empty(), "{:?}", v.missing_secrets);
    }

    #[test]
    fn contact_point_values_are_kept_and_never_printed() {
        let refs = Dereferenced {
            dashboard_config_maps: Vec::new(),
            monitors: None,
            secrets: Some(BTreeMap::from([
                (
                    "grafana-admin".to_string(),
                    secret(
                        "grafana-admin",
                        &[("admin-user", b"a"), ("admin-password", b"b")],
                    ),
                ),
                (
                    "slack".to_string(),
                    secret("slack", &[("url", b"https://hooks.example/s3cr3t")]),
                ),
            ])),
        };
        let v = valid(&refs);
        assert!(v.missing_secrets.is_empty(), "{:?}", v.missing_secrets);
        assert_eq!(
            v.contact_point_secrets.get("slack", "url"),
            Some("https://hooks.example/s3cr3t")
        );
        // Admin credentials are read by the Grafana pod, not kept by sextant.
        assert_eq!(
            v.contact_point_secrets
                .get("grafana-admin", "admin-password"),
            None
        );
        for shown in [format!("{refs:?}"), format!("{v:?}")] {
            assert!(!shown.contains("s3cr3t"), "a value was printed: {shown}");
        }
    }

    #[test]
    fn config_map_dashboards_are_checked_like_inline_ones() {
        let good = r#"{"title": "Agents", "uid": "agents"}"#;
        let refs = Dereferenced {
            dashboard_config_maps: vec![
                config_map(
                    "b-team",
                    None,
                    &[
                        ("agents.json", good),
                        ("README.md", "not a dashboard"),
                        ("broken.json", "{"),
                        ("untitled.json", r#"{"uid": "x"}"#),
                    ],
                ),
                config_map("a-hidden", Some(".hidden"), &[("x.json", good)]),
            ],
            secrets: None,
            monitors: None,
        };
        let v = valid(&refs);
        let files: Vec<(&str, &str)> = v
            .config_map_dashboards
            .iter()
            .map(|f| (f.key.as_str(), f.folder.as_str()))
            .collect();
        assert_eq!(files, [("cm-b-team-agents.json", FOLDER)]);
        assert_eq!(v.skipped_dashboards.len(), 3, "{:#?}", v.skipped_dashboards);
        let skipped = v.skipped_dashboards.join("\n");
        for expected in [
            "ConfigMap/a-hidden key x.json: folder annotation \".hidden\" must not start with '.'",
            "ConfigMap/b-team key broken.json: not valid JSON",
            "ConfigMap/b-team key untitled.json: the dashboard must have a non-empty \"title\"",
        ] {
            assert!(skipped.contains(expected), "{expected:?} not in {skipped}");
        }
    }

    #[test]
    fn an_invalid_dashboard_selector_reads_nothing_and_is_reported() {
        assert!(dashboard_selector(&with_spec(SPEC).spec).is_some());
        let bad = "grafana: {dashboards: {configMapSelector: {matchLabels: {team: 'not a label value!'}}}}";
        // The controller lists nothing with it (the API server would refuse the
        // list and the stack would never be told why)...
        assert_eq!(dashboard_selector(&with_spec(bad).spec), None);
        // ...and validation names the field.
        let errors = validate(&with_spec(bad), &Dereferenced::offline()).unwrap_err();
        assert!(
            errors
                .to_string()
                .contains("spec.grafana.dashboards.configMapSelector.matchLabels"),
            "{errors}"
        );
        let off =
            "grafana: {enabled: false, dashboards: {configMapSelector: {matchLabels: {a: b}}}}";
        assert_eq!(dashboard_selector(&with_spec(off).spec), None);
    }
}
