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

async fn list(
    ctx: &Context,
    namespace: &str,
    stack: &str,
) -> Result<Vec<ClusterRoleBinding>, Error> {
    let selector = selector(namespace, stack);
    api(ctx)
        .list(&ListParams::default().labels(&selector).match_any())
        .await
        .map(|l| l.items)
        .api(Verb::List, KIND, selector)
}

/// Whether this operator may touch ClusterRoleBindings at all: only an install
/// with cluster-wide collection grants it (a namespaced install grants no
/// cluster-scoped write, nor even the list).
fn granted(ctx: &Context) -> bool {
    ctx.capabilities.cluster_roles.is_some()
}

/// Applies the desired ClusterRoleBindings and deletes the stack's others.
/// With none desired and none found, makes one list call and nothing else; an
/// operator without cluster-wide collection (which never desires one) makes none.
pub async fn sync(
    ctx: &Context,
    stack: &ValidatedStack,
    desired: Vec<ClusterRoleBinding>,
) -> Result<Synced, Error> {
    if !granted(ctx) && desired.is_empty() {
        return Ok(Synced::default());
    }
    let live = list(ctx, &stack.namespace, &stack.name).await?;
    let mut out = Synced::default();
    for d in &desired {
        let current = live.iter().find(|l| l.name_any() == d.name_any());
        let (obj, changed) = apply_object(ctx, &api(ctx), d, current).await?;
        if changed {
            out.changed.push(format!("{KIND}/{}", obj.name_any()));
        }
    }
    for l in &live {
        let name = l.name_any();
        if !desired.iter().any(|d| d.name_any() == name) {
            delete_object(ctx, &api(ctx), &name).await?;
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
    for l in list(ctx, namespace, stack).await? {
        delete_object(ctx, &api(ctx), &l.name_any()).await?;
    }
    Ok(())
}
