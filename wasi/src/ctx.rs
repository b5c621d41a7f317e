//! The WASI context of one program: arguments, environment, descriptors; and its builder.

use crate::fd_table::{Descriptor, FdTable, Kind, OpenDir};
use crate::stdio::{Input, Output, Stream};
use crate::types::rights;
use std::path::PathBuf;

/// Why a [`WasiCtx`] could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// A directory to preopen could not be opened.
    #[error("cannot open directory `{path}`")]
    Preopen {
        /// The host path.
        path: PathBuf,
        /// The host error.
        #[source]
        source: std::io::Error,
    },
    /// An argument holds a NUL byte, which the guest could not see.
    #[error("argument {0:?} contains a NUL byte")]
    NulInArgument(String),
    /// An environment variable's name is empty or holds `=` or NUL, or its value holds NUL.
    #[error("invalid environment variable {0:?}")]
    InvalidEnv(String),
}

/// Everything a WASI program sees of its host: arguments, environment variables, standard
/// streams and preopened directories, plus the descriptors it opens while it runs.
pub struct WasiCtx {
    pub(crate) args: Vec<String>,
    /// `NAME=value` strings.
    pub(crate) env: Vec<String>,
    pub(crate) fds: FdTable,
}

impl WasiCtx {
    /// A builder for a context with no arguments, no environment, empty standard input,
    /// discarded output and no preopened directories.
    pub fn builder() -> WasiCtxBuilder {
        WasiCtxBuilder::default()
    }

    /// The program's arguments (`argv`).
    pub fn args(&self) -> &[String] {
        &self.args
    }

    /// The program's environment, as `NAME=value` strings.
    pub fn env(&self) -> &[String] {
        &self.env
    }

    /// The preopened directories still open: descriptor and guest name.
    pub fn preopens(&self) -> Vec<(u32, String)> {
        self.fds
            .preopens()
            .map(|(fd, name)| (fd, name.to_string()))
            .collect()
    }
}

enum PreopenSource {
    Host(PathBuf),
    Dir(cap_std::fs::Dir),
}

/// Builds a [`WasiCtx`]:
/// `WasiCtx::builder().args(["app", "x"]).env("K", "V").preopen_dir("/tmp/data", "/data")
/// .inherit_stdio().build()`.
#[derive(Default)]
pub struct WasiCtxBuilder {
    args: Vec<String>,
    env: Vec<(String, String)>,
    preopens: Vec<(PreopenSource, String)>,
    stdin: Input,
    stdout: Output,
    stderr: Output,
}

impl WasiCtxBuilder {
    /// Appends one argument; the first is the program name (`argv[0]`).
    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    /// Appends arguments.
    pub fn args<S: Into<String>>(mut self, args: impl IntoIterator<Item = S>) -> Self {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// Sets an environment variable (a later setting of the same name replaces it).
    pub fn env(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        let name = name.into();
        let value = value.into();
        match self.env.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.env.push((name, value)),
        }
        self
    }

    /// Sets environment variables.
    pub fn envs<K: Into<String>, V: Into<String>>(
        mut self,
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        for (k, v) in vars {
            self = self.env(k, v);
        }
        self
    }

    /// Passes the host process's environment (variables that are valid Unicode).
    pub fn inherit_env(self) -> Self {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
            .collect();
        self.envs(vars)
    }

    /// Preopens the host directory `host` under the guest name `guest` (e.g. `"."` or `"/data"`).
    /// The guest can reach nothing outside it. Opened by [`WasiCtxBuilder::build`].
    pub fn preopen_dir(mut self, host: impl Into<PathBuf>, guest: impl Into<String>) -> Self {
        self.preopens
            .push((PreopenSource::Host(host.into()), guest.into()));
        self
    }

    /// Preopens an already opened directory under the guest name `guest`.
    pub fn preopened_dir(mut self, dir: cap_std::fs::Dir, guest: impl Into<String>) -> Self {
        self.preopens.push((PreopenSource::Dir(dir), guest.into()));
        self
    }

    /// Sets where standard input comes from.
    pub fn stdin(mut self, input: Input) -> Self {
        self.stdin = input;
        self
    }

    /// Sets where standard output goes.
    pub fn stdout(mut self, output: Output) -> Self {
        self.stdout = output;
        self
    }

    /// Sets where standard error goes.
    pub fn stderr(mut self, output: Output) -> Self {
        self.stderr = output;
        self
    }

    /// Uses the host's standard input.
    pub fn inherit_stdin(self) -> Self {
        self.stdin(Input::Inherit)
    }

    /// Uses the host's standard output.
    pub fn inherit_stdout(self) -> Self {
        self.stdout(Output::Inherit)
    }

    /// Uses the host's standard error.
    pub fn inherit_stderr(self) -> Self {
        self.stderr(Output::Inherit)
    }

    /// Uses the host's standard input, output and error.
    pub fn inherit_stdio(self) -> Self {
        self.inherit_stdin().inherit_stdout().inherit_stderr()
    }

    /// Checks the arguments and environment and opens the preopened directories, which become
    /// descriptors 3, 4, … in the order they were given.
    pub fn build(self) -> Result<WasiCtx, BuildError> {
        if let Some(a) = self.args.iter().find(|a| a.contains('\0')) {
            return Err(BuildError::NulInArgument(a.clone()));
        }
        let mut env = Vec::with_capacity(self.env.len());
        for (k, v) in self.env {
            if k.is_empty() || k.contains(['=', '\0']) || v.contains('\0') {
                return Err(BuildError::InvalidEnv(format!("{k}={v}")));
            }
            env.push(format!("{k}={v}"));
        }
        let mut fds = FdTable::default();
        let stream = |s: Stream| Descriptor {
            rights_base: s.rights(),
            rights_inheriting: 0,
            kind: Kind::Stream(s),
        };
        fds.insert_at(0, stream(Stream::input(self.stdin)));
        fds.insert_at(1, stream(Stream::output(self.stdout, false)));
        fds.insert_at(2, stream(Stream::output(self.stderr, true)));
        for (i, (source, guest)) in self.preopens.into_iter().enumerate() {
            let dir = match source {
                PreopenSource::Dir(d) => d,
                PreopenSource::Host(path) => {
                    cap_std::fs::Dir::open_ambient_dir(&path, cap_std::ambient_authority())
                        .map_err(|source| BuildError::Preopen { path, source })?
                }
            };
            fds.insert_at(
                3 + i as u32,
                Descriptor {
                    kind: Kind::Dir(OpenDir {
                        dir,
                        preopen: Some(guest),
                        listing: None,
                    }),
                    rights_base: rights::DIRECTORY,
                    rights_inheriting: rights::ALL,
                },
            );
        }
        Ok(WasiCtx {
            args: self.args,
            env,
            fds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_descriptors_and_checks_input() {
        let tmp = std::env::temp_dir();
        let ctx = WasiCtx::builder()
            .args(["prog", "a"])
            .env("A", "1")
            .env("B", "2")
            .env("A", "3")
            .preopen_dir(&tmp, "/tmp")
            .preopen_dir(&tmp, ".")
            .build()
            .unwrap();
        assert_eq!(ctx.args(), ["prog", "a"]);
        assert_eq!(ctx.env(), ["A=3", "B=2"]);
        assert_eq!(
            ctx.preopens(),
            [(3, "/tmp".to_string()), (4, ".".to_string())]
        );
        assert!(ctx.fds.get(0).is_ok() && ctx.fds.get(2).is_ok());

        assert!(matches!(
            WasiCtx::builder().arg("a\0b").build(),
            Err(BuildError::NulInArgument(_))
        ));
        assert!(matches!(
            WasiCtx::builder().env("A=B", "c").build(),
            Err(BuildError::InvalidEnv(_))
        ));
        assert!(matches!(
            WasiCtx::builder()
                .preopen_dir("/definitely/not/here", "x")
                .build(),
            Err(BuildError::Preopen { .. })
        ));
    }
}
