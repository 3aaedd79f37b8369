//! Every pod sextant renders, and the Helm chart's own operator pod, meets the Pod
//! Security Standard "restricted" as the Kubernetes documentation writes it
//! (<https://kubernetes.io/docs/concepts/security/pod-security-standards/>):
//! every baseline control plus the restricted ones. `restricted_violations` checks
//! one pod template; negative tests prove it flags each control it implements.
//! The one exception is the node agent, which takes exactly the exceptions
//! docs/node-agent.md lists ([`AGENT_EXCEPTIONS`]) and no other.

mod common;

use std::path::Path;

use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, PodSpec, PodTemplateSpec, SecurityContext,
};
use serde_json::{Value, json};
use sextant::build::build;
use sextant::cli;
use sextant::model::Capabilities as ApiServer;
use sextant::model::DashboardFile;
use sextant::validate::Dereferenced;
use sextant::validate::validate;

/// Volume types "restricted" allows.
const ALLOWED_VOLUMES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

/// Sysctls "baseline" allows.
const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// SELinux types "baseline" allows.
const SELINUX_TYPES: [&str; 4] = [
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

/// One container of any kind, as the controls see it.
struct ContainerView<'a> {
    name: String,
    security: Option<&'a SecurityContext>,
    ports: &'a [ContainerPort],
}

fn plain<'a>(kind: &str, c: &'a Container) -> ContainerView<'a> {
    ContainerView {
        name: format!("{kind} {}", c.name),
        security: c.security_context.as_ref(),
        ports: c.ports.as_deref().unwrap_or_default(),
    }
}

fn containers_of(pod: &PodSpec) -> Vec<ContainerView<'_>> {
    let mut out: Vec<ContainerView<'_>> = pod
        .containers
        .iter()
        .map(|c| plain("container", c))
        .collect();
    out.extend(
        pod.init_containers
            .iter()
            .flatten()
            .map(|c| plain("initContainer", c)),
    );
    out.extend(
        pod.ephemeral_containers
            .iter()
            .flatten()
            .map(|c| ContainerView {
                name: format!("ephemeralContainer {}", c.name),
                security: c.security_context.as_ref(),
                ports: c.ports.as_deref().unwrap_or_default(),
            }),
    );
    out
}

fn seccomp_ok(t: Option<&str>) -> bool {
    matches!(t, Some("RuntimeDefault" | "Localhost"))
}

/// Every way `template` breaks Pod Security Standard "restricted" (baseline
/// included), one line each; empty when it complies.
fn restricted_violations(template: &PodTemplateSpec) -> Vec<String> {
    let mut v = Vec::new();
    let Some(pod) = template.spec.as_ref() else {
        return vec!["no pod spec".into()];
    };
    let psc = pod.security_context.clone().unwrap_or_default();
    let containers = containers_of(pod);

    // --- baseline ---
    for (field, value) in [
        ("hostNetwork", pod.host_network),
        ("hostPID", pod.host_pid),
        ("hostIPC", pod.host_ipc),
    ] {
        if value == Some(true) {
            v.push(format!("spec.{field} is true"));
        }
    }
    if psc
        .windows_options
        .as_ref()
        .and_then(|w| w.host_process)
        .unwrap_or(false)
    {
        v.push("spec.securityContext.windowsOptions.hostProcess is true".into());
    }
    if let Some(se) = &psc.se_linux_options {
        if se
            .type_
            .as_deref()
            .is_some_and(|t| !SELINUX_TYPES.contains(&t))
        {
            v.push("spec.securityContext.seLinuxOptions.type is not allowed".into());
        }
        if se.user.is_some() || se.role.is_some() {
            v.push("spec.securityContext.seLinuxOptions sets user or role".into());
        }
    }
    if psc
        .app_armor_profile
        .as_ref()
        .is_some_and(|a| !matches!(a.type_.as_str(), "RuntimeDefault" | "Localhost"))
    {
        v.push("spec.securityContext.appArmorProfile is not RuntimeDefault or Localhost".into());
    }
    for (key, value) in template
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .into_iter()
        .flatten()
    {
        if key.starts_with("container.apparmor.security.beta.kubernetes.io/")
            && value != "runtime/default"
            && !value.starts_with("localhost/")
        {
            v.push(format!("annotation {key} is {value:?}"));
        }
    }
    for s in psc.sysctls.iter().flatten() {
        if !SAFE_SYSCTLS.contains(&s.name.as_str()) {
            v.push(format!(
                "spec.securityContext.sysctls: {} is not safe",
                s.name
            ));
        }
    }
    if psc
        .seccomp_profile
        .as_ref()
        .is_some_and(|s| s.type_ == "Unconfined")
    {
        v.push("spec.securityContext.seccompProfile is Unconfined".into());
    }

    // --- restricted: volumes ---
    for vol in pod.volumes.iter().flatten() {
        let value = serde_json::to_value(vol).unwrap();
        for kind in value.as_object().unwrap().keys() {
            if kind != "name" && !ALLOWED_VOLUMES.contains(&kind.as_str()) {
                v.push(format!("volume {}: type {kind} is not allowed", vol.name));
            }
        }
    }

    // --- per container ---
    let pod_non_root = psc.run_as_non_root == Some(true);
    let pod_seccomp = seccomp_ok(psc.seccomp_profile.as_ref().map(|s| s.type_.as_str()));
    if psc.run_as_user == Some(0) {
        v.push("spec.securityContext.runAsUser is 0".into());
    }
    for c in &containers {
        let sc = c.security.cloned().unwrap_or_default();
        let n = &c.name;
        if sc.privileged == Some(true) {
            v.push(format!("{n}: privileged"));
        }
        if sc
            .windows_options
            .as_ref()
            .and_then(|w| w.host_process)
            .unwrap_or(false)
        {
            v.push(format!("{n}: windowsOptions.hostProcess is true"));
        }
        for p in c.ports {
            if p.host_port.is_some_and(|h| h != 0) {
                v.push(format!("{n}: hostPort {}", p.host_port.unwrap()));
            }
        }
        if let Some(se) = &sc.se_linux_options {
            if se
                .type_
                .as_deref()
                .is_some_and(|t| !SELINUX_TYPES.contains(&t))
            {
                v.push(format!("{n}: seLinuxOptions.type is not allowed"));
            }
            if se.user.is_some() || se.role.is_some() {
                v.push(format!("{n}: seLinuxOptions sets user or role"));
            }
        }
        if sc
            .app_armor_profile
            .as_ref()
            .is_some_and(|a| !matches!(a.type_.as_str(), "RuntimeDefault" | "Localhost"))
        {
            v.push(format!(
                "{n}: appArmorProfile is not RuntimeDefault or Localhost"
            ));
        }
        if sc.proc_mount.as_deref().is_some_and(|p| p != "Default") {
            v.push(format!("{n}: procMount is not Default"));
        }
        if sc.allow_privilege_escalation != Some(false) {
            v.push(format!("{n}: allowPrivilegeEscalation is not false"));
        }
        match sc.run_as_non_root {
            Some(false) => v.push(format!("{n}: runAsNonRoot is false")),
            None if !pod_non_root => v.push(format!(
                "{n}: runAsNonRoot is set neither on the pod nor on the container"
            )),
            _ => {}
        }
        if sc.run_as_user == Some(0) {
            v.push(format!("{n}: runAsUser is 0"));
        }
        match sc.seccomp_profile.as_ref().map(|s| s.type_.as_str()) {
            Some(t) if !seccomp_ok(Some(t)) => v.push(format!("{n}: seccompProfile is {t}")),
            None if !pod_seccomp => v.push(format!(
                "{n}: seccompProfile is RuntimeDefault or Localhost neither on the pod nor on the container"
            )),
            _ => {}
        }
        let caps = sc.capabilities.clone().unwrap_or_default();
        if !caps.drop.iter().flatten().any(|d| d == "ALL") {
            v.push(format!("{n}: capabilities.drop lacks ALL"));
        }
        for add in caps.add.iter().flatten() {
            if add != "NET_BIND_SERVICE" {
                v.push(format!("{n}: capabilities.add has {add}"));
            }
        }
    }
    v
}

/// Every pod template in a list of objects (Deployments, StatefulSets, DaemonSets,
/// Jobs, ReplicaSets, CronJobs and bare Pods), by `Kind/name`.
fn pod_templates(objects: &[Value]) -> Vec<(String, PodTemplateSpec)> {
    let mut out = Vec::new();
    for o in objects {
        let kind = o["kind"].as_str().unwrap_or_default();
        let template = match kind {
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => {
                o["spec"]["template"].clone()
            }
            "CronJob" => o["spec"]["jobTemplate"]["spec"]["template"].clone(),
            "Pod" => json!({"metadata": o["metadata"], "spec": o["spec"]}),
            _ => continue,
        };
        let name = format!("{kind}/{}", o["metadata"]["name"].as_str().unwrap_or("?"));
        let template: PodTemplateSpec = serde_json::from_value(template)
            .unwrap_or_else(|e| panic!("{name}: not a pod template: {e}"));
        out.push((name, template));
    }
    out
}

/// What the node agent's pod may break, and nothing else: its hostPath volumes
/// (baseline "HostPath Volumes") and running as root (restricted "Running as
/// Non-root" and "Running as Non-root user"), as docs/node-agent.md explains.
const AGENT_EXCEPTIONS: [&str; 6] = [
    "volume state: type hostPath is not allowed",
    "volume pods: type hostPath is not allowed",
    "volume docker: type hostPath is not allowed",
    "volume hostfs: type hostPath is not allowed",
    "spec.securityContext.runAsUser is 0",
    "container agent: runAsNonRoot is false",
];

fn is_node_agent(name: &str) -> bool {
    name.starts_with("DaemonSet/") && name.ends_with("-node-agent")
}

fn assert_restricted(source: &str, objects: &[Value]) -> usize {
    let pods = pod_templates(objects);
    let mut failures = Vec::new();
    for (name, template) in &pods {
        for violation in restricted_violations(template) {
            if is_node_agent(name) && AGENT_EXCEPTIONS.contains(&violation.as_str()) {
                continue;
            }
            failures.push(format!("{source}: {name}: {violation}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    pods.len()
}

/// The samples, plus variants that switch on every optional pod feature.
fn stacks() -> Vec<(String, sextant::api::ObservabilityStack)> {
    let mut out = common::samples();
    let variants = [
        (
            "every-option",
            "collector: {replicas: 3, autoscaling: {enabled: false}, image: my/otelcol:1,\n  resources: {requests: {cpu: 100m, memory: 256Mi}, limits: {cpu: '1', memory: 1Gi}}}\n\
             prometheus: {image: my/prom:1, retention: {time: 30d, size: 10GiB}, storage: {size: 20Gi}}\n\
             tempo: {image: my/tempo:1, metricsGenerator: {enabled: false}}\n\
             loki: {image: my/loki:1, retention: {period: 14d, streams: [{selector: '{a=\"b\"}', period: 2d}]}}\n\
             storage: {storageClassName: fast, deletionPolicy: Delete}\n\
             grafana:\n  image: my/grafana:1\n  adminCredentials: {secretName: admin, userKey: u, passwordKey: p}\n\
             \x20 smtp: {host: 'smtp.example.com:587', fromAddress: g@example.com, user: g, passwordSecretRef: {name: smtp, key: password}}\n\
             \x20 dashboards: {configMapSelector: {matchLabels: {team: a}}, inline: [{name: d, folder: f, json: '{\"title\": \"T\"}'}]}\n\
             \x20 alerting:\n    contactPoints:\n      - {name: hook, type: webhook, secretRef: {name: hook-secret, key: url}}\n\
             \x20     - {name: page, type: pagerduty, secretRef: {name: a.very.long.secret.name.that.needs.a.short.volume.name.x, key: k}}\n\
             \x20     - {name: mail, type: email, addresses: [a@example.com]}\n",
        ),
        (
            "pod-overrides",
            "imageRegistry: registry.example.com/mirror\n\
             pod:\n  nodeSelector: {pool: observability}\n  tolerations: [{key: dedicated, operator: Equal, value: obs, effect: NoSchedule}]\n\
             \x20 priorityClassName: high\n  annotations: {team: sre}\n  labels: {cost-center: c1}\n\
             \x20 imagePullSecrets: [{name: mirror-pull}]\n  env: [{name: HTTPS_PROXY, value: 'http://proxy:3128'}]\n\
             \x20 topologySpreadConstraints: [{maxSkew: 1, topologyKey: topology.kubernetes.io/zone, whenUnsatisfiable: ScheduleAnyway}]\n\
             \x20 affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{matchExpressions: [{key: kubernetes.io/arch, operator: In, values: [amd64]}]}]}}}\n\
             grafana: {pod: {nodeSelector: {pool: ui}, env: [{name: TZ, value: UTC}]}}\n",
        ),
        (
            "stopped",
            "collector: {autoscaling: {enabled: false}, replicas: 0}\nprometheus: {replicas: 0}\ntempo: {replicas: 0}\nloki: {replicas: 0}\ngrafana: {replicas: 0}",
        ),
        (
            "prometheus-only",
            "tempo: {enabled: false}\nloki: {enabled: false}\ngrafana: {enabled: false}",
        ),
        (
            "no-collector",
            "collector: {enabled: false}\ngrafana: {dashboards: {builtin: []}, alerting: {builtinRules: {enabled: false}}}",
        ),
    ];
    for (name, spec) in variants {
        out.push((name.to_string(), common::with_spec(spec)));
    }
    out
}

#[test]
fn every_pod_sextant_renders_meets_restricted() {
    let mut pods = 0;
    for (name, stack) in stacks() {
        let resources =
            cli::render(&stack, &ApiServer::current()).unwrap_or_else(|e| panic!("{name}: {e}"));
        pods += assert_restricted(&name, &resources.to_values());
    }
    // 3 samples x 6 workloads, and the variants' workloads.
    assert!(pods >= 18, "only {pods} pod templates checked");
}

#[test]
fn the_node_agent_takes_only_its_documented_exceptions() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/node-agent.md"))
            .unwrap();
    let stack = common::with_spec("nodeAgent: {hostMetrics: {enabled: true}}");
    let objects = cli::render(&stack, &ApiServer::current())
        .unwrap()
        .to_values();
    let pods = pod_templates(&objects);
    let (_, agent) = pods.iter().find(|(n, _)| is_node_agent(n)).unwrap();
    let mut taken = restricted_violations(agent);
    taken.sort();
    let mut documented = AGENT_EXCEPTIONS.to_vec();
    documented.sort();
    // With host metrics on, every exception is taken: none is listed in vain.
    assert_eq!(taken, documented);
    let pod = agent.spec.as_ref().unwrap();
    let container = &pod.containers[0];
    let mounts = container.volume_mounts.as_ref().unwrap();
    for vol in pod.volumes.iter().flatten() {
        let Some(host) = &vol.host_path else { continue };
        let mount = mounts.iter().find(|m| m.name == vol.name).unwrap();
        // Only its own state directory is writable; the doc names every path.
        assert_eq!(
            mount.read_only != Some(true),
            vol.name == "state",
            "{}",
            vol.name
        );
        let documented_path = if vol.name == "state" {
            "/var/lib/sextant/"
        } else {
            host.path.as_str()
        };
        assert!(
            doc.contains(&format!("`{documented_path}")),
            "docs/node-agent.md does not name {documented_path}"
        );
    }
    let security = container.security_context.as_ref().unwrap();
    assert_eq!(security.read_only_root_filesystem, Some(true));
    assert_eq!(security.privileged, None);
    // Root without capabilities: it reads files root owns, nothing more.
    assert!(security.capabilities.as_ref().unwrap().add.is_none());
}

#[test]
fn grafana_with_config_map_dashboards_meets_restricted() {
    // The controller adds dashboards read from selected ConfigMaps (a projected
    // volume); `render` of a file cannot, so the validated stack is filled here.
    let stack =
        common::with_spec("grafana: {dashboards: {configMapSelector: {matchLabels: {a: b}}}}");
    let mut valid = validate(&stack, &Dereferenced::offline()).unwrap();
    valid.config_map_dashboards = (0..40)
        .map(|i| DashboardFile {
            key: format!("cm-team-{i}.json"),
            folder: format!("Team {}", i % 3),
            json: format!(
                "{{\"title\": \"D{i}\", \"panels\": [{}]}}",
                "{}, ".repeat(2000) + "{}"
            ),
        })
        .collect();
    let objects = build(&valid, &ApiServer::current()).to_values();
    let grafana: Vec<Value> = objects
        .into_iter()
        .filter(|o| o["kind"] == "Deployment" && o["metadata"]["name"] == "s-grafana")
        .collect();
    assert_eq!(grafana.len(), 1);
    let volumes = grafana[0]["spec"]["template"]["spec"]["volumes"].to_string();
    assert!(volumes.contains("projected"), "{volumes}");
    assert_restricted("config-map-dashboards", &grafana);
}

/// A pod that meets "restricted".
fn compliant() -> PodTemplateSpec {
    serde_json::from_value(json!({
        "metadata": {"annotations": {"container.apparmor.security.beta.kubernetes.io/app": "runtime/default"}},
        "spec": {
            "securityContext": {"runAsNonRoot": true, "runAsUser": 1000, "seccompProfile": {"type": "RuntimeDefault"},
                                "sysctls": [{"name": "net.ipv4.tcp_syncookies", "value": "1"}]},
            "containers": [{
                "name": "app", "image": "app:1",
                "ports": [{"containerPort": 80}],
                "securityContext": {"allowPrivilegeEscalation": false,
                                    "capabilities": {"drop": ["ALL"], "add": ["NET_BIND_SERVICE"]}}
            }],
            "initContainers": [{
                "name": "init", "image": "init:1",
                "securityContext": {"allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]},
                                    "runAsNonRoot": true, "seccompProfile": {"type": "Localhost", "localhostProfile": "p.json"}}
            }],
            "volumes": [{"name": "c", "configMap": {"name": "c"}}, {"name": "e", "emptyDir": {}},
                        {"name": "s", "secret": {"secretName": "s"}}, {"name": "p", "projected": {"sources": []}},
                        {"name": "d", "persistentVolumeClaim": {"claimName": "d"}}]
        }
    }))
    .unwrap()
}

fn with(change: impl Fn(&mut PodSpec)) -> Vec<String> {
    let mut t = compliant();
    change(t.spec.as_mut().unwrap());
    restricted_violations(&t)
}

fn app(pod: &mut PodSpec) -> &mut SecurityContext {
    pod.containers[0].security_context.get_or_insert_default()
}

#[test]
fn the_check_accepts_a_compliant_pod_and_flags_each_violation() {
    assert_eq!(restricted_violations(&compliant()), Vec::<String>::new());
    let cases: Vec<(&str, Vec<String>)> = vec![
        ("hostNetwork", with(|p| p.host_network = Some(true))),
        ("hostPID", with(|p| p.host_pid = Some(true))),
        ("hostIPC", with(|p| p.host_ipc = Some(true))),
        ("privileged", with(|p| app(p).privileged = Some(true))),
        (
            "hostPort",
            with(|p| p.containers[0].ports.as_mut().unwrap()[0].host_port = Some(8080)),
        ),
        (
            "type hostPath",
            with(|p| {
                p.volumes.as_mut().unwrap().push(
                    serde_json::from_value(json!({"name": "h", "hostPath": {"path": "/"}}))
                        .unwrap(),
                )
            }),
        ),
        (
            "type gitRepo",
            with(|p| {
                p.volumes.as_mut().unwrap().push(
                    serde_json::from_value(json!({"name": "g", "gitRepo": {"repository": "x"}}))
                        .unwrap(),
                )
            }),
        ),
        (
            "allowPrivilegeEscalation",
            with(|p| app(p).allow_privilege_escalation = None),
        ),
        (
            "allowPrivilegeEscalation",
            with(|p| app(p).allow_privilege_escalation = Some(true)),
        ),
        (
            "runAsNonRoot is set neither",
            with(|p| p.security_context.as_mut().unwrap().run_as_non_root = None),
        ),
        (
            "runAsNonRoot is false",
            with(|p| app(p).run_as_non_root = Some(false)),
        ),
        (
            "spec.securityContext.runAsUser is 0",
            with(|p| p.security_context.as_mut().unwrap().run_as_user = Some(0)),
        ),
        ("runAsUser is 0", with(|p| app(p).run_as_user = Some(0))),
        (
            "seccompProfile is RuntimeDefault or Localhost neither",
            with(|p| p.security_context.as_mut().unwrap().seccomp_profile = None),
        ),
        (
            "seccompProfile is Unconfined",
            with(|p| {
                app(p).seccomp_profile =
                    Some(serde_json::from_value(json!({"type": "Unconfined"})).unwrap())
            }),
        ),
        (
            "drop lacks ALL",
            with(|p| {
                app(p).capabilities = Some(Capabilities {
                    drop: Some(vec!["NET_RAW".into()]),
                    add: None,
                })
            }),
        ),
        (
            "capabilities.add has SYS_ADMIN",
            with(|p| {
                app(p).capabilities = Some(Capabilities {
                    drop: Some(vec!["ALL".into()]),
                    add: Some(vec!["SYS_ADMIN".into()]),
                })
            }),
        ),
        (
            "hostProcess",
            with(|p| {
                app(p).windows_options =
                    Some(serde_json::from_value(json!({"hostProcess": true})).unwrap())
            }),
        ),
        (
            "seLinuxOptions.type",
            with(|p| {
                app(p).se_linux_options =
                    Some(serde_json::from_value(json!({"type": "spc_t"})).unwrap())
            }),
        ),
        (
            "procMount",
            with(|p| app(p).proc_mount = Some("Unmasked".into())),
        ),
        (
            "kernel.msgmax is not safe",
            with(|p| {
                p.security_context.as_mut().unwrap().sysctls = Some(
                    serde_json::from_value(json!([{"name": "kernel.msgmax", "value": "1"}]))
                        .unwrap(),
                )
            }),
        ),
        (
            "initContainer init: allowPrivilegeEscalation",
            with(|p| {
                p.init_containers.as_mut().unwrap()[0]
                    .security_context
                    .as_mut()
                    .unwrap()
                    .allow_privilege_escalation = None
            }),
        ),
        (
            "appArmorProfile",
            with(|p| {
                app(p).app_armor_profile =
                    Some(serde_json::from_value(json!({"type": "Unconfined"})).unwrap())
            }),
        ),
    ];
    for (needle, violations) in cases {
        assert!(
            violations.iter().any(|v| v.contains(needle)),
            "expected a violation naming {needle:?}, got {violations:?}"
        );
    }
    // A pod without any security context breaks several controls at once.
    let bare: PodTemplateSpec = serde_json::from_value(json!({
        "spec": {"containers": [{"name": "root", "image": "x"}]}
    }))
    .unwrap();
    assert!(restricted_violations(&bare).len() >= 4);
    // The AppArmor annotation is checked too.
    let mut t = compliant();
    t.metadata
        .as_mut()
        .unwrap()
        .annotations
        .as_mut()
        .unwrap()
        .insert(
            "container.apparmor.security.beta.kubernetes.io/app".into(),
            "unconfined".into(),
        );
    assert!(restricted_violations(&t)[0].contains("apparmor"));
}

/// Renders the chart with `helm template` and each values file under `ci/`.
fn helm_renders(chart: &Path, helm: &Path) -> Vec<(String, Vec<Value>)> {
    let mut values_files = vec![None];
    if let Ok(dir) = std::fs::read_dir(chart.join("ci")) {
        let mut files: Vec<_> = dir
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
            .collect();
        files.sort();
        values_files.extend(files.into_iter().map(Some));
    }
    let mut out = Vec::new();
    for values in values_files {
        let mut args = vec![
            "template",
            "pss",
            chart.to_str().unwrap(),
            "--namespace",
            "sextant-system",
        ];
        let label = match &values {
            Some(v) => {
                args.push("-f");
                args.push(v.to_str().unwrap());
                v.file_name().unwrap().to_string_lossy().to_string()
            }
            None => "default values".to_string(),
        };
        let (ok, text) = common::run(helm, &args);
        assert!(ok, "helm template ({label}) failed:\n{text}");
        let mut objects = Vec::new();
        for doc in serde_yaml_ng::Deserializer::from_str(&text) {
            let v: Value = serde::Deserialize::deserialize(doc).unwrap();
            if !v.is_null() {
                objects.push(v);
            }
        }
        out.push((label, objects));
    }
    out
}

#[test]
fn the_chart_operator_pod_meets_restricted() {
    let chart = common::root().join("charts/sextant");
    if !chart.join("Chart.yaml").is_file() {
        if std::env::var("SEXTANT_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("charts/sextant/Chart.yaml is missing");
        }
        eprintln!(
            "SKIPPED: charts/sextant is missing (set SEXTANT_REQUIRE_TOOLS=1 to fail instead)"
        );
        return;
    }
    let Some(helm) = common::tool("helm") else {
        return;
    };
    for (label, objects) in helm_renders(&chart, &helm) {
        let pods = assert_restricted(&format!("chart ({label})"), &objects);
        assert!(pods >= 1, "chart ({label}) renders no Deployment");
    }
}
