//! A fixed-capacity byte queue: bytes are appended at the tail and consumed from the head, and
//! the buffer is compacted (one `memmove`) when the tail reaches the end. It never grows, so a
//! full queue is back-pressure, and it never allocates after construction.

/// Fixed-capacity FIFO of bytes with contiguous views of the readable and writable parts.
#[derive(Debug)]
pub struct ByteQueue {
    buf: Box<[u8]>,
    head: usize,
    tail: usize,
}

impl ByteQueue {
    /// A queue of `capacity` bytes, pre-faulted (every page touched) so the hot path does not
    /// take page faults on first use.
    pub fn new(capacity: usize) -> ByteQueue {
        let mut buf = vec![0u8; capacity.max(1)].into_boxed_slice();
        crate::sys::prefault(&mut buf);
        ByteQueue {
            buf,
            head: 0,
            tail: 0,
        }
    }

    /// Total capacity in bytes.
    pub fn capacity(&self) -> usize {
        self.buf.len()
    }

    /// Number of readable bytes.
    pub fn len(&self) -> usize {
        self.tail - self.head
    }

    /// True when nothing is readable.
    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Free space (after compaction).
    pub fn free(&self) -> usize {
        self.buf.len() - self.len()
    }

    /// The readable bytes.
    pub fn readable(&self) -> &[u8] {
        &self.buf[self.head..self.tail]
    }

    /// Mutable view of the readable bytes (used by fault injection to patch bytes in place).
    pub fn readable_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.head..self.tail]
    }

    /// Consumes `n` readable bytes (clamped to what is readable).
    pub fn consume(&mut self, n: usize) {
        self.head += n.min(self.len());
        if self.head == self.tail {
            self.head = 0;
            self.tail = 0;
        }
    }

    /// Contiguous writable space; compacts first when `compact` is true and the tail is at the
    /// end. Callers that have lent the readable bytes to the kernel pass `compact = false`.
    pub fn writable(&mut self, compact: bool) -> &mut [u8] {
        if compact && self.head > 0 && self.tail == self.buf.len() {
            self.compact();
        }
        &mut self.buf[self.tail..]
    }

    /// Moves the readable bytes to the start of the buffer.
    pub fn compact(&mut self) {
        if self.head > 0 {
            self.buf.copy_within(self.head..self.tail, 0);
            self.tail -= self.head;
            self.head = 0;
        }
    }

    /// Marks `n` bytes of [`ByteQueue::writable`] as written.
    pub fn commit(&mut self, n: usize) {
        self.tail = (self.tail + n).min(self.buf.len());
    }

    /// Appends as much of `data` as fits (compacting if needed); returns how much was appended.
    pub fn push(&mut self, data: &[u8]) -> usize {
        if self.buf.len() - self.tail < data.len() {
            self.compact();
        }
        let w = &mut self.buf[self.tail..];
        let n = w.len().min(data.len());
        w[..n].copy_from_slice(&data[..n]);
        self.tail += n;
        n
    }

    /// Appends all of `data` or nothing.
    pub fn push_all(&mut self, data: &[u8]) -> bool {
        if self.free() < data.len() {
            return false;
        }
        self.push(data) == data.len()
    }

    /// Drops every byte.
    pub fn clear(&mut self) {
        self.head = 0;
        self.tail = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fifo_with_compaction_and_backpressure() {
        let mut q = ByteQueue::new(8);
        assert_eq!(q.push(b"abcdef"), 6);
        q.consume(4);
        assert_eq!(q.readable(), b"ef");
        // Needs compaction to fit 6 more.
        assert_eq!(q.push(b"ghijkl"), 6);
        assert_eq!(q.readable(), b"efghijkl");
        assert_eq!(q.push(b"x"), 0, "full queue refuses");
        assert!(!q.push_all(b"x"));
        q.consume(100);
        assert!(q.is_empty());
        assert!(q.push_all(b"12345678"));
    }
}
