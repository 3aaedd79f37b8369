//! sextant: one `ObservabilityStack` resource becomes a wired-together
//! observability stack (OpenTelemetry Collector, Prometheus, Tempo, Loki, Grafana).
//!
//! The pipeline is dereference (the controller reads what the spec references)
//! -> `validate` (spec and references -> a resolved `model::ValidatedStack`) ->
//! `build` (-> typed child objects for the server's `model::Capabilities`, configs
//! from `render`) -> apply and status in `controller`. `validate`, `build` and
//! `render` are pure and back the CLI's `render` and `check` as well as the
//! operator.
//!
//! Layers, each using only those below it: `api` (the CRD) and the leaf helpers
//! (`units`, `digest`, `limits`, `catalogue`); `model` (components, names, the validated
//! stack); `builtin` (dashboards, rules, runbooks); `validate`; `render`; `build`;
//! `controller` and `cli`.

pub mod api;
pub mod build;
pub mod builtin;
pub mod catalogue;
pub mod cli;
pub mod controller;
pub mod digest;
pub mod limits;
pub mod model;
pub mod render;
pub mod telemetry;
pub mod units;
pub mod validate;
