//! Grafana content against a real API server: dashboards from selected ConfigMaps
//! are provisioned and withdrawn, and contact-point Secrets are checked, their
//! values rendered into the stack's own Secret only, and rotated.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Event, Secret};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::core::ObjectMeta;
use kube::{Api, ResourceExt};
use serde_json::json;
use sextant_e2e::objects::config_hash;
use sextant_e2e::operator::Operator;
use sextant_e2e::stack::{self, condition, merge_patch, stacks};
use sextant_e2e::{Cluster, TestNamespace, install_crds};

const TIMEOUT: Duration = Duration::from_secs(120);

async fn setup(test: &str, spec: serde_json::Value) -> (TestNamespace, Operator) {
    let cluster = Cluster::connect().await;
    install_crds(cluster.client()).await.unwrap();
    let ns = TestNamespace::create(&cluster, test).await.unwrap();
    let op = Operator::start(&cluster, ns.name(), &[]).await.unwrap();
    stack::create(&ns, &stack::object(ns.name(), "s", spec))
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
    stack::wait_condition(&ns, "s", "Reconciled", TIMEOUT, "stack reconciled", |c| {
        c.0 == "True"
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

/// The contact points' file in the stack's own Secret.
async fn rendered_contact_points(ns: &TestNamespace) -> Option<String> {
    let secret = ns
        .api::<Secret>()
        .get_opt("s-grafana-alerting")
        .await
        .unwrap()?;
    let bytes = secret.data?.remove("contact-points.yaml")?;
    Some(String::from_utf8(bytes.0).unwrap())
}

/// The config hash of Grafana's pod template.
async fn grafana_config_hash(ns: &TestNamespace) -> Option<String> {
    let d = ns
        .api::<k8s_openapi::api::apps::v1::Deployment>()
        .get_opt("s-grafana")
        .await
        .unwrap()?;
    config_hash(&d.spec?.template).map(str::to_owned)
}

/// Whether anything sextant writes besides `s-grafana-alerting` (every ConfigMap,
/// the stack, every Event) or its log holds `canary`; the offender when one does.
async fn leak(ns: &TestNamespace, op: &Operator, canary: &str) -> Option<String> {
    for cm in ns
        .api::<ConfigMap>()
        .list(&ListParams::default())
        .await
        .unwrap()
    {
        if serde_json::to_string(&cm.data).unwrap().contains(canary) {
            return Some(format!("ConfigMap {}", cm.name_any()));
        }
    }
    let stack = stacks(ns).get("s").await.unwrap();
    if serde_json::to_string(&stack).unwrap().contains(canary) {
        return Some("the stack".into());
    }
    let events: Api<Event> = ns.api();
    for e in events.list(&ListParams::default()).await.unwrap() {
        if serde_json::to_string(&e).unwrap().contains(canary) {
            return Some(format!("Event {}", e.name_any()));
        }
    }
    let log = std::fs::read_to_string(&op.log).unwrap();
    assert!(!log.is_empty());
    log.contains(canary).then(|| "the operator log".into())
}

/// Contact-point Secrets: a missing Secret or key is reported; the value reaches
/// the stack's own Secret `s-grafana-alerting` with every `$` doubled (Grafana's
/// escape), and nothing else sextant writes; a rotated value is re-rendered (the
/// metadata watch on Secrets, well before the 5-minute resync of a Ready stack)
/// and rolls Grafana through the config hash.
#[tokio::test]
async fn missing_contact_point_secret_is_reported_and_secret_values_never_leak() {
    let canary = "canary-7f3a9c-do-not-leak";
    let rotated = "canary-5e1d0b-rotated";
    let value = format!("https://hooks.example/{canary}?sig=a$b$$c${{d}}&e=$x");
    let spec = json!({"grafana": {"alerting": {"contactPoints": [
        {"name": "chat", "type": "slack", "secretRef": {"name": "slack-hook", "key": "url"}}
    ]}}});
    let (ns, op) = setup("contact-points", spec).await;
    let stack = stack::wait_condition(
        &ns,
        "s",
        "GrafanaReady",
        TIMEOUT,
        "GrafanaReady=False SecretNotFound",
        |c| c.1 == "SecretNotFound",
    )
    .await;
    let (_, _, message) = condition(&stack, "GrafanaReady").unwrap();
    assert_eq!(
        message,
        "Secret slack-hook (spec.grafana.alerting.contactPoints[0].secretRef) does not exist"
    );
    assert_eq!(condition(&stack, "Ready").unwrap().0, "False");
    // Offline-style placeholder while no value is known.
    let points = rendered_contact_points(&ns).await.unwrap();
    assert!(points.contains("<Secret slack-hook key url>"), "{points}");

    // The Secret exists, without the key.
    ns.create_secret("slack-hook", &[("other", "x")])
        .await
        .unwrap();
    stack::wait_condition(
        &ns,
        "s",
        "GrafanaReady",
        TIMEOUT,
        "GrafanaReady=False naming the missing key",
        |c| {
            c.2 == "Secret slack-hook has no key url (spec.grafana.alerting.contactPoints[0].secretRef.key)"
        },
    )
    .await;

    // The key arrives.
    ns.replace_secret("slack-hook", &[("url", &value)])
        .await
        .unwrap();
    stack::wait_condition(
        &ns,
        "s",
        "Ready",
        TIMEOUT,
        "Ready once the Secret has the key",
        |c| c.0 == "True",
    )
    .await;
    let points = rendered_contact_points(&ns).await.unwrap();
    let escaped = value.replace('$', "$$");
    assert!(points.contains(&escaped), "{points}");
    let config = ns.api::<ConfigMap>().get("s-grafana-config").await.unwrap();
    assert!(!config.data.unwrap().contains_key("contact-points.yaml"));
    if let Some(place) = leak(&ns, &op, canary).await {
        panic!("{place} holds the secret value");
    }

    // Rotation: a new value is re-rendered and rolls Grafana.
    let hash_before = grafana_config_hash(&ns).await.unwrap();
    let new_value = format!("https://hooks.example/{rotated}/$$");
    ns.replace_secret("slack-hook", &[("url", &new_value)])
        .await
        .unwrap();
    let new_escaped = new_value.replace('$', "$$");
    ns.wait_for(
        Duration::from_secs(60),
        "the rotated value is rendered",
        async || {
            let points = rendered_contact_points(&ns).await.unwrap_or_default();
            Ok((points.contains(&new_escaped) && !points.contains(canary)).then_some(()))
        },
    )
    .await;
    ns.wait_for(
        Duration::from_secs(60),
        "Grafana's config hash changes",
        async || {
            let hash = grafana_config_hash(&ns).await;
            Ok(hash.filter(|h| *h != hash_before).map(|_| ()))
        },
    )
    .await;
    for c in [canary, rotated] {
        if let Some(place) = leak(&ns, &op, c).await {
            panic!("{place} holds the secret value {c}");
        }
    }

    // Without contact points, the rendered Secret is pruned.
    merge_patch(
        &ns,
        "s",
        json!({"spec": {"grafana": {"alerting": {"contactPoints": []}}}}),
    )
    .await
    .unwrap();
    ns.wait_deleted(
        &ns.api::<Secret>(),
        "s-grafana-alerting",
        TIMEOUT,
        "the contact points' Secret pruned",
    )
    .await;
    drop(op);
    ns.cleanup().await.unwrap();
}
