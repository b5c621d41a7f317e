//! Fuel metering and epoch interruption: the header records them, the whole spec suite compiles
//! with them, uninstrumented artifacts do not change, and the translated code charges fuel,
//! saves and reloads state around calls, and checks at function entries and loop headers.
//! (Running instrumented code is the loader's tests' business.)

mod common;

use common::*;
use cranelift_codegen::ir::{types, InstructionData, Opcode};
use kiln_compiler::trap_codes::trap_code;
use kiln_format::header::{FLAG_EPOCH_INTERRUPTION, FLAG_FUEL};
use kiln_format::vmctx::{STORE_EPOCH_DEADLINE, STORE_FUEL_CONSUMED};
use kiln_format::{Arch, ArtifactView, TrapKind};

/// Each combination of the two options, as `(fuel, epoch_interruption)`.
const COMBINATIONS: [(bool, bool); 4] =
    [(false, false), (true, false), (false, true), (true, true)];

fn options(arch: Arch, fuel: bool, epoch_interruption: bool) -> CompileOptions {
    CompileOptions {
        target: Some(arch),
        threads: Some(1),
        fuel,
        epoch_interruption,
        ..CompileOptions::default()
    }
}

/// A module with a loop, direct, imported and indirect calls, a builtin and `unreachable`.
const SAMPLE: &str = r#"(module
  (import "host" "f" (func $host (param i32)))
  (memory 1)
  (table 1 funcref)
  (type $v (func))
  (func $leaf)
  (func (export "run") (param i32) (result i32) (local i32)
    (loop $l
      (local.set 1 (i32.add (local.get 1) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get 1) (local.get 0))))
    (call $leaf)
    (call $host (local.get 1))
    (call_indirect (type $v) (i32.const 0))
    (drop (memory.grow (i32.const 1)))
    (if (i32.eqz (local.get 0)) (then (unreachable)))
    (local.get 1)))"#;

#[test]
fn header_and_trap_table_record_the_instrumentation() {
    let wasm = wat::parse_str(SAMPLE).unwrap();
    for arch in [Arch::X86_64, Arch::Aarch64] {
        for (fuel, epochs) in COMBINATIONS {
            let artifact = kiln_compiler::compile(&wasm, &options(arch, fuel, epochs)).unwrap();
            let view = ArtifactView::parse(&artifact).unwrap();
            let flags = view.header().flags.get();
            assert_eq!(
                flags & FLAG_FUEL != 0,
                fuel,
                "{arch:?} fuel={fuel} epochs={epochs}"
            );
            assert_eq!(
                flags & FLAG_EPOCH_INTERRUPTION != 0,
                epochs,
                "{arch:?} fuel={fuel} epochs={epochs}"
            );
            let has_trap = |kind: TrapKind| view.traps().iter().any(|t| t.value == kind as u32);
            assert_eq!(has_trap(TrapKind::OutOfFuel), fuel, "{arch:?} OutOfFuel");
            assert_eq!(has_trap(TrapKind::Interrupt), epochs, "{arch:?} Interrupt");
        }
    }
}

/// With both options off the artifact is the default one, and each option changes the code.
/// (That it is also byte-identical to the compiler's output before instrumentation existed was
/// checked when it was added, over the whole spec suite.)
#[test]
fn uninstrumented_artifacts_are_unchanged() {
    let wasm = wat::parse_str(SAMPLE).unwrap();
    for arch in [Arch::X86_64, Arch::Aarch64] {
        let default = CompileOptions {
            target: Some(arch),
            ..CompileOptions::default()
        };
        let baseline = kiln_compiler::compile(&wasm, &default).unwrap();
        let text_len = |artifact: &[u8]| ArtifactView::parse(artifact).unwrap().text_range().len();
        for (fuel, epochs) in COMBINATIONS {
            let artifact = kiln_compiler::compile(&wasm, &options(arch, fuel, epochs)).unwrap();
            if fuel || epochs {
                assert!(
                    text_len(&artifact) > text_len(&baseline),
                    "{arch:?} fuel={fuel} epochs={epochs}: no instrumentation code"
                );
            } else {
                assert!(
                    artifact == baseline,
                    "{arch:?}: options off change the artifact"
                );
            }
        }
    }
}

/// Every module of the wasm-2.0 spec suite (SIMD included) compiles for x86_64 and aarch64 with
/// each instrumentation, with the verifier on in debug builds, and its translated code keeps the
/// invariants [`check_invariants`] checks.
#[test]
fn spec_suite_compiles_instrumented() {
    let dir = testsuite_dir();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "wast"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .wast files in {}", dir.display());
    let isas = target_isas();
    let (_, x86_64) = isas
        .iter()
        .find(|(name, _)| name.starts_with("x86_64"))
        .unwrap();
    let failures: Vec<String> = files
        .par_iter()
        .flat_map_iter(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_string();
            let mut failures = Vec::new();
            for (m, wasm) in wast_modules(path).iter().enumerate() {
                for arch in [Arch::X86_64, Arch::Aarch64] {
                    for (fuel, epochs) in [(true, true), (true, false), (false, true)] {
                        if let Err(e) = kiln_compiler::compile(wasm, &options(arch, fuel, epochs)) {
                            failures.push(format!(
                                "{name} module {m} {arch:?} fuel={fuel} epochs={epochs}: {e}"
                            ));
                        }
                    }
                }
                let module = ModuleInfo::parse(wasm).unwrap();
                for (i, body) in module.bodies.iter().enumerate() {
                    let index = module.imported_funcs + i as u32;
                    let both = options(Arch::X86_64, true, true);
                    let func = translate(&module, x86_64, &both, index, body);
                    if let Err(e) = check_invariants(&func, &both) {
                        failures.push(format!("{name} module {m} function {index}: {e}"));
                    }
                }
            }
            failures
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} failures: {failures:#?}",
        failures.len()
    );
}

/// The fuel each straight-line run of these functions adds (the function entry charges 1).
#[test]
fn fuel_is_charged_per_run_of_operators() {
    let cases: &[(&str, &[i64])] = &[
        ("(func)", &[1]),
        (
            "(func (result i32) (i32.add (i32.const 1) (i32.const 2)))",
            &[1, 3],
        ),
        // `nop`, `drop`, `block` and `end` are free.
        ("(func (block (nop) (drop (i32.const 0))))", &[1, 1]),
        // The loop body's two operators, committed at the `br_if`.
        ("(func (param i32) (loop (br_if 0 (local.get 0))))", &[1, 2]),
        // `local.get` and `if` before the branch; each arm's constant at its end.
        (
            "(func (param i32) (result i32)
               (if (result i32) (local.get 0) (then (i32.const 1)) (else (i32.const 2))))",
            &[1, 2, 1, 1],
        ),
        // `unreachable` and `return` are free.
        ("(func (return) (unreachable))", &[1]),
        // Each call is charged before it (the first with the `i32.const`).
        (
            "(func $f (param i32)) (func (call $f (i32.const 0)) (call $f (i32.const 1)))",
            &[1, 2, 2],
        ),
    ];
    let isas = target_isas();
    let isa = &isas[0].1;
    for (text, expected) in cases {
        let wasm = wat::parse_str(format!("(module {text})")).unwrap();
        let module = ModuleInfo::parse(&wasm).unwrap();
        let last = module.bodies.len() - 1;
        let index = module.imported_funcs + last as u32;
        let fuel_only = options(Arch::X86_64, true, false);
        let func = translate(&module, isa, &fuel_only, index, &module.bodies[last]);
        let mut charges = fuel_charges(&func);
        charges.sort_unstable();
        let mut expected = expected.to_vec();
        expected.sort_unstable();
        assert_eq!(charges, expected, "{text}");
        check_invariants(&func, &fuel_only).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

fn translate(
    module: &ModuleInfo,
    isa: &OwnedTargetIsa,
    options: &CompileOptions,
    index: u32,
    body: &wasmparser::FunctionBody,
) -> ir::Function {
    let sig = wasm_signature(module.func_type(index));
    let mut func = ir::Function::with_name_signature(UserFuncName::user(0, index), sig);
    translate_function(module, &**isa, options, index, body, &mut func).unwrap();
    func
}

/// The constants the translated `func` adds to an i64 (fuel is the only i64 arithmetic with a
/// constant in the test functions).
fn fuel_charges(func: &ir::Function) -> Vec<i64> {
    let mut charges = Vec::new();
    for block in func.layout.blocks() {
        for inst in func.layout.block_insts(block) {
            let InstructionData::Binary {
                opcode: Opcode::Iadd,
                args: [_, rhs],
            } = func.dfg.insts[inst]
            else {
                continue;
            };
            if func.dfg.ctrl_typevar(inst) != types::I64 {
                continue;
            }
            let Some(def) = func.dfg.value_def(rhs).inst() else {
                continue;
            };
            if let InstructionData::UnaryImm {
                opcode: Opcode::Iconst,
                imm,
            } = func.dfg.insts[def]
            {
                charges.push(imm.bits());
            }
        }
    }
    charges
}

/// A memory access to the `VMStoreContext` field at `offset`, of opcode `opcode`.
fn is_store_context_access(
    func: &ir::Function,
    inst: ir::Inst,
    opcode: Opcode,
    offset: u32,
) -> bool {
    let (op, at) = match func.dfg.insts[inst] {
        InstructionData::Load { opcode, offset, .. } => (opcode, offset),
        InstructionData::Store { opcode, offset, .. } => (opcode, offset),
        _ => return false,
    };
    let region = func.dfg.insts[inst].alias_region(&func.dfg);
    op == opcode
        && i64::from(at) == i64::from(offset)
        && region.is_some_and(|r| func.dfg.alias_regions[r].description == "store context")
}

/// Checks, in code translated with `options`: that fuel is written back to the `VMStoreContext`
/// before every call, return, `unreachable` and out-of-fuel trap (in the same block, with no call
/// in between); that fuel and the epoch deadline are reloaded after every call (before the next
/// one or the block's end); and that there are fuel and epoch checks, as many of each when both
/// are on (at the entry and each loop header).
fn check_invariants(func: &ir::Function, options: &CompileOptions) -> Result<(), String> {
    let (fuel, epochs) = (options.fuel, options.epoch_interruption);
    let fuel_trap = trap_code(TrapKind::OutOfFuel);
    let unreachable_trap = trap_code(TrapKind::Unreachable);
    let (mut fuel_checks, mut epoch_checks) = (0, 0);
    for block in func.layout.blocks() {
        let mut saved = false;
        // Reloads still missing after the last call: (fuel, deadline).
        let mut missing: Option<(bool, bool)> = None;
        for inst in func.layout.block_insts(block) {
            let data = &func.dfg.insts[inst];
            let opcode = data.opcode();
            let leaves = opcode.is_call()
                || opcode.is_return()
                || (opcode == Opcode::Trap
                    && [fuel_trap, unreachable_trap].contains(&data.trap_code().unwrap()));
            if fuel && leaves && !saved {
                return Err(format!(
                    "{block}: no fuel saved before {}",
                    func.dfg.display_inst(inst)
                ));
            }
            if opcode.is_call() {
                if let Some(m) = missing {
                    return Err(format!("{block}: after a call, reloads missing: {m:?}"));
                }
                missing = Some((fuel, epochs));
                saved = false;
            }
            if is_store_context_access(func, inst, Opcode::Store, STORE_FUEL_CONSUMED) {
                saved = true;
            }
            if let Some((fuel, deadline)) = &mut missing {
                *fuel &= !is_store_context_access(func, inst, Opcode::Load, STORE_FUEL_CONSUMED);
                *deadline &=
                    !is_store_context_access(func, inst, Opcode::Load, STORE_EPOCH_DEADLINE);
            }
            if missing == Some((false, false)) {
                missing = None;
            }
            if opcode == Opcode::Trap && data.trap_code() == Some(fuel_trap) {
                fuel_checks += 1;
            }
            let epoch_read = matches!(data, InstructionData::Load { .. })
                && data
                    .alias_region(&func.dfg)
                    .is_some_and(|r| func.dfg.alias_regions[r].description == "epoch counter");
            if epoch_read {
                epoch_checks += 1;
            }
        }
        if let Some(m) = missing {
            return Err(format!(
                "{block}: after a call, reloads missing at the end: {m:?}"
            ));
        }
    }
    let counts_fit = (fuel_checks > 0) == fuel
        && (epoch_checks > 0) == epochs
        && (!(fuel && epochs) || fuel_checks == epoch_checks);
    if !counts_fit {
        return Err(format!(
            "{fuel_checks} fuel checks, {epoch_checks} epoch checks"
        ));
    }
    Ok(())
}
