//! The built-in alert rules about the stack itself, in Prometheus rule syntax.
//!
//! They are provisioned into Grafana next to the user's rule groups (and written
//! as a Prometheus rule file for `promtool check rules` in the tests). Each has a
//! runbook under docs/runbooks/ and names the components it needs; every rule
//! also needs Prometheus, the datasource it queries.

use std::collections::BTreeMap;

use super::runbook_url;
use crate::api::{AlertRule, RuleGroup};
use crate::model::{Capabilities, Component, ValidatedStack};

/// Name of the built-in rule group; users may not take it.
pub const BUILTIN_GROUP: &str = "sextant-builtin";

struct Builtin {
    name: &'static str,
    /// Components that must run for the rule to mean anything.
    needs: &'static [Component],
    expr: Expr,
    for_: &'static str,
    severity: &'static str,
    summary: &'static str,
    description: &'static str,
}

const BUILTIN: &[Builtin] = &[
    Builtin {
        name: "CollectorRefusingData",
        needs: &[Component::Collector],
        expr: Expr::Fixed(
            r#"sum by (receiver) (rate({__name__=~"otelcol_receiver_refused_(spans|metric_points|log_records)_total"}[5m])) > 0"#,
        ),
        for_: "5m",
        severity: "warning",
        summary: "The collector is refusing telemetry",
        description: "Receiver {{ $labels.receiver }} refuses data, usually because the memory_limiter is over its limit: senders see errors and may drop data.",
    },
    Builtin {
        name: "CollectorDroppingData",
        needs: &[Component::Collector],
        expr: Expr::Fixed(
            r#"sum by (exporter) (rate({__name__=~"otelcol_exporter_(send|enqueue)_failed_(spans|metric_points|log_records)_total"}[5m])) > 0"#,
        ),
        for_: "5m",
        severity: "critical",
        summary: "The collector fails to export telemetry",
        description: "Exporter {{ $labels.exporter }} fails to send or enqueue data: once retries are exhausted that data is lost.",
    },
    Builtin {
        name: "CollectorQueueNearlyFull",
        needs: &[Component::Collector],
        expr: Expr::Fixed(
            "max by (exporter) (otelcol_exporter_queue_size / otelcol_exporter_queue_capacity) > 0.8",
        ),
        for_: "10m",
        severity: "warning",
        summary: "A collector exporter queue is over 80% full",
        description: "The sending queue of {{ $labels.exporter }} is {{ $value | humanizePercentage }} full: its backend is slow or down, and a full queue drops data.",
    },
    Builtin {
        name: "StackComponentDown",
        needs: &[],
        expr: Expr::For(component_down_expr),
        for_: "5m",
        severity: "critical",
        summary: "A stack component is down",
        description: "{{ $labels.job }} {{ $labels.pod }} has not answered a scrape for 5 minutes, or has no running pod to scrape.",
    },
    Builtin {
        name: "LokiIngestionErrors",
        needs: &[Component::Loki],
        expr: Expr::Fixed("sum by (reason) (rate(loki_discarded_samples_total[5m])) > 0"),
        for_: "10m",
        severity: "warning",
        summary: "Loki is discarding log lines",
        description: "Loki discards log lines ({{ $labels.reason }}): they are lost.",
    },
    Builtin {
        name: "TempoIngestionErrors",
        needs: &[Component::Tempo],
        expr: Expr::Fixed("sum by (reason) (rate(tempo_discarded_spans_total[5m])) > 0"),
        for_: "10m",
        severity: "warning",
        summary: "Tempo is discarding spans",
        description: "Tempo discards spans ({{ $labels.reason }}): they are lost.",
    },
    Builtin {
        name: "TempoGeneratorSeriesLimited",
        needs: &[Component::Tempo, Component::Prometheus],
        expr: Expr::For(generator_series_limited_expr),
        for_: "15m",
        severity: "warning",
        summary: "Tempo's metrics-generator is at its series limit",
        description: "Tempo's metrics-generator creates no new span-metric or service-graph series: it holds spec.tempo.limits.maxGeneratorSeries. New services, operations or edges are missing from the RED dashboards and the service map.",
    },
    Builtin {
        name: "CollectorAtMaxReplicas",
        needs: &[Component::Collector],
        expr: Expr::For(at_max_replicas_expr),
        for_: "15m",
        severity: "warning",
        summary: "The collector has run at its maximum replicas for 15 minutes",
        description: "The collector autoscaler cannot add replicas: raise spec.collector.autoscaling.maxReplicas or the collector's resources.",
    },
    Builtin {
        name: "KubernetesVolumeNearlyFull",
        needs: &[],
        expr: Expr::For(volume_nearly_full_expr),
        for_: "10m",
        severity: "warning",
        summary: "A pod's volume is over 90% full",
        description: "Volume {{ $labels.k8s_volume_name }} of pod {{ $labels.k8s_namespace_name }}/{{ $labels.k8s_pod_name }} is {{ $value | humanizePercentage }} full: writes fail once it is full.",
    },
    Builtin {
        name: "ScrapeTargetDown",
        needs: &[],
        expr: Expr::For(scrape_target_down_expr),
        for_: "10m",
        severity: "warning",
        summary: "A discovered scrape target does not answer",
        description: "Prometheus has failed to scrape {{ $labels.job }} target {{ $labels.instance }} (namespace {{ $labels.namespace }}) for 10 minutes: its metrics are missing.",
    },
    Builtin {
        name: "KubernetesPodCrashLooping",
        needs: &[],
        expr: Expr::For(crash_looping_expr),
        for_: "15m",
        severity: "warning",
        summary: "A container keeps restarting",
        description: "Container {{ $labels.k8s_container_name }} of pod {{ $labels.k8s_namespace_name }}/{{ $labels.k8s_pod_name }} restarted {{ $value }} times in the last 15 minutes.",
    },
    Builtin {
        name: "KubernetesContainerOomKilled",
        needs: &[],
        expr: Expr::For(oom_killed_expr),
        for_: "1m",
        severity: "warning",
        summary: "A container was killed for running out of memory",
        description: "Container {{ $labels.k8s_container_name }} of pod {{ $labels.k8s_namespace_name }}/{{ $labels.k8s_pod_name }} restarted in the last 10 minutes after it was OOM-killed: it needs a higher memory limit, or it leaks.",
    },
    Builtin {
        name: "KubernetesNodeNotReady",
        needs: &[],
        expr: Expr::For(node_not_ready_expr),
        for_: "5m",
        severity: "critical",
        summary: "A node is not ready",
        description: "Node {{ $labels.k8s_node_name }} has reported Ready false or unknown for 5 minutes: its pods are not served and are evicted after the taint timeout.",
    },
];

/// The expression of `TempoGeneratorSeriesLimited`: series the generator did not
/// create because of `max_active_series` (grafana/tempo v2.10.8
/// `modules/generator/localserieslimiter/local_series_limiter.go`,
/// `tempo_metrics_generator_registry_series_limited_total`). `None` when the
/// generator does not run or has no limit.
fn generator_series_limited_expr(stack: &ValidatedStack, _: &Capabilities) -> Option<String> {
    (stack.tempo_generator() && stack.spec.tempo.limits.max_generator_series > 0)
        .then(|| "sum(rate(tempo_metrics_generator_registry_series_limited_total[5m])) > 0".into())
}

/// The labels of one container in the cluster collector's `k8s_cluster` series.
const CONTAINER: &str = "k8s_namespace_name, k8s_pod_name, k8s_container_name";

/// How many times each container restarted in the last `window`, from the
/// `k8s_cluster` receiver's `k8s.container.restarts` gauge (the kubelet's
/// `restartCount`). `max by` the container: the series of one container
/// changes its labels when the reason it last stopped changes (a promoted
/// resource attribute), and for a few minutes the old series is still read
/// next to the new one.
fn restarts_in(window: &str) -> String {
    format!(
        "max by ({CONTAINER}) (k8s_container_restarts) - max by ({CONTAINER}) (k8s_container_restarts offset {window})"
    )
}

/// The used fraction of each pod volume the node agent's kubeletstats receiver
/// reports (`volume` metric group: `k8s.volume.available` and
/// `k8s.volume.capacity`, unit `By`, resource attributes `k8s.namespace.name`,
/// `k8s.pod.name`, `k8s.volume.name`; receiver/kubeletstatsreceiver/metadata.yaml
/// and internal/kubelet/resource.go of opentelemetry-collector-contrib, stored
/// copies read for docs/research/node-agent.md, not at v0.159.0), as Prometheus
/// stores them over OTLP. Both series of a volume come from one resource, so they
/// match label for label; a capacity of 0 gives no sample above the threshold.
const VOLUME_NEARLY_FULL: &str = "max by (k8s_namespace_name, k8s_pod_name, k8s_volume_name) (1 - k8s_volume_available_bytes / k8s_volume_capacity_bytes) > 0.9";

/// A rule's expression: fixed, or made for the stack (`None`: the rule has
/// nothing to watch in this stack).
enum Expr {
    Fixed(&'static str),
    For(fn(&ValidatedStack, &Capabilities) -> Option<String>),
}

/// Names of every built-in rule, for `alerting.builtinRules.disabled`.
pub fn builtin_rule_names() -> Vec<&'static str> {
    BUILTIN.iter().map(|b| b.name).collect()
}

/// The expression of `StackComponentDown`: a scraped pod of the collector, the
/// node agent, Tempo or Loki that does not answer (`up == 0`), or one of them that should run and has no
/// scraped pod at all (a pod that is pending, deleted or not yet created has no
/// address, so Prometheus's pod discovery gives it no target and no `up`).
///
/// Prometheus and Grafana are left out because the rule could never notify about
/// them: a Prometheus that is down records no `up` (the rule's query then fails,
/// and Grafana raises its `DatasourceError` alert instead), and a Grafana that is
/// down evaluates no rule. `None` when none of the four runs.
fn component_down_expr(stack: &ValidatedStack, caps: &Capabilities) -> Option<String> {
    let watched: Vec<&str> = Component::ALL
        .into_iter()
        .filter(|c| watched_for_down(*c) && caps.runs(stack, *c) && stack.min_pods(*c) > 0)
        .map(Component::name)
        .collect();
    if watched.is_empty() {
        return None;
    }
    let mut expr = format!(r#"up{{job=~"{}"}} == 0"#, watched.join("|"));
    for job in watched {
        expr.push_str(&format!(
            r#" or (label_replace(vector(0), "job", "{job}", "", "") unless on (job) count by (job) (up{{job="{job}"}}))"#
        ));
    }
    Some(expr)
}

/// Whether `StackComponentDown` watches a component (see `component_down_expr`
/// for why Prometheus and Grafana are not).
fn watched_for_down(c: Component) -> bool {
    match c {
        Component::Collector
        | Component::NodeAgent
        | Component::ClusterCollector
        | Component::Tempo
        | Component::Loki => true,
        Component::Prometheus | Component::Grafana => false,
    }
}

/// The expression of `KubernetesVolumeNearlyFull`, where the kubelet's stats
/// reach Prometheus (`Capabilities::kubelet_stats`).
fn volume_nearly_full_expr(stack: &ValidatedStack, caps: &Capabilities) -> Option<String> {
    caps.kubelet_stats(stack)
        .then(|| VOLUME_NEARLY_FULL.to_string())
}

/// `KubernetesPodCrashLooping`: at least 2 restarts in every 15-minute window
/// for 15 minutes. The kubelet's restart back-off doubles from 10s up to 5
/// minutes, so a container that crashes on start soon restarts about every 5
/// minutes; one restart in a while is not a loop. Where the cluster's state
/// reaches Prometheus (`Capabilities::cluster_state`).
fn crash_looping_expr(stack: &ValidatedStack, caps: &Capabilities) -> Option<String> {
    caps.cluster_state(stack)
        .then(|| format!("{} >= 2", restarts_in("15m")))
}

/// `KubernetesContainerOomKilled`: a container restarted in the last 10
/// minutes, and the reason it last stopped is `OOMKilled` (the resource
/// attribute `k8s.container.status.last_terminated_reason`, which
/// `crate::render::cluster_collector` turns on and `crate::render::prometheus`
/// promotes).
fn oom_killed_expr(stack: &ValidatedStack, caps: &Capabilities) -> Option<String> {
    caps.cluster_state(stack).then(|| {
        format!(
            r#"({} >= 1) and on ({CONTAINER}) max by ({CONTAINER}) (k8s_container_restarts{{k8s_container_status_last_terminated_reason="OOMKilled"}})"#,
            restarts_in("10m")
        )
    })
}

/// `KubernetesNodeNotReady`: the node's Ready condition is false (0) or unknown
/// (-1), `k8s.node.condition_ready` of the `k8s_cluster` receiver.
fn node_not_ready_expr(stack: &ValidatedStack, caps: &Capabilities) -> Option<String> {
    caps.cluster_state(stack)
        .then(|| "max by (k8s_node_name) (k8s_node_condition_ready) < 1".to_string())
}

/// The expression of `ScrapeTargetDown`: a target of the annotation discovery
/// or of a translated monitor that does not answer. Every job of the stack's own
/// pods and Prometheus's own target carry `component` (`crate::render::prometheus`),
/// and no discovered job sets it, unless a monitor's relabelings write it; those
/// are `StackComponentDown`'s. `None` when the stack discovers nothing.
fn scrape_target_down_expr(stack: &ValidatedStack, _: &Capabilities) -> Option<String> {
    let p = &stack.spec.prometheus;
    (p.discovery.annotations || p.monitor_selector.is_some())
        .then(|| r#"up{component=""} == 0"#.to_string())
}

/// The expression of `CollectorAtMaxReplicas`: only under autoscaling.
fn at_max_replicas_expr(stack: &ValidatedStack, _: &Capabilities) -> Option<String> {
    let a = &stack.spec.collector.autoscaling;
    a.enabled
        .then(|| format!(r#"count(up{{job="collector"}} == 1) >= {}"#, a.max_replicas))
}

/// The built-in rule group for a stack, leaving out disabled rules and rules about
/// components that do not run (`Capabilities::runs`: a node agent the operator may
/// not run is not alerted on). `None` when there is nothing to alert on.
pub fn builtin_group(stack: &ValidatedStack, caps: &Capabilities) -> Option<RuleGroup> {
    let alerting = &stack.spec.grafana.alerting.builtin_rules;
    if !alerting.enabled || !stack.enabled(Component::Prometheus) {
        return None;
    }
    let rules: Vec<AlertRule> = BUILTIN
        .iter()
        .filter(|b| !alerting.disabled.iter().any(|d| d == b.name))
        .filter(|b| b.needs.iter().all(|c| caps.runs(stack, *c)))
        .filter_map(|b| {
            let expr = match b.expr {
                Expr::Fixed(e) => e.to_string(),
                Expr::For(make) => make(stack, caps)?,
            };
            Some(AlertRule {
                alert: b.name.into(),
                expr,
                for_: Some(b.for_.into()),
                labels: BTreeMap::from([("severity".into(), b.severity.into())]),
                annotations: BTreeMap::from([
                    ("summary".into(), b.summary.into()),
                    ("description".into(), b.description.into()),
                    ("runbook_url".into(), runbook_url(b.name)),
                ]),
            })
        })
        .collect();
    (!rules.is_empty()).then(|| RuleGroup {
        name: BUILTIN_GROUP.into(),
        interval: "1m".into(),
        rules,
    })
}

/// Every rule group of the stack: the built-in one (if any), the user's, one
/// per SLO (`super::slos`), then the GenAI budget's (`super::cost`).
pub fn all_groups(stack: &ValidatedStack, caps: &Capabilities) -> Vec<RuleGroup> {
    builtin_group(stack, caps)
        .into_iter()
        .chain(stack.spec.grafana.alerting.rule_groups.iter().cloned())
        .chain(super::slos::alert_groups(stack))
        .chain(super::cost::alert_group(stack))
        .collect()
}
