//! `kiln explore`: the page it writes, loaded in a real headless browser (Debian's `chromium`),
//! clicked through its self-test hook, and checked against the artifact's own address map.

mod common;

use common::{kiln, text};
use kiln_format::ArtifactView;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn program(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/programs")
        .join(name)
}

/// A small module whose names carry markup: the page must show them as text.
const SMALL: &str = r#"(module
  (memory 1)
  (func $</script><b/id=pwn>&amp (export "add<i>") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add)
  (func $load (export "load") (param i32) (result i32)
    local.get 0
    i32.load)
  (func $sum (export "sum") (param i32) (result i32) (local i32)
    block
      loop
        local.get 0
        i32.eqz
        br_if 1
        local.get 1
        local.get 0
        i32.add
        local.set 1
        local.get 0
        i32.const 1
        i32.sub
        local.set 0
        br 0
      end
    end
    local.get 1))
"#;

/// The browser, if this machine has one.
fn chromium() -> Option<&'static str> {
    let ok = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then_some("chromium")
}

/// Loads `page` with `fragment` in headless chromium and returns the DOM after its scripts ran.
fn dump_dom(browser: &str, page: &Path, fragment: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let dom = dir.path().join("dom.html");
    let url = format!(
        "file://{}#{fragment}",
        page.canonicalize().unwrap().display()
    );
    // The DOM goes to a file: a pipe could fill up while we wait for the browser.
    let mut child = Command::new(browser)
        .args(["--headless", "--disable-gpu", "--no-sandbox", "--dump-dom"])
        .arg(format!(
            "--user-data-dir={}",
            dir.path().join("profile").display()
        ))
        .arg(&url)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&dom).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromium starts");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "chromium failed on {url}: {status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish with {url}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    std::fs::read_to_string(&dom).unwrap()
}

/// The attribute `name` of the element that starts with `open` in `html`.
fn attribute(html: &str, open: &str, name: &str) -> Option<String> {
    let start = html.find(open)?;
    let tag = &html[start..start + html[start..].find('>')?];
    let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(tag[at..at + tag[at..].find('"')?].to_string())
}

/// What the address map says: for each instruction `kiln disasm` lists, the wasm offset of the
/// entry that covers it, if that entry lies in the instruction's own function.
struct Map {
    /// (address, wasm offset) of every instruction, in order.
    insns: Vec<(u64, Option<u32>)>,
}

impl Map {
    fn of(artifact: &Path) -> Map {
        let bytes = std::fs::read(artifact).unwrap();
        let view = ArtifactView::parse(&bytes).unwrap();
        let text_at = view.header().text.offset.get();
        let out = kiln(&["disasm", artifact.to_str().unwrap()]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let insns = text(&out.stdout)
            .lines()
            .filter_map(|l| {
                let (addr, _) = l.trim_start().split_once(':')?;
                let addr = u64::from_str_radix(addr, 16).ok()?;
                let offset = (addr - text_at) as u32;
                let (_, f) = view.function_at(offset).expect("in a function");
                let wasm = view
                    .wasm_offset_at(offset)
                    .filter(|&w| w >= f.wasm_offset.get());
                Some((addr, wasm))
            })
            .collect::<Vec<_>>();
        assert!(!insns.is_empty());
        Map { insns }
    }

    /// The addresses (hex, as the page writes them) of the code compiled from wasm offset `w`.
    fn code_of(&self, w: u32) -> String {
        let addrs: Vec<String> = self
            .insns
            .iter()
            .filter(|(_, wasm)| *wasm == Some(w))
            .map(|(a, _)| format!("{a:x}"))
            .collect();
        addrs.join(" ")
    }

    fn wasm_at(&self, addr: u64) -> u32 {
        let (_, w) = self.insns.iter().find(|(a, _)| *a == addr).unwrap();
        w.expect("the clicked instruction is linked")
    }
}

/// Writes the page for `input` and the artifact `kiln compile` makes of it with the same
/// (default) options.
fn explore(input: &Path, dir: &Path) -> (PathBuf, PathBuf, String) {
    let page = dir.join("page.html");
    let artifact = dir.join("module.kiln");
    let out = kiln(&[
        "explore",
        input.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = kiln(&[
        "compile",
        input.to_str().unwrap(),
        "-o",
        artifact.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(&page).unwrap();
    (page, artifact, html)
}

/// Checks the parts drawn to scale: contiguous, covering the whole artifact, `.text` as large
/// as the header says.
fn check_sections(html: &str, artifact: &Path) {
    let bytes = std::fs::read(artifact).unwrap();
    let view = ArtifactView::parse(&bytes).unwrap();
    let bar = &html[html.find("<div class=\"bar\">").unwrap()..];
    let bar = &bar[..bar.find("</div>\n").unwrap()];
    let mut at = 0u64;
    let mut text_size = None;
    for part in bar.split("<div class=\"part ").skip(1) {
        let title = attribute(part, "", "title").unwrap();
        let (name, rest) = title.rsplit_once(": ").unwrap();
        let (size, offset) = rest.split_once(" bytes at 0x").unwrap();
        let (size, offset): (u64, u64) = (
            size.parse().unwrap(),
            u64::from_str_radix(offset, 16).unwrap(),
        );
        assert_eq!(offset, at, "parts are contiguous: {title}");
        at += size;
        if name == ".text" {
            text_size = Some(size);
        }
    }
    assert_eq!(at, bytes.len() as u64, "the parts cover the file");
    assert_eq!(text_size, Some(view.header().text.size.get()));
}

/// Runs the page's self-test in chromium and checks each highlight against the address map.
fn check_clicks(browser: &str, page: &Path, map: &Map) {
    let dom = dump_dom(browser, page, "selftest");
    assert!(
        !dom.contains("class=\"js-error\""),
        "JavaScript errors: {dom}"
    );
    let get = |name: &str| attribute(&dom, "<div id=\"kiln-selftest\"", name);
    assert_eq!(get("data-status").as_deref(), Some("done"), "self-test ran");

    let clicked: u32 = get("data-wasm-clicked").unwrap().parse().unwrap();
    let lit = get("data-asm-lit").unwrap();
    assert!(
        !lit.is_empty(),
        "clicking wasm 0x{clicked:x} lit machine code"
    );
    assert_eq!(
        lit,
        map.code_of(clicked),
        "machine code of wasm 0x{clicked:x}"
    );
    assert_eq!(get("data-wasm-lit").unwrap(), clicked.to_string());

    let back = u64::from_str_radix(&get("data-asm-clicked").unwrap(), 16).unwrap();
    let w = map.wasm_at(back);
    assert_eq!(get("data-back-wasm-lit").unwrap(), w.to_string());
    assert_eq!(get("data-back-asm-lit").unwrap(), map.code_of(w));
}

#[test]
fn a_small_module_page_links_wasm_and_machine_code_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let wat = dir.path().join("small.wat");
    std::fs::write(&wat, SMALL).unwrap();
    let (page, artifact, html) = explore(&wat, dir.path());

    // Names are text, never markup.
    assert!(!html.contains("<b/id=pwn>"), "a name was written as markup");
    assert!(
        html.contains("&lt;/script&gt;&lt;b/id=pwn&gt;&amp;amp"),
        "{html}"
    );
    assert!(html.contains("add&lt;i&gt;"));
    // Self-contained: nothing is fetched.
    for fetch in ["src=", "href=\"http", "@import", "url("] {
        assert!(!html.contains(fetch), "the page refers to {fetch}");
    }
    // One row per function in the size table, largest first.
    let sizes = &html[html.find("<table class=\"sizes\">").unwrap()..];
    let sizes = &sizes[..sizes.find("</tbody>").unwrap()];
    let rows: Vec<u32> = sizes
        .split("<tr><td>")
        .skip(1)
        .map(|row| row.split("</td><td>").nth(3).unwrap().parse().unwrap())
        .collect();
    assert_eq!(rows.len(), 3);
    assert!(rows.windows(2).all(|w| w[0] >= w[1]), "{rows:?}");
    check_sections(&html, &artifact);

    // The same input gives the same page.
    let again = dir.path().join("again.html");
    let out = kiln(&[
        "explore",
        wat.to_str().unwrap(),
        "-o",
        again.to_str().unwrap(),
    ]);
    assert!(out.status.success());
    assert_eq!(std::fs::read(&again).unwrap(), html.as_bytes());

    let Some(browser) = chromium() else {
        println!("skipping the browser checks: chromium is not installed");
        return;
    };
    let map = Map::of(&artifact);
    check_clicks(browser, &page, &map);
    let dom = dump_dom(browser, &page, "");
    assert!(!dom.contains("id=\"pwn\""), "a name became an element");
    assert!(!dom.contains("class=\"js-error\""), "{dom}");
    // The error hook works: a deliberate error shows in the page.
    let dom = dump_dom(browser, &page, "selftest-throw");
    assert!(
        dom.contains("class=\"js-error\"") && dom.contains("self-test error"),
        "{dom}"
    );
}

#[test]
fn a_real_program_page_links_wasm_and_machine_code_in_a_browser() {
    let dir = tempfile::tempdir().unwrap();
    let (page, artifact, html) = explore(&program("zlib.wasm"), dir.path());
    check_sections(&html, &artifact);
    let bytes = std::fs::read(&artifact).unwrap();
    let view = ArtifactView::parse(&bytes).unwrap();
    let functions = view.functions().len();
    assert!(functions > 50);
    assert_eq!(html.matches("<section class=\"func\"").count(), functions);
    let sizes = &html[html.find("<table class=\"sizes\">").unwrap()..];
    let sizes = &sizes[..sizes.find("</tbody>").unwrap()];
    assert_eq!(sizes.matches("<tr><td>").count(), functions);

    let Some(browser) = chromium() else {
        println!("skipping the browser checks: chromium is not installed");
        return;
    };
    check_clicks(browser, &page, &Map::of(&artifact));
}

/// Asserts a failure with a one-line error naming `what`, and no panic.
fn assert_clean_failure(out: &Output, what: &str) {
    let err = text(&out.stderr);
    assert!(!out.status.success(), "expected failure, stderr: {err}");
    assert!(err.contains(what), "error should mention `{what}`: {err}");
    assert_eq!(err.lines().count(), 1, "one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn bad_input_gives_a_one_line_error() {
    let dir = tempfile::tempdir().unwrap();
    let o = dir.path().join("o.html");
    let o = o.to_str().unwrap();
    assert_clean_failure(
        &kiln(&["explore", "/nonexistent/app.wasm", "-o", o]),
        "/nonexistent/app.wasm",
    );
    let junk = dir.path().join("junk.wasm");
    std::fs::write(&junk, b"\0asm\x01\0\0\0\x99garbage").unwrap();
    assert_clean_failure(
        &kiln(&["explore", junk.to_str().unwrap(), "-o", o]),
        "junk.wasm",
    );
    let invalid = dir.path().join("invalid.wat");
    std::fs::write(&invalid, "(module (func (result i32) (i64.const 1)))").unwrap();
    assert_clean_failure(
        &kiln(&["explore", invalid.to_str().unwrap(), "-o", o]),
        "invalid.wat",
    );
    let wat = dir.path().join("ok.wat");
    std::fs::write(&wat, SMALL).unwrap();
    let art = dir.path().join("ok.kiln");
    assert!(kiln(&[
        "compile",
        wat.to_str().unwrap(),
        "-o",
        art.to_str().unwrap()
    ])
    .status
    .success());
    assert_clean_failure(
        &kiln(&["explore", art.to_str().unwrap(), "-o", o]),
        "a Kiln artifact",
    );
    assert_clean_failure(
        &kiln(&[
            "explore",
            wat.to_str().unwrap(),
            "-o",
            "/nonexistent/dir/o.html",
        ]),
        "/nonexistent/dir",
    );
    assert!(!Path::new(o).exists(), "no page for bad input");
}

/// The machine code the page (and `kiln disasm`) shows is complete: decoding goes on past the
/// jump tables and constants Cranelift puts among the instructions, so that every place the
/// artifact's tables name is the start of a listed instruction, and every jump-table entry
/// points at one.
#[test]
fn machine_code_is_decoded_past_jump_tables_and_constants() {
    let dir = tempfile::tempdir().unwrap();
    let artifact = dir.path().join("zlib.kiln");
    let out = kiln(&[
        "compile",
        program("zlib.wasm").to_str().unwrap(),
        "-o",
        artifact.to_str().unwrap(),
        "--target",
        "x86_64",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = kiln(&["disasm", artifact.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let listing = text(&out.stdout);
    let mut insns = std::collections::BTreeSet::new();
    let mut targets = Vec::new();
    for line in listing.lines() {
        let Some((addr, rest)) = line.trim_start().split_once(":  ") else {
            continue;
        };
        let Ok(addr) = u64::from_str_radix(addr, 16) else {
            continue;
        };
        if let Some(entry) = rest.strip_prefix(".long") {
            let target = entry.split("-> ").nth(1).unwrap();
            targets.push(u64::from_str_radix(target.trim(), 16).unwrap());
        } else if !rest.starts_with(".byte") {
            insns.insert(addr);
        }
    }
    assert!(
        !targets.is_empty(),
        "zlib's switches compile to jump tables"
    );
    for t in &targets {
        assert!(
            insns.contains(t),
            "jump-table target {t:x} is an instruction"
        );
    }
    let bytes = std::fs::read(&artifact).unwrap();
    let view = ArtifactView::parse(&bytes).unwrap();
    let text_at = view.header().text.offset.get();
    let functions = view.functions();
    let in_function = |o: u32| {
        functions
            .iter()
            .any(|f| (f.code_offset.get()..f.code_offset.get() + f.code_len.get()).contains(&o))
    };
    let named = view
        .address_map()
        .iter()
        .map(|e| e.code_offset)
        .chain(view.traps().iter().map(|t| t.code_offset))
        .filter(|&o| in_function(o));
    let mut count = 0;
    for o in named {
        assert!(
            insns.contains(&(text_at + u64::from(o))),
            "0x{:x} starts an instruction",
            text_at + u64::from(o)
        );
        count += 1;
    }
    assert!(count > 10_000, "{count}");
}
