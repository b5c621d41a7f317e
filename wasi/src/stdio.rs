//! Standard input, output and error: inherited from the host process, or in-memory.

use crate::errno::{Errno, WasiResult};
use crate::types::{filetype, rights};
use std::io::Write;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, PoisonError};

/// Where a guest's standard input comes from.
#[derive(Clone, Debug, Default)]
pub enum Input {
    /// Nothing: reads return end-of-file at once.
    #[default]
    Empty,
    /// The host process's standard input.
    Inherit,
    /// These bytes, then end-of-file.
    Bytes(Arc<[u8]>),
}

/// Where a guest's standard output or error goes.
#[derive(Clone, Debug, Default)]
pub enum Output {
    /// Nowhere: writes succeed and the bytes are dropped.
    #[default]
    Discard,
    /// The host process's standard output (or error, for the guest's standard error).
    Inherit,
    /// Appended to a buffer the embedder can read.
    Buffer(OutputBuffer),
}

/// A shared, growable byte buffer capturing a guest's output.
#[derive(Clone, Debug, Default)]
pub struct OutputBuffer(Arc<Mutex<Vec<u8>>>);

impl OutputBuffer {
    /// An empty buffer.
    pub fn new() -> OutputBuffer {
        OutputBuffer::default()
    }

    /// A copy of everything written so far.
    pub fn contents(&self) -> Vec<u8> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn append(&self, bytes: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(bytes);
    }
}

/// A stream descriptor (fds 0, 1 and 2 as the guest starts).
pub(crate) enum Stream {
    HostStdin,
    HostStdout,
    HostStderr,
    Bytes { data: Arc<[u8]>, pos: usize },
    Discard,
    Buffer(OutputBuffer),
}

impl Stream {
    pub fn input(input: Input) -> Stream {
        match input {
            Input::Empty => Stream::Bytes {
                data: Arc::from(&[][..]),
                pos: 0,
            },
            Input::Inherit => Stream::HostStdin,
            Input::Bytes(data) => Stream::Bytes { data, pos: 0 },
        }
    }

    pub fn output(output: Output, stderr: bool) -> Stream {
        match output {
            Output::Discard => Stream::Discard,
            Output::Inherit if stderr => Stream::HostStderr,
            Output::Inherit => Stream::HostStdout,
            Output::Buffer(b) => Stream::Buffer(b),
        }
    }

    /// Whether this is an input stream.
    pub fn is_input(&self) -> bool {
        matches!(self, Stream::HostStdin | Stream::Bytes { .. })
    }

    /// The host descriptor behind an inherited stream.
    pub fn host_fd(&self) -> Option<BorrowedFd<'static>> {
        match self {
            Stream::HostStdin => Some(rustix::stdio::stdin()),
            Stream::HostStdout => Some(rustix::stdio::stdout()),
            Stream::HostStderr => Some(rustix::stdio::stderr()),
            _ => None,
        }
    }

    /// The WASI file type: a terminal is a character device; pipes and in-memory streams have
    /// no WASI type.
    pub fn filetype(&self) -> u8 {
        let Some(fd) = self.host_fd() else {
            return filetype::UNKNOWN;
        };
        match rustix::fs::fstat(fd) {
            Ok(st) => match rustix::fs::FileType::from_raw_mode(st.st_mode as _) {
                rustix::fs::FileType::CharacterDevice => filetype::CHARACTER_DEVICE,
                rustix::fs::FileType::RegularFile => filetype::REGULAR_FILE,
                rustix::fs::FileType::Socket => filetype::SOCKET_STREAM,
                _ => filetype::UNKNOWN,
            },
            Err(_) => filetype::UNKNOWN,
        }
    }

    /// The rights a stream has: no seeking, so that a terminal reads as a tty.
    pub fn rights(&self) -> u64 {
        if self.is_input() {
            rights::READ_STREAM
        } else {
            rights::WRITE_STREAM
        }
    }

    /// Reads once into `buf`; 0 is end-of-file.
    pub fn read(&mut self, buf: &mut [u8]) -> WasiResult<usize> {
        match self {
            Stream::HostStdin => loop {
                // Unbuffered, so that polling the host descriptor tells the truth.
                match rustix::io::read(rustix::stdio::stdin(), &mut *buf) {
                    Ok(n) => return Ok(n),
                    Err(rustix::io::Errno::INTR) => continue,
                    Err(e) => return Err(e.into()),
                }
            },
            Stream::Bytes { data, pos } => {
                let rest = &data[(*pos).min(data.len())..];
                let n = rest.len().min(buf.len());
                buf[..n].copy_from_slice(&rest[..n]);
                *pos += n;
                Ok(n)
            }
            _ => Err(Errno::Badf),
        }
    }

    /// Bytes left to read without blocking, for `poll_oneoff` (0 when unknown).
    pub fn pending(&self) -> u64 {
        match self {
            Stream::Bytes { data, pos } => data.len().saturating_sub(*pos) as u64,
            s => s
                .host_fd()
                .and_then(|fd| rustix::io::ioctl_fionread(fd).ok())
                .unwrap_or(0),
        }
    }

    /// Writes all of `buf`.
    pub fn write(&mut self, buf: &[u8]) -> WasiResult<usize> {
        match self {
            Stream::HostStdout => {
                let mut out = std::io::stdout().lock();
                out.write_all(buf)?;
                out.flush()?;
                Ok(buf.len())
            }
            Stream::HostStderr => {
                let mut err = std::io::stderr().lock();
                err.write_all(buf)?;
                err.flush()?;
                Ok(buf.len())
            }
            Stream::Discard => Ok(buf.len()),
            Stream::Buffer(b) => {
                b.append(buf);
                Ok(buf.len())
            }
            _ => Err(Errno::Badf),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_streams() {
        let mut s = Stream::input(Input::Bytes(Arc::from(&b"hello"[..])));
        let mut buf = [0u8; 3];
        assert_eq!(s.pending(), 5);
        assert_eq!(s.read(&mut buf), Ok(3));
        assert_eq!(&buf, b"hel");
        assert_eq!(s.read(&mut buf), Ok(2));
        assert_eq!(s.read(&mut buf), Ok(0));
        assert_eq!(s.write(b"x"), Err(Errno::Badf));

        let out = OutputBuffer::new();
        let mut s = Stream::output(Output::Buffer(out.clone()), false);
        assert_eq!(s.write(b"ab"), Ok(2));
        assert_eq!(s.write(b"c"), Ok(1));
        assert_eq!(out.contents(), b"abc");
        assert_eq!(s.read(&mut buf), Err(Errno::Badf));
        assert_eq!(s.rights(), rights::WRITE_STREAM);
        assert_eq!(s.filetype(), filetype::UNKNOWN);
    }
}
