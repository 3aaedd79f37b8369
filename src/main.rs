//! The `sextant` binary: `crd`, `check` and `render` work without a cluster.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use sextant::cli::{self, CliError, Format};

/// sextant: one ObservabilityStack becomes a wired-together observability stack.
#[derive(Parser)]
#[command(name = "sextant", version, about)]
struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the operator against the cluster of the current kubeconfig or the pod's
    /// service account.
    Run(sextant::controller::RunArgs),
    /// Print the ObservabilityStack CustomResourceDefinition as YAML.
    Crd,
    /// Validate a stack file; print every error, exit non-zero if any.
    Check {
        /// The ObservabilityStack file (YAML or JSON; `-` for stdin).
        #[arg(short = 'f', long = "file")]
        file: String,
    },
    /// Print every child object the operator would create, in apply order.
    Render {
        /// The ObservabilityStack file (YAML or JSON; `-` for stdin).
        #[arg(short = 'f', long = "file")]
        file: String,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
        output: Format,
        /// Render for this Kubernetes version's API server (such as 1.20): what it
        /// does not serve is left out, as the operator does there. Default: current.
        #[arg(long = "kube-version")]
        kube_version: Option<String>,
        /// The prefix of the ClusterRoles the operator binds, as the chart's
        /// release names them (default `sextant`).
        #[arg(long = "cluster-role-prefix", conflicts_with = "namespaced")]
        cluster_role_prefix: Option<String>,
        /// Render as a namespaced install does: no ClusterRole to bind, so no
        /// node agent, no cluster collector and no Kubernetes metadata in the
        /// collector.
        #[arg(long = "namespaced")]
        namespaced: bool,
        /// Render as for a cluster with the Gateway API's CRDs
        /// (gateway.networking.k8s.io/v1): Grafana's HTTPRoute is included.
        #[arg(long = "gateway-api")]
        gateway_api: bool,
        /// Render as for a cluster with cert-manager (cert-manager.io/v1): the
        /// collector's Certificate is included.
        #[arg(long = "cert-manager")]
        cert_manager: bool,
    },
}

fn main() -> ExitCode {
    let args = Args::parse();
    let result = match args.command {
        Command::Run(run) => {
            let runtime = match tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
            {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("sextant: cannot start the async runtime: {e}");
                    return ExitCode::FAILURE;
                }
            };
            return match runtime.block_on(sextant::controller::run(run)) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("sextant: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Crd => {
            emit(&cli::crd_yaml());
            Ok(())
        }
        Command::Check { file } => cli::load(&file).and_then(|s| cli::check(&s)).map(|v| {
            println!(
                "{file}: ObservabilityStack {}/{} is valid",
                v.namespace, v.name
            );
        }),
        Command::Render {
            file,
            output,
            kube_version,
            cluster_role_prefix,
            namespaced,
            gateway_api,
            cert_manager,
        } => cli::capabilities(
            kube_version.as_deref(),
            (!namespaced).then(|| {
                cluster_role_prefix
                    .unwrap_or_else(|| sextant::model::DEFAULT_CLUSTER_ROLE_PREFIX.into())
            }),
        )
        .map(|caps| sextant::model::Capabilities {
            http_routes: gateway_api,
            certificates: cert_manager,
            ..caps
        })
        .and_then(|caps| {
            cli::load(&file)
                .and_then(|s| cli::render(&s, &caps))
                .map(|r| emit(&cli::format(&r, output)))
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(CliError::Invalid(errors)) => {
            for e in errors.0 {
                eprintln!("{e}");
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("sextant: {e}");
            ExitCode::from(2)
        }
    }
}

/// Writes to stdout; a closed pipe (`sextant render | head`) is not an error.
fn emit(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}
