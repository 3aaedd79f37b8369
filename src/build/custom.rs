//! Children of kinds k8s-openapi does not carry, typed here with the fields
//! sextant sets: the Gateway API's HTTPRoute (gateway.networking.k8s.io/v1)
//! and cert-manager's Certificate (cert-manager.io/v1). They implement
//! `k8s_openapi::Resource` like the built-in kinds, so the applier treats them
//! alike; they are built only where discovery found their CRDs
//! (`Capabilities::http_routes`, `Capabilities::certificates`).
//!
//! Fields follow the CRD schemas of @kubernetes-models/gateway-api 2.0.0 and
//! @kubernetes-models/cert-manager 6.0.0 (npm; generated from the upstream
//! CRDs), which `tests/custom_children.rs` validates every built object
//! against. Every field the HTTPRoute CRD defaults (a parent's group and kind,
//! a backend's group, kind and weight, a rule's path match) is set to that
//! default, so the object read back equals the one applied.

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

macro_rules! custom_kind {
    ($ty:ident, $group:literal, $version:literal, $kind:literal, $plural:literal) => {
        impl k8s_openapi::Resource for $ty {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = NamespaceResourceScope;
        }

        impl k8s_openapi::Metadata for $ty {
            type Ty = ObjectMeta;
            fn metadata(&self) -> &ObjectMeta {
                &self.metadata
            }
            fn metadata_mut(&mut self) -> &mut ObjectMeta {
                &mut self.metadata
            }
        }
    };
}

/// A Gateway API HTTPRoute.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct HttpRoute {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// What the route matches and where it sends it.
    #[serde(default)]
    pub spec: HttpRouteSpec,
}
custom_kind!(
    HttpRoute,
    "gateway.networking.k8s.io",
    "v1",
    "HTTPRoute",
    "httproutes"
);

/// `HTTPRouteSpec`, the fields sextant sets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    /// The Gateways it attaches to.
    #[serde(default)]
    pub parent_refs: Vec<ParentReference>,
    /// The host names it matches.
    #[serde(default)]
    pub hostnames: Vec<String>,
    /// Its rules.
    #[serde(default)]
    pub rules: Vec<HttpRouteRule>,
}

/// `ParentReference`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ParentReference {
    /// `gateway.networking.k8s.io` (the CRD's default).
    pub group: String,
    /// `Gateway` (the CRD's default).
    pub kind: String,
    /// The Gateway's name.
    pub name: String,
    /// Its namespace; unset: the route's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// One of its listeners.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_name: Option<String>,
}

/// `HTTPRouteRule`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    /// The requests it matches.
    #[serde(default)]
    pub matches: Vec<HttpRouteMatch>,
    /// Where they go.
    #[serde(default)]
    pub backend_refs: Vec<HttpBackendRef>,
}

/// `HTTPRouteMatch`: a path match.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct HttpRouteMatch {
    /// The path.
    pub path: HttpPathMatch,
}

/// `HTTPPathMatch`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct HttpPathMatch {
    /// `PathPrefix`.
    #[serde(rename = "type")]
    pub type_: String,
    /// `/`.
    pub value: String,
}

/// `HTTPBackendRef` to a Service port.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct HttpBackendRef {
    /// `""`, the core group (the CRD's default).
    pub group: String,
    /// `Service` (the CRD's default).
    pub kind: String,
    /// The Service.
    pub name: String,
    /// Its port.
    pub port: i32,
    /// 1 (the CRD's default).
    pub weight: i32,
}

/// A cert-manager Certificate.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Certificate {
    /// Standard object metadata.
    pub metadata: ObjectMeta,
    /// What is issued, by whom, into which Secret.
    #[serde(default)]
    pub spec: CertificateSpec,
}
custom_kind!(
    Certificate,
    "cert-manager.io",
    "v1",
    "Certificate",
    "certificates"
);

/// `CertificateSpec`, the fields sextant sets.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CertificateSpec {
    /// The kubernetes.io/tls Secret cert-manager fills.
    pub secret_name: String,
    /// The host names the certificate is for.
    #[serde(default)]
    pub dns_names: Vec<String>,
    /// Who signs it.
    pub issuer_ref: CertIssuerRef,
    /// How long it is valid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<String>,
    /// How long before expiry it is renewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_before: Option<String>,
}

/// `ObjectReference` of an issuer.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct CertIssuerRef {
    /// Its name.
    pub name: String,
    /// `Issuer` or `ClusterIssuer`.
    pub kind: String,
    /// Its group.
    pub group: String,
}
