//! Installing sextant's CRDs from `<repo>/crds/*.yaml` into the test cluster: create or
//! replace (never server-side apply: Kubernetes 1.20 rejects `x-kubernetes-validations`
//! there), then wait until each is Established and served. Safe to call from many tests
//! at once: it converges on the file's content whoever gets there first.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::PostParams;
use kube::core::GroupVersionKind;
use kube::{Api, Client, ResourceExt};
use serde::Deserialize;

use crate::cluster::repo_root;
use crate::wait::poll;

/// Annotation holding a hash of the manifest a CRD was installed from; a CRD whose hash
/// matches the file is left alone, so parallel tests do not replace it in turn.
const HASH_ANNOTATION: &str = "e2e.sextant.dev/manifest-hash";
/// How long a CRD may take to become Established and served.
const ESTABLISH_TIMEOUT: Duration = Duration::from_secs(60);
/// How many create/replace rounds are tried when other tests race us.
const ATTEMPTS: u32 = 5;

/// The directory holding the generated CRD manifests.
pub fn crd_dir() -> PathBuf {
    repo_root().join("crds")
}

/// Reads every CRD in `dir` (`*.yaml` / `*.yml`, multi-document), sorted by file name.
pub fn read_crds(dir: &Path) -> anyhow::Result<Vec<CustomResourceDefinition>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut crds = Vec::new();
    for file in &files {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        for document in serde_yaml_ng::Deserializer::from_str(&text) {
            let value = serde_json::Value::deserialize(document)
                .with_context(|| format!("parsing {}", file.display()))?;
            if value.is_null()
                || value.get("kind").and_then(|k| k.as_str()) != Some("CustomResourceDefinition")
            {
                continue;
            }
            let crd: CustomResourceDefinition = serde_json::from_value(value)
                .with_context(|| format!("{} holds an invalid CRD", file.display()))?;
            crds.push(crd);
        }
    }
    anyhow::ensure!(
        !crds.is_empty(),
        "no CustomResourceDefinition in {}/*.yaml: generate the CRDs first",
        dir.display()
    );
    Ok(crds)
}

/// Installs every CRD of `<repo>/crds` and waits until each is Established and its
/// kinds are served. Returns the CRD names.
pub async fn install_crds(client: &Client) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for crd in read_crds(&crd_dir())? {
        names.push(install_crd(client, crd).await?);
    }
    Ok(names)
}

/// Installs the stand-ins of other projects' CRDs under `e2e/testdata/`
/// (prometheus-operator's ServiceMonitor and PodMonitor, the Gateway API's
/// HTTPRoute, cert-manager's Certificate) and waits until they are served.
/// An operator uses them only if they were served when it started.
pub async fn install_monitoring_crds(client: &Client) -> anyhow::Result<Vec<String>> {
    let mut names = Vec::new();
    for crd in read_crds(&repo_root().join("e2e").join("testdata"))? {
        names.push(install_crd(client, crd).await?);
    }
    Ok(names)
}

/// Creates or replaces one CRD, then waits until it is Established and served.
pub async fn install_crd(
    client: &Client,
    mut crd: CustomResourceDefinition,
) -> anyhow::Result<String> {
    let name = crd.name_any();
    let hash = manifest_hash(&crd)?;
    crd.metadata.resource_version = None;
    crd.status = None;
    crd.annotations_mut()
        .insert(HASH_ANNOTATION.to_owned(), hash.clone());
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let mut installed = false;
    for _ in 0..ATTEMPTS {
        match api.get_opt(&name).await? {
            Some(existing) if existing.annotations().get(HASH_ANNOTATION) == Some(&hash) => {
                installed = true;
            }
            Some(existing) => {
                crd.metadata.resource_version = existing.resource_version();
                installed =
                    succeeded_or_raced(api.replace(&name, &PostParams::default(), &crd).await)
                        .with_context(|| format!("replacing CRD {name}"))?;
            }
            None => {
                crd.metadata.resource_version = None;
                installed = succeeded_or_raced(api.create(&PostParams::default(), &crd).await)
                    .with_context(|| format!("creating CRD {name}"))?;
            }
        }
        if installed {
            break;
        }
    }
    anyhow::ensure!(
        installed,
        "CRD {name} kept changing under us; gave up after {ATTEMPTS} attempts"
    );
    wait_served(client, &crd).await?;
    Ok(name)
}

/// `Ok(true)` on success, `Ok(false)` when another writer got there first (retry).
fn succeeded_or_raced<T>(result: Result<T, kube::Error>) -> Result<bool, kube::Error> {
    match result {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.is_conflict() || s.is_already_exists() => Ok(false),
        Err(e) => Err(e),
    }
}

/// A stable hash of the CRD as read from the file (FNV-1a over its JSON).
fn manifest_hash(crd: &CustomResourceDefinition) -> anyhow::Result<String> {
    let bytes = serde_json::to_vec(crd)?;
    let hash = bytes.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    });
    Ok(format!("{hash:016x}"))
}

/// Waits until the CRD is Established and every served version resolves in discovery.
async fn wait_served(client: &Client, crd: &CustomResourceDefinition) -> anyhow::Result<()> {
    let name = crd.name_any();
    let api: Api<CustomResourceDefinition> = Api::all(client.clone());
    let group = crd.spec.group.clone();
    let kind = crd.spec.names.kind.clone();
    let versions: Vec<String> = crd
        .spec
        .versions
        .iter()
        .filter(|v| v.served)
        .map(|v| v.name.clone())
        .collect();
    poll(ESTABLISH_TIMEOUT, async || {
        let current = api.get(&name).await?;
        let established = current
            .status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|cs| {
                cs.iter()
                    .any(|c| c.type_ == "Established" && c.status == "True")
            });
        if !established {
            return Ok(None);
        }
        for version in &versions {
            let gvk = GroupVersionKind::gvk(&group, version, &kind);
            kube::discovery::pinned_kind(client, &gvk).await?;
        }
        Ok(Some(()))
    })
    .await
    .map_err(|t| anyhow::anyhow!("CRD {name} did not become Established and served: {t}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_repository_crds_parse_as_crds() {
        let crds = read_crds(&crd_dir()).expect("crds/ holds CRDs");
        assert!(crds.iter().all(|c| !c.spec.versions.is_empty()));
    }

    #[test]
    fn the_manifest_hash_is_stable() {
        let crds = read_crds(&crd_dir()).expect("crds/ holds CRDs");
        let first = manifest_hash(&crds[0]).expect("hash");
        assert_eq!(first, manifest_hash(&crds[0]).expect("hash"));
    }
}
