//! The model every layer shares, below `validate`, `render`, `build` and
//! `controller`: the components and their facts, names and ports, what the API
//! server serves, and the validated stack itself. It depends on `crate::api` and
//! nothing above it.

mod capabilities;
mod component;
pub mod export;
pub mod images;
pub mod monitors;
pub mod names;
pub mod object_store;
mod stack;

pub use capabilities::{Capabilities, ClusterRoles, DEFAULT_CLUSTER_ROLE_PREFIX, OperatorPods};
pub use component::{Component, CpuMemory, Workload};
pub use monitors::MonitorsRead;
pub use names::{
    APPLIED_HASH_ANNOTATION, CONFIG_HASH_ANNOTATION, EVENTS_SERVICE, FOLDER, FOLDER_ANNOTATION,
    MEMBERS_SUFFIX, QUERY_SUFFIX, STACK_NAMESPACE_LABEL, child_name, cluster_binding_name,
    cluster_child_labels, labels, ports, query_labels, query_selector_labels, selector_labels,
    stack_labels, uid,
};
pub use object_store::FIRST_LOKI_PERIOD;
pub use stack::{
    Dashboard, DashboardFile, LokiLimitBytes, Resolved, SecretValues, StreamRule, TempoLimitBytes,
    Thanos, ValidatedStack, VolumeSize,
};
