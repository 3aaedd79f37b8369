//! Tempo's children: ServiceAccount, config, Service and StatefulSet.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Container;

use super::Resources;
use super::common::*;
use super::stateful::{StatefulWorkload, stateful_set};
use crate::model::{Capabilities, ports};
use crate::render::{tempo, to_yaml};

const C: Component = Component::Tempo;

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    let resolved = stack.component(C);
    let cm = config_map(
        stack,
        C,
        "config",
        BTreeMap::from([("tempo.yaml".into(), to_yaml(&tempo::render(stack)))]),
    );
    let hash = config_hash(&[&cm], &[]);
    let container = secured(Container {
        name: "tempo".into(),
        image: Some(resolved.image.clone()),
        args: Some(vec!["-config.file=/conf/tempo.yaml".into()]),
        ports: Some(vec![
            container_port("http", ports::TEMPO_HTTP),
            container_port("grpc", ports::TEMPO_GRPC),
            container_port("otlp-grpc", ports::OTLP_GRPC),
            container_port("otlp-http", ports::OTLP_HTTP),
        ]),
        liveness_probe: Some(http_probe("/ready", "http", 30, 15)),
        readiness_probe: Some(http_probe("/ready", "http", 10, 5)),
        resources: Some(resolved.resources.clone()),
        volume_mounts: Some(vec![
            mount("config", "/conf", true),
            mount("data", tempo::DATA_DIR, false),
        ]),
        ..Container::default()
    });
    let sts = stateful_set(
        stack,
        caps,
        StatefulWorkload {
            component: C,
            container,
            config_map: cm.metadata.name.clone().unwrap_or_default(),
            config_hash: hash,
            termination_grace_seconds: tempo::TERMINATION_GRACE_SECONDS,
            automount_token: false,
        },
    );
    Resources {
        service_accounts: vec![service_account(stack, C, false)],
        config_maps: vec![cm],
        services: vec![service(stack, C)],
        stateful_sets: vec![sts],
        ..Resources::default()
    }
}
