//! The dependency invariants of ARCHITECTURE.md, checked against the crate graph cargo resolves and
//! against the node's sources.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Which crate must not depend, directly or through others, on which, and why.
const RULES: &[(&str, &[&str], &str)] = &[
    (
        "courier-proto",
        &["wasmtime", "tokio", "rusqlite"],
        "the protocol core is sans-IO and free of wasmtime",
    ),
    (
        "courier-e2e",
        &["wasmtime"],
        "the end-to-end crate drives processes; it must not compile the plugin runtime",
    ),
    (
        "courier-storage",
        &["wasmtime", "courier-plugin-host", "courier-plugin"],
        "storage knows no plugins",
    ),
    (
        "courier-config",
        &["wasmtime", "courier-plugin-host"],
        "config is read by the plugin runtime, never the other way round",
    ),
    (
        "courier-io",
        &[
            "wasmtime",
            "courier-plugin-host",
            "courier-plugin",
            "wit-bindgen",
        ],
        "drivers know no WIT types",
    ),
    (
        "courier-drivers",
        &[
            "wasmtime",
            "courier-plugin-host",
            "courier-plugin",
            "wit-bindgen",
        ],
        "drivers know no WIT types",
    ),
    (
        "courier-api-client",
        &["wasmtime", "courier-service", "courier-node", "tokio"],
        "a client of the API links no node",
    ),
    (
        "courier-node",
        &["courier-drivers", "mdns-sd"],
        "the node knows no medium",
    ),
];

/// Words no source file of the node may contain: the node knows no medium.
const NODE_FORBIDDEN: &[&str] = &["tcp", "mdns", "socketaddr"];

#[derive(serde::Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    resolve: Resolve,
}

#[derive(serde::Deserialize)]
struct Package {
    id: String,
    name: String,
}

#[derive(serde::Deserialize)]
struct Resolve {
    nodes: Vec<Node>,
}

#[derive(serde::Deserialize)]
struct Node {
    id: String,
    deps: Vec<Dep>,
}

#[derive(serde::Deserialize)]
struct Dep {
    pkg: String,
    dep_kinds: Vec<DepKind>,
}

#[derive(serde::Deserialize)]
struct DepKind {
    kind: Option<String>,
}

/// Checks every rule; the error lists each one broken, with the path that breaks it.
pub fn check(root: &Path, metadata_json: &[u8]) -> Result<()> {
    let metadata: Metadata =
        serde_json::from_slice(metadata_json).context("reading `cargo metadata`")?;
    let names: HashMap<&str, &str> = metadata
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    // Normal (non-dev, non-build) dependencies only: what a crate's library links.
    let edges: HashMap<&str, Vec<&str>> = metadata
        .resolve
        .nodes
        .iter()
        .map(|n| {
            let deps = n
                .deps
                .iter()
                .filter(|d| d.dep_kinds.iter().any(|k| k.kind.is_none()))
                .map(|d| names[d.pkg.as_str()])
                .collect();
            (names[n.id.as_str()], deps)
        })
        .collect();
    let mut broken = Vec::new();
    for (krate, forbidden, why) in RULES {
        let Some(path) = reach(&edges, krate, forbidden) else {
            continue;
        };
        broken.push(format!("{} ({why})", path.join(" -> ")));
    }
    broken.extend(node_sources_naming_a_medium(&root.join("crates/node/src"))?);
    if !broken.is_empty() {
        bail!("layering broken:\n  {}", broken.join("\n  "));
    }
    eprintln!(
        "layers: {} dependency rules hold, and the node's sources name no medium",
        RULES.len()
    );
    Ok(())
}

/// The first dependency path from `from` to any of `targets`, if there is one.
fn reach<'a>(
    edges: &HashMap<&'a str, Vec<&'a str>>,
    from: &'a str,
    targets: &[&str],
) -> Option<Vec<&'a str>> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![vec![from]];
    while let Some(path) = stack.pop() {
        let last = *path.last().expect("paths are never empty");
        if path.len() > 1 && targets.contains(&last) {
            return Some(path);
        }
        if !seen.insert(last) {
            continue;
        }
        for next in edges.get(last).into_iter().flatten() {
            let mut longer = path.clone();
            longer.push(next);
            stack.push(longer);
        }
    }
    None
}

/// `file:line: word` for each forbidden word in the node's sources.
fn node_sources_naming_a_medium(dir: &Path) -> Result<Vec<String>> {
    let mut found = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in
            std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))?
        {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            let text = std::fs::read_to_string(&path)?;
            for (n, line) in text.lines().enumerate() {
                let lower = line.to_lowercase();
                for word in NODE_FORBIDDEN {
                    if lower.contains(word) {
                        found.push(format!(
                            "{}:{}: names {word:?} (the node knows no medium)",
                            path.display(),
                            n + 1
                        ));
                    }
                }
            }
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_path_through_another_crate_is_found_and_a_missing_one_is_not() {
        let edges: HashMap<&str, Vec<&str>> = [
            ("node", vec!["plugins"]),
            ("plugins", vec!["wasmtime"]),
            ("storage", vec!["proto"]),
        ]
        .into_iter()
        .collect();
        assert_eq!(
            reach(&edges, "node", &["wasmtime"]),
            Some(vec!["node", "plugins", "wasmtime"])
        );
        assert_eq!(reach(&edges, "storage", &["wasmtime"]), None);
        assert_eq!(reach(&edges, "wasmtime", &["wasmtime"]), None);
    }
}
