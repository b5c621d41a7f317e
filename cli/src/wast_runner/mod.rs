//! `kiln wast`: runs WebAssembly spec-test scripts (`.wast`) through the compiler, an artifact
//! file and the loader, and reports how many directives passed.
//!
//! Every directive counts exactly once, as passed or failed: directives the runner cannot
//! execute fail as unsupported, and a panic inside Kiln fails its directive while the script goes
//! on.

mod runner;
mod spectest;
mod values;

use anyhow::Context as _;
use kiln_compiler::{CompileOptions, WasmFeatures};
use runner::Runner;
use std::io::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use wast::lexer::Lexer;
use wast::parser::{self, ParseBuffer};
use wast::Wast;

/// How many failures the text report lists per file.
const LISTED_FAILURES: usize = 5;

/// One failed directive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    /// 1-based line of the directive (0 if the file could not be read).
    pub line: usize,
    /// 1-based column of the directive.
    pub col: usize,
    /// Why it failed.
    pub message: String,
}

/// The outcome of one script.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FileReport {
    /// Directives that passed.
    pub passed: usize,
    /// Directives that failed (a file that cannot be read or parsed counts as one).
    pub failed: usize,
    /// Every failure, in script order.
    pub failures: Vec<Failure>,
}

impl FileReport {
    fn fail(&mut self, line: usize, col: usize, message: String) {
        self.failed += 1;
        self.failures.push(Failure { line, col, message });
    }
}

/// Runs each .wast file; prints one line per file (`path: N passed, M failed`, plus a few indented
/// lines naming failed directives by line:col and why), then one final line `N passed, M failed`
/// counting directives over all files. With `json`, prints instead one JSON object
/// `{"files":[{"path":..,"passed":N,"failed":M,"failures":[{"line":L,"message":..}]}],
/// "passed":N,"failed":M}`. Modules may use `features`. Returns `Ok(true)` if nothing failed.
pub fn run_files(paths: &[PathBuf], json: bool, features: WasmFeatures) -> anyhow::Result<bool> {
    let mut out = std::io::stdout().lock();
    let (mut passed, mut failed) = (0, 0);
    let mut files = Vec::new();
    for path in paths {
        let report = run_file_with(path, features);
        passed += report.passed;
        failed += report.failed;
        if json {
            files.push(file_json(path, &report));
        } else {
            write_text(&mut out, path, &report).context("writing the report")?;
        }
    }
    if json {
        let all = serde_json::json!({ "files": files, "passed": passed, "failed": failed });
        writeln!(out, "{all}").context("writing the report")?;
    } else {
        writeln!(out, "{passed} passed, {failed} failed").context("writing the report")?;
    }
    Ok(failed == 0)
}

fn file_json(path: &Path, report: &FileReport) -> serde_json::Value {
    let failures: Vec<serde_json::Value> = report
        .failures
        .iter()
        .map(|f| serde_json::json!({ "line": f.line, "message": f.message }))
        .collect();
    serde_json::json!({
        "path": path.display().to_string(),
        "passed": report.passed,
        "failed": report.failed,
        "failures": failures,
    })
}

fn write_text(
    out: &mut impl std::io::Write,
    path: &Path,
    report: &FileReport,
) -> std::io::Result<()> {
    writeln!(
        out,
        "{}: {} passed, {} failed",
        path.display(),
        report.passed,
        report.failed
    )?;
    for f in report.failures.iter().take(LISTED_FAILURES) {
        // One line per failure, however long the message.
        let message = f.message.replace('\n', " ");
        writeln!(out, "    {}:{}: {message}", f.line, f.col)?;
    }
    if report.failures.len() > LISTED_FAILURES {
        writeln!(
            out,
            "    ... and {} more",
            report.failures.len() - LISTED_FAILURES
        )?;
    }
    Ok(())
}

/// Runs one script in a fresh store: its directives in order, each counted as passed or failed.
/// Its modules may use every feature Kiln compiles.
pub fn run_file(path: &Path) -> FileReport {
    run_file_with(path, WasmFeatures::ALL)
}

/// [`run_file`] for modules that may use `features` only.
pub fn run_file_with(path: &Path, features: WasmFeatures) -> FileReport {
    run_file_with_options(path, &runner::options(features))
}

/// [`run_file`] with the script's modules compiled with `options`.
pub fn run_file_with_options(path: &Path, options: &CompileOptions) -> FileReport {
    let mut report = FileReport::default();
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) => {
            report.fail(0, 0, format!("cannot read {}: {e}", path.display()));
            return report;
        }
    };
    let mut lexer = Lexer::new(&text);
    // names.wast deliberately uses bidirectional-override characters in export names.
    lexer.allow_confusing_unicode(true);
    let lines = LineIndex::new(&text);
    let parse_failed = |mut report: FileReport, e: wast::Error| {
        let (line, col) = lines.locate(e.span().offset());
        report.fail(line, col, format!("script did not parse: {}", e.message()));
        report
    };
    let buf = match ParseBuffer::new_with_lexer(lexer) {
        Ok(buf) => buf,
        Err(e) => return parse_failed(report, e),
    };
    let wast = match parser::parse::<Wast>(&buf) {
        Ok(wast) => wast,
        Err(e) => return parse_failed(report, e),
    };
    let mut runner = match catch_unwind(|| Runner::new(options.clone())) {
        Ok(runner) => runner,
        Err(panic) => {
            let why = format!("runner setup panicked: {}", panic_message(&*panic));
            for d in &wast.directives {
                let (line, col) = lines.locate(d.span().offset());
                report.fail(line, col, why.clone());
            }
            return report;
        }
    };
    for directive in wast.directives {
        let (line, col) = lines.locate(directive.span().offset());
        match catch_unwind(AssertUnwindSafe(|| runner.run(directive))) {
            Ok(Ok(())) => report.passed += 1,
            Ok(Err(message)) => report.fail(line, col, message),
            Err(panic) => report.fail(line, col, format!("panicked: {}", panic_message(&*panic))),
        }
    }
    // Tearing down after a panic must not take the other files down with it.
    let _ = catch_unwind(AssertUnwindSafe(move || drop(runner)));
    report
}

/// Byte offsets of line starts, so that locating thousands of directives stays linear (wast's
/// `Span::linecol_in` rescans the text each time).
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        let starts = std::iter::once(0).chain(text.match_indices('\n').map(|(i, _)| i + 1));
        LineIndex(starts.collect())
    }

    /// 1-based line and column (in bytes) of `offset`.
    fn locate(&self, offset: usize) -> (usize, usize) {
        let line = self.0.partition_point(|&start| start <= offset).max(1);
        (line, offset - self.0[line - 1] + 1)
    }
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown payload".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    /// Writes `script` to a fresh temporary file, runs it and removes the file.
    fn run_script(script: &str) -> FileReport {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = std::env::temp_dir().join(format!(
            "kiln-wast-test-{}-{}.wast",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::write(&path, script).unwrap();
        let report = run_file(&path);
        std::fs::remove_file(&path).unwrap();
        report
    }

    #[test]
    fn modules_without_code() {
        let report = run_script(
            r#"(module $Mem (memory (export "mem") 1 2) (global (export "g") i32 (i32.const 42)))
(register "m" $Mem)
(module
  (import "m" "mem" (memory 1))
  (import "spectest" "global_i32" (global i32))
  (import "spectest" "table" (table 10 funcref))
  (import "spectest" "print_i32" (func (param i32))))
(assert_return (get $Mem "g") (i32.const 42))
(assert_return (get $Mem "g") (i32.const 43))
(assert_unlinkable (module (import "m" "missing" (memory 1))) "unknown import")
(assert_unlinkable (module (import "m" "mem" (memory 3))) "incompatible import type")
(assert_malformed (module quote "(memory") "unexpected end")
(assert_malformed (module binary "\00asm\02\00\00\00") "unknown binary version")
(assert_invalid (module (func (result i32))) "type mismatch")
(assert_trap (module (memory 0) (data (i32.const 1) "x")) "out of bounds memory access")
(assert_suspension (invoke "x") "suspended")
"#,
        );
        assert_eq!((report.passed, report.failed), (10, 2), "{report:#?}");
        assert_eq!(report.failures[0].line, 9);
        assert!(report.failures[0].message.contains("expected 43:i32"));
        assert_eq!(report.failures[1].line, 16);
        assert!(report.failures[1]
            .message
            .starts_with("unsupported directive"));
    }

    #[test]
    fn invocations() {
        let report = run_script(
            r#"(module
  (func (export "div") (param i32 i32) (result i32) (i32.div_u (local.get 0) (local.get 1)))
  (func (export "nan") (result f64) (f64.div (f64.const 0) (f64.const 0)))
  (func (export "id") (param externref) (result externref) (local.get 0))
  (func $rec (export "rec") (call $rec)))
(assert_return (invoke "div" (i32.const 7) (i32.const 2)) (i32.const 3))
(assert_trap (invoke "div" (i32.const 7) (i32.const 0)) "integer divide by zero")
(assert_return (invoke "nan") (f64.const nan:canonical))
(assert_return (invoke "id" (ref.extern 9)) (ref.extern 9))
(assert_exhaustion (invoke "rec") "call stack exhausted")
(assert_trap (invoke "div" (i32.const 7) (i32.const 1)) "integer divide by zero")
"#,
        );
        assert_eq!((report.passed, report.failed), (6, 1), "{report:#?}");
        assert_eq!(report.failures[0].line, 11);
    }

    #[test]
    fn line_index() {
        let lines = LineIndex::new("ab\ncd\n\nx");
        assert_eq!(lines.locate(0), (1, 1));
        assert_eq!(lines.locate(1), (1, 2));
        assert_eq!(lines.locate(3), (2, 1));
        assert_eq!(lines.locate(6), (3, 1));
        assert_eq!(lines.locate(7), (4, 1));
    }

    #[test]
    fn unreadable_and_unparsable_files_count_once() {
        let report = run_file(Path::new("/nonexistent/kiln/x.wast"));
        assert_eq!((report.passed, report.failed), (0, 1));
        let report = run_script("(module)\n(assert_return (invoke \"f\")");
        assert_eq!((report.passed, report.failed), (0, 1));
        assert!(report.failures[0].message.contains("did not parse"));
    }
}
