//! The dependency invariants of ARCHITECTURE.md, checked against the crate graph cargo resolves and
//! against the node's sources.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use anyhow::{Context, Result, bail};

/// Each crate of the workspace and the workspace crates it may use (normal dependencies: what its
/// library or binary links), from the bottom layer up. Anything else fails, and so does a crate
/// missing here: say where a new one sits before it lands.
const ALLOWED: &[(&str, &[&str])] = &[
    ("courier-error", &[]),
    ("courier-proto", &["courier-error"]),
    ("courier-local-fs", &["courier-error"]),
    ("courier-text-safety", &[]),
    ("courier-events", &["courier-text-safety"]),
    ("courier-api-client", &["courier-events"]),
    ("courier-tor-net", &[]),
    ("courier-plugin", &["courier-text-safety"]),
    (
        "courier-config",
        &["courier-error", "courier-local-fs", "courier-proto"],
    ),
    (
        "courier-storage",
        &[
            "courier-error",
            "courier-local-fs",
            "courier-proto",
            "courier-text-safety",
        ],
    ),
    ("courier-io", &["courier-config", "courier-error"]),
    ("courier-mailbox-client", &["courier-error"]),
    (
        "courier-drivers",
        &[
            "courier-config",
            "courier-io",
            "courier-local-fs",
            "courier-mailbox-client",
        ],
    ),
    (
        "courier-plugin-host",
        &[
            "courier-config",
            "courier-error",
            "courier-io",
            "courier-local-fs",
            "courier-text-safety",
        ],
    ),
    (
        "courier-node",
        &[
            "courier-config",
            "courier-error",
            "courier-io",
            "courier-plugin-host",
            "courier-proto",
            "courier-storage",
        ],
    ),
    (
        "courier-service",
        &[
            "courier-config",
            "courier-error",
            "courier-events",
            "courier-drivers",
            "courier-local-fs",
            "courier-mailbox-client",
            "courier-node",
            "courier-plugin-host",
            "courier-proto",
            "courier-storage",
            "courier-text-safety",
        ],
    ),
    ("courier-http-serving", &["courier-io"]),
    (
        "courier-mailbox",
        &[
            "courier-config",
            // The onion service a mailbox with `[tor]` is reached as: the node's Tor client code.
            "courier-drivers",
            "courier-error",
            "courier-http-serving",
            "courier-io",
            "courier-local-fs",
        ],
    ),
    (
        "courier-api",
        &[
            "courier-api-client",
            "courier-http-serving",
            "courier-io",
            "courier-local-fs",
            "courier-service",
        ],
    ),
    (
        "courier-host",
        &[
            "courier-api",
            "courier-api-client",
            "courier-mailbox",
            "courier-mailbox-client",
            "courier-service",
        ],
    ),
    (
        "courier-e2e",
        &["courier-api-client", "courier-proto", "courier-storage"],
    ),
    ("xtask", &[]),
];

/// What a plugin crate (`message-*`, `transport-*`, `test-plugin-*`) may use: the guest SDK, and a
/// shipped plugin's state machine (a test plugin that wraps one).
const PLUGIN_ALLOWED: &[&str] = &["courier-plugin", "transport-tor"];

/// Which crate must not depend, directly or through others, on which outside crate, and why.
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
        &["wasmtime", "courier-plugin"],
        "storage knows no plugins",
    ),
    (
        "courier-config",
        &["wasmtime"],
        "config is read by the plugin runtime, never the other way round",
    ),
    (
        "courier-io",
        &["wasmtime", "wit-bindgen"],
        "drivers know no WIT types",
    ),
    (
        "courier-drivers",
        &["wasmtime", "wit-bindgen"],
        "drivers know no WIT types",
    ),
    (
        "courier-api-client",
        &["wasmtime", "tokio"],
        "a client of the API links no node",
    ),
    ("courier-node", &["mdns-sd"], "the node knows no medium"),
    (
        "courier-mailbox-client",
        &["wasmtime", "tokio", "rusqlite"],
        "a client of a mailbox links no node",
    ),
    (
        "courier-mailbox",
        &[
            "wasmtime",
            "courier-node",
            "courier-storage",
            "courier-plugin-host",
        ],
        "the mailbox keeps opaque files: it links no node and no node database (built with Tor, \
         arti brings SQLite for its own directory cache, which holds only public relay data)",
    ),
    (
        "courier-events",
        &["tokio", "wasmtime", "rusqlite"],
        "events are plain data that a client links without a node",
    ),
];

/// Words no source file of the node may contain: the node knows no medium.
const NODE_FORBIDDEN: &[&str] = &["tcp", "mdns", "socketaddr"];

#[derive(serde::Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
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

/// Checks every rule; the error lists each one broken, with the path that breaks it. On success,
/// prints the layers as ARCHITECTURE.md shows them.
pub fn check(root: &Path, metadata_json: &[u8]) -> Result<()> {
    let metadata: Metadata =
        serde_json::from_slice(metadata_json).context("reading `cargo metadata`")?;
    let names: HashMap<&str, &str> = metadata
        .packages
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let members: BTreeSet<&str> = metadata
        .workspace_members
        .iter()
        .map(|id| names[id.as_str()])
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
    let mut broken = outside_the_allow_list(&members, &edges);
    for (krate, forbidden, why) in RULES {
        let Some(path) = reach(&edges, krate, forbidden) else {
            continue;
        };
        broken.push(format!("{} ({why})", path.join(" -> ")));
    }
    broken.extend(node_sources_naming_a_medium(&root.join("crates/node/src"))?);
    for krate in ALLOWED.iter().map(|(k, _)| *k) {
        let src = crate_dir(root, krate).join("src");
        if src.is_dir() {
            broken.extend(module_cycles(krate, &src)?);
        }
    }
    if !broken.is_empty() {
        bail!("layering broken:\n  {}", broken.join("\n  "));
    }
    println!("{}", diagram());
    eprintln!(
        "layers: every crate uses only what ALLOWED lists, {} outside rules hold, no module of a \
         crate imports one that imports it back, and the node's sources name no medium",
        RULES.len()
    );
    Ok(())
}

/// Where a workspace crate's sources are.
fn crate_dir(root: &Path, krate: &str) -> std::path::PathBuf {
    match krate {
        "courier-proto" => root.join("proto"),
        "courier-host" => root.join("host"),
        "courier-plugin" => root.join("plugin-api"),
        "courier-e2e" => root.join("tests/e2e"),
        "courier-tor-net" => root.join("tests/tor-net"),
        "xtask" => root.join("xtask"),
        other => root
            .join("crates")
            .join(other.trim_start_matches("courier-")),
    }
}

/// Each workspace dependency a crate has beyond what [`ALLOWED`] grants it, and each crate the list
/// does not name.
fn outside_the_allow_list(
    members: &BTreeSet<&str>,
    edges: &HashMap<&str, Vec<&str>>,
) -> Vec<String> {
    let allowed: HashMap<&str, &[&str]> = ALLOWED.iter().copied().collect();
    let mut broken = Vec::new();
    for krate in members {
        let plugin = ["message-", "transport-", "test-plugin-"]
            .iter()
            .any(|p| krate.starts_with(p));
        let Some(may) = allowed
            .get(krate)
            .copied()
            .or(plugin.then_some(PLUGIN_ALLOWED))
        else {
            broken.push(format!(
                "{krate} is not in xtask's ALLOWED: add it with the crates it may use"
            ));
            continue;
        };
        for dep in edges.get(krate).into_iter().flatten() {
            if members.contains(dep) && !may.contains(dep) {
                broken.push(format!(
                    "{krate} -> {dep} (not in what ALLOWED lets {krate} use)"
                ));
            }
        }
    }
    broken
}

/// The layers: each crate on the line above the highest crate it may use.
pub fn diagram() -> String {
    let mut level: HashMap<&str, usize> = HashMap::new();
    for (krate, may) in ALLOWED {
        // ALLOWED runs from the bottom up, so every crate's dependencies have a level already.
        let above = may.iter().filter_map(|d| level.get(d)).max();
        level.insert(krate, above.map_or(0, |l| l + 1));
    }
    let top = level.values().copied().max().unwrap_or(0);
    let mut out = String::from("layer  crate -> the workspace crates it may use\n");
    for l in (0..=top).rev() {
        for (krate, may) in ALLOWED.iter().filter(|(k, _)| level[k] == l) {
            let may = if may.is_empty() {
                "(none)".to_owned()
            } else {
                may.join(", ")
            };
            out.push_str(&format!("{l:>5}  {krate} -> {may}\n"));
        }
    }
    out.push_str("    *  message-*, transport-*, test-plugin-* -> ");
    out.push_str(&PLUGIN_ALLOWED.join(", "));
    out
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

/// Modules of `krate` (one per source file under `src`) that import each other, directly or round
/// a longer loop, each loop once. A module's use of its own ancestors (the crate root declaring the
/// items its children share) is how Rust nests modules, not a loop; test modules are left out.
fn module_cycles(krate: &str, src: &Path) -> Result<Vec<String>> {
    let mut imports: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let files = rust_files(src)?;
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(src, f)).collect();
    // `crate::Name` re-exported by the root (`pub use module::Name;`) is that module's.
    let reexports: BTreeMap<String, String> = ["lib.rs", "main.rs"]
        .iter()
        .filter_map(|root| std::fs::read_to_string(src.join(root)).ok())
        .flat_map(|text| {
            let mut names = Vec::new();
            for statement in text.split(';') {
                let Some(used) = statement.trim().strip_prefix("pub use ") else {
                    continue;
                };
                for path in spread(used.trim()) {
                    if let Some((_, name)) = path.rsplit_once("::") {
                        names.push((name.to_owned(), path.clone()));
                    }
                }
            }
            names
        })
        .collect();
    for file in &files {
        let module = module_of(src, file);
        let text = std::fs::read_to_string(file)?;
        // Unit tests sit at the end of a file; what they import is not the module's. A doc link
        // names a module without using it.
        let code: String = text
            .split("#[cfg(test)]")
            .next()
            .unwrap_or("")
            .lines()
            .map(|line| line.split("//").next().unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        let targets = imported_paths(&module, &code)
            .into_iter()
            .map(|path| through_reexports(&reexports, path))
            .filter_map(|path| owning_module(&modules, &path))
            .filter(|target| !is_within(&module, target) && !is_within(target, &module))
            .collect();
        imports.insert(module, targets);
    }
    let mut seen = BTreeSet::new();
    let mut cycles = Vec::new();
    for module in imports.keys() {
        if seen.contains(module) {
            continue;
        }
        let from = reachable(&imports, module);
        let mut loop_: Vec<&String> = from
            .iter()
            .filter(|other| reachable(&imports, other).contains(module))
            .collect();
        if loop_.is_empty() {
            continue;
        }
        loop_.push(module);
        loop_.sort();
        loop_.dedup();
        seen.extend(loop_.iter().map(|m| (*m).clone()));
        let names: Vec<&str> = loop_.iter().map(|m| m.as_str()).collect();
        cycles.push(format!(
            "{krate}: modules {} import each other (move what they share into a module both use)",
            names.join(", ")
        ));
    }
    Ok(cycles)
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Result<Vec<std::path::PathBuf>> {
    let mut files = Vec::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                files.push(path);
            }
        }
    }
    files.sort();
    Ok(files)
}

/// `a::b` for `src/a/b.rs` or `src/a/b/mod.rs`; `` for the crate root.
fn module_of(src: &Path, file: &Path) -> String {
    let relative = file.strip_prefix(src).unwrap_or(file).with_extension("");
    let mut parts: Vec<String> = relative
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.len() == 1 && ["lib", "main"].contains(&parts[0].as_str())
        || parts.last().is_some_and(|p| p == "mod")
    {
        parts.pop();
    }
    // A binary's other roots (`src/bin/x.rs`) are crates of their own: name them apart.
    parts.join("::")
}

/// The full paths a module's code names through `crate::` and `super::`, groups spread out.
fn imported_paths(module: &str, code: &str) -> Vec<String> {
    let mut paths = Vec::new();
    let mut rest = code;
    while let Some(at) = rest.find(['c', 's']) {
        let tail = &rest[at..];
        let boundary = rest[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !(c.is_alphanumeric() || c == '_'));
        let mut base: Option<Vec<&str>> = None;
        let mut after = tail;
        if boundary && tail.starts_with("crate::") {
            base = Some(Vec::new());
            after = &tail["crate::".len()..];
        } else if boundary && tail.starts_with("super::") {
            let mut parent: Vec<&str> = module.split("::").filter(|p| !p.is_empty()).collect();
            while let Some(more) = after.strip_prefix("super::") {
                parent.pop();
                after = more;
            }
            base = Some(parent);
        }
        match base {
            Some(base) => {
                let prefix = base.join("::");
                for path in spread(after) {
                    paths.push(if prefix.is_empty() {
                        path
                    } else {
                        format!("{prefix}::{path}")
                    });
                }
                rest = &after[1.min(after.len())..];
            }
            None => rest = &tail[1..],
        }
    }
    paths
}

/// `path` with a first segment the crate root re-exports replaced by where it comes from.
fn through_reexports(reexports: &BTreeMap<String, String>, path: String) -> String {
    let (first, rest) = path.split_once("::").unwrap_or((&path, ""));
    match reexports.get(first) {
        Some(origin) if rest.is_empty() => origin.clone(),
        Some(origin) => format!("{origin}::{rest}"),
        None => path,
    }
}

/// The paths a `use` tail names: `a::b::C` is one; `{a::B, c::{d, E}}` is `a::B`, `c::d`, `c::E`.
fn spread(tail: &str) -> Vec<String> {
    let path: String = tail
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
        .collect();
    let path = path.trim_end_matches(':').to_owned();
    let after = &tail[path.len()..].trim_start_matches(':');
    if !after.starts_with('{') {
        return vec![path];
    }
    let mut depth = 0;
    let mut items = Vec::new();
    let mut start = 1;
    for (i, c) in after.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    items.push(&after[start..i]);
                    break;
                }
            }
            ',' if depth == 1 => {
                items.push(&after[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items
        .into_iter()
        .map(str::trim)
        .filter(|item| !item.is_empty() && *item != "self")
        .flat_map(spread)
        .map(|inner| {
            if path.is_empty() {
                inner
            } else {
                format!("{path}::{inner}")
            }
        })
        .collect()
}

/// The deepest module of `modules` that `path` is in or names.
fn owning_module(modules: &BTreeSet<String>, path: &str) -> Option<String> {
    let parts: Vec<&str> = path.split("::").collect();
    (1..=parts.len())
        .rev()
        .map(|n| parts[..n].join("::"))
        .find(|candidate| modules.contains(candidate))
}

/// Whether `module` is `outer` or inside it (`` holds every module).
fn is_within(module: &str, outer: &str) -> bool {
    outer.is_empty() || module == outer || module.starts_with(&format!("{outer}::"))
}

/// Every module `from` imports, directly or through others.
fn reachable(imports: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut stack = vec![from.to_owned()];
    while let Some(module) = stack.pop() {
        for next in imports.get(&module).into_iter().flatten() {
            if seen.insert(next.clone()) {
                stack.push(next.clone());
            }
        }
    }
    seen
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

    #[test]
    fn grouped_and_nested_imports_are_spread_into_paths() {
        assert_eq!(
            imported_paths(
                "on_link",
                "use crate::{dialer::Dialer, link::{self, Link}};"
            ),
            ["dialer::Dialer", "link::Link"]
        );
        assert_eq!(
            imported_paths("link::simplex", "use super::super::keyring::Keyring;"),
            ["keyring::Keyring"]
        );
        assert_eq!(
            imported_paths("a", "let supercrate::x = 1;"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn a_loop_between_siblings_is_found_and_a_child_using_its_parent_is_not() {
        let dir = tempfile_dir();
        let src = dir.join("src");
        std::fs::create_dir_all(src.join("link")).unwrap();
        std::fs::write(src.join("lib.rs"), "mod a; mod b; mod link; use a::X;").unwrap();
        std::fs::write(src.join("a.rs"), "use crate::b::Y;").unwrap();
        std::fs::write(src.join("b.rs"), "use crate::{a::X};").unwrap();
        std::fs::write(src.join("link/mod.rs"), "mod simplex; use crate::a::X;").unwrap();
        std::fs::write(
            src.join("link/simplex.rs"),
            "use super::Link; use crate::X;",
        )
        .unwrap();
        let cycles = module_cycles("demo", &src).unwrap();
        assert_eq!(cycles.len(), 1, "{cycles:?}");
        assert!(cycles[0].contains("modules a, b import"), "{cycles:?}");
        std::fs::write(
            src.join("b.rs"),
            "#[cfg(test)] mod tests { use crate::a::X; }",
        )
        .unwrap();
        assert_eq!(module_cycles("demo", &src).unwrap(), Vec::<String>::new());
        std::fs::remove_dir_all(dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-layers-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
