//! Events on a stack: children applied or pruned, the outcome's own Warning,
//! reference problems, and failed reconciles (from the error policy). Notes are
//! cut to what the API server accepts (1 KiB).
//!
//! Best-effort: a failure or a timeout publishing an event is logged and never
//! fails or stalls a reconcile. Never decides what happened, only says it.

use std::time::Duration;

use kube::Resource;
use kube::runtime::events::{Event, EventType};
use tracing::{info, warn};

use super::apply::Applied;
use super::context::Context;
use super::error::Verb;
use super::outcome::Outcome;
use crate::api::ObservabilityStack;

/// Reason of the Normal event naming the children created or updated.
pub const CHILDREN_APPLIED: &str = "Applied";
/// Reason of the Normal event naming the children deleted.
pub const CHILDREN_PRUNED: &str = "Pruned";
/// Reason of the Warning event for each reference or change that could not be
/// used (a skipped dashboard, a missing Secret, a blocked volume change).
pub const REFERENCE_PROBLEM: &str = "ReferenceProblem";

/// How long publishing one event may take before it is given up.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(5);

/// One Normal event for the children an apply pass created or updated, and one
/// for those it deleted; nothing when it changed nothing.
pub async fn applied(ctx: &Context, stack: &ObservabilityStack, applied: &Applied) {
    let passes = [
        (CHILDREN_APPLIED, "created or updated", &applied.changed),
        (CHILDREN_PRUNED, "deleted", &applied.pruned),
    ];
    for (reason, verb, children) in passes {
        if !children.is_empty() {
            info!(?children, "{verb} children");
            publish(
                ctx,
                stack,
                EventType::Normal,
                reason,
                &summary(verb, children),
            )
            .await;
        }
    }
}

/// The event the outcome warrants ([`Outcome::event`]), if any, with its message
/// as the note.
pub async fn outcome(ctx: &Context, stack: &ObservabilityStack, outcome: &Outcome) {
    if let Some((type_, reason)) = outcome.event() {
        publish(ctx, stack, type_, reason, &outcome.message()).await;
    }
}

/// One Warning event per problem line.
pub async fn problems(ctx: &Context, stack: &ObservabilityStack, problems: &[&String]) {
    for problem in problems {
        publish(ctx, stack, EventType::Warning, REFERENCE_PROBLEM, problem).await;
    }
}

/// Publishes an Event on the stack; a failure to publish is logged, not fatal.
pub async fn publish(
    ctx: &Context,
    stack: &ObservabilityStack,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.into(),
        note: Some(fit_note(note)),
        action: "Reconcile".into(),
        secondary: None,
    };
    // Events are best-effort: a slow API server must not stall the reconcile.
    let reference = stack.object_ref(&());
    let publish = ctx.recorder.publish(&event, &reference);
    match tokio::time::timeout(PUBLISH_TIMEOUT, publish).await {
        Ok(Ok(())) => ctx.metrics.write("Event", Verb::Create.as_str()),
        Ok(Err(e)) => warn!(%e, "could not publish event"),
        Err(_) => warn!("publishing an event timed out"),
    }
}

/// The API server refuses notes over 1 KiB: a longer note is cut at a character
/// boundary and ends in " ...".
fn fit_note(note: &str) -> String {
    let mut note = note.to_string();
    if note.len() > 1000 {
        let mut cut = 990;
        while !note.is_char_boundary(cut) {
            cut -= 1;
        }
        note.truncate(cut);
        note.push_str(" ...");
    }
    note
}

/// `verb N: a, b, c and M more`: names the first children that fit in an event
/// note and counts the rest.
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_what_fits_and_counts_the_rest() {
        let few = vec!["Service/s-loki".to_string(), "Secret/s-grafana".to_string()];
        assert_eq!(
            summary("deleted", &few),
            "deleted 2: Service/s-loki, Secret/s-grafana"
        );
        let many: Vec<String> = (0..100)
            .map(|i| format!("ConfigMap/s-dash-{i:03}"))
            .collect();
        let note = summary("created or updated", &many);
        // 20-character names and 2 of separator: the 41st ends at 900, the 42nd would not fit.
        assert!(
            note.starts_with("created or updated 100: ConfigMap/s-dash-000, "),
            "{note}"
        );
        assert!(note.ends_with("ConfigMap/s-dash-040 and 59 more"), "{note}");
        assert!(note.len() <= 1000);
    }

    #[test]
    fn long_notes_are_cut_at_a_character_boundary() {
        assert_eq!(fit_note("short"), "short");
        let exact = "x".repeat(1000);
        assert_eq!(fit_note(&exact), exact);
        // 'é' is two bytes: byte 990 falls inside one, so the cut moves back to 989.
        let long = format!("{}{}", "x".repeat(989), "é".repeat(20));
        let cut = fit_note(&long);
        assert_eq!(cut, format!("{} ...", "x".repeat(989)));
        assert!(cut.len() <= 1024);
    }
}
