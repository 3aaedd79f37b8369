//! The dereference step: reading what a stack references but does not own, with
//! I/O only. The ConfigMaps `grafana.dashboards.configMapSelector` selects and the
//! Secrets named by `grafana.adminCredentials`, `grafana.smtp.passwordSecretRef`
//! and contact points are fetched into one `Dereferenced` value; every check of
//! them is `crate::validate`'s.
//!
//! Also the matching of ConfigMap and Secret watch events to the stacks they
//! concern.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::api::ListParams;
use kube::core::{Selector, SelectorExt};
use kube::{Api, ResourceExt};

use super::context::Context;
use super::error::{ApiResultExt, Error, Verb};
use crate::api::ObservabilityStack;
use crate::validate::{Dereferenced, dashboard_selector, referenced_secret_names};

/// The dashboard selector, only when it is valid (an invalid one reads nothing
/// and validation reports it).
fn selector(stack: &ObservabilityStack) -> Option<Selector> {
    Selector::try_from(dashboard_selector(&stack.spec)?).ok()
}

/// Whether a stack selects a ConfigMap for its dashboards.
pub fn selects(stack: &ObservabilityStack, cm: &ConfigMap) -> bool {
    stack.spec.grafana.enabled
        && stack.namespace() == cm.namespace()
        && selector(stack).is_some_and(|s| s.matches(cm.labels()))
}

/// Whether a stack references a Secret by name (its admin credentials, its SMTP
/// password or a contact point): a change of that Secret is a reason to reconcile
/// the stack.
pub fn references_secret(stack: &ObservabilityStack, namespace: Option<&str>, name: &str) -> bool {
    stack.namespace().as_deref() == namespace && referenced_secret_names(&stack.spec).contains(name)
}

/// Reads the selected ConfigMaps (one list) and every referenced Secret (one GET
/// each). Nothing is read for a stack without Grafana.
pub async fn dereference(ctx: &Context, stack: &ObservabilityStack) -> Result<Dereferenced, Error> {
    let namespace = stack.namespace().unwrap_or_default();
    let mut out = Dereferenced {
        dashboard_config_maps: Vec::new(),
        secrets: Some(BTreeMap::new()),
    };
    if !stack.spec.grafana.enabled {
        return Ok(out);
    }
    if let Some(sel) = selector(stack) {
        let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
        out.dashboard_config_maps = api
            .list(&ListParams::default().labels_from(&sel))
            .await
            .api(Verb::List, "ConfigMap", sel.to_string())?
            .items;
    }
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
    let mut secrets = BTreeMap::new();
    for name in referenced_secret_names(&stack.spec) {
        let found = api
            .get_opt(&name)
            .await
            .api(Verb::Get, "Secret", name.as_str())?;
        secrets.insert(name, found);
    }
    out.secrets = Some(secrets);
    Ok(out)
}
