//! The cluster-free commands: load a stack from a file, `check` it, `render` it,
//! and print the CRD.
//!
//! Never panics on user input: every failure becomes one `CliError` line.

use std::path::Path;

use kube::CustomResourceExt;
use kube::core::ObjectMeta;

use crate::api::{GROUP, ObservabilityStack, VERSION};
use crate::build::Resources;
use crate::model::{Capabilities, ValidatedStack};
use crate::validate::{Dereferenced, ValidationErrors, validate};

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The path given.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not YAML or JSON.
    #[error("{path} is not valid YAML: {message}")]
    Yaml {
        /// The path given.
        path: String,
        /// The parser's message.
        message: String,
    },
    /// The document is not an ObservabilityStack.
    #[error("{path}: {message}")]
    NotAStack {
        /// The path given.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// `--kube-version` is not a version sextant renders for.
    #[error("--kube-version: {0}")]
    KubeVersion(String),
    /// The stack failed validation.
    #[error("{0}")]
    Invalid(ValidationErrors),
}

/// Output formats of `render`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Multi-document YAML.
    Yaml,
    /// A JSON `List`.
    Json,
}

/// Reads one ObservabilityStack from a YAML or JSON file (`-` for stdin).
pub fn load(path: &str) -> Result<ObservabilityStack, CliError> {
    let text = if path == "-" {
        std::io::read_to_string(std::io::stdin())
    } else {
        std::fs::read_to_string(Path::new(path))
    }
    .map_err(|source| CliError::Read {
        path: path.into(),
        source,
    })?;
    parse(path, &text)
}

/// Parses one ObservabilityStack from YAML or JSON text; `path` names it in errors.
pub fn parse(path: &str, text: &str) -> Result<ObservabilityStack, CliError> {
    let not_a_stack = |message: String| CliError::NotAStack {
        path: path.into(),
        message,
    };
    let mut docs = Vec::new();
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let value = serde_json::Value::deserialize_from(doc).map_err(|e| CliError::Yaml {
            path: path.into(),
            message: e.to_string(),
        })?;
        if !value.is_null() {
            docs.push(value);
        }
    }
    let value = match docs.len() {
        0 => {
            return Err(not_a_stack(
                "is empty: expected one ObservabilityStack".into(),
            ));
        }
        1 => docs.remove(0),
        n => {
            return Err(not_a_stack(format!(
                "holds {n} documents: expected one ObservabilityStack"
            )));
        }
    };
    let api_version = value.get("apiVersion").and_then(|v| v.as_str());
    let kind = value.get("kind").and_then(|v| v.as_str());
    let expected = format!("{GROUP}/{VERSION}");
    if api_version != Some(expected.as_str()) || kind != Some("ObservabilityStack") {
        return Err(not_a_stack(format!(
            "expected apiVersion {expected} and kind ObservabilityStack, found {} {}",
            api_version.unwrap_or("(no apiVersion)"),
            kind.unwrap_or("(no kind)")
        )));
    }
    let mut unknown = Vec::new();
    let mut track = |p: serde_ignored::Path<'_>| unknown.push(p.to_string());
    let tracked = serde_ignored::Deserializer::new(value, &mut track);
    let mut stack: ObservabilityStack = serde_path_to_error::deserialize(tracked).map_err(|e| {
        let field = e.path().to_string();
        not_a_stack(format!("{field}: {}", e.inner()))
    })?;
    // Kubernetes metadata and status carry fields sextant does not model.
    unknown.retain(|p| p.starts_with("spec"));
    if !unknown.is_empty() {
        return Err(not_a_stack(format!(
            "unknown field{} {}: not part of ObservabilityStack v1alpha1",
            if unknown.len() > 1 { "s" } else { "" },
            unknown.join(", ")
        )));
    }
    if stack.metadata.name.as_deref().unwrap_or("").is_empty() {
        return Err(not_a_stack("metadata.name: is required".into()));
    }
    if stack.metadata.namespace.is_none() {
        stack.metadata = ObjectMeta {
            namespace: Some("default".into()),
            ..stack.metadata
        };
    }
    Ok(stack)
}

/// Helper so the YAML deserializer can produce any serde value.
trait DeserializeFrom: Sized {
    fn deserialize_from(doc: serde_yaml_ng::Deserializer<'_>)
    -> Result<Self, serde_yaml_ng::Error>;
}

impl DeserializeFrom for serde_json::Value {
    fn deserialize_from(
        doc: serde_yaml_ng::Deserializer<'_>,
    ) -> Result<Self, serde_yaml_ng::Error> {
        serde::Deserialize::deserialize(doc)
    }
}

/// Validates a stack offline: nothing it references is read, so dashboards in
/// ConfigMaps and Secret values are not checked. Its overrides are checked
/// against what it builds for a current server.
pub fn check(stack: &ObservabilityStack) -> Result<ValidatedStack, CliError> {
    let valid = validate(stack, &Dereferenced::offline()).map_err(CliError::Invalid)?;
    if crate::build::overrides::any(&valid) {
        crate::build::checked(&valid, &Capabilities::current()).map_err(CliError::Invalid)?;
    }
    Ok(valid)
}

/// What `--kube-version` names, or a current server when it is not given, with
/// the chart's ClusterRoles of `cluster_role_prefix` to bind (`None`: a namespaced
/// install, none).
pub fn capabilities(
    kube_version: Option<&str>,
    cluster_role_prefix: Option<String>,
) -> Result<Capabilities, CliError> {
    let caps = match kube_version {
        Some(v) => Capabilities::for_kube_version(v).map_err(CliError::KubeVersion)?,
        None => Capabilities::current(),
    };
    Ok(caps.with_cluster_roles(
        cluster_role_prefix
            .as_deref()
            .map(crate::model::ClusterRoles::with_prefix),
    ))
}

/// Validates and builds a stack for a server with `caps`.
pub fn render(stack: &ObservabilityStack, caps: &Capabilities) -> Result<Resources, CliError> {
    let valid = validate(stack, &Dereferenced::offline()).map_err(CliError::Invalid)?;
    crate::build::checked(&valid, caps).map_err(CliError::Invalid)
}

/// Formats rendered children for output.
pub fn format(resources: &Resources, format: Format) -> String {
    let items = resources.to_values();
    match format {
        Format::Json => {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
            serde_json::to_string_pretty(&list).unwrap_or_default() + "\n"
        }
        Format::Yaml => items
            .iter()
            .map(|i| format!("---\n{}", serde_yaml_ng::to_string(i).unwrap_or_default()))
            .collect(),
    }
}

/// The CRD as YAML, exactly as committed under `crds/`.
pub fn crd_yaml() -> String {
    let crd = serde_json::to_value(ObservabilityStack::crd()).unwrap_or_default();
    serde_yaml_ng::to_string(&crd).unwrap_or_default()
}
