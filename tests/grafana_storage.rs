//! Grafana's data claim as built (`spec.grafana.storage`): a claim
//! `<stack>-grafana-data` of the asked size and the stack's StorageClass,
//! labelled as the stack's child (so the finalizer deletes it under
//! `deletionPolicy: Delete`) and owned by no one (so it outlives the stack
//! otherwise, and pruning never touches it), mounted at Grafana's data path in
//! place of the emptyDir; none without the field.

mod common;

use sextant::build::build;
use sextant::model::Capabilities;
use sextant::validate::{Dereferenced, validate};

#[test]
fn storage_gives_grafana_a_claim_of_its_own() {
    let stack = validate(
        &common::with_spec(
            "storage: {storageClassName: fast-ssd}\ngrafana:\n  storage: {size: 5Gi}",
        ),
        &Dereferenced::offline(),
    )
    .unwrap();
    let r = build(&stack, &Capabilities::current());
    assert_eq!(r.persistent_volume_claims.len(), 1);
    let claim = &r.persistent_volume_claims[0];
    assert_eq!(claim.metadata.name.as_deref(), Some("s-grafana-data"));
    assert_eq!(claim.metadata.namespace.as_deref(), Some("ns"));
    assert_eq!(claim.metadata.owner_references, None);
    let labels = claim.metadata.labels.as_ref().unwrap();
    assert_eq!(labels["app.kubernetes.io/instance"], "s");
    assert_eq!(labels["app.kubernetes.io/name"], "grafana");
    let spec = claim.spec.as_ref().unwrap();
    assert_eq!(spec.storage_class_name.as_deref(), Some("fast-ssd"));
    assert_eq!(
        spec.access_modes.as_deref(),
        Some(&["ReadWriteOnce".to_string()][..])
    );
    assert_eq!(
        spec.resources.as_ref().unwrap().requests.as_ref().unwrap()["storage"].0,
        "5Gi"
    );

    let pod = common::pod_of(&r, "s-grafana");
    let data = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == "data")
        .unwrap();
    assert_eq!(
        data.persistent_volume_claim
            .as_ref()
            .map(|c| c.claim_name.as_str()),
        Some("s-grafana-data")
    );
    assert!(data.empty_dir.is_none());
    let mount = pod.containers[0]
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "data")
        .unwrap();
    assert_eq!(mount.mount_path, "/var/lib/grafana");
    // Grafana's UID owns what the volume holds (fsGroup), and a rolling
    // update never runs two pods on one ReadWriteOnce claim.
    assert_eq!(pod.security_context.as_ref().unwrap().fs_group, Some(472));
    let strategy = r
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some("s-grafana"))
        .unwrap()
        .spec
        .as_ref()
        .unwrap()
        .strategy
        .clone()
        .unwrap();
    assert_eq!(strategy.type_.as_deref(), Some("Recreate"));

    let plain = build(
        &validate(&common::with_spec("{}"), &Dereferenced::offline()).unwrap(),
        &Capabilities::current(),
    );
    assert!(plain.persistent_volume_claims.is_empty());
}
