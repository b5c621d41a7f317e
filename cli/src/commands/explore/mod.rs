//! `kiln explore`: one self-contained HTML page that shows a module's wasm text beside the
//! machine code Kiln compiles it to, lines linked through the artifact's address map, with a
//! per-function size table and the artifact's sections drawn to scale (after `wasmtime explore`).

mod html;
mod sections;
mod wasm_text;

use super::compile::{read_module, write_atomically, CodeArgs};
use super::machine_code::{self, FunctionCode};
use anyhow::{anyhow, bail, Context, Result};
use kiln_compiler::CompileOptions;
use kiln_format::ArtifactView;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Options of `kiln explore`.
#[derive(clap::Args)]
pub struct Args {
    /// The module: a .wasm binary or .wat text, compiled in memory.
    input: PathBuf,
    /// The HTML page to write. Default: the input's name with `.explore.html`.
    #[arg(short, long)]
    output: Option<PathBuf>,
    /// The code's options, as for `kiln compile`.
    #[command(flatten)]
    code: CodeArgs,
}

/// One defined function: its wasm text and its machine code.
struct Function {
    code: FunctionCode,
    wasm: wasm_text::FunctionText,
}

/// Everything the page shows.
struct Page {
    /// The input's file name.
    title: String,
    /// The artifact's target triple.
    target: String,
    /// The version of Kiln that compiled it.
    kiln_version: String,
    /// The wasm module's size in bytes.
    wasm_size: usize,
    /// The artifact's size in bytes.
    artifact_size: usize,
    /// The artifact file, part by part.
    parts: Vec<sections::Part>,
    functions: Vec<Function>,
    /// The module's text outside its functions.
    rest: Vec<wasm_text::Line>,
}

/// The default output: `dir/app.wasm` -> `dir/app.explore.html`.
fn default_output(input: &Path) -> PathBuf {
    let stem = input.file_stem().unwrap_or(input.as_os_str());
    let mut name = stem.to_os_string();
    name.push(".explore.html");
    input.with_file_name(name)
}

/// Compiles `wasm` and gathers what the page shows.
fn page(title: String, wasm: &[u8], options: &CompileOptions) -> Result<Page> {
    let artifact = kiln_compiler::compile(wasm, options).context("compilation failed")?;
    let view = ArtifactView::parse(&artifact).context("reading the compiled artifact")?;
    let text = wasm_text::module_text(wasm)?;
    let code = machine_code::functions(&view, None)?;
    if code.len() != text.functions.len() {
        bail!(
            "the artifact has {} functions, the module {}",
            code.len(),
            text.functions.len()
        );
    }
    let functions = code
        .into_iter()
        .zip(text.functions)
        .map(|(code, wasm)| Function { code, wasm })
        .collect();
    let header = view.header();
    Ok(Page {
        title,
        target: header.triple_str().to_string(),
        kiln_version: header.kiln_version_str().to_string(),
        wasm_size: wasm.len(),
        artifact_size: artifact.len(),
        parts: sections::parts(&artifact)?,
        functions,
        rest: text.rest,
    })
}

/// Runs `kiln explore`.
pub fn run(args: Args) -> Result<ExitCode> {
    let options = args.code.options()?;
    let wasm = read_module(&args.input).map_err(|e| {
        // The page needs the wasm: an artifact does not carry it.
        match std::fs::read(&args.input) {
            Ok(bytes) if bytes.starts_with(b"\x7fELF") => anyhow!(
                "{}: a Kiln artifact; kiln explore takes the .wasm or .wat it was compiled from",
                args.input.display()
            ),
            _ => e,
        }
    })?;
    let title = args
        .input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let page = page(title, &wasm, &options).with_context(|| args.input.display().to_string())?;
    let output = args.output.unwrap_or_else(|| default_output(&args.input));
    write_atomically(&output, html::render(&page).as_bytes())?;
    Ok(ExitCode::SUCCESS)
}
