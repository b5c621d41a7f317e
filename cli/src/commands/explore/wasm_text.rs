//! The wasm text of a module, cut into its functions by the binary offsets of the lines.

use anyhow::{Context, Result};
use std::ops::Range;

/// One line of wasm text.
pub struct Line {
    /// The module offset of what the line shows (an instruction, a header), if it has one.
    pub offset: Option<u32>,
    /// The text, without its newline.
    pub text: String,
}

/// The text of a defined function.
pub struct FunctionText {
    /// Its body's bytes in the module.
    pub body: Range<u64>,
    /// Its lines, from `(func` on.
    pub lines: Vec<Line>,
}

impl FunctionText {
    /// Its body's size in bytes.
    pub fn size(&self) -> u64 {
        self.body.end - self.body.start
    }
}

/// A module's text, function by function.
pub struct ModuleText {
    /// The defined functions, in index order.
    pub functions: Vec<FunctionText>,
    /// Every other line (types, imports, exports, data, ...), in order.
    pub rest: Vec<Line>,
}

/// The function bodies of `wasm`, in index order.
fn bodies(wasm: &[u8]) -> Result<Vec<Range<u64>>> {
    let mut bodies = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        if let wasmparser::Payload::CodeSectionEntry(body) = payload? {
            bodies.push(body.range());
        }
    }
    Ok(bodies)
}

/// Prints `wasm` (already validated) and cuts the text into its functions.
pub fn module_text(wasm: &[u8]) -> Result<ModuleText> {
    let bodies = bodies(wasm)?;
    let mut functions: Vec<FunctionText> = bodies
        .iter()
        .map(|b| FunctionText {
            body: b.clone(),
            lines: Vec::new(),
        })
        .collect();
    let mut rest = Vec::new();
    let mut storage = String::new();
    let lines = wasmprinter::Config::new()
        .offsets_and_lines(wasm, &mut storage)
        .context("printing the wasm text")?;
    // A line without an offset continues what the line before it shows.
    let mut owner = None;
    for (offset, text) in lines {
        if let Some(offset) = offset {
            let i = bodies.partition_point(|b| b.start <= offset);
            owner = i.checked_sub(1).filter(|&i| bodies[i].contains(&offset));
        }
        let line = Line {
            offset: offset.and_then(|o| u32::try_from(o).ok()),
            text: text.trim_end_matches('\n').to_string(),
        };
        match owner {
            Some(i) => functions[i].lines.push(line),
            None => rest.push(line),
        }
    }
    Ok(ModuleText { functions, rest })
}
