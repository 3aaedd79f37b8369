//! `spec.storage.objectStore`: the bucket store Loki and Tempo keep their data in
//! instead of their volume (S3 and S3-compatible servers, Google Cloud Storage,
//! Azure Blob Storage), with credentials from a Secret or the pod's workload
//! identity.

use std::collections::BTreeMap;

use kube::KubeSchema;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Object storage for Loki's chunks and index and Tempo's trace blocks. Their
/// write-ahead logs and caches stay on their volumes, which are kept.
#[derive(KubeSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
#[x_kube(
    validation = Rule::new("[has(self.s3), has(self.gcs), has(self.azure)].filter(x, x).size() == 1").message("set exactly one of s3, gcs and azure")
)]
pub struct ObjectStoreSpec {
    /// Amazon S3 or an S3-compatible server (MinIO, Ceph RGW, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<S3Store>,

    /// Google Cloud Storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsStore>,

    /// Azure Blob Storage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzureStore>,

    /// The bucket (Azure: the container) of each signal. Each must already exist;
    /// Loki and Tempo need one each, and not the same one.
    #[serde(default)]
    pub buckets: ObjectStoreBuckets,

    /// A Secret in the stack's namespace with the credentials, by store: `s3`
    /// keys `accessKeyId` and `secretAccessKey`; `gcs` key `key.json` (a service
    /// account key); `azure` key `accountKey`. The values reach the pods as
    /// environment variables or a mounted file, never the rendered config. Unset:
    /// the pods' workload identity (set `serviceAccountAnnotations`) or the
    /// provider's default credential chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub credentials_secret: Option<String>,

    /// Annotations on Loki's and Tempo's ServiceAccounts, for workload identity:
    /// `eks.amazonaws.com/role-arn` (EKS IRSA), `iam.gke.io/gcp-service-account`
    /// (GKE), `azure.workload.identity/client-id` (AKS).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub service_account_annotations: BTreeMap<String, String>,

    /// The first UTC day (`YYYY-MM-DD`) whose logs Loki writes to the object
    /// store. When a running stack moves to object storage, set the next day:
    /// older logs stay on Loki's volume and stay queryable (a second schema
    /// period). Unset: every log is in the object store, as for a new stack.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(regex(pattern = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"))]
    pub logs_since: Option<String>,
}

/// Amazon S3 or an S3-compatible server.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct S3Store {
    /// The server as `host` or `host:port`, no scheme, such as
    /// `s3.eu-west-1.amazonaws.com` or `minio.storage.svc:9000`. Unset: AWS's
    /// endpoint of `region`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub endpoint: Option<String>,

    /// The region, such as `eu-west-1`. Needed for AWS; most S3-compatible
    /// servers accept any value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub region: Option<String>,

    /// Address buckets as `host/bucket` instead of `bucket.host` (MinIO and most
    /// S3-compatible servers need it).
    #[serde(default)]
    pub force_path_style: bool,

    /// Plain HTTP instead of HTTPS: only for a server inside the cluster.
    #[serde(default)]
    pub insecure: bool,

    /// A Secret in the stack's namespace whose key `ca.crt` holds the CA that
    /// signed the server's certificate (a private CA). Unset: the system's CAs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 253))]
    pub ca_secret_name: Option<String>,
}

/// Google Cloud Storage: the buckets are in `buckets`, credentials in
/// `credentialsSecret` or the workload identity.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GcsStore {}

/// Azure Blob Storage.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AzureStore {
    /// The storage account.
    #[schemars(length(min = 3, max = 24))]
    pub account_name: String,

    /// The endpoint suffix of a sovereign cloud, such as
    /// `blob.core.chinacloudapi.cn`. Unset: `blob.core.windows.net`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 255))]
    pub endpoint_suffix: Option<String>,
}

/// The bucket (Azure: container) of each signal.
#[derive(JsonSchema, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ObjectStoreBuckets {
    /// Loki's bucket. Needed while Loki runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 63))]
    pub logs: Option<String>,

    /// Tempo's bucket. Needed while Tempo runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 3, max = 63))]
    pub traces: Option<String>,
}

/// The keys `credentialsSecret` holds, by store.
pub mod credential_keys {
    /// S3: the access key id.
    pub const S3_ACCESS_KEY_ID: &str = "accessKeyId";
    /// S3: the secret access key.
    pub const S3_SECRET_ACCESS_KEY: &str = "secretAccessKey";
    /// GCS: a service account key (JSON).
    pub const GCS_KEY: &str = "key.json";
    /// Azure: the storage account key.
    pub const AZURE_ACCOUNT_KEY: &str = "accountKey";
    /// `s3.caSecretName`: the CA certificate.
    pub const CA: &str = "ca.crt";
}

impl ObjectStoreSpec {
    /// The keys `credentialsSecret` must hold for the store set.
    pub fn credential_keys(&self) -> &'static [&'static str] {
        use credential_keys::*;
        if self.s3.is_some() {
            &[S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY]
        } else if self.gcs.is_some() {
            &[GCS_KEY]
        } else if self.azure.is_some() {
            &[AZURE_ACCOUNT_KEY]
        } else {
            &[]
        }
    }
}
