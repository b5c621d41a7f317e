//! The stable driver: runs a target on inputs made from a seed (or on the files of a corpus) in a
//! worker process it supervises, so that a crash or a hang is caught, reported with the seed and
//! case number that reproduce it, and saved, and the run goes on.
//!
//! `kiln-fuzz diff --seed 1 --time 60s`, `kiln-fuzz artifact --iterations 100000`,
//! `kiln-fuzz compile --seed 7 --start 1234 --iterations 1` (reproduce one case),
//! `kiln-fuzz wasi --corpus fuzz/corpus/wasi` (replay).

#![forbid(unsafe_code)]

use anyhow::{bail, Context, Result};
use clap::Parser;
use kiln_fuzz::{case_input, Target};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[derive(Parser, Debug, Clone)]
#[command(
    about = "Runs a Kiln fuzz target from seeds or from a corpus, catching crashes and hangs"
)]
struct Args {
    /// The target.
    #[arg(value_enum)]
    target: Target,
    /// Cases to run (default: 1000, or unbounded with --time).
    #[arg(long)]
    iterations: Option<u64>,
    /// Stop after this long (e.g. `60s`, `2h`).
    #[arg(long, value_parser = humantime::parse_duration)]
    time: Option<Duration>,
    /// The seed the inputs are made from.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The first case number.
    #[arg(long, default_value_t = 0)]
    start: u64,
    /// Replay the files of this directory instead of generating inputs.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Where failing inputs are saved.
    #[arg(long, default_value = "target/fuzz-findings")]
    save: PathBuf,
    /// A case running longer than this is a hang.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    case_timeout: Duration,
    /// Stop at the first finding.
    #[arg(long)]
    stop_on_finding: bool,
    /// Print what the cases exercised (counters of each worker) at the end.
    #[arg(long)]
    stats: bool,
    /// Write the module of case `--start` (targets that generate modules) to this file, and exit.
    #[arg(long)]
    dump_wasm: Option<PathBuf>,
    /// Run the cases in this process (what the supervisor starts; a crash ends the run).
    #[arg(long, hide = true)]
    worker: bool,
}

/// Where a case's input comes from.
enum Inputs {
    Seed(u64),
    Corpus(Vec<PathBuf>),
}

impl Inputs {
    fn get(&self, target: Target, case: u64) -> Result<Vec<u8>> {
        match self {
            Inputs::Seed(seed) => Ok(case_input(target, *seed, case)),
            Inputs::Corpus(files) => {
                let path = &files[case as usize];
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))
            }
        }
    }

    fn describe(&self, case: u64) -> String {
        match self {
            Inputs::Seed(seed) => format!("seed {seed}, case {case}"),
            Inputs::Corpus(files) => format!("{}", files[case as usize].display()),
        }
    }
}

fn corpus_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

fn main() -> Result<()> {
    let args = Args::parse();
    let inputs = match &args.corpus {
        Some(dir) => Inputs::Corpus(corpus_files(dir)?),
        None => Inputs::Seed(args.seed),
    };
    let end = match (&inputs, args.iterations, args.time) {
        (Inputs::Corpus(files), _, _) => files.len() as u64,
        (_, Some(n), _) => args.start.saturating_add(n),
        (_, None, Some(_)) => u64::MAX,
        (_, None, None) => args.start + 1000,
    };
    if let Some(out) = &args.dump_wasm {
        let input = inputs.get(args.target, args.start)?;
        let wasm = args
            .target
            .module_of(&input)
            .context("this target's input is not a module")?;
        std::fs::write(out, wasm)?;
        return Ok(());
    }
    if args.worker {
        return kiln_fuzz::on_large_stack(|| worker(&args, &inputs, end));
    }
    supervise(&args, &inputs, end)
}

/// Runs cases `[start, end)` in this process, announcing each on stdout before it runs.
fn worker(args: &Args, inputs: &Inputs, end: u64) -> Result<()> {
    let mut out = std::io::stdout().lock();
    for case in args.start..end {
        let input = inputs.get(args.target, case)?;
        writeln!(out, "case {case}")?;
        out.flush()?;
        kiln_fuzz::stats::CURRENT_CASE.store(case, std::sync::atomic::Ordering::Relaxed);
        let target = args.target;
        let result = std::panic::catch_unwind(|| target.run(&input));
        match result {
            Ok(Ok(())) => {}
            Ok(Err(finding)) => writeln!(out, "finding {case} {}", one_line(&finding.to_string()))?,
            Err(panic) => {
                let msg = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                writeln!(out, "finding {case} panic: {}", one_line(&msg))?
            }
        }
    }
    if args.stats {
        eprintln!(
            "kiln-fuzz {}: {}",
            args.target.name(),
            kiln_fuzz::stats::summary()
        );
    }
    writeln!(out, "done")?;
    Ok(())
}

fn one_line(s: &str) -> String {
    s.replace('\n', " | ")
}

/// What the supervisor hears from its worker.
enum Event {
    Line(String),
    Exited,
}

/// Runs the cases in worker processes, restarting after each crash or hang.
fn supervise(args: &Args, inputs: &Inputs, end: u64) -> Result<()> {
    let started = Instant::now();
    let deadline = args.time.map(|t| started + t);
    let exe = std::env::current_exe()?;
    let (mut next, mut done, mut findings) = (args.start, 0u64, 0u64);
    let mut last_report = Instant::now();
    eprintln!(
        "kiln-fuzz {}: {} from {}",
        args.target.name(),
        match inputs {
            Inputs::Seed(s) => format!("seed {s}"),
            Inputs::Corpus(f) => format!("{} corpus files", f.len()),
        },
        next
    );
    'workers: while next < end && deadline.is_none_or(|d| Instant::now() < d) {
        let mut cmd = Command::new(&exe);
        cmd.arg(args.target.name())
            .args(["--worker", "--seed", &args.seed.to_string()])
            .args(["--start", &next.to_string()])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        match &args.corpus {
            Some(dir) => cmd.arg("--corpus").arg(dir),
            None => cmd.args(["--iterations", &(end - next).to_string()]),
        };
        if args.stats {
            cmd.arg("--stats");
        }
        let mut child = cmd.spawn().context("starting a worker")?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = mpsc::channel();
        let reader = std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(Event::Line(line)).is_err() {
                    return;
                }
            }
            // The pipe closed: the worker exited (or closed it); its status comes from `wait`.
            let _ = tx.send(Event::Exited);
        });
        let mut current: Option<u64> = None;
        loop {
            let wait = match deadline {
                Some(d) => args
                    .case_timeout
                    .min(d.saturating_duration_since(Instant::now())),
                None => args.case_timeout,
            };
            match rx.recv_timeout(wait.max(Duration::from_millis(10))) {
                Ok(Event::Line(line)) => {
                    if let Some(case) = line.strip_prefix("case ") {
                        if current.is_some() {
                            done += 1;
                        }
                        current = Some(case.parse()?);
                    } else if let Some(rest) = line.strip_prefix("finding ") {
                        let (case, what) = rest.split_once(' ').unwrap_or((rest, ""));
                        let case: u64 = case.parse()?;
                        findings += 1;
                        report(args, inputs, case, &format!("finding: {what}"))?;
                        if args.stop_on_finding {
                            let _ = child.kill();
                            break 'workers;
                        }
                    } else if line == "done" {
                        if current.take().is_some() {
                            done += 1;
                        }
                        let _ = child.wait();
                        next = end;
                        break;
                    }
                }
                Ok(Event::Exited) => {
                    let status = child.wait()?;
                    let Some(case) = current else {
                        bail!("the worker exited before its first case: {status}");
                    };
                    done += 1;
                    findings += 1;
                    report(
                        args,
                        inputs,
                        case,
                        &format!("crash: the worker died ({status})"),
                    )?;
                    if args.stop_on_finding {
                        break 'workers;
                    }
                    next = case + 1;
                    break;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break 'workers;
                    }
                    let case = current.unwrap_or(next);
                    done += 1;
                    findings += 1;
                    let t = humantime::format_duration(args.case_timeout);
                    report(args, inputs, case, &format!("hang: no progress in {t}"))?;
                    if args.stop_on_finding {
                        break 'workers;
                    }
                    next = case + 1;
                    break;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if last_report.elapsed() >= Duration::from_secs(10) {
                last_report = Instant::now();
                progress(args.target, done, findings, started);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let _ = child.kill();
                let _ = child.wait();
                break 'workers;
            }
        }
        let _ = reader.join();
    }
    progress(args.target, done, findings, started);
    if findings > 0 {
        bail!(
            "{findings} findings; inputs saved in {}",
            args.save.display()
        );
    }
    Ok(())
}

fn progress(target: Target, done: u64, findings: u64, started: Instant) {
    let secs = started.elapsed().as_secs_f64();
    eprintln!(
        "kiln-fuzz {}: {done} cases in {secs:.0} s ({:.0}/s), {findings} findings",
        target.name(),
        done as f64 / secs.max(1e-9)
    );
}

/// Prints a finding and saves its input.
fn report(args: &Args, inputs: &Inputs, case: u64, what: &str) -> Result<()> {
    std::fs::create_dir_all(&args.save)?;
    let name = match inputs {
        Inputs::Seed(seed) => format!("{}-seed{seed}-case{case}.bin", args.target.name()),
        Inputs::Corpus(files) => format!(
            "{}-{}",
            args.target.name(),
            files[case as usize]
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
        ),
    };
    let path = args.save.join(name);
    std::fs::write(&path, inputs.get(args.target, case)?)?;
    eprintln!(
        "kiln-fuzz {}: {} — {what}\n  input saved to {}; reproduce with `kiln-fuzz {} --seed {} --start {case} --iterations 1`",
        args.target.name(),
        inputs.describe(case),
        path.display(),
        args.target.name(),
        args.seed,
    );
    Ok(())
}
