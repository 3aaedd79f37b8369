//! What every reconcile shares: the client, metrics, the event recorder, what the
//! cluster serves, and per-stack failure counts for backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::error::RetryClass;
use crate::api::ObservabilityStack;
pub use crate::model::Capabilities;
use crate::telemetry::Metrics;
use kube::Client;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::ObjectRef;

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
    pub failures: Mutex<HashMap<ObjectRef<ObservabilityStack>, (RetryClass, u32)>>,
}

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
}
