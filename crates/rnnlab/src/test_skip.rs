//! Tests that need something outside the repository (`../shared` data, a browser) say so
//! when it is missing instead of passing without running: a `SKIP:` line written straight to
//! stderr (past the test harness's capture), or a failure where `RNNLAB_REQUIRE_FIXTURES` is
//! set (CI sets it when `../shared` is there).

/// Reports a missing fixture; panics when fixtures are required.
pub fn skip(test: &str, why: &str) {
    use std::io::Write;
    if std::env::var_os("RNNLAB_REQUIRE_FIXTURES").is_some_and(|v| v != "0") {
        panic!("{test}: {why} (RNNLAB_REQUIRE_FIXTURES is set)");
    }
    let _ = writeln!(std::io::stderr(), "SKIP: {test}: {why}");
}
