//! The dependency tree holds one version of `rand` (and of `rand_core`): the workspace, the
//! BPE tokenizer and the property tests draw on the same one (issue 15, item 19).

#[test]
fn one_rand_in_the_lock_file() {
    let lock = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.lock"))
        .expect("the workspace's Cargo.lock");
    for name in ["rand", "rand_core"] {
        let versions: Vec<&str> = lock
            .split("[[package]]")
            .filter(|p| p.contains(&format!("\nname = \"{name}\"\n")))
            .filter_map(|p| p.lines().find_map(|l| l.strip_prefix("version = ")))
            .collect();
        assert_eq!(versions.len(), 1, "{name}: {versions:?}");
    }
}
