//! The prometheus-operator monitors a stack selects, as the controller read them:
//! the objects (`monitoring.coreos.com/v1` ServiceMonitors and PodMonitors) and
//! the Secrets and ConfigMaps they reference. `crate::render::monitors`
//! translates them; this module only holds them, so that every layer can.

use std::collections::BTreeMap;
use std::fmt;

/// The two kinds of monitor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MonitorKind {
    /// `monitoring.coreos.com/v1` `ServiceMonitor`.
    ServiceMonitor,
    /// `monitoring.coreos.com/v1` `PodMonitor`.
    PodMonitor,
}

impl MonitorKind {
    /// The kind, as in `kind:`.
    pub fn as_str(self) -> &'static str {
        match self {
            MonitorKind::ServiceMonitor => "ServiceMonitor",
            MonitorKind::PodMonitor => "PodMonitor",
        }
    }

    /// The resource's plural name.
    pub fn plural(self) -> &'static str {
        match self {
            MonitorKind::ServiceMonitor => "servicemonitors",
            MonitorKind::PodMonitor => "podmonitors",
        }
    }
}

/// One monitor object as read from the API server.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    /// Its kind.
    pub kind: MonitorKind,
    /// `metadata.namespace`.
    pub namespace: String,
    /// `metadata.name`.
    pub name: String,
    /// `spec`, as the API server returned it.
    pub spec: serde_json::Value,
}

/// What the operator read: for each referenced object (config_map flag,
/// namespace, name), its data (Secret data decoded to UTF-8 String; a non-UTF-8
/// value counts as missing), or None when the object does not exist.
pub type Referenced = BTreeMap<(bool, String, String), Option<BTreeMap<String, String>>>;

/// The monitors a stack selects, as read, and the Secrets and ConfigMaps they
/// reference (their values go only into the Secret Prometheus mounts).
#[derive(Clone, Default, PartialEq)]
pub struct MonitorsRead {
    /// The selected ServiceMonitors and PodMonitors.
    pub objects: Vec<Monitor>,
    /// Every object of `crate::render::monitors::references`, read.
    pub referenced: Referenced,
}

impl fmt::Debug for MonitorsRead {
    // Names only: referenced Secrets' data never reaches a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorsRead")
            .field(
                "objects",
                &self
                    .objects
                    .iter()
                    .map(|m| format!("{} {}/{}", m.kind.as_str(), m.namespace, m.name))
                    .collect::<Vec<_>>(),
            )
            .field("referenced", &self.referenced.keys().collect::<Vec<_>>())
            .finish()
    }
}
