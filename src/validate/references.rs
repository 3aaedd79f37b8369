//! What a stack references but does not own, as the controller read it: the
//! ConfigMaps `grafana.dashboards.configMapSelector` selects, and the Secrets
//! named by `grafana.adminCredentials`, `grafana.smtp.passwordSecretRef`,
//! contact points, the collector's TLS and tokens, and
//! `storage.objectStore` (Loki's and Tempo's credentials and CA). The reading is I/O and lives in `crate::controller::references`;
//! the checks are here, pure.
//!
//! A ConfigMap dashboard that fails a check is left out with a reason (the rest
//! of the stack still applies); a missing Secret or key is reported on the
//! condition of the component whose pod needs it. Secret values are kept only for contact points, which sextant renders
//! into its own Secret (`crate::render::grafana::contact_points` says why), and
//! never appear in a message.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::ResourceExt;

use super::Validator;
use super::syntax::is_dns_subdomain;
use crate::api::ObservabilityStackSpec;
use crate::limits;
pub use crate::model::MonitorsRead;
use crate::model::{Component, DashboardFile, FOLDER, FOLDER_ANNOTATION, SecretValues};

/// What the spec references, as read from the cluster.
#[derive(Clone, Default)]
pub struct Dereferenced {
    /// The ConfigMaps the dashboard selector selects.
    pub dashboard_config_maps: Vec<ConfigMap>,
    /// Every Secret in [`referenced_secret_names`], by name (`None`: it does not
    /// exist). `None` as a whole when no cluster was read (`sextant render`):
    /// then nothing is reported missing and contact points get placeholders.
    pub secrets: Option<BTreeMap<String, Option<Secret>>>,
    /// The prometheus-operator monitors `prometheus.monitorSelector` selects, and
    /// what they reference; `None` when none were read (no selector, the CRDs not
    /// served, no cluster-wide collection, or no cluster at all).
    pub monitors: Option<MonitorsRead>,
}

impl Dereferenced {
    /// No cluster read: what `sextant render` and `check` validate against.
    pub fn offline() -> Self {
        Self::default()
    }
}

impl fmt::Debug for Dereferenced {
    // Names only: a Secret's data never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Dereferenced")
            .field(
                "dashboard_config_maps",
                &self
                    .dashboard_config_maps
                    .iter()
                    .map(ResourceExt::name_any)
                    .collect::<Vec<_>>(),
            )
            .field(
                "secrets",
                &self.secrets.as_ref().map(|s| {
                    s.iter()
                        .map(|(name, found)| (name.clone(), found.is_some()))
                        .collect::<Vec<_>>()
                }),
            )
            .field("monitors", &self.monitors)
            .finish()
    }
}

/// One Secret key a stack references, and the field naming it.
struct Wanted {
    /// The component whose pod or config needs it.
    component: Component,
    secret: String,
    key: String,
    /// The field naming the Secret.
    secret_field: String,
    /// The field naming the key.
    key_field: String,
    /// Whether the operator needs the value (contact points) or only its presence
    /// (the admin credentials and the SMTP password, read by the Grafana pod).
    value: bool,
    /// Whether the pod reads it only when it starts (an environment variable, a
    /// credentials file read once): a new value must restart the pod, so its
    /// digest goes into the pod template's hash.
    at_start: bool,
}

fn wanted(spec: &ObservabilityStackSpec) -> Vec<Wanted> {
    let mut out = collector_wanted(spec);
    out.extend(object_store_wanted(spec));
    let g = &spec.grafana;
    if !g.enabled {
        return out;
    }
    if let Some(c) = &g.admin_credentials {
        let field = "spec.grafana.adminCredentials";
        for (key, name) in [(&c.user_key, "userKey"), (&c.password_key, "passwordKey")] {
            out.push(Wanted {
                component: Component::Grafana,
                secret: c.secret_name.clone(),
                key: key.clone(),
                secret_field: format!("{field}.secretName"),
                key_field: format!("{field}.{name}"),
                value: false,
                at_start: false,
            });
        }
    }
    if let Some(r) = g.smtp.as_ref().and_then(|s| s.password_secret_ref.as_ref()) {
        let field = "spec.grafana.smtp.passwordSecretRef";
        out.push(Wanted {
            component: Component::Grafana,
            secret: r.name.clone(),
            key: r.key.clone(),
            secret_field: field.into(),
            key_field: format!("{field}.key"),
            value: false,
            at_start: false,
        });
    }
    if let Some(o) = &g.oauth {
        let field = "spec.grafana.oauth";
        for (key, name) in [
            (&o.client_id_key, "clientIdKey"),
            (&o.client_secret_key, "clientSecretKey"),
        ] {
            out.push(Wanted {
                component: Component::Grafana,
                secret: o.secret_name.clone(),
                key: key.clone(),
                secret_field: format!("{field}.secretName"),
                key_field: format!("{field}.{name}"),
                value: false,
                at_start: false,
            });
        }
    }
    for (i, c) in g.alerting.contact_points.iter().enumerate() {
        if let Some(r) = &c.secret_ref {
            let field = format!("spec.grafana.alerting.contactPoints[{i}].secretRef");
            out.push(Wanted {
                component: Component::Grafana,
                secret: r.name.clone(),
                key: r.key.clone(),
                key_field: format!("{field}.key"),
                secret_field: field,
                value: true,
                at_start: false,
            });
        }
    }
    out
}

/// The Secret keys the collector's pods mount: its serving certificate (unless
/// cert-manager is asked to issue it, which it does after the Certificate
/// exists), the client CAs and the OTLP tokens, and what `spec.export`'s
/// destinations read (header values, bearer tokens, basic auth, CAs). Without them its pods never
/// start (the kubelet waits for the Secret volume).
fn collector_wanted(spec: &ObservabilityStackSpec) -> Vec<Wanted> {
    let c = &spec.collector;
    let mut out = Vec::new();
    if !c.enabled {
        return out;
    }
    let mut push = |secret: &str, key: &str, secret_field: &str, key_field: String, at_start| {
        out.push(Wanted {
            component: Component::Collector,
            secret: secret.into(),
            key: key.into(),
            secret_field: secret_field.into(),
            key_field,
            value: false,
            at_start,
        });
    };
    if let Some(t) = &c.tls {
        if t.certificate.is_none() {
            for key in ["tls.crt", "tls.key"] {
                push(
                    &t.secret_name,
                    key,
                    "spec.collector.tls.secretName",
                    format!("spec.collector.tls.secretName ({key})"),
                    false,
                );
            }
        }
        if let Some(ca) = &t.client_ca_secret_name {
            push(
                ca,
                "ca.crt",
                "spec.collector.tls.clientCaSecretName",
                "spec.collector.tls.clientCaSecretName (ca.crt)".into(),
                false,
            );
        }
    }
    if let Some(a) = &c.auth {
        push(
            &a.secret_name,
            &a.key,
            "spec.collector.auth.secretName",
            "spec.collector.auth.key".into(),
            false,
        );
    }
    for (i, d) in spec.export.iter().enumerate() {
        let p = format!("spec.export[{i}]");
        for (j, h) in d.headers.iter().enumerate() {
            if let Some(k) = &h.value_from {
                let f = format!("{p}.headers[{j}].valueFrom");
                push(
                    &k.secret_name,
                    &k.key,
                    &format!("{f}.secretName"),
                    format!("{f}.key"),
                    true,
                );
            }
        }
        if let Some(t) = &d.bearer_token {
            let f = format!("{p}.bearerToken");
            // A file the token extension re-reads: no restart.
            push(
                &t.secret_name,
                &t.key,
                &format!("{f}.secretName"),
                format!("{f}.key"),
                false,
            );
        }
        if let Some(b) = &d.basic_auth {
            let f = format!("{p}.basicAuth");
            for (key, name) in [
                (&b.username_key, "usernameKey"),
                (&b.password_key, "passwordKey"),
            ] {
                push(
                    &b.secret_name,
                    key,
                    &format!("{f}.secretName"),
                    format!("{f}.{name}"),
                    true,
                );
            }
        }
        if let Some(o) = &d.oauth2 {
            let f = format!("{p}.oauth2.clientSecret");
            // A file oauth2client reads again at every token fetch: no restart.
            push(
                &o.client_secret.secret_name,
                &o.client_secret.key,
                &format!("{f}.secretName"),
                format!("{f}.key"),
                false,
            );
        }
        if let Some(s) = d.sigv4.as_ref().and_then(|v| v.credentials_secret.as_ref()) {
            // The AWS SDK reads its environment's keys when the collector starts.
            for key in [
                crate::api::credential_keys::S3_ACCESS_KEY_ID,
                crate::api::credential_keys::S3_SECRET_ACCESS_KEY,
            ] {
                push(
                    s,
                    key,
                    &format!("{p}.sigv4.credentialsSecret"),
                    format!("{p}.sigv4.credentialsSecret ({key})"),
                    true,
                );
            }
        }
        if let Some(ca) = &d.ca_secret_name {
            // configtls reads ca_file when the exporter starts.
            push(
                ca,
                crate::api::credential_keys::CA,
                &format!("{p}.caSecretName"),
                format!("{p}.caSecretName (ca.crt)"),
                true,
            );
        }
    }
    out
}

/// The Secret keys Loki's and Tempo's pods read for the object store: the
/// credentials (as environment variables or a file) and the S3 server's CA.
fn object_store_wanted(spec: &ObservabilityStackSpec) -> Vec<Wanted> {
    let Some(o) = &spec.storage.object_store else {
        return Vec::new();
    };
    let field = "spec.storage.objectStore";
    let mut out = Vec::new();
    for (component, enabled) in [
        (Component::Loki, spec.loki.enabled),
        (Component::Tempo, spec.tempo.enabled),
    ] {
        if !enabled {
            continue;
        }
        if let Some(secret) = &o.credentials_secret {
            for key in o.credential_keys() {
                out.push(Wanted {
                    component,
                    secret: secret.clone(),
                    key: (*key).into(),
                    secret_field: format!("{field}.credentialsSecret"),
                    key_field: format!("{field}.credentialsSecret ({key})"),
                    value: false,
                    at_start: true,
                });
            }
        }
        if let Some(ca) = o.s3.as_ref().and_then(|s| s.ca_secret_name.as_ref()) {
            out.push(Wanted {
                component,
                secret: ca.clone(),
                key: crate::api::credential_keys::CA.into(),
                secret_field: format!("{field}.s3.caSecretName"),
                key_field: format!("{field}.s3.caSecretName (ca.crt)"),
                value: false,
                at_start: true,
            });
        }
    }
    out
}

/// The names of the Secrets a stack references (Grafana's admin credentials,
/// SMTP password, OAuth client and contact points; the collector's
/// certificate, client CAs and tokens; the object store's credentials and CA):
/// what the controller reads, and
/// what a Secret watch event is matched against. Names that are not DNS subdomains
/// are left out: validation refuses them, and the API server could not hold them.
pub fn referenced_secret_names(spec: &ObservabilityStackSpec) -> BTreeSet<String> {
    wanted(spec)
        .into_iter()
        .map(|w| w.secret)
        .filter(|s| is_dns_subdomain(s))
        .collect()
}

/// The ConfigMap selector of `grafana.dashboards`, when Grafana is enabled and
/// the selector is valid: what the controller lists ConfigMaps with. An invalid
/// one is left out so that nothing is read with it (the API server would refuse
/// the list); validation reports it by field.
pub fn dashboard_selector(spec: &ObservabilityStackSpec) -> Option<LabelSelector> {
    let sel = spec.grafana.dashboards.config_map_selector.as_ref()?;
    let mut v = Validator::default();
    v.label_selector("spec.grafana.dashboards.configMapSelector", sel);
    (spec.grafana.enabled && v.errors.is_empty()).then(|| sel.clone())
}

/// The dashboards of the selected ConfigMaps (keys ending in `.json`, in name
/// order) that pass Grafana's checks, and one line per key left out:
/// `ConfigMap/name key k: reason`.
pub(super) fn config_map_dashboards(
    spec: &ObservabilityStackSpec,
    refs: &Dereferenced,
) -> (Vec<DashboardFile>, Vec<String>) {
    let mut files = Vec::new();
    let mut skipped = Vec::new();
    if !spec.grafana.enabled {
        return (files, skipped);
    }
    let mut maps: Vec<&ConfigMap> = refs.dashboard_config_maps.iter().collect();
    maps.sort_by_key(|cm| cm.name_any());
    for cm in maps {
        let folder = cm
            .annotations()
            .get(FOLDER_ANNOTATION)
            .cloned()
            .unwrap_or_else(|| FOLDER.into());
        let bad_folder = limits::folder_problem(&folder);
        for (key, json) in cm.data.iter().flatten() {
            let at = format!("ConfigMap/{} key {key}", cm.name_any());
            if !key.ends_with(".json") {
                continue;
            }
            if let Some(problem) = bad_folder {
                skipped.push(format!("{at}: folder annotation {folder:?} {problem}"));
                continue;
            }
            match serde_json::from_str::<serde_json::Value>(json) {
                Ok(model) => match limits::dashboard_problem(&model) {
                    None => files.push(DashboardFile {
                        key: format!("cm-{}-{key}", cm.name_any()),
                        folder: folder.clone(),
                        json: json.clone(),
                    }),
                    Some(problem) => skipped.push(format!("{at}: the dashboard {problem}")),
                },
                Err(e) => skipped.push(format!("{at}: not valid JSON: {e}")),
            }
        }
    }
    (files, skipped)
}

/// The values contact points need, and one line per referenced Secret or key that
/// is missing or unusable (naming the field, never a value).
pub(super) fn secrets(
    spec: &ObservabilityStackSpec,
    refs: &Dereferenced,
) -> (
    SecretValues,
    Vec<(Component, String)>,
    BTreeMap<Component, String>,
) {
    let mut values = SecretValues::default();
    let mut problems = Vec::new();
    let mut at_start: BTreeMap<Component, String> = BTreeMap::new();
    let Some(read) = &refs.secrets else {
        return (values, problems, BTreeMap::new());
    };
    let mut reported = BTreeSet::new();
    for w in wanted(spec) {
        let Some(secret) = read.get(&w.secret).and_then(Option::as_ref) else {
            if reported.insert((w.component, w.secret.clone())) {
                problems.push((
                    w.component,
                    format!("Secret {} ({}) does not exist", w.secret, w.secret_field),
                ));
            }
            continue;
        };
        match key_value(secret, &w.key) {
            Err(problem) => problems.push((
                w.component,
                format!("Secret {} {problem} ({})", w.secret, w.key_field),
            )),
            Ok(value) => {
                if w.at_start {
                    let line = at_start.entry(w.component).or_default();
                    line.push_str(&format!(
                        "{}/{}={}\n",
                        w.secret,
                        w.key,
                        crate::digest::sha256_hex(value.as_bytes())
                    ));
                }
                if w.value {
                    values.insert(&w.secret, &w.key, value);
                }
            }
        }
    }
    let digests = at_start
        .into_iter()
        .map(|(c, lines)| (c, crate::digest::sha256_hex(lines.as_bytes())))
        .collect();
    (values, problems, digests)
}

/// The text of one key of a Secret, or why it cannot be used (never the value).
fn key_value(secret: &Secret, key: &str) -> Result<String, String> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(key))
        .ok_or_else(|| format!("has no key {key}"))?;
    let text = std::str::from_utf8(&bytes.0).map_err(|_| format!("key {key} is not UTF-8 text"))?;
    if text.trim().is_empty() {
        return Err(format!("key {key} is empty"));
    }
    Ok(text.to_string())
}
