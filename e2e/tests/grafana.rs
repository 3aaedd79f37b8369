//! Grafana content against a real API server: dashboards from selected ConfigMaps
//! are provisioned and withdrawn, and contact-point Secrets are referenced, checked
//! and never copied.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::core::ObjectMeta;
use kube::{Api, ResourceExt};
use serde_json::json;
use sextant_e2e::operator::Operator;
use sextant_e2e::stack::{condition, stacks};
use sextant_e2e::{Cluster, TestNamespace, install_crds};

const TIMEOUT: Duration = Duration::from_secs(120);

async fn setup(test: &str, spec: serde_json::Value) -> (TestNamespace, Operator) {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    let ns = TestNamespace::create(&cluster, test).await.unwrap();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    let stack = json!({
        "apiVersion": "observability.sextant.dev/v1alpha1", "kind": "ObservabilityStack",
        "metadata": {"name": "s", "namespace": ns.name()}, "spec": spec,
    });
    stacks(&ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value(stack).unwrap(),
        )
        .await
        .unwrap();
    (ns, op)
}

/// Every key of the stack's dashboard ConfigMaps.
async fn provisioned_keys(ns: &TestNamespace) -> Vec<String> {
    ns.api::<ConfigMap>()
        .list(
            &ListParams::default()
                .labels("app.kubernetes.io/instance=s,app.kubernetes.io/name=grafana"),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|c| c.name_any().starts_with("s-grafana-dashboards-"))
        .flat_map(|c| c.data.unwrap_or_default().into_keys())
        .collect()
}

#[tokio::test]
async fn config_map_dashboards_are_provisioned_and_withdrawn() {
    let spec = json!({"grafana": {"dashboards": {"builtin": [], "configMapSelector": {"matchLabels": {"team": "agents"}}}}});
    let (ns, op) = setup("cm-dashboards", spec).await;
    ns.wait_condition(&stacks(&ns), "s", TIMEOUT, "stack reconciled", |s| {
        condition(s, "Reconciled").is_some_and(|c| c.0 == "True")
    })
    .await;
    assert!(provisioned_keys(&ns).await.is_empty());

    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some("team-dash".into()),
            labels: Some(BTreeMap::from([("team".into(), "agents".into())])),
            annotations: Some(BTreeMap::from([(
                "observability.sextant.dev/folder".into(),
                "Agents".into(),
            )])),
            ..Default::default()
        },
        data: Some(BTreeMap::from([
            (
                "latency.json".into(),
                r#"{"title": "Agent latency", "panels": []}"#.into(),
            ),
            ("README.md".into(), "not a dashboard".into()),
        ])),
        ..Default::default()
    };
    ns.api::<ConfigMap>()
        .create(&PostParams::default(), &cm)
        .await
        .unwrap();
    ns.wait_for(
        TIMEOUT,
        "the ConfigMap dashboard is provisioned",
        async || {
            let keys = provisioned_keys(&ns).await;
            Ok((keys == ["cm-team-dash-latency.json"]).then_some(()))
        },
    )
    .await;
    // Its folder comes from the annotation: the ConfigMap holding it is projected
    // into the volume mounted at <dashboards>/Agents (the Deployment is applied
    // after the ConfigMaps, so wait for it too). How Grafana then finds it is
    // tests/grafana_layout.rs.
    let holder = ns
        .api::<ConfigMap>()
        .list(&ListParams::default().labels("app.kubernetes.io/instance=s"))
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|c| {
            c.data
                .as_ref()
                .is_some_and(|d| d.contains_key("cm-team-dash-latency.json"))
        })
        .map(|c| c.name_any())
        .expect("a dashboard ConfigMap holds the dashboard");
    ns.wait_condition(
        &ns.api::<k8s_openapi::api::apps::v1::Deployment>(),
        "s-grafana",
        TIMEOUT,
        "Grafana mounts the dashboard in folder Agents",
        |d| {
            let Some(pod) = d.spec.as_ref().and_then(|s| s.template.spec.as_ref()) else {
                return false;
            };
            let mounted_at_agents = |volume: &str| {
                pod.containers[0].volume_mounts.iter().flatten().any(|m| {
                    m.name == volume && m.mount_path == "/var/lib/grafana/dashboards/Agents"
                })
            };
            pod.volumes.iter().flatten().any(|v| {
                mounted_at_agents(&v.name)
                    && v.projected.as_ref().is_some_and(|p| {
                        p.sources
                            .iter()
                            .flatten()
                            .any(|s| s.config_map.as_ref().is_some_and(|c| c.name == holder))
                    })
            })
        },
    )
    .await;

    ns.api::<ConfigMap>()
        .delete("team-dash", &DeleteParams::default())
        .await
        .unwrap();
    ns.wait_for(
        TIMEOUT,
        "the ConfigMap dashboard is withdrawn",
        async || Ok(provisioned_keys(&ns).await.is_empty().then_some(())),
    )
    .await;
    drop(op);
    ns.cleanup().await.unwrap();
}

#[tokio::test]
async fn missing_contact_point_secret_is_reported_and_secret_values_never_leak() {
    let canary = "canary-7f3a9c-do-not-leak";
    let spec = json!({"grafana": {"alerting": {"contactPoints": [
        {"name": "chat", "type": "slack", "secretRef": {"name": "slack-hook", "key": "url"}}
    ]}}});
    let (ns, op) = setup("contact-points", spec).await;
    let stack = ns
        .wait_condition(
            &stacks(&ns),
            "s",
            TIMEOUT,
            "GrafanaReady=False SecretNotFound",
            |s| condition(s, "GrafanaReady").is_some_and(|c| c.1 == "SecretNotFound"),
        )
        .await;
    let (_, _, message) = condition(&stack, "GrafanaReady").unwrap();
    assert_eq!(
        message,
        "Secret slack-hook (spec.grafana.alerting.contactPoints[0].secretRef) does not exist"
    );
    assert_eq!(condition(&stack, "Ready").unwrap().0, "False");

    let secret = Secret {
        metadata: ObjectMeta {
            name: Some("slack-hook".into()),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([(
            "url".into(),
            format!("https://hooks.example/{canary}"),
        )])),
        ..Default::default()
    };
    ns.api::<Secret>()
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    ns.wait_condition(
        &stacks(&ns),
        "s",
        TIMEOUT,
        "Ready once the Secret exists",
        |s| condition(s, "Ready").is_some_and(|c| c.0 == "True"),
    )
    .await;

    // The value is referenced as a file, never copied anywhere sextant writes.
    let config = ns.api::<ConfigMap>().get("s-grafana-config").await.unwrap();
    assert!(
        config.data.unwrap()["contact-points.yaml"]
            .contains("$__file{/etc/grafana/secrets/slack-hook/url}")
    );
    for cm in ns
        .api::<ConfigMap>()
        .list(&ListParams::default())
        .await
        .unwrap()
    {
        let text = serde_json::to_string(&cm.data).unwrap();
        assert!(
            !text.contains(canary),
            "ConfigMap {} holds the secret",
            cm.name_any()
        );
    }
    let stack = stacks(&ns).get("s").await.unwrap();
    assert!(
        !serde_json::to_string(&stack).unwrap().contains(canary),
        "the stack holds the secret"
    );
    let events: Api<Event> = ns.api();
    for e in events.list(&ListParams::default()).await.unwrap() {
        assert!(
            !serde_json::to_string(&e).unwrap().contains(canary),
            "an event holds the secret"
        );
    }
    let log = std::fs::read_to_string(&op.log).unwrap();
    assert!(!log.is_empty());
    assert!(!log.contains(canary), "the operator log holds the secret");
    drop(op);
    ns.cleanup().await.unwrap();
}
