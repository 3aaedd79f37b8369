//! What Loki's and Tempo's pods need for `spec.storage.objectStore`: the
//! credentials as environment variables (S3, Azure) or a mounted key file (GCS),
//! the S3 server's CA as a file, the ServiceAccount annotations of workload
//! identity, and for Loki with an Azure key, `-config.expand-env` over a config
//! whose other `$` are escaped. Values never enter a config or a ConfigMap.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{EnvVar, Volume, VolumeMount};

use super::common::*;
use crate::api::credential_keys;
use crate::model::object_store::{
    AWS_ACCESS_KEY_ID_ENV, AWS_SECRET_ACCESS_KEY_ENV, AZURE_ACCOUNT_KEY_ENV, AZURE_KEY_PLACEHOLDER,
    CA_DIR, CREDENTIALS_DIR, GCS_CREDENTIALS_ENV, gcs_key_file,
};

/// The pod-side pieces of the object store for one component.
#[derive(Default)]
pub struct PodParts {
    pub env: Vec<EnvVar>,
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    /// Annotations of the component's ServiceAccount.
    pub service_account_annotations: BTreeMap<String, String>,
    /// Labels the pod template needs (Azure workload identity's webhook acts
    /// only on pods labelled `azure.workload.identity/use: "true"`).
    pub pod_labels: BTreeMap<String, String>,
}

/// The pieces for Loki's or Tempo's pods; empty without an object store.
pub fn pod_parts(stack: &ValidatedStack) -> PodParts {
    let mut p = PodParts::default();
    let Some(o) = &stack.spec.storage.object_store else {
        return p;
    };
    p.service_account_annotations = o.service_account_annotations.clone();
    match &o.credentials_secret {
        Some(secret) if o.s3.is_some() => {
            p.env.push(env_from_secret(
                AWS_ACCESS_KEY_ID_ENV,
                secret,
                credential_keys::S3_ACCESS_KEY_ID,
            ));
            p.env.push(env_from_secret(
                AWS_SECRET_ACCESS_KEY_ENV,
                secret,
                credential_keys::S3_SECRET_ACCESS_KEY,
            ));
        }
        Some(secret) if o.azure.is_some() => p.env.push(env_from_secret(
            AZURE_ACCOUNT_KEY_ENV,
            secret,
            credential_keys::AZURE_ACCOUNT_KEY,
        )),
        Some(secret) => {
            p.volumes.push(secret_key_volume(
                "object-store-credentials",
                secret,
                credential_keys::GCS_KEY,
            ));
            p.mounts
                .push(mount("object-store-credentials", CREDENTIALS_DIR, true));
            p.env.push(EnvVar {
                name: GCS_CREDENTIALS_ENV.into(),
                value: Some(gcs_key_file()),
                ..EnvVar::default()
            });
        }
        None if o.azure.is_some() => {
            p.pod_labels
                .insert("azure.workload.identity/use".into(), "true".into());
        }
        None => {}
    }
    if let Some(ca) = o.s3.as_ref().and_then(|s| s.ca_secret_name.as_ref()) {
        p.volumes.push(secret_key_volume(
            "object-store-ca",
            ca,
            credential_keys::CA,
        ));
        p.mounts.push(mount("object-store-ca", CA_DIR, true));
    }
    p
}

/// Whether Loki's config needs `-config.expand-env` (an Azure account key).
pub fn loki_expands_env(stack: &ValidatedStack) -> bool {
    stack
        .spec
        .storage
        .object_store
        .as_ref()
        .is_some_and(|o| o.azure.is_some() && o.credentials_secret.is_some())
}

/// The config text as `-config.expand-env` must see it: every backslash and
/// `$` doubled, then the placeholder of the Azure key replaced by
/// `${AZURE_STORAGE_KEY}`. drone/envsubst v1.0.3 (vendored by Loki at v3.7.6,
/// `vendor/github.com/drone/envsubst/parse/scan.go`, `scanEscaped`, in the
/// top-level mode of `parse.go`) drops the first of `$$`, `\\` and `\/`, so
/// text escaped this way comes out of it as written.
pub fn expand_env_text(text: &str) -> String {
    text.replace('\\', "\\\\").replace('$', "$$").replace(
        AZURE_KEY_PLACEHOLDER,
        &format!("${{{AZURE_ACCOUNT_KEY_ENV}}}"),
    )
}
