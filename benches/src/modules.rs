//! The WebAssembly modules the benchmarks run: synthetic modules of any size (generated with
//! `wasm-encoder`, deterministically), a module with a 1 MiB data segment and a table, modules
//! for call overhead (host→guest and guest→host), a minimal WASI command, and compute kernels
//! written in WAT with native Rust twins.

use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, DataSection, ElementSection, Elements, EntityType,
    ExportKind, ExportSection, Function, FunctionSection, ImportSection, InstructionSink, MemArg,
    MemArgTarget, MemorySection, MemoryType, Module, RefType, TableSection, TableType, TypeSection,
    ValType,
};

/// The shape of a synthetic module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SynthSpec {
    /// Short name used in tables and file names.
    pub name: &'static str,
    /// Number of worker functions (besides the exported `nop`).
    pub funcs: u32,
    /// Statements per worker function; each is a handful of instructions.
    pub stmts: u32,
    /// Bytes of the active data segment (0 for none).
    pub data_bytes: u32,
    /// Seed of the generator.
    pub seed: u64,
}

impl SynthSpec {
    /// A few functions.
    pub const TINY: SynthSpec = SynthSpec {
        name: "tiny",
        funcs: 4,
        stmts: 8,
        data_bytes: 256,
        seed: 1,
    };
    /// About a hundred functions.
    pub const SMALL: SynthSpec = SynthSpec {
        name: "small",
        funcs: 100,
        stmts: 30,
        data_bytes: 4096,
        seed: 2,
    };
    /// Hundreds of functions.
    pub const MEDIUM: SynthSpec = SynthSpec {
        name: "medium",
        funcs: 500,
        stmts: 30,
        data_bytes: 64 * 1024,
        seed: 3,
    };
    /// Thousands of functions and several MB of machine code.
    pub const LARGE: SynthSpec = SynthSpec {
        name: "large",
        funcs: 3000,
        stmts: 32,
        data_bytes: 256 * 1024,
        seed: 4,
    };
}

/// SplitMix64: a small deterministic generator, so that every run benchmarks the same bytes.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n > 0`).
    pub fn below(&mut self, n: u32) -> u32 {
        (self.next_u64() % n as u64) as u32
    }
}

/// Deterministic, non-compressible bytes.
pub fn pseudo_random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        out.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Type indices of synthetic modules.
const TY_NOP: u32 = 0;
const TY_WORKER: u32 = 1;

/// Table size of synthetic modules: a power of two so that `call_indirect` can mask its index.
const TABLE_SIZE: u32 = 256;

/// Local indices of worker functions: params 0 and 1, then i32 locals 2..=5 and one i64.
const I32_LOCALS: [u32; 6] = [0, 1, 2, 3, 4, 5];
const LOCAL_COUNTER: u32 = 6;
const LOCAL_I64: u32 = 7;

/// A synthetic module: `nop` (exported, empty) followed by `spec.funcs` worker functions of type
/// `(i32, i32) -> i32` made of arithmetic, loads and stores, branches, small loops, direct calls
/// to earlier workers and indirect calls through a table. Every 64th worker is exported as
/// `f<index>`; the memory (`memory`) and the table (`table`) are exported too.
///
/// `imports` adds that many imported host functions `env.host<i>` of the worker type, which
/// workers call now and then (for the instantiation of a module with imports).
pub fn synthetic(spec: &SynthSpec, imports: u32) -> Vec<u8> {
    let mut rng = Rng::new(spec.seed);
    let mut module = Module::new();

    let mut types = TypeSection::new();
    types.ty().function([], []);
    types
        .ty()
        .function([ValType::I32, ValType::I32], [ValType::I32]);
    module.section(&types);

    if imports > 0 {
        let mut section = ImportSection::new();
        for i in 0..imports {
            section.import("env", &format!("host{i}"), EntityType::Function(TY_WORKER));
        }
        module.section(&section);
    }

    // Function indices: imports, then nop, then workers.
    let nop = imports;
    let first_worker = imports + 1;
    let mut functions = FunctionSection::new();
    functions.function(TY_NOP);
    for _ in 0..spec.funcs {
        functions.function(TY_WORKER);
    }
    module.section(&functions);

    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: TABLE_SIZE as u64,
        maximum: None,
        shared: false,
    });
    module.section(&tables);

    let data_pages = (spec.data_bytes as u64 + 1024).div_ceil(65536);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: data_pages.max(1),
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);

    let mut exports = ExportSection::new();
    exports.export("nop", ExportKind::Func, nop);
    exports.export("memory", ExportKind::Memory, 0);
    exports.export("table", ExportKind::Table, 0);
    for w in (0..spec.funcs).step_by(64) {
        exports.export(&format!("f{w}"), ExportKind::Func, first_worker + w);
    }
    module.section(&exports);

    // The table holds workers round-robin, so every slot is a valid worker.
    let elems: Vec<u32> = (0..TABLE_SIZE)
        .map(|i| first_worker + i % spec.funcs.max(1))
        .collect();
    let mut elements = ElementSection::new();
    if spec.funcs > 0 {
        elements.active(
            None,
            &ConstExpr::i32_const(0),
            Elements::Functions(elems.into()),
        );
    }
    module.section(&elements);

    let mut code = CodeSection::new();
    let mut f = Function::new([]);
    f.instructions().end();
    code.function(&f);
    for w in 0..spec.funcs {
        let callable = Callable {
            imports,
            first_worker,
            self_index: first_worker + w,
        };
        code.function(&worker(&mut rng, spec.stmts, callable));
    }
    module.section(&code);

    if spec.data_bytes > 0 {
        let mut data = DataSection::new();
        data.active(
            0,
            &ConstExpr::i32_const(1024),
            pseudo_random_bytes(spec.data_bytes as usize, spec.seed),
        );
        module.section(&data);
    }
    module.finish()
}

/// What a worker may call directly: imports and earlier workers (so that nothing recurses).
#[derive(Clone, Copy)]
struct Callable {
    imports: u32,
    first_worker: u32,
    self_index: u32,
}

fn worker(rng: &mut Rng, stmts: u32, callable: Callable) -> Function {
    let mut f = Function::new([(5, ValType::I32), (1, ValType::I64)]);
    {
        let mut sink = f.instructions();
        for _ in 0..stmts {
            statement(rng, &mut sink, callable, 0);
        }
        sink.local_get(2)
            .local_get(LOCAL_I64)
            .i32_wrap_i64()
            .i32_add()
            .end();
    }
    f
}

fn pick_local(rng: &mut Rng) -> u32 {
    I32_LOCALS[rng.below(I32_LOCALS.len() as u32) as usize]
}

/// One statement; `depth` limits nesting of branches and loops.
fn statement(rng: &mut Rng, s: &mut InstructionSink<'_>, c: Callable, depth: u32) {
    let kind = if depth > 0 {
        rng.below(6)
    } else {
        rng.below(9)
    };
    let (a, b, dst) = (pick_local(rng), pick_local(rng), 2 + rng.below(4));
    match kind {
        0 | 1 => {
            s.local_get(a);
            if rng.below(2) == 0 {
                s.i32_const((rng.next_u64() as i32) >> 12);
            } else {
                s.local_get(b);
            }
            match rng.below(8) {
                0 => s.i32_add(),
                1 => s.i32_sub(),
                2 => s.i32_mul(),
                3 => s.i32_xor(),
                4 => s.i32_and(),
                5 => s.i32_or(),
                6 => s.i32_shl(),
                _ => s.i32_rotl(),
            };
            s.local_set(dst);
        }
        2 => {
            // In-bounds load from the first 64 KiB page.
            s.local_get(a).i32_const(0x7ffc).i32_and();
            s.i32_load(mem_arg(rng.below(0x2000) * 4)).local_set(dst);
        }
        3 => {
            s.local_get(a).i32_const(0x7ffc).i32_and().local_get(b);
            s.i32_store(mem_arg(rng.below(0x2000) * 4));
        }
        4 => {
            s.local_get(LOCAL_I64)
                .local_get(a)
                .i64_extend_i32_u()
                .i64_const(0x9e37_79b9)
                .i64_mul()
                .i64_add()
                .local_set(LOCAL_I64);
        }
        5 => {
            // A direct call to an import or an earlier worker, if any.
            let n = c.self_index - c.first_worker + c.imports;
            if n == 0 {
                s.local_get(a).i32_popcnt().local_set(dst);
            } else {
                let k = rng.below(n);
                let callee = if k < c.imports {
                    k
                } else {
                    c.first_worker + (k - c.imports)
                };
                s.local_get(a).local_get(b).call(callee).local_set(dst);
            }
        }
        6 => {
            s.local_get(a).if_(BlockType::Empty);
            statement(rng, s, c, depth + 1);
            statement(rng, s, c, depth + 1);
            s.else_();
            statement(rng, s, c, depth + 1);
            s.end();
        }
        7 => {
            s.i32_const(1 + rng.below(8) as i32)
                .local_set(LOCAL_COUNTER)
                .loop_(BlockType::Empty);
            statement(rng, s, c, depth + 1);
            statement(rng, s, c, depth + 1);
            s.local_get(LOCAL_COUNTER)
                .i32_const(1)
                .i32_sub()
                .local_tee(LOCAL_COUNTER)
                .br_if(0)
                .end();
        }
        _ => {
            s.local_get(a)
                .local_get(b)
                .local_get(dst)
                .i32_const(TABLE_SIZE as i32 - 1)
                .i32_and()
                .call_indirect(0, TY_WORKER)
                .local_set(dst);
        }
    }
}

fn mem_arg(offset: u32) -> MemArg {
    MemArg {
        offset: offset as u64,
        align: 2,
        target: MemArgTarget::Memory(0),
        ordering: None,
    }
}

/// The instantiation benchmark's module: a memory of 32 pages with a 1 MiB active data segment,
/// a table of 1024 function references filled by an active element segment, 16 small functions
/// and an exported `nop`.
pub fn instantiation_module() -> Vec<u8> {
    let mut module = Module::new();
    let mut types = TypeSection::new();
    types.ty().function([], []);
    types
        .ty()
        .function([ValType::I32, ValType::I32], [ValType::I32]);
    module.section(&types);
    let mut functions = FunctionSection::new();
    functions.function(TY_NOP);
    for _ in 0..16 {
        functions.function(TY_WORKER);
    }
    module.section(&functions);
    let mut tables = TableSection::new();
    tables.table(TableType {
        element_type: RefType::FUNCREF,
        table64: false,
        minimum: 1024,
        maximum: None,
        shared: false,
    });
    module.section(&tables);
    let mut memories = MemorySection::new();
    memories.memory(MemoryType {
        minimum: 32,
        maximum: None,
        memory64: false,
        shared: false,
        page_size_log2: None,
    });
    module.section(&memories);
    let mut exports = ExportSection::new();
    exports.export("nop", ExportKind::Func, 0);
    exports.export("memory", ExportKind::Memory, 0);
    module.section(&exports);
    let elems: Vec<u32> = (0..1024).map(|i| 1 + i % 16).collect();
    let mut elements = ElementSection::new();
    elements.active(
        None,
        &ConstExpr::i32_const(0),
        Elements::Functions(elems.into()),
    );
    module.section(&elements);
    let mut code = CodeSection::new();
    let mut f = Function::new([]);
    f.instructions().end();
    code.function(&f);
    for i in 0..16 {
        let mut f = Function::new([]);
        f.instructions()
            .local_get(0)
            .local_get(1)
            .i32_add()
            .i32_const(i)
            .i32_xor()
            .end();
        code.function(&f);
    }
    module.section(&code);
    let mut data = DataSection::new();
    data.active(
        0,
        &ConstExpr::i32_const(65536),
        pseudo_random_bytes(1 << 20, 7),
    );
    module.section(&data);
    module.finish()
}

/// The call benchmark's module: `nop: [] -> []` and `add: [i32 i32] -> [i32]`.
pub const CALLS_WAT: &str = r#"
(module
  (func (export "nop"))
  (func (export "add") (param i32 i32) (result i32)
    local.get 0
    local.get 1
    i32.add))
"#;

/// The host-call benchmark's module: two imported host functions `(i32) -> i32` (`host.inc`,
/// and `host.inc_caller`, which takes a `Caller`), a loop calling each N times on its previous
/// result (`loop`, `loop_caller`: from 0, so the result is N when each call adds 1), and
/// `once`, which calls `host.inc` once.
pub const HOSTCALLS_WAT: &str = r#"
(module
  (import "host" "inc" (func $inc (param i32) (result i32)))
  (import "host" "inc_caller" (func $inc_caller (param i32) (result i32)))

  (func (export "loop") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call $inc (local.get $acc)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $acc))

  (func (export "loop_caller") (param $n i32) (result i32)
    (local $acc i32)
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $acc (call $inc_caller (local.get $acc)))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $acc))

  (func (export "once") (param $x i32) (result i32)
    (call $inc (local.get $x))))
"#;

/// A minimal WASI command (`_start` writes a line with `fd_write`), for the `wasi` section when
/// no real program is found (the smoke test).
pub const WASI_WAT: &str = r#"
(module
  (import "wasi_snapshot_preview1" "args_sizes_get" (func (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get" (func (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func (param i32)))
  (memory (export "memory") 1)
  (data (i32.const 16) "hello\n")
  (func (export "_start")
    (i32.store (i32.const 0) (i32.const 16))
    (i32.store (i32.const 4) (i32.const 6))
    (drop (call $fd_write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 8)))))
"#;

/// Compute kernels. Memory layout: the sieve uses `[0, n)`, the copy kernel `[0, 2 * len)`, and
/// matrix multiplication three `n * n` f64 matrices from 16 MiB.
pub const KERNELS_WAT: &str = r#"
(module
  (memory (export "memory") 512)

  ;; Recursive Fibonacci.
  (func $fib (export "fib") (param $n i32) (result i64)
    (if (result i64) (i32.lt_u (local.get $n) (i32.const 2))
      (then (i64.extend_i32_u (local.get $n)))
      (else
        (i64.add
          (call $fib (i32.sub (local.get $n) (i32.const 1)))
          (call $fib (i32.sub (local.get $n) (i32.const 2)))))))

  ;; Number of primes below $n (byte-per-number sieve of Eratosthenes).
  (func (export "sieve") (param $n i32) (result i64)
    (local $i i32) (local $j i32) (local $count i64)
    (memory.fill (i32.const 0) (i32.const 0) (local.get $n))
    (local.set $i (i32.const 2))
    (block $done
      (loop $outer
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (if (i32.eqz (i32.load8_u (local.get $i)))
          (then
            (local.set $count (i64.add (local.get $count) (i64.const 1)))
            ;; Multiples from i * i, if that is below n (without overflowing).
            (local.set $j (i32.mul (local.get $i) (local.get $i)))
            (if (i32.gt_u (local.get $i) (i32.div_u (local.get $n) (local.get $i)))
              (then (local.set $j (local.get $n))))
            (block $inner_done
              (loop $inner
                (br_if $inner_done (i32.ge_u (local.get $j) (local.get $n)))
                (i32.store8 (local.get $j) (i32.const 1))
                (local.set $j (i32.add (local.get $j) (local.get $i)))
                (br $inner)))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $outer)))
    (local.get $count))

  ;; A loop of integer arithmetic: a linear congruential generator, summing high bits.
  (func (export "lcg") (param $n i32) (result i64)
    (local $x i64) (local $sum i64)
    (local.set $x (i64.const 1))
    (block $done
      (loop $l
        (br_if $done (i32.eqz (local.get $n)))
        (local.set $x
          (i64.add
            (i64.mul (local.get $x) (i64.const 6364136223846793005))
            (i64.extend_i32_u (local.get $n))))
        (local.set $sum (i64.add (local.get $sum) (i64.shr_u (local.get $x) (i64.const 33))))
        (local.set $n (i32.sub (local.get $n) (i32.const 1)))
        (br $l)))
    (local.get $sum))

  ;; Fills [0, $len) with a pattern, then copies it to [$len, 2 * $len) $iters times, 8 bytes at
  ;; a time with loads and stores (no memory.copy); returns a checksum of the copy.
  (func (export "copy") (param $len i32) (param $iters i32) (result i64)
    (local $i i32) (local $sum i64)
    (local.set $i (i32.const 0))
    (block $filled
      (loop $fill
        (br_if $filled (i32.ge_u (local.get $i) (local.get $len)))
        (i64.store (local.get $i)
          (i64.mul (i64.extend_i32_u (local.get $i)) (i64.const 0x9e3779b97f4a7c15)))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $fill)))
    (block $done
      (loop $iter
        (br_if $done (i32.eqz (local.get $iters)))
        (local.set $i (i32.const 0))
        (block $copied
          (loop $copy
            (br_if $copied (i32.ge_u (local.get $i) (local.get $len)))
            (i64.store (i32.add (local.get $i) (local.get $len))
              (i64.add (i64.load (local.get $i)) (i64.extend_i32_u (local.get $iters))))
            (local.set $i (i32.add (local.get $i) (i32.const 8)))
            (br $copy)))
        (local.set $iters (i32.sub (local.get $iters) (i32.const 1)))
        (br $iter)))
    (local.set $i (i32.const 0))
    (block $summed
      (loop $sum_loop
        (br_if $summed (i32.ge_u (local.get $i) (local.get $len)))
        (local.set $sum (i64.xor (i64.rotl (local.get $sum) (i64.const 5))
          (i64.load (i32.add (local.get $i) (local.get $len)))))
        (local.set $i (i32.add (local.get $i) (i32.const 8)))
        (br $sum_loop)))
    (local.get $sum))

  ;; C = A * B for n x n f64 matrices (A[i][j] = i + j, B[i][j] = i - j), in i-k-j order (rows
  ;; of B and C are walked sequentially); returns trunc(sum(C)).
  (func (export "matmul") (param $n i32) (result i64)
    (local $i i32) (local $j i32) (local $k i32) (local $a i32) (local $b i32) (local $c i32)
    (local $aik f64) (local $row i32) (local $brow i32) (local $total f64)
    (local.set $a (i32.const 0x1000000))
    (local.set $b (i32.add (local.get $a) (i32.mul (i32.mul (local.get $n) (local.get $n)) (i32.const 8))))
    (local.set $c (i32.add (local.get $b) (i32.mul (i32.mul (local.get $n) (local.get $n)) (i32.const 8))))
    (local.set $i (i32.const 0))
    (block $init_done
      (loop $init_i
        (br_if $init_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $j (i32.const 0))
        (block $row_done
          (loop $init_j
            (br_if $row_done (i32.ge_u (local.get $j) (local.get $n)))
            (f64.store
              (i32.add (local.get $a)
                (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3)))
              (f64.convert_i32_s (i32.add (local.get $i) (local.get $j))))
            (f64.store
              (i32.add (local.get $b)
                (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $j)) (i32.const 3)))
              (f64.convert_i32_s (i32.sub (local.get $i) (local.get $j))))
            (local.set $j (i32.add (local.get $j) (i32.const 1)))
            (br $init_j)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $init_i)))
    (memory.fill (local.get $c) (i32.const 0)
      (i32.mul (i32.mul (local.get $n) (local.get $n)) (i32.const 8)))
    (local.set $i (i32.const 0))
    (block $i_done
      (loop $li
        (br_if $i_done (i32.ge_u (local.get $i) (local.get $n)))
        (local.set $row
          (i32.add (local.get $c) (i32.shl (i32.mul (local.get $i) (local.get $n)) (i32.const 3))))
        (local.set $k (i32.const 0))
        (block $k_done
          (loop $lk
            (br_if $k_done (i32.ge_u (local.get $k) (local.get $n)))
            (local.set $aik (f64.load (i32.add (local.get $a)
              (i32.shl (i32.add (i32.mul (local.get $i) (local.get $n)) (local.get $k)) (i32.const 3)))))
            (local.set $brow
              (i32.add (local.get $b) (i32.shl (i32.mul (local.get $k) (local.get $n)) (i32.const 3))))
            (local.set $j (i32.const 0))
            (block $j_done
              (loop $lj
                (br_if $j_done (i32.ge_u (local.get $j) (local.get $n)))
                (f64.store
                  (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3)))
                  (f64.add
                    (f64.load (i32.add (local.get $row) (i32.shl (local.get $j) (i32.const 3))))
                    (f64.mul (local.get $aik)
                      (f64.load (i32.add (local.get $brow) (i32.shl (local.get $j) (i32.const 3)))))))
                (local.set $j (i32.add (local.get $j) (i32.const 1)))
                (br $lj)))
            (local.set $k (i32.add (local.get $k) (i32.const 1)))
            (br $lk)))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $li)))
    (local.set $i (i32.const 0))
    (block $sum_done
      (loop $sum
        (br_if $sum_done (i32.ge_u (local.get $i) (i32.mul (local.get $n) (local.get $n))))
        (local.set $total (f64.add (local.get $total)
          (f64.load (i32.add (local.get $c) (i32.shl (local.get $i) (i32.const 3))))))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $sum)))
    (i64.trunc_sat_f64_s (local.get $total)))
)
"#;

/// A compute kernel: an export of [`KERNELS_WAT`] of type `(i32[, i32]) -> i64`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kernel {
    /// Export name.
    pub export: &'static str,
    /// Label in the table.
    pub label: &'static str,
    /// Arguments (one or two are used, see [`Kernel::two_args`]).
    pub args: (i32, i32),
    /// Whether the export takes two parameters.
    pub two_args: bool,
}

impl Kernel {
    /// The kernels, with full-size (`quick == false`) or small inputs.
    pub fn all(scale: KernelScale) -> Vec<Kernel> {
        let (fib, sieve, lcg, copy_iters, matmul) = match scale {
            KernelScale::Full => (34, 8_000_000, 200_000_000, 100, 300),
            KernelScale::Quick => (27, 1_000_000, 20_000_000, 4, 100),
            KernelScale::Smoke => (15, 10_000, 10_000, 1, 8),
        };
        let copy_len = if scale == KernelScale::Smoke {
            4096
        } else {
            4 << 20
        };
        vec![
            Kernel {
                export: "fib",
                label: "fib (recursive calls)",
                args: (fib, 0),
                two_args: false,
            },
            Kernel {
                export: "sieve",
                label: "sieve (byte loads/stores, branches)",
                args: (sieve, 0),
                two_args: false,
            },
            Kernel {
                export: "lcg",
                label: "lcg sum (integer loop)",
                args: (lcg, 0),
                two_args: false,
            },
            Kernel {
                export: "copy",
                label: "copy 4 MiB (i64 loads/stores)",
                args: (copy_len, copy_iters),
                two_args: true,
            },
            Kernel {
                export: "matmul",
                label: "matmul (f64, i-k-j)",
                args: (matmul, 0),
                two_args: false,
            },
        ]
    }

    /// The label with its arguments.
    pub fn describe(&self) -> String {
        if self.two_args {
            format!("{}({}, {})", self.export, self.args.0, self.args.1)
        } else {
            format!("{}({})", self.export, self.args.0)
        }
    }

    /// The same computation in Rust (the native baseline), with the same result. `memory` plays
    /// the part of linear memory: reused from run to run, as the instance's memory is.
    pub fn native(&self, memory: &mut NativeMemory) -> i64 {
        let (x, y) = std::hint::black_box(self.args);
        match self.export {
            "fib" => native::fib(x as u32) as i64,
            "sieve" => native::sieve(x as usize, &mut memory.bytes),
            "lcg" => native::lcg(x as u32),
            "copy" => native::copy(x as usize, y as u32, &mut memory.words),
            "matmul" => native::matmul(x as usize, &mut memory.floats),
            other => unreachable!("unknown kernel {other}"),
        }
    }
}

/// Buffers of the native kernels, kept between runs like a linear memory.
#[derive(Clone, Debug, Default)]
pub struct NativeMemory {
    bytes: Vec<u8>,
    words: Vec<u64>,
    floats: Vec<f64>,
}

/// Input sizes of the kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KernelScale {
    /// The full benchmark.
    Full,
    /// `--quick`.
    Quick,
    /// The test suite's smoke test.
    Smoke,
}

/// Native twins of the WAT kernels.
mod native {
    pub fn fib(n: u32) -> u64 {
        if n < 2 {
            n as u64
        } else {
            fib(n - 1) + fib(n - 2)
        }
    }

    pub fn sieve(n: usize, composite: &mut Vec<u8>) -> i64 {
        composite.resize(n, 0);
        composite.fill(0);
        let mut count = 0;
        for i in 2..n {
            if composite[i] == 0 {
                count += 1;
                let mut j = if i > n / i { n } else { i * i };
                while j < n {
                    composite[j] = 1;
                    j += i;
                }
            }
        }
        count
    }

    pub fn lcg(mut n: u32) -> i64 {
        let mut x: u64 = 1;
        let mut sum: u64 = 0;
        while n != 0 {
            x = x.wrapping_mul(6364136223846793005).wrapping_add(n as u64);
            sum = sum.wrapping_add(x >> 33);
            n -= 1;
        }
        sum as i64
    }

    pub fn copy(len: usize, mut iters: u32, mem: &mut Vec<u64>) -> i64 {
        let words = len / 8;
        mem.resize(2 * words, 0);
        for (i, w) in mem[..words].iter_mut().enumerate() {
            *w = ((i * 8) as u64).wrapping_mul(0x9e3779b97f4a7c15);
        }
        while iters != 0 {
            let (src, dst) = mem.split_at_mut(words);
            for (d, s) in dst.iter_mut().zip(src.iter()) {
                *d = s.wrapping_add(iters as u64);
            }
            iters -= 1;
        }
        let mut sum: u64 = 0;
        for w in &mem[words..] {
            sum = sum.rotate_left(5) ^ w;
        }
        sum as i64
    }

    pub fn matmul(n: usize, mem: &mut Vec<f64>) -> i64 {
        mem.resize(3 * n * n, 0.0);
        let (a, rest) = mem.split_at_mut(n * n);
        let (b, c) = rest.split_at_mut(n * n);
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = (i + j) as f64;
                b[i * n + j] = i as f64 - j as f64;
            }
        }
        c.fill(0.0);
        for i in 0..n {
            let row = &mut c[i * n..(i + 1) * n];
            for k in 0..n {
                let aik = a[i * n + k];
                for (cij, bkj) in row.iter_mut().zip(&b[k * n..(k + 1) * n]) {
                    *cij += aik * bkj;
                }
            }
        }
        let total: f64 = c.iter().fold(0.0, |t, x| t + x);
        std::hint::black_box(&c);
        total as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn validate(wasm: &[u8]) {
        wasmparser::Validator::new()
            .validate_all(wasm)
            .expect("valid module");
    }

    #[test]
    fn synthetic_modules_are_valid_and_deterministic() {
        for spec in [SynthSpec::TINY, SynthSpec::SMALL] {
            let a = synthetic(&spec, 0);
            validate(&a);
            assert_eq!(a, synthetic(&spec, 0), "{} is deterministic", spec.name);
        }
        validate(&synthetic(&SynthSpec::TINY, 3));
        validate(&instantiation_module());
        validate(&wat::parse_str(CALLS_WAT).unwrap());
        validate(&wat::parse_str(HOSTCALLS_WAT).unwrap());
        validate(&wat::parse_str(WASI_WAT).unwrap());
        validate(&wat::parse_str(KERNELS_WAT).unwrap());
    }

    #[test]
    fn native_kernels_compute_known_values() {
        let mut mem = NativeMemory::default();
        let k = |export: &'static str, args| Kernel {
            export,
            label: "",
            args,
            two_args: true,
        };
        assert_eq!(k("fib", (20, 0)).native(&mut mem), 6765);
        assert_eq!(k("sieve", (100, 0)).native(&mut mem), 25);
        assert_eq!(k("matmul", (1, 0)).native(&mut mem), 0);
    }
}
