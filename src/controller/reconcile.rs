//! One reconcile of one stack, and the error policy. This file only drives the
//! steps, each of which lives in its own module: references (dereference) ->
//! validate -> build -> finalizers -> apply -> finalizers -> observe -> status -> events -> when to look again.
//! A paused stack (`spec.paused`) stops before the first step.

use std::sync::Arc;
use std::time::{Duration, Instant};

use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::{Resource, ResourceExt};
use tracing::warn;

use super::apply::{Read, apply};
use super::context::Context;
use super::error::{Error, jittered, retry_action};
use super::outcome::Outcome;
use super::status::{self, Observation};
use super::{events, finalizer, references};
use crate::api::ObservabilityStack;
use crate::build::checked;
use crate::validate::validate;

/// How often a settled stack is checked again for drift nobody told us about.
const RESYNC: Duration = Duration::from_secs(300);
/// How soon a stack that is not Ready yet is looked at again, ±20%. Its children's
/// watch events bring the progress itself; this is the safety net for a watch that
/// is still recovering. At 10 s, 1,000 stacks waiting for their pods made 100
/// reconciles a second and slowed the very pods they were waiting for (BENCHMARKS.md).
const PROGRESS_RETRY: Duration = Duration::from_secs(30);

/// Reconciles one stack.
#[tracing::instrument(skip_all, fields(stack = %stack.name_any(), namespace = stack.namespace().unwrap_or_default(), generation = stack.meta().generation))]
pub async fn reconcile(stack: Arc<ObservabilityStack>, ctx: Arc<Context>) -> Result<Action, Error> {
    let _timer = ctx.metrics.reconcile();
    let namespace = stack.namespace().ok_or(Error::NoNamespace)?;
    let key = format!("{namespace}/{}", stack.name_any());
    if stack.meta().deletion_timestamp.is_some() {
        finalizer::cleanup(&ctx, &stack).await?;
        ctx.forget_stack(&namespace, &stack.name_any());
        return Ok(Action::await_change());
    }
    let previous = stack.status.clone().unwrap_or_default();
    let generation = stack.meta().generation;

    if stack.spec.paused {
        // Nothing is read, applied, pruned or reverted: every child stays as it
        // is, hand edits included, and the rest of the status still holds.
        let obs = Observation::unapplied(generation, Outcome::Paused);
        let new = status::compute(None, &previous, &obs, now());
        if status::write(&ctx, &stack, &previous, new, &key).await? {
            events::outcome(&ctx, &stack, &obs.reconciled).await;
        }
        ctx.succeeded(&stack);
        return Ok(Action::await_change());
    }

    let t = Instant::now();
    let refs = references::dereference(&ctx, &stack).await?;
    ctx.metrics.step("dereference", t);
    // An invalid spec, or overrides that break what was built: nothing is
    // applied, every child stays exactly as it is.
    let t = Instant::now();
    let valid = validate(&stack, &refs);
    ctx.metrics.step("validate", t);
    let built = valid.and_then(|valid| {
        let t = Instant::now();
        let resources = checked(&valid, &ctx.capabilities);
        ctx.metrics.step("build", t);
        resources.map(|r| (valid, r))
    });
    let (valid, resources) = match built {
        Ok(v) => v,
        Err(errors) => {
            let obs = Observation::unapplied(generation, Outcome::InvalidSpec(errors.to_string()));
            let new = status::compute(None, &previous, &obs, now());
            if status::write(&ctx, &stack, &previous, new, &key).await? {
                warn!(message = %obs.reconciled.message(), "invalid spec");
                events::outcome(&ctx, &stack, &obs.reconciled).await;
            }
            ctx.succeeded(&stack);
            return Ok(Action::await_change());
        }
    };

    let cluster_children = !resources.cluster_role_bindings.is_empty();
    let t = Instant::now();
    let held = finalizer::ensure(&ctx, &stack, &valid, cluster_children).await?;
    // A stack on its way to Ready does not trust a silent watch of its
    // workloads (`apply::Read`).
    let read = if status::is_ready(&previous) {
        Read::Cache
    } else {
        Read::Converging
    };
    let applied = match apply(&ctx, &valid, resources, read).await {
        Ok(a) => a,
        Err(err) => {
            // The error policy publishes the Warning event, named after the error.
            let obs = Observation::unapplied(generation, Outcome::ApplyFailed(err.to_string()));
            let new = status::compute(None, &previous, &obs, now());
            status::write(&ctx, &stack, &previous, new, &key).await?;
            return Err(err);
        }
    };
    finalizer::release(&ctx, &held, cluster_children).await?;
    ctx.metrics.step("apply", t);
    events::applied(&ctx, &stack, &applied).await;

    let t = Instant::now();
    let mut obs = status::observe(&ctx, &valid, &applied, generation);
    obs.reconciled = Outcome::after_apply(&valid.skipped_dashboards, &applied.blocked);
    obs.missing_secrets = valid.missing_secrets.clone();
    let (data_flow, next_probe) = ctx
        .probes
        .observe(&ctx.client, &ctx.metrics, &stack, &valid);
    obs.data_flow = data_flow;
    let new = status::compute(Some(&valid), &previous, &obs, now());
    let ready = status::is_ready(&new);
    let written = status::write(&ctx, &stack, &previous, new, &key).await?;
    ctx.metrics.step("status", t);
    if written {
        events::outcome(&ctx, &stack, &obs.reconciled).await;
        let untranslatable = match &obs.monitors {
            Some(crate::build::Monitors::Translated(t)) => t.untranslatable.as_slice(),
            _ => &[],
        };
        let problems: Vec<&String> = valid
            .skipped_dashboards
            .iter()
            .chain(obs.missing_secrets.iter().map(|(_, m)| m))
            .chain(&applied.blocked)
            .chain(untranslatable)
            .collect();
        events::problems(&ctx, &stack, &problems).await;
    }
    ctx.succeeded(&stack);
    let again = if ready {
        RESYNC
    } else {
        // Not there yet (pods starting, a Secret missing, a watch recovering from
        // an API server restart): look again soon rather than wait for an event.
        jittered(PROGRESS_RETRY, rand::random())
    };
    // The next probe starts from a reconcile: come back when it is due.
    Ok(Action::requeue(next_probe.map_or(again, |p| again.min(p))))
}

/// What happens after a failed reconcile: a Warning event named after the error,
/// and a per-stack exponential backoff.
pub fn error_policy(stack: Arc<ObservabilityStack>, err: &Error, ctx: Arc<Context>) -> Action {
    let reason = err.metric_label();
    ctx.metrics.error(reason);
    let class = err.retry_class();
    let failures = ctx.failed(&stack, class);
    warn!(stack = %stack.name_any(), %err, failures, ?class, "reconcile failed");
    let message = err.to_string();
    let ctx2 = ctx.clone();
    tokio::spawn(async move {
        events::publish(&ctx2, &stack, EventType::Warning, reason, &message).await;
    });
    retry_action(failures, class)
}

fn now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}
