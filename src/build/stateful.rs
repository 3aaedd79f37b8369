//! The StatefulSet shape shared by Prometheus, Tempo and Loki: one container, a
//! config volume, a scratch `/tmp`, and a `data` volumeClaimTemplate whose claims
//! follow the stack's deletion policy (where the server knows the retention policy);
//! and, on top of it, the whole child set of a single-binary backend that reads one
//! config file and keeps one data directory (Tempo and Loki), with what its pods
//! need for the object store (`super::object_store`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    StatefulSet, StatefulSetPersistentVolumeClaimRetentionPolicy, StatefulSetSpec,
    StatefulSetUpdateStrategy,
};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PodSpec, PodTemplateSpec, Service, ServiceSpec, Volume,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::Resources;
use super::common::*;
use crate::api::DeletionPolicy;
use crate::model::Capabilities;

/// What differs between the stateful components (replicas, UID and volume size
/// come from the component model and the resolved stack).
pub struct StatefulWorkload {
    /// Which component.
    pub component: Component,
    /// The main container, already secured, with its config and data mounts.
    pub container: Container,
    /// Name of the ConfigMap mounted as volume `config`.
    pub config_map: String,
    /// Hash of the configuration, for the pod-template annotation.
    pub config_hash: String,
    /// Whether the pod needs a Kubernetes API token.
    pub automount_token: bool,
    /// How long the pod may take to stop after SIGTERM before it is killed.
    pub termination_grace_seconds: i64,
    /// Volumes besides `config`, `tmp` and `data` (mounted by `container`).
    pub extra_volumes: Vec<Volume>,
}

/// The stop time of Prometheus and Loki: enough to flush their heads and WALs.
pub const DEFAULT_TERMINATION_GRACE_SECONDS: i64 = 60;

/// Builds the StatefulSet of a stateful component.
pub fn stateful_set(
    stack: &ValidatedStack,
    caps: &Capabilities,
    w: StatefulWorkload,
) -> StatefulSet {
    let name = child_name(&stack.name, w.component, None);
    let mut container = w.container;
    container
        .volume_mounts
        .get_or_insert_with(Vec::new)
        .push(mount("tmp", "/tmp", false));
    let when_deleted = match stack.spec.storage.deletion_policy {
        DeletionPolicy::Retain => "Retain",
        DeletionPolicy::Delete => "Delete",
    };
    StatefulSet {
        metadata: meta(stack, w.component, name.clone()),
        spec: Some(StatefulSetSpec {
            replicas: Some(stack.component(w.component).replicas),
            service_name: Some(name.clone()),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&stack.name, w.component)),
                ..LabelSelector::default()
            },
            update_strategy: Some(StatefulSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                ..StatefulSetUpdateStrategy::default()
            }),
            // Servers before 1.23 reject the field under server-side apply; the
            // finalizer (crate::controller::finalizer) deletes claims everywhere.
            persistent_volume_claim_retention_policy: caps.pvc_retention_policy().then(|| {
                StatefulSetPersistentVolumeClaimRetentionPolicy {
                    when_deleted: Some(when_deleted.into()),
                    when_scaled: Some("Retain".into()),
                }
            }),
            template: PodTemplateSpec {
                metadata: Some(pod_meta(stack, w.component, w.config_hash)),
                spec: Some(PodSpec {
                    service_account_name: Some(name),
                    automount_service_account_token: Some(w.automount_token),
                    security_context: Some(pod_security(w.component.uid())),
                    containers: vec![container],
                    volumes: Some(
                        [config_volume("config", &w.config_map), empty_dir("tmp")]
                            .into_iter()
                            .chain(w.extra_volumes)
                            .collect(),
                    ),
                    termination_grace_period_seconds: Some(w.termination_grace_seconds),
                    ..PodSpec::default()
                }),
            },
            volume_claim_templates: Some(vec![data_claim(stack, w.component)]),
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    }
}

/// A backend run as one binary with `-config.file=/conf/<file>`, ready on
/// `/ready` of its `http` port, keeping its data in one directory (Tempo and
/// Loki: both serve `/ready` from their HTTP server when every module is up).
pub struct SingleBinary {
    /// Which component.
    pub component: Component,
    /// The config file's name in the ConfigMap and under `/conf`.
    pub config_file: &'static str,
    /// The rendered config, as YAML.
    pub config: String,
    /// Arguments after `-config.file`.
    pub extra_args: Vec<&'static str>,
    /// The container's ports; one must be named `http`.
    pub ports: Vec<ContainerPort>,
    /// Where the `data` claim is mounted.
    pub data_dir: &'static str,
    /// How long the pod may take to stop after SIGTERM before it is killed.
    pub termination_grace_seconds: i64,
}

/// How long a clustered replica may take to stop: it flushes what it holds to
/// the object store first (Loki's `flush_on_shutdown`, Tempo's
/// `flush_all_on_shutdown`), bounded by their flush timeouts of 5 to 10 minutes.
pub const CLUSTERED_TERMINATION_GRACE_SECONDS: i64 = 300;

/// The ServiceAccount, config, Service and StatefulSet of a single-binary backend;
/// clustered (`ValidatedStack::clustered`), also the headless members Service,
/// the gossip port, a PodDisruptionBudget and spreading across nodes and zones.
pub fn single_binary(stack: &ValidatedStack, caps: &Capabilities, b: SingleBinary) -> Resources {
    let c = b.component;
    let resolved = stack.component(c);
    let clustered = stack.clustered(c);
    let mut ports = b.ports;
    let mut grace = b.termination_grace_seconds;
    if clustered {
        ports.push(container_port(
            "memberlist",
            crate::model::ports::MEMBERLIST,
        ));
        grace = grace.max(CLUSTERED_TERMINATION_GRACE_SECONDS);
    }
    let cm = config_map(
        stack,
        c,
        "config",
        BTreeMap::from([(b.config_file.to_string(), b.config)]),
    );
    // Secret values the pod reads only at start (the object store's
    // credentials and CA) roll it when they change.
    let restart = stack.restart_secrets.get(&c).map(String::as_str);
    let hash = config_hash(&[&cm], &Vec::from_iter(restart));
    let store = super::object_store::pod_parts(stack);
    let mut args = vec![format!("-config.file=/conf/{}", b.config_file)];
    args.extend(b.extra_args.iter().map(|a| a.to_string()));
    let args = super::overrides::with_extra_args(stack, c, args);
    let container = secured(Container {
        name: c.name().into(),
        image: Some(resolved.image.clone()),
        args: Some(args),
        ports: Some(ports),
        liveness_probe: Some(http_probe("/ready", "http", 30, 15)),
        readiness_probe: Some(http_probe("/ready", "http", 10, 5)),
        resources: Some(resolved.resources.clone()),
        env: (!store.env.is_empty()).then_some(store.env),
        volume_mounts: Some(
            [
                mount("config", "/conf", true),
                mount("data", b.data_dir, false),
            ]
            .into_iter()
            .chain(store.mounts)
            .collect(),
        ),
        ..Container::default()
    });
    let mut sts = stateful_set(
        stack,
        caps,
        StatefulWorkload {
            component: c,
            container,
            config_map: cm.metadata.name.clone().unwrap_or_default(),
            config_hash: hash,
            termination_grace_seconds: grace,
            automount_token: false,
            extra_volumes: store.volumes,
        },
    );
    if let Some(meta) = sts.spec.as_mut().and_then(|s| s.template.metadata.as_mut()) {
        meta.labels
            .get_or_insert_with(BTreeMap::new)
            .extend(store.pod_labels);
    }
    if clustered && let Some(pod) = sts.spec.as_mut().and_then(|s| s.template.spec.as_mut()) {
        // Defaults: `spec.<component>.pod.topologySpreadConstraints` replaces them
        // (`super::pod`, applied after this build).
        pod.topology_spread_constraints = Some(spread(&selector_labels(&stack.name, c)));
    }
    let mut account = service_account(stack, c, false);
    if !store.service_account_annotations.is_empty() {
        account.metadata.annotations = Some(store.service_account_annotations);
    }
    let mut services = vec![service(stack, c)];
    let mut budgets = Vec::new();
    if clustered {
        services.push(members_service(stack, c));
        if caps.policy_v1 {
            budgets.push(disruption_budget(stack, c));
        }
    }
    Resources {
        service_accounts: vec![account],
        config_maps: vec![cm],
        services,
        stateful_sets: vec![sts],
        pod_disruption_budgets: budgets,
        ..Resources::default()
    }
}

/// `<stack>-<component>-members`: headless, every pod's address whether ready
/// or not (a replica joins the ring before it is ready), for memberlist's join
/// and Tempo's frontend workers (`crate::render::Memberlist`).
fn members_service(stack: &ValidatedStack, c: Component) -> Service {
    let grpc = match c {
        Component::Tempo => crate::model::ports::TEMPO_GRPC,
        _ => crate::model::ports::LOKI_GRPC,
    };
    Service {
        metadata: meta(
            stack,
            c,
            child_name(&stack.name, c, Some(crate::model::MEMBERS_SUFFIX)),
        ),
        spec: Some(ServiceSpec {
            cluster_ip: Some("None".into()),
            publish_not_ready_addresses: Some(true),
            selector: Some(selector_labels(&stack.name, c)),
            ports: Some(vec![
                service_port("memberlist", crate::model::ports::MEMBERLIST),
                service_port("grpc", grpc),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}
