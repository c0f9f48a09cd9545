//! Tests that need something outside the repository (`../shared` curves, node) say so when it
//! is missing instead of passing without running: a `SKIP:` line written straight to stderr
//! (past the test harness's capture), or a failure where the variable `require` names is set
//! (CI sets `RNNLAB_REQUIRE_FIXTURES` when `../shared` is there, `RNNLAB_REQUIRE_NODE` when
//! node is installed).

/// Reports a missing fixture or program; panics when `require` is set.
pub fn skip(require: &str, test: &str, why: &str) {
    use std::io::Write;
    if std::env::var_os(require).is_some_and(|v| v != "0") {
        panic!("{test}: {why} ({require} is set)");
    }
    let _ = writeln!(std::io::stderr(), "SKIP: {test}: {why}");
}
