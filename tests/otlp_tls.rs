//! TLS on OTLP ingest as built: both OTLP receivers serve the mounted
//! certificate and re-read it (a renewed Secret needs no restart), client CAs
//! make them require client certificates, the node port stays plain, the
//! Secrets are whole volumes (not subPath, which the kubelet never updates),
//! and the status says `https`. Bearer tokens from a Secret guard both OTLP
//! receivers, not the node port. An external Service exposes the OTLP ports
//! alone.

mod common;

use serde_yaml_ng::Value;
use sextant::build::build;
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

fn collector_config(spec: &str) -> (Value, k8s_openapi::api::core::v1::PodSpec) {
    let stack = validate(&common::with_spec(spec), &Dereferenced::offline()).unwrap();
    let r = build(&stack, &Capabilities::current());
    let cm = r
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some("s-collector-config"))
        .unwrap();
    let config = serde_yaml_ng::from_str(&cm.data.as_ref().unwrap()["config.yaml"]).unwrap();
    let pod = common::pod_of(&r, "s-collector");
    (config, pod)
}

#[test]
fn both_otlp_receivers_serve_the_mounted_certificate() {
    let (config, pod) = collector_config(
        "collector:\n  tls: {secretName: otlp-tls, clientCaSecretName: otlp-clients}",
    );
    for protocol in ["grpc", "http"] {
        let tls = &config["receivers"]["otlp"]["protocols"][protocol]["tls"];
        assert_eq!(tls["cert_file"], "/etc/otelcol/tls/tls.crt", "{protocol}");
        assert_eq!(tls["key_file"], "/etc/otelcol/tls/tls.key", "{protocol}");
        assert_eq!(tls["reload_interval"], "1m", "{protocol}");
        assert_eq!(tls["client_ca_file"], "/etc/otelcol/client-ca/ca.crt");
        assert_eq!(tls["client_ca_file_reload"], true);
    }
    assert!(
        config["receivers"]["otlp/node"]["protocols"]["grpc"]
            .get("tls")
            .is_none(),
        "the node port stays plain"
    );
    let container = &pod.containers[0];
    for (volume, secret, dir) in [
        ("tls", "otlp-tls", "/etc/otelcol/tls"),
        ("client-ca", "otlp-clients", "/etc/otelcol/client-ca"),
    ] {
        let v = pod
            .volumes
            .iter()
            .flatten()
            .find(|v| v.name == volume)
            .unwrap();
        assert_eq!(
            v.secret.as_ref().unwrap().secret_name.as_deref(),
            Some(secret)
        );
        let m = container
            .volume_mounts
            .iter()
            .flatten()
            .find(|m| m.name == volume)
            .unwrap();
        assert_eq!(m.mount_path, dir);
        assert_eq!(
            m.sub_path, None,
            "a subPath mount never sees a renewed Secret"
        );
        assert_eq!(m.read_only, Some(true));
    }

    // Without client CAs: TLS only, no client certificate asked.
    let (config, _) = collector_config("collector:\n  tls: {secretName: otlp-tls}");
    let tls = &config["receivers"]["otlp"]["protocols"]["grpc"]["tls"];
    assert!(tls.get("client_ca_file").is_none());
    // Without TLS: plain, and no Secret volume.
    let (config, pod) = collector_config("{}");
    assert!(
        config["receivers"]["otlp"]["protocols"]["grpc"]
            .get("tls")
            .is_none()
    );
    assert!(!pod.volumes.iter().flatten().any(|v| v.secret.is_some()));
}

#[test]
fn bearer_tokens_guard_both_otlp_receivers_and_not_the_node_port() {
    let (config, pod) = collector_config(
        "collector:\n  tls: {secretName: otlp-tls}\n  auth: {secretName: otlp-tokens}",
    );
    assert_eq!(
        config["extensions"]["bearertokenauth/otlp"]["filename"],
        "/etc/otelcol/auth/tokens"
    );
    let extensions = config["service"]["extensions"].as_sequence().unwrap();
    assert!(
        extensions.iter().any(|e| e == "bearertokenauth/otlp"),
        "{extensions:?}"
    );
    for protocol in ["grpc", "http"] {
        assert_eq!(
            config["receivers"]["otlp"]["protocols"][protocol]["auth"]["authenticator"],
            "bearertokenauth/otlp",
            "{protocol}"
        );
    }
    assert!(
        config["receivers"]["otlp/node"]["protocols"]["grpc"]
            .get("auth")
            .is_none()
    );
    let v = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "auth")
        .unwrap();
    assert_eq!(
        v.secret.as_ref().unwrap().secret_name.as_deref(),
        Some("otlp-tokens")
    );
    let (config, _) = collector_config("{}");
    assert!(config["extensions"].get("bearertokenauth/otlp").is_none());
    assert!(
        config["receivers"]["otlp"]["protocols"]["grpc"]
            .get("auth")
            .is_none()
    );
}

/// `externalService` adds `<stack>-collector-external` with the OTLP ports
/// only, of the asked type and settings; the in-cluster Service is unchanged.
#[test]
fn the_external_service_exposes_only_the_otlp_ports() {
    let stack = validate(
        &common::with_spec(
            "collector: {externalService: {annotations: {service.beta.kubernetes.io/aws-load-balancer-scheme: internal}, loadBalancerSourceRanges: [203.0.113.0/24], loadBalancerClass: example.com/lb, externalTrafficPolicy: Local}}",
        ),
        &Dereferenced::offline(),
    )
    .unwrap();
    let r = build(&stack, &Capabilities::current());
    let svc = |name: &str| {
        r.services
            .iter()
            .find(|s| s.metadata.name.as_deref() == Some(name))
            .unwrap_or_else(|| panic!("no Service {name}"))
    };
    let external = svc("s-collector-external");
    let spec = external.spec.as_ref().unwrap();
    let ports: Vec<(Option<&str>, i32)> = spec
        .ports
        .iter()
        .flatten()
        .map(|p| (p.name.as_deref(), p.port))
        .collect();
    assert_eq!(
        ports,
        [(Some("otlp-grpc"), 4317), (Some("otlp-http"), 4318)]
    );
    assert_eq!(spec.type_.as_deref(), Some("LoadBalancer"));
    assert_eq!(
        spec.load_balancer_source_ranges.as_deref(),
        Some(&["203.0.113.0/24".to_string()][..])
    );
    assert_eq!(spec.load_balancer_class.as_deref(), Some("example.com/lb"));
    assert_eq!(spec.external_traffic_policy.as_deref(), Some("Local"));
    assert_eq!(
        external.metadata.annotations.as_ref().unwrap()["service.beta.kubernetes.io/aws-load-balancer-scheme"],
        "internal"
    );
    assert_eq!(
        spec.selector,
        svc("s-collector").spec.as_ref().unwrap().selector,
        "the same pods"
    );
    let internal = svc("s-collector").spec.as_ref().unwrap();
    assert_eq!(internal.type_, None);
    assert_eq!(internal.ports.as_ref().unwrap().len(), 4, "{internal:?}");

    let none = validate(&common::with_spec("{}"), &Dereferenced::offline()).unwrap();
    assert!(
        !build(&none, &Capabilities::current())
            .services
            .iter()
            .any(|s| s.metadata.name.as_deref() == Some("s-collector-external"))
    );
}
