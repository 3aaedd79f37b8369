//! Loki's children: ServiceAccount, config, Service and StatefulSet, all in the
//! single-binary shape of `super::stateful`, running every module (`-target=all`).

use super::Resources;
use super::common::*;
use super::object_store;
use super::stateful::{DEFAULT_TERMINATION_GRACE_SECONDS, SingleBinary, single_binary};
use crate::model::{Capabilities, ports};
use crate::render::loki;

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    let mut config = super::overrides::config_text(stack, Component::Loki, &loki::render(stack));
    let mut extra_args = vec!["-target=all"];
    if object_store::loki_expands_env(stack) {
        config = object_store::expand_env_text(&config);
        extra_args.push("-config.expand-env=true");
    }
    single_binary(
        stack,
        caps,
        SingleBinary {
            component: Component::Loki,
            config_file: "loki.yaml",
            config,
            extra_args,
            ports: vec![
                container_port("http", ports::LOKI_HTTP),
                container_port("grpc", ports::LOKI_GRPC),
            ],
            data_dir: loki::DATA_DIR,
            termination_grace_seconds: DEFAULT_TERMINATION_GRACE_SECONDS,
        },
    )
}
