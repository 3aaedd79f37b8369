//! Applies a component's pod overrides (`crate::api::PodOverrides`, resolved
//! per component in `crate::model::Resolved::pod`) to the pod template of each
//! of its workloads, after the component's own build: one place for every
//! component, present and future. Nothing sextant sets is replaced: validation
//! (`crate::validate`) refused the labels, annotations and environment names it
//! owns, so here they are only added to.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::PodTemplateSpec;

use super::Resources;
use crate::model::{Component, ValidatedStack};

/// Applies the component's overrides to every pod template in `r`.
pub(super) fn apply(stack: &ValidatedStack, c: Component, r: &mut Resources) {
    let templates = r
        .deployments
        .iter_mut()
        .filter_map(|d| d.spec.as_mut().map(|s| &mut s.template))
        .chain(
            r.stateful_sets
                .iter_mut()
                .filter_map(|s| s.spec.as_mut().map(|s| &mut s.template)),
        )
        .chain(
            r.daemon_sets
                .iter_mut()
                .filter_map(|d| d.spec.as_mut().map(|s| &mut s.template)),
        );
    for t in templates {
        apply_to(stack, c, t);
    }
}

fn apply_to(stack: &ValidatedStack, c: Component, t: &mut PodTemplateSpec) {
    let o = &stack.component(c).pod;
    let meta = t.metadata.get_or_insert_with(Default::default);
    add(&mut meta.labels, &o.labels);
    add(&mut meta.annotations, &o.annotations);
    let Some(pod) = t.spec.as_mut() else {
        return;
    };
    if let Some(v) = &o.node_selector {
        pod.node_selector = Some(v.clone());
    }
    // The node agent keeps its own tolerations and priority class
    // (`spec.nodeAgent`): it tolerates every taint unless told otherwise.
    if c != Component::NodeAgent {
        if let Some(v) = &o.tolerations {
            pod.tolerations = (!v.is_empty()).then(|| v.clone());
        }
        if let Some(v) = &o.priority_class_name {
            pod.priority_class_name = Some(v.clone());
        }
    }
    if let Some(v) = &o.affinity {
        pod.affinity = Some(v.clone());
    }
    if let Some(v) = &o.topology_spread_constraints {
        pod.topology_spread_constraints = (!v.is_empty()).then(|| v.clone());
    }
    if let Some(v) = &o.image_pull_secrets {
        pod.image_pull_secrets = (!v.is_empty()).then(|| v.clone());
    }
    if !o.env.is_empty() {
        for container in pod.containers.iter_mut() {
            container
                .env
                .get_or_insert_with(Vec::new)
                .extend(o.env.iter().cloned());
        }
    }
}

/// Adds `extra` to a label or annotation map, keeping what is already there.
fn add(map: &mut Option<BTreeMap<String, String>>, extra: &BTreeMap<String, String>) {
    if extra.is_empty() {
        return;
    }
    let m = map.get_or_insert_with(BTreeMap::new);
    for (k, v) in extra {
        m.entry(k.clone()).or_insert_with(|| v.clone());
    }
}
