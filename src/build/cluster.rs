//! The stack's cluster-scoped children: ClusterRoleBindings of the ClusterRoles
//! the Helm chart ships (`crate::model::ClusterRoles`) to the ServiceAccounts of
//! the components that read the whole cluster. The operator may bind only those
//! roles (`bind` restricted by resourceNames), so it never grants more than the
//! chart lets it. They carry no ownerReference (a cluster-scoped object cannot
//! be owned by a namespaced one); the controller deletes them by their labels.

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::model::{
    Capabilities, Component, ValidatedStack, child_name, cluster_binding_name, cluster_child_labels,
};

/// The grant of the node agent's own ClusterRole.
pub const NODE_AGENT_GRANT: &str = "node-agent";
/// The grant of the Kubernetes metadata ClusterRole.
pub const METADATA_GRANT: &str = "k8s-metadata";
/// The grant of Prometheus's scrape discovery ClusterRole.
pub const DISCOVERY_GRANT: &str = "prometheus-discovery";
/// The grant of the cluster collector's ClusterRole.
pub const CLUSTER_COLLECTOR_GRANT: &str = "cluster-collector";

/// Whether the collectors may read Kubernetes metadata: the operator holds a
/// ClusterRole to bind for it.
pub fn metadata_granted(caps: &Capabilities) -> bool {
    caps.cluster_roles.is_some()
}

/// Why a component that reads the whole cluster (the node agent, the cluster
/// collector) does not run: the operator has no ClusterRole to bind for it.
/// The message of its condition; `None` when it may run.
pub fn not_granted(caps: &Capabilities, c: Component) -> Option<String> {
    caps.cluster_roles.is_none().then(|| {
        format!(
            "not run: the operator was installed without cluster-wide collection (a namespaced install, or the chart's clusterCollection.enabled=false), so it has no ClusterRole to bind for the {}; set spec.{}.enabled: false, or install the chart with clusterCollection.enabled=true",
            c.name().replace('-', " "),
            c.field()
        )
    })
}

/// The ClusterRoleBindings of the enabled components that need them; none
/// without ClusterRoles to bind.
pub fn bindings(stack: &ValidatedStack, caps: &Capabilities) -> Vec<ClusterRoleBinding> {
    let Some(roles) = &caps.cluster_roles else {
        return Vec::new();
    };
    let subject = |c: Component| Subject {
        kind: "ServiceAccount".into(),
        name: child_name(&stack.name, c, None),
        namespace: Some(stack.namespace.clone()),
        ..Subject::default()
    };
    let binding = |grant: &str, role: &str, subjects: Vec<Subject>| ClusterRoleBinding {
        metadata: ObjectMeta {
            name: Some(cluster_binding_name(&stack.namespace, &stack.name, grant)),
            labels: Some(cluster_child_labels(&stack.name, &stack.namespace)),
            ..ObjectMeta::default()
        },
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".into(),
            kind: "ClusterRole".into(),
            name: role.into(),
        },
        subjects: Some(subjects),
    };
    let mut out = Vec::new();
    let metadata_subjects: Vec<Subject> = [Component::Collector, Component::NodeAgent]
        .into_iter()
        .filter(|c| stack.enabled(*c))
        .map(subject)
        .collect();
    if !metadata_subjects.is_empty() {
        out.push(binding(METADATA_GRANT, &roles.metadata, metadata_subjects));
    }
    if stack.enabled(Component::NodeAgent) {
        out.push(binding(
            NODE_AGENT_GRANT,
            &roles.node_agent,
            vec![subject(Component::NodeAgent)],
        ));
    }
    if stack.enabled(Component::ClusterCollector) {
        out.push(binding(
            CLUSTER_COLLECTOR_GRANT,
            &roles.cluster_collector,
            vec![subject(Component::ClusterCollector)],
        ));
    }
    if stack.enabled(Component::Prometheus) && stack.spec.prometheus.discovery.annotations {
        out.push(binding(
            DISCOVERY_GRANT,
            &roles.discovery,
            vec![subject(Component::Prometheus)],
        ));
    }
    out
}
