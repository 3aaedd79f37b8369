//! The status step: the observation of what the apply step returned
//! ([`observe`]), the stack's status computed from it ([`compute`]), and the
//! status patch, sent only when the status changed ([`write`]).
//!
//! Conditions keep their `lastTransitionTime` unless their status really
//! changed. `compute` is pure: the clock and the observation are inputs, so tests
//! fix both. Nothing here applies or deletes a child.

use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Patch, PatchParams};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;

use super::apply::Applied;
use super::context::Context;
use super::error::{ApiResultExt, Error, Verb};
use super::outcome::Outcome;
use super::probe::run::format_latency;
use super::probe::{DataFlow, PathResult, Report};
use crate::api::{
    ComponentStatus, ComponentsStatus, DataFlowStatus, DataPathStatus, Endpoints, FIELD_MANAGER,
    ObservabilityStack, ObservabilityStackStatus, SloStatus, condition, reason,
};
use crate::build::{Monitors, api_unavailable};
use crate::model::{Component, ValidatedStack, Workload, child_name, ports};
use crate::render::monitors::MonitorKind;

/// Whether a component that reads the whole cluster runs by default, its
/// `enabled` unset.
fn left_to_default(spec: &crate::api::ObservabilityStackSpec, c: Component) -> bool {
    match c {
        Component::NodeAgent => spec.node_agent.enabled.is_none(),
        Component::ClusterCollector => spec.cluster_collector.enabled.is_none(),
        Component::Collector
        | Component::Prometheus
        | Component::Tempo
        | Component::Loki
        | Component::Grafana => false,
    }
}

/// What the API server says about one component's workload.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkloadState {
    /// Desired replicas (for an autoscaled collector: what the HPA chose).
    pub desired: i32,
    /// Ready replicas.
    pub ready: i32,
    /// The rollout of the current spec is complete and every replica is available.
    pub available: bool,
    /// The image of the first container.
    pub image: String,
    /// A workload the component needs besides its own, not yet available (the
    /// Thanos Query of Prometheus in replicas), as the condition tells it.
    pub companion: Option<String>,
}

impl WorkloadState {
    /// From a Deployment: available when the current generation is observed, every
    /// replica is updated and available.
    pub fn from_deployment(d: &Deployment) -> Self {
        let desired = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let s = d.status.clone().unwrap_or_default();
        let current = s.observed_generation >= d.metadata.generation;
        let updated = s.updated_replicas.unwrap_or(0);
        let available_n = s.available_replicas.unwrap_or(0);
        Self {
            desired,
            ready: s.ready_replicas.unwrap_or(0),
            available: current
                && updated >= desired
                && available_n >= desired
                && s.replicas.unwrap_or(0) == desired,
            image: first_image(d.spec.as_ref().and_then(|s| s.template.spec.as_ref())),
            companion: None,
        }
    }

    /// From a StatefulSet: available when the current generation is observed and
    /// every replica is ready on the current revision.
    pub fn from_stateful_set(s: &StatefulSet) -> Self {
        let desired = s.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let st = s.status.clone().unwrap_or_default();
        let current = st.observed_generation >= s.metadata.generation;
        let same_revision =
            st.update_revision.is_none() || st.current_revision == st.update_revision;
        Self {
            desired,
            ready: st.ready_replicas.unwrap_or(0),
            available: current
                && same_revision
                && st.ready_replicas.unwrap_or(0) >= desired
                && st.replicas == desired,
            image: first_image(s.spec.as_ref().and_then(|s| s.template.spec.as_ref())),
            companion: None,
        }
    }
}

impl WorkloadState {
    /// From a DaemonSet: available when the current generation is observed and
    /// every node it should run on has an updated, available pod. `desired` is
    /// the number of those nodes.
    pub fn from_daemon_set(d: &DaemonSet) -> Self {
        let s = d.status.clone().unwrap_or_default();
        let current = s.observed_generation >= d.metadata.generation;
        let desired = s.desired_number_scheduled;
        Self {
            desired,
            ready: s.number_ready,
            available: current
                && s.updated_number_scheduled.unwrap_or(0) >= desired
                && s.number_available.unwrap_or(0) >= desired
                && s.number_misscheduled == 0,
            image: first_image(d.spec.as_ref().and_then(|s| s.template.spec.as_ref())),
            companion: None,
        }
    }
}

fn first_image(pod: Option<&k8s_openapi::api::core::v1::PodSpec>) -> String {
    pod.and_then(|p| p.containers.first())
        .and_then(|c| c.image.clone())
        .unwrap_or_default()
}

/// Everything the status step needs to know about one reconcile.
#[derive(Clone, Debug)]
pub struct Observation {
    /// The stack's generation.
    pub generation: Option<i64>,
    /// Workload state per enabled component (absent: not created yet).
    pub workloads: Vec<(Component, Option<WorkloadState>)>,
    /// Components that run without an API the server does not serve, or without
    /// a ClusterRole the operator was not granted: the reason and the message.
    pub api_unavailable: Vec<(Component, &'static str, String)>,
    /// What the reconcile came to: the Reconciled condition.
    pub reconciled: Outcome,
    /// Referenced Secrets or keys that do not exist, by the component that
    /// cannot start without them (Grafana, the collector).
    pub missing_secrets: Vec<(Component, String)>,
    /// What became of the selected prometheus-operator monitors (`None`: nothing
    /// was built).
    pub monitors: Option<Monitors>,
    /// What the probe of the stack's data paths found.
    pub data_flow: DataFlow,
}

impl Observation {
    /// A reconcile that applied nothing (an invalid spec, a failed apply): only
    /// the Reconciled condition is new.
    pub fn unapplied(generation: Option<i64>, reconciled: Outcome) -> Self {
        Self {
            generation,
            workloads: Vec::new(),
            api_unavailable: Vec::new(),
            reconciled,
            missing_secrets: Vec::new(),
            monitors: None,
            data_flow: DataFlow::Unobserved,
        }
    }
}

/// The workloads' state as the apply step saw it.
pub fn observe(
    ctx: &Context,
    stack: &ValidatedStack,
    applied: &Applied,
    generation: Option<i64>,
) -> Observation {
    let name = |c| child_name(&stack.name, c, None);
    let mut workloads = Vec::new();
    for c in Component::ALL {
        let state = match c.workload() {
            Workload::Deployment => applied
                .deployments
                .iter()
                .find(|d| d.name_any() == name(c))
                .map(WorkloadState::from_deployment),
            Workload::StatefulSet => applied
                .stateful_sets
                .iter()
                .find(|s| s.name_any() == name(c))
                .map(WorkloadState::from_stateful_set),
            Workload::DaemonSet => applied
                .daemon_sets
                .iter()
                .find(|d| d.name_any() == name(c))
                .map(WorkloadState::from_daemon_set),
        };
        let state = match (c, state) {
            (Component::Prometheus, Some(s)) if stack.prometheus_ha() => {
                let query = child_name(&stack.name, c, Some(crate::model::QUERY_SUFFIX));
                let q = applied
                    .deployments
                    .iter()
                    .find(|d| d.name_any() == query)
                    .map(WorkloadState::from_deployment);
                Some(with_companion(s, "Thanos Query", q))
            }
            (_, s) => s,
        };
        workloads.push((c, state));
    }
    Observation {
        generation,
        workloads,
        api_unavailable: api_unavailable(stack, &ctx.capabilities),
        reconciled: Outcome::Applied {
            dashboards_skipped: Vec::new(),
        },
        missing_secrets: Vec::new(),
        monitors: Some(crate::build::prometheus_monitors(stack, &ctx.capabilities)),
        data_flow: DataFlow::Unobserved,
    }
}

/// `s`, not available while `companion` (named `what`) is not, which the
/// condition's message then tells.
fn with_companion(
    mut s: WorkloadState,
    what: &str,
    companion: Option<WorkloadState>,
) -> WorkloadState {
    match companion {
        Some(q) if q.available => {}
        Some(q) => {
            s.available = false;
            s.companion = Some(format!("{what} {}/{} replicas ready", q.ready, q.desired));
        }
        None => {
            s.available = false;
            s.companion = Some(format!("{what} not created yet"));
        }
    }
    s
}

/// The DataFlowing condition's status, reason and message, and
/// `status.dataFlow`; `None` when the status keeps what it had.
fn data_flow(
    flow: &DataFlow,
    previous: &ObservabilityStackStatus,
) -> Option<(&'static str, &'static str, String, Option<DataFlowStatus>)> {
    let unknown = |why: &'static str, m: String| Some(("Unknown", why, m, None));
    match flow {
        DataFlow::Unobserved => None,
        DataFlow::Disabled => unknown(
            reason::PROBE_DISABLED,
            "the probe is off (spec.probe.enabled, or the operator's --probes)".into(),
        ),
        DataFlow::NotPossible(why) => unknown(reason::PROBE_NOT_POSSIBLE, why.clone()),
        // After an operator restart the last result stays until a new one.
        DataFlow::Pending
            if previous.data_flow.is_some()
                && previous
                    .conditions
                    .iter()
                    .any(|c| c.type_ == condition::DATA_FLOWING) =>
        {
            None
        }
        DataFlow::Pending => unknown(
            reason::PROBE_PENDING,
            "the first probe has not finished yet".into(),
        ),
        DataFlow::Probed(Report {
            paths: Err(why), ..
        }) => unknown(reason::PROBE_NOT_POSSIBLE, why.clone()),
        DataFlow::Probed(Report {
            at,
            paths: Ok(paths),
        }) => {
            let failed: Vec<&PathResult> = paths.iter().filter(|p| !p.ok()).collect();
            let status = if failed.is_empty() { "True" } else { "False" };
            let why = failed
                .iter()
                .find(|p| p.reason != reason::NOT_CHECKED)
                .or(failed.first())
                .map_or(reason::PROBE_SUCCEEDED, |p| p.reason);
            let message = if paths.is_empty() {
                "no backend runs: nothing to find the probe's data in".to_string()
            } else {
                paths
                    .iter()
                    .map(|p| match p.latency {
                        Some(l) if p.ok() => format!("{} {}", p.signal.as_str(), format_latency(l)),
                        _ => format!("{}: {}: {}", p.signal.as_str(), p.reason, p.message),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            let mut status_paths = DataFlowStatus {
                since: Time(*at),
                paths: paths
                    .iter()
                    .map(|p| DataPathStatus {
                        signal: p.signal.as_str().into(),
                        reason: p.reason.into(),
                        message: p.message.clone(),
                        latency: p.ok().then_some(p.latency).flatten().map(format_latency),
                    })
                    .collect(),
            };
            if let Some(prev) = &previous.data_flow
                && prev.paths == status_paths.paths
            {
                status_paths.since = prev.since.clone();
            }
            Some((status, why, message, Some(status_paths)))
        }
    }
}

/// How many untranslatable monitors a condition message names.
const MAX_LISTED_MONITORS: usize = 20;

/// The ConfigOverridden condition's status, reason and message.
fn overrides_condition(stack: &ValidatedStack) -> (bool, &'static str, String) {
    let on = crate::build::overrides::in_effect(stack);
    if on.is_empty() {
        return (
            false,
            reason::NO_OVERRIDES,
            "every config and command line is as sextant renders it".into(),
        );
    }
    let parts: Vec<String> = on
        .iter()
        .map(|c| {
            let (config, args) = c.overrides(&stack.spec);
            let what: Vec<&str> = [
                config.is_some().then_some("configOverrides"),
                (!args.is_empty()).then_some("extraArgs"),
            ]
            .into_iter()
            .flatten()
            .collect();
            format!("{} ({})", c.field(), what.join(", "))
        })
        .collect();
    (
        true,
        reason::OVERRIDES_IN_EFFECT,
        format!(
            "hand changes are merged into what sextant renders for {}",
            parts.join(", ")
        ),
    )
}

/// The IngestSecured condition's status, reason and message: a warning while
/// OTLP is reachable from outside the cluster in plain text or by anyone.
fn ingest_condition(spec: &crate::api::CollectorSpec) -> (bool, &'static str, String) {
    let Some(e) = &spec.external_service else {
        return (
            true,
            reason::NOT_EXPOSED,
            "OTLP is served only inside the cluster".into(),
        );
    };
    let kind = e.type_.as_str();
    let missing: Vec<&str> = [
        spec.tls.is_none().then_some("TLS (spec.collector.tls)"),
        spec.auth
            .is_none()
            .then_some("authentication (spec.collector.auth)"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if missing.is_empty() {
        (
            true,
            reason::TLS_AND_AUTH,
            format!("OTLP is exposed by a {kind} Service with TLS and bearer tokens"),
        )
    } else {
        (
            false,
            reason::EXPOSED_INSECURELY,
            format!(
                "OTLP is exposed by a {kind} Service without {}: anyone who reaches it can send telemetry",
                missing.join(" or ")
            ),
        )
    }
}

/// The MonitorsTranslated condition's status, reason and message.
fn monitors_condition(monitors: &Monitors) -> (bool, &'static str, String) {
    match monitors {
        Monitors::NotSelected => (
            true,
            reason::NOT_SELECTED,
            "spec.prometheus.monitorSelector is unset (or Prometheus is disabled): no ServiceMonitor or PodMonitor is read".into(),
        ),
        Monitors::NotServed => (
            true,
            reason::API_UNAVAILABLE,
            "the API server serves no monitoring.coreos.com/v1 ServiceMonitors or PodMonitors (prometheus-operator's CRDs; installed after the operator started, they are read once it restarts)".into(),
        ),
        Monitors::NotGranted => (
            false,
            reason::NOT_GRANTED,
            "spec.prometheus.monitorSelector is set, but the operator was installed without cluster-wide collection (clusterCollection.enabled), so Prometheus could not discover the monitors' targets: none are read".into(),
        ),
        Monitors::NotRead => (true, reason::NOT_SELECTED, "no cluster was read".into()),
        Monitors::Translated(t) => {
            let count = |k| t.translated.get(&k).copied().unwrap_or(0);
            let done = format!(
                "{} ServiceMonitors and {} PodMonitors translated into {} scrape jobs",
                count(MonitorKind::ServiceMonitor),
                count(MonitorKind::PodMonitor),
                t.jobs.len()
            );
            if t.untranslatable.is_empty() {
                return (true, reason::TRANSLATED, done);
            }
            let mut listed: Vec<&str> = t
                .untranslatable
                .iter()
                .take(MAX_LISTED_MONITORS)
                .map(String::as_str)
                .collect();
            let more = t.untranslatable.len().saturating_sub(MAX_LISTED_MONITORS);
            let more = format!("and {more} more (see the Warning events)");
            if t.untranslatable.len() > MAX_LISTED_MONITORS {
                listed.push(&more);
            }
            (
                false,
                reason::UNTRANSLATABLE,
                format!(
                    "{} not translated, so not scraped: {}; {done}",
                    t.untranslatable.len(),
                    listed.join("; ")
                ),
            )
        }
    }
}

fn new_condition(
    type_: &str,
    ok: bool,
    reason: &str,
    message: String,
    generation: Option<i64>,
    now: &Time,
) -> Condition {
    Condition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.into(),
        message,
        observed_generation: generation,
        last_transition_time: now.clone(),
    }
}

/// Computes the new status. `stack` is `None` when the spec is invalid: then the
/// component conditions and endpoints keep what `previous` had.
pub fn compute(
    stack: Option<&ValidatedStack>,
    previous: &ObservabilityStackStatus,
    obs: &Observation,
    now: Timestamp,
) -> ObservabilityStackStatus {
    let now = Time(now);
    let g = obs.generation;
    let mut conditions = Vec::new();
    let ok = obs.reconciled.reconciled();
    let message = obs.reconciled.message();
    conditions.push(new_condition(
        condition::RECONCILED,
        ok,
        obs.reconciled.reason(),
        message.clone(),
        g,
        &now,
    ));

    let Some(stack) = stack else {
        // Invalid spec: nothing was applied, so the rest of the status still holds.
        // Paused: nothing is observed either, so whether the stack is Ready is
        // not known (the components' conditions are what was last seen).
        let paused = obs.reconciled == Outcome::Paused;
        if paused {
            conditions.push(Condition {
                status: "Unknown".into(),
                ..new_condition(
                    condition::READY,
                    false,
                    reason::PAUSED,
                    "not observed while spec.paused is true; the component conditions are as last seen".into(),
                    g,
                    &now,
                )
            });
        }
        let kept = previous
            .conditions
            .iter()
            .filter(|c| {
                c.type_ != condition::RECONCILED && !(paused && c.type_ == condition::READY)
            })
            .cloned();
        conditions.extend(kept);
        return ObservabilityStackStatus {
            observed_generation: g,
            conditions: merge_conditions(&previous.conditions, conditions),
            ..previous.clone()
        };
    };

    let mut components = ComponentsStatus::default();
    let mut not_ready = Vec::new();
    for c in Component::ALL {
        let enabled = stack.enabled(c);
        let type_ = c.condition_type();
        if !enabled {
            conditions.push(new_condition(
                type_,
                true,
                reason::DISABLED,
                format!("{} is disabled in the spec", c.name()),
                g,
                &now,
            ));
            continue;
        }
        let state = obs
            .workloads
            .iter()
            .find(|(k, _)| *k == c)
            .and_then(|(_, s)| s.clone());
        let unavailable_api = obs
            .api_unavailable
            .iter()
            .find(|(k, _, _)| *k == c)
            .map(|(_, why, m)| (*why, m.clone()));
        let missing: Vec<&str> = obs
            .missing_secrets
            .iter()
            .filter(|(k, _)| *k == c)
            .map(|(_, m)| m.as_str())
            .collect();
        let missing = (!missing.is_empty()).then(|| missing.join("; "));
        let cond = match (&state, unavailable_api) {
            _ if missing.is_some() => new_condition(
                type_,
                false,
                reason::SECRET_NOT_FOUND,
                missing.unwrap_or_default(),
                g,
                &now,
            ),
            (Some(s), Some((why, api))) if s.available => new_condition(
                type_,
                true,
                why,
                format!("{}/{} replicas ready; {api}", s.ready, s.desired),
                g,
                &now,
            ),
            // The agent or the cluster collector left to its default
            // (`spec.<field>.enabled` unset) where the install grants no
            // cluster-wide collection: it does not run, the reason says so, and
            // the stack is whole without it. Asked for explicitly, it is a
            // component that cannot run (the arm below).
            (None, Some((why, api))) if left_to_default(&stack.spec, c) => {
                new_condition(type_, true, why, api, g, &now)
            }
            // Nothing was built for it: it cannot run here.
            (None, Some((why, api))) => new_condition(type_, false, why, api, g, &now),
            (Some(s), _) if s.available => new_condition(
                type_,
                true,
                reason::AVAILABLE,
                format!("{}/{} replicas ready", s.ready, s.desired),
                g,
                &now,
            ),
            (Some(s), _) => new_condition(
                type_,
                false,
                reason::PROGRESSING,
                match &s.companion {
                    Some(more) => format!("{}/{} replicas ready; {more}", s.ready, s.desired),
                    None => format!("{}/{} replicas ready", s.ready, s.desired),
                },
                g,
                &now,
            ),
            (None, _) => new_condition(
                type_,
                false,
                reason::PROGRESSING,
                "workload not created yet".into(),
                g,
                &now,
            ),
        };
        if cond.status != "True" {
            not_ready.push(c.name());
        }
        conditions.push(cond);
        if let Some(s) = state {
            let status = ComponentStatus {
                replicas: s.desired,
                ready_replicas: s.ready,
                image: s.image,
            };
            match c {
                Component::Collector => components.collector = Some(status),
                Component::NodeAgent => components.node_agent = Some(status),
                Component::ClusterCollector => components.cluster_collector = Some(status),
                Component::Prometheus => components.prometheus = Some(status),
                Component::Tempo => components.tempo = Some(status),
                Component::Loki => components.loki = Some(status),
                Component::Grafana => components.grafana = Some(status),
            }
        }
    }
    if let Some(m) = &obs.monitors {
        let (status, why, message) = monitors_condition(m);
        conditions.push(new_condition(
            condition::MONITORS_TRANSLATED,
            status,
            why,
            message,
            g,
            &now,
        ));
    }
    if stack.enabled(Component::Collector) {
        let (status, why, message) = ingest_condition(&stack.spec.collector);
        conditions.push(new_condition(
            condition::INGEST_SECURED,
            status,
            why,
            message,
            g,
            &now,
        ));
    }
    let mut data_flow_status = previous.data_flow.clone();
    match data_flow(&obs.data_flow, previous) {
        Some((status, why, message, paths)) => {
            conditions.push(Condition {
                status: status.into(),
                ..new_condition(condition::DATA_FLOWING, true, why, message, g, &now)
            });
            data_flow_status = paths;
        }
        None => conditions.extend(
            previous
                .conditions
                .iter()
                .filter(|c| c.type_ == condition::DATA_FLOWING)
                .cloned(),
        ),
    }
    let (overridden, why, overrides) = overrides_condition(stack);
    conditions.push(new_condition(
        condition::CONFIG_OVERRIDDEN,
        overridden,
        why,
        overrides,
        g,
        &now,
    ));
    let all_ready = not_ready.is_empty() && ok;
    let ready_message = if all_ready {
        "every enabled component is available".to_string()
    } else if !ok {
        format!("not reconciled: {message}")
    } else {
        format!("not ready: {}", not_ready.join(", "))
    };
    conditions.insert(
        0,
        new_condition(
            condition::READY,
            all_ready,
            if all_ready {
                reason::ALL_COMPONENTS_READY
            } else {
                reason::COMPONENTS_NOT_READY
            },
            ready_message,
            g,
            &now,
        ),
    );
    ObservabilityStackStatus {
        observed_generation: g,
        conditions: merge_conditions(&previous.conditions, conditions),
        collectors: components
            .collector
            .as_ref()
            .map(|c| format!("{}/{}", c.ready_replicas, c.replicas)),
        components,
        endpoints: endpoints(stack),
        slos: slos(stack),
        data_flow: data_flow_status,
    }
}

/// Each SLO whose rules are rendered (none without Prometheus), with their
/// names: `status.slos`.
pub fn slos(stack: &ValidatedStack) -> Vec<SloStatus> {
    use crate::builtin::slos as b;
    if !b::rendered(stack) {
        return Vec::new();
    }
    stack
        .spec
        .slos
        .iter()
        .map(|s| SloStatus {
            name: s.name.clone(),
            objective: format!("{} over {}", s.target, s.window),
            rule_group: b::group_name(s),
            alerts: [b::Severity::Page, b::Severity::Ticket]
                .map(|sev| b::alert_name(s, sev))
                .to_vec(),
            budget_query: format!(
                "{}{{slo={}}}",
                b::BUDGET_REMAINING,
                b::promql_string(&s.name)
            ),
        })
        .collect()
}

fn endpoints(stack: &ValidatedStack) -> Endpoints {
    let on = |c| stack.enabled(c);
    let host = |c| stack.service_host(c);
    Endpoints {
        otlp_grpc: on(Component::Collector)
            .then(|| format!("{}:{}", host(Component::Collector), ports::OTLP_GRPC)),
        otlp_http: on(Component::Collector).then(|| {
            let scheme = if stack.spec.collector.tls.is_some() {
                "https"
            } else {
                "http"
            };
            format!(
                "{scheme}://{}:{}",
                host(Component::Collector),
                ports::OTLP_HTTP
            )
        }),
        grafana: on(Component::Grafana)
            .then(|| format!("http://{}:{}", host(Component::Grafana), ports::GRAFANA)),
        // With replicas, the Thanos Query that merges them.
        prometheus: on(Component::Prometheus).then(|| stack.prometheus_query_url()),
        loki: on(Component::Loki)
            .then(|| format!("http://{}:{}", host(Component::Loki), ports::LOKI_HTTP)),
        tempo: on(Component::Tempo)
            .then(|| format!("http://{}:{}", host(Component::Tempo), ports::TEMPO_HTTP)),
    }
}

/// Whether a status says the stack is Ready.
pub fn is_ready(status: &ObservabilityStackStatus) -> bool {
    status
        .conditions
        .iter()
        .any(|c| c.type_ == condition::READY && c.status == "True")
}

/// Writes the status when it differs from what is stored. Returns whether it wrote.
pub async fn write(
    ctx: &Context,
    stack: &ObservabilityStack,
    previous: &ObservabilityStackStatus,
    new: ObservabilityStackStatus,
    key: &str,
) -> Result<bool, Error> {
    ctx.metrics.stack_conditions(
        key,
        Some(
            new.conditions
                .iter()
                .map(|c| (c.type_.clone(), c.status.clone()))
                .collect(),
        ),
    );
    if &new == previous {
        return Ok(false);
    }
    let api: Api<ObservabilityStack> =
        Api::namespaced(ctx.client.clone(), &stack.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": ObservabilityStack::api_version(&()),
        "kind": ObservabilityStack::kind(&()),
        "status": new,
    });
    api.patch_status(
        &stack.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .api(Verb::PatchStatus, "ObservabilityStack", stack.name_any())?;
    ctx.metrics
        .write("ObservabilityStack", Verb::PatchStatus.as_str());
    Ok(true)
}

/// Keeps each condition's previous `lastTransitionTime` when its status did not change.
pub fn merge_conditions(previous: &[Condition], new: Vec<Condition>) -> Vec<Condition> {
    new.into_iter()
        .map(|mut c| {
            if let Some(old) = previous.iter().find(|o| o.type_ == c.type_)
                && old.status == c.status
            {
                c.last_transition_time = old.last_transition_time.clone();
            }
            c
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_in_replicas_is_available_only_with_its_query() {
        let state = |ready: i32, available: bool| WorkloadState {
            desired: 2,
            ready,
            available,
            image: "i".into(),
            companion: None,
        };
        let up = with_companion(state(2, true), "Thanos Query", Some(state(2, true)));
        assert!(up.available);
        assert_eq!(up.companion, None);
        let waiting = with_companion(state(2, true), "Thanos Query", Some(state(1, false)));
        assert!(!waiting.available);
        assert_eq!(
            waiting.companion.as_deref(),
            Some("Thanos Query 1/2 replicas ready")
        );
        let missing = with_companion(state(2, true), "Thanos Query", None);
        assert!(!missing.available);
        assert_eq!(
            missing.companion.as_deref(),
            Some("Thanos Query not created yet")
        );
    }

    fn t(secs: i64) -> Timestamp {
        Timestamp::from_second(secs).unwrap()
    }

    fn cond(type_: &str, status: &str, at: i64) -> Condition {
        Condition {
            type_: type_.into(),
            status: status.into(),
            reason: "R".into(),
            message: "m".into(),
            observed_generation: Some(1),
            last_transition_time: Time(t(at)),
        }
    }

    #[test]
    fn transition_time_kept_when_status_unchanged() {
        let merged = merge_conditions(
            &[cond("Ready", "True", 100)],
            vec![cond("Ready", "True", 200)],
        );
        assert_eq!(merged[0].last_transition_time, Time(t(100)));
    }

    #[test]
    fn transition_time_moves_when_status_changes() {
        let merged = merge_conditions(
            &[cond("Ready", "True", 100)],
            vec![cond("Ready", "False", 200)],
        );
        assert_eq!(merged[0].last_transition_time, Time(t(200)));
    }

    #[test]
    fn same_observation_gives_identical_status() {
        let stack = crate::cli::check(&crate::cli::parse(
            "t",
            "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {name: s, namespace: n}\nspec: {}",
        ).unwrap()).unwrap();
        let ready = WorkloadState {
            desired: 1,
            ready: 1,
            available: true,
            image: "i".into(),
            companion: None,
        };
        let obs = Observation {
            generation: Some(1),
            workloads: Component::ALL
                .iter()
                .map(|c| (*c, Some(ready.clone())))
                .collect(),
            api_unavailable: vec![],
            reconciled: Outcome::Applied {
                dashboards_skipped: vec![],
            },
            missing_secrets: vec![],
            monitors: None,
            data_flow: DataFlow::Unobserved,
        };
        let first = compute(
            Some(&stack),
            &ObservabilityStackStatus::default(),
            &obs,
            t(100),
        );
        let second = compute(Some(&stack), &first, &obs, t(500));
        assert_eq!(
            first, second,
            "a later pass with nothing new must not change the status"
        );
        let missing = Observation {
            missing_secrets: vec![(
                Component::Grafana,
                "Secret slack (spec.grafana...) does not exist".into(),
            )],
            ..obs.clone()
        };
        let blocked = compute(Some(&stack), &first, &missing, t(600));
        let grafana = blocked
            .conditions
            .iter()
            .find(|c| c.type_ == "GrafanaReady")
            .unwrap();
        assert_eq!(
            (grafana.status.as_str(), grafana.reason.as_str()),
            ("False", "SecretNotFound")
        );
        assert_eq!(grafana.last_transition_time, Time(t(600)));
        let ready = blocked
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready.status, "False");
        let ready_cond = first
            .conditions
            .iter()
            .find(|c| c.type_ == "Ready")
            .unwrap();
        assert_eq!(ready_cond.status, "True");
        assert_eq!(first.collectors.as_deref(), Some("1/1"));
    }

    /// Where the install grants no cluster-wide collection, the agent left to its
    /// default does not run and the stack is Ready (the reason tells why); asked
    /// for explicitly, the agent cannot run and the stack is not Ready.
    #[test]
    fn an_ungranted_agent_blocks_ready_only_when_asked_for() {
        let caps = crate::model::Capabilities::current().with_cluster_roles(None);
        let ready = WorkloadState {
            desired: 1,
            ready: 1,
            available: true,
            image: "i".into(),
            companion: None,
        };
        let status_for = |spec: &str| {
            let yaml = format!(
                "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {{name: s, namespace: n}}\nspec: {spec}"
            );
            let stack = crate::cli::check(&crate::cli::parse("t", &yaml).unwrap()).unwrap();
            let obs = Observation {
                generation: Some(1),
                workloads: Component::ALL
                    .iter()
                    .map(|c| (*c, (*c != Component::NodeAgent).then(|| ready.clone())))
                    .collect(),
                api_unavailable: crate::build::api_unavailable(&stack, &caps),
                reconciled: Outcome::Applied {
                    dashboards_skipped: vec![],
                },
                missing_secrets: vec![],
                monitors: None,
                data_flow: DataFlow::Unobserved,
            };
            compute(
                Some(&stack),
                &ObservabilityStackStatus::default(),
                &obs,
                t(100),
            )
        };

        let default = status_for("{}");
        let (status, reason, message) = find(&default, "NodeAgentReady");
        assert_eq!((status, reason), ("True", "NotGranted"), "{message}");
        assert!(message.contains("clusterCollection.enabled"), "{message}");
        assert_eq!(find(&default, "Ready").0, "True");
        // The collector runs, without Kubernetes metadata, and says so.
        let (status, reason, message) = find(&default, "CollectorReady");
        assert_eq!((status, reason), ("True", "NotGranted"), "{message}");

        let asked = status_for("{nodeAgent: {enabled: true}}");
        assert_eq!(find(&asked, "NodeAgentReady").0, "False");
        assert_eq!(find(&asked, "NodeAgentReady").1, "NotGranted");
        let (status, _, message) = find(&asked, "Ready");
        assert_eq!(status, "False");
        assert!(message.contains("node-agent"), "{message}");
    }

    /// OTLP exposed outside the cluster warns until both TLS and tokens are
    /// set; Ready does not depend on it.
    #[test]
    fn exposed_ingest_warns_without_tls_and_auth() {
        let status_for = |collector: &str| {
            let yaml = format!(
                "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {{name: s, namespace: n}}\nspec: {{collector: {collector}}}"
            );
            let stack = crate::cli::check(&crate::cli::parse("t", &yaml).unwrap()).unwrap();
            let mut obs = Observation::unapplied(Some(1), Outcome::after_apply(&[], &[]));
            obs.workloads = Component::ALL
                .iter()
                .map(|c| {
                    (
                        *c,
                        Some(WorkloadState {
                            desired: 1,
                            ready: 1,
                            available: true,
                            image: "i".into(),
                            companion: None,
                        }),
                    )
                })
                .collect();
            compute(
                Some(&stack),
                &ObservabilityStackStatus::default(),
                &obs,
                t(100),
            )
        };
        let inside = status_for("{}");
        assert_eq!(find(&inside, "IngestSecured").1, "NotExposed");
        let plain = status_for("{externalService: {}}");
        let (status, reason, message) = find(&plain, "IngestSecured");
        assert_eq!((status, reason), ("False", "ExposedInsecurely"));
        assert!(
            message.contains("LoadBalancer")
                && message.contains("spec.collector.tls")
                && message.contains("spec.collector.auth"),
            "{message}"
        );
        assert_eq!(find(&plain, "Ready").0, "True", "a warning, not readiness");
        let tls_only =
            status_for("{externalService: {type: NodePort}, tls: {secretName: otlp-tls}}");
        let (status, _, message) = find(&tls_only, "IngestSecured");
        assert_eq!(status, "False");
        assert!(
            message.contains("NodePort")
                && message.contains("spec.collector.auth")
                && !message.contains("spec.collector.tls"),
            "{message}"
        );
        let (overridden, reason, _) = find(&plain, "ConfigOverridden");
        assert_eq!((overridden, reason), ("False", "NoOverrides"));
        let hand = status_for(
            "{configOverrides: {processors: {batch: {timeout: 1s}}}, extraArgs: [--feature-gates=-x]}",
        );
        let (overridden, reason, message) = find(&hand, "ConfigOverridden");
        assert_eq!((overridden, reason), ("True", "OverridesInEffect"));
        assert!(
            message.contains("collector (configOverrides, extraArgs)"),
            "{message}"
        );
        let both = status_for(
            "{externalService: {}, tls: {secretName: otlp-tls}, auth: {secretName: otlp-tokens}}",
        );
        assert_eq!(find(&both, "IngestSecured").0, "True");
        assert_eq!(find(&both, "IngestSecured").1, "TlsAndAuth");
    }

    fn find<'a>(status: &'a ObservabilityStackStatus, type_: &str) -> (&'a str, &'a str, &'a str) {
        let c = status.conditions.iter().find(|c| c.type_ == type_);
        c.map(|c| (c.status.as_str(), c.reason.as_str(), c.message.as_str()))
            .unwrap_or_default()
    }

    #[test]
    fn the_outcome_sets_reconciled_and_ready() {
        let yaml = "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {name: s, namespace: n}\nspec: {}";
        let stack = crate::cli::check(&crate::cli::parse("t", yaml).unwrap()).unwrap();
        let mut obs = Observation::unapplied(Some(2), Outcome::after_apply(&[], &[]));
        let ready = |_| {
            Some(WorkloadState {
                desired: 1,
                ready: 1,
                available: true,
                image: "i".into(),
                companion: None,
            })
        };
        obs.workloads = Component::ALL.iter().map(|c| (*c, ready(c))).collect();
        let good = compute(
            Some(&stack),
            &ObservabilityStackStatus::default(),
            &obs,
            t(100),
        );
        assert_eq!(
            find(&good, "Reconciled"),
            ("True", "Applied", "the current generation is applied")
        );
        assert_eq!(
            find(&good, "Ready"),
            (
                "True",
                "AllComponentsReady",
                "every enabled component is available"
            )
        );

        let why =
            "spec.loki.storage.size: volumes cannot shrink (live 20Gi, asked 10Gi); keeping 20Gi";
        obs.reconciled = Outcome::after_apply(&[], &[why.into()]);
        let blocked = compute(Some(&stack), &good, &obs, t(200));
        assert_eq!(
            find(&blocked, "Reconciled"),
            ("False", "VolumeResizeBlocked", why)
        );
        let not_reconciled = format!("not reconciled: {why}");
        assert_eq!(
            find(&blocked, "Ready"),
            ("False", "ComponentsNotReady", not_reconciled.as_str())
        );

        // Nothing applied: only Reconciled changes; the children, and so every
        // other condition (Ready too), are as they were.
        let message = "metadata.name: must be at most 40 characters";
        let invalid = Observation::unapplied(Some(3), Outcome::InvalidSpec(message.into()));
        let status = compute(None, &good, &invalid, t(300));
        assert_eq!(
            find(&status, "Reconciled"),
            ("False", "InvalidSpec", message)
        );
        assert_eq!(find(&status, "Ready"), find(&good, "Ready"));
        assert_eq!(find(&status, "LokiReady"), find(&good, "LokiReady"));
        assert_eq!(status.observed_generation, Some(3));

        // Paused: nothing applied and nothing observed: Reconciled False, Ready
        // Unknown, the components as last seen.
        let paused = Observation::unapplied(Some(4), Outcome::Paused);
        let status = compute(None, &good, &paused, t(400));
        assert_eq!(find(&status, "Reconciled").1, "Paused");
        let (ready, reason, _) = find(&status, "Ready");
        assert_eq!((ready, reason), ("Unknown", "Paused"));
        assert_eq!(find(&status, "LokiReady"), find(&good, "LokiReady"));
        assert_eq!(
            status
                .conditions
                .iter()
                .filter(|c| c.type_ == "Ready")
                .count(),
            1
        );
        assert!(!is_ready(&status));
    }

    #[test]
    fn the_probe_becomes_data_flowing_and_its_paths() {
        use super::super::probe::Signal;
        use std::time::Duration;
        let yaml = "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {name: s, namespace: n}\nspec: {}";
        let stack = crate::cli::check(&crate::cli::parse("t", yaml).unwrap()).unwrap();
        let path = |signal, reason: &'static str, latency: Option<u64>| PathResult {
            signal,
            reason,
            message: format!("{reason} here"),
            latency: latency.map(Duration::from_millis),
        };
        let probed = |at: i64, paths: Vec<PathResult>| Observation {
            data_flow: DataFlow::Probed(Report {
                at: t(at),
                paths: Ok(paths),
            }),
            ..Observation::unapplied(
                Some(1),
                Outcome::Applied {
                    dashboards_skipped: vec![],
                },
            )
        };
        let empty = ObservabilityStackStatus::default();

        let pending = Observation {
            data_flow: DataFlow::Pending,
            ..probed(0, vec![])
        };
        let first = compute(Some(&stack), &empty, &pending, t(100));
        assert_eq!(find(&first, "DataFlowing").0, "Unknown");
        assert_eq!(find(&first, "DataFlowing").1, reason::PROBE_PENDING);
        assert!(first.data_flow.is_none());

        let ok = probed(
            110,
            vec![
                path(Signal::Metrics, reason::PROBE_SUCCEEDED, Some(2_040)),
                path(Signal::Logs, reason::PROBE_SUCCEEDED, Some(3_000)),
            ],
        );
        let good = compute(Some(&stack), &first, &ok, t(120));
        let (status, why, message) = find(&good, "DataFlowing");
        assert_eq!(
            (status, why, message),
            ("True", reason::PROBE_SUCCEEDED, "metrics 2.0s; logs 3.0s")
        );
        let flow = good.data_flow.clone().unwrap();
        assert_eq!(flow.since, Time(t(110)));
        assert_eq!(flow.paths[0].latency.as_deref(), Some("2.0s"));
        // Not part of Ready.
        assert_eq!(find(&good, "Ready"), find(&first, "Ready"));

        // A restarted operator has no result yet: the last one stays.
        let restarted = compute(Some(&stack), &good, &pending, t(130));
        assert_eq!(restarted.data_flow, good.data_flow);
        assert_eq!(find(&restarted, "DataFlowing"), find(&good, "DataFlowing"));

        // The same result later keeps `since`: an unchanged stack writes nothing.
        let failing = |at| {
            probed(
                at,
                vec![
                    path(Signal::Metrics, reason::PROBE_SUCCEEDED, Some(1_000)),
                    path(Signal::Logs, reason::NOT_INGESTED, None),
                    path(Signal::Links, reason::NOT_CHECKED, None),
                ],
            )
        };
        let bad = compute(Some(&stack), &good, &failing(400), t(410));
        let (status, why, message) = find(&bad, "DataFlowing");
        assert_eq!(
            (status, why),
            ("False", reason::NOT_INGESTED),
            "the first failure that is not NotChecked"
        );
        assert_eq!(
            message,
            "metrics 1.0s; logs: NotIngested: NotIngested here; links: NotChecked: NotChecked here"
        );
        assert_eq!(bad.data_flow.as_ref().unwrap().since, Time(t(400)));
        let again = compute(Some(&stack), &bad, &failing(700), t(710));
        assert_eq!(again, bad);

        // Turned off: nothing is claimed, the paths are gone.
        let off = Observation {
            data_flow: DataFlow::Disabled,
            ..probed(0, vec![])
        };
        let disabled = compute(Some(&stack), &bad, &off, t(800));
        assert_eq!(find(&disabled, "DataFlowing").0, "Unknown");
        assert_eq!(find(&disabled, "DataFlowing").1, reason::PROBE_DISABLED);
        assert!(disabled.data_flow.is_none());

        // An invalid spec keeps what the probe last found.
        let invalid = Observation::unapplied(Some(2), Outcome::InvalidSpec("x".into()));
        let kept = compute(None, &bad, &invalid, t(900));
        assert_eq!(kept.data_flow, bad.data_flow);
        assert_eq!(find(&kept, "DataFlowing"), find(&bad, "DataFlowing"));
    }
}
