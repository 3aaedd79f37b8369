//! What a stack references but does not own: dashboards in ConfigMaps selected by
//! `grafana.dashboards.configMapSelector`, and Secrets named by
//! `grafana.adminCredentials` and contact points.
//!
//! ConfigMap dashboards are copied into the stack's own dashboard ConfigMaps (split
//! by size), so a set larger than one ConfigMap can hold is never rejected. Secrets
//! are only checked for existence (metadata); their values are never read.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;
use kube::core::{Selector, SelectorExt};
use kube::{Api, ResourceExt};

use super::context::Context;
use super::error::Error;
use crate::api::ObservabilityStack;
use crate::build::FOLDER_ANNOTATION;
use crate::build::grafana::DashboardFile;
use crate::render::grafana::FOLDER;

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
        .map_err(|source| Error::Api {
            verb: "list",
            kind: "ConfigMap",
            name: sel.to_string(),
            source,
        })?
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

/// Names of referenced Secrets that do not exist, each with the field naming it.
pub async fn missing_secrets(
    ctx: &Context,
    stack: &ObservabilityStack,
) -> Result<Vec<String>, Error> {
    let g = &stack.spec.grafana;
    if !g.enabled {
        return Ok(Vec::new());
    }
    let mut wanted: Vec<(String, String)> = Vec::new();
    if let Some(c) = &g.admin_credentials {
        wanted.push((
            c.secret_name.clone(),
            "spec.grafana.adminCredentials.secretName".into(),
        ));
    }
    for (i, c) in g.alerting.contact_points.iter().enumerate() {
        if let Some(r) = &c.secret_ref {
            wanted.push((
                r.name.clone(),
                format!("spec.grafana.alerting.contactPoints[{i}].secretRef"),
            ));
        }
    }
    let api: Api<Secret> =
        Api::namespaced(ctx.client.clone(), &stack.namespace().unwrap_or_default());
    let mut checked = BTreeSet::new();
    let mut missing = Vec::new();
    for (name, field) in wanted {
        if !checked.insert(name.clone()) {
            continue;
        }
        let found = api
            .get_metadata_opt(&name)
            .await
            .map_err(|source| Error::Api {
                verb: "get",
                kind: "Secret",
                name: name.clone(),
                source,
            })?;
        if found.is_none() {
            missing.push(format!("Secret {name} ({field}) does not exist"));
        }
    }
    Ok(missing)
}
