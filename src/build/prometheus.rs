//! Prometheus's children: ServiceAccount with a namespaced Role to discover the
//! stack's pods, config, Service and StatefulSet with its data volume; and how
//! far its discovery of the cluster's annotated workloads reaches with what the
//! install grants (the cluster-wide grant is a ClusterRoleBinding of
//! `super::cluster`). Also what becomes of the prometheus-operator monitors the
//! stack selects: their scrape jobs, and the Secret holding the credentials and
//! TLS files they reference (`crate::render::monitors` translates them).

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::{Container, Secret, SecretVolumeSource, Volume};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role};

use super::Resources;
use super::common::*;
use super::stateful::{DEFAULT_TERMINATION_GRACE_SECONDS, StatefulWorkload, stateful_set};
use crate::model::{Capabilities, ports};
use crate::render::monitors::{self, Translation};
use crate::render::{prometheus, to_yaml};

const C: Component = Component::Prometheus;

/// Where Prometheus reads the Secret and ConfigMap values the monitors
/// reference (`credentials_file`, `tls_config.ca_file`, ...): a Secret volume,
/// which the kubelet refreshes in place, and Prometheus reads those files on
/// every scrape, so a rotated credential needs no restart. Not under
/// `/etc/prometheus`: a mount point inside the read-only ConfigMap volume would
/// have to be created in it.
pub const MONITOR_FILES_DIR: &str = "/etc/prometheus-monitor-files";
/// The suffix of that Secret's name.
const MONITOR_FILES_SUFFIX: &str = "monitor-files";

/// What becomes of the prometheus-operator monitors of a stack.
#[derive(Debug, Clone, PartialEq)]
pub enum Monitors {
    /// `prometheus.monitorSelector` is unset (or Prometheus is disabled).
    NotSelected,
    /// The API server serves neither ServiceMonitors nor PodMonitors.
    NotServed,
    /// The install grants no cluster-wide collection: Prometheus could not
    /// discover the monitors' endpoints, so none are read.
    NotGranted,
    /// No cluster was read (`sextant render`).
    NotRead,
    /// Translated into scrape jobs, or listed as untranslatable.
    Translated(Translation),
}

/// Translates the monitors the controller read, as far as the cluster serves
/// and grants them.
pub fn monitors(stack: &ValidatedStack, caps: &Capabilities) -> Monitors {
    let p = &stack.spec.prometheus;
    if !p.enabled || p.monitor_selector.is_none() {
        return Monitors::NotSelected;
    }
    if !(caps.service_monitors || caps.pod_monitors) {
        return Monitors::NotServed;
    }
    if caps.cluster_roles.is_none() {
        return Monitors::NotGranted;
    }
    let Some(read) = &stack.monitors else {
        return Monitors::NotRead;
    };
    Monitors::Translated(monitors::translate(
        &read.objects,
        &read.referenced,
        &monitors::Options {
            service_role: service_role(caps),
            files_dir: MONITOR_FILES_DIR,
            limits: prometheus::limits(stack),
            scrape_interval: stack.scrape_interval,
        },
    ))
}

/// The `kubernetes_sd_configs` role of Service endpoints on this server.
fn service_role(caps: &Capabilities) -> &'static str {
    if caps.endpoint_slices_v1 {
        "endpointslice"
    } else {
        "endpoints"
    }
}

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    let resolved = stack.component(C);
    let name = child_name(&stack.name, C, None);
    let (jobs, files) = match monitors(stack, caps) {
        Monitors::Translated(t) => (t.jobs, t.files),
        _ => Default::default(),
    };
    let mut config_files = BTreeMap::from([(
        "prometheus.yml".into(),
        super::overrides::config_text(
            stack,
            C,
            &prometheus::render(stack, caps, discovery(stack, caps).as_ref(), &jobs),
        ),
    )]);
    // In the config volume: a change rolls the pod with the config hash, and
    // Prometheus loads the file at start (`rule_files` of prometheus.yml).
    if let Some(rules) = prometheus::recording_rules(stack) {
        config_files.insert(prometheus::RECORDING_RULES_FILE.into(), to_yaml(&rules));
    }
    let cm = config_map(stack, C, "config", config_files);
    // Only monitors that reference a Secret or ConfigMap need the volume; its
    // values are not in the config hash (the files are re-read, not restarted on).
    let monitor_files = (!files.is_empty()).then(|| Secret {
        metadata: meta(
            stack,
            C,
            child_name(&stack.name, C, Some(MONITOR_FILES_SUFFIX)),
        ),
        type_: Some("Opaque".into()),
        // `data`, as the API server returns it, for the drift check.
        data: Some(
            files
                .into_iter()
                .map(|(k, v)| (k, ByteString(v.into_bytes())))
                .collect(),
        ),
        ..Secret::default()
    });
    let args = super::overrides::with_extra_args(stack, C, prometheus::args(stack));
    let hash = config_hash(&[&cm], &[]);
    let container = secured(Container {
        name: "prometheus".into(),
        image: Some(resolved.image.clone()),
        args: Some(args),
        ports: Some(vec![container_port("http", ports::PROMETHEUS)]),
        liveness_probe: Some(http_probe("/-/healthy", "http", 30, 15)),
        readiness_probe: Some(http_probe("/-/ready", "http", 5, 5)),
        resources: Some(resolved.resources.clone()),
        volume_mounts: Some(
            [
                mount("config", "/etc/prometheus", true),
                mount("data", "/prometheus", false),
            ]
            .into_iter()
            .chain(
                monitor_files
                    .as_ref()
                    .map(|_| mount(MONITOR_FILES_SUFFIX, MONITOR_FILES_DIR, true)),
            )
            .collect(),
        ),
        ..Container::default()
    });
    let mut sts: StatefulSet = stateful_set(
        stack,
        caps,
        StatefulWorkload {
            component: C,
            container,
            config_map: cm.metadata.name.clone().unwrap_or_default(),
            config_hash: hash,
            termination_grace_seconds: DEFAULT_TERMINATION_GRACE_SECONDS,
            automount_token: true,
            extra_volumes: monitor_files
                .iter()
                .map(|secret| Volume {
                    name: MONITOR_FILES_SUFFIX.into(),
                    secret: Some(SecretVolumeSource {
                        secret_name: secret.metadata.name.clone(),
                        ..SecretVolumeSource::default()
                    }),
                    ..Volume::default()
                })
                .collect(),
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
    let binding = role_binding(stack, C, name.clone(), "Role", &name);

    let mut r = Resources {
        service_accounts: vec![service_account(stack, C, true)],
        roles: vec![role],
        role_bindings: vec![binding],
        config_maps: vec![cm],
        rendered_secrets: monitor_files.into_iter().collect(),
        services: vec![service(stack, C)],
        ..Resources::default()
    };
    if stack.prometheus_ha() {
        super::prometheus_ha::add(stack, caps, &mut sts, &mut r);
    }
    r.stateful_sets.push(sts);
    r
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
            service_role: Some(service_role(caps)),
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
