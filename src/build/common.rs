//! Pieces every component's build shares: object metadata, the restricted pod
//! security settings, Services, probes, volumes and the config hash. Names and
//! labels come from `crate::model`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMap, ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource,
    EnvVar, HTTPGetAction, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSecurityContext,
    Probe, SeccompProfile, SecurityContext, Service, ServiceAccount, ServicePort, ServiceSpec,
    TopologySpreadConstraint, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use sha2::{Digest, Sha256};

pub use crate::model::{
    CONFIG_HASH_ANNOTATION, Component, ValidatedStack, child_name, labels, selector_labels,
};

/// A PodDisruptionBudget (policy/v1) letting a voluntary disruption (a node
/// drain) take one pod of the component at a time.
pub fn disruption_budget(stack: &ValidatedStack, component: Component) -> PodDisruptionBudget {
    budget(
        meta(stack, component, child_name(&stack.name, component, None)),
        selector_labels(&stack.name, component),
    )
}

/// A PodDisruptionBudget of one pod at a time among the pods `selector` selects.
pub fn budget(metadata: ObjectMeta, selector: BTreeMap<String, String>) -> PodDisruptionBudget {
    PodDisruptionBudget {
        metadata,
        spec: Some(PodDisruptionBudgetSpec {
            max_unavailable: Some(IntOrString::Int(1)),
            selector: Some(LabelSelector {
                match_labels: Some(selector),
                ..LabelSelector::default()
            }),
            ..PodDisruptionBudgetSpec::default()
        }),
        ..PodDisruptionBudget::default()
    }
}

/// Replicas spread across nodes, then zones, as evenly as the scheduler can
/// without leaving a pod pending (`ScheduleAnyway`): a single-node cluster
/// still runs them all, and losing one node or zone takes as few as it can.
/// `spec.<component>.pod.topologySpreadConstraints` replaces these
/// (`super::pod`, applied after the component's build).
pub fn spread(selector: &BTreeMap<String, String>) -> Vec<TopologySpreadConstraint> {
    ["kubernetes.io/hostname", "topology.kubernetes.io/zone"]
        .into_iter()
        .map(|key| TopologySpreadConstraint {
            max_skew: 1,
            topology_key: key.into(),
            when_unsatisfiable: "ScheduleAnyway".into(),
            label_selector: Some(LabelSelector {
                match_labels: Some(selector.clone()),
                ..LabelSelector::default()
            }),
            ..TopologySpreadConstraint::default()
        })
        .collect()
}

/// Metadata of a child: name, namespace, labels and the controller ownerReference.
pub fn meta(stack: &ValidatedStack, component: Component, name: String) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: Some(stack.namespace.clone()),
        labels: Some(labels(&stack.name, component)),
        owner_references: stack.owner.clone().map(|o| vec![o]),
        ..ObjectMeta::default()
    }
}

/// Metadata of a workload's pod template: its labels, and the config hash whose
/// change rolls the pods.
pub fn pod_meta(stack: &ValidatedStack, component: Component, config_hash: String) -> ObjectMeta {
    ObjectMeta {
        labels: Some(labels(&stack.name, component)),
        annotations: Some(BTreeMap::from([(
            CONFIG_HASH_ANNOTATION.into(),
            config_hash,
        )])),
        ..ObjectMeta::default()
    }
}

/// The config hash of the ConfigMaps a workload mounts (and any other inputs that
/// need a restart), for the pod-template annotation.
pub fn config_hash(config_maps: &[&ConfigMap], extra: &[&str]) -> String {
    let mut h = Sha256::new();
    for cm in config_maps {
        for (k, v) in cm.data.iter().flatten() {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.as_bytes());
            h.update([0]);
        }
    }
    for e in extra {
        h.update(e.as_bytes());
        h.update([0]);
    }
    hex::encode(h.finalize())
}

/// A ConfigMap of the component holding the given files.
pub fn config_map(
    stack: &ValidatedStack,
    component: Component,
    suffix: &str,
    files: BTreeMap<String, String>,
) -> ConfigMap {
    ConfigMap {
        metadata: meta(
            stack,
            component,
            child_name(&stack.name, component, Some(suffix)),
        ),
        data: Some(files),
        ..ConfigMap::default()
    }
}

/// The ServiceAccount of a component's pods. Tokens are not mounted unless the
/// component talks to the Kubernetes API.
pub fn service_account(
    stack: &ValidatedStack,
    component: Component,
    automount: bool,
) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(stack, component, child_name(&stack.name, component, None)),
        automount_service_account_token: Some(automount),
        ..ServiceAccount::default()
    }
}

/// The container of a collector-image component (the gateway, the node agent,
/// the cluster collector): its config from `/conf/config.yaml`, `GOMEMLIMIT`
/// from its memory limit (`memory_limit`, bytes) followed by `env`, `ports`
/// followed by `metrics` and `health`, probes on the health_check extension,
/// and the restricted security context.
pub fn collector_container(
    stack: &ValidatedStack,
    component: Component,
    name: &str,
    memory_limit: u128,
    env: Vec<EnvVar>,
    ports: Vec<ContainerPort>,
    mounts: Vec<VolumeMount>,
) -> Container {
    let resolved = stack.component(component);
    let gomemlimit = EnvVar {
        name: "GOMEMLIMIT".into(),
        value: Some(format!(
            "{}MiB",
            crate::render::otelcol::memory_limit_mib(memory_limit)
        )),
        ..EnvVar::default()
    };
    let mut all_ports = ports;
    all_ports.push(container_port(
        "metrics",
        crate::model::ports::COLLECTOR_METRICS,
    ));
    all_ports.push(container_port(
        "health",
        crate::model::ports::COLLECTOR_HEALTH,
    ));
    secured(Container {
        name: name.into(),
        image: Some(resolved.image.clone()),
        args: Some(super::overrides::with_extra_args(
            stack,
            component,
            vec!["--config=/conf/config.yaml".into()],
        )),
        env: Some(std::iter::once(gomemlimit).chain(env).collect()),
        ports: Some(all_ports),
        liveness_probe: Some(http_probe("/", "health", 10, 10)),
        readiness_probe: Some(http_probe("/", "health", 2, 5)),
        resources: Some(resolved.resources.clone()),
        volume_mounts: Some(mounts),
        ..Container::default()
    })
}

/// A RoleBinding named `name` in the stack's namespace that gives the
/// component's ServiceAccount the `kind` (`Role` or `ClusterRole`) `role`.
pub fn role_binding(
    stack: &ValidatedStack,
    component: Component,
    name: String,
    kind: &str,
    role: &str,
) -> RoleBinding {
    RoleBinding {
        metadata: meta(stack, component, name),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: kind.into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: child_name(&stack.name, component, None),
            namespace: Some(stack.namespace.clone()),
            ..Subject::default()
        }]),
    }
}

/// A ClusterIP Service exposing the component's named TCP ports.
pub fn service(stack: &ValidatedStack, component: Component) -> Service {
    Service {
        metadata: meta(stack, component, child_name(&stack.name, component, None)),
        spec: Some(ServiceSpec {
            selector: Some(selector_labels(&stack.name, component)),
            ports: Some(
                component
                    .service_ports()
                    .iter()
                    .map(|(name, port)| service_port(name, *port))
                    .collect(),
            ),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// A TCP Service port forwarding to the container port of the same name, with
/// the application protocol its name tells.
pub fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.into()),
        port,
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some("TCP".into()),
        app_protocol: app_protocol(name),
        ..ServicePort::default()
    }
}

fn app_protocol(port_name: &str) -> Option<String> {
    match port_name {
        "otlp-grpc" | "otlp-node" | "grpc" => Some("grpc".into()),
        "http" | "otlp-http" | "metrics" => Some("http".into()),
        _ => None,
    }
}

/// Pod Security Standard "restricted" at the pod level, running as `uid`.
pub fn pod_security(uid: i64) -> PodSecurityContext {
    PodSecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        fs_group: Some(uid),
        fs_group_change_policy: Some("OnRootMismatch".into()),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..PodSecurityContext::default()
    }
}

/// Pod Security Standard "restricted" at the container level, read-only root.
pub fn container_security() -> SecurityContext {
    SecurityContext {
        allow_privilege_escalation: Some(false),
        read_only_root_filesystem: Some(true),
        run_as_non_root: Some(true),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".into()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(SeccompProfile {
            type_: "RuntimeDefault".into(),
            ..SeccompProfile::default()
        }),
        ..SecurityContext::default()
    }
}

/// An HTTP GET probe on a named container port.
pub fn http_probe(path: &str, port: &str, initial_delay: i32, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some(path.into()),
            port: IntOrString::String(port.into()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(period),
        timeout_seconds: Some(5),
        failure_threshold: Some(6),
        ..Probe::default()
    }
}

/// A volume from a ConfigMap.
pub fn config_volume(name: &str, config_map: &str) -> Volume {
    Volume {
        name: name.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.into(),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A scratch volume (for `/tmp` under a read-only root filesystem).
pub fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// The `data` volumeClaimTemplate of a StatefulSet, sized as the spec says.
pub fn data_claim(stack: &ValidatedStack, component: Component) -> PersistentVolumeClaim {
    let size = stack
        .component(component)
        .volume
        .as_ref()
        .map(|v| v.quantity.clone())
        .unwrap_or_default();
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some("data".into()),
            labels: Some(labels(&stack.name, component)),
            ..ObjectMeta::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: stack.spec.storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), Quantity(size))])),
                ..VolumeResourceRequirements::default()
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        ..PersistentVolumeClaim::default()
    }
}

/// Adds the restricted security context to a container and returns it.
pub fn secured(mut c: Container) -> Container {
    c.security_context = Some(container_security());
    c.image_pull_policy = Some("IfNotPresent".into());
    c.termination_message_policy = Some("FallbackToLogsOnError".into());
    c
}

/// An environment variable read from key `key` of Secret `secret`.
pub fn env_from_secret(name: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value_from: Some(k8s_openapi::api::core::v1::EnvVarSource {
            secret_key_ref: Some(k8s_openapi::api::core::v1::SecretKeySelector {
                name: secret.into(),
                key: key.into(),
                optional: None,
            }),
            ..Default::default()
        }),
        ..EnvVar::default()
    }
}

/// A volume `name` holding one key of a Secret as a file of the same name
/// (a whole volume, not subPath: the kubelet writes a changed Secret into it).
pub fn secret_key_volume(name: &str, secret: &str, key: &str) -> Volume {
    Volume {
        name: name.into(),
        secret: Some(k8s_openapi::api::core::v1::SecretVolumeSource {
            secret_name: Some(secret.into()),
            items: Some(vec![k8s_openapi::api::core::v1::KeyToPath {
                key: key.into(),
                path: key.into(),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Volume::default()
    }
}

/// A named TCP container port.
pub fn container_port(name: &str, port: i32) -> ContainerPort {
    ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some("TCP".into()),
        ..ContainerPort::default()
    }
}

/// A volume mount.
pub fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}
