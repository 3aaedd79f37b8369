//! Creating arbitrary YAML manifests in the test cluster: multi-document parsing into
//! `DynamicObject`s, kind resolution through discovery, and create-or-replace. It never
//! uses server-side apply, which Kubernetes 1.20 trips over for newer schemas.

use anyhow::Context as _;
use kube::api::{DynamicObject, PostParams};
use kube::core::{GroupVersionKind, Status};
use kube::discovery::Scope;
use kube::{Api, Client, ResourceExt};
use serde::Deserialize;

/// Parses every non-empty document of a (multi-document) YAML string.
pub fn parse_documents(yaml: &str) -> anyhow::Result<Vec<DynamicObject>> {
    let mut objects = Vec::new();
    for (index, document) in serde_yaml_ng::Deserializer::from_str(yaml).enumerate() {
        let value = serde_json::Value::deserialize(document)
            .with_context(|| format!("YAML document {index} is not valid YAML"))?;
        if value.is_null() {
            continue;
        }
        let object: DynamicObject = serde_json::from_value(value)
            .with_context(|| format!("YAML document {index} is not a Kubernetes object"))?;
        objects.push(object);
    }
    Ok(objects)
}

/// Creates every object of `yaml`, replacing any that already exist. Namespaced objects
/// go to `namespace` (overriding what the manifest says); cluster-scoped ones ignore it.
/// Stops at the first object the API server rejects.
pub async fn apply_yaml(
    client: &Client,
    namespace: &str,
    yaml: &str,
) -> anyhow::Result<Vec<DynamicObject>> {
    let mut created = Vec::new();
    for object in parse_documents(yaml)? {
        created.push(apply_object(client, namespace, object).await?);
    }
    Ok(created)
}

/// Creates `object`, or replaces it when it exists; see [`apply_yaml`]. The error of a
/// rejected object keeps the API server's `Status` (see [`api_status`]).
pub async fn apply_object(
    client: &Client,
    namespace: &str,
    mut object: DynamicObject,
) -> anyhow::Result<DynamicObject> {
    let types = object
        .types
        .clone()
        .context("object has no apiVersion/kind")?;
    let gvk = GroupVersionKind::try_from(&types)
        .with_context(|| format!("bad apiVersion {:?}", types.api_version))?;
    let (resource, caps) = kube::discovery::pinned_kind(client, &gvk)
        .await
        .with_context(|| format!("the API server does not serve {gvk:?}"))?;
    let api: Api<DynamicObject> = match caps.scope {
        Scope::Namespaced => {
            object.metadata.namespace = Some(namespace.to_owned());
            Api::namespaced_with(client.clone(), namespace, &resource)
        }
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let what = format!("{} {}", types.kind, object.name_any());
    match api.create(&PostParams::default(), &object).await {
        Ok(created) => Ok(created),
        Err(kube::Error::Api(s)) if s.is_already_exists() => {
            let name = object.name_any();
            let existing = api
                .get(&name)
                .await
                .with_context(|| format!("reading existing {what}"))?;
            object.metadata.resource_version = existing.resource_version();
            api.replace(&name, &PostParams::default(), &object)
                .await
                .with_context(|| format!("replacing {what}"))
        }
        Err(e) => Err(e).with_context(|| format!("creating {what}")),
    }
}

/// The API server's `Status` inside an error from this crate, e.g. to assert that a
/// manifest was rejected as Invalid (422) and which field the message names.
pub fn api_status(error: &anyhow::Error) -> Option<&Status> {
    match error.downcast_ref::<kube::Error>()? {
        kube::Error::Api(status) => Some(status),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_multi_document_yaml_and_skips_empty_documents() {
        let yaml = "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n---\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: b}\n";
        let objects = parse_documents(yaml).expect("parses");
        assert_eq!(objects.len(), 2);
        assert_eq!(objects[0].name_any(), "a");
        assert_eq!(
            objects[1].types.as_ref().map(|t| t.kind.as_str()),
            Some("Deployment")
        );
    }

    #[test]
    fn rejects_documents_that_are_not_objects() {
        assert!(parse_documents("- just\n- a list\n").is_err());
    }
}
