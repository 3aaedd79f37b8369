//! Secret values in Grafana's contact points survive Grafana's interpolation.
//!
//! Grafana interpolates every string of a provisioned contact point's settings
//! (grafana `pkg/services/provisioning/alerting/contact_point_types.go`:
//! `Settings values.JSONValue`; `interpolateValue` in
//! `pkg/services/provisioning/values/values.go`; `ExpandVar` in
//! `pkg/setting/expanders.go`; read in a stored copy of grafana/grafana, not
//! verified at the v12.4.12 tag): the YAML-decoded string is split on `"$$"`; each
//! part goes through `setting.ExpandVar`, which replaces every match of
//! `\$(|__\w+){([^}]+)}` (the env expander for `${X}` and `$__env{X}` first, then
//! the file expander for `$__file{path}`, whose content is `strings.TrimSpace`d),
//! then through `os.ExpandEnv` (`$name`, `${name}`, special `$1`, `$$`...); the
//! parts are joined with `"$"`. `grafana_interpolate` below does the same with an
//! empty environment and a given set of files.
//!
//! The rendered `contact-points.yaml` is parsed with serde_yaml_ng, the library
//! that wrote it (Grafana uses Go's yaml package): this proves the `$` escaping,
//! not the YAML quoting of every possible string.

mod common;

use std::collections::BTreeMap;

use serde_json::Value;
use sextant::build::build;
use sextant::model::Capabilities;
use sextant::model::ValidatedStack;
use sextant::validate::{Dereferenced, validate};

/// A secret value made to break every way of passing it through Grafana.
const HOSTILE: &str = "https://hooks.example.com/x?sig=a$b$$c${d}&e=$x&q=\"it's\"\\n\\\nline2 $__file{/etc/passwd} $__env{HOME} $1 $";

/// `os.ExpandEnv` (Go `os.Expand` with `os.Getenv`) in an empty environment.
fn go_expand_env(s: &str) -> String {
    fn special(c: u8) -> bool {
        matches!(
            c,
            b'*' | b'#' | b'$' | b'@' | b'!' | b'?' | b'-' | b'0'..=b'9'
        )
    }
    fn alnum(c: u8) -> bool {
        c == b'_' || c.is_ascii_alphanumeric()
    }
    /// Go's `getShellName`: the name after a `$` and how many bytes it takes.
    fn shell_name(s: &[u8]) -> (&[u8], usize) {
        if s[0] == b'{' {
            if s.len() > 2 && special(s[1]) && s[2] == b'}' {
                return (&s[1..2], 3);
            }
            for i in 1..s.len() {
                if s[i] == b'}' {
                    if i == 1 {
                        return (b"", 2);
                    }
                    return (&s[1..i], i + 1);
                }
            }
            return (b"", 1);
        }
        if special(s[0]) {
            return (&s[0..1], 1);
        }
        let n = s.iter().take_while(|c| alnum(**c)).count();
        (&s[..n], n)
    }
    let b = s.as_bytes();
    let mut out: Vec<u8> = Vec::new();
    let mut i = 0;
    let mut j = 0;
    while j < b.len() {
        if b[j] == b'$' && j + 1 < b.len() {
            out.extend_from_slice(&b[i..j]);
            let (name, w) = shell_name(&b[j + 1..]);
            if name.is_empty() && w == 0 {
                out.push(b'$');
            }
            // A name expands to "" (empty environment); bad syntax is eaten.
            j += w;
            i = j + 1;
        }
        j += 1;
    }
    out.extend_from_slice(&b[i.min(b.len())..]);
    String::from_utf8(out).unwrap()
}

/// The matches of `\$(|__\w+){([^}]+)}` in `s`: (whole match, prefix, argument).
fn expander_matches(s: &str) -> Vec<(String, String, String)> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        if b[j..].starts_with(b"__") {
            let word = b[j + 2..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == b'_')
                .count();
            if word > 0 {
                j += 2 + word;
            }
        }
        // `\w+` is greedy but may give back: `$__file{` cannot, since `{` is not `\w`.
        if b.get(j) == Some(&b'{')
            && let Some(close) = b[j + 1..].iter().position(|c| *c == b'}')
            && close > 0
        {
            let end = j + 1 + close;
            out.push((
                s[i..=end].to_string(),
                s[i + 1..j].to_string(),
                s[j + 1..end].to_string(),
            ));
            i = end + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// `setting.ExpandVar` with the env expander (empty environment) then the file
/// expander over `files`.
fn grafana_expand_var(s: &str, files: &BTreeMap<&str, &str>) -> Result<String, String> {
    let mut s = s.to_string();
    for expander in ["env", "file"] {
        for (whole, prefix, arg) in expander_matches(&s.clone()) {
            let updated = match (expander, prefix.as_str()) {
                ("env", "" | "__env") => String::new(),
                ("file", "__file") => files
                    .get(arg.as_str())
                    .map(|c| c.trim().to_string())
                    .ok_or_else(|| format!("stat {arg}: no such file or directory"))?,
                _ => continue,
            };
            s = s.replacen(&whole, &updated, 1);
        }
    }
    Ok(s)
}

/// Grafana's `interpolateValue` over one decoded YAML string.
fn grafana_interpolate(val: &str, files: &BTreeMap<&str, &str>) -> Result<String, String> {
    let parts = val
        .split("$$")
        .map(|p| grafana_expand_var(p, files).map(|e| go_expand_env(&e)))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(parts.join("$"))
}

/// Every string of a settings object as Grafana's `transformInterface` sees it.
fn interpolate_settings(v: &Value, files: &BTreeMap<&str, &str>) -> Value {
    match v {
        Value::String(s) => Value::String(grafana_interpolate(s, files).unwrap()),
        Value::Array(a) => Value::Array(a.iter().map(|v| interpolate_settings(v, files)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), interpolate_settings(v, files)))
                .collect(),
        ),
        other => other.clone(),
    }
}

fn stack_with_values(values: &[(&str, &str, &str)]) -> ValidatedStack {
    let stack = common::with_spec(
        "grafana:\n  alerting:\n    contactPoints:\n\
         \x20     - {name: chat, type: slack, secretRef: {name: slack-hook, key: url}}\n\
         \x20     - {name: hook, type: webhook, secretRef: {name: hook, key: url}}\n\
         \x20     - {name: page, type: pagerduty, secretRef: {name: pd, key: integration-key}}\n",
    );
    let mut valid = validate(&stack, &Dereferenced::offline()).unwrap();
    for (secret, key, value) in values {
        valid
            .contact_point_secrets
            .insert(secret, key, value.to_string());
    }
    valid
}

fn find<'a>(objects: &'a [Value], kind: &str, name: &str) -> &'a Value {
    objects
        .iter()
        .find(|o| o["kind"] == kind && o["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind}/{name}"))
}

/// The contact-points file of the rendered `s-grafana-alerting` Secret.
fn contact_points_file(objects: &[Value]) -> String {
    let secret = find(objects, "Secret", "s-grafana-alerting");
    let bytes: k8s_openapi::ByteString =
        serde_json::from_value(secret["data"]["contact-points.yaml"].clone()).unwrap();
    String::from_utf8(bytes.0).unwrap()
}

/// The settings of each contact point after Grafana's interpolation, by name.
fn provisioned_settings(file: &str, files: &BTreeMap<&str, &str>) -> BTreeMap<String, Value> {
    let parsed: Value = serde_yaml_ng::from_str(file).unwrap();
    parsed["contactPoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_string(),
                interpolate_settings(&c["receivers"][0]["settings"], files),
            )
        })
        .collect()
}

#[test]
fn the_interpolation_model_matches_grafanas_documented_cases() {
    let none = BTreeMap::new();
    // values_test.go's cases, as far as an empty environment allows.
    assert_eq!(grafana_interpolate("$$", &none).unwrap(), "$");
    assert_eq!(grafana_interpolate("a$$b", &none).unwrap(), "a$b");
    assert_eq!(grafana_interpolate("$$$$", &none).unwrap(), "$$");
    assert_eq!(grafana_interpolate("x$y", &none).unwrap(), "x");
    assert_eq!(grafana_interpolate("x${y}z", &none).unwrap(), "xz");
    assert_eq!(grafana_interpolate("$__env{Y}z", &none).unwrap(), "z");
    assert_eq!(grafana_interpolate("cost $", &none).unwrap(), "cost $");
    let files = BTreeMap::from([("/f", " secret\n")]);
    assert_eq!(
        grafana_interpolate("$__file{/f}", &files).unwrap(),
        "secret"
    );
    assert!(grafana_interpolate("$__file{/missing}", &files).is_err());
}

#[test]
fn secret_values_reach_grafana_unchanged() {
    let valid = stack_with_values(&[
        ("slack-hook", "url", HOSTILE),
        ("hook", "url", "https://h.example/$HOME/${PATH}"),
        ("pd", "integration-key", "$$$"),
    ]);
    let objects = build(&valid, &Capabilities::current()).to_values();
    let file = contact_points_file(&objects);
    let settings = provisioned_settings(&file, &BTreeMap::new());
    assert_eq!(settings["chat"]["url"], HOSTILE, "in the file:\n{file}");
    assert_eq!(settings["hook"]["url"], "https://h.example/$HOME/${PATH}");
    assert_eq!(settings["hook"]["httpMethod"], "POST");
    assert_eq!(settings["page"]["integrationKey"], "$$$");
    // Surrounding white space goes, as Grafana's `$__file{}` trimmed it.
    let padded = stack_with_values(&[("slack-hook", "url", "  https://h.example/a$b\n")]);
    let file = contact_points_file(&build(&padded, &Capabilities::current()).to_values());
    let settings = provisioned_settings(&file, &BTreeMap::new());
    assert_eq!(settings["chat"]["url"], "https://h.example/a$b");
}

/// The negative case: the former rendering (`$__file{}` of a mounted key) hands
/// Grafana the same value mangled, so the test above can fail.
#[test]
fn a_file_reference_mangles_the_same_value() {
    let path = "/etc/grafana/secrets/slack-hook/url";
    let files = BTreeMap::from([(path, HOSTILE)]);
    let got = grafana_interpolate(&format!("$__file{{{path}}}"), &files).unwrap();
    assert_ne!(got, HOSTILE);
    // `$b`, `$$` (Go's special variable `$`), `${d}`, `$x` and `$1` vanish.
    assert!(
        got.starts_with("https://hooks.example.com/x?sig=ac&e=&q="),
        "{got}"
    );
    // An environment variable holding it fares no better: `${X}` puts the value in,
    // and `os.ExpandEnv` then runs over it just the same.
    assert_ne!(go_expand_env(HOSTILE), HOSTILE);
}

#[test]
fn secret_values_go_to_the_secret_only_and_roll_the_pod() {
    let canary = "canary-1b2c-do-not-copy";
    let value = format!("https://hooks.example/{canary}");
    let valid = stack_with_values(&[("slack-hook", "url", &value)]);
    let objects = build(&valid, &Capabilities::current()).to_values();
    for o in &objects {
        let text = serde_json::to_string(o).unwrap();
        let is_alerting = o["kind"] == "Secret" && o["metadata"]["name"] == "s-grafana-alerting";
        assert!(
            !text.contains(canary),
            "{} {} holds the value in clear",
            o["kind"],
            o["metadata"]["name"]
        );
        if is_alerting {
            assert!(contact_points_file(&objects).contains(canary));
        }
    }
    let config = find(&objects, "ConfigMap", "s-grafana-config");
    assert!(config["data"].get("contact-points.yaml").is_none());
    let deployment = find(&objects, "Deployment", "s-grafana");
    let pod = &deployment["spec"]["template"]["spec"];
    let volumes = pod["volumes"].as_array().unwrap();
    // The contact point's Secret is not mounted: its value comes from sextant's
    // own Secret. (The admin Secret is, for `$__file{}`.)
    assert!(
        !volumes
            .iter()
            .any(|v| v["secret"]["secretName"] == "slack-hook"),
        "{volumes:?}"
    );
    let secret_volumes: Vec<&Value> = volumes
        .iter()
        .filter(|v| v["secret"]["secretName"] == "s-grafana-alerting")
        .collect();
    assert_eq!(secret_volumes.len(), 1, "{secret_volumes:?}");
    let mounts = pod["containers"][0]["volumeMounts"].as_array().unwrap();
    let mount = mounts
        .iter()
        .find(|m| m["name"] == secret_volumes[0]["name"])
        .unwrap();
    assert_eq!(
        mount["mountPath"],
        "/etc/grafana/provisioning/alerting/contact-points.yaml"
    );
    assert_eq!(mount["subPath"], "contact-points.yaml");
    assert!(!mounts.iter().any(|m| {
        m["mountPath"]
            .as_str()
            .unwrap()
            .starts_with("/etc/grafana/secrets/slack-hook")
    }));

    // A rotated value changes the pod template's config hash.
    let hash = |v: &ValidatedStack| {
        let objects = build(v, &Capabilities::current()).to_values();
        find(&objects, "Deployment", "s-grafana")["spec"]["template"]["metadata"]["annotations"]
            ["observability.sextant.dev/config-hash"]
            .clone()
    };
    let rotated = stack_with_values(&[("slack-hook", "url", "https://hooks.example/new")]);
    assert_ne!(hash(&valid), hash(&rotated));
    assert_eq!(hash(&valid), hash(&valid.clone()));
}

#[test]
fn offline_rendering_leaves_values_out() {
    let valid = stack_with_values(&[]);
    let file = contact_points_file(&build(&valid, &Capabilities::current()).to_values());
    let settings = provisioned_settings(&file, &BTreeMap::new());
    assert_eq!(settings["chat"]["url"], "<Secret slack-hook key url>");
    assert_eq!(
        settings["page"]["integrationKey"],
        "<Secret pd key integration-key>"
    );
}

#[test]
fn secret_values_never_show_in_debug_output() {
    let valid = stack_with_values(&[("slack-hook", "url", "hunter2-value")]);
    let debug = format!("{valid:?}");
    assert!(!debug.contains("hunter2-value"), "{debug}");
    assert!(debug.contains("slack-hook/url"));
}
