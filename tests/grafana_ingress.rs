//! Grafana's Ingress as built: every path of the host to Grafana's Service by
//! its port name, TLS from the named Secret, the annotations, and Grafana's
//! `root_url` (`GF_SERVER_ROOT_URL`) following the host and the scheme.

mod common;

use sextant::build::build;
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

fn root_url(r: &sextant::build::Resources) -> Option<String> {
    let d = r
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("s-grafana"))
        .unwrap();
    d.spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .as_ref()
        .unwrap()
        .containers[0]
        .env
        .iter()
        .flatten()
        .find(|e| e.name == "GF_SERVER_ROOT_URL")
        .and_then(|e| e.value.clone())
}

#[test]
fn the_ingress_routes_the_host_to_grafana_and_sets_root_url() {
    let stack = validate(
        &common::with_spec(
            "grafana:\n  ingress: {host: grafana.example.com, className: nginx, tlsSecretName: grafana-tls, annotations: {cert-manager.io/cluster-issuer: le}}",
        ),
        &Dereferenced::offline(),
    )
    .unwrap();
    let r = build(&stack, &Capabilities::current());
    assert_eq!(r.ingresses.len(), 1);
    let ing = &r.ingresses[0];
    assert_eq!(ing.metadata.name.as_deref(), Some("s-grafana"));
    assert_eq!(
        ing.metadata.annotations.as_ref().unwrap()["cert-manager.io/cluster-issuer"],
        "le"
    );
    let spec = ing.spec.as_ref().unwrap();
    assert_eq!(spec.ingress_class_name.as_deref(), Some("nginx"));
    let rule = &spec.rules.as_ref().unwrap()[0];
    assert_eq!(rule.host.as_deref(), Some("grafana.example.com"));
    let path = &rule.http.as_ref().unwrap().paths[0];
    assert_eq!(
        (path.path.as_deref(), path.path_type.as_str()),
        (Some("/"), "Prefix")
    );
    let backend = path.backend.service.as_ref().unwrap();
    assert_eq!(backend.name, "s-grafana");
    // The Service's port of that name.
    let svc = r
        .services
        .iter()
        .find(|s| s.metadata.name.as_deref() == Some("s-grafana"))
        .unwrap();
    let port = backend.port.as_ref().unwrap().name.as_deref().unwrap();
    assert!(
        svc.spec
            .as_ref()
            .unwrap()
            .ports
            .iter()
            .flatten()
            .any(|p| p.name.as_deref() == Some(port)),
        "{port}"
    );
    let tls = &spec.tls.as_ref().unwrap()[0];
    assert_eq!(tls.secret_name.as_deref(), Some("grafana-tls"));
    assert_eq!(
        tls.hosts.as_deref(),
        Some(&["grafana.example.com".to_string()][..])
    );
    assert_eq!(
        root_url(&r).as_deref(),
        Some("https://grafana.example.com/")
    );

    let plain = validate(
        &common::with_spec("grafana:\n  ingress: {host: grafana.example.com}"),
        &Dereferenced::offline(),
    )
    .unwrap();
    let r = build(&plain, &Capabilities::current());
    assert!(r.ingresses[0].spec.as_ref().unwrap().tls.is_none());
    assert_eq!(root_url(&r).as_deref(), Some("http://grafana.example.com/"));

    let none = validate(&common::with_spec("{}"), &Dereferenced::offline()).unwrap();
    let r = build(&none, &Capabilities::current());
    assert!(r.ingresses.is_empty());
    assert_eq!(root_url(&r), None);
}
