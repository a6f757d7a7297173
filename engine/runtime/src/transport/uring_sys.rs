//! The `unsafe` of the io_uring backend, behind a safe API.
//!
//! [`UringIo`] owns everything the kernel reads or writes while an operation is in flight: the
//! ring, the socket, the provided buffer ring (receives) and the transmit queue (sends). Every
//! submission that hands the kernel a pointer is made here, and the memory behind it can only be
//! changed or freed through methods that know what is in flight:
//!
//! * the provided buffers belong to the registered buffer group until `Drop` has unregistered it
//!   (and are leaked if the kernel still holds an operation after a bounded wait);
//! * the readable part of the transmit queue is lent to the kernel by [`UringIo::start_send`] and
//!   is neither moved (no compaction) nor consumed until the send's completion (or, for a
//!   zero-copy send, its notification) comes back through [`UringIo::reap`].
//!
//! Kernel results become [`Completion`] values (errno as a positive `i32`) at this boundary.

use crate::bytes::ByteQueue;
use crate::sys::{self, BufRing};
use io_uring::{cqueue, opcode, types, IoUring};
use std::io;
use std::mem::ManuallyDrop;
use std::net::TcpStream;
use std::os::fd::AsRawFd;

const UD_RECV: u64 = 1;
const UD_SEND: u64 = 2;
const UD_CANCEL: u64 = 3;
/// Buffer group id of the provided receive buffers.
const BGID: u16 = 7;

/// What one completion meant for the owner of a [`UringIo`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Completion {
    /// `len` bytes arrived in provided buffer `bid`: read them with [`UringIo::buf`] and give the
    /// buffer back with [`UringIo::recycle`].
    Data {
        /// Buffer id.
        bid: u16,
        /// Bytes received.
        len: u32,
    },
    /// The peer closed its side (a receive completed with 0 bytes).
    Eof,
    /// A receive failed with this errno (ENOBUFS and ECANCELED are not reported: the receive is
    /// re-armed by the next [`UringIo::arm_recv`]).
    RecvError(i32),
    /// A send failed with this errno (EAGAIN and EINTR are not reported).
    SendError(i32),
}

/// An io_uring instance with one TCP socket, its provided receive buffers and its transmit
/// queue. Single-threaded (the ring is created `SINGLE_ISSUER`); may move between threads.
pub struct UringIo {
    ring: IoUring,
    sock: TcpStream,
    bufs: ManuallyDrop<BufRing>,
    txq: ManuallyDrop<ByteQueue>,
    recv_armed: bool,
    /// Bytes of `txq` lent to an in-flight send (0: none).
    send_inflight: usize,
    /// Zero-copy send: bytes reported sent, consumed when the notification frees the buffer.
    zc_sent: Option<usize>,
    inflight_ops: u32,
    zero_copy: bool,
}

impl std::os::fd::AsRawFd for UringIo {
    /// The TCP socket's descriptor (for an idle strategy that waits for it to become readable;
    /// reading or writing it directly would bypass the ring).
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.sock.as_raw_fd()
    }
}

impl UringIo {
    /// Takes ownership of `ring`, `sock` and `bufs`, registers `bufs` as the ring's provided
    /// buffer group, and creates a transmit queue of `send_buffer` bytes. `zero_copy` sends with
    /// `IORING_OP_SEND_ZC` instead of `IORING_OP_SEND`.
    pub fn new(
        ring: IoUring,
        sock: TcpStream,
        bufs: BufRing,
        send_buffer: usize,
        zero_copy: bool,
    ) -> io::Result<UringIo> {
        let io = UringIo {
            ring,
            sock,
            bufs: ManuallyDrop::new(bufs),
            txq: ManuallyDrop::new(ByteQueue::new(send_buffer)),
            recv_armed: false,
            send_inflight: 0,
            zc_sent: None,
            inflight_ops: 0,
            zero_copy,
        };
        // SAFETY: the ring entries and buffers belong to `io.bufs`, owned by the same value as
        // the ring; `Drop` unregisters the group before freeing them (or leaks them if the
        // kernel still holds an operation).
        unsafe {
            io.ring.submitter().register_buf_ring_with_flags(
                io.bufs.ring_addr(),
                io.bufs.count(),
                BGID,
                0,
            )
        }?;
        Ok(io)
    }

    /// The socket.
    pub fn sock(&self) -> &TcpStream {
        &self.sock
    }

    /// True while a multishot receive is armed.
    pub fn recv_armed(&self) -> bool {
        self.recv_armed
    }

    /// Number of provided receive buffers.
    pub fn buf_count(&self) -> u16 {
        self.bufs.count()
    }

    /// Size of each provided receive buffer.
    pub fn buf_size(&self) -> u32 {
        self.bufs.buf_size()
    }

    /// Queues a multishot receive into the provided buffers (not yet submitted); false if one
    /// is armed already or the submission queue is full.
    pub fn arm_recv(&mut self) -> bool {
        if self.recv_armed {
            return false;
        }
        let e = opcode::RecvMulti::new(types::Fd(self.sock.as_raw_fd()), BGID)
            .build()
            .user_data(UD_RECV);
        // SAFETY: RecvMulti writes only into buffers of the registered group `BGID`, owned by
        // `self.bufs` and valid until `Drop` unregisters the group; the socket is `self.sock`.
        let ok = unsafe { self.ring.submission().push(&e) }.is_ok();
        if ok {
            self.recv_armed = true;
            self.inflight_ops += 1;
        }
        ok
    }

    /// True while a send is in flight (the readable transmit bytes are lent to the kernel).
    pub fn send_in_flight(&self) -> bool {
        self.send_inflight > 0
    }

    /// Queues a send of every readable transmit byte (not yet submitted); false if a send is in
    /// flight, nothing is queued, or the submission queue is full.
    pub fn start_send(&mut self) -> bool {
        if self.send_inflight > 0 || self.txq.is_empty() {
            return false;
        }
        let fd = types::Fd(self.sock.as_raw_fd());
        let data = self.txq.readable();
        let len = data.len().min(u32::MAX as usize);
        let e = if self.zero_copy {
            opcode::SendZc::new(fd, data.as_ptr(), len as u32)
                .flags(libc::MSG_NOSIGNAL)
                .build()
                .user_data(UD_SEND)
        } else {
            opcode::Send::new(fd, data.as_ptr(), len as u32)
                .flags(libc::MSG_NOSIGNAL)
                .build()
                .user_data(UD_SEND)
        };
        // SAFETY: the bytes are the readable part of `self.txq`; while `send_inflight > 0` they
        // are neither consumed nor moved (`tx_writable` does not compact then, and `consume`
        // happens only in `reap` on the completion, or for a zero-copy send on its
        // notification), and `Drop` waits for in-flight operations or leaks the queue.
        let ok = unsafe { self.ring.submission().push(&e) }.is_ok();
        if ok {
            self.send_inflight = len;
            self.inflight_ops += 1;
        }
        ok
    }

    /// Enters the kernel (`io_uring_enter`) if `queued > 0` submissions are waiting or the
    /// kernel flagged deferred task work. Returns whether it entered; `Err(errno)` for a
    /// failure other than EINTR/EBUSY.
    pub fn submit(&mut self, queued: usize) -> Result<bool, i32> {
        let taskrun = self.ring.submission().taskrun();
        if queued == 0 && !taskrun {
            return Ok(false);
        }
        match self.ring.submit() {
            Ok(_) => Ok(true),
            Err(e) => match e.raw_os_error() {
                Some(libc::EINTR) | Some(libc::EBUSY) => Ok(true),
                code => Err(code.unwrap_or(0)),
            },
        }
    }

    /// Reaps every completion: bookkeeping of in-flight operations and the transmit queue
    /// happens here; what matters to the owner is handed to `f`. Returns completions seen.
    pub fn reap(&mut self, mut f: impl FnMut(Completion)) -> usize {
        let mut n = 0;
        let mut cq = self.ring.completion();
        cq.sync();
        for cqe in &mut cq {
            n += 1;
            let res = cqe.result();
            let flags = cqe.flags();
            match cqe.user_data() {
                UD_RECV => {
                    if !cqueue::more(flags) {
                        self.recv_armed = false;
                        self.inflight_ops -= 1;
                    }
                    if res > 0 {
                        if let Some(bid) = cqueue::buffer_select(flags) {
                            // SAFETY: this completion selected buffer `bid` of our registered
                            // group: the kernel has handed it over until we recycle it.
                            if unsafe { self.bufs.claim(bid) } {
                                f(Completion::Data {
                                    bid,
                                    len: res as u32,
                                });
                            }
                        }
                    } else if res == 0 {
                        f(Completion::Eof);
                    } else if res != -libc::ENOBUFS && res != -libc::ECANCELED {
                        // ENOBUFS: every buffer is held by the owner; re-armed once one is
                        // recycled.
                        f(Completion::RecvError(-res));
                    }
                }
                UD_SEND if cqueue::notif(flags) => {
                    // Zero-copy send: the kernel no longer reads the buffer.
                    self.inflight_ops -= 1;
                    self.txq.consume(self.zc_sent.take().unwrap_or(0));
                    self.send_inflight = 0;
                }
                UD_SEND => {
                    if res < 0 && res != -libc::EAGAIN && res != -libc::EINTR {
                        f(Completion::SendError(-res));
                    }
                    let sent = res.max(0) as usize;
                    if cqueue::more(flags) {
                        // A notification follows; keep the bytes until then.
                        self.zc_sent = Some(sent);
                    } else {
                        self.inflight_ops -= 1;
                        self.txq.consume(sent);
                        self.send_inflight = 0;
                    }
                }
                _ => {}
            }
        }
        n
    }

    /// The first `len` bytes of provided buffer `bid`, if a [`Completion::Data`] handed it over
    /// and it has not been recycled (else empty; see [`BufRing::buf`]).
    pub fn buf(&self, bid: u16, len: usize) -> &[u8] {
        self.bufs.buf(bid, len)
    }

    /// Gives provided buffer `bid` back to the kernel (ignored unless it is held).
    pub fn recycle(&mut self, bid: u16) {
        self.bufs.recycle(bid);
    }

    /// Contiguous free transmit space (compacted first only when no send is in flight).
    pub fn tx_writable(&mut self) -> &mut [u8] {
        let compact = self.send_inflight == 0;
        self.txq.writable(compact)
    }

    /// Marks `n` bytes of [`UringIo::tx_writable`] as queued.
    pub fn tx_commit(&mut self, n: usize) {
        self.txq.commit(n);
    }

    /// Bytes queued for sending (including those in flight).
    pub fn tx_len(&self) -> usize {
        self.txq.len()
    }

    /// Transmit queue capacity.
    pub fn tx_capacity(&self) -> usize {
        self.txq.capacity()
    }

    /// Shuts the socket down in both directions (wakes any pending operation on it).
    pub fn shutdown(&self) {
        sys::shutdown(self.sock.as_raw_fd());
    }
}

impl Drop for UringIo {
    fn drop(&mut self) {
        self.shutdown();
        if self.inflight_ops > 0 {
            let e = opcode::AsyncCancel2::new(types::CancelBuilder::any())
                .build()
                .user_data(UD_CANCEL);
            // SAFETY: a cancel request references no memory.
            let _ = unsafe { self.ring.submission().push(&e) };
        }
        // Wait (bounded) until the kernel has finished with our buffers.
        let mut spins = 0;
        while self.inflight_ops > 0 && spins < 1000 {
            let ts = types::Timespec::new().nsec(1_000_000);
            let args = types::SubmitArgs::new().timespec(&ts);
            let _ = self.ring.submitter().submit_with_args(1, &args);
            self.reap(|_| {});
            spins += 1;
        }
        let _ = self.ring.submitter().unregister_buf_ring(BGID);
        if self.inflight_ops == 0 {
            // SAFETY: neither field is used after this point (we are in `drop`), and the kernel
            // holds no operation that could still read or write them.
            unsafe {
                ManuallyDrop::drop(&mut self.bufs);
                ManuallyDrop::drop(&mut self.txq);
            }
        }
        // Otherwise the kernel may still own buffers: they are leaked rather than freed.
    }
}
