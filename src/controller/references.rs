//! What a stack references but does not own: dashboards in ConfigMaps selected by
//! `grafana.dashboards.configMapSelector`, and Secrets named by
//! `grafana.adminCredentials` and contact points.
//!
//! ConfigMap dashboards are copied into the stack's own dashboard ConfigMaps (split
//! by size), so a set larger than one ConfigMap can hold is never rejected.
//!
//! Referenced Secrets are read whole. The admin credentials' keys are only checked
//! to exist (the Grafana pod reads them itself). The values of contact-point keys
//! are handed to the build step, which renders them into the stack's own Secret
//! `<stack>-grafana-alerting` (`crate::render::grafana::contact_points` says why
//! Grafana cannot be given them by reference); this module never logs them and
//! never puts them in a message.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;
use kube::core::{Selector, SelectorExt};
use kube::{Api, ResourceExt};

use super::context::Context;
use super::error::{ApiResultExt, Error, Verb};
use crate::api::ObservabilityStack;
use crate::build::FOLDER_ANNOTATION;
use crate::build::grafana::DashboardFile;
use crate::render::grafana::FOLDER;
use crate::validate::SecretValues;

/// The dashboards found in selected ConfigMaps, and why any key was skipped.
#[derive(Debug, Default)]
pub struct ConfigMapDashboards {
    /// Dashboards to provision.
    pub files: Vec<DashboardFile>,
    /// One line per skipped key: `ConfigMap/name key: reason`.
    pub skipped: Vec<String>,
}

fn selector(stack: &ObservabilityStack) -> Option<Selector> {
    let s = stack.spec.grafana.dashboards.config_map_selector.clone()?;
    Selector::try_from(s).ok()
}

/// Whether a stack selects a ConfigMap for its dashboards.
pub fn selects(stack: &ObservabilityStack, cm: &ConfigMap) -> bool {
    stack.spec.grafana.enabled
        && stack.namespace() == cm.namespace()
        && selector(stack).is_some_and(|s| s.matches(cm.labels()))
}

/// Reads the dashboards of every ConfigMap the stack selects.
pub async fn config_map_dashboards(
    ctx: &Context,
    stack: &ObservabilityStack,
) -> Result<ConfigMapDashboards, Error> {
    let mut out = ConfigMapDashboards::default();
    let Some(sel) = selector(stack).filter(|_| stack.spec.grafana.enabled) else {
        return Ok(out);
    };
    let api: Api<ConfigMap> =
        Api::namespaced(ctx.client.clone(), &stack.namespace().unwrap_or_default());
    let mut maps = api
        .list(&ListParams::default().labels_from(&sel))
        .await
        .api(Verb::List, "ConfigMap", sel.to_string())?
        .items;
    maps.sort_by_key(ResourceExt::name_any);
    for cm in maps {
        let folder = cm
            .annotations()
            .get(FOLDER_ANNOTATION)
            .cloned()
            .unwrap_or_else(|| FOLDER.into());
        let bad_folder = crate::limits::folder_problem(&folder);
        for (key, json) in cm.data.iter().flatten() {
            let at = format!("ConfigMap/{} key {key}", cm.name_any());
            if !key.ends_with(".json") {
                continue;
            }
            if let Some(problem) = bad_folder {
                out.skipped
                    .push(format!("{at}: folder annotation {folder:?} {problem}"));
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(json) {
                Ok(model) => match crate::limits::dashboard_problem(&model) {
                    None => out.files.push(DashboardFile {
                        key: format!("cm-{}-{key}", cm.name_any()),
                        folder: folder.clone(),
                        json: json.clone(),
                    }),
                    Some(problem) => out.skipped.push(format!("{at}: the dashboard {problem}")),
                },
                Err(e) => out.skipped.push(format!("{at}: not valid JSON: {e}")),
            }
        }
    }
    Ok(out)
}

/// What the referenced Secrets hold for this stack.
#[derive(Debug, Default)]
pub struct ReferencedSecrets {
    /// The values of the keys contact points reference (never logged: `Debug`
    /// prints names and keys only).
    pub values: SecretValues,
    /// One line per problem (a Secret or key that does not exist, a value that is
    /// not text), naming the field that references it; never a value.
    pub problems: Vec<String>,
}

/// One Secret key a stack references, and the field naming it.
struct Wanted {
    secret: String,
    key: String,
    /// The field naming the Secret.
    secret_field: String,
    /// The field naming the key.
    key_field: String,
    /// Whether the operator needs the value (contact points) or only its presence
    /// (the admin credentials, read by the Grafana pod itself).
    value: bool,
}

fn wanted(stack: &ObservabilityStack) -> Vec<Wanted> {
    let g = &stack.spec.grafana;
    let mut out = Vec::new();
    if let Some(c) = &g.admin_credentials {
        let field = "spec.grafana.adminCredentials";
        for (key, name) in [(&c.user_key, "userKey"), (&c.password_key, "passwordKey")] {
            out.push(Wanted {
                secret: c.secret_name.clone(),
                key: key.clone(),
                secret_field: format!("{field}.secretName"),
                key_field: format!("{field}.{name}"),
                value: false,
            });
        }
    }
    if let Some(r) = g.smtp.as_ref().and_then(|s| s.password_secret_ref.as_ref()) {
        let field = "spec.grafana.smtp.passwordSecretRef";
        out.push(Wanted {
            secret: r.name.clone(),
            key: r.key.clone(),
            secret_field: field.into(),
            key_field: format!("{field}.key"),
            value: false,
        });
    }
    for (i, c) in g.alerting.contact_points.iter().enumerate() {
        if let Some(r) = &c.secret_ref {
            let field = format!("spec.grafana.alerting.contactPoints[{i}].secretRef");
            out.push(Wanted {
                secret: r.name.clone(),
                key: r.key.clone(),
                key_field: format!("{field}.key"),
                secret_field: field,
                value: true,
            });
        }
    }
    out
}

/// Whether a stack references a Secret by name (its admin credentials, its SMTP
/// password or a contact point): a change of that Secret is a reason to reconcile the stack.
pub fn references_secret(stack: &ObservabilityStack, namespace: Option<&str>, name: &str) -> bool {
    stack.spec.grafana.enabled
        && stack.namespace().as_deref() == namespace
        && wanted(stack).iter().any(|w| w.secret == name)
}

/// Reads every Secret the stack references (one GET each): the values contact
/// points need, and a problem line for each Secret or key that is missing or whose
/// value cannot be used. Values never appear in a problem, a log line or an error.
pub async fn referenced_secrets(
    ctx: &Context,
    stack: &ObservabilityStack,
) -> Result<ReferencedSecrets, Error> {
    let mut out = ReferencedSecrets::default();
    if !stack.spec.grafana.enabled {
        return Ok(out);
    }
    let api: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &stack.namespace().unwrap_or_default());
    let mut read: BTreeMap<String, Option<Secret>> = BTreeMap::new();
    let mut reported = BTreeSet::new();
    for w in wanted(stack) {
        if !read.contains_key(&w.secret) {
            let found = api
                .get_opt(&w.secret)
                .await
                .api(Verb::Get, "Secret", w.secret.as_str())?;
            read.insert(w.secret.clone(), found);
        }
        let Some(secret) = read.get(&w.secret).and_then(Option::as_ref) else {
            if reported.insert(w.secret.clone()) {
                out.problems.push(format!(
                    "Secret {} ({}) does not exist",
                    w.secret, w.secret_field
                ));
            }
            continue;
        };
        match key_value(secret, &w.key) {
            Err(problem) => out
                .problems
                .push(format!("Secret {} {problem} ({})", w.secret, w.key_field)),
            Ok(value) if w.value => out.values.insert(&w.secret, &w.key, value),
            Ok(_) => {}
        }
    }
    Ok(out)
}

/// The text of one key of a Secret, or why it cannot be used (never the value).
fn key_value(secret: &Secret, key: &str) -> Result<String, String> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .ok_or_else(|| format!("has no key {key}"))?;
    let text = std::str::from_utf8(&bytes.0).map_err(|_| format!("key {key} is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(format!("key {key} is empty"));
    }
    Ok(text.to_string())
}
