//! The node agent's children: ServiceAccount, config and the DaemonSet. Built
//! only where the operator may bind the agent's ClusterRoles (`super::cluster`):
//! without them the agent could read neither the kubelet nor the pods' metadata.
//!
//! The only pod sextant runs outside Pod Security "restricted", and the reason
//! is in each exception (docs/node-agent.md lists them): it runs as root (UID 0
//! owns the node's log files and the directory of its read positions) with every
//! capability dropped, no privilege escalation and a read-only root filesystem;
//! it mounts hostPath volumes (`/var/log/pods` and the Docker containers
//! directory read-only, one directory of its own under `/var/lib/sextant`
//! read-write, and with host metrics the host's root read-only), which
//! "baseline" forbids. Nothing else is relaxed: no host network, PID or IPC, no
//! privileged container, no added capability.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    DaemonSet, DaemonSetSpec, DaemonSetUpdateStrategy, RollingUpdateDaemonSet,
};
use k8s_openapi::api::core::v1::{
    EnvVar, EnvVarSource, HostPathVolumeSource, ObjectFieldSelector, PodSecurityContext, PodSpec,
    PodTemplateSpec, SeccompProfile, Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Resources;
use super::common::*;
use crate::model::Capabilities;
use crate::render::node_agent::{
    self as agent, CONTAINER, HOST_ROOT, POD_LOGS, STATE_DIR, env_fields,
};

const C: Component = Component::NodeAgent;

/// Where a Docker runtime keeps the files the pod log files link to.
const DOCKER_CONTAINERS: &str = "/var/lib/docker/containers";

/// The host directory of one stack's agent: read positions and the export queue
/// survive a restart of the pod, and two stacks' agents never share one.
pub fn state_host_dir(stack: &ValidatedStack) -> String {
    format!(
        "/var/lib/sextant/{}/{}/{}",
        stack.namespace,
        stack.name,
        C.name()
    )
}

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    if !caps.runs(stack, C) {
        return Resources::default();
    }
    let spec = &stack.spec.node_agent;
    let memory_limit = stack.node_agent_memory_limit;
    let cm = config_map(
        stack,
        C,
        "config",
        BTreeMap::from([(
            "config.yaml".into(),
            super::overrides::config_text(stack, C, &agent::render(stack, memory_limit)),
        )]),
    );
    let hash = config_hash(&[&cm], &[]);
    let name = child_name(&stack.name, C, None);

    let env = env_fields().map(|(var, field)| EnvVar {
        name: var.into(),
        value_from: Some(EnvVarSource {
            field_ref: Some(ObjectFieldSelector {
                field_path: field.into(),
                ..ObjectFieldSelector::default()
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    });

    let mut volumes = vec![
        config_volume("config", &child_name(&stack.name, C, Some("config"))),
        host_path("state", &state_host_dir(stack), "DirectoryOrCreate"),
    ];
    let mut mounts = vec![
        mount("config", "/conf", true),
        mount("state", STATE_DIR, false),
    ];
    if agent::sends_logs(stack) {
        // Type "": the kubelet checks nothing, so a node whose runtime is not
        // Docker starts the pod too.
        volumes.push(host_path("pods", POD_LOGS, ""));
        volumes.push(host_path("docker", DOCKER_CONTAINERS, ""));
        mounts.push(mount("pods", POD_LOGS, true));
        mounts.push(mount("docker", DOCKER_CONTAINERS, true));
    }
    if agent::sends_metrics(stack) && spec.host_metrics.enabled {
        volumes.push(host_path("hostfs", "/", "Directory"));
        mounts.push(VolumeMount {
            mount_propagation: Some("HostToContainer".into()),
            ..mount("hostfs", HOST_ROOT, true)
        });
    }

    let mut container = collector_container(
        stack,
        C,
        CONTAINER,
        memory_limit,
        env.into(),
        Vec::new(),
        mounts,
    );
    if let Some(security) = container.security_context.as_mut() {
        security.run_as_non_root = Some(false);
    }

    let tolerations = spec.tolerations.clone().unwrap_or_else(|| {
        vec![Toleration {
            operator: Some("Exists".into()),
            ..Toleration::default()
        }]
    });
    let daemon_set = DaemonSet {
        metadata: meta(stack, C, name.clone()),
        spec: Some(DaemonSetSpec {
            selector: LabelSelector {
                match_labels: Some(selector_labels(&stack.name, C)),
                ..LabelSelector::default()
            },
            update_strategy: Some(DaemonSetUpdateStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDaemonSet {
                    max_unavailable: Some(IntOrString::Int(1)),
                    ..RollingUpdateDaemonSet::default()
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(pod_meta(stack, C, hash)),
                spec: Some(PodSpec {
                    service_account_name: Some(name),
                    automount_service_account_token: Some(true),
                    security_context: Some(PodSecurityContext {
                        run_as_non_root: Some(false),
                        run_as_user: Some(C.uid()),
                        run_as_group: Some(C.uid()),
                        seccomp_profile: Some(SeccompProfile {
                            type_: "RuntimeDefault".into(),
                            ..SeccompProfile::default()
                        }),
                        ..PodSecurityContext::default()
                    }),
                    containers: vec![container],
                    volumes: Some(volumes),
                    tolerations: (!tolerations.is_empty()).then_some(tolerations),
                    priority_class_name: spec.priority_class_name.clone(),
                    termination_grace_period_seconds: Some(30),
                    ..PodSpec::default()
                }),
            },
            ..DaemonSetSpec::default()
        }),
        ..DaemonSet::default()
    };

    Resources {
        service_accounts: vec![service_account(stack, C, true)],
        config_maps: vec![cm],
        daemon_sets: vec![daemon_set],
        ..Resources::default()
    }
}

fn host_path(name: &str, path: &str, type_: &str) -> Volume {
    Volume {
        name: name.into(),
        host_path: Some(HostPathVolumeSource {
            path: path.into(),
            type_: (!type_.is_empty()).then(|| type_.into()),
        }),
        ..Volume::default()
    }
}
