//! The one error type of the controller, and what a failed reconcile does next.
//!
//! Every variant has a metric label and becomes the reason of a Warning event.
//! Transient failures back off exponentially per stack, with jitter and a cap.

use std::time::Duration;

use kube::runtime::controller::Action;

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the Kubernetes API failed.
    #[error("{verb} {kind} {name}: {source}")]
    Api {
        /// What was attempted: apply, delete, list, get, patch-status, create.
        verb: &'static str,
        /// The kind of object.
        kind: &'static str,
        /// The object's name (or a label selector for lists).
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// An object could not be serialized (a bug, not bad input).
    #[error("serializing {kind} {name}: {source}")]
    Serialize {
        /// The kind of object.
        kind: &'static str,
        /// Its name.
        name: String,
        /// The serde error.
        #[source]
        source: serde_json::Error,
    },
    /// The stack has no namespace (it is a namespaced resource: this is a bug).
    #[error("the stack has no namespace")]
    NoNamespace,
}

impl Error {
    /// Low-cardinality label for metrics and the Warning event's reason.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Api { verb: "apply", .. } => "ApplyFailed",
            Error::Api { verb: "delete", .. } => "PruneFailed",
            Error::Api {
                verb: "patch-status",
                ..
            } => "StatusUpdateFailed",
            Error::Api { .. } => "APIRequestFailed",
            Error::Serialize { .. } => "SerializeFailed",
            Error::NoNamespace => "NoNamespace",
        }
    }

    /// Whether retrying can help. Validation errors never reach here (they are a
    /// status, not an error); a 4xx other than conflict or throttling will fail again
    /// the same way until the spec or cluster changes, so it retries slowly.
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Api { source, .. } => match source {
                kube::Error::Api(status) => matches!(status.code, 409 | 429) || status.code >= 500,
                _ => true,
            },
            _ => false,
        }
    }
}

/// Per-stack retry delay after `failures` consecutive failures: exponential from
/// 1 s, capped at 5 minutes (transient) or starting at 1 minute (persistent), with
/// ±20% jitter so that many failing stacks do not retry in lockstep.
pub fn backoff(failures: u32, transient: bool, jitter: f64) -> Duration {
    let (base, cap) = if transient {
        (1.0, 300.0)
    } else {
        (60.0, 900.0)
    };
    let exp = 2f64.powi(failures.saturating_sub(1).min(16) as i32);
    let secs = (base * exp).min(cap) * (0.8 + 0.4 * jitter.clamp(0.0, 1.0));
    Duration::from_secs_f64(secs)
}

/// The action after a failure.
pub fn retry_action(failures: u32, err: &Error) -> Action {
    Action::requeue(backoff(failures, err.is_transient(), rand::random::<f64>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        assert_eq!(backoff(1, true, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(2, true, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(5, true, 0.5), Duration::from_secs(16));
        assert_eq!(backoff(30, true, 0.5), Duration::from_secs(300));
        assert_eq!(backoff(1, false, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(30, false, 0.5), Duration::from_secs(900));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        assert_eq!(backoff(3, true, 0.0), Duration::from_secs_f64(3.2));
        assert_eq!(backoff(3, true, 1.0), Duration::from_secs_f64(4.8));
    }
}
