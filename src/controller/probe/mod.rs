//! The stack's self-check (`spec.probe`, docs/data-flowing.md): on an interval
//! the operator sends one span, one log record and one metric point to the
//! stack's collector and finds each back in Tempo, Loki and Prometheus
//! (`run`), with what they send built in `otlp`.
//!
//! This module owns when a stack is probed and what the last probe found. A
//! reconcile asks [`Probes::observe`]: it starts a probe when one is due (in
//! the background, a few at a time) and returns the last result, which the
//! status turns into the `DataFlowing` condition. A finished probe asks the
//! controller of its stack's namespace for a reconcile, so the status is still
//! written by the reconcile alone.

pub mod otlp;
pub mod run;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::Timestamp;
use kube::runtime::reflector::ObjectRef;
use kube::{Api, Client};
use tokio::sync::{Semaphore, mpsc};
use tracing::{debug, warn};

use crate::api::ObservabilityStack;
use crate::model::{Component, ValidatedStack, ports};
use crate::telemetry::Metrics;
pub use run::{PathResult, Signal, Targets};

/// A finished probe.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// When it sent its telemetry.
    pub at: Timestamp,
    /// Each path, or why none could be probed (the collector's token could not
    /// be read).
    pub paths: Result<Vec<PathResult>, String>,
}

/// What a reconcile learns about a stack's data paths.
#[derive(Clone, Debug, PartialEq)]
pub enum DataFlow {
    /// Not looked at in this reconcile (the status keeps what it had).
    Unobserved,
    /// The probe is off (`spec.probe.enabled: false`, or `--probes=false`).
    Disabled,
    /// The probe cannot send to this stack, and why.
    NotPossible(String),
    /// On, with no finished probe yet.
    Pending,
    /// The last finished probe.
    Probed(Report),
}

/// Per controller: the namespace it watches (`None`: all) and where to send
/// the stacks whose probe finished.
type Triggers = Arc<
    Mutex<
        Vec<(
            Option<String>,
            mpsc::UnboundedSender<ObjectRef<ObservabilityStack>>,
        )>,
    >,
>;

#[derive(Default)]
struct Entry {
    started: Option<Instant>,
    generation: Option<i64>,
    running: bool,
    report: Option<Report>,
}

/// The probes of every stack of this operator.
pub struct Probes {
    enabled: bool,
    http: Option<reqwest::Client>,
    state: Arc<Mutex<HashMap<ObjectRef<ObservabilityStack>, Entry>>>,
    triggers: Triggers,
    limit: Arc<Semaphore>,
}

impl Probes {
    /// Probes run at most `concurrency` at a time; `enabled` false turns them
    /// off for every stack.
    pub fn new(enabled: bool, concurrency: usize) -> Self {
        let http = match run::client(run::REQUEST_TIMEOUT) {
            Ok(c) => Some(c),
            Err(e) => {
                warn!(error = %e, "cannot build the probe's HTTP client: probes are off");
                None
            }
        };
        Self {
            enabled: enabled && http.is_some(),
            http,
            state: Arc::default(),
            triggers: Arc::default(),
            limit: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    /// The stream of stacks whose probe finished, for the controller of
    /// `namespace` (`None`: every namespace).
    pub fn finished(
        &self,
        namespace: Option<&str>,
    ) -> mpsc::UnboundedReceiver<ObjectRef<ObservabilityStack>> {
        let (tx, rx) = mpsc::unbounded_channel();
        lock(&self.triggers).push((namespace.map(String::from), tx));
        rx
    }

    /// The last result for a stack, starting a probe when one is due; and how
    /// soon the next is due.
    pub fn observe(
        &self,
        client: &Client,
        metrics: &Arc<Metrics>,
        stack: &ObservabilityStack,
        valid: &ValidatedStack,
    ) -> (DataFlow, Option<Duration>) {
        let key = ObjectRef::from(stack);
        let spec = &valid.spec.probe;
        let Some(http) = self
            .http
            .as_ref()
            .filter(|_| self.enabled && spec.is_enabled())
        else {
            lock(&self.state).remove(&key);
            return (DataFlow::Disabled, None);
        };
        let targets = match targets(valid) {
            Ok(t) => t,
            Err(why) => {
                lock(&self.state).remove(&key);
                return (DataFlow::NotPossible(why), None);
            }
        };
        let Some((interval, timeout)) = crate::validate::probe::timings(spec) else {
            return (DataFlow::Unobserved, None);
        };
        let generation = stack.metadata.generation;
        let mut state = lock(&self.state);
        let entry = state.entry(key.clone()).or_default();
        let due = !entry.running
            && (entry.generation != generation
                || entry.started.is_none_or(|s| s.elapsed() >= interval));
        if due {
            entry.running = true;
            entry.started = Some(Instant::now());
            entry.generation = generation;
            let job = Job {
                http: http.clone(),
                client: client.clone(),
                metrics: metrics.clone(),
                state: self.state.clone(),
                triggers: self.triggers.clone(),
                limit: self.limit.clone(),
                key: key.clone(),
                auth: valid
                    .spec
                    .collector
                    .auth
                    .as_ref()
                    .map(|a| (a.secret_name.clone(), a.key.clone())),
                tls: valid
                    .spec
                    .collector
                    .tls
                    .as_ref()
                    .map(|t| t.secret_name.clone()),
                targets,
                timeout,
            };
            tokio::spawn(job.run());
        }
        let next = entry.started.map(|s| {
            interval
                .saturating_sub(s.elapsed())
                .max(Duration::from_secs(1))
        });
        let flow = match &entry.report {
            Some(r) => DataFlow::Probed(r.clone()),
            None => DataFlow::Pending,
        };
        (flow, next)
    }

    /// Forgets a deleted stack.
    pub fn forget(&self, stack: &ObjectRef<ObservabilityStack>) {
        lock(&self.state).remove(stack);
    }

    /// Forgets every stack of `namespace` (every namespace with `None`) for
    /// which `keep(namespace, name)` is false.
    pub fn retain(&self, namespace: Option<&str>, mut keep: impl FnMut(&str, &str) -> bool) {
        lock(&self.state).retain(|k, _| {
            let ns = k.namespace.as_deref().unwrap_or_default();
            namespace.is_some_and(|scope| scope != ns) || keep(ns, &k.name)
        });
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Where the probe of a stack sends and asks, or why it cannot.
pub fn targets(stack: &ValidatedStack) -> Result<Targets, String> {
    if !stack.enabled(Component::Collector) {
        return Err("the collector is disabled: there is nothing to send to".into());
    }
    let tls = stack.spec.collector.tls.as_ref();
    if tls.is_some_and(|t| t.client_ca_secret_name.is_some()) {
        return Err(
            "the collector wants client certificates (spec.collector.tls.clientCaSecretName), which the probe has none of"
                .into(),
        );
    }
    let url = |c: Component, port: i32| {
        stack
            .enabled(c)
            .then(|| format!("http://{}:{port}", stack.service_host(c)))
    };
    Ok(Targets {
        collector: format!(
            "{}://{}:{}",
            if tls.is_some() { "https" } else { "http" },
            stack.service_host(Component::Collector),
            ports::OTLP_HTTP
        ),
        token: None,
        prometheus: stack
            .enabled(Component::Prometheus)
            .then(|| stack.prometheus_query_url()),
        prometheus_replicas: if stack.prometheus_ha() {
            stack
                .prometheus_write_hosts()
                .into_iter()
                .map(|(_, host)| format!("http://{host}:{}", ports::PROMETHEUS))
                .collect()
        } else {
            Vec::new()
        },
        loki: url(Component::Loki, ports::LOKI_HTTP),
        tempo: url(Component::Tempo, ports::TEMPO_HTTP),
        span_metrics: stack.tempo_generator(),
        exports: !stack.spec.export.is_empty(),
    })
}

/// One probe in the background.
struct Job {
    http: reqwest::Client,
    client: Client,
    metrics: Arc<Metrics>,
    state: Arc<Mutex<HashMap<ObjectRef<ObservabilityStack>, Entry>>>,
    triggers: Triggers,
    limit: Arc<Semaphore>,
    key: ObjectRef<ObservabilityStack>,
    auth: Option<(String, String)>,
    /// The collector's TLS Secret, whose `ca.crt` the probe trusts.
    tls: Option<String>,
    targets: Targets,
    timeout: Duration,
}

impl Job {
    async fn run(mut self) {
        let _permit = self.limit.clone().acquire_owned().await;
        let namespace = self.key.namespace.clone().unwrap_or_default();
        let stack = format!("{namespace}/{}", self.key.name);
        let at = Timestamp::now();
        let ready = async {
            let token = self.token(&namespace).await?;
            let http = self.client(&namespace).await?;
            Ok::<_, String>((token, http))
        };
        let paths = match ready.await {
            Ok((token, http)) => {
                self.targets.token = token;
                let probe = otlp::Probe::new(stack.clone());
                Ok(run::run(&http, &self.targets, &probe, self.timeout).await)
            }
            Err(why) => Err(why),
        };
        if let Ok(paths) = &paths {
            for p in paths {
                self.metrics.probe_result(
                    &stack,
                    p.signal.as_str(),
                    (!p.ok()).then_some(p.reason),
                    p.latency.map(|l| l.as_secs_f64()),
                );
            }
            // The discards and exports paths are listed only when something
            // was lost; their gauges are 1 again once nothing is.
            let t = &self.targets;
            let checked = [
                (
                    run::Signal::Discards,
                    t.prometheus.is_some() && (t.loki.is_some() || t.tempo.is_some()),
                ),
                (run::Signal::Exports, t.prometheus.is_some() && t.exports),
            ];
            for (signal, checked) in checked {
                if checked && !paths.iter().any(|p| p.signal == signal) {
                    self.metrics
                        .probe_result(&stack, signal.as_str(), None, None);
                }
            }
            debug!(%stack, ?paths, "probe finished");
        }
        {
            let mut state = lock(&self.state);
            // Forgotten meanwhile (deleted, or its probe turned off): drop it.
            let Some(entry) = state.get_mut(&self.key) else {
                return;
            };
            entry.running = false;
            entry.report = Some(Report { at, paths });
        }
        for (scope, tx) in lock(&self.triggers).iter() {
            if scope.as_deref().is_none_or(|s| s == namespace) {
                let _ = tx.send(self.key.clone());
            }
        }
    }

    /// The client: the shared one, or for a collector with TLS one that trusts
    /// the `ca.crt` of its Secret (cert-manager writes it there; a Secret
    /// made another way must hold it too).
    async fn client(&self, namespace: &str) -> Result<reqwest::Client, String> {
        let Some(name) = &self.tls else {
            return Ok(self.http.clone());
        };
        let ca = self.secret_key(namespace, name, "ca.crt", "TLS").await?;
        run::client_trusting(run::REQUEST_TIMEOUT, &ca)
            .map_err(|e| format!("the ca.crt of Secret {name} is not usable: {e}"))
    }

    /// The first token of `spec.collector.auth`'s Secret key, read when the
    /// probe runs (the operator keeps no Secret data in memory).
    async fn token(&self, namespace: &str) -> Result<Option<String>, String> {
        let Some((name, key)) = &self.auth else {
            return Ok(None);
        };
        let bytes = self.secret_key(namespace, name, key, "token").await?;
        std::str::from_utf8(&bytes)
            .ok()
            .and_then(|t| t.lines().map(str::trim).find(|l| !l.is_empty()))
            .map(|t| Some(t.to_string()))
            .ok_or_else(|| {
                format!("the collector's token Secret {name} has no token under key {key}")
            })
    }

    /// The bytes of one key of a Secret of the stack's namespace, read when
    /// the probe runs; `what` names the Secret's use in the error.
    async fn secret_key(
        &self,
        namespace: &str,
        name: &str,
        key: &str,
        what: &str,
    ) -> Result<Vec<u8>, String> {
        let api: Api<Secret> = Api::namespaced(self.client.clone(), namespace);
        let secret = api
            .get(name)
            .await
            .map_err(|e| format!("cannot read the collector's {what} Secret {name}: {e}"))?;
        secret
            .data
            .and_then(|mut d| d.remove(key))
            .map(|b| b.0)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| format!("the collector's {what} Secret {name} has no {key}"))
    }
}

impl std::fmt::Debug for Probes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Probes")
            .field("enabled", &self.enabled)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stack(spec: &str) -> ValidatedStack {
        let yaml = format!(
            "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {{name: s, namespace: n}}\nspec: {spec}"
        );
        crate::cli::check(&crate::cli::parse("t", &yaml).unwrap()).unwrap()
    }

    #[test]
    fn targets_follow_what_runs() {
        let t = targets(&stack("{}")).unwrap();
        assert_eq!(t.collector, "http://s-collector.n.svc:4318");
        assert_eq!(
            t.prometheus.as_deref(),
            Some("http://s-prometheus.n.svc:9090")
        );
        assert_eq!(t.loki.as_deref(), Some("http://s-loki.n.svc:3100"));
        assert_eq!(t.tempo.as_deref(), Some("http://s-tempo.n.svc:3200"));
        assert!(t.span_metrics);
        let t = targets(&stack(
            "{loki: {enabled: false}, prometheus: {enabled: false}}",
        ))
        .unwrap();
        assert_eq!((t.loki, t.prometheus, t.span_metrics), (None, None, false));
        let tls = targets(&stack("{collector: {tls: {secretName: c}}}")).unwrap();
        assert_eq!(tls.collector, "https://s-collector.n.svc:4318");
        let mtls = targets(&stack(
            "{collector: {tls: {secretName: c, clientCaSecretName: ca}}}",
        ));
        assert!(mtls.unwrap_err().contains("clientCaSecretName"));
        let none = targets(&stack("{collector: {enabled: false}}"));
        assert!(none.unwrap_err().contains("collector is disabled"));
    }
}
