//! What one reconcile came to. The `Reconciled` condition (status, reason,
//! message) and the Warning event the outcome itself warrants both derive from
//! [`Outcome`], so the two can never disagree.
//!
//! Pure: no client, no clock.

use kube::runtime::events::EventType;

use crate::api::reason;

/// The result of one reconcile, as the `Reconciled` condition reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Every child of the current generation is applied. `dashboards_skipped`:
    /// one line per key of a selected ConfigMap that was not provisioned.
    Applied {
        /// Why each skipped dashboard key was skipped (`ConfigMap/name key k: why`).
        dashboards_skipped: Vec<String>,
    },
    /// The spec did not validate (the field errors); nothing was applied.
    InvalidSpec(String),
    /// The apply step failed (the error's message).
    ApplyFailed(String),
    /// `spec.paused` is true: nothing was read, validated or applied.
    Paused,
    /// Everything else was applied, but a volume size change could not be made
    /// (one line per volume).
    VolumeResizeBlocked(Vec<String>),
}

impl Outcome {
    /// The outcome of an apply that succeeded: a blocked volume change outweighs
    /// skipped dashboards (whose events are still published).
    pub fn after_apply(dashboards_skipped: &[String], blocked: &[String]) -> Self {
        if blocked.is_empty() {
            Outcome::Applied {
                dashboards_skipped: dashboards_skipped.to_vec(),
            }
        } else {
            Outcome::VolumeResizeBlocked(blocked.to_vec())
        }
    }

    /// The `Reconciled` condition's status: whether the current generation is
    /// fully applied.
    pub fn reconciled(&self) -> bool {
        matches!(self, Outcome::Applied { .. })
    }

    /// The `Reconciled` condition's reason.
    pub fn reason(&self) -> &'static str {
        match self {
            Outcome::Applied { .. } => reason::APPLIED,
            Outcome::InvalidSpec(_) => reason::INVALID_SPEC,
            Outcome::ApplyFailed(_) => reason::APPLY_FAILED,
            Outcome::Paused => reason::PAUSED,
            Outcome::VolumeResizeBlocked(_) => reason::VOLUME_RESIZE_BLOCKED,
        }
    }

    /// The `Reconciled` condition's message.
    pub fn message(&self) -> String {
        match self {
            Outcome::Applied { dashboards_skipped } if dashboards_skipped.is_empty() => {
                "the current generation is applied".into()
            }
            Outcome::Applied { dashboards_skipped } => format!(
                "the current generation is applied; dashboards skipped: {}",
                dashboards_skipped.join("; ")
            ),
            Outcome::InvalidSpec(message) | Outcome::ApplyFailed(message) => message.clone(),
            Outcome::Paused => "spec.paused is true: the operator changes none of this stack's children (hand edits stay) until it is false".into(),
            Outcome::VolumeResizeBlocked(blocked) => blocked.join("; "),
        }
    }

    /// The event this outcome publishes when the status it sets is new: its type
    /// and reason (the note is [`Outcome::message`]). An invalid spec has a
    /// Warning, a pause a Normal event; nothing else has one:
    /// a failed apply is reported by the error policy's Warning (named after the
    /// error), and blocked volumes and skipped dashboards are each a
    /// `ReferenceProblem` event; children applied or pruned are events of their own.
    pub fn event(&self) -> Option<(EventType, &'static str)> {
        match self {
            Outcome::InvalidSpec(_) => Some((EventType::Warning, reason::INVALID_SPEC)),
            Outcome::Paused => Some((EventType::Normal, reason::PAUSED)),
            Outcome::Applied { .. } | Outcome::ApplyFailed(_) | Outcome::VolumeResizeBlocked(_) => {
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn condition(o: &Outcome) -> (bool, &'static str, String) {
        (o.reconciled(), o.reason(), o.message())
    }

    #[test]
    fn each_outcome_gives_its_condition() {
        assert_eq!(
            condition(&Outcome::after_apply(&[], &[])),
            (true, "Applied", "the current generation is applied".into())
        );
        let skipped = ["ConfigMap/a key x.json: not valid JSON: eof".to_string()];
        assert_eq!(
            condition(&Outcome::after_apply(&skipped, &[])),
            (
                true,
                "Applied",
                "the current generation is applied; dashboards skipped: \
                 ConfigMap/a key x.json: not valid JSON: eof"
                    .into()
            )
        );
        let blocked = [
            "spec.loki.storage.size: volumes cannot shrink".to_string(),
            "spec.tempo.storage.size: cannot grow".to_string(),
        ];
        assert_eq!(
            condition(&Outcome::after_apply(&skipped, &blocked)),
            (
                false,
                "VolumeResizeBlocked",
                "spec.loki.storage.size: volumes cannot shrink; spec.tempo.storage.size: cannot grow"
                    .into()
            )
        );
        assert_eq!(
            condition(&Outcome::InvalidSpec("metadata.name: too long".into())),
            (false, "InvalidSpec", "metadata.name: too long".into())
        );
        assert_eq!(
            condition(&Outcome::ApplyFailed(
                "apply Deployment s-grafana: 403".into()
            )),
            (
                false,
                "ApplyFailed",
                "apply Deployment s-grafana: 403".into()
            )
        );
    }

    #[test]
    fn only_an_invalid_spec_publishes_its_own_event() {
        assert_eq!(
            Outcome::InvalidSpec("x".into()).event(),
            Some((EventType::Warning, "InvalidSpec"))
        );
        assert_eq!(Outcome::after_apply(&[], &[]).event(), None);
        assert_eq!(Outcome::ApplyFailed("x".into()).event(), None);
        assert_eq!(Outcome::VolumeResizeBlocked(vec!["x".into()]).event(), None);
        assert_eq!(Outcome::Paused.event(), Some((EventType::Normal, "Paused")));
        let (ok, reason, message) = condition(&Outcome::Paused);
        assert_eq!((ok, reason), (false, "Paused"));
        assert!(message.starts_with("spec.paused is true"), "{message}");
    }
}
