//! sextant's end-to-end harness: the simulated kubelet ([`kubelet`]) and what tests in
//! `e2e/tests/` use to talk to a real API server: a [`Cluster`] connection, a fresh
//! [`TestNamespace`] per test, CRD installation ([`install_crds`]), YAML manifests
//! ([`apply_yaml`]), waits whose failures carry diagnostics ([`wait_for`]), and the
//! ObservabilityStacks ([`stack`]) and plain objects ([`objects`]) tests build and read.

pub mod audit;
pub mod cluster;
pub mod crd;
pub mod diagnostics;
pub mod faults;
pub mod helm;
pub mod kubelet;
pub mod namespace;
pub mod objects;
pub mod operator;
pub mod stack;
pub mod wait;
pub mod yaml;

pub use cluster::{Cluster, repo_root};
pub use crd::{install_crds, install_monitoring_crds};
pub use namespace::TestNamespace;
pub use wait::wait_for;
pub use yaml::{api_status, apply_yaml, parse_documents};
