//! Loki's children: ServiceAccount, config, Service and StatefulSet, all in the
//! single-binary shape of `super::stateful`, running every module (`-target=all`).

use super::Resources;
use super::common::*;
use super::stateful::{DEFAULT_TERMINATION_GRACE_SECONDS, SingleBinary, single_binary};
use crate::model::{Capabilities, ports};
use crate::render::loki;

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    single_binary(
        stack,
        caps,
        SingleBinary {
            component: Component::Loki,
            config_file: "loki.yaml",
            config: super::overrides::config_text(stack, Component::Loki, &loki::render(stack)),
            extra_args: &["-target=all"],
            ports: vec![
                container_port("http", ports::LOKI_HTTP),
                container_port("grpc", ports::LOKI_GRPC),
            ],
            data_dir: loki::DATA_DIR,
            termination_grace_seconds: DEFAULT_TERMINATION_GRACE_SECONDS,
        },
    )
}
