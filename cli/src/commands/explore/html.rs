//! The page: HTML with its CSS and JavaScript inline, so that it works from a file, offline.

use super::sections::Part;
use super::{wasm_text::Line, Function, Page};
use std::collections::BTreeSet;
use std::fmt::Write as _;

const CSS: &str = include_str!("page.css");
const ERRORS_JS: &str = include_str!("errors.js");
const PAGE_JS: &str = include_str!("page.js");

/// `s` as HTML text or a quoted attribute value: names come from the module and may hold
/// markup.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The CSS class of a part of the file, for its colour.
fn part_class(part: &Part) -> &'static str {
    match part.name.as_str() {
        "padding" if !part.section => "p-gap",
        _ if !part.section => "p-elf",
        ".text" => "p-text",
        ".kiln.meta" => "p-meta",
        ".kiln.data" => "p-data",
        ".eh_frame" => "p-eh",
        _ => "p-other",
    }
}

/// `part / whole` in percent, as CSS wants it.
fn percent(part: u64, whole: u64) -> String {
    format!("{:.4}", part as f64 * 100.0 / whole.max(1) as f64)
}

fn sections(out: &mut String, page: &Page) {
    let total = page.artifact_size as u64;
    out.push_str("<h2 id=\"sections\">Artifact sections, to scale</h2>\n<div class=\"bar\">");
    for part in &page.parts {
        let name = escape(&part.name);
        let _ = write!(
            out,
            "<div class=\"part {}\" style=\"width:{}%\" title=\"{name}: {} bytes at 0x{:x}\">{name}</div>",
            part_class(part),
            percent(part.size, total),
            part.size,
            part.offset,
        );
    }
    out.push_str("</div>\n<table class=\"parts\"><thead><tr><th>offset</th><th>part</th><th>bytes</th><th>%</th></tr></thead><tbody>\n");
    for part in &page.parts {
        let _ = writeln!(
            out,
            "<tr><td>0x{:x}</td><td>{}</td><td>{}</td><td>{:.1}</td></tr>",
            part.offset,
            escape(&part.name),
            part.size,
            part.size as f64 * 100.0 / total.max(1) as f64,
        );
    }
    out.push_str("</tbody></table>\n");
}

fn size_table(out: &mut String, page: &Page) {
    let mut order: Vec<&Function> = page.functions.iter().collect();
    order.sort_by_key(|f| (std::cmp::Reverse(f.code.size), f.code.index));
    out.push_str("<h2 id=\"sizes\">Functions by size</h2>\n<table class=\"sizes\"><thead><tr><th>index</th><th>function</th><th>wasm bytes</th><th>machine bytes</th><th>instructions</th><th>machine / wasm</th></tr></thead><tbody>\n");
    for f in &order {
        let wasm = f.wasm.size();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td><a href=\"#f{}\">{}</a></td><td>{wasm}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            f.code.index,
            f.code.index,
            escape(&f.code.name),
            f.code.size,
            f.code.instructions.len(),
            f64::from(f.code.size) / wasm.max(1) as f64,
        );
    }
    let wasm: u64 = page.functions.iter().map(|f| f.wasm.size()).sum();
    let machine: u64 = page.functions.iter().map(|f| u64::from(f.code.size)).sum();
    let insns: usize = page
        .functions
        .iter()
        .map(|f| f.code.instructions.len())
        .sum();
    let _ = writeln!(
        out,
        "</tbody><tfoot><tr><th></th><th>{} functions</th><th>{wasm}</th><th>{machine}</th><th>{insns}</th><th>{:.2}</th></tr></tfoot></table>",
        page.functions.len(),
        machine as f64 / wasm.max(1) as f64,
    );
}

/// A wasm line; `linked` holds the offsets that machine code maps to.
fn wasm_line(out: &mut String, line: &Line, linked: Option<&BTreeSet<u32>>) {
    let text = escape(&line.text);
    match (line.offset, linked) {
        (Some(w), Some(linked)) => {
            let class = if linked.contains(&w) { "w x" } else { "w" };
            let _ = writeln!(
                out,
                "<div class=\"{class}\" data-w=\"{w}\"><span class=\"off\">{w:06x}</span>{text}</div>"
            );
        }
        (Some(w), None) => {
            let _ = writeln!(out, "<div><span class=\"off\">{w:06x}</span>{text}</div>");
        }
        (None, _) => {
            let _ = writeln!(
                out,
                "<div class=\"w\"><span class=\"off\"></span>{text}</div>"
            );
        }
    }
}

fn function(out: &mut String, f: &Function) {
    let code = &f.code;
    let _ = writeln!(
        out,
        "<section class=\"func\" id=\"f{}\"><h3>{} <small>function {}: {} wasm bytes, {} machine bytes at 0x{:x}</small></h3>\n<div class=\"cols\"><div class=\"wasm\">",
        code.index,
        escape(&code.name),
        code.index,
        f.wasm.size(),
        code.size,
        code.address,
    );
    let linked: BTreeSet<u32> = code.instructions.iter().filter_map(|i| i.wasm).collect();
    for line in &f.wasm.lines {
        wasm_line(out, line, Some(&linked));
    }
    out.push_str("</div><div class=\"asm\">\n");
    for insn in &code.instructions {
        let _ = match insn.wasm {
            Some(w) => write!(
                out,
                "<div class=\"m\" data-w=\"{w}\" data-a=\"{:x}\">",
                insn.address
            ),
            None => write!(out, "<div class=\"m\" data-a=\"{:x}\">", insn.address),
        };
        let _ = write!(
            out,
            "<span class=\"off\">{:8x}</span>{:<8} {}",
            insn.address,
            escape(&insn.mnemonic),
            escape(&insn.operands)
        );
        if let Some(kind) = insn.trap {
            let _ = write!(
                out,
                "<span class=\"note\">  ; trap: {}</span>",
                escape(&kind.to_string())
            );
        }
        out.push_str("</div>\n");
    }
    out.push_str("</div></div></section>\n");
}

/// The whole page.
pub fn render(page: &Page) -> String {
    let mut out = String::new();
    let title = escape(&page.title);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>kiln explore: {title}</title>\n<style>\n{CSS}</style>\n<script>\n{ERRORS_JS}</script>\n</head>\n<body>\n<div id=\"kiln-errors\"></div>\n<div id=\"kiln-selftest\" hidden></div>\n<header><h1>{title}</h1>\n<p>{} bytes of wasm; a {}-byte artifact for {} by Kiln {}.</p>\n<nav><a href=\"#sections\">sections</a><a href=\"#sizes\">sizes</a><a href=\"#code\">code</a></nav></header>\n",
        page.wasm_size,
        page.artifact_size,
        escape(&page.target),
        escape(&page.kiln_version),
    );
    sections(&mut out, page);
    size_table(&mut out, page);
    out.push_str("<h2 id=\"code\">Code</h2>\n<p>Click a wasm instruction to highlight its machine code, or a machine instruction for the wasm it comes from.</p>\n");
    for f in &page.functions {
        function(&mut out, f);
    }
    out.push_str("<details><summary>The rest of the module (types, imports, exports, data, …)</summary>\n<div class=\"wasm\">\n");
    for line in &page.rest {
        wasm_line(&mut out, line, None);
    }
    let _ = write!(
        out,
        "</div></details>\n<script>\n{PAGE_JS}</script>\n</body>\n</html>\n"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape(r#"</script><b id="x" class='y'>&amp"#),
            "&lt;/script&gt;&lt;b id=&quot;x&quot; class=&#39;y&#39;&gt;&amp;amp"
        );
    }
}
