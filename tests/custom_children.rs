//! Grafana's HTTPRoute and the collector's cert-manager Certificate as built:
//! valid against the upstream CRD schemas (npm @kubernetes-models/gateway-api
//! 2.0.0 and @kubernetes-models/cert-manager 6.0.0, generated from the
//! Gateway API's and cert-manager's CRDs; `scripts/tools.sh install
//! crd-schemas`), with what the spec asks, only where discovery found the
//! CRDs, and said so in the status where it did not.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use serde_json::{Value, json};
use sextant::build::{Resources, api_unavailable, build};
use sextant::model::{Capabilities, Component, ValidatedStack};
use sextant::validate::{Dereferenced, validate};

const SPEC: &str = "collector:
  tls:
    secretName: otlp-tls
    certificate:
      issuerRef: {name: internal-ca, kind: ClusterIssuer}
      dnsNames: [otlp.example.com]
      duration: 2160h
      renewBefore: 360h
grafana:
  httpRoute:
    parentRefs: [{name: public, namespace: gateway-system, sectionName: https}]
    hostnames: [grafana.example.com, grafana.internal.example.com]
    annotations: {team: sre}";

fn valid(spec: &str) -> ValidatedStack {
    validate(&common::with_spec(spec), &Dereferenced::offline()).unwrap_or_else(|e| panic!("{e}"))
}

fn with_crds() -> Capabilities {
    Capabilities {
        http_routes: true,
        certificates: true,
        ..Capabilities::current()
    }
}

fn custom_objects(r: &Resources) -> Vec<Value> {
    r.to_values()
        .into_iter()
        .filter(|v| matches!(v["kind"].as_str(), Some("HTTPRoute" | "Certificate")))
        .collect()
}

#[test]
fn routes_and_certificates_satisfy_the_upstream_schemas() {
    let Some(validator) = common::tool("validate-custom-objects") else {
        return;
    };
    let r = build(&valid(SPEC), &with_crds());
    let objects = custom_objects(&r);
    assert_eq!(objects.len(), 2, "{objects:#?}");
    let run = |objects: &[Value]| {
        let mut child = Command::new(&validator)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(serde_json::to_string(objects).unwrap().as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
        )
    };
    let (ok, out) = run(&objects);
    assert!(ok, "{out}");
    assert_eq!(
        out.lines().filter(|l| l.starts_with("valid ")).count(),
        2,
        "{out}"
    );
    // The validator is real: a route without its backend's name fails.
    let mut broken = objects[0].clone();
    let rule = if broken["kind"] == "HTTPRoute" {
        &mut broken["spec"]["rules"][0]["backendRefs"][0]
    } else {
        &mut broken["spec"]["issuerRef"]
    };
    rule.as_object_mut().unwrap().remove("name");
    let (ok, out) = run(&[broken]);
    assert!(!ok, "{out}");
}

#[test]
fn what_is_built_is_what_the_spec_asks() {
    let stack = valid(SPEC);
    let r = build(&stack, &with_crds());
    let route = &r.http_routes[0];
    assert_eq!(route.metadata.name.as_deref(), Some("s-grafana"));
    assert_eq!(route.metadata.annotations.as_ref().unwrap()["team"], "sre");
    let v = serde_json::to_value(&route.spec).unwrap();
    assert_eq!(
        v,
        json!({
            "parentRefs": [{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public", "namespace": "gateway-system", "sectionName": "https"}],
            "hostnames": ["grafana.example.com", "grafana.internal.example.com"],
            "rules": [{
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "backendRefs": [{"group": "", "kind": "Service", "name": "s-grafana", "port": 3000, "weight": 1}],
            }],
        })
    );
    // The Service and port the route names exist.
    let svc = r
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("s-grafana"))
        .unwrap();
    assert!(
        svc.spec
            .as_ref()
            .unwrap()
            .ports
            .iter()
            .flatten()
            .any(|p| p.port == 3000)
    );
    let env = common::pod_of(&r, "s-grafana").containers[0]
        .env
        .clone()
        .unwrap();
    let root = env.iter().find(|e| e.name == "GF_SERVER_ROOT_URL").unwrap();
    assert_eq!(root.value.as_deref(), Some("https://grafana.example.com/"));

    let cert = &r.certificates[0];
    assert_eq!(cert.metadata.name.as_deref(), Some("s-collector-tls"));
    assert_eq!(
        serde_json::to_value(&cert.spec).unwrap(),
        json!({
            "secretName": "otlp-tls",
            "dnsNames": ["s-collector", "s-collector.ns", "s-collector.ns.svc", "otlp.example.com"],
            "issuerRef": {"name": "internal-ca", "kind": "ClusterIssuer", "group": "cert-manager.io"},
            "duration": "2160h",
            "renewBefore": "360h",
        })
    );
    // The collector mounts the Secret the Certificate fills.
    let pod = common::pod_of(&r, "s-collector");
    assert!(
        pod.volumes.iter().flatten().any(|v| v
            .secret
            .as_ref()
            .and_then(|s| s.secret_name.as_deref())
            == Some("otlp-tls"))
    );
}

#[test]
fn without_the_crds_nothing_is_built_and_the_status_says_why() {
    let stack = valid(SPEC);
    let caps = Capabilities::current();
    let r = build(&stack, &caps);
    assert!(r.http_routes.is_empty() && r.certificates.is_empty());
    let missing = api_unavailable(&stack, &caps);
    let about = |c: Component| {
        missing
            .iter()
            .find(|(k, _, _)| *k == c)
            .map(|(_, _, m)| m.clone())
            .unwrap_or_default()
    };
    assert!(
        about(Component::Grafana).contains("HTTPRoute is not served"),
        "{missing:?}"
    );
    assert!(
        about(Component::Collector).contains("Certificate is not served")
            && about(Component::Collector).contains("otlp-tls"),
        "{missing:?}"
    );
    assert!(
        api_unavailable(&stack, &with_crds())
            .iter()
            .all(|(_, _, m)| !m.contains("not served ("))
    );
}
