//! One probe of one stack: send the span, the log record and the gauge point
//! to the collector, then ask each backend for them until found or the
//! timeout, and classify what was seen per path.
//!
//! The backend APIs it reads, at the pinned versions:
//! - Prometheus v3.5.3 `GET /api/v1/query` (instant query; an answer is
//!   `{"status":"success","data":{"resultType":"vector","result":[...]}}`,
//!   prometheus/prometheus web/api/v1/api.go);
//! - Tempo v2.10.8 `GET /api/v2/traces/<trace id>`: 200 with the trace, 404
//!   while it is not found (grafana/tempo cmd/tempo/app/modules.go registers
//!   it, modules/frontend/combiner/trace_by_id_v2.go answers);
//! - Loki v3.7.8 `GET /loki/api/v1/query_range` with a LogQL stream selector
//!   on `service_name` and a label filter on the structured metadata
//!   `probe_id` (grafana/loki pkg/loghttp/push/otlp.go: `service.name` is an
//!   index label by default, log attributes and the trace id become
//!   structured metadata, returned among the stream's labels).

use std::time::{Duration, Instant};

use serde_json::Value;

use super::otlp::{ID_ATTRIBUTE, METRIC, Probe, SERVICE_NAME};
use crate::api::reason;

/// Where the probe sends and asks, as base URLs (`http://host:port`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Targets {
    /// The collector's OTLP/HTTP receiver.
    pub collector: String,
    /// The bearer token the collector wants (`spec.collector.auth`).
    pub token: Option<String>,
    /// Prometheus's HTTP API, when Prometheus runs (with replicas, the Thanos
    /// Query over them: what Grafana reads).
    pub prometheus: Option<String>,
    /// With Prometheus in replicas, each replica's own HTTP API: the metrics
    /// path must find the point in every one (each receives every sample).
    pub prometheus_replicas: Vec<String>,
    /// Loki's HTTP API, when Loki runs.
    pub loki: Option<String>,
    /// Tempo's HTTP API, when Tempo runs.
    pub tempo: Option<String>,
    /// Tempo's metrics-generator writes span metrics to this Prometheus: the
    /// links path also looks for the probe's service among them.
    pub span_metrics: bool,
    /// The stack exports to destinations outside it (`spec.export`): the
    /// collector's failures to send there are looked up in Prometheus.
    pub exports: bool,
}

/// The four paths.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Signal {
    /// A gauge point, collector -> Prometheus.
    Metrics,
    /// A log record, collector -> Loki.
    Logs,
    /// A span, collector -> Tempo.
    Traces,
    /// The log record's trace id resolves in Tempo; the span's service is in
    /// the span metrics.
    Links,
    /// Loki and Tempo discarded nothing in the last [`DISCARD_WINDOW`]: a path
    /// reported only when they did.
    Discards,
    /// The collector sent everything to `spec.export`'s destinations in the
    /// last [`DISCARD_WINDOW`]: a path reported only when it did not.
    Exports,
}

impl Signal {
    /// The name in `status.dataFlow` and in the metrics' `signal` label.
    pub fn as_str(self) -> &'static str {
        match self {
            Signal::Metrics => "metrics",
            Signal::Logs => "logs",
            Signal::Traces => "traces",
            Signal::Links => "links",
            Signal::Discards => "discards",
            Signal::Exports => "exports",
        }
    }
}

/// What one path of one probe found.
#[derive(Clone, Debug, PartialEq)]
pub struct PathResult {
    /// The path.
    pub signal: Signal,
    /// `reason::PROBE_SUCCEEDED` or why not.
    pub reason: &'static str,
    /// What was seen, for the status.
    pub message: String,
    /// From sending to finding it, on success.
    pub latency: Option<Duration>,
}

impl PathResult {
    /// Whether the path works.
    pub fn ok(&self) -> bool {
        self.reason == reason::PROBE_SUCCEEDED
    }

    fn failed(signal: Signal, reason: &'static str, message: String) -> Self {
        Self {
            signal,
            reason,
            message,
            latency: None,
        }
    }
}

/// How long between two looks at a backend.
pub const POLL: Duration = Duration::from_secs(2);
/// How long one HTTP request of the operator's probes may take.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client for probes: connection and request timeouts, no proxy
/// (the addresses are in-cluster Service names).
pub fn client(request_timeout: Duration) -> Result<reqwest::Client, reqwest::Error> {
    builder(request_timeout).build()
}

/// A client that trusts only the CAs of `ca_pem` (PEM, one or more
/// certificates): for a collector serving OTLP over TLS.
pub fn client_trusting(
    request_timeout: Duration,
    ca_pem: &[u8],
) -> Result<reqwest::Client, String> {
    let roots = reqwest::Certificate::from_pem_bundle(ca_pem).map_err(|e| e.to_string())?;
    if roots.is_empty() {
        return Err("it holds no PEM certificate".into());
    }
    builder(request_timeout)
        .tls_certs_only(roots)
        .build()
        .map_err(|e| e.to_string())
}

fn builder(request_timeout: Duration) -> reqwest::ClientBuilder {
    // reqwest's rustls needs a process-wide crypto provider: ring, as kube's
    // own TLS uses. Installing it again (another client) changes nothing.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(request_timeout.min(Duration::from_secs(5)))
        .timeout(request_timeout)
        .no_proxy()
}

/// A failed look at a backend.
#[derive(Debug)]
enum Look {
    /// The backend answered, and the data is not there (yet).
    Absent,
    /// The request failed, or the backend answered with an error.
    Error(String),
}

/// Runs one probe: sends, then waits up to `timeout` for each path.
pub async fn run(
    http: &reqwest::Client,
    t: &Targets,
    probe: &Probe,
    timeout: Duration,
) -> Vec<PathResult> {
    let sent = Instant::now();
    let id = probe.id();
    let mut out = Vec::new();
    let sends = [
        (
            Signal::Metrics,
            t.prometheus.is_some(),
            "/v1/metrics",
            probe.metrics(),
        ),
        (Signal::Logs, t.loki.is_some(), "/v1/logs", probe.logs()),
        (
            Signal::Traces,
            t.tempo.is_some(),
            "/v1/traces",
            probe.traces(),
        ),
    ];
    let mut delivered = Vec::new();
    for (signal, wanted, path, body) in sends {
        if !wanted {
            continue;
        }
        match send(http, t, path, body).await {
            Ok(()) => delivered.push(signal),
            Err(f) => out.push(PathResult::failed(signal, f.0, f.1)),
        }
    }
    let deadline = sent + timeout;
    let metrics = async {
        match &t.prometheus {
            Some(p) if delivered.contains(&Signal::Metrics) => {
                let q = format!(
                    "{}{{{}=\"{id}\"}}",
                    prom_name(METRIC),
                    prom_name(ID_ATTRIBUTE)
                );
                if t.prometheus_replicas.is_empty() {
                    return Some(
                        found(Signal::Metrics, sent, deadline, || {
                            prometheus_has(http, p, &q)
                        })
                        .await
                        .0,
                    );
                }
                // Every replica; the result is the first that lacks it, or the
                // last found (the slowest).
                let mut last = None;
                for base in &t.prometheus_replicas {
                    let (mut r, _) = found(Signal::Metrics, sent, deadline, || {
                        prometheus_has(http, base, &q)
                    })
                    .await;
                    if !r.ok() {
                        r.message = format!("in replica {base}: {}", r.message);
                        return Some(r);
                    }
                    last = Some(r);
                }
                last
            }
            _ => None,
        }
    };
    let logs = async {
        match &t.loki {
            Some(l) if delivered.contains(&Signal::Logs) => Some(
                found(Signal::Logs, sent, deadline, || {
                    loki_trace_id(http, l, &id, probe.unix_nanos)
                })
                .await,
            ),
            _ => None,
        }
    };
    let traces = async {
        match &t.tempo {
            Some(te) if delivered.contains(&Signal::Traces) => Some(
                found(Signal::Traces, sent, deadline, || tempo_has(http, te, &id))
                    .await
                    .0,
            ),
            _ => None,
        }
    };
    let (metrics, logs, traces) = futures::join!(metrics, logs, traces);
    let logs_ok = logs.as_ref().is_some_and(|(r, _)| r.ok());
    let traces_ok = traces.as_ref().is_some_and(PathResult::ok);
    let linked_trace = logs.as_ref().and_then(|(_, tid)| tid.clone()).flatten();
    out.extend(metrics);
    out.extend(logs.map(|(r, _)| r));
    out.extend(traces);
    if t.loki.is_some() && t.tempo.is_some() {
        out.push(if !(logs_ok && traces_ok) {
            PathResult::failed(
                Signal::Links,
                reason::NOT_CHECKED,
                "needs the logs and traces paths, which failed".into(),
            )
        } else {
            links(http, t, &id, linked_trace, sent, deadline).await
        });
    }
    out.extend(discards(http, t).await);
    out.extend(export_failures(http, t).await);
    out.sort_by_key(|r| r.signal);
    out
}

/// How far back the discard check looks.
pub const DISCARD_WINDOW: &str = "15m";

/// A store's discard counter, as its scrape job in the stack's Prometheus
/// reports it (the job is the component's name: `crate::render::prometheus`).
struct DiscardCounter {
    store: &'static str,
    job: &'static str,
    /// grafana/loki v3.7.6 `pkg/validation/validate.go`; grafana/tempo v2.10.8
    /// `modules/overrides/discarded_spans.go` (both in `crate::catalogue`).
    metric: &'static str,
    unit: &'static str,
    /// The limit behind a reason, to raise if the volume is legitimate.
    limit: fn(&str) -> Option<&'static str>,
}

const LOKI_DISCARDS: DiscardCounter = DiscardCounter {
    store: "Loki",
    job: "loki",
    metric: "loki_discarded_samples_total",
    unit: "log lines",
    limit: |reason| match reason {
        "rate_limited" => Some("spec.loki.limits.ingestionRate and ingestionBurst"),
        "stream_limit" => Some("spec.loki.limits.maxStreams"),
        "per_stream_rate_limit" => Some("spec.loki.limits.perStreamRate and perStreamBurst"),
        _ => None,
    },
};

const TEMPO_DISCARDS: DiscardCounter = DiscardCounter {
    store: "Tempo",
    job: "tempo",
    metric: "tempo_discarded_spans_total",
    unit: "spans",
    limit: |reason| match reason {
        "rate_limited" => Some("spec.tempo.limits.ingestionRate and ingestionBurst"),
        "live_traces_exceeded" => Some("spec.tempo.limits.maxLiveTraces"),
        "trace_too_large" => Some("spec.tempo.limits.maxTraceSize"),
        _ => None,
    },
};

impl DiscardCounter {
    fn query(&self) -> String {
        format!(
            "sum by (reason) (increase({}{{job=\"{}\"}}[{DISCARD_WINDOW}])) >= 1",
            self.metric, self.job
        )
    }

    /// One line per reason of an instant query's answer.
    fn lines(&self, answer: &Value) -> Vec<String> {
        samples(answer, "reason")
            .into_iter()
            .map(|(reason, n)| {
                let hint = (self.limit)(reason)
                    .map(|l| format!(": raise {l} if the volume is expected"))
                    .unwrap_or_default();
                format!(
                    "{} discarded {} {} ({reason}{hint})",
                    self.store,
                    n.round(),
                    self.unit
                )
            })
            .collect()
    }
}

/// What the collector's exporters of `spec.export` (ids `<kind>/export-<name>`,
/// `crate::model::export`) failed to send in the last [`DISCARD_WINDOW`], by its
/// own counters as the stack's Prometheus scrapes them (job `collector`; the
/// names with `_total`, as `crate::render::otelcol` configures its telemetry:
/// `crate::catalogue`).
pub fn export_failures_query() -> String {
    format!(
        r#"sum by (exporter) (increase({{__name__=~"otelcol_exporter_send_failed_(spans|metric_points|log_records)_total",job="collector",exporter=~".+/export-.+"}}[{DISCARD_WINDOW}])) >= 1"#
    )
}

/// The samples of an instant query's vector answer, by the value of `label`
/// (`unknown` when a sample lacks it): Prometheus v3.5.3 writes each as
/// `{"metric": {...}, "value": [<time>, "<number>"]}` (web/api/v1/api.go).
fn samples<'a>(answer: &'a Value, label: &str) -> Vec<(&'a str, f64)> {
    let Some(result) = answer["data"]["result"].as_array() else {
        return Vec::new();
    };
    result
        .iter()
        .filter_map(|r| {
            let n: f64 = r["value"][1].as_str()?.parse().ok()?;
            Some((r["metric"][label].as_str().unwrap_or("unknown"), n))
        })
        .collect()
}

/// One line per failing exporter of an instant query's answer.
fn export_failure_lines(answer: &Value) -> Vec<String> {
    samples(answer, "exporter")
        .into_iter()
        .map(|(exporter, n)| {
            format!(
                "{exporter} failed to send {} spans, metric points or log records",
                n.round()
            )
        })
        .collect()
}

/// The failed `exports` path, or nothing when every destination took what was
/// sent (or Prometheus could not say, or does not run).
async fn export_failures(http: &reqwest::Client, t: &Targets) -> Option<PathResult> {
    if !t.exports {
        return None;
    }
    let url = format!("{}/api/v1/query", t.prometheus.as_ref()?);
    let (status, answer) = get_json(http, &url, &[("query", export_failures_query())])
        .await
        .ok()?;
    let lines = if status == 200 && answer["status"] == "success" {
        export_failure_lines(&answer)
    } else {
        Vec::new()
    };
    (!lines.is_empty()).then(|| {
        PathResult::failed(
            Signal::Exports,
            reason::EXPORT_FAILING,
            format!(
                "in the last {DISCARD_WINDOW}: {}: the data is lost once retries end",
                lines.join("; ")
            ),
        )
    })
}

/// What Loki and Tempo discarded in the last [`DISCARD_WINDOW`], by their own
/// counters in the stack's Prometheus: a failed `discards` path, or nothing
/// when they discarded nothing (or Prometheus could not say: the metrics path
/// reports a Prometheus that does not answer).
async fn discards(http: &reqwest::Client, t: &Targets) -> Option<PathResult> {
    let base = t.prometheus.as_ref()?;
    let url = format!("{base}/api/v1/query");
    let mut lines = Vec::new();
    for (counter, runs) in [
        (&LOKI_DISCARDS, t.loki.is_some()),
        (&TEMPO_DISCARDS, t.tempo.is_some()),
    ] {
        if !runs {
            continue;
        }
        if let Ok((200, answer)) = get_json(http, &url, &[("query", counter.query())]).await
            && answer["status"] == "success"
        {
            lines.extend(counter.lines(&answer));
        }
    }
    (!lines.is_empty()).then(|| {
        PathResult::failed(
            Signal::Discards,
            reason::DATA_DISCARDED,
            format!("in the last {DISCARD_WINDOW}: {}", lines.join("; ")),
        )
    })
}

/// The links: the log record came back with the span's trace id (and that
/// trace resolves in Tempo, which the traces path showed), and the span's
/// service appears in Tempo's span metrics in Prometheus.
async fn links(
    http: &reqwest::Client,
    t: &Targets,
    id: &str,
    trace_id: Option<String>,
    sent: Instant,
    deadline: Instant,
) -> PathResult {
    match trace_id {
        Some(tid) if tid == id => {}
        Some(other) => {
            return PathResult::failed(
                Signal::Links,
                reason::NOT_INGESTED,
                format!("the log record came back with trace_id {other}, not the span's {id}"),
            );
        }
        None => {
            return PathResult::failed(
                Signal::Links,
                reason::NOT_INGESTED,
                "the log record came back without its trace_id: logs cannot link to traces".into(),
            );
        }
    }
    match (&t.prometheus, t.span_metrics) {
        (Some(p), true) => {
            let q = format!("traces_spanmetrics_calls_total{{service=\"{SERVICE_NAME}\"}}");
            let (mut r, _) = found(Signal::Links, sent, deadline, || {
                prometheus_has(http, p, &q)
            })
            .await;
            if !r.ok() {
                r.message = format!("span metrics of service {SERVICE_NAME}: {}", r.message);
            }
            r
        }
        _ => PathResult {
            signal: Signal::Links,
            reason: reason::PROBE_SUCCEEDED,
            message: "the log record's trace_id resolves in Tempo".into(),
            latency: Some(sent.elapsed()),
        },
    }
}

/// Looks until `look` succeeds or the deadline passes; the last failure
/// decides the reason. Returns what the successful look found.
async fn found<T, F, Fut>(
    signal: Signal,
    sent: Instant,
    deadline: Instant,
    mut look: F,
) -> (PathResult, Option<T>)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, Look>>,
{
    loop {
        let last = look().await;
        let latency = sent.elapsed();
        match last {
            Ok(v) => {
                let r = PathResult {
                    signal,
                    reason: reason::PROBE_SUCCEEDED,
                    message: format!("found after {}", format_latency(latency)),
                    latency: Some(latency),
                };
                return (r, Some(v));
            }
            Err(e) if Instant::now() + POLL > deadline => {
                let waited = format_latency(latency);
                let r = match e {
                    Look::Absent => PathResult::failed(
                        signal,
                        reason::NOT_INGESTED,
                        format!("not found {waited} after it was sent"),
                    ),
                    Look::Error(m) => PathResult::failed(signal, reason::NOT_QUERYABLE, m),
                };
                return (r, None);
            }
            Err(_) => tokio::time::sleep(POLL).await,
        }
    }
}

/// A latency as the status shows it: seconds with one decimal.
pub fn format_latency(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// Prometheus's name for an OTLP metric or attribute name under its default
/// translation (`UnderscoreEscapingWithSuffixes`: characters other than
/// letters, digits and `_` become `_`; a gauge without unit gets no suffix;
/// prometheus/otlptranslator at the version Prometheus v3.5.3 vendors).
pub fn prom_name(otlp: &str) -> String {
    otlp.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect()
}

async fn send(
    http: &reqwest::Client,
    t: &Targets,
    path: &str,
    body: Vec<u8>,
) -> Result<(), (&'static str, String)> {
    let url = format!("{}{path}", t.collector);
    let mut req = http
        .post(&url)
        .header("Content-Type", "application/x-protobuf")
        .body(body);
    if let Some(token) = &t.token {
        req = req.bearer_auth(token);
    }
    let resp = req.send().await.map_err(|e| {
        (
            reason::COLLECTOR_UNREACHABLE,
            format!("POST {url}: {}", describe(&e)),
        )
    })?;
    let status = resp.status();
    if status.is_success() {
        return Ok(());
    }
    let text = resp.text().await.unwrap_or_default();
    Err((
        reason::COLLECTOR_REJECTED,
        format!("POST {url}: {status} {}", snippet(&text)),
    ))
}

async fn get_json(
    http: &reqwest::Client,
    url: &str,
    query: &[(&str, String)],
) -> Result<(u16, Value), Look> {
    let resp = http
        .get(url)
        .query(query)
        .send()
        .await
        .map_err(|e| Look::Error(format!("GET {url}: {}", describe(&e))))?;
    let status = resp.status().as_u16();
    let text = resp
        .text()
        .await
        .map_err(|e| Look::Error(format!("GET {url}: reading the answer: {}", describe(&e))))?;
    if status == 404 {
        return Ok((status, Value::Null));
    }
    if !(200..300).contains(&status) {
        return Err(Look::Error(format!(
            "GET {url}: {status} {}",
            snippet(&text)
        )));
    }
    serde_json::from_str(&text)
        .map(|v| (status, v))
        .map_err(|e| Look::Error(format!("GET {url}: not JSON ({e}): {}", snippet(&text))))
}

/// Whether an instant query returns at least one sample.
async fn prometheus_has(http: &reqwest::Client, base: &str, query: &str) -> Result<(), Look> {
    let url = format!("{base}/api/v1/query");
    let (status, v) = get_json(http, &url, &[("query", query.to_string())]).await?;
    if status == 404 {
        return Err(Look::Error(format!("GET {url}: 404: not a Prometheus API")));
    }
    if v["status"] != "success" {
        return Err(Look::Error(format!(
            "GET {url}: {}",
            snippet(&v.to_string())
        )));
    }
    match v["data"]["result"].as_array() {
        Some(r) if !r.is_empty() => Ok(()),
        Some(_) => Err(Look::Absent),
        None => Err(Look::Error(format!(
            "GET {url}: no data.result in the answer"
        ))),
    }
}

/// Whether Tempo finds the trace.
async fn tempo_has(http: &reqwest::Client, base: &str, id: &str) -> Result<(), Look> {
    let url = format!("{base}/api/v2/traces/{id}");
    let (status, v) = get_json(http, &url, &[]).await?;
    if status == 404 {
        return Err(Look::Absent);
    }
    // The v2 answer holds the trace under `trace` (tempopb.TraceByIDResponse);
    // a trace with no spans is not found either.
    let spans = v["trace"]["resourceSpans"]
        .as_array()
        .is_some_and(|r| !r.is_empty());
    if spans { Ok(()) } else { Err(Look::Absent) }
}

/// The `trace_id` of the probe's log record in Loki, or `Absent`.
async fn loki_trace_id(
    http: &reqwest::Client,
    base: &str,
    id: &str,
    sent_nanos: u64,
) -> Result<Option<String>, Look> {
    let url = format!("{base}/loki/api/v1/query_range");
    let query = format!(
        "{{service_name=\"{SERVICE_NAME}\"}} | {}=\"{id}\"",
        prom_name(ID_ATTRIBUTE)
    );
    let start = sent_nanos.saturating_sub(60_000_000_000);
    let end = sent_nanos + 600_000_000_000;
    let (status, v) = get_json(
        http,
        &url,
        &[
            ("query", query),
            ("start", start.to_string()),
            ("end", end.to_string()),
            ("limit", "10".into()),
            ("direction", "backward".into()),
        ],
    )
    .await?;
    if status == 404 {
        return Err(Look::Error(format!("GET {url}: 404: not a Loki API")));
    }
    if v["status"] != "success" {
        return Err(Look::Error(format!(
            "GET {url}: {}",
            snippet(&v.to_string())
        )));
    }
    let streams = v["data"]["result"]
        .as_array()
        .ok_or_else(|| Look::Error(format!("GET {url}: no data.result in the answer")))?;
    let stream = streams
        .iter()
        .find(|s| s["values"].as_array().is_some_and(|v| !v.is_empty()))
        .ok_or(Look::Absent)?;
    Ok(stream["stream"]["trace_id"].as_str().map(str::to_lowercase))
}

/// An error with its causes (reqwest's own message names only the URL).
fn describe(e: &reqwest::Error) -> String {
    let mut s = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "cannot connect".to_string()
    } else {
        e.to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        s.push_str(": ");
        s.push_str(&cause.to_string());
        source = cause.source();
    }
    s
}

fn snippet(text: &str) -> String {
    let t = text.trim();
    match t.char_indices().nth(200) {
        Some((i, _)) => format!("{}...", &t[..i]),
        None => t.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_translate_as_prometheus_does() {
        assert_eq!(prom_name(METRIC), "sextant_probe_heartbeat");
        assert_eq!(prom_name(ID_ATTRIBUTE), "probe_id");
    }

    #[test]
    fn discards_name_the_store_the_reason_and_the_limit() {
        let answer = serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"reason": "rate_limited"}, "value": [1.7e9, "1234.4"]},
            {"metric": {"reason": "out_of_order"}, "value": [1.7e9, "3"]},
        ]}});
        assert_eq!(
            LOKI_DISCARDS.lines(&answer),
            [
                "Loki discarded 1234 log lines (rate_limited: raise spec.loki.limits.ingestionRate and ingestionBurst if the volume is expected)",
                "Loki discarded 3 log lines (out_of_order)",
            ]
        );
        let empty = serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": []}});
        assert!(TEMPO_DISCARDS.lines(&empty).is_empty());
        assert_eq!(
            TEMPO_DISCARDS.query(),
            r#"sum by (reason) (increase(tempo_discarded_spans_total{job="tempo"}[15m])) >= 1"#
        );
    }

    #[test]
    fn export_failures_name_the_exporter() {
        let answer = serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": [
            {"metric": {"exporter": "otlp_grpc/export-vendor"}, "value": [1.7e9, "42"]},
        ]}});
        assert_eq!(
            export_failure_lines(&answer),
            ["otlp_grpc/export-vendor failed to send 42 spans, metric points or log records"]
        );
        for name in [
            "otelcol_exporter_send_failed_spans_total",
            "otelcol_exporter_send_failed_metric_points_total",
            "otelcol_exporter_send_failed_log_records_total",
        ] {
            let family = crate::catalogue::FAMILIES
                .iter()
                .find(|f| f.name == name)
                .unwrap_or_else(|| panic!("{name} is not in the catalogue"));
            assert!(family.labels.contains(&"exporter"), "{name}");
        }
    }

    /// The counters are ones the pinned programs expose, with a `reason`
    /// label, scraped under the component's name as job.
    #[test]
    fn discard_counters_are_in_the_catalogue() {
        for (c, counter) in [
            (crate::model::Component::Loki, &LOKI_DISCARDS),
            (crate::model::Component::Tempo, &TEMPO_DISCARDS),
        ] {
            assert_eq!(counter.job, c.name());
            let family = crate::catalogue::FAMILIES
                .iter()
                .find(|f| f.name == counter.metric)
                .unwrap_or_else(|| panic!("{} is not in the catalogue", counter.metric));
            assert!(family.labels.contains(&"reason"), "{}", counter.metric);
        }
    }

    #[test]
    fn snippets_are_short() {
        assert_eq!(snippet(&"é".repeat(300)).chars().count(), 203);
        assert_eq!(snippet(" x "), "x");
    }
}
