//! Resolving each component once: its image (the user's or the pinned one),
//! replicas, resources (the user's, checked, or the component's defaults) and the
//! size of its data volume, so that no later step re-reads the raw spec.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use super::{COLLECTOR_MIN_MEMORY, Validator};
use crate::api::{ObservabilityStackSpec, PodOverrides};
use crate::model::{Component, CpuMemory, Resolved, Thanos, VolumeSize, images};
use crate::units::parse_quantity_bytes;

/// What the spec says of one component, before resolving.
struct Written<'a> {
    enabled: bool,
    image: Option<&'a String>,
    replicas: i32,
    resources: Option<&'a ResourceRequirements>,
    storage_size: Option<&'a str>,
    pod: Option<&'a PodOverrides>,
}

fn written(spec: &ObservabilityStackSpec, c: Component) -> Written<'_> {
    match c {
        Component::Collector => Written {
            enabled: spec.collector.enabled,
            image: spec.collector.image.as_ref(),
            replicas: spec.collector.replicas,
            resources: spec.collector.resources.as_ref(),
            pod: spec.collector.pod.as_ref(),
            storage_size: None,
        },
        Component::NodeAgent => Written {
            enabled: super::node_agent::agent_enabled(spec),
            image: spec.node_agent.image.as_ref(),
            // One pod per node: the DaemonSet controller decides how many.
            replicas: 1,
            resources: spec.node_agent.resources.as_ref(),
            pod: spec.node_agent.pod.as_ref(),
            storage_size: None,
        },
        Component::ClusterCollector => Written {
            enabled: super::cluster_collector::enabled(spec),
            image: spec.cluster_collector.image.as_ref(),
            // One pod, holding the Lease: a second could only wait for it.
            replicas: 1,
            resources: spec.cluster_collector.resources.as_ref(),
            pod: spec.cluster_collector.pod.as_ref(),
            storage_size: None,
        },
        Component::Prometheus => Written {
            enabled: spec.prometheus.enabled,
            image: spec.prometheus.image.as_ref(),
            replicas: spec.prometheus.replicas,
            resources: spec.prometheus.resources.as_ref(),
            pod: spec.prometheus.pod.as_ref(),
            storage_size: Some(&spec.prometheus.storage.size),
        },
        Component::Tempo => Written {
            enabled: spec.tempo.enabled,
            image: spec.tempo.image.as_ref(),
            replicas: spec.tempo.replicas,
            resources: spec.tempo.resources.as_ref(),
            pod: spec.tempo.pod.as_ref(),
            storage_size: Some(&spec.tempo.storage.size),
        },
        Component::Loki => Written {
            enabled: spec.loki.enabled,
            image: spec.loki.image.as_ref(),
            replicas: spec.loki.replicas,
            resources: spec.loki.resources.as_ref(),
            pod: spec.loki.pod.as_ref(),
            storage_size: Some(&spec.loki.storage.size),
        },
        Component::Grafana => Written {
            enabled: spec.grafana.enabled,
            image: spec.grafana.image.as_ref(),
            replicas: spec.grafana.replicas,
            resources: spec.grafana.resources.as_ref(),
            pod: spec.grafana.pod.as_ref(),
            storage_size: spec.grafana.storage.as_ref().map(|s| s.size.as_str()),
        },
    }
}

impl Validator {
    /// Every component, resolved, in `Component::ALL` order; errors for resources
    /// and volume sizes that do not parse.
    pub(super) fn resolve(
        &mut self,
        spec: &ObservabilityStackSpec,
    ) -> [Resolved; Component::COUNT] {
        self.resources(
            "spec.prometheus.query.resources",
            spec.prometheus.query.resources.as_ref(),
        );
        Component::ALL.map(|c| self.resolve_one(spec, c))
    }

    fn resolve_one(&mut self, spec: &ObservabilityStackSpec, c: Component) -> Resolved {
        let w = written(spec, c);
        let volume = w.storage_size.map(|size| VolumeSize {
            bytes: self.quantity(&format!("spec.{}.storage.size", c.field()), size),
            quantity: size.to_string(),
        });
        let path = format!("spec.{}.resources", c.field());
        self.resources(&path, w.resources);
        if matches!(
            c,
            Component::Collector | Component::NodeAgent | Component::ClusterCollector
        ) && let Some(limit) = memory_limit(w.resources)
            && limit < COLLECTOR_MIN_MEMORY
        {
            self.err(
                format!("{path}.limits.memory"),
                "must be at least 128Mi: the memory_limiter is derived from it",
            );
        }
        let (requests, limits) = c.default_resources();
        Resolved {
            enabled: w.enabled,
            image: w
                .image
                .cloned()
                .unwrap_or_else(|| mirrored(spec.image_registry.as_deref(), c.default_image())),
            pod: merged(stack_pod(spec, c).as_ref(), w.pod),
            replicas: w.replicas,
            resources: w
                .resources
                .cloned()
                .unwrap_or_else(|| default_resources(requests, limits)),
            volume,
        }
    }
}

/// The Thanos sidecar and Query of Prometheus in replicas; the Query's
/// resources were checked with the components' (`Validator::resolve`).
pub(super) fn thanos(spec: &ObservabilityStackSpec) -> Thanos {
    let q = &spec.prometheus.query;
    Thanos {
        image: q
            .image
            .clone()
            .unwrap_or_else(|| mirrored(spec.image_registry.as_deref(), images::THANOS)),
        query_replicas: q.replicas,
        query_resources: q
            .resources
            .clone()
            .unwrap_or_else(|| default_resources(("100m", "128Mi"), ("1", "1Gi"))),
        sidecar_resources: default_resources(("50m", "64Mi"), ("500m", "256Mi")),
    }
}

fn default_resources(requests: CpuMemory, limits: CpuMemory) -> ResourceRequirements {
    let pair = |(cpu, mem): CpuMemory| {
        BTreeMap::from([
            ("cpu".to_string(), Quantity(cpu.into())),
            ("memory".to_string(), Quantity(mem.into())),
        ])
    };
    ResourceRequirements {
        requests: Some(pair(requests)),
        limits: Some(pair(limits)),
        ..ResourceRequirements::default()
    }
}

fn memory_limit(resources: Option<&ResourceRequirements>) -> Option<u128> {
    resources?
        .limits
        .as_ref()?
        .get("memory")
        .and_then(|q| parse_quantity_bytes(&q.0).ok())
}

/// A collector container's memory limit in bytes (the gateway's or the node
/// agent's): its resolved limit, or 512Mi (both defaults) when the user's
/// resources set none.
pub(super) fn collector_memory_limit(
    components: &[Resolved; Component::COUNT],
    c: Component,
) -> u128 {
    memory_limit(Some(&components[c.index()].resources)).unwrap_or(512 << 20)
}

/// A pinned image pulled from `registry` instead, under the same path.
fn mirrored(registry: Option<&str>, image: &str) -> String {
    match registry {
        Some(r) => format!("{}/{image}", r.trim_end_matches('/')),
        None => image.to_string(),
    }
}

/// The stack-wide pod overrides a component inherits: the node agent, which
/// belongs on every node, takes none of their placement (node selector,
/// affinity, spread); its own `spec.nodeAgent.pod` may narrow it.
fn stack_pod(spec: &ObservabilityStackSpec, c: Component) -> Option<PodOverrides> {
    let mut base = spec.pod.clone()?;
    if c == Component::NodeAgent {
        base.node_selector = None;
        base.affinity = None;
        base.topology_spread_constraints = None;
    }
    Some(base)
}

/// The stack-wide pod overrides with a component's over them: each field of the
/// component's replaces the stack's, except the maps and `env`, which are
/// merged (the component's entry wins on the same key or name).
pub(super) fn merged(stack: Option<&PodOverrides>, own: Option<&PodOverrides>) -> PodOverrides {
    let base = stack.cloned().unwrap_or_default();
    let Some(own) = own else {
        return base;
    };
    let mut annotations = base.annotations;
    annotations.extend(own.annotations.clone());
    let mut labels = base.labels;
    labels.extend(own.labels.clone());
    let mut env: Vec<_> = base
        .env
        .into_iter()
        .filter(|e| !own.env.iter().any(|o| o.name == e.name))
        .collect();
    env.extend(own.env.iter().cloned());
    PodOverrides {
        node_selector: own.node_selector.clone().or(base.node_selector),
        tolerations: own.tolerations.clone().or(base.tolerations),
        affinity: own.affinity.clone().or(base.affinity),
        topology_spread_constraints: own
            .topology_spread_constraints
            .clone()
            .or(base.topology_spread_constraints),
        priority_class_name: own.priority_class_name.clone().or(base.priority_class_name),
        annotations,
        labels,
        image_pull_secrets: own.image_pull_secrets.clone().or(base.image_pull_secrets),
        env,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn components_with_a_data_volume_resolve_one() {
        let spec = ObservabilityStackSpec::default();
        let mut v = Validator::default();
        let resolved = v.resolve(&spec);
        assert!(v.errors.is_empty(), "{:?}", v.errors);
        for c in Component::ALL {
            let r = &resolved[c.index()];
            assert_eq!(r.volume.is_some(), c.has_data_volume(), "{c:?}");
            assert_eq!(r.image, c.default_image(), "{c:?}");
        }
        assert_eq!(
            collector_memory_limit(&resolved, Component::Collector),
            512 << 20
        );
        assert_eq!(
            collector_memory_limit(&resolved, Component::NodeAgent),
            512 << 20
        );
    }
}
