//! The probe of a stack's data paths (`sextant::controller::probe`), end to
//! end against servers that answer as the pinned programs do.
//!
//! - Prometheus is the real program (Debian's 3.5.3, `scripts/tools.sh`), with
//!   its remote-write receiver on. Debian's build has no OTLP receiver, so the
//!   stand-in collector below writes the probe's gauge point into it by remote
//!   write, named and labelled as Prometheus v3.5.3's OTLP translation names it
//!   (storage/remote/otlptranslator/prometheusremotewrite/helper.go
//!   `createAttributes`: `job` from `service.name`, attribute names with `.`
//!   as `_`; prometheus/otlptranslator `MetricNamer`: a gauge without unit gets
//!   no suffix), and Tempo's span metrics as its metrics-generator names them
//!   (`traces_spanmetrics_calls_total{service}`). The probe's instant queries
//!   then run against the real Prometheus.
//! - The collector, Tempo and Loki are stand-ins serving the answers the
//!   pinned versions give, read at their tags: Tempo v2.10.8 `/api/v2/traces/<id>`
//!   answers 200 with `{"trace":{"resourceSpans":[...]},"metrics":{...}}`, and
//!   200 with an empty `trace` when the trace is not found
//!   (modules/frontend/combiner/trace_by_id_v2.go); Loki v3.7.6 (the newest
//!   3.7 in the stored sources; 3.7.8 is pinned) `/loki/api/v1/query_range`
//!   answers `{"status":"success","data":{"resultType":"streams","result":[{"stream":{...},"values":[[ns,line]]}]}}`
//!   with structured metadata (`probe_id`, `trace_id` in lower-case hex) among
//!   the stream's labels (pkg/loghttp/push/otlp.go, pkg/util/marshal/query.go),
//!   400 for a query it cannot parse. The stand-ins check what the probe sends
//!   (OTLP protobuf decoded with the OTLP types, the LogQL the probe asks) but
//!   are not the programs: that Tempo and Loki ingest the probe's OTLP as
//!   their source says is not run here.

mod common;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use common::prompb;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{KeyValue, any_value::Value};
use opentelemetry_proto::tonic::metrics::v1::{metric::Data, number_data_point};
use prost::Message;
use sextant::api::reason;
use sextant::controller::probe::otlp::Probe;
use sextant::controller::probe::run::{self, PathResult, Signal, Targets, prom_name};

/// What the stand-in backends hold, and how they misbehave when asked to.
#[derive(Default)]
struct World {
    /// The remote-write URLs of the Prometheus replicas the collector forwards
    /// metrics to (none: it forwards nowhere).
    prometheus_write: Vec<String>,
    /// trace id (hex) -> service name, as Tempo would hold it.
    traces: BTreeMap<String, String>,
    /// Loki's streams: labels (index and structured metadata) and the line.
    logs: Vec<(BTreeMap<String, String>, u64, String)>,
    /// The collector answers every export with this status.
    collector_status: Option<StatusCode>,
    /// Loki answers every query with this status.
    loki_status: Option<StatusCode>,
    /// Loki drops the log record's trace id.
    loki_drops_trace_id: bool,
    /// Tempo never finds a trace.
    tempo_loses: bool,
    /// Tempo's generator writes no span metrics.
    no_span_metrics: bool,
    /// Every LogQL query Loki was asked.
    loki_queries: Vec<String>,
}

type Shared = Arc<Mutex<World>>;

fn attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    attrs
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| match a.value.as_ref()?.value.as_ref()? {
            Value::StringValue(s) => Some(s.clone()),
            Value::IntValue(i) => Some(i.to_string()),
            _ => None,
        })
}

/// An HTTP client for the test's own requests (the probe's: reqwest's rustls
/// wants the crypto provider it installs).
fn http() -> reqwest::Client {
    run::client(Duration::from_secs(10)).unwrap()
}

async fn remote_write(url: &str, series: Vec<prompb::TimeSeries>) {
    remote_write_with(&http(), url, series).await
}

async fn remote_write_with(http: &reqwest::Client, url: &str, series: Vec<prompb::TimeSeries>) {
    let body = prompb::WriteRequest { timeseries: series }.encode_to_vec();
    let body = snap::raw::Encoder::new().compress_vec(&body).unwrap();
    let resp = http
        .post(url)
        .header("Content-Type", "application/x-protobuf")
        .header("Content-Encoding", "snappy")
        .header("X-Prometheus-Remote-Write-Version", "0.1.0")
        .body(body)
        .send()
        .await
        .unwrap();
    assert!(
        resp.status().is_success(),
        "remote write: {}",
        resp.status()
    );
}

fn series(name: &str, labels: &[(String, String)], value: f64, ms: i64) -> prompb::TimeSeries {
    let mut l: Vec<prompb::Label> = std::iter::once(("__name__".to_string(), name.to_string()))
        .chain(labels.iter().cloned())
        .map(|(name, value)| prompb::Label { name, value })
        .collect();
    l.sort_by(|a, b| a.name.cmp(&b.name));
    prompb::TimeSeries {
        labels: l,
        samples: vec![prompb::Sample {
            value,
            timestamp: ms,
        }],
        exemplars: vec![],
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn collector_metrics(State(w): State<Shared>, body: Bytes) -> StatusCode {
    let (status, url) = {
        let w = w.lock().unwrap();
        (w.collector_status, w.prometheus_write.clone())
    };
    if let Some(s) = status {
        return s;
    }
    let Ok(req) = ExportMetricsServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut out = Vec::new();
    for rm in &req.resource_metrics {
        let res = rm
            .resource
            .as_ref()
            .map(|r| r.attributes.clone())
            .unwrap_or_default();
        let job = attr(&res, "service.name").unwrap_or_default();
        for sm in &rm.scope_metrics {
            for m in &sm.metrics {
                let Some(Data::Gauge(g)) = &m.data else {
                    continue;
                };
                for p in &g.data_points {
                    let mut labels = vec![("job".to_string(), job.clone())];
                    for a in &p.attributes {
                        labels.push((
                            prom_name(&a.key),
                            attr(&p.attributes, &a.key).unwrap_or_default(),
                        ));
                    }
                    let Some(number_data_point::Value::AsDouble(v)) = p.value else {
                        continue;
                    };
                    out.push(series(&prom_name(&m.name), &labels, v, now_ms()));
                }
            }
        }
    }
    for url in url {
        remote_write(&url, out.clone()).await;
    }
    StatusCode::OK
}

async fn collector_traces(State(w): State<Shared>, body: Bytes) -> StatusCode {
    if let Some(s) = w.lock().unwrap().collector_status {
        return s;
    }
    let Ok(req) = ExportTraceServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    let mut services = Vec::new();
    for rs in &req.resource_spans {
        let res = rs
            .resource
            .as_ref()
            .map(|r| r.attributes.clone())
            .unwrap_or_default();
        let service = attr(&res, "service.name").unwrap_or_default();
        for ss in &rs.scope_spans {
            for s in &ss.spans {
                // What a 10% sampler does to a span without a sampling priority.
                if attr(&s.attributes, "sampling.priority").is_none() {
                    continue;
                }
                w.lock()
                    .unwrap()
                    .traces
                    .insert(hex::encode(&s.trace_id), service.clone());
                services.push(service.clone());
            }
        }
    }
    let (url, no_span_metrics) = {
        let w = w.lock().unwrap();
        (w.prometheus_write.clone(), w.no_span_metrics)
    };
    if let (Some(url), false) = (url.first().cloned(), no_span_metrics) {
        let s: Vec<_> = services
            .iter()
            .map(|svc| {
                series(
                    "traces_spanmetrics_calls_total",
                    &[("service".into(), svc.clone())],
                    1.0,
                    now_ms(),
                )
            })
            .collect();
        remote_write(&url, s).await;
    }
    StatusCode::OK
}

async fn collector_logs(State(w): State<Shared>, body: Bytes) -> StatusCode {
    let mut w = w.lock().unwrap();
    if let Some(s) = w.collector_status {
        return s;
    }
    let Ok(req) = ExportLogsServiceRequest::decode(body) else {
        return StatusCode::BAD_REQUEST;
    };
    for rl in &req.resource_logs {
        let res = rl
            .resource
            .as_ref()
            .map(|r| r.attributes.clone())
            .unwrap_or_default();
        for sl in &rl.scope_logs {
            for r in &sl.log_records {
                let mut labels = BTreeMap::new();
                labels.insert(
                    "service_name".to_string(),
                    attr(&res, "service.name").unwrap_or_default(),
                );
                for a in &r.attributes {
                    labels.insert(
                        prom_name(&a.key),
                        attr(&r.attributes, &a.key).unwrap_or_default(),
                    );
                }
                if !w.loki_drops_trace_id && !r.trace_id.is_empty() {
                    labels.insert("trace_id".into(), hex::encode(&r.trace_id));
                    labels.insert("span_id".into(), hex::encode(&r.span_id));
                }
                let line = match r.body.as_ref().and_then(|b| b.value.as_ref()) {
                    Some(Value::StringValue(s)) => s.clone(),
                    _ => String::new(),
                };
                w.logs.push((labels, r.time_unix_nano, line));
            }
        }
    }
    StatusCode::OK
}

async fn tempo_trace(
    State(w): State<Shared>,
    UrlPath(id): UrlPath<String>,
) -> (StatusCode, String) {
    if !id.chars().all(|c| c.is_ascii_hexdigit()) || id.len() > 32 {
        return (
            StatusCode::BAD_REQUEST,
            format!("trace IDs can only contain hex characters: {id}"),
        );
    }
    let w = w.lock().unwrap();
    let body = match w.traces.get(&id) {
        Some(service) if !w.tempo_loses => serde_json::json!({
            "trace": {"resourceSpans": [{
                "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": service}}]},
                "scopeSpans": [{"scope": {"name": "sextant"}, "spans": [{"name": "sextant probe"}]}]
            }]},
            "metrics": {"inspectedBytes": "312"}
        }),
        _ => serde_json::json!({"trace": {}, "metrics": {"inspectedBytes": "0"}}),
    };
    (StatusCode::OK, body.to_string())
}

/// Loki's query_range for the one LogQL shape it is given here:
/// `{service_name="..."} | probe_id="..."`.
async fn loki_query(State(w): State<Shared>, RawQuery(q): RawQuery) -> (StatusCode, String) {
    let mut w = w.lock().unwrap();
    if let Some(s) = w.loki_status {
        return (s, "internal error".into());
    }
    let params: BTreeMap<String, String> =
        url::form_urlencoded::parse(q.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
    let query = params.get("query").cloned().unwrap_or_default();
    w.loki_queries.push(query.clone());
    let Some((selector, filter)) = query
        .strip_prefix("{service_name=\"")
        .and_then(|r| r.split_once("\"} | probe_id=\""))
        .and_then(|(svc, rest)| Some((svc.to_string(), rest.strip_suffix('"')?.to_string())))
    else {
        return (StatusCode::BAD_REQUEST, format!("parse error: {query}"));
    };
    let start: u64 = params
        .get("start")
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let end: u64 = params
        .get("end")
        .and_then(|s| s.parse().ok())
        .unwrap_or(u64::MAX);
    let result: Vec<_> = w
        .logs
        .iter()
        .filter(|(l, t, _)| {
            l.get("service_name") == Some(&selector)
                && l.get("probe_id") == Some(&filter)
                && (start..=end).contains(t)
        })
        .map(|(l, t, line)| serde_json::json!({"stream": l, "values": [[t.to_string(), line]]}))
        .collect();
    let body = serde_json::json!({
        "status": "success",
        "data": {"resultType": "streams", "result": result, "stats": {}}
    });
    (StatusCode::OK, body.to_string())
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

/// The stand-ins, started; the targets of a probe of all of them.
async fn world(prometheus: Option<&str>) -> (Shared, Targets) {
    let w: Shared = Arc::default();
    w.lock().unwrap().prometheus_write = prometheus
        .map(|p| format!("{p}/api/v1/write"))
        .into_iter()
        .collect();
    let collector = serve(
        Router::new()
            .route("/v1/metrics", post(collector_metrics))
            .route("/v1/traces", post(collector_traces))
            .route("/v1/logs", post(collector_logs))
            .with_state(w.clone()),
    )
    .await;
    let tempo = serve(
        Router::new()
            .route("/api/v2/traces/{id}", get(tempo_trace))
            .with_state(w.clone()),
    )
    .await;
    let loki = serve(
        Router::new()
            .route("/loki/api/v1/query_range", get(loki_query))
            .with_state(w.clone()),
    )
    .await;
    let targets = Targets {
        collector: format!("http://{collector}"),
        token: None,
        prometheus: prometheus.map(String::from),
        loki: Some(format!("http://{loki}")),
        tempo: Some(format!("http://{tempo}")),
        span_metrics: prometheus.is_some(),
        exports: false,
        prometheus_replicas: Vec::new(),
    };
    (w, targets)
}

struct Prometheus {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn prometheus(bin: &Path) -> Prometheus {
    prometheus_with(bin, None).await
}

/// Prometheus, serving TLS with `(cert, key)` (PEM) when given, on `localhost`.
async fn prometheus_with(bin: &Path, tls: Option<(&str, &str, &reqwest::Client)>) -> Prometheus {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("prometheus.yml"),
        "global: {scrape_interval: 15s}\n",
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let log = std::fs::File::create(dir.path().join("log")).unwrap();
    let mut web = Vec::new();
    if let Some((cert, key, _)) = tls {
        std::fs::write(dir.path().join("tls.crt"), cert).unwrap();
        std::fs::write(dir.path().join("tls.key"), key).unwrap();
        let config = dir.path().join("web.yml");
        std::fs::write(
            &config,
            "tls_server_config: {cert_file: tls.crt, key_file: tls.key}\n",
        )
        .unwrap();
        web.push(format!("--web.config.file={}", config.display()));
    }
    let child = Command::new(bin)
        .args(&web)
        .arg(format!(
            "--config.file={}",
            dir.path().join("prometheus.yml").display()
        ))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--web.enable-remote-write-receiver")
        .stdin(Stdio::null())
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .unwrap();
    let (url, client) = match tls {
        Some((_, _, client)) => (format!("https://localhost:{port}"), client.clone()),
        None => (format!("http://127.0.0.1:{port}"), http()),
    };
    let p = Prometheus {
        child,
        url,
        _dir: dir,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let last = client.get(format!("{}/-/ready", p.url)).send().await;
        if last.as_ref().is_ok_and(|r| r.status().is_success()) {
            return p;
        }
        assert!(
            Instant::now() < deadline,
            "Prometheus not ready: {last:?}\n{}",
            std::fs::read_to_string(p._dir.path().join("log")).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn by_signal(results: &[PathResult]) -> BTreeMap<&'static str, (&'static str, String)> {
    results
        .iter()
        .map(|r| (r.signal.as_str(), (r.reason, r.message.clone())))
        .collect()
}

async fn probe(t: &Targets, timeout: Duration) -> (Probe, Vec<PathResult>) {
    let http = run::client(Duration::from_secs(2)).unwrap();
    let p = Probe::new("ns/s".into());
    let r = run::run(&http, t, &p, timeout).await;
    (p, r)
}

#[tokio::test]
async fn every_path_is_found_back_and_the_metric_in_a_real_prometheus() {
    let Some(bin) = common::tool("prometheus") else {
        return;
    };
    let prom = prometheus(&bin).await;
    let (w, t) = world(Some(&prom.url)).await;
    let (p, results) = probe(&t, Duration::from_secs(20)).await;
    let got = by_signal(&results);
    for signal in ["metrics", "logs", "traces", "links"] {
        assert_eq!(
            got[signal].0,
            reason::PROBE_SUCCEEDED,
            "{signal}: {:?}",
            got[signal]
        );
    }
    assert!(results.iter().all(|r| r.latency.is_some()));
    // The series the probe found is the one its id names, in the real Prometheus.
    let q = format!(
        "sextant_probe_heartbeat{{probe_id=\"{}\",job=\"sextant-probe\"}}",
        p.id()
    );
    let text = http()
        .get(format!("{}/api/v1/query", prom.url))
        .query(&[("query", q)])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["data"]["result"].as_array().map(Vec::len), Some(1), "{v}");
    let queries = w.lock().unwrap().loki_queries.clone();
    assert!(
        queries.iter().all(|q| q
            == &format!(
                "{{service_name=\"sextant-probe\"}} | probe_id=\"{}\"",
                p.id()
            )),
        "{queries:?}"
    );
}

/// Loki's discard counter, as the stack's Prometheus scrapes it (job `loki`),
/// fails the `discards` path with the reason and the limit to raise; the same
/// counter under another job (a Loki the annotation discovery scrapes) does not
/// count, and no discard means no `discards` path.
#[tokio::test]
async fn discards_in_the_real_prometheus_fail_the_discards_path() {
    let Some(bin) = common::tool("prometheus") else {
        return;
    };
    let prom = prometheus(&bin).await;
    let (_w, t) = world(Some(&prom.url)).await;
    let (_, results) = probe(&t, Duration::from_secs(20)).await;
    assert!(!by_signal(&results).contains_key("discards"), "{results:?}");

    let write = format!("{}/api/v1/write", prom.url);
    let labels = |job: &str| {
        vec![
            ("job".to_string(), job.to_string()),
            ("reason".to_string(), "rate_limited".to_string()),
        ]
    };
    let now = now_ms();
    for (value, ms) in [(0.0, now - 60_000), (120.0, now)] {
        for (job, scale) in [("loki", 1.0), ("kubernetes-pods", 100.0)] {
            remote_write(
                &write,
                vec![series(
                    "loki_discarded_samples_total",
                    &labels(job),
                    value * scale,
                    ms,
                )],
            )
            .await;
        }
    }
    let (_, results) = probe(&t, Duration::from_secs(20)).await;
    let got = by_signal(&results);
    let (why, message) = &got["discards"];
    assert_eq!(*why, reason::DATA_DISCARDED, "{got:?}");
    assert!(
        message.contains(
            "log lines (rate_limited: raise spec.loki.limits.ingestionRate and ingestionBurst if the volume is expected)"
        ),
        "{message}"
    );
    assert!(!message.contains("Tempo"), "{message}");
    // 120 over one minute, extrapolated within the window by Prometheus's
    // increase(): far below what the other job's counter would add.
    let n: f64 = message
        .split("Loki discarded ")
        .nth(1)
        .and_then(|m| m.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{message}"));
    assert!((100.0..1000.0).contains(&n), "{message}");
    for signal in ["metrics", "logs", "traces", "links"] {
        assert_eq!(got[signal].0, reason::PROBE_SUCCEEDED, "{signal}: {got:?}");
    }
}

/// The collector's failures to send to a destination of `spec.export` (its
/// exporter `<kind>/export-<name>`, scraped as job `collector`) fail the
/// `exports` path naming the exporter; the stack's own exporters failing do not
/// (the other paths report those), nor does a stack that exports nothing.
#[tokio::test]
async fn export_failures_in_the_real_prometheus_fail_the_exports_path() {
    let Some(bin) = common::tool("prometheus") else {
        return;
    };
    let prom = prometheus(&bin).await;
    let (_w, mut t) = world(Some(&prom.url)).await;
    let write = format!("{}/api/v1/write", prom.url);
    let now = now_ms();
    for (value, ms) in [(0.0, now - 60_000), (50.0, now)] {
        for (exporter, name) in [
            (
                "otlp_grpc/export-vendor",
                "otelcol_exporter_send_failed_spans_total",
            ),
            (
                "otlp_http/loki",
                "otelcol_exporter_send_failed_log_records_total",
            ),
        ] {
            let labels = [
                ("job".to_string(), "collector".to_string()),
                ("exporter".to_string(), exporter.to_string()),
            ];
            remote_write(&write, vec![series(name, &labels, value, ms)]).await;
        }
    }
    let (_, results) = probe(&t, Duration::from_secs(20)).await;
    assert!(!by_signal(&results).contains_key("exports"), "{results:?}");

    t.exports = true;
    let (_, results) = probe(&t, Duration::from_secs(20)).await;
    let got = by_signal(&results);
    let (why, message) = &got["exports"];
    assert_eq!(*why, reason::EXPORT_FAILING, "{got:?}");
    assert!(
        message.contains("otlp_grpc/export-vendor failed to send"),
        "{message}"
    );
    assert!(!message.contains("otlp_http/loki"), "{message}");
    for signal in ["metrics", "logs", "traces", "links"] {
        assert_eq!(got[signal].0, reason::PROBE_SUCCEEDED, "{signal}: {got:?}");
    }
}

#[tokio::test]
async fn a_probe_that_is_not_there_is_not_ingested_in_the_real_prometheus() {
    let Some(bin) = common::tool("prometheus") else {
        return;
    };
    let prom = prometheus(&bin).await;
    let (w, t) = world(Some(&prom.url)).await;
    // The collector takes the point but writes it nowhere, and Tempo's
    // generator writes no span metrics.
    {
        let mut w = w.lock().unwrap();
        w.prometheus_write.clear();
        w.no_span_metrics = true;
    }
    let (_, results) = probe(&t, Duration::from_secs(5)).await;
    let got = by_signal(&results);
    assert_eq!(got["metrics"].0, reason::NOT_INGESTED, "{got:?}");
    assert!(got["metrics"].1.starts_with("not found"), "{got:?}");
    assert_eq!(got["links"].0, reason::NOT_INGESTED, "{got:?}");
    assert!(
        got["links"]
            .1
            .contains("span metrics of service sextant-probe"),
        "{got:?}"
    );
    assert_eq!(got["logs"].0, reason::PROBE_SUCCEEDED);
}

/// With Prometheus in replicas the metrics path looks in each: a point that
/// reached one replica only fails, naming the replica that lacks it; once the
/// collector writes to both (as its one exporter per replica does), it passes.
/// Two real Prometheus servers.
#[tokio::test]
async fn with_replicas_the_point_must_reach_every_replica() {
    let Some(bin) = common::tool("prometheus") else {
        return;
    };
    let (a, b) = (prometheus(&bin).await, prometheus(&bin).await);
    let (w, mut t) = world(Some(&a.url)).await;
    t.prometheus_replicas = vec![a.url.clone(), b.url.clone()];
    let (_, results) = probe(&t, Duration::from_secs(5)).await;
    let got = by_signal(&results);
    assert_eq!(got["metrics"].0, reason::NOT_INGESTED, "{got:?}");
    assert!(
        got["metrics"]
            .1
            .starts_with(&format!("in replica {}: not found", b.url)),
        "{got:?}"
    );
    w.lock()
        .unwrap()
        .prometheus_write
        .push(format!("{}/api/v1/write", b.url));
    let (_, results) = probe(&t, Duration::from_secs(20)).await;
    let got = by_signal(&results);
    assert_eq!(got["metrics"].0, reason::PROBE_SUCCEEDED, "{got:?}");
}

#[tokio::test]
async fn an_unreachable_collector_is_named_and_nothing_else_is_claimed() {
    let (_, mut t) = world(None).await;
    // A port nobody listens on.
    let free = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    t.collector = format!("http://{free}");
    t.prometheus = Some("http://127.0.0.1:9".into());
    let (_, results) = probe(&t, Duration::from_secs(5)).await;
    let got = by_signal(&results);
    for signal in ["metrics", "logs", "traces"] {
        assert_eq!(got[signal].0, reason::COLLECTOR_UNREACHABLE, "{got:?}");
        assert!(got[signal].1.contains("cannot connect"), "{got:?}");
    }
    assert_eq!(got["links"].0, reason::NOT_CHECKED);
    // A name that does not resolve (what the operator outside a cluster sees).
    t.collector = "http://s-collector.ns.svc.invalid:4318".into();
    let (_, results) = probe(&t, Duration::from_secs(5)).await;
    assert!(
        results
            .iter()
            .filter(|r| r.signal != Signal::Links)
            .all(|r| r.reason == reason::COLLECTOR_UNREACHABLE),
        "{results:?}"
    );
}

#[tokio::test]
async fn a_collector_that_refuses_is_rejected_with_its_status() {
    let (w, t) = world(None).await;
    w.lock().unwrap().collector_status = Some(StatusCode::SERVICE_UNAVAILABLE);
    let (_, results) = probe(&t, Duration::from_secs(5)).await;
    let got = by_signal(&results);
    assert_eq!(got["logs"].0, reason::COLLECTOR_REJECTED);
    assert!(got["logs"].1.contains("503"), "{got:?}");
    w.lock().unwrap().collector_status = Some(StatusCode::UNAUTHORIZED);
    let (_, results) = probe(&t, Duration::from_secs(5)).await;
    assert!(by_signal(&results)["traces"].1.contains("401"));
}

#[tokio::test]
async fn backends_that_fail_or_lose_data_are_told_apart() {
    let (w, t) = world(None).await;
    {
        let mut w = w.lock().unwrap();
        w.loki_status = Some(StatusCode::INTERNAL_SERVER_ERROR);
        w.tempo_loses = true;
    }
    let (_, results) = probe(&t, Duration::from_secs(5)).await;
    let got = by_signal(&results);
    assert_eq!(got["logs"].0, reason::NOT_QUERYABLE, "{got:?}");
    assert!(got["logs"].1.contains("500"), "{got:?}");
    // Tempo's v2 API answers 200 with an empty trace for one it does not have.
    assert_eq!(got["traces"].0, reason::NOT_INGESTED, "{got:?}");
    assert_eq!(got["links"].0, reason::NOT_CHECKED);
    assert!(
        !got.contains_key("metrics"),
        "no Prometheus, no metrics path: {got:?}"
    );
}

#[tokio::test]
async fn a_log_without_its_trace_id_breaks_the_link() {
    let (w, t) = world(None).await;
    w.lock().unwrap().loki_drops_trace_id = true;
    let (_, results) = probe(&t, Duration::from_secs(5)).await;
    let got = by_signal(&results);
    assert_eq!(got["logs"].0, reason::PROBE_SUCCEEDED);
    assert_eq!(got["traces"].0, reason::PROBE_SUCCEEDED);
    assert_eq!(got["links"].0, reason::NOT_INGESTED, "{got:?}");
    assert!(got["links"].1.contains("without its trace_id"));
}

#[tokio::test]
async fn a_backend_that_hangs_times_out_as_not_queryable() {
    let (_, mut t) = world(None).await;
    // Accepts connections and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    t.tempo = Some(format!("http://{addr}"));
    let started = Instant::now();
    let (_, results) = probe(&t, Duration::from_secs(5)).await;
    let got = by_signal(&results);
    assert_eq!(got["traces"].0, reason::NOT_QUERYABLE, "{got:?}");
    assert!(got["traces"].1.contains("timed out"), "{got:?}");
    // Bounded by the probe's timeout plus one request's.
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn the_operators_metrics_name_each_path_and_are_forgotten_with_the_stack() {
    let m = sextant::telemetry::Metrics::default();
    m.probe_result("ns/s", "logs", Some(reason::NOT_INGESTED), None);
    m.probe_result("ns/s", "metrics", None, Some(1.2));
    let text = m.encode();
    for line in [
        "sextant_probe_ok{stack=\"ns/s\",signal=\"logs\"} 0",
        "sextant_probe_ok{stack=\"ns/s\",signal=\"metrics\"} 1",
        "sextant_probe_failures_total{stack=\"ns/s\",signal=\"logs\",reason=\"NotIngested\"} 1",
        "sextant_probe_duration_seconds_count{stack=\"ns/s\",signal=\"metrics\"} 1",
    ] {
        assert!(text.lines().any(|l| l == line), "{line} not in:\n{text}");
    }
    // Every reason a path can fail with is forgotten with the stack.
    for r in [
        reason::COLLECTOR_UNREACHABLE,
        reason::COLLECTOR_REJECTED,
        reason::NOT_QUERYABLE,
        reason::NOT_CHECKED,
    ] {
        m.probe_result("ns/s", "links", Some(r), None);
    }
    m.probe_result("ns/t", "logs", Some(reason::NOT_QUERYABLE), None);
    m.forget_stack("ns/s");
    let text = m.encode();
    assert!(!text.contains("ns/s"), "{text}");
    assert!(
        text.contains("stack=\"ns/t\""),
        "another stack stays: {text}"
    );
}

#[test]
fn the_shipped_alert_fires_after_15_minutes_of_failed_probes() {
    let rules =
        std::fs::read_to_string(common::root().join("charts/sextant/files/operator-alerts.yaml"))
            .unwrap();
    let alert = |at: &str, firing: bool| {
        let exp = if firing {
            serde_json::json!([{
                "exp_labels": {"severity": "warning", "stack": "ns/s", "signal": "logs"},
                "exp_annotations": {
                    "summary": "The logs path of stack ns/s has failed its probe for 15 minutes",
                    "description": "Telemetry sent to the stack's collector is not found back (signal discards: Loki or Tempo discard data). kubectl describe obs shows the DataFlowing condition and status.dataFlow names the reason.",
                    "runbook_url": "https://github.com/sextant-dev/sextant/blob/main/docs/data-flowing.md#runbook"
                }
            }])
        } else {
            serde_json::json!([])
        };
        serde_json::json!({"eval_time": at, "alertname": "SextantDataNotFlowing", "exp_alerts": exp})
    };
    // logs fail from the start; metrics recover after 10 minutes of failing.
    let group = serde_json::json!({
        "interval": "1m",
        "input_series": [
            {"series": "sextant_probe_ok{stack=\"ns/s\",signal=\"logs\",instance=\"op\"}", "values": "0x30"},
            {"series": "sextant_probe_ok{stack=\"ns/s\",signal=\"metrics\",instance=\"op\"}", "values": "0x10 1x20"},
        ],
        "alert_rule_test": [alert("14m", false), alert("16m", true), alert("30m", true)],
    });
    common::promtool::proves(&[("operator-alerts.yaml", rules)], group, |g| {
        g["alert_rule_test"][0] = alert("14m", true);
    });
}

/// The built-in dashboards leave the probe's service out: every `$service`
/// variable skips it, and every Loki query on `$service` excludes it also at
/// "All" (whose value, `.+`, would match it; a single-valued `$service` is
/// never the probe). Prometheus queries need not: the
/// probe writes only `sextant_probe_heartbeat`, which no panel reads.
#[test]
fn the_built_in_dashboards_leave_the_probe_out() {
    fn loki_exprs<'a>(v: &'a serde_json::Value, out: &mut Vec<&'a str>) {
        match v {
            serde_json::Value::Object(o) => {
                if let Some(e) = o.get("expr").and_then(|e| e.as_str()) {
                    if o.get("datasource").and_then(|d| d.get("type")) == Some(&"loki".into()) {
                        out.push(e);
                    }
                    return;
                }
                o.values().for_each(|v| loki_exprs(v, out));
            }
            serde_json::Value::Array(a) => a.iter().for_each(|v| loki_exprs(v, out)),
            _ => {}
        }
    }
    let skip = "/^(?!sextant-probe$).+$/";
    let (mut variables, mut loki) = (0, 0);
    for (name, json) in sextant::builtin::dashboards::all_json() {
        let d: serde_json::Value = serde_json::from_str(json).unwrap();
        for v in d["templating"]["list"].as_array().into_iter().flatten() {
            if v["name"] == "service" {
                variables += 1;
                assert_eq!(v["regex"], skip, "{name}");
            }
        }
        let mut exprs = Vec::new();
        loki_exprs(&d["panels"], &mut exprs);
        for e in exprs
            .iter()
            .filter(|e| e.contains("service_name=~\"$service\""))
        {
            loki += 1;
            assert!(e.contains("service_name!=\"sextant-probe\""), "{name}: {e}");
        }
    }
    assert_eq!(variables, 4);
    assert!(loki >= 10, "{loki} Loki queries on $service");
}

/// A CA and a certificate it signs for `localhost`: (CA PEM, cert PEM, key PEM).
fn certificates() -> (String, String, String) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "probe test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    (ca_cert.pem(), cert.pem(), key.serialize_pem())
}

/// The client of a probe to a collector with TLS trusts the CA of the
/// collector's Secret and nothing else: against a real Prometheus 3.5 serving
/// TLS (Go's crypto/tls), the metrics path is found with it and is
/// `NotQueryable`, naming the certificate, with a client that trusts another CA.
#[tokio::test]
async fn the_probe_trusts_exactly_the_ca_it_is_given() {
    let Some(bin) = common::tool("prometheus") else {
        return;
    };
    let (ca, cert, key) = certificates();
    let trusting = run::client_trusting(Duration::from_secs(5), ca.as_bytes()).unwrap();
    let prom = prometheus_with(&bin, Some((&cert, &key, &trusting))).await;
    let (_, mut t) = world(None).await;
    t.prometheus = Some(prom.url.clone());
    t.loki = None;
    t.tempo = None;
    let probe = Probe::new("ns/s".into());
    let labels = [
        ("job".to_string(), "sextant-probe".to_string()),
        ("probe_id".to_string(), probe.id()),
    ];
    let write = format!("{}/api/v1/write", prom.url);
    remote_write_with(
        &trusting,
        &write,
        vec![series("sextant_probe_heartbeat", &labels, 1.0, now_ms())],
    )
    .await;
    let found = run::run(&trusting, &t, &probe, Duration::from_secs(5)).await;
    assert_eq!(
        by_signal(&found)["metrics"].0,
        reason::PROBE_SUCCEEDED,
        "{found:?}"
    );

    let (other_ca, _, _) = certificates();
    let stranger = run::client_trusting(Duration::from_secs(5), other_ca.as_bytes()).unwrap();
    let refused = run::run(&stranger, &t, &probe, Duration::from_secs(3)).await;
    let got = by_signal(&refused);
    assert_eq!(got["metrics"].0, reason::NOT_QUERYABLE, "{got:?}");
    assert!(
        got["metrics"].1.to_lowercase().contains("certificate"),
        "{got:?}"
    );
    let garbage = run::client_trusting(Duration::from_secs(5), b"not a certificate");
    assert_eq!(
        garbage.err().as_deref(),
        Some("it holds no PEM certificate")
    );
}
