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
                &sextant::model::Capabilities::current(),
                sextant::build::prometheus_discovery(
                    &valid,
                    &sextant::model::Capabilities::current(),
                )
                .as_ref(),
                &[],
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
            groups: rules::all_groups(&valid, &Capabilities::current()),
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

/// Jobs translated from a ServiceMonitor and a PodMonitor using every field
/// `sextant::render::monitors` translates (each relabel action among them), with
/// their credential and TLS files written where the jobs name them: `promtool
/// check config` without `--syntax-only` also checks that those files exist.
#[test]
fn promtool_accepts_translated_monitors() {
    use sextant::render::monitors::{self, Monitor, MonitorKind};
    use std::collections::BTreeMap;

    let Some(promtool) = common::tool("promtool") else {
        return;
    };
    let pem = |kind: &str| format!("-----BEGIN {kind}-----\nMIIB\n-----END {kind}-----\n");
    let service_monitor = Monitor {
        kind: MonitorKind::ServiceMonitor,
        namespace: "team-a".into(),
        name: "api".into(),
        spec: serde_json::json!({
            "jobLabel": "app.kubernetes.io/name",
            "targetLabels": ["team"],
            "podTargetLabels": ["app.kubernetes.io/version"],
            "selector": {
                "matchLabels": {"app.kubernetes.io/name": "api"},
                "matchExpressions": [
                    {"key": "tier", "operator": "NotIn", "values": ["dev"]},
                    {"key": "canary", "operator": "Exists"}
                ]
            },
            "namespaceSelector": {"matchNames": ["team-a", "team-b"]},
            "sampleLimit": 1000,
            "endpoints": [
                {
                    "port": "https-metrics",
                    "interval": "30s",
                    "scrapeTimeout": "20s",
                    "path": "/metrics",
                    "scheme": "https",
                    "params": {"format": ["prometheus"]},
                    "honorLabels": true,
                    "honorTimestamps": false,
                    "trackTimestampsStaleness": true,
                    "followRedirects": false,
                    "enableHttp2": false,
                    "proxyUrl": "http://proxy.team-a:3128",
                    "tlsConfig": {
                        "ca": {"configMap": {"name": "api-ca", "key": "ca.crt"}},
                        "cert": {"secret": {"name": "api-client", "key": "tls.crt"}},
                        "keySecret": {"name": "api-client", "key": "tls.key"},
                        "serverName": "api.team-a.svc",
                        "insecureSkipVerify": false
                    },
                    "authorization": {"type": "Bearer", "credentials": {"name": "api-token", "key": "token"}},
                    "relabelings": [
                        {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node_name"},
                        {"sourceLabels": ["__address__"], "targetLabel": "__tmp_hash", "modulus": 4, "action": "HashMod"},
                        {"sourceLabels": ["__tmp_hash"], "regex": "0", "action": "Keep"},
                        {"regex": "__meta_kubernetes_service_label_(.+)", "replacement": "svc_$1", "action": "LabelMap"},
                        {"sourceLabels": ["namespace"], "targetLabel": "ns_upper", "action": "Uppercase"}
                    ],
                    "metricRelabelings": [
                        {"sourceLabels": ["__name__"], "regex": "go_.*", "action": "Drop"},
                        {"regex": "svc_.*", "action": "LabelDrop"},
                        {"sourceLabels": ["pod"], "targetLabel": "instance_pod", "action": "KeepEqual"},
                        {"sourceLabels": ["pod"], "targetLabel": "instance_pod", "action": "DropEqual"},
                        {"sourceLabels": ["job"], "targetLabel": "job_lower", "action": "Lowercase"},
                        {"regex": "__name__|job|instance|namespace|pod", "action": "LabelKeep"}
                    ]
                },
                {"targetPort": "web", "bearerTokenSecret": {"name": "api-token", "key": "token"}}
            ]
        }),
    };
    let pod_monitor = Monitor {
        kind: MonitorKind::PodMonitor,
        namespace: "team-a".into(),
        name: "workers".into(),
        spec: serde_json::json!({
            "selector": {"matchLabels": {"app": "worker"}},
            "namespaceSelector": {"any": true},
            "podMetricsEndpoints": [
                {"portNumber": 8080, "filterRunning": false, "basicAuth": {
                    "username": {"name": "scrape", "key": "user"},
                    "password": {"name": "scrape", "key": "password"}
                }},
                {"port": "metrics", "interval": "1m"}
            ]
        }),
    };
    let monitors = [service_monitor, pod_monitor];
    let data = |pairs: &[(&str, String)]| {
        Some(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect::<BTreeMap<_, _>>(),
        )
    };
    let referenced: monitors::Referenced = BTreeMap::from([
        (
            (true, "team-a".into(), "api-ca".into()),
            data(&[("ca.crt", pem("CERTIFICATE"))]),
        ),
        (
            (false, "team-a".into(), "api-client".into()),
            data(&[
                ("tls.crt", pem("CERTIFICATE")),
                ("tls.key", pem("PRIVATE KEY")),
            ]),
        ),
        (
            (false, "team-a".into(), "api-token".into()),
            data(&[("token", "t0ken".into())]),
        ),
        (
            (false, "team-a".into(), "scrape".into()),
            data(&[("user", "prom".into()), ("password", "pw".into())]),
        ),
    ]);
    assert_eq!(
        monitors::references(&monitors),
        referenced.keys().cloned().collect()
    );

    for (name, stack) in common::samples() {
        let valid = validate(&stack, &Dereferenced::offline()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let files_dir = dir.path().join("monitor-files");
        let translation = monitors::translate(
            &monitors,
            &referenced,
            &monitors::Options {
                service_role: "endpointslice",
                files_dir: files_dir.to_str().unwrap(),
                limits: prometheus::limits(&valid),
                scrape_interval: valid.scrape_interval,
            },
        );
        assert_eq!(translation.untranslatable, Vec::<String>::new(), "{name}");
        assert_eq!(translation.jobs.len(), 4, "{name}");
        std::fs::create_dir(&files_dir).unwrap();
        for (file, content) in &translation.files {
            std::fs::write(files_dir.join(file), content).unwrap();
        }
        let config = to_yaml(&prometheus::render(
            &valid,
            &Capabilities::current(),
            sextant::build::prometheus_discovery(&valid, &Capabilities::current()).as_ref(),
            &translation.jobs,
        ));
        assert!(
            config.contains("job_name: podMonitor/team-a/workers/1"),
            "{name}"
        );
        // A sample with recording rules or SLOs names its rule file where it is
        // mounted; promtool checks it too, from the temporary directory.
        let mut config = config;
        if let Some(rules) = prometheus::recording_rules(&valid) {
            let file = dir.path().join(prometheus::RECORDING_RULES_FILE);
            std::fs::write(&file, to_yaml(&rules)).unwrap();
            let mounted = format!("/etc/prometheus/{}", prometheus::RECORDING_RULES_FILE);
            assert!(config.contains(&mounted), "{name}: {config}");
            config = config.replace(&mounted, file.to_str().unwrap());
        }
        let path = dir.path().join("prometheus.yml");
        std::fs::write(&path, &config).unwrap();
        let (ok, out) = common::run(&promtool, &["check", "config", path.to_str().unwrap()]);
        assert!(ok, "{name}: promtool check config failed:\n{out}\n{config}");
        assert!(out.contains("SUCCESS"), "{name}: {out}");

        // The check reads the files: without them it fails.
        std::fs::remove_dir_all(&files_dir).unwrap();
        let (ok, _) = common::run(&promtool, &["check", "config", path.to_str().unwrap()]);
        assert!(!ok, "{name}: promtool did not miss the credentials file");
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
    // The samples, and options no sample uses.
    let extra = [
        (
            "external-service",
            "collector: {externalService: {annotations: {service.beta.kubernetes.io/aws-load-balancer-scheme: internal}, loadBalancerSourceRanges: [203.0.113.0/24, 2001:db8::/32], loadBalancerClass: example.com/lb, externalTrafficPolicy: Local}, tls: {secretName: otlp-tls}, auth: {secretName: otlp-tokens}}",
        ),
        (
            "object-store-s3",
            "storage: {objectStore: {s3: {region: eu-west-1, caSecretName: corp-ca}, buckets: {logs: acme-logs, traces: acme-traces}, credentialsSecret: store-creds, logsSince: '2027-01-15', serviceAccountAnnotations: {eks.amazonaws.com/role-arn: 'arn:aws:iam::123456789012:role/x'}}}",
        ),
        (
            "object-store-gcs",
            "storage: {objectStore: {gcs: {}, buckets: {logs: acme-logs, traces: acme-traces}, credentialsSecret: store-creds}}",
        ),
        (
            "export",
            "export: [{name: mimir, signals: [metrics], prometheusRemoteWrite: {url: 'https://mimir.example.com/api/v1/push'}, basicAuth: {secretName: mimir}}, {name: vendor, signals: [traces, logs], otlp: {endpoint: 'otlp.example.com:4317'}, headers: [{name: api-key, valueFrom: {secretName: vendor, key: api-key}}], caSecretName: vendor-ca}, {name: corp, signals: [traces], otlp: {endpoint: 'https://otlp.corp.example', protocol: http}, bearerToken: {secretName: corp, key: token}}]",
        ),
        (
            "object-store-azure",
            "storage: {objectStore: {azure: {accountName: acmeobs}, buckets: {logs: acme-logs, traces: acme-traces}}}",
        ),
    ];
    let stacks = common::samples().into_iter().chain(
        extra
            .into_iter()
            .map(|(name, spec)| (name.to_string(), common::with_spec(spec))),
    );
    for (name, stack) in stacks {
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
