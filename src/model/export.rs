//! How the collector reaches `spec.export`: each destination's exporter id,
//! and where its Secrets arrive in the collector's pod (environment variables
//! for header values and basic auth, files for the bearer token and the CA).
//! `crate::build` mounts them, `crate::render::otelcol` points the config at them.

use crate::api::{ExportDestination, OtlpProtocol};

/// The collector's exporter id of a destination (`otlp_grpc`, `otlp_http`:
/// opentelemetry-collector v0.159.0 `exporter/otlpexporter/metadata.yaml` and
/// `exporter/otlphttpexporter/metadata.yaml`; `prometheusremotewrite`:
/// collector-contrib's exporter of that name).
pub fn exporter_id(d: &ExportDestination) -> String {
    let kind = match &d.otlp {
        Some(o) if o.protocol == OtlpProtocol::Http => "otlp_http",
        Some(_) => "otlp_grpc",
        None => "prometheusremotewrite",
    };
    format!("{kind}/export-{}", d.name)
}

/// The id of the auth extension of a destination.
pub fn auth_extension_id(d: &ExportDestination) -> Option<String> {
    if d.bearer_token.is_some() {
        Some(format!("bearertokenauth/export-{}", d.name))
    } else if d.basic_auth.is_some() {
        Some(format!("basicauth/export-{}", d.name))
    } else {
        None
    }
}

/// The environment variable of a destination's value: `SEXTANT_EXPORT_<NAME>_<WHAT>`
/// (the name is a DNS label, so `-` becomes `_` without collisions).
pub fn env_name(d: &ExportDestination, what: &str) -> String {
    format!(
        "SEXTANT_EXPORT_{}_{what}",
        d.name.to_ascii_uppercase().replace('-', "_")
    )
}

/// The environment variable of header `i`.
pub fn header_env(d: &ExportDestination, i: usize) -> String {
    env_name(d, &format!("HEADER_{i}"))
}

/// Where a destination's Secret files are mounted: `<dir>/token`, `<dir>/ca`.
pub fn secrets_dir(d: &ExportDestination) -> String {
    format!("/etc/otelcol/export/{}", d.name)
}
