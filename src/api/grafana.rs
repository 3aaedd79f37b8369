//! Spec of the Grafana component: admin credentials, dashboards and alerting.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ResourceRequirements;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::DURATION_PATTERN;

/// Grafana: datasources for Prometheus, Tempo and Loki (fixed UIDs, linked both ways),
/// provisioned dashboards and alert rules.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.smtp) || !has(self.alerting) || !has(self.alerting.contactPoints) || !self.alerting.contactPoints.exists(c, c.type == 'email')").message("email contact points need spec.grafana.smtp: Grafana cannot deliver e-mail without an SMTP server")
)]
pub struct GrafanaSpec {
    /// Run this component. Disabling it deletes its children.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Container image. Unset: the version pinned by this sextant release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1))]
    pub image: Option<String>,

    /// Replicas: 1, or 0 to stop it. Grafana keeps its own state in a per-pod
    /// database; everything sextant provisions is re-created at start.
    #[serde(default = "one")]
    #[schemars(range(min = 0, max = 1))]
    pub replicas: i32,

    /// Where the admin user name and password come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub admin_credentials: Option<AdminCredentials>,

    /// Dashboards: built-in, from ConfigMaps, and inline.
    #[serde(default)]
    pub dashboards: DashboardsSpec,

    /// Alert rules and where notifications go.
    #[serde(default)]
    pub alerting: AlertingSpec,

    /// The SMTP server Grafana sends e-mail through. Required by `email` contact
    /// points: without it Grafana has no way to deliver them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smtp: Option<SmtpSpec>,

    /// CPU and memory. Unset: requests 100m/256Mi, limits 1/512Mi.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,

    /// Scheduling and metadata of the pods; replaces `spec.pod` field by field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<super::PodOverrides>,

    /// A PersistentVolumeClaim `<stack>-grafana-data` for Grafana's own
    /// database (users, their dashboards, stars, preferences, API keys), which
    /// otherwise starts empty at every restart. The claim follows
    /// `spec.storage` (class, `deletionPolicy`); dropping this field keeps it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<super::VolumeSpec>,

    /// An Ingress in front of Grafana; Grafana's `root_url` is set from its host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<GrafanaIngress>,

    /// A Gateway API HTTPRoute (gateway.networking.k8s.io/v1) attaching Grafana
    /// to Gateways, where those CRDs are installed; Grafana's `root_url` is set
    /// from its first host name. Not together with `ingress`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_route: Option<GrafanaHttpRoute>,

    /// Single sign-on through an OAuth 2.0 / OpenID Connect provider (Grafana's
    /// generic OAuth). The admin login stays as the break-glass way in;
    /// anonymous access stays off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<GrafanaOAuth>,

    /// `grafana.ini` settings sextant does not model, by section and key, such as
    /// `{feature_toggles: {enable: "..."}, dashboards: {min_refresh_interval: 10s}}`.
    /// Written to the `grafana.ini` Grafana reads; a change restarts Grafana.
    /// Settings sextant sets itself (admin user, paths, SMTP, root URL, OAuth,
    /// ...) are refused: set them through their fields.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, BTreeMap<String, String>>,
}

/// Grafana's generic OAuth login (`[auth.generic_oauth]`). Grafana does not
/// discover endpoints from an issuer: give the authorization, token and
/// user-info URLs of the provider (from its `.well-known/openid-configuration`).
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("!has(self.roleAttributePath) || !has(self.groupRoles)").message("set roleAttributePath or groupRoles, not both").field_path(".groupRoles"),
    validation = Rule::new("(!has(self.allowedGroups) && !has(self.groupRoles)) || has(self.groupsAttributePath)").message("allowedGroups and groupRoles need groupsAttributePath: Grafana reads the groups from it").field_path(".groupsAttributePath")
)]
pub struct GrafanaOAuth {
    /// The text of the login button. Default `SSO`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub name: Option<String>,

    /// A Secret in the stack's namespace with the client id and client secret
    /// registered at the provider.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,

    /// The key of the client id in the Secret. Default `client-id`.
    #[serde(default = "default_client_id_key")]
    pub client_id_key: String,

    /// The key of the client secret in the Secret. Default `client-secret`.
    #[serde(default = "default_client_secret_key")]
    pub client_secret_key: String,

    /// The provider's authorization endpoint (`authorization_endpoint`).
    #[schemars(length(min = 1, max = 2048))]
    pub auth_url: String,

    /// The provider's token endpoint (`token_endpoint`).
    #[schemars(length(min = 1, max = 2048))]
    pub token_url: String,

    /// The provider's user-info endpoint (`userinfo_endpoint`).
    #[schemars(length(min = 1, max = 2048))]
    pub api_url: String,

    /// The scopes asked for. Default `openid`, `email`, `profile`.
    #[serde(default = "default_scopes")]
    #[schemars(length(min = 1, max = 32))]
    pub scopes: Vec<String>,

    /// A JMESPath expression over the ID token and user info giving the
    /// Grafana role (`Viewer`, `Editor`, `Admin`, `GrafanaAdmin`), such as
    /// `contains(roles[*], 'ops') && 'Admin' || 'Viewer'`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub role_attribute_path: Option<String>,

    /// Roles by group, from which sextant writes the expression: members of
    /// an `admin` group become Admins, of an `editor` group Editors; everyone
    /// else gets Grafana's default role (Viewer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group_roles: Option<GroupRoles>,

    /// Refuse the login when no role results, instead of giving Viewer.
    #[serde(default)]
    pub role_attribute_strict: bool,

    /// A JMESPath expression giving the user's groups, such as `groups`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 4096))]
    pub groups_attribute_path: Option<String>,

    /// Only members of these groups may log in. Unset: every user the
    /// provider authenticates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub allowed_groups: Vec<String>,

    /// Only users of these e-mail domains may log in.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub allowed_domains: Vec<String>,

    /// A JMESPath expression giving the e-mail address, where it is not the
    /// `email` claim.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub email_attribute_path: Option<String>,

    /// A JMESPath expression giving the login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub login_attribute_path: Option<String>,

    /// A JMESPath expression giving the display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub name_attribute_path: Option<String>,

    /// Create a Grafana user at a first login. Default true.
    #[serde(default = "yes")]
    pub allow_sign_up: bool,

    /// Proof Key for Code Exchange (RFC 7636). Default true.
    #[serde(default = "yes")]
    pub use_pkce: bool,

    /// Let `GrafanaAdmin` from `roleAttributePath` make a server admin.
    #[serde(default)]
    pub allow_assign_grafana_admin: bool,

    /// Where Grafana sends the browser after logging out, such as the
    /// provider's end-session endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub signout_redirect_url: Option<String>,
}

/// Groups whose members get a Grafana role above Viewer.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GroupRoles {
    /// Groups whose members are Admins of the organization.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub admin: Vec<String>,

    /// Groups whose members are Editors.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    pub editor: Vec<String>,
}

fn default_client_id_key() -> String {
    "client-id".into()
}

fn default_client_secret_key() -> String {
    "client-secret".into()
}

fn default_scopes() -> Vec<String> {
    ["openid", "email", "profile"].map(String::from).to_vec()
}

/// An Ingress (networking.k8s.io/v1) for Grafana: every path of `host` to
/// Grafana's Service.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaIngress {
    /// The host name users open, such as `grafana.example.com`.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,

    /// The IngressClass. Unset: the cluster's default class.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class_name: Option<String>,

    /// A Secret of type kubernetes.io/tls holding the host's certificate: the
    /// Ingress terminates TLS and `root_url` is `https://<host>/`. Unset: plain
    /// HTTP (`http://<host>/`), unless the annotations have a controller or
    /// cert-manager provide the certificate (then set it to the Secret they fill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_secret_name: Option<String>,

    /// Annotations of the Ingress, such as `cert-manager.io/cluster-issuer`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// An HTTPRoute `<stack>-grafana`: every path of its host names to Grafana's
/// Service.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GrafanaHttpRoute {
    /// The Gateways (or their listeners) the route attaches to.
    #[schemars(length(min = 1, max = 32))]
    pub parent_refs: Vec<GatewayParentRef>,

    /// The host names users open, such as `grafana.example.com`; the first is
    /// Grafana's `root_url`.
    #[schemars(length(min = 1, max = 16))]
    pub hostnames: Vec<String>,

    /// Whether the Gateway's listener serves HTTPS: the scheme of `root_url`.
    /// Default true.
    #[serde(default = "yes")]
    pub https: bool,

    /// Annotations of the HTTPRoute.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// A Gateway an HTTPRoute attaches to (Gateway API `ParentReference`, kind
/// Gateway).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GatewayParentRef {
    /// The Gateway's name.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,

    /// Its namespace. Unset: the stack's. A Gateway in another namespace must
    /// allow routes from the stack's (its listeners' `allowedRoutes`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,

    /// One listener of the Gateway, by name. Unset: every listener that
    /// accepts the route.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

impl Default for GrafanaSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            image: None,
            replicas: 1,
            admin_credentials: None,
            dashboards: DashboardsSpec::default(),
            alerting: AlertingSpec::default(),
            smtp: None,
            resources: None,
            pod: None,
            storage: None,
            ingress: None,
            http_route: None,
            oauth: None,
            settings: BTreeMap::new(),
        }
    }
}

fn yes() -> bool {
    true
}

fn one() -> i32 {
    1
}

/// A Secret in the stack's namespace holding Grafana's admin user and password.
/// Without it, sextant generates `<stack>-grafana-admin` once and never overwrites it.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AdminCredentials {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,

    /// Key of the user name in the Secret.
    #[serde(default = "default_user_key")]
    #[schemars(length(min = 1, max = 253))]
    pub user_key: String,

    /// Key of the password in the Secret.
    #[serde(default = "default_password_key")]
    #[schemars(length(min = 1, max = 253))]
    pub password_key: String,
}

/// The key of the admin user name in a Grafana admin Secret.
pub fn default_user_key() -> String {
    "admin-user".into()
}

/// The key of the admin password in a Grafana admin Secret.
pub fn default_password_key() -> String {
    "admin-password".into()
}

/// The dashboards sextant ships, embedded in its binary.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
#[serde(rename_all = "kebab-case")]
pub enum BuiltinDashboard {
    /// The stack watching itself: ingest, drops, queues, storage.
    StackHealth,
    /// Rate, errors and duration per service from span metrics, with exemplars and logs.
    ServiceOverview,
    /// AI agents on the OpenTelemetry GenAI conventions: tokens, latency, errors, tasks.
    AgentFleet,
    /// Log volume and error lines by service and level.
    LogsOverview,
    /// Nodes, pods, workloads, containers and events of the whole cluster, from
    /// the cluster collector.
    KubernetesCluster,
    /// CPU, memory, network and volumes of a namespace's pods and containers,
    /// from the node agent's kubelet stats, against requests and limits.
    KubernetesNamespace,
    /// Every pod's stdout and stderr by namespace, pod, container and node.
    KubernetesPodLogs,
}

impl BuiltinDashboard {
    /// Every built-in dashboard, in a stable order.
    pub const ALL: [BuiltinDashboard; 7] = [
        Self::StackHealth,
        Self::ServiceOverview,
        Self::AgentFleet,
        Self::LogsOverview,
        Self::KubernetesCluster,
        Self::KubernetesNamespace,
        Self::KubernetesPodLogs,
    ];

    /// The name used in the spec and as the file name.
    pub fn name(self) -> &'static str {
        match self {
            Self::StackHealth => "stack-health",
            Self::ServiceOverview => "service-overview",
            Self::AgentFleet => "agent-fleet",
            Self::LogsOverview => "logs-overview",
            Self::KubernetesCluster => "kubernetes-cluster",
            Self::KubernetesNamespace => "kubernetes-namespace",
            Self::KubernetesPodLogs => "kubernetes-pod-logs",
        }
    }
}

/// How Grafana reaches its SMTP server (Grafana's `[smtp]` settings, set through
/// `GF_SMTP_*` environment variables; the password is read from a mounted Secret).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SmtpSpec {
    /// The server as `host:port`, such as `smtp.example.com:587`.
    #[schemars(length(min = 3, max = 253), regex(pattern = "^[^:$\\s]+:[0-9]{1,5}$"))]
    pub host: String,

    /// The sender address of every e-mail, such as `grafana@example.com`.
    #[schemars(length(min = 3, max = 253), regex(pattern = "^[^@$\\s]+@[^@$\\s]+$"))]
    pub from_address: String,

    /// The sender name. Default: `Grafana`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = "^[^$]*$"))]
    pub from_name: Option<String>,

    /// The user to log in as. Unset: no authentication.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253), regex(pattern = "^[^$]*$"))]
    pub user: Option<String>,

    /// The Secret key holding the password of `user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password_secret_ref: Option<SecretKeyRef>,

    /// Whether to upgrade the connection with STARTTLS. Default:
    /// `OpportunisticStartTLS` (when the server offers it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_tls_policy: Option<StartTlsPolicy>,

    /// Accept any server certificate. Default: false.
    #[serde(default)]
    pub skip_verify: bool,
}

/// Grafana's `[smtp] startTLS_policy` values.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
pub enum StartTlsPolicy {
    /// Upgrade when the server offers STARTTLS.
    OpportunisticStartTLS,
    /// Refuse a server that does not offer STARTTLS.
    MandatoryStartTLS,
    /// Never upgrade.
    NoStartTLS,
}

impl StartTlsPolicy {
    /// The value Grafana reads.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OpportunisticStartTLS => "OpportunisticStartTLS",
            Self::MandatoryStartTLS => "MandatoryStartTLS",
            Self::NoStartTLS => "NoStartTLS",
        }
    }
}

/// Dashboards provisioned into Grafana.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct DashboardsSpec {
    /// Built-in dashboards to provision into the `sextant` folder. Default: all.
    #[serde(default = "all_builtin")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub builtin: Vec<BuiltinDashboard>,

    /// ConfigMaps in the stack's namespace whose labels match are provisioned as
    /// dashboards: every `*.json` key is one dashboard. The annotation
    /// `observability.sextant.dev/folder` names the Grafana folder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_map_selector: Option<LabelSelector>,

    /// Dashboards given inline as Grafana dashboard JSON.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub inline: Vec<InlineDashboard>,
}

impl Default for DashboardsSpec {
    fn default() -> Self {
        Self {
            builtin: all_builtin(),
            config_map_selector: None,
            inline: Vec::new(),
        }
    }
}

fn all_builtin() -> Vec<BuiltinDashboard> {
    BuiltinDashboard::ALL.to_vec()
}

/// One dashboard given inline.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InlineDashboard {
    /// Unique name; the file name of the dashboard in the provisioning folder.
    #[schemars(
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
        length(min = 1, max = 63)
    )]
    pub name: String,

    /// Grafana folder. Default: `sextant`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 128))]
    pub folder: Option<String>,

    /// The dashboard model as JSON text; it must have a `title`.
    #[schemars(length(min = 2, max = 262144))]
    pub json: String,
}

/// Alert rules, provisioned into Grafana's alerting, and where notifications go.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AlertingSpec {
    /// The built-in alert rules about the stack itself.
    #[serde(default)]
    pub builtin_rules: BuiltinRulesSpec,

    /// Rule groups in Prometheus rule syntax, evaluated by Grafana against the stack's
    /// Prometheus datasource.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub rule_groups: Vec<RuleGroup>,

    /// Where notifications go. The first one receives every alert unless
    /// `defaultContactPoint` names another.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub contact_points: Vec<ContactPoint>,

    /// The contact point of the root notification policy. Unset: the first contact point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_contact_point: Option<String>,

    /// How the root notification policy groups and repeats notifications.
    /// Unset fields: group by `grafana_folder` and `alertname`, wait 30s,
    /// group interval 5m, repeat every 4h.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouping: Option<NotificationGrouping>,

    /// Child notification policies, tried in order: the first whose matchers
    /// all match an alert's labels sends it to its contact point (and, with
    /// `continue`, the next matching one too); an alert no route matches
    /// goes to the default contact point. Needs `contactPoints`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub routes: Vec<NotificationRoute>,

    /// Named time intervals in which the routes naming them send nothing,
    /// such as weekends for a ticket queue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub mute_timings: Vec<MuteTiming>,
}

/// Grouping and timing of notifications (Grafana's notification policy
/// fields `group_by`, `group_wait`, `group_interval`, `repeat_interval`).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NotificationGrouping {
    /// Labels whose values make one notification group, such as
    /// `[alertname, slo]`; `["..."]` alone groups by every label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 20))]
    pub group_by: Option<Vec<String>>,

    /// How long to wait for more alerts of a new group before the first
    /// notification, such as `30s`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub group_wait: Option<String>,

    /// How long to wait before notifying of new alerts in a group already
    /// notified, such as `5m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub group_interval: Option<String>,

    /// How long to wait before notifying again of a group still firing,
    /// such as `4h`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub repeat_interval: Option<String>,
}

/// One child notification policy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct NotificationRoute {
    /// The contact point (a name in `contactPoints`) that gets the alerts.
    #[schemars(length(min = 1, max = 63))]
    pub contact_point: String,

    /// Label matchers an alert must all match, such as `{label: team, value:
    /// agents}` or `{label: severity, operator: regex, value: critical|warning}`.
    #[schemars(length(min = 1, max = 20))]
    pub matchers: Vec<RouteMatcher>,

    /// Also try the routes after this one when it matches.
    #[serde(default, rename = "continue")]
    pub continue_: bool,

    /// Grouping and timing for this route; unset fields are the root's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grouping: Option<NotificationGrouping>,

    /// Names of `muteTimings` in which this route sends nothing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub mute_timings: Vec<String>,
}

/// A label matcher of a notification policy.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteMatcher {
    /// The label name, such as `team` or `severity`.
    #[schemars(length(min = 1, max = 253))]
    pub label: String,

    /// How the value is compared: `equal` (default), `notEqual`, `regex` (a
    /// regex matching the whole value) or `notRegex`.
    #[serde(default)]
    pub operator: MatchOperator,

    /// The value, or the regex for `=~` and `!~`.
    #[schemars(length(max = 1024))]
    pub value: String,
}

/// A matcher's comparison. Words, not `=` and `!=`: a bare `=` is a YAML 1.1
/// tag to some YAML readers (PyYAML), and `!` starts a tag.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum MatchOperator {
    /// `=`: the value equals.
    #[default]
    Equal,
    /// `!=`: the value differs.
    NotEqual,
    /// `=~`: the value matches the regex (fully anchored).
    Regex,
    /// `!~`: the value does not match the regex.
    NotRegex,
}

impl MatchOperator {
    /// The operator as Grafana and PromQL write it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Equal => "=",
            Self::NotEqual => "!=",
            Self::Regex => "=~",
            Self::NotRegex => "!~",
        }
    }
}

/// A named set of time intervals (Grafana's mute timings, the time
/// intervals of Prometheus Alertmanager).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct MuteTiming {
    /// Name, unique in the stack, named by `routes[].muteTimings`.
    #[schemars(length(min = 1, max = 190))]
    pub name: String,

    /// The intervals: the timing holds while any one of them does.
    #[schemars(length(min = 1, max = 20))]
    pub intervals: Vec<TimeInterval>,
}

/// One time interval: it holds when every field set holds. Unset fields
/// hold always.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TimeInterval {
    /// Times of day, each `start` to `end` as `HH:MM` (`end` up to `24:00`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub times: Vec<TimeRange>,

    /// Days of the week or ranges of them, such as `saturday` or
    /// `monday:friday`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 7))]
    pub weekdays: Vec<String>,

    /// Days of the month or ranges, 1 to 31 or -31 to -1 counted from the
    /// end, such as `1:7` or `-1`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 31))]
    pub days_of_month: Vec<String>,

    /// Months by name or number, or ranges, such as `december` or `1:3`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 12))]
    pub months: Vec<String>,

    /// Years or ranges, such as `2027` or `2027:2028`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 10))]
    pub years: Vec<String>,

    /// The IANA time zone the times are in, such as `Europe/Berlin`.
    /// Default: UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub location: Option<String>,
}

/// A time of day range.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TimeRange {
    /// Start, `HH:MM`, such as `18:00`.
    #[schemars(regex(pattern = "^([01][0-9]|2[0-3]):[0-5][0-9]$"))]
    pub start: String,
    /// End, `HH:MM` after `start`, up to `24:00`.
    #[schemars(regex(pattern = "^(([01][0-9]|2[0-3]):[0-5][0-9]|24:00)$"))]
    pub end: String,
}

/// Switches for the built-in alert rules.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BuiltinRulesSpec {
    /// Provision the built-in rules.
    #[serde(default = "yes")]
    pub enabled: bool,

    /// Names of built-in rules to leave out, such as `CollectorQueueNearlyFull`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub disabled: Vec<String>,
}

impl Default for BuiltinRulesSpec {
    fn default() -> Self {
        Self {
            enabled: true,
            disabled: Vec::new(),
        }
    }
}

/// A group of alert rules evaluated together, as in a Prometheus rule file.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RuleGroup {
    /// Name of the group, unique in the stack.
    #[schemars(length(min = 1, max = 190))]
    pub name: String,

    /// How often the group is evaluated: a whole multiple of 10s, Grafana's base
    /// interval (10s, 1m, 1m30s); Grafana refuses any other.
    #[serde(default = "default_interval")]
    #[schemars(regex(pattern = RULE_INTERVAL_PATTERN))]
    pub interval: String,

    /// The alerting rules of the group.
    #[schemars(length(min = 1, max = 200))]
    pub rules: Vec<AlertRule>,
}

/// A duration every term of which is a multiple of 10 s: minutes and longer, seconds
/// ending in 0, or milliseconds ending in 0000 (see `crate::limits`).
pub const RULE_INTERVAL_PATTERN: &str = "^([0-9]+(m|h|d|w|y)|[0-9]*0s|[0-9]*0000ms)+$";

fn default_interval() -> String {
    "1m".into()
}

/// One alerting rule in Prometheus syntax.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AlertRule {
    /// Name of the alert, unique within its group.
    #[schemars(
        regex(pattern = "^[a-zA-Z_][a-zA-Z0-9_]*$"),
        length(min = 1, max = 190)
    )]
    pub alert: String,

    /// PromQL expression; every series it returns is a firing alert.
    #[schemars(length(min = 1, max = 65536))]
    pub expr: String,

    /// How long the expression must keep returning a series before the alert fires.
    #[serde(default, rename = "for", skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = DURATION_PATTERN))]
    pub for_: Option<String>,

    /// Labels attached to the alert, such as `severity: critical`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,

    /// Annotations such as `summary`, `description` and `runbook_url`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The kinds of contact point sextant provisions.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ContactPointType {
    /// A Slack incoming-webhook URL, read from `secretRef`.
    Slack,
    /// A generic webhook URL, read from `secretRef`.
    Webhook,
    /// A PagerDuty integration key, read from `secretRef`.
    Pagerduty,
    /// E-mail to `addresses`, through the server of `spec.grafana.smtp`.
    Email,
}

/// A key of a Secret in the stack's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKeyRef {
    /// Name of the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Key within the Secret.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// A contact point. The operator reads the referenced Secret value and provisions
/// it to Grafana through the Secret `<stack>-grafana-alerting`; it is never copied
/// into a ConfigMap, the status or an event.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("self.type == 'email' ? (has(self.addresses) && size(self.addresses) > 0) : has(self.secretRef)").message("email needs addresses; slack, webhook and pagerduty need secretRef")
)]
pub struct ContactPoint {
    /// Unique name of the contact point.
    #[schemars(
        regex(pattern = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"),
        length(min = 1, max = 63)
    )]
    pub name: String,

    /// Kind of contact point.
    #[serde(rename = "type")]
    pub type_: ContactPointType,

    /// The Secret key holding the URL (slack, webhook) or integration key (pagerduty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_ref: Option<SecretKeyRef>,

    /// Recipients, for `email`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub addresses: Vec<String>,
}
