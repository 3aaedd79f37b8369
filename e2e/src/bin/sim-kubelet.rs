//! `sim-kubelet`: the command line of the simulated kubelet (see `sextant_e2e::kubelet`).
//! It parses flags, sets up logging and the client, and stops on SIGTERM or SIGINT.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};
use sextant_e2e::kubelet::schedule::{SimNode, parse_label, parse_taint};
use sextant_e2e::kubelet::{self, Options};
use tracing_subscriber::EnvFilter;

/// A SIMULATED kubelet: registers Nodes, binds pending pods to the first node they
/// fit (node selector, required node affinity, taints) and reports them Running and
/// Ready. Containers never run.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Kubeconfig file; defaults to $KUBECONFIG or ~/.kube/config.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Name of a Node to register and bind pods to; repeat for more nodes (pods go
    /// to the first one they fit).
    #[arg(long = "node-name", default_values_t = ["sextant-sim-node".to_string()])]
    node_names: Vec<String>,
    /// A taint of one of those nodes, `NODE:KEY[=VALUE]:EFFECT`; repeatable.
    #[arg(long = "taint", value_parser = parse_taint)]
    taints: Vec<(String, k8s_openapi::api::core::v1::Taint)>,
    /// A label of one of those nodes, `NODE:KEY=VALUE`, besides the ones every
    /// simulated node carries; repeatable. Scheduling reads these, not the Node's.
    #[arg(long = "label", value_parser = parse_label)]
    labels: Vec<(String, (String, String))>,
    /// Milliseconds between binding a pod and reporting it Running and Ready.
    #[arg(long, default_value_t = 500)]
    ready_delay_ms: u64,
    /// Log line format.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    init_logging(cli.log_format);
    let client = client(cli.kubeconfig.as_deref()).await?;
    let mut nodes: Vec<SimNode> = cli.node_names.iter().map(|n| SimNode::new(n)).collect();
    for (node, taint) in cli.taints {
        let Some(sim) = nodes.iter_mut().find(|n| n.name == node) else {
            anyhow::bail!("--taint names node {node:?}, which is not one of --node-name");
        };
        sim.taints.push(taint);
    }
    for (node, (key, value)) in cli.labels {
        let Some(sim) = nodes.iter_mut().find(|n| n.name == node) else {
            anyhow::bail!("--label names node {node:?}, which is not one of --node-name");
        };
        sim.labels.insert(key, value);
    }
    let options = Options {
        nodes,
        ready_delay: Duration::from_millis(cli.ready_delay_ms),
        ..Options::default()
    };
    kubelet::run(client, options, shutdown_signal()).await
}

fn init_logging(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn client(kubeconfig: Option<&std::path::Path>) -> anyhow::Result<Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kubeconfig = Kubeconfig::read_from(path)
                .with_context(|| format!("reading kubeconfig {}", path.display()))?;
            Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default()).await?
        }
        None => Config::infer().await.context("no kubeconfig found")?,
    };
    Ok(Client::try_from(config)?)
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}
