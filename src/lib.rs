//! sextant: one `ObservabilityStack` resource becomes a wired-together
//! observability stack (OpenTelemetry Collector, Prometheus, Tempo, Loki, Grafana).
//!
//! The pipeline is `validate` (spec -> `ValidatedStack`) -> `build` (-> typed
//! child objects, configs from `render`) -> apply and status in `controller`.
//! `validate`, `build` and `render` are pure and back the CLI's `render` and
//! `check` as well as the operator.

pub mod api;
pub mod build;
pub mod catalogue;
pub mod cli;
pub mod controller;
pub mod dashboards;
pub mod limits;
pub mod render;
pub mod telemetry;
pub mod units;
pub mod validate;
