//! The operator's own copies of the children it owns, so that a reconcile reads
//! them from memory instead of listing them: one watch per child kind (labelled
//! `app.kubernetes.io/managed-by=sextant`) both fills an [`Index`] and triggers
//! the owning stack's reconcile, and the apply step (`super::apply`) finds a
//! stack's children of a kind by (namespace, stack) in it.
//!
//! What is kept is slimmed ([`Cached::slim`]): no `managedFields`, and the values
//! of a ConfigMap's or a Secret's data replaced by their SHA-256, so that neither
//! the dashboards (about 185 KB per stack) nor any Secret is held in the operator's
//! memory. The drift check compares the desired object slimmed the same way
//! ([`Cached::comparable`]). Each object is then kept as LZ4-compressed JSON
//! ([`Packed`]) and decoded when a reconcile reads it: a stack's children are
//! about 60 KB of JSON, and as Rust structs several times that.
//!
//! While a watch is failing (an API server restart: connection errors, then 410
//! Gone and a relist), its index is not *current* and readers list from the API
//! server instead, as before the cache existed. A watch can also stall without an
//! error: after a restart of kube-apiserver 1.20 some resumed watches delivered
//! nothing for minutes (e2e `faults.rs`); shorter retries and renewing watches
//! every minute were tried and did not help. So each index also knows when its
//! watch last delivered ([`Index::is_live`]), and a stack on its way to Ready
//! reads the workloads it wants (the kinds whose status tells readiness,
//! [`Cached::OBSERVED`]) from the cache only while their watch has delivered
//! within [`LIVE_WITHIN`] (`super::apply::Read`). A Ready stack reads every kind
//! from the cache; its staleness while a watch is silent is not bounded.
//!
//! An index is *ready* after its watch's first complete list; a reconcile waits
//! for every index of its scope ([`Scope::wait_ready`]), or a fresh process would
//! see no children and apply all of them again. After a write, the object the API
//! server returned is put in the index at once ([`Index::insert`]), so that a
//! reconcile that comes before that write's watch event does not write again.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use futures::{Stream, StreamExt, TryStreamExt};
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::autoscaling::v2::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, Role, RoleBinding};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::watch;

use crate::build::custom::{Certificate, HttpRoute};
use crate::digest::sha256_hex;
use crate::model::{Capabilities, STACK_NAMESPACE_LABEL};

/// How long a reconcile waits for the indexes of its scope to be filled before it
/// fails (and is retried): a watch the operator may not open (RBAC) never fills.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// How recently the watch of a kind whose status tells readiness must have
/// delivered for a stack on its way to Ready to read that kind from the cache
/// (`super::apply::Read::Converging`). While pods start, their workloads change
/// every few seconds; a longer silence is either a quiet cluster, where a list
/// is cheap, or a stalled watch.
pub const LIVE_WITHIN: Duration = Duration::from_secs(10);

/// The label selector of every watch of children.
pub const MANAGED: &str = "app.kubernetes.io/managed-by=sextant";

const INSTANCE: &str = "app.kubernetes.io/instance";
const PART_OF: &str = "app.kubernetes.io/part-of";

/// (namespace, stack name): whose child an object is.
pub type StackKey = (String, String);

/// The children of one kind, by the stack they belong to.
pub struct Index<K> {
    kind: &'static str,
    state: RwLock<State<K>>,
    ready: watch::Sender<bool>,
    /// What the watch last did: it decides whether readers trust the contents
    /// or list from the API server instead (`super::apply`).
    delivery: Mutex<Delivery>,
}

/// What a watch of children last did.
#[derive(Clone, Copy)]
enum Delivery {
    /// Nothing yet (its first list is under way: [`Index::wait_ready`]).
    Never,
    /// Delivered an object, a delete or a completed list at this instant (a
    /// write-through does not count).
    At(Instant),
    /// Failed, and has not delivered since (an API server restart: connection
    /// errors, then 410 Gone and a relist): the contents may be stale.
    Failed,
}

struct State<K> {
    /// By stack, then by name.
    by_stack: HashMap<StackKey, BTreeMap<String, Packed>>,
    /// (namespace, name) -> the stack it is filed under, to move or remove it.
    filed: HashMap<(String, String), StackKey>,
    /// The objects of a relist in progress (`Event::Init` .. `Event::InitDone`).
    relist: Option<Vec<Entry>>,
    /// The watch's last error, for the message when the index never fills.
    last_error: Option<String>,
    kind: std::marker::PhantomData<K>,
}

impl<K> Default for State<K> {
    fn default() -> Self {
        Self {
            by_stack: HashMap::new(),
            filed: HashMap::new(),
            relist: None,
            last_error: None,
            kind: std::marker::PhantomData,
        }
    }
}

/// One object as kept: its compact JSON, LZ4-compressed (size prepended).
pub struct Packed(Box<[u8]>);

impl Packed {
    fn pack<K: Serialize>(obj: &K) -> Result<Self, serde_json::Error> {
        let json = serde_json::to_vec(obj)?;
        Ok(Self(
            lz4_flex::compress_prepend_size(&json).into_boxed_slice(),
        ))
    }

    fn unpack<K: DeserializeOwned>(&self) -> Result<K, String> {
        let json = lz4_flex::decompress_size_prepended(&self.0).map_err(|e| e.to_string())?;
        serde_json::from_slice(&json).map_err(|e| e.to_string())
    }

    /// Bytes kept.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is kept (never: the size is prepended).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// An object ready to be filed: where, under whom, and packed.
struct Entry {
    namespace: String,
    name: String,
    key: Option<StackKey>,
    packed: Packed,
}

impl Entry {
    /// Slims and packs an object; `None` (logged) if it does not serialize,
    /// which a value the API server sent always does.
    fn of<K: Cached>(mut obj: K) -> Option<Self> {
        obj.slim();
        match Packed::pack(&obj) {
            Ok(packed) => Some(Self {
                namespace: obj.namespace().unwrap_or_default(),
                name: obj.name_any(),
                key: obj.stack_key(),
                packed,
            }),
            Err(e) => {
                tracing::error!(kind = K::KIND, name = obj.name_any(), %e, "cannot cache object");
                None
            }
        }
    }
}

impl<K: Cached> Index<K> {
    /// An empty index, not ready.
    pub fn new() -> Self {
        Self {
            kind: <K as k8s_openapi::Resource>::KIND,
            state: RwLock::new(State::default()),
            ready: watch::Sender::new(false),
            delivery: Mutex::new(Delivery::Never),
        }
    }

    /// Whether the watch has delivered since its last error: the contents are
    /// as current as the watch.
    pub fn is_current(&self) -> bool {
        !matches!(*self.last_delivery(), Delivery::Failed)
    }

    /// Whether the watch delivered within `within` (and has not failed since):
    /// what a stall without an error (above) does not pass for long.
    pub fn is_live(&self, within: Duration) -> bool {
        matches!(*self.last_delivery(), Delivery::At(t) if t.elapsed() <= within)
    }

    fn last_delivery(&self) -> std::sync::MutexGuard<'_, Delivery> {
        self.delivery.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<K>> {
        self.state.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State<K>> {
        self.state.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The children of stack `namespace/stack`, by name, decoded. An object that
    /// does not decode (a bug) is logged and left out: it is then applied again.
    pub fn of_stack(&self, namespace: &str, stack: &str) -> Vec<K> {
        let state = self.read();
        let Some(objects) = state
            .by_stack
            .get(&(namespace.to_string(), stack.to_string()))
        else {
            return Vec::new();
        };
        objects
            .iter()
            .filter_map(|(name, packed)| match packed.unpack() {
                Ok(obj) => Some(obj),
                Err(e) => {
                    tracing::error!(kind = self.kind, name, %e, "cannot decode cached object");
                    None
                }
            })
            .collect()
    }

    /// Bytes the packed objects take.
    pub fn packed_bytes(&self) -> usize {
        self.read()
            .by_stack
            .values()
            .flat_map(|m| m.values())
            .map(Packed::len)
            .sum()
    }

    /// How many objects the index holds.
    pub fn len(&self) -> usize {
        self.read().filed.len()
    }

    /// Whether the index holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Files an object (slimmed) as the API server last returned or sent it.
    pub fn insert(&self, obj: K) {
        if let Some(entry) = Entry::of(obj) {
            self.write().put(entry);
        }
    }

    /// Forgets an object (deleted).
    pub fn remove(&self, namespace: &str, name: &str) {
        self.write().take(namespace, name);
    }

    /// Marks the index complete without a watch: its kind is not served, so it
    /// has no objects.
    pub fn mark_served_by_none(&self) {
        self.ready.send_replace(true);
    }

    /// Applies one event of the watch.
    pub fn apply(&self, event: &Event<K>) {
        if !matches!(event, Event::Init | Event::InitApply(_)) {
            *self.last_delivery() = Delivery::At(Instant::now());
        }
        match event {
            Event::Apply(obj) => self.insert(obj.clone()),
            Event::Delete(obj) => {
                self.remove(&obj.namespace().unwrap_or_default(), &obj.name_any());
            }
            Event::Init => self.write().relist = Some(Vec::new()),
            Event::InitApply(obj) => {
                if let Some(entry) = Entry::of(obj.clone()) {
                    self.write().relist.get_or_insert_with(Vec::new).push(entry);
                }
            }
            Event::InitDone => {
                {
                    let mut state = self.write();
                    let listed = state.relist.take().unwrap_or_default();
                    state.by_stack.clear();
                    state.filed.clear();
                    state.last_error = None;
                    for obj in listed {
                        state.put(obj);
                    }
                }
                self.ready.send_replace(true);
            }
        }
    }

    /// Records a watch error (kept for the not-ready message).
    pub fn failed(&self, error: &watcher::Error) {
        tracing::warn!(kind = self.kind, %error, "watch of children failed");
        *self.last_delivery() = Delivery::Failed;
        self.write().last_error = Some(error.to_string());
    }

    /// Waits until the index is filled, at most `timeout`.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), NotReady> {
        let mut rx = self.ready.subscribe();
        match tokio::time::timeout(timeout, rx.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(NotReady {
                kind: self.kind,
                last_error: self.read().last_error.clone(),
            }),
        }
    }

    /// The watch of this kind (labelled children, `api`'s scope), filling this
    /// index, as the stream of touched objects a controller's `owns_stream` takes;
    /// kube's default backoff.
    pub fn watch(
        self: Arc<Self>,
        api: Api<K>,
    ) -> impl Stream<Item = Result<K, watcher::Error>> + Send + 'static {
        let on_error = self.clone();
        let config = watcher::Config::default()
            .labels(MANAGED)
            .page_size(K::PAGE);
        watcher::watcher(api, config)
            .default_backoff()
            .inspect_ok(move |event| self.apply(event))
            .inspect_err(move |e| on_error.failed(e))
            .touched_objects()
    }

    /// Runs the watch of this kind until it ends, only filling the index (for
    /// kinds that trigger nothing: the cluster-scoped ClusterRoleBindings).
    pub async fn run(self: Arc<Self>, api: Api<K>) {
        let mut stream = std::pin::pin!(self.watch(api));
        while stream.next().await.is_some() {}
    }
}

impl<K: Cached> Default for Index<K> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Cached> State<K> {
    fn put(&mut self, entry: Entry) {
        let Entry {
            namespace,
            name,
            key,
            packed,
        } = entry;
        self.take(&namespace, &name);
        if let Some(key) = key {
            self.filed.insert((namespace, name.clone()), key.clone());
            self.by_stack.entry(key).or_default().insert(name, packed);
        }
    }

    fn take(&mut self, namespace: &str, name: &str) {
        if let Some(key) = self
            .filed
            .remove(&(namespace.to_string(), name.to_string()))
            && let Some(objects) = self.by_stack.get_mut(&key)
        {
            objects.remove(name);
            if objects.is_empty() {
                self.by_stack.remove(&key);
            }
        }
    }
}

/// An index that was not filled in time.
#[derive(Debug, Clone, thiserror::Error)]
#[error(
    "the operator's cache of {kind} objects is not filled yet{}",
    last_error.as_ref().map(|e| format!(" (its watch failed: {e})")).unwrap_or_default()
)]
pub struct NotReady {
    /// The kind.
    pub kind: &'static str,
    /// The watch's last error.
    pub last_error: Option<String>,
}

/// A child kind the operator caches.
pub trait Cached:
    Resource<DynamicType = ()>
    + k8s_openapi::Resource
    + Clone
    + Serialize
    + DeserializeOwned
    + Debug
    + Send
    + Sync
    + 'static
{
    /// Whose child it is: its namespace and the stack its labels name. `None` for
    /// an object whose labels are not a stack's.
    fn stack_key(&self) -> Option<StackKey> {
        let labels = self.labels();
        if labels.get(PART_OF).map(String::as_str) != Some("sextant") {
            return None;
        }
        Some((self.namespace()?, labels.get(INSTANCE)?.clone()))
    }

    /// Drops what the operator never reads: `managedFields` (and, for ConfigMaps
    /// and Secrets, the data values, replaced by their digests).
    fn slim(&mut self) {
        self.managed_fields_mut().clear();
    }

    /// The object as the drift check compares it with a slimmed live one.
    fn comparable(&self) -> Cow<'_, Self> {
        Cow::Borrowed(self)
    }

    /// This kind's index in a scope.
    fn index(scope: &Scope) -> &Arc<Index<Self>>;

    /// Whether another controller writes a status of this kind that tells the
    /// stack's readiness (the workloads): then a stack on its way to Ready does
    /// not read it from a silent watch (`super::apply::Read`).
    const OBSERVED: bool = false;

    /// Objects per page of the watch's list: ConfigMaps hold the dashboards
    /// (about 185 KB each), and a page is held whole while it is decoded.
    const PAGE: u32 = 500;
}

/// The digest a data value is kept as.
fn digest(bytes: &[u8]) -> String {
    format!("sha256:{}", sha256_hex(bytes))
}

fn digest_bytes(values: &mut BTreeMap<String, ByteString>) {
    for v in values.values_mut() {
        *v = ByteString(digest(&v.0).into_bytes());
    }
}

impl Cached for ConfigMap {
    fn slim(&mut self) {
        self.managed_fields_mut().clear();
        for v in self.data.iter_mut().flat_map(|d| d.values_mut()) {
            *v = digest(v.as_bytes());
        }
        if let Some(b) = self.binary_data.as_mut() {
            digest_bytes(b);
        }
    }

    fn comparable(&self) -> Cow<'_, Self> {
        let mut c = self.clone();
        c.slim();
        Cow::Owned(c)
    }

    fn index(scope: &Scope) -> &Arc<Index<Self>> {
        &scope.config_maps
    }

    const PAGE: u32 = 50;
}

impl Cached for Secret {
    fn slim(&mut self) {
        self.managed_fields_mut().clear();
        if let Some(d) = self.data.as_mut() {
            digest_bytes(d);
        }
        // The API server never returns stringData; a desired object may carry it.
        for v in self.string_data.iter_mut().flat_map(|d| d.values_mut()) {
            *v = digest(v.as_bytes());
        }
    }

    fn comparable(&self) -> Cow<'_, Self> {
        let mut c = self.clone();
        c.slim();
        Cow::Owned(c)
    }

    fn index(scope: &Scope) -> &Arc<Index<Self>> {
        &scope.secrets
    }
}

impl Cached for ClusterRoleBinding {
    /// Cluster-scoped: the stack's namespace is a label.
    fn stack_key(&self) -> Option<StackKey> {
        let labels = self.labels();
        if labels.get(PART_OF).map(String::as_str) != Some("sextant") {
            return None;
        }
        Some((
            labels.get(STACK_NAMESPACE_LABEL)?.clone(),
            labels.get(INSTANCE)?.clone(),
        ))
    }

    fn index(scope: &Scope) -> &Arc<Index<Self>> {
        &scope.cluster_role_bindings
    }
}

/// Declares [`Scope`] with one index per kind; `plain` kinds get the default
/// [`Cached`] methods (their `index` accessor only).
macro_rules! cached {
    (
        special: $($sty:ty => $sfield:ident),* ;
        observed: $($oty:ty => $ofield:ident),* ;
        plain: $($ty:ty => $field:ident),* $(,)?
    ) => {
        /// The indexes of one controller's scope (a namespace, or all of them).
        pub struct Scope {
            $(
                #[doc = concat!("The `", stringify!($sty), "` children.")]
                pub $sfield: Arc<Index<$sty>>,
            )*
            $(
                #[doc = concat!("The `", stringify!($oty), "` children.")]
                pub $ofield: Arc<Index<$oty>>,
            )*
            $(
                #[doc = concat!("The `", stringify!($ty), "` children.")]
                pub $field: Arc<Index<$ty>>,
            )*
            /// The ClusterRoleBindings (one index for every scope).
            pub cluster_role_bindings: Arc<Index<ClusterRoleBinding>>,
        }

        $(
            impl Cached for $oty {
                fn index(scope: &Scope) -> &Arc<Index<Self>> {
                    &scope.$ofield
                }

                const OBSERVED: bool = true;
            }
        )*

        $(
            impl Cached for $ty {
                fn index(scope: &Scope) -> &Arc<Index<Self>> {
                    &scope.$field
                }
            }
        )*

        impl Scope {
            fn new(cluster_role_bindings: Arc<Index<ClusterRoleBinding>>) -> Self {
                Self {
                    $($sfield: Arc::new(Index::new()),)*
                    $($ofield: Arc::new(Index::new()),)*
                    $($field: Arc::new(Index::new()),)*
                    cluster_role_bindings,
                }
            }

            /// Waits until every index of the scope is filled.
            pub async fn wait_ready(&self, timeout: Duration) -> Result<(), NotReady> {
                $(self.$sfield.wait_ready(timeout).await?;)*
                $(self.$ofield.wait_ready(timeout).await?;)*
                $(self.$field.wait_ready(timeout).await?;)*
                self.cluster_role_bindings.wait_ready(timeout).await
            }

            /// Objects held and the bytes they take packed, by kind.
            pub fn sizes(&self) -> Vec<(&'static str, usize, usize)> {
                vec![
                    $((<$sty as k8s_openapi::Resource>::KIND, self.$sfield.len(), self.$sfield.packed_bytes()),)*
                    $((<$oty as k8s_openapi::Resource>::KIND, self.$ofield.len(), self.$ofield.packed_bytes()),)*
                    $((<$ty as k8s_openapi::Resource>::KIND, self.$field.len(), self.$field.packed_bytes()),)*
                ]
            }
        }
    };
}

cached! {
    special: ConfigMap => config_maps, Secret => secrets;
    // What `super::status::observe` reads the readiness of.
    observed: Deployment => deployments, StatefulSet => stateful_sets, DaemonSet => daemon_sets;
    plain:
    ServiceAccount => service_accounts,
    Role => roles,
    RoleBinding => role_bindings,
    Service => services,
    NetworkPolicy => network_policies,
    Ingress => ingresses,
    HorizontalPodAutoscaler => horizontal_pod_autoscalers,
    PodDisruptionBudget => pod_disruption_budgets,
    PersistentVolumeClaim => persistent_volume_claims,
    Certificate => certificates,
    HttpRoute => http_routes,
}

/// Every scope's indexes.
pub struct Children {
    scopes: Vec<(Option<String>, Scope)>,
    cluster_role_bindings: Arc<Index<ClusterRoleBinding>>,
}

impl Children {
    /// Empty indexes for each scope (`None`: all namespaces).
    pub fn new(scopes: &[Option<String>]) -> Self {
        let cluster_role_bindings = Arc::new(Index::new());
        Self {
            scopes: scopes
                .iter()
                .map(|s| (s.clone(), Scope::new(cluster_role_bindings.clone())))
                .collect(),
            cluster_role_bindings,
        }
    }

    /// The indexes of the scope a controller watches.
    pub fn scope(&self, scope: Option<&str>) -> Option<&Scope> {
        self.scopes
            .iter()
            .find(|(s, _)| s.as_deref() == scope)
            .map(|(_, c)| c)
    }

    /// The indexes holding the children of a stack in `namespace`.
    pub fn for_namespace(&self, namespace: &str) -> Option<&Scope> {
        self.scopes
            .iter()
            .find(|(s, _)| s.as_deref().is_none_or(|s| s == namespace))
            .map(|(_, c)| c)
    }

    /// Objects held and their packed bytes, by kind, over every scope.
    pub fn sizes(&self) -> Vec<(&'static str, usize, usize)> {
        let mut total: BTreeMap<&'static str, (usize, usize)> = BTreeMap::new();
        for (_, scope) in &self.scopes {
            for (kind, n, bytes) in scope.sizes() {
                let t = total.entry(kind).or_default();
                t.0 += n;
                t.1 += bytes;
            }
        }
        let crb = &self.cluster_role_bindings;
        total.insert(
            <ClusterRoleBinding as k8s_openapi::Resource>::KIND,
            (crb.len(), crb.packed_bytes()),
        );
        total.into_iter().map(|(k, (n, b))| (k, n, b)).collect()
    }

    /// The index of the cluster-scoped ClusterRoleBindings.
    pub fn cluster_role_bindings(&self) -> &Arc<Index<ClusterRoleBinding>> {
        &self.cluster_role_bindings
    }

    /// Marks the indexes of kinds no watch fills (not served, or not granted)
    /// as complete.
    pub fn mark_unwatched(&self, capabilities: &Capabilities) {
        for (_, scope) in &self.scopes {
            if !capabilities.autoscaling_v2 {
                scope.horizontal_pod_autoscalers.mark_served_by_none();
            }
            if !capabilities.policy_v1 {
                scope.pod_disruption_budgets.mark_served_by_none();
            }
            if !capabilities.certificates {
                scope.certificates.mark_served_by_none();
            }
            if !capabilities.http_routes {
                scope.http_routes.mark_served_by_none();
            }
        }
        if capabilities.cluster_roles.is_none() {
            self.cluster_role_bindings.mark_served_by_none();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ManagedFieldsEntry, ObjectMeta};

    fn config_map(ns: &str, name: &str, stack: &str, value: &str) -> ConfigMap {
        ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.into()),
                namespace: Some(ns.into()),
                labels: Some(crate::model::stack_labels(stack)),
                managed_fields: Some(vec![ManagedFieldsEntry {
                    manager: Some("sextant".into()),
                    ..Default::default()
                }]),
                ..Default::default()
            },
            data: Some(BTreeMap::from([("k".into(), value.into())])),
            ..Default::default()
        }
    }

    fn names(index: &Index<ConfigMap>, ns: &str, stack: &str) -> Vec<String> {
        index
            .of_stack(ns, stack)
            .iter()
            .map(|o| o.name_any())
            .collect()
    }

    #[test]
    fn objects_are_filed_by_namespace_and_stack() {
        let index = Index::<ConfigMap>::new();
        index.apply(&Event::Apply(config_map("a", "s-one", "s", "v")));
        index.apply(&Event::Apply(config_map("a", "s-two", "s", "v")));
        index.apply(&Event::Apply(config_map("b", "s-one", "s", "v")));
        index.apply(&Event::Apply(config_map("a", "t-one", "t", "v")));
        assert_eq!(names(&index, "a", "s"), ["s-one", "s-two"]);
        assert_eq!(names(&index, "b", "s"), ["s-one"]);
        assert_eq!(names(&index, "a", "t"), ["t-one"]);
        // Relabelled to another stack: moved, not duplicated.
        index.apply(&Event::Apply(config_map("a", "s-two", "t", "v")));
        assert_eq!(names(&index, "a", "s"), ["s-one"]);
        assert_eq!(names(&index, "a", "t"), ["s-two", "t-one"]);
        index.apply(&Event::Delete(config_map("a", "s-one", "s", "v")));
        assert!(names(&index, "a", "s").is_empty());
        assert_eq!(index.len(), 3);
        // Labels that are not a stack's: not filed.
        let mut foreign = config_map("a", "x", "s", "v");
        foreign.metadata.labels = Some(BTreeMap::from([(INSTANCE.into(), "s".into())]));
        index.apply(&Event::Apply(foreign));
        assert_eq!(index.len(), 3);
    }

    #[tokio::test]
    async fn a_relist_replaces_everything_and_makes_the_index_ready() {
        let index = Index::<ConfigMap>::new();
        assert!(index.wait_ready(Duration::from_millis(10)).await.is_err());
        index.apply(&Event::Apply(config_map("a", "gone", "s", "v")));
        index.apply(&Event::Init);
        index.apply(&Event::InitApply(config_map("a", "s-one", "s", "v")));
        // Until InitDone, the old contents stay.
        assert_eq!(names(&index, "a", "s"), ["gone"]);
        index.apply(&Event::InitDone);
        assert_eq!(names(&index, "a", "s"), ["s-one"]);
        assert!(index.wait_ready(Duration::from_millis(10)).await.is_ok());
    }

    #[test]
    fn a_failed_watch_makes_the_index_not_current_until_it_delivers() {
        let index = Index::<ConfigMap>::new();
        assert!(index.is_current());
        index.failed(&watcher::Error::NoResourceVersion);
        assert!(!index.is_current());
        index.apply(&Event::Init);
        index.apply(&Event::InitApply(config_map("a", "s-one", "s", "v")));
        assert!(
            !index.is_current(),
            "a relist is not complete before InitDone"
        );
        index.apply(&Event::InitDone);
        assert!(index.is_current());
        index.failed(&watcher::Error::NoResourceVersion);
        index.apply(&Event::Apply(config_map("a", "s-one", "s", "w")));
        assert!(index.is_current());
    }

    #[test]
    fn an_index_is_live_only_while_its_watch_delivers() {
        let index = Index::<Deployment>::new();
        let hour = Duration::from_secs(3600);
        assert!(!index.is_live(hour), "nothing delivered yet");
        index.insert(Deployment {
            metadata: ObjectMeta {
                name: Some("written".into()),
                ..Default::default()
            },
            ..Default::default()
        });
        assert!(!index.is_live(hour), "a write-through is not a delivery");
        index.apply(&Event::Init);
        assert!(!index.is_live(hour), "a relist under way is not a delivery");
        index.apply(&Event::InitDone);
        assert!(index.is_live(hour));
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !index.is_live(Duration::from_millis(10)),
            "a delivery older than the window"
        );
        index.failed(&watcher::Error::NoResourceVersion);
        assert!(!index.is_live(hour), "an error forgets the last delivery");
        index.apply(&Event::Delete(Deployment::default()));
        assert!(index.is_live(hour));
    }

    // The kinds `super::status::observe` reads readiness from, and no other.
    const _: () = assert!(Deployment::OBSERVED && StatefulSet::OBSERVED && DaemonSet::OBSERVED);
    const _: () = assert!(!ConfigMap::OBSERVED && !Secret::OBSERVED && !Service::OBSERVED);
    const _: () = assert!(!PersistentVolumeClaim::OBSERVED && !ClusterRoleBinding::OBSERVED);

    #[tokio::test]
    async fn not_ready_names_the_kind_and_the_watch_error() {
        let index = Index::<Secret>::new();
        index.write().last_error = Some("403 Forbidden".into());
        let err = index
            .wait_ready(Duration::from_millis(10))
            .await
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "the operator's cache of Secret objects is not filled yet (its watch failed: 403 Forbidden)"
        );
    }

    #[test]
    fn data_and_managed_fields_are_not_kept() {
        let index = Index::<ConfigMap>::new();
        let big = "x".repeat(100_000);
        index.apply(&Event::Apply(config_map("a", "s-one", "s", &big)));
        let kept = &index.of_stack("a", "s")[0];
        assert!(
            kept.metadata
                .managed_fields
                .as_ref()
                .is_none_or(Vec::is_empty)
        );
        let value = &kept.data.as_ref().unwrap()["k"];
        assert_eq!(value, &format!("sha256:{}", sha256_hex(big.as_bytes())));
        // The desired object compares in the same form.
        let desired = config_map("a", "s-one", "s", &big);
        assert_eq!(desired.comparable().data, kept.data);
        let other = config_map("a", "s-one", "s", "edited");
        assert_ne!(other.comparable().data, kept.data);

        let mut secret = Secret {
            data: Some(BTreeMap::from([(
                "password".into(),
                ByteString(b"hunter2".to_vec()),
            )])),
            ..Default::default()
        };
        let desired = secret.clone();
        secret.slim();
        let kept = &secret.data.as_ref().unwrap()["password"];
        assert!(!kept.0.windows(7).any(|w| w == b"hunter2"));
        assert_eq!(desired.comparable().data, secret.data);
    }

    #[test]
    fn cluster_role_bindings_are_filed_under_the_stack_namespace_label() {
        let crb = ClusterRoleBinding {
            metadata: ObjectMeta {
                name: Some("sextant:a:s:node-agent".into()),
                labels: Some(crate::model::cluster_child_labels("s", "a")),
                ..Default::default()
            },
            ..Default::default()
        };
        assert_eq!(crb.stack_key(), Some(("a".into(), "s".into())));
        let index = Index::<ClusterRoleBinding>::new();
        index.insert(crb);
        assert_eq!(index.of_stack("a", "s").len(), 1);
        index.remove("", "sextant:a:s:node-agent");
        assert!(index.is_empty());
    }

    #[test]
    fn scopes_are_found_by_namespace() {
        let all = Children::new(&[None]);
        assert!(all.for_namespace("any").is_some());
        let some = Children::new(&[Some("a".into()), Some("b".into())]);
        assert!(some.for_namespace("b").is_some());
        assert!(some.for_namespace("c").is_none());
        assert!(some.scope(Some("a")).is_some());
        assert!(some.scope(None).is_none());
    }
}
