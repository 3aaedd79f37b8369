//! `TestNamespace`: one fresh, uniquely named namespace per test, with the helpers a
//! test uses inside it (typed APIs, YAML, Secrets, waits with diagnostics). The namespace is
//! deleted on `cleanup()` or, failing that, on drop; deletion is best effort and never
//! waits for the namespace to be gone.

use std::fmt::Debug;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::api::core::v1::{Namespace, Secret};
use k8s_openapi::api::rbac::v1::ClusterRoleBinding;
use kube::api::{DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, Config, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::cluster::Cluster;
use crate::wait::{failure_message, poll};
use crate::{diagnostics, objects};

/// Label on every test namespace, so leftovers can be found:
/// `kubectl delete ns -l e2e.sextant.dev/test`.
pub const TEST_LABEL: &str = "e2e.sextant.dev/test";
/// Set to keep the namespaces of failed tests for inspection.
pub const KEEP_ENV: &str = "SEXTANT_E2E_KEEP_FAILED";

/// How long a delete request on drop may take.
const DROP_DELETE_TIMEOUT: Duration = Duration::from_secs(10);

/// A namespace that belongs to one test.
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
    cluster: Cluster,
    deleted: bool,
}

impl TestNamespace {
    /// Creates a namespace named `e2e-<test>-<random>`; `test` is reduced to a DNS label.
    pub async fn create(cluster: &Cluster, test: &str) -> anyhow::Result<Self> {
        let name = unique_name(test);
        let namespace: Namespace = serde_json::from_value(json!({
            "metadata": {"name": name, "labels": {TEST_LABEL: sanitize(test, 40)}},
        }))?;
        Api::<Namespace>::all(cluster.client().clone())
            .create(&PostParams::default(), &namespace)
            .await?;
        Ok(Self {
            name,
            cluster: cluster.clone(),
            deleted: false,
        })
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The client of the cluster the namespace lives in.
    pub fn client(&self) -> &Client {
        self.cluster.client()
    }

    /// A typed API for namespaced `K` in this namespace.
    pub fn api<K>(&self) -> Api<K>
    where
        K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>,
    {
        Api::namespaced(self.client().clone(), &self.name)
    }

    /// Creates (or replaces) every object of `yaml` in this namespace.
    pub async fn apply_yaml(&self, yaml: &str) -> anyhow::Result<Vec<DynamicObject>> {
        crate::yaml::apply_yaml(self.client(), &self.name, yaml).await
    }

    /// Creates the Secret `name` holding `data` (as `stringData`).
    pub async fn create_secret(&self, name: &str, data: &[(&str, &str)]) -> kube::Result<Secret> {
        self.api::<Secret>()
            .create(&PostParams::default(), &objects::secret(name, data))
            .await
    }

    /// Replaces the Secret `name` with one holding only `data`.
    pub async fn replace_secret(&self, name: &str, data: &[(&str, &str)]) -> kube::Result<Secret> {
        self.api::<Secret>()
            .replace(name, &PostParams::default(), &objects::secret(name, data))
            .await
    }

    /// Waits until `check` yields a value, or fails the test after `timeout` with
    /// `description`, the namespace's workloads and pods as YAML, its events and the
    /// operator/kubelet log tails.
    pub async fn wait_for<T, F>(&self, timeout: Duration, description: &str, check: F) -> T
    where
        F: AsyncFnMut() -> anyhow::Result<Option<T>>,
    {
        match poll(timeout, check).await {
            Ok(value) => value,
            Err(timed_out) => {
                let details = self.report(None).await;
                panic!("{}", failure_message(description, &timed_out, &details))
            }
        }
    }

    /// Waits until the object `name` exists and satisfies `condition`, and returns it.
    /// On timeout the failure shows the object as last seen, then the namespace report.
    pub async fn wait_condition<K, C>(
        &self,
        api: &Api<K>,
        name: &str,
        timeout: Duration,
        description: &str,
        condition: C,
    ) -> K
    where
        K: Resource + Clone + DeserializeOwned + Serialize + Debug,
        C: Fn(&K) -> bool,
    {
        let mut last_seen: Option<K> = None;
        let result = poll(timeout, async || {
            let object = api.get_opt(name).await?;
            let done = object.as_ref().is_some_and(&condition);
            last_seen.clone_from(&object);
            Ok(object.filter(|_| done))
        })
        .await;
        match result {
            Ok(object) => object,
            Err(timed_out) => {
                let seen = match &last_seen {
                    Some(object) => {
                        format!("--- {name} as last seen:\n{}", diagnostics::to_yaml(object))
                    }
                    None => format!("--- {name} was never found\n"),
                };
                let details = self.report(Some(seen)).await;
                panic!("{}", failure_message(description, &timed_out, &details))
            }
        }
    }

    /// Waits until the object `name` no longer exists.
    pub async fn wait_deleted<K>(
        &self,
        api: &Api<K>,
        name: &str,
        timeout: Duration,
        description: &str,
    ) where
        K: Resource + Clone + DeserializeOwned + Debug,
    {
        self.wait_for(timeout, description, async || {
            Ok(api.get_opt(name).await?.is_none().then_some(()))
        })
        .await;
    }

    /// The diagnostics of this namespace, after `first` if given.
    pub async fn report(&self, first: Option<String>) -> String {
        let mut out = first.unwrap_or_default();
        out.push_str(&diagnostics::namespace_report(self.client(), &self.name).await);
        out.push_str(&diagnostics::log_tails(Some(&self.name)));
        out
    }

    /// Deletes the namespace (in the background; it is not awaited to be gone).
    pub async fn cleanup(mut self) -> anyhow::Result<()> {
        self.deleted = true;
        delete_namespace(self.client(), &self.name).await
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        if self.deleted {
            return;
        }
        if std::thread::panicking() && std::env::var_os(KEEP_ENV).is_some() {
            eprintln!(
                "sextant e2e: keeping namespace {} of a failed test ({KEEP_ENV})",
                self.name
            );
            return;
        }
        // The test's runtime (and the client bound to it) may be shutting down, so the
        // delete request gets its own thread, runtime and client.
        let name = self.name.clone();
        let config = self.cluster.config().clone();
        let handle = std::thread::spawn(move || delete_on_fresh_runtime(config, &name));
        if handle.join().is_err() {
            eprintln!("sextant e2e: deleting namespace {} panicked", self.name);
        }
    }
}

fn delete_on_fresh_runtime(config: Config, name: &str) {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => return eprintln!("sextant e2e: cannot delete namespace {name}: {e}"),
    };
    runtime.block_on(async {
        let result = async {
            let client = Client::try_from(config)?;
            tokio::time::timeout(DROP_DELETE_TIMEOUT, delete_namespace(&client, name)).await?
        };
        if let Err(e) = result.await {
            eprintln!("sextant e2e: cannot delete namespace {name}: {e:#}");
        }
    });
}

/// The finalizer sextant holds on a stack while it has cluster-scoped children
/// (`sextant::controller::cluster::CLUSTER_FINALIZER`).
pub const CLUSTER_FINALIZER: &str = "observability.sextant.dev/cluster-cleanup";
/// The label naming the namespace of a cluster-scoped child's stack
/// (`sextant::model::names::STACK_NAMESPACE_LABEL`).
pub const STACK_NAMESPACE_LABEL: &str = "observability.sextant.dev/stack-namespace";

/// Deletes the namespace's stacks' cluster-scoped children (ClusterRoleBindings)
/// and the finalizer that waits for them, then the namespace. A test's operator
/// may be gone by now (killed, or dropped before the namespace), and a stack that
/// still held its finalizer would keep the namespace Terminating and its bindings
/// alive. Tests of the operator's own cleanup delete their stacks while it runs.
async fn delete_namespace(client: &Client, name: &str) -> anyhow::Result<()> {
    let stacks = crate::stack::stacks_in(client, name);
    match stacks
        .delete_collection(&DeleteParams::background(), &Default::default())
        .await
    {
        Ok(_) => {}
        // No stacks API (the CRD is not installed) or the namespace is gone.
        Err(kube::Error::Api(s)) if s.is_not_found() => {}
        Err(e) => return Err(e.into()),
    }
    // A conflict means the operator changed the stack meanwhile: read it again.
    for _ in 0..3 {
        let mut conflict = false;
        let listed = stacks.list(&Default::default()).await;
        for stack in listed.map(|l| l.items).unwrap_or_default() {
            let finalizers = stack.metadata.finalizers.clone().unwrap_or_default();
            if !finalizers.iter().any(|f| f == CLUSTER_FINALIZER) {
                continue;
            }
            let keep: Vec<&String> = finalizers
                .iter()
                .filter(|f| *f != CLUSTER_FINALIZER)
                .collect();
            let patch = json!({"metadata": {
                "finalizers": keep,
                "resourceVersion": stack.metadata.resource_version,
            }});
            let stack_name = stack.metadata.name.clone().unwrap_or_default();
            match stacks
                .patch(&stack_name, &PatchParams::default(), &Patch::Merge(patch))
                .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.is_not_found() => {}
                Err(kube::Error::Api(s)) if s.code == 409 => conflict = true,
                Err(e) => return Err(e.into()),
            }
        }
        if !conflict {
            break;
        }
    }
    let bindings = Api::<ClusterRoleBinding>::all(client.clone());
    let children = ListParams::default().labels(&format!("{STACK_NAMESPACE_LABEL}={name}"));
    bindings
        .delete_collection(&DeleteParams::background(), &children)
        .await?;
    match Api::<Namespace>::all(client.clone())
        .delete(name, &DeleteParams::background())
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.is_not_found() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// `e2e-<test>-<6 random base-36 chars>`, at most 63 characters.
fn unique_name(test: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let seed = format!(
        "{nanos}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let mut hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let mut suffix = String::new();
    for _ in 0..6 {
        let digit = u32::try_from(hash % 36).unwrap_or_default();
        suffix.push(char::from_digit(digit, 36).unwrap_or('0'));
        hash /= 36;
    }
    format!("e2e-{}-{suffix}", sanitize(test, 48))
}

/// Lower-case alphanumerics and dashes, no leading/trailing dash, at most `max` chars.
fn sanitize(text: &str, max: usize) -> String {
    let mapped: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(max)
        .collect();
    let trimmed = mapped.trim_matches('-');
    if trimmed.is_empty() {
        "test".to_owned()
    } else {
        trimmed.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_dns_labels() {
        let a =
            unique_name("StatefulSet_ready::with SPACES and a very long name that goes on and on");
        let b =
            unique_name("StatefulSet_ready::with SPACES and a very long name that goes on and on");
        assert_ne!(a, b);
        for name in [&a, &b] {
            assert!(name.len() <= 63, "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.ends_with('-'), "{name}");
        }
    }
}
