//! A real Prometheus 3.5.3 (Debian unstable's build, installed by `scripts/tools.sh`)
//! started on what sextant renders, for every sample under config/samples: the
//! `prometheus.yml` of the built ConfigMap and the args of the built StatefulSet's
//! container, rewritten only where a local run must differ (config and data paths
//! become temp paths, the listen address a free port on 127.0.0.1).
//!
//! What it proves, per sample:
//! - Prometheus accepts the rendered flags and loads the rendered config, becomes
//!   ready, and reports back what was rendered: the flags through
//!   `/api/v1/status/flags` (retention time and size, receivers, exemplar storage)
//!   and the config through `/api/v1/status/config` (scrape and evaluation
//!   interval, external labels, exemplar limit, out-of-order window, otlp section,
//!   job names);
//! - its remote-write receiver, at the path of Tempo's rendered `remote_write.url`,
//!   accepts a remote-write 1.0 request (protobuf `prometheus.WriteRequest`, snappy
//!   block format) holding series of the shape Tempo 2.10's metrics-generator sends:
//!   span metrics (`traces_spanmetrics_calls_total`, the
//!   `traces_spanmetrics_latency` histogram) and the service graph
//!   (`traces_service_graph_request_*`), with Tempo's initial zero sample, its
//!   15 s collection interval, its default buckets, the external labels of the
//!   rendered Tempo config, and an exemplar labelled `traceID` on a bucket;
//! - every query of a built-in dashboard that reads span metrics or the service
//!   graph (taken from the dashboards' JSON, not re-typed) returns data for them,
//!   as an instant and as a range query, with a non-zero value, with `$service`
//!   the service written and again at "All" where that is the saved selection;
//!   custom variables (`$kind`) at the dashboard's saved selection; two queries of
//!   the same shape return the values the written data imply; and the exemplar
//!   comes back from `/api/v1/query_exemplars`, so exemplar storage is on.
//!
//! What it does not prove:
//! - the OTLP receiver: Debian's build removes it, so `--web.enable-otlp-receiver`
//!   is dropped here (the only flag dropped). The test first runs the binary with
//!   it and asserts that it is refused, so once Debian ships the receiver the test
//!   fails and the drop can go;
//! - Kubernetes service discovery: no API server is reachable, so the pod jobs
//!   find no target (their config still has to load), and the `prometheus` job
//!   scrapes `localhost:9090`, which is not where this Prometheus listens;
//! - that Tempo really sends exactly this: the series are written after Tempo's
//!   source (modules/generator/registry/histogram.go: a new series first gets a
//!   0 at the end of the previous minute, exemplars carry `traceID`, bucket
//!   exemplars are cleared once sent; processor/spanmetrics/spanmetrics.go: the
//!   intrinsic dimensions `service`, `span_name`, `span_kind`, `status_code`, no
//!   `job` unless target_info is on; processor/servicegraphs: `client`, `server`),
//!   not captured from a running Tempo;
//! - Grafana's variable interpolation: `$__rate_interval` and the dashboard
//!   variables are replaced by `common::queries::substitute` after Grafana's documented rules.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::queries::substitute;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use sextant::build::build;
use sextant::model::Capabilities;
use sextant::model::ValidatedStack;
use sextant::render::{grafana, tempo};
use sextant::units::{parse_byte_size, parse_duration};
use sextant::validate::{Dereferenced, validate};

/// The exemplar label Tempo's metrics-generator writes: `traceIDLabelName` defaults
/// to "traceID" in modules/generator/registry/histogram.go (`newHistogram`).
const TRACE_ID_LABEL: &str = "traceID";
/// The trace id of the one exemplar written (hex, as `util.TraceIDToHexString`).
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
/// The flag Debian's build does not know (its OTLP receiver is patched out).
const OTLP_FLAG: &str = "--web.enable-otlp-receiver";
/// How long Prometheus may take to become ready.
const READY_TIMEOUT: Duration = Duration::from_secs(60);
/// Tempo's metrics-generator `collection_interval` default (sextant sets none).
const COLLECTION_INTERVAL_MS: i64 = 15_000;
/// How many collections of data are written: 10 minutes.
const COLLECTIONS: i64 = 40;
/// The service whose span metrics are written, and the value of `$service`.
const SERVICE: &str = "checkout";
/// Tempo's default span-metrics buckets: `prometheus.ExponentialBuckets(0.002, 2, 14)`.
const SPAN_BUCKETS: [f64; 14] = [
    0.002, 0.004, 0.008, 0.016, 0.032, 0.064, 0.128, 0.256, 0.512, 1.024, 2.048, 4.096, 8.192,
    16.384,
];
/// Tempo's default service-graph buckets: `prometheus.ExponentialBuckets(0.1, 2, 8)`.
const GRAPH_BUCKETS: [f64; 8] = [0.1, 0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 12.8];

// ---------------------------------------------------------------------------
// Remote-write 1.0 messages (prometheus/prompb/types.proto and remote.proto)
// ---------------------------------------------------------------------------

use common::prompb;

/// Labels sorted by name, as Prometheus's `labels.Labels` (and so Tempo) sends them.
fn labels(pairs: &[(&str, &str)]) -> Vec<prompb::Label> {
    let mut out: Vec<_> = pairs
        .iter()
        .map(|(n, v)| prompb::Label {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

// ---------------------------------------------------------------------------
// Tempo-shaped data
// ---------------------------------------------------------------------------

/// One span-metrics series of Tempo: its dimensions, calls per collection interval
/// and the latency of every call.
struct Spans {
    span_name: &'static str,
    span_kind: &'static str,
    status_code: &'static str,
    calls_per_interval: f64,
    latency: f64,
}

/// What the generator would have seen: an HTTP endpoint with some errors, and the
/// GenAI spans (`invoke_agent`, `execute_tool`) the agent-fleet dashboard reads.
const SPANS: [Spans; 6] = [
    Spans {
        span_name: "GET /cart",
        span_kind: "SPAN_KIND_SERVER",
        status_code: "STATUS_CODE_OK",
        calls_per_interval: 10.0,
        latency: 0.05,
    },
    Spans {
        span_name: "GET /cart",
        span_kind: "SPAN_KIND_SERVER",
        status_code: "STATUS_CODE_ERROR",
        calls_per_interval: 1.0,
        latency: 0.3,
    },
    Spans {
        span_name: "invoke_agent planner",
        span_kind: "SPAN_KIND_INTERNAL",
        status_code: "STATUS_CODE_OK",
        calls_per_interval: 2.0,
        latency: 1.5,
    },
    Spans {
        span_name: "invoke_agent planner",
        span_kind: "SPAN_KIND_INTERNAL",
        status_code: "STATUS_CODE_ERROR",
        calls_per_interval: 1.0,
        latency: 2.5,
    },
    Spans {
        span_name: "execute_tool search",
        span_kind: "SPAN_KIND_INTERNAL",
        status_code: "STATUS_CODE_OK",
        calls_per_interval: 4.0,
        latency: 0.2,
    },
    Spans {
        span_name: "execute_tool search",
        span_kind: "SPAN_KIND_INTERNAL",
        status_code: "STATUS_CODE_ERROR",
        calls_per_interval: 1.0,
        latency: 0.5,
    },
];

/// Service-graph edges: client, server, requests and failed requests per interval,
/// and the latency of every request. `$service` is a client of one and the server of
/// the other, so both directions of the service-overview dashboard have data.
const EDGES: [(&str, &str, f64, f64, f64); 2] = [
    ("frontend", SERVICE, 5.0, 1.0, 0.15),
    (SERVICE, "payments", 3.0, 1.0, 0.7),
];

/// Builds series as Tempo's registry collects them: every `COLLECTION_INTERVAL_MS`
/// up to `end_ms`, each series starting with a 0 at the end of the minute before its
/// first collection (`getEndOfLastMinuteMs`).
struct Generator {
    external: Vec<(String, String)>,
    times: Vec<i64>,
    series: Vec<prompb::TimeSeries>,
}

impl Generator {
    fn new(external: Vec<(String, String)>, end_ms: i64) -> Self {
        let times = (0..COLLECTIONS)
            .rev()
            .map(|i| end_ms - i * COLLECTION_INTERVAL_MS)
            .collect();
        Generator {
            external,
            times,
            series: Vec::new(),
        }
    }

    fn start_ms(&self) -> i64 {
        self.times[0]
    }

    /// A counter (or histogram part) growing by `per_interval` each collection.
    fn counter(
        &mut self,
        name: &str,
        dims: &[(&str, &str)],
        per_interval: f64,
    ) -> &mut prompb::TimeSeries {
        let mut pairs: Vec<(&str, &str)> = vec![("__name__", name)];
        pairs.extend_from_slice(dims);
        pairs.extend(self.external.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let first = self.start_ms();
        let end_of_last_minute = (first / 60_000) * 60_000 - 1;
        let mut samples = vec![prompb::Sample {
            value: 0.0,
            timestamp: end_of_last_minute,
        }];
        samples.extend(self.times.iter().enumerate().map(|(i, t)| prompb::Sample {
            value: per_interval * (i + 1) as f64,
            timestamp: *t,
        }));
        self.series.push(prompb::TimeSeries {
            labels: labels(&pairs),
            samples,
            exemplars: vec![],
        });
        self.series.last_mut().unwrap()
    }

    /// A classic histogram: `_bucket` (with `+Inf`), `_sum`, `_count`. Every
    /// observation has `latency`; with `exemplar`, the bucket holding it carries one
    /// exemplar at the last collection.
    fn histogram(
        &mut self,
        name: &str,
        dims: &[(&str, &str)],
        buckets: &[f64],
        per_interval: f64,
        latency: f64,
        exemplar: Option<&str>,
    ) {
        let last = *self.times.last().unwrap();
        let mut les: Vec<(String, bool)> = buckets
            .iter()
            .map(|b| (format!("{b}"), latency <= *b))
            .collect();
        les.push(("+Inf".into(), true));
        let holding = les.iter().position(|(_, hit)| *hit);
        for (i, (le, hit)) in les.iter().enumerate() {
            let mut d = dims.to_vec();
            d.push(("le", le));
            let per = if *hit { per_interval } else { 0.0 };
            let s = self.counter(&format!("{name}_bucket"), &d, per);
            if let (Some(trace_id), Some(h)) = (exemplar, holding)
                && h == i
            {
                s.exemplars.push(prompb::Exemplar {
                    labels: labels(&[(TRACE_ID_LABEL, trace_id)]),
                    value: latency,
                    timestamp: last,
                });
            }
        }
        self.counter(&format!("{name}_sum"), dims, per_interval * latency);
        self.counter(&format!("{name}_count"), dims, per_interval);
    }

    fn write_request(self) -> prompb::WriteRequest {
        prompb::WriteRequest {
            timeseries: self.series,
        }
    }
}

/// Tempo-shaped span metrics and service graph, ending at `end_ms`, with the
/// generator's external labels. The exemplar goes on the bucket of the first series.
fn tempo_series(external: Vec<(String, String)>, end_ms: i64) -> (prompb::WriteRequest, i64) {
    let mut g = Generator::new(external, end_ms);
    let start = g.start_ms();
    for (i, s) in SPANS.iter().enumerate() {
        let dims = [
            ("service", SERVICE),
            ("span_name", s.span_name),
            ("span_kind", s.span_kind),
            ("status_code", s.status_code),
        ];
        g.counter(
            "traces_spanmetrics_calls_total",
            &dims,
            s.calls_per_interval,
        );
        g.histogram(
            "traces_spanmetrics_latency",
            &dims,
            &SPAN_BUCKETS,
            s.calls_per_interval,
            s.latency,
            (i == 0).then_some(TRACE_ID),
        );
    }
    for (client, server, total, failed, latency) in EDGES {
        let dims = [("client", client), ("server", server)];
        g.counter("traces_service_graph_request_total", &dims, total);
        g.counter("traces_service_graph_request_failed_total", &dims, failed);
        for side in ["server", "client"] {
            g.histogram(
                &format!("traces_service_graph_request_{side}_seconds"),
                &dims,
                &GRAPH_BUCKETS,
                total,
                latency,
                None,
            );
        }
    }
    (g.write_request(), start)
}

// ---------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------

struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
    base: String,
}

impl Http {
    fn new(port: u16) -> Self {
        Http {
            client: Client::builder(TokioExecutor::new()).build_http(),
            base: format!("http://127.0.0.1:{port}"),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Vec<u8>,
    ) -> Result<(u16, String), String> {
        let mut req = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let resp = self
            .client
            .request(req)
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("{method} {path}: {e}"))?
            .to_bytes();
        Ok((status, String::from_utf8_lossy(&body).into_owned()))
    }

    async fn get(&self, path: &str) -> Result<(u16, String), String> {
        self.send("GET", path, &[], vec![]).await
    }

    /// A Prometheus HTTP API call, a GET without parameters (the status endpoints
    /// take only GET), else a form-encoded POST; returns `data` on success.
    async fn api(&self, path: &str, form: &[(&str, &str)]) -> Result<Value, String> {
        let body = form
            .iter()
            .map(|(k, v)| format!("{}={}", urlencode(k), urlencode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let (status, text) = if form.is_empty() {
            self.get(path).await?
        } else {
            self.send(
                "POST",
                path,
                &[("Content-Type", "application/x-www-form-urlencoded")],
                body.into_bytes(),
            )
            .await?
        };
        let v: Value =
            serde_json::from_str(&text).map_err(|e| format!("{path}: {e}: {status} {text}"))?;
        if status != 200 || v["status"] != "success" {
            return Err(format!("{path} {form:?}: {status} {text}"));
        }
        Ok(v["data"].clone())
    }

    /// Sends one remote-write 1.0 request.
    async fn remote_write(&self, path: &str, req: &prompb::WriteRequest) -> Result<(), String> {
        use prost::Message;
        let body = snap::raw::Encoder::new()
            .compress_vec(&req.encode_to_vec())
            .map_err(|e| e.to_string())?;
        let (status, text) = self
            .send(
                "POST",
                path,
                &[
                    ("Content-Type", "application/x-protobuf"),
                    ("Content-Encoding", "snappy"),
                    ("X-Prometheus-Remote-Write-Version", "0.1.0"),
                    ("User-Agent", "sextant-test (Tempo-shaped remote write)"),
                ],
                body,
            )
            .await?;
        if !(200..300).contains(&status) {
            return Err(format!("remote write to {path}: {status} {text}"));
        }
        Ok(())
    }
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Running Prometheus
// ---------------------------------------------------------------------------

/// A Prometheus process, killed (by its pid, through `Child::kill`) and reaped when
/// dropped, so a failing assertion never leaves it running; then its temp dir goes.
struct Running {
    child: Child,
    port: u16,
    /// The args it was started with.
    args: Vec<String>,
    log: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Running {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// What Prometheus's container gets: its `prometheus.yml` (from the ConfigMap it
/// mounts) and its args.
struct Rendered {
    config: String,
    args: Vec<String>,
}

fn rendered(stack: &ValidatedStack) -> Option<Rendered> {
    let res = build(stack, &Capabilities::current());
    let sts = res
        .stateful_sets
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some(&format!("{}-prometheus", stack.name)))?;
    let pod = sts.spec.as_ref()?.template.spec.as_ref()?;
    let container = pod.containers.iter().find(|c| c.name == "prometheus")?;
    let args = container.args.clone().unwrap_or_default();
    let mounts = container.volume_mounts.clone().unwrap_or_default();
    let mount_of = |volume: &str| {
        mounts
            .iter()
            .find(|m| m.name == volume)
            .map(|m| m.mount_path.clone())
    };
    // The config file is the ConfigMap's key, mounted where --config.file points.
    let (cm_volume, cm_name) = pod
        .volumes
        .iter()
        .flatten()
        .find_map(|v| Some((v.name.clone(), v.config_map.as_ref()?.name.clone())))
        .expect("the prometheus pod mounts a ConfigMap");
    let cm = res
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(&cm_name))
        .expect("the mounted ConfigMap is built");
    let data = cm.data.clone().unwrap_or_default();
    let (key, config) = data
        .iter()
        .find(|(k, _)| k.ends_with(".yml") || k.ends_with(".yaml"))
        .expect("the ConfigMap holds prometheus.yml");
    let config_path = format!("{}/{key}", mount_of(&cm_volume).expect("config mounted"));
    assert_eq!(
        flag_value(&args, "--config.file").as_deref(),
        Some(config_path.as_str()),
        "--config.file names the mounted ConfigMap's file"
    );
    // The TSDB lives on the volume of the StatefulSet's claim template.
    let claim = sts
        .spec
        .as_ref()?
        .volume_claim_templates
        .iter()
        .flatten()
        .find_map(|c| c.metadata.name.clone())
        .expect("a volume claim template");
    assert_eq!(
        flag_value(&args, "--storage.tsdb.path"),
        mount_of(&claim),
        "--storage.tsdb.path is the data volume"
    );
    Some(Rendered {
        config: config.clone(),
        args,
    })
}

fn flag_value(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .find_map(|a| a.strip_prefix(name)?.strip_prefix('=').map(str::to_string))
}

/// The rendered args with the three local rewrites (each flag must be there to be
/// rewritten) and, with `drop_otlp`, without the OTLP receiver flag.
fn local_args(
    args: &[String],
    config: &Path,
    data: &Path,
    port: u16,
    drop_otlp: bool,
) -> Vec<String> {
    let rewrites = [
        ("--config.file", config.display().to_string()),
        ("--storage.tsdb.path", data.display().to_string()),
        ("--web.listen-address", format!("127.0.0.1:{port}")),
    ];
    for (flag, _) in &rewrites {
        assert!(
            flag_value(args, flag).is_some(),
            "{flag} is not in the rendered args {args:?}"
        );
    }
    args.iter()
        .filter(|a| !(drop_otlp && a.as_str() == OTLP_FLAG))
        .map(|a| {
            rewrites
                .iter()
                .find(|(flag, _)| flag_value(std::slice::from_ref(a), flag).is_some())
                .map(|(flag, value)| format!("{flag}={value}"))
                .unwrap_or_else(|| a.clone())
        })
        .collect()
}

/// Spawns Prometheus on `config` with the rendered `args` (made local), logging to a
/// file in its temp dir.
fn spawn(prometheus: &Path, config: &str, args: &[String], drop_otlp: bool) -> Running {
    spawn_env(prometheus, config, args, drop_otlp, &[])
}

/// `spawn` with environment variables set, as the pod sets them.
fn spawn_env(
    prometheus: &Path,
    config: &str,
    args: &[String],
    drop_otlp: bool,
    env: &[(String, String)],
) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let config_path = dir.path().join("prometheus.yml");
    std::fs::write(&config_path, config).unwrap();
    let data = dir.path().join("data");
    let port = free_port();
    let log = dir.path().join("prometheus.log");
    let out = File::create(&log).unwrap();
    let args = local_args(args, &config_path, &data, port, drop_otlp);
    let child = Command::new(prometheus)
        .args(&args)
        .current_dir(dir.path())
        // Kubernetes SD then fails the same way everywhere (no in-cluster config),
        // also when the test itself runs in a pod.
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env_remove("KUBERNETES_SERVICE_PORT")
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    Running {
        child,
        port,
        args,
        log,
        _dir: dir,
    }
}

/// Starts Prometheus and waits for `/-/ready`; an error holds the log when it exits
/// first or is not ready within `READY_TIMEOUT`.
async fn start(prometheus: &Path, config: &str, args: &[String]) -> Result<Running, String> {
    start_env(prometheus, config, args, &[]).await
}

/// `start` with environment variables set.
async fn start_env(
    prometheus: &Path,
    config: &str,
    args: &[String],
    env: &[(String, String)],
) -> Result<Running, String> {
    let running = spawn_env(prometheus, config, args, true, env);
    let http = Http::new(running.port);
    let deadline = Instant::now() + READY_TIMEOUT;
    let mut p = running;
    loop {
        if let Some(status) = p.child.try_wait().map_err(|e| e.to_string())? {
            return Err(format!("prometheus exited ({status}):\n{}", p.log()));
        }
        if let Ok((200, _)) = http.get("/-/ready").await {
            return Ok(p);
        }
        if Instant::now() > deadline {
            return Err(format!(
                "prometheus not ready within {READY_TIMEOUT:?}:\n{}",
                p.log()
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// `Ok` when Prometheus refuses the rendered args (OTLP flag kept) because of that
/// flag: it exits with Kingpin's "unknown long flag" for it. `Err` when it runs (the
/// flag is known now) or fails for another reason.
async fn otlp_flag_refused(prometheus: &Path, config: &str, args: &[String]) -> Result<(), String> {
    let mut p = spawn(prometheus, config, args, false);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if let Some(status) = p.child.try_wait().map_err(|e| e.to_string())? {
            let log = p.log();
            let expected = format!("unknown long flag '{OTLP_FLAG}'");
            return if !status.success() && log.contains(&expected) {
                Ok(())
            } else {
                Err(format!("exited {status} for another reason:\n{log}"))
            };
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!(
        "Prometheus runs with {OTLP_FLAG}: Debian's build has the OTLP receiver now, \
         stop dropping the flag in this test:\n{}",
        p.log()
    ))
}

// ---------------------------------------------------------------------------
// Dashboard queries
// ---------------------------------------------------------------------------

/// A query of a built-in dashboard.
#[derive(Debug)]
struct DashboardQuery {
    dashboard: &'static str,
    panel: String,
    expr: String,
    /// The dashboard's `custom` variables at their saved selection (`current`), in
    /// Grafana's form for Prometheus: one value as is, several as `(a|b)` with each
    /// regex-escaped.
    custom: BTreeMap<String, String>,
    /// The dashboard's other variables whose saved selection is "All", at their
    /// `allValue` (what Grafana puts in the query then).
    all: BTreeMap<String, String>,
}

/// Every `expr` of every panel target (rows' nested panels included) of a built-in
/// dashboard that reads span metrics or the service graph.
fn span_metric_queries() -> Vec<DashboardQuery> {
    fn walk(panels: &Value, out: &mut Vec<(String, String)>) {
        for p in panels.as_array().into_iter().flatten() {
            for t in p["targets"].as_array().into_iter().flatten() {
                if let Some(expr) = t["expr"].as_str()
                    && (expr.contains("traces_spanmetrics")
                        || expr.contains("traces_service_graph"))
                {
                    let title = p["title"].as_str().unwrap_or("").to_string();
                    out.push((title, expr.to_string()));
                }
            }
            walk(&p["panels"], out);
        }
    }
    let mut out = Vec::new();
    for (name, json) in sextant::builtin::dashboards::all_json() {
        let v: Value = serde_json::from_str(json).unwrap();
        let custom: BTreeMap<String, String> = v["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|var| var["type"] == "custom")
            .map(|var| {
                let current = &var["current"]["value"];
                let value = match current.as_array() {
                    Some(many) if many.len() == 1 => many[0].as_str().unwrap().to_string(),
                    Some(many) => format!(
                        "({})",
                        many.iter()
                            .map(|m| regex_escape(m.as_str().unwrap()))
                            .collect::<Vec<_>>()
                            .join("|")
                    ),
                    None => current.as_str().unwrap().to_string(),
                };
                (var["name"].as_str().unwrap().to_string(), value)
            })
            .collect();
        let all: BTreeMap<String, String> = v["templating"]["list"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|var| var["type"] != "custom" && var["current"]["value"][0] == "$__all")
            .map(|var| {
                let all = var["allValue"].as_str().expect("an allValue for All");
                (var["name"].as_str().unwrap().to_string(), all.to_string())
            })
            .collect();
        let mut found = Vec::new();
        walk(&v["panels"], &mut found);
        out.extend(found.into_iter().map(|(panel, expr)| DashboardQuery {
            dashboard: name,
            panel,
            expr,
            custom: custom.clone(),
            all: all.clone(),
        }));
    }
    out
}

/// Escapes regex metacharacters, as Grafana does for multi-value variables.
fn regex_escape(s: &str) -> String {
    s.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// The variable values the queries run with. `$__rate_interval` follows Grafana:
/// max(`$__interval` + scrape interval, 4 × scrape interval), with the scrape
/// interval the `timeInterval` of the rendered Prometheus datasource; `$__interval`
/// is the range step; `$__range` the time range in seconds, as Grafana's Prometheus
/// datasource writes it. `$service` is the service written, `$namespace` the stack's
/// (span metrics carry none). Custom variables (`$kind`) come from the dashboard
/// ([`DashboardQuery::custom`]).
fn variable_values(stack: &ValidatedStack, step_s: u64, range_s: u64) -> BTreeMap<String, String> {
    let ds = serde_json::to_value(grafana::datasources(stack)).unwrap();
    let prom = ds["datasources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["type"] == "prometheus")
        .expect("a Prometheus datasource");
    let scrape_s = parse_duration(prom["jsonData"]["timeInterval"].as_str().unwrap())
        .unwrap()
        .as_secs();
    let rate_interval = (step_s + scrape_s).max(4 * scrape_s);
    [
        ("service", SERVICE.to_string()),
        ("namespace", stack.namespace.clone()),
        ("__interval", format!("{step_s}s")),
        ("__rate_interval", format!("{rate_interval}s")),
        ("__range", format!("{range_s}s")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect()
}

/// The values of an instant (vector) or range (matrix) query result; an error when
/// there is no series, a value is not a finite number ≥ 0, or none is above 0.
fn check_result(data: &Value) -> Result<Vec<f64>, String> {
    let result = data["result"]
        .as_array()
        .ok_or_else(|| format!("no result: {data}"))?;
    if result.is_empty() {
        return Err("empty result".into());
    }
    let mut values = Vec::new();
    for series in result {
        let points: Vec<&Value> = match data["resultType"].as_str() {
            Some("vector") => vec![&series["value"]],
            Some("matrix") => series["values"].as_array().into_iter().flatten().collect(),
            other => return Err(format!("result type {other:?}")),
        };
        if points.is_empty() {
            return Err(format!("series without points: {series}"));
        }
        for p in points {
            let v: f64 = p[1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| format!("bad point {p}"))?;
            if !v.is_finite() || v < 0.0 {
                return Err(format!("value {v} in {series}"));
            }
            values.push(v);
        }
    }
    if !values.iter().any(|v| *v > 0.0) {
        return Err(format!("every value is 0: {data}"));
    }
    Ok(values)
}

// ---------------------------------------------------------------------------
// What Prometheus reports back
// ---------------------------------------------------------------------------

/// Bytes of a Prometheus byte size: what sextant renders (`46080MB`) and what
/// Prometheus's `units.Base2Bytes` prints back (`42GiB512MiB`); KB = KiB = 1024, as
/// `units.ParseBase2Bytes` reads them.
fn parse_bytes(s: &str) -> Option<u128> {
    // Split into terms at each digit that follows a unit, and let sextant's own
    // parser (the same base-2 units) read each term.
    let mut total = 0u128;
    let mut start = 0;
    let bytes = s.as_bytes();
    for i in 1..=bytes.len() {
        let term_ends =
            i == bytes.len() || (bytes[i].is_ascii_digit() && !bytes[i - 1].is_ascii_digit());
        if term_ends {
            total = total.checked_add(parse_byte_size(&s[start..i]).ok()?)?;
            start = i;
        }
    }
    (!s.is_empty()).then_some(total)
}

fn same_duration(a: &str, b: &str) -> bool {
    matches!((parse_duration(a), parse_duration(b)), (Ok(x), Ok(y)) if x == y)
}

/// Every flag passed is reported by `/api/v1/status/flags` with its value (durations
/// and sizes compared by what they mean, booleans as "true").
fn check_flags(reported: &Value, passed: &[String]) -> Vec<String> {
    let mut problems = Vec::new();
    for arg in passed {
        let arg = arg.trim_start_matches("--");
        let (name, value) = arg.split_once('=').unwrap_or((arg, "true"));
        let Some(got) = reported[name].as_str() else {
            problems.push(format!("flag {name} not reported"));
            continue;
        };
        let same = got == value
            || same_duration(got, value)
            || matches!((parse_bytes(got), parse_bytes(value)), (Some(x), Some(y)) if x == y)
            || (name == "enable-feature" && got.split(',').any(|f| f == value));
        if !same {
            problems.push(format!("flag {name}: passed {value:?}, reported {got:?}"));
        }
    }
    problems
}

/// The loaded config (`/api/v1/status/config`) holds what was rendered.
fn check_config(loaded: &serde_yaml_ng::Value, rendered: &serde_yaml_ng::Value) -> Vec<String> {
    let mut problems = Vec::new();
    let at = |v: &serde_yaml_ng::Value, path: &[&str]| {
        let mut v = v.clone();
        for k in path {
            v = v.get(*k).cloned().unwrap_or(serde_yaml_ng::Value::Null);
        }
        v
    };
    for path in [
        &["global", "scrape_interval"][..],
        &["global", "evaluation_interval"],
        &["storage", "tsdb", "out_of_order_time_window"],
    ] {
        let (l, r) = (at(loaded, path), at(rendered, path));
        if !same_duration(l.as_str().unwrap_or(""), r.as_str().unwrap_or("-")) {
            problems.push(format!("{path:?}: rendered {r:?}, loaded {l:?}"));
        }
    }
    for path in [
        &["global", "external_labels"][..],
        &["storage", "exemplars", "max_exemplars"],
        &["otlp", "promote_resource_attributes"],
        &["otlp", "keep_identifying_resource_attributes"],
    ] {
        let (l, r) = (at(loaded, path), at(rendered, path));
        if l != r {
            problems.push(format!("{path:?}: rendered {r:?}, loaded {l:?}"));
        }
    }
    let jobs = |v: &serde_yaml_ng::Value| -> BTreeSet<String> {
        at(v, &["scrape_configs"])
            .as_sequence()
            .into_iter()
            .flatten()
            .filter_map(|j| j.get("job_name")?.as_str().map(str::to_string))
            .collect()
    };
    if jobs(loaded) != jobs(rendered) {
        problems.push(format!(
            "jobs: rendered {:?}, loaded {:?}",
            jobs(rendered),
            jobs(loaded)
        ));
    }
    problems
}

/// The exemplars Prometheus holds for the span-latency buckets of `SERVICE`.
async fn exemplars(http: &Http, start_ms: i64, end_ms: i64) -> Vec<Value> {
    let data = http
        .api(
            "/api/v1/query_exemplars",
            &[
                (
                    "query",
                    &format!("traces_spanmetrics_latency_bucket{{service=\"{SERVICE}\"}}"),
                ),
                ("start", &secs(start_ms)),
                ("end", &secs(end_ms + 1000)),
            ],
        )
        .await
        .unwrap();
    data.as_array()
        .into_iter()
        .flatten()
        .flat_map(|s| s["exemplars"].as_array().into_iter().flatten().cloned())
        .collect()
}

/// The distinct warnings and errors of a Prometheus log, for the test's output.
fn complaints(log: &str) -> BTreeSet<String> {
    log.lines()
        .filter(|l| l.contains("level=ERROR") || l.contains("level=WARN"))
        .map(|l| {
            // Without the timestamp, so repeats collapse.
            l.split_once(" level=")
                .map_or(l, |(_, rest)| rest)
                .to_string()
        })
        .collect()
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn secs(ms: i64) -> String {
    format!("{:.3}", ms as f64 / 1000.0)
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_prometheus_runs_the_rendered_config_and_serves_tempo_span_metrics_to_the_dashboards()
{
    let Some(prometheus) = common::tool("prometheus") else {
        return;
    };
    let queries = span_metric_queries();
    assert!(
        queries.len() >= 10,
        "few span-metric queries found: {queries:#?}"
    );
    let mut ran = 0;
    for (name, stack) in common::samples() {
        let started = Instant::now();
        let valid = validate(&stack, &Dereferenced::offline()).unwrap();
        let Some(r) = rendered(&valid) else {
            eprintln!("{name}: Prometheus disabled, nothing to run");
            continue;
        };
        ran += 1;
        assert!(
            r.args
                .iter()
                .any(|a| a == "--web.enable-remote-write-receiver"),
            "{name}: FINDING: no --web.enable-remote-write-receiver, so Tempo's \
             metrics-generator cannot write: {:?}",
            r.args
        );

        // Debian's build refuses the OTLP flag; the one flag dropped below.
        if r.args.iter().any(|a| a == OTLP_FLAG) {
            otlp_flag_refused(&prometheus, &r.config, &r.args)
                .await
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }

        // Prometheus in replicas reads its replica label from the pod's name
        // (`each_replica_reports_its_pod_name_as_the_replica_label`); the loaded
        // config then holds the expanded value.
        let pod_name = format!("{}-prometheus-0", valid.name);
        let env = [("POD_NAME".to_string(), pod_name.clone())];
        let p = start_env(&prometheus, &r.config, &r.args, &env)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let http = Http::new(p.port);
        let passed = p.args.clone();
        eprintln!("{name}: ready in {:?} with {passed:?}", started.elapsed());

        // The config loaded, with Kubernetes SD failing for want of an API server.
        let log = p.log();
        assert!(
            log.contains("Completed loading of configuration file"),
            "{name}: config not loaded:\n{log}"
        );
        assert!(
            !log.to_lowercase().contains("error loading config"),
            "{name}:\n{log}"
        );

        // The only errors: Kubernetes SD of the pod jobs, which has no API server.
        for c in complaints(&log) {
            eprintln!("{name}: prometheus log: level={c}");
            assert!(
                !c.starts_with("ERROR")
                    || (c.contains("msg=\"Cannot create service discovery\"")
                        && c.contains("unable to load in-cluster configuration")),
                "{name}: unexpected error in Prometheus's log: {c}"
            );
        }

        // What Prometheus reports back is what was rendered.
        let flags = http.api("/api/v1/status/flags", &[]).await.unwrap();
        let problems = check_flags(&flags, &passed);
        assert!(problems.is_empty(), "{name}: {problems:#?}\n{flags:#}");
        let rendered_time = flag_value(&r.args, "--storage.tsdb.retention.time").unwrap();
        assert!(
            same_duration(
                flags["storage.tsdb.retention.time"].as_str().unwrap(),
                &rendered_time
            ),
            "{name}: retention"
        );
        let config = http.api("/api/v1/status/config", &[]).await.unwrap();
        let loaded: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(config["yaml"].as_str().unwrap()).unwrap();
        let ours: serde_yaml_ng::Value =
            serde_yaml_ng::from_str(&r.config.replace("${POD_NAME}", &pod_name)).unwrap();
        let problems = check_config(&loaded, &ours);
        assert!(problems.is_empty(), "{name}: {problems:#?}");

        // Tempo's generator writes to the rendered remote_write URL's path.
        let tempo_cfg = serde_json::to_value(tempo::render(&valid)).unwrap();
        let Some(generator) = tempo_cfg["metrics_generator"].as_object() else {
            eprintln!("{name}: Tempo's metrics-generator is off; the rest needs it");
            continue;
        };
        let rw = &generator["storage"]["remote_write"][0];
        assert_eq!(rw["send_exemplars"], true, "{name}: Tempo sends exemplars");
        let url = rw["url"].as_str().unwrap();
        let path = &url[url.find("://").unwrap() + 3..];
        let path = &path[path.find('/').unwrap()..];
        let external: Vec<(String, String)> = generator["registry"]["external_labels"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
            .collect();
        let end_ms = (now_ms() / COLLECTION_INTERVAL_MS - 1) * COLLECTION_INTERVAL_MS;
        let (write, start_ms) = tempo_series(external.clone(), end_ms);
        http.remote_write(path, &write)
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}\n{}", p.log()));

        let at = secs(end_ms);
        let query = |q: String| {
            let http = &http;
            let at = at.clone();
            async move {
                http.api("/api/v1/query", &[("query", &q), ("time", &at)])
                    .await
            }
        };

        // The data are what they claim: known rate and latency.
        let rate = check_result(
            &query(format!(
                "sum(rate(traces_spanmetrics_calls_total{{service=\"{SERVICE}\", span_kind=\"SPAN_KIND_SERVER\"}}[2m]))"
            ))
            .await
            .unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        let expected = 11.0 / 15.0;
        assert!(
            (rate[0] - expected).abs() < expected * 0.1,
            "{name}: rate {rate:?}, expected {expected}"
        );
        let p95 = check_result(
            &query(format!(
                "histogram_quantile(0.95, sum by (le) (rate(traces_spanmetrics_latency_bucket{{service=\"{SERVICE}\", span_name=\"GET /cart\", status_code=\"STATUS_CODE_OK\"}}[2m])))"
            ))
            .await
            .unwrap(),
        )
        .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            p95[0] > 0.032 && p95[0] <= 0.064,
            "{name}: p95 {p95:?} not in the bucket of 0.05 s"
        );
        // The external labels arrive as written (they are series labels to Prometheus).
        let by_source =
            query("count by (source, sextant_stack) (traces_spanmetrics_calls_total)".into())
                .await
                .unwrap();
        for (k, v) in &external {
            assert_eq!(
                by_source["result"][0]["metric"][k].as_str(),
                Some(v.as_str()),
                "{name}: external label {k}: {by_source}"
            );
        }

        // The negative: a series nobody wrote is reported as empty.
        let nothing = query("traces_spanmetrics_calls_total{service=\"nobody\"}".into())
            .await
            .unwrap();
        assert_eq!(check_result(&nothing), Err("empty result".into()));

        // Every dashboard query over span metrics, instant and range.
        let step_s = 15;
        let range_s = ((end_ms - start_ms) / 1000) as u64;
        let values = variable_values(&valid, step_s, range_s);
        let mut failures = Vec::new();
        // Each with `$service` = the service written, and again at the dashboard's
        // saved selection where that is "All".
        let mut passes = 0;
        for dq in &queries {
            let (dash, panel) = (dq.dashboard, &dq.panel);
            let mut vars = values.clone();
            vars.extend(dq.custom.clone());
            let mut exprs = vec![substitute(&dq.expr, &vars)];
            let used_at_all: Vec<_> = dq
                .all
                .iter()
                .filter(|(n, _)| {
                    dq.expr.contains(&format!("${n}")) || dq.expr.contains(&format!("${{{n}}}"))
                })
                .collect();
            if !used_at_all.is_empty() {
                vars.extend(used_at_all.into_iter().map(|(n, v)| (n.clone(), v.clone())));
                exprs.push(substitute(&dq.expr, &vars));
            }
            for q in exprs {
                let q = q.unwrap_or_else(|e| panic!("{dash}/{panel}: {e}"));
                let instant = query(q.clone()).await.and_then(|d| check_result(&d));
                let range_start = secs(end_ms - 5 * 60_000);
                let range = http
                    .api(
                        "/api/v1/query_range",
                        &[
                            ("query", &q),
                            ("start", &range_start),
                            ("end", &at),
                            ("step", &format!("{step_s}s")),
                        ],
                    )
                    .await
                    .and_then(|d| check_result(&d));
                passes += 1;
                match (&instant, &range) {
                    (Ok(v), Ok(_)) => eprintln!("{name}: ok {dash} / {panel}: {q} = {v:?}"),
                    _ => failures.push(format!(
                        "{dash} / {panel}: {q}\n  instant: {instant:?}\n  range: {range:?}"
                    )),
                }
            }
        }
        assert!(
            failures.is_empty(),
            "{name}: dashboard queries without data:\n{}",
            failures.join("\n")
        );

        // The exemplar is stored and comes back with its traceID label.
        let found = exemplars(&http, start_ms, end_ms).await;
        assert!(
            found
                .iter()
                .any(|e| e["labels"][TRACE_ID_LABEL] == TRACE_ID),
            "{name}: FINDING: exemplar with {TRACE_ID_LABEL}={TRACE_ID} not stored: {found:?}"
        );
        eprintln!(
            "{name}: {} dashboard queries answered ({passes} runs: again at \"All\" where \
             the saved selection is All), exemplar stored, in {:?}",
            queries.len(),
            started.elapsed()
        );
        drop(p);
    }
    assert!(ran > 0, "no sample runs Prometheus");
}

#[tokio::test]
async fn without_the_rendered_exemplar_storage_flag_the_exemplar_is_lost() {
    // The exemplar check can fail, and the rendered feature flag is what makes it
    // pass: the same Prometheus without `--enable-feature=exemplar-storage` takes
    // the samples of the same write but keeps no exemplar.
    let Some(prometheus) = common::tool("prometheus") else {
        return;
    };
    let (_, stack) = common::samples().into_iter().next().unwrap();
    let r = rendered(&validate(&stack, &Dereferenced::offline()).unwrap()).unwrap();
    let args: Vec<String> = r
        .args
        .iter()
        .filter(|a| a.as_str() != "--enable-feature=exemplar-storage")
        .cloned()
        .collect();
    assert_ne!(args, r.args, "the rendered args enable exemplar storage");
    let p = start(&prometheus, &r.config, &args).await.unwrap();
    let http = Http::new(p.port);
    let end_ms = (now_ms() / COLLECTION_INTERVAL_MS - 1) * COLLECTION_INTERVAL_MS;
    let (write, start_ms) = tempo_series(vec![], end_ms);
    http.remote_write("/api/v1/write", &write).await.unwrap();
    let data = http
        .api(
            "/api/v1/query",
            &[
                ("query", "sum(traces_spanmetrics_calls_total)"),
                ("time", &secs(end_ms)),
            ],
        )
        .await
        .unwrap();
    check_result(&data).unwrap();
    assert_eq!(
        exemplars(&http, start_ms, end_ms).await,
        Vec::<Value>::new()
    );
}

/// Prometheus in replicas: one config for both, and each replica's `prometheus_replica`
/// external label comes out as its own pod name, expanded by the real
/// Prometheus from the environment variable the pod sets from
/// `metadata.name`, in `/api/v1/status/config` (where the Thanos sidecar reads
/// it, and refuses to start on none); the label's name is the one the Query
/// deduplicates on.
#[tokio::test]
async fn each_replica_reports_its_pod_name_as_the_replica_label() {
    let Some(prometheus) = common::tool("prometheus") else {
        return;
    };
    let valid = validate(
        &common::with_spec("prometheus: {replicas: 2}\n"),
        &Dereferenced::offline(),
    )
    .unwrap();
    let r = rendered(&valid).unwrap();
    let res = build(&valid, &Capabilities::current());
    let pod = common::pod_of(&res, &format!("{}-prometheus", valid.name));
    let env = pod.containers[0].env.clone().unwrap_or_default();
    let from_name: Vec<String> = env
        .iter()
        .filter(|e| {
            e.value_from
                .as_ref()
                .and_then(|v| v.field_ref.as_ref())
                .is_some_and(|f| f.field_path == "metadata.name")
        })
        .map(|e| e.name.clone())
        .collect();
    assert_eq!(from_name.len(), 1, "{env:?}");
    let query = common::pod_of(&res, &format!("{}-prometheus-query", valid.name));
    let query_args = query.containers[0].args.clone().unwrap();
    let replica_label = flag_value(&query_args, "--query.replica-label").unwrap();
    let mut seen = Vec::new();
    for pod_name in ["s-prometheus-0", "s-prometheus-1"] {
        let env = [(from_name[0].clone(), pod_name.to_string())];
        let p = start_env(&prometheus, &r.config, &r.args, &env)
            .await
            .unwrap();
        let (code, body) = Http::new(p.port)
            .get("/api/v1/status/config")
            .await
            .unwrap();
        assert_eq!(code, 200, "{body}");
        let answer: Value = serde_json::from_str(&body).unwrap();
        let config: Value =
            serde_yaml_ng::from_str(answer["data"]["yaml"].as_str().unwrap()).unwrap();
        let labels = &config["global"]["external_labels"];
        assert_eq!(labels[&replica_label], pod_name, "{labels}");
        seen.push(labels.clone());
    }
    // Identical but for the replica label: what the Query merges.
    let strip = |v: &Value| {
        let mut v = v.clone();
        v.as_object_mut().unwrap().remove(&replica_label);
        v
    };
    assert_eq!(strip(&seen[0]), strip(&seen[1]));
    assert_ne!(seen[0], seen[1]);
}

#[tokio::test]
async fn a_broken_config_makes_the_start_fail() {
    // The start helper reports a config Prometheus does not load, rather than
    // passing because a process was spawned.
    let Some(prometheus) = common::tool("prometheus") else {
        return;
    };
    let (_, stack) = common::samples().into_iter().next().unwrap();
    let r = rendered(&validate(&stack, &Dereferenced::offline()).unwrap()).unwrap();
    let err = start(&prometheus, "global: {scrape_interval: often}\n", &r.args)
        .await
        .err()
        .expect("Prometheus must not start on a broken config");
    assert!(err.contains("exited"), "{err}");
    assert!(err.to_lowercase().contains("often"), "{err}");
}

#[test]
fn substitute_knows_its_variables_and_refuses_others() {
    let values = BTreeMap::from([
        ("service".to_string(), "checkout".to_string()),
        ("__rate_interval".to_string(), "2m".to_string()),
    ]);
    assert_eq!(
        substitute(
            "rate(x{service=\"$service\", a=~\".+$\"}[$__rate_interval]) ${service}",
            &values
        )
        .unwrap(),
        "rate(x{service=\"checkout\", a=~\".+$\"}[2m]) checkout"
    );
    let err = substitute("rate(x[$__interval_ms])", &values).unwrap_err();
    assert!(err.contains("$__interval_ms"), "{err}");
    assert!(substitute("x{a=\"${service\"}", &values).is_err());
}

#[test]
fn custom_variables_take_the_dashboards_saved_selection() {
    let queries = span_metric_queries();
    let kind = queries
        .iter()
        .find(|q| q.expr.contains("$kind"))
        .expect("a query filtering by $kind");
    assert_eq!(kind.custom["kind"], "(SPAN_KIND_SERVER|SPAN_KIND_CONSUMER)");
    assert_eq!(regex_escape("a.b|c"), "a\\.b\\|c");
}

#[test]
fn byte_sizes_compare_by_value() {
    assert_eq!(parse_bytes("43520MB"), parse_bytes("42GiB512MiB"));
    assert_eq!(parse_bytes("45GiB"), Some(45 << 30));
    assert_eq!(parse_bytes("1KB"), Some(1024));
    assert_eq!(parse_bytes("12"), None);
    assert_eq!(parse_bytes("1GiBx"), None);
    assert_eq!(parse_bytes(""), None);
}

#[test]
fn check_result_fails_on_empty_zero_and_nan() {
    use serde_json::json;
    let vector =
        |v: &str| json!({"resultType": "vector", "result": [{"metric": {}, "value": [1, v]}]});
    assert!(check_result(&json!({"resultType": "vector", "result": []})).is_err());
    assert!(check_result(&vector("0")).is_err());
    assert!(check_result(&vector("NaN")).is_err());
    assert!(check_result(&vector("-1")).is_err());
    assert_eq!(check_result(&vector("0.5")), Ok(vec![0.5]));
    let matrix =
        json!({"resultType": "matrix", "result": [{"metric": {}, "values": [[1, "0"], [2, "3"]]}]});
    assert_eq!(check_result(&matrix), Ok(vec![0.0, 3.0]));
}

#[test]
fn tempo_series_have_tempos_shape() {
    let (w, start) = tempo_series(vec![("source".into(), "tempo".into())], 1_000_000_000_000);
    let names: BTreeSet<String> = w
        .timeseries
        .iter()
        .map(|s| {
            s.labels
                .iter()
                .find(|l| l.name == "__name__")
                .unwrap()
                .value
                .clone()
        })
        .collect();
    for expected in [
        "traces_spanmetrics_calls_total",
        "traces_spanmetrics_latency_bucket",
        "traces_spanmetrics_latency_sum",
        "traces_spanmetrics_latency_count",
        "traces_service_graph_request_total",
        "traces_service_graph_request_failed_total",
        "traces_service_graph_request_client_seconds_bucket",
        "traces_service_graph_request_server_seconds_bucket",
    ] {
        assert!(names.contains(expected), "{expected} missing: {names:?}");
    }
    for s in &w.timeseries {
        // Sorted labels, the initial 0 before the first collection, counters only grow.
        let label_names: Vec<_> = s.labels.iter().map(|l| l.name.as_str()).collect();
        assert!(label_names.is_sorted(), "{label_names:?}");
        assert!(label_names.contains(&"source"));
        assert_eq!(s.samples[0].value, 0.0);
        assert!(s.samples[0].timestamp < start);
        assert!(
            s.samples
                .windows(2)
                .all(|p| p[0].timestamp < p[1].timestamp && p[0].value <= p[1].value)
        );
    }
    let exemplars: Vec<_> = w.timeseries.iter().flat_map(|s| &s.exemplars).collect();
    assert_eq!(exemplars.len(), 1);
    assert_eq!(exemplars[0].labels[0].name, TRACE_ID_LABEL);
    let le = |s: &prompb::TimeSeries| {
        s.labels
            .iter()
            .find(|l| l.name == "le")
            .map(|l| l.value.clone())
    };
    let with_exemplar = w
        .timeseries
        .iter()
        .find(|s| !s.exemplars.is_empty())
        .unwrap();
    assert_eq!(le(with_exemplar).as_deref(), Some("0.064"));
}
