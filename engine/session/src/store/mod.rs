//! Message store: the journal of outgoing messages (for resends) and the persisted next sender and
//! target MsgSeqNums.
//!
//! Two implementations share the [`MessageStore`] trait:
//!
//! * [`MmapStore`]: an append-only, memory-mapped journal in preallocated segment files plus a
//!   torn-write-proof sequence-number file. It survives a process killed at any instant: on reopen
//!   the numbers are right and every message that was journalled can be served again; a record
//!   whose write was interrupted is detected (commit marker written last, CRC-32C over the record)
//!   and dropped, never served. See `docs/session.md`, section "Store", for the file formats.
//! * [`MemoryStore`]: the same semantics on the heap, for tests and for sessions configured without
//!   a `FileStorePath`.
//!
//! Rules shared by both (and checked by the tests): MsgSeqNum 0 is never valid; journalled numbers
//! strictly increase; `append(seq, ..)` needs `seq >= next_sender_seq()`; the next sender number
//! never falls back to or below a journalled number (only [`MessageStore::reset`] rewinds it).

mod crc;
mod memory;
mod mmap;
mod seqfile;
mod sys;

use std::fmt;
use std::path::PathBuf;

pub use crc::crc32c;
pub use memory::MemoryStore;
pub use mmap::{MmapStore, MmapStoreConfig};

/// Default largest message a store accepts, in bytes (the settings key `MaxMessageSize` has the
/// same default).
pub const DEFAULT_MAX_MESSAGE: usize = 4096;

/// When the memory-mapped store forces its writes to stable storage (`msync(MS_SYNC)`).
///
/// Whatever the policy, a message journalled by a process that is then killed (SIGKILL, panic,
/// abort) is kept: the kernel owns the mapped pages. The policy only matters for a power loss or
/// kernel crash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FlushPolicy {
    /// Never msync on the hot path; the kernel writes dirty pages back on its own schedule.
    /// [`MessageStore::flush`] still forces everything out.
    None,
    /// msync the record (and the sequence-number page) before `append` / `set_*` return.
    EveryMessage,
    /// msync once every `every_messages` writes (appends and sequence-number updates together);
    /// 0 behaves as 1.
    Batched {
        /// Number of writes between two msyncs.
        every_messages: u32,
    },
}

/// What went wrong in a store; its `Display` names the file and the problem.
#[derive(Debug)]
pub enum StoreError {
    /// A system call failed.
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// What the store was doing ("open", "msync", "create segment", ...).
        op: &'static str,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A file's contents are damaged in a way that is not a torn last write.
    Corrupt {
        /// The damaged file.
        path: PathBuf,
        /// What is wrong and where (offsets, numbers).
        detail: String,
    },
    /// A message is larger than the configured maximum.
    TooLarge {
        /// The message length in bytes.
        len: usize,
        /// The configured maximum in bytes.
        max: usize,
    },
    /// A MsgSeqNum is not acceptable: `got` is below `expected`, the lowest acceptable number.
    SeqOrder {
        /// The lowest number the store accepts here.
        expected: u32,
        /// The number that was passed.
        got: u32,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { path, op, source } => {
                write!(f, "store I/O error: {op} {}: {source}", path.display())
            }
            StoreError::Corrupt { path, detail } => {
                write!(f, "store file {} is corrupt: {detail}", path.display())
            }
            StoreError::TooLarge { len, max } => write!(
                f,
                "message of {len} bytes is larger than the store's maximum of {max} bytes"
            ),
            StoreError::SeqOrder { expected, got } => write!(
                f,
                "MsgSeqNum {got} out of order: the store accepts {expected} or above here"
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// The message store used by a FIX session: outgoing messages by MsgSeqNum, and both next
/// numbers.
pub trait MessageStore {
    /// Next MsgSeqNum we will send (1 after reset).
    fn next_sender_seq(&self) -> u32;
    /// Next MsgSeqNum we expect from the peer (1 after reset).
    fn next_target_seq(&self) -> u32;
    /// Sets the next MsgSeqNum we will send. It may not fall to or below the last journalled
    /// number ([`StoreError::SeqOrder`]); 0 is rejected.
    fn set_next_sender_seq(&mut self, seq: u32) -> Result<(), StoreError>;
    /// Sets the next MsgSeqNum we expect from the peer; 0 is rejected.
    fn set_next_target_seq(&mut self, seq: u32) -> Result<(), StoreError>;
    /// Journals an outgoing message whose MsgSeqNum is `seq` BEFORE it is sent; sets next sender
    /// seq to seq + 1. `seq` must be at least [`next_sender_seq`](Self::next_sender_seq) (and so
    /// above every journalled number), and `msg` no longer than the configured maximum.
    fn append(&mut self, seq: u32, msg: &[u8]) -> Result<(), StoreError>;
    /// Visits the stored messages with begin <= seq <= end in increasing order, straight from the
    /// store (never loading the range into memory); numbers never stored are skipped. `f` returns
    /// false to stop early.
    fn for_each_in_range(
        &self,
        begin: u32,
        end: u32,
        f: &mut dyn FnMut(u32, &[u8]) -> bool,
    ) -> Result<(), StoreError>;
    /// Highest journalled MsgSeqNum; 0 when empty.
    fn last_stored_seq(&self) -> u32;
    /// Both numbers back to 1 and the journal rolled over (old segments removed), as after
    /// ResetSeqNumFlag.
    fn reset(&mut self) -> Result<(), StoreError>;
    /// Forces every write so far to stable storage (whatever the flush policy).
    fn flush(&mut self) -> Result<(), StoreError>;
    /// Work for an idle moment, off the hot path: the mapped store prefaults the pages its next
    /// appends will write and prepares its next segment ([`MmapStore::housekeeping`] with
    /// [`IDLE_PREFAULT_BYTES`]). Call it from the outer loop when the session is idle. The
    /// default does nothing.
    fn idle_work(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}

/// How far ahead of the journal's end [`MessageStore::idle_work`] prefaults (64 KiB).
pub const IDLE_PREFAULT_BYTES: usize = 64 << 10;

impl<S: MessageStore + ?Sized> MessageStore for Box<S> {
    fn next_sender_seq(&self) -> u32 {
        (**self).next_sender_seq()
    }
    fn next_target_seq(&self) -> u32 {
        (**self).next_target_seq()
    }
    fn set_next_sender_seq(&mut self, seq: u32) -> Result<(), StoreError> {
        (**self).set_next_sender_seq(seq)
    }
    fn set_next_target_seq(&mut self, seq: u32) -> Result<(), StoreError> {
        (**self).set_next_target_seq(seq)
    }
    fn append(&mut self, seq: u32, msg: &[u8]) -> Result<(), StoreError> {
        (**self).append(seq, msg)
    }
    fn for_each_in_range(
        &self,
        begin: u32,
        end: u32,
        f: &mut dyn FnMut(u32, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        (**self).for_each_in_range(begin, end, f)
    }
    fn last_stored_seq(&self) -> u32 {
        (**self).last_stored_seq()
    }
    fn reset(&mut self) -> Result<(), StoreError> {
        (**self).reset()
    }
    fn flush(&mut self) -> Result<(), StoreError> {
        (**self).flush()
    }
    fn idle_work(&mut self) -> Result<(), StoreError> {
        (**self).idle_work()
    }
}

/// Checks an `append` against the shared rules; returns the error to report, if any.
pub(crate) fn check_append(
    seq: u32,
    len: usize,
    max: usize,
    next_sender: u32,
    last_stored: u32,
) -> Result<(), StoreError> {
    if len > max {
        return Err(StoreError::TooLarge { len, max });
    }
    let lowest = next_sender.max(last_stored.saturating_add(1)).max(1);
    if seq < lowest {
        return Err(StoreError::SeqOrder {
            expected: lowest,
            got: seq,
        });
    }
    if seq == u32::MAX {
        // seq + 1 would overflow the next sender number.
        return Err(StoreError::SeqOrder {
            expected: lowest,
            got: seq,
        });
    }
    Ok(())
}

/// Checks a `set_next_sender_seq` against the shared rules.
pub(crate) fn check_set_sender(seq: u32, last_stored: u32) -> Result<(), StoreError> {
    let lowest = last_stored.saturating_add(1).max(1);
    if seq < lowest {
        return Err(StoreError::SeqOrder {
            expected: lowest,
            got: seq,
        });
    }
    Ok(())
}

/// Checks a `set_next_target_seq`.
pub(crate) fn check_set_target(seq: u32) -> Result<(), StoreError> {
    if seq == 0 {
        return Err(StoreError::SeqOrder {
            expected: 1,
            got: 0,
        });
    }
    Ok(())
}
