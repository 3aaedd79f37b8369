//! Grafana's single sign-on and `grafana.ini` settings as built: the generic
//! OAuth settings reach Grafana as environment overrides of keys its
//! `conf/defaults.ini` holds (an override of any other key is ignored), the
//! client id and secret as mounted files, lists as JSON; the role expression
//! sextant writes for `groupRoles` gives the intended role when evaluated by
//! the JMESPath reference implementation (jmespath.py; Grafana uses the Go
//! port); `spec.grafana.settings` becomes a `grafana.ini` over the image's.

mod common;

use std::collections::BTreeMap;
use std::process::Command;

use k8s_openapi::api::core::v1::PodSpec;
use sextant::build::{Resources, build};
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

/// The keys of `[auth.generic_oauth]` in grafana/grafana `conf/defaults.ini`,
/// as read in a stored copy (commit 3ba4aa68, a 12.x development state; the
/// v12.4.12 tag could not be fetched here).
const DEFAULTS_INI_GENERIC_OAUTH: &[&str] = &[
    "name",
    "icon",
    "enabled",
    "allow_sign_up",
    "auto_login",
    "client_id",
    "client_secret",
    "scopes",
    "empty_scopes",
    "email_attribute_name",
    "email_attribute_path",
    "login_attribute_path",
    "name_attribute_path",
    "role_attribute_path",
    "role_attribute_strict",
    "org_attribute_path",
    "org_mapping",
    "groups_attribute_path",
    "id_token_attribute_name",
    "team_ids_attribute_path",
    "auth_url",
    "token_url",
    "api_url",
    "signout_redirect_url",
    "teams_url",
    "allowed_domains",
    "allowed_groups",
    "team_ids",
    "allowed_organizations",
    "tls_skip_verify_insecure",
    "tls_client_cert",
    "tls_client_key",
    "tls_client_ca",
    "use_pkce",
    "auth_style",
    "allow_assign_grafana_admin",
    "skip_org_role_sync",
    "use_refresh_token",
];

const OAUTH: &str = "grafana:
  ingress: {host: grafana.example.com, tlsSecretName: grafana-tls}
  oauth:
    name: Company SSO
    secretName: grafana-oidc
    authUrl: https://id.example.com/oauth2/authorize
    tokenUrl: https://id.example.com/oauth2/token
    apiUrl: https://id.example.com/oauth2/userinfo
    scopes: [openid, email, profile, groups]
    groupsAttributePath: groups
    allowedGroups: [observability, Platform Team]
    allowedDomains: [example.com]
    groupRoles: {admin: [platform-admins], editor: [sre, Platform Team]}
    roleAttributeStrict: true
    emailAttributePath: email
    loginAttributePath: preferred_username
    nameAttributePath: name
    signoutRedirectUrl: https://id.example.com/logout";

fn built(spec: &str) -> Resources {
    let stack = validate(&common::with_spec(spec), &Dereferenced::offline())
        .unwrap_or_else(|e| panic!("{e}"));
    build(&stack, &Capabilities::current())
}

fn grafana_pod(r: &Resources) -> PodSpec {
    common::pod_of(r, "s-grafana")
}

fn env(pod: &PodSpec) -> BTreeMap<String, String> {
    pod.containers[0]
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.clone(), e.value.clone().unwrap_or_default()))
        .collect()
}

#[test]
fn oauth_settings_are_keys_grafana_reads_and_the_client_comes_from_files() {
    let r = built(OAUTH);
    let pod = grafana_pod(&r);
    let env = env(&pod);
    let oauth: BTreeMap<&str, &str> = env
        .iter()
        .filter_map(|(k, v)| {
            k.strip_prefix("GF_AUTH_GENERIC_OAUTH_")
                .map(|k| (k, v.as_str()))
        })
        .collect();
    for key in oauth.keys() {
        assert!(
            DEFAULTS_INI_GENERIC_OAUTH.contains(&key.to_lowercase().as_str()),
            "GF_AUTH_GENERIC_OAUTH_{key} overrides no key of defaults.ini: Grafana would ignore it"
        );
    }
    assert_eq!(oauth["ENABLED"], "true");
    assert_eq!(oauth["NAME"], "Company SSO");
    assert_eq!(oauth["AUTH_URL"], "https://id.example.com/oauth2/authorize");
    assert_eq!(oauth["TOKEN_URL"], "https://id.example.com/oauth2/token");
    assert_eq!(oauth["API_URL"], "https://id.example.com/oauth2/userinfo");
    assert_eq!(oauth["SCOPES"], r#"["openid","email","profile","groups"]"#);
    assert_eq!(
        oauth["ALLOWED_GROUPS"],
        r#"["observability","Platform Team"]"#
    );
    assert_eq!(oauth["ALLOWED_DOMAINS"], r#"["example.com"]"#);
    assert_eq!(oauth["ROLE_ATTRIBUTE_STRICT"], "true");
    assert_eq!(oauth["USE_PKCE"], "true");
    assert_eq!(oauth["GROUPS_ATTRIBUTE_PATH"], "groups");
    assert_eq!(
        oauth["SIGNOUT_REDIRECT_URL"],
        "https://id.example.com/logout"
    );
    // Anonymous access stays off, the admin login stays (break-glass), and the
    // provider redirects back to the Ingress's address.
    assert_eq!(env["GF_AUTH_ANONYMOUS_ENABLED"], "false");
    assert!(env.contains_key("GF_SECURITY_ADMIN_PASSWORD"));
    assert!(!env.keys().any(|k| k.contains("DISABLE_LOGIN")));
    assert_eq!(env["GF_SERVER_ROOT_URL"], "https://grafana.example.com/");

    // The client id and secret: `$__file{}` of files the pod mounts.
    for (var, key) in [
        ("CLIENT_ID", "client-id"),
        ("CLIENT_SECRET", "client-secret"),
    ] {
        let path = format!("/etc/grafana/secrets/grafana-oidc/{key}");
        assert_eq!(oauth[var], format!("$__file{{{path}}}"));
        let mount = pod.containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| path.starts_with(&format!("{}/", m.mount_path)))
            .unwrap_or_else(|| panic!("nothing mounted at {path}"));
        let volume = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == mount.name)
            .unwrap();
        let secret = volume.secret.as_ref().unwrap();
        assert_eq!(secret.secret_name.as_deref(), Some("grafana-oidc"));
        assert!(
            secret
                .items
                .iter()
                .flatten()
                .any(|i| i.key == key && i.path == key),
            "{secret:?}"
        );
    }
    // No SSO without the field.
    let plain = env_of("{}");
    assert!(
        !plain
            .keys()
            .any(|k| k.starts_with("GF_AUTH_GENERIC_OAUTH_"))
    );
}

fn env_of(spec: &str) -> BTreeMap<String, String> {
    env(&grafana_pod(&built(spec)))
}

/// Evaluates a JMESPath expression on a JSON document with jmespath.py:
/// whether it evaluated, and its JSON result.
fn jmespath(jp: &std::path::Path, expr: &str, doc: &str) -> (bool, String) {
    let out = common::pipe(Command::new(jp).arg(expr), doc.as_bytes());
    (
        out.status.success(),
        String::from_utf8(out.stdout).unwrap().trim().to_string(),
    )
}

/// Grafana tries `role_attribute_path` on the ID token and user info, then on
/// `{"groups": [...]}` from `groups_attribute_path`; a string result is the
/// role, anything else leaves Grafana's default role (or, strict, refuses).
#[test]
fn group_roles_give_admin_then_editor_then_nothing() {
    let Some(jp) = common::tool("jp.py") else {
        return;
    };
    let path = env_of(OAUTH)["GF_AUTH_GENERIC_OAUTH_ROLE_ATTRIBUTE_PATH"].clone();
    let cases = [
        (r#"["platform-admins", "sre"]"#, r#""Admin""#),
        (r#"["sre"]"#, r#""Editor""#),
        (r#"["Platform Team"]"#, r#""Editor""#),
        (r#"["observability"]"#, "false"),
        ("[]", "false"),
    ];
    for (groups, want) in cases {
        let doc = format!(r#"{{"groups": {groups}}}"#);
        assert_eq!(
            jmespath(&jp, &path, &doc),
            (true, want.to_string()),
            "{path} on {doc}"
        );
    }
    // On a token without a groups claim the expression fails to evaluate
    // (contains() of null), so Grafana moves on to the groups it read.
    let (ok, out) = jmespath(&jp, &path, r#"{"sub": "u1", "email": "u@example.com"}"#);
    assert!(
        !ok || !out.contains('"'),
        "no role from a token without groups: {out}"
    );
}

#[test]
fn settings_become_a_grafana_ini_over_the_images() {
    let r = built(
        "grafana:\n  settings:\n    feature_toggles: {enable: \"newDashboards; provisioning\"}\n    dashboards: {min_refresh_interval: 10s}\n    auth.generic_oauth: {auto_login: \"true\"}",
    );
    let cm = r
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("s-grafana-config"))
        .unwrap();
    let ini = &cm.data.as_ref().unwrap()["grafana.ini"];
    assert_eq!(
        ini,
        "; spec.grafana.settings, written by sextant\n\n[auth.generic_oauth]\nauto_login = \"\"\"true\"\"\"\n\n[dashboards]\nmin_refresh_interval = \"\"\"10s\"\"\"\n\n[feature_toggles]\nenable = \"\"\"newDashboards; provisioning\"\"\"\n"
    );
    let pod = grafana_pod(&r);
    let mount = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == "/etc/grafana/grafana.ini")
        .expect("grafana.ini is mounted where the image's GF_PATHS_CONFIG points");
    assert_eq!(mount.sub_path.as_deref(), Some("grafana.ini"));
    assert_eq!(mount.name, "config");
    // Without settings the image's own file stays.
    let plain = built("{}");
    assert!(
        !grafana_pod(&plain).containers[0]
            .volume_mounts
            .iter()
            .flatten()
            .any(|m| m.mount_path == "/etc/grafana/grafana.ini")
    );
}
