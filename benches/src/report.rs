//! The result table: one row per figure, Kiln against a baseline measured in the same run, and
//! against Wasmtime when it was measured too.

use std::fmt::Write as _;

/// What a row's numbers measure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// A duration in nanoseconds (lower is better).
    Nanos,
    /// A size in bytes (lower is better).
    Bytes,
    /// A throughput in bytes per second (higher is better).
    BytesPerSec,
    /// A plain ratio.
    Ratio,
    /// A number of things (fuel units, for example).
    Count,
}

/// The target a row is judged by, from the benchmark issue.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Target {
    /// Kiln ÷ baseline at most this.
    MaxVsBaseline(f64),
    /// Kiln ÷ Wasmtime at most this.
    MaxVsWasmtime(f64),
    /// Kiln ÷ Wasmtime at least this.
    MinVsWasmtime(f64),
    /// Kiln's value at most this (in the row's unit).
    MaxAbs(f64),
}

impl Target {
    fn describe(&self, unit: Unit) -> String {
        match *self {
            Target::MaxVsBaseline(x) => format!("≤ {x}× baseline"),
            Target::MaxVsWasmtime(x) => format!("≤ {x}× Wasmtime"),
            Target::MinVsWasmtime(x) => format!("≥ {x}× Wasmtime"),
            Target::MaxAbs(x) => format!("≤ {}", format_value(x, unit)),
        }
    }
}

/// One figure.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// Section title.
    pub section: &'static str,
    /// What was measured.
    pub name: String,
    /// Unit of `kiln`, the baseline and `wasmtime`.
    pub unit: Unit,
    /// Kiln's median.
    pub kiln: f64,
    /// The baseline's label and median.
    pub baseline: Option<(String, f64)>,
    /// Wasmtime's median, when measured.
    pub wasmtime: Option<f64>,
    /// The target, if the issue sets one.
    pub target: Option<Target>,
}

impl Row {
    /// A row without baseline, Wasmtime figure or target.
    pub fn new(section: &'static str, name: impl Into<String>, unit: Unit, kiln: f64) -> Row {
        Row {
            section,
            name: name.into(),
            unit,
            kiln,
            baseline: None,
            wasmtime: None,
            target: None,
        }
    }

    /// With a baseline.
    pub fn baseline(mut self, label: impl Into<String>, value: f64) -> Row {
        self.baseline = Some((label.into(), value));
        self
    }

    /// With Wasmtime's figure, if there is one.
    pub fn wasmtime(mut self, value: Option<f64>) -> Row {
        self.wasmtime = value;
        self
    }

    /// With a target.
    pub fn target(mut self, target: Target) -> Row {
        self.target = Some(target);
        self
    }

    /// Kiln ÷ baseline, when the baseline is meaningful (not about zero).
    pub fn vs_baseline(&self) -> Option<f64> {
        let (_, b) = self.baseline.as_ref()?;
        ratio(self.kiln, *b, self.unit)
    }

    /// Kiln ÷ Wasmtime.
    pub fn vs_wasmtime(&self) -> Option<f64> {
        ratio(self.kiln, self.wasmtime?, self.unit)
    }

    /// Whether the target is met; `None` without a target or without the figure it needs.
    pub fn met(&self) -> Option<bool> {
        Some(match self.target? {
            Target::MaxVsBaseline(x) => self.vs_baseline()? <= x,
            Target::MaxVsWasmtime(x) => self.vs_wasmtime()? <= x,
            Target::MinVsWasmtime(x) => self.vs_wasmtime()? >= x,
            Target::MaxAbs(x) => self.kiln <= x,
        })
    }
}

/// `a / b`, unless `b` is too small for the ratio to mean anything (memory figures near zero).
fn ratio(a: f64, b: f64, unit: Unit) -> Option<f64> {
    let tiny = match unit {
        Unit::Bytes => 1024.0,
        _ => f64::EPSILON,
    };
    (b.abs() >= tiny).then(|| a / b)
}

/// Formats a value with a readable unit.
pub fn format_value(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Nanos => {
            let a = v.abs();
            if a < 1e3 {
                format!("{v:.1} ns")
            } else if a < 1e6 {
                format!("{:.2} µs", v / 1e3)
            } else if a < 1e9 {
                format!("{:.2} ms", v / 1e6)
            } else {
                format!("{:.2} s", v / 1e9)
            }
        }
        Unit::Bytes => {
            let a = v.abs();
            if a < 1024.0 {
                format!("{v:.0} B")
            } else if a < 1024.0 * 1024.0 {
                format!("{:.1} KiB", v / 1024.0)
            } else if a < 1024.0 * 1024.0 * 1024.0 {
                format!("{:.2} MiB", v / (1024.0 * 1024.0))
            } else {
                format!("{:.2} GiB", v / (1024.0 * 1024.0 * 1024.0))
            }
        }
        Unit::BytesPerSec => format!("{:.2} MB/s", v / 1e6),
        Unit::Ratio => format!("{v:.2}"),
        Unit::Count => {
            let a = v.abs();
            if a < 1e3 {
                format!("{v:.0}")
            } else if a < 1e6 {
                format!("{:.2} k", v / 1e3)
            } else if a < 1e9 {
                format!("{:.2} M", v / 1e6)
            } else {
                format!("{:.2} G", v / 1e9)
            }
        }
    }
}

/// Everything a run measured.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Report {
    /// The rows, in order; consecutive rows with the same section form one table.
    pub rows: Vec<Row>,
    /// Remarks printed under the tables.
    pub notes: Vec<String>,
}

impl Report {
    /// The report as Markdown: a heading and a table per section, then the notes.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let mut section = "";
        for row in &self.rows {
            if row.section != section {
                section = row.section;
                let _ = writeln!(out, "\n### {section}\n");
                out.push_str(
                    "| benchmark | Kiln | baseline | Kiln ÷ baseline | Wasmtime | Kiln ÷ Wasmtime | target | met |\n",
                );
                out.push_str("|---|--:|--:|--:|--:|--:|---|:-:|\n");
            }
            let baseline = row.baseline.as_ref().map_or("—".to_string(), |(l, v)| {
                format!("{} ({l})", format_value(*v, row.unit))
            });
            let r = |x: Option<f64>| x.map_or("—".to_string(), |x| format!("{x:.2}×"));
            let met = match row.met() {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "—",
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} |",
                row.name,
                format_value(row.kiln, row.unit),
                baseline,
                r(row.vs_baseline()),
                row.wasmtime
                    .map_or("—".to_string(), |w| format_value(w, row.unit)),
                r(row.vs_wasmtime()),
                row.target.map_or("—".to_string(), |t| t.describe(row.unit)),
                met,
            );
        }
        if !self.notes.is_empty() {
            out.push('\n');
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }

    /// The rows whose target is missed.
    pub fn missed(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(|r| r.met() == Some(false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_and_ratios() {
        let row = Row::new("s", "load", Unit::Nanos, 2600.0)
            .baseline("floor", 2000.0)
            .target(Target::MaxVsBaseline(1.3));
        assert_eq!(row.vs_baseline(), Some(1.3));
        assert_eq!(row.met(), Some(true));
        let row = Row::new("s", "compile", Unit::BytesPerSec, 5e6)
            .wasmtime(Some(10e6))
            .target(Target::MinVsWasmtime(0.9));
        assert_eq!(row.met(), Some(false));
        let row =
            Row::new("s", "compile", Unit::BytesPerSec, 5e6).target(Target::MinVsWasmtime(0.9));
        assert_eq!(row.met(), None);
        let row = Row::new("s", "heap", Unit::Bytes, 100.0).baseline("floor", 3.0);
        assert_eq!(row.vs_baseline(), None, "no ratio against about nothing");
        assert!(Report {
            rows: vec![row],
            notes: vec![]
        }
        .markdown()
        .contains("| heap | 100 B | 3 B (floor) | — |"));
    }

    #[test]
    fn units() {
        assert_eq!(format_value(1500.0, Unit::Nanos), "1.50 µs");
        assert_eq!(format_value(4096.0, Unit::Bytes), "4.0 KiB");
        assert_eq!(format_value(2.5e6, Unit::BytesPerSec), "2.50 MB/s");
        assert_eq!(format_value(12_345_678.0, Unit::Count), "12.35 M");
    }
}
