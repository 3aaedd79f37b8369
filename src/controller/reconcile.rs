//! One reconcile of one stack: validate -> build -> apply -> status, and the error
//! policy. This file only drives the steps; each lives in its own module.

use std::sync::Arc;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};
use kube::{Api, Resource, ResourceExt};
use serde_json::json;
use tracing::{info, warn};

use super::apply::{Applied, apply};
use super::context::Context;
use super::error::{Error, jittered, retry_action};
use super::status::{self, Observation, WorkloadState};
use super::{finalizer, references};
use crate::api::{FIELD_MANAGER, ObservabilityStack, ObservabilityStackStatus, reason};
use crate::build::{api_unavailable, build};
use crate::model::{Component, ValidatedStack, Workload, child_name};
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
        ctx.metrics.stack_conditions(&key, None);
        return Ok(Action::await_change());
    }
    let previous = stack.status.clone().unwrap_or_default();
    let generation = stack.meta().generation;

    let refs = references::dereference(&ctx, &stack).await?;
    let valid = match validate(&stack, &refs) {
        Ok(v) => v,
        Err(errors) => {
            // Nothing is applied: every child stays exactly as it is.
            let message = errors.to_string();
            let obs = Observation {
                generation,
                reconciled: (false, reason::INVALID_SPEC, message.clone()),
                ..Observation::default()
            };
            let new = status::compute(None, &previous, &obs, now());
            if write_status(&ctx, &stack, &previous, new, &key).await? {
                warn!(%message, "invalid spec");
                publish(
                    &ctx,
                    &stack,
                    EventType::Warning,
                    reason::INVALID_SPEC,
                    &message,
                )
                .await;
            }
            ctx.succeeded(&stack);
            return Ok(Action::await_change());
        }
    };

    finalizer::ensure(&ctx, &stack, &valid).await?;
    let applied = match apply(&ctx, &valid, build(&valid, &ctx.capabilities)).await {
        Ok(a) => a,
        Err(err) => {
            let obs = Observation {
                generation,
                reconciled: (false, reason::APPLY_FAILED, err.to_string()),
                ..Observation::default()
            };
            let new = status::compute(None, &previous, &obs, now());
            write_status(&ctx, &stack, &previous, new, &key).await?;
            return Err(err);
        }
    };
    if !applied.changed.is_empty() {
        info!(changed = ?applied.changed, "applied children");
        publish(
            &ctx,
            &stack,
            EventType::Normal,
            "Applied",
            &summary("created or updated", &applied.changed),
        )
        .await;
    }
    if !applied.pruned.is_empty() {
        info!(pruned = ?applied.pruned, "pruned children");
        publish(
            &ctx,
            &stack,
            EventType::Normal,
            "Pruned",
            &summary("deleted", &applied.pruned),
        )
        .await;
    }
    let mut obs = observe(&ctx, &valid, &applied, generation);
    if !valid.skipped_dashboards.is_empty() {
        obs.reconciled.2 = format!(
            "the current generation is applied; dashboards skipped: {}",
            valid.skipped_dashboards.join("; ")
        );
    }
    obs.missing_secrets = valid.missing_secrets.clone();
    if !applied.blocked.is_empty() {
        obs.reconciled = (
            false,
            reason::VOLUME_RESIZE_BLOCKED,
            applied.blocked.join("; "),
        );
    }
    let new = status::compute(Some(&valid), &previous, &obs, now());
    let ready = new
        .conditions
        .iter()
        .any(|c| c.type_ == crate::api::condition::READY && c.status == "True");
    if write_status(&ctx, &stack, &previous, new, &key).await? {
        for problem in valid
            .skipped_dashboards
            .iter()
            .chain(&obs.missing_secrets)
            .chain(&applied.blocked)
        {
            publish(
                &ctx,
                &stack,
                EventType::Warning,
                "ReferenceProblem",
                problem,
            )
            .await;
        }
    }
    ctx.succeeded(&stack);
    if ready {
        Ok(Action::requeue(RESYNC))
    } else {
        // Not there yet (pods starting, a Secret missing, a watch recovering from
        // an API server restart): look again soon rather than wait for an event.
        Ok(Action::requeue(jittered(PROGRESS_RETRY, rand::random())))
    }
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
        publish(&ctx2, &stack, EventType::Warning, reason, &message).await;
    });
    retry_action(failures, class)
}

fn now() -> k8s_openapi::jiff::Timestamp {
    k8s_openapi::jiff::Timestamp::now()
}

fn summary(verb: &str, items: &[String]) -> String {
    // Event notes are limited to 1 KiB: name the first children and count the rest.
    let mut shown = Vec::new();
    let mut len = 0;
    for item in items {
        if len + item.len() > 900 {
            break;
        }
        len += item.len() + 2;
        shown.push(item.as_str());
    }
    let more = items.len() - shown.len();
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    format!("{verb} {}: {}{tail}", items.len(), shown.join(", "))
}

/// The workloads' state as the apply step saw it.
fn observe(
    ctx: &Context,
    stack: &ValidatedStack,
    applied: &Applied,
    generation: Option<i64>,
) -> Observation {
    let name = |c| child_name(&stack.name, c, None);
    let mut workloads = Vec::new();
    for c in Component::ALL {
        let state = match c.workload() {
            Workload::Deployment => applied
                .deployments
                .iter()
                .find(|d| d.name_any() == name(c))
                .map(WorkloadState::from_deployment),
            Workload::StatefulSet => applied
                .stateful_sets
                .iter()
                .find(|s| s.name_any() == name(c))
                .map(WorkloadState::from_stateful_set),
        };
        workloads.push((c, state));
    }
    let api_unavailable = api_unavailable(stack, &ctx.capabilities);
    Observation {
        generation,
        workloads,
        api_unavailable,
        reconciled: (
            true,
            reason::APPLIED,
            "the current generation is applied".into(),
        ),
        missing_secrets: Vec::new(),
    }
}

/// Writes the status when it differs from what is stored. Returns whether it wrote.
async fn write_status(
    ctx: &Context,
    stack: &ObservabilityStack,
    previous: &ObservabilityStackStatus,
    new: ObservabilityStackStatus,
    key: &str,
) -> Result<bool, Error> {
    ctx.metrics.stack_conditions(
        key,
        Some(
            new.conditions
                .iter()
                .map(|c| (c.type_.clone(), c.status.clone()))
                .collect(),
        ),
    );
    if &new == previous {
        return Ok(false);
    }
    let api: Api<ObservabilityStack> =
        Api::namespaced(ctx.client.clone(), &stack.namespace().unwrap_or_default());
    let patch = json!({
        "apiVersion": ObservabilityStack::api_version(&()),
        "kind": ObservabilityStack::kind(&()),
        "status": new,
    });
    api.patch_status(
        &stack.name_any(),
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&patch),
    )
    .await
    .map_err(|source| Error::Api {
        verb: "patch-status",
        kind: "ObservabilityStack",
        name: stack.name_any(),
        source,
    })?;
    ctx.metrics.write("ObservabilityStack", "patch-status");
    Ok(true)
}

/// Publishes an Event on the stack; a failure to publish is logged, not fatal.
pub async fn publish(
    ctx: &Context,
    stack: &ObservabilityStack,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    // The API server refuses notes over 1 KiB: cut at a character boundary.
    let mut note = note.to_string();
    if note.len() > 1000 {
        let mut cut = 990;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push_str(" ...");
    }
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(note),
        action: "Reconcile".into(),
        secondary: None,
    };
    // Events are best-effort: a slow API server must not stall the reconcile.
    let reference = stack.object_ref(&());
    let publish = ctx.recorder.publish(&event, &reference);
    match tokio::time::timeout(Duration::from_secs(5), publish).await {
        Ok(Ok(())) => ctx.metrics.write("Event", "create"),
        Ok(Err(e)) => warn!(%e, "could not publish event"),
        Err(_) => warn!("publishing an event timed out"),
    }
}
