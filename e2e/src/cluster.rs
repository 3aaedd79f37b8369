//! Which cluster the end-to-end tests talk to, and the client for it. It owns the
//! kubeconfig lookup, the "no cluster" failure message, what the cluster serves, and
//! running command-line tools (kubectl, helm) against it; it never starts a cluster.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::api::core::v1::Node;
use kube::api::ListParams;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client, Config, ResourceExt};

/// Environment variable naming an explicit kubeconfig for the tests.
pub const KUBECONFIG_ENV: &str = "SEXTANT_E2E_KUBECONFIG";
/// Environment variable that, set to `external`, uses `KUBECONFIG` / `~/.kube/config`
/// even when the local control plane's kubeconfig exists.
pub const CLUSTER_ENV: &str = "SEXTANT_E2E_CLUSTER";

/// How long the first request to the API server may take before it counts as down.
const REACH_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a test waits for a Ready Node (the simulated kubelet may be starting).
const NODE_TIMEOUT: Duration = Duration::from_secs(30);

/// The repository root (the parent of the `e2e` crate).
pub fn repo_root() -> PathBuf {
    // At run time first: the compile-time value names the checkout that first built
    // this binary, which differs when clones share one cached target directory.
    let manifest = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    manifest.parent().map(Path::to_path_buf).unwrap_or(manifest)
}

/// Environment variable naming the local control plane's state directory (as for
/// `e2e/cluster.sh`); a relative path is taken from the repository root.
pub const STATE_DIR_ENV: &str = "SEXTANT_E2E_DIR";

/// The local control plane's state directory: `$SEXTANT_E2E_DIR` or `<repo>/.e2e`.
pub fn state_dir() -> PathBuf {
    match std::env::var_os(STATE_DIR_ENV) {
        Some(dir) => repo_root().join(dir),
        None => repo_root().join(".e2e"),
    }
}

/// The local control plane's kubeconfig, written by `e2e/cluster.sh up`.
pub fn local_kubeconfig() -> PathBuf {
    state_dir().join("kubeconfig")
}

/// Where the kubeconfig came from, for messages.
#[derive(Debug, Clone)]
pub enum Source {
    /// A file: `SEXTANT_E2E_KUBECONFIG` or the local control plane's.
    File(PathBuf),
    /// `KUBECONFIG`, `~/.kube/config` or the in-cluster service account.
    Inferred,
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::File(path) => write!(f, "kubeconfig {}", path.display()),
            Self::Inferred => f.write_str("KUBECONFIG / ~/.kube/config"),
        }
    }
}

/// A reachable cluster: a client plus the config it came from, so code that runs
/// outside the test's runtime (namespace cleanup on drop) can build its own client.
#[derive(Clone)]
pub struct Cluster {
    client: Client,
    config: Config,
    source: Source,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("url", &self.config.cluster_url)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Connects to the test cluster, or fails the test with what to do about it.
    ///
    /// A test never skips silently: without a cluster it panics with a message telling
    /// the user to run `make cluster-up` or to point `SEXTANT_E2E_CLUSTER=external` and
    /// `KUBECONFIG` at another cluster.
    pub async fn connect() -> Self {
        match Self::try_connect().await {
            Ok(cluster) => cluster,
            Err(e) => panic!("{}", unreachable_message(&e)),
        }
    }

    /// Connects to the test cluster and checks that it answers.
    pub async fn try_connect() -> anyhow::Result<Self> {
        let (config, source) = load_config().await?;
        Self::check(config, source).await
    }

    /// Connects with the kubeconfig at `path` and checks that the cluster answers.
    pub async fn try_connect_to(path: &Path) -> anyhow::Result<Self> {
        let config = config_from_file(path).await?;
        Self::check(config, Source::File(path.to_path_buf())).await
    }

    async fn check(config: Config, source: Source) -> anyhow::Result<Self> {
        let client = Client::try_from(config.clone())
            .with_context(|| format!("building a client from {source}"))?;
        let version = tokio::time::timeout(REACH_TIMEOUT, client.apiserver_version())
            .await
            .with_context(|| format!("{} ({source}) did not answer", config.cluster_url))?
            .with_context(|| format!("{} ({source}) did not answer", config.cluster_url))?;
        tracing::debug!(version = %version.git_version, %source, "connected");
        Ok(Self {
            client,
            config,
            source,
        })
    }

    /// Waits up to 30 s for a Ready Node and returns its name, or fails the test: on the
    /// local control plane only the simulated kubelet provides one, and without it every
    /// pod stays Pending.
    pub async fn require_ready_node(&self) -> String {
        let nodes: Api<Node> = Api::all(self.client.clone());
        let found = crate::wait::poll(NODE_TIMEOUT, async || {
            let list = nodes.list(&ListParams::default()).await?;
            Ok(list
                .items
                .iter()
                .find(|n| is_ready(n) && !repels(n))
                .map(ResourceExt::name_any))
        })
        .await;
        match found {
            Ok(name) => name,
            Err(timed_out) => panic!(
                "\nsextant e2e: no Ready Node in the cluster ({timed_out}), so pods would stay Pending.\n\
                 The local control plane has no kubelet: build the simulated one and rerun\n\
                 `make cluster-up` (it starts the binary when it exists), or run it by hand:\n  \
                 cargo run -p sextant-e2e --bin sim-kubelet -- --kubeconfig {}\n\
                 (its log, when started by cluster.sh: {})\n",
                local_kubeconfig().display(),
                crate::diagnostics::default_kubelet_log().display()
            ),
        }
    }

    /// The client, bound to the runtime that connected.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The config the client was built from.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the config came from.
    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Whether the API server serves `group` at `version` (e.g. `autoscaling`, `v2`).
    pub async fn serves(&self, group: &str, version: &str) -> bool {
        kube::discovery::group(&self.client, group)
            .await
            .is_ok_and(|g| g.versions().any(|v| v == version))
    }

    /// Runs `cmd` (kubectl, helm) with `args` and this cluster's kubeconfig; returns
    /// stdout, or an error with stderr. `hint` says what to do when it cannot start.
    pub(crate) fn run_tool(
        &self,
        mut cmd: std::process::Command,
        args: &[&str],
        hint: &str,
    ) -> anyhow::Result<String> {
        if let Source::File(path) = &self.source {
            cmd.env("KUBECONFIG", path);
        }
        let program = cmd.get_program().to_string_lossy().into_owned();
        let out = cmd
            .args(args)
            .output()
            .with_context(|| format!("running {program} ({hint})"))?;
        anyhow::ensure!(
            out.status.success(),
            "{program} {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// Whether a node has a taint that keeps ordinary pods off it (the local control
/// plane's second node is tainted like a GPU node).
fn repels(node: &Node) -> bool {
    node.spec
        .as_ref()
        .and_then(|s| s.taints.as_ref())
        .is_some_and(|ts| {
            ts.iter()
                .any(|t| t.effect == "NoSchedule" || t.effect == "NoExecute")
        })
}

fn is_ready(node: &Node) -> bool {
    node.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// What a test says when no cluster answers: never a silent skip.
pub fn unreachable_message(error: &anyhow::Error) -> String {
    format!(
        "\nsextant e2e: no Kubernetes API server is reachable: {error:#}\n\n\
         Start the local control plane with `make cluster-up` (kubeconfig: {}),\n\
         or test against another cluster with SEXTANT_E2E_CLUSTER=external and\n\
         KUBECONFIG pointing at it (or SEXTANT_E2E_KUBECONFIG=/path/to/kubeconfig).\n",
        local_kubeconfig().display()
    )
}

async fn config_from_file(path: &Path) -> anyhow::Result<Config> {
    let kubeconfig = Kubeconfig::read_from(path)
        .with_context(|| format!("reading kubeconfig {}", path.display()))?;
    Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
        .await
        .with_context(|| format!("loading kubeconfig {}", path.display()))
}

/// Picks the kubeconfig: `SEXTANT_E2E_KUBECONFIG`, then (unless
/// `SEXTANT_E2E_CLUSTER=external`) `<repo>/.e2e/kubeconfig`, then the usual inference.
async fn load_config() -> anyhow::Result<(Config, Source)> {
    let explicit = std::env::var_os(KUBECONFIG_ENV).map(PathBuf::from);
    let external = std::env::var(CLUSTER_ENV).is_ok_and(|v| v == "external");
    let local = local_kubeconfig();
    let file = explicit.or_else(|| (!external && local.exists()).then_some(local));
    match file {
        Some(path) => Ok((config_from_file(&path).await?, Source::File(path))),
        None => {
            let config = Config::infer().await.with_context(|| {
                format!(
                    "no {} and no KUBECONFIG or ~/.kube/config",
                    local_kubeconfig().display()
                )
            })?;
            Ok((config, Source::Inferred))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_unreachable_cluster_fails_with_instructions() {
        // Port 9 (discard) on loopback: nothing listens, the connection is refused.
        let dir = std::env::temp_dir().join(format!("sextant-e2e-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("unreachable-kubeconfig");
        std::fs::write(
            &path,
            "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:9'}}]\n\
             users: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
        )
        .expect("write kubeconfig");
        let error = Cluster::try_connect_to(&path)
            .await
            .expect_err("nothing listens there");
        let message = unreachable_message(&error);
        assert!(message.contains("make cluster-up"), "{message}");
        assert!(
            message.contains("SEXTANT_E2E_CLUSTER=external"),
            "{message}"
        );
        assert!(message.contains("127.0.0.1:9"), "{message}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
