//! The one error type of the controller, and what a failed reconcile does next.
//!
//! Every variant has a metric label and becomes the reason of a Warning event.
//! Failed reconciles back off exponentially per stack, with jitter and a cap that
//! depend on whether the API server answered at all (see [`RetryClass`]).

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

    /// How a retry should pace itself after this error. Validation errors never
    /// reach here (they are a status, not an error).
    pub fn retry_class(&self) -> RetryClass {
        match self {
            Error::Api { source, .. } => match source {
                kube::Error::Api(status) if matches!(status.code, 409 | 429) => RetryClass::Busy,
                kube::Error::Api(status) if status.code >= 500 => RetryClass::Busy,
                // Any other answer of the API server (403, 404, 422...) will come
                // again until the spec, the RBAC or the cluster changes.
                kube::Error::Api(_) => RetryClass::Persistent,
                // No status from the API server: connection refused or reset, TLS,
                // timeouts, and a response body that did not decode.
                _ => RetryClass::Unreachable,
            },
            Error::Serialize { .. } | Error::NoNamespace => RetryClass::Persistent,
        }
    }
}

/// How a failed reconcile is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RetryClass {
    /// The API server did not answer (restarting, network). Retried from 1 s up to
    /// 30 s: nothing is applied while it is away, and a watch that resumes from a
    /// still-valid resourceVersion brings no event, so the retry is what notices
    /// it is back. A refused connection costs the server nothing.
    Unreachable,
    /// The API server answered that it is busy or conflicted (409, 429, 5xx):
    /// from 1 s up to 5 minutes, to take load off it.
    Busy,
    /// Any other error will repeat until something changes: from 1 minute up to
    /// 15 minutes.
    Persistent,
}

impl RetryClass {
    /// First delay and cap, in seconds.
    fn bounds(self) -> (f64, f64) {
        match self {
            RetryClass::Unreachable => (1.0, 30.0),
            RetryClass::Busy => (1.0, 300.0),
            RetryClass::Persistent => (60.0, 900.0),
        }
    }
}

/// Per-stack retry delay after `failures` consecutive failures of one class:
/// exponential from the class's first delay up to its cap, with ±20% jitter so
/// that many failing stacks do not retry in lockstep.
pub fn backoff(failures: u32, class: RetryClass, jitter: f64) -> Duration {
    let (base, cap) = class.bounds();
    let exp = 2f64.powi(failures.saturating_sub(1).min(16) as i32);
    jittered(Duration::from_secs_f64((base * exp).min(cap)), jitter)
}

/// `d` scaled by 0.8 + 0.4 × `jitter` (`jitter` in 0..=1): ±20% around `d`.
pub fn jittered(d: Duration, jitter: f64) -> Duration {
    d.mul_f64(0.8 + 0.4 * jitter.clamp(0.0, 1.0))
}

/// The action after a failure that is the `failures`th in a row of its class.
pub fn retry_action(failures: u32, class: RetryClass) -> Action {
    Action::requeue(backoff(failures, class, rand::random::<f64>()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_caps() {
        use RetryClass::*;
        assert_eq!(backoff(1, Busy, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(2, Busy, 0.5), Duration::from_secs(2));
        assert_eq!(backoff(5, Busy, 0.5), Duration::from_secs(16));
        assert_eq!(backoff(30, Busy, 0.5), Duration::from_secs(300));
        assert_eq!(backoff(1, Unreachable, 0.5), Duration::from_secs(1));
        assert_eq!(backoff(30, Unreachable, 0.5), Duration::from_secs(30));
        assert_eq!(backoff(1, Persistent, 0.5), Duration::from_secs(60));
        assert_eq!(backoff(30, Persistent, 0.5), Duration::from_secs(900));
    }

    fn api_error(code: u16) -> Error {
        Error::Api {
            verb: "apply",
            kind: "Deployment",
            name: "s-collector".into(),
            source: kube::Error::Api(
                kube::core::Status::failure("test", "Test")
                    .with_code(code)
                    .boxed(),
            ),
        }
    }

    #[test]
    fn errors_are_classed_by_what_the_server_said() {
        assert_eq!(api_error(409).retry_class(), RetryClass::Busy);
        assert_eq!(api_error(429).retry_class(), RetryClass::Busy);
        assert_eq!(api_error(503).retry_class(), RetryClass::Busy);
        assert_eq!(api_error(403).retry_class(), RetryClass::Persistent);
        assert_eq!(api_error(404).retry_class(), RetryClass::Persistent);
        assert_eq!(api_error(422).retry_class(), RetryClass::Persistent);
        assert_eq!(Error::NoNamespace.retry_class(), RetryClass::Persistent);
        // What a refused connection looks like: "ServiceError: client error (Connect)".
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let unreachable = Error::Api {
            verb: "get",
            kind: "Secret",
            name: "s".into(),
            source: kube::Error::Service(Box::new(refused)),
        };
        assert_eq!(unreachable.retry_class(), RetryClass::Unreachable);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        assert_eq!(
            backoff(3, RetryClass::Busy, 0.0),
            Duration::from_secs_f64(3.2)
        );
        assert_eq!(
            backoff(3, RetryClass::Busy, 1.0),
            Duration::from_secs_f64(4.8)
        );
    }
}
