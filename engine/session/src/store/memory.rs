//! [`MemoryStore`]: the message store on the heap, with the same rules as the mapped store.

use super::{
    check_append, check_set_sender, check_set_target, MessageStore, StoreError, DEFAULT_MAX_MESSAGE,
};

/// A message store kept in memory: for tests and for sessions without a `FileStorePath`.
///
/// Messages are packed into one growing byte buffer with a (seq, start, end) index, so a resend
/// is served without copying. Nothing survives the process.
#[derive(Debug, Clone)]
pub struct MemoryStore {
    next_sender: u32,
    next_target: u32,
    max_message: usize,
    data: Vec<u8>,
    index: Vec<(u32, usize, usize)>,
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// An empty store: both next numbers 1, messages up to [`DEFAULT_MAX_MESSAGE`] bytes.
    pub fn new() -> Self {
        Self::with_max_message(DEFAULT_MAX_MESSAGE)
    }

    /// An empty store accepting messages up to `max_message` bytes.
    pub fn with_max_message(max_message: usize) -> Self {
        MemoryStore {
            next_sender: 1,
            next_target: 1,
            max_message,
            data: Vec::new(),
            index: Vec::new(),
        }
    }

    /// Number of journalled messages.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no message is journalled.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

impl MessageStore for MemoryStore {
    fn next_sender_seq(&self) -> u32 {
        self.next_sender
    }

    fn next_target_seq(&self) -> u32 {
        self.next_target
    }

    fn set_next_sender_seq(&mut self, seq: u32) -> Result<(), StoreError> {
        check_set_sender(seq, self.last_stored_seq())?;
        self.next_sender = seq;
        Ok(())
    }

    fn set_next_target_seq(&mut self, seq: u32) -> Result<(), StoreError> {
        check_set_target(seq)?;
        self.next_target = seq;
        Ok(())
    }

    fn append(&mut self, seq: u32, msg: &[u8]) -> Result<(), StoreError> {
        check_append(
            seq,
            msg.len(),
            self.max_message,
            self.next_sender,
            self.last_stored_seq(),
        )?;
        let start = self.data.len();
        self.data.extend_from_slice(msg);
        self.index.push((seq, start, self.data.len()));
        self.next_sender = seq + 1;
        Ok(())
    }

    fn for_each_in_range(
        &self,
        begin: u32,
        end: u32,
        f: &mut dyn FnMut(u32, &[u8]) -> bool,
    ) -> Result<(), StoreError> {
        let first = self.index.partition_point(|e| e.0 < begin);
        for &(seq, s, e) in &self.index[first..] {
            if seq > end {
                break;
            }
            if !f(seq, &self.data[s..e]) {
                break;
            }
        }
        Ok(())
    }

    fn last_stored_seq(&self) -> u32 {
        self.index.last().map_or(0, |e| e.0)
    }

    fn reset(&mut self) -> Result<(), StoreError> {
        self.next_sender = 1;
        self.next_target = 1;
        self.data.clear();
        self.index.clear();
        Ok(())
    }

    fn flush(&mut self) -> Result<(), StoreError> {
        Ok(())
    }
}
