//! Polling until something holds, with a deadline. On timeout the test fails with the
//! description, the last error or observation, and diagnostics (see
//! [`crate::diagnostics`]). Namespace-aware waits live on
//! [`TestNamespace`](crate::TestNamespace); this module has the cluster-wide ones.

use std::time::{Duration, Instant};

use crate::diagnostics;

/// Shortest pause between two checks.
const FIRST_INTERVAL: Duration = Duration::from_millis(200);
/// Longest pause between two checks.
const MAX_INTERVAL: Duration = Duration::from_secs(1);

/// Why a wait ended without success.
#[derive(Debug)]
pub struct TimedOut {
    /// How long the wait lasted.
    pub elapsed: Duration,
    /// How many times the check ran.
    pub attempts: u32,
    /// The last error the check returned, if its last run failed.
    pub last_error: Option<String>,
}

impl std::fmt::Display for TimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "timed out after {:.1}s ({} checks)",
            self.elapsed.as_secs_f64(),
            self.attempts
        )?;
        if let Some(e) = &self.last_error {
            write!(f, "; last error: {e}")?;
        }
        Ok(())
    }
}

/// Runs `check` until it returns `Ok(Some(value))` or `timeout` passes. Errors from
/// `check` are remembered and retried (API servers hiccup); they never end the wait.
pub async fn poll<T, F>(timeout: Duration, mut check: F) -> Result<T, TimedOut>
where
    F: AsyncFnMut() -> anyhow::Result<Option<T>>,
{
    let start = Instant::now();
    let mut interval = FIRST_INTERVAL;
    let mut attempts = 0;
    loop {
        attempts += 1;
        let last_error = match check().await {
            Ok(Some(value)) => return Ok(value),
            Ok(None) => None,
            Err(e) => Some(format!("{e:#}")),
        };
        let elapsed = start.elapsed();
        if elapsed >= timeout {
            return Err(TimedOut {
                elapsed,
                attempts,
                last_error,
            });
        }
        tokio::time::sleep(interval.min(timeout - elapsed)).await;
        interval = (interval * 2).min(MAX_INTERVAL);
    }
}

/// Waits until `check` yields a value, or fails the test after `timeout` with
/// `description`, the last error and the operator/kubelet log tails.
///
/// ```no_run
/// # async fn f(client: kube::Client) {
/// use std::time::Duration;
/// let version = sextant_e2e::wait_for(Duration::from_secs(10), "the API server answers", async || {
///     Ok(Some(client.apiserver_version().await?))
/// })
/// .await;
/// # }
/// ```
pub async fn wait_for<T, F>(timeout: Duration, description: &str, check: F) -> T
where
    F: AsyncFnMut() -> anyhow::Result<Option<T>>,
{
    match poll(timeout, check).await {
        Ok(value) => value,
        Err(timed_out) => panic!(
            "{}",
            failure_message(description, &timed_out, &diagnostics::log_tails(None))
        ),
    }
}

/// The text of a failed wait: what was awaited, why it failed, then diagnostics.
pub(crate) fn failure_message(description: &str, timed_out: &TimedOut, details: &str) -> String {
    format!(
        "\n=== timed out waiting for: {description}\n=== {timed_out}\n{details}\n=== end of diagnostics for: {description}\n"
    )
}
