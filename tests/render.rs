//! Snapshot tests of `sextant render` for every sample, and properties of the
//! rendered objects that every stack must have.

mod common;

use serde_json::Value;
use sextant::build::build;
use sextant::model::{CONFIG_HASH_ANNOTATION, STACK_NAMESPACE_LABEL};
use sextant::model::{Capabilities, Component, child_name};
use sextant::validate::Dereferenced;
use sextant::validate::validate;

/// The text of a Secret's `data` entry (base64 in the rendered object).
fn secret_text(v: &Value) -> String {
    let bytes: k8s_openapi::ByteString = serde_json::from_value(v.clone()).unwrap();
    String::from_utf8(bytes.0).unwrap()
}

/// Every rendered object, with dashboard JSON (tested on its own in
/// tests/dashboards.rs) shortened to its size and hash so snapshots stay readable,
/// and Secret data decoded from base64 (marked so) for review.
fn shown(mut objects: Vec<Value>) -> String {
    for o in &mut objects {
        if o["kind"] == "Secret"
            && let Some(data) = o["data"].as_object_mut()
        {
            for v in data.values_mut() {
                *v = format!("<decoded from base64>\n{}", secret_text(v)).into();
            }
        }
        let is_dashboards = o["kind"] == "ConfigMap"
            && o["metadata"]["name"]
                .as_str()
                .unwrap()
                .contains("-grafana-dashboards-");
        // `get_mut`, not `o["data"]`: indexing a Value mutably inserts a `null`.
        if is_dashboards && let Some(data) = o.get_mut("data").and_then(Value::as_object_mut) {
            for v in data.values_mut() {
                let text = v.as_str().unwrap();
                *v = format!(
                    "<{} bytes, sha256 {}>",
                    text.len(),
                    sextant::build::sha256_short(text)
                )
                .into();
            }
        }
    }
    objects
        .iter()
        .map(|o| format!("---\n{}", serde_yaml_ng::to_string(o).unwrap()))
        .collect()
}

/// Every sample as a current API server gets it, and the production sample as
/// Kubernetes 1.20 gets it (no autoscaling/v2, policy/v1 or PVC retention policy).
#[test]
fn render_snapshots() {
    for (name, stack) in common::samples() {
        let valid = validate(&stack, &Dereferenced::offline()).unwrap();
        let objects = build(&valid, &Capabilities::current()).to_values();
        insta::assert_snapshot!(format!("render-{name}"), shown(objects));
        if name == "production" {
            let old = Capabilities::for_kube_version("1.20").unwrap();
            let objects = build(&valid, &old).to_values();
            insta::assert_snapshot!(format!("render-{name}-kube-1.20"), shown(objects));
        }
    }
}

fn rendered(name: &str) -> Vec<Value> {
    let (_, stack) = common::samples()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap();
    build(
        &validate(&stack, &Dereferenced::offline()).unwrap(),
        &Capabilities::current(),
    )
    .to_values()
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn every_child_is_labelled_and_namespaced() {
    for (name, _) in common::samples() {
        for o in rendered(&name) {
            let labels = &o["metadata"]["labels"];
            if o["kind"] == "ClusterRoleBinding" {
                // Cluster-scoped: no namespace and no owner; found by the stack's
                // labels and the one naming its namespace.
                assert!(o["metadata"]["namespace"].is_null(), "{o}");
                assert!(o["metadata"]["ownerReferences"].is_null(), "{o}");
                assert_eq!(labels[STACK_NAMESPACE_LABEL], "observability", "{o}");
                for key in [
                    "app.kubernetes.io/instance",
                    "app.kubernetes.io/part-of",
                    "app.kubernetes.io/managed-by",
                ] {
                    assert!(labels[key].is_string(), "{name}: {o} lacks {key}");
                }
                continue;
            }
            for key in [
                "app.kubernetes.io/name",
                "app.kubernetes.io/instance",
                "app.kubernetes.io/component",
                "app.kubernetes.io/part-of",
                "app.kubernetes.io/managed-by",
            ] {
                assert!(
                    labels[key].is_string(),
                    "{name}: {} lacks {key}",
                    o["metadata"]["name"]
                );
            }
            assert_eq!(o["metadata"]["namespace"], "observability");
        }
    }
}

#[test]
fn every_workload_is_restricted_with_probes_and_resources() {
    for (name, _) in common::samples() {
        for o in rendered(&name) {
            let kind = o["kind"].as_str().unwrap();
            if kind != "Deployment" && kind != "StatefulSet" {
                continue;
            }
            let template = &o["spec"]["template"];
            assert!(
                template["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
                    .as_str()
                    .is_some_and(|h| h.len() == 64),
                "{name}: {} has no config hash",
                o["metadata"]["name"]
            );
            let pod = &template["spec"];
            assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
            assert_eq!(
                pod["securityContext"]["seccompProfile"]["type"],
                "RuntimeDefault"
            );
            for c in pod["containers"].as_array().unwrap() {
                let sc = &c["securityContext"];
                assert_eq!(sc["allowPrivilegeEscalation"], false);
                assert_eq!(sc["capabilities"]["drop"], serde_json::json!(["ALL"]));
                assert_eq!(sc["runAsNonRoot"], true);
                assert!(c["resources"]["requests"]["memory"].is_string());
                assert!(c["resources"]["limits"]["memory"].is_string());
                assert!(c["livenessProbe"]["httpGet"]["path"].is_string());
                assert!(c["readinessProbe"]["httpGet"]["path"].is_string());
            }
        }
    }
}

#[test]
fn autoscaled_collector_leaves_replicas_to_the_hpa() {
    let objects = rendered("agent-fleet");
    let deployment = find(&objects, "Deployment", "agents-collector");
    assert!(deployment["spec"].get("replicas").is_none());
    let hpa = find(&objects, "HorizontalPodAutoscaler", "agents-collector");
    assert_eq!(hpa["spec"]["minReplicas"], 2);
    assert_eq!(hpa["spec"]["maxReplicas"], 10);
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
}

#[test]
fn generated_admin_secret_holds_no_password() {
    let objects = rendered("minimal");
    let secret = find(&objects, "Secret", "minimal-grafana-admin");
    assert!(secret["stringData"].get("admin-password").is_none());
    assert!(secret.get("data").is_none());
    // The production sample names its own Secret: none is generated.
    assert!(
        !rendered("production")
            .iter()
            .any(|o| o["kind"] == "Secret" && o["metadata"]["name"] == "prod-grafana-admin")
    );
}

/// Offline, the contact points' Secret has a placeholder where each referenced
/// value goes (the operator fills them in), and no referenced Secret is mounted.
#[test]
fn secret_values_are_left_out_offline() {
    let objects = rendered("production");
    let grafana = find(&objects, "ConfigMap", "prod-grafana-config");
    assert!(grafana["data"].get("contact-points.yaml").is_none());
    let secret = find(&objects, "Secret", "prod-grafana-alerting");
    let points = secret_text(&secret["data"]["contact-points.yaml"]);
    assert!(
        points.contains("integrationKey: <Secret pagerduty key integration-key>"),
        "{points}"
    );
    let deployment = find(&objects, "Deployment", "prod-grafana");
    let pod = serde_json::to_string(&deployment["spec"]["template"]).unwrap();
    assert!(!pod.contains("\"secretName\":\"pagerduty\""), "{pod}");
    let env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    let value = |name: &str| {
        env.iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no {name}"))["value"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // Read from files, whose content Grafana does not expand again: a password with
    // `$` in it reaches Grafana as it is.
    assert_eq!(
        value("GF_SECURITY_ADMIN_PASSWORD"),
        "$__file{/etc/grafana/secrets/grafana-admin/admin-password}"
    );
    assert_eq!(
        value("GF_SMTP_PASSWORD"),
        "$__file{/etc/grafana/secrets/smtp/password}"
    );
    assert_eq!(value("GF_SMTP_HOST"), "smtp.example.com:587");
    assert_eq!(value("GF_SMTP_STARTTLS_POLICY"), "MandatoryStartTLS");
    let pod = &deployment["spec"]["template"]["spec"];
    for (secret, key) in [("grafana-admin", "admin-password"), ("smtp", "password")] {
        let volume = pod["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["secret"]["secretName"] == secret)
            .unwrap_or_else(|| panic!("Secret {secret} is not mounted"));
        assert!(
            volume["secret"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|i| i["key"] == key && i["path"] == key),
            "{volume}"
        );
        let mounted = pod["containers"][0]["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| {
                m["name"] == volume["name"]
                    && m["mountPath"] == format!("/etc/grafana/secrets/{secret}")
            });
        assert!(mounted, "{secret} not mounted under /etc/grafana/secrets");
    }
    // No secret value is ever in the pod spec.
    assert!(!env.iter().any(|e| e.get("valueFrom").is_some()));
}

#[test]
fn retention_reaches_each_backend() {
    let objects = rendered("production");
    let prom = find(&objects, "StatefulSet", "prod-prometheus");
    let args = prom["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert!(
        args.contains(&"--storage.tsdb.retention.time=720h".into()),
        "{args:?}"
    );
    assert!(
        args.contains(&"--storage.tsdb.retention.size=184320MB".into()),
        "{args:?}"
    );
    let loki = find(&objects, "ConfigMap", "prod-loki-config")["data"]["loki.yaml"]
        .as_str()
        .unwrap();
    assert!(loki.contains("retention_period: 336h"), "{loki}");
    assert!(
        loki.contains("selector: '{k8s_namespace_name=\"audit\"}'"),
        "{loki}"
    );
    let tempo = find(&objects, "ConfigMap", "prod-tempo-config")["data"]["tempo.yaml"]
        .as_str()
        .unwrap();
    assert!(tempo.contains("block_retention: 168h"), "{tempo}");
    // Default TSDB size: 85% of the volume.
    let objects = rendered("minimal");
    let prom = find(&objects, "StatefulSet", "minimal-prometheus");
    let args = prom["spec"]["template"]["spec"]["containers"][0]["args"]
        .as_array()
        .unwrap();
    assert!(
        args.contains(&"--storage.tsdb.retention.size=43520MB".into()),
        "{args:?}"
    );
}

#[test]
fn disabled_components_have_no_children() {
    let stack = common::with_spec("tempo: {enabled: false}\ngrafana: {enabled: false}");
    let objects = build(
        &validate(&stack, &Dereferenced::offline()).unwrap(),
        &Capabilities::current(),
    )
    .to_values();
    assert!(objects.iter().all(|o| {
        let n = o["metadata"]["name"].as_str().unwrap();
        !n.starts_with("s-tempo") && !n.starts_with("s-grafana")
    }));
    let collector = find(&objects, "ConfigMap", "s-collector-config")["data"]["config.yaml"]
        .as_str()
        .unwrap();
    assert!(!collector.contains("otlp_grpc/tempo"), "{collector}");
}

#[test]
fn config_change_changes_only_that_workloads_hash() {
    let hashes = |spec: &str| -> Vec<(String, String)> {
        build(
            &validate(&common::with_spec(spec), &Dereferenced::offline()).unwrap(),
            &Capabilities::current(),
        )
        .to_values()
        .into_iter()
        .filter(|o| o["kind"] == "StatefulSet" || o["kind"] == "Deployment")
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_string(),
                o["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION]
                    .as_str()
                    .unwrap()
                    .to_string(),
            )
        })
        .collect()
    };
    let before = hashes("{}");
    let after = hashes("loki: {retention: {period: 14d}}");
    let changed: Vec<_> = before
        .iter()
        .zip(&after)
        .filter(|(a, b)| a.1 != b.1)
        .map(|(a, _)| a.0.clone())
        .collect();
    assert_eq!(changed, ["s-loki"]);
}

#[test]
fn large_dashboard_sets_split_across_config_maps() {
    let panel = "x".repeat(200 * 1024);
    let inline: Vec<String> = (0..10)
        .map(|i| {
            format!("{{name: d{i}, json: '{{\"title\": \"d{i}\", \"description\": \"{panel}\"}}'}}")
        })
        .collect();
    let stack = common::with_spec(&format!(
        "grafana: {{dashboards: {{inline: [{}]}}}}",
        inline.join(", ")
    ));
    let objects = build(
        &validate(&stack, &Dereferenced::offline()).unwrap(),
        &Capabilities::current(),
    )
    .to_values();
    let maps: Vec<_> = objects
        .iter()
        .filter(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .starts_with("s-grafana-dashboards-")
        })
        .collect();
    assert!(maps.len() >= 3, "{} ConfigMaps", maps.len());
    let mut keys = 0;
    for m in &maps {
        let size: usize = m["data"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_str().unwrap().len())
            .sum();
        assert!(
            size < 1024 * 1024,
            "{} is {size} bytes",
            m["metadata"]["name"]
        );
        keys += m["data"].as_object().unwrap().len();
    }
    assert_eq!(
        keys,
        // The SLO dashboard comes only with spec.slos.
        10 + sextant::api::BuiltinDashboard::ALL.len(),
        "every inline and built-in dashboard is provisioned once"
    );
}

/// Grafana's alert rules file: JSON (Grafana's alerting provisioning reads `.json`),
/// one Grafana rule per rule of the spec, each querying PromQL that parses, with
/// unique uids within Grafana's 40-character limit.
#[test]
fn grafana_alert_rules_file_holds_every_rule() {
    for (name, stack) in common::samples() {
        let valid = validate(&stack, &Dereferenced::offline()).unwrap();
        let objects = build(&valid, &Capabilities::current()).to_values();
        let config = objects
            .iter()
            .find(|o| {
                o["kind"] == "ConfigMap"
                    && o["metadata"]["name"]
                        .as_str()
                        .unwrap()
                        .ends_with("-grafana-config")
            })
            .unwrap_or_else(|| panic!("{name}: no grafana config ConfigMap"));
        let text = config["data"]["alert-rules.json"]
            .as_str()
            .unwrap_or_else(|| panic!("{name}: no alert-rules.json"));
        let file: Value = serde_json::from_str(text).unwrap();
        assert_eq!(file["apiVersion"], 1, "{name}");
        let wanted: usize = sextant::builtin::rules::all_groups(&valid, &Capabilities::current())
            .iter()
            .map(|g| g.rules.len())
            .sum();
        let mut uids = std::collections::BTreeSet::new();
        let mut count = 0;
        for group in file["groups"].as_array().unwrap() {
            for rule in group["rules"].as_array().unwrap() {
                count += 1;
                let uid = rule["uid"].as_str().unwrap();
                assert!(uid.len() <= 40, "{name}: uid {uid} too long");
                assert!(uids.insert(uid.to_string()), "{name}: uid {uid} repeated");
                let expr = rule["data"][0]["model"]["expr"].as_str().unwrap();
                promql_parser::parser::parse(expr)
                    .unwrap_or_else(|e| panic!("{name}: {uid}: {expr}: {e}"));
                assert_eq!(rule["condition"], "C", "{name}: {uid}");
                // In Grafana `$value` is the evaluation string, not a number: every
                // template uses the value of query A instead.
                let text = serde_json::to_string(&rule["annotations"]).unwrap();
                assert!(
                    !text.replace("$values", "").contains("$value"),
                    "{name}: {uid}: {text}"
                );
            }
        }
        assert!(wanted > 0, "{name}: the sample has no rules to check");
        assert_eq!(count, wanted, "{name}");
    }
}

/// Rendered output and applied-hashes rely on serde_json's map keeping keys sorted.
/// A dependency turning on serde_json's `preserve_order` feature would make it keep
/// insertion order instead: this fails then.
#[test]
fn serde_json_maps_keep_keys_sorted() {
    let mut map = serde_json::Map::new();
    map.insert("b".into(), Value::Null);
    map.insert("a".into(), Value::Null);
    assert_eq!(map.keys().collect::<Vec<_>>(), ["a", "b"]);
}

/// Every uid in every provisioning file and dashboard (datasources, alert rules,
/// contact points, dashboards, and the uids they refer to) is one Grafana accepts:
/// at most 40 characters of `[a-zA-Z0-9-_]`. Grafana exits at start on a longer one.
/// The stack here has a contact point with the longest name the API allows.
#[test]
fn every_grafana_uid_fits_grafanas_bound() {
    fn uids(v: &Value, file: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    if (k == "uid" || k.ends_with("Uid"))
                        && let Some(s) = v.as_str()
                    {
                        out.push(format!("{file}: {k}={s}"));
                    }
                    uids(v, file, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| uids(v, file, out)),
            _ => {}
        }
    }
    let long = "c".repeat(63);
    let other = format!("{}x", "c".repeat(62));
    let mut stacks = common::samples();
    stacks.push((
        "long-contact-point".into(),
        common::with_spec(&format!(
            "grafana: {{smtp: {{host: 'smtp.example.com:587', fromAddress: g@example.com}}, alerting: {{contactPoints: [{{name: {long}, type: email, addresses: [a@example.com]}}, {{name: {other}, type: email, addresses: [a@example.com]}}]}}}}"
        )),
    ));
    for (name, stack) in stacks {
        let objects = build(
            &validate(&stack, &Dereferenced::offline()).unwrap(),
            &Capabilities::current(),
        )
        .to_values();
        let mut found = Vec::new();
        for o in objects
            .iter()
            .filter(|o| o["kind"] == "ConfigMap" || o["kind"] == "Secret")
        {
            for (file, text) in o["data"].as_object().into_iter().flatten() {
                let text = match o["kind"].as_str() {
                    Some("Secret") => secret_text(text),
                    _ => text.as_str().unwrap().to_string(),
                };
                let parsed: Value = if file.ends_with(".json") {
                    serde_json::from_str(&text).unwrap()
                } else if file.ends_with(".yaml") {
                    serde_yaml_ng::from_str(&text).unwrap()
                } else {
                    continue;
                };
                if file.starts_with("datasources")
                    || file.starts_with("alert-rules")
                    || file.starts_with("contact-points")
                    || o["metadata"]["name"]
                        .as_str()
                        .unwrap()
                        .contains("-grafana-dashboards-")
                {
                    uids(&parsed, file, &mut found);
                }
            }
        }
        assert!(!found.is_empty(), "{name}: no uid found");
        for entry in &found {
            let uid = entry.rsplit_once('=').unwrap().1;
            assert!(
                sextant::limits::is_valid_grafana_uid(uid),
                "{name}: {entry} is not a uid Grafana accepts"
            );
        }
        if name == "long-contact-point" {
            let points: Vec<_> = found
                .iter()
                .filter(|e| e.starts_with("contact-points.yaml: uid="))
                .collect();
            assert_eq!(points.len(), 2, "{points:?}");
            assert_ne!(points[0], points[1], "two contact points share a uid");
        }
    }
}

/// Tempo may hang in shutdown once it has served a query (see
/// `sextant::render::tempo::SHUTDOWN_DELAY`): its config sets a shutdown delay
/// longer than the 30 s queue cleanup, and the pod's grace period covers that delay
/// plus time to flush.
#[test]
fn tempo_shutdown_delay_fits_its_grace_period() {
    let objects = rendered("minimal");
    let config = find(&objects, "ConfigMap", "minimal-tempo-config");
    let tempo: Value =
        serde_yaml_ng::from_str(config["data"]["tempo.yaml"].as_str().unwrap()).unwrap();
    let delay = sextant::units::parse_duration(tempo["shutdown_delay"].as_str().unwrap()).unwrap();
    assert!(delay.as_secs() > 30, "{delay:?}");
    let sts = find(&objects, "StatefulSet", "minimal-tempo");
    let grace = sts["spec"]["template"]["spec"]["terminationGracePeriodSeconds"]
        .as_u64()
        .unwrap();
    assert!(
        grace >= delay.as_secs() + 60,
        "grace {grace}s, delay {delay:?}"
    );
}

/// With a backend switched off, no provisioned dashboard refers to a datasource
/// the stack does not provision, and none queries span metrics that no
/// metrics-generator writes; what can still be shown is still shown.
#[test]
fn dashboards_refer_only_to_what_the_stack_runs() {
    let variants = [
        "{}",
        "loki: {enabled: false}",
        "tempo: {enabled: false}",
        "tempo: {metricsGenerator: {enabled: false}}",
        "prometheus: {enabled: false}\ncollector: {autoscaling: {enabled: false}}",
    ];
    for spec in variants {
        let valid = validate(&common::with_spec(spec), &Dereferenced::offline()).unwrap();
        let objects = build(&valid, &Capabilities::current()).to_values();
        let config = find(&objects, "ConfigMap", "s-grafana-config");
        let sources: Value =
            serde_yaml_ng::from_str(config["data"]["datasources.yaml"].as_str().unwrap()).unwrap();
        let provisioned: Vec<&str> = sources["datasources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["uid"].as_str().unwrap())
            .collect();
        let generator = valid.tempo_generator();
        let mut dashboards = 0;
        for o in objects.iter().filter(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"]
                    .as_str()
                    .unwrap()
                    .contains("-grafana-dashboards-")
        }) {
            for (key, text) in o["data"].as_object().unwrap() {
                dashboards += 1;
                let text = text.as_str().unwrap();
                for uid in ["sextant-prometheus", "sextant-tempo", "sextant-loki"] {
                    assert!(
                        provisioned.contains(&uid) || !text.contains(uid),
                        "{spec}: {key} refers to {uid}, which is not provisioned"
                    );
                }
                assert!(
                    generator || !text.contains("traces_spanmetrics"),
                    "{spec}: {key} queries span metrics without the metrics-generator"
                );
            }
        }
        assert!(dashboards > 0, "{spec}: no dashboard left");
    }
}

/// On a Kubernetes 1.20 API server (no autoscaling/v2, no policy/v1, no PVC
/// retention policy) the production sample renders exactly what it renders on a
/// current server, less the HorizontalPodAutoscaler, the PodDisruptionBudget and
/// the StatefulSets' `persistentVolumeClaimRetentionPolicy`, with the collector
/// running its `minReplicas` instead of leaving replicas to the autoscaler, and
/// Prometheus finding Service endpoints through core/v1 Endpoints instead of
/// `discovery.k8s.io/v1` EndpointSlices (so its config, and the config hash of
/// its pod template, differ in that role alone).
#[test]
fn an_old_api_server_gets_the_same_stack_less_what_it_cannot_serve() {
    let (_, stack) = common::samples()
        .into_iter()
        .find(|(n, _)| n == "production")
        .unwrap();
    let valid = validate(&stack, &Dereferenced::offline()).unwrap();
    let current = build(&valid, &Capabilities::current()).to_values();
    let old = build(&valid, &Capabilities::for_kube_version("1.20").unwrap()).to_values();

    let kinds =
        |objects: &[Value], kind: &str| objects.iter().filter(|o| o["kind"] == kind).count();
    assert_eq!(kinds(&current, "HorizontalPodAutoscaler"), 1);
    assert!(kinds(&current, "PodDisruptionBudget") >= 1);
    assert_eq!(kinds(&old, "HorizontalPodAutoscaler"), 0);
    assert_eq!(kinds(&old, "PodDisruptionBudget"), 0);

    let collector = &child_name(&valid.name, Component::Collector, None);
    assert!(
        find(&current, "Deployment", collector)["spec"]
            .get("replicas")
            .is_none()
    );
    let min = stack.spec.collector.autoscaling.min_replicas;
    assert_eq!(
        find(&old, "Deployment", collector)["spec"]["replicas"],
        serde_json::json!(min)
    );

    let prometheus = child_name(&valid.name, Component::Prometheus, None);
    let prometheus_config = child_name(&valid.name, Component::Prometheus, Some("config"));
    let old_hash =
        find(&old, "StatefulSet", &prometheus)["spec"]["template"]["metadata"]["annotations"]
            [CONFIG_HASH_ANNOTATION]
            .clone();

    // Everything else is byte for byte what a current server gets.
    let mut expected: Vec<Value> = current
        .into_iter()
        .filter(|o| o["kind"] != "HorizontalPodAutoscaler" && o["kind"] != "PodDisruptionBudget")
        .collect();
    let mut retention_policies = 0;
    for o in &mut expected {
        if o["kind"] == "StatefulSet" {
            let spec = o["spec"].as_object_mut().unwrap();
            retention_policies += usize::from(
                spec.remove("persistentVolumeClaimRetentionPolicy")
                    .is_some(),
            );
        }
        if o["kind"] == "Deployment" && o["metadata"]["name"] == collector.as_str() {
            o["spec"]["replicas"] = serde_json::json!(min);
        }
        if o["kind"] == "ConfigMap" && o["metadata"]["name"] == prometheus_config.as_str() {
            let text = o["data"]["prometheus.yml"].as_str().unwrap();
            assert_eq!(text.matches("role: endpointslice").count(), 1, "{text}");
            o["data"]["prometheus.yml"] =
                Value::from(text.replace("role: endpointslice", "role: endpoints"));
        }
        if o["kind"] == "StatefulSet" && o["metadata"]["name"] == prometheus.as_str() {
            let hash =
                &mut o["spec"]["template"]["metadata"]["annotations"][CONFIG_HASH_ANNOTATION];
            assert_ne!(*hash, old_hash);
            *hash = old_hash.clone();
        }
    }
    assert_eq!(retention_policies, kinds(&old, "StatefulSet"));
    assert!(
        retention_policies >= 3,
        "Prometheus, Tempo and Loki keep data"
    );
    assert_eq!(old, expected);
}

/// What the collector's condition says it runs without on an old server is
/// exactly what build left out: a one-pod collector gets no disruption budget on
/// any server, so an old one takes nothing from it.
#[test]
fn the_condition_names_only_what_an_old_server_took_away() {
    let old = Capabilities::for_kube_version("1.20").unwrap();
    let one_pod = common::with_spec("collector: {replicas: 1, autoscaling: {enabled: false}}");
    let valid = validate(&one_pod, &Dereferenced::offline()).unwrap();
    assert!(
        build(&valid, &Capabilities::current())
            .pod_disruption_budgets
            .is_empty()
    );
    assert_eq!(sextant::build::api_unavailable(&valid, &old), vec![]);

    let (_, production) = common::samples()
        .into_iter()
        .find(|(n, _)| n == "production")
        .unwrap();
    let valid = validate(&production, &Dereferenced::offline()).unwrap();
    // With cert-manager installed (the sample asks it for the OTLP certificate).
    let old = Capabilities {
        certificates: true,
        ..old
    };
    assert_eq!(
        sextant::build::api_unavailable(&valid, &old),
        vec![(
            Component::Collector,
            sextant::api::reason::API_UNAVAILABLE,
            "autoscaling/v2 is not served: no autoscaler, running minReplicas (3); \
             policy/v1 is not served: no PodDisruptionBudget"
                .to_string()
        )]
    );
    assert_eq!(
        sextant::build::api_unavailable(
            &valid,
            &Capabilities {
                certificates: true,
                ..Capabilities::current()
            }
        ),
        vec![]
    );
}

/// Loki indexes `k8s.node.name` on top of its defaults (no `ignore_defaults`),
/// and both collectors put that attribute on every record, so pod logs can be
/// selected by node (`{k8s_node_name="..."}`).
#[test]
fn loki_indexes_the_node_both_collectors_attach() {
    let objects = rendered("minimal");
    let loki: Value = serde_yaml_ng::from_str(
        find(&objects, "ConfigMap", "minimal-loki-config")["data"]["loki.yaml"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    let resource = &loki["limits_config"]["otlp_config"]["resource_attributes"];
    assert!(resource.get("ignore_defaults").is_none(), "{resource}");
    assert_eq!(
        resource["attributes_config"],
        serde_json::json!([{"action": "index_label", "attributes": ["k8s.node.name"]}])
    );
    for config in ["minimal-collector-config", "minimal-node-agent-config"] {
        let c: Value = serde_yaml_ng::from_str(
            find(&objects, "ConfigMap", config)["data"]["config.yaml"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        let metadata = &c["processors"]["k8s_attributes"]["extract"]["metadata"];
        for a in sextant::render::loki::EXTRA_INDEX_LABELS {
            assert!(
                metadata.as_array().unwrap().contains(&(*a).into()),
                "{config}: {a} not extracted: {metadata}"
            );
        }
    }
}

/// Where the operator may not run the node agent (no cluster-wide collection),
/// Prometheus gets no job for it, and the alert rules wait for none of its pods.
#[test]
fn an_agent_that_is_not_run_is_not_scraped() {
    let (_, stack) = common::samples()
        .into_iter()
        .find(|(n, _)| n == "minimal")
        .unwrap();
    let valid = validate(&stack, &Dereferenced::offline()).unwrap();
    let jobs = |caps: &Capabilities| -> Vec<String> {
        let objects = build(&valid, caps).to_values();
        let prom: Value = serde_yaml_ng::from_str(
            find(&objects, "ConfigMap", "minimal-prometheus-config")["data"]["prometheus.yml"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
        prom["scrape_configs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_name"].as_str().unwrap().to_string())
            .collect()
    };
    let cluster = jobs(&Capabilities::current());
    assert!(cluster.contains(&"node-agent".to_string()), "{cluster:?}");
    let namespaced = jobs(&Capabilities::current().with_cluster_roles(None));
    assert!(
        !namespaced.contains(&"node-agent".to_string()),
        "{namespaced:?}"
    );
    assert!(
        namespaced.contains(&"collector".to_string()),
        "{namespaced:?}"
    );
}
