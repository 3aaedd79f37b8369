//! The container image of `make image` (scripts/image.sh), built without a container
//! engine: packaged here from the debug binary (the release build is what `make image`
//! adds), twice, into scratch directories. The test reads the OCI layout as a registry
//! would (index, manifest, config), unpacks the image with umoci, and runs the binary
//! from the unpacked root filesystem under chroot, as root and as the image's user,
//! so that only the image's own libraries can be loaded.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// Runs scripts/image.sh with the debug binary into `out`; returns the manifest digest.
fn build(out: &Path) -> String {
    let o = Command::new(common::root().join("scripts/image.sh"))
        .args(["--out"])
        .arg(out)
        .args(["--tag", "test", "--binary", env!("CARGO_BIN_EXE_sextant")])
        .env("SOURCE_DATE_EPOCH", "1700000000")
        .output()
        .expect("running scripts/image.sh");
    assert!(
        o.status.success(),
        "scripts/image.sh failed:\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).trim().to_owned()
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").expect("a sha256 digest");
    std::fs::read(layout.join("blobs/sha256").join(hex)).expect("the blob is in the layout")
}

fn json_blob(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&blob(layout, digest)).expect("a JSON blob")
}

/// Whether chroot can be used: as root directly, else in a user namespace.
fn chroot_prefix() -> Option<Vec<String>> {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if root {
        return Some(vec!["chroot".into()]);
    }
    let userns = Command::new("unshare")
        .args(["--user", "--map-root-user", "true"])
        .status()
        .is_ok_and(|s| s.success());
    userns.then(|| {
        ["unshare", "--user", "--map-root-user", "chroot"]
            .map(String::from)
            .to_vec()
    })
}

/// `name` on PATH, as an absolute path (the command runs with an empty environment).
fn which(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} not found"))
}

fn run_in(rootfs: &Path, prefix: &[String], user: Option<&str>, args: &[&str]) -> String {
    let mut cmd = Command::new(which(&prefix[0]));
    cmd.args(&prefix[1..]);
    if let Some(u) = user {
        cmd.arg(format!("--userspec={u}"));
    }
    let o = cmd
        .arg(rootfs)
        .args(args)
        .env_clear()
        .output()
        .expect("running chroot");
    assert!(
        o.status.success(),
        "{args:?} in the image's rootfs failed ({}):\n{}",
        o.status,
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn the_image_is_reproducible_non_root_shell_free_and_runs_from_its_rootfs() {
    // Skipped (with a note) without umoci, unless SEXTANT_REQUIRE_TOOLS=1 (make test).
    if common::tool("umoci").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    let digest = build(&a);
    assert!(digest.starts_with("sha256:"), "{digest}");
    assert_eq!(
        build(&b),
        digest,
        "two builds of one commit give different manifests"
    );

    // What a registry would read.
    let layout = a.join("oci");
    let index = std::fs::read_to_string(layout.join("index.json")).unwrap();
    let index: Value = serde_json::from_str(&index).unwrap();
    assert_eq!(index["manifests"][0]["digest"], digest.as_str());
    assert_eq!(
        index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"],
        "test"
    );
    let manifest = json_blob(&layout, &digest);
    let config = json_blob(&layout, manifest["config"]["digest"].as_str().unwrap());
    let c = &config["config"];
    assert_eq!(c["User"], "65532:65532", "{config:#}");
    assert_eq!(c["Entrypoint"], serde_json::json!(["/sextant"]));
    assert_eq!(c["Cmd"], serde_json::json!(["run"]));
    assert!(c["ExposedPorts"]["8080/tcp"].is_object(), "{config:#}");
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(config["created"], "2023-11-14T22:13:20Z");
    assert_eq!(
        manifest["layers"].as_array().map(Vec::len),
        Some(1),
        "{manifest:#}"
    );

    // Unpacked, as a runtime would.
    let bundle = dir.path().join("bundle");
    let mut unpack = Command::new("umoci");
    unpack.args(["unpack", "--image"]);
    unpack.arg(format!("{}:test", layout.display()));
    let uid = Command::new("id").arg("-u").output().unwrap();
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        unpack.arg("--rootless");
    }
    let o = unpack.arg(&bundle).output().expect("running umoci unpack");
    assert!(
        o.status.success(),
        "umoci unpack: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rootfs = bundle.join("rootfs");
    for shell in [
        "bin/sh",
        "bin/bash",
        "bin/dash",
        "usr/bin/sh",
        "bin/busybox",
    ] {
        assert!(!rootfs.join(shell).exists(), "the image has /{shell}");
    }
    let executables: Vec<PathBuf> = walk(&rootfs)
        .into_iter()
        .filter(|p| is_executable(p) && !file_name(p).contains(".so"))
        .map(|p| p.strip_prefix(&rootfs).unwrap().to_path_buf())
        .collect();
    assert_eq!(
        executables,
        vec![PathBuf::from("sextant")],
        "executables other than shared objects"
    );
    let passwd = std::fs::read_to_string(rootfs.join("etc/passwd")).unwrap();
    assert!(passwd.contains("nonroot:x:65532:65532:"), "{passwd}");
    let bundle_pem = std::fs::read_to_string(rootfs.join("etc/ssl/certs/ca-certificates.crt"))
        .expect("a CA bundle");
    assert!(bundle_pem.matches("BEGIN CERTIFICATE").count() > 100);

    // The SBOM in the image, the same as the one next to the layout.
    let sbom = std::fs::read_to_string(rootfs.join("usr/share/doc/sextant/sbom.cdx.json")).unwrap();
    assert_eq!(
        sbom,
        std::fs::read_to_string(a.join("sbom.cdx.json")).unwrap()
    );
    let sbom: Value = serde_json::from_str(&sbom).unwrap();
    assert_eq!(sbom["bomFormat"], "CycloneDX");
    assert_eq!(sbom["metadata"]["component"]["name"], "sextant");
    let names: Vec<&str> = sbom["components"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    for name in [
        "kube-client",
        "tokio",
        "rustls",
        "libc6",
        "libgcc-s1",
        "ca-certificates",
    ] {
        assert!(names.contains(&name), "the SBOM lacks {name}");
    }
    assert!(
        !serde_json::to_string(&sbom)
            .unwrap()
            .contains(common::root().to_str().unwrap()),
        "the SBOM names the checkout's path"
    );

    // The binary runs from the image's rootfs, loading only the image's libraries.
    let Some(prefix) = chroot_prefix() else {
        panic!("neither root nor user namespaces: cannot chroot into the image's rootfs");
    };
    let version = run_in(&rootfs, &prefix, None, &["/sextant", "--version"]);
    assert!(version.starts_with("sextant "), "{version}");
    if prefix[0] == "chroot" {
        let crd = run_in(&rootfs, &prefix, Some("65532:65532"), &["/sextant", "crd"]);
        assert!(
            crd.contains("name: observabilitystacks.observability.sextant.dev"),
            "{crd}"
        );
    }
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        let meta = std::fs::symlink_metadata(&path).unwrap();
        if meta.is_dir() {
            out.extend(walk(&path));
        } else if meta.is_file() {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o111 != 0)
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}
