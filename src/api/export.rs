//! `spec.export`: stores outside the stack that the collector also sends to (or
//! instead of a disabled backend): Prometheus remote write (Mimir, Thanos
//! Receive, Cortex, vendors) and OTLP over gRPC or HTTP, with headers, a
//! bearer token, basic auth, OAuth2 client credentials or AWS SigV4, and a CA,
//! all from Secrets.

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One destination outside the stack.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.otlp) != has(self.prometheusRemoteWrite)").message("set exactly one of otlp and prometheusRemoteWrite"),
    validation = Rule::new("!has(self.bearerToken) || !has(self.basicAuth)").message("set bearerToken or basicAuth, not both").field_path(".basicAuth"),
    validation = Rule::new("(has(self.bearerToken) || has(self.basicAuth) ? 1 : 0) + (has(self.oauth2) ? 1 : 0) + (has(self.sigv4) ? 1 : 0) <= 1").message("set at most one of bearerToken, basicAuth, oauth2 and sigv4")
)]
pub struct ExportDestination {
    /// Name of the destination, a DNS label: the collector's exporter is
    /// `<kind>/export-<name>`, as the collector's own metrics and the
    /// `CollectorDroppingData` alert name it.
    #[schemars(length(min = 1, max = 40))]
    pub name: String,

    /// The signals sent there: `metrics`, `logs`, `traces`. Prometheus remote
    /// write takes metrics only.
    #[schemars(length(min = 1, max = 3))]
    pub signals: Vec<ExportSignal>,

    /// An OTLP endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub otlp: Option<OtlpDestination>,

    /// A Prometheus remote-write endpoint (metrics only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prometheus_remote_write: Option<RemoteWriteDestination>,

    /// Request headers, such as `X-Scope-OrgID` for a multi-tenant Mimir or a
    /// vendor's API key.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 16))]
    pub headers: Vec<ExportHeader>,

    /// `Authorization: Bearer <token>`, the token from a Secret (re-read when the
    /// Secret changes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bearer_token: Option<SecretKey>,

    /// HTTP basic auth, user and password from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,

    /// OAuth2 client credentials: a token fetched from `tokenURL` with the
    /// client id and the secret from a Secret (re-read at each token refresh),
    /// sent as a bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oauth2: Option<OAuth2>,

    /// AWS Signature V4, such as Amazon Managed Service for Prometheus: requests
    /// signed with the collector's AWS credentials (IRSA through
    /// `spec.collector.serviceAccountAnnotations`, or keys from a Secret). HTTP
    /// only: remote write or OTLP over HTTP.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sigv4: Option<SigV4>,

    /// A Secret whose key `ca.crt` holds the CA of the destination's
    /// certificate (a private CA). Unset: the system's CAs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub ca_secret_name: Option<String>,
}

/// A signal a destination receives.
#[derive(
    JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord,
)]
#[serde(rename_all = "camelCase")]
pub enum ExportSignal {
    /// Metrics.
    Metrics,
    /// Logs.
    Logs,
    /// Traces.
    Traces,
}

impl ExportSignal {
    /// The collector's pipeline type.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Metrics => "metrics",
            Self::Logs => "logs",
            Self::Traces => "traces",
        }
    }
}

/// An OTLP endpoint.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OtlpDestination {
    /// `grpc`: `host:port` (TLS unless `insecure`); `http`: the base URL, such
    /// as `https://otlp.example.com` (the collector appends `/v1/traces`,
    /// `/v1/metrics`, `/v1/logs`).
    #[schemars(length(min = 1, max = 2048))]
    pub endpoint: String,

    /// The protocol.
    #[serde(default)]
    pub protocol: OtlpProtocol,

    /// gRPC without TLS: only for a receiver inside the cluster.
    #[serde(default)]
    pub insecure: bool,
}

/// OTLP's two transports.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum OtlpProtocol {
    /// OTLP/gRPC.
    #[default]
    Grpc,
    /// OTLP/HTTP (protobuf).
    Http,
}

/// A Prometheus remote-write endpoint.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RemoteWriteDestination {
    /// The full URL, such as `https://mimir.example.com/api/v1/push`.
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
}

/// One request header: a plain value, or one read from a Secret.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("has(self.value) != has(self.valueFrom)").message("set exactly one of value and valueFrom")
)]
pub struct ExportHeader {
    /// The header's name.
    #[schemars(length(min = 1, max = 128))]
    pub name: String,

    /// The value, written in the stack (not for secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub value: Option<String>,

    /// The value, from a Secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<SecretKey>,
}

/// A key of a Secret in the stack's namespace.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SecretKey {
    /// The Secret.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Its key.
    #[schemars(length(min = 1, max = 253))]
    pub key: String,
}

/// Basic auth from a Secret.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BasicAuth {
    /// The Secret.
    #[schemars(length(min = 1, max = 253))]
    pub secret_name: String,
    /// Its key holding the user name. Default `username`.
    #[serde(default = "default_username_key")]
    pub username_key: String,
    /// Its key holding the password. Default `password`.
    #[serde(default = "default_password_key")]
    pub password_key: String,
}

/// OAuth2 client credentials (RFC 6749, section 4.4).
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OAuth2 {
    /// The token endpoint, an `https://` URL (`http://` for a server inside
    /// the cluster).
    #[serde(rename = "tokenURL")]
    #[schemars(length(min = 1, max = 2048))]
    pub token_url: String,
    /// The client id.
    #[schemars(length(min = 1, max = 256))]
    pub client_id: String,
    /// The Secret key holding the client secret.
    pub client_secret: SecretKey,
    /// Scopes to ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 32))]
    pub scopes: Vec<String>,
    /// Extra parameters of the token request, such as `audience`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub endpoint_params: std::collections::BTreeMap<String, String>,
}

/// AWS Signature V4 signing.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct SigV4 {
    /// The AWS region. Unset: read from an Amazon Managed Service for
    /// Prometheus URL (`aps-workspaces.<region>.amazonaws.com`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,
    /// The service signed for. Default `aps` (Amazon Managed Service for
    /// Prometheus).
    #[serde(default = "default_sigv4_service")]
    #[schemars(length(min = 1, max = 64))]
    pub service: String,
    /// A role to assume with those credentials (STS AssumeRole).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 20, max = 2048))]
    pub role_arn: Option<String>,
    /// A Secret with keys `accessKeyId` and `secretAccessKey`, given to the
    /// collector as `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY` (read at
    /// start: a change rolls the collector). Unset: the default AWS credential
    /// chain (IRSA's web identity token, EKS Pod Identity, the node's role).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: Option<String>,
}

fn default_sigv4_service() -> String {
    "aps".into()
}

fn default_username_key() -> String {
    "username".into()
}

fn default_password_key() -> String {
    "password".into()
}
