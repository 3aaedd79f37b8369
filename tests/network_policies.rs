//! The NetworkPolicies against the stack's own data flow: every connection the
//! rendered configs make (each `<stack>-<component>.<ns>.svc:<port>` address in
//! a component's config, and every port Prometheus scrapes) is admitted by the
//! policy of the component it reaches, as a NetworkPolicy's rules admit traffic
//! (kubernetes.io/docs/concepts/services-networking/network-policies: a rule
//! admits when a peer matches and the port is listed, no `from` meaning every
//! source and no `ports` every port); and a connection the stack never makes is
//! not admitted.

mod common;

use std::collections::BTreeMap;

use k8s_openapi::api::networking::v1::{NetworkPolicy, NetworkPolicyPeer};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sextant::build::{Resources, build};
use sextant::model::{Capabilities, Component, ValidatedStack, selector_labels};
use sextant::validate::{Dereferenced, validate};

fn valid(spec: &str) -> ValidatedStack {
    validate(&common::with_spec(spec), &Dereferenced::offline()).unwrap()
}

/// A sender: its pod labels and its namespace's labels.
struct Source {
    pod: BTreeMap<String, String>,
    namespace: String,
    namespace_labels: BTreeMap<String, String>,
}

fn matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    assert!(
        selector.match_expressions.is_none(),
        "the test evaluates matchLabels only"
    );
    selector
        .match_labels
        .iter()
        .flatten()
        .all(|(k, v)| labels.get(k) == Some(v))
}

fn peer_admits(peer: &NetworkPolicyPeer, policy_ns: &str, from: &Source) -> bool {
    assert!(peer.ip_block.is_none());
    match (&peer.pod_selector, &peer.namespace_selector) {
        (Some(p), None) => from.namespace == policy_ns && matches(p, &from.pod),
        (None, Some(n)) => matches(n, &from.namespace_labels),
        (Some(p), Some(n)) => matches(p, &from.pod) && matches(n, &from.namespace_labels),
        (None, None) => false,
    }
}

fn admits(np: &NetworkPolicy, from: &Source, port: i32) -> bool {
    let ns = np.metadata.namespace.as_deref().unwrap();
    np.spec
        .as_ref()
        .unwrap()
        .ingress
        .iter()
        .flatten()
        .any(|rule| {
            let peer_ok = rule
                .from
                .as_ref()
                .is_none_or(|peers| peers.iter().any(|p| peer_admits(p, ns, from)));
            let port_ok = rule
                .ports
                .as_ref()
                .is_none_or(|ps| ps.iter().any(|p| p.port == Some(IntOrString::Int(port))));
            peer_ok && port_ok
        })
}

fn policy_of(r: &Resources, c: Component) -> &NetworkPolicy {
    r.network_policies
        .iter()
        .find(|n| n.metadata.labels.as_ref().unwrap()["app.kubernetes.io/name"] == c.name())
        .unwrap_or_else(|| panic!("no NetworkPolicy for {}", c.name()))
}

fn component_pod(stack: &ValidatedStack, c: Component) -> Source {
    Source {
        pod: selector_labels(&stack.name, c),
        namespace: stack.namespace.clone(),
        namespace_labels: BTreeMap::from([(
            "kubernetes.io/metadata.name".into(),
            stack.namespace.clone(),
        )]),
    }
}

/// Every (sender, receiver, port) the rendered configs name: the addresses of
/// the stack's Services in each component's ConfigMaps and Secrets.
fn flows(stack: &ValidatedStack, r: &Resources) -> Vec<(Component, Component, i32)> {
    let mut out = Vec::new();
    let configs = r
        .config_maps
        .iter()
        .map(|c| (c.metadata.clone(), serde_json::to_string(&c.data).unwrap()));
    let secrets = r.rendered_secrets.iter().map(|s| {
        (
            s.metadata.clone(),
            serde_json::to_string(&s.string_data).unwrap(),
        )
    });
    for (meta, text) in configs.chain(secrets) {
        let Some(from) = Component::ALL
            .into_iter()
            .find(|c| meta.labels.as_ref().unwrap()["app.kubernetes.io/name"] == c.name())
        else {
            continue;
        };
        for to in Component::ALL {
            let host = format!("{}:", stack.service_host(to));
            for (at, _) in text.match_indices(&host) {
                let port: String = text[at + host.len()..]
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                out.push((from, to, port.parse().unwrap()));
            }
        }
    }
    out
}

#[test]
fn every_connection_of_the_rendered_configs_is_admitted_and_no_other() {
    let stack = valid("{}");
    let caps = Capabilities::current();
    let r = build(&stack, &caps);
    assert_eq!(r.network_policies.len(), Component::ALL.len());
    let flows = flows(&stack, &r);
    // The data flow the configs describe: the collector's exporters, the node
    // agent's and cluster collector's exporter, Tempo's remote write, Grafana's
    // datasources.
    for expected in [
        (Component::Collector, Component::Prometheus),
        (Component::Collector, Component::Loki),
        (Component::Collector, Component::Tempo),
        (Component::NodeAgent, Component::Collector),
        (Component::ClusterCollector, Component::Collector),
        (Component::Tempo, Component::Prometheus),
        (Component::Grafana, Component::Prometheus),
        (Component::Grafana, Component::Loki),
        (Component::Grafana, Component::Tempo),
    ] {
        assert!(
            flows.iter().any(|(f, t, _)| (*f, *t) == expected),
            "{expected:?} not found in the rendered configs: {flows:?}"
        );
    }
    for (from, to, port) in &flows {
        assert!(
            admits(policy_of(&r, *to), &component_pod(&stack, *from), *port),
            "{} -> {}:{port} is not admitted",
            from.name(),
            to.name()
        );
    }
    // Prometheus scrapes every component's metrics port.
    for c in Component::ALL {
        if let Some(name) = c.scrape_port() {
            let port = if name == "metrics" {
                8888
            } else {
                c.service_ports()
                    .iter()
                    .find(|(n, _)| *n == name)
                    .unwrap()
                    .1
            };
            assert!(
                admits(
                    policy_of(&r, c),
                    &component_pod(&stack, Component::Prometheus),
                    port
                ),
                "Prometheus cannot scrape {}:{port}",
                c.name()
            );
        }
    }
    // Applications in any namespace send OTLP; users reach Grafana.
    let app = Source {
        pod: BTreeMap::from([("app".into(), "checkout".into())]),
        namespace: "shop".into(),
        namespace_labels: BTreeMap::from([("kubernetes.io/metadata.name".into(), "shop".into())]),
    };
    assert!(admits(policy_of(&r, Component::Collector), &app, 4317));
    assert!(admits(policy_of(&r, Component::Collector), &app, 4318));
    assert!(admits(policy_of(&r, Component::Grafana), &app, 3000));
    // Nothing else: an application cannot reach the backends or the node port,
    // Grafana cannot write to the collector, Loki cannot reach Prometheus.
    for (c, port) in [
        (Component::Prometheus, 9090),
        (Component::Loki, 3100),
        (Component::Tempo, 3200),
        (Component::Tempo, 4317),
        (Component::Collector, 4319),
        (Component::Collector, 8888),
    ] {
        assert!(
            !admits(policy_of(&r, c), &app, port),
            "app -> {}:{port}",
            c.name()
        );
    }
    assert!(!admits(
        policy_of(&r, Component::Collector),
        &component_pod(&stack, Component::Grafana),
        4319
    ));
    assert!(!admits(
        policy_of(&r, Component::Prometheus),
        &component_pod(&stack, Component::Loki),
        9090
    ));
}

#[test]
fn otlp_from_narrows_the_senders_and_disabled_renders_none() {
    let stack = valid("networkPolicies: {otlpFrom: {matchLabels: {otlp: allowed}}}");
    let r = build(&stack, &Capabilities::current());
    let from = |labels: &[(&str, &str)]| Source {
        pod: BTreeMap::new(),
        namespace: "team".into(),
        namespace_labels: labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let collector = policy_of(&r, Component::Collector);
    assert!(admits(collector, &from(&[("otlp", "allowed")]), 4317));
    assert!(!admits(collector, &from(&[("otlp", "no")]), 4317));

    let off = valid("networkPolicies: {enabled: false}");
    assert!(
        build(&off, &Capabilities::current())
            .network_policies
            .is_empty()
    );
    // Only for what runs: no policy for a disabled Tempo, and no agent policy
    // where the agent is not run.
    let no_tempo = build(&valid("tempo: {enabled: false}"), &Capabilities::current());
    assert!(
        !no_tempo.network_policies.iter().any(|n| n
            .metadata
            .name
            .as_deref()
            .unwrap()
            .ends_with("-tempo"))
    );
    let namespaced = build(
        &valid("{}"),
        &Capabilities::current().with_cluster_roles(None),
    );
    assert!(
        !namespaced.network_policies.iter().any(|n| n
            .metadata
            .name
            .as_deref()
            .unwrap()
            .ends_with("-node-agent"))
    );
}

/// OTLP exposed outside the cluster comes from addresses no selector names:
/// the collector admits its OTLP ports from every source then, and its node
/// port still only from the node agents and the cluster collector.
#[test]
fn an_external_service_opens_the_otlp_ports_only() {
    let stack = valid("collector: {externalService: {}}");
    let r = build(&stack, &Capabilities::current());
    let collector = policy_of(&r, Component::Collector);
    let outsider = Source {
        pod: BTreeMap::new(),
        namespace: "anywhere".into(),
        namespace_labels: BTreeMap::new(),
    };
    assert!(admits(collector, &outsider, 4317));
    assert!(admits(collector, &outsider, 4318));
    assert!(
        !admits(collector, &outsider, 4319),
        "the node port stays closed"
    );
    assert!(admits(
        collector,
        &component_pod(&stack, Component::NodeAgent),
        4319
    ));
    // Without it, an outsider is admitted only as a pod of some namespace
    // (an empty namespace selector), which an address outside is not.
    let inside = build(&valid("{}"), &Capabilities::current());
    let rule_peers: Vec<_> = policy_of(&inside, Component::Collector)
        .spec
        .as_ref()
        .unwrap()
        .ingress
        .iter()
        .flatten()
        .map(|r| r.from.clone())
        .collect();
    assert!(
        rule_peers.iter().all(Option::is_some),
        "every rule names its peers: {rule_peers:?}"
    );
}

/// The operator's probe reaches the collector's OTLP/HTTP port and the query
/// ports of Prometheus, Loki and Tempo, from the operator's own pods only, and
/// only when it knows where they run and the stack's probe is on.
#[test]
fn the_operators_pods_reach_exactly_the_probes_ports() {
    let operator = sextant::model::OperatorPods::parse(
        "sextant-system",
        "app.kubernetes.io/name=sextant,app.kubernetes.io/instance=sextant",
    )
    .unwrap();
    let caps = Capabilities::current().with_operator(Some(operator.clone()));
    let op_pod = Source {
        pod: operator.labels.clone(),
        namespace: "sextant-system".into(),
        namespace_labels: BTreeMap::from([(
            "kubernetes.io/metadata.name".into(),
            "sextant-system".into(),
        )]),
    };
    // The same labels in another namespace are not the operator.
    let impostor = Source {
        namespace: "elsewhere".into(),
        namespace_labels: BTreeMap::from([(
            "kubernetes.io/metadata.name".into(),
            "elsewhere".into(),
        )]),
        pod: operator.labels.clone(),
    };
    let stack = valid("networkPolicies: {otlpFrom: {matchLabels: {otlp: allowed}}}");
    let r = build(&stack, &caps);
    let wanted = [
        (Component::Collector, 4318),
        (Component::Prometheus, 9090),
        (Component::Loki, 3100),
        (Component::Tempo, 3200),
    ];
    for (c, port) in wanted {
        let np = policy_of(&r, c);
        assert!(admits(np, &op_pod, port), "{} {port}", c.name());
        assert!(!admits(np, &impostor, port), "{} {port}", c.name());
    }
    assert!(!admits(policy_of(&r, Component::Collector), &op_pod, 4317));
    assert!(!admits(policy_of(&r, Component::Loki), &op_pod, 7946));
    // Unknown operator, or the probe off: no such rule.
    for (stack, caps) in [
        (stack.clone(), Capabilities::current()),
        (
            valid(
                "networkPolicies: {otlpFrom: {matchLabels: {otlp: allowed}}}\nprobe: {enabled: false}",
            ),
            caps.clone(),
        ),
    ] {
        let r = build(&stack, &caps);
        for (c, port) in wanted {
            assert!(
                !admits(policy_of(&r, c), &op_pod, port),
                "{} {port}",
                c.name()
            );
        }
    }
    assert!(sextant::model::OperatorPods::parse("ns", "").is_none());
    assert!(sextant::model::OperatorPods::parse("ns", "novalue").is_none());
    assert!(sextant::model::OperatorPods::parse("", "a=b").is_none());
}
