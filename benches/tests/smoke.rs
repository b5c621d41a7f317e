//! Smoke test: the quick mode's measurement code on tiny inputs. Performance is measured, never
//! asserted here; the test checks that every section ran and produced finite figures.

use kiln_benches::{run, Config};

#[test]
fn quick_mode_measurement_code_runs() {
    // Wasmtime too when the `wasmtime` feature is on.
    let report = run(&Config::smoke()).expect("the smoke benchmark runs");
    let sections: std::collections::BTreeSet<&str> =
        report.rows.iter().map(|r| r.section).collect();
    assert_eq!(sections.len(), 13, "every section has rows: {sections:?}");
    for section in [
        kiln_benches::hostcalls::HOSTCALLS,
        kiln_benches::exceptions::EXCEPTIONS,
        kiln_benches::wasi::WASI,
        kiln_benches::interrupt::INTERRUPT,
        kiln_benches::interrupt::INTERRUPT_OVERHEAD,
    ] {
        assert!(sections.contains(section), "{section}: {sections:?}");
    }
    for row in &report.rows {
        assert!(row.kiln.is_finite(), "{}: {}", row.name, row.kiln);
        if let Some((_, b)) = &row.baseline {
            assert!(b.is_finite(), "{}: baseline {b}", row.name);
        }
        if let Some(w) = row.wasmtime {
            assert!(w.is_finite(), "{}: Wasmtime {w}", row.name);
        }
    }
    let md = report.markdown();
    assert!(md.contains("| benchmark | Kiln |"), "{md}");
    assert!(md.contains("load tiny"), "{md}");
}
