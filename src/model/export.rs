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

/// The id of the auth extension of a destination (contrib's `bearertokenauth`,
/// `basicauth`, `oauth2client` and `sigv4auth`: the type names in each
/// extension's `metadata.yaml`, all four in the otelcol-contrib manifest of
/// opentelemetry-collector-releases v0.159.0).
pub fn auth_extension_id(d: &ExportDestination) -> Option<String> {
    let kind = if d.bearer_token.is_some() {
        "bearertokenauth"
    } else if d.basic_auth.is_some() {
        "basicauth"
    } else if d.oauth2.is_some() {
        "oauth2client"
    } else if d.sigv4.is_some() {
        "sigv4auth"
    } else {
        return None;
    };
    Some(format!("{kind}/export-{}", d.name))
}

/// The AWS region a destination signs for: `sigv4.region`, else the one in an
/// Amazon Managed Service for Prometheus host (`aps-workspaces.<region>.amazonaws.com`,
/// also `.amazonaws.com.cn`). sextant always renders the region: sigv4auth
/// reads one from that host itself, but only logs a warning where it finds none.
pub fn sigv4_region(d: &ExportDestination) -> Option<String> {
    let v = d.sigv4.as_ref()?;
    if let Some(r) = &v.region {
        return Some(r.clone());
    }
    let url = d
        .prometheus_remote_write
        .as_ref()
        .map(|rw| rw.url.as_str())
        .or(d.otlp.as_ref().map(|o| o.endpoint.as_str()))?;
    let host = url::Url::parse(url).ok()?.host_str()?.to_string();
    let mut labels = host.split('.');
    (labels.next()? == "aps-workspaces")
        .then(|| labels.next())
        .flatten()
        .filter(|r| !r.is_empty() && r.contains('-'))
        .map(str::to_string)
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

/// Where a destination's Secret files are mounted: `<dir>/token`, `<dir>/ca`,
/// `<dir>/oauth2` (the client secret).
pub fn secrets_dir(d: &ExportDestination) -> String {
    format!("/etc/otelcol/export/{}", d.name)
}
