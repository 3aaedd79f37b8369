//! Replicas of Loki and Tempo beyond one: only on the object store, never two,
//! and Loki without a schema period left on the first replica's volume.
//!
//! Two replicas are refused because both Loki and Tempo replicate a write to 3
//! ring members when clustered (`crate::render::loki`, `crate::render::tempo`)
//! and dskit needs a quorum of `replication_factor / 2 + 1` of them alive,
//! counting the missing third (grafana/loki v3.7.6
//! `vendor/github.com/grafana/dskit/ring/replication_strategy.go`,
//! `defaultReplicationStrategy.Filter`: the factor is raised to the replica set's
//! size, never lowered to it): with two pods, either one down stops ingestion,
//! which is no better than one pod.

use super::Validator;
use crate::api::ObservabilityStackSpec;

impl Validator {
    pub(super) fn replicas(&mut self, spec: &ObservabilityStackSpec) {
        let store = spec.storage.object_store.as_ref();
        let backends = [
            (
                "spec.loki.replicas",
                spec.loki.enabled,
                spec.loki.replicas,
                "chunks",
            ),
            (
                "spec.tempo.replicas",
                spec.tempo.enabled,
                spec.tempo.replicas,
                "blocks",
            ),
        ];
        for (path, enabled, replicas, data) in backends {
            if !enabled || replicas <= 1 {
                continue;
            }
            if store.is_none() {
                self.err(
                    path,
                    format!(
                        "more than 1 needs spec.storage.objectStore: on volumes each replica would \
                         keep its own {data}, which the others cannot read"
                    ),
                );
            } else if replicas == 2 {
                self.err(
                    path,
                    "must be 0, 1, or 3 or more: replicas keep 3 copies of each write and need 2 \
                     of them, so with 2 replicas either one down stops ingestion",
                );
            }
        }
        if spec.loki.enabled
            && spec.loki.replicas > 1
            && let Some(day) = store.and_then(|o| o.logs_since.as_ref())
        {
            self.err(
                "spec.storage.objectStore.logsSince",
                format!(
                    "is for one Loki replica: the logs before {day} stay on the first replica's \
                     volume, which the others cannot read; keep spec.loki.replicas at 1 until they \
                     are past retention, then remove logsSince and scale"
                ),
            );
        }
    }
}
