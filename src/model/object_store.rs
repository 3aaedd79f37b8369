//! How Loki's and Tempo's pods reach `spec.storage.objectStore`: the environment
//! variables and files the credentials and CA arrive in (`crate::build` mounts
//! them, `crate::render` points the configs at them), and the start of Loki's
//! first schema period, which an object-store period must follow.

/// The start of Loki's first schema period. Fixed: changing a period's start
/// would orphan stored data.
pub const FIRST_LOKI_PERIOD: &str = "2024-04-01";

/// S3: the access key id, read by the AWS SDK's default chain in Loki
/// (grafana/loki v3.7.6 `pkg/storage/chunk/client/aws/s3_storage_client.go`,
/// `buildS3Client`, with both keys empty in the config) and by minio-go's
/// `EnvAWS` provider in Tempo (grafana/tempo v2.10.8 `tempodb/backend/s3/s3.go`).
pub const AWS_ACCESS_KEY_ID_ENV: &str = "AWS_ACCESS_KEY_ID";
/// S3: the secret access key, read the same ways.
pub const AWS_SECRET_ACCESS_KEY_ENV: &str = "AWS_SECRET_ACCESS_KEY";
/// GCS: the path of the service account key, read by Google's application
/// default credentials in both programs.
pub const GCS_CREDENTIALS_ENV: &str = "GOOGLE_APPLICATION_CREDENTIALS";
/// Azure: the account key. Tempo reads it from the environment when its config
/// has none (grafana/tempo v2.10.8 `tempodb/backend/azure/azure_helpers.go`,
/// `getStorageAccountKey`); Loki's Azure client has no such fallback
/// (grafana/loki v3.7.6 `pkg/storage/chunk/client/azure/blob_storage_client.go`),
/// so its config holds `${AZURE_STORAGE_KEY}`, expanded by `-config.expand-env`.
pub const AZURE_ACCOUNT_KEY_ENV: &str = "AZURE_STORAGE_KEY";
/// What Loki's config holds in place of the Azure account key until the build
/// turns it into `${AZURE_STORAGE_KEY}`, after escaping every other `$` as `$$`
/// (drone/envsubst, which both programs vendor, reads `$$` as one `$`).
pub const AZURE_KEY_PLACEHOLDER: &str = "sextant-azure-account-key-from-environment";

/// Where the credentials Secret is mounted (GCS's key file).
pub const CREDENTIALS_DIR: &str = "/etc/sextant/object-store";
/// Where the S3 server's CA Secret is mounted.
pub const CA_DIR: &str = "/etc/sextant/object-store-ca";

/// The CA file Loki and Tempo read.
pub fn ca_file() -> String {
    format!("{CA_DIR}/{}", crate::api::credential_keys::CA)
}

/// The GCS key file.
pub fn gcs_key_file() -> String {
    format!("{CREDENTIALS_DIR}/{}", crate::api::credential_keys::GCS_KEY)
}

/// The S3 endpoint both programs are given: the one set, or AWS's regional
/// endpoint (Tempo's minio-go client needs a host; validation asks for an
/// endpoint or a region).
pub fn s3_endpoint(s3: &crate::api::S3Store) -> String {
    match (&s3.endpoint, &s3.region) {
        (Some(e), _) => e.clone(),
        (None, Some(r)) => format!("s3.{r}.amazonaws.com"),
        (None, None) => "s3.amazonaws.com".into(),
    }
}
