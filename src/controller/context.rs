//! What every reconcile shares: the client, metrics, the event recorder, what the
//! cluster serves, the caches of the children, and per-stack failure counts for backoff; and forgetting a
//! deleted stack in both the metrics and the failure counts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;

use super::error::RetryClass;
use crate::api::ObservabilityStack;
pub use crate::model::Capabilities;
use crate::telemetry::Metrics;

/// Shared state of the controller.
pub struct Context {
    /// Client to the Kubernetes API.
    pub client: Client,
    /// Prometheus metrics of the operator.
    pub metrics: Arc<Metrics>,
    /// Publishes Events on stacks.
    pub recorder: Recorder,
    /// What the cluster serves, found by discovery at start; an input of build.
    pub capabilities: Capabilities,
    /// Consecutive failures per stack and their class, for exponential backoff;
    /// reset on success and when the class changes.
    pub failures: Mutex<Failures>,
    /// The stacks' self-checks and their last results.
    pub probes: super::probe::Probes,
    /// The children, as the watches last saw them (`super::cache`).
    pub children: super::cache::Children,
}

/// Consecutive failures per stack and their class.
pub type Failures = HashMap<ObjectRef<ObservabilityStack>, (RetryClass, u32)>;

impl Context {
    /// Records one more failure of a stack and returns how many in a row were of
    /// this class: a stack that failed to connect five times during an API server
    /// restart and then meets a 404 starts the slow backoff from its first step.
    pub fn failed(&self, stack: &ObservabilityStack, class: RetryClass) -> u32 {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let entry = f.entry(ObjectRef::from(stack)).or_insert((class, 0));
        if entry.0 != class {
            *entry = (class, 0);
        }
        entry.1 += 1;
        entry.1
    }

    /// Forgets a stack's failures after a successful reconcile.
    pub fn succeeded(&self, stack: &ObservabilityStack) {
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.remove(&ObjectRef::from(stack));
    }

    /// Forgets a deleted stack: its metrics and its failure count.
    pub fn forget_stack(&self, namespace: &str, name: &str) {
        self.metrics.forget_stack(&format!("{namespace}/{name}"));
        self.probes.forget(&ObjectRef::new(name).within(namespace));
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        f.remove(&ObjectRef::new(name).within(namespace));
    }

    /// Forgets every remembered stack of `namespace` (of every namespace with
    /// `None`) for which `exists(namespace, name)` is false, in the metrics and the
    /// failure counts; returns how many the metrics forgot. Stacks of other
    /// namespaces, which other controllers of this process watch, are left alone.
    pub fn forget_stacks_except(
        &self,
        namespace: Option<&str>,
        mut exists: impl FnMut(&str, &str) -> bool,
    ) -> usize {
        let forgotten = self.metrics.retain_stacks(namespace, &mut exists);
        self.probes.retain(namespace, &mut exists);
        let mut f = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        retain_failures(&mut f, namespace, exists);
        forgotten
    }
}

/// Keeps the failure counts of stacks outside `namespace` (none are outside with
/// `None`) and of those for which `keep(namespace, name)` holds.
fn retain_failures(
    failures: &mut Failures,
    namespace: Option<&str>,
    mut keep: impl FnMut(&str, &str) -> bool,
) {
    failures.retain(|stack, _| {
        let ns = stack.namespace.as_deref().unwrap_or_default();
        namespace.is_some_and(|scope| scope != ns) || keep(ns, &stack.name)
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(stacks: &[(&str, &str)]) -> Failures {
        stacks
            .iter()
            .map(|(ns, name)| (ObjectRef::new(name).within(ns), (RetryClass::Busy, 3)))
            .collect()
    }

    fn names(f: &Failures) -> Vec<String> {
        let mut v: Vec<String> = f
            .keys()
            .map(|r| format!("{}/{}", r.namespace.as_deref().unwrap_or_default(), r.name))
            .collect();
        v.sort();
        v
    }

    #[test]
    fn retain_failures_forgets_only_within_its_namespace() {
        let mut f = failures(&[("a", "x"), ("a", "y"), ("b", "y")]);
        retain_failures(&mut f, Some("a"), |_, name| name != "y");
        assert_eq!(names(&f), ["a/x", "b/y"]);
        assert_eq!(f[&ObjectRef::new("x").within("a")], (RetryClass::Busy, 3));
        retain_failures(&mut f, None, |ns, _| ns == "a");
        assert_eq!(names(&f), ["a/x"]);
        retain_failures(&mut f, None, |_, _| false);
        assert!(f.is_empty());
    }
}
