//! Prometheus's children: ServiceAccount with a namespaced Role to discover the
//! stack's pods, config, Service and StatefulSet with its data volume; and how
//! far its discovery of the cluster's annotated workloads reaches with what the
//! install grants (the cluster-wide grant is a ClusterRoleBinding of
//! `super::cluster`).

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Container;
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};

use super::Resources;
use super::common::*;
use super::stateful::{DEFAULT_TERMINATION_GRACE_SECONDS, StatefulWorkload, stateful_set};
use crate::model::{Capabilities, ports};
use crate::render::{prometheus, to_yaml};

const C: Component = Component::Prometheus;

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    let resolved = stack.component(C);
    let name = child_name(&stack.name, C, None);
    let cm = config_map(
        stack,
        C,
        "config",
        BTreeMap::from([(
            "prometheus.yml".into(),
            to_yaml(&prometheus::render(stack, discovery(stack, caps).as_ref())),
        )]),
    );
    let args = prometheus::args(stack);
    let hash = config_hash(&[&cm], &[]);
    let container = secured(Container {
        name: "prometheus".into(),
        image: Some(resolved.image.clone()),
        args: Some(args),
        ports: Some(vec![container_port("http", ports::PROMETHEUS)]),
        liveness_probe: Some(http_probe("/-/healthy", "http", 30, 15)),
        readiness_probe: Some(http_probe("/-/ready", "http", 5, 5)),
        resources: Some(resolved.resources.clone()),
        volume_mounts: Some(vec![
            mount("config", "/etc/prometheus", true),
            mount("data", "/prometheus", false),
        ]),
        ..Container::default()
    });
    let sts: StatefulSet = stateful_set(
        stack,
        caps,
        StatefulWorkload {
            component: C,
            container,
            config_map: cm.metadata.name.clone().unwrap_or_default(),
            config_hash: hash,
            termination_grace_seconds: DEFAULT_TERMINATION_GRACE_SECONDS,
            automount_token: true,
        },
    );

    let role = Role {
        metadata: meta(stack, C, name.clone()),
        rules: Some(vec![PolicyRule {
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".into()]),
            verbs: vec!["get".into(), "list".into(), "watch".into()],
            ..PolicyRule::default()
        }]),
    };
    let binding = RoleBinding {
        metadata: meta(stack, C, name.clone()),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "Role".into(),
            name: name.clone(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".into(),
            name: name.clone(),
            namespace: Some(stack.namespace.clone()),
            ..Subject::default()
        }]),
    };

    Resources {
        service_accounts: vec![service_account(stack, C, true)],
        roles: vec![role],
        role_bindings: vec![binding],
        config_maps: vec![cm],
        services: vec![service(stack, C)],
        stateful_sets: vec![sts],
        ..Resources::default()
    }
}

/// Where Prometheus discovers annotated workloads: with the chart's discovery
/// ClusterRole bound, pods and Services in every namespace (or those listed);
/// without it, through its own Role, pods in the stack's namespace only (if that
/// is listed, or none are). `None`: no discovery.
pub fn discovery(stack: &ValidatedStack, caps: &Capabilities) -> Option<prometheus::Discovery> {
    let spec = &stack.spec.prometheus.discovery;
    if !spec.annotations {
        return None;
    }
    if caps.cluster_roles.is_some() {
        return Some(prometheus::Discovery {
            namespaces: spec.namespaces.clone(),
            service_role: Some(if caps.endpoint_slices_v1 {
                "endpointslice"
            } else {
                "endpoints"
            }),
        });
    }
    (spec.namespaces.is_empty() || spec.namespaces.contains(&stack.namespace)).then(|| {
        prometheus::Discovery {
            namespaces: vec![stack.namespace.clone()],
            service_role: None,
        }
    })
}

/// What Prometheus's discovery leaves out because the install grants no
/// cluster-wide reads, for its condition (reason `NotGranted`).
pub(super) fn not_granted(stack: &ValidatedStack, caps: &Capabilities) -> Option<String> {
    let spec = &stack.spec.prometheus.discovery;
    (spec.annotations && caps.cluster_roles.is_none()).then(|| {
        let others: Vec<&str> = spec
            .namespaces
            .iter()
            .filter(|n| **n != stack.namespace)
            .map(String::as_str)
            .collect();
        let mut m = "annotated workloads are discovered only among the pods of the stack's own namespace (no Services".to_string();
        if !others.is_empty() {
            m.push_str(&format!(", not in {}", others.join(", ")));
        }
        m.push_str("): the operator was installed without cluster-wide collection, so it has no ClusterRole to bind for Prometheus");
        m
    })
}
