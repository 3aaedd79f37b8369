//! docs/troubleshooting.md has a section for every condition reason sextant
//! writes: the reasons are read from `src/api/status.rs` (the `reason`
//! module's constants), so a new reason without a section fails here.

mod common;

/// The values of `pub const NAME: &str = "Value";` in the `reason` module.
fn reasons() -> Vec<String> {
    let src = std::fs::read_to_string(common::root().join("src/api/status.rs")).unwrap();
    let start = src.find("pub mod reason {").expect("the reason module");
    let body = &src[start..];
    let end = body.find("\n}").expect("its end");
    body[..end]
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let rest = l.strip_prefix("pub const ")?;
            let value = rest.split_once("= \"")?.1;
            Some(value.strip_suffix("\";")?.to_string())
        })
        .collect()
}

#[test]
fn every_reason_has_a_section() {
    let reasons = reasons();
    assert!(reasons.len() >= 20, "{reasons:?}");
    assert!(reasons.contains(&sextant::api::reason::SECRET_NOT_FOUND.to_string()));
    let doc = std::fs::read_to_string(common::root().join("docs/troubleshooting.md")).unwrap();
    let missing: Vec<&String> = reasons
        .iter()
        .filter(|r| !doc.contains(&format!("### `{r}`")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/troubleshooting.md lacks {missing:?}"
    );
    // And no section names a reason sextant does not write.
    for line in doc.lines().filter(|l| l.starts_with("### `")) {
        let name = line.trim_start_matches("### `").trim_end_matches('`');
        assert!(reasons.iter().any(|r| r == name), "{name} is not a reason");
    }
}
