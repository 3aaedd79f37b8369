//! What Grafana really finds in its pod: the rendered Grafana pod's volumes are laid
//! out on disk exactly as the kubelet writes them, then walked with the rules of
//! Grafana's own provisioning readers. The simulated kubelet of the e2e tests mounts
//! no volume, so this is the only place the layout meets Grafana's rules.
//!
//! The kubelet's layout (kubernetes `pkg/volume/util/atomic_writer.go`; the same for
//! ConfigMap, Secret and projected volumes): the payload is written into a hidden
//! directory `..<timestamp>`, the symlink `..data` points at it, and every top-level
//! entry of the payload becomes a symlink `<entry> -> ..data/<entry>`; an item path
//! `a/b.json` therefore shows as a symlinked *directory* `a`. A `subPath` mount is
//! a bind mount of the resolved file: a regular file in the container.
//!
//! Grafana's dashboard file reader (grafana
//! `pkg/services/provisioning/dashboards/file_reader.go` in a stored copy, not verified at v12.4.12): `filepath.Walk`
//! from the provider's path (symlinks in the path itself resolved first), which uses
//! `Lstat` and so never enters a symlinked directory; a directory whose name starts
//! with `.` is skipped (`filepath.SkipDir`); every non-directory entry whose name
//! ends in `.json` is a dashboard, read through its symlink; with
//! `foldersFromFilesStructure` the folder is the name of the file's directory, and
//! a file directly in the provider's path goes to the General folder.
//!
//! What this does not prove: that Grafana then accepts each dashboard's JSON (see
//! tests/dashboards.rs), or anything the kubelet does beyond the layout.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapProjection, KeyToPath, PodSpec, ProjectedVolumeSource, Volume, VolumeMount,
    VolumeProjection,
};
use serde_json::Value;
use sextant::build::build;
use sextant::model::Capabilities;
use sextant::model::DashboardFile;
use sextant::model::ValidatedStack;
use sextant::render::grafana::{DASHBOARDS_DIR, FOLDER};
use sextant::validate::{Dereferenced, validate};

/// The timestamped directory name the atomic writer would create (any `..` name).
const TS_DIR: &str = "..2026_12_03_07_30_00.123456789";

/// Lays out one volume's payload (path -> bytes) at `dir` as the atomic writer does.
fn atomic_write(dir: &Path, payload: &BTreeMap<String, Vec<u8>>) {
    fs::create_dir_all(dir.join(TS_DIR)).unwrap();
    for (path, data) in payload {
        assert!(
            !path.starts_with(".."),
            "the kubelet refuses item path {path}"
        );
        let file = dir.join(TS_DIR).join(path);
        fs::create_dir_all(file.parent().unwrap()).unwrap();
        fs::write(file, data).unwrap();
    }
    symlink(TS_DIR, dir.join("..data")).unwrap();
    let top: BTreeSet<&str> = payload
        .keys()
        .map(|p| p.split('/').next().unwrap())
        .collect();
    for entry in top {
        symlink(format!("..data/{entry}"), dir.join(entry)).unwrap();
    }
}

/// The payload of a ConfigMap, as the kubelet projects it: every key, or only the
/// listed items at their paths.
fn config_map_payload(
    cm: &ConfigMap,
    items: Option<&Vec<KeyToPath>>,
    out: &mut BTreeMap<String, Vec<u8>>,
) {
    let data = cm.data.clone().unwrap_or_default();
    match items {
        None => {
            for (k, v) in data {
                out.insert(k, v.into_bytes());
            }
        }
        Some(items) => {
            for item in items {
                let v = data
                    .get(&item.key)
                    .unwrap_or_else(|| panic!("item {} not in the ConfigMap", item.key));
                out.insert(item.path.clone(), v.clone().into_bytes());
            }
        }
    }
}

/// The payload of a volume, or `None` for a volume whose content is not of interest
/// (Secrets get a placeholder per key; emptyDirs are empty).
fn payload(volume: &Volume, maps: &BTreeMap<String, ConfigMap>) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let cm = |name: &str| {
        maps.get(name).unwrap_or_else(|| {
            panic!(
                "volume {} names ConfigMap {name}, not rendered",
                volume.name
            )
        })
    };
    if let Some(src) = &volume.config_map {
        config_map_payload(cm(&src.name), src.items.as_ref(), &mut out);
    }
    if let Some(p) = &volume.projected {
        for source in p.sources.iter().flatten() {
            if let Some(src) = &source.config_map {
                config_map_payload(cm(&src.name), src.items.as_ref(), &mut out);
            }
        }
    }
    if let Some(s) = &volume.secret {
        for item in s.items.iter().flatten() {
            out.insert(item.path.clone(), b"secret".to_vec());
        }
    }
    out
}

/// Lays out the first container of `pod` under `root` (the container's `/`), mount
/// by mount, parents before the mounts nested in them.
fn kubelet_layout(root: &Path, pod: &PodSpec, maps: &BTreeMap<String, ConfigMap>) {
    let volumes: BTreeMap<&str, &Volume> = pod
        .volumes
        .iter()
        .flatten()
        .map(|v| (v.name.as_str(), v))
        .collect();
    let mut mounts: Vec<&VolumeMount> = pod.containers[0].volume_mounts.iter().flatten().collect();
    mounts.sort_by_key(|m| m.mount_path.len());
    for m in mounts {
        let volume = volumes
            .get(m.name.as_str())
            .unwrap_or_else(|| panic!("mount {} names no volume", m.mount_path));
        let target = root.join(m.mount_path.trim_start_matches('/'));
        let payload = payload(volume, maps);
        match m.sub_path.as_deref() {
            Some(sub) => {
                // A bind mount of the resolved file: a regular file.
                let data = payload
                    .get(sub)
                    .unwrap_or_else(|| panic!("subPath {sub} not in volume {}", volume.name));
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                fs::write(&target, data).unwrap();
            }
            None => {
                fs::create_dir_all(&target).unwrap();
                if volume.empty_dir.is_none() {
                    atomic_write(&target, &payload);
                }
            }
        }
    }
}

/// One dashboard Grafana loads: its folder ("" for General), file and JSON.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Loaded {
    folder: String,
    file: String,
    json: String,
}

/// Walks `path` as Grafana's dashboard file reader does (see the module doc).
fn grafana_walk(path: &Path) -> Vec<Loaded> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<Loaded>) {
        // filepath.Walk visits entries in lexical order, with Lstat.
        let mut entries: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name = e.file_name().to_string_lossy().to_string();
            let meta = fs::symlink_metadata(e.path()).unwrap();
            if meta.is_dir() {
                if !name.starts_with('.') {
                    walk(root, &e.path(), out);
                }
                continue;
            }
            if !name.ends_with(".json") {
                continue;
            }
            // Read through the symlink, as resolveSymlink and os.ReadFile do.
            let json = fs::read_to_string(e.path()).unwrap();
            let folder = if dir == root {
                String::new()
            } else {
                dir.file_name().unwrap().to_string_lossy().to_string()
            };
            out.push(Loaded {
                folder,
                file: name,
                json,
            });
        }
    }
    let root = fs::canonicalize(path).unwrap();
    let mut out = Vec::new();
    walk(&root, &root, &mut out);
    out.sort();
    out
}

fn grafana_pod(stack: &ValidatedStack) -> (PodSpec, BTreeMap<String, ConfigMap>) {
    let resources = build(stack, &Capabilities::current());
    let deployment: &Deployment = resources
        .deployments
        .iter()
        .find(|d| d.metadata.name.as_deref() == Some(&format!("{}-grafana", stack.name)))
        .expect("a Grafana Deployment");
    let pod = deployment
        .spec
        .as_ref()
        .unwrap()
        .template
        .spec
        .clone()
        .unwrap();
    let maps = resources
        .config_maps
        .iter()
        .map(|c| (c.metadata.name.clone().unwrap(), c.clone()))
        .collect();
    (pod, maps)
}

/// What the stack means Grafana to load: every dashboard in its folder.
fn wanted(stack: &ValidatedStack) -> Vec<Loaded> {
    let mut out: Vec<Loaded> =
        sextant::build::grafana::dashboard_files(stack, &sextant::model::Capabilities::current())
            .into_iter()
            .map(|f| Loaded {
                folder: f.folder,
                file: f.key,
                json: f.json,
            })
            .collect();
    out.sort();
    out
}

/// The stacks to check: every sample, plus dashboards in several folders, from
/// inline JSON and from ConfigMaps, and enough of them to need several ConfigMaps.
fn stacks() -> Vec<(String, ValidatedStack)> {
    let mut out: Vec<_> = common::samples()
        .into_iter()
        .map(|(n, s)| (n, validate(&s, &Dereferenced::offline()).unwrap()))
        .collect();
    let big = "x".repeat(200 * 1024);
    // Five of 200 KiB per folder: more than one ConfigMap holds (900 KiB).
    let inline: Vec<String> = (0..10)
        .map(|i| format!("{{name: team-{i}, folder: Team {}, json: '{{\"title\": \"t{i}\", \"description\": \"{big}\"}}'}}", i % 2))
        .collect();
    let mut many = validate(
        &common::with_spec(&format!(
            "grafana: {{dashboards: {{inline: [{}]}}}}",
            inline.join(", ")
        )),
        &Dereferenced::offline(),
    )
    .unwrap();
    many.config_map_dashboards = vec![
        DashboardFile {
            key: "cm-agents-latency.json".into(),
            folder: "Agents".into(),
            json: r#"{"title": "Agent latency"}"#.into(),
        },
        DashboardFile {
            key: "cm-core-overview.json".into(),
            folder: FOLDER.into(),
            json: r#"{"title": "Core"}"#.into(),
        },
    ];
    out.push(("folders".into(), many));
    out
}

#[test]
fn grafana_finds_every_dashboard_in_its_folder() {
    for (name, stack) in stacks() {
        let (pod, maps) = grafana_pod(&stack);
        let root = tempfile::tempdir().unwrap();
        kubelet_layout(root.path(), &pod, &maps);

        // The provider Grafana reads points at the dashboards path, with folders
        // from the file structure.
        let providers = root
            .path()
            .join("etc/grafana/provisioning/dashboards/dashboards.yaml");
        let providers: Value =
            serde_yaml_ng::from_str(&fs::read_to_string(&providers).unwrap()).unwrap();
        let options = &providers["providers"][0]["options"];
        assert_eq!(options["path"], DASHBOARDS_DIR, "{name}");
        assert_eq!(options["foldersFromFilesStructure"], true, "{name}");

        let loaded = grafana_walk(&root.path().join(DASHBOARDS_DIR.trim_start_matches('/')));
        let want = wanted(&stack);
        assert!(!want.is_empty(), "{name}: nothing to provision");
        assert_eq!(
            loaded
                .iter()
                .map(|l| (&l.folder, &l.file))
                .collect::<Vec<_>>(),
            want.iter()
                .map(|l| (&l.folder, &l.file))
                .collect::<Vec<_>>(),
            "{name}: Grafana loads other dashboards than the stack provisions"
        );
        assert_eq!(loaded, want, "{name}: a dashboard's content differs");
        if name == "folders" {
            let folders: BTreeSet<&str> = loaded.iter().map(|l| l.folder.as_str()).collect();
            assert_eq!(
                folders,
                BTreeSet::from(["Agents", "Team 0", "Team 1", FOLDER])
            );
            let dashboard_maps = maps
                .keys()
                .filter(|k| k.contains("-grafana-dashboards-"))
                .count();
            assert!(dashboard_maps >= 5, "{dashboard_maps} dashboard ConfigMaps");
        }
    }
}

/// The other provisioning files are where Grafana reads them, as regular files:
/// datasources and dashboard providers, and the alerting files (which Grafana's
/// alerting config reader takes from a directory listing).
#[test]
fn provisioning_files_are_regular_files_where_grafana_reads_them() {
    for (name, stack) in stacks() {
        let (pod, maps) = grafana_pod(&stack);
        let root = tempfile::tempdir().unwrap();
        kubelet_layout(root.path(), &pod, &maps);
        let prov = root.path().join("etc/grafana/provisioning");
        for file in ["datasources/datasources.yaml", "dashboards/dashboards.yaml"] {
            let meta = fs::symlink_metadata(prov.join(file)).unwrap();
            assert!(meta.is_file(), "{name}: {file}");
        }
        let alerting = prov.join("alerting");
        let listed: Vec<String> = fs::read_dir(&alerting)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        for file in &listed {
            assert!(
                file.ends_with(".yaml") || file.ends_with(".json"),
                "{name}: alerting/{file} is not a provisioning file"
            );
            assert!(fs::symlink_metadata(alerting.join(file)).unwrap().is_file());
        }
        if stack.spec.prometheus.enabled {
            assert!(
                listed.contains(&"alert-rules.json".to_string()),
                "{name}: {listed:?}"
            );
        }
    }
}

/// The layout of the first release — one projected volume with item paths
/// `<folder>/<file>.json` — makes every folder a symlinked directory: Grafana loads
/// nothing from it. This is the bug the per-folder volumes fix, and it shows that
/// the walk above can fail.
#[test]
fn one_volume_with_folder_paths_loads_no_dashboard() {
    let stack = validate(&common::with_spec("{}"), &Dereferenced::offline()).unwrap();
    let (mut pod, maps) = grafana_pod(&stack);
    let files =
        sextant::build::grafana::dashboard_files(&stack, &sextant::model::Capabilities::current());
    let sources = maps
        .values()
        .filter(|cm| {
            cm.metadata
                .name
                .as_deref()
                .unwrap()
                .contains("-grafana-dashboards-")
        })
        .map(|cm| VolumeProjection {
            config_map: Some(ConfigMapProjection {
                name: cm.metadata.name.clone().unwrap(),
                items: Some(
                    cm.data
                        .iter()
                        .flatten()
                        .map(|(k, _)| KeyToPath {
                            key: k.clone(),
                            path: format!(
                                "{}/{k}",
                                files.iter().find(|f| &f.key == k).unwrap().folder
                            ),
                            ..KeyToPath::default()
                        })
                        .collect(),
                ),
                ..ConfigMapProjection::default()
            }),
            ..VolumeProjection::default()
        })
        .collect();
    let container = &mut pod.containers[0];
    let mounts = container.volume_mounts.as_mut().unwrap();
    mounts.retain(|m| !m.mount_path.starts_with(DASHBOARDS_DIR));
    mounts.push(VolumeMount {
        name: "old-dashboards".into(),
        mount_path: DASHBOARDS_DIR.into(),
        read_only: Some(true),
        ..VolumeMount::default()
    });
    pod.volumes.as_mut().unwrap().push(Volume {
        name: "old-dashboards".into(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(sources),
            ..ProjectedVolumeSource::default()
        }),
        ..Volume::default()
    });
    let root = tempfile::tempdir().unwrap();
    kubelet_layout(root.path(), &pod, &maps);
    let dir: PathBuf = root.path().join(DASHBOARDS_DIR.trim_start_matches('/'));
    assert!(fs::symlink_metadata(dir.join(FOLDER)).unwrap().is_symlink());
    assert!(
        fs::read_dir(dir.join(FOLDER)).unwrap().count() > 0,
        "the files are there"
    );
    assert_eq!(grafana_walk(&dir), Vec::new(), "yet Grafana finds none");
}
