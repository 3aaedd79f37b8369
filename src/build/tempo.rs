//! Tempo's children: ServiceAccount, config, Service and StatefulSet, all in the
//! single-binary shape of `super::stateful`, also receiving OTLP from the collector.

use super::Resources;
use super::common::*;
use super::stateful::{SingleBinary, single_binary};
use crate::model::{Capabilities, ports};
use crate::render::tempo;

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    single_binary(
        stack,
        caps,
        SingleBinary {
            component: Component::Tempo,
            config_file: "tempo.yaml",
            config: super::overrides::config_text(stack, Component::Tempo, &tempo::render(stack)),
            // The scalable mode's target: the single binary's modules, with
            // its rings on memberlist (`cmd/tempo/app/modules.go` at v2.10.8,
            // `ScalableSingleBinary: {SingleBinary}`).
            extra_args: if stack.clustered(Component::Tempo) {
                vec!["-target=scalable-single-binary"]
            } else {
                Vec::new()
            },
            ports: vec![
                container_port("http", ports::TEMPO_HTTP),
                container_port("grpc", ports::TEMPO_GRPC),
                container_port("otlp-grpc", ports::OTLP_GRPC),
                container_port("otlp-http", ports::OTLP_HTTP),
            ],
            data_dir: tempo::DATA_DIR,
            termination_grace_seconds: tempo::TERMINATION_GRACE_SECONDS,
        },
    )
}
