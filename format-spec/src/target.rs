//! Targets an artifact can be compiled for, and the CPU features its code may require.

/// A CPU architecture Kiln compiles for. The numeric values are stored in the header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Arch {
    /// x86-64 (AMD64).
    X86_64 = 1,
    /// 64-bit ARM.
    Aarch64 = 2,
    /// 64-bit RISC-V with the G and C extensions.
    Riscv64 = 3,
    /// IBM Z.
    S390x = 4,
}

impl Arch {
    /// All supported architectures.
    pub const ALL: [Arch; 4] = [Arch::X86_64, Arch::Aarch64, Arch::Riscv64, Arch::S390x];

    /// Decodes the header's architecture code.
    pub fn from_code(code: u16) -> Option<Arch> {
        Arch::ALL.into_iter().find(|a| *a as u16 == code)
    }

    /// The architecture's name as in a target triple.
    pub fn name(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
            Arch::Riscv64 => "riscv64gc",
            Arch::S390x => "s390x",
        }
    }

    /// The Linux target triple Kiln uses for this architecture.
    pub fn triple(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64-unknown-linux-gnu",
            Arch::Aarch64 => "aarch64-unknown-linux-gnu",
            Arch::Riscv64 => "riscv64gc-unknown-linux-gnu",
            Arch::S390x => "s390x-unknown-linux-gnu",
        }
    }

    /// The ELF `e_machine` value for this architecture.
    pub fn elf_machine(self) -> u16 {
        match self {
            Arch::X86_64 => 62,
            Arch::Aarch64 => 183,
            Arch::Riscv64 => 243,
            Arch::S390x => 22,
        }
    }

    /// Whether this architecture stores multi-byte values big-endian. Kiln's metadata is always
    /// little-endian; this only describes the code and the run-time structures.
    pub fn big_endian(self) -> bool {
        matches!(self, Arch::S390x)
    }

    /// The alignment of the code and data regions in the file: the largest page size that Linux
    /// uses on this architecture, so that the loader can change protections per region.
    pub fn region_align(self) -> u64 {
        match self {
            Arch::Aarch64 => 64 * 1024,
            _ => 4 * 1024,
        }
    }

    /// The architecture this crate was compiled for, if Kiln supports it.
    pub fn host() -> Option<Arch> {
        if cfg!(target_arch = "x86_64") {
            Some(Arch::X86_64)
        } else if cfg!(target_arch = "aarch64") {
            Some(Arch::Aarch64)
        } else if cfg!(target_arch = "riscv64") {
            Some(Arch::Riscv64)
        } else if cfg!(target_arch = "s390x") {
            Some(Arch::S390x)
        } else {
            None
        }
    }
}

/// A CPU feature that generated code may use. Each is a bit in the header's `cpu_features` mask;
/// the meaning of a bit depends on the architecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuFeature {
    /// Architecture the feature belongs to.
    pub arch: Arch,
    /// Bit index in the header mask.
    pub bit: u8,
    /// Name as Cranelift's `has_*` setting (without the prefix) and as `is_*_feature_detected!`.
    pub name: &'static str,
}

macro_rules! features {
    ($arch:expr; $($bit:literal => $name:literal),* $(,)?) => {
        &[$(CpuFeature { arch: $arch, bit: $bit, name: $name }),*]
    };
}

/// x86-64 features the format can record.
pub const X86_64_FEATURES: &[CpuFeature] = features!(Arch::X86_64;
        0 => "sse3", 1 => "ssse3", 2 => "sse4.1", 3 => "sse4.2", 4 => "popcnt", 5 => "avx",
        6 => "avx2", 7 => "bmi1", 8 => "bmi2", 9 => "lzcnt", 10 => "fma", 11 => "avx512f",
        12 => "avx512vl", 13 => "avx512dq", 14 => "avx512vbmi", 15 => "avx512bitalg",
        16 => "cmpxchg16b", 17 => "f16c", 18 => "avx512vnni", 19 => "avxvnni");

/// aarch64 features the format can record.
pub const AARCH64_FEATURES: &[CpuFeature] = features!(Arch::Aarch64;
    0 => "lse", 1 => "paca", 2 => "fp16");

/// The features an architecture can record.
pub fn features_of(arch: Arch) -> &'static [CpuFeature] {
    match arch {
        Arch::X86_64 => X86_64_FEATURES,
        Arch::Aarch64 => AARCH64_FEATURES,
        Arch::Riscv64 | Arch::S390x => &[],
    }
}

/// Names of the features set in `mask` for `arch`; unknown bits are reported as `bit N`.
pub fn feature_names(arch: Arch, mask: u64) -> Vec<String> {
    (0..64)
        .filter(|bit| mask & (1u64 << bit) != 0)
        .map(|bit| {
            features_of(arch)
                .iter()
                .find(|f| u32::from(f.bit) == bit)
                .map(|f| f.name.to_string())
                .unwrap_or_else(|| format!("bit {bit}"))
        })
        .collect()
}

/// The mask of the features the running CPU has, for the host architecture. Detected once per
/// process: every load checks it.
pub fn host_features() -> u64 {
    static MASK: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *MASK.get_or_init(detect_host_features)
}

fn detect_host_features() -> u64 {
    let mut mask = 0u64;
    #[cfg(target_arch = "x86_64")]
    for f in X86_64_FEATURES {
        let present = match f.name {
            "sse3" => std::is_x86_feature_detected!("sse3"),
            "ssse3" => std::is_x86_feature_detected!("ssse3"),
            "sse4.1" => std::is_x86_feature_detected!("sse4.1"),
            "sse4.2" => std::is_x86_feature_detected!("sse4.2"),
            "popcnt" => std::is_x86_feature_detected!("popcnt"),
            "avx" => std::is_x86_feature_detected!("avx"),
            "avx2" => std::is_x86_feature_detected!("avx2"),
            "bmi1" => std::is_x86_feature_detected!("bmi1"),
            "bmi2" => std::is_x86_feature_detected!("bmi2"),
            "lzcnt" => std::is_x86_feature_detected!("lzcnt"),
            "fma" => std::is_x86_feature_detected!("fma"),
            "avx512f" => std::is_x86_feature_detected!("avx512f"),
            "avx512vl" => std::is_x86_feature_detected!("avx512vl"),
            "avx512dq" => std::is_x86_feature_detected!("avx512dq"),
            "avx512vbmi" => std::is_x86_feature_detected!("avx512vbmi"),
            "avx512bitalg" => std::is_x86_feature_detected!("avx512bitalg"),
            "cmpxchg16b" => std::is_x86_feature_detected!("cmpxchg16b"),
            "f16c" => std::is_x86_feature_detected!("f16c"),
            "avx512vnni" => std::is_x86_feature_detected!("avx512vnni"),
            "avxvnni" => std::is_x86_feature_detected!("avxvnni"),
            _ => false,
        };
        if present {
            mask |= 1 << f.bit;
        }
    }
    #[cfg(target_arch = "aarch64")]
    for f in AARCH64_FEATURES {
        let present = match f.name {
            "lse" => std::arch::is_aarch64_feature_detected!("lse"),
            "paca" => std::arch::is_aarch64_feature_detected!("paca"),
            "fp16" => std::arch::is_aarch64_feature_detected!("fp16"),
            _ => false,
        };
        if present {
            mask |= 1 << f.bit;
        }
    }
    mask
}
