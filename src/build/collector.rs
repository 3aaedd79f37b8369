//! The collector's children: ServiceAccount, config, Service, Deployment, and
//! (with autoscaling) its HorizontalPodAutoscaler, plus a PodDisruptionBudget
//! when it runs more than one replica.

use std::collections::BTreeMap;

use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::autoscaling::v2::{
    CrossVersionObjectReference, HorizontalPodAutoscaler, HorizontalPodAutoscalerSpec, MetricSpec,
    MetricTarget, ResourceMetricSource,
};
use k8s_openapi::api::core::v1::{Container, EnvVar, PodSpec, PodTemplateSpec, VolumeMount};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::common::*;
use super::{Resources, images};
use crate::render::{otelcol, ports, to_yaml};
use crate::units::parse_quantity_bytes;
use crate::validate::ValidatedStack;

const C: Component = Component::Collector;

/// Default memory limit when the user sets none.
const DEFAULT_MEMORY_LIMIT: &str = "512Mi";

pub(super) fn build(stack: &ValidatedStack) -> Resources {
    let spec = &stack.spec.collector;
    let resources = resources(
        spec.resources.as_ref(),
        ("200m", "256Mi"),
        ("1", DEFAULT_MEMORY_LIMIT),
    );
    let memory_limit = resources
        .limits
        .as_ref()
        .and_then(|l| l.get("memory"))
        .and_then(|q| parse_quantity_bytes(&q.0).ok())
        .unwrap_or(512 << 20);
    let config = to_yaml(&otelcol::render(stack, memory_limit));
    let cm = config_map(
        stack,
        C,
        "config",
        BTreeMap::from([("config.yaml".into(), config)]),
    );
    let hash = config_hash(&[&cm], &[]);
    let name = child_name(&stack.name, C, None);
    let image = spec
        .image
        .clone()
        .unwrap_or_else(|| images::COLLECTOR.into());
    let gomemlimit = format!("{}MiB", otelcol::memory_limit_mib(memory_limit));

    let container = secured(Container {
        name: "collector".into(),
        image: Some(image),
        args: Some(vec!["--config=/conf/config.yaml".into()]),
        env: Some(vec![EnvVar {
            name: "GOMEMLIMIT".into(),
            value: Some(gomemlimit),
            ..EnvVar::default()
        }]),
        ports: Some(vec![
            container_port("otlp-grpc", ports::OTLP_GRPC),
            container_port("otlp-http", ports::OTLP_HTTP),
            container_port("metrics", ports::COLLECTOR_METRICS),
            container_port("health", ports::COLLECTOR_HEALTH),
        ]),
        liveness_probe: Some(http_probe("/", "health", 10, 10)),
        readiness_probe: Some(http_probe("/", "health", 2, 5)),
        resources: Some(resources),
        volume_mounts: Some(vec![VolumeMount {
            name: "config".into(),
            mount_path: "/conf".into(),
            read_only: Some(true),
            ..VolumeMount::default()
        }]),
        ..Container::default()
    });

    let autoscaling = &spec.autoscaling;
    let deployment = Deployment {
        metadata: meta(stack, C, name.clone()),
        spec: Some(DeploymentSpec {
            // Under autoscaling the HPA owns the replica count: never write it.
            replicas: (!autoscaling.enabled).then_some(spec.replicas),
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
                metadata: Some(ObjectMeta {
                    labels: Some(labels(&stack.name, C)),
                    annotations: Some(BTreeMap::from([(CONFIG_HASH_ANNOTATION.into(), hash)])),
                    ..ObjectMeta::default()
                }),
                spec: Some(PodSpec {
                    service_account_name: Some(name.clone()),
                    automount_service_account_token: Some(false),
                    security_context: Some(pod_security(images::COLLECTOR_UID)),
                    containers: vec![container],
                    volumes: Some(vec![config_volume(
                        "config",
                        &child_name(&stack.name, C, Some("config")),
                    )]),
                    termination_grace_period_seconds: Some(30),
                    ..PodSpec::default()
                }),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    };

    let mut out = Resources {
        service_accounts: vec![service_account(stack, C, false)],
        config_maps: vec![cm],
        services: vec![service(
            stack,
            C,
            &[
                ("otlp-grpc", ports::OTLP_GRPC),
                ("otlp-http", ports::OTLP_HTTP),
                ("metrics", ports::COLLECTOR_METRICS),
            ],
        )],
        deployments: vec![deployment],
        ..Resources::default()
    };
    if autoscaling.enabled {
        out.horizontal_pod_autoscalers.push(hpa(stack, &name));
    }
    let min_replicas = if autoscaling.enabled {
        autoscaling.min_replicas
    } else {
        spec.replicas
    };
    if min_replicas > 1 {
        out.pod_disruption_budgets.push(PodDisruptionBudget {
            metadata: meta(stack, C, name),
            spec: Some(PodDisruptionBudgetSpec {
                max_unavailable: Some(IntOrString::Int(1)),
                selector: Some(LabelSelector {
                    match_labels: Some(selector_labels(&stack.name, C)),
                    ..LabelSelector::default()
                }),
                ..PodDisruptionBudgetSpec::default()
            }),
            ..PodDisruptionBudget::default()
        });
    }
    out
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
