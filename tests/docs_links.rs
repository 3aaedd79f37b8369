//! Every relative link in README.md and the Markdown under docs/ (and the other
//! top-level documents) points at a file that exists, and a `#fragment` at a heading
//! of that file, so that moving a section between documents cannot leave a reader at
//! a dead link. Links inside code (fenced blocks, inline code) are not links.

mod common;

use std::path::{Path, PathBuf};

/// GitHub's heading anchor: lowercase, punctuation other than `-` and `_` dropped,
/// spaces become `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | ' '))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The text outside fenced code blocks and inline code.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut fenced = false;
    for line in text.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        for (i, part) in line.split('`').enumerate() {
            if i % 2 == 0 {
                out.push_str(part);
            }
        }
        out.push('\n');
    }
    out
}

fn headings(text: &str) -> Vec<String> {
    prose(text)
        .lines()
        .filter_map(|l| l.strip_prefix('#'))
        .map(|l| slug(l.trim_start_matches('#')))
        .collect()
}

fn markdown_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            markdown_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "md") {
            out.push(p);
        }
    }
}

/// The targets of Markdown links, `[text](target)`: what follows `](` up to `)`,
/// when it has no whitespace.
fn link_targets(text: &str) -> Vec<String> {
    text.split("](")
        .skip(1)
        .filter_map(|rest| {
            let end = rest.find(')')?;
            let target = &rest[..end];
            (!target.is_empty() && !target.contains(char::is_whitespace)).then(|| target.to_owned())
        })
        .collect()
}

/// The broken links of `file`: (link, why).
fn broken(file: &Path) -> Vec<(String, &'static str)> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut out = Vec::new();
    for target in link_targets(&prose(&text)) {
        let target = target.as_str();
        if target.starts_with("http://")
            || target.starts_with("https://")
            || target.starts_with("mailto:")
        {
            continue;
        }
        let (path, fragment) = target.split_once('#').unwrap_or((target, ""));
        let resolved = if path.is_empty() {
            file.to_path_buf()
        } else {
            file.parent().unwrap().join(path)
        };
        if !resolved.exists() {
            out.push((target.to_owned(), "no such file"));
            continue;
        }
        if !fragment.is_empty() && resolved.extension().is_some_and(|e| e == "md") {
            let text = std::fs::read_to_string(&resolved).unwrap();
            if !headings(&text).iter().any(|h| h == fragment) {
                out.push((target.to_owned(), "no such heading"));
            }
        }
    }
    out
}

#[test]
fn every_relative_link_in_the_docs_resolves() {
    let root = common::root();
    let mut files: Vec<PathBuf> = [
        "README.md",
        "BENCHMARKS.md",
        "RELIABILITY.md",
        "e2e/README.md",
    ]
    .iter()
    .map(|f| root.join(f))
    .filter(|p| p.exists())
    .collect();
    markdown_files(&root.join("docs"), &mut files);
    assert!(files.len() > 20, "found only {files:?}");
    let mut bad = Vec::new();
    for f in &files {
        for (link, why) in broken(f) {
            bad.push(format!(
                "{}: {link}: {why}",
                f.strip_prefix(&root).unwrap().display()
            ));
        }
    }
    assert!(bad.is_empty(), "broken links:\n{}", bad.join("\n"));
}

#[test]
fn the_checker_finds_a_missing_file_and_a_missing_heading() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("b.md"),
        "# Title\n\n## Some section: here\n",
    )
    .unwrap();
    let a = dir.path().join("a.md");
    std::fs::write(
        &a,
        "[ok](b.md) [ok](b.md#some-section-here) [self](#top)\n# Top\n\
         [gone](c.md) [bad](b.md#nothing) `[code](x.md)`\n```\n[fenced](y.md)\n```\n",
    )
    .unwrap();
    assert_eq!(
        broken(&a),
        vec![
            ("c.md".to_owned(), "no such file"),
            ("b.md#nothing".to_owned(), "no such heading"),
        ]
    );
}
