//! Typed configuration files of the backends, rendered deterministically.
//!
//! Each submodule holds serde structs that mirror the upstream configuration
//! schema of the pinned image version (named at the top of each file) and a
//! function from a `crate::model::ValidatedStack` to that config. Struct fields serialize in
//! declaration order and maps are `BTreeMap`s, so the same stack always renders
//! the same bytes. Nothing here talks to a cluster.

pub mod cluster_collector;
pub mod grafana;
pub mod k8s_metadata;
pub mod loki;
pub mod monitors;
pub mod node_agent;
pub mod otelcol;
pub mod prometheus;
pub mod tempo;
pub mod yaml;

/// The `server` block Loki and Tempo share: both embed grafana/dskit's
/// `server.Config` under `server` (grafana/loki v3.7.6 `pkg/loki/loki.go`,
/// grafana/tempo v2.10.8 `cmd/tempo/app/config.go`), whose vendored copy at those
/// tags (`vendor/github.com/grafana/dskit/server/server.go`) reads these three
/// keys as `http_listen_port`, `grpc_listen_port` and `log_level`.
#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Server {
    pub http_listen_port: i32,
    pub grpc_listen_port: i32,
    pub log_level: String,
}

/// Serializes a config struct to YAML: the bytes serde_yaml_ng writes, by
/// [`yaml::to_string`] where the shape allows and by serde_yaml_ng otherwise. In
/// debug builds (every test) the two are compared.
pub fn to_yaml<T: serde::Serialize>(value: &T) -> String {
    // Serializing plain structs, strings, numbers and BTreeMaps cannot fail.
    let slow = || serde_yaml_ng::to_string(value).unwrap_or_default();
    let fast = yaml::to_string(value);
    #[cfg(test)]
    YAML_CALLS.with(|c| {
        let (calls, slow) = c.get();
        c.set((calls + 1, slow + usize::from(fast.is_none())));
    });
    match fast {
        Some(fast) => {
            debug_assert_eq!(fast, slow(), "render::yaml differs from serde_yaml_ng");
            fast
        }
        None => slow(),
    }
}

#[cfg(test)]
thread_local! {
    /// Calls of [`to_yaml`] on this thread, and how many of them went to
    /// serde_yaml_ng: for the test that every built-in config takes the fast path.
    pub(crate) static YAML_CALLS: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// The `memberlist` block of a clustered Loki or Tempo: both embed dskit's
/// `memberlist.KVConfig` under `memberlist` (grafana/loki v3.7.6
/// `pkg/loki/loki.go`, grafana/tempo v2.10.8 `cmd/tempo/app/config.go`; keys in
/// `vendor/github.com/grafana/dskit/kv/memberlist/memberlist_client.go` at those
/// tags). The one join member is `dns+` the headless members Service: dskit
/// resolves a member holding `+` through its DNS provider (`discoverMembers`),
/// here to every pod's address. A pod that finds no one yet (the first to start)
/// keeps running and gossips with the others as they come
/// (`abort_if_cluster_join_fails: false`).
#[derive(serde::Serialize, Debug, Clone, PartialEq)]
pub(crate) struct Memberlist {
    pub join_members: Vec<String>,
    pub bind_port: i32,
    pub abort_if_cluster_join_fails: bool,
}

impl Memberlist {
    /// Joins the members Service of `c`.
    pub(crate) fn of(stack: &crate::model::ValidatedStack, c: crate::model::Component) -> Self {
        let port = crate::model::ports::MEMBERLIST;
        Self {
            join_members: vec![format!("dns+{}:{port}", stack.members_host(c))],
            bind_port: port,
            abort_if_cluster_join_fails: false,
        }
    }
}

/// The replication factor of a clustered Loki's and Tempo's writes: three
/// copies, the factor both projects run at scale (dskit's quorum is 2 of 3).
pub(crate) const CLUSTER_REPLICATION_FACTOR: u32 = 3;
