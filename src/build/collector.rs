//! The collector's children: ServiceAccount, config, Service (and, when asked,
//! an external one for OTLP from outside the cluster), Deployment, and
//! (with autoscaling, where autoscaling/v2 is served) its HorizontalPodAutoscaler,
//! plus a PodDisruptionBudget (where policy/v1 is served) when it runs more than
//! one replica.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{
    PodSpec, PodTemplateSpec, SecretVolumeSource, Service, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::Resources;
use super::common::*;
use super::custom::{CertIssuerRef, Certificate, CertificateSpec};
use crate::model::{Capabilities, ports};
use crate::render::otelcol;

const C: Component = Component::Collector;

pub(super) fn build(stack: &ValidatedStack, caps: &Capabilities) -> Resources {
    let memory_limit = stack.collector_memory_limit;
    let metadata = super::cluster::metadata_granted(caps);
    let config =
        super::overrides::config_text(stack, C, &otelcol::render(stack, memory_limit, metadata));
    let cm = config_map(
        stack,
        C,
        "config",
        BTreeMap::from([("config.yaml".into(), config)]),
    );
    // Secret values the pod reads only at start roll it when they change.
    let restart = stack.restart_secrets.get(&C).map(String::as_str);
    let hash = config_hash(&[&cm], &Vec::from_iter(restart));
    let name = child_name(&stack.name, C, None);

    // The serving certificate, the client CAs and the OTLP tokens, as whole
    // Secret volumes (not subPath): the kubelet writes a changed Secret into
    // them, and the receivers and the token extension re-read the files
    // (`crate::render::otelcol`).
    let mut mounts = vec![VolumeMount {
        name: "config".into(),
        mount_path: "/conf".into(),
        read_only: Some(true),
        ..VolumeMount::default()
    }];
    let mut volumes = vec![config_volume(
        "config",
        &child_name(&stack.name, C, Some("config")),
    )];
    let spec = &stack.spec.collector;
    let secrets = [
        spec.tls
            .as_ref()
            .map(|t| ("tls", t.secret_name.as_str(), otelcol::TLS_DIR)),
        spec.tls
            .as_ref()
            .and_then(|t| t.client_ca_secret_name.as_deref())
            .map(|n| ("client-ca", n, otelcol::CLIENT_CA_DIR)),
        spec.auth
            .as_ref()
            .map(|a| ("auth", a.secret_name.as_str(), otelcol::AUTH_DIR)),
    ];
    for (volume, secret, dir) in secrets.into_iter().flatten() {
        volumes.push(Volume {
            name: volume.into(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(secret.into()),
                ..SecretVolumeSource::default()
            }),
            ..Volume::default()
        });
        mounts.push(mount(volume, dir, true));
    }

    let env = export_secrets(stack, &mut volumes, &mut mounts);
    let container = collector_container(
        stack,
        C,
        "collector",
        memory_limit,
        env,
        vec![
            container_port("otlp-grpc", ports::OTLP_GRPC),
            container_port("otlp-http", ports::OTLP_HTTP),
            container_port("otlp-node", ports::OTLP_NODE),
        ],
        mounts,
    );

    let autoscaled = wants_autoscaler(stack) && caps.autoscaling_v2;
    let deployment = Deployment {
        metadata: meta(stack, C, name.clone()),
        spec: Some(DeploymentSpec {
            // Under autoscaling the HPA owns the replica count: never write it. A
            // server without autoscaling/v2 gets no HPA: the minimum runs instead.
            replicas: (!autoscaled).then_some(stack.min_pods(C)),
            selector: LabelSelector {
                match_labels: Some(selector_labels(&stack.name, C)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("RollingUpdate".into()),
                rolling_update: Some(RollingUpdateDeployment {
                    max_surge: Some(IntOrString::String("25%".into())),
                    max_unavailable: Some(IntOrString::Int(0)),
                }),
            }),
            template: PodTemplateSpec {
                metadata: Some(pod_meta(stack, C, hash)),
                spec: Some(PodSpec {
                    service_account_name: Some(name.clone()),
                    // k8s_attributes watches pods with the pod's token.
                    automount_service_account_token: Some(metadata),
                    security_context: Some(pod_security(C.uid())),
                    containers: vec![container],
                    volumes: Some(volumes),
                    termination_grace_period_seconds: Some(30),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };

    let mut out = Resources {
        certificates: certificate(stack)
            .filter(|_| caps.certificates)
            .into_iter()
            .collect(),
        service_accounts: vec![{
            let mut account = service_account(stack, C, metadata);
            let annotations = &stack.spec.collector.service_account_annotations;
            if !annotations.is_empty() {
                account.metadata.annotations = Some(annotations.clone());
            }
            account
        }],
        config_maps: vec![cm],
        services: std::iter::once(service(stack, C))
            .chain(external_service(stack))
            .collect(),
        deployments: vec![deployment],
        ..Resources::default()
    };
    if autoscaled {
        out.horizontal_pod_autoscalers.push(hpa(stack, &name));
    }
    if wants_disruption_budget(stack) && caps.policy_v1 {
        out.pod_disruption_budgets.push(disruption_budget(stack, C));
    }
    out
}

/// `<stack>-collector-external`: the OTLP ports only (not the node agents'
/// port or the metrics), of the type and with the settings the spec asks.
fn external_service(stack: &ValidatedStack) -> Option<Service> {
    let e = stack.spec.collector.external_service.as_ref()?;
    let mut svc = service(stack, C);
    svc.metadata.name = Some(child_name(&stack.name, C, Some("external")));
    if !e.annotations.is_empty() {
        svc.metadata.annotations = Some(e.annotations.clone());
    }
    let spec = svc.spec.get_or_insert_with(ServiceSpec::default);
    if let Some(ports) = &mut spec.ports {
        ports.retain(|p| matches!(p.name.as_deref(), Some("otlp-grpc" | "otlp-http")));
    }
    spec.type_ = Some(e.type_.as_str().into());
    spec.load_balancer_source_ranges =
        (!e.load_balancer_source_ranges.is_empty()).then(|| e.load_balancer_source_ranges.clone());
    spec.load_balancer_class = e.load_balancer_class.clone();
    spec.external_traffic_policy = e.external_traffic_policy.map(|p| p.as_str().into());
    Some(svc)
}

fn spec_certificate(stack: &ValidatedStack) -> Option<&crate::api::CertificateRequest> {
    stack.spec.collector.tls.as_ref()?.certificate.as_ref()
}

/// `<stack>-collector-tls`: cert-manager issues the collector's serving
/// certificate into `tls.secretName`, for the Service's names and any asked.
fn certificate(stack: &ValidatedStack) -> Option<Certificate> {
    let tls = stack.spec.collector.tls.as_ref()?;
    let req = tls.certificate.as_ref()?;
    let service = child_name(&stack.name, C, None);
    let ns = &stack.namespace;
    let mut dns_names = vec![
        service.clone(),
        format!("{service}.{ns}"),
        format!("{service}.{ns}.svc"),
    ];
    dns_names.extend(req.dns_names.iter().cloned());
    Some(Certificate {
        metadata: meta(stack, C, child_name(&stack.name, C, Some("tls"))),
        spec: CertificateSpec {
            secret_name: tls.secret_name.clone(),
            dns_names,
            issuer_ref: CertIssuerRef {
                name: req.issuer_ref.name.clone(),
                kind: req.issuer_ref.kind.as_str().into(),
                group: req
                    .issuer_ref
                    .group
                    .clone()
                    .unwrap_or_else(|| "cert-manager.io".into()),
            },
            duration: req.duration.clone(),
            // No `usages`: cert-manager's default key usages (digital
            // signature, key encipherment, server auth; cert-manager
            // `pkg/apis/certmanager/v1` `DefaultKeyUsages`) are a TLS server's.
            renew_before: req.renew_before.clone(),
        },
    })
}

fn hpa(stack: &ValidatedStack, name: &str) -> HorizontalPodAutoscaler {
    let a = &stack.spec.collector.autoscaling;
    let metric = |resource: &str, target: i32| MetricSpec {
        type_: "Resource".into(),
        resource: Some(ResourceMetricSource {
            name: resource.into(),
            target: MetricTarget {
                type_: "Utilization".into(),
                average_utilization: Some(target),
                ..MetricTarget::default()
            },
        }),
        ..MetricSpec::default()
    };
    let mut metrics = Vec::new();
    let cpu = match (
        a.target_cpu_utilization_percentage,
        a.target_memory_utilization_percentage,
    ) {
        (None, None) => Some(crate::api::DEFAULT_CPU_TARGET),
        (cpu, _) => cpu,
    };
    if let Some(cpu) = cpu {
        metrics.push(metric("cpu", cpu));
    }
    if let Some(mem) = a.target_memory_utilization_percentage {
        metrics.push(metric("memory", mem));
    }
    HorizontalPodAutoscaler {
        metadata: meta(stack, C, name.into()),
        spec: Some(HorizontalPodAutoscalerSpec {
            scale_target_ref: CrossVersionObjectReference {
                api_version: Some("apps/v1".into()),
                kind: "Deployment".into(),
                name: name.into(),
            },
            min_replicas: Some(a.min_replicas),
            max_replicas: a.max_replicas,
            metrics: Some(metrics),
            ..HorizontalPodAutoscalerSpec::default()
        }),
        ..HorizontalPodAutoscaler::default()
    }
}

/// Whether the stack asks for an autoscaler (a server may not serve one).
fn wants_autoscaler(stack: &ValidatedStack) -> bool {
    stack.spec.collector.autoscaling.enabled
}

/// Whether the collector gets a disruption budget: only with more than one pod,
/// where keeping one up through a drain means something.
fn wants_disruption_budget(stack: &ValidatedStack) -> bool {
    stack.min_pods(C) > 1
}

/// What the collector runs without, and the reason of its condition:
/// `NotGranted` when it lacks the metadata ClusterRole (and so runs without
/// Kubernetes metadata), else `APIUnavailable`.
pub(super) fn api_unavailable(
    stack: &ValidatedStack,
    caps: &Capabilities,
) -> (&'static str, Vec<String>) {
    let mut missing = Vec::new();
    if wants_autoscaler(stack) && !caps.autoscaling_v2 {
        missing.push(format!(
            "autoscaling/v2 is not served: no autoscaler, running minReplicas ({})",
            stack.min_pods(C)
        ));
    }
    if wants_disruption_budget(stack) && !caps.policy_v1 {
        missing.push("policy/v1 is not served: no PodDisruptionBudget".to_string());
    }
    if spec_certificate(stack).is_some() && !caps.certificates {
        missing.push(format!(
            "cert-manager.io/v1 Certificate is not served (cert-manager is not installed, or was installed after the operator started): none requested, and the collector waits for Secret {}",
            stack.spec.collector.tls.as_ref().map_or("", |t| t.secret_name.as_str())
        ));
    }
    if !super::cluster::metadata_granted(caps) {
        missing.push("no Kubernetes metadata on what applications push: the operator was installed without cluster-wide collection, so it has no ClusterRole to bind for reading pods".to_string());
        return (crate::api::reason::NOT_GRANTED, missing);
    }
    (crate::api::reason::API_UNAVAILABLE, missing)
}

/// What `spec.export`'s destinations read from Secrets: header values and
/// basic auth as environment variables (the config names them as
/// `${env:...}`), the bearer token and the CA as files in Secret volumes (not
/// subPath: the token extension re-reads a rotated token). Values never enter
/// the config.
fn export_secrets(
    stack: &ValidatedStack,
    volumes: &mut Vec<Volume>,
    mounts: &mut Vec<VolumeMount>,
) -> Vec<k8s_openapi::api::core::v1::EnvVar> {
    use crate::model::export::{env_name, header_env, secrets_dir};
    let mut env = Vec::new();
    for d in &stack.spec.export {
        for (i, h) in d.headers.iter().enumerate() {
            if let Some(k) = &h.value_from {
                env.push(env_from_secret(&header_env(d, i), &k.secret_name, &k.key));
            }
        }
        if let Some(b) = &d.basic_auth {
            env.push(env_from_secret(
                &env_name(d, "USERNAME"),
                &b.secret_name,
                &b.username_key,
            ));
            env.push(env_from_secret(
                &env_name(d, "PASSWORD"),
                &b.secret_name,
                &b.password_key,
            ));
        }
        if let Some(s) = d.sigv4.as_ref().and_then(|v| v.credentials_secret.as_ref()) {
            // One set per collector (validation allows one such Secret): the
            // AWS SDK's default chain reads these names.
            use crate::api::credential_keys::{S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY};
            for (name, key) in [
                ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY_ID),
                ("AWS_SECRET_ACCESS_KEY", S3_SECRET_ACCESS_KEY),
            ] {
                if !env
                    .iter()
                    .any(|e: &k8s_openapi::api::core::v1::EnvVar| e.name == name)
                {
                    env.push(env_from_secret(name, s, key));
                }
            }
        }
        let files = [
            d.bearer_token
                .as_ref()
                .map(|t| ("token", t.secret_name.as_str(), t.key.as_str())),
            d.oauth2.as_ref().map(|o| {
                (
                    "oauth2",
                    o.client_secret.secret_name.as_str(),
                    o.client_secret.key.as_str(),
                )
            }),
            d.ca_secret_name
                .as_deref()
                .map(|ca| ("ca", ca, crate::api::credential_keys::CA)),
        ];
        for (what, secret, key) in files.into_iter().flatten() {
            let volume = format!("export-{}-{what}", d.name);
            volumes.push(secret_key_volume(&volume, secret, key));
            mounts.push(mount(&volume, &format!("{}/{what}", secrets_dir(d)), true));
        }
    }
    env
}
