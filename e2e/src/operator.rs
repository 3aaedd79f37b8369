//! Runs a real `sextant run` process for one test: it watches only that test's
//! namespace, logs to its own file and serves metrics on its own port, so tests
//! stay independent and each can count exactly the writes its operator made.
//! The process is killed when the `Operator` is dropped.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::cluster::{Source, state_dir};
use crate::{Cluster, repo_root};

/// Environment variable naming the sextant binary (default: cargo's debug build).
pub const SEXTANT_BIN_ENV: &str = "SEXTANT_BIN";

/// The sextant binary the tests run.
pub fn sextant_bin() -> PathBuf {
    if let Some(p) = std::env::var_os(SEXTANT_BIN_ENV) {
        return PathBuf::from(p);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo_root().join("target"));
    target.join("debug").join("sextant")
}

/// Where an operator for `namespace` logs: `operator-<namespace>.log`, then
/// `operator-<namespace>-2.log` and so on when one test runs several operators.
pub fn log_path(namespace: &str) -> PathBuf {
    let dir = state_dir().join("logs");
    let first = dir.join(format!("operator-{namespace}.log"));
    if !first.exists() {
        return first;
    }
    (2..)
        .map(|n| dir.join(format!("operator-{namespace}-{n}.log")))
        .find(|p| !p.exists())
        .unwrap_or(first)
}

/// The ClusterRole name prefix of operators started by [`Operator::start`].
pub const CLUSTER_ROLE_PREFIX: &str = "sextant-e2e";

/// A running operator.
pub struct Operator {
    child: Child,
    metrics_port: u16,
    /// The operator's log file.
    pub log: PathBuf,
}

impl Operator {
    /// Starts `sextant run --namespace <namespace>` against the test cluster, with
    /// extra arguments, and waits until it serves /readyz. Unless `extra` says
    /// otherwise it binds the ClusterRoles `sextant-e2e-node-agent` and
    /// `sextant-e2e-k8s-metadata` ([`CLUSTER_ROLE_PREFIX`]) for node agents and
    /// Kubernetes metadata, as the chart's operator binds its own: the operator runs
    /// with the admin credential, which may bind a ClusterRole that does not exist,
    /// and no agent container runs here to use one (tests/helm.rs installs the
    /// chart's real ClusterRoles).
    pub async fn start(cluster: &Cluster, namespace: &str, extra: &[&str]) -> anyhow::Result<Self> {
        Self::start_with(cluster, namespace, extra, true).await
    }

    /// `start`, but as an install without cluster-wide collection: no ClusterRole
    /// to bind, so its stacks get no ClusterRoleBinding and no cluster finalizer.
    pub async fn start_without_cluster_roles(
        cluster: &Cluster,
        namespace: &str,
        extra: &[&str],
    ) -> anyhow::Result<Self> {
        Self::start_with(cluster, namespace, extra, false).await
    }

    async fn start_with(
        cluster: &Cluster,
        namespace: &str,
        extra: &[&str],
        cluster_roles: bool,
    ) -> anyhow::Result<Self> {
        let op = Self::spawn(namespace, |cmd, port| {
            cmd.arg("run")
                .arg("--namespace")
                .arg(namespace)
                .arg("--metrics-addr")
                .arg(format!("127.0.0.1:{port}"))
                .arg("--log-format")
                .arg("json")
                .args(extra)
                .env("SEXTANT_LOG", "info,sextant=debug");
            if cluster_roles && !extra.iter().any(|a| a.starts_with("--cluster-role-prefix")) {
                cmd.arg(format!("--cluster-role-prefix={CLUSTER_ROLE_PREFIX}"));
            }
            if let Source::File(path) = cluster.source() {
                cmd.env("KUBECONFIG", path);
            }
        })?;
        op.until_ready().await
    }

    /// Starts the sextant binary, logging to `log_path(log_name)`, with the
    /// arguments and environment `configure` gives it and a free metrics port.
    fn spawn(log_name: &str, configure: impl FnOnce(&mut Command, u16)) -> anyhow::Result<Self> {
        Self::spawn_binary(&sextant_bin(), log_name, configure)
    }

    /// `spawn`, running the binary at `binary`.
    fn spawn_binary(
        binary: &std::path::Path,
        log_name: &str,
        configure: impl FnOnce(&mut Command, u16),
    ) -> anyhow::Result<Self> {
        let port = free_port()?;
        let log = log_path(log_name);
        if let Some(dir) = log.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = std::fs::File::create(&log)?;
        let mut cmd = Command::new(binary);
        configure(&mut cmd, port);
        cmd.stdin(Stdio::null())
            .stdout(file.try_clone()?)
            .stderr(file)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .with_context(|| format!("starting {}", binary.display()))?;
        Ok(Self {
            child,
            metrics_port: port,
            log,
        })
    }

    /// Waits up to 10 s until the operator serves /readyz.
    async fn until_ready(self) -> anyhow::Result<Self> {
        for _ in 0..100 {
            if self.get("/readyz").await.is_ok_and(|b| b.contains("ok")) {
                return Ok(self);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        anyhow::bail!("operator did not become ready; log:\n{}", self.log_tail(40))
    }

    /// GETs a path of the operator's HTTP endpoint and returns the body.
    pub async fn get(&self, path: &str) -> anyhow::Result<String> {
        http_get(self.metrics_port, path).await
    }

    /// The sum of a metric's samples whose line starts with `prefix`
    /// (e.g. `sextant_api_writes_total`).
    pub async fn metric_sum(&self, prefix: &str) -> anyhow::Result<f64> {
        let body = self.get("/metrics").await?;
        Ok(body
            .lines()
            .filter(|l| l.starts_with(prefix) && !l.starts_with('#'))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
            .sum())
    }

    /// The last `n` lines of the operator's log.
    pub fn log_tail(&self, n: usize) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    /// Kills the process at once (SIGKILL), as a crash would.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }

    /// Waits up to `timeout` for the process to exit by itself; `None` if it is
    /// still running.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    /// Sends SIGTERM and waits for a graceful exit; returns its exit status.
    pub async fn stop(mut self) -> anyhow::Result<std::process::ExitStatus> {
        if let Some(pid) = self.child.id() {
            // SAFETY-free: kill(1) by pid of the child this test started.
            let _ = std::process::Command::new("kill")
                .arg("-TERM")
                .arg(pid.to_string())
                .status();
        }
        Ok(tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await??)
    }
}

impl Operator {
    /// Starts `sextant` with exactly `args` (e.g. the ones a Helm chart's Deployment
    /// passes) plus `--metrics-addr` on a free port, talking to the cluster through
    /// the kubeconfig at `kubeconfig` (e.g. one holding a ServiceAccount's token
    /// rather than an admin credential), with `env` added to its environment. Logs to
    /// `log_path(log_name)`. Does not wait for it to become ready.
    pub fn spawn_with_kubeconfig(
        kubeconfig: &std::path::Path,
        log_name: &str,
        args: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::spawn_binary_with_kubeconfig(&sextant_bin(), kubeconfig, log_name, args, env)
    }

    /// `spawn_with_kubeconfig`, running the binary at `binary` (e.g. a previous
    /// release's) instead of [`sextant_bin`].
    pub fn spawn_binary_with_kubeconfig(
        binary: &std::path::Path,
        kubeconfig: &std::path::Path,
        log_name: &str,
        args: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::spawn_binary(binary, log_name, |cmd, port| {
            cmd.args(args.iter().filter(|a| !a.starts_with("--metrics-addr")))
                .arg(format!("--metrics-addr=127.0.0.1:{port}"))
                .env("KUBECONFIG", kubeconfig)
                .env_remove("SEXTANT_WATCH_NAMESPACES")
                .envs(env.iter().copied());
        })
    }

    /// `spawn_binary_with_kubeconfig`, then waits until the operator serves /readyz.
    pub async fn start_binary_with_kubeconfig(
        binary: &std::path::Path,
        kubeconfig: &std::path::Path,
        log_name: &str,
        args: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::spawn_binary_with_kubeconfig(binary, kubeconfig, log_name, args, env)?
            .until_ready()
            .await
    }

    /// `spawn_with_kubeconfig`, then waits until the operator serves /readyz.
    pub async fn start_with_kubeconfig(
        kubeconfig: &std::path::Path,
        log_name: &str,
        args: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::spawn_with_kubeconfig(kubeconfig, log_name, args, env)?
            .until_ready()
            .await
    }
}

/// GETs `path` from a local process listening on 127.0.0.1:`port` (HTTP/1.0, so
/// the body is never chunked) and returns the body of a 200 response.
pub async fn http_get(port: u16, path: &str) -> anyhow::Result<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await?;
    let request = format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    let (head, body) = response
        .split_once("\r\n\r\n")
        .context("malformed HTTP response")?;
    anyhow::ensure!(
        head.starts_with("HTTP/1.0 200") || head.starts_with("HTTP/1.1 200"),
        "{head}"
    );
    Ok(body.to_string())
}

/// A free local TCP port.
pub fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

/// Runs `kubectl` with the test cluster's kubeconfig and returns stdout.
pub fn kubectl(cluster: &Cluster, args: &[&str]) -> anyhow::Result<String> {
    cluster.run_tool(
        std::process::Command::new("kubectl"),
        args,
        "is it on PATH?",
    )
}
