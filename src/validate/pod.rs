//! The pod overrides (`spec.pod`, `spec.<component>.pod`), the collector's
//! TLS Secrets and the image
//! registry: names the API server takes, and nothing that would change what
//! sextant owns (its labels and annotations, the environment it sets) or the
//! pods' security (the Pod Security annotations of AppArmor and seccomp).

use super::Validator;
use super::syntax::{is_dns_subdomain, is_label_key, is_label_value};
use crate::api::{
    CertificateRequest, ExternalService, ExternalServiceType, ObservabilityStackSpec, PodOverrides,
};
use crate::model::Component;

/// Label and annotation prefixes sextant sets and selects on.
const OWNED_PREFIXES: [&str; 2] = ["app.kubernetes.io/", "observability.sextant.dev/"];
/// Annotations that set a pod's AppArmor or seccomp profile, which the Pod
/// Security Standards ("baseline" and "restricted", kubernetes.io/docs/concepts/security/pod-security-standards)
/// restrict; sextant sets the profile itself (`RuntimeDefault`). Not read in the
/// pod-security-admission source here.
const SECURITY_ANNOTATIONS: [&str; 2] = [
    "container.apparmor.security.beta.kubernetes.io/",
    "seccomp.security.alpha.kubernetes.io/",
];
/// Operators of a topology spread constraint's `whenUnsatisfiable`.
const UNSATISFIABLE: [&str; 2] = ["DoNotSchedule", "ScheduleAnyway"];
/// Node selector requirement operators (k8s.io/api core/v1 `NodeSelectorOperator`).
const NODE_OPERATORS: [&str; 6] = ["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"];

impl Validator {
    /// Checks `spec.collector.tls` and `spec.collector.auth`: Secret names and
    /// keys; and `spec.collector.externalService`.
    pub(super) fn otlp_tls(&mut self, spec: &ObservabilityStackSpec) {
        if let Some(a) = &spec.collector.auth {
            self.secret_name("spec.collector.auth.secretName", &a.secret_name);
            self.secret_key("spec.collector.auth.key", &a.key);
        }
        if let Some(e) = &spec.collector.external_service {
            self.external_service(e);
            if spec.network_policies.enabled && spec.network_policies.otlp_from.is_some() {
                self.err(
                    "spec.networkPolicies.otlpFrom",
                    "cannot hold while spec.collector.externalService exposes OTLP outside the cluster: the collector's NetworkPolicy admits every source then; unset one of them",
                );
            }
        }
        let Some(t) = &spec.collector.tls else {
            return;
        };
        if let Some(c) = &t.certificate {
            self.certificate_request(c);
        }
        let names = [
            ("spec.collector.tls.secretName", Some(&t.secret_name)),
            (
                "spec.collector.tls.clientCaSecretName",
                t.client_ca_secret_name.as_ref(),
            ),
        ];
        for (path, name) in names {
            if let Some(n) = name {
                self.secret_name(path, n);
            }
        }
    }

    /// `spec.collector.tls.certificate`: what cert-manager's webhook refuses
    /// (cert-manager `pkg/apis/certmanager/v1` `MinimumCertificateDuration`
    /// 1h and `MinimumRenewBefore` 5m, in a stored copy; durations as Go's
    /// `time.ParseDuration` reads them), and names the API server takes.
    fn certificate_request(&mut self, c: &CertificateRequest) {
        const PATH: &str = "spec.collector.tls.certificate";
        if !is_dns_subdomain(&c.issuer_ref.name) {
            self.err(
                format!("{PATH}.issuerRef.name"),
                "must be an issuer name (a DNS subdomain: lower case letters, digits, '-' and '.')",
            );
        }
        if let Some(g) = &c.issuer_ref.group
            && !(is_dns_subdomain(g) && g.contains('.'))
        {
            self.err(
                format!("{PATH}.issuerRef.group"),
                "must be an API group such as cert-manager.io",
            );
        }
        for (i, d) in c.dns_names.iter().enumerate() {
            if !is_dns_subdomain(d.strip_prefix("*.").unwrap_or(d)) {
                self.err(
                    format!("{PATH}.dnsNames[{i}]"),
                    "must be a host name such as otlp.example.com, or a wildcard *.example.com",
                );
            }
        }
        let duration = |v: &mut Self, field: &str, value: Option<&String>| {
            let value = value?;
            let go = !value.contains(['d', 'w', 'y']);
            match crate::units::parse_duration(value) {
                Ok(d) if go => Some(d),
                _ => {
                    v.err(
                        format!("{PATH}.{field}"),
                        "must be a duration in h, m and s, such as 2160h (cert-manager reads Go durations: no d, w or y)",
                    );
                    None
                }
            }
        };
        let total = duration(self, "duration", c.duration.as_ref());
        let renew = duration(self, "renewBefore", c.renew_before.as_ref());
        if let Some(d) = total
            && d < std::time::Duration::from_secs(3600)
        {
            self.err(
                format!("{PATH}.duration"),
                "must be at least 1h: cert-manager refuses shorter certificates",
            );
        }
        if let Some(r) = renew {
            if r < std::time::Duration::from_secs(300) {
                self.err(
                    format!("{PATH}.renewBefore"),
                    "must be at least 5m: cert-manager refuses less",
                );
            } else if let Some(d) = total
                && r >= d
            {
                self.err(
                    format!("{PATH}.renewBefore"),
                    "must be shorter than duration: the certificate would be renewed as soon as it is issued",
                );
            }
        }
    }

    /// The API server's rules for a Service (k8s.io/kubernetes
    /// pkg/apis/core/validation `ValidateService`): source ranges are CIDRs and,
    /// like a load-balancer class, only for `type: LoadBalancer`.
    fn external_service(&mut self, e: &ExternalService) {
        const PATH: &str = "spec.collector.externalService";
        for k in e.annotations.keys() {
            self.annotation_key(format!("{PATH}.annotations"), k);
        }
        let lb = e.type_ == ExternalServiceType::LoadBalancer;
        for (i, r) in e.load_balancer_source_ranges.iter().enumerate() {
            let path = format!("{PATH}.loadBalancerSourceRanges[{i}]");
            if !lb {
                self.err(path, "only applies to type LoadBalancer");
            } else if !is_cidr(r) {
                self.err(
                    path,
                    "must be a CIDR such as 203.0.113.0/24 or 2001:db8::/32",
                );
            }
        }
        if let Some(c) = &e.load_balancer_class {
            if !lb {
                self.err(
                    format!("{PATH}.loadBalancerClass"),
                    "only applies to type LoadBalancer",
                );
            } else if !is_label_key(c) {
                self.err(
                    format!("{PATH}.loadBalancerClass"),
                    "must be a qualified name such as example.com/internal-lb",
                );
            }
        }
    }

    /// Checks `spec.pod`, each component's `pod` and `spec.imageRegistry`.
    pub(super) fn pods(&mut self, spec: &ObservabilityStackSpec) {
        if let Some(r) = &spec.image_registry
            && !is_registry(r)
        {
            self.err(
                "spec.imageRegistry",
                "must be a registry host, optionally with a port and a path, such as registry.example.com/mirror (no scheme, tag or digest)",
            );
        }
        if let Some(p) = &spec.pod {
            // The stack-wide environment goes into every component's containers.
            let owned: Vec<&str> = Component::ALL
                .iter()
                .flat_map(|c| c.owned_env().iter().copied())
                .collect();
            self.pod("spec.pod", p, &owned);
        }
        for c in Component::ALL {
            let Some(p) = own_pod(spec, c) else {
                continue;
            };
            let path = format!("spec.{}.pod", c.field());
            if c == Component::NodeAgent {
                if p.tolerations.is_some() {
                    self.err(
                        format!("{path}.tolerations"),
                        "use spec.nodeAgent.tolerations: the node agent has its own (every taint by default)",
                    );
                }
                if p.priority_class_name.is_some() {
                    self.err(
                        format!("{path}.priorityClassName"),
                        "use spec.nodeAgent.priorityClassName",
                    );
                }
            }
            self.pod(&path, p, c.owned_env());
        }
    }

    fn pod(&mut self, path: &str, p: &PodOverrides, owned_env: &[&str]) {
        for (k, v) in p.node_selector.iter().flatten() {
            if !is_label_key(k) || !is_label_value(v) {
                self.err(
                    format!("{path}.nodeSelector[{k}]"),
                    "must be a label key and value (63 characters or fewer, letters, digits, '-', '_' and '.')",
                );
            }
        }
        for (i, t) in p.tolerations.iter().flatten().enumerate() {
            self.toleration(&format!("{path}.tolerations[{i}]"), t);
        }
        if let Some(class) = &p.priority_class_name
            && !is_dns_subdomain(class)
        {
            self.err(
                format!("{path}.priorityClassName"),
                "must be a PriorityClass name (a DNS subdomain: lower case letters, digits, '-' and '.')",
            );
        }
        for (k, v) in &p.labels {
            if !is_label_key(k) || !is_label_value(v) {
                self.err(
                    format!("{path}.labels[{k}]"),
                    "must be a label key and value (63 characters or fewer, letters, digits, '-', '_' and '.')",
                );
            } else if OWNED_PREFIXES.iter().any(|o| k.starts_with(o)) {
                self.err(
                    format!("{path}.labels[{k}]"),
                    "must not be under app.kubernetes.io/ or observability.sextant.dev/: sextant sets and selects on those",
                );
            }
        }
        for k in p.annotations.keys() {
            if !self.annotation_key(format!("{path}.annotations[{k}]"), k) {
                continue;
            }
            if OWNED_PREFIXES[1..].iter().any(|o| k.starts_with(o)) {
                self.err(
                    format!("{path}.annotations[{k}]"),
                    "must not be under observability.sextant.dev/: sextant sets those (the config hash)",
                );
            } else if SECURITY_ANNOTATIONS.iter().any(|o| k.starts_with(o)) {
                self.err(
                    format!("{path}.annotations[{k}]"),
                    "must not set an AppArmor or seccomp profile: sextant's pods run with the runtime default profile, as Pod Security \"restricted\" requires",
                );
            }
        }
        for (i, s) in p.image_pull_secrets.iter().flatten().enumerate() {
            self.secret_name(format!("{path}.imagePullSecrets[{i}].name"), &s.name);
        }
        for (i, e) in p.env.iter().enumerate() {
            let at = format!("{path}.env[{i}]");
            if !is_env_name(&e.name) {
                self.err(
                    format!("{at}.name"),
                    "must be an environment variable name (letters, digits, '_', '-' and '.', not starting with a digit)",
                );
            } else if owned_env.contains(&e.name.as_str()) {
                self.err(
                    format!("{at}.name"),
                    format!("{} is set by sextant and may not be overridden", e.name),
                );
            }
            if e.value.is_some() && e.value_from.is_some() {
                self.err(at, "must set value or valueFrom, not both");
            }
        }
        for (i, t) in p.topology_spread_constraints.iter().flatten().enumerate() {
            let at = format!("{path}.topologySpreadConstraints[{i}]");
            if t.max_skew < 1 {
                self.err(format!("{at}.maxSkew"), "must be at least 1");
            }
            if t.topology_key.is_empty() || !is_label_key(&t.topology_key) {
                self.err(
                    format!("{at}.topologyKey"),
                    "must be a node label key, such as topology.kubernetes.io/zone",
                );
            }
            if !UNSATISFIABLE.contains(&t.when_unsatisfiable.as_str()) {
                self.err(
                    format!("{at}.whenUnsatisfiable"),
                    "must be DoNotSchedule or ScheduleAnyway",
                );
            }
        }
        let required = p
            .affinity
            .as_ref()
            .and_then(|a| a.node_affinity.as_ref())
            .and_then(|n| {
                n.required_during_scheduling_ignored_during_execution
                    .as_ref()
            });
        for (i, term) in required
            .iter()
            .flat_map(|r| r.node_selector_terms.iter())
            .enumerate()
        {
            for (j, m) in term.match_expressions.iter().flatten().enumerate() {
                if !NODE_OPERATORS.contains(&m.operator.as_str()) {
                    self.err(
                        format!("{path}.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[{i}].matchExpressions[{j}].operator"),
                        "must be In, NotIn, Exists, DoesNotExist, Gt or Lt",
                    );
                }
            }
        }
    }
}

/// A component's own `pod`.
fn own_pod(spec: &ObservabilityStackSpec, c: Component) -> Option<&PodOverrides> {
    match c {
        Component::Collector => spec.collector.pod.as_ref(),
        Component::NodeAgent => spec.node_agent.pod.as_ref(),
        Component::ClusterCollector => spec.cluster_collector.pod.as_ref(),
        Component::Prometheus => spec.prometheus.pod.as_ref(),
        Component::Tempo => spec.tempo.pod.as_ref(),
        Component::Loki => spec.loki.pod.as_ref(),
        Component::Grafana => spec.grafana.pod.as_ref(),
    }
}

/// An environment variable name the API server takes (`C_IDENTIFIER` rules
/// relaxed to the portable set: letters, digits, `_`, `-`, `.`).
fn is_env_name(s: &str) -> bool {
    !s.is_empty()
        && !s.starts_with(|c: char| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// `host[:port][/path]`: no scheme, no tag, no digest, no trailing slash.
fn is_registry(s: &str) -> bool {
    let (host, path) = match s.split_once('/') {
        Some((host, path)) => (host, Some(path)),
        None => (s, None),
    };
    let (name, port) = host.split_once(':').unwrap_or((host, ""));
    let host_ok = !name.is_empty()
        && name
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'));
    let port_ok = port.is_empty() || (port.len() <= 5 && port.chars().all(|c| c.is_ascii_digit()));
    let path_ok = path.is_none_or(|path| {
        path.split('/').all(|seg| {
            !seg.is_empty()
                && seg.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.')
                })
        })
    });
    host_ok && port_ok && path_ok
}

/// An IPv4 or IPv6 network in CIDR notation, its prefix within the address.
fn is_cidr(s: &str) -> bool {
    let Some((addr, prefix)) = s.split_once('/') else {
        return false;
    };
    let Ok(prefix) = prefix.parse::<u8>() else {
        return false;
    };
    match addr.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => prefix <= 32,
        Ok(std::net::IpAddr::V6(_)) => prefix <= 128,
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registries() {
        for ok in [
            "registry.example.com",
            "registry.example.com:5000/mirror",
            "localhost/a/b",
        ] {
            assert!(is_registry(ok), "{ok}");
        }
        for bad in [
            "",
            "https://r.example.com",
            "r.example.com/",
            "r.example.com/a:1.0",
            "r@sha256",
            "r.example.com:x",
        ] {
            assert!(!is_registry(bad), "{bad}");
        }
    }

    #[test]
    fn cidrs() {
        for ok in ["203.0.113.0/24", "0.0.0.0/0", "2001:db8::/32", "::/0"] {
            assert!(is_cidr(ok), "{ok}");
        }
        for bad in [
            "203.0.113.0",
            "203.0.113.0/33",
            "2001:db8::/129",
            "a/8",
            "10.0.0.0/x",
            "",
        ] {
            assert!(!is_cidr(bad), "{bad}");
        }
    }
}
