//! Grafana's children: ServiceAccount, provisioning config, dashboards (split over
//! as many ConfigMaps as their size needs), Service, Deployment, the spec of the
//! generated admin Secret when the user names none, the Secret holding the
//! contact points (with the values of the Secrets they reference), its Ingress,
//! and the claim of its data directory when `storage` asks for one.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapProjection, Container, EnvVar, KeyToPath, PersistentVolumeClaim,
    PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec, ProjectedVolumeSource, Secret,
    SecretVolumeSource, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};

use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use super::Resources;
use super::common::*;
use super::custom::{
    HttpBackendRef, HttpPathMatch, HttpRoute, HttpRouteMatch, HttpRouteRule, HttpRouteSpec,
    ParentReference,
};
use crate::api::{default_password_key, default_user_key};
use crate::builtin::dashboards;
use crate::digest::sha256_hex;
use crate::model::{Capabilities, DashboardFile, FOLDER, ports};
use crate::render::{grafana, to_yaml};

const C: Component = Component::Grafana;

/// Suffix of the Secret holding the contact points: `<stack>-grafana-alerting`.
pub const ALERTING_SUFFIX: &str = "alerting";
/// The pod volume of that Secret.
const ALERTING_VOLUME: &str = "alerting";

/// Most bytes of dashboards one ConfigMap carries (a ConfigMap holds at most 1 MiB).
const DASHBOARD_CONFIGMAP_BYTES: usize = 900 * 1024;

/// Every dashboard of the stack: built-in, then inline, then from ConfigMaps.
pub fn dashboard_files(stack: &ValidatedStack, caps: &Capabilities) -> Vec<DashboardFile> {
    let available = dashboards::Available {
        prometheus: stack.enabled(Component::Prometheus),
        tempo: stack.enabled(Component::Tempo),
        loki: stack.enabled(Component::Loki),
        span_metrics: stack.tempo_generator(),
        kubelet: caps.kubelet_stats(stack),
        cluster_state: caps.cluster_state(stack),
        cluster_events: caps.cluster_events(stack),
        slos: crate::builtin::slos::rendered(stack),
        genai_cost: crate::builtin::cost::rendered(stack),
    };
    // A built-in dashboard without the data of its panels is left out, or shipped
    // without those panels (crate::builtin::dashboards).
    let mut out: Vec<DashboardFile> = stack
        .spec
        .grafana
        .dashboards
        .builtin
        .iter()
        .filter_map(|b| {
            dashboards::builtin_for(*b, available).map(|json| DashboardFile {
                key: format!("builtin-{}.json", b.name()),
                folder: FOLDER.into(),
                json: json.to_string(),
            })
        })
        .collect();
    // The SLO dashboard comes with the SLOs (crate::builtin::dashboards).
    out.extend(
        dashboards::slo_dashboard(available).map(|json| DashboardFile {
            key: format!("builtin-{}.json", dashboards::SLO_DASHBOARD_NAME),
            folder: FOLDER.into(),
            json: json.to_string(),
        }),
    );
    out.extend(stack.inline_dashboards.iter().map(|d| DashboardFile {
        key: format!("inline-{}.json", d.name),
        folder: d.folder.clone(),
        json: serde_json::to_string_pretty(&d.model).unwrap_or_default(),
    }));
    out.extend(stack.config_map_dashboards.iter().cloned());
    out
}

/// Splits dashboard files over ConfigMaps `<stack>-grafana-dashboards-<n>`, each
/// below the ConfigMap size limit and holding the files of one folder only, so that
/// each ConfigMap is projected whole into its folder's volume (a dashboard added to a
/// folder reaches Grafana without a change to the pod). A single dashboard is never
/// split. Returns the ConfigMaps with the folder each belongs to, in folder order.
pub fn dashboard_config_maps(
    stack: &ValidatedStack,
    files: Vec<DashboardFile>,
) -> Vec<(String, ConfigMap)> {
    // Moved, not copied: the dashboards are most of a stack's bytes.
    let mut by_folder: BTreeMap<String, Vec<DashboardFile>> = BTreeMap::new();
    for f in files {
        by_folder.entry(f.folder.clone()).or_default().push(f);
    }
    let mut chunks: Vec<(String, BTreeMap<String, String>)> = Vec::new();
    for (folder, files) in by_folder {
        let mut size = 0;
        let first = chunks.len();
        for f in files {
            if chunks.len() == first || size + f.json.len() > DASHBOARD_CONFIGMAP_BYTES {
                chunks.push((folder.clone(), BTreeMap::new()));
                size = 0;
            }
            size += f.json.len();
            if let Some((_, last)) = chunks.last_mut() {
                last.insert(f.key, f.json);
            }
        }
    }
    chunks
        .into_iter()
        .enumerate()
        .map(|(i, (folder, data))| {
            (
                folder,
                config_map(stack, C, &format!("dashboards-{i}"), data),
            )
        })
        .collect()
}

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    let spec = &stack.spec.grafana;
    let name = child_name(&stack.name, C, None);

    let mut files = BTreeMap::from([
        (
            "datasources.yaml".to_string(),
            to_yaml(&grafana::datasources(stack)),
        ),
        (
            "dashboards.yaml".to_string(),
            to_yaml(&grafana::dashboard_providers()),
        ),
    ]);
    if let Some(ini) = grafana::ini(&spec.settings) {
        files.insert(grafana::INI_FILE.into(), ini);
    }
    let groups = grafana::rule_groups(stack, caps);
    if let Some(rules) = grafana::alert_rules(&groups) {
        // JSON, which Grafana's alerting file provisioning reads as well as YAML: the
        // largest config of a stack, and emitting it as YAML took half of build().
        files.insert(
            grafana::ALERT_RULES_FILE.into(),
            serde_json::to_string_pretty(&rules).unwrap_or_default(),
        );
    }
    let config = config_map(stack, C, "config", files);
    let alerting = alerting_secret(stack);
    let dashboard_files = dashboard_files(stack, caps);
    let dashboard_maps = dashboard_config_maps(stack, dashboard_files);
    // Dashboards are re-read by Grafana's file provider: they do not roll the pod.
    // The contact points do (a subPath file never updates): a rotated Secret value
    // changes the rendered Secret's hash, and so the pod template.
    let alerting_hash = alerting.as_ref().map(|(_, hash)| hash.as_str());
    let hash = config_hash(&[&config], &Vec::from_iter(alerting_hash));

    let (secret_name, user_key, password_key, generated) = match &spec.admin_credentials {
        Some(c) => (
            c.secret_name.clone(),
            c.user_key.clone(),
            c.password_key.clone(),
            None,
        ),
        None => {
            let secret_name = child_name(&stack.name, C, Some("admin"));
            let secret = Secret {
                metadata: meta(stack, C, secret_name.clone()),
                type_: Some("Opaque".into()),
                // The password is generated by the applier, once, at creation.
                string_data: Some(BTreeMap::from([(default_user_key(), "admin".into())])),
                ..Secret::default()
            };
            (
                secret_name,
                default_user_key(),
                default_password_key(),
                Some(secret),
            )
        }
    };
    let plain_env = |env: &str, value: &str| EnvVar {
        name: env.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    };

    let config_name = child_name(&stack.name, C, Some("config"));
    let claim = spec.storage.is_some().then(|| data_volume_claim(stack));
    let mut mounts = vec![
        mount_item("datasources.yaml", "/etc/grafana/provisioning/datasources"),
        mount_item("dashboards.yaml", "/etc/grafana/provisioning/dashboards"),
        mount("data", "/var/lib/grafana", false),
        mount("tmp", "/tmp", false),
    ];
    let mut volumes = vec![
        config_volume("config", &config_name),
        match &claim {
            Some(c) => Volume {
                name: "data".into(),
                persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                    claim_name: c.metadata.name.clone().unwrap_or_default(),
                    read_only: None,
                }),
                ..Volume::default()
            },
            None => empty_dir("data"),
        },
        empty_dir("tmp"),
    ];
    let (dashboard_volumes, dashboard_mounts) = dashboard_volumes(&dashboard_maps);
    volumes.extend(dashboard_volumes);
    mounts.extend(dashboard_mounts);
    // Alerting files are mounted one by one (subPath: a regular file in the pod, read
    // when Grafana starts; a change rolls the pod through the config hash). A directory
    // mount would also hold the kubelet's `..data` entries, which Grafana's alerting
    // config reader only skips with a warning in some versions and refuses in older
    // ones (grafana `pkg/services/provisioning/alerting/config_reader.go`).
    let rules = grafana::ALERT_RULES_FILE;
    if config.data.as_ref().is_some_and(|d| d.contains_key(rules)) {
        mounts.push(mount_item(rules, grafana::ALERTING_DIR));
    }
    // grafana.ini over the image's own (a subPath file: a change rolls the pod
    // through the config hash, and Grafana reads it only at start anyway).
    if config
        .data
        .as_ref()
        .is_some_and(|d| d.contains_key(grafana::INI_FILE))
    {
        mounts.push(VolumeMount {
            name: "config".into(),
            mount_path: grafana::INI_PATH.into(),
            sub_path: Some(grafana::INI_FILE.into()),
            read_only: Some(true),
            ..VolumeMount::default()
        });
    }
    // The contact points hold secret values: from the Secret sextant renders.
    if let Some((secret, _)) = &alerting {
        let file = grafana::CONTACT_POINTS_FILE;
        mounts.push(VolumeMount {
            name: ALERTING_VOLUME.into(),
            mount_path: format!("{}/{file}", grafana::ALERTING_DIR),
            sub_path: Some(file.into()),
            read_only: Some(true),
            ..VolumeMount::default()
        });
        volumes.push(Volume {
            name: ALERTING_VOLUME.into(),
            secret: Some(SecretVolumeSource {
                secret_name: secret.metadata.name.clone(),
                items: Some(vec![KeyToPath {
                    key: file.into(),
                    path: file.into(),
                    ..KeyToPath::default()
                }]),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }
    // Secrets Grafana reads as files. Every setting, environment overrides included,
    // goes through Grafana's variable expansion (grafana `pkg/setting/expanders.go`,
    // read in a stored copy, not verified at v12.4.12): a value holding `${x}` passed
    // in an environment variable would be mangled. The content of `$__file{path}`
    // is read, trimmed of surrounding white space, and not expanded again.
    let mut file_secrets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    file_secrets
        .entry(secret_name.clone())
        .or_default()
        .extend([user_key.clone(), password_key.clone()]);
    let smtp_password = spec
        .smtp
        .as_ref()
        .and_then(|s| s.password_secret_ref.as_ref());
    if let Some(r) = smtp_password {
        file_secrets
            .entry(r.name.clone())
            .or_default()
            .push(r.key.clone());
    }
    if let Some(o) = &spec.oauth {
        file_secrets
            .entry(o.secret_name.clone())
            .or_default()
            .extend([o.client_id_key.clone(), o.client_secret_key.clone()]);
    }
    for (secret, mut keys) in file_secrets {
        keys.sort();
        keys.dedup();
        let volume = format!("secret-{}", short_volume_name(&secret));
        mounts.push(mount(
            &volume,
            &format!("{}/{secret}", grafana::SECRETS_DIR),
            true,
        ));
        volumes.push(Volume {
            name: volume,
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret),
                items: Some(
                    keys.into_iter()
                        .map(|k| KeyToPath {
                            path: k.clone(),
                            key: k,
                            ..KeyToPath::default()
                        })
                        .collect(),
                ),
                default_mode: Some(0o440),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
    }

    let container = secured(Container {
        name: "grafana".into(),
        image: Some(stack.component(C).image.clone()),
        env: Some(
            vec![
                file_env("GF_SECURITY_ADMIN_USER", &secret_name, &user_key),
                file_env("GF_SECURITY_ADMIN_PASSWORD", &secret_name, &password_key),
                plain_env("GF_PATHS_DATA", "/var/lib/grafana"),
                plain_env("GF_PATHS_PROVISIONING", "/etc/grafana/provisioning"),
                // The default `[log] mode` is "console file"; the file handler cannot open
                // /var/log/grafana on the read-only root filesystem (conf/defaults.ini).
                plain_env("GF_LOG_MODE", "console"),
                plain_env("GF_ANALYTICS_REPORTING_ENABLED", "false"),
                plain_env("GF_ANALYTICS_CHECK_FOR_UPDATES", "false"),
                plain_env("GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES", "false"),
                plain_env("GF_USERS_ALLOW_SIGN_UP", "false"),
                plain_env("GF_AUTH_ANONYMOUS_ENABLED", "false"),
            ]
            .into_iter()
            .chain(smtp_env(spec.smtp.as_ref()))
            .chain(oauth_env(spec.oauth.as_ref()))
            .chain(root_url(spec).map(|u| plain_env("GF_SERVER_ROOT_URL", &u)))
            .collect(),
        ),
        ports: Some(vec![container_port("http", ports::GRAFANA)]),
        liveness_probe: Some(http_probe("/api/health", "http", 30, 15)),
        readiness_probe: Some(http_probe("/api/health", "http", 5, 5)),
        resources: Some(stack.component(C).resources.clone()),
        volume_mounts: Some(mounts),
        ..Container::default()
    });

    let deployment = Deployment {
        metadata: meta(stack, C, name.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(stack.component(C).replicas),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&stack.name, C)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..DeploymentStrategy::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(pod_meta(stack, C, hash)),
                spec: Some(PodSpec {
                    service_account_name: Some(name.clone()),
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(C.uid())),
                    containers: vec![container],
                    volumes: Some(volumes),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };

    let mut config_maps = vec![config];
    config_maps.extend(dashboard_maps.into_iter().map(|(_, cm)| cm));
    Resources {
        service_accounts: vec![service_account(stack, C, false)],
        config_maps,
        generated_secrets: generated.into_iter().collect(),
        rendered_secrets: alerting.map(|(secret, _)| secret).into_iter().collect(),
        services: vec![service(stack, C)],
        deployments: vec![deployment],
        ingresses: spec.ingress.iter().map(|i| ingress(stack, i)).collect(),
        persistent_volume_claims: claim.into_iter().collect(),
        http_routes: spec
            .http_route
            .iter()
            .filter(|_| caps.http_routes)
            .map(|r| http_route(stack, r))
            .collect(),
        ..Resources::default()
    }
}

/// `<stack>-grafana-data`: Grafana's data directory (its SQLite database,
/// `grafana.db`, under `paths.data`, grafana `pkg/services/sqlstore`). No
/// owner reference: it outlives the stack unless `spec.storage.deletionPolicy`
/// is `Delete` (the finalizer deletes the stack's labelled claims), and a
/// stack that drops `spec.grafana.storage` keeps it. The pod writes it as
/// Grafana's UID, group-owned through the pod's `fsGroup`.
fn data_volume_claim(stack: &ValidatedStack) -> PersistentVolumeClaim {
    let mut claim = data_claim(stack, C);
    claim.metadata = ObjectMeta {
        owner_references: None,
        ..meta(stack, C, child_name(&stack.name, C, Some("data")))
    };
    claim
}

/// The address users open Grafana at, through its Ingress or HTTPRoute
/// (Grafana's `[server] root_url`, which it uses for links, redirects and
/// OAuth callbacks).
fn root_url(spec: &crate::api::GrafanaSpec) -> Option<String> {
    let (https, host) = match (&spec.ingress, &spec.http_route) {
        (Some(i), _) => (i.tls_secret_name.is_some(), &i.host),
        (None, Some(r)) => (r.https, r.hostnames.first()?),
        (None, None) => return None,
    };
    let scheme = if https { "https" } else { "http" };
    Some(format!("{scheme}://{host}/"))
}

/// Every path of the route's host names to Grafana's Service, on the
/// Gateways it names.
fn http_route(stack: &ValidatedStack, r: &crate::api::GrafanaHttpRoute) -> HttpRoute {
    let mut metadata = meta(stack, C, child_name(&stack.name, C, None));
    if !r.annotations.is_empty() {
        metadata.annotations = Some(r.annotations.clone());
    }
    HttpRoute {
        metadata,
        spec: HttpRouteSpec {
            parent_refs: r
                .parent_refs
                .iter()
                .map(|p| ParentReference {
                    group: "gateway.networking.k8s.io".into(),
                    kind: "Gateway".into(),
                    name: p.name.clone(),
                    namespace: p.namespace.clone(),
                    section_name: p.section_name.clone(),
                })
                .collect(),
            hostnames: r.hostnames.clone(),
            rules: vec![HttpRouteRule {
                matches: vec![HttpRouteMatch {
                    path: HttpPathMatch {
                        type_: "PathPrefix".into(),
                        value: "/".into(),
                    },
                }],
                backend_refs: vec![HttpBackendRef {
                    group: String::new(),
                    kind: "Service".into(),
                    name: child_name(&stack.name, C, None),
                    port: ports::GRAFANA,
                    weight: 1,
                }],
            }],
        },
    }
}

/// What Grafana cannot have here: its HTTPRoute without the Gateway API.
pub(super) fn api_unavailable(stack: &ValidatedStack, caps: &Capabilities) -> Vec<String> {
    match &stack.spec.grafana.http_route {
        Some(_) if !caps.http_routes => vec![
            "gateway.networking.k8s.io/v1 HTTPRoute is not served (the Gateway API CRDs are not installed, or were installed after the operator started): no route".into(),
        ],
        _ => Vec::new(),
    }
}

/// Every path of the host to Grafana's Service.
fn ingress(stack: &ValidatedStack, i: &crate::api::GrafanaIngress) -> Ingress {
    let mut metadata = meta(stack, C, child_name(&stack.name, C, None));
    if !i.annotations.is_empty() {
        metadata.annotations = Some(i.annotations.clone());
    }
    Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: i.class_name.clone(),
            rules: Some(vec![IngressRule {
                host: Some(i.host.clone()),
                http: Some(HTTPIngressRuleValue {
                    paths: vec![HTTPIngressPath {
                        path: Some("/".into()),
                        path_type: "Prefix".into(),
                        backend: IngressBackend {
                            service: Some(IngressServiceBackend {
                                name: child_name(&stack.name, C, None),
                                port: Some(ServiceBackendPort {
                                    name: Some("http".into()),
                                    ..ServiceBackendPort::default()
                                }),
                            }),
                            ..IngressBackend::default()
                        },
                    }],
                }),
            }]),
            tls: i.tls_secret_name.as_ref().map(|secret| {
                vec![IngressTLS {
                    hosts: Some(vec![i.host.clone()]),
                    secret_name: Some(secret.clone()),
                }]
            }),
            ..IngressSpec::default()
        }),
        ..Ingress::default()
    }
}

/// An environment variable whose value Grafana reads from a mounted Secret key.
fn file_env(env: &str, secret: &str, key: &str) -> EnvVar {
    EnvVar {
        name: env.into(),
        value: Some(format!("$__file{{{}}}", grafana::secret_file(secret, key))),
        ..EnvVar::default()
    }
}

/// Grafana's `[smtp]` settings (grafana `pkg/setting/setting_smtp.go`; the
/// environment override of `[section] key` is `GF_<SECTION>_<KEY>` upper-cased).
fn smtp_env(smtp: Option<&crate::api::SmtpSpec>) -> Vec<EnvVar> {
    let Some(smtp) = smtp else {
        return Vec::new();
    };
    let plain = |name: &str, value: &str| EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..EnvVar::default()
    };
    let mut env = vec![
        plain("GF_SMTP_ENABLED", "true"),
        plain("GF_SMTP_HOST", &smtp.host),
        plain("GF_SMTP_FROM_ADDRESS", &smtp.from_address),
        plain(
            "GF_SMTP_FROM_NAME",
            smtp.from_name.as_deref().unwrap_or("Grafana"),
        ),
        plain(
            "GF_SMTP_STARTTLS_POLICY",
            smtp.start_tls_policy
                .unwrap_or(crate::api::StartTlsPolicy::OpportunisticStartTLS)
                .as_str(),
        ),
        plain(
            "GF_SMTP_SKIP_VERIFY",
            if smtp.skip_verify { "true" } else { "false" },
        ),
    ];
    if let Some(user) = &smtp.user {
        env.push(plain("GF_SMTP_USER", user));
    }
    if let Some(r) = &smtp.password_secret_ref {
        env.push(file_env("GF_SMTP_PASSWORD", &r.name, &r.key));
    }
    env
}

/// Grafana's `[auth.generic_oauth]` settings, every one a key of Grafana's
/// `conf/defaults.ini` (an environment override applies only to keys the ini
/// files hold, grafana `pkg/setting/setting.go`). Lists go as JSON, which
/// Grafana's `util.SplitString` reads whole (a group name may hold spaces);
/// the client id and secret are read from the mounted Secret.
fn oauth_env(oauth: Option<&crate::api::GrafanaOAuth>) -> Vec<EnvVar> {
    let Some(o) = oauth else {
        return Vec::new();
    };
    let plain = |name: &str, value: &str| EnvVar {
        name: format!("GF_AUTH_GENERIC_OAUTH_{name}"),
        value: Some(value.into()),
        ..EnvVar::default()
    };
    let flag = |b: bool| if b { "true" } else { "false" };
    let list = |l: &[String]| serde_json::to_string(l).unwrap_or_default();
    let mut env = vec![
        plain("ENABLED", "true"),
        plain("NAME", o.name.as_deref().unwrap_or("SSO")),
        file_env(
            "GF_AUTH_GENERIC_OAUTH_CLIENT_ID",
            &o.secret_name,
            &o.client_id_key,
        ),
        file_env(
            "GF_AUTH_GENERIC_OAUTH_CLIENT_SECRET",
            &o.secret_name,
            &o.client_secret_key,
        ),
        plain("SCOPES", &list(&o.scopes)),
        plain("AUTH_URL", &o.auth_url),
        plain("TOKEN_URL", &o.token_url),
        plain("API_URL", &o.api_url),
        plain("ALLOW_SIGN_UP", flag(o.allow_sign_up)),
        plain("USE_PKCE", flag(o.use_pkce)),
        plain("ROLE_ATTRIBUTE_STRICT", flag(o.role_attribute_strict)),
        plain(
            "ALLOW_ASSIGN_GRAFANA_ADMIN",
            flag(o.allow_assign_grafana_admin),
        ),
    ];
    let role_path = o
        .role_attribute_path
        .clone()
        .or_else(|| crate::validate::group_role_path(o));
    let optional = [
        ("ROLE_ATTRIBUTE_PATH", role_path),
        ("GROUPS_ATTRIBUTE_PATH", o.groups_attribute_path.clone()),
        ("EMAIL_ATTRIBUTE_PATH", o.email_attribute_path.clone()),
        ("LOGIN_ATTRIBUTE_PATH", o.login_attribute_path.clone()),
        ("NAME_ATTRIBUTE_PATH", o.name_attribute_path.clone()),
        ("SIGNOUT_REDIRECT_URL", o.signout_redirect_url.clone()),
        (
            "ALLOWED_GROUPS",
            (!o.allowed_groups.is_empty()).then(|| list(&o.allowed_groups)),
        ),
        (
            "ALLOWED_DOMAINS",
            (!o.allowed_domains.is_empty()).then(|| list(&o.allowed_domains)),
        ),
    ];
    env.extend(
        optional
            .into_iter()
            .filter_map(|(name, value)| value.map(|v| plain(name, &v))),
    );
    env
}

/// The Secret `<stack>-grafana-alerting` holding `contact-points.yaml` (with the
/// values of the Secrets it references, see `grafana::contact_points`), and the
/// sha256 of that file; none when the stack names no contact point.
pub fn alerting_secret(stack: &ValidatedStack) -> Option<(Secret, String)> {
    let text = to_yaml(&grafana::contact_points(stack)?);
    let hash = sha256_hex(text.as_bytes());
    let secret = Secret {
        metadata: meta(stack, C, child_name(&stack.name, C, Some(ALERTING_SUFFIX))),
        type_: Some("Opaque".into()),
        // `data`, not `stringData`: the API server stores and returns `data`, so
        // the drift check compares like with like.
        data: Some(BTreeMap::from([(
            grafana::CONTACT_POINTS_FILE.into(),
            ByteString(text.into_bytes()),
        )])),
        ..Secret::default()
    };
    Some((secret, hash))
}

/// Mounts one key of the config ConfigMap as a file in a directory.
fn mount_item(key: &str, dir: &str) -> k8s_openapi::api::core::v1::VolumeMount {
    k8s_openapi::api::core::v1::VolumeMount {
        name: "config".into(),
        mount_path: format!("{dir}/{key}"),
        sub_path: Some(key.into()),
        read_only: Some(true),
        ..Default::default()
    }
}

/// One projected volume per dashboard folder, mounted at `<dashboards>/<folder>`,
/// holding that folder's ConfigMaps whole (every key a file at the volume's top).
///
/// Why one volume per folder: the kubelet writes a ConfigMap or projected volume
/// atomically (kubernetes `pkg/volume/util/atomic_writer.go`): the payload goes into
/// a hidden `..<timestamp>` directory, `..data` links to it, and each top-level
/// entry of the volume is a symlink `<entry> -> ..data/<entry>`. A folder inside one
/// volume is therefore a symlinked directory, which Grafana's dashboard file reader
/// never enters (grafana `pkg/services/provisioning/dashboards/file_reader.go` at
/// v12.4.12: `filepath.Walk` does not follow a symlinked directory, and hidden
/// `..` directories are skipped), so it would load no dashboard at all. A folder
/// that is itself the mount point is a real directory whose top-level symlinked
/// files Grafana resolves. `tests/grafana_layout.rs` lays the rendered pod out as
/// the kubelet does and walks it with Grafana's rules.
fn dashboard_volumes(maps: &[(String, ConfigMap)]) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut by_folder: BTreeMap<&str, Vec<&ConfigMap>> = BTreeMap::new();
    for (folder, cm) in maps {
        by_folder.entry(folder.as_str()).or_default().push(cm);
    }
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for (i, (folder, maps)) in by_folder.into_iter().enumerate() {
        let name = format!("dashboards-{i}");
        let sources = maps
            .iter()
            .map(|cm| VolumeProjection {
                config_map: Some(ConfigMapProjection {
                    name: cm.metadata.name.clone().unwrap_or_default(),
                    optional: Some(false),
                    ..ConfigMapProjection::default()
                }),
                ..VolumeProjection::default()
            })
            .collect();
        volumes.push(Volume {
            name: name.clone(),
            projected: Some(ProjectedVolumeSource {
                sources: Some(sources),
                ..ProjectedVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount(
            &name,
            &format!("{}/{folder}", grafana::DASHBOARDS_DIR),
            true,
        ));
    }
    (volumes, mounts)
}

/// A volume name (a DNS label of at most 63 characters) derived from a Secret name.
fn short_volume_name(secret: &str) -> String {
    let cleaned: String = secret
        .chars()
        .map(|c| if c == '.' { '-' } else { c })
        .collect();
    if cleaned.len() <= 40 {
        return cleaned;
    }
    format!(
        "{}-{}",
        &cleaned[..30].trim_end_matches('-'),
        &sha256_hex(secret.as_bytes())[..10]
    )
}
