//! [`static_artifact!`](crate::static_artifact): an artifact file built into a Rust host's
//! executable, used in place.

/// Builds the artifact file at `$path` (as for `include_bytes!`; typically
/// `concat!(env!("OUT_DIR"), "/app.kiln")`, written by a `build.rs` that calls
/// `kiln_compiler::compile`) into the executable's text, page-aligned, and evaluates to
/// `Result<Artifact, LoadError>` of [`Artifact::from_static`](crate::Artifact::from_static): the
/// code runs in place from the executable's own mapping, with no `open` or `mmap` of any
/// artifact file.
///
/// Why a macro and not a linked object: a Rust host then needs no linker arguments, and the
/// executable's one text segment is what platforms that forbid mapping files executable accept.
/// C hosts link the object of `kiln compile --emit obj` instead.
#[macro_export]
macro_rules! static_artifact {
    ($path:expr) => {{
        // Why these alignments: the page size (64 KiB is the largest aarch64 Linux uses).
        #[cfg_attr(target_arch = "x86_64", repr(C, align(4096)))]
        #[cfg_attr(not(target_arch = "x86_64"), repr(C, align(65536)))]
        struct KilnAligned<T>(T);
        const KILN_LEN: usize = include_bytes!($path).len();
        // Why `.text.*`: the linker places the section in the executable's text segment, which
        // the OS loader maps read+exec and never writable.
        #[unsafe(link_section = ".text.kiln_artifact")]
        static KILN_IMAGE: KilnAligned<[u8; KILN_LEN]> = KilnAligned(*include_bytes!($path));
        // SAFETY: `KILN_IMAGE` is an immutable static in an executable section of this program,
        // mapped read+exec for the life of the process.
        unsafe { $crate::Artifact::from_static(&KILN_IMAGE.0) }
    }};
}

/// The artifact of an object written by `kiln compile --emit obj --symbol NAME` and linked into
/// this executable (SPEC.md §9): evaluates to `Result<Artifact, LoadError>` of
/// [`Artifact::from_static`](crate::Artifact::from_static) over the `NAME_len` bytes at `NAME`.
/// The object's section is executable and never written, which is what `from_static` needs, so
/// the host writes no `unsafe` of its own.
#[macro_export]
macro_rules! linked_artifact {
    ($name:ident) => {{
        unsafe extern "C" {
            /// The artifact's first byte, in the object's `.text.kiln_artifact.*` section.
            static $name: u8;
            /// Its length, from the object's `.rodata`.
            #[link_name = concat!(stringify!($name), "_len")]
            static KILN_LINKED_LEN: u64;
        }
        // SAFETY: `kiln compile --emit obj` placed `NAME_len` bytes at `NAME`, in a text section
        // of the object that the linker put in this executable's read+exec segment and nothing
        // writes; the length is a `u64` it wrote beside them.
        // (Every Kiln target is 64-bit: the length fits in `usize`.)
        unsafe {
            $crate::Artifact::from_static(::std::slice::from_raw_parts(
                &raw const $name,
                KILN_LINKED_LEN as usize,
            ))
        }
    }};
}
