//! The apply step: server-side apply of every child with field manager `sextant`
//! and force, skipping children that already hold what sextant would write; then
//! pruning of labelled children this pass no longer produces.
//!
//! Identity and configuration (ServiceAccounts, RBAC including the stack's
//! ClusterRoleBindings, ConfigMaps, Secrets) go first, concurrently; Services and workloads next, then the autoscaler and the
//! disruption budget. The live children are read from the operator's own cache
//! (`super::cache`), filled by the same watches that trigger reconciles: a
//! reconcile of a converged stack makes no API request at all. A stack on its way
//! to Ready lists its workloads from kube-apiserver's watch cache
//! (`resourceVersion=0`) when their watch has been silent ([`Read`]). What a
//! write returns, and what a delete removed, go into the cache at once.

use std::fmt::Debug;

use futures::future::try_join_all;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::api::{DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::core::Selector;
use kube::{Api, Resource, ResourceExt};
use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::cache::{Cached, Scope};
use super::context::Context;
use super::drift::{annotate, applied_hash, needs_apply};
use super::error::{ApiResultExt, Error, Verb};
use crate::api::{FIELD_MANAGER, default_password_key};
use crate::build::Resources;
use crate::model::{ValidatedStack, stack_labels};

/// What one apply pass did and saw.
#[derive(Debug, Default)]
pub struct Applied {
    /// `Kind/name` of every child created or changed.
    pub changed: Vec<String>,
    /// `Kind/name` of every child deleted.
    pub pruned: Vec<String>,
    /// The workloads as the API server returned or listed them.
    pub deployments: Vec<Deployment>,
    /// The StatefulSets as the API server returned or listed them.
    pub stateful_sets: Vec<StatefulSet>,
    /// The DaemonSets as the API server returned or listed them.
    pub daemon_sets: Vec<DaemonSet>,
    /// Changes that could not be made (a volume that cannot grow or shrink).
    pub blocked: Vec<String>,
}

/// The label selector matching every child of a stack.
pub fn children_selector(stack: &str) -> String {
    Selector::from_iter(stack_labels(stack)).to_string()
}

/// Where a reconcile reads the live children from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Read {
    /// A Ready stack: every kind from the cache while its watch is current
    /// (`Index::is_current`).
    Cache,
    /// A stack on its way to Ready: as [`Read::Cache`], except the kinds whose
    /// status tells readiness (`Cached::OBSERVED`: the workloads), read from the
    /// cache only while their watch has delivered within
    /// [`super::cache::LIVE_WITHIN`], and listed otherwise when the stack wants
    /// an object of that kind. Its progress must not
    /// wait on a silent watch: after a restart of kube-apiserver 1.20 some resumed
    /// watches delivered nothing for minutes (e2e `faults.rs`), and a cache fed
    /// by them said a Deployment had no ready replica long after it had. A silent
    /// watch is also a quiet one; a list then costs one request per such kind.
    Converging,
}

/// Applies the bundle and prunes what is no longer desired.
pub async fn apply(
    ctx: &Context,
    stack: &ValidatedStack,
    resources: Resources,
    read: Read,
) -> Result<Applied, Error> {
    let Resources {
        service_accounts,
        roles,
        role_bindings,
        cluster_role_bindings,
        config_maps,
        generated_secrets,
        rendered_secrets,
        services,
        deployments,
        mut stateful_sets,
        daemon_sets,
        horizontal_pod_autoscalers,
        pod_disruption_budgets,
        network_policies,
        ingresses,
        persistent_volume_claims,
        http_routes,
        certificates,
    } = resources;
    let scope = ctx.children.for_namespace(&stack.namespace);
    if let Some(cache) = scope {
        // A fresh process: until every watch has listed once, an absent child
        // may only be unseen yet.
        cache
            .wait_ready(super::cache::READY_TIMEOUT)
            .await
            .map_err(Error::CacheNotReady)?;
    }
    let kinds = Kinds {
        ctx,
        stack,
        scope,
        read,
    };
    // A RoleBinding may only name a Role that exists when the operator is not
    // allowed to `bind` arbitrary roles (least privilege): Roles go first.
    let role = kinds.sync(roles).await?;
    // The policies before the pods they admit traffic to.
    let netpol = kinds.sync(network_policies).await?;
    let (sa, rb, crb, cm, secret) = tokio::try_join!(
        kinds.sync(service_accounts),
        kinds.sync(role_bindings),
        super::cluster::sync(ctx, stack, cluster_role_bindings),
        kinds.sync(config_maps),
        kinds.sync_secrets(generated_secrets, rendered_secrets),
    )?;
    let live_sets = kinds.list::<StatefulSet>(!stateful_sets.is_empty()).await?;
    let mut blocked = super::volumes::prepare(ctx, stack, &live_sets, &mut stateful_sets).await?;
    // Before the workload that mounts it.
    let (pvc, claims_blocked) = kinds.sync_claims(persistent_volume_claims).await?;
    blocked.extend(claims_blocked);
    // Services with the workloads, not before them: a workload does not need its
    // Service to exist, and kube-apiserver serializes ClusterIP allocation, so
    // under load Services applied first held every workload back.
    // The certificate before the collector that mounts the Secret it fills.
    let cert = kinds.sync(certificates).await?;
    let (svc, sts, deploy, ds) = tokio::try_join!(
        kinds.sync(services),
        kinds.sync_listed(stateful_sets, live_sets),
        kinds.sync(deployments),
        kinds.sync(daemon_sets),
    )?;
    let hpa = kinds.sync(horizontal_pod_autoscalers).await?;
    let pdb = kinds.sync(pod_disruption_budgets).await?;
    let ing = kinds.sync(ingresses).await?;
    let route = kinds.sync(http_routes).await?;
    let mut out = Applied {
        blocked,
        ..Applied::default()
    };
    out.absorb(sa);
    out.absorb(netpol);
    out.absorb(role);
    out.absorb(rb);
    out.changed.extend(crb.changed);
    out.pruned.extend(crb.pruned);
    out.absorb(cm);
    out.absorb(secret);
    out.absorb(svc);
    out.absorb(hpa);
    out.absorb(pdb);
    out.absorb(ing);
    out.absorb(pvc);
    out.absorb(cert);
    out.absorb(route);
    out.stateful_sets = out.absorb(sts);
    out.deployments = out.absorb(deploy);
    out.daemon_sets = out.absorb(ds);
    Ok(out)
}

impl Applied {
    fn absorb<K>(&mut self, synced: Synced<K>) -> Vec<K> {
        self.changed.extend(synced.changed);
        self.pruned.extend(synced.pruned);
        synced.objects
    }
}

/// The result of syncing one kind.
struct Synced<K> {
    objects: Vec<K>,
    changed: Vec<String>,
    pruned: Vec<String>,
}

impl<K> Default for Synced<K> {
    fn default() -> Self {
        Self {
            objects: Vec::new(),
            changed: Vec::new(),
            pruned: Vec::new(),
        }
    }
}

/// What the apply step needs of a namespaced child kind: a cached one
/// (`super::cache::Cached`, which brings `k8s_openapi::Resource` for its `KIND`,
/// the name in messages and metrics) that lives in a namespace.
trait Child: Cached + Resource<Scope = NamespaceResourceScope> {}

impl<K> Child for K where K: Cached + Resource<Scope = NamespaceResourceScope> {}

/// Whether a kind's index may be read for a stack read as `read` that desires
/// some object of the kind (`wanted`). A kind the stack wants none of has no
/// status to observe, only leftovers to prune: its watch may be silent (a
/// loki-only stack's Deployments; at 1,000 converging stacks, listing such kinds
/// on every reconcile saturated kube-apiserver, BENCHMARKS.md).
fn trusted<K: Cached>(index: &super::cache::Index<K>, read: Read, wanted: bool) -> bool {
    index.is_current()
        && (read == Read::Cache
            || !K::OBSERVED
            || !wanted
            || index.is_live(super::cache::LIVE_WITHIN))
}

struct Kinds<'a> {
    ctx: &'a Context,
    stack: &'a ValidatedStack,
    /// The cache of the stack's scope, read and written through; `None` for a
    /// stack outside every watched namespace (which no controller hands to
    /// reconcile).
    scope: Option<&'a Scope>,
    /// How far the cache is trusted.
    read: Read,
}

impl Kinds<'_> {
    fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.ctx.client.clone(), &self.stack.namespace)
    }

    /// The stack's live children of one kind: from the cache, or, where
    /// [`Read`] does not trust it, listed from kube-apiserver's watch cache
    /// (`resourceVersion=0`). `wanted`: the stack desires some object of this
    /// kind (else no status of it is read, only what to prune).
    async fn list<K>(&self, wanted: bool) -> Result<Vec<K>, Error>
    where
        K: Child,
    {
        match self.scope.map(K::index) {
            Some(index) if trusted(index, self.read, wanted) => {
                Ok(index.of_stack(&self.stack.namespace, &self.stack.name))
            }
            _ => {
                let selector = children_selector(&self.stack.name);
                let mut items = self
                    .api::<K>()
                    .list(&ListParams::default().labels(&selector).match_any())
                    .await
                    .api(Verb::List, K::KIND, selector)?
                    .items;
                // Compared as the cache keeps them (`Cached::comparable`).
                items.iter_mut().for_each(Cached::slim);
                Ok(items)
            }
        }
    }

    /// Applies every desired object of one kind (concurrently), then deletes the
    /// listed children of that kind this stack owns but no longer wants.
    /// A kind the server does not serve has nothing to apply (build made none for
    /// it) and nothing to prune.
    async fn sync<K>(&self, desired: Vec<K>) -> Result<Synced<K>, Error>
    where
        K: Child,
    {
        if !self.ctx.capabilities.serves(&K::api_version(&())) {
            return Ok(Synced::default());
        }
        let live = self.list::<K>(!desired.is_empty()).await?;
        self.sync_listed(desired, live).await
    }

    /// `sync` with the live children of that kind already listed.
    async fn sync_listed<K>(&self, desired: Vec<K>, live: Vec<K>) -> Result<Synced<K>, Error>
    where
        K: Child,
    {
        let mut out = self.apply_all(&desired, &live).await?;
        let wanted: Vec<String> = desired.iter().map(ResourceExt::name_any).collect();
        out.pruned = self.prune(&live, &wanted).await?;
        Ok(out)
    }

    /// Applies every desired object of one kind (concurrently); prunes nothing.
    async fn apply_all<K>(&self, desired: &[K], live: &[K]) -> Result<Synced<K>, Error>
    where
        K: Child,
    {
        let results = try_join_all(desired.iter().map(|d| self.apply_one(d, live))).await?;
        let mut out = Synced::default();
        for (obj, changed) in results {
            if changed {
                out.changed.push(format!("{}/{}", K::KIND, obj.name_any()));
            }
            out.objects.push(obj);
        }
        Ok(out)
    }

    /// Deletes the listed children this stack owns whose names are not `wanted`;
    /// returns `Kind/name` of each.
    async fn prune<K>(&self, live: &[K], wanted: &[String]) -> Result<Vec<String>, Error>
    where
        K: Child,
    {
        let mut pruned = Vec::new();
        for obj in live
            .iter()
            .filter(|o| !wanted.contains(&o.name_any()) && self.owns(*o))
        {
            self.delete(obj).await?;
            pruned.push(format!("{}/{}", K::KIND, obj.name_any()));
        }
        Ok(pruned)
    }

    /// Whether this stack is the controller owner of an object (so pruning never
    /// touches objects that only carry similar labels).
    fn owns<K: Resource>(&self, obj: &K) -> bool {
        let Some(owner) = &self.stack.owner else {
            return false;
        };
        obj.owner_references()
            .iter()
            .any(|r| r.uid == owner.uid && r.controller == Some(true))
    }

    async fn apply_one<K>(&self, desired: &K, live: &[K]) -> Result<(K, bool), Error>
    where
        K: Child,
    {
        let current = live.iter().find(|l| l.name_any() == desired.name_any());
        let (obj, changed) = apply_object(self.ctx, &self.api::<K>(), desired, current).await?;
        if changed && let Some(c) = self.scope {
            K::index(c).insert(obj.clone());
        }
        Ok((obj, changed))
    }

    async fn delete<K>(&self, obj: &K) -> Result<(), Error>
    where
        K: Child,
    {
        let name = obj.name_any();
        delete_object(self.ctx, &self.api::<K>(), &name).await?;
        if let Some(c) = self.scope {
            K::index(c).remove(&self.stack.namespace, &name);
        }
        Ok(())
    }

    /// The claims sextant creates itself: created, grown where they can grow
    /// (`volumes::prepare_claims`), never pruned. No list while there are none.
    async fn sync_claims(
        &self,
        mut desired: Vec<PersistentVolumeClaim>,
    ) -> Result<(Synced<PersistentVolumeClaim>, Vec<String>), Error> {
        if desired.is_empty() {
            return Ok((Synced::default(), Vec::new()));
        }
        let live = self.list::<PersistentVolumeClaim>(true).await?;
        let blocked = super::volumes::prepare_claims(
            self.ctx,
            &live,
            &mut desired,
            "spec.grafana.storage.size",
        )
        .await?;
        Ok((self.apply_all(&desired, &live).await?, blocked))
    }

    /// Both kinds of Secret this stack owns, from one list: generated ones are
    /// created once and never overwritten, rendered ones are applied like any other
    /// child; owned Secrets that are neither are pruned.
    async fn sync_secrets(
        &self,
        generated: Vec<Secret>,
        rendered: Vec<Secret>,
    ) -> Result<Synced<Secret>, Error> {
        let live = self.list::<Secret>(true).await?;
        let wanted: Vec<String> = generated
            .iter()
            .chain(&rendered)
            .map(ResourceExt::name_any)
            .collect();
        let mut out = self.create_secrets(generated, &live).await?;
        let applied = self.apply_all(&rendered, &live).await?;
        out.changed.extend(applied.changed);
        out.objects.extend(applied.objects);
        out.pruned = self.prune(&live, &wanted).await?;
        Ok(out)
    }

    /// Creates each generated Secret once, with a fresh random password; an
    /// existing one is never overwritten.
    async fn create_secrets(
        &self,
        desired: Vec<Secret>,
        live: &[Secret],
    ) -> Result<Synced<Secret>, Error> {
        let mut out = Synced::default();
        for mut secret in desired {
            let name = secret.name_any();
            if let Some(existing) = live.iter().find(|s| s.name_any() == name) {
                out.objects.push(existing.clone());
                continue;
            }
            let password = Alphanumeric.sample_string(&mut rand::rng(), 32);
            secret
                .string_data
                .get_or_insert_with(Default::default)
                .insert(default_password_key(), password);
            let created = self
                .api::<Secret>()
                .create(&PostParams::default(), &secret)
                .await
                .exists_ok()
                .api(
                    Verb::Create,
                    <Secret as k8s_openapi::Resource>::KIND,
                    name.as_str(),
                )?;
            if let Some(created) = created {
                if let Some(c) = self.scope {
                    Secret::index(c).insert(created.clone());
                }
                self.ctx.metrics.write(
                    <Secret as k8s_openapi::Resource>::KIND,
                    Verb::Create.as_str(),
                );
                out.changed.push(format!(
                    "{}/{name}",
                    <Secret as k8s_openapi::Resource>::KIND
                ));
                out.objects.push(created);
            }
        }
        Ok(out)
    }
}

/// An object as JSON with its `apiVersion` and `kind`. k8s-openapi's types write
/// them; the custom kinds of `crate::build::custom` (HTTPRoute, Certificate) do not,
/// so both the desired and the live object get them here, or a live custom child
/// would never compare equal and be applied again on every reconcile.
fn typed_value<K>(obj: &K) -> Result<Value, serde_json::Error>
where
    K: Resource<DynamicType = ()> + Serialize,
{
    let mut value = serde_json::to_value(obj)?;
    if let Some(o) = value.as_object_mut() {
        o.insert("apiVersion".into(), K::api_version(&()).into());
        o.insert("kind".into(), K::kind(&()).into());
    }
    Ok(value)
}

/// The desired object as it is sent, its applied-hash, and why it must be
/// applied (`None`: the live one already holds it).
struct Compared {
    value: Value,
    hash: String,
    why: Option<&'static str>,
}

/// Compares a desired object with the live one as the cache keeps it (slimmed:
/// `Cached::slim`), the desired one slimmed the same way for the comparison; a
/// kind that slims nothing but managedFields is not copied.
fn compare<K: Cached>(desired: &K, current: Option<&K>) -> Result<Compared, serde_json::Error> {
    let value = typed_value(desired)?;
    let hash = applied_hash(&value);
    let Some(current) = current else {
        return Ok(Compared {
            value,
            hash,
            why: Some("absent"),
        });
    };
    let live = typed_value(current)?;
    let compared = match desired.comparable() {
        std::borrow::Cow::Borrowed(_) => None,
        std::borrow::Cow::Owned(c) => Some(typed_value(&c)?),
    };
    let why = if !needs_apply(compared.as_ref().unwrap_or(&value), &hash, Some(&live)) {
        None
    } else if super::drift::live_hash(&live) != Some(hash.as_str()) {
        Some("spec changed")
    } else {
        Some("drifted")
    };
    Ok(Compared { value, hash, why })
}

/// Server-side applies one object through `api` unless `current` (the live one)
/// already holds what sextant would write; returns the object and whether it was
/// written. Namespaced children and the cluster-scoped ones
/// (`super::cluster`) alike.
pub(super) async fn apply_object<K>(
    ctx: &Context,
    api: &Api<K>,
    desired: &K,
    current: Option<&K>,
) -> Result<(K, bool), Error>
where
    K: Cached,
{
    let name = desired.name_any();
    let kind = <K as k8s_openapi::Resource>::KIND;
    let serialize_error = |source| Error::Serialize {
        kind,
        name: name.clone(),
        source,
    };
    let Compared {
        mut value,
        hash,
        why,
    } = compare(desired, current).map_err(serialize_error)?;
    let why = match (why, current) {
        (None, Some(live)) => return Ok((live.clone(), false)),
        // `compare` says "absent" for no live object.
        (why, _) => why.unwrap_or("absent"),
    };
    tracing::debug!(kind, name, why, "applying");
    annotate(&mut value, &hash);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    let applied = api.patch(&name, &params, &Patch::Apply(&value)).await.api(
        Verb::Apply,
        kind,
        name.as_str(),
    )?;
    ctx.metrics.write(kind, Verb::Apply.as_str());
    Ok((applied, true))
}

/// Deletes one object through `api` (background propagation); one already gone
/// is not an error.
pub(super) async fn delete_object<K>(ctx: &Context, api: &Api<K>, name: &str) -> Result<(), Error>
where
    K: Resource<DynamicType = ()> + k8s_openapi::Resource + Clone + DeserializeOwned + Debug,
{
    let kind = <K as k8s_openapi::Resource>::KIND;
    let deleted = api
        .delete(name, &DeleteParams::background())
        .await
        .absent_ok()
        .api(Verb::Delete, kind, name)?;
    if deleted.is_some() {
        ctx.metrics.write(kind, Verb::Delete.as_str());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::build::custom::{CertIssuerRef, Certificate, CertificateSpec};
    use k8s_openapi::api::core::v1::ConfigMap;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    use std::collections::BTreeMap;

    /// A live child read back as sextant applied it: same object, with the
    /// applied-hash annotation.
    fn live_as_applied<K: Resource<DynamicType = ()> + Serialize + DeserializeOwned>(
        desired: &K,
    ) -> (Value, String, Value) {
        let value = typed_value(desired).unwrap();
        let hash = applied_hash(&value);
        let mut applied = value.clone();
        annotate(&mut applied, &hash);
        let live: K = serde_json::from_value(applied).unwrap();
        (value, hash, typed_value(&live).unwrap())
    }

    #[test]
    fn a_converging_stack_reads_a_silent_watch_of_workloads_past_the_cache() {
        use super::super::cache::Index;
        use kube::runtime::watcher::{Error as WatchError, Event};
        let (deployments, config_maps) = (Index::<Deployment>::new(), Index::<ConfigMap>::new());
        // Filled by a first list long ago (here: a watch that never delivered).
        for read in [Read::Cache, Read::Converging] {
            assert!(
                trusted(&config_maps, read, true),
                "{read:?}: no status is read"
            );
        }
        assert!(trusted(&deployments, Read::Cache, true));
        assert!(
            !trusted(&deployments, Read::Converging, true),
            "a workload watch silent for longer than LIVE_WITHIN"
        );
        assert!(
            trusted(&deployments, Read::Converging, false),
            "no Deployment wanted: nothing observed, only pruned"
        );
        deployments.apply(&Event::InitDone);
        assert!(
            trusted(&deployments, Read::Converging, true),
            "just delivered"
        );
        deployments.failed(&WatchError::NoResourceVersion);
        config_maps.failed(&WatchError::NoResourceVersion);
        for read in [Read::Cache, Read::Converging] {
            for wanted in [true, false] {
                assert!(
                    !trusted(&deployments, read, wanted),
                    "{read:?}: a failing watch"
                );
                assert!(
                    !trusted(&config_maps, read, wanted),
                    "{read:?}: a failing watch"
                );
            }
        }
    }

    #[test]
    fn a_cached_config_map_compares_by_the_digests_of_its_data() {
        let desired = ConfigMap {
            metadata: ObjectMeta {
                name: Some("s-grafana-dashboards-0".into()),
                ..Default::default()
            },
            data: Some(BTreeMap::from([(
                "d.json".into(),
                "{\"big\": 1}".repeat(1000),
            )])),
            ..Default::default()
        };
        let (_, _, live) = live_as_applied(&desired);
        let mut cached: ConfigMap = serde_json::from_value(live).unwrap();
        cached.slim();
        assert_ne!(cached.data, desired.data, "the cache keeps digests");
        let c = compare(&desired, Some(&cached)).unwrap();
        assert_eq!(c.why, None);
        // What is sent is the full object, not the digests.
        assert_eq!(
            c.value["data"]["d.json"],
            desired.data.as_ref().unwrap()["d.json"]
        );
        // A hand edit of the live data is drift; a new desired value a new spec.
        let mut edited = cached.clone();
        edited.data = Some(BTreeMap::from([("d.json".into(), "sha256:0".into())]));
        assert_eq!(
            compare(&desired, Some(&edited)).unwrap().why,
            Some("drifted")
        );
        let mut changed = desired.clone();
        changed.data = Some(BTreeMap::from([("d.json".into(), "{}".into())]));
        assert_eq!(
            compare(&changed, Some(&cached)).unwrap().why,
            Some("spec changed")
        );
        assert_eq!(compare(&desired, None).unwrap().why, Some("absent"));
    }

    #[test]
    fn an_unchanged_custom_child_is_not_applied_again() {
        let cert = Certificate {
            metadata: ObjectMeta {
                name: Some("s-collector-tls".into()),
                ..Default::default()
            },
            spec: CertificateSpec {
                secret_name: "otlp-tls".into(),
                dns_names: vec!["s-collector".into()],
                issuer_ref: CertIssuerRef {
                    name: "ca".into(),
                    kind: "ClusterIssuer".into(),
                    group: "cert-manager.io".into(),
                },
                duration: None,
                renew_before: None,
            },
        };
        let (desired, hash, live) = live_as_applied(&cert);
        assert_eq!(live["kind"], "Certificate");
        assert_eq!(live["apiVersion"], "cert-manager.io/v1");
        assert!(!needs_apply(&desired, &hash, Some(&live)));
        // Without the type fields on the live side (as before), it always differed.
        let mut untyped = live.clone();
        untyped.as_object_mut().unwrap().remove("kind");
        assert!(needs_apply(&desired, &hash, Some(&untyped)));
        // A k8s-openapi kind behaves the same.
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some("c".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        let (desired, hash, live) = live_as_applied(&cm);
        assert!(!needs_apply(&desired, &hash, Some(&live)));
    }
}
