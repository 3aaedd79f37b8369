//! The Helm chart on a test cluster: `helm install` of `charts/sextant` as a
//! [`Release`] (uninstalled on drop, so no ClusterRole outlives a test), the
//! arguments its Deployment gives the operator, and a kubeconfig holding the token of
//! its ServiceAccount, so the operator runs with exactly the chart's permissions.
//! It never runs the chart's image: tests run `sextant` as a local process.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Container, Secret, ServiceAccount};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;

use crate::cluster::state_dir;
use crate::wait::poll;
use crate::{Cluster, repo_root};

/// The chart's directory.
pub fn chart_dir() -> PathBuf {
    repo_root().join("charts").join("sextant")
}

/// PATH with the cached test tools first (`scripts/tools.sh path`), so `helm` and
/// `kubectl` are found even when the caller did not `eval "$(scripts/tools.sh env)"`.
pub fn tools_path() -> std::ffi::OsString {
    let current = std::env::var_os("PATH").unwrap_or_default();
    let out = std::process::Command::new(repo_root().join("scripts/tools.sh"))
        .arg("path")
        .output();
    match out {
        Ok(o) if o.status.success() => {
            let mut dirs: Vec<PathBuf> = String::from_utf8_lossy(&o.stdout)
                .trim()
                .split(':')
                .map(PathBuf::from)
                .collect();
            dirs.extend(std::env::split_paths(&current));
            std::env::join_paths(dirs).unwrap_or(current)
        }
        _ => current,
    }
}

/// Runs `helm` with the test cluster's kubeconfig; returns stdout, or an error with
/// stderr.
pub fn helm(cluster: &Cluster, args: &[&str]) -> anyhow::Result<String> {
    let mut cmd = std::process::Command::new("helm");
    cmd.env("PATH", tools_path());
    cluster.run_tool(cmd, args, "run scripts/tools.sh install")
}

/// An installed release of the chart; `helm uninstall`ed on drop (best effort).
#[derive(Debug)]
pub struct Release {
    /// The release name.
    pub name: String,
    /// The release namespace (where the ServiceAccount and Deployment live).
    pub namespace: String,
    cluster: Cluster,
    uninstalled: bool,
}

impl Release {
    /// `helm install NAME charts/sextant -n NAMESPACE --set k=v...` (client-side:
    /// see [`helm_release`]). An existing CRD is left as it is (Helm never upgrades CRDs).
    pub fn install(
        cluster: &Cluster,
        name: &str,
        namespace: &str,
        values: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        Self::install_chart(cluster, &chart_dir(), name, namespace, values)
    }

    /// `install`, of the chart in `chart` (e.g. a previous release's).
    pub fn install_chart(
        cluster: &Cluster,
        chart: &Path,
        name: &str,
        namespace: &str,
        values: &[(&str, &str)],
    ) -> anyhow::Result<Self> {
        helm_release(cluster, "install", chart, name, namespace, values)?;
        Ok(Self {
            name: name.into(),
            namespace: namespace.into(),
            cluster: cluster.clone(),
            uninstalled: false,
        })
    }

    /// `helm upgrade NAME CHART -n NAMESPACE --server-side=false --set k=v...`, as
    /// docs/upgrading.md's upgrade steps say (after the new CRD was applied).
    pub fn upgrade(&self, chart: &Path, values: &[(&str, &str)]) -> anyhow::Result<String> {
        helm_release(
            &self.cluster,
            "upgrade",
            chart,
            &self.name,
            &self.namespace,
            values,
        )
    }

    /// The name of every object the chart names after the release (`<release>-sextant`
    /// unless the release name already contains "sextant").
    pub fn fullname(&self) -> String {
        if self.name.contains("sextant") {
            self.name.clone()
        } else {
            format!("{}-sextant", self.name)
        }
    }

    /// The operator's container in the chart's Deployment.
    async fn operator_container(&self) -> anyhow::Result<Container> {
        let deployments: Api<Deployment> =
            Api::namespaced(self.cluster.client().clone(), &self.namespace);
        let d = deployments.get(&self.fullname()).await?;
        let pod = d
            .spec
            .and_then(|s| s.template.spec)
            .context("Deployment without a pod spec")?;
        pod.containers.into_iter().next().context("no container")
    }

    /// The operator's arguments as the chart's Deployment gives them.
    pub async fn operator_args(&self) -> anyhow::Result<Vec<String>> {
        Ok(self.operator_container().await?.args.unwrap_or_default())
    }

    /// The operator's environment as the chart's Deployment gives it: literal values,
    /// and the downward API's `metadata.namespace` and `metadata.name` (as `pod_name`).
    /// Other sources are left out, with a warning.
    pub async fn operator_env(&self, pod_name: &str) -> anyhow::Result<Vec<(String, String)>> {
        let container = self.operator_container().await?;
        let mut out = Vec::new();
        for var in container.env.unwrap_or_default() {
            let field = var
                .value_from
                .as_ref()
                .and_then(|f| f.field_ref.as_ref())
                .map(|f| f.field_path.as_str());
            let value = match (var.value, field) {
                (Some(v), _) => v,
                (None, Some("metadata.namespace")) => self.namespace.clone(),
                (None, Some("metadata.name")) => pod_name.to_owned(),
                _ => {
                    eprintln!("helm: env {} of the operator is not simulated", var.name);
                    continue;
                }
            };
            out.push((var.name, value));
        }
        Ok(out)
    }

    /// Writes a kubeconfig that authenticates as the chart's ServiceAccount with its
    /// token, and returns its path. The token comes from the Secret the token
    /// controller created for the ServiceAccount (Kubernetes < 1.24), or from a
    /// `kubernetes.io/service-account-token` Secret this creates (any version).
    pub async fn service_account_kubeconfig(&self) -> anyhow::Result<PathBuf> {
        let client = self.cluster.client().clone();
        let sa_name = self.fullname();
        let sas: Api<ServiceAccount> = Api::namespaced(client.clone(), &self.namespace);
        let secrets: Api<Secret> = Api::namespaced(client, &self.namespace);
        // Kubernetes < 1.24: the token controller links a token Secret within seconds.
        let linked = poll(Duration::from_secs(10), async || {
            let sa = sas.get(&sa_name).await?;
            Ok(sa
                .secrets
                .unwrap_or_default()
                .into_iter()
                .filter_map(|r| r.name)
                .find(|n| n.contains("token")))
        })
        .await
        .ok();
        let secret_name = match linked {
            Some(name) => name,
            None => {
                let name = format!("{sa_name}-e2e-token");
                let secret: Secret = serde_json::from_value(json!({
                    "metadata": {"name": name, "annotations": {
                        "kubernetes.io/service-account.name": sa_name}},
                    "type": "kubernetes.io/service-account-token",
                }))?;
                secrets.create(&PostParams::default(), &secret).await?;
                name
            }
        };
        let (token, ca) = poll(Duration::from_secs(30), async || {
            let s = secrets.get(&secret_name).await?;
            let data = s.data.unwrap_or_default();
            Ok(match (data.get("token"), data.get("ca.crt")) {
                (Some(ByteString(t)), Some(ByteString(c))) if !t.is_empty() => {
                    Some((String::from_utf8(t.clone())?, c.clone()))
                }
                _ => None,
            })
        })
        .await
        .map_err(|e| anyhow::anyhow!("no token in Secret {secret_name}: {e}"))?;
        let server = self.cluster.config().cluster_url.to_string();
        let path = state_dir().join(format!("{}-{}.kubeconfig", self.namespace, self.name));
        write_token_kubeconfig(
            &path,
            &server,
            &ca,
            &token,
            &format!("{}:{sa_name}", self.namespace),
        )?;
        Ok(path)
    }

    /// The user name the API server (and its audit log) knows the ServiceAccount by.
    pub fn service_account_user(&self) -> String {
        format!(
            "system:serviceaccount:{}:{}",
            self.namespace,
            self.fullname()
        )
    }

    /// `helm uninstall`, waiting for the release's objects to be deleted.
    pub fn uninstall(mut self) -> anyhow::Result<()> {
        self.uninstalled = true;
        helm(
            &self.cluster,
            &[
                "uninstall",
                &self.name,
                "--namespace",
                &self.namespace,
                "--wait",
            ],
        )
        .map(|_| ())
    }
}

impl Drop for Release {
    fn drop(&mut self) {
        if !self.uninstalled {
            let _ = helm(
                &self.cluster,
                &["uninstall", &self.name, "--namespace", &self.namespace],
            );
        }
    }
}

/// `helm install|upgrade NAME CHART` with `--set` values. `--server-side=false`:
/// Helm 4 applies server-side by default, and API servers before 1.25 reject the
/// CRD's `x-kubernetes-validations` in a server-side apply ("field not declared in
/// schema"); a client-side create works on every version.
fn helm_release(
    cluster: &Cluster,
    command: &str,
    chart: &Path,
    name: &str,
    namespace: &str,
    values: &[(&str, &str)],
) -> anyhow::Result<String> {
    let mut args = vec![
        command.to_string(),
        name.to_string(),
        chart.display().to_string(),
        "--namespace".into(),
        namespace.into(),
        "--server-side=false".into(),
    ];
    for (k, v) in values {
        args.push("--set".into());
        args.push(format!("{k}={v}"));
    }
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    helm(cluster, &refs)
}

fn write_token_kubeconfig(
    path: &Path,
    server: &str,
    ca: &[u8],
    token: &str,
    user: &str,
) -> anyhow::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let ca_path = path.with_extension("ca.crt");
    std::fs::write(&ca_path, ca)?;
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: e2e\n  cluster:\n    server: {server}\n    \
         certificate-authority: {ca}\nusers:\n- name: \"{user}\"\n  user:\n    token: {token}\n\
         contexts:\n- name: e2e\n  context: {{cluster: e2e, user: \"{user}\"}}\ncurrent-context: e2e\n",
        server = server.trim_end_matches('/'),
        ca = ca_path.display(),
    );
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}
