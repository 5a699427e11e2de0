//! The README's "Layout" tree names every file under `src/`, and no other:
//! the map a newcomer reads stays the code as it is.

use std::collections::BTreeSet;
use std::path::Path;

/// The files the README's layout tree names, as paths under the crate root.
fn files_in_readme() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md"))
        .expect("README.md is readable");
    let layout = readme
        .split("## Layout")
        .nth(1)
        .expect("the README has a Layout section");
    let tree = layout
        .split("```text\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("the Layout section has a text block");
    // Each line: two spaces per level, then a name; folders end in `/`.
    let mut folders: Vec<String> = Vec::new();
    let mut files = BTreeSet::new();
    for line in tree.lines().filter(|line| !line.trim().is_empty()) {
        let depth = (line.len() - line.trim_start().len()) / 2;
        let name = line.split_whitespace().next().expect("a name").to_owned();
        folders.truncate(depth);
        if let Some(folder) = name.strip_suffix('/') {
            folders.push(folder.to_owned());
        } else {
            files.insert(format!("{}/{name}", folders.join("/")));
        }
    }
    files
}

/// The `.rs` files under `src/`.
fn files_in_src() -> BTreeSet<String> {
    fn walk(dir: &Path, root: &Path, out: &mut BTreeSet<String>) {
        for entry in std::fs::read_dir(dir).expect("src/ is readable") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                walk(&path, root, out);
            } else if path.extension().is_some_and(|ext| ext == "rs") {
                let relative = path.strip_prefix(root).expect("under the root");
                out.insert(relative.to_string_lossy().replace('\\', "/"));
            }
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = BTreeSet::new();
    walk(&root.join("src"), root, &mut out);
    out
}

#[test]
fn the_readme_layout_names_every_source_file_and_no_other() {
    let (readme, src) = (files_in_readme(), files_in_src());
    let missing: Vec<_> = src.difference(&readme).collect();
    let gone: Vec<_> = readme.difference(&src).collect();
    assert!(
        missing.is_empty() && gone.is_empty(),
        "README layout out of date: not in the README {missing:?}; not in src/ {gone:?}"
    );
}
