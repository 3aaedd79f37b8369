//! Prometheus's children: ServiceAccount with a namespaced Role to discover the
//! stack's pods, config, Service and StatefulSet with its data volume.

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
        BTreeMap::from([("prometheus.yml".into(), to_yaml(&prometheus::render(stack)))]),
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
