//! The `ObservabilityStack` API (`observability.sextant.dev/v1alpha1`).
//!
//! Owns the Rust types that are the CRD: the spec a user writes, the status the
//! operator reports, and their defaults. Doc comments here become the text of
//! `kubectl explain`. This module holds data only: checks beyond the OpenAPI
//! schema live in `crate::validate`, never here.

mod cluster_collector;
mod components;
mod export;
mod genai;
mod grafana;
mod limits;
mod node_agent;
mod object_store;
mod pod;
mod probe;
mod slo;
mod spec;
mod status;

pub use cluster_collector::*;
pub use components::*;
pub use export::*;
pub use genai::*;
pub use grafana::*;
pub use limits::*;
pub use node_agent::*;
pub use object_store::*;
pub use pod::*;
pub use probe::*;
pub use slo::*;
pub use spec::*;
pub use status::*;

/// API group of every sextant resource.
pub const GROUP: &str = "observability.sextant.dev";
/// API version served and stored.
pub const VERSION: &str = "v1alpha1";
/// The field manager of every server-side apply sextant makes.
pub const FIELD_MANAGER: &str = "sextant";

/// Regex (RE2 and Rust `regex` compatible) for a Prometheus-style duration such as `15d` or `1h30m`.
pub const DURATION_PATTERN: &str = "^([0-9]+(ms|s|m|h|d|w|y))+$";
/// Regex for a Kubernetes resource quantity used for volume sizes, such as `50Gi`.
pub const QUANTITY_PATTERN: &str = "^[0-9]+(\\.[0-9]+)?(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$";
/// Regex for a byte size as Prometheus's `--storage.tsdb.retention.size` takes it, such as `45GiB`.
pub const BYTE_SIZE_PATTERN: &str = "^[0-9]+(B|KB|MB|GB|TB|PB|EB|KiB|MiB|GiB|TiB|PiB|EiB)$";

/// The schema of a free-form object (`configOverrides`): any keys and values,
/// kept by the API server as written.
pub fn free_form_object(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}
