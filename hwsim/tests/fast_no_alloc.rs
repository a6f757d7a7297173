//! The fast path must not allocate per message after construction: a counting global allocator
//! watches `FastPath::process` over hostile traffic of every shape (this file is its own test
//! binary so the counter sees nothing else).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use hwsim::fast::FastPath;
use hwsim::gen::{GenConfig, Traffic};

struct Counting;

static ARMED: AtomicBool = AtomicBool::new(false);
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as our caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if ARMED.load(Ordering::Relaxed) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as our caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn process_does_not_allocate() {
    let cfg = GenConfig {
        sessions: 3,
        events: 3000,
        max_chunk: 700,
        fault_rate: 0.5,
        max_msg: 4096,
        window: 256,
    };
    let t = Traffic::new(11, cfg);
    let chunks: Vec<(u16, &[u8])> = t.chunk_slices().collect();
    let (valid, _) = hwsim::gen::valid_stream(5, 1 << 20, 150, 350);
    let mut fp = FastPath::new(4, 256, 4096);
    let mut records = 0usize;
    // The counter itself works.
    ARMED.store(true, Ordering::SeqCst);
    let v = std::hint::black_box(Vec::<u8>::with_capacity(10));
    ARMED.store(false, Ordering::SeqCst);
    drop(v);
    assert_eq!(
        ALLOCS.swap(0, Ordering::SeqCst),
        1,
        "allocation counter is not counting"
    );
    ARMED.store(true, Ordering::SeqCst);
    for (s, c) in &chunks {
        fp.process(*s, c, |_, _| records += 1);
    }
    for c in valid.chunks(1460) {
        fp.process(3, c, |_, _| records += 1);
    }
    for c in valid.chunks(7) {
        fp.process(3, c, |_, _| records += 1);
    }
    fp.reset_stream(0);
    fp.set_expected(1, 5);
    fp.clear_window(2);
    ARMED.store(false, Ordering::SeqCst);
    assert!(records > 3000, "only {records} records");
    assert_eq!(ALLOCS.load(Ordering::SeqCst), 0, "process allocated");
}
