//! The stack's NetworkPolicies: one per component that runs, selecting its
//! pods, admitting only the traffic the stack's own data flow needs
//! (docs/network-policies.md) and leaving egress open. Who talks to whom:
//!
//! - everyone's pods to their own component's pods (replicas, and a pod to its
//!   own address);
//! - Prometheus to every scraped port (`Component::scrape_port`);
//! - applications (the namespaces of `spec.networkPolicies.otlpFrom`, every
//!   namespace by default; every source when `spec.collector.externalService`
//!   exposes them) to the collector's OTLP ports, the node agents and
//!   the cluster collector to its node port;
//! - the collector to Prometheus (OTLP write), Tempo (OTLP) and Loki (OTLP);
//!   Tempo's metrics-generator to Prometheus (remote write);
//! - Grafana to Prometheus, Tempo and Loki (its datasources); with Prometheus
//!   in replicas, Grafana and the probe to the Thanos Query's HTTP port, and
//!   the Query to each replica's sidecar (gRPC);
//! - anyone to Grafana's HTTP port (users, an ingress controller);
//! - the operator's pods, when it knows where they run (`Capabilities::operator`)
//!   and the stack's probe is on, to the ports the probe uses: the collector's
//!   OTLP/HTTP port and the HTTP APIs of Prometheus, Loki and Tempo.
//!
//! Kubelet probes need no rule: traffic from a pod's own node is always
//! allowed (kubernetes.io/docs/concepts/services-networking/network-policies).

use k8s_openapi::api::networking::v1::{
    NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort,
    NetworkPolicySpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::*;
use crate::model::{Capabilities, QUERY_SUFFIX, ports, query_selector_labels};

/// The NetworkPolicies of the components that run here; none when the stack
/// turns them off.
pub(super) fn policies(stack: &ValidatedStack, caps: &Capabilities) -> Vec<NetworkPolicy> {
    if !stack.spec.network_policies.enabled {
        return Vec::new();
    }
    let mut list: Vec<NetworkPolicy> = Component::ALL
        .into_iter()
        .filter(|c| caps.runs(stack, *c))
        .map(|c| policy(stack, caps, c))
        .collect();
    if stack.prometheus_ha() && caps.runs(stack, Component::Prometheus) {
        list.push(query_policy(stack, caps));
    }
    list
}

/// The operator's pods, when the install says where they run and the stack's
/// probe is on.
fn operator(stack: &ValidatedStack, caps: &Capabilities) -> Option<NetworkPolicyPeer> {
    let op = caps.operator.as_ref()?;
    if !stack.spec.probe.is_enabled() {
        return None;
    }
    let namespace = std::iter::once((
        "kubernetes.io/metadata.name".to_string(),
        op.namespace.clone(),
    ))
    .collect();
    Some(NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(namespace),
            ..LabelSelector::default()
        }),
        pod_selector: Some(LabelSelector {
            match_labels: Some(op.labels.clone()),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    })
}

fn query_pods(stack: &ValidatedStack) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(query_selector_labels(&stack.name)),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

/// The Thanos Query of Prometheus in replicas: Grafana and the probe read its
/// HTTP API.
fn query_policy(stack: &ValidatedStack, caps: &Capabilities) -> NetworkPolicy {
    let mut peers: Vec<NetworkPolicyPeer> = caps
        .runs(stack, Component::Grafana)
        .then(|| pods_of(stack, Component::Grafana))
        .into_iter()
        .chain(operator(stack, caps))
        .collect();
    peers.push(query_pods(stack));
    let name = child_name(&stack.name, Component::Prometheus, Some(QUERY_SUFFIX));
    NetworkPolicy {
        metadata: super::prometheus_ha::query_meta(stack, &name),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(query_selector_labels(&stack.name)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![NetworkPolicyIngressRule {
                from: Some(peers),
                ports: Some(vec![tcp(ports::THANOS_HTTP)]),
            }]),
            ..NetworkPolicySpec::default()
        }),
    }
}

fn pods_of(stack: &ValidatedStack, c: Component) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(selector_labels(&stack.name, c)),
            ..LabelSelector::default()
        }),
        ..NetworkPolicyPeer::default()
    }
}

fn tcp(port: i32) -> NetworkPolicyPort {
    NetworkPolicyPort {
        port: Some(IntOrString::Int(port)),
        protocol: Some("TCP".into()),
        ..NetworkPolicyPort::default()
    }
}

/// The port number behind a component's named container port.
fn port_number(c: Component, name: &str) -> Option<i32> {
    match name {
        "metrics" => Some(ports::COLLECTOR_METRICS),
        _ => c
            .service_ports()
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, p)| *p),
    }
}

fn policy(stack: &ValidatedStack, caps: &Capabilities, c: Component) -> NetworkPolicy {
    let runs = |o: Component| caps.runs(stack, o);
    // (peers, ports): empty peers admit every source, empty ports every port.
    let mut rules: Vec<(Vec<NetworkPolicyPeer>, Vec<i32>)> =
        vec![(vec![pods_of(stack, c)], vec![])];
    if let Some(port) = c.scrape_port().and_then(|n| port_number(c, n))
        && runs(Component::Prometheus)
    {
        rules.push((vec![pods_of(stack, Component::Prometheus)], vec![port]));
    }
    let from = |cs: &[Component]| -> Vec<NetworkPolicyPeer> {
        cs.iter()
            .filter(|o| runs(**o))
            .map(|o| pods_of(stack, *o))
            .collect()
    };
    let probe_port = match c {
        Component::Collector => Some(ports::OTLP_HTTP),
        Component::Prometheus => Some(ports::PROMETHEUS),
        Component::Loki => Some(ports::LOKI_HTTP),
        Component::Tempo => Some(ports::TEMPO_HTTP),
        _ => None,
    };
    if let (Some(port), Some(op)) = (probe_port, operator(stack, caps)) {
        rules.push((vec![op], vec![port]));
    }
    match c {
        Component::Collector => {
            // Exposed outside the cluster, clients come from addresses no
            // selector names (through a load balancer, often as node addresses):
            // every source.
            let apps = if stack.spec.collector.external_service.is_some() {
                vec![]
            } else {
                vec![NetworkPolicyPeer {
                    namespace_selector: Some(
                        stack
                            .spec
                            .network_policies
                            .otlp_from
                            .clone()
                            .unwrap_or_default(),
                    ),
                    ..NetworkPolicyPeer::default()
                }]
            };
            rules.push((apps, vec![ports::OTLP_GRPC, ports::OTLP_HTTP]));
            let senders = from(&[Component::NodeAgent, Component::ClusterCollector]);
            if !senders.is_empty() {
                rules.push((senders, vec![ports::OTLP_NODE]));
            }
        }
        Component::Prometheus => {
            let clients = from(&[Component::Collector, Component::Tempo, Component::Grafana]);
            if !clients.is_empty() {
                rules.push((clients, vec![ports::PROMETHEUS]));
            }
            if stack.prometheus_ha() {
                rules.push((vec![query_pods(stack)], vec![ports::THANOS_GRPC]));
            }
        }
        Component::Tempo => {
            let collector = from(&[Component::Collector]);
            if !collector.is_empty() {
                rules.push((collector, vec![ports::OTLP_GRPC, ports::OTLP_HTTP]));
            }
            let grafana = from(&[Component::Grafana]);
            if !grafana.is_empty() {
                rules.push((grafana, vec![ports::TEMPO_HTTP]));
            }
        }
        Component::Loki => {
            let clients = from(&[Component::Collector, Component::Grafana]);
            if !clients.is_empty() {
                rules.push((clients, vec![ports::LOKI_HTTP]));
            }
        }
        // Users and an ingress controller, from anywhere.
        Component::Grafana => rules.push((vec![], vec![ports::GRAFANA])),
        Component::NodeAgent | Component::ClusterCollector => {}
    }
    NetworkPolicy {
        metadata: meta(stack, c, child_name(&stack.name, c, None)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(LabelSelector {
                match_labels: Some(selector_labels(&stack.name, c)),
                ..LabelSelector::default()
            }),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(
                rules
                    .into_iter()
                    .map(|(peers, ports)| NetworkPolicyIngressRule {
                        from: (!peers.is_empty()).then_some(peers),
                        ports: (!ports.is_empty()).then(|| ports.into_iter().map(tcp).collect()),
                    })
                    .collect(),
            ),
            ..NetworkPolicySpec::default()
        }),
    }
}
