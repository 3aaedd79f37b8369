//! Tempo's children: ServiceAccount, config, Service and StatefulSet.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;

use super::common::*;
use super::stateful::{StatefulWorkload, stateful_set};
use super::{Resources, images};
use crate::render::{ports, tempo, to_yaml};
use crate::validate::ValidatedStack;

const C: Component = Component::Tempo;

pub(super) fn build(stack: &ValidatedStack) -> Resources {
    let spec = &stack.spec.tempo;
    let cm = config_map(
        stack,
        C,
        "config",
        BTreeMap::from([("tempo.yaml".into(), to_yaml(&tempo::render(stack)))]),
    );
    let hash = config_hash(&[&cm], &[]);
    let container = secured(Container {
        name: "tempo".into(),
        image: Some(spec.image.clone().unwrap_or_else(|| images::TEMPO.into())),
        args: Some(vec!["-config.file=/conf/tempo.yaml".into()]),
        ports: Some(vec![
            container_port("http", ports::TEMPO_HTTP),
            container_port("grpc", ports::TEMPO_GRPC),
            container_port("otlp-grpc", ports::OTLP_GRPC),
            container_port("otlp-http", ports::OTLP_HTTP),
        ]),
        liveness_probe: Some(http_probe("/ready", "http", 30, 15)),
        readiness_probe: Some(http_probe("/ready", "http", 10, 5)),
        resources: Some(resources(
            spec.resources.as_ref(),
            ("200m", "512Mi"),
            ("2", "2Gi"),
        )),
        volume_mounts: Some(vec![
            mount("config", "/conf", true),
            mount("data", tempo::DATA_DIR, false),
        ]),
        ..Container::default()
    });
    let sts = stateful_set(
        stack,
        StatefulWorkload {
            component: C,
            replicas: spec.replicas,
            uid: images::TEMPO_UID,
            container,
            config_map: cm.metadata.name.clone().unwrap_or_default(),
            config_hash: hash,
            volume_size: &spec.storage.size,
            termination_grace_seconds: tempo::TERMINATION_GRACE_SECONDS,
            automount_token: false,
        },
    );
    Resources {
        service_accounts: vec![service_account(stack, C, false)],
        config_maps: vec![cm],
        services: vec![service(
            stack,
            C,
            &[
                ("http", ports::TEMPO_HTTP),
                ("otlp-grpc", ports::OTLP_GRPC),
                ("otlp-http", ports::OTLP_HTTP),
            ],
        )],
        stateful_sets: vec![sts],
        ..Resources::default()
    }
}
