//! Pure scheduling of the simulated kubelet: which of its simulated nodes an
//! unbound pod may run on. The local control plane has no kube-scheduler, so the
//! simulated kubelet binds pods itself; with more than one node (one of them
//! tainted, as GPU nodes are) it must honour what a pod says about nodes, or a
//! DaemonSet's pods and a pod's tolerations would prove nothing.
//!
//! What is honoured, with the semantics the core/v1 API documents for these
//! fields (`NodeSelectorTerm`, `NodeSelectorRequirement`, `Toleration`):
//! `spec.nodeSelector`; the required terms of `nodeAffinity` (terms ORed, an
//! empty term matching nothing, their `matchExpressions` on labels and
//! `matchFields` on `metadata.name` ANDed; `In`, `NotIn`, `Exists`,
//! `DoesNotExist`, `Gt`, `Lt`); and taints with effect `NoSchedule` or
//! `NoExecute`, each of which some toleration must match (`PreferNoSchedule`
//! never filters). Not simulated: resources (every node is huge), ports,
//! volume zones, inter-pod affinity and topology spread.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Pod, Taint, Toleration};

/// One simulated node: its name, labels and taints.
#[derive(Debug, Clone, PartialEq)]
pub struct SimNode {
    /// The Node's name.
    pub name: String,
    /// Its labels, as registered.
    pub labels: BTreeMap<String, String>,
    /// Its taints, as registered.
    pub taints: Vec<Taint>,
}

impl SimNode {
    /// An untainted node with the labels every simulated node carries.
    pub fn new(name: &str) -> Self {
        let labels = [
            (super::node::SIMULATED_LABEL, "true"),
            ("kubernetes.io/hostname", name),
            ("kubernetes.io/os", "linux"),
            ("kubernetes.io/arch", "amd64"),
            ("node-role.kubernetes.io/worker", ""),
        ];
        Self {
            name: name.to_owned(),
            labels: labels
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            taints: Vec::new(),
        }
    }
}

/// Parses a `--taint` flag: `NODE:KEY[=VALUE]:EFFECT`, such as
/// `sextant-sim-gpu:nvidia.com/gpu=present:NoSchedule`.
pub fn parse_taint(flag: &str) -> Result<(String, Taint), String> {
    let bad = || format!("--taint {flag:?}: want NODE:KEY[=VALUE]:EFFECT");
    let (node, rest) = flag.split_once(':').ok_or_else(bad)?;
    let (key_value, effect) = rest.rsplit_once(':').ok_or_else(bad)?;
    let (key, value) = match key_value.split_once('=') {
        Some((k, v)) => (k, Some(v.to_owned())),
        None => (key_value, None),
    };
    if node.is_empty() || key.is_empty() {
        return Err(bad());
    }
    if !matches!(effect, "NoSchedule" | "PreferNoSchedule" | "NoExecute") {
        return Err(format!(
            "--taint {flag:?}: effect must be NoSchedule, PreferNoSchedule or NoExecute"
        ));
    }
    Ok((
        node.to_owned(),
        Taint {
            key: key.to_owned(),
            value,
            effect: effect.to_owned(),
            time_added: None,
        },
    ))
}

/// Parses `--label NODE:KEY=VALUE` into the node's name and the label.
pub fn parse_label(flag: &str) -> Result<(String, (String, String)), String> {
    let bad = || format!("--label {flag:?}: want NODE:KEY=VALUE");
    let (node, label) = flag.split_once(':').ok_or_else(bad)?;
    let (key, value) = label.split_once('=').ok_or_else(bad)?;
    if node.is_empty() || key.is_empty() {
        return Err(bad());
    }
    Ok((node.to_owned(), (key.to_owned(), value.to_owned())))
}

/// The first node `pod` fits, in the order given, or why none does (one reason
/// per node, as the scheduler's `Unschedulable` message lists them).
pub fn choose<'a>(pod: &Pod, nodes: &'a [SimNode]) -> Result<&'a SimNode, String> {
    let mut reasons = Vec::new();
    for node in nodes {
        match fits(pod, node) {
            Ok(()) => return Ok(node),
            Err(why) => reasons.push(format!("{}: {why}", node.name)),
        }
    }
    Err(format!(
        "0/{} nodes are available: {}",
        nodes.len(),
        reasons.join("; ")
    ))
}

/// Whether `pod` may run on `node`, or the first reason it may not.
pub fn fits(pod: &Pod, node: &SimNode) -> Result<(), String> {
    let Some(spec) = pod.spec.as_ref() else {
        return Err("the pod has no spec".into());
    };
    for (k, v) in spec.node_selector.iter().flatten() {
        if node.labels.get(k) != Some(v) {
            return Err(format!("node(s) didn't match node selector {k}={v}"));
        }
    }
    let required = spec
        .affinity
        .as_ref()
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|a| {
            a.required_during_scheduling_ignored_during_execution
                .as_ref()
        });
    if let Some(selector) = required {
        // Terms are ORed (so none matches no node), and "a null or empty node
        // selector term matches no objects" (core/v1 `NodeSelectorTerm`).
        let any = selector.node_selector_terms.iter().any(|term| {
            let exprs = term.match_expressions.as_deref().unwrap_or_default();
            let fields = term.match_fields.as_deref().unwrap_or_default();
            !(exprs.is_empty() && fields.is_empty())
                && exprs
                    .iter()
                    .all(|r| requirement(r, node.labels.get(&r.key)))
                && fields.iter().all(|r| {
                    let value = (r.key == "metadata.name").then_some(&node.name);
                    requirement(r, value)
                })
        });
        if !any {
            return Err("node(s) didn't match the pod's node affinity".into());
        }
    }
    let tolerations = spec.tolerations.as_deref().unwrap_or_default();
    for taint in &node.taints {
        let filters = matches!(taint.effect.as_str(), "NoSchedule" | "NoExecute");
        if filters && !tolerations.iter().any(|t| tolerates(t, taint)) {
            let value = taint
                .value
                .as_deref()
                .map(|v| format!("={v}"))
                .unwrap_or_default();
            return Err(format!(
                "node(s) had taint {{{}{value}: {}}}, that the pod didn't tolerate",
                taint.key, taint.effect
            ));
        }
    }
    Ok(())
}

/// One node-selector requirement against the node's value for its key.
fn requirement(r: &NodeSelectorRequirement, value: Option<&String>) -> bool {
    let values = r.values.as_deref().unwrap_or_default();
    let number = |s: &str| s.parse::<i64>().ok();
    match r.operator.as_str() {
        "In" => value.is_some_and(|v| values.contains(v)),
        "NotIn" => value.is_none_or(|v| !values.contains(v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        // Exactly one integer value; a label that is not an integer does not match.
        "Gt" | "Lt" => match (value.and_then(|v| number(v)), values) {
            (Some(have), [want]) => number(want).is_some_and(|want| {
                if r.operator == "Gt" {
                    have > want
                } else {
                    have < want
                }
            }),
            _ => false,
        },
        _ => false,
    }
}

/// Whether a toleration matches a taint, as `Toleration.ToleratesTaint` of
/// k8s.io/api core/v1 decides it: a set effect must be equal, a set key must be
/// equal, then `Exists` matches any value and `Equal` (or no operator) an equal
/// one. (An empty key with `Equal` never gets here: validation refuses it.)
fn tolerates(t: &Toleration, taint: &Taint) -> bool {
    if t.effect
        .as_deref()
        .is_some_and(|e| !e.is_empty() && e != taint.effect)
    {
        return false;
    }
    if t.key
        .as_deref()
        .is_some_and(|k| !k.is_empty() && k != taint.key)
    {
        return false;
    }
    match t.operator.as_deref() {
        None | Some("" | "Equal") => {
            t.value.as_deref().unwrap_or_default() == taint.value.as_deref().unwrap_or_default()
        }
        Some("Exists") => true,
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(spec: &str) -> Pod {
        serde_yaml_ng::from_str(&format!("metadata: {{name: p}}\nspec: {spec}"))
            .expect("test pod parses")
    }

    fn nodes() -> Vec<SimNode> {
        let mut gpu = SimNode::new("gpu");
        gpu.taints.push(
            parse_taint("gpu:nvidia.com/gpu=present:NoSchedule")
                .unwrap()
                .1,
        );
        gpu.labels.insert("accelerator".into(), "h100".into());
        vec![SimNode::new("plain"), gpu]
    }

    fn chosen(spec: &str) -> Result<String, String> {
        choose(&pod(spec), &nodes()).map(|n| n.name.clone())
    }

    #[test]
    fn a_pod_without_tolerations_avoids_the_tainted_node() {
        assert_eq!(chosen("{containers: []}"), Ok("plain".into()));
        let gpu_only = "{nodeSelector: {accelerator: h100}, containers: []}";
        let err = chosen(gpu_only).unwrap_err();
        assert!(err.contains("0/2 nodes are available"), "{err}");
        assert!(
            err.contains("plain: node(s) didn't match node selector"),
            "{err}"
        );
        assert!(
            err.contains("gpu: node(s) had taint {nvidia.com/gpu=present: NoSchedule}"),
            "{err}"
        );
    }

    #[test]
    fn tolerations_match_as_the_api_defines() {
        let with = |toleration: &str| {
            chosen(&format!(
                "{{nodeSelector: {{accelerator: h100}}, tolerations: [{toleration}], containers: []}}"
            ))
        };
        let gpu = Ok("gpu".to_string());
        assert_eq!(with("{key: nvidia.com/gpu, operator: Exists}"), gpu);
        assert_eq!(
            with("{key: nvidia.com/gpu, value: present, effect: NoSchedule}"),
            gpu
        );
        assert_eq!(with("{operator: Exists}"), gpu);
        assert_eq!(
            with("{key: nvidia.com/gpu, operator: Exists, effect: NoSchedule}"),
            gpu
        );
        assert!(with("{key: nvidia.com/gpu, value: absent}").is_err());
        assert!(with("{key: nvidia.com/gpu, operator: Exists, effect: NoExecute}").is_err());
        assert!(with("{key: other, operator: Exists}").is_err());
        assert!(with("{key: nvidia.com/gpu, operator: Sometimes}").is_err());
    }

    #[test]
    fn a_daemonset_pod_goes_only_to_its_node() {
        // What the DaemonSet controller of 1.20 writes into each pod.
        let for_node = |n: &str| {
            format!(
                "{{affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchFields: [{{key: metadata.name, operator: In, values: [{n}]}}]}}]}}}}}}, tolerations: [{{key: nvidia.com/gpu, operator: Exists}}], containers: []}}"
            )
        };
        assert_eq!(chosen(&for_node("gpu")), Ok("gpu".into()));
        assert_eq!(chosen(&for_node("plain")), Ok("plain".into()));
        assert!(chosen(&for_node("elsewhere")).is_err());
    }

    #[test]
    fn affinity_operators() {
        let expr = |e: &str| {
            chosen(&format!(
                "{{affinity: {{nodeAffinity: {{requiredDuringSchedulingIgnoredDuringExecution: {{nodeSelectorTerms: [{{matchExpressions: [{e}]}}]}}}}}}, containers: []}}"
            ))
        };
        assert_eq!(
            expr("{key: kubernetes.io/os, operator: In, values: [linux]}"),
            Ok("plain".into())
        );
        assert!(expr("{key: kubernetes.io/os, operator: NotIn, values: [linux]}").is_err());
        assert_eq!(
            expr("{key: zone, operator: DoesNotExist}"),
            Ok("plain".into())
        );
        assert!(expr("{key: zone, operator: Exists}").is_err());
        assert!(expr("{key: kubernetes.io/os, operator: Gt, values: ['1']}").is_err());
        assert!(expr("{key: kubernetes.io/os, operator: Sideways, values: [x]}").is_err());
        // No terms, or a term with no requirements, matches no node.
        assert!(chosen("{affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: []}}}, containers: []}").is_err());
        assert!(chosen("{affinity: {nodeAffinity: {requiredDuringSchedulingIgnoredDuringExecution: {nodeSelectorTerms: [{}]}}}, containers: []}").is_err());
    }

    #[test]
    fn taint_flags_parse_or_say_why_not() {
        let (node, t) = parse_taint("n1:example.com/k=v:NoExecute").unwrap();
        assert_eq!(
            (
                node.as_str(),
                t.key.as_str(),
                t.value.as_deref(),
                t.effect.as_str()
            ),
            ("n1", "example.com/k", Some("v"), "NoExecute")
        );
        let (_, t) = parse_taint("n1:dedicated:NoSchedule").unwrap();
        assert_eq!(t.value, None);
        for bad in [
            "n1",
            "n1:k",
            ":k:NoSchedule",
            "n1:k:Sometimes",
            "n1::NoSchedule",
        ] {
            assert!(parse_taint(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn label_flags_parse_and_a_labelled_node_meets_its_selector() {
        let (node, (k, v)) = parse_label("n1:node-role.example.com/observability=true").unwrap();
        assert_eq!(
            (node.as_str(), k.as_str(), v.as_str()),
            ("n1", "node-role.example.com/observability", "true")
        );
        assert_eq!(parse_label("n1:empty=").unwrap().1.1, "");
        for bad in ["n1", "n1:k", ":k=v", "n1:=v"] {
            assert!(parse_label(bad).is_err(), "{bad}");
        }
        let plain = SimNode::new("plain");
        let mut labelled = SimNode::new("labelled");
        labelled.labels.insert(k, v);
        let pod: Pod = serde_yaml_ng::from_str(
            "spec: {nodeSelector: {node-role.example.com/observability: 'true'}, containers: []}",
        )
        .unwrap();
        let nodes = [plain, labelled];
        assert_eq!(
            choose(&pod, &nodes).map(|n| n.name.as_str()),
            Ok("labelled")
        );
    }

    #[test]
    fn prefer_no_schedule_never_filters() {
        let mut soft = SimNode::new("soft");
        soft.taints
            .push(parse_taint("soft:k:PreferNoSchedule").unwrap().1);
        assert_eq!(fits(&pod("{containers: []}"), &soft), Ok(()));
    }
}
