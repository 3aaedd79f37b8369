//! The one error type of the controller, and what a failed reconcile does next.
//!
//! Every variant has a metric label and becomes the reason of a Warning event.
//! API calls name what they attempted with a typed [`Verb`]; [`ApiResultExt`]
//! turns a `kube::Error` into an [`Error::Api`] and lets a delete of something
//! already gone, or a create of something that exists, count as done.
//! Failed reconciles back off exponentially per stack, with jitter and a cap that
//! depend on whether the API server answered at all (see [`RetryClass`]).

use std::time::Duration;

use kube::runtime::controller::Action;

/// What a call to the Kubernetes API attempted. Its lowercase name (`Display`,
/// [`Verb::as_str`]) appears in error messages and in the `verb` label of
/// `sextant_api_writes_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verb {
    /// Server-side apply of a child.
    Apply,
    /// Creation of an object that is written once (a generated Secret), or an Event.
    Create,
    /// A read of one object.
    Get,
    /// A list by label selector.
    List,
    /// A merge or JSON patch (a claim's size, the stack's finalizers as written).
    Patch,
    /// The server-side apply of the stack's status subresource.
    PatchStatus,
    /// A JSON patch of the stack's finalizers (the error's verb; the write is
    /// counted as a `patch`).
    PatchFinalizers,
    /// A deletion (pruning, volume cleanup, re-creating a StatefulSet).
    Delete,
}

impl Verb {
    /// The lowercase name, as messages and metric labels show it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verb::Apply => "apply",
            Verb::Create => "create",
            Verb::Get => "get",
            Verb::List => "list",
            Verb::Patch => "patch",
            Verb::PatchStatus => "patch-status",
            Verb::PatchFinalizers => "patch-finalizers",
            Verb::Delete => "delete",
        }
    }
}

impl std::fmt::Display for Verb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a reconcile failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A call to the Kubernetes API failed.
    #[error("{verb} {kind} {name}: {source}")]
    Api {
        /// What was attempted.
        verb: Verb,
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
    /// A watch of children has not completed its first list (`super::cache`).
    #[error(transparent)]
    CacheNotReady(super::cache::NotReady),
}

impl Error {
    /// Low-cardinality label for metrics and the Warning event's reason.
    pub fn metric_label(&self) -> &'static str {
        match self {
            Error::Api {
                verb: Verb::Apply, ..
            } => "ApplyFailed",
            Error::Api {
                verb: Verb::Delete, ..
            } => "PruneFailed",
            Error::Api {
                verb: Verb::PatchStatus,
                ..
            } => "StatusUpdateFailed",
            Error::Api { .. } => "APIRequestFailed",
            Error::Serialize { .. } => "SerializeFailed",
            Error::NoNamespace => "NoNamespace",
            Error::CacheNotReady(_) => "CacheNotReady",
        }
    }

    /// How a retry should pace itself after this error. Validation errors never
    /// reach here (they are a status, not an error).
    pub fn retry_class(&self) -> RetryClass {
        match self {
            Error::Api { source, verb, .. } => match source {
                kube::Error::Api(status) if matches!(status.code, 409 | 429) => RetryClass::Busy,
                // The finalizers' JSON patch tests the list it was computed from
                // (`super::finalizer`); the API server answers a failed test with
                // 422. That is a stale cache, not a bad request: after an API
                // server restart the watch may not have delivered the stack's own
                // finalizer yet. Seen in the fault e2e test, where the Persistent
                // backoff (up to 15 min) left the stack un-reconciled.
                kube::Error::Api(status)
                    if status.code == 422 && *verb == Verb::PatchFinalizers =>
                {
                    RetryClass::Busy
                }
                kube::Error::Api(status) if status.code >= 500 => RetryClass::Busy,
                // Any other answer of the API server (403, 404, 422...) will come
                // again until the spec, the RBAC or the cluster changes.
                kube::Error::Api(_) => RetryClass::Persistent,
                // No status from the API server: connection refused or reset, TLS,
                // timeouts, and a response body that did not decode.
                _ => RetryClass::Unreachable,
            },
            Error::Serialize { .. } | Error::NoNamespace => RetryClass::Persistent,
            // The watch retries with its own backoff; look again soon.
            Error::CacheNotReady(_) => RetryClass::Busy,
        }
    }
}

/// The one way a controller call's `kube::Error` becomes an [`Error`], and the
/// answers that mean "already done".
pub trait ApiResultExt<T> {
    /// An [`Error::Api`] naming what was attempted on which object.
    fn api(self, verb: Verb, kind: &'static str, name: impl Into<String>) -> Result<T, Error>;
    /// A 404 (deleting something already gone) as `Ok(None)`.
    fn absent_ok(self) -> Result<Option<T>, kube::Error>;
    /// A 409 (creating something that exists) as `Ok(None)`.
    fn exists_ok(self) -> Result<Option<T>, kube::Error>;
}

impl<T> ApiResultExt<T> for Result<T, kube::Error> {
    fn api(self, verb: Verb, kind: &'static str, name: impl Into<String>) -> Result<T, Error> {
        self.map_err(|source| Error::Api {
            verb,
            kind,
            name: name.into(),
            source,
        })
    }

    fn absent_ok(self) -> Result<Option<T>, kube::Error> {
        answered_ok(self, 404)
    }

    fn exists_ok(self) -> Result<Option<T>, kube::Error> {
        answered_ok(self, 409)
    }
}

/// `Ok(None)` when the API server answered `code`; any other error stays one.
fn answered_ok<T>(result: Result<T, kube::Error>, code: u16) -> Result<Option<T>, kube::Error> {
    match result {
        Ok(v) => Ok(Some(v)),
        Err(kube::Error::Api(s)) if s.code == code => Ok(None),
        Err(e) => Err(e),
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

    fn status(code: u16) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure("test", "Test")
                .with_code(code)
                .boxed(),
        )
    }

    fn api_error(code: u16) -> Error {
        Error::Api {
            verb: Verb::Apply,
            kind: "Deployment",
            name: "s-collector".into(),
            source: status(code),
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
        let stale_finalizers = Error::Api {
            verb: Verb::PatchFinalizers,
            kind: "ObservabilityStack",
            name: "s".into(),
            source: status(422),
        };
        assert_eq!(stale_finalizers.retry_class(), RetryClass::Busy);
        assert_eq!(Error::NoNamespace.retry_class(), RetryClass::Persistent);
        // What a refused connection looks like: "ServiceError: client error (Connect)".
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let unreachable = Error::Api {
            verb: Verb::Get,
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

    fn failing(code: u16) -> Result<(), kube::Error> {
        Err(status(code))
    }

    #[test]
    fn absent_and_existing_objects_count_as_done() {
        assert_eq!(failing(404).absent_ok().ok(), Some(None));
        assert_eq!(failing(409).exists_ok().ok(), Some(None));
        assert_eq!(Ok::<_, kube::Error>(7).absent_ok().ok(), Some(Some(7)));
        assert_eq!(Ok::<_, kube::Error>(7).exists_ok().ok(), Some(Some(7)));
        // Only the one answer is tolerated.
        assert!(matches!(failing(409).absent_ok(), Err(kube::Error::Api(s)) if s.code == 409));
        assert!(matches!(failing(404).exists_ok(), Err(kube::Error::Api(s)) if s.code == 404));
        assert!(matches!(failing(403).absent_ok(), Err(kube::Error::Api(s)) if s.code == 403));
    }

    #[test]
    fn api_errors_carry_the_verb_kind_and_name() {
        let err = failing(403)
            .absent_ok()
            .api(Verb::Delete, "StatefulSet", "s-loki")
            .unwrap_err();
        match &err {
            Error::Api {
                verb, kind, name, ..
            } => assert_eq!(
                (*verb, *kind, name.as_str()),
                (Verb::Delete, "StatefulSet", "s-loki")
            ),
            other => panic!("not an API error: {other:?}"),
        }
        assert_eq!(err.metric_label(), "PruneFailed");
        assert!(
            err.to_string().starts_with("delete StatefulSet s-loki: "),
            "{err}"
        );
        assert_eq!(
            Ok::<_, kube::Error>(1).api(Verb::Get, "Secret", "x").ok(),
            Some(1)
        );
    }

    #[test]
    fn verbs_and_labels_keep_their_words() {
        let words: Vec<&str> = [
            Verb::Apply,
            Verb::Create,
            Verb::Get,
            Verb::List,
            Verb::Patch,
            Verb::PatchStatus,
            Verb::PatchFinalizers,
            Verb::Delete,
        ]
        .iter()
        .map(|v| v.as_str())
        .collect();
        assert_eq!(
            words,
            [
                "apply",
                "create",
                "get",
                "list",
                "patch",
                "patch-status",
                "patch-finalizers",
                "delete"
            ]
        );
        assert_eq!(Verb::PatchStatus.to_string(), "patch-status");
        let label = |verb| {
            Error::Api {
                verb,
                kind: "ObservabilityStack",
                name: "s".into(),
                source: status(500),
            }
            .metric_label()
        };
        assert_eq!(label(Verb::Apply), "ApplyFailed");
        assert_eq!(label(Verb::Delete), "PruneFailed");
        assert_eq!(label(Verb::PatchStatus), "StatusUpdateFailed");
        assert_eq!(label(Verb::PatchFinalizers), "APIRequestFailed");
        assert_eq!(label(Verb::List), "APIRequestFailed");
    }
}
