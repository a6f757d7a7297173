//! Zero-copy FIX tag=value codec.
//!
//! * [`Framer`] — the stream framer: fed byte chunks as they come off the wire, it yields every
//!   complete message as a borrowed view (copying only a message split across chunks) and every
//!   framing failure as a [`Frame::Garbled`] record. Its rules are exactly `docs/sequencer.md`
//!   section 2 (the sequencer's framing contract); [`ByteFramer`] is the same machine one byte at
//!   a time, kept as the executable reference.
//! * [`Message`] — a view over one complete message: fields in order, first-occurrence lookup,
//!   typed getters, repeating groups.
//! * [`field`] — value parsers (integers, chars, booleans) with errors that say what was wrong.
//! * [`UtcTimestamp`] — FIX UTCTimestamp parse/format with nanosecond resolution.
//! * [`HeaderTemplate`] / [`MessageBuilder`] — the encoder: a pre-rendered session header and a
//!   builder that writes one message into a caller's buffer and fills in BodyLength and CheckSum.
//! * [`testgen`] — seeded generators of valid order-flow streams for tests and benchmarks.
//!
//! Nothing on the hot path allocates; [`Framer::new`] allocates its one reassembly buffer.

#![warn(missing_docs)]

pub mod encode;
pub mod field;
pub mod framer;
pub mod message;
mod scan;
pub mod testgen;
pub mod time;

pub use encode::{EncodeError, HeaderTemplate, MessageBuilder};
pub use field::{FieldError, FieldErrorKind};
pub use framer::{ByteFramer, Frame, Framer, GarbledReason, Record, HEADER_MAX, MAX_MSG_LIMIT};
pub use message::{Field, Fields, Group, GroupEntries, Message};
pub use time::{TimePrecision, UtcTimestamp};

/// The FIX field delimiter (Start Of Header, 0x01).
pub const SOH: u8 = 0x01;

/// The BeginString values this codec accepts (the framer's rule 1).
pub const BEGIN_STRINGS: [&str; 6] = [
    "FIX.4.0", "FIX.4.1", "FIX.4.2", "FIX.4.3", "FIX.4.4", "FIXT.1.1",
];

/// FIX CheckSum: the sum of `bytes` modulo 256.
pub fn checksum(bytes: &[u8]) -> u8 {
    scan::sum(bytes)
}
