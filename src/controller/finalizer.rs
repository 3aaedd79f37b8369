//! The stack's finalizers. `storage.deletionPolicy: Delete`: one that deletes its
//! PersistentVolumeClaims when the stack is deleted. With `Retain` (the default)
//! there is no such finalizer and claims outlive the stack, so a stack re-created
//! with the same name re-attaches to its data. And while the stack has
//! cluster-scoped children (ClusterRoleBindings, which no ownerReference can tie
//! to it), one that deletes those (`super::cluster`).
//!
//! The StatefulSets also carry `persistentVolumeClaimRetentionPolicy`, but API
//! servers before 1.27 ignore or reject it; the finalizer works everywhere.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::apply::children_selector;
use super::cluster::CLUSTER_FINALIZER;
use super::context::Context;
use super::error::{ApiResultExt, Error, Verb};
use crate::api::{DeletionPolicy, ObservabilityStack};
use crate::model::ValidatedStack;

/// The finalizer that deletes a stack's volumes with it.
pub const PVC_FINALIZER: &str = "observability.sextant.dev/pvc-cleanup";

fn api(ctx: &Context, stack: &ObservabilityStack) -> Api<ObservabilityStack> {
    Api::namespaced(ctx.client.clone(), &stack.namespace().unwrap_or_default())
}

/// Sets the finalizers before the apply step: the volume finalizer as the
/// deletion policy says, and the cluster finalizer when the stack is about to
/// have cluster-scoped children (added before they exist, so a deletion in between
/// cannot leave one behind). Returns the stack as it now is.
pub async fn ensure(
    ctx: &Context,
    stack: &ObservabilityStack,
    valid: &ValidatedStack,
    cluster_children: bool,
) -> Result<ObservabilityStack, Error> {
    let mut stack = stack.clone();
    let want_pvc = valid.spec.storage.deletion_policy == DeletionPolicy::Delete;
    match (want_pvc, has(&stack, PVC_FINALIZER)) {
        (true, false) => stack = add(ctx, &stack, PVC_FINALIZER).await?,
        (false, true) => stack = remove(ctx, &stack, PVC_FINALIZER).await?,
        _ => {}
    }
    if cluster_children && !has(&stack, CLUSTER_FINALIZER) {
        stack = add(ctx, &stack, CLUSTER_FINALIZER).await?;
    }
    Ok(stack)
}

/// After a successful apply: drops the cluster finalizer once the stack has no
/// cluster-scoped children left (the apply step pruned them).
pub async fn release(
    ctx: &Context,
    stack: &ObservabilityStack,
    cluster_children: bool,
) -> Result<(), Error> {
    if !cluster_children && has(stack, CLUSTER_FINALIZER) {
        remove(ctx, stack, CLUSTER_FINALIZER).await?;
    }
    Ok(())
}

fn has(stack: &ObservabilityStack, finalizer: &str) -> bool {
    stack.finalizers().iter().any(|f| f == finalizer)
}

async fn add(
    ctx: &Context,
    stack: &ObservabilityStack,
    finalizer: &str,
) -> Result<ObservabilityStack, Error> {
    if let Some(patched) = json_patch_stack(ctx, stack, add_patch(stack, finalizer)).await? {
        return Ok(patched);
    }
    // The stack as cached is older than the server's: decide again on a fresh read.
    let current = read_stack(ctx, stack).await?;
    if has(&current, finalizer) {
        return Ok(current);
    }
    json_patch_stack(ctx, &current, add_patch(&current, finalizer))
        .await?
        .ok_or_else(|| stale(&current))
}

fn add_patch(stack: &ObservabilityStack, finalizer: &str) -> serde_json::Value {
    if stack.finalizers().is_empty() {
        json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]},
        ])
    } else {
        json!([{"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}])
    }
}

async fn remove(
    ctx: &Context,
    stack: &ObservabilityStack,
    finalizer: &str,
) -> Result<ObservabilityStack, Error> {
    if let Some(patched) = json_patch_stack(ctx, stack, remove_patch(stack, finalizer)).await? {
        return Ok(patched);
    }
    let current = read_stack(ctx, stack).await?;
    if !has(&current, finalizer) {
        return Ok(current);
    }
    json_patch_stack(ctx, &current, remove_patch(&current, finalizer))
        .await?
        .ok_or_else(|| stale(&current))
}

fn remove_patch(stack: &ObservabilityStack, finalizer: &str) -> serde_json::Value {
    let index = stack
        .finalizers()
        .iter()
        .position(|f| f == finalizer)
        .unwrap_or(0);
    json!([
        {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": finalizer},
        {"op": "remove", "path": format!("/metadata/finalizers/{index}")},
    ])
}

/// Reads the stack from the API server, past the controller's cache.
async fn read_stack(
    ctx: &Context,
    stack: &ObservabilityStack,
) -> Result<ObservabilityStack, Error> {
    api(ctx, stack).get(&stack.name_any()).await.api(
        Verb::Get,
        "ObservabilityStack",
        stack.name_any(),
    )
}

/// The error of a finalizer patch whose `test` failed even on a fresh read (the
/// stack changed in between): retried as `Busy` (`error::retry_class`).
fn stale(stack: &ObservabilityStack) -> Error {
    let status = kube::core::Status::failure(
        "the finalizers changed while they were being patched",
        "Invalid",
    )
    .with_code(422);
    Error::Api {
        verb: Verb::PatchFinalizers,
        kind: "ObservabilityStack",
        name: stack.name_any(),
        source: kube::Error::Api(status.boxed()),
    }
}

/// Sends a JSON patch (of the finalizers) to the stack; returns the patched
/// stack, or `None` when a `test` of the patch failed (HTTP 422): the stack as
/// cached is older than the server's, e.g. while a watch has not caught up
/// after an API server restart (seen in e2e `faults.rs`).
async fn json_patch_stack(
    ctx: &Context,
    stack: &ObservabilityStack,
    patch: serde_json::Value,
) -> Result<Option<ObservabilityStack>, Error> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(|source| Error::Serialize {
            kind: "ObservabilityStack",
            name: stack.name_any(),
            source,
        })?;
    let patched = match api(ctx, stack)
        .patch(
            &stack.name_any(),
            &PatchParams::default(),
            &Patch::Json::<()>(patch),
        )
        .await
    {
        Err(kube::Error::Api(status)) if status.code == 422 => return Ok(None),
        other => other.api(
            Verb::PatchFinalizers,
            "ObservabilityStack",
            stack.name_any(),
        )?,
    };
    ctx.metrics
        .write("ObservabilityStack", Verb::Patch.as_str());
    Ok(Some(patched))
}

/// On deletion: deletes the stack's cluster-scoped children (while it holds the
/// cluster finalizer) and its claims (while it holds the volume finalizer, i.e.
/// only under the Delete policy), releasing the stack from each finalizer in turn.
pub async fn cleanup(ctx: &Context, stack: &ObservabilityStack) -> Result<(), Error> {
    let mut stack = stack.clone();
    let namespace = stack.namespace().unwrap_or_default();
    if has(&stack, CLUSTER_FINALIZER) {
        super::cluster::delete_all(ctx, &namespace, &stack.name_any()).await?;
        stack = remove(ctx, &stack, CLUSTER_FINALIZER).await?;
    }
    if !has(&stack, PVC_FINALIZER) {
        return Ok(());
    }
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &namespace);
    let selector = children_selector(&stack.name_any());
    let list = claims
        .list(&ListParams::default().labels(&selector))
        .await
        .api(Verb::List, "PersistentVolumeClaim", selector.as_str())?;
    for claim in list.items {
        let name = claim.name_any();
        let deleted = claims
            .delete(&name, &DeleteParams::background())
            .await
            .absent_ok()
            .api(Verb::Delete, "PersistentVolumeClaim", name)?;
        if deleted.is_some() {
            ctx.metrics
                .write("PersistentVolumeClaim", Verb::Delete.as_str());
        }
    }
    remove(ctx, &stack, PVC_FINALIZER).await?;
    Ok(())
}
