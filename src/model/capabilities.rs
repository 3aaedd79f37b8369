//! What the API server serves, as an input of the build step: on a server without
//! `autoscaling/v2` the collector runs at its minimum replicas and gets no
//! autoscaler, without `policy/v1` it gets no disruption budget, and fields an
//! older server does not know are left out of the objects. The operator finds these
//! by discovery at start; `sextant render --kube-version` states them.
//!
//! Whether prometheus-operator's ServiceMonitor and PodMonitor CRDs are installed
//! is found the same way, once at start (installing them later takes an operator
//! restart; `sextant render` assumes they are not).
//!
//! Also what the operator was granted: the ClusterRoles it may bind for the
//! components that read the cluster (the node agent, the collector's Kubernetes
//! metadata). Without them (a namespaced install) those parts are not built.

use super::{Component, ValidatedStack};

/// The ClusterRoles the Helm chart ships for the components that read the whole
/// cluster, and that the operator may bind (`bind` on exactly these names).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterRoles {
    /// The node agent's: `nodes/stats` (the kubelet's summary API).
    pub node_agent: String,
    /// Kubernetes metadata for the collectors: pods and namespaces.
    pub metadata: String,
    /// Prometheus's scrape discovery in every namespace: pods, Services,
    /// Endpoints and EndpointSlices.
    pub discovery: String,
    /// The cluster collector's: read access to nodes, namespaces, workloads,
    /// pods and events in every namespace.
    pub cluster_collector: String,
    /// Leases, bound by a RoleBinding in the stack's namespace only: the cluster
    /// collector's leader election.
    pub lease: String,
}

impl ClusterRoles {
    /// The roles the chart names `<prefix>-node-agent`, `<prefix>-k8s-metadata`,
    /// `<prefix>-prometheus-discovery`, `<prefix>-cluster-collector` and
    /// `<prefix>-cluster-collector-lease` (the prefix is the release's full name,
    /// `sextant` by default).
    pub fn with_prefix(prefix: &str) -> Self {
        Self {
            node_agent: format!("{prefix}-node-agent"),
            metadata: format!("{prefix}-k8s-metadata"),
            discovery: format!("{prefix}-prometheus-discovery"),
            cluster_collector: format!("{prefix}-cluster-collector"),
            lease: format!("{prefix}-cluster-collector-lease"),
        }
    }
}

/// The prefix of the chart's ClusterRoles when the release is called `sextant`.
pub const DEFAULT_CLUSTER_ROLE_PREFIX: &str = "sextant";

/// What the API server serves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Capabilities {
    /// The server's minor version (20 for Kubernetes 1.20).
    pub server_minor: u32,
    /// `autoscaling/v2` (HorizontalPodAutoscaler) is served.
    pub autoscaling_v2: bool,
    /// `policy/v1` (PodDisruptionBudget) is served.
    pub policy_v1: bool,
    /// `discovery.k8s.io/v1` (EndpointSlice) is served: Prometheus 3.5 discovers
    /// Service endpoints through it, else through core/v1 Endpoints.
    pub endpoint_slices_v1: bool,
    /// prometheus-operator's `servicemonitors` (monitoring.coreos.com/v1) are
    /// served: Prometheus's job list may include the ones a stack selects.
    pub service_monitors: bool,
    /// prometheus-operator's `podmonitors` (monitoring.coreos.com/v1) are served.
    pub pod_monitors: bool,
    /// The Gateway API's `httproutes` (gateway.networking.k8s.io/v1) are served.
    pub http_routes: bool,
    /// cert-manager's `certificates` (cert-manager.io/v1) are served.
    pub certificates: bool,
    /// The ClusterRoles the operator may bind; `None` when it was installed
    /// without cluster-wide collection.
    pub cluster_roles: Option<ClusterRoles>,
    /// Where the operator's own pods run, when it knows (the chart tells it):
    /// the stacks' NetworkPolicies admit them to the ports its probe uses.
    pub operator: Option<OperatorPods>,
}

/// The operator's pods: their namespace and labels.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorPods {
    /// The namespace the operator runs in.
    pub namespace: String,
    /// Labels that select the operator's pods (the chart's selector labels).
    pub labels: std::collections::BTreeMap<String, String>,
}

impl OperatorPods {
    /// From `k=v,k=v` labels; `None` when there are none or one is malformed.
    pub fn parse(namespace: &str, labels: &str) -> Option<Self> {
        let labels: Option<std::collections::BTreeMap<String, String>> = labels
            .split(',')
            .filter(|p| !p.trim().is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=')?;
                let (k, v) = (k.trim(), v.trim());
                (!k.is_empty()).then(|| (k.to_string(), v.to_string()))
            })
            .collect();
        let labels = labels.filter(|l| !l.is_empty())?;
        (!namespace.is_empty()).then(|| Self {
            namespace: namespace.to_string(),
            labels,
        })
    }
}

/// The minor version `current()` assumes.
const CURRENT_MINOR: u32 = 33;

impl Capabilities {
    /// A current cluster (the default of `sextant render`, and the operator's
    /// fallback when discovery fails).
    pub fn current() -> Self {
        Self::for_minor(CURRENT_MINOR)
    }

    /// The same server, with these ClusterRoles to bind (or none).
    pub fn with_cluster_roles(self, cluster_roles: Option<ClusterRoles>) -> Self {
        Self {
            cluster_roles,
            ..self
        }
    }

    /// The same server, with the operator's pods where they run (or unknown).
    pub fn with_operator(self, operator: Option<OperatorPods>) -> Self {
        Self { operator, ..self }
    }

    /// What a Kubernetes 1.`minor` API server serves: `policy/v1` and
    /// `discovery.k8s.io/v1` since 1.21 and `autoscaling/v2` since 1.23 (all GA
    /// in those releases).
    pub fn for_minor(minor: u32) -> Self {
        Self {
            server_minor: minor,
            autoscaling_v2: minor >= 23,
            policy_v1: minor >= 21,
            endpoint_slices_v1: minor >= 21,
            service_monitors: false,
            pod_monitors: false,
            http_routes: false,
            certificates: false,
            cluster_roles: Some(ClusterRoles::with_prefix(DEFAULT_CLUSTER_ROLE_PREFIX)),
            operator: None,
        }
    }

    /// Whether a component the stack enables really runs here: the node agent
    /// and the cluster collector need cluster-wide collection (a ClusterRole to
    /// bind, `build::node_agent`, `build::cluster_collector`); every other
    /// enabled component runs on any supported server. What is watched for being
    /// down, or alerted on, follows this, not the spec alone.
    pub fn runs(&self, stack: &ValidatedStack, c: Component) -> bool {
        stack.enabled(c) && (!c.reads_the_cluster() || self.cluster_roles.is_some())
    }

    /// Whether the cluster's state (`k8s_cluster` receiver) reaches Prometheus:
    /// the cluster collector runs with `state` on, and Prometheus runs.
    pub fn cluster_state(&self, stack: &ValidatedStack) -> bool {
        self.runs(stack, Component::ClusterCollector)
            && stack.spec.cluster_collector.state.enabled
            && stack.enabled(Component::Prometheus)
    }

    /// Whether Kubernetes events (`k8sobjects` receiver) reach Loki.
    pub fn cluster_events(&self, stack: &ValidatedStack) -> bool {
        self.runs(stack, Component::ClusterCollector)
            && stack.spec.cluster_collector.events.enabled
            && stack.enabled(Component::Loki)
    }

    /// Whether the kubelet's stats reach Prometheus: the node agent runs, with
    /// `kubeletMetrics` on, and Prometheus runs to keep them (as
    /// `render::node_agent::sends_metrics` decides for the agent's pipeline).
    pub fn kubelet_stats(&self, stack: &ValidatedStack) -> bool {
        self.runs(stack, Component::NodeAgent)
            && stack.spec.node_agent.kubelet_metrics.enabled
            && stack.enabled(Component::Prometheus)
    }

    /// Parses `1.20` (or `v1.20`, or `1.20.2`) into what that server serves.
    pub fn for_kube_version(version: &str) -> Result<Self, String> {
        let v = version.trim().trim_start_matches('v');
        let mut parts = v.split('.');
        let (major, minor) = (parts.next(), parts.next());
        match (major, minor.map(str::parse::<u32>)) {
            (Some("1"), Some(Ok(minor))) if minor >= 16 => Ok(Self::for_minor(minor)),
            _ => Err(format!(
                "{version:?} is not a Kubernetes version sextant renders for (1.16 or later, such as 1.20 or 1.33)"
            )),
        }
    }

    /// Whether the server serves a group/version such as `autoscaling/v2` (one of
    /// those discovery looked for; any other is served by every supported server).
    pub fn serves(&self, api_version: &str) -> bool {
        match api_version {
            "autoscaling/v2" => self.autoscaling_v2,
            "policy/v1" => self.policy_v1,
            "discovery.k8s.io/v1" => self.endpoint_slices_v1,
            "gateway.networking.k8s.io/v1" => self.http_routes,
            "cert-manager.io/v1" => self.certificates,
            _ => true,
        }
    }

    /// `persistentVolumeClaimRetentionPolicy` on StatefulSets: 1.23 (alpha) on.
    /// Older servers reject the field under server-side apply.
    pub fn pvc_retention_policy(&self) -> bool {
        self.server_minor >= 23
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_into_what_the_server_serves() {
        let old = Capabilities::for_kube_version("1.20").unwrap();
        assert_eq!((old.autoscaling_v2, old.policy_v1), (false, false));
        assert!(!old.pvc_retention_policy());
        let v121 = Capabilities::for_kube_version("v1.21.4").unwrap();
        assert_eq!((v121.autoscaling_v2, v121.policy_v1), (false, true));
        let now = Capabilities::for_kube_version("1.33").unwrap();
        assert_eq!(now, Capabilities::current());
        for bad in ["", "2.1", "1", "1.x", "1.15"] {
            assert!(Capabilities::for_kube_version(bad).is_err(), "{bad:?}");
        }
    }
}
