//! The cluster collector's children: ServiceAccount, the RoleBinding of its
//! Lease role in the stack's namespace, config and a single-replica Deployment.
//! Built only where the operator may bind the cluster collector's ClusterRoles
//! (`super::cluster`): without them it could read nothing.
//!
//! One pod: the Deployment recreates it (`Recreate`: the old pod is gone
//! before the new one starts) and the collector's `k8s_leader_elector` holds a
//! Lease, so that a pod that lost its node's connection while a replacement
//! starts stops reporting once the Lease is lost (`crate::render::cluster_collector`).
//! Pod Security "restricted", like the gateway collector.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{PodSpec, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;

use super::Resources;
use super::common::*;
use crate::model::Capabilities;
use crate::render::cluster_collector as render;

const C: Component = Component::ClusterCollector;

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    let Some(roles) = caps.cluster_roles.as_ref().filter(|_| caps.runs(stack, C)) else {
        return Resources::default();
    };
    let memory_limit = stack.cluster_collector_memory_limit;
    let cm = config_map(
        stack,
        C,
        "config",
        BTreeMap::from([(
            "config.yaml".into(),
            super::overrides::config_text(stack, C, &render::render(stack, caps, memory_limit)),
        )]),
    );
    let hash = config_hash(&[&cm], &[]);
    let name = child_name(&stack.name, C, None);

    let container = collector_container(
        stack,
        C,
        "collector",
        memory_limit,
        Vec::new(),
        Vec::new(),
        vec![mount("config", "/conf", true)],
    );

    let deployment = Deployment {
        metadata: meta(stack, C, name.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(stack.min_pods(C)),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&stack.name, C)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                rolling_update: None,
            }),
            template: PodTemplateSpec {
                metadata: Some(pod_meta(stack, C, hash)),
                spec: Some(PodSpec {
                    service_account_name: Some(name.clone()),
                    // The receivers watch the API server with the pod's token.
                    automount_service_account_token: Some(true),
                    security_context: Some(pod_security(C.uid())),
                    containers: vec![container],
                    volumes: Some(vec![config_volume(
                        "config",
                        &child_name(&stack.name, C, Some("config")),
                    )]),
                    termination_grace_period_seconds: Some(30),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };

    // The chart's Lease ClusterRole, bound in this namespace only: the elector
    // reads, creates and renews its Lease here and nowhere else.
    let lease_binding = role_binding(
        stack,
        C,
        child_name(&stack.name, C, Some("lease")),
        "ClusterRole",
        &roles.lease,
    );

    Resources {
        service_accounts: vec![service_account(stack, C, true)],
        role_bindings: vec![lease_binding],
        config_maps: vec![cm],
        deployments: vec![deployment],
        ..Resources::default()
    }
}
