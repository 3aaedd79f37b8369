//! How users reach Grafana beyond its Ingress: a Gateway API HTTPRoute
//! (`spec.grafana.httpRoute`), single sign-on
//! (`spec.grafana.oauth`, Grafana's generic OAuth) and the `grafana.ini`
//! settings sextant does not model (`spec.grafana.settings`), each checked
//! against what Grafana 12.4 does with it.
//!
//! Grafana sources read (grafana/grafana, stored copies at commits near 12.x,
//! not at the v12.4.12 tag, which could not be fetched here):
//! `pkg/setting/setting.go` (environment overrides `GF_<SECTION>_<KEY>`;
//! empty values of a custom ini skipped), `pkg/setting/expanders.go` (`$`
//! expansion of every value), `pkg/login/social/connectors/social_base.go`
//! (`role_attribute_path` tried on the token and user info, then on
//! `{"groups": [...]}`), `pkg/util/strings.go` (`SplitString` takes a JSON
//! list), and go-ini `parser.go` (a `"""`-quoted value is taken as written).

use super::Validator;
use crate::api::{GrafanaOAuth, ObservabilityStackSpec};
use crate::model::Component;

/// Settings that would move Grafana off the address its Service, probes,
/// datasource links and Ingress use.
const SERVING: [(&str, &str); 4] = [
    ("server", "http_port"),
    ("server", "http_addr"),
    ("server", "protocol"),
    ("server", "socket"),
];

/// The environment variable through which Grafana overrides `[section] key`
/// (grafana `pkg/setting/setting.go` `applyEnvVariableOverrides`: dots of
/// both and dashes of the section become `_`, all upper case).
pub fn env_name(section: &str, key: &str) -> String {
    format!(
        "GF_{}_{}",
        section.replace(['.', '-'], "_").to_uppercase(),
        key.replace('.', "_").to_uppercase()
    )
}

/// Where the spec models a setting sextant sets.
fn modelled_by(env: &str) -> &'static str {
    let fields = [
        ("GF_SECURITY_ADMIN_", "set spec.grafana.adminCredentials"),
        ("GF_SMTP_", "set spec.grafana.smtp"),
        (
            "GF_SERVER_ROOT_URL",
            "it follows spec.grafana.ingress or httpRoute",
        ),
        ("GF_AUTH_GENERIC_OAUTH_", "set spec.grafana.oauth"),
    ];
    fields
        .iter()
        .find(|(prefix, _)| env.starts_with(prefix))
        .map_or("sextant needs it as it is", |(_, field)| field)
}

/// A section or key name that reads back unchanged from an ini file.
fn is_ini_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

impl Validator {
    /// `spec.grafana.settings`: names the ini file keeps, values on one line,
    /// nothing sextant sets itself.
    pub(super) fn grafana_settings(&mut self, spec: &ObservabilityStackSpec) {
        let owned = Component::Grafana.owned_env();
        for (section, keys) in &spec.grafana.settings {
            let at = format!("spec.grafana.settings.{section}");
            if !is_ini_name(section) {
                self.err(
                    at.clone(),
                    "a section name must be 1 to 128 letters, digits, '_', '.' or '-'",
                );
                continue;
            }
            for (key, value) in keys {
                let at = format!("{at}.{key}");
                if !is_ini_name(key) {
                    self.err(
                        at,
                        "a key must be 1 to 128 letters, digits, '_', '.' or '-'",
                    );
                    continue;
                }
                let env = env_name(section, key);
                // sextant sets the root URL only from an Ingress.
                let root_url_free = env == "GF_SERVER_ROOT_URL" && spec.grafana.ingress.is_none();
                if owned.contains(&env.as_str()) && !root_url_free {
                    self.err(
                        at,
                        format!(
                            "is set by sextant ({env}), which would override it: {}",
                            modelled_by(&env)
                        ),
                    );
                } else if SERVING.contains(&(section.as_str(), key.as_str())) {
                    self.err(
                        at,
                        "cannot change: Grafana's Service, probes, Ingress and datasource links use its HTTP port 3000",
                    );
                } else if value.contains(['\n', '\r']) {
                    self.err(at, "must be one line");
                } else if value.trim().is_empty() {
                    self.err(
                        at,
                        "must not be empty: Grafana skips empty values of grafana.ini, so it would keep its default",
                    );
                }
            }
        }
    }

    /// `spec.grafana.oauth`: URLs Grafana takes, Secret names and keys, and
    /// values that survive Grafana's `$` expansion and list syntax.
    pub(super) fn grafana_oauth(&mut self, spec: &ObservabilityStackSpec) {
        let Some(o) = &spec.grafana.oauth else {
            return;
        };
        let p = "spec.grafana.oauth";
        self.secret_name(format!("{p}.secretName"), &o.secret_name);
        self.secret_key(&format!("{p}.clientIdKey"), &o.client_id_key);
        self.secret_key(&format!("{p}.clientSecretKey"), &o.client_secret_key);
        let urls = [
            ("authUrl", Some(&o.auth_url)),
            ("tokenUrl", Some(&o.token_url)),
            ("apiUrl", Some(&o.api_url)),
            ("signoutRedirectUrl", o.signout_redirect_url.as_ref()),
        ];
        for (field, url) in urls {
            if let Some(u) = url {
                self.http_url(&format!("{p}.{field}"), u);
            }
        }
        let texts = [
            ("name", o.name.as_ref()),
            ("roleAttributePath", o.role_attribute_path.as_ref()),
            ("groupsAttributePath", o.groups_attribute_path.as_ref()),
            ("emailAttributePath", o.email_attribute_path.as_ref()),
            ("loginAttributePath", o.login_attribute_path.as_ref()),
            ("nameAttributePath", o.name_attribute_path.as_ref()),
        ];
        for (field, text) in texts {
            if let Some(t) = text {
                self.plain_setting(&format!("{p}.{field}"), t);
            }
        }
        for (i, s) in o.scopes.iter().enumerate() {
            if s.is_empty() || s.contains(|c: char| c.is_whitespace() || c == ',' || c == '$') {
                self.err(
                    format!("{p}.scopes[{i}]"),
                    "must be one scope: no white space, ',' or '$'",
                );
            }
        }
        let groups = o
            .allowed_groups
            .iter()
            .enumerate()
            .map(|(i, g)| (format!("{p}.allowedGroups[{i}]"), g))
            .chain(o.group_roles.iter().flat_map(|r| {
                let admin = r
                    .admin
                    .iter()
                    .enumerate()
                    .map(|(i, g)| (format!("{p}.groupRoles.admin[{i}]"), g));
                let editor = r
                    .editor
                    .iter()
                    .enumerate()
                    .map(|(i, g)| (format!("{p}.groupRoles.editor[{i}]"), g));
                admin.chain(editor).collect::<Vec<_>>()
            }));
        for (path, g) in groups {
            // Quoted in a JMESPath raw string for groupRoles: no quote or
            // backslash; `$` is expanded by Grafana.
            if g.trim().is_empty() || g.contains(['\'', '\\', '$', '\n', '\r']) {
                self.err(
                    path,
                    "must be a group name without quotes, backslashes, '$' or line breaks",
                );
            }
        }
        for (i, d) in o.allowed_domains.iter().enumerate() {
            if !super::is_dns_subdomain(d) || !d.contains('.') {
                self.err(
                    format!("{p}.allowedDomains[{i}]"),
                    "must be an e-mail domain such as example.com",
                );
            }
        }
        if o.role_attribute_path.is_some() && o.group_roles.is_some() {
            self.err(
                format!("{p}.groupRoles"),
                "set roleAttributePath or groupRoles, not both",
            );
        }
        if o.group_roles
            .as_ref()
            .is_some_and(|r| r.admin.is_empty() && r.editor.is_empty())
        {
            self.err(
                format!("{p}.groupRoles"),
                "must name at least one admin or editor group",
            );
        }
        if (!o.allowed_groups.is_empty() || o.group_roles.is_some())
            && o.groups_attribute_path.is_none()
        {
            self.err(
                format!("{p}.groupsAttributePath"),
                "must be set with allowedGroups or groupRoles: Grafana reads the user's groups from it",
            );
        }
        if o.allow_assign_grafana_admin && o.role_attribute_path.is_none() {
            self.err(
                format!("{p}.allowAssignGrafanaAdmin"),
                "needs roleAttributePath: only an expression can return GrafanaAdmin",
            );
        }
        let root_url = spec.grafana.ingress.is_some()
            || spec.grafana.http_route.is_some()
            || spec
                .grafana
                .settings
                .get("server")
                .is_some_and(|s| s.contains_key("root_url"));
        if !root_url {
            self.err(
                p,
                "needs the address users open Grafana at, for the provider's redirect back: set spec.grafana.ingress, spec.grafana.httpRoute or spec.grafana.settings.server.root_url",
            );
        }
    }

    /// `spec.grafana.httpRoute`: what the Gateway API's CRD schema takes
    /// (host names, Gateway and listener names), and not with an Ingress.
    pub(super) fn grafana_http_route(&mut self, spec: &ObservabilityStackSpec) {
        let Some(r) = &spec.grafana.http_route else {
            return;
        };
        let p = "spec.grafana.httpRoute";
        if spec.grafana.ingress.is_some() {
            self.err(
                p,
                "cannot be set with spec.grafana.ingress: Grafana has one root_url; choose one",
            );
        }
        if r.parent_refs.is_empty() || r.parent_refs.len() > 32 {
            self.err(
                format!("{p}.parentRefs"),
                "must name 1 to 32 Gateways: a route attached to none serves nothing",
            );
        }
        if r.hostnames.is_empty() || r.hostnames.len() > 16 {
            self.err(
                format!("{p}.hostnames"),
                "must hold 1 to 16 host names: the first is Grafana's root_url",
            );
        }
        for (i, h) in r.hostnames.iter().enumerate() {
            let bare = h.strip_prefix("*.").unwrap_or(h);
            if !super::is_dns_subdomain(bare) {
                self.err(
                    format!("{p}.hostnames[{i}]"),
                    "must be a host name such as grafana.example.com (lower case; no scheme, port or path)",
                );
            }
        }
        if r.hostnames.first().is_some_and(|h| h.starts_with("*.")) {
            self.err(
                format!("{p}.hostnames[0]"),
                "must not be a wildcard: it is Grafana's root_url",
            );
        }
        for (i, g) in r.parent_refs.iter().enumerate() {
            let at = format!("{p}.parentRefs[{i}]");
            if !super::is_dns_subdomain(&g.name) {
                self.err(
                    format!("{at}.name"),
                    "must be a Gateway name (a DNS subdomain)",
                );
            }
            if g.namespace
                .as_deref()
                .is_some_and(|n| !super::is_dns_label(n))
            {
                self.err(
                    format!("{at}.namespace"),
                    "must be a namespace name (a DNS label)",
                );
            }
            if g.section_name
                .as_deref()
                .is_some_and(|n| !super::is_dns_subdomain(n))
            {
                self.err(
                    format!("{at}.sectionName"),
                    "must be a listener name (lower case letters, digits, '-' and '.')",
                );
            }
        }
        for k in r.annotations.keys() {
            self.annotation_key(format!("{p}.annotations[{k}]"), k);
        }
    }

    fn http_url(&mut self, path: &str, u: &str) {
        let ok = url::Url::parse(u).is_ok_and(|url| {
            matches!(url.scheme(), "http" | "https")
                && url.host_str().is_some_and(|h| !h.is_empty())
        }) && !u.contains('$');
        if !ok {
            self.err(
                path,
                "must be an http or https URL with a host, without '$'",
            );
        }
    }

    /// A value passed in an environment variable: Grafana expands `$` in it.
    fn plain_setting(&mut self, path: &str, v: &str) {
        if v.contains('$') || v.contains(['\n', '\r']) {
            self.err(
                path,
                "must be one line without '$' (Grafana would expand it as a variable)",
            );
        }
    }
}

/// The `role_attribute_path` sextant writes for `groupRoles`: Admin for an
/// admin group, else Editor for an editor group, else nothing (Grafana then
/// gives its default role, or refuses with `roleAttributeStrict`). Grafana
/// evaluates it on the token and user info and then on `{"groups": [...]}`
/// from `groupsAttributePath` (`searchRole` in social_base.go).
pub fn group_role_path(o: &GrafanaOAuth) -> Option<String> {
    let roles = o.group_roles.as_ref()?;
    let any = |groups: &[String]| {
        groups
            .iter()
            .map(|g| format!("contains(groups[*], '{g}')"))
            .collect::<Vec<_>>()
            .join(" || ")
    };
    let arms: Vec<String> = [(&roles.admin, "Admin"), (&roles.editor, "Editor")]
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, role)| format!("({}) && '{role}'", any(g)))
        .collect();
    Some(arms.join(" || "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names_follow_grafana() {
        assert_eq!(
            env_name("auth.generic_oauth", "client_id"),
            "GF_AUTH_GENERIC_OAUTH_CLIENT_ID"
        );
        assert_eq!(
            env_name("plugin.grafana-image-renderer", "rendering_timezone"),
            "GF_PLUGIN_GRAFANA_IMAGE_RENDERER_RENDERING_TIMEZONE"
        );
        assert_eq!(env_name("server", "root_url"), "GF_SERVER_ROOT_URL");
    }
}
