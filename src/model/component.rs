//! The components of a stack and every fact about one that more than one layer
//! needs: its workload kind, condition type, Service ports, the port Prometheus
//! scrapes, whether it keeps a data volume, and its default image, UID and resources.
//!
//! Every method is an exhaustive `match`: a new component does not compile until
//! each fact about it is stated here.

use crate::api::condition;

use super::images;
use super::names::ports;

/// The components of a stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Component {
    /// OpenTelemetry Collector: the gateway that receives OTLP.
    Collector,
    /// OpenTelemetry Collector on every node: pod logs and kubelet metrics.
    NodeAgent,
    /// OpenTelemetry Collector for the whole cluster: node, workload and pod
    /// state, and the Kubernetes events.
    ClusterCollector,
    /// Prometheus.
    Prometheus,
    /// Tempo.
    Tempo,
    /// Loki.
    Loki,
    /// Grafana.
    Grafana,
}

/// The kind of workload that runs a component's pods.
///
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Workload {
    /// A Deployment (stateless, rolled).
    Deployment,
    /// A StatefulSet with a `data` volumeClaimTemplate.
    StatefulSet,
    /// A DaemonSet: one pod on every node it tolerates.
    DaemonSet,
}

/// CPU and memory as Kubernetes quantities: `(cpu, memory)`.
pub type CpuMemory = (&'static str, &'static str);

impl Component {
    /// How many components there are: the length of every per-component array.
    pub const COUNT: usize = 7;

    /// Every component, in a stable order (the order of conditions, scrape jobs
    /// and status entries).
    pub const ALL: [Component; Self::COUNT] = [
        Self::Collector,
        Self::NodeAgent,
        Self::ClusterCollector,
        Self::Prometheus,
        Self::Tempo,
        Self::Loki,
        Self::Grafana,
    ];

    /// The position of the component in [`Component::ALL`].
    pub fn index(self) -> usize {
        match self {
            Self::Collector => 0,
            Self::NodeAgent => 1,
            Self::ClusterCollector => 2,
            Self::Prometheus => 3,
            Self::Tempo => 4,
            Self::Loki => 5,
            Self::Grafana => 6,
        }
    }

    /// The spec field of the component (`spec.<field>`), for error messages.
    pub fn field(self) -> &'static str {
        match self {
            Self::Collector => "collector",
            Self::NodeAgent => "nodeAgent",
            Self::ClusterCollector => "clusterCollector",
            Self::Prometheus => "prometheus",
            Self::Tempo => "tempo",
            Self::Loki => "loki",
            Self::Grafana => "grafana",
        }
    }

    /// `spec.<field>.configOverrides` and `spec.<field>.extraArgs`. Grafana has
    /// neither: its escape hatch is `spec.grafana.settings`.
    pub fn overrides(
        self,
        spec: &crate::api::ObservabilityStackSpec,
    ) -> (Option<&serde_json::Value>, &[String]) {
        // The same two fields in each component's spec (not one flattened
        // struct: `#[serde(flatten)]` would hide misspelt fields from the
        // CLI's unknown-field check).
        let (config, args) = match self {
            Self::Collector => (&spec.collector.config_overrides, &spec.collector.extra_args),
            Self::NodeAgent => (
                &spec.node_agent.config_overrides,
                &spec.node_agent.extra_args,
            ),
            Self::ClusterCollector => (
                &spec.cluster_collector.config_overrides,
                &spec.cluster_collector.extra_args,
            ),
            Self::Prometheus => (
                &spec.prometheus.config_overrides,
                &spec.prometheus.extra_args,
            ),
            Self::Tempo => (&spec.tempo.config_overrides, &spec.tempo.extra_args),
            Self::Loki => (&spec.loki.config_overrides, &spec.loki.extra_args),
            Self::Grafana => return (None, &[]),
        };
        (config.as_ref(), args)
    }

    /// The name used in child names, the `app.kubernetes.io/name` label and the
    /// scrape job.
    pub fn name(self) -> &'static str {
        match self {
            Self::Collector => "collector",
            Self::NodeAgent => "node-agent",
            Self::ClusterCollector => "cluster-collector",
            Self::Prometheus => "prometheus",
            Self::Tempo => "tempo",
            Self::Loki => "loki",
            Self::Grafana => "grafana",
        }
    }

    /// The `app.kubernetes.io/component` label: the role in the stack.
    pub fn role(self) -> &'static str {
        match self {
            Self::Collector => "telemetry-gateway",
            Self::NodeAgent => "node-collector",
            Self::ClusterCollector => "cluster-state-collector",
            Self::Prometheus => "metrics-store",
            Self::Tempo => "trace-store",
            Self::Loki => "log-store",
            Self::Grafana => "visualization",
        }
    }

    /// The workload kind that runs the component.
    pub fn workload(self) -> Workload {
        match self {
            Self::Collector | Self::ClusterCollector | Self::Grafana => Workload::Deployment,
            Self::Prometheus | Self::Tempo | Self::Loki => Workload::StatefulSet,
            Self::NodeAgent => Workload::DaemonSet,
        }
    }

    /// The type of the component's condition in the stack's status.
    pub fn condition_type(self) -> &'static str {
        match self {
            Self::Collector => condition::COLLECTOR_READY,
            Self::NodeAgent => condition::NODE_AGENT_READY,
            Self::ClusterCollector => condition::CLUSTER_COLLECTOR_READY,
            Self::Prometheus => condition::PROMETHEUS_READY,
            Self::Tempo => condition::TEMPO_READY,
            Self::Loki => condition::LOKI_READY,
            Self::Grafana => condition::GRAFANA_READY,
        }
    }

    /// The named container port Prometheus scrapes the component's pods on, found
    /// by pod discovery. `None` for Prometheus itself, which scrapes `localhost`.
    pub fn scrape_port(self) -> Option<&'static str> {
        match self {
            Self::Collector | Self::NodeAgent | Self::ClusterCollector => Some("metrics"),
            Self::Tempo | Self::Loki | Self::Grafana => Some("http"),
            Self::Prometheus => None,
        }
    }

    /// The named TCP ports of the component's Service.
    pub fn service_ports(self) -> &'static [(&'static str, i32)] {
        match self {
            Self::Collector => &[
                ("otlp-grpc", ports::OTLP_GRPC),
                ("otlp-http", ports::OTLP_HTTP),
                ("otlp-node", ports::OTLP_NODE),
                ("metrics", ports::COLLECTOR_METRICS),
            ],
            // Nothing connects to the agent or the cluster collector: they have
            // no Service (Prometheus finds their pods).
            Self::NodeAgent | Self::ClusterCollector => &[],
            Self::Prometheus => &[("http", ports::PROMETHEUS)],
            Self::Tempo => &[
                ("http", ports::TEMPO_HTTP),
                ("otlp-grpc", ports::OTLP_GRPC),
                ("otlp-http", ports::OTLP_HTTP),
            ],
            Self::Loki => &[("http", ports::LOKI_HTTP)],
            Self::Grafana => &[("http", ports::GRAFANA)],
        }
    }

    /// The environment variables sextant sets in the component's containers,
    /// which `pod.env` may not set (a test builds every component and checks
    /// the list is whole).
    pub fn owned_env(self) -> &'static [&'static str] {
        match self {
            Self::Collector | Self::ClusterCollector => &["GOMEMLIMIT"],
            Self::NodeAgent => &["GOMEMLIMIT", "K8S_NODE_NAME", "K8S_NODE_IP"],
            // The value of the `prometheus_replica` external label of Prometheus in replicas
            // (`crate::render::prometheus::POD_NAME_ENV`).
            Self::Prometheus => &["POD_NAME"],
            Self::Tempo | Self::Loki => &[],
            Self::Grafana => &[
                "GF_SECURITY_ADMIN_USER",
                "GF_SECURITY_ADMIN_PASSWORD",
                "GF_PATHS_DATA",
                "GF_PATHS_PROVISIONING",
                "GF_LOG_MODE",
                "GF_ANALYTICS_REPORTING_ENABLED",
                "GF_ANALYTICS_CHECK_FOR_UPDATES",
                "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES",
                "GF_USERS_ALLOW_SIGN_UP",
                "GF_AUTH_ANONYMOUS_ENABLED",
                "GF_SMTP_ENABLED",
                "GF_SMTP_HOST",
                "GF_SMTP_FROM_ADDRESS",
                "GF_SMTP_FROM_NAME",
                "GF_SMTP_STARTTLS_POLICY",
                "GF_SMTP_SKIP_VERIFY",
                "GF_SMTP_USER",
                "GF_SMTP_PASSWORD",
                "GF_SERVER_ROOT_URL",
                "GF_AUTH_GENERIC_OAUTH_ENABLED",
                "GF_AUTH_GENERIC_OAUTH_NAME",
                "GF_AUTH_GENERIC_OAUTH_CLIENT_ID",
                "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET",
                "GF_AUTH_GENERIC_OAUTH_SCOPES",
                "GF_AUTH_GENERIC_OAUTH_AUTH_URL",
                "GF_AUTH_GENERIC_OAUTH_TOKEN_URL",
                "GF_AUTH_GENERIC_OAUTH_API_URL",
                "GF_AUTH_GENERIC_OAUTH_ALLOW_SIGN_UP",
                "GF_AUTH_GENERIC_OAUTH_USE_PKCE",
                "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_STRICT",
                "GF_AUTH_GENERIC_OAUTH_ALLOW_ASSIGN_GRAFANA_ADMIN",
                "GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH",
                "GF_AUTH_GENERIC_OAUTH_GROUPS_ATTRIBUTE_PATH",
                "GF_AUTH_GENERIC_OAUTH_EMAIL_ATTRIBUTE_PATH",
                "GF_AUTH_GENERIC_OAUTH_LOGIN_ATTRIBUTE_PATH",
                "GF_AUTH_GENERIC_OAUTH_NAME_ATTRIBUTE_PATH",
                "GF_AUTH_GENERIC_OAUTH_SIGNOUT_REDIRECT_URL",
                "GF_AUTH_GENERIC_OAUTH_ALLOWED_GROUPS",
                "GF_AUTH_GENERIC_OAUTH_ALLOWED_DOMAINS",
            ],
        }
    }

    /// Whether the component reads the whole cluster, and so runs only where the
    /// operator may bind the chart's ClusterRoles for it.
    pub fn reads_the_cluster(self) -> bool {
        match self {
            Self::NodeAgent | Self::ClusterCollector => true,
            Self::Collector | Self::Prometheus | Self::Tempo | Self::Loki | Self::Grafana => false,
        }
    }

    /// Whether the component keeps its data on a PersistentVolumeClaim (the
    /// StatefulSet's `data` template, sized by `spec.<name>.storage.size`).
    pub fn has_data_volume(self) -> bool {
        match self {
            Self::Prometheus | Self::Tempo | Self::Loki => true,
            Self::Collector | Self::NodeAgent | Self::ClusterCollector | Self::Grafana => false,
        }
    }

    /// The image this sextant release pins.
    pub fn default_image(self) -> &'static str {
        match self {
            Self::Collector | Self::NodeAgent | Self::ClusterCollector => images::COLLECTOR,
            Self::Prometheus => images::PROMETHEUS,
            Self::Tempo => images::TEMPO,
            Self::Loki => images::LOKI,
            Self::Grafana => images::GRAFANA,
        }
    }

    /// The UID (and GID, and volume fsGroup) the pinned image runs as.
    pub fn uid(self) -> i64 {
        match self {
            Self::Collector | Self::ClusterCollector => images::COLLECTOR_UID,
            Self::NodeAgent => images::NODE_AGENT_UID,
            Self::Prometheus => images::PROMETHEUS_UID,
            Self::Tempo => images::TEMPO_UID,
            Self::Loki => images::LOKI_UID,
            Self::Grafana => images::GRAFANA_UID,
        }
    }

    /// Requests and limits when the user sets no `resources`.
    pub fn default_resources(self) -> (CpuMemory, CpuMemory) {
        match self {
            Self::Collector => (("200m", "256Mi"), ("1", "512Mi")),
            Self::NodeAgent => (("100m", "128Mi"), ("500m", "512Mi")),
            Self::ClusterCollector => (("100m", "256Mi"), ("500m", "512Mi")),
            Self::Prometheus => (("250m", "512Mi"), ("2", "2Gi")),
            Self::Tempo | Self::Loki => (("200m", "512Mi"), ("2", "2Gi")),
            Self::Grafana => (("100m", "256Mi"), ("1", "512Mi")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_is_the_position_in_all() {
        for (i, c) in Component::ALL.into_iter().enumerate() {
            assert_eq!(c.index(), i, "{c:?}");
        }
    }

    #[test]
    fn only_the_collectors_that_receive_nothing_have_no_service() {
        for c in Component::ALL {
            assert_eq!(
                matches!(c, Component::NodeAgent | Component::ClusterCollector),
                c.service_ports().is_empty(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn stateful_components_are_those_with_a_data_volume() {
        for c in Component::ALL {
            assert_eq!(
                c.workload() == Workload::StatefulSet,
                c.has_data_volume(),
                "{c:?}"
            );
        }
    }

    #[test]
    fn scraped_ports_are_container_ports_the_service_names() {
        // Tempo and Loki serve metrics on `http`, the collector on `metrics`. The
        // node agent has no Service; Prometheus finds its pods' port by name.
        for c in Component::ALL {
            if let Some(port) = c.scrape_port()
                && !c.service_ports().is_empty()
            {
                assert!(
                    c.service_ports().iter().any(|(name, _)| *name == port),
                    "{c:?} scrapes {port}"
                );
            }
        }
    }
}
