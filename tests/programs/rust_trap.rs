//! A Rust program whose name section holds mangled names (rustc links wasm with `--no-demangle`):
//! `run` traps three frames down, in a method and a generic function. Without a wasm32 standard
//! library on the machine that built it, it is `no_core`: it defines the few language items it
//! uses. Built by build_rust.sh, once with each symbol mangling (legacy and v0).

#![feature(no_core, lang_items, rustc_attrs, intrinsics)]
#![allow(internal_features)]
#![no_core]
#![crate_type = "cdylib"]

#[lang = "pointee_sized"]
pub trait PointeeSized {}
#[lang = "meta_sized"]
pub trait MetaSized: PointeeSized {}
#[lang = "sized"]
pub trait Sized: MetaSized {}
#[lang = "copy"]
pub trait Copy {}

/// Compiles to `unreachable`.
#[rustc_intrinsic]
pub fn abort() -> !;

pub mod parser {
    pub struct Parser;

    impl Parser {
        #[inline(never)]
        pub fn parse_expr(self) -> i32 {
            stack::overflow::<i32>()
        }
    }

    pub mod stack {
        #[inline(never)]
        pub fn overflow<T>() -> T {
            crate::abort()
        }
    }
}

/// Traps in `parser::stack::overflow`, called by `Parser::parse_expr`.
#[no_mangle]
pub extern "C" fn run() -> i32 {
    parser::Parser.parse_expr()
}
