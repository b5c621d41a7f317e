//! One module per subcommand.

pub mod cache;
pub mod compile;
pub mod disasm;
pub mod explore;
pub mod inspect;
pub mod keygen;
pub mod machine_code;
pub mod run;
pub mod sign;
pub mod sizes;
