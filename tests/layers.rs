//! The layering `src/lib.rs` describes, checked on the source: each module uses
//! only modules below it (leaf helpers may use each other), so the layers cannot
//! drift back into importing each other in a circle. Test modules (`#[cfg(test)]`
//! to the end of a file) are left out: a test may drive any layer.

use std::collections::BTreeSet;
use std::path::Path;

mod common;

/// Rank of each top-level module of `src/`: a module may use only lower ranks,
/// and rank 0 (the CRD and the leaf helpers) may use rank 0.
fn rank(module: &str) -> Option<u8> {
    Some(match module {
        "api" | "units" | "digest" | "limits" | "catalogue" | "telemetry" => 0,
        "model" => 1,
        "builtin" => 2,
        "validate" => 3,
        "render" => 4,
        "build" => 5,
        "controller" | "cli" => 6,
        _ => return None,
    })
}

/// `crate::<module>` paths in code (not comments) before any `#[cfg(test)]`.
fn uses(text: &str) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or_default();
    let mut out = BTreeSet::new();
    for line in code.lines() {
        let line = line.split("//").next().unwrap_or_default();
        for (i, _) in line.match_indices("crate::") {
            let rest = &line[i + "crate::".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_lowercase() || *c == '_')
                .collect();
            if !name.is_empty() {
                out.insert(name);
            }
        }
    }
    out
}

fn files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_module_uses_only_the_layers_below_it() {
    let src = common::root().join("src");
    let mut all = Vec::new();
    files(&src, &mut all);
    let mut violations = Vec::new();
    let mut checked = 0;
    for path in all {
        let relative = path.strip_prefix(&src).unwrap();
        let first = relative.components().next().unwrap().as_os_str();
        let module = first.to_str().unwrap().trim_end_matches(".rs");
        if module == "lib" || module == "main" {
            continue;
        }
        let Some(own) = rank(module) else {
            violations.push(format!(
                "{}: module {module} has no layer in this test",
                relative.display()
            ));
            continue;
        };
        checked += 1;
        for used in uses(&std::fs::read_to_string(&path).unwrap()) {
            match rank(&used) {
                _ if used == module => {}
                Some(r) if r < own || (r == 0 && own == 0) => {}
                _ => violations.push(format!(
                    "{}: {module} uses crate::{used}, which is not below it",
                    relative.display()
                )),
            }
        }
    }
    assert!(checked > 40, "only {checked} files read");
    assert!(violations.is_empty(), "{}", violations.join("\n"));
}

#[test]
fn the_check_sees_an_upward_use() {
    let text = "use crate::model::X;\n// crate::controller in a comment\nfn f() { crate::build::build(); }\n#[cfg(test)]\nmod tests { use crate::cli; }";
    assert_eq!(
        uses(text),
        BTreeSet::from(["model".to_string(), "build".to_string()])
    );
}
