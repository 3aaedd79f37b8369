//! `storage.deletionPolicy: Delete`: a finalizer on the stack that deletes its
//! PersistentVolumeClaims when the stack is deleted. With `Retain` (the default)
//! there is no finalizer and claims outlive the stack, so a stack re-created with
//! the same name re-attaches to its data.
//!
//! The StatefulSets also carry `persistentVolumeClaimRetentionPolicy`, but API
//! servers before 1.27 ignore or reject it; the finalizer works everywhere.

use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::{Api, ResourceExt};
use serde_json::json;

use super::apply::children_selector;
use super::context::Context;
use super::error::{ApiResultExt, Error, Verb};
use crate::api::{DeletionPolicy, ObservabilityStack};
use crate::model::ValidatedStack;

/// The finalizer that deletes a stack's volumes with it.
pub const PVC_FINALIZER: &str = "observability.sextant.dev/pvc-cleanup";

fn api(ctx: &Context, stack: &ObservabilityStack) -> Api<ObservabilityStack> {
    Api::namespaced(ctx.client.clone(), &stack.namespace().unwrap_or_default())
}

/// Adds the finalizer when the policy is Delete, removes it when it is Retain.
pub async fn ensure(
    ctx: &Context,
    stack: &ObservabilityStack,
    valid: &ValidatedStack,
) -> Result<(), Error> {
    let want = valid.spec.storage.deletion_policy == DeletionPolicy::Delete;
    let finalizers = stack.finalizers();
    let has = finalizers.iter().any(|f| f == PVC_FINALIZER);
    let patch = match (want, has) {
        (true, false) if finalizers.is_empty() => json!([
            {"op": "test", "path": "/metadata/finalizers", "value": null},
            {"op": "add", "path": "/metadata/finalizers", "value": [PVC_FINALIZER]},
        ]),
        (true, false) => {
            json!([{"op": "add", "path": "/metadata/finalizers/-", "value": PVC_FINALIZER}])
        }
        (false, true) => remove_patch(stack),
        _ => return Ok(()),
    };
    json_patch_stack(ctx, stack, patch).await?;
    Ok(())
}

/// Sends a JSON patch (of the finalizers) to the stack.
async fn json_patch_stack(
    ctx: &Context,
    stack: &ObservabilityStack,
    patch: serde_json::Value,
) -> Result<(), Error> {
    let patch: json_patch::Patch =
        serde_json::from_value(patch).map_err(|source| Error::Serialize {
            kind: "ObservabilityStack",
            name: stack.name_any(),
            source,
        })?;
    api(ctx, stack)
        .patch(
            &stack.name_any(),
            &PatchParams::default(),
            &Patch::Json::<()>(patch),
        )
        .await
        .api(
            Verb::PatchFinalizers,
            "ObservabilityStack",
            stack.name_any(),
        )?;
    ctx.metrics
        .write("ObservabilityStack", Verb::Patch.as_str());
    Ok(())
}

fn remove_patch(stack: &ObservabilityStack) -> serde_json::Value {
    let index = stack
        .finalizers()
        .iter()
        .position(|f| f == PVC_FINALIZER)
        .unwrap_or(0);
    json!([
        {"op": "test", "path": format!("/metadata/finalizers/{index}"), "value": PVC_FINALIZER},
        {"op": "remove", "path": format!("/metadata/finalizers/{index}")},
    ])
}

/// On deletion: deletes the stack's claims (only while it holds the finalizer,
/// i.e. only under the Delete policy), then releases the stack.
pub async fn cleanup(ctx: &Context, stack: &ObservabilityStack) -> Result<(), Error> {
    if !stack.finalizers().iter().any(|f| f == PVC_FINALIZER) {
        return Ok(());
    }
    let namespace = stack.namespace().unwrap_or_default();
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
    json_patch_stack(ctx, stack, remove_patch(stack)).await?;
    Ok(())
}
