//! `errno`: the error codes WASI functions return, with the witx values, and the mapping from host
//! I/O errors.

use std::io;

macro_rules! errnos {
    ($($(#[$doc:meta])* $name:ident = $value:literal, $text:literal;)*) => {
        /// A WASI error code (`errno`, a `u16`), with the values of the preview-1 witx.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
        #[repr(u16)]
        pub enum Errno {
            $($(#[$doc])* #[error($text)] $name = $value,)*
        }

        impl Errno {
            /// Every code, in value order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name),*];

            /// The code with this value, if any.
            pub fn from_raw(value: u16) -> Option<Errno> {
                match value {
                    $($value => Some(Errno::$name),)*
                    _ => None,
                }
            }
        }
    };
}

errnos! {
    /// No error occurred.
    Success = 0, "success";
    /// Argument list too long.
    TooBig = 1, "argument list too long";
    /// Permission denied.
    Acces = 2, "permission denied";
    /// Address in use.
    Addrinuse = 3, "address in use";
    /// Address not available.
    Addrnotavail = 4, "address not available";
    /// Address family not supported.
    Afnosupport = 5, "address family not supported";
    /// Resource unavailable, or operation would block.
    Again = 6, "resource unavailable, or operation would block";
    /// Connection already in progress.
    Already = 7, "connection already in progress";
    /// Bad file descriptor.
    Badf = 8, "bad file descriptor";
    /// Bad message.
    Badmsg = 9, "bad message";
    /// Device or resource busy.
    Busy = 10, "device or resource busy";
    /// Operation canceled.
    Canceled = 11, "operation canceled";
    /// No child processes.
    Child = 12, "no child processes";
    /// Connection aborted.
    Connaborted = 13, "connection aborted";
    /// Connection refused.
    Connrefused = 14, "connection refused";
    /// Connection reset.
    Connreset = 15, "connection reset";
    /// Resource deadlock would occur.
    Deadlk = 16, "resource deadlock would occur";
    /// Destination address required.
    Destaddrreq = 17, "destination address required";
    /// Mathematics argument out of domain of function.
    Dom = 18, "mathematics argument out of domain of function";
    /// Reserved.
    Dquot = 19, "reserved (dquot)";
    /// File exists.
    Exist = 20, "file exists";
    /// Bad address.
    Fault = 21, "bad address";
    /// File too large.
    Fbig = 22, "file too large";
    /// Host is unreachable.
    Hostunreach = 23, "host is unreachable";
    /// Identifier removed.
    Idrm = 24, "identifier removed";
    /// Illegal byte sequence.
    Ilseq = 25, "illegal byte sequence";
    /// Operation in progress.
    Inprogress = 26, "operation in progress";
    /// Interrupted function.
    Intr = 27, "interrupted function";
    /// Invalid argument.
    Inval = 28, "invalid argument";
    /// I/O error.
    Io = 29, "I/O error";
    /// Socket is connected.
    Isconn = 30, "socket is connected";
    /// Is a directory.
    Isdir = 31, "is a directory";
    /// Too many levels of symbolic links.
    Loop = 32, "too many levels of symbolic links";
    /// File descriptor value too large.
    Mfile = 33, "file descriptor value too large";
    /// Too many links.
    Mlink = 34, "too many links";
    /// Message too large.
    Msgsize = 35, "message too large";
    /// Reserved.
    Multihop = 36, "reserved (multihop)";
    /// Filename too long.
    Nametoolong = 37, "filename too long";
    /// Network is down.
    Netdown = 38, "network is down";
    /// Connection aborted by network.
    Netreset = 39, "connection aborted by network";
    /// Network unreachable.
    Netunreach = 40, "network unreachable";
    /// Too many files open in system.
    Nfile = 41, "too many files open in system";
    /// No buffer space available.
    Nobufs = 42, "no buffer space available";
    /// No such device.
    Nodev = 43, "no such device";
    /// No such file or directory.
    Noent = 44, "no such file or directory";
    /// Executable file format error.
    Noexec = 45, "executable file format error";
    /// No locks available.
    Nolck = 46, "no locks available";
    /// Reserved.
    Nolink = 47, "reserved (nolink)";
    /// Not enough space.
    Nomem = 48, "not enough space";
    /// No message of the desired type.
    Nomsg = 49, "no message of the desired type";
    /// Protocol not available.
    Noprotoopt = 50, "protocol not available";
    /// No space left on device.
    Nospc = 51, "no space left on device";
    /// Function not supported.
    Nosys = 52, "function not supported";
    /// The socket is not connected.
    Notconn = 53, "the socket is not connected";
    /// Not a directory or a symbolic link to a directory.
    Notdir = 54, "not a directory or a symbolic link to a directory";
    /// Directory not empty.
    Notempty = 55, "directory not empty";
    /// State not recoverable.
    Notrecoverable = 56, "state not recoverable";
    /// Not a socket.
    Notsock = 57, "not a socket";
    /// Not supported, or operation not supported on socket.
    Notsup = 58, "not supported";
    /// Inappropriate I/O control operation.
    Notty = 59, "inappropriate I/O control operation";
    /// No such device or address.
    Nxio = 60, "no such device or address";
    /// Value too large to be stored in data type.
    Overflow = 61, "value too large to be stored in data type";
    /// Previous owner died.
    Ownerdead = 62, "previous owner died";
    /// Operation not permitted.
    Perm = 63, "operation not permitted";
    /// Broken pipe.
    Pipe = 64, "broken pipe";
    /// Protocol error.
    Proto = 65, "protocol error";
    /// Protocol not supported.
    Protonosupport = 66, "protocol not supported";
    /// Protocol wrong type for socket.
    Prototype = 67, "protocol wrong type for socket";
    /// Result too large.
    Range = 68, "result too large";
    /// Read-only file system.
    Rofs = 69, "read-only file system";
    /// Invalid seek.
    Spipe = 70, "invalid seek";
    /// No such process.
    Srch = 71, "no such process";
    /// Reserved.
    Stale = 72, "reserved (stale)";
    /// Connection timed out.
    Timedout = 73, "connection timed out";
    /// Text file busy.
    Txtbsy = 74, "text file busy";
    /// Cross-device link.
    Xdev = 75, "cross-device link";
    /// Extension: Capabilities insufficient.
    Notcapable = 76, "capabilities insufficient";
}

impl Errno {
    /// The value the guest sees.
    pub fn raw(self) -> u16 {
        self as u16
    }

    /// The WASI code for a host `errno` value.
    pub fn from_host(code: i32) -> Errno {
        Errno::from(rustix::io::Errno::from_raw_os_error(code))
    }
}

impl From<rustix::io::Errno> for Errno {
    fn from(e: rustix::io::Errno) -> Errno {
        use rustix::io::Errno as E;
        match e {
            E::TOOBIG => Errno::TooBig,
            E::ACCESS => Errno::Acces,
            E::ADDRINUSE => Errno::Addrinuse,
            E::ADDRNOTAVAIL => Errno::Addrnotavail,
            E::AFNOSUPPORT => Errno::Afnosupport,
            E::AGAIN => Errno::Again,
            E::ALREADY => Errno::Already,
            E::BADF => Errno::Badf,
            E::BADMSG => Errno::Badmsg,
            E::BUSY => Errno::Busy,
            E::CANCELED => Errno::Canceled,
            E::CHILD => Errno::Child,
            E::CONNABORTED => Errno::Connaborted,
            E::CONNREFUSED => Errno::Connrefused,
            E::CONNRESET => Errno::Connreset,
            E::DEADLK => Errno::Deadlk,
            E::DESTADDRREQ => Errno::Destaddrreq,
            E::DOM => Errno::Dom,
            E::DQUOT => Errno::Dquot,
            E::EXIST => Errno::Exist,
            E::FAULT => Errno::Fault,
            E::FBIG => Errno::Fbig,
            E::HOSTUNREACH => Errno::Hostunreach,
            E::IDRM => Errno::Idrm,
            E::ILSEQ => Errno::Ilseq,
            E::INPROGRESS => Errno::Inprogress,
            E::INTR => Errno::Intr,
            E::INVAL => Errno::Inval,
            E::IO => Errno::Io,
            E::ISCONN => Errno::Isconn,
            E::ISDIR => Errno::Isdir,
            E::LOOP => Errno::Loop,
            E::MFILE => Errno::Mfile,
            E::MLINK => Errno::Mlink,
            E::MSGSIZE => Errno::Msgsize,
            E::MULTIHOP => Errno::Multihop,
            E::NAMETOOLONG => Errno::Nametoolong,
            E::NETDOWN => Errno::Netdown,
            E::NETRESET => Errno::Netreset,
            E::NETUNREACH => Errno::Netunreach,
            E::NFILE => Errno::Nfile,
            E::NOBUFS => Errno::Nobufs,
            E::NODEV => Errno::Nodev,
            E::NOENT => Errno::Noent,
            E::NOEXEC => Errno::Noexec,
            E::NOLCK => Errno::Nolck,
            E::NOLINK => Errno::Nolink,
            E::NOMEM => Errno::Nomem,
            E::NOMSG => Errno::Nomsg,
            E::NOPROTOOPT => Errno::Noprotoopt,
            E::NOSPC => Errno::Nospc,
            E::NOSYS => Errno::Nosys,
            E::NOTCONN => Errno::Notconn,
            E::NOTDIR => Errno::Notdir,
            E::NOTEMPTY => Errno::Notempty,
            E::NOTRECOVERABLE => Errno::Notrecoverable,
            E::NOTSOCK => Errno::Notsock,
            E::NOTSUP => Errno::Notsup,
            E::NOTTY => Errno::Notty,
            E::NXIO => Errno::Nxio,
            E::OVERFLOW => Errno::Overflow,
            E::OWNERDEAD => Errno::Ownerdead,
            E::PERM => Errno::Perm,
            E::PIPE => Errno::Pipe,
            E::PROTO => Errno::Proto,
            E::PROTONOSUPPORT => Errno::Protonosupport,
            E::PROTOTYPE => Errno::Prototype,
            E::RANGE => Errno::Range,
            E::ROFS => Errno::Rofs,
            E::SPIPE => Errno::Spipe,
            E::SRCH => Errno::Srch,
            E::STALE => Errno::Stale,
            E::TIMEDOUT => Errno::Timedout,
            E::TXTBSY => Errno::Txtbsy,
            E::XDEV => Errno::Xdev,
            // Aliases on some hosts, distinct codes on others.
            e if e == E::OPNOTSUPP => Errno::Notsup,
            e if e == E::WOULDBLOCK => Errno::Again,
            _ => Errno::Io,
        }
    }
}

impl From<io::Error> for Errno {
    fn from(e: io::Error) -> Errno {
        if let Some(code) = e.raw_os_error() {
            return Errno::from_host(code);
        }
        match e.kind() {
            io::ErrorKind::NotFound => Errno::Noent,
            // cap-std reports a path that would leave its directory this way.
            io::ErrorKind::PermissionDenied => Errno::Perm,
            io::ErrorKind::AlreadyExists => Errno::Exist,
            io::ErrorKind::InvalidInput => Errno::Inval,
            io::ErrorKind::InvalidData => Errno::Ilseq,
            io::ErrorKind::Unsupported => Errno::Notsup,
            io::ErrorKind::OutOfMemory => Errno::Nomem,
            io::ErrorKind::Interrupted => Errno::Intr,
            io::ErrorKind::WouldBlock => Errno::Again,
            io::ErrorKind::BrokenPipe => Errno::Pipe,
            io::ErrorKind::NotADirectory => Errno::Notdir,
            io::ErrorKind::IsADirectory => Errno::Isdir,
            io::ErrorKind::DirectoryNotEmpty => Errno::Notempty,
            io::ErrorKind::FileTooLarge => Errno::Fbig,
            io::ErrorKind::InvalidFilename => Errno::Inval,
            _ => Errno::Io,
        }
    }
}

/// The result of a WASI function's implementation.
pub(crate) type WasiResult<T> = Result<T, Errno>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_follow_the_witx() {
        assert_eq!(Errno::ALL.len(), 77);
        for (i, e) in Errno::ALL.iter().enumerate() {
            assert_eq!(e.raw() as usize, i);
            assert_eq!(Errno::from_raw(i as u16), Some(*e));
        }
        assert_eq!(Errno::Badf.raw(), 8);
        assert_eq!(Errno::Fault.raw(), 21);
        assert_eq!(Errno::Inval.raw(), 28);
        assert_eq!(Errno::Noent.raw(), 44);
        assert_eq!(Errno::Nosys.raw(), 52);
        assert_eq!(Errno::Notsup.raw(), 58);
        assert_eq!(Errno::Notcapable.raw(), 76);
    }

    #[test]
    fn host_errors_map() {
        let e = io::Error::from_raw_os_error(rustix::io::Errno::NOENT.raw_os_error());
        assert_eq!(Errno::from(e), Errno::Noent);
        let e = io::Error::from_raw_os_error(rustix::io::Errno::NOTEMPTY.raw_os_error());
        assert_eq!(Errno::from(e), Errno::Notempty);
        let escape = io::Error::new(io::ErrorKind::PermissionDenied, "outside");
        assert_eq!(Errno::from(escape), Errno::Perm);
    }
}
