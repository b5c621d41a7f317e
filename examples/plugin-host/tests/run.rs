//! Runs the plugin host on the example plugins, compiled as `build-plugins.sh` compiles them:
//! the well-behaved plugin works (with its callback into the guest), and the one that loops
//! forever, the one that grows without bound and the one that traps are each stopped and
//! reported while the host carries on.

use std::path::Path;
use std::process::Command;

#[test]
fn the_host_survives_its_plugins() {
    let dir = tempfile::tempdir().unwrap();
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins");
    let options = kiln_compiler::CompileOptions {
        fuel: true,
        epoch_interruption: true,
        ..Default::default()
    };
    for name in ["crash", "hog", "spin", "upper"] {
        let wasm = wat::parse_file(plugins.join(format!("{name}.wat"))).unwrap();
        let artifact = kiln_compiler::compile(&wasm, &options).unwrap();
        std::fs::write(dir.path().join(format!("{name}.kiln")), artifact).unwrap();
    }
    // Not an artifact: the host says so and goes on.
    std::fs::write(dir.path().join("broken.kiln"), b"not an artifact").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_plugin-host"))
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 5, "{stdout}");
    // One line, the reason said once.
    assert!(lines[0].starts_with("broken: failed: "), "{stdout}");
    assert_eq!(
        lines[0].matches("artifact is truncated").count(),
        1,
        "{stdout}"
    );
    assert!(
        lines[1].starts_with("crash: trapped: wasm trap: out of bounds memory access in "),
        "{stdout}"
    );
    // 16 MiB is 256 pages: the hog got to the limit, no further, and returned normally.
    assert_eq!(lines[2], "hog: ok: returned 241", "{stdout}");
    assert!(
        lines[3] == "spin: stopped: deadline passed" || lines[3] == "spin: stopped: out of fuel",
        "{stdout}"
    );
    assert_eq!(
        lines[4], r#"upper: ok: returned 0, logged ["HELLO FROM THE HOST"]"#,
        "{stdout}"
    );
}
