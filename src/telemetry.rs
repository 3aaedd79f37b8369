//! The operator's own telemetry: structured logs (text or JSON), optional OTLP
//! export of its traces, Prometheus metrics, and the `/metrics`, `/healthz` and
//! `/readyz` endpoints.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use opentelemetry::trace::TracerProvider as _;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Log line format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Installs the global tracing subscriber. With an OTLP endpoint, spans are also
/// exported over OTLP/gRPC; the returned provider must be shut down at exit.
pub fn init(
    format: LogFormat,
    filter: &str,
    otlp_endpoint: Option<&str>,
) -> Result<Option<opentelemetry_sdk::trace::SdkTracerProvider>, Box<dyn std::error::Error>> {
    let filter = EnvFilter::try_new(filter)?;
    let fmt = match format {
        LogFormat::Text => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .boxed(),
    };
    let (otel, provider) = match otlp_endpoint {
        Some(endpoint) => {
            use opentelemetry_otlp::WithExportConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()?;
            let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
                .with_batch_exporter(exporter)
                .with_resource(
                    opentelemetry_sdk::Resource::builder()
                        .with_service_name("sextant")
                        .build(),
                )
                .build();
            let tracer = provider.tracer("sextant");
            (
                Some(tracing_opentelemetry::layer().with_tracer(tracer)),
                Some(provider),
            )
        }
        None => (None, None),
    };
    tracing_subscriber::registry()
        .with(filter)
        .with(fmt)
        .with(otel)
        .try_init()?;
    Ok(provider)
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabel {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WriteLabels {
    kind: String,
    verb: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConditionLabels {
    condition: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProbeLabels {
    stack: String,
    signal: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProbeFailureLabels {
    stack: String,
    signal: String,
    reason: String,
}

/// The signals of the probe and the reasons a path fails, for forgetting a
/// stack's series.
const PROBE_SIGNALS: [&str; 6] = ["metrics", "logs", "traces", "links", "discards", "exports"];
const PROBE_FAILURES: [&str; 7] = [
    crate::api::reason::COLLECTOR_UNREACHABLE,
    crate::api::reason::COLLECTOR_REJECTED,
    crate::api::reason::NOT_QUERYABLE,
    crate::api::reason::NOT_INGESTED,
    crate::api::reason::NOT_CHECKED,
    crate::api::reason::DATA_DISCARDED,
    crate::api::reason::EXPORT_FAILING,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabel {
    kind: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StepLabel {
    step: &'static str,
}

/// Buckets of the reconcile histograms, 0.1 ms to 30 s: a reconcile of a
/// converged stack reads only memory and takes about a millisecond.
const RECONCILE_BUCKETS: [f64; 17] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0,
];

fn step_histogram() -> Histogram {
    Histogram::new(RECONCILE_BUCKETS)
}

/// The steps of a reconcile `sextant_reconcile_step_duration_seconds` times.
pub const RECONCILE_STEPS: [&str; 5] = ["dereference", "validate", "build", "apply", "status"];

fn probe_histogram() -> Histogram {
    Histogram::new([0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0])
}

/// The operator's Prometheus metrics.
pub struct Metrics {
    registry: Registry,
    reconciles: Counter,
    errors: Family<ReasonLabel, Counter>,
    duration: Histogram,
    steps: Family<StepLabel, Histogram, fn() -> Histogram>,
    cache_objects: Family<KindLabel, Gauge>,
    cache_bytes: Family<KindLabel, Gauge>,
    writes: Family<WriteLabels, Counter>,
    stacks: Gauge,
    by_condition: Family<ConditionLabels, Gauge>,
    /// Per stack (namespace/name): its (condition type, status) pairs.
    stack_conditions: Mutex<HashMap<String, Vec<(String, String)>>>,
    probe_duration: Family<ProbeLabels, Histogram, fn() -> Histogram>,
    probe_failures: Family<ProbeFailureLabels, Counter>,
    probe_ok: Family<ProbeLabels, Gauge>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sextant");
        let reconciles = Counter::default();
        let errors = Family::<ReasonLabel, Counter>::default();
        let duration = Histogram::new(RECONCILE_BUCKETS);
        let steps =
            Family::<StepLabel, Histogram, fn() -> Histogram>::new_with_constructor(step_histogram);
        let writes = Family::<WriteLabels, Counter>::default();
        let stacks = Gauge::default();
        let by_condition = Family::<ConditionLabels, Gauge>::default();
        registry.register("reconciles", "Reconciles run", reconciles.clone());
        registry.register(
            "reconcile_errors",
            "Failed reconciles by reason",
            errors.clone(),
        );
        registry.register(
            "reconcile_duration_seconds",
            "Duration of one reconcile",
            duration.clone(),
        );
        registry.register(
            "reconcile_step_duration_seconds",
            "Duration of one step of a reconcile: dereference (reading what the spec references), validate, build, apply (server-side apply and pruning against the cached children), status (observing, computing and writing it)",
            steps.clone(),
        );
        let cache_objects = Family::<KindLabel, Gauge>::default();
        let cache_bytes = Family::<KindLabel, Gauge>::default();
        registry.register(
            "cache_objects",
            "Children in the operator's cache, by kind (refreshed every 10 s)",
            cache_objects.clone(),
        );
        registry.register(
            "cache_packed_bytes",
            "Bytes the cached children take compressed, by kind (refreshed every 10 s)",
            cache_bytes.clone(),
        );
        registry.register(
            "api_writes",
            "Write requests sextant sent to the API server, by kind and verb",
            writes.clone(),
        );
        registry.register(
            "stacks_managed",
            "ObservabilityStacks known",
            stacks.clone(),
        );
        registry.register(
            "stacks_by_condition",
            "ObservabilityStacks per condition type and status",
            by_condition.clone(),
        );
        let probe_duration =
            Family::<ProbeLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                probe_histogram,
            );
        let probe_failures = Family::<ProbeFailureLabels, Counter>::default();
        let probe_ok = Family::<ProbeLabels, Gauge>::default();
        registry.register(
            "probe_duration_seconds",
            "From sending the probe's telemetry to finding it back, per stack and path (successful probes)",
            probe_duration.clone(),
        );
        registry.register(
            "probe_failures",
            "Probes of a path that failed, per stack, path and reason",
            probe_failures.clone(),
        );
        registry.register(
            "probe_ok",
            "1 when the last probe of a stack's path found its data, 0 when it failed",
            probe_ok.clone(),
        );
        Self {
            registry,
            reconciles,
            errors,
            duration,
            steps,
            cache_objects,
            cache_bytes,
            writes,
            stacks,
            by_condition,
            stack_conditions: Mutex::default(),
            probe_duration,
            probe_failures,
            probe_ok,
        }
    }
}

/// Observes a reconcile's duration when dropped.
pub struct ReconcileTimer<'a> {
    start: Instant,
    metrics: &'a Metrics,
}

impl Drop for ReconcileTimer<'_> {
    fn drop(&mut self) {
        self.metrics
            .duration
            .observe(self.start.elapsed().as_secs_f64());
    }
}

impl Metrics {
    /// Counts a reconcile and times it until the returned guard drops.
    pub fn reconcile(&self) -> ReconcileTimer<'_> {
        self.reconciles.inc();
        ReconcileTimer {
            start: Instant::now(),
            metrics: self,
        }
    }

    /// Observes how long one step of a reconcile took since `start`
    /// (`step`: one of [`RECONCILE_STEPS`]).
    pub fn step(&self, step: &'static str, start: Instant) {
        self.steps
            .get_or_create(&StepLabel { step })
            .observe(start.elapsed().as_secs_f64());
    }

    /// Records how many children of `kind` the cache holds and their packed bytes.
    pub fn cache_size(&self, kind: &'static str, objects: usize, bytes: usize) {
        let label = KindLabel { kind };
        let gauge = |n: usize| i64::try_from(n).unwrap_or(i64::MAX);
        self.cache_objects.get_or_create(&label).set(gauge(objects));
        self.cache_bytes.get_or_create(&label).set(gauge(bytes));
    }

    /// Counts a failed reconcile.
    pub fn error(&self, reason: &str) {
        self.errors
            .get_or_create(&ReasonLabel {
                reason: reason.into(),
            })
            .inc();
    }

    /// Counts one write request.
    pub fn write(&self, kind: &str, verb: &str) {
        self.writes
            .get_or_create(&WriteLabels {
                kind: kind.into(),
                verb: verb.into(),
            })
            .inc();
    }

    /// Records a stack's current conditions (or its deletion, with `None`).
    pub fn stack_conditions(&self, key: &str, conditions: Option<Vec<(String, String)>>) {
        let mut all = self.lock_stacks();
        match conditions {
            Some(c) => {
                all.insert(key.into(), c);
            }
            None => {
                all.remove(key);
            }
        }
        self.set_stack_gauges(&all);
    }

    /// Records what a probe of one path of a stack (`namespace/name`) found:
    /// its latency on success, its reason on failure.
    pub fn probe_result(
        &self,
        stack: &str,
        signal: &str,
        failure: Option<&str>,
        latency: Option<f64>,
    ) {
        let labels = ProbeLabels {
            stack: stack.into(),
            signal: signal.into(),
        };
        self.probe_ok
            .get_or_create(&labels)
            .set(i64::from(failure.is_none()));
        if let Some(l) = latency {
            self.probe_duration.get_or_create(&labels).observe(l);
        }
        if let Some(reason) = failure {
            self.probe_failures
                .get_or_create(&ProbeFailureLabels {
                    stack: stack.into(),
                    signal: signal.into(),
                    reason: reason.into(),
                })
                .inc();
        }
    }

    /// Forgets every probe series of a stack.
    fn forget_probes(&self, stack: &str) {
        for signal in PROBE_SIGNALS {
            let labels = ProbeLabels {
                stack: stack.into(),
                signal: signal.into(),
            };
            self.probe_ok.remove(&labels);
            self.probe_duration.remove(&labels);
            for reason in PROBE_FAILURES {
                self.probe_failures.remove(&ProbeFailureLabels {
                    stack: stack.into(),
                    signal: signal.into(),
                    reason: reason.into(),
                });
            }
        }
    }

    /// Forgets a deleted stack (`namespace/name`): it no longer counts in
    /// `sextant_stacks_managed` nor in `sextant_stacks_by_condition`, and its
    /// probe series are gone.
    pub fn forget_stack(&self, key: &str) {
        self.stack_conditions(key, None);
        self.forget_probes(key);
    }

    /// Forgets every remembered stack of `namespace` (of every namespace with
    /// `None`) for which `keep(namespace, name)` is false, and returns how many it
    /// forgot. Stacks of other namespaces are left alone: the controllers of several
    /// namespaces share these metrics. `keep` runs under the metrics' lock.
    pub fn retain_stacks(
        &self,
        namespace: Option<&str>,
        mut keep: impl FnMut(&str, &str) -> bool,
    ) -> usize {
        let mut all = self.lock_stacks();
        let mut gone = Vec::new();
        all.retain(|key, _| {
            // Keys are `namespace/name`; neither part may contain a '/'.
            let Some((ns, name)) = key.split_once('/') else {
                return true;
            };
            let kept = namespace.is_some_and(|scope| scope != ns) || keep(ns, name);
            if !kept {
                gone.push(key.clone());
            }
            kept
        });
        if !gone.is_empty() {
            self.set_stack_gauges(&all);
        }
        drop(all);
        for key in &gone {
            self.forget_probes(key);
        }
        gone.len()
    }

    fn lock_stacks(&self) -> std::sync::MutexGuard<'_, HashMap<String, Vec<(String, String)>>> {
        self.stack_conditions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Sets `stacks_managed` and `stacks_by_condition` from every stack's conditions.
    fn set_stack_gauges(&self, all: &HashMap<String, Vec<(String, String)>>) {
        self.stacks.set(all.len() as i64);
        let mut counts: HashMap<ConditionLabels, i64> = HashMap::new();
        for conds in all.values() {
            for (condition, status) in conds {
                *counts
                    .entry(ConditionLabels {
                        condition: condition.clone(),
                        status: status.clone(),
                    })
                    .or_default() += 1;
            }
        }
        self.by_condition.clear();
        for (labels, n) in counts {
            self.by_condition.get_or_create(&labels).set(n);
        }
    }

    /// The metrics in Prometheus text format.
    pub fn encode(&self) -> String {
        let mut text = String::new();
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}

/// State behind the HTTP endpoints.
#[derive(Clone)]
pub struct Health {
    /// The metrics to serve.
    pub metrics: Arc<Metrics>,
    /// Set once the controller runs (or waits as a standby for the lease).
    pub ready: Arc<AtomicBool>,
}

async fn metrics(State(h): State<Health>) -> impl IntoResponse {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        h.metrics.encode(),
    )
}

async fn readyz(State(h): State<Health>) -> impl IntoResponse {
    if h.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting")
    }
}

/// Serves `/metrics`, `/healthz` and `/readyz` until `shutdown` resolves.
pub async fn serve(
    addr: std::net::SocketAddr,
    health: Health,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .with_state(health);
    let listener = tokio::net::TcpListener::bind(addr).await?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conditions(pairs: &[(&str, &str)]) -> Option<Vec<(String, String)>> {
        Some(
            pairs
                .iter()
                .map(|(c, s)| (c.to_string(), s.to_string()))
                .collect(),
        )
    }

    /// The value of the sample `series` (name and labels, exactly as encoded).
    fn sample(text: &str, series: &str) -> Option<String> {
        text.lines()
            .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
            .map(str::to_string)
    }

    fn ready(status: &str) -> String {
        format!("sextant_stacks_by_condition{{condition=\"Ready\",status=\"{status}\"}}")
    }

    const RECONCILED_TRUE: &str =
        "sextant_stacks_by_condition{condition=\"Reconciled\",status=\"True\"}";

    /// Three stacks: `a/x` and `b/z` Ready, `a/y` not.
    fn three_stacks() -> Metrics {
        let m = Metrics::default();
        let ok = [("Ready", "True"), ("Reconciled", "True")];
        m.stack_conditions("a/x", conditions(&ok));
        m.stack_conditions(
            "a/y",
            conditions(&[("Ready", "False"), ("Reconciled", "True")]),
        );
        m.stack_conditions("b/z", conditions(&ok));
        let text = m.encode();
        assert_eq!(
            sample(&text, "sextant_stacks_managed").as_deref(),
            Some("3")
        );
        assert_eq!(sample(&text, &ready("True")).as_deref(), Some("2"));
        assert_eq!(sample(&text, &ready("False")).as_deref(), Some("1"));
        assert_eq!(sample(&text, RECONCILED_TRUE).as_deref(), Some("3"));
        m
    }

    #[test]
    fn forget_stack_drops_it_from_both_gauges() {
        let m = three_stacks();
        m.forget_stack("a/y");
        let text = m.encode();
        assert_eq!(
            sample(&text, "sextant_stacks_managed").as_deref(),
            Some("2")
        );
        assert_eq!(sample(&text, &ready("True")).as_deref(), Some("2"));
        // No stack is Ready=False any more: the series is gone, not left at 1.
        assert_eq!(sample(&text, &ready("False")), None);
        assert_eq!(sample(&text, RECONCILED_TRUE).as_deref(), Some("2"));
        // Forgetting a stack that is not remembered changes nothing (compared as
        // sets of lines: a metric family is a hash map, so the order of its
        // series may change when it is rebuilt).
        m.forget_stack("a/unknown");
        let lines = |t: &str| {
            t.lines()
                .map(String::from)
                .collect::<std::collections::BTreeSet<_>>()
        };
        assert_eq!(lines(&m.encode()), lines(&text));
    }

    #[test]
    fn retain_stacks_forgets_only_within_its_namespace() {
        let m = three_stacks();
        let mut asked = Vec::new();
        let forgotten = m.retain_stacks(Some("a"), |ns, name| {
            asked.push(format!("{ns}/{name}"));
            name == "y"
        });
        asked.sort();
        assert_eq!(asked, ["a/x", "a/y"], "b/z is out of scope");
        assert_eq!(forgotten, 1);
        let text = m.encode();
        assert_eq!(
            sample(&text, "sextant_stacks_managed").as_deref(),
            Some("2")
        );
        assert_eq!(sample(&text, &ready("True")).as_deref(), Some("1"));
        assert_eq!(sample(&text, &ready("False")).as_deref(), Some("1"));
        assert_eq!(sample(&text, RECONCILED_TRUE).as_deref(), Some("2"));

        // Nothing to forget: nothing changes.
        assert_eq!(m.retain_stacks(Some("a"), |_, _| true), 0);
        assert_eq!(m.encode(), text);
        // A namespace with no stacks: b/z stays.
        assert_eq!(m.retain_stacks(Some("c"), |_, _| false), 0);
        assert_eq!(m.encode(), text);

        // All namespaces (the controller of a cluster-wide operator).
        assert_eq!(m.retain_stacks(None, |ns, _| ns == "b"), 1);
        let text = m.encode();
        assert_eq!(
            sample(&text, "sextant_stacks_managed").as_deref(),
            Some("1")
        );
        assert_eq!(sample(&text, &ready("True")).as_deref(), Some("1"));
        assert_eq!(sample(&text, &ready("False")), None);
        assert_eq!(m.retain_stacks(None, |_, _| false), 1);
        let text = m.encode();
        assert_eq!(
            sample(&text, "sextant_stacks_managed").as_deref(),
            Some("0")
        );
        assert!(
            !text.contains("sextant_stacks_by_condition{"),
            "no condition series left:\n{text}"
        );
    }
}
