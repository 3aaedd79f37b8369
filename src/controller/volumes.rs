//! Volume size changes. A StatefulSet's volumeClaimTemplates are immutable (the API
//! server answers 422), so a larger `storage.size` is carried out the way an
//! operator would by hand: grow every claim in place where its StorageClass allows
//! expansion, then delete the StatefulSet with orphan propagation (its pods keep
//! running) so that the next apply re-creates it with the new template. A size
//! that cannot be applied (shrinking, a class without expansion, an unbound claim)
//! keeps the live size and is reported instead of failing the whole stack.

use std::time::Duration;

use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::PersistentVolumeClaim;
use k8s_openapi::api::storage::v1::StorageClass;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use kube::api::{DeleteParams, ListParams, Patch, PatchParams};
use kube::core::Selector;
use kube::{Api, ResourceExt};
use serde_json::json;
use tracing::info;

use super::context::Context;
use super::error::{ApiResultExt, Error, Verb};
use crate::model::{Component, ValidatedStack, child_name, selector_labels};
use crate::units::parse_quantity_bytes;

/// The size a claim (or claim template) requests.
fn claim_size(claim: &PersistentVolumeClaim) -> Option<String> {
    claim
        .spec
        .as_ref()?
        .resources
        .as_ref()?
        .requests
        .as_ref()?
        .get("storage")
        .map(|q| q.0.clone())
}

fn set_claim_size(claim: &mut PersistentVolumeClaim, size: &str) {
    let requests = claim
        .spec
        .as_mut()
        .and_then(|s| s.resources.as_mut())
        .and_then(|r| r.requests.as_mut());
    if let Some(r) = requests {
        r.insert("storage".into(), Quantity(size.into()));
    }
}

fn data_template(sts: &StatefulSet) -> Option<&PersistentVolumeClaim> {
    sts.spec
        .as_ref()?
        .volume_claim_templates
        .as_ref()?
        .iter()
        .find(|t| t.metadata.name.as_deref() == Some("data"))
}

/// The requested size of a StatefulSet's `data` claim template.
pub fn template_size(sts: &StatefulSet) -> Option<String> {
    claim_size(data_template(sts)?)
}

fn set_template_size(sts: &mut StatefulSet, size: &str) {
    let template = sts
        .spec
        .as_mut()
        .and_then(|s| s.volume_claim_templates.as_mut())
        .and_then(|t| {
            t.iter_mut()
                .find(|t| t.metadata.name.as_deref() == Some("data"))
        });
    if let Some(t) = template {
        set_claim_size(t, size);
    }
}

/// What a size asked (`want`) against the live one (`have`) calls for, for
/// the StatefulSets' claims and the claims sextant creates alike.
enum Resize {
    /// The same size (perhaps spelt otherwise: the live spelling is kept).
    Same,
    /// Smaller: volumes cannot shrink; the message says so.
    Shrink(String),
    /// Larger: grow where the claims can.
    Grow,
}

fn resize(field: &str, want: &str, have: &str) -> Option<Resize> {
    let (Ok(want_b), Ok(have_b)) = (parse_quantity_bytes(want), parse_quantity_bytes(have)) else {
        return None;
    };
    Some(if want_b == have_b {
        Resize::Same
    } else if want_b < have_b {
        Resize::Shrink(format!(
            "{field}: volumes cannot shrink (live {have}, asked {want}); keeping {have}"
        ))
    } else {
        Resize::Grow
    })
}

fn cannot_grow(field: &str, want: &str, have: &str, why: &str) -> String {
    format!("{field}: cannot grow from {have} to {want}: {why}; keeping {have}")
}

fn component_of(stack: &ValidatedStack, sts: &StatefulSet) -> Option<Component> {
    let name = sts.name_any();
    Component::ALL
        .into_iter()
        .filter(|c| c.has_data_volume())
        .find(|c| child_name(&stack.name, *c, None) == name)
}

/// Prepares every desired StatefulSet whose volume size differs from the live one
/// (`live_sets`: the stack's StatefulSets as just listed). Returns one message per size change that could not be made; the desired object
/// then keeps the live size, so that the rest of its spec still applies.
pub async fn prepare(
    ctx: &Context,
    stack: &ValidatedStack,
    live_sets: &[StatefulSet],
    desired: &mut [StatefulSet],
) -> Result<Vec<String>, Error> {
    let api: Api<StatefulSet> = Api::namespaced(ctx.client.clone(), &stack.namespace);
    let mut blocked = Vec::new();
    for sts in desired.iter_mut() {
        let name = sts.name_any();
        let Some(component) = component_of(stack, sts) else {
            continue;
        };
        let Some(want) = template_size(sts) else {
            continue;
        };
        let live = live_sets.iter().find(|s| s.name_any() == name);
        let Some(have) = live.and_then(template_size) else {
            continue;
        };
        let field = format!("spec.{}.storage.size", component.field());
        match resize(&field, &want, &have) {
            None => {}
            // Same size, perhaps another spelling: keep the live one (immutable field).
            Some(Resize::Same) => set_template_size(sts, &have),
            Some(Resize::Shrink(message)) => {
                blocked.push(message);
                set_template_size(sts, &have);
            }
            Some(Resize::Grow) => match expand_claims(ctx, stack, component, &want).await? {
                Ok(grown) => {
                    info!(statefulset = %name, %have, %want, claims = ?grown, "expanded volumes; re-creating the StatefulSet");
                    recreate_orphaning_pods(ctx, &api, &name).await?;
                }
                Err(why) => {
                    blocked.push(cannot_grow(&field, &want, &have, &why));
                    set_template_size(sts, &have);
                }
            },
        }
    }
    Ok(blocked)
}

/// Grows every claim of a component to `size`, if all of them can grow. Returns
/// the claims grown, or why none was touched.
async fn expand_claims(
    ctx: &Context,
    stack: &ValidatedStack,
    component: Component,
    size: &str,
) -> Result<Result<Vec<String>, String>, Error> {
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), &stack.namespace);
    let selector = Selector::from_iter(selector_labels(&stack.name, component)).to_string();
    let list = claims
        .list(&ListParams::default().labels(&selector))
        .await
        .api(Verb::List, "PersistentVolumeClaim", selector.as_str())?
        .items;
    for claim in &list {
        if let Err(why) = growable(ctx, claim).await? {
            return Ok(Err(why));
        }
    }
    let mut grown = Vec::new();
    for claim in list {
        let name = claim.name_any();
        let patch = json!({"spec": {"resources": {"requests": {"storage": size}}}});
        claims
            .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .api(Verb::Patch, "PersistentVolumeClaim", name.as_str())?;
        ctx.metrics
            .write("PersistentVolumeClaim", Verb::Patch.as_str());
        grown.push(name);
    }
    Ok(Ok(grown))
}

/// Whether a claim can grow in place: bound, of a StorageClass that allows
/// volume expansion; or why not.
async fn growable(
    ctx: &Context,
    claim: &PersistentVolumeClaim,
) -> Result<Result<(), String>, Error> {
    let spec = claim.spec.clone().unwrap_or_default();
    let phase = claim
        .status
        .as_ref()
        .and_then(|s| s.phase.clone())
        .unwrap_or_default();
    if phase != "Bound" {
        return Ok(Err(format!(
            "claim {} is {phase}, not Bound",
            claim.name_any()
        )));
    }
    let Some(class) = spec.storage_class_name.filter(|c| !c.is_empty()) else {
        return Ok(Err(format!(
            "claim {} has no StorageClass",
            claim.name_any()
        )));
    };
    let classes: Api<StorageClass> = Api::all(ctx.client.clone());
    let sc = classes
        .get_opt(&class)
        .await
        .api(Verb::Get, "StorageClass", class.as_str())?;
    if !sc.and_then(|s| s.allow_volume_expansion).unwrap_or(false) {
        return Ok(Err(format!(
            "StorageClass {class} does not allow volume expansion"
        )));
    }
    Ok(Ok(()))
}

/// Prepares the claims sextant creates itself (Grafana's, `spec.grafana.storage`)
/// against the live ones (`live`: the stack's claims as just listed): a new
/// claim is created as desired; an existing one keeps the fields that cannot
/// change (class, access modes) and grows where it can, else keeps its size
/// and the reason is returned, as for the StatefulSets' claims.
pub async fn prepare_claims(
    ctx: &Context,
    live: &[PersistentVolumeClaim],
    desired: &mut [PersistentVolumeClaim],
    field: &str,
) -> Result<Vec<String>, Error> {
    let mut blocked = Vec::new();
    for claim in desired.iter_mut() {
        let Some(current) = live.iter().find(|l| l.name_any() == claim.name_any()) else {
            continue;
        };
        let (Some(spec), Some(live_spec)) = (claim.spec.as_mut(), current.spec.as_ref()) else {
            continue;
        };
        spec.storage_class_name = live_spec.storage_class_name.clone();
        spec.access_modes = live_spec.access_modes.clone();
        let (Some(want), Some(have)) = (claim_size(claim), claim_size(current)) else {
            continue;
        };
        let keep = match resize(field, &want, &have) {
            None => false,
            Some(Resize::Same) => true,
            Some(Resize::Shrink(message)) => {
                blocked.push(message);
                true
            }
            Some(Resize::Grow) => match growable(ctx, current).await? {
                Ok(()) => false,
                Err(why) => {
                    blocked.push(cannot_grow(field, &want, &have, &why));
                    true
                }
            },
        };
        if keep {
            set_claim_size(claim, &have);
        }
    }
    Ok(blocked)
}

/// Deletes a StatefulSet but not its pods, and waits until it is gone.
async fn recreate_orphaning_pods(
    ctx: &Context,
    api: &Api<StatefulSet>,
    name: &str,
) -> Result<(), Error> {
    let deleted = api
        .delete(name, &DeleteParams::orphan())
        .await
        .absent_ok()
        .api(Verb::Delete, "StatefulSet", name)?;
    if deleted.is_none() {
        return Ok(());
    }
    ctx.metrics.write("StatefulSet", Verb::Delete.as_str());
    for _ in 0..100 {
        // Still the delete's error: the wait is part of it.
        if api
            .get_opt(name)
            .await
            .api(Verb::Delete, "StatefulSet", name)?
            .is_none()
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_size_round_trips() {
        let stack = crate::cli::check(
            &crate::cli::parse(
                "t",
                "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {name: s, namespace: n}\nspec: {loki: {storage: {size: 30Gi}}}",
            )
            .unwrap(),
        )
        .unwrap();
        let mut sts = crate::build::build(&stack, &crate::model::Capabilities::current())
            .stateful_sets
            .into_iter()
            .find(|s| s.name_any() == "s-loki")
            .unwrap();
        assert_eq!(template_size(&sts).as_deref(), Some("30Gi"));
        set_template_size(&mut sts, "20Gi");
        assert_eq!(template_size(&sts).as_deref(), Some("20Gi"));
        assert_eq!(component_of(&stack, &sts), Some(Component::Loki));
    }
}
