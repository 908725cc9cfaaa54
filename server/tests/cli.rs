//! The binary's command line: every flag documented with its environment variable, bad
//! layouts refused with the file and field named. (Also makes `cargo test` build the binary
//! that the end-to-end tests in `tests/` start.)

use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_madoguchi-server");

#[test]
fn help_documents_every_flag_and_its_environment_variable() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    for (flag, env) in [
        ("--udp-addr", "MADOGUCHI_UDP_ADDR"),
        ("--public-udp-addr", "MADOGUCHI_PUBLIC_UDP_ADDR"),
        ("--http-addr", "MADOGUCHI_HTTP_ADDR"),
        ("--assets", "MADOGUCHI_ASSETS"),
        ("--tick-hz", "MADOGUCHI_TICK_HZ"),
        ("--snapshot-hz", "MADOGUCHI_SNAPSHOT_HZ"),
        ("--max-clients", "MADOGUCHI_MAX_CLIENTS"),
        ("--max-visible", "MADOGUCHI_MAX_VISIBLE"),
        ("--client-timeout-secs", "MADOGUCHI_CLIENT_TIMEOUT_SECS"),
        ("--token-ttl-secs", "MADOGUCHI_TOKEN_TTL_SECS"),
        ("--private-key", "MADOGUCHI_PRIVATE_KEY"),
        ("--database-url", "DATABASE_URL"),
        ("--sessions-per-minute", "MADOGUCHI_SESSIONS_PER_MINUTE"),
        ("--data-dir", "MADOGUCHI_DATA_DIR"),
    ] {
        assert!(help.contains(flag), "--help lacks {flag}:\n{help}");
        assert!(help.contains(env), "--help lacks {env}:\n{help}");
    }
}

#[test]
fn a_bad_layout_stops_the_server_naming_file_and_field() {
    let dir = std::env::temp_dir().join(format!("madoguchi-badassets-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("layouts")).unwrap();
    let assets = concat!(env!("CARGO_MANIFEST_DIR"), "/../assets");
    std::fs::copy(format!("{assets}/office.toml"), dir.join("office.toml")).unwrap();
    std::fs::copy(format!("{assets}/layouts/lobby.toml"), dir.join("layouts/lobby.toml")).unwrap();
    let counters = std::fs::read_to_string(format!("{assets}/layouts/counters.toml")).unwrap();
    std::fs::write(
        dir.join("layouts/counters.toml"),
        counters.replacen("department = \"taxation\"", "department = \"tax\"", 1),
    )
    .unwrap();
    let out = Command::new(BIN)
        .args(["--udp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--assets"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "the server must not start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("counters.toml"), "names the file: {err}");
    assert!(err.contains("counter[5].department"), "names the field: {err}");
    assert!(err.contains("\"tax\""), "names the bad value: {err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_malformed_private_key_is_refused() {
    let out = Command::new(BIN)
        .args(["--udp-addr", "127.0.0.1:0", "--http-addr", "127.0.0.1:0", "--private-key", "abcd"])
        .env("MADOGUCHI_ASSETS", concat!(env!("CARGO_MANIFEST_DIR"), "/../assets"))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("64 hex digits"));
}
