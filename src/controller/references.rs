//! The dereference step: reading what a stack references but does not own, with
//! I/O only. The ConfigMaps `grafana.dashboards.configMapSelector` selects and the
//! Secrets named by `grafana.adminCredentials`, `grafana.smtp.passwordSecretRef`
//! and contact points are fetched into one `Dereferenced` value; every check of
//! them is `crate::validate`'s.
//!
//! Also the prometheus-operator monitors `prometheus.monitorSelector` selects
//! (where the CRDs are served and cluster-wide collection is granted), with the
//! Secrets and ConfigMaps they reference; and the matching of ConfigMap, Secret
//! and monitor watch events to the stacks they concern.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret};
use kube::api::{ApiResource, DynamicObject, ListParams};
use kube::core::{PartialObjectMeta, Selector, SelectorExt};
use kube::{Api, ResourceExt};

use super::context::Context;
use super::error::{ApiResultExt, Error, Verb};
use crate::api::ObservabilityStack;
use crate::model::Capabilities;
use crate::render::monitors::{self, Monitor, MonitorKind, Referenced};
use crate::validate::{
    Dereferenced, MonitorsRead, dashboard_selector, monitor_selectors, referenced_secret_names,
};

/// prometheus-operator's API group and the version sextant reads
/// (prometheus-operator v0.93.0 pkg/apis/monitoring/v1).
pub const MONITORING_GROUP: &str = "monitoring.coreos.com";
/// See [`MONITORING_GROUP`].
pub const MONITORING_VERSION: &str = "v1";

/// The resource of one monitor kind, for dynamic reads and watches.
pub fn monitor_resource(kind: MonitorKind) -> ApiResource {
    ApiResource {
        group: MONITORING_GROUP.into(),
        version: MONITORING_VERSION.into(),
        api_version: format!("{MONITORING_GROUP}/{MONITORING_VERSION}"),
        kind: kind.as_str().into(),
        plural: kind.plural().into(),
    }
}

/// The monitor kinds the API server serves.
pub fn served_monitor_kinds(caps: &Capabilities) -> Vec<MonitorKind> {
    [
        (MonitorKind::ServiceMonitor, caps.service_monitors),
        (MonitorKind::PodMonitor, caps.pod_monitors),
    ]
    .into_iter()
    .filter_map(|(k, served)| served.then_some(k))
    .collect()
}

/// Whether a monitor in `namespace` could be one the stack selects: the stack
/// selects monitors, and either in every namespace its namespace selector
/// selects (their labels are read at reconcile) or only in its own. Labels are
/// not compared: a monitor relabelled out of the selector must bring a reconcile
/// too, to drop its jobs.
pub fn may_select_monitor(stack: &ObservabilityStack, namespace: Option<&str>) -> bool {
    let p = &stack.spec.prometheus;
    p.enabled
        && p.monitor_selector.is_some()
        && (p.monitor_namespace_selector.is_some() || stack.namespace().as_deref() == namespace)
}

/// The dashboard selector, only when it is valid (an invalid one reads nothing
/// and validation reports it).
fn selector(stack: &ObservabilityStack) -> Option<Selector> {
    Selector::try_from(dashboard_selector(&stack.spec)?).ok()
}

/// Whether a stack selects a ConfigMap for its dashboards.
pub fn selects(stack: &ObservabilityStack, cm: &PartialObjectMeta<ConfigMap>) -> bool {
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
        monitors: read_monitors(ctx, stack).await?,
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

/// Reads the monitors the stack selects and what they reference: one list of
/// the namespaces (with a namespace selector), one list per served kind (in the
/// stack's namespace, or cluster-wide filtered by those namespaces), and one GET
/// per referenced Secret or ConfigMap. `None` when none are to be read.
async fn read_monitors(
    ctx: &Context,
    stack: &ObservabilityStack,
) -> Result<Option<MonitorsRead>, Error> {
    let kinds = served_monitor_kinds(&ctx.capabilities);
    let (Some((selector, namespace_selector)), true, false) = (
        monitor_selectors(&stack.spec),
        ctx.capabilities.cluster_roles.is_some(),
        kinds.is_empty(),
    ) else {
        return Ok(None);
    };
    let own = stack.namespace().unwrap_or_default();
    // Valid by `monitor_selectors`; a conversion failure reads nothing.
    let Ok(selector) = Selector::try_from(selector) else {
        return Ok(None);
    };
    // `None`: only the stack's own namespace.
    let namespaces: Option<Vec<String>> = match namespace_selector {
        None => None,
        Some(ns) => {
            let Ok(ns) = Selector::try_from(ns) else {
                return Ok(None);
            };
            let api: Api<Namespace> = Api::all(ctx.client.clone());
            let list = api
                .list_metadata(&ListParams::default().labels_from(&ns))
                .await
                .api(Verb::List, "Namespace", ns.to_string())?;
            Some(list.items.iter().map(ResourceExt::name_any).collect())
        }
    };
    let mut objects = Vec::new();
    for kind in kinds {
        let resource = monitor_resource(kind);
        let api: Api<DynamicObject> = match &namespaces {
            None => Api::namespaced_with(ctx.client.clone(), &own, &resource),
            Some(_) => Api::all_with(ctx.client.clone(), &resource),
        };
        let list = api
            .list(&ListParams::default().labels_from(&selector))
            .await
            .api(Verb::List, kind.as_str(), selector.to_string())?;
        for obj in list.items {
            let namespace = obj.namespace().unwrap_or_default();
            let wanted = match &namespaces {
                None => namespace == own,
                Some(names) => names.contains(&namespace),
            };
            if wanted {
                objects.push(Monitor {
                    kind,
                    name: obj.name_any(),
                    namespace,
                    spec: obj.data.get("spec").cloned().unwrap_or_default(),
                });
            }
        }
    }
    let mut referenced = Referenced::new();
    for (config_map, namespace, name) in monitors::references(&objects) {
        let data = if config_map {
            let api: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), &namespace);
            api.get_opt(&name)
                .await
                .api(Verb::Get, "ConfigMap", format!("{namespace}/{name}"))?
                .map(|cm| cm.data.unwrap_or_default())
        } else {
            let api: Api<Secret> = Api::namespaced(ctx.client.clone(), &namespace);
            api.get_opt(&name)
                .await
                .api(Verb::Get, "Secret", format!("{namespace}/{name}"))?
                .map(|secret| {
                    // A key whose value is not UTF-8 is left out: it reads as missing.
                    secret
                        .data
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|(k, v)| String::from_utf8(v.0).ok().map(|v| (k, v)))
                        .collect()
                })
        };
        referenced.insert((config_map, namespace, name), data);
    }
    Ok(Some(MonitorsRead {
        objects,
        referenced,
    }))
}
