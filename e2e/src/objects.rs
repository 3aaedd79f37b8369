//! The plain Kubernetes objects tests build or read, beside the stacks: an Opaque
//! Secret from string data, the storage a claim asks for, and the config hash
//! sextant puts on a workload's pod template.

use k8s_openapi::api::core::v1::{PersistentVolumeClaim, PodTemplateSpec, Secret};
use kube::core::ObjectMeta;

/// The pod-template annotation whose change rolls a workload sextant manages.
pub const CONFIG_HASH: &str = "observability.sextant.dev/config-hash";

/// A Secret `name` holding `data` as `stringData`.
pub fn secret(name: &str, data: &[(&str, &str)]) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..Default::default()
        },
        string_data: Some(
            data.iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        ),
        ..Default::default()
    }
}

/// The storage a claim requests (`spec.resources.requests.storage`), e.g. `2Gi`.
pub fn requested_storage(claim: &PersistentVolumeClaim) -> Option<&str> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .map(|q| q.0.as_str())
}

/// The [`CONFIG_HASH`] annotation of a pod template.
pub fn config_hash(template: &PodTemplateSpec) -> Option<&str> {
    template
        .metadata
        .as_ref()?
        .annotations
        .as_ref()?
        .get(CONFIG_HASH)
        .map(String::as_str)
}
