//! ObservabilityStacks as tests see them: the typed-less API handle, reading a
//! condition, and waiting for a stack to be Ready at its current generation.

use std::time::Duration;

use kube::Api;
use kube::core::{DynamicObject, GroupVersionKind};
use kube::discovery::ApiResource;
use serde_json::json;

use crate::TestNamespace;

/// How long a stack may take to become Ready on the local control plane.
pub const READY_TIMEOUT: Duration = Duration::from_secs(240);

/// The ObservabilityStacks of a test's namespace.
pub fn stacks(ns: &TestNamespace) -> Api<DynamicObject> {
    let gvk = GroupVersionKind::gvk(
        "observability.sextant.dev",
        "v1alpha1",
        "ObservabilityStack",
    );
    Api::namespaced_with(ns.client().clone(), ns.name(), &ApiResource::from_gvk(&gvk))
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
