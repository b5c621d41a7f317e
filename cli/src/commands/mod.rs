//! One module per subcommand.

pub mod compile;
pub mod disasm;
pub mod inspect;
pub mod run;
pub mod sizes;
