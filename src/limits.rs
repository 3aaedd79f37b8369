//! What the pinned programs refuse or silently ignore, as checks and derivations
//! shared by `validate`, the dashboard ConfigMap reader and the renderers: Grafana's
//! uid bound and alphabet, its rule-group interval base, and the folder names its
//! dashboard file reader can walk. Pure; every rule cites where upstream decides it.

use std::time::Duration;

use crate::units::parse_duration;

/// The longest uid Grafana accepts for a dashboard, folder, datasource, alert rule
/// or contact point (grafana `pkg/util/shortid_generator.go` in a stored copy, not verified at v12.4.12:
/// `MaxUIDLength = 40`). A longer uid in a provisioning file makes provisioning
/// fail, and Grafana exits at start.
pub const GRAFANA_MAX_UID_LEN: usize = 40;

/// Grafana evaluates alert rules on a 10 s base interval; a rule group's interval
/// must be a positive whole multiple of it (grafana
/// `pkg/services/ngalert/models/alert_rule.go` in a stored copy, not verified at v12.4.12,
/// `ValidateRuleGroupInterval`; `[unified_alerting] base_interval` is 10s and not
/// meant to be changed). Provisioning a group with another interval fails and
/// Grafana exits at start.
pub const GRAFANA_BASE_INTERVAL: Duration = Duration::from_secs(10);

/// Whether `uid` is one Grafana accepts: at most 40 characters of `[a-zA-Z0-9-_]`
/// (grafana `pkg/util/shortid_generator.go` in a stored copy, not verified at v12.4.12: `IsValidShortUID` and
/// `IsShortUIDTooLong`).
pub fn is_valid_grafana_uid(uid: &str) -> bool {
    !uid.is_empty()
        && uid.len() <= GRAFANA_MAX_UID_LEN
        && uid
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A stable Grafana uid for `name` under `prefix`: `<prefix>-<name>` when that is a
/// valid uid, else a prefix of it joined to a hash of the whole, so it always fits
/// and two names never share a uid.
pub fn grafana_uid(prefix: &str, name: &str) -> String {
    let plain = format!("{prefix}-{name}");
    if is_valid_grafana_uid(&plain) {
        return plain;
    }
    let hash = crate::digest::sha256_short(&plain);
    let keep: String = plain
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-' || *c == '_')
        .take(GRAFANA_MAX_UID_LEN - hash.len() - 1)
        .collect();
    format!("{}-{hash}", keep.trim_end_matches('-'))
}

/// Why a rule group's interval would make Grafana refuse the group, if it would.
pub fn rule_group_interval_problem(interval: &str) -> Option<String> {
    let d = parse_duration(interval).ok()?;
    let base = GRAFANA_BASE_INTERVAL.as_millis();
    (d.is_zero() || !d.as_millis().is_multiple_of(base)).then(|| {
        format!(
            "must be a whole multiple of {}s: Grafana evaluates rules on a {}s base interval and refuses any other",
            GRAFANA_BASE_INTERVAL.as_secs(),
            GRAFANA_BASE_INTERVAL.as_secs()
        )
    })
}

/// Why a dashboard folder name cannot work, if it cannot. The folder is a directory
/// under the dashboards path: one path element, and not hidden, because Grafana's
/// dashboard file reader skips every directory whose name starts with `.` (grafana
/// `pkg/services/provisioning/dashboards/file_reader.go` in a stored copy, not verified at v12.4.12,
/// `validateWalkablePath`), and the kubelet reserves names starting with `..`.
pub fn folder_problem(folder: &str) -> Option<&'static str> {
    if folder.trim().is_empty() {
        Some("must not be empty")
    } else if folder.contains('/') {
        Some("must not contain '/'")
    } else if folder.starts_with('.') {
        Some("must not start with '.': Grafana skips hidden folders")
    } else if folder.len() > 128 {
        Some("must be at most 128 characters")
    } else {
        None
    }
}

/// Why a dashboard model would not load in Grafana, if it would not: it must be a
/// JSON object with a non-empty `title`, and a `uid`, when given, must be a valid
/// Grafana uid.
pub fn dashboard_problem(model: &serde_json::Value) -> Option<String> {
    if !model.is_object() {
        return Some("must be a JSON object (a dashboard model)".into());
    }
    if model
        .get("title")
        .and_then(|t| t.as_str())
        .is_none_or(|t| t.trim().is_empty())
    {
        return Some("must have a non-empty \"title\"".into());
    }
    match model.get("uid") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(uid)) if uid.is_empty() || is_valid_grafana_uid(uid) => None,
        Some(uid) => Some(format!(
            "\"uid\" {uid} must be at most {GRAFANA_MAX_UID_LEN} characters of letters, digits, '-' and '_' (Grafana refuses it)"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_uids_always_fit_and_stay_distinct() {
        assert_eq!(grafana_uid("sextant", "oncall"), "sextant-oncall");
        let long = "a".repeat(63);
        let other = format!("{}b", "a".repeat(62));
        let (u1, u2) = (
            grafana_uid("sextant", &long),
            grafana_uid("sextant", &other),
        );
        for u in [&u1, &u2] {
            assert!(is_valid_grafana_uid(u), "{u}");
        }
        assert_ne!(u1, u2);
        assert_eq!(u1, grafana_uid("sextant", &long), "stable");
        // Characters Grafana refuses are dropped, not passed through.
        assert!(is_valid_grafana_uid(&grafana_uid("sextant", "a.b c")));
    }

    #[test]
    fn uid_bound_is_40() {
        assert!(is_valid_grafana_uid(&"x".repeat(40)));
        assert!(!is_valid_grafana_uid(&"x".repeat(41)));
        assert!(!is_valid_grafana_uid("a/b"));
        assert!(!is_valid_grafana_uid(""));
    }

    #[test]
    fn intervals_must_be_multiples_of_ten_seconds() {
        for ok in ["10s", "1m", "1m30s", "20s", "1h", "10000ms", "1d"] {
            assert_eq!(rule_group_interval_problem(ok), None, "{ok}");
        }
        for bad in ["15s", "45s", "1m5s", "5s", "9999ms", "0s"] {
            assert!(rule_group_interval_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn hidden_and_nested_folders_are_refused() {
        assert_eq!(folder_problem("Agents"), None);
        for bad in [".hidden", "..data", "a/b", " ", &"x".repeat(129)] {
            assert!(folder_problem(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn dashboard_uids_are_checked() {
        assert_eq!(dashboard_problem(&serde_json::json!({"title": "t"})), None);
        assert_eq!(
            dashboard_problem(&serde_json::json!({"title": "t", "uid": "abc"})),
            None
        );
        assert!(
            dashboard_problem(&serde_json::json!({"title": "t", "uid": "x".repeat(41)})).is_some()
        );
        assert!(dashboard_problem(&serde_json::json!({"title": "t", "uid": 7})).is_some());
        assert!(dashboard_problem(&serde_json::json!({"title": ""})).is_some());
        assert!(dashboard_problem(&serde_json::json!([])).is_some());
    }
}
