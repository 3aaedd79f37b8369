//! Shared helpers of the integration tests: load samples, patch specs, find tools.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use sextant::api::ObservabilityStack;
use sextant::cli;

pub mod names;
pub mod prompb;
pub mod promtool;
pub mod queries;

/// The repository root. Read at run time (`cargo test` sets `CARGO_MANIFEST_DIR`):
/// the compile-time value names wherever the cached test binary was first built,
/// which is another checkout when the target directory is shared between clones.
pub fn root() -> PathBuf {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")))
}

/// Every `*.yaml` file of a directory of the repository, sorted by name.
pub fn yaml_files(dir: &str) -> Vec<PathBuf> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    paths.sort();
    paths
}

/// The value of a fixture's `# key: value` header line (the leading comment block).
pub fn header(text: &str, key: &str) -> Option<String> {
    text.lines()
        .take_while(|l| l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&format!("# {key}: ")))
        .map(|v| v.trim().to_string())
}

/// Every sample under config/samples, by file stem.
pub fn samples() -> Vec<(String, ObservabilityStack)> {
    let mut out = Vec::new();
    for p in yaml_files("config/samples") {
        let stem = p.file_stem().unwrap().to_string_lossy().to_string();
        out.push((stem, cli::load(p.to_str().unwrap()).unwrap()));
    }
    out
}

/// A stack from YAML text (a full object).
pub fn stack(yaml: &str) -> ObservabilityStack {
    cli::parse("test.yaml", yaml).unwrap_or_else(|e| panic!("{e}"))
}

/// A stack named `name` in namespace `ns` with the given spec YAML (indented object).
pub fn with_spec(spec: &str) -> ObservabilityStack {
    let yaml = format!(
        "apiVersion: observability.sextant.dev/v1alpha1\nkind: ObservabilityStack\nmetadata: {{name: s, namespace: ns}}\nspec:\n{}",
        indent(spec)
    );
    stack(&yaml)
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("  {l}\n")).collect()
}

/// Finds a test tool on PATH. With `SEXTANT_REQUIRE_TOOLS=1` (as `make test` sets)
/// a missing tool fails the test; otherwise the test is skipped with a note.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        if std::env::var("SEXTANT_REQUIRE_TOOLS").as_deref() == Ok("1") {
            panic!("{name} is not on PATH: run `scripts/tools.sh install` (make test does)");
        }
        eprintln!("SKIPPED: {name} not on PATH (set SEXTANT_REQUIRE_TOOLS=1 to fail instead)");
    }
    found
}

/// A Secret `name` with `data` (text values).
pub fn secret(name: &str, data: &[(&str, &str)]) -> k8s_openapi::api::core::v1::Secret {
    k8s_openapi::api::core::v1::Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(name.into()),
            ..Default::default()
        },
        data: Some(
            data.iter()
                .map(|(k, v)| {
                    (
                        k.to_string(),
                        k8s_openapi::ByteString(v.as_bytes().to_vec()),
                    )
                })
                .collect(),
        ),
        ..Default::default()
    }
}

/// Runs `cmd` with `stdin` written to its standard input, capturing its output.
pub fn pipe(cmd: &mut Command, stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

/// Runs a command, returning (success, stdout+stderr).
pub fn run(cmd: &Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(cmd).args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

/// The pod spec of the Deployment or StatefulSet `name` in `r`.
pub fn pod_of(r: &sextant::build::Resources, name: &str) -> k8s_openapi::api::core::v1::PodSpec {
    let named = |n: &Option<String>| n.as_deref() == Some(name);
    r.deployments
        .iter()
        .find(|d| named(&d.metadata.name))
        .and_then(|d| d.spec.clone())
        .map(|s| s.template)
        .or_else(|| {
            r.stateful_sets
                .iter()
                .find(|s| named(&s.metadata.name))
                .and_then(|s| s.spec.clone())
                .map(|s| s.template)
        })
        .and_then(|t| t.spec)
        .unwrap_or_else(|| panic!("no workload {name} with a pod spec"))
}

/// The errors `validate` reports for a spec (the body under `spec:`), offline:
/// `path: message` lines, none when it is valid.
pub fn errors(spec: &str) -> Vec<String> {
    use sextant::validate::{Dereferenced, validate};
    match validate(&with_spec(spec), &Dereferenced::offline()) {
        Ok(_) => vec![],
        Err(e) => e.0.iter().map(ToString::to_string).collect(),
    }
}

/// File `file` of ConfigMap `name` in `r`, parsed (YAML or JSON).
pub fn config_file(r: &sextant::build::Resources, name: &str, file: &str) -> serde_json::Value {
    let cm = r
        .config_maps
        .iter()
        .find(|c| c.metadata.name.as_deref() == Some(name))
        .unwrap_or_else(|| panic!("no ConfigMap {name}"));
    serde_yaml_ng::from_str(&cm.data.as_ref().unwrap()[file]).unwrap()
}
