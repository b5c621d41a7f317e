//! `kiln cache stats|clean`, and the cache options of `kiln run` (the cache itself is
//! `kiln_compiler::cache`).

use anyhow::{Context, Result};
use kiln_compiler::cache::Cache;
use std::path::PathBuf;
use std::process::ExitCode;

/// Where the compile cache is, for every command that uses it.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct CacheDirArg {
    /// The compile cache's directory. Default: `$XDG_CACHE_HOME/kiln`, else `$HOME/.cache/kiln`.
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
}

/// The cache options of `kiln run`.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct CacheArgs {
    #[command(flatten)]
    dir: CacheDirArg,
    /// Compile a `.wasm`/`.wat` in memory, without reading or writing the compile cache.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
}

impl CacheDirArg {
    /// The cache these options name; `None` when no directory is given and there is no home
    /// directory to put it in.
    pub fn cache(&self) -> Option<Cache> {
        self.cache_dir
            .clone()
            .or_else(Cache::default_dir)
            .map(Cache::new)
    }
}

impl CacheArgs {
    /// The cache `kiln run` uses, if any.
    pub fn cache(&self) -> Option<Cache> {
        if self.no_cache {
            None
        } else {
            self.dir.cache()
        }
    }
}

/// `kiln cache`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the number of entries and their size in bytes.
    Stats {
        #[command(flatten)]
        dir: CacheDirArg,
    },
    /// Remove every entry (processes running one keep running it).
    Clean {
        #[command(flatten)]
        dir: CacheDirArg,
    },
}

/// Runs `kiln cache`.
pub fn run(command: Command) -> Result<ExitCode> {
    let (Command::Stats { dir } | Command::Clean { dir }) = &command;
    let cache = dir
        .cache()
        .context("no cache directory: set HOME or XDG_CACHE_HOME, or pass --cache-dir")?;
    match command {
        Command::Stats { .. } => {
            let stats = cache.stats()?;
            println!("cache directory  {}", cache.dir().display());
            println!("entries          {}", stats.entries);
            println!("bytes            {}", stats.bytes);
            if stats.temporary_files > 0 {
                println!("temporary files  {}", stats.temporary_files);
            }
        }
        Command::Clean { .. } => {
            let removed = cache.clean()?;
            println!(
                "removed {} entries ({} bytes) from {}",
                removed.entries,
                removed.bytes,
                cache.dir().display()
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
