//! The workspace keeps its layers: crates depend only on crates below them, the core's domain
//! uses neither ports nor use cases, and no crate's modules import each other in a cycle. A
//! planted cycle is caught in every crate, so the check itself is known to work everywhere.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use music_rag_architecture::{find_cycle, module_graph, package_name, workspace_dependencies};

/// Each crate's layer: a crate may depend only on crates of a lower layer.
const LAYERS: &[(&str, u8)] = &[
    // The domain, the ports and the use cases; no I/O.
    ("music-rag-core", 0),
    // Numeric kernels two adapters share (int8 products); no I/O, no music.
    ("music-rag-kernels", 0),
    // Adapters: each implements ports or reads a format, knowing only the core.
    ("music-rag-embed", 1),
    ("music-rag-store", 1),
    ("music-rag-store-postgres", 1),
    ("music-rag-llm", 1),
    ("music-rag-audio", 1),
    ("music-rag-import", 1),
    // Operations both front ends call: opening the configured engine, imports, snapshots.
    ("music-rag-ops", 2),
    // Front ends.
    ("music-rag-server", 3),
    ("music-rag", 4),
    // This checker reads files only.
    ("music-rag-architecture", 0),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("crates/")
        .to_path_buf()
}

fn crates() -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workspace())
        .expect("crates/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .collect();
    dirs.sort();
    dirs
}

fn layer(package: &str) -> u8 {
    LAYERS
        .iter()
        .find(|(name, _)| *name == package)
        .map(|(_, l)| *l)
        .unwrap_or_else(|| panic!("{package} has no layer in LAYERS: place it"))
}

#[test]
fn crates_depend_only_on_lower_layers() {
    let dirs = crates();
    assert!(dirs.len() >= 10, "{dirs:?}");
    for dir in dirs {
        let manifest = dir.join("Cargo.toml");
        let package = package_name(&manifest);
        let own = layer(&package);
        for dependency in workspace_dependencies(&manifest, "music-rag") {
            assert!(
                layer(&dependency) < own,
                "{package} (layer {own}) must not depend on {dependency} (layer {})",
                layer(&dependency)
            );
        }
    }
}

#[test]
fn the_cli_uses_the_server_only_to_serve() {
    let cli = workspace().join("cli/src");
    let graph = module_graph(&cli);
    for module in graph.keys() {
        let file = [
            cli.join(format!("{}.rs", module.replace("::", "/"))),
            cli.join(module.replace("::", "/")).join("mod.rs"),
            cli.join("main.rs"),
        ]
        .into_iter()
        .find(|p| p.is_file())
        .expect("module file");
        let text = std::fs::read_to_string(&file).unwrap();
        let code = text.split("#[cfg(test)]").next().unwrap();
        if code.contains("music_rag_server") {
            assert!(
                matches!(module.as_str(), "serve" | "logging"),
                "{module} uses the server crate; only `serve` (and its log filter) may"
            );
        }
    }
}

#[test]
fn the_core_domain_uses_neither_ports_nor_use_cases() {
    let graph = module_graph(&workspace().join("core/src"));
    assert!(graph.contains_key("app::search"), "{:?}", graph.keys());
    for (module, refs) in &graph {
        let layer = module.split("::").next().unwrap();
        for r in refs {
            let target = r.split("::").next().unwrap();
            let allowed = match layer {
                "domain" => matches!(target, "domain" | "error"),
                "ports" => matches!(target, "domain" | "ports" | "error"),
                "error" => target == "error",
                _ => true,
            };
            assert!(allowed, "{module} (layer {layer}) must not use {r}");
        }
    }
}

#[test]
fn no_crate_has_a_module_cycle() {
    for dir in crates() {
        let graph = module_graph(&dir.join("src"));
        if let Some(cycle) = find_cycle(&graph) {
            panic!(
                "{}: modules import each other in a cycle: {}",
                dir.display(),
                cycle.join(" -> ")
            );
        }
    }
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap().flatten() {
        let path = entry.path();
        let target = to.join(entry.file_name());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

#[test]
fn a_planted_cycle_is_caught_in_every_crate() {
    for dir in crates() {
        let copy = tempfile::tempdir().unwrap();
        let src = copy.path().join("src");
        copy_tree(&dir.join("src"), &src);
        let before: BTreeSet<String> = module_graph(&src).keys().cloned().collect();
        // A new module that uses an existing one, which is made to use the new one back (or,
        // in a crate of one file, a second new module).
        let existing = before
            .iter()
            .find(|m| !m.is_empty() && !m.contains("tests"))
            .cloned();
        let back = match &existing {
            Some(m) => {
                let file = [
                    src.join(format!("{}.rs", m.replace("::", "/"))),
                    src.join(m.replace("::", "/")).join("mod.rs"),
                ]
                .into_iter()
                .find(|p| p.is_file())
                .unwrap();
                let text = std::fs::read_to_string(&file).unwrap();
                std::fs::write(&file, format!("use crate::planted::Loop;\n{text}")).unwrap();
                m.clone()
            }
            None => {
                std::fs::write(src.join("planted_back.rs"), "use crate::planted::Loop;\n").unwrap();
                "planted_back".into()
            }
        };
        std::fs::write(
            src.join("planted.rs"),
            format!("pub struct Loop;\nuse crate::{back}::*;\n"),
        )
        .unwrap();
        let cycle = find_cycle(&module_graph(&src));
        assert!(
            cycle
                .as_ref()
                .is_some_and(|c| c.contains(&"planted".to_string()) && c.contains(&back)),
            "{}: the planted cycle planted <-> {back} was not found: {cycle:?}",
            dir.display()
        );
    }
}
