//! prometheus-operator `ServiceMonitor` and `PodMonitor` objects
//! (monitoring.coreos.com/v1) translated into Prometheus 3.5 scrape jobs, the way
//! prometheus-operator v0.93.0 does (pkg/prometheus/promcfg.go
//! `generateServiceMonitorConfig` / `generatePodMonitorConfig`, with the checks of
//! pkg/prometheus/resource_selector.go `checkServiceMonitor` / `checkPodMonitor`).
//!
//! This module owns the translation and nothing else: which Secret and ConfigMap
//! keys the monitors reference (`references`), the jobs, the files Prometheus
//! reads the referenced values from (`credentials_file`, `tls_config.ca_file`, ...;
//! the operator puts them in one Secret mounted at `Options::files_dir`), and
//! which objects could not be translated, with the field to blame. It is strict:
//! every spec field it does not translate, at any depth, makes the whole object
//! untranslatable (a monitor that scraped differently from what its author wrote
//! would be worse than one reported), and so does anything Prometheus 3.5 would
//! refuse to load, since one refused job stops the whole configuration from
//! loading. Pure: the controller reads the objects, `crate::build` places the
//! results.
//!
//! Not reproduced from prometheus-operator: scrape classes, sharding, the
//! enforced namespace label, `attachMetadata.node`, the `RoleSelector` selector
//! mechanism, OAuth2, SigV4, files named by the monitor (`bearerTokenFile`,
//! `tlsConfig.caFile`, ...), the proxy fields but `proxyUrl`, TLS versions, body
//! size limits, scrape protocols and the native-histogram settings (a value that
//! changes nothing, such as `attachMetadata: {node: false}`, is accepted).

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::{Map, Value};

pub use crate::model::monitors::{Monitor, MonitorKind, Referenced};
use crate::render::prometheus::{
    Authorization, BasicAuth, KubernetesSd, Limits, Namespaces, Relabel, ScrapeConfig, TlsConfig,
    copy, keep_or_drop, set,
};

/// A Secret or ConfigMap key a monitor references.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct KeyRef {
    /// A ConfigMap (else a Secret).
    pub config_map: bool,
    /// Its namespace: the monitor's.
    pub namespace: String,
    /// The object's name.
    pub name: String,
    /// The key in its data.
    pub key: String,
}

/// How to translate.
pub struct Options<'a> {
    /// The `kubernetes_sd_configs` role of Service endpoints: `endpointslice` or
    /// `endpoints`.
    pub service_role: &'a str,
    /// The directory the files of `Translation::files` are mounted at.
    pub files_dir: &'a str,
    /// The stack's limits: the most any job may have (0: none).
    pub limits: Limits,
    /// The stack's global `scrape_interval`: a `scrapeTimeout` without an
    /// `interval` may not exceed it (Prometheus refuses the job otherwise).
    pub scrape_interval: Duration,
}

/// The jobs of the monitors, the files they read, and what was not translated.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Translation {
    /// The scrape jobs, in the order of the monitors (kind, namespace, name) and
    /// their endpoints.
    pub jobs: Vec<ScrapeConfig>,
    /// File name (a valid Secret key) -> content, for the files the jobs name
    /// under `Options::files_dir`.
    pub files: BTreeMap<String, String>,
    /// One line per object not translated: "<Kind> <ns>/<name>: <reason naming the field>", sorted.
    pub untranslatable: Vec<String>,
    /// How many objects of each kind were translated (kinds with none are absent).
    pub translated: BTreeMap<MonitorKind, usize>,
}

/// Every Secret and ConfigMap the monitors reference (for the operator to read before translate).
pub fn references(monitors: &[Monitor]) -> BTreeSet<(bool, String, String)> {
    monitors
        .iter()
        .filter_map(|m| Translator::new(m, None).monitor().ok())
        .flat_map(|(_, needs)| needs)
        .map(|n| (n.key.config_map, n.key.namespace, n.key.name))
        .collect()
}

/// Translates every monitor (sorted by kind, namespace, name so output is deterministic).
pub fn translate(monitors: &[Monitor], referenced: &Referenced, options: &Options) -> Translation {
    let mut sorted: Vec<&Monitor> = monitors.iter().collect();
    sorted.sort_by(|a, b| (a.kind, &a.namespace, &a.name).cmp(&(b.kind, &b.namespace, &b.name)));
    let mut out = Translation::default();
    let mut previous = None;
    for m in sorted {
        let id = (m.kind, m.namespace.as_str(), m.name.as_str());
        let result = if previous == Some(id) {
            // Two jobs of one name would make Prometheus refuse the whole file.
            Err("the object is listed more than once".to_string())
        } else {
            Translator::new(m, Some(options))
                .monitor()
                .and_then(|(jobs, needs)| Ok((jobs, resolve(&needs, referenced)?)))
        };
        previous = Some(id);
        match result {
            Ok((jobs, files)) => {
                out.jobs.extend(jobs);
                out.files.extend(files);
                *out.translated.entry(m.kind).or_default() += 1;
            }
            Err(reason) => out.untranslatable.push(format!(
                "{} {}/{}: {reason}",
                m.kind.as_str(),
                m.namespace,
                m.name
            )),
        }
    }
    out.untranslatable.sort();
    out
}

/// Why a monitor is not translated: a field path and what is wrong with it.
type Problem = String;

/// The spec keys translated, per kind (prometheus-operator v0.93.0
/// pkg/apis/monitoring/v1/servicemonitor_types.go `ServiceMonitorSpec`,
/// podmonitor_types.go `PodMonitorSpec`).
const SERVICE_MONITOR_SPEC: &[&str] = &[
    "jobLabel",
    "targetLabels",
    "podTargetLabels",
    "endpoints",
    "selector",
    "namespaceSelector",
    "serviceDiscoveryRole",
    "sampleLimit",
    "targetLimit",
    "labelLimit",
    "labelNameLengthLimit",
    "labelValueLengthLimit",
];
const POD_MONITOR_SPEC: &[&str] = &[
    "jobLabel",
    "podTargetLabels",
    "podMetricsEndpoints",
    "selector",
    "namespaceSelector",
    "sampleLimit",
    "targetLimit",
    "labelLimit",
    "labelNameLengthLimit",
    "labelValueLengthLimit",
];
/// The endpoint keys translated (types.go `Endpoint`, podmonitor_types.go
/// `PodMetricsEndpoint` and the HTTP config they inline from http_config.go); a
/// PodMonitor's also `portNumber`.
const ENDPOINT: &[&str] = &[
    "port",
    "targetPort",
    "path",
    "scheme",
    "params",
    "interval",
    "scrapeTimeout",
    "honorLabels",
    "honorTimestamps",
    "trackTimestampsStaleness",
    "relabelings",
    "metricRelabelings",
    "filterRunning",
    "tlsConfig",
    "bearerTokenSecret",
    "authorization",
    "basicAuth",
    "followRedirects",
    "enableHttp2",
    "proxyUrl",
];
const POD_ENDPOINT: &[&str] = &["portNumber"];
/// tls_types.go `SafeTLSConfig`, without the TLS versions.
const TLS: &[&str] = &[
    "ca",
    "cert",
    "keySecret",
    "serverName",
    "insecureSkipVerify",
];
const SECRET_OR_CONFIG_MAP: &[&str] = &["secret", "configMap"];
/// `SecretKeySelector` / `ConfigMapKeySelector` of k8s.io/api core/v1.
const KEY_SELECTOR: &[&str] = &["name", "key", "optional"];
/// prometheus_types.go `SafeAuthorization`.
const AUTHORIZATION: &[&str] = &["type", "credentials"];
const BASIC_AUTH: &[&str] = &["username", "password"];
/// prometheus_types.go `RelabelConfig`.
const RELABEL: &[&str] = &[
    "sourceLabels",
    "separator",
    "targetLabel",
    "regex",
    "modulus",
    "replacement",
    "action",
];
const LABEL_SELECTOR: &[&str] = &["matchLabels", "matchExpressions"];
const EXPRESSION: &[&str] = &["key", "operator", "values"];
const NAMESPACE_SELECTOR: &[&str] = &["any", "matchNames"];

/// The relabel actions Prometheus v3.5.3 knows (model/relabel/relabel.go `Action`).
const ACTIONS: [&str; 11] = [
    "replace",
    "keep",
    "drop",
    "keepequal",
    "dropequal",
    "hashmod",
    "labelmap",
    "labeldrop",
    "labelkeep",
    "lowercase",
    "uppercase",
];

/// Spec fields this module does not translate but accepts with a value that
/// leaves the job as Prometheus's defaults have it: `attachMetadata` without
/// node metadata, the default selector mechanism, no dropped targets kept, no
/// scrape protocols, and the native-histogram settings off (the pinned
/// Prometheus runs without the native-histograms feature).
fn spec_noop(key: &str, value: &Value) -> bool {
    match key {
        "attachMetadata" => value.as_object().is_some_and(|m| {
            m.iter()
                .all(|(k, v)| k == "node" && (v.is_null() || v.as_bool() == Some(false)))
        }),
        "selectorMechanism" => value.as_str() == Some("RelabelConfig"),
        "keepDroppedTargets" | "nativeHistogramBucketLimit" => value.as_u64() == Some(0),
        "scrapeProtocols" => value.as_array().is_some_and(Vec::is_empty),
        "scrapeClassicHistograms" | "convertClassicHistogramsToNHCB" | "scrapeNativeHistograms" => {
            value.as_bool() == Some(false)
        }
        _ => false,
    }
}

fn no_noop(_: &str, _: &Value) -> bool {
    false
}

/// One JSON object of a spec with its field path.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn new(value: &'a Value, path: String) -> Result<Self, Problem> {
        match value.as_object() {
            Some(map) => Ok(Obj { path, map }),
            None => Err(format!("{path} is not an object")),
        }
    }

    fn field(&self, key: &str) -> String {
        format!("{}.{key}", self.path)
    }

    /// Refuses every set key but `known` (and those `noop` accepts), the first
    /// in sorted order.
    fn only(&self, known: &[&str], noop: fn(&str, &Value) -> bool) -> Result<(), Problem> {
        let mut unknown: Vec<&String> = self
            .map
            .iter()
            .filter(|(k, v)| !v.is_null() && !known.contains(&k.as_str()) && !noop(k, v))
            .map(|(k, _)| k)
            .collect();
        unknown.sort();
        match unknown.first() {
            Some(k) => Err(format!("{} is not supported", self.field(k))),
            None => Ok(()),
        }
    }

    /// A set value (null counts as unset).
    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    fn obj(&self, key: &str) -> Result<Option<Obj<'a>>, Problem> {
        self.get(key)
            .map(|v| Obj::new(v, self.field(key)))
            .transpose()
    }

    fn str(&self, key: &str) -> Result<Option<&'a str>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(format!("{} is not a string", self.field(key))),
        }
    }

    /// A string, empty meaning unset.
    fn nonempty(&self, key: &str) -> Result<Option<&'a str>, Problem> {
        Ok(self.str(key)?.filter(|s| !s.is_empty()))
    }

    fn bool(&self, key: &str) -> Result<Option<bool>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("{} is not a boolean", self.field(key))),
        }
    }

    fn uint(&self, key: &str) -> Result<Option<u64>, Problem> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v
                .as_u64()
                .map(Some)
                .ok_or_else(|| format!("{} is not a non-negative integer", self.field(key))),
        }
    }

    /// The elements of an array, each with its path.
    fn array(&self, key: &str) -> Result<Vec<(String, &'a Value)>, Problem> {
        match self.get(key) {
            None => Ok(vec![]),
            Some(Value::Array(a)) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, v)| (format!("{}[{i}]", self.field(key)), v))
                .collect()),
            Some(_) => Err(format!("{} is not a list", self.field(key))),
        }
    }

    fn objects(&self, key: &str) -> Result<Vec<Obj<'a>>, Problem> {
        self.array(key)?
            .into_iter()
            .map(|(path, v)| Obj::new(v, path))
            .collect()
    }

    /// A list of non-empty strings.
    fn strings(&self, key: &str) -> Result<Vec<String>, Problem> {
        self.array(key)?
            .into_iter()
            .map(|(path, v)| match v.as_str() {
                Some(s) if !s.is_empty() => Ok(s.to_string()),
                Some(_) => Err(format!("{path} is empty")),
                None => Err(format!("{path} is not a string")),
            })
            .collect()
    }
}

/// What a referenced value must hold to be usable: Prometheus reads a CA or
/// client certificate (`x509.CertPool.AppendCertsFromPEM`, `tls.X509KeyPair`)
/// when it builds the job's HTTP client and fails the job if it holds none.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pem {
    Any,
    Certificate,
    PrivateKey,
}

impl Pem {
    fn accepts(self, value: &str) -> bool {
        match self {
            Pem::Any => true,
            Pem::Certificate => value.contains("-----BEGIN CERTIFICATE-----"),
            Pem::PrivateKey => value.contains("-----BEGIN ") && value.contains("PRIVATE KEY-----"),
        }
    }

    fn what(self) -> &'static str {
        match self {
            Pem::Any => "value",
            Pem::Certificate => "PEM certificate",
            Pem::PrivateKey => "PEM private key",
        }
    }
}

/// A referenced key a job reads, and the field that references it.
#[derive(Debug, Clone)]
struct Need {
    field: String,
    key: KeyRef,
    pem: Pem,
}

/// The longest Secret data key (k8s.io/apimachinery validation
/// `IsConfigMapKey`: `DNS1123SubdomainMaxLength`).
const MAX_KEY_LEN: usize = 253;

/// The file (Secret key) holding a referenced value: `secret_<ns>_<name>_<key>`
/// or `configmap_<ns>_<name>_<key>`. Namespaces and object names are DNS names,
/// which have no `_`, so the first two `_` after the prefix end them and the
/// rest is the key: distinct references get distinct names. One longer than a
/// Secret key may be is `secret-sha256-<hex>` (or `configmap-...`) of
/// `<ns>/<name>/<key>` instead; `-` after the prefix keeps the two forms apart.
pub(crate) fn file_name(r: &KeyRef) -> String {
    let kind = if r.config_map { "configmap" } else { "secret" };
    let plain = format!("{kind}_{}_{}_{}", r.namespace, r.name, r.key);
    if plain.len() <= MAX_KEY_LEN {
        plain
    } else {
        let digest =
            crate::digest::sha256_hex(format!("{}/{}/{}", r.namespace, r.name, r.key).as_bytes());
        format!("{kind}-sha256-{digest}")
    }
}

/// The referenced values, by file name, or the first reference that is missing.
fn resolve(needs: &[Need], referenced: &Referenced) -> Result<BTreeMap<String, String>, Problem> {
    let mut files = BTreeMap::new();
    for n in needs {
        let k = &n.key;
        let what = if k.config_map { "ConfigMap" } else { "Secret" };
        let data = referenced
            .get(&(k.config_map, k.namespace.clone(), k.name.clone()))
            .and_then(Option::as_ref)
            .ok_or_else(|| {
                format!(
                    "{}: {what} {}/{} does not exist",
                    n.field, k.namespace, k.name
                )
            })?;
        let value = data.get(&k.key).ok_or_else(|| {
            format!(
                "{}: {what} {}/{} has no key {:?}",
                n.field, k.namespace, k.name, k.key
            )
        })?;
        if !n.pem.accepts(value) {
            return Err(format!(
                "{}: key {:?} of {what} {}/{} holds no {}",
                n.field,
                k.key,
                k.namespace,
                k.name,
                n.pem.what()
            ));
        }
        files.insert(file_name(k), value.clone());
    }
    Ok(files)
}

/// Translates one monitor. Without options (`references`) only what the monitor
/// says is checked, so that it needs the same references either way.
struct Translator<'a> {
    m: &'a Monitor,
    options: Option<&'a Options<'a>>,
    needs: Vec<Need>,
}

impl<'a> Translator<'a> {
    fn new(m: &'a Monitor, options: Option<&'a Options<'a>>) -> Self {
        Translator {
            m,
            options,
            needs: vec![],
        }
    }

    /// The monitor's jobs, one per endpoint, and the keys they read.
    fn monitor(mut self) -> Result<(Vec<ScrapeConfig>, Vec<Need>), Problem> {
        if !is_dns_label(&self.m.namespace) {
            return Err(format!(
                "metadata.namespace {:?} is not a namespace name",
                self.m.namespace
            ));
        }
        let service = self.m.kind == MonitorKind::ServiceMonitor;
        let spec = Obj::new(&self.m.spec, "spec".into())?;
        spec.only(
            if service {
                SERVICE_MONITOR_SPEC
            } else {
                POD_MONITOR_SPEC
            },
            spec_noop,
        )?;
        let common = self.common(&spec)?;
        let key = if service {
            "endpoints"
        } else {
            "podMetricsEndpoints"
        };
        let mut jobs = vec![];
        for (i, endpoint) in spec.objects(key)?.iter().enumerate() {
            jobs.push(self.endpoint(&common, endpoint, i)?);
        }
        Ok((jobs, self.needs))
    }

    /// What every endpoint's job shares.
    fn common(&self, spec: &Obj) -> Result<Common, Problem> {
        let service = self.m.kind == MonitorKind::ServiceMonitor;
        let object = if service { "service" } else { "pod" };
        let role = if service {
            let given = self.options.map_or("endpointslice", |o| o.service_role);
            // promcfg.go `endpointRoleFlavor`: EndpointSlice where the cluster
            // serves it, else Endpoints.
            match spec.nonempty("serviceDiscoveryRole")? {
                None | Some("EndpointSlice") => given.to_string(),
                Some("Endpoints") => "endpoints".to_string(),
                Some(other) => {
                    return Err(format!(
                        "{}: {other:?} is neither Endpoints nor EndpointSlice",
                        spec.field("serviceDiscoveryRole")
                    ));
                }
            }
        } else {
            "pod".to_string()
        };
        let selector = match spec.obj("selector")? {
            Some(s) => selector_relabels(&s, object)?,
            None => vec![],
        };
        let namespaces = match spec.obj("namespaceSelector")? {
            Some(n) => namespaces(&n, &self.m.namespace)?,
            None => Some(Namespaces {
                names: vec![self.m.namespace.clone()],
            }),
        };
        let limits = match self.options {
            Some(o) => Some(limits(spec, &o.limits)?),
            None => None,
        };
        Ok(Common {
            role,
            namespaces,
            selector,
            target_labels: if service {
                spec.strings("targetLabels")?
            } else {
                vec![]
            },
            pod_target_labels: spec.strings("podTargetLabels")?,
            job_label: spec.nonempty("jobLabel")?.map(String::from),
            limits,
        })
    }

    /// The job of endpoint `i`.
    fn endpoint(&mut self, common: &Common, ep: &Obj, i: usize) -> Result<ScrapeConfig, Problem> {
        let service = self.m.kind == MonitorKind::ServiceMonitor;
        let known: Vec<&str> = if service {
            ENDPOINT.to_vec()
        } else {
            ENDPOINT.iter().chain(POD_ENDPOINT).copied().collect()
        };
        ep.only(&known, no_noop)?;

        let port = match ep.nonempty("port")? {
            Some(p) if !is_dns_label(p) => {
                return Err(format!("{}: {p:?} is not a port name", ep.field("port")));
            }
            p => p.map(String::from),
        };
        let port_number = if service {
            None
        } else {
            ep.uint("portNumber")?
                .map(|n| port_number(n, &ep.field("portNumber")))
                .transpose()?
        };
        let target_port = target_port(ep)?;

        let interval = duration(ep, "interval")?;
        let timeout = duration(ep, "scrapeTimeout")?;
        if let Some((t, t_ms)) = &timeout
            && *t_ms > 0
        {
            // resource_selector.go `validateScrapeIntervalAndTimeout`; Prometheus's
            // `ScrapeConfig.Validate` refuses the same.
            let limit = match &interval {
                Some((i, i_ms)) if *i_ms > 0 => Some((i.clone(), *i_ms)),
                _ => self.options.map(|o| {
                    (
                        crate::units::format_go_duration(o.scrape_interval),
                        o.scrape_interval.as_millis(),
                    )
                }),
            };
            if let Some((i, i_ms)) = limit
                && *t_ms > i_ms
            {
                return Err(format!(
                    "{}: {t} is longer than the scrape interval {i}",
                    ep.field("scrapeTimeout")
                ));
            }
        }

        let scheme = match ep.nonempty("scheme")? {
            None => None,
            Some(s) if s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https") => {
                Some(s.to_ascii_lowercase())
            }
            Some(s) => {
                return Err(format!(
                    "{}: {s:?} is neither http nor https",
                    ep.field("scheme")
                ));
            }
        };
        let params = match ep.obj("params")? {
            Some(p) => params(&p)?,
            None => BTreeMap::new(),
        };
        let proxy_url = match ep.nonempty("proxyUrl")? {
            Some(u) if !is_proxy_url(u) => {
                return Err(format!(
                    "{}: {u:?} is not an http, https or socks5 URL",
                    ep.field("proxyUrl")
                ));
            }
            u => u.map(String::from),
        };

        let tls_config = match ep.obj("tlsConfig")? {
            Some(t) => self.tls(&t)?,
            None => None,
        };
        let (authorization, basic_auth) = self.auth(ep)?;

        let relabelings = ep
            .objects("relabelings")?
            .iter()
            .map(relabel)
            .collect::<Result<Vec<_>, _>>()?;
        let metric_relabelings = ep
            .objects("metricRelabelings")?
            .iter()
            .map(relabel)
            .collect::<Result<Vec<_>, _>>()?;
        let filter_running = ep.bool("filterRunning")?.unwrap_or(true);

        let ports = Ports {
            port,
            port_number,
            target_port,
        };
        let mut relabel_configs = if service {
            self.service_relabels(common, &ports, filter_running)
        } else {
            self.pod_relabels(common, &ports, filter_running)
        };
        relabel_configs.extend(relabelings);

        let kind = if service {
            "serviceMonitor"
        } else {
            "podMonitor"
        };
        // `static_configs` is not this module's, so no struct literal.
        let mut job = ScrapeConfig::default();
        job.job_name = format!("{kind}/{}/{}/{i}", self.m.namespace, self.m.name);
        job.honor_labels = Some(ep.bool("honorLabels")?.unwrap_or(false));
        job.honor_timestamps = ep.bool("honorTimestamps")?;
        job.track_timestamps_staleness = ep.bool("trackTimestampsStaleness")?;
        job.kubernetes_sd_configs = vec![KubernetesSd {
            role: common.role.clone(),
            namespaces: common.namespaces.clone(),
            selectors: vec![],
        }];
        job.scrape_interval = interval.map(|(s, _)| s);
        job.scrape_timeout = timeout.map(|(s, _)| s);
        job.metrics_path = ep.nonempty("path")?.map(String::from);
        job.params = params;
        job.scheme = scheme;
        job.follow_redirects = ep.bool("followRedirects")?;
        job.enable_http2 = ep.bool("enableHttp2")?;
        job.proxy_url = proxy_url;
        job.tls_config = tls_config;
        job.authorization = authorization;
        job.basic_auth = basic_auth;
        job.relabel_configs = relabel_configs;
        job.limits = common.limits;
        job.metric_relabel_configs = metric_relabelings;
        Ok(job)
    }

    /// promcfg.go `generateServiceMonitorConfig`'s relabelings up to the user's.
    fn service_relabels(&self, c: &Common, p: &Ports, filter_running: bool) -> Vec<Relabel> {
        let slice = c.role == "endpointslice";
        let meta = if slice {
            "__meta_kubernetes_endpointslice"
        } else {
            "__meta_kubernetes_endpoint"
        };
        let mut r = vec![copy("job", "__tmp_prometheus_job_name")];
        r.extend(c.selector.iter().cloned());
        if let Some(port) = &p.port {
            r.push(keep(&format!("{meta}_port_name"), port));
        } else if let Some(t) = &p.target_port {
            r.push(target_port_keep(t));
        }
        let target = vec![
            format!("{meta}_address_target_kind"),
            format!("{meta}_address_target_name"),
        ];
        for (kind, label) in [("Node", "node"), ("Pod", "pod")] {
            r.push(Relabel {
                source_labels: target.clone(),
                separator: Some(";".into()),
                regex: Some(format!("{kind};(.*)")),
                replacement: Some("${1}".into()),
                target_label: Some(label.into()),
                action: "replace".into(),
                ..Relabel::default()
            });
        }
        r.extend([
            copy("__meta_kubernetes_namespace", "namespace"),
            copy("__meta_kubernetes_service_name", "service"),
            copy("__meta_kubernetes_pod_name", "pod"),
            copy("__meta_kubernetes_pod_container_name", "container"),
        ]);
        if filter_running {
            r.push(running_filter());
        }
        r.extend(c.target_labels.iter().map(|l| label_copy("service", l)));
        r.extend(c.pod_target_labels.iter().map(|l| label_copy("pod", l)));
        r.push(Relabel {
            source_labels: vec!["__meta_kubernetes_service_name".into()],
            target_label: Some("job".into()),
            replacement: Some("${1}".into()),
            action: "replace".into(),
            ..Relabel::default()
        });
        if let Some(l) = &c.job_label {
            r.push(job_label("service", l));
        }
        if let Some(e) = p.endpoint_label() {
            r.push(set("endpoint", &e));
        }
        r
    }

    /// promcfg.go `generatePodMonitorConfig`'s relabelings up to the user's.
    fn pod_relabels(&self, c: &Common, p: &Ports, filter_running: bool) -> Vec<Relabel> {
        let mut r = vec![copy("job", "__tmp_prometheus_job_name")];
        if filter_running {
            r.push(running_filter());
        }
        r.extend(c.selector.iter().cloned());
        if let Some(port) = &p.port {
            r.push(keep("__meta_kubernetes_pod_container_port_name", port));
        } else if let Some(n) = p.port_number {
            r.push(keep(
                "__meta_kubernetes_pod_container_port_number",
                &n.to_string(),
            ));
        } else if let Some(t) = &p.target_port {
            r.push(target_port_keep(t));
        }
        r.extend([
            copy("__meta_kubernetes_namespace", "namespace"),
            copy("__meta_kubernetes_pod_container_name", "container"),
            copy("__meta_kubernetes_pod_name", "pod"),
        ]);
        r.extend(c.pod_target_labels.iter().map(|l| label_copy("pod", l)));
        r.push(set("job", &format!("{}/{}", self.m.namespace, self.m.name)));
        if let Some(l) = &c.job_label {
            r.push(job_label("pod", l));
        }
        if let Some(e) = p.endpoint_label() {
            r.push(set("endpoint", &e));
        }
        r
    }

    /// `tls_config` from `tlsConfig` (promcfg.go `addSafeTLStoYaml`, the values
    /// as files).
    fn tls(&mut self, t: &Obj) -> Result<Option<TlsConfig>, Problem> {
        t.only(TLS, no_noop)?;
        let ca_file = match t.obj("ca")? {
            Some(o) => self.secret_or_config_map(&o, Pem::Certificate)?,
            None => None,
        };
        let cert_file = match t.obj("cert")? {
            Some(o) => self.secret_or_config_map(&o, Pem::Certificate)?,
            None => None,
        };
        let key_file = match t.obj("keySecret")? {
            Some(o) => Some(self.file(&o, false, Pem::PrivateKey)?),
            None => None,
        };
        // tls_types.go `SafeTLSConfig.Validate`; prometheus/common's
        // `TLSConfig.Validate` refuses the same.
        match (&cert_file, &key_file) {
            (Some(_), None) => {
                return Err(format!(
                    "{}: a client certificate needs keySecret",
                    t.field("cert")
                ));
            }
            (None, Some(_)) => {
                return Err(format!("{}: a client key needs cert", t.field("keySecret")));
            }
            _ => {}
        }
        let config = TlsConfig {
            ca_file,
            cert_file,
            key_file,
            server_name: t.nonempty("serverName")?.map(String::from),
            insecure_skip_verify: t.bool("insecureSkipVerify")?,
        };
        Ok((config != TlsConfig::default()).then_some(config))
    }

    /// `authorization` from `authorization` or the deprecated
    /// `bearerTokenSecret`, or `basic_auth` from `basicAuth`: at most one of
    /// them (http_config.go `HTTPConfigWithoutTLS.Validate`).
    fn auth(&mut self, ep: &Obj) -> Result<(Option<Authorization>, Option<BasicAuth>), Problem> {
        let authorization = ep.obj("authorization")?;
        let basic = ep.obj("basicAuth")?;
        // promcfg.go reads a bearerTokenSecret only when it names a Secret.
        let bearer = ep.obj("bearerTokenSecret")?.filter(|b| {
            b.map
                .get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| !n.is_empty())
        });
        let given: Vec<&str> = [
            ("authorization", authorization.is_some()),
            ("basicAuth", basic.is_some()),
            ("bearerTokenSecret", bearer.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, on)| on.then_some(k))
        .collect();
        if given.len() > 1 {
            return Err(format!(
                "{}: {} cannot be set together",
                ep.path,
                given.join(" and ")
            ));
        }
        if let Some(a) = authorization {
            a.only(AUTHORIZATION, no_noop)?;
            let type_ = a.str("type")?.unwrap_or("").trim();
            let type_ = if type_.is_empty() { "Bearer" } else { type_ };
            if type_.eq_ignore_ascii_case("basic") {
                return Err(format!(
                    "{}: \"Basic\" is not allowed, use basicAuth",
                    a.field("type")
                ));
            }
            if !type_.bytes().all(|b| b.is_ascii_graphic()) {
                return Err(format!(
                    "{}: {type_:?} is not an HTTP authorization scheme",
                    a.field("type")
                ));
            }
            let credentials = a
                .obj("credentials")?
                .ok_or_else(|| format!("{} is required", a.field("credentials")))?;
            let file = self.file(&credentials, false, Pem::Any)?;
            return Ok((
                Some(Authorization {
                    type_: type_.to_string(),
                    credentials_file: file,
                }),
                None,
            ));
        }
        if let Some(b) = bearer {
            let file = self.file(&b, false, Pem::Any)?;
            return Ok((
                Some(Authorization {
                    type_: "Bearer".into(),
                    credentials_file: file,
                }),
                None,
            ));
        }
        if let Some(b) = basic {
            b.only(BASIC_AUTH, no_noop)?;
            let mut part = |key: &str| -> Result<String, Problem> {
                let o = b
                    .obj(key)?
                    .ok_or_else(|| format!("{} is required", b.field(key)))?;
                self.file(&o, false, Pem::Any)
            };
            let username_file = part("username")?;
            let password_file = part("password")?;
            return Ok((
                None,
                Some(BasicAuth {
                    username_file,
                    password_file,
                }),
            ));
        }
        Ok((None, None))
    }

    /// The file of a `SecretOrConfigMap` (types.go), if it names one.
    fn secret_or_config_map(&mut self, o: &Obj, pem: Pem) -> Result<Option<String>, Problem> {
        o.only(SECRET_OR_CONFIG_MAP, no_noop)?;
        match (o.obj("secret")?, o.obj("configMap")?) {
            (Some(_), Some(_)) => Err(format!(
                "{}: secret and configMap cannot be set together",
                o.path
            )),
            (Some(s), None) => Ok(Some(self.file(&s, false, pem)?)),
            (None, Some(c)) => Ok(Some(self.file(&c, true, pem)?)),
            (None, None) => Ok(None),
        }
    }

    /// The path of the file holding the key a selector names, noting the need.
    fn file(&mut self, sel: &Obj, config_map: bool, pem: Pem) -> Result<String, Problem> {
        sel.only(KEY_SELECTOR, no_noop)?;
        // `optional` changes nothing: prometheus-operator's store refuses a
        // missing key either way (pkg/assets/store.go `GetSecretKey`).
        sel.bool("optional")?;
        let what = if config_map { "ConfigMap" } else { "Secret" };
        let name = sel
            .nonempty("name")?
            .ok_or_else(|| format!("{} is required", sel.field("name")))?;
        if !is_dns_subdomain(name) {
            return Err(format!(
                "{}: {name:?} is not a {what} name",
                sel.field("name")
            ));
        }
        let key = sel
            .nonempty("key")?
            .ok_or_else(|| format!("{} is required", sel.field("key")))?;
        if !is_data_key(key) {
            return Err(format!("{}: {key:?} is not a {what} key", sel.field("key")));
        }
        let key = KeyRef {
            config_map,
            namespace: self.m.namespace.clone(),
            name: name.to_string(),
            key: key.to_string(),
        };
        let dir = self
            .options
            .map_or("", |o| o.files_dir.trim_end_matches('/'));
        let path = format!("{dir}/{}", file_name(&key));
        self.needs.push(Need {
            field: sel.path.clone(),
            key,
            pem,
        });
        Ok(path)
    }
}

/// The parts of a monitor's spec every endpoint's job shares.
struct Common {
    role: String,
    namespaces: Option<Namespaces>,
    selector: Vec<Relabel>,
    target_labels: Vec<String>,
    pod_target_labels: Vec<String>,
    job_label: Option<String>,
    limits: Option<Limits>,
}

/// An endpoint's port selection.
struct Ports {
    port: Option<String>,
    port_number: Option<u16>,
    target_port: Option<TargetPort>,
}

impl Ports {
    /// The `endpoint` label: the port's name, else the target port's name or
    /// number (not `portNumber`, as in promcfg.go).
    fn endpoint_label(&self) -> Option<String> {
        match (&self.port, &self.target_port) {
            (Some(p), _) => Some(p.clone()),
            (None, Some(TargetPort::Name(n))) => Some(n.clone()),
            (None, Some(TargetPort::Number(n))) => Some(n.to_string()),
            (None, None) => None,
        }
    }
}

/// The deprecated `targetPort` (an `IntOrString`).
enum TargetPort {
    Name(String),
    Number(u16),
}

fn target_port(ep: &Obj) -> Result<Option<TargetPort>, Problem> {
    let path = ep.field("targetPort");
    match ep.get("targetPort") {
        None => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) if is_dns_label(s) => Ok(Some(TargetPort::Name(s.clone()))),
        Some(Value::String(s)) => Err(format!("{path}: {s:?} is not a port name")),
        Some(v) => match v.as_u64() {
            Some(n) => Ok(Some(TargetPort::Number(port_number(n, &path)?))),
            None => Err(format!("{path} is neither a port name nor a port number")),
        },
    }
}

fn port_number(n: u64, path: &str) -> Result<u16, Problem> {
    u16::try_from(n)
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| format!("{path}: {n} is not a port number"))
}

fn target_port_keep(t: &TargetPort) -> Relabel {
    match t {
        TargetPort::Name(n) => keep("__meta_kubernetes_pod_container_port_name", n),
        TargetPort::Number(n) => keep(
            "__meta_kubernetes_pod_container_port_number",
            &n.to_string(),
        ),
    }
}

/// The job's limits: each the monitor's, capped by the stack's (promcfg.go
/// `getLimit`: the smaller where both are set, 0 meaning none).
fn limits(spec: &Obj, stack: &Limits) -> Result<Limits, Problem> {
    let cap = |key: &str, enforced: u32| -> Result<u32, Problem> {
        match spec.uint(key)?.unwrap_or(0) {
            0 => Ok(enforced),
            own if enforced != 0 => Ok(own.min(u64::from(enforced)) as u32),
            own => u32::try_from(own)
                .map_err(|_| format!("{}: {own} is more than {}", spec.field(key), u32::MAX)),
        }
    };
    Ok(Limits {
        sample_limit: cap("sampleLimit", stack.sample_limit)?,
        target_limit: cap("targetLimit", stack.target_limit)?,
        label_limit: cap("labelLimit", stack.label_limit)?,
        label_name_length_limit: cap("labelNameLengthLimit", stack.label_name_length_limit)?,
        label_value_length_limit: cap("labelValueLengthLimit", stack.label_value_length_limit)?,
    })
}

/// promcfg.go `getNamespacesFromNamespaceSelector`: `any` is every namespace,
/// `matchNames` those, neither the monitor's own.
fn namespaces(n: &Obj, own: &str) -> Result<Option<Namespaces>, Problem> {
    n.only(NAMESPACE_SELECTOR, no_noop)?;
    if n.bool("any")?.unwrap_or(false) {
        return Ok(None);
    }
    let mut names: Vec<String> = vec![];
    for (path, v) in n.array("matchNames")? {
        match v.as_str() {
            Some(s) if is_dns_label(s) => {
                if !names.iter().any(|n| n == s) {
                    names.push(s.to_string());
                }
            }
            _ => return Err(format!("{path} is not a namespace name")),
        }
    }
    if names.is_empty() {
        names.push(own.to_string());
    }
    Ok(Some(Namespaces { names }))
}

/// The keep and drop relabelings of a label selector over the labels of the
/// Service or pod (`object`), as promcfg.go writes them: one per `matchLabels`
/// entry in key order, then one per expression. Label values are escaped for
/// the regex (promcfg.go puts them in as they are, which lets a `.` match any
/// character).
fn selector_relabels(s: &Obj, object: &str) -> Result<Vec<Relabel>, Problem> {
    s.only(LABEL_SELECTOR, no_noop)?;
    let label = |key: &str| format!("__meta_kubernetes_{object}_label_{}", sanitize(key));
    let present = |key: &str| format!("__meta_kubernetes_{object}_labelpresent_{}", sanitize(key));
    let mut out = vec![];
    if let Some(m) = s.obj("matchLabels")? {
        let sorted: BTreeMap<&String, &Value> = m.map.iter().collect();
        for (k, v) in sorted {
            let path = format!("{}[{k:?}]", m.path);
            if !is_label_key(k) {
                return Err(format!("{path}: {k:?} is not a label key"));
            }
            let v = v
                .as_str()
                .filter(|v| is_label_value(v))
                .ok_or_else(|| format!("{path} is not a label value"))?;
            out.push(Relabel {
                source_labels: vec![label(k), present(k)],
                regex: Some(format!("({});true", quote(v))),
                action: "keep".into(),
                ..Relabel::default()
            });
        }
    }
    for e in s.objects("matchExpressions")? {
        e.only(EXPRESSION, no_noop)?;
        let key = e
            .str("key")?
            .ok_or_else(|| format!("{} is required", e.field("key")))?;
        if !is_label_key(key) {
            return Err(format!("{}: {key:?} is not a label key", e.field("key")));
        }
        let operator = e.str("operator")?.unwrap_or("");
        let mut values = vec![];
        for (path, v) in e.array("values")? {
            match v.as_str() {
                Some(v) if is_label_value(v) => values.push(quote(v)),
                _ => return Err(format!("{path} is not a label value")),
            }
        }
        // k8s.io/apimachinery `LabelSelectorAsSelector`: In and NotIn need
        // values, Exists and DoesNotExist none.
        let (action, with_values) = match operator {
            "In" => ("keep", true),
            "NotIn" => ("drop", true),
            "Exists" => ("keep", false),
            "DoesNotExist" => ("drop", false),
            other => {
                return Err(format!(
                    "{}: {other:?} is not In, NotIn, Exists or DoesNotExist",
                    e.field("operator")
                ));
            }
        };
        if with_values == values.is_empty() {
            return Err(format!(
                "{}: {operator} {}",
                e.field("values"),
                if with_values {
                    "needs values"
                } else {
                    "takes no values"
                }
            ));
        }
        out.push(if with_values {
            Relabel {
                source_labels: vec![label(key), present(key)],
                regex: Some(format!("({});true", values.join("|"))),
                action: action.into(),
                ..Relabel::default()
            }
        } else {
            Relabel {
                source_labels: vec![present(key)],
                regex: Some("true".into()),
                action: action.into(),
                ..Relabel::default()
            }
        });
    }
    Ok(out)
}

/// A monitor's relabeling, checked as Prometheus v3.5.3 model/relabel/relabel.go
/// `Config.Validate` checks it (with UTF-8 label names, its default) and with
/// the action lowercased as promcfg.go `generateRelabelConfig` writes it. The
/// regex is not checked.
fn relabel(o: &Obj) -> Result<Relabel, Problem> {
    o.only(RELABEL, no_noop)?;
    let given = o.nonempty("action")?.unwrap_or("replace");
    let action = given.to_ascii_lowercase();
    if !ACTIONS.contains(&action.as_str()) {
        return Err(format!(
            "{}: {given:?} is not a relabel action of Prometheus 3.5 ({})",
            o.field("action"),
            ACTIONS.join(", ")
        ));
    }
    let r = Relabel {
        source_labels: o.strings("sourceLabels")?,
        separator: o.str("separator")?.map(String::from),
        regex: o.nonempty("regex")?.map(String::from),
        modulus: o.uint("modulus")?.filter(|m| *m != 0),
        target_label: o.nonempty("targetLabel")?.map(String::from),
        replacement: o.str("replacement")?.map(String::from),
        action,
    };
    let a = r.action.as_str();
    let bad = |field: &str, what: &str| Err(format!("{}: {what}", o.field(field)));
    if a == "hashmod" && r.modulus.is_none() {
        return bad("modulus", "hashmod needs a modulus above 0");
    }
    let needs_target = [
        "replace",
        "hashmod",
        "lowercase",
        "uppercase",
        "keepequal",
        "dropequal",
    ];
    if needs_target.contains(&a) && r.target_label.is_none() {
        return bad("targetLabel", &format!("{a} needs a targetLabel"));
    }
    let default_replacement = r.replacement.as_deref().is_none_or(|s| s == "$1");
    let default_separator = r.separator.as_deref().is_none_or(|s| s == ";");
    if ["lowercase", "uppercase", "keepequal", "dropequal"].contains(&a) && !default_replacement {
        return bad("replacement", &format!("{a} takes no replacement"));
    }
    if a == "labelmap" && r.replacement.as_deref() == Some("") {
        return bad("replacement", "labelmap needs a label name");
    }
    if ["keepequal", "dropequal"].contains(&a)
        && (r.regex.is_some() || r.modulus.is_some() || !default_separator)
    {
        return bad(
            "action",
            &format!("{a} takes only sourceLabels and targetLabel"),
        );
    }
    if ["labeldrop", "labelkeep"].contains(&a)
        && (!r.source_labels.is_empty()
            || r.target_label.is_some()
            || r.modulus.is_some()
            || !default_separator
            || !default_replacement)
    {
        return bad("action", &format!("{a} takes only regex"));
    }
    Ok(r)
}

/// A duration field as written and in milliseconds; empty is unset.
fn duration(o: &Obj, key: &str) -> Result<Option<(String, u128)>, Problem> {
    match o.nonempty(key)? {
        None => Ok(None),
        Some(s) => prometheus_duration(s)
            .map(|ms| Some((s.to_string(), ms)))
            .ok_or_else(|| format!("{}: {s:?} is not a Prometheus duration", o.field(key))),
    }
}

/// Milliseconds of a duration in prometheus/common v0.65.0 model/time.go
/// `ParseDuration`'s grammar: `0`, or units y, w, d, h, m, s, ms, each at most
/// once and in that order, within Go's int64 nanoseconds.
fn prometheus_duration(s: &str) -> Option<u128> {
    if s == "0" {
        return Some(0);
    }
    const UNITS: [(&str, u128); 7] = [
        ("y", 365 * 86_400_000),
        ("w", 7 * 86_400_000),
        ("d", 86_400_000),
        ("h", 3_600_000),
        ("m", 60_000),
        ("s", 1_000),
        ("ms", 1),
    ];
    let mut rest = s;
    let mut next = 0;
    let mut total: u128 = 0;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let letters = rest[digits..]
            .bytes()
            .take_while(u8::is_ascii_alphabetic)
            .count();
        if digits == 0 || digits > 20 {
            return None;
        }
        let n: u128 = rest[..digits].parse().ok()?;
        let unit = &rest[digits..digits + letters];
        let at = next + UNITS[next..].iter().position(|(u, _)| *u == unit)?;
        total = total.checked_add(n.checked_mul(UNITS[at].1)?)?;
        next = at + 1;
        rest = &rest[digits + letters..];
    }
    (total <= i64::MAX as u128 / 1_000_000).then_some(total)
}

/// `params`: names to lists of values.
fn params(p: &Obj) -> Result<BTreeMap<String, Vec<String>>, Problem> {
    let mut out = BTreeMap::new();
    for (k, v) in p.map {
        let path = format!("{}[{k:?}]", p.path);
        let values = v
            .as_array()
            .and_then(|a| {
                a.iter()
                    .map(|v| v.as_str().map(String::from))
                    .collect::<Option<Vec<_>>>()
            })
            .ok_or_else(|| format!("{path} is not a list of strings"))?;
        out.insert(k.clone(), values);
    }
    Ok(out)
}

fn keep(source: &str, regex: &str) -> Relabel {
    keep_or_drop("keep", source, regex)
}

/// promcfg.go `generateRunningFilter`.
fn running_filter() -> Relabel {
    Relabel {
        source_labels: vec!["__meta_kubernetes_pod_phase".into()],
        regex: Some("(Failed|Succeeded)".into()),
        action: "drop".into(),
        ..Relabel::default()
    }
}

/// A `targetLabels` / `podTargetLabels` entry: the object's label, if set, as
/// a target label.
fn label_copy(object: &str, label: &str) -> Relabel {
    Relabel {
        source_labels: vec![format!(
            "__meta_kubernetes_{object}_label_{}",
            sanitize(label)
        )],
        regex: Some("(.+)".into()),
        target_label: Some(sanitize(label)),
        replacement: Some("${1}".into()),
        action: "replace".into(),
        ..Relabel::default()
    }
}

/// `jobLabel`: the object's label, if set, as `job`.
fn job_label(object: &str, label: &str) -> Relabel {
    Relabel {
        target_label: Some("job".into()),
        ..label_copy(object, label)
    }
}

/// Prometheus's `strutil.SanitizeLabelName` (util/strutil/strconv.go, which
/// promcfg.go `sanitizeLabelName` mirrors): every character but ASCII letters,
/// digits and `_` becomes `_`, as the Kubernetes discovery names meta labels.
fn sanitize(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A literal for an RE2 regex.
fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A URL Prometheus's HTTP client can proxy through.
fn is_proxy_url(u: &str) -> bool {
    ["http://", "https://", "socks5://", "socks5h://"]
        .iter()
        .any(|scheme| {
            u.get(..scheme.len())
                .is_some_and(|s| s.eq_ignore_ascii_case(scheme))
                && u.len() > scheme.len()
        })
        && u.chars().all(|c| c.is_ascii_graphic())
}

/// An RFC 1123 label (namespace names, port names).
fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// An RFC 1123 subdomain (Secret and ConfigMap names).
fn is_dns_subdomain(s: &str) -> bool {
    s.len() <= 253 && s.split('.').all(is_dns_label)
}

/// A Secret or ConfigMap data key (k8s.io/apimachinery `IsConfigMapKey`).
fn is_data_key(s: &str) -> bool {
    (1..=MAX_KEY_LEN).contains(&s.len())
        && s.bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"-._".contains(&c))
        && s != "."
        && s != ".."
}

/// The name part of a label key, or a non-empty label value.
fn is_label_name_part(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=63).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || b"-_.".contains(c))
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

/// A label key: `[prefix/]name`, the prefix a DNS subdomain.
fn is_label_key(s: &str) -> bool {
    match s.split_once('/') {
        Some((prefix, name)) => is_dns_subdomain(prefix) && is_label_name_part(name),
        None => is_label_name_part(s),
    }
}

fn is_label_value(s: &str) -> bool {
    s.is_empty() || is_label_name_part(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const DIR: &str = "/etc/prometheus-monitor-files";
    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
    const KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n";

    fn stack_limits() -> Limits {
        Limits {
            sample_limit: 10_000,
            target_limit: 100,
            label_limit: 5,
            label_name_length_limit: 0,
            label_value_length_limit: 0,
        }
    }

    fn options(role: &str) -> Options<'_> {
        Options {
            service_role: role,
            files_dir: DIR,
            limits: stack_limits(),
            scrape_interval: Duration::from_secs(15),
        }
    }

    fn monitor(kind: MonitorKind, ns: &str, name: &str, spec: Value) -> Monitor {
        Monitor {
            kind,
            namespace: ns.into(),
            name: name.into(),
            spec,
        }
    }

    /// A ServiceMonitor as a Helm chart ships one.
    fn api_monitor() -> Monitor {
        monitor(
            MonitorKind::ServiceMonitor,
            "team-a",
            "api",
            json!({
                "jobLabel": "app.kubernetes.io/name",
                "targetLabels": ["team"],
                "selector": {
                    "matchLabels": {"app.kubernetes.io/name": "api", "app.kubernetes.io/instance": "api.v1"},
                    "matchExpressions": [
                        {"key": "tier", "operator": "In", "values": ["prod", "staging"]},
                        {"key": "canary", "operator": "DoesNotExist"}
                    ]
                },
                "sampleLimit": 50_000,
                "targetLimit": 10,
                "labelValueLengthLimit": 1024,
                "attachMetadata": {"node": false},
                "endpoints": [
                    {
                        "port": "metrics",
                        "interval": "30s",
                        "scrapeTimeout": "10s",
                        "path": "/internal/metrics",
                        "scheme": "HTTPS",
                        "honorLabels": true,
                        "relabelings": [
                            {"sourceLabels": ["__meta_kubernetes_pod_node_name"], "targetLabel": "node_name", "action": "Replace"}
                        ],
                        "metricRelabelings": [
                            {"sourceLabels": ["__name__"], "regex": "go_.*", "action": "Drop"}
                        ],
                        "tlsConfig": {
                            "ca": {"configMap": {"name": "api-ca", "key": "ca.crt"}},
                            "cert": {"secret": {"name": "api-client", "key": "tls.crt"}},
                            "keySecret": {"name": "api-client", "key": "tls.key"},
                            "serverName": "api.team-a.svc"
                        },
                        "authorization": {"credentials": {"name": "api-token", "key": "token"}}
                    },
                    {"targetPort": 9102, "filterRunning": false}
                ]
            }),
        )
    }

    fn api_referenced() -> Referenced {
        let data = |pairs: &[(&str, &str)]| {
            Some(
                pairs
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
            )
        };
        BTreeMap::from([
            (
                (true, "team-a".into(), "api-ca".into()),
                data(&[("ca.crt", CA)]),
            ),
            (
                (false, "team-a".into(), "api-client".into()),
                data(&[("tls.crt", CA), ("tls.key", KEY)]),
            ),
            (
                (false, "team-a".into(), "api-token".into()),
                data(&[("token", "s3cret")]),
            ),
        ])
    }

    fn relabels(job: &ScrapeConfig) -> Vec<(String, String, String)> {
        job.relabel_configs
            .iter()
            .map(|r| {
                (
                    r.action.clone(),
                    r.source_labels.join(","),
                    r.regex.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn a_service_monitor_becomes_one_job_per_endpoint() {
        let t = translate(
            &[api_monitor()],
            &api_referenced(),
            &options("endpointslice"),
        );
        assert_eq!(t.untranslatable, Vec::<String>::new());
        assert_eq!(
            t.translated,
            BTreeMap::from([(MonitorKind::ServiceMonitor, 1)])
        );
        let names: Vec<&str> = t.jobs.iter().map(|j| j.job_name.as_str()).collect();
        assert_eq!(
            names,
            ["serviceMonitor/team-a/api/0", "serviceMonitor/team-a/api/1"]
        );
        let job = &t.jobs[0];
        let sd = &job.kubernetes_sd_configs[0];
        assert_eq!(sd.role, "endpointslice");
        assert_eq!(
            sd.namespaces.as_ref().map(|n| n.names.clone()),
            Some(vec!["team-a".to_string()])
        );
        let r = relabels(job);
        let has = |action: &str, sources: &str, regex: &str| {
            r.contains(&(action.into(), sources.into(), regex.into()))
        };
        // Selector: matchLabels in key order (the value's `.` escaped), then
        // the expressions.
        let first_keeps: Vec<_> = r[1..5].to_vec();
        assert_eq!(
            first_keeps,
            [
                (
                    "keep".to_string(),
                    "__meta_kubernetes_service_label_app_kubernetes_io_instance,__meta_kubernetes_service_labelpresent_app_kubernetes_io_instance".to_string(),
                    r"(api\.v1);true".to_string()
                ),
                (
                    "keep".to_string(),
                    "__meta_kubernetes_service_label_app_kubernetes_io_name,__meta_kubernetes_service_labelpresent_app_kubernetes_io_name".to_string(),
                    "(api);true".to_string()
                ),
                (
                    "keep".to_string(),
                    "__meta_kubernetes_service_label_tier,__meta_kubernetes_service_labelpresent_tier".to_string(),
                    "(prod|staging);true".to_string()
                ),
                (
                    "drop".to_string(),
                    "__meta_kubernetes_service_labelpresent_canary".to_string(),
                    "true".to_string()
                ),
            ]
        );
        assert!(has(
            "keep",
            "__meta_kubernetes_endpointslice_port_name",
            "metrics"
        ));
        assert!(has(
            "replace",
            "__meta_kubernetes_endpointslice_address_target_kind,__meta_kubernetes_endpointslice_address_target_name",
            "Pod;(.*)"
        ));
        assert!(has(
            "drop",
            "__meta_kubernetes_pod_phase",
            "(Failed|Succeeded)"
        ));
        let target = |label: &str| {
            job.relabel_configs
                .iter()
                .filter(|r| r.target_label.as_deref() == Some(label))
                .map(|r| {
                    (
                        r.source_labels.join(","),
                        r.replacement.clone().unwrap_or_default(),
                    )
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            target("job"),
            [
                ("__meta_kubernetes_service_name".into(), "${1}".into()),
                (
                    "__meta_kubernetes_service_label_app_kubernetes_io_name".into(),
                    "${1}".into()
                )
            ]
        );
        assert_eq!(
            target("team"),
            [("__meta_kubernetes_service_label_team".into(), "${1}".into())]
        );
        assert_eq!(target("endpoint"), [(String::new(), "metrics".into())]);
        for label in ["namespace", "service", "container"] {
            assert_eq!(target(label).len(), 1, "{label}");
        }
        // The user's relabelings come last, lowercased.
        let last = job.relabel_configs.last().cloned().unwrap_or_default();
        assert_eq!(last.action, "replace");
        assert_eq!(last.target_label.as_deref(), Some("node_name"));
        assert_eq!(job.metric_relabel_configs.len(), 1);
        assert_eq!(job.metric_relabel_configs[0].action, "drop");
        assert_eq!(
            job.metric_relabel_configs[0].regex.as_deref(),
            Some("go_.*")
        );

        assert_eq!(job.scrape_interval.as_deref(), Some("30s"));
        assert_eq!(job.scrape_timeout.as_deref(), Some("10s"));
        assert_eq!(job.metrics_path.as_deref(), Some("/internal/metrics"));
        assert_eq!(job.scheme.as_deref(), Some("https"));
        assert_eq!(job.honor_labels, Some(true));

        // Limits: the monitor's capped by the stack's, the stack's where unset.
        let l = job.limits.unwrap_or_default();
        assert_eq!(
            (
                l.sample_limit,
                l.target_limit,
                l.label_limit,
                l.label_value_length_limit
            ),
            (10_000, 10, 5, 1024)
        );

        // Credentials and TLS material as files.
        let tls = job.tls_config.clone().unwrap_or_default();
        assert_eq!(
            tls.ca_file.as_deref(),
            Some("/etc/prometheus-monitor-files/configmap_team-a_api-ca_ca.crt")
        );
        assert_eq!(
            tls.cert_file.as_deref(),
            Some("/etc/prometheus-monitor-files/secret_team-a_api-client_tls.crt")
        );
        assert_eq!(
            tls.key_file.as_deref(),
            Some("/etc/prometheus-monitor-files/secret_team-a_api-client_tls.key")
        );
        assert_eq!(tls.server_name.as_deref(), Some("api.team-a.svc"));
        let auth = job.authorization.clone();
        assert_eq!(
            auth.map(|a| (a.type_, a.credentials_file)),
            Some((
                "Bearer".into(),
                "/etc/prometheus-monitor-files/secret_team-a_api-token_token".into()
            ))
        );
        assert_eq!(
            t.files,
            BTreeMap::from([
                ("configmap_team-a_api-ca_ca.crt".to_string(), CA.to_string()),
                ("secret_team-a_api-client_tls.crt".into(), CA.into()),
                ("secret_team-a_api-client_tls.key".into(), KEY.into()),
                ("secret_team-a_api-token_token".into(), "s3cret".into()),
            ])
        );

        // The second endpoint: by target port number, no running filter.
        let r = relabels(&t.jobs[1]);
        assert!(r.contains(&(
            "keep".into(),
            "__meta_kubernetes_pod_container_port_number".into(),
            "9102".into()
        )));
        assert!(!r.iter().any(|(_, s, _)| s == "__meta_kubernetes_pod_phase"));
        assert!(t.jobs[1].tls_config.is_none() && t.jobs[1].authorization.is_none());

        // As Prometheus reads it.
        let yaml = crate::render::to_yaml(job);
        for line in [
            "job_name: serviceMonitor/team-a/api/0\n",
            "honor_labels: true\n",
            "  type: Bearer\n",
            "  credentials_file: /etc/prometheus-monitor-files/secret_team-a_api-token_token\n",
            "sample_limit: 10000\n",
            "label_value_length_limit: 1024\n",
            "metric_relabel_configs:\n",
        ] {
            assert!(yaml.contains(line), "{line:?} not in\n{yaml}");
        }
    }

    #[test]
    fn the_endpoints_role_has_its_own_meta_labels() {
        let t = translate(&[api_monitor()], &api_referenced(), &options("endpoints"));
        let job = &t.jobs[0];
        assert_eq!(job.kubernetes_sd_configs[0].role, "endpoints");
        let r = relabels(job);
        assert!(r.contains(&(
            "keep".into(),
            "__meta_kubernetes_endpoint_port_name".into(),
            "metrics".into()
        )));
        assert!(r.iter().any(|(_, s, re)| s
            == "__meta_kubernetes_endpoint_address_target_kind,__meta_kubernetes_endpoint_address_target_name"
            && re == "Node;(.*)"));
        assert!(!r.iter().any(|(_, s, _)| s.contains("endpointslice")));
        // A monitor asking for Endpoints gets them where slices are served.
        let mut m = api_monitor();
        m.spec["serviceDiscoveryRole"] = json!("Endpoints");
        let t = translate(&[m], &api_referenced(), &options("endpointslice"));
        assert_eq!(t.jobs[0].kubernetes_sd_configs[0].role, "endpoints");
    }

    #[test]
    fn a_pod_monitor_becomes_pod_jobs() {
        let m = monitor(
            MonitorKind::PodMonitor,
            "team-b",
            "workers",
            json!({
                "selector": {"matchLabels": {"app": "worker"}},
                "namespaceSelector": {"matchNames": ["team-b", "team-c"]},
                "podTargetLabels": ["app.kubernetes.io/version"],
                "labelNameLengthLimit": 200,
                "podMetricsEndpoints": [
                    {"port": "http-metrics", "basicAuth": {
                        "username": {"name": "scrape", "key": "user"},
                        "password": {"name": "scrape", "key": "pass_word"}
                    }},
                    {"portNumber": 8080, "filterRunning": false, "params": {"format": ["prometheus"]}}
                ]
            }),
        );
        let everywhere = monitor(
            MonitorKind::PodMonitor,
            "team-b",
            "all",
            json!({"selector": {}, "namespaceSelector": {"any": true}, "podMetricsEndpoints": [{}]}),
        );
        let referenced = BTreeMap::from([(
            (false, "team-b".to_string(), "scrape".to_string()),
            Some(BTreeMap::from([
                ("user".to_string(), "prom".to_string()),
                ("pass_word".to_string(), "pw".to_string()),
            ])),
        )]);
        let mut o = options("endpointslice");
        o.limits.label_name_length_limit = 0;
        let t = translate(&[m, everywhere], &referenced, &o);
        assert_eq!(t.untranslatable, Vec::<String>::new());
        assert_eq!(t.translated, BTreeMap::from([(MonitorKind::PodMonitor, 2)]));
        let names: Vec<&str> = t.jobs.iter().map(|j| j.job_name.as_str()).collect();
        assert_eq!(
            names,
            [
                "podMonitor/team-b/all/0",
                "podMonitor/team-b/workers/0",
                "podMonitor/team-b/workers/1"
            ]
        );
        assert_eq!(t.jobs[0].kubernetes_sd_configs[0].namespaces, None);
        let job = &t.jobs[1];
        assert_eq!(job.kubernetes_sd_configs[0].role, "pod");
        assert_eq!(
            job.kubernetes_sd_configs[0]
                .namespaces
                .as_ref()
                .map(|n| n.names.clone()),
            Some(vec!["team-b".to_string(), "team-c".to_string()])
        );
        let r = relabels(job);
        assert_eq!(
            r[1],
            (
                "drop".to_string(),
                "__meta_kubernetes_pod_phase".to_string(),
                "(Failed|Succeeded)".to_string()
            )
        );
        assert_eq!(
            r[2],
            (
                "keep".to_string(),
                "__meta_kubernetes_pod_label_app,__meta_kubernetes_pod_labelpresent_app".into(),
                "(worker);true".into()
            )
        );
        assert!(r.contains(&(
            "keep".into(),
            "__meta_kubernetes_pod_container_port_name".into(),
            "http-metrics".into()
        )));
        let version = job
            .relabel_configs
            .iter()
            .find(|r| r.target_label.as_deref() == Some("app_kubernetes_io_version"));
        assert_eq!(
            version.map(|r| r.source_labels.clone()),
            Some(vec![
                "__meta_kubernetes_pod_label_app_kubernetes_io_version".to_string()
            ])
        );
        let job_value = job
            .relabel_configs
            .iter()
            .find(|r| r.target_label.as_deref() == Some("job"))
            .and_then(|r| r.replacement.clone());
        assert_eq!(job_value.as_deref(), Some("team-b/workers"));
        assert_eq!(
            job.basic_auth
                .clone()
                .map(|b| (b.username_file, b.password_file)),
            Some((
                format!("{DIR}/secret_team-b_scrape_user"),
                format!("{DIR}/secret_team-b_scrape_pass_word")
            ))
        );
        assert_eq!(job.limits.map(|l| l.label_name_length_limit), Some(200));
        assert_eq!(t.files.len(), 2);
        assert_eq!(
            t.files
                .get("secret_team-b_scrape_pass_word")
                .map(String::as_str),
            Some("pw")
        );

        let second = relabels(&t.jobs[2]);
        assert!(second.contains(&(
            "keep".into(),
            "__meta_kubernetes_pod_container_port_number".into(),
            "8080".into()
        )));
        assert!(
            !second
                .iter()
                .any(|(_, s, _)| s == "__meta_kubernetes_pod_phase")
        );
        assert_eq!(
            t.jobs[2].params.get("format"),
            Some(&vec!["prometheus".to_string()])
        );
        // No endpoint label for a port number (as promcfg.go).
        assert!(
            !t.jobs[2]
                .relabel_configs
                .iter()
                .any(|r| r.target_label.as_deref() == Some("endpoint"))
        );
    }

    /// The one untranslatable line of the API monitor with `patch` applied to
    /// its first endpoint.
    fn refused(patch: Value, referenced: &Referenced) -> Vec<String> {
        let mut m = api_monitor();
        if let (Some(ep), Some(p)) = (m.spec["endpoints"][0].as_object_mut(), patch.as_object()) {
            for (k, v) in p {
                ep.insert(k.clone(), v.clone());
            }
        }
        let t = translate(&[m], referenced, &options("endpointslice"));
        assert!(t.jobs.is_empty() && t.files.is_empty() && t.translated.is_empty());
        t.untranslatable
    }

    #[test]
    fn what_cannot_be_translated_is_reported_with_its_field() {
        let ok = api_referenced();
        let line = |reason: &str| vec![format!("ServiceMonitor team-a/api: {reason}")];
        assert_eq!(
            refused(
                json!({"oauth2": {"tokenUrl": "https://x", "clientId": {}}}),
                &ok
            ),
            line("spec.endpoints[0].oauth2 is not supported")
        );
        assert_eq!(
            refused(json!({"sampleRate": 3}), &ok),
            line("spec.endpoints[0].sampleRate is not supported")
        );
        assert_eq!(
            refused(
                json!({"tlsConfig": {"ca": {"secret": {"name": "ca", "key": "ca.crt"}}, "minVersion": "TLS12"}}),
                &ok
            ),
            line("spec.endpoints[0].tlsConfig.minVersion is not supported")
        );
        assert_eq!(
            refused(
                json!({"relabelings": [{"sourceLabels": ["a"], "action": "Rewrite"}]}),
                &ok
            ),
            line(
                "spec.endpoints[0].relabelings[0].action: \"Rewrite\" is not a relabel action of Prometheus 3.5 (replace, keep, drop, keepequal, dropequal, hashmod, labelmap, labeldrop, labelkeep, lowercase, uppercase)"
            )
        );
        assert_eq!(
            refused(
                json!({"metricRelabelings": [{"action": "hashmod", "targetLabel": "x"}]}),
                &ok
            ),
            line("spec.endpoints[0].metricRelabelings[0].modulus: hashmod needs a modulus above 0")
        );
        assert_eq!(
            refused(
                json!({"relabelings": [{"sourceLabels": ["a"], "targetLabel": "b", "regex": "(.*)", "action": "KeepEqual"}]}),
                &ok
            ),
            line(
                "spec.endpoints[0].relabelings[0].action: keepequal takes only sourceLabels and targetLabel"
            )
        );
        assert_eq!(
            refused(
                json!({"metricRelabelings": [{"sourceLabels": ["a"], "regex": "x", "action": "labeldrop"}]}),
                &ok
            ),
            line("spec.endpoints[0].metricRelabelings[0].action: labeldrop takes only regex")
        );
        assert_eq!(
            refused(
                json!({"relabelings": [{"sourceLabels": ["a"], "targetLabel": ""}]}),
                &ok
            ),
            line("spec.endpoints[0].relabelings[0].targetLabel: replace needs a targetLabel")
        );
        assert_eq!(
            refused(json!({"interval": "5x"}), &ok),
            line("spec.endpoints[0].interval: \"5x\" is not a Prometheus duration")
        );
        assert_eq!(
            refused(json!({"interval": "30s1m"}), &ok),
            line("spec.endpoints[0].interval: \"30s1m\" is not a Prometheus duration")
        );
        assert_eq!(
            refused(json!({"interval": "10s", "scrapeTimeout": "30s"}), &ok),
            line("spec.endpoints[0].scrapeTimeout: 30s is longer than the scrape interval 10s")
        );
        // Without an interval the stack's (15s) bounds the timeout.
        assert_eq!(
            refused(json!({"interval": null, "scrapeTimeout": "20s"}), &ok),
            line("spec.endpoints[0].scrapeTimeout: 20s is longer than the scrape interval 15s")
        );
        assert_eq!(
            refused(
                json!({"authorization": null, "basicAuth": {"username": {"name": "u", "key": "u"}}}),
                &ok
            ),
            line("spec.endpoints[0].basicAuth.password is required")
        );
        assert_eq!(
            refused(
                json!({"bearerTokenSecret": {"name": "api-token", "key": "token"}}),
                &ok
            ),
            line("spec.endpoints[0]: authorization and bearerTokenSecret cannot be set together")
        );

        // References: a missing Secret, a missing key, a CA that is not one.
        let mut missing = ok.clone();
        missing.insert((false, "team-a".into(), "api-token".into()), None);
        assert_eq!(
            refused(json!({}), &missing),
            line(
                "spec.endpoints[0].authorization.credentials: Secret team-a/api-token does not exist"
            )
        );
        let mut no_key = ok.clone();
        no_key.insert(
            (false, "team-a".into(), "api-token".into()),
            Some(BTreeMap::from([("other".into(), "x".into())])),
        );
        assert_eq!(
            refused(json!({}), &no_key),
            line(
                "spec.endpoints[0].authorization.credentials: Secret team-a/api-token has no key \"token\""
            )
        );
        let mut not_pem = ok.clone();
        not_pem.insert(
            (true, "team-a".into(), "api-ca".into()),
            Some(BTreeMap::from([("ca.crt".into(), "not a cert".into())])),
        );
        assert_eq!(
            refused(json!({}), &not_pem),
            line(
                "spec.endpoints[0].tlsConfig.ca.configMap: key \"ca.crt\" of ConfigMap team-a/api-ca holds no PEM certificate"
            )
        );
    }

    #[test]
    fn spec_level_problems_name_their_field_and_spare_the_others() {
        let bad = |name: &str, spec: Value| monitor(MonitorKind::ServiceMonitor, "ns", name, spec);
        let monitors = [
            bad("class", json!({"scrapeClass": "tls", "endpoints": []})),
            bad(
                "mechanism",
                json!({"selectorMechanism": "RoleSelector", "endpoints": []}),
            ),
            bad(
                "meta",
                json!({"attachMetadata": {"node": true}, "endpoints": []}),
            ),
            bad(
                "op",
                json!({"selector": {"matchExpressions": [{"key": "a", "operator": "Gt", "values": ["1"]}]}, "endpoints": []}),
            ),
            bad("limit", json!({"sampleLimit": -1, "endpoints": []})),
            bad(
                "fine",
                json!({"selector": {}, "endpoints": [{"port": "web"}]}),
            ),
            monitor(
                MonitorKind::PodMonitor,
                "ns",
                "pm",
                json!({"podMetricsEndpoints": [{"port": "web", "bearerTokenFile": "/var/run/token"}]}),
            ),
        ];
        let t = translate(&monitors, &Referenced::new(), &options("endpointslice"));
        assert_eq!(
            t.untranslatable,
            [
                "PodMonitor ns/pm: spec.podMetricsEndpoints[0].bearerTokenFile is not supported",
                "ServiceMonitor ns/class: spec.scrapeClass is not supported",
                "ServiceMonitor ns/limit: spec.sampleLimit is not a non-negative integer",
                "ServiceMonitor ns/mechanism: spec.selectorMechanism is not supported",
                "ServiceMonitor ns/meta: spec.attachMetadata is not supported",
                "ServiceMonitor ns/op: spec.selector.matchExpressions[0].operator: \"Gt\" is not In, NotIn, Exists or DoesNotExist",
            ]
        );
        assert_eq!(
            t.translated,
            BTreeMap::from([(MonitorKind::ServiceMonitor, 1)])
        );
        assert_eq!(t.jobs.len(), 1);
        assert_eq!(t.jobs[0].job_name, "serviceMonitor/ns/fine/0");
    }

    #[test]
    fn references_are_what_translate_reads() {
        let mut other = api_monitor();
        other.name = "broken".into();
        other.spec["endpoints"][0]["oauth2"] = json!({});
        assert_eq!(
            references(&[api_monitor(), other]),
            BTreeSet::from([
                (false, "team-a".to_string(), "api-client".to_string()),
                (false, "team-a".to_string(), "api-token".to_string()),
                (true, "team-a".to_string(), "api-ca".to_string()),
            ])
        );
        // A stack limit or interval never changes what is referenced.
        let mut long = api_monitor();
        long.spec["endpoints"][0]["interval"] = json!(null);
        long.spec["endpoints"][0]["scrapeTimeout"] = json!("1h");
        assert_eq!(references(&[long]).len(), 3);
    }

    #[test]
    fn file_names_are_secret_keys_and_distinct() {
        let r = |cm: bool, ns: &str, name: &str, key: &str| KeyRef {
            config_map: cm,
            namespace: ns.into(),
            name: name.into(),
            key: key.into(),
        };
        let names = [
            file_name(&r(false, "a", "b", "c_d")),
            file_name(&r(false, "a", "b-c", "d")),
            file_name(&r(true, "a", "b", "c_d")),
            file_name(&r(false, "a-b", "c", "d")),
            file_name(&r(false, "a", "b", &"k".repeat(253))),
            file_name(&r(false, "a", "b", &"k".repeat(252))),
        ];
        assert_eq!(names[0], "secret_a_b_c_d");
        assert_eq!(names[2], "configmap_a_b_c_d");
        assert!(names[4].starts_with("secret-sha256-"));
        assert_eq!(names.iter().collect::<BTreeSet<_>>().len(), names.len());
        for n in &names {
            assert!(is_data_key(n), "{n}");
        }
    }

    #[test]
    fn durations_follow_prometheus() {
        assert_eq!(prometheus_duration("0"), Some(0));
        assert_eq!(prometheus_duration("1h30m"), Some(5_400_000));
        assert_eq!(prometheus_duration("1m5ms"), Some(60_005));
        assert_eq!(prometheus_duration("2w1d"), Some(15 * 86_400_000));
        for bad in [
            "", "5", "1.5s", "30s1m", "1s1s", "-1s", "1 s", "1ms1s", "300000y",
        ] {
            assert_eq!(prometheus_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn sanitized_names_are_prometheus_label_names() {
        assert_eq!(sanitize("app.kubernetes.io/name"), "app_kubernetes_io_name");
        assert_eq!(sanitize("a-b_c9"), "a_b_c9");
        assert_eq!(quote("a.b(c)"), r"a\.b\(c\)");
    }
}
