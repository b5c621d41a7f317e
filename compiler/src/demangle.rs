//! Readable function names: Rust (legacy and v0) and C++ (Itanium) symbols are demangled when the
//! artifact's name table is written, so that trap backtraces, the API's frames, `kiln inspect`
//! and `kiln disasm` read them from the artifact and the loader links no demangler. The ELF
//! symbols keep the name section's names (`emit::symbols`), mangled as tools expect them
//! (`objdump -C`, `perf` and `gdb` demangle themselves).
//!
//! rustc links wasm with `--no-demangle`, so a Rust module's name section holds mangled names;
//! wasm-ld demangles C++ names by default, and a C++ module linked with `--no-demangle` (or by
//! another linker) has mangled ones.

use std::borrow::Cow;
use std::fmt::{self, Write};

/// The longest demangled name kept: a crafted symbol's templates can expand far beyond any real
/// name (libc++'s longest in tests/programs/wordfreq.wasm is about 3 KiB); past this the name
/// stays mangled, and demangling stops there instead of spending time and memory on it.
const MAX_DEMANGLED_LEN: usize = 16 * 1024;

/// How deep the C++ demangler may recurse, for its parse and its output alike (its default is
/// meant for names from real programs too; spelled out so that a deep crafted name stops early).
const CPP_RECURSION_LIMIT: u32 = 96;

/// `name` demangled if it is a Rust or C++ symbol, else `name` itself. Rust names lose their
/// hash suffix (`::h0123…`), as in Rust's own backtraces; C++ names keep their parameter types,
/// as wasm-ld writes them.
pub fn demangle(name: &str) -> Cow<'_, str> {
    let rust = name.starts_with("_R") || name.starts_with("_ZN") || name.starts_with("__ZN");
    if rust {
        if let Ok(symbol) = rustc_demangle::try_demangle(name) {
            if let Some(s) = bounded(|w| write!(w, "{symbol:#}")) {
                return Cow::Owned(s);
            }
        }
    }
    if name.starts_with("_Z") || name.starts_with("__Z") {
        let parse = cpp_demangle::ParseOptions::default().recursion_limit(CPP_RECURSION_LIMIT);
        if let Ok(symbol) = cpp_demangle::Symbol::new_with_options(name.as_bytes(), &parse) {
            let options =
                cpp_demangle::DemangleOptions::default().recursion_limit(CPP_RECURSION_LIMIT);
            if let Some(s) = bounded(|w| symbol.structured_demangle(w, &options)) {
                return Cow::Owned(s);
            }
        }
    }
    Cow::Borrowed(name)
}

/// What `write` writes, unless it fails or exceeds [`MAX_DEMANGLED_LEN`].
fn bounded(write: impl FnOnce(&mut Bounded) -> fmt::Result) -> Option<String> {
    let mut out = Bounded(String::new());
    write(&mut out).ok()?;
    (!out.0.is_empty()).then_some(out.0)
}

/// A string that refuses to grow past [`MAX_DEMANGLED_LEN`]: the writer's error stops the
/// demangler.
struct Bounded(String);

impl Write for Bounded {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        if self.0.len() + s.len() > MAX_DEMANGLED_LEN {
            return Err(fmt::Error);
        }
        self.0.push_str(s);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::demangle;

    #[test]
    fn rust_legacy_and_v0_names_lose_their_hashes() {
        assert_eq!(
            demangle("_ZN4trap6parser5parse17he7783d4d04fd1e47E"),
            "trap::parser::parse"
        );
        assert_eq!(
            demangle("_RNvNtNtCskeKoJ7FXLCT_4trap6parser5stack8overflow"),
            "trap::parser::stack::overflow"
        );
    }

    #[test]
    fn cpp_names_keep_their_parameters() {
        assert_eq!(demangle("_ZN5space3fooEibc"), "space::foo(int, bool, char)");
        assert_eq!(demangle("_Z3fooi"), "foo(int)");
    }

    #[test]
    fn other_names_are_left_alone() {
        for name in [
            "main",
            "_start",
            "fib",
            "Rfoo",
            "_Z",
            "_ZN",
            "_Rgarbage",
            "std::__2::basic_ostream<char>::flush()",
            "",
        ] {
            assert_eq!(demangle(name), name);
        }
    }

    #[test]
    fn a_name_that_expands_past_the_bound_stays_mangled() {
        // `f(A, A, ...)` with a 200-letter class `A` written once and then substituted (`S_`):
        // a short symbol whose demangled text grows with every parameter.
        let class = "A".repeat(200);
        let symbol = |params: usize| format!("_Z1f200{class}{}", "S_".repeat(params - 1));
        let short = symbol(10);
        assert_eq!(
            demangle(&short),
            format!("f({})", [class.as_str(); 10].join(", "))
        );
        let long = symbol(100);
        assert!(long.len() < 500);
        assert_eq!(demangle(&long), long);
    }
}
