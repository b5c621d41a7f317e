//! `poll_oneoff`: waits for clock timeouts and for descriptors to become readable or writable.
//!
//! Regular files and in-memory streams are always ready; inherited standard streams are polled on
//! the host descriptor; clocks become events when their timeout passes, if nothing else was ready
//! first.

use crate::clocks;
use crate::errno::{Errno, WasiResult};
use crate::fd_table::Kind;
use crate::types::{eventrwflags, eventtype, layout, subclockflags};
use crate::Call;
use rustix::event::{PollFd, PollFlags};
use std::io::Seek;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

/// An event to report, in `event` form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Event {
    userdata: u64,
    error: Errno,
    kind: u8,
    nbytes: u64,
    flags: u16,
}

impl Event {
    fn to_bytes(self) -> [u8; layout::EVENT_SIZE as usize] {
        let mut b = [0u8; layout::EVENT_SIZE as usize];
        b[0..8].copy_from_slice(&self.userdata.to_le_bytes());
        b[8..10].copy_from_slice(&self.error.raw().to_le_bytes());
        b[10] = self.kind;
        b[16..24].copy_from_slice(&self.nbytes.to_le_bytes());
        b[24..26].copy_from_slice(&self.flags.to_le_bytes());
        b
    }

    fn error(userdata: u64, kind: u8, error: Errno) -> Event {
        Event {
            userdata,
            error,
            kind,
            nbytes: 0,
            flags: 0,
        }
    }

    fn ready(userdata: u64, kind: u8, nbytes: u64, flags: u16) -> Event {
        Event {
            userdata,
            error: Errno::Success,
            kind,
            nbytes,
            flags,
        }
    }
}

/// One subscription, decoded.
enum Subscription {
    Clock {
        userdata: u64,
        id: u32,
        timeout: u64,
        abstime: bool,
    },
    Fd {
        userdata: u64,
        fd: u32,
        kind: u8,
    },
}

fn read_subscription(cx: &Call<'_>, at: u32) -> WasiResult<Subscription> {
    let userdata = cx.mem.read_u64(at)?;
    let tag = cx.mem.read_u8(at + 8)?;
    Ok(match tag {
        eventtype::CLOCK => {
            let flags = cx.mem.read_u16(at + 40)?;
            if flags & !subclockflags::ABSTIME != 0 {
                return Err(Errno::Inval);
            }
            Subscription::Clock {
                userdata,
                id: cx.mem.read_u32(at + 16)?,
                timeout: cx.mem.read_u64(at + 24)?,
                abstime: flags & subclockflags::ABSTIME != 0,
            }
        }
        eventtype::FD_READ | eventtype::FD_WRITE => Subscription::Fd {
            userdata,
            fd: cx.mem.read_u32(at + 16)?,
            kind: tag,
        },
        _ => return Err(Errno::Inval),
    })
}

/// How long from now until a clock subscription's timeout.
fn clock_wait(id: u32, timeout: u64, abstime: bool) -> WasiResult<Duration> {
    let now = clocks::now(id)?;
    Ok(Duration::from_nanos(if abstime {
        timeout.saturating_sub(now)
    } else {
        timeout
    }))
}

/// `poll_oneoff(in: *subscription, out: *event, nsubscriptions: size) -> (errno, size)`
pub(crate) fn poll_oneoff(cx: &mut Call<'_>) -> WasiResult<()> {
    let (input, output, n, nevents) = (cx.u32(0), cx.u32(1), cx.u32(2), cx.u32(3));
    if n == 0 {
        return Err(Errno::Inval);
    }
    cx.mem.check(nevents, 4, 4)?;
    cx.mem.check_array(input, n, layout::SUBSCRIPTION_SIZE, 8)?;
    cx.mem.check_array(output, n, layout::EVENT_SIZE, 8)?;
    let subs = (0..n)
        .map(|i| read_subscription(cx, input + i * layout::SUBSCRIPTION_SIZE))
        .collect::<WasiResult<Vec<_>>>()?;

    let start = Instant::now();
    let mut events: Vec<(usize, Event)> = Vec::new();
    let mut clocks: Vec<(usize, u64, Instant)> = Vec::new();
    // Inherited streams to poll: subscription index, userdata, kind, host descriptor.
    let mut host: Vec<(usize, u64, u8, BorrowedFd<'static>)> = Vec::new();
    for (i, sub) in subs.iter().enumerate() {
        match *sub {
            Subscription::Clock {
                userdata,
                id,
                timeout,
                abstime,
            } => match clock_wait(id, timeout, abstime) {
                Ok(wait) => clocks.push((i, userdata, start + wait)),
                Err(e) => events.push((i, Event::error(userdata, eventtype::CLOCK, e))),
            },
            Subscription::Fd { userdata, fd, kind } => {
                let reading = kind == eventtype::FD_READ;
                let event = match cx.ctx.fds.get(fd).map(|d| &d.kind) {
                    Err(e) => Event::error(userdata, kind, e),
                    Ok(Kind::Dir(_)) => Event::error(userdata, kind, Errno::Badf),
                    Ok(Kind::File(f)) => {
                        let nbytes = if reading {
                            let size = f.file.metadata().map(|m| m.len()).unwrap_or(0);
                            let pos = (&f.file).stream_position().unwrap_or(0);
                            size.saturating_sub(pos)
                        } else {
                            0
                        };
                        Event::ready(userdata, kind, nbytes, 0)
                    }
                    Ok(Kind::Stream(s)) => match s.host_fd() {
                        Some(h) => {
                            host.push((i, userdata, kind, h));
                            continue;
                        }
                        None => match (reading, s.is_input()) {
                            (true, true) => {
                                let pending = s.pending();
                                // An in-memory input with nothing left is at its end.
                                let flags = if pending == 0 {
                                    eventrwflags::HANGUP
                                } else {
                                    0
                                };
                                Event::ready(userdata, kind, pending, flags)
                            }
                            (false, false) => Event::ready(userdata, kind, 0, 0),
                            _ => Event::error(userdata, kind, Errno::Badf),
                        },
                    },
                };
                events.push((i, event));
            }
        }
    }

    loop {
        let now = Instant::now();
        let timeout = if !events.is_empty() {
            Some(Duration::ZERO)
        } else {
            clocks
                .iter()
                .map(|(_, _, at)| at.saturating_duration_since(now))
                .min()
        };
        if !host.is_empty() {
            let mut fds: Vec<PollFd<'_>> = host
                .iter()
                .map(|(_, _, kind, fd)| {
                    let want = if *kind == eventtype::FD_READ {
                        PollFlags::IN
                    } else {
                        PollFlags::OUT
                    };
                    PollFd::from_borrowed_fd(*fd, want)
                })
                .collect();
            let ts = timeout.map(|d| rustix::time::Timespec {
                tv_sec: d.as_secs() as _,
                tv_nsec: d.subsec_nanos() as _,
            });
            match rustix::event::poll(&mut fds, ts.as_ref()) {
                Ok(_) | Err(rustix::io::Errno::INTR) => {}
                Err(e) => return Err(e.into()),
            }
            for ((i, userdata, kind, fd), p) in host.iter().zip(&fds) {
                let r = p.revents();
                if r.is_empty() {
                    continue;
                }
                let event = if r.contains(PollFlags::NVAL) {
                    Event::error(*userdata, *kind, Errno::Badf)
                } else if r.contains(PollFlags::ERR) {
                    Event::error(*userdata, *kind, Errno::Io)
                } else {
                    let nbytes = if *kind == eventtype::FD_READ {
                        rustix::io::ioctl_fionread(fd).unwrap_or(0)
                    } else {
                        0
                    };
                    let flags = if r.contains(PollFlags::HUP) {
                        eventrwflags::HANGUP
                    } else {
                        0
                    };
                    Event::ready(*userdata, *kind, nbytes, flags)
                };
                events.push((*i, event));
            }
        } else if events.is_empty() {
            match timeout {
                Some(t) => std::thread::sleep(t),
                None => break,
            }
        }
        let now = Instant::now();
        for (i, userdata, at) in &clocks {
            if *at <= now {
                events.push((*i, Event::ready(*userdata, eventtype::CLOCK, 0, 0)));
            }
        }
        if !events.is_empty() {
            break;
        }
    }

    events.sort_by_key(|(i, _)| *i);
    for (k, (_, e)) in events.iter().enumerate() {
        cx.mem
            .write_bytes(output + k as u32 * layout::EVENT_SIZE, &e.to_bytes())?;
    }
    cx.mem.write_u32(nevents, events.len() as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_layout() {
        let e = Event {
            userdata: 0x1122334455667788,
            error: Errno::Badf,
            kind: eventtype::FD_WRITE,
            nbytes: 5,
            flags: eventrwflags::HANGUP,
        };
        let b = e.to_bytes();
        assert_eq!(b.len(), 32);
        assert_eq!(u64::from_le_bytes(b[0..8].try_into().unwrap()), e.userdata);
        assert_eq!(u16::from_le_bytes([b[8], b[9]]), 8);
        assert_eq!(b[10], 2);
        assert_eq!(u64::from_le_bytes(b[16..24].try_into().unwrap()), 5);
        assert_eq!(u16::from_le_bytes([b[24], b[25]]), 1);
    }

    #[test]
    fn clock_waits() {
        assert_eq!(
            clock_wait(1, 5_000, false).unwrap(),
            Duration::from_nanos(5_000)
        );
        assert_eq!(clock_wait(1, 0, true).unwrap(), Duration::ZERO);
        assert_eq!(clock_wait(9, 0, false), Err(Errno::Inval));
    }
}
