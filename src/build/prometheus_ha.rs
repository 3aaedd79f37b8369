//! Prometheus in replicas (`spec.prometheus.replicas` > 1,
//! `ValidatedStack::prometheus_ha`): what the replicas add to the one-instance
//! children of `super::prometheus`. Each replica is the same Prometheus with the
//! same config, told apart by its `prometheus_replica` external label, and a Thanos
//! sidecar serving its data over gRPC; a Service per replica, so that the
//! collector and Tempo write every sample to each; a Thanos Query Deployment
//! that reads every sidecar and merges the replicas into one answer, which
//! Grafana, the probe and the status read; disruption budgets and spreading.
//!
//! Flags and behaviour as read at thanos-io/thanos v0.42.4 (no Thanos runs
//! here): `cmd/thanos/sidecar.go`, `cmd/thanos/query.go`,
//! `cmd/thanos/endpointset.go`, `pkg/dedup/iter.go`, `docs/components/query.md`.

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, StatefulSet};
use k8s_openapi::api::core::v1::{
    Container, EnvVar, EnvVarSource, ObjectFieldSelector, PodSpec, PodTemplateSpec, Service,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use super::Resources;
use super::common::*;
use crate::model::{
    Capabilities, QUERY_SUFFIX, images, ports, query_labels, query_selector_labels,
};
use crate::render::prometheus::{POD_NAME_ENV, REPLICA_LABEL};

const C: Component = Component::Prometheus;

/// The label the StatefulSet controller sets on each of its pods, with the
/// pod's name: what a per-replica Service selects (k8s.io/api apps/v1
/// `StatefulSetPodNameLabel`).
const POD_NAME_LABEL: &str = "statefulset.kubernetes.io/pod-name";

/// Adds the replicas' parts to Prometheus's children: `sts` gets the pod-name
/// environment variable, the sidecar and default spreading; `r` the Services,
/// the Query and the budgets.
pub(super) fn add(
    stack: &ValidatedStack,
    caps: &Capabilities,
    sts: &mut StatefulSet,
    r: &mut Resources,
) {
    if let Some(pod) = sts.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        if let Some(prometheus) = pod.containers.first_mut() {
            prometheus
                .env
                .get_or_insert_with(Vec::new)
                .push(pod_name_env());
        }
        pod.containers.push(sidecar(stack));
        pod.topology_spread_constraints = Some(spread(&selector_labels(&stack.name, C)));
    }
    r.services
        .extend((0..stack.component(C).replicas).map(|i| replica_service(stack, i)));
    let name = child_name(&stack.name, C, Some(QUERY_SUFFIX));
    r.service_accounts
        .push(k8s_openapi::api::core::v1::ServiceAccount {
            metadata: query_meta(stack, &name),
            automount_service_account_token: Some(false),
            ..Default::default()
        });
    r.deployments.push(query(stack, &name));
    r.services.push(query_service(stack, &name));
    if caps.policy_v1 {
        r.pod_disruption_budgets.push(disruption_budget(stack, C));
        r.pod_disruption_budgets.push(budget(
            query_meta(stack, &name),
            query_selector_labels(&stack.name),
        ));
    }
}

/// Metadata of the Query's children (its labels, not Prometheus's).
pub(super) fn query_meta(stack: &ValidatedStack, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.into()),
        namespace: Some(stack.namespace.clone()),
        labels: Some(query_labels(&stack.name)),
        owner_references: stack.owner.clone().map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

/// `POD_NAME` from the pod's own name: the value of the `prometheus_replica` external
/// label (`crate::render::prometheus`), unique and stable per replica.
fn pod_name_env() -> EnvVar {
    EnvVar {
        name: POD_NAME_ENV.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: "metadata.name".into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }
}

/// The sidecar: serves its Prometheus's data as the StoreAPI on gRPC, reading
/// Prometheus over `localhost`. No object storage: without
/// `--objstore.config` it uploads nothing and does not ask Prometheus to stop
/// compacting (the block-duration check runs only with uploads, `sidecar.go`).
/// Ready once it has read Prometheus's version and non-empty external labels.
fn sidecar(stack: &ValidatedStack) -> Container {
    secured(Container {
        name: "thanos-sidecar".into(),
        image: Some(stack.thanos.image.clone()),
        args: Some(vec![
            "sidecar".into(),
            format!("--prometheus.url=http://localhost:{}", ports::PROMETHEUS),
            "--tsdb.path=/prometheus".into(),
            format!("--grpc-address=:{}", ports::THANOS_GRPC),
            format!("--http-address=:{}", ports::THANOS_HTTP),
        ]),
        ports: Some(vec![
            container_port("grpc", ports::THANOS_GRPC),
            container_port("sidecar-http", ports::THANOS_HTTP),
        ]),
        liveness_probe: Some(http_probe("/-/healthy", "sidecar-http", 30, 15)),
        readiness_probe: Some(http_probe("/-/ready", "sidecar-http", 5, 5)),
        resources: Some(stack.thanos.sidecar_resources.clone()),
        volume_mounts: Some(vec![mount("data", "/prometheus", true)]),
        ..Container::default()
    })
}

/// `<stack>-prometheus-<i>`: replica `i` alone, for the writes that must reach
/// every replica (`ValidatedStack::prometheus_write_hosts`) and the Query's
/// reads of its sidecar. The StatefulSet's own Service is not headless (and its
/// `serviceName` cannot change), so the pods have no DNS names of their own.
fn replica_service(stack: &ValidatedStack, i: i32) -> Service {
    let name = child_name(&stack.name, C, Some(&i.to_string()));
    let mut selector = selector_labels(&stack.name, C);
    selector.insert(
        POD_NAME_LABEL.into(),
        child_name(&stack.name, C, None) + &format!("-{i}"),
    );
    Service {
        metadata: meta(stack, C, name),
        spec: Some(ServiceSpec {
            selector: Some(selector),
            ports: Some(vec![
                service_port("http", ports::PROMETHEUS),
                service_port("grpc", ports::THANOS_GRPC),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// The Query's endpoints, as the content of `--endpoint.sd-config` (the
/// `EndpointConfig` of `cmd/thanos/endpointset.go`; `--endpoint` is deprecated
/// since v0.38.0): each replica's sidecar through its Service.
pub fn endpoint_config(stack: &ValidatedStack) -> String {
    let endpoints: Vec<serde_json::Value> = stack
        .prometheus_write_hosts()
        .into_iter()
        .map(|(_, host)| serde_json::json!({"address": format!("{host}:{}", ports::THANOS_GRPC)}))
        .collect();
    serde_json::json!({ "endpoints": endpoints }).to_string()
}

/// The Query: the Prometheus HTTP API over every replica, deduplicated by the
/// `prometheus_replica` label with the default `penalty` algorithm (which follows one
/// replica and fills its gaps from another; `chain` is experimental).
/// Stateless, in `spec.prometheus.query.replicas` pods spread over nodes.
fn query(stack: &ValidatedStack, name: &str) -> Deployment {
    let selector = query_selector_labels(&stack.name);
    let args: Vec<String> = vec![
        "query".into(),
        format!("--http-address=:{}", ports::THANOS_HTTP),
        format!("--grpc-address=:{}", ports::THANOS_GRPC),
        format!("--query.replica-label={REPLICA_LABEL}"),
        format!("--endpoint.sd-config={}", endpoint_config(stack)),
    ];
    let container = secured(Container {
        name: "thanos-query".into(),
        image: Some(stack.thanos.image.clone()),
        args: Some(args.clone()),
        ports: Some(vec![container_port("http", ports::THANOS_HTTP)]),
        liveness_probe: Some(http_probe("/-/healthy", "http", 30, 15)),
        readiness_probe: Some(http_probe("/-/ready", "http", 5, 5)),
        resources: Some(stack.thanos.query_resources.clone()),
        volume_mounts: Some(vec![mount("tmp", "/tmp", false)]),
        ..Container::default()
    });
    Deployment {
        metadata: query_meta(stack, name),
        spec: Some(DeploymentSpec {
            replicas: Some(stack.thanos.query_replicas),
            selector: LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                // Its whole config is its args; the hash marks it like the
                // other workloads.
                metadata: Some(ObjectMeta {
                    labels: Some(query_labels(&stack.name)),
                    annotations: Some(std::collections::BTreeMap::from([(
                        CONFIG_HASH_ANNOTATION.to_string(),
                        config_hash(&[], &[&args.join("\n")]),
                    )])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(name.into()),
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(images::THANOS_UID)),
                    containers: vec![container],
                    volumes: Some(vec![empty_dir("tmp")]),
                    topology_spread_constraints: Some(spread(&selector)),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

fn query_service(stack: &ValidatedStack, name: &str) -> Service {
    Service {
        metadata: query_meta(stack, name),
        spec: Some(ServiceSpec {
            selector: Some(query_selector_labels(&stack.name)),
            ports: Some(vec![service_port("http", ports::THANOS_HTTP)]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
