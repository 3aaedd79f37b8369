//! What a user really called, from the kube-apiserver audit log, compared with the
//! RBAC rules it was granted. `e2e/cluster.sh` logs the Metadata of every request made
//! with a ServiceAccount token (outside kube-system) to `<state>/logs/audit.log`.
//!
//! A grant is one (apiGroup, resource[/subresource], verb) of a rule. A call uses a
//! grant when the rule covers it (and its resourceNames, if any, name the object). A
//! server-side apply that creates its object is a PATCH answered 201, which the API
//! server authorizes as `patch` and `create`: it uses both grants. Calls answered 401,
//! 403 or 429 never passed authorization and use nothing; 403s are reported as denied.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use k8s_openapi::api::rbac::v1::PolicyRule;
use serde::Deserialize;

use crate::cluster::state_dir;

/// Environment variable naming the audit log (default `<state dir>/logs/audit.log`),
/// for clusters whose audit log is readable elsewhere.
pub const AUDIT_LOG_ENV: &str = "SEXTANT_E2E_AUDIT_LOG";

/// The audit log of the test cluster.
pub fn audit_log_path() -> PathBuf {
    std::env::var_os(AUDIT_LOG_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| state_dir().join("logs").join("audit.log"))
}

/// One API request, as the audit log records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// API group, "" for the core group.
    pub group: String,
    /// `resource` or `resource/subresource`; for non-resource requests, the path.
    pub resource: String,
    /// The Kubernetes verb (get, list, watch, create, patch, delete, ...).
    pub verb: String,
    /// Object name, if the request named one.
    pub name: Option<String>,
    /// Namespace, if any.
    pub namespace: Option<String>,
    /// HTTP status code of the response.
    pub code: u16,
}

impl Call {
    /// Whether the request passed authorization.
    pub fn authorized(&self) -> bool {
        !matches!(self.code, 401 | 403 | 429)
    }

    /// Whether this is a request to a non-resource URL (discovery, /version).
    pub fn non_resource(&self) -> bool {
        self.resource.starts_with('/')
    }

    /// The verbs RBAC authorized this request as.
    fn authorized_verbs(&self) -> Vec<&str> {
        if self.verb == "patch" && self.code == 201 {
            vec!["patch", "create"]
        } else {
            vec![self.verb.as_str()]
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    #[serde(rename = "auditID")]
    audit_id: String,
    stage: String,
    verb: String,
    #[serde(rename = "requestURI")]
    request_uri: String,
    user: User,
    object_ref: Option<ObjectRef>,
    response_status: Option<ResponseStatus>,
}

#[derive(Deserialize)]
struct User {
    username: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectRef {
    resource: Option<String>,
    subresource: Option<String>,
    api_group: Option<String>,
    name: Option<String>,
    namespace: Option<String>,
}

#[derive(Deserialize)]
struct ResponseStatus {
    code: Option<u16>,
}

/// Every request `username` made, once each (a watch is logged when its response
/// starts and again when it ends; the first record counts).
pub fn calls_by(log: &Path, username: &str) -> anyhow::Result<Vec<Call>> {
    calls_by_since(log, username, 0)
}

/// The audit log's length now: pass it to [`calls_by_since`] to see only the requests
/// made after this point.
pub fn audit_log_offset(log: &Path) -> anyhow::Result<u64> {
    Ok(std::fs::metadata(log)
        .with_context(|| format!("reading the audit log {}", log.display()))?
        .len())
}

/// [`calls_by`], counting only the events logged after byte `offset` of the log
/// (from [`audit_log_offset`]). A request that started before the offset and
/// completed after it is counted too.
pub fn calls_by_since(log: &Path, username: &str, offset: u64) -> anyhow::Result<Vec<Call>> {
    let bytes = std::fs::read(log).with_context(|| {
        format!(
            "reading the audit log {} (the local control plane writes it since e2e/cluster.sh \
             enabled audit logging: restart it with `make cluster-down cluster-up`; for another \
             cluster set {AUDIT_LOG_ENV})",
            log.display()
        )
    })?;
    let start = usize::try_from(offset)
        .unwrap_or(usize::MAX)
        .min(bytes.len());
    // The log is appended line by line: the offset of a past length is a line start.
    let text = String::from_utf8_lossy(&bytes[start..]);
    let mut seen = HashMap::new();
    let mut calls = Vec::new();
    for line in text.lines().filter(|l| l.contains(username)) {
        let e: Event = serde_json::from_str(line)
            .with_context(|| format!("parsing an audit event of {}: {line}", log.display()))?;
        if e.user.username != username
            || !matches!(e.stage.as_str(), "ResponseStarted" | "ResponseComplete")
        {
            continue;
        }
        if seen.insert(e.audit_id.clone(), ()).is_some() {
            continue;
        }
        let code = e.response_status.and_then(|s| s.code).unwrap_or(0);
        let call = match e.object_ref.filter(|o| o.resource.is_some()) {
            Some(o) => Call {
                group: o.api_group.unwrap_or_default(),
                resource: match o.subresource {
                    Some(sub) => format!("{}/{sub}", o.resource.unwrap_or_default()),
                    None => o.resource.unwrap_or_default(),
                },
                verb: e.verb,
                name: o.name,
                namespace: o.namespace,
                code,
            },
            None => Call {
                group: String::new(),
                resource: e
                    .request_uri
                    .split('?')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
                verb: e.verb,
                name: None,
                namespace: None,
                code,
            },
        };
        calls.push(call);
    }
    Ok(calls)
}

/// One granted (apiGroup, resource, verb), with the rule's resourceNames and where
/// the rule comes from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Grant {
    /// API group.
    pub group: String,
    /// `resource` or `resource/subresource`.
    pub resource: String,
    /// Verb.
    pub verb: String,
    /// The rule's resourceNames (empty: any object).
    pub names: Vec<String>,
    /// `ClusterRole/x` or `Role/ns/x`.
    pub source: String,
}

impl Grant {
    fn covers(&self, call: &Call, verb: &str) -> bool {
        self.group == call.group
            && self.resource == call.resource
            && self.verb == verb
            && (self.names.is_empty() || call.name.as_ref().is_some_and(|n| self.names.contains(n)))
    }
}

/// Splits rules into one grant per (group, resource, verb).
pub fn grants(source: &str, rules: &[PolicyRule]) -> Vec<Grant> {
    let mut out = Vec::new();
    for r in rules {
        for group in r.api_groups.iter().flatten() {
            for resource in r.resources.iter().flatten() {
                for verb in &r.verbs {
                    out.push(Grant {
                        group: group.clone(),
                        resource: resource.clone(),
                        verb: verb.clone(),
                        names: r.resource_names.clone().unwrap_or_default(),
                        source: source.to_string(),
                    });
                }
            }
        }
    }
    out
}

/// A grant nobody needs to call, and why it is granted anyway.
#[derive(Debug, Clone)]
pub struct Allowed {
    /// API group.
    pub group: &'static str,
    /// Resource.
    pub resource: &'static str,
    /// Verb.
    pub verb: &'static str,
    /// Why it is granted although the operator did not call it in this test.
    pub reason: String,
}

/// The comparison of calls with grants.
#[derive(Debug, Default)]
pub struct Comparison {
    /// Each grant with the number of authorized calls that used it.
    pub used: Vec<(Grant, usize)>,
    /// Grants no call used and that are not allowed to be unused.
    pub unused: Vec<Grant>,
    /// Unused grants that the allow-list explains.
    pub allowed_unused: Vec<(Grant, String)>,
    /// Calls the API server refused (403): a permission the chart forgot.
    pub denied: Vec<Call>,
    /// Authorized resource calls that no granted rule covers (granted by someone
    /// else, e.g. a default ClusterRole), counted by (group, resource, verb).
    pub elsewhere: BTreeMap<(String, String, String), usize>,
    /// Authorized non-resource calls (discovery), by path and verb.
    pub non_resource: BTreeMap<(String, String), usize>,
}

/// Compares what was called with what was granted.
pub fn compare(grants: &[Grant], calls: &[Call], allow: &[Allowed]) -> Comparison {
    let mut counts = vec![0usize; grants.len()];
    let mut out = Comparison::default();
    for call in calls {
        if call.code == 403 {
            out.denied.push(call.clone());
            continue;
        }
        if !call.authorized() {
            continue;
        }
        if call.non_resource() {
            *out.non_resource
                .entry((call.resource.clone(), call.verb.clone()))
                .or_default() += 1;
            continue;
        }
        for verb in call.authorized_verbs() {
            let mut covered = false;
            for (i, g) in grants.iter().enumerate() {
                if g.covers(call, verb) {
                    counts[i] += 1;
                    covered = true;
                }
            }
            if !covered {
                *out.elsewhere
                    .entry((call.group.clone(), call.resource.clone(), verb.to_string()))
                    .or_default() += 1;
            }
        }
    }
    for (g, n) in grants.iter().zip(counts) {
        if n == 0 {
            match allow
                .iter()
                .find(|a| a.group == g.group && a.resource == g.resource && a.verb == g.verb)
            {
                Some(a) => out.allowed_unused.push((g.clone(), a.reason.clone())),
                None => out.unused.push(g.clone()),
            }
        }
        out.used.push((g.clone(), n));
    }
    out
}

impl Comparison {
    /// The table printed by the test: every grant, its calls, and its verdict.
    pub fn table(&self) -> String {
        let mut rows: Vec<[String; 5]> = Vec::new();
        let allowed: BTreeMap<&Grant, &String> =
            self.allowed_unused.iter().map(|(g, r)| (g, r)).collect();
        for (g, n) in &self.used {
            let resource = if g.names.is_empty() {
                g.resource.clone()
            } else {
                format!("{} {:?}", g.resource, g.names)
            };
            let verdict = match (n, allowed.get(g)) {
                (0, Some(reason)) => format!("unused, allowed: {reason}"),
                (0, None) => "UNUSED".to_string(),
                _ => "used".to_string(),
            };
            rows.push([
                if g.group.is_empty() {
                    "\"\"".into()
                } else {
                    g.group.clone()
                },
                resource,
                g.verb.clone(),
                n.to_string(),
                verdict,
            ]);
        }
        let header = ["apiGroup", "resource", "verb", "calls", "verdict"];
        let mut widths = header.map(str::len);
        for r in &rows {
            for (w, c) in widths.iter_mut().zip(r) {
                *w = (*w).max(c.len()).min(44);
            }
        }
        let line = |cells: [&str; 5]| {
            let mut s = String::new();
            for (i, c) in cells.iter().enumerate() {
                if i == 4 {
                    s.push_str(c);
                } else {
                    s.push_str(&format!("{c:<w$}  ", w = widths[i]));
                }
            }
            s.trim_end().to_string() + "\n"
        };
        let mut out = line(header);
        for r in &rows {
            out.push_str(&line([&r[0], &r[1], &r[2], &r[3], &r[4]]));
        }
        if !self.elsewhere.is_empty() {
            out.push_str("\nauthorized by other roles (not the chart's):\n");
            for ((g, r, v), n) in &self.elsewhere {
                out.push_str(&format!("  {g:?} {r} {v}: {n}\n"));
            }
        }
        if !self.non_resource.is_empty() {
            let paths: BTreeSet<String> = self
                .non_resource
                .iter()
                .map(|((p, v), n)| format!("{v} {p} ({n})"))
                .collect();
            out.push_str(&format!(
                "\nnon-resource calls (discovery, granted by system:discovery): {}\n",
                paths.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        if !self.denied.is_empty() {
            out.push_str("\nDENIED (403):\n");
            for c in &self.denied {
                out.push_str(&format!(
                    "  {} {:?} {} {}/{}\n",
                    c.verb,
                    c.group,
                    c.resource,
                    c.namespace.as_deref().unwrap_or("-"),
                    c.name.as_deref().unwrap_or("-")
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(group: &str, resource: &str, verb: &str, name: Option<&str>, code: u16) -> Call {
        Call {
            group: group.into(),
            resource: resource.into(),
            verb: verb.into(),
            name: name.map(Into::into),
            namespace: Some("ns".into()),
            code,
        }
    }

    fn rule(groups: &[&str], resources: &[&str], verbs: &[&str], names: &[&str]) -> PolicyRule {
        PolicyRule {
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(resources.iter().map(|s| s.to_string()).collect()),
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            resource_names: (!names.is_empty())
                .then(|| names.iter().map(|s| s.to_string()).collect()),
            ..PolicyRule::default()
        }
    }

    #[test]
    fn apply_that_creates_uses_create_and_names_restrict() {
        let g = grants(
            "ClusterRole/x",
            &[
                rule(&[""], &["configmaps"], &["create", "patch", "delete"], &[]),
                rule(&["coordination.k8s.io"], &["leases"], &["get"], &["lead"]),
                rule(&[""], &["pods"], &["get"], &[]),
            ],
        );
        let calls = [
            call("", "configmaps", "patch", Some("a"), 201),
            call("coordination.k8s.io", "leases", "get", Some("other"), 200),
            call("", "secrets", "get", Some("s"), 403),
            call("", "/apis", "get", None, 200),
        ];
        let allow = [Allowed {
            group: "",
            resource: "pods",
            verb: "get",
            reason: "granted to be granted".into(),
        }];
        let c = compare(&g, &calls, &allow);
        let unused: Vec<(&str, &str)> = c
            .unused
            .iter()
            .map(|g| (g.resource.as_str(), g.verb.as_str()))
            .collect();
        assert_eq!(unused, [("configmaps", "delete"), ("leases", "get")]);
        assert_eq!(c.allowed_unused.len(), 1);
        assert_eq!(c.denied.len(), 1);
        assert_eq!(
            c.elsewhere.len(),
            1,
            "the lease of another name is not covered"
        );
        assert_eq!(c.non_resource.len(), 1);
        assert!(c.table().contains("UNUSED"), "{}", c.table());
    }
}
