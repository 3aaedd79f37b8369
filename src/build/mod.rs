//! The build step: a `ValidatedStack` and what the API server serves in, the typed
//! bundle of every child object out.
//!
//! Pure: never takes a Kubernetes client and never fails (everything that could fail
//! was checked by `crate::validate`). What the server cannot take is decided here,
//! not by the applier: without `autoscaling/v2` the collector runs at its minimum
//! replicas and gets no autoscaler, without `policy/v1` no disruption budget, and
//! fields an old server rejects are left out. One file per component; this file
//! owns the bundle and the dispatch over `Component::ALL`.

pub mod cluster;
mod cluster_collector;
mod collector;
mod common;
pub mod custom;
pub mod grafana;
mod loki;
mod network;
pub mod node_agent;
mod object_store;
pub mod overrides;
mod pod;
mod prometheus;
mod prometheus_ha;
mod stateful;
mod tempo;

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};

pub use crate::digest::{sha256_hex, sha256_short};
pub use prometheus::Monitors;
pub use prometheus::discovery as prometheus_discovery;
pub use prometheus::monitors as prometheus_monitors;

use crate::api::reason;
use crate::model::{Capabilities, Component, ValidatedStack};

/// Every child object of one stack, by kind, in the order they are applied.
///
/// The applier destructures this struct field by field, so adding a kind here
/// without applying it does not compile.
#[derive(Clone, Debug, Default)]
pub struct Resources {
    /// ServiceAccounts of the workloads.
    pub service_accounts: Vec<ServiceAccount>,
    /// Roles (Prometheus's pod discovery in the stack's namespace).
    pub roles: Vec<Role>,
    /// RoleBindings of those Roles, and of the chart's Lease ClusterRole for the
    /// cluster collector in the stack's namespace.
    pub role_bindings: Vec<RoleBinding>,
    /// ClusterRoleBindings of the chart's ClusterRoles (cluster-scoped, no owner).
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// Rendered configuration files.
    pub config_maps: Vec<ConfigMap>,
    /// Secrets sextant creates once and never overwrites (the generated Grafana admin).
    pub generated_secrets: Vec<Secret>,
    /// Secrets sextant renders on every pass and applies like ConfigMaps (Grafana's
    /// contact points, which hold the values of the Secrets they reference).
    pub rendered_secrets: Vec<Secret>,
    /// Services in front of every workload.
    pub services: Vec<Service>,
    /// The collector, the cluster collector and Grafana.
    pub deployments: Vec<Deployment>,
    /// Prometheus, Tempo and Loki.
    pub stateful_sets: Vec<StatefulSet>,
    /// The node agent.
    pub daemon_sets: Vec<DaemonSet>,
    /// The collector's autoscaler (autoscaling/v2).
    pub horizontal_pod_autoscalers: Vec<HorizontalPodAutoscaler>,
    /// The collector's disruption budget (policy/v1).
    pub pod_disruption_budgets: Vec<PodDisruptionBudget>,
    /// One NetworkPolicy per component (`spec.networkPolicies`).
    pub network_policies: Vec<NetworkPolicy>,
    /// Grafana's Ingress (`spec.grafana.ingress`).
    pub ingresses: Vec<Ingress>,
    /// Claims sextant creates itself (Grafana's data, `spec.grafana.storage`):
    /// created and grown, never pruned, owned by no one (the finalizer deletes
    /// them under `deletionPolicy: Delete`). The backends' claims come from
    /// their StatefulSets' templates instead.
    pub persistent_volume_claims: Vec<PersistentVolumeClaim>,
    /// Grafana's HTTPRoute (`spec.grafana.httpRoute`), where the Gateway API
    /// is served.
    pub http_routes: Vec<custom::HttpRoute>,
    /// The collector's Certificate (`spec.collector.tls.certificate`), where
    /// cert-manager is installed.
    pub certificates: Vec<custom::Certificate>,
}

impl Resources {
    fn extend(&mut self, other: Resources) {
        let Resources {
            service_accounts,
            roles,
            role_bindings,
            cluster_role_bindings,
            config_maps,
            generated_secrets,
            rendered_secrets,
            services,
            deployments,
            stateful_sets,
            daemon_sets,
            horizontal_pod_autoscalers,
            pod_disruption_budgets,
            network_policies,
            ingresses,
            persistent_volume_claims,
            http_routes,
            certificates,
        } = other;
        self.service_accounts.extend(service_accounts);
        self.roles.extend(roles);
        self.role_bindings.extend(role_bindings);
        self.cluster_role_bindings.extend(cluster_role_bindings);
        self.config_maps.extend(config_maps);
        self.generated_secrets.extend(generated_secrets);
        self.rendered_secrets.extend(rendered_secrets);
        self.services.extend(services);
        self.deployments.extend(deployments);
        self.stateful_sets.extend(stateful_sets);
        self.daemon_sets.extend(daemon_sets);
        self.horizontal_pod_autoscalers
            .extend(horizontal_pod_autoscalers);
        self.pod_disruption_budgets.extend(pod_disruption_budgets);
        self.network_policies.extend(network_policies);
        self.ingresses.extend(ingresses);
        self.persistent_volume_claims
            .extend(persistent_volume_claims);
        self.http_routes.extend(http_routes);
        self.certificates.extend(certificates);
    }

    /// Every object as JSON, in apply order: identity and config before workloads.
    /// Keys come out sorted at every depth, so output and applied-hashes are stable:
    /// serde_json's map is a BTreeMap while its `preserve_order` feature is off,
    /// which `tests/render.rs` checks.
    pub fn to_values(&self) -> Vec<serde_json::Value> {
        fn push<T: serde::Serialize + kube::Resource<DynamicType = ()>>(
            out: &mut Vec<serde_json::Value>,
            items: &[T],
        ) {
            for item in items {
                let mut v = serde_json::to_value(item).unwrap_or_default();
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("apiVersion".into(), T::api_version(&()).into());
                    obj.insert("kind".into(), T::kind(&()).into());
                }
                out.push(v);
            }
        }
        let Resources {
            service_accounts,
            roles,
            role_bindings,
            cluster_role_bindings,
            config_maps,
            generated_secrets,
            rendered_secrets,
            services,
            deployments,
            stateful_sets,
            daemon_sets,
            horizontal_pod_autoscalers,
            pod_disruption_budgets,
            network_policies,
            ingresses,
            persistent_volume_claims,
            http_routes,
            certificates,
        } = self;
        let mut out = Vec::new();
        push(&mut out, network_policies);
        push(&mut out, persistent_volume_claims);
        push(&mut out, service_accounts);
        push(&mut out, roles);
        push(&mut out, role_bindings);
        push(&mut out, cluster_role_bindings);
        push(&mut out, config_maps);
        push(&mut out, generated_secrets);
        push(&mut out, rendered_secrets);
        push(&mut out, services);
        push(&mut out, stateful_sets);
        push(&mut out, deployments);
        push(&mut out, daemon_sets);
        push(&mut out, horizontal_pod_autoscalers);
        push(&mut out, pod_disruption_budgets);
        push(&mut out, ingresses);
        push(&mut out, http_routes);
        push(&mut out, certificates);
        out
    }
}

/// Builds every child object, then refuses what the stack's `configOverrides`
/// and `extraArgs` break in them (`overrides::check`): the one build step that
/// can fail, and only for a stack with overrides. What the controller and the
/// CLI apply or print.
pub fn checked(
    stack: &ValidatedStack,
    caps: &Capabilities,
) -> Result<Resources, crate::validate::ValidationErrors> {
    let r = build(stack, caps);
    let errors = overrides::check(stack, &r);
    if errors.is_empty() {
        Ok(r)
    } else {
        Err(crate::validate::ValidationErrors(errors))
    }
}

/// Builds every child object of a validated stack for a server with `caps`.
/// Disabled components produce none.
pub fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    let mut out = Resources::default();
    for c in Component::ALL {
        if !stack.enabled(c) {
            continue;
        }
        let mut built = match c {
            Component::Collector => collector::build(stack, caps),
            Component::NodeAgent => node_agent::build(stack, caps),
            Component::ClusterCollector => cluster_collector::build(stack, caps),
            Component::Prometheus => prometheus::build(stack, caps),
            Component::Tempo => tempo::build(stack, caps),
            Component::Loki => loki::build(stack, caps),
            Component::Grafana => grafana::build(stack, caps),
        };
        pod::apply(stack, c, &mut built);
        out.extend(built);
    }
    out.cluster_role_bindings = cluster::bindings(stack, caps);
    out.network_policies = network::policies(stack, caps);
    out
}

/// What a component runs without because the server does not serve an API
/// (reason `APIUnavailable`) or the operator was not granted a ClusterRole
/// (`NotGranted`): per component the reason and one message, for its condition
/// (empty on a current server with cluster-wide collection).
pub fn api_unavailable(
    stack: &ValidatedStack,
    caps: &Capabilities,
) -> Vec<(Component, &'static str, String)> {
    Component::ALL
        .into_iter()
        .filter(|c| stack.enabled(*c))
        .filter_map(|c| {
            let (why, missing) = match c {
                Component::Collector => collector::api_unavailable(stack, caps),
                Component::NodeAgent | Component::ClusterCollector => (
                    reason::NOT_GRANTED,
                    cluster::not_granted(caps, c).into_iter().collect(),
                ),
                Component::Prometheus => (
                    reason::NOT_GRANTED,
                    prometheus::not_granted(stack, caps).into_iter().collect(),
                ),
                Component::Grafana => (
                    reason::API_UNAVAILABLE,
                    grafana::api_unavailable(stack, caps),
                ),
                Component::Tempo | Component::Loki => (reason::API_UNAVAILABLE, Vec::new()),
            };
            (!missing.is_empty()).then(|| (c, why, missing.join("; ")))
        })
        .collect()
}
