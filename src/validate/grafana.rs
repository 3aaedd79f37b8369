//! Grafana's part of the spec: inline dashboards (JSON, uid, title, folder),
//! alert rule groups (PromQL, intervals Grafana accepts, names), contact points and
//! the SMTP server.

use std::collections::BTreeSet;

use super::Validator;
use super::syntax::{is_dns_label, is_dns_subdomain, is_label_name, one_line};
use crate::api::{
    AlertingSpec, ContactPointType, GrafanaIngress, ObservabilityStackSpec, SmtpSpec,
};
use crate::builtin::rules::{BUILTIN_GROUP, builtin_rule_names};
use crate::builtin::slos;
use crate::limits;
use crate::model::{Dashboard, FOLDER};

impl Validator {
    /// Grafana's Ingress: a host the API server takes (a DNS subdomain, or a
    /// wildcard `*.` and one), names of an IngressClass and a Secret, and
    /// annotation keys.
    pub(super) fn grafana_ingress(&mut self, i: &GrafanaIngress) {
        let path = "spec.grafana.ingress";
        let host = i.host.strip_prefix("*.").unwrap_or(&i.host);
        if !is_dns_subdomain(host) || !host.contains('.') {
            self.err(
                format!("{path}.host"),
                "must be a fully qualified host name such as grafana.example.com (lower case letters, digits, '-' and '.'; no scheme, port or path)",
            );
        }
        if let Some(class) = &i.class_name
            && !is_dns_subdomain(class)
        {
            self.err(
                format!("{path}.className"),
                "must be an IngressClass name (a DNS subdomain: lower case letters, digits, '-' and '.')",
            );
        }
        if let Some(secret) = &i.tls_secret_name {
            self.secret_name(format!("{path}.tlsSecretName"), secret);
        }
        for k in i.annotations.keys() {
            self.annotation_key(format!("{path}.annotations[{k}]"), k);
        }
    }

    pub(super) fn dashboards(&mut self, spec: &ObservabilityStackSpec) -> Vec<Dashboard> {
        let d = &spec.grafana.dashboards;
        let mut seen_builtin = BTreeSet::new();
        for b in &d.builtin {
            if !seen_builtin.insert(*b) {
                self.err(
                    "spec.grafana.dashboards.builtin",
                    format!("{:?} is listed twice", b.name()),
                );
            }
        }
        let mut names = BTreeSet::new();
        let mut titles = BTreeSet::new();
        let mut out = Vec::new();
        for (i, dash) in d.inline.iter().enumerate() {
            let path = format!("spec.grafana.dashboards.inline[{i}]");
            self.unique(&mut names, format!("{path}.name"), &dash.name, "");
            if !is_dns_label(&dash.name) {
                self.err(
                    format!("{path}.name"),
                    "must hold only lower case letters, digits and '-'",
                );
            }
            let model: serde_json::Value = match serde_json::from_str(&dash.json) {
                Ok(m) => m,
                Err(e) => {
                    self.err(format!("{path}.json"), format!("is not valid JSON: {e}"));
                    continue;
                }
            };
            let folder = dash.folder.clone().unwrap_or_else(|| FOLDER.into());
            if let Some(problem) = limits::folder_problem(&folder) {
                self.err(format!("{path}.folder"), problem);
            }
            if let Some(problem) = limits::dashboard_problem(&model) {
                self.err(format!("{path}.json"), problem);
                if !model.is_object() {
                    continue;
                }
            } else if let Some(t) = model.get("title").and_then(|t| t.as_str())
                && !titles.insert((folder.clone(), t.to_string()))
            {
                self.err(
                    format!("{path}.json"),
                    format!("title {t:?} is used by another dashboard in folder {folder:?}"),
                );
            }
            out.push(Dashboard {
                name: dash.name.clone(),
                folder,
                model,
            });
        }
        out
    }

    pub(super) fn smtp(&mut self, smtp: &SmtpSpec) {
        let p = "spec.grafana.smtp";
        match smtp.host.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty()
                    && !host.contains(['$', ' '])
                    && port.parse::<u16>().is_ok_and(|p| p > 0) => {}
            _ => self.err(
                format!("{p}.host"),
                "must be host:port with a port from 1 to 65535, such as smtp.example.com:587",
            ),
        }
        match smtp.from_address.split_once('@') {
            Some((user, domain))
                if !user.is_empty()
                    && !domain.is_empty()
                    && !smtp.from_address.contains(['$', ' ']) => {}
            _ => self.err(
                format!("{p}.fromAddress"),
                format!("{:?} is not an e-mail address", smtp.from_address),
            ),
        }
        // Grafana expands `${...}` in every setting, environment overrides included
        // (grafana `pkg/setting/expanders.go`): plain settings must not hold a `$`.
        for (field, value) in [("fromName", &smtp.from_name), ("user", &smtp.user)] {
            if value.as_deref().is_some_and(|v| v.contains('$')) {
                self.err(
                    format!("{p}.{field}"),
                    "must not contain '$' (Grafana would expand it as a variable)",
                );
            }
        }
        if let Some(r) = &smtp.password_secret_ref {
            if !is_dns_subdomain(&r.name) {
                self.err(
                    format!("{p}.passwordSecretRef.name"),
                    "must be a DNS subdomain name",
                );
            }
            self.secret_key(&format!("{p}.passwordSecretRef.key"), &r.key);
            if smtp.user.is_none() {
                self.err(
                    format!("{p}.user"),
                    "must be set with passwordSecretRef: Grafana logs in only with a user",
                );
            }
        }
    }

    pub(super) fn alerting(&mut self, a: &AlertingSpec, smtp: Option<&SmtpSpec>) {
        let mut groups = BTreeSet::new();
        for (gi, g) in a.rule_groups.iter().enumerate() {
            let gpath = format!("spec.grafana.alerting.ruleGroups[{gi}]");
            if g.name == BUILTIN_GROUP {
                self.err(
                    format!("{gpath}.name"),
                    format!("{BUILTIN_GROUP:?} is reserved for the built-in rules"),
                );
            } else if g.name == crate::builtin::cost::BUDGET_GROUP {
                self.err(
                    format!("{gpath}.name"),
                    format!(
                        "{:?} is reserved for the GenAI budget alert (spec.genai)",
                        g.name
                    ),
                );
            } else if g.name.starts_with(slos::GROUP_PREFIX) {
                self.err(
                    format!("{gpath}.name"),
                    format!(
                        "{:?} starts the SLOs' rule groups (spec.slos); use another name",
                        slos::GROUP_PREFIX
                    ),
                );
            }
            self.unique(&mut groups, format!("{gpath}.name"), &g.name, "");
            let before = self.errors.len();
            self.positive_duration(&format!("{gpath}.interval"), &g.interval);
            if self.errors.len() == before
                && let Some(problem) = limits::rule_group_interval_problem(&g.interval)
            {
                self.err(format!("{gpath}.interval"), problem);
            }
            if g.rules.is_empty() {
                self.err(format!("{gpath}.rules"), "must hold at least one rule");
            }
            let mut alerts = BTreeSet::new();
            for (ri, r) in g.rules.iter().enumerate() {
                let rpath = format!("{gpath}.rules[{ri}]");
                let within = format!(" in group {:?}", g.name);
                self.unique(&mut alerts, format!("{rpath}.alert"), &r.alert, &within);
                if !is_label_name(&r.alert) {
                    self.err(
                        format!("{rpath}.alert"),
                        "must match [a-zA-Z_][a-zA-Z0-9_]*",
                    );
                }
                if let Err(e) = super::promql::parse(&r.expr) {
                    self.err(
                        format!("{rpath}.expr"),
                        format!("is not valid PromQL: {}", one_line(&e)),
                    );
                }
                if let Some(f) = &r.for_ {
                    self.duration(&format!("{rpath}.for"), f);
                }
                for key in r.labels.keys().chain(r.annotations.keys()) {
                    if !is_label_name(key) {
                        self.err(
                            rpath.clone(),
                            format!(
                                "label or annotation name {key:?} must match [a-zA-Z_][a-zA-Z0-9_]*"
                            ),
                        );
                    }
                }
            }
        }
        let known = builtin_rule_names();
        for name in &a.builtin_rules.disabled {
            if !known.contains(&name.as_str()) {
                self.err(
                    "spec.grafana.alerting.builtinRules.disabled",
                    format!(
                        "{name:?} is not a built-in rule (known: {})",
                        known.join(", ")
                    ),
                );
            }
        }
        let mut points = BTreeSet::new();
        for (i, c) in a.contact_points.iter().enumerate() {
            let path = format!("spec.grafana.alerting.contactPoints[{i}]");
            self.unique(&mut points, format!("{path}.name"), &c.name, "");
            match c.type_ {
                ContactPointType::Email if c.addresses.is_empty() => {
                    self.err(format!("{path}.addresses"), "email needs at least one address")
                }
                ContactPointType::Email => {
                    for addr in &c.addresses {
                        if !addr.contains('@') {
                            self.err(format!("{path}.addresses"), format!("{addr:?} is not an e-mail address"));
                        }
                    }
                }
                _ if c.secret_ref.is_none() => self.err(
                    format!("{path}.secretRef"),
                    "slack, webhook and pagerduty need secretRef (the URL or key is read from a Secret)",
                ),
                _ => {}
            }
            if let Some(r) = &c.secret_ref
                && !is_dns_subdomain(&r.name)
            {
                self.err(
                    format!("{path}.secretRef.name"),
                    "must be a DNS subdomain name",
                );
            }
        }
        if a.contact_points
            .iter()
            .any(|c| c.type_ == ContactPointType::Email)
            && smtp.is_none()
        {
            let i = a
                .contact_points
                .iter()
                .position(|c| c.type_ == ContactPointType::Email)
                .unwrap_or_default();
            self.err(
                format!("spec.grafana.alerting.contactPoints[{i}].type"),
                "email contact points need spec.grafana.smtp: Grafana cannot deliver e-mail without an SMTP server",
            );
        }
        if let Some(d) = &a.default_contact_point
            && !points.contains(d.as_str())
        {
            self.err(
                "spec.grafana.alerting.defaultContactPoint",
                format!("{d:?} names no contact point in contactPoints"),
            );
        }
    }
}
