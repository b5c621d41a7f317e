//! One module per subcommand.

pub mod cache;
pub mod compile;
pub mod disasm;
pub mod inspect;
pub mod run;
