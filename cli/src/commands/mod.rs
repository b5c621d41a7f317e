//! One module per subcommand.

pub mod compile;
pub mod disasm;
pub mod inspect;
pub mod keygen;
pub mod run;
pub mod sign;
