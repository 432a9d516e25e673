//! The layers stay layers: the domain uses neither ports nor use cases, the ports use no use
//! case, and no two modules of the crate import each other in a cycle.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn sources(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// `domain/filter.rs` -> `domain::filter`; `app/mod.rs` -> `app`; `lib.rs` -> `lib`.
fn module_of(src: &Path, file: &Path) -> String {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let parts: Vec<String> = rel
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .filter(|p| p != "mod")
        .collect();
    parts.join("::")
}

/// The modules a file refers to as `crate::a::b`, outside its tests.
fn references(text: &str, modules: &BTreeSet<String>) -> BTreeSet<String> {
    let code = text.split("#[cfg(test)]").next().unwrap_or("");
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        let path: String = code[i + "crate::".len()..]
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_' || *c == ':')
            .collect();
        let segs: Vec<&str> = path.split("::").filter(|s| !s.is_empty()).collect();
        // The longest prefix that names a module file.
        let found = (1..=segs.len().min(2))
            .rev()
            .map(|n| segs[..n].join("::"))
            .find(|m| modules.contains(m));
        if let Some(m) = found {
            out.insert(m);
        }
    }
    out
}

fn graph() -> BTreeMap<String, BTreeSet<String>> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let modules: BTreeSet<String> = files.iter().map(|f| module_of(&src, f)).collect();
    files
        .iter()
        .map(|f| {
            let m = module_of(&src, f);
            let refs = references(&std::fs::read_to_string(f).unwrap(), &modules);
            (m, refs)
        })
        .collect()
}

#[test]
fn layers_point_inward() {
    let g = graph();
    assert!(g.contains_key("domain::filter") && g.contains_key("app::search"));
    for (module, refs) in &g {
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
fn no_module_imports_itself_through_others() {
    let g = graph();
    // Leaf modules only: a layer's root (`app`, holding the `Engine` handle its use cases
    // extend) is the parent of its children, not a peer.
    let leaves: BTreeMap<&String, Vec<&String>> = g
        .iter()
        .filter(|(m, _)| m.contains("::"))
        .map(|(m, refs)| {
            (
                m,
                refs.iter()
                    .filter(|r| r.contains("::") && *r != m)
                    .collect(),
            )
        })
        .collect();
    fn visit<'a>(
        m: &'a String,
        g: &BTreeMap<&'a String, Vec<&'a String>>,
        path: &mut Vec<&'a String>,
        done: &mut BTreeSet<&'a String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(at) = path.iter().position(|p| *p == m) {
            let cycle: Vec<&str> = path[at..].iter().map(|s| s.as_str()).collect();
            panic!("import cycle: {} -> {m}", cycle.join(" -> "));
        }
        path.push(m);
        for next in g.get(m).into_iter().flatten() {
            visit(next, g, path, done);
        }
        path.pop();
        done.insert(m);
    }
    let mut done = BTreeSet::new();
    for m in leaves.keys() {
        visit(m, &leaves, &mut Vec::new(), &mut done);
    }
}
