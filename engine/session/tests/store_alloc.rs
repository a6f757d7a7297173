//! The store's hot path allocates nothing: `append`, `set_next_*` and `for_each_in_range`, with a
//! counting global allocator (its own test binary, since the allocator is process-wide).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use fixsession::store::{FlushPolicy, MessageStore, MmapStore, MmapStoreConfig};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Only allocations made by the test's own thread count (the harness has other threads).
    static COUNTING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn count() {
    if COUNTING.with(|c| c.get()) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn hot_path_does_not_allocate() {
    COUNTING.with(|c| c.set(true));
    for flush in [
        FlushPolicy::None,
        FlushPolicy::Batched { every_messages: 8 },
        FlushPolicy::EveryMessage,
    ] {
        // tmpfs when there is one: msync there is cheap, and allocation does not depend on the
        // file system.
        let d = tempfile::tempdir_in("/dev/shm")
            .or_else(|_| tempfile::tempdir())
            .unwrap();
        let cfg = MmapStoreConfig {
            segment_bytes: 8 << 10,
            flush,
            max_message: 1024,
        };
        let mut s = MmapStore::open(d.path(), "FIX.4.4:A->B", cfg).unwrap();
        let msg = [b'm'; 300];
        let mut seq = 1u32;
        let mut rollovers = 0;
        // Many rollovers, each prepared by housekeeping outside the counted window.
        // msync per write is slow on a disk: fewer rounds for EveryMessage.
        let rounds = if flush == FlushPolicy::EveryMessage {
            100
        } else {
            1000
        };
        for _ in 0..rounds {
            s.housekeeping(4 << 10).unwrap();
            let segs = s.segment_count();
            let before = ALLOCS.load(Ordering::Relaxed);
            for _ in 0..4 {
                s.append(seq, &msg).unwrap();
                s.set_next_target_seq(seq + 1).unwrap();
                seq += 1;
            }
            let mut n = 0;
            s.for_each_in_range(seq.saturating_sub(50), seq, &mut |_, m| {
                n += m.len();
                true
            })
            .unwrap();
            assert!(n > 0);
            let after = ALLOCS.load(Ordering::Relaxed);
            assert_eq!(
                after - before,
                0,
                "{flush:?}: allocation on the hot path at seq {seq}"
            );
            rollovers += s.segment_count() - segs;
        }
        assert!(rollovers > 10, "{flush:?}: only {rollovers} rollovers");
    }
}
