//! ObservabilityStacks as tests see them: the one definition of their group,
//! version and kind (the e2e crate does not link sextant, so these mirror
//! `sextant::api` and `crds/`), the typed-less API handle, stack objects built from
//! a spec or read from `config/samples/`, creating and merge-patching them, reading
//! a condition, and waiting for a condition or for a stack to be Ready at its
//! current generation.

use std::time::Duration;

use anyhow::Context as _;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use kube::{Api, Client};
use serde_json::{Value, json};

use crate::{TestNamespace, repo_root};

/// The API group of ObservabilityStack (`sextant::api::GROUP`).
pub const GROUP: &str = "observability.sextant.dev";
/// The served version of ObservabilityStack (`sextant::api::VERSION`).
pub const VERSION: &str = "v1alpha1";
/// The kind.
pub const KIND: &str = "ObservabilityStack";

/// How long a stack may take to become Ready on the local control plane.
pub const READY_TIMEOUT: Duration = Duration::from_secs(240);

/// ObservabilityStack's group, version and kind.
pub fn gvk() -> GroupVersionKind {
    GroupVersionKind::gvk(GROUP, VERSION, KIND)
}

/// ObservabilityStack as a dynamic API resource (plural `observabilitystacks`).
pub fn api_resource() -> ApiResource {
    ApiResource::from_gvk(&gvk())
}

/// The ObservabilityStacks of `namespace`, through `client` (e.g. one that
/// authenticates as the operator's ServiceAccount).
pub fn stacks_in(client: &Client, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(client.clone(), namespace, &api_resource())
}

/// The ObservabilityStacks of a test's namespace.
pub fn stacks(ns: &TestNamespace) -> Api<DynamicObject> {
    stacks_in(ns.client(), ns.name())
}

/// A stack `name` in `namespace` with `spec`.
pub fn object(namespace: &str, name: &str, spec: Value) -> DynamicObject {
    DynamicObject::new(name, &api_resource())
        .within(namespace)
        .data(json!({ "spec": spec }))
}

/// The stack of `config/samples/<file>`, unchanged but for its namespace.
pub fn sample(file: &str, namespace: &str) -> anyhow::Result<DynamicObject> {
    let path = repo_root().join("config/samples").join(file);
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut stack: DynamicObject = serde_yaml_ng::from_str(&text)
        .with_context(|| format!("{} is not one Kubernetes object", path.display()))?;
    stack.metadata.namespace = Some(namespace.to_owned());
    Ok(stack)
}

/// Creates `stack` in the test's namespace.
pub async fn create(ns: &TestNamespace, stack: &DynamicObject) -> kube::Result<DynamicObject> {
    stacks(ns).create(&PostParams::default(), stack).await
}

/// Deletes the stack `name` (background propagation, as `kubectl delete` does).
pub async fn delete(ns: &TestNamespace, name: &str) {
    if let Err(e) = stacks(ns).delete(name, &DeleteParams::background()).await {
        panic!("deleting stack {name}: {e}");
    }
}

/// Deletes the stack `name` and waits until it is gone (its finalizer, if any,
/// has run).
pub async fn delete_and_wait(ns: &TestNamespace, name: &str, timeout: Duration) {
    delete(ns, name).await;
    ns.wait_deleted(&stacks(ns), name, timeout, &format!("stack {name} deleted"))
        .await;
}

/// Applies a JSON merge patch to the stack `name`.
pub async fn merge_patch(
    ns: &TestNamespace,
    name: &str,
    patch: Value,
) -> kube::Result<DynamicObject> {
    stacks(ns)
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
}

/// A condition of a stack: (status, reason, message).
pub fn condition(stack: &DynamicObject, type_: &str) -> Option<(String, String, String)> {
    stack.data["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
        .map(|c| {
            let field = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (field("status"), field("reason"), field("message"))
        })
}

/// Waits until the condition `type_` of the stack `name` exists and `check` holds
/// for its (status, reason, message), and returns the stack.
pub async fn wait_condition(
    ns: &TestNamespace,
    name: &str,
    type_: &str,
    timeout: Duration,
    description: &str,
    check: impl Fn(&(String, String, String)) -> bool,
) -> DynamicObject {
    ns.wait_condition(&stacks(ns), name, timeout, description, |s| {
        condition(s, type_).is_some_and(|c| check(&c))
    })
    .await
}

/// Whether a stack is Ready and its status is about its current generation.
pub fn is_ready(stack: &DynamicObject) -> bool {
    condition(stack, "Ready").is_some_and(|c| c.0 == "True")
        && stack.data["status"]["observedGeneration"] == json!(stack.metadata.generation)
}

/// Waits until the stack `name` is Ready at its current generation.
pub async fn wait_ready(ns: &TestNamespace, name: &str) -> DynamicObject {
    ns.wait_condition(
        &stacks(ns),
        name,
        READY_TIMEOUT,
        &format!("stack {name} Ready"),
        is_ready,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_is_an_observability_stack_with_its_spec() {
        let stack = object("ns", "s", json!({"tempo": {"enabled": false}}));
        let value = serde_json::to_value(&stack).expect("serializes");
        assert_eq!(
            value,
            json!({
                "apiVersion": "observability.sextant.dev/v1alpha1",
                "kind": "ObservabilityStack",
                "metadata": {"name": "s", "namespace": "ns"},
                "spec": {"tempo": {"enabled": false}},
            })
        );
        assert_eq!(api_resource().plural, "observabilitystacks");
    }

    #[test]
    fn a_sample_gets_the_namespace() {
        let stack = sample("minimal.yaml", "ns").expect("the minimal sample reads");
        assert_eq!(stack.metadata.namespace.as_deref(), Some("ns"));
        assert_eq!(
            stack.types.map(|t| (t.api_version, t.kind)),
            Some((gvk().api_version(), KIND.to_string()))
        );
    }
}
