//! The workspace's shape, read from its files: which crates each crate depends on (its
//! `Cargo.toml`), and which modules each module of a crate refers to (`crate::…` and `super::…`
//! paths in its source, tests left out). `tests/layers.rs` holds the rules: crates depend only
//! on crates of lower layers, and no crate's modules import each other in a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Module path (`api::tracks_api`) → the modules it refers to.
pub type ModuleGraph = BTreeMap<String, BTreeSet<String>>;

/// The workspace crates a crate's `[dependencies]` name (dev-dependencies are for its tests and
/// are left out), by package name.
pub fn workspace_dependencies(manifest: &Path, prefix: &str) -> Vec<String> {
    let text = std::fs::read_to_string(manifest)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", manifest.display()));
    let value: toml::Table = text
        .parse()
        .unwrap_or_else(|e| panic!("{} is not TOML: {e}", manifest.display()));
    value
        .get("dependencies")
        .and_then(|d| d.as_table())
        .map(|deps| {
            deps.keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The package name in a crate's `Cargo.toml`.
pub fn package_name(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest).expect("manifest");
    let value: toml::Table = text.parse().expect("manifest is TOML");
    value["package"]["name"]
        .as_str()
        .expect("package.name")
        .to_string()
}

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `domain/filter.rs` → `domain::retrieval::filter`; `app/mod.rs` → `app`; `lib.rs`/`main.rs` → `` (the
/// crate root).
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file
        .strip_prefix(src)
        .expect("under src")
        .with_extension("");
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != "mod")
        .collect();
    let path = parts.join("::");
    if path == "lib" || path == "main" {
        String::new()
    } else {
        path
    }
}

/// The code of a file without its tests (everything from the first `#[cfg(test)]` on) and
/// without comment lines (a doc link to a module is not a use of it).
fn code_of(text: &str) -> String {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    code.lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The longest prefix of `segments` naming a module of the crate.
fn module_named(segments: &[&str], modules: &BTreeSet<String>) -> Option<String> {
    (1..=segments.len())
        .rev()
        .map(|n| segments[..n].join("::"))
        .find(|m| modules.contains(m))
}

/// The paths written at `at`: `a::b::C` is one; `a::{b, c::D}` is `a::b` and `a::c::D` (brace
/// groups nest).
fn paths_at(code: &str, at: usize) -> Vec<Vec<String>> {
    let rest = &code[at..];
    let end = rest
        .find(|c: char| !(c.is_alphanumeric() || c == '_' || c == ':'))
        .unwrap_or(rest.len());
    let head: Vec<String> = rest[..end]
        .split("::")
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if !rest[end..].starts_with('{') || !rest[..end].ends_with("::") {
        return vec![head];
    }
    // The group's items, split at top-level commas.
    let group = &rest[end + 1..];
    let (mut depth, mut close) = (1usize, group.len());
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = i;
                    break;
                }
            }
            _ => {}
        }
    }
    let inner = &group[..close];
    let mut items = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in inner.char_indices() {
        match c {
            '{' => depth += 1,
            '}' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                items.push(&inner[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    items.push(&inner[start..]);
    let mut out = Vec::new();
    for item in items {
        let item = item.trim();
        if item.is_empty() || item == "self" {
            out.push(head.clone());
            continue;
        }
        let offset = inner.as_ptr() as usize - code.as_ptr() as usize
            + (item.as_ptr() as usize - inner.as_ptr() as usize);
        for tail in paths_at(code, offset) {
            out.push(head.iter().cloned().chain(tail).collect());
        }
    }
    out
}

/// The modules `module` refers to by `crate::a::b` and `super::x` paths, outside its tests.
fn references(module: &str, text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = code_of(text);
    let code = code.as_str();
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        // `$crate::` in a macro is the same crate; any other `…crate::` is not ours.
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
            continue;
        }
        for segments in paths_at(code, i + "crate::".len()) {
            let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
            if let Some(m) = module_named(&segments, modules) {
                out.insert(m);
            }
        }
    }
    let own: Vec<&str> = module.split("::").filter(|s| !s.is_empty()).collect();
    for (i, _) in code.match_indices("super::") {
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let base = &own[..own.len().saturating_sub(1)];
        for segments in paths_at(code, i + "super::".len()) {
            let full: Vec<&str> = base
                .iter()
                .copied()
                .chain(segments.iter().map(String::as_str))
                .collect();
            if let Some(m) = module_named(&full, modules) {
                out.insert(m);
            }
        }
    }
    out.remove(module);
    out
}

/// Every module of the crate whose sources are in `src`, with the modules it refers to.
pub fn module_graph(src: &Path) -> ModuleGraph {
    let mut files = Vec::new();
    sources(src, &mut files);
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| module_of(src, f))
        .filter(|m| !m.is_empty())
        .collect();
    files
        .iter()
        .map(|f| {
            let m = module_of(src, f);
            let text = std::fs::read_to_string(f).expect("source file");
            let refs = references(&m, &text, &modules);
            (m, refs)
        })
        .collect()
}

/// Whether `ancestor` is the crate root or a parent (grandparent, …) of `module`: a child's use
/// of what its parent holds for all its children (the `Engine` the use cases extend) is how
/// nesting works, not a peer's import.
fn within(module: &str, ancestor: &str) -> bool {
    ancestor.is_empty() || module.starts_with(&format!("{ancestor}::"))
}

/// A cycle of modules that import each other (through any number of others), if there is one;
/// the crate root and a module's references to its own parents do not count.
pub fn find_cycle(graph: &ModuleGraph) -> Option<Vec<String>> {
    fn visit<'a>(
        m: &'a str,
        graph: &'a ModuleGraph,
        path: &mut Vec<&'a str>,
        done: &mut BTreeSet<&'a str>,
    ) -> Option<Vec<String>> {
        if done.contains(m) {
            return None;
        }
        if let Some(at) = path.iter().position(|p| *p == m) {
            let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
            cycle.push(m.to_string());
            return Some(cycle);
        }
        path.push(m);
        for next in graph.get(m).into_iter().flatten() {
            if within(m, next) {
                continue;
            }
            if let Some(c) = visit(next, graph, path, done) {
                return Some(c);
            }
        }
        path.pop();
        done.insert(m);
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .filter(|m| !m.is_empty())
        .find_map(|m| visit(m, graph, &mut Vec::new(), &mut done))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouped_imports_name_each_module() {
        let modules: BTreeSet<String> =
            ["api", "api::ops_api", "api::search_api", "openapi", "state"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let code =
            "use crate::api::{ops_api, search_api::{Hit, Request}};\nuse crate::state::AppState;\n";
        let refs = references("openapi", code, &modules);
        let want: BTreeSet<String> = ["api::ops_api", "api::search_api", "state"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(refs, want);
    }

    #[test]
    fn super_paths_resolve_from_the_parent() {
        let modules: BTreeSet<String> = ["api", "api::a", "api::b"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let refs = references("api::a", "use super::b::Thing;\n", &modules);
        assert!(refs.contains("api::b"), "{refs:?}");
    }
}
