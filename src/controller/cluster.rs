//! The stack's cluster-scoped children, its ClusterRoleBindings: applied and
//! pruned with the rest, and deleted when the stack is. A namespaced stack cannot
//! own a cluster-scoped object, so the garbage collector never deletes them:
//! they are found by their labels (the stack's name and namespace), and the
//! stack holds the finalizer `CLUSTER_FINALIZER` while any may exist.

use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::ListParams;
use kube::core::Selector;
use kube::{Api, ResourceExt};

use super::apply::{apply_object, delete_object};
use super::cache::Cached;
use super::context::Context;
use super::error::{ApiResultExt, Error, Verb};
use crate::model::{ValidatedStack, cluster_child_labels};

/// The finalizer that removes a stack's cluster-scoped children with it.
pub const CLUSTER_FINALIZER: &str = "observability.sextant.dev/cluster-cleanup";

const KIND: &str = "ClusterRoleBinding";

/// What one sync did: `Kind/name` of every object written and deleted.
#[derive(Debug, Default)]
pub struct Synced {
    /// Written.
    pub changed: Vec<String>,
    /// Deleted.
    pub pruned: Vec<String>,
}

fn api(ctx: &Context) -> Api<ClusterRoleBinding> {
    Api::all(ctx.client.clone())
}

/// The selector of one stack's cluster-scoped children.
pub fn selector(namespace: &str, stack: &str) -> String {
    Selector::from_iter(cluster_child_labels(stack, namespace)).to_string()
}

/// The stack's ClusterRoleBindings. At reconcile, from the operator's cache
/// (`super::cache`), filled by the watch `super::run_controllers` runs where this
/// install may read them; listed at deletion and while that watch is failing.
async fn list(
    ctx: &Context,
    namespace: &str,
    stack: &str,
    fresh: bool,
) -> Result<Vec<ClusterRoleBinding>, Error> {
    let index = ctx.children.cluster_role_bindings();
    if !fresh {
        index
            .wait_ready(super::cache::READY_TIMEOUT)
            .await
            .map_err(Error::CacheNotReady)?;
    }
    if !fresh && index.is_current() {
        return Ok(index.of_stack(namespace, stack));
    }
    let selector = selector(namespace, stack);
    let mut items = api(ctx)
        .list(&ListParams::default().labels(&selector))
        .await
        .api(Verb::List, KIND, selector)?
        .items;
    // Compared as the cache keeps them (`Cached::slim`).
    items.iter_mut().for_each(Cached::slim);
    Ok(items)
}

/// Whether this operator may touch ClusterRoleBindings at all: only an install
/// with cluster-wide collection grants it (a namespaced install grants no
/// cluster-scoped write, nor even the list).
fn granted(ctx: &Context) -> bool {
    ctx.capabilities.cluster_roles.is_some()
}

/// Applies the desired ClusterRoleBindings and deletes the stack's others.
/// Reads them from the cache (no status of theirs tells readiness, so a stack
/// on its way to Ready reads them as a Ready one does, `super::apply::Read`):
/// with none desired and none found, makes no call.
pub async fn sync(
    ctx: &Context,
    stack: &ValidatedStack,
    desired: Vec<ClusterRoleBinding>,
) -> Result<Synced, Error> {
    if !granted(ctx) && desired.is_empty() {
        return Ok(Synced::default());
    }
    let live = list(ctx, &stack.namespace, &stack.name, false).await?;
    let index = ctx.children.cluster_role_bindings();
    let mut out = Synced::default();
    for d in &desired {
        let current = live.iter().find(|l| l.name_any() == d.name_any());
        let (obj, changed) = apply_object(ctx, &api(ctx), d, current).await?;
        if changed {
            out.changed.push(format!("{KIND}/{}", obj.name_any()));
            index.insert(obj);
        }
    }
    for l in &live {
        let name = l.name_any();
        if !desired.iter().any(|d| d.name_any() == name) {
            delete_object(ctx, &api(ctx), &name).await?;
            index.remove("", &name);
            out.pruned.push(format!("{KIND}/{name}"));
        }
    }
    Ok(out)
}

/// Deletes every cluster-scoped child of a deleted stack. An operator installed
/// without cluster-wide collection cannot (a stack that got its bindings from an
/// earlier install with it): it says what to delete by hand, and lets the stack
/// go rather than hold it, and its namespace, forever.
pub async fn delete_all(ctx: &Context, namespace: &str, stack: &str) -> Result<(), Error> {
    if !granted(ctx) {
        tracing::warn!(
            namespace,
            stack,
            "this install may not delete ClusterRoleBindings; delete the stack's by hand: kubectl delete clusterrolebinding -l {}",
            selector(namespace, stack)
        );
        return Ok(());
    }
    for l in list(ctx, namespace, stack, true).await? {
        delete_object(ctx, &api(ctx), &l.name_any()).await?;
        ctx.children
            .cluster_role_bindings()
            .remove("", &l.name_any());
    }
    Ok(())
}
