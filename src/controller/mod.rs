//! The operator: `sextant run`. Watches ObservabilityStacks and every child kind,
//! and drives each stack through validate -> build -> apply -> status.
//!
//! Owns start-up (discovery of what the cluster serves), leader election on a
//! Lease, the HTTP endpoints, graceful shutdown on SIGTERM, and forgetting deleted
//! stacks in the metrics and failure counts (a stack deleted without a finalizer is
//! never reconciled again).

pub mod apply;
pub mod cache;
pub mod cluster;
pub mod context;
pub mod drift;
pub mod error;
pub mod events;
pub mod finalizer;
pub mod outcome;
pub mod probe;
pub mod reconcile;
pub mod references;
pub mod status;
pub mod volumes;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::StreamExt;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::core::{DynamicObject, PartialObjectMeta};
use kube::runtime::controller::{Config as ControllerConfig, Controller};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{ObjectRef, Store};
use kube::runtime::watcher;
use kube::{Api, Client, ResourceExt};
use tokio::sync::watch;
use tracing::{debug, error, info, warn};

use crate::api::ObservabilityStack;
use crate::render::monitors::MonitorKind;
use crate::telemetry::{Health, LogFormat, Metrics};
use context::{Capabilities, Context};

/// Options of `sextant run`.
#[derive(clap::Args, Debug, Clone)]
pub struct RunArgs {
    /// Watch only these namespaces (repeatable). Default: all namespaces.
    #[arg(
        long = "namespace",
        env = "SEXTANT_WATCH_NAMESPACES",
        value_delimiter = ','
    )]
    pub namespaces: Vec<String>,
    /// Address of the /metrics, /healthz and /readyz endpoints.
    #[arg(long, env = "SEXTANT_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: std::net::SocketAddr,
    /// Log format.
    #[arg(long, env = "SEXTANT_LOG_FORMAT", value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Log filter (tracing EnvFilter syntax), e.g. `info` or `sextant=debug,kube=info`.
    #[arg(long, env = "SEXTANT_LOG", default_value = "info")]
    pub log_level: String,
    /// Export the operator's own traces over OTLP/gRPC to this endpoint, e.g.
    /// `http://agents-collector.observability.svc:4317`.
    #[arg(long, env = "SEXTANT_OTLP_ENDPOINT")]
    pub otlp_endpoint: Option<String>,
    /// Run only while holding the Lease, so that replicas never both write.
    #[arg(long, env = "SEXTANT_LEADER_ELECTION")]
    pub leader_election: bool,
    /// Namespace of the Lease. Default: $POD_NAMESPACE, else `default`.
    #[arg(long, env = "POD_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// Seconds a Lease is held without renewal before another replica takes over.
    #[arg(long, default_value_t = 15)]
    pub lease_duration: u64,
    /// Stacks reconciled at once.
    #[arg(long, default_value_t = 8)]
    pub concurrency: u16,
    /// The prefix of the ClusterRoles this operator may bind for the node agent and
    /// the collectors' Kubernetes metadata (`<prefix>-node-agent`,
    /// `<prefix>-k8s-metadata`; the Helm chart ships them and grants `bind` on
    /// exactly these). Unset: cluster-wide collection is off; the node agent is
    /// reported NotGranted and the collector adds no Kubernetes metadata.
    #[arg(long, env = "SEXTANT_CLUSTER_ROLE_PREFIX")]
    pub cluster_role_prefix: Option<String>,
    /// Probe every stack's data paths (`spec.probe`, docs/data-flowing.md).
    /// `--probes=false` turns the probe off for every stack.
    #[arg(long, env = "SEXTANT_PROBES", default_value_t = true, action = clap::ArgAction::Set)]
    pub probes: bool,
    /// Labels of the operator's own pods, `k=v,k=v` (the chart sets them):
    /// with $POD_NAMESPACE, the stacks' NetworkPolicies admit these pods to
    /// the ports the probe uses. Unset: no such rule (an operator outside the
    /// cluster cannot reach the stacks anyway).
    #[arg(long, env = "SEXTANT_OPERATOR_POD_LABELS")]
    pub operator_pod_labels: Option<String>,
    /// Probes run at once (each mostly waits on its backends).
    #[arg(long, default_value_t = 4)]
    pub probe_concurrency: usize,
}

/// Runs the operator until SIGTERM/SIGINT (or until leadership is lost).
pub async fn run(args: RunArgs) -> anyhow::Result<()> {
    let provider = crate::telemetry::init(
        args.log_format,
        &args.log_level,
        args.otlp_endpoint.as_deref(),
    )
    .map_err(|e| anyhow::anyhow!("telemetry: {e}"))?;
    let client = Client::try_default().await?;
    let metrics = Arc::new(Metrics::default());
    let ready = Arc::new(AtomicBool::new(false));
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(signal_stop(stop_tx.clone()));

    let health = Health {
        metrics: metrics.clone(),
        ready: ready.clone(),
    };
    let server = tokio::spawn(crate::telemetry::serve(
        args.metrics_addr,
        health,
        stopped(stop_rx.clone()),
    ));

    let capabilities = discover(&client)
        .await
        .with_cluster_roles(
            args.cluster_role_prefix
                .as_deref()
                .map(crate::model::ClusterRoles::with_prefix),
        )
        .with_operator(
            args.operator_pod_labels
                .as_deref()
                .zip(args.leader_election_namespace.as_deref())
                .and_then(|(labels, ns)| crate::model::OperatorPods::parse(ns, labels)),
        );
    info!(?capabilities, "discovered cluster capabilities");
    // Unique per process: two replicas on one host must not share a lease identity.
    let identity = std::env::var("POD_NAME").unwrap_or_else(|_| {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "sextant".into());
        format!("{host}-{}", std::process::id())
    });
    let ctx = Arc::new(Context {
        client: client.clone(),
        metrics,
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: "sextant".into(),
                instance: Some(identity.clone()),
            },
        ),
        capabilities,
        failures: Default::default(),
        probes: probe::Probes::new(args.probes, args.probe_concurrency),
        children: cache::Children::new(&scopes(&args)),
    });
    ctx.children.mark_unwatched(&ctx.capabilities);

    let result = if args.leader_election {
        let namespace = args
            .leader_election_namespace
            .clone()
            .unwrap_or_else(|| "default".into());
        ready.store(true, Ordering::Relaxed);
        lead_then_run(ctx, &args, &namespace, &identity, stop_rx, stop_tx.clone()).await
    } else {
        ready.store(true, Ordering::Relaxed);
        run_controllers(ctx, &args, stop_rx).await;
        Ok(())
    };
    // The controllers have ended, by a signal or an error: stop the HTTP server
    // too, or an error (a Lease the operator may not read) would leave the process
    // serving /healthz with nothing running behind it.
    if let Err(e) = &result {
        error!(error = %e, "stopping");
    }
    let _ = stop_tx.send(true);
    let _ = server.await;
    if let Some(p) = provider {
        let _ = p.shutdown();
    }
    result
}

/// Waits for the Lease, runs the controllers while holding it, and stops (with an
/// error, so the pod restarts as a standby) if it is lost.
async fn lead_then_run(
    ctx: Arc<Context>,
    args: &RunArgs,
    namespace: &str,
    identity: &str,
    stop_rx: watch::Receiver<bool>,
    stop_tx: watch::Sender<bool>,
) -> anyhow::Result<()> {
    let manager =
        kube_lease_manager::LeaseManagerBuilder::new(ctx.client.clone(), "sextant-leader")
            .with_namespace(namespace)
            .with_identity(identity)
            .with_duration(args.lease_duration)
            .with_grace(args.lease_duration / 3)
            .with_field_manager("sextant-leader-election")
            .build()
            .await?;
    let (mut leading, lease_task) = manager.watch().await;
    info!(namespace, identity, "waiting for the leader lease");
    let mut stop = stop_rx.clone();
    while !*leading.borrow_and_update() {
        tokio::select! {
            changed = leading.changed() => if changed.is_err() {
                // The lease task ended: say why (a 403 on the Lease, for instance).
                let why = match lease_task.await {
                    Ok(Err(e)) => e.to_string(),
                    Ok(Ok(_)) => "it returned".to_string(),
                    Err(e) => e.to_string(),
                };
                anyhow::bail!(
                    "cannot take part in leader election (Lease {namespace}/sextant-leader): {why}"
                )
            },
            _ = stop.changed() => { drop(leading); let _ = lease_task.await; return Ok(()) }
        }
    }
    info!("acquired the leader lease");
    let lost = {
        let mut leading = leading.clone();
        let stop_tx = stop_tx.clone();
        async move {
            while leading.changed().await.is_ok() {
                if !*leading.borrow_and_update() {
                    break;
                }
            }
            let _ = stop_tx.send(true);
        }
    };
    let lost = tokio::spawn(lost);
    run_controllers(ctx, args, stop_rx).await;
    let still_leader = *leading.borrow();
    lost.abort();
    drop(leading);
    // Releases the lease so a standby takes over at once.
    if let Ok(Ok(manager)) = lease_task.await {
        let _ = manager.release().await;
    }
    if !still_leader {
        anyhow::bail!("lost the leader lease");
    }
    Ok(())
}

/// The namespaces the controllers watch, one controller each (`None`: one for all).
fn scopes(args: &RunArgs) -> Vec<Option<String>> {
    if args.namespaces.is_empty() {
        vec![None]
    } else {
        args.namespaces.iter().cloned().map(Some).collect()
    }
}

/// Runs one controller per watched namespace (or one for all) until stopped, and
/// the watch of the stacks' ClusterRoleBindings where this install may read them.
async fn run_controllers(ctx: Arc<Context>, args: &RunArgs, stop_rx: watch::Receiver<bool>) {
    let controllers = scopes(args)
        .into_iter()
        .map(|ns| controller(ctx.clone(), ns, args.concurrency, stop_rx.clone()));
    let bindings = async {
        if ctx.capabilities.cluster_roles.is_some() {
            let index = ctx.children.cluster_role_bindings().clone();
            index.run(Api::all(ctx.client.clone())).await;
        }
        std::future::pending::<()>().await;
    };
    tokio::select! {
        _ = futures::future::join_all(controllers) => {}
        () = bindings => {}
    }
    info!("controllers stopped");
}

/// How long a stack's triggers are gathered before it is reconciled: creating one
/// stack's 24 children, and their pods starting, fire dozens of watch events within
/// a second; without this each became a reconcile that re-listed every child kind.
const DEBOUNCE: std::time::Duration = std::time::Duration::from_secs(1);

/// How often a controller forgets the stacks its store no longer holds. A stack
/// deleted without a finalizer (`deletionPolicy: Retain`) brings no reconcile, and
/// kube's controller passes on no delete event, so its metrics and failure count
/// are dropped here (or sooner, when its children's deletion triggers a reconcile
/// that finds it gone). The check reads only the operator's memory.
const FORGET_INTERVAL: std::time::Duration = std::time::Duration::from_secs(10);

fn scoped<K>(client: &Client, namespace: Option<&str>) -> Api<K>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>,
{
    match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    }
}

/// Adds the watch of one child kind to a controller: it fills `index` and
/// triggers the owning stack's reconcile (`cache::Index::watch`).
fn own<K>(
    c: Controller<ObservabilityStack>,
    index: &Arc<cache::Index<K>>,
    client: &Client,
    namespace: Option<&str>,
) -> Controller<ObservabilityStack>
where
    K: cache::Cached + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
{
    c.owns_stream(index.clone().watch(scoped(client, namespace)))
}

async fn controller(
    ctx: Arc<Context>,
    namespace: Option<String>,
    concurrency: u16,
    stop_rx: watch::Receiver<bool>,
) {
    let namespace = namespace.as_deref();
    let client = &ctx.client;
    let Some(cache) = ctx.children.scope(namespace) else {
        error!(
            namespace = namespace.unwrap_or("*"),
            "no cache for this scope"
        );
        return;
    };
    let mut c = Controller::new(
        scoped::<ObservabilityStack>(client, namespace),
        watcher::Config::default(),
    )
    .with_config(
        ControllerConfig::default()
            .concurrency(concurrency)
            .debounce(DEBOUNCE),
    );
    // One watch per child kind fills the cache reconcile reads children from and
    // triggers the owner's reconcile (`cache`): no list per reconcile.
    let ns = namespace;
    c = own(c, &cache.service_accounts, client, ns);
    c = own(c, &cache.roles, client, ns);
    c = own(c, &cache.role_bindings, client, ns);
    c = own(c, &cache.config_maps, client, ns);
    c = own(c, &cache.secrets, client, ns);
    c = own(c, &cache.services, client, ns);
    c = own(c, &cache.deployments, client, ns);
    c = own(c, &cache.stateful_sets, client, ns);
    c = own(c, &cache.daemon_sets, client, ns);
    c = own(c, &cache.network_policies, client, ns);
    c = own(c, &cache.ingresses, client, ns);
    c = own(c, &cache.persistent_volume_claims, client, ns);
    if ctx.capabilities.certificates {
        c = own(c, &cache.certificates, client, ns);
    }
    if ctx.capabilities.http_routes {
        c = own(c, &cache.http_routes, client, ns);
    }
    // Dashboards in ConfigMaps a stack selects: a change re-provisions Grafana.
    let stacks = c.store();
    c = c.watches(
        // Every ConfigMap in scope, by metadata only (the selector reads labels):
        // the data of the dashboards never crosses the wire for this watch.
        scoped::<PartialObjectMeta<ConfigMap>>(client, namespace),
        watcher::Config::default().page_size(200),
        move |cm| {
            stacks
                .state()
                .into_iter()
                .filter(|s| references::selects(s, &cm))
                .map(|s| ObjectRef::from(&*s))
                .collect::<Vec<_>>()
        },
    );
    // Secrets a stack references: read during reconcile, so a metadata-only watch
    // (no Secret data in the operator's memory) is enough to trigger one when a
    // referenced Secret is created, rotated or deleted.
    let stacks = c.store();
    c = c.watches(
        // `PartialObjectMeta`: kube sends metadata-only list and watch requests.
        scoped::<PartialObjectMeta<Secret>>(client, namespace),
        watcher::Config::default().page_size(200),
        move |secret| {
            let name = secret.name_any();
            let ns = secret.namespace();
            stacks
                .state()
                .into_iter()
                .filter(|s| references::references_secret(s, ns.as_deref(), &name))
                .map(|s| ObjectRef::from(&*s))
                .collect::<Vec<_>>()
        },
    );
    // prometheus-operator monitors, watched exactly when reconcile reads them
    // (cluster-wide collection granted, `references::read_monitors`), also with
    // `--namespace`: a stack may select monitors of other namespaces. Any change of
    // one, including a relabel that deselects it, is a reason to reconcile every
    // stack that could select it.
    if ctx.capabilities.cluster_roles.is_some() {
        for kind in references::served_monitor_kinds(&ctx.capabilities) {
            let resource = references::monitor_resource(kind);
            let stacks = c.store();
            c = c.watches_with(
                Api::<DynamicObject>::all_with(client.clone(), &resource),
                resource,
                watcher::Config::default().page_size(200),
                move |monitor| {
                    let ns = monitor.namespace();
                    stacks
                        .state()
                        .into_iter()
                        .filter(|s| references::may_select_monitor(s, ns.as_deref()))
                        .map(|s| ObjectRef::from(&*s))
                        .collect::<Vec<_>>()
                },
            );
        }
    }
    if ctx.capabilities.autoscaling_v2 {
        c = own(c, &cache.horizontal_pod_autoscalers, client, ns);
    }
    if ctx.capabilities.policy_v1 {
        c = own(c, &cache.pod_disruption_budgets, client, ns);
    }
    // A finished probe asks for a reconcile, which writes its result.
    let finished = tokio_stream_of(ctx.probes.finished(namespace));
    c = c.reconcile_on(finished);
    info!(namespace = namespace.unwrap_or("*"), "controller started");
    let stacks = c.store();
    let run = c
        .graceful_shutdown_on(stopped(stop_rx))
        .run(reconcile::reconcile, reconcile::error_policy, ctx.clone())
        .for_each(|result| {
            // After the error policy ran: a reconcile that ended after its stack's
            // deletion was seen must not leave the stack counted.
            if let Some((ns, name)) = reconciled_stack(&result) {
                forget_if_gone(&ctx, &stacks, ns, name);
            }
            if let Err(e) = result {
                match e {
                    kube::runtime::controller::Error::ReconcilerFailed(..) => {}
                    other => warn!(error = %other, "controller"),
                }
            }
            futures::future::ready(())
        });
    tokio::select! {
        () = run => {}
        () = forget_deleted(&ctx, &stacks, namespace) => {}
    }
}

/// The receiver as a stream.
fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::UnboundedReceiver<T>,
) -> impl futures::Stream<Item = T> + Send + 'static {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// The stack (namespace, name) a result of the controller is about, if any.
fn reconciled_stack<E, Q>(
    result: &Result<
        (
            ObjectRef<ObservabilityStack>,
            kube::runtime::controller::Action,
        ),
        kube::runtime::controller::Error<E, Q>,
    >,
) -> Option<(&str, &str)> {
    use kube::runtime::controller::Error;
    let (namespace, name) = match result {
        Ok((stack, _)) => (&stack.namespace, &stack.name),
        Err(Error::ReconcilerFailed(_, stack) | Error::ObjectNotFound(stack)) => {
            (&stack.namespace, &stack.name)
        }
        Err(_) => return None,
    };
    Some((namespace.as_deref()?, name))
}

/// Forgets the stack `namespace/name` if the controller's store no longer holds it.
fn forget_if_gone(ctx: &Context, stacks: &Store<ObservabilityStack>, namespace: &str, name: &str) {
    if stacks
        .get(&ObjectRef::new(name).within(namespace))
        .is_none()
    {
        debug!(
            namespace,
            stack = name,
            "stack deleted: forgetting its metrics"
        );
        ctx.forget_stack(namespace, name);
    }
}

/// Every [`FORGET_INTERVAL`], forgets the stacks of this controller's scope that
/// its store no longer holds (deleted, also while the watch was down: the store is
/// replaced by the relist), and refreshes the cache's size metrics. Never returns;
/// ends with the controller.
async fn forget_deleted(
    ctx: &Context,
    stacks: &Store<ObservabilityStack>,
    namespace: Option<&str>,
) {
    // Until the first list is complete the store is empty, not authoritative.
    if stacks.wait_until_ready().await.is_ok() {
        let mut tick = tokio::time::interval(FORGET_INTERVAL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            for (kind, objects, bytes) in ctx.children.sizes() {
                ctx.metrics.cache_size(kind, objects, bytes);
            }
            let forgotten = ctx.forget_stacks_except(namespace, |ns, name| {
                stacks.get(&ObjectRef::new(name).within(ns)).is_some()
            });
            if forgotten > 0 {
                info!(
                    namespace = namespace.unwrap_or("*"),
                    forgotten, "forgot deleted stacks in the metrics"
                );
            }
        }
    }
    // The store's writer is gone: the controller is ending.
    std::future::pending::<()>().await;
}

/// What the API server serves; on a discovery failure, assumes a current cluster.
async fn discover(client: &Client) -> Capabilities {
    let minor = match client.apiserver_version().await {
        Ok(v) => v.minor.trim_end_matches('+').parse().unwrap_or(33),
        Err(e) => {
            error!(%e, "cannot read the API server version; assuming a current cluster");
            return Capabilities::current();
        }
    };
    let serves = |group: &'static str, version: &'static str| {
        let client = client.clone();
        async move {
            match kube::discovery::group(&client, group).await {
                Ok(g) => g.versions().any(|v| v == version),
                Err(_) => false,
            }
        }
    };
    let monitors: Vec<String> =
        match kube::discovery::group(client, references::MONITORING_GROUP).await {
            Ok(g) => g
                .versioned_resources(references::MONITORING_VERSION)
                .into_iter()
                .map(|(r, _)| r.plural)
                .collect(),
            Err(_) => Vec::new(),
        };
    let served = |kind: MonitorKind| monitors.iter().any(|p| p == kind.plural());
    let has_resource = |group: &'static str, version: &'static str, plural: &'static str| {
        let client = client.clone();
        async move {
            match kube::discovery::group(&client, group).await {
                Ok(g) => g
                    .versioned_resources(version)
                    .iter()
                    .any(|(r, _)| r.plural == plural),
                Err(_) => false,
            }
        }
    };
    Capabilities {
        server_minor: minor,
        autoscaling_v2: serves("autoscaling", "v2").await,
        policy_v1: serves("policy", "v1").await,
        endpoint_slices_v1: serves("discovery.k8s.io", "v1").await,
        service_monitors: served(MonitorKind::ServiceMonitor),
        pod_monitors: served(MonitorKind::PodMonitor),
        http_routes: has_resource("gateway.networking.k8s.io", "v1", "httproutes").await,
        certificates: has_resource("cert-manager.io", "v1", "certificates").await,
        cluster_roles: None,
        operator: None,
    }
}

/// Resolves once `stop` turns true.
async fn stopped(mut stop: watch::Receiver<bool>) {
    while !*stop.borrow_and_update() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Turns SIGTERM or SIGINT into a stop.
async fn signal_stop(stop: watch::Sender<bool>) {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(t) => t,
                Err(e) => {
                    warn!(%e, "cannot listen for SIGTERM");
                    let _ = ctrl_c.await;
                    let _ = stop.send(true);
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    info!("shutting down");
    let _ = stop.send(true);
}
