//! The system calls the bench needs that std does not offer: this thread's CPU clock, and a
//! wait for a socket to become readable.

/// This thread's on-CPU time in ns (`CLOCK_THREAD_CPUTIME_ID`: exact, unlike
/// `/proc/thread-self/schedstat`, which may lag by a scheduler tick). `None` if unavailable.
pub fn thread_cpu_ns() -> Option<u64> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable `timespec` for the duration of the call, and
    // CLOCK_THREAD_CPUTIME_ID is a clock id every Linux supports; the call writes only `ts`.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    (rc == 0).then(|| ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64)
}

/// Waits until `fd` is readable (or has an error or hang-up) or `timeout` has passed
/// (`ppoll`, nanosecond timeout); true if it is readable.
pub fn wait_readable(fd: std::os::fd::RawFd, timeout: std::time::Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let ts = libc::timespec {
        tv_sec: timeout.as_secs() as libc::time_t,
        tv_nsec: libc::c_long::from(timeout.subsec_nanos() as i32),
    };
    // SAFETY: `p` is one valid, writable `pollfd` (nfds = 1) and `ts` a valid `timespec`, both
    // alive for the duration of the call; a null signal mask means "leave it unchanged". The
    // call only writes `p.revents`. An invalid `fd` is reported in `revents`, not UB.
    let rc = unsafe { libc::ppoll(&mut p, 1, &ts, std::ptr::null()) };
    rc > 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_clock_advances_with_work() {
        let a = thread_cpu_ns().expect("CLOCK_THREAD_CPUTIME_ID");
        let mut x = 0u64;
        for i in 0..2_000_000u64 {
            x = x.wrapping_add(std::hint::black_box(i));
        }
        std::hint::black_box(x);
        let b = thread_cpu_ns().unwrap();
        assert!(b > a);
    }

    #[test]
    fn wait_readable_sees_data_and_times_out() {
        use std::io::Write;
        use std::os::fd::AsRawFd;
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let mut c = std::net::TcpStream::connect(l.local_addr().unwrap()).unwrap();
        let (s, _) = l.accept().unwrap();
        let t = std::time::Duration::from_millis(5);
        assert!(!wait_readable(s.as_raw_fd(), t));
        c.write_all(b"x").unwrap();
        assert!(wait_readable(
            s.as_raw_fd(),
            std::time::Duration::from_secs(5)
        ));
    }
}
