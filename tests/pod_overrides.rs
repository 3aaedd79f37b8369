//! Pod overrides (`spec.pod`, `spec.<component>.pod`) and `spec.imageRegistry`
//! as built: every workload's pod template gets the stack-wide settings, a
//! component's own replace them field by field (maps and env merged), the node
//! agent keeps its own tolerations and priority class, nothing sextant sets is
//! replaced, and only pinned images move to the mirror. Also: the environment
//! names sextant reserves (`Component::owned_env`) are exactly those it sets.

mod common;

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::PodTemplateSpec;
use sextant::build::{Resources, build};
use sextant::model::{Capabilities, Component, ValidatedStack};
use sextant::validate::{Dereferenced, validate};

fn valid(spec: &str) -> ValidatedStack {
    validate(&common::with_spec(spec), &Dereferenced::offline()).unwrap()
}

/// Every pod template, by the component label of its workload.
fn templates(r: &Resources) -> BTreeMap<String, PodTemplateSpec> {
    let mut out = BTreeMap::new();
    let name = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| {
        m.labels.as_ref().unwrap()["app.kubernetes.io/name"].clone()
    };
    for d in &r.deployments {
        out.insert(name(&d.metadata), d.spec.clone().unwrap().template);
    }
    for s in &r.stateful_sets {
        out.insert(name(&s.metadata), s.spec.clone().unwrap().template);
    }
    for d in &r.daemon_sets {
        out.insert(name(&d.metadata), d.spec.clone().unwrap().template);
    }
    out
}

const OVERRIDES: &str = "imageRegistry: registry.example.com/mirror
pod:
  nodeSelector: {pool: observability}
  tolerations: [{key: dedicated, operator: Equal, value: obs, effect: NoSchedule}]
  priorityClassName: high
  annotations: {team: sre}
  labels: {cost-center: c1}
  imagePullSecrets: [{name: mirror-pull}]
  env: [{name: HTTPS_PROXY, value: 'http://proxy:3128'}, {name: TZ, value: Europe/Paris}]
grafana:
  image: my.registry/grafana:12
  pod: {nodeSelector: {pool: ui}, labels: {cost-center: c2}, env: [{name: TZ, value: UTC}]}
";

#[test]
fn overrides_reach_every_pod_and_the_component_wins() {
    let stack = valid(OVERRIDES);
    let r = build(&stack, &Capabilities::current());
    let all = templates(&r);
    assert_eq!(all.len(), Component::ALL.len(), "{:?}", all.keys());
    for (name, t) in &all {
        let pod = t.spec.as_ref().unwrap();
        let meta = t.metadata.as_ref().unwrap();
        let labels = meta.labels.as_ref().unwrap();
        // sextant's own labels stay, and the selector never sees the user's.
        assert_eq!(labels["app.kubernetes.io/name"], *name);
        assert!(
            meta.annotations.as_ref().unwrap()["team"] == "sre",
            "{name}"
        );
        assert_eq!(
            pod.image_pull_secrets.as_ref().unwrap()[0].name,
            "mirror-pull",
            "{name}"
        );
        let env: Vec<(String, String)> = pod.containers[0]
            .env
            .iter()
            .flatten()
            .filter(|e| e.value.is_some())
            .map(|e| (e.name.clone(), e.value.clone().unwrap()))
            .collect();
        assert!(
            env.contains(&("HTTPS_PROXY".into(), "http://proxy:3128".into())),
            "{name}: {env:?}"
        );
        let image = pod.containers[0].image.as_deref().unwrap();
        if name == "grafana" {
            assert_eq!(pod.node_selector.as_ref().unwrap()["pool"], "ui");
            assert_eq!(labels["cost-center"], "c2");
            assert!(env.contains(&("TZ".into(), "UTC".into())), "{env:?}");
            assert!(
                !env.contains(&("TZ".into(), "Europe/Paris".into())),
                "{env:?}"
            );
            assert_eq!(image, "my.registry/grafana:12", "an image as written");
        } else if name == "node-agent" {
            // On every node: none of the stack-wide placement.
            assert_eq!(pod.node_selector, None, "{name}");
            assert_eq!(labels["cost-center"], "c1");
            assert!(image.starts_with("registry.example.com/mirror/"), "{image}");
        } else {
            assert_eq!(pod.node_selector.as_ref().unwrap()["pool"], "observability");
            assert_eq!(labels["cost-center"], "c1");
            assert!(
                image.starts_with("registry.example.com/mirror/"),
                "{name}: {image}"
            );
        }
        if name == "node-agent" {
            // Its own: every taint, no priority class unless spec.nodeAgent says.
            let t = pod.tolerations.as_ref().unwrap();
            assert_eq!(t.len(), 1);
            assert_eq!(t[0].operator.as_deref(), Some("Exists"));
            assert_eq!(pod.priority_class_name, None);
        } else {
            assert_eq!(
                pod.tolerations.as_ref().unwrap()[0].key.as_deref(),
                Some("dedicated"),
                "{name}"
            );
            assert_eq!(pod.priority_class_name.as_deref(), Some("high"), "{name}");
        }
    }
    // Selectors are sextant's alone.
    for d in &r.deployments {
        let sel = d
            .spec
            .as_ref()
            .unwrap()
            .selector
            .match_labels
            .clone()
            .unwrap();
        assert!(!sel.contains_key("cost-center"));
    }
    // Nothing is overridden without overrides.
    let plain = build(&valid("{}"), &Capabilities::current());
    for (name, t) in templates(&plain) {
        let pod = t.spec.unwrap();
        assert_eq!(pod.node_selector, None, "{name}");
        assert_eq!(pod.image_pull_secrets, None, "{name}");
    }
}

#[test]
fn sextant_reserves_exactly_the_environment_it_sets() {
    // Every optional feature that adds a variable: SMTP with a user and
    // password, an Ingress (root_url), OAuth with every optional field;
    // Prometheus in replicas (the pod name of its replica label).
    let stack = valid(
        "prometheus: {replicas: 2}\ngrafana:\n  ingress: {host: grafana.example.com}\n  smtp: {host: 'smtp.example.com:587', fromAddress: g@example.com, fromName: G, user: g, passwordSecretRef: {name: smtp, key: password}, skipVerify: true}\n  oauth: {secretName: oidc, authUrl: 'https://id.example.com/a', tokenUrl: 'https://id.example.com/t', apiUrl: 'https://id.example.com/u', roleAttributePath: \"'Viewer'\", groupsAttributePath: groups, allowedGroups: [g], allowedDomains: [example.com], emailAttributePath: email, loginAttributePath: login, nameAttributePath: name, signoutRedirectUrl: 'https://id.example.com/o'}",
    );
    let r = build(&stack, &Capabilities::current());
    for (name, t) in templates(&r) {
        let set: BTreeSet<String> = t
            .spec
            .unwrap()
            .containers
            .iter()
            .flat_map(|c| c.env.iter().flatten().map(|e| e.name.clone()))
            .collect();
        if name == "prometheus-query" {
            // The Thanos Query takes Prometheus's overrides and sets nothing.
            assert_eq!(set, BTreeSet::new(), "{name}");
            continue;
        }
        let c = Component::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .unwrap();
        let owned: BTreeSet<String> = c.owned_env().iter().map(|s| s.to_string()).collect();
        assert_eq!(set, owned, "{name}");
    }
}
