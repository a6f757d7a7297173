//! Behaviour of the message stores: the shared rules on both implementations, reopen, torn tails,
//! corruption, reset, locking and a model-based property test.

use std::fs::{self, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use fixsession::store::{
    FlushPolicy, MemoryStore, MessageStore, MmapStore, MmapStoreConfig, StoreError,
};
use proptest::prelude::*;

const KEY: &str = "FIX.4.4:SENDER->TARGET";

fn cfg(segment_bytes: u64) -> MmapStoreConfig {
    MmapStoreConfig {
        segment_bytes,
        flush: FlushPolicy::None,
        max_message: 512,
    }
}

fn msg(seq: u32) -> Vec<u8> {
    // Lengths vary from 1 to 300 bytes so that records straddle the 8-byte padding.
    let len = 1 + (seq as usize * 37) % 300;
    (0..len).map(|i| (seq as usize * 31 + i) as u8).collect()
}

fn collect(s: &dyn MessageStore, b: u32, e: u32) -> Vec<(u32, Vec<u8>)> {
    let mut v = Vec::new();
    s.for_each_in_range(b, e, &mut |seq, m| {
        v.push((seq, m.to_vec()));
        true
    })
    .unwrap();
    v
}

fn open(dir: &Path, c: MmapStoreConfig) -> MmapStore {
    MmapStore::open(dir, KEY, c).unwrap()
}

fn open_err(dir: &Path, c: MmapStoreConfig) -> StoreError {
    MmapStore::open(dir, KEY, c).unwrap_err()
}

/// The rules every MessageStore follows.
fn shared_rules(s: &mut dyn MessageStore, max: usize) {
    assert_eq!(s.next_sender_seq(), 1);
    assert_eq!(s.next_target_seq(), 1);
    assert_eq!(s.last_stored_seq(), 0);
    assert!(collect(s, 1, u32::MAX).is_empty());
    for seq in 1..=10 {
        s.append(seq, &msg(seq)).unwrap();
    }
    assert_eq!(s.next_sender_seq(), 11);
    assert_eq!(s.last_stored_seq(), 10);
    // Out-of-order, repeated and zero numbers are refused and change nothing.
    for bad in [0, 1, 10] {
        match s.append(bad, b"x") {
            Err(StoreError::SeqOrder { expected: 11, got }) => assert_eq!(got, bad),
            other => panic!("append({bad}) gave {other:?}"),
        }
    }
    // Too large.
    let big = vec![b'A'; max + 1];
    match s.append(11, &big) {
        Err(StoreError::TooLarge { len, max: m }) => assert_eq!((len, m), (max + 1, max)),
        other => panic!("oversized append gave {other:?}"),
    }
    s.append(11, &vec![b'B'; max]).unwrap();
    // Jump forward (SequenceReset-style): gaps are skipped on replay.
    s.set_next_sender_seq(20).unwrap();
    assert!(matches!(
        s.append(19, b"x"),
        Err(StoreError::SeqOrder {
            expected: 20,
            got: 19
        })
    ));
    s.append(20, &msg(20)).unwrap();
    s.append(25, &msg(25)).unwrap();
    assert_eq!(s.next_sender_seq(), 26);
    // The sender number cannot fall to or below what is journalled.
    assert!(matches!(
        s.set_next_sender_seq(25),
        Err(StoreError::SeqOrder {
            expected: 26,
            got: 25
        })
    ));
    assert!(s.set_next_sender_seq(0).is_err());
    assert!(matches!(
        s.set_next_target_seq(0),
        Err(StoreError::SeqOrder {
            expected: 1,
            got: 0
        })
    ));
    s.set_next_target_seq(77).unwrap();
    assert_eq!(s.next_target_seq(), 77);
    s.set_next_target_seq(5).unwrap();
    assert_eq!(s.next_target_seq(), 5);

    let all = collect(s, 1, 1000);
    let seqs: Vec<u32> = all.iter().map(|e| e.0).collect();
    let mut want: Vec<u32> = (1..=11).collect();
    want.extend([20, 25]);
    assert_eq!(seqs, want);
    for (seq, m) in &all {
        if *seq == 11 {
            assert_eq!(m, &vec![b'B'; max]);
        } else {
            assert_eq!(m, &msg(*seq), "message {seq}");
        }
    }
    assert_eq!(
        collect(s, 5, 7).iter().map(|e| e.0).collect::<Vec<_>>(),
        [5, 6, 7]
    );
    assert_eq!(
        collect(s, 12, 24).iter().map(|e| e.0).collect::<Vec<_>>(),
        [20]
    );
    assert!(collect(s, 7, 5).is_empty());
    assert!(collect(s, 26, u32::MAX).is_empty());
    // Early stop.
    let mut n = 0;
    s.for_each_in_range(1, 100, &mut |_, _| {
        n += 1;
        n < 3
    })
    .unwrap();
    assert_eq!(n, 3);

    s.flush().unwrap();
    s.reset().unwrap();
    assert_eq!(s.next_sender_seq(), 1);
    assert_eq!(s.next_target_seq(), 1);
    assert_eq!(s.last_stored_seq(), 0);
    assert!(collect(s, 1, u32::MAX).is_empty());
    s.append(1, b"after reset").unwrap();
    assert_eq!(collect(s, 1, 1), vec![(1, b"after reset".to_vec())]);
}

#[test]
fn boxed_stores_follow_the_rules_and_idle_work_prepares_a_segment() {
    let mut m: Box<dyn MessageStore> = Box::new(MemoryStore::with_max_message(512));
    shared_rules(&mut m, 512);
    m.idle_work().unwrap();
    let d = tempfile::tempdir().unwrap();
    let mut s: Box<dyn MessageStore> = Box::new(open(d.path(), cfg(1024)));
    shared_rules(&mut s, 512);
    s.reset().unwrap();
    // Five messages (712 bytes with headers) fill more than half of a 1 KiB segment.
    for seq in 1..=5 {
        s.append(seq, &msg(seq)).unwrap();
    }
    assert_eq!(segments(d.path()).len(), 1);
    s.idle_work().unwrap();
    assert_eq!(
        segments(d.path()).len(),
        2,
        "idle_work made the next segment"
    );
    s.append(6, &msg(6)).unwrap();
    assert_eq!(collect(&*s, 6, 6), vec![(6, msg(6))]);
}

#[test]
fn stores_can_move_to_another_thread() {
    fn send<T: Send>() {}
    send::<MmapStore>();
    send::<MemoryStore>();
    send::<StoreError>();
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path(), cfg(4096));
    s.append(1, b"x").unwrap();
    let s = std::thread::spawn(move || {
        s.append(2, b"y").unwrap();
        s
    })
    .join()
    .unwrap();
    assert_eq!(s.last_stored_seq(), 2);
}

#[test]
fn memory_store_rules() {
    let mut s = MemoryStore::with_max_message(512);
    shared_rules(&mut s, 512);
    assert_eq!(MemoryStore::new().next_sender_seq(), 1);
}

#[test]
fn mmap_store_rules() {
    for flush in [
        FlushPolicy::None,
        FlushPolicy::EveryMessage,
        FlushPolicy::Batched { every_messages: 3 },
        FlushPolicy::Batched { every_messages: 0 },
    ] {
        let d = tempfile::tempdir().unwrap();
        // Small segments: the run crosses several of them.
        let mut s = MmapStore::open(d.path(), KEY, MmapStoreConfig { flush, ..cfg(1024) }).unwrap();
        shared_rules(&mut s, 512);
    }
}

#[test]
fn reopen_after_clean_close() {
    let d = tempfile::tempdir().unwrap();
    {
        let mut s = open(d.path(), cfg(4096));
        for seq in 1..=200 {
            s.append(seq, &msg(seq)).unwrap();
        }
        s.set_next_target_seq(42).unwrap();
        assert!(s.segment_paths().len() > 5, "the run should span segments");
    }
    let mut s = open(d.path(), cfg(4096));
    assert_eq!(s.next_sender_seq(), 201);
    assert_eq!(s.next_target_seq(), 42);
    assert_eq!(s.last_stored_seq(), 200);
    let all = collect(&s, 1, 200);
    assert_eq!(all.len(), 200);
    for (i, (seq, m)) in all.iter().enumerate() {
        assert_eq!(*seq, i as u32 + 1);
        assert_eq!(m, &msg(*seq));
    }
    // Ranges that start and end inside different segments.
    let mid = collect(&s, 57, 143);
    assert_eq!(mid.first().unwrap().0, 57);
    assert_eq!(mid.last().unwrap().0, 143);
    assert_eq!(mid.len(), 87);
    // Appending continues where it stopped, and survives another reopen.
    s.append(201, &msg(201)).unwrap();
    s.set_next_sender_seq(300).unwrap();
    drop(s);
    let s = open(d.path(), cfg(8192)); // a different segment size applies to new segments only
    assert_eq!(s.next_sender_seq(), 300);
    assert_eq!(s.last_stored_seq(), 201);
    assert_eq!(collect(&s, 201, 201), vec![(201, msg(201))]);
}

#[test]
fn sessions_are_separate_and_locked() {
    let d = tempfile::tempdir().unwrap();
    let mut a = open(d.path(), cfg(4096));
    let mut b = MmapStore::open(d.path(), "FIX.4.4:SENDER->OTHER", cfg(4096)).unwrap();
    a.append(1, b"a").unwrap();
    b.append(1, b"b").unwrap();
    b.append(2, b"bb").unwrap();
    assert_eq!(collect(&a, 1, 9), vec![(1, b"a".to_vec())]);
    assert_eq!(b.last_stored_seq(), 2);
    // A second handle on an open store is refused with an error that says why.
    match MmapStore::open(d.path(), KEY, cfg(4096)) {
        Err(e @ StoreError::Io { .. }) => {
            let text = e.to_string();
            assert!(text.contains("lock"), "{text}");
            assert!(text.contains("seqnums"), "{text}");
        }
        other => panic!("second open gave {other:?}"),
    }
    drop(a);
    assert_eq!(open(d.path(), cfg(4096)).last_stored_seq(), 1);
}

#[test]
fn bad_config_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let e = MmapStore::open(
        d.path(),
        KEY,
        MmapStoreConfig {
            segment_bytes: 100,
            ..cfg(0)
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("segment_bytes 100"), "{e}");
    let e = MmapStore::open(
        d.path(),
        KEY,
        MmapStoreConfig {
            segment_bytes: 8 << 30,
            ..cfg(0)
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("segment_bytes"), "{e}");
    assert_eq!(MmapStoreConfig::default().max_message, 4096);
}

/// The journal segment files of the store, oldest first.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let sd = MmapStore::session_dir(dir, KEY);
    let mut v: Vec<PathBuf> = fs::read_dir(sd)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    v.sort();
    v
}

fn poke(path: &Path, off: u64, bytes: &[u8]) {
    let f = OpenOptions::new().write(true).open(path).unwrap();
    f.write_all_at(bytes, off).unwrap();
}

fn peek(path: &Path, off: u64, len: usize) -> Vec<u8> {
    let f = OpenOptions::new().read(true).open(path).unwrap();
    let mut b = vec![0u8; len];
    f.read_exact_at(&mut b, off).unwrap();
    b
}

/// Offsets of the records in a segment file, from their headers.
fn record_offsets(path: &Path) -> Vec<u64> {
    let data = fs::read(path).unwrap();
    let mut v = Vec::new();
    let mut p = 64usize;
    while p + 16 <= data.len() && data[p..p + 4] != [0; 4] {
        v.push(p as u64);
        let len = u32::from_le_bytes(data[p + 4..p + 8].try_into().unwrap()) as usize;
        p += 16 + len.div_ceil(8) * 8;
    }
    v
}

/// A store of 10 messages in one segment, closed; returns the segment path.
fn ten(dir: &Path) -> PathBuf {
    let mut s = open(dir, cfg(1 << 16));
    for seq in 1..=9 {
        s.append(seq, &msg(seq)).unwrap();
    }
    s.set_next_target_seq(9).unwrap();
    s.append(10, &msg(10)).unwrap();
    drop(s);
    let segs = segments(dir);
    assert_eq!(segs.len(), 1);
    segs[0].clone()
}

fn check_nine_then_continue(dir: &Path) {
    let mut s = open(dir, cfg(1 << 16));
    let (torn_in, torn_at) = s.torn_tail_dropped().expect("open reports the torn tail");
    assert!(torn_in.ends_with("00000000000000000001.seg"));
    assert!(torn_at > 64);
    assert_eq!(s.last_stored_seq(), 9, "the torn 10th record is dropped");
    assert_eq!(
        s.next_sender_seq(),
        10,
        "number 10 was never sent: reuse it"
    );
    assert_eq!(s.next_target_seq(), 9);
    let all = collect(&s, 1, 100);
    assert_eq!(all.len(), 9);
    for (seq, m) in &all {
        assert_eq!(m, &msg(*seq));
    }
    // The store goes on cleanly from there, across another reopen.
    s.append(10, b"new ten").unwrap();
    s.append(11, &msg(11)).unwrap();
    drop(s);
    let s = open(dir, cfg(1 << 16));
    assert!(s.torn_tail_dropped().is_none());
    assert_eq!(s.last_stored_seq(), 11);
    assert_eq!(collect(&s, 10, 10), vec![(10, b"new ten".to_vec())]);
}

#[test]
fn torn_tail_truncated_file_is_dropped() {
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    let last = *record_offsets(&seg).last().unwrap();
    let f = OpenOptions::new().write(true).open(&seg).unwrap();
    f.set_len(last + 20).unwrap(); // cut inside the 10th record's message
    drop(f);
    check_nine_then_continue(d.path());
}

#[test]
fn damaged_last_record_after_a_later_number_update_keeps_the_number() {
    // Record 10 was journalled, then the numbers were written (sender 11): 10 may have been
    // sent, so even though its record is lost, 10 is not reused.
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    {
        let mut s = open(d.path(), cfg(1 << 16));
        s.set_next_target_seq(12).unwrap();
    }
    let last = *record_offsets(&seg).last().unwrap();
    poke(&seg, last + 12, &[0xDE, 0xAD]);
    let s = open(d.path(), cfg(1 << 16));
    assert_eq!(s.last_stored_seq(), 9);
    assert_eq!(s.next_sender_seq(), 11);
    assert_eq!(s.next_target_seq(), 12);
}

#[test]
fn torn_tail_garbled_message_is_dropped() {
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    let last = *record_offsets(&seg).last().unwrap();
    let b = peek(&seg, last + 16, 1)[0];
    poke(&seg, last + 16, &[b ^ 0x55]);
    check_nine_then_continue(d.path());
}

#[test]
fn torn_tail_without_commit_marker_is_dropped() {
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    let last = *record_offsets(&seg).last().unwrap();
    poke(&seg, last, &[0, 0, 0, 0]);
    check_nine_then_continue(d.path());
}

#[test]
fn torn_tail_half_written_header_is_dropped() {
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    let last = *record_offsets(&seg).last().unwrap();
    // Only the length had been written when the process died.
    poke(&seg, last, &[0, 0, 0, 0]);
    poke(&seg, last + 8, &[0; 8]);
    let mut tail = peek(&seg, last + 16, 400);
    tail.iter_mut().skip(50).for_each(|b| *b = 0);
    poke(&seg, last + 16, &tail);
    check_nine_then_continue(d.path());
}

fn corrupt_detail(e: StoreError) -> String {
    match &e {
        StoreError::Corrupt { .. } => e.to_string(),
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn damaged_middle_record_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    let fifth = record_offsets(&seg)[4];
    let b = peek(&seg, fifth + 20, 1)[0];
    poke(&seg, fifth + 20, &[b ^ 1]);
    let text = corrupt_detail(open_err(d.path(), cfg(1 << 16)));
    assert!(text.contains(&format!("offset {fifth}")), "{text}");
    assert!(text.contains("checksum mismatch"), "{text}");
    assert!(text.contains("MsgSeqNum 6"), "{text}");
    assert!(text.contains(".seg"), "{text}");

    // Damage to a length field is caught too.
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    let third = record_offsets(&seg)[2];
    poke(&seg, third + 4, &[0xFF, 0xFF, 0, 0]);
    let text = corrupt_detail(open_err(d.path(), cfg(1 << 16)));
    assert!(text.contains(&format!("offset {third}")), "{text}");
}

#[test]
fn damaged_segment_header_is_corrupt() {
    for (off, what) in [(0u64, "bad magic"), (20, "checksum mismatch")] {
        let d = tempfile::tempdir().unwrap();
        let seg = ten(d.path());
        let b = peek(&seg, off, 1)[0];
        poke(&seg, off, &[b ^ 0x80]);
        let text = corrupt_detail(open_err(d.path(), cfg(1 << 16)));
        assert!(text.contains("segment header"), "{text}");
        assert!(text.contains(what), "{text}");
    }
    // A segment shorter than its header.
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    OpenOptions::new()
        .write(true)
        .open(&seg)
        .unwrap()
        .set_len(10)
        .unwrap();
    let text = corrupt_detail(open_err(d.path(), cfg(1 << 16)));
    assert!(text.contains("shorter than its 64-byte header"), "{text}");
}

#[test]
fn damage_before_the_last_segment_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    {
        let mut s = open(d.path(), cfg(2048));
        for seq in 1..=40 {
            s.append(seq, &msg(seq)).unwrap();
        }
    }
    let segs = segments(d.path());
    assert!(segs.len() >= 3);
    let last = *record_offsets(&segs[0]).last().unwrap();
    poke(&segs[0], last, &[0, 0, 0, 0]); // the "torn" record is not at the end of the journal
    let text = corrupt_detail(open_err(d.path(), cfg(2048)));
    assert!(text.contains("later segments follow"), "{text}");

    // A missing segment in the middle.
    let d = tempfile::tempdir().unwrap();
    {
        let mut s = open(d.path(), cfg(2048));
        for seq in 1..=40 {
            s.append(seq, &msg(seq)).unwrap();
        }
    }
    let segs = segments(d.path());
    fs::remove_file(&segs[1]).unwrap();
    let text = corrupt_detail(open_err(d.path(), cfg(2048)));
    assert!(text.contains("segment 2 is missing"), "{text}");
}

#[test]
fn segment_of_another_session_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    ten(d.path());
    {
        let mut other = MmapStore::open(d.path(), "OTHER", cfg(1 << 16)).unwrap();
        other.append(1, b"x").unwrap();
    }
    let other_seg = MmapStore::session_dir(d.path(), "OTHER").join("00000000000000000001.seg");
    fs::copy(other_seg, &segments(d.path())[0]).unwrap();
    let text = corrupt_detail(open_err(d.path(), cfg(1 << 16)));
    assert!(text.contains("another session"), "{text}");
}

fn seqnums(dir: &Path) -> PathBuf {
    MmapStore::session_dir(dir, KEY).join("seqnums")
}

#[test]
fn torn_sequence_number_write_keeps_the_previous_numbers() {
    let d = tempfile::tempdir().unwrap();
    {
        let mut s = open(d.path(), cfg(4096));
        s.set_next_target_seq(5).unwrap(); // generation 1, slot 1
        s.set_next_target_seq(6).unwrap(); // generation 2, slot 0
        s.set_next_target_seq(7).unwrap(); // generation 3, slot 1
    }
    // Tear the newest slot (slot 1): the previous state (target 6) is used.
    let p = seqnums(d.path());
    let b = peek(&p, 64 + 12, 1)[0];
    poke(&p, 64 + 12, &[b ^ 0xFF]);
    let mut s = open(d.path(), cfg(4096));
    assert_eq!(s.next_target_seq(), 6);
    // Writing goes on from there, and the damaged slot is rewritten.
    s.set_next_target_seq(8).unwrap();
    drop(s);
    assert_eq!(open(d.path(), cfg(4096)).next_target_seq(), 8);
}

#[test]
fn damaged_sequence_number_file_is_corrupt() {
    let d = tempfile::tempdir().unwrap();
    {
        let mut s = open(d.path(), cfg(4096));
        s.set_next_target_seq(5).unwrap();
        s.set_next_target_seq(6).unwrap();
    }
    let p = seqnums(d.path());
    poke(&p, 3, &[0xAA]);
    poke(&p, 64 + 3, &[0xAA]);
    let text = corrupt_detail(open_err(d.path(), cfg(4096)));
    assert!(
        text.contains("both sequence-number slots are damaged"),
        "{text}"
    );
    assert!(text.contains("seqnums"), "{text}");

    let d = tempfile::tempdir().unwrap();
    drop(open(d.path(), cfg(4096)));
    OpenOptions::new()
        .write(true)
        .open(seqnums(d.path()))
        .unwrap()
        .set_len(100)
        .unwrap();
    let text = corrupt_detail(open_err(d.path(), cfg(4096)));
    assert!(text.contains("100 bytes long"), "{text}");

    // A missing sequence-number file next to a journal: the target number is lost.
    let d = tempfile::tempdir().unwrap();
    ten(d.path());
    fs::remove_file(seqnums(d.path())).unwrap();
    let text = corrupt_detail(open_err(d.path(), cfg(4096)));
    assert!(text.contains("next target number is lost"), "{text}");
}

#[test]
fn reset_rolls_the_journal_over() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path(), cfg(2048));
    for seq in 1..=30 {
        s.append(seq, &msg(seq)).unwrap();
    }
    s.set_next_target_seq(31).unwrap();
    let old = s.segment_paths();
    assert!(old.len() > 1);
    s.reset().unwrap();
    for p in &old {
        assert!(!p.exists(), "old segment {} should be gone", p.display());
    }
    assert_eq!(s.segment_paths().len(), 1);
    s.append(1, b"one").unwrap();
    drop(s);
    let s = open(d.path(), cfg(2048));
    assert_eq!(s.next_sender_seq(), 2);
    assert_eq!(s.next_target_seq(), 1);
    assert_eq!(collect(&s, 1, 100), vec![(1, b"one".to_vec())]);
}

#[test]
fn interrupted_reset_finishes_on_open() {
    let d = tempfile::tempdir().unwrap();
    let saved = tempfile::tempdir().unwrap();
    let mut s = open(d.path(), cfg(2048));
    for seq in 1..=30 {
        s.append(seq, &msg(seq)).unwrap();
    }
    let old = s.segment_paths();
    for p in &old {
        fs::copy(p, saved.path().join(p.file_name().unwrap())).unwrap();
    }
    s.reset().unwrap();
    drop(s);
    // As if the process had died after recording the new epoch but before deleting the old
    // segments: they come back, and open() must ignore and remove them.
    for p in &old {
        fs::copy(saved.path().join(p.file_name().unwrap()), p).unwrap();
    }
    let s = open(d.path(), cfg(2048));
    assert_eq!(s.next_sender_seq(), 1);
    assert_eq!(s.last_stored_seq(), 0);
    assert!(collect(&s, 1, 100).is_empty());
    for p in &old {
        assert!(!p.exists());
    }
}

#[test]
fn large_resend_streams_from_the_map() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path(), cfg(1 << 20));
    let body = [b'x'; 200];
    for seq in 1..=20_000u32 {
        s.append(seq, &body).unwrap();
    }
    // Every slice handed out lies inside one of the mapped segments (not a heap copy), and the
    // messages come in order.
    let mut expect = 1u32;
    let mut prev_addr = 0usize;
    let mut in_segment_order = 0usize;
    s.for_each_in_range(1, 20_000, &mut |seq, m| {
        assert_eq!(seq, expect);
        assert_eq!(m, &body[..]);
        let a = m.as_ptr() as usize;
        if a > prev_addr && a - prev_addr == 216 {
            in_segment_order += 1;
        }
        prev_addr = a;
        expect += 1;
        true
    })
    .unwrap();
    assert_eq!(expect, 20_001);
    // Consecutive records are 16 + 200 bytes apart in the same mapping, except at segment edges.
    assert!(in_segment_order > 19_000, "{in_segment_order}");
}

fn tmp_files(dir: &Path) -> Vec<PathBuf> {
    let sd = MmapStore::session_dir(dir, KEY);
    fs::read_dir(sd)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".seg.tmp"))
        .collect()
}

#[test]
fn housekeeping_prepares_the_next_segment_and_prefaults() {
    let d = tempfile::tempdir().unwrap();
    let mut s = open(d.path(), cfg(8192));
    // An empty segment needs no spare yet; prefault touches whole pages past the end.
    s.housekeeping(0).unwrap();
    assert_eq!(segments(d.path()).len(), 1);
    assert_eq!(
        s.prefault(8192),
        1,
        "one page boundary (4096) lies past offset 64"
    );
    let mut seq = 0;
    while segments(d.path()).len() == 1 {
        seq += 1;
        s.append(seq, &msg(seq)).unwrap();
        s.housekeeping(4096).unwrap();
    }
    // The segment is half full: the next one exists, empty, before it is needed.
    assert_eq!(s.segment_count(), 1);
    assert!(segments(d.path())[1].ends_with("00000000000000000002.seg"));
    assert!(tmp_files(d.path()).is_empty());
    // The rollover takes it.
    while s.segment_count() == 1 {
        seq += 1;
        s.append(seq, &msg(seq)).unwrap();
    }
    assert_eq!(segments(d.path()).len(), 2);
    // Housekeeping again until a spare exists, then close: the empty spare goes with the store.
    while segments(d.path()).len() == 2 {
        seq += 1;
        s.append(seq, &msg(seq)).unwrap();
        s.housekeeping(4096).unwrap();
    }
    drop(s);
    assert_eq!(segments(d.path()).len(), 2);
    let mut s = open(d.path(), cfg(8192));
    assert!(
        s.torn_tail_dropped().is_none(),
        "prefaulted zeros are not a torn record"
    );
    assert_eq!(s.last_stored_seq(), seq);
    let all = collect(&s, 1, seq);
    assert_eq!(all.len() as u32, seq);
    for (q, m) in &all {
        assert_eq!(m, &msg(*q));
    }
    // Reset takes the spare as the new epoch's first segment.
    while segments(d.path()).len() == 2 {
        seq += 1;
        s.append(seq, &msg(seq)).unwrap();
        s.housekeeping(4096).unwrap();
    }
    let spare = segments(d.path())[2].clone();
    s.reset().unwrap();
    assert_eq!(segments(d.path()), vec![spare]);
    s.append(1, b"one").unwrap();
    drop(s);
    // Leftovers of an interrupted segment creation are removed on open.
    let junk = MmapStore::session_dir(d.path(), KEY).join("00000000000000000099.seg.tmp");
    fs::write(&junk, b"junk").unwrap();
    let s = open(d.path(), cfg(8192));
    assert!(!junk.exists());
    assert_eq!(collect(&s, 1, 10), vec![(1, b"one".to_vec())]);
}

/// An empty segment numbered `no`, with a valid header copied from `model` (another segment of
/// the same session).
fn empty_segment_like(model: &Path, no: u64) -> PathBuf {
    let mut h = peek(model, 0, 64);
    h[16..24].copy_from_slice(&no.to_le_bytes());
    let c = fixsession::store::crc32c(0, &[&h[..60]]);
    h[60..64].copy_from_slice(&c.to_le_bytes());
    let path = model.with_file_name(format!("{no:020}.seg"));
    let mut body = h;
    body.resize(4096, 0);
    fs::write(&path, body).unwrap();
    path
}

#[test]
fn torn_tail_before_an_empty_spare_is_still_a_torn_tail() {
    // Killed in the middle of an append after housekeeping had made the next (empty) segment.
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    let spare = empty_segment_like(&seg, 2);
    let last = *record_offsets(&seg).last().unwrap();
    poke(&seg, last, &[0, 0, 0, 0]);
    check_nine_then_continue(d.path());
    assert!(!spare.exists(), "the empty trailing segment was pruned");
}

#[test]
fn empty_segment_between_full_ones_is_harmless() {
    let d = tempfile::tempdir().unwrap();
    let seg = ten(d.path());
    empty_segment_like(&seg, 2);
    {
        let mut s = open(d.path(), cfg(1 << 16));
        assert_eq!(s.last_stored_seq(), 10);
        // The empty segment was pruned and segment 1 is current again.
        assert_eq!(s.segment_count(), 1);
        s.append(11, &msg(11)).unwrap();
    }
    let s = open(d.path(), cfg(1 << 16));
    assert_eq!(collect(&s, 1, 100).len(), 11);
}

#[derive(Debug, Clone)]
enum Op {
    Append(u32, Vec<u8>),
    SetSender(u32),
    SetTarget(u32),
    Reset,
    Reopen,
    Housekeeping,
    Range(u32, u32),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0u32..4, proptest::collection::vec(any::<u8>(), 0..200)).prop_map(|(d, m)| Op::Append(d, m)),
        1 => (0u32..8).prop_map(Op::SetSender),
        1 => (0u32..100).prop_map(Op::SetTarget),
        1 => Just(Op::Reset),
        2 => Just(Op::Reopen),
        2 => Just(Op::Housekeeping),
        2 => (0u32..60, 0u32..60).prop_map(|(a, b)| Op::Range(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// The mapped store, reopened at random points, behaves exactly as the memory store.
    #[test]
    fn mmap_matches_memory_model(ops in proptest::collection::vec(op(), 1..80)) {
        let d = tempfile::tempdir().unwrap();
        let c = MmapStoreConfig { segment_bytes: 1024, flush: FlushPolicy::None, max_message: 150 };
        let mut m = MemoryStore::with_max_message(150);
        let mut s = Some(MmapStore::open(d.path(), KEY, c).unwrap());
        for op in ops {
            let st = s.as_mut().unwrap();
            match op {
                Op::Append(delta, body) => {
                    // Mostly the next number, sometimes a gap, sometimes a stale number.
                    let seq = (m.next_sender_seq() + delta).saturating_sub(1);
                    let a = m.append(seq, &body).map_err(|e| e.to_string());
                    let b = st.append(seq, &body).map_err(|e| e.to_string());
                    prop_assert_eq!(a, b);
                }
                Op::SetSender(delta) => {
                    let seq = (m.next_sender_seq() + delta).saturating_sub(3);
                    let a = m.set_next_sender_seq(seq).map_err(|e| e.to_string());
                    let b = st.set_next_sender_seq(seq).map_err(|e| e.to_string());
                    prop_assert_eq!(a, b);
                }
                Op::SetTarget(t) => {
                    let a = m.set_next_target_seq(t).map_err(|e| e.to_string());
                    let b = st.set_next_target_seq(t).map_err(|e| e.to_string());
                    prop_assert_eq!(a, b);
                }
                Op::Reset => {
                    m.reset().unwrap();
                    st.reset().unwrap();
                }
                Op::Reopen => {
                    drop(s.take());
                    s = Some(MmapStore::open(d.path(), KEY, c).unwrap());
                }
                Op::Housekeeping => st.housekeeping(1024).unwrap(),
                Op::Range(a, b) => {
                    prop_assert_eq!(collect(&m, a, b), collect(st, a, b));
                }
            }
            let st = s.as_ref().unwrap();
            prop_assert_eq!(m.next_sender_seq(), st.next_sender_seq());
            prop_assert_eq!(m.next_target_seq(), st.next_target_seq());
            prop_assert_eq!(m.last_stored_seq(), st.last_stored_seq());
        }
        prop_assert_eq!(collect(&m, 0, u32::MAX), collect(s.as_ref().unwrap(), 0, u32::MAX));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    /// Whatever bytes of the files are damaged, opening never panics, and an opened store never
    /// serves a message other than the one journalled under its number.
    #[test]
    fn damaged_files_never_serve_wrong_data(
        hits in proptest::collection::vec((any::<bool>(), any::<u32>(), any::<u8>()), 1..6),
        truncate in proptest::option::of(any::<u32>()),
    ) {
        let d = tempfile::tempdir().unwrap();
        {
            let mut s = open(d.path(), cfg(2048));
            for seq in 1..=40 {
                s.append(seq, &msg(seq)).unwrap();
            }
            s.set_next_target_seq(17).unwrap();
        }
        let segs = segments(d.path());
        let last = segs.last().unwrap().clone();
        for (in_seqnums, at, xor) in hits {
            let path = if in_seqnums { seqnums(d.path()) } else { segs[at as usize % segs.len()].clone() };
            let len = fs::metadata(&path).unwrap().len();
            let off = u64::from(at) % len;
            let b = peek(&path, off, 1)[0];
            poke(&path, off, &[b ^ xor.max(1)]);
        }
        if let Some(t) = truncate {
            let len = fs::metadata(&last).unwrap().len();
            OpenOptions::new().write(true).open(&last).unwrap().set_len(u64::from(t) % len).unwrap();
        }
        if let Ok(s) = MmapStore::open(d.path(), KEY, cfg(2048)) {
            for (seq, m) in collect(&s, 0, u32::MAX) {
                prop_assert!(seq <= 40);
                prop_assert_eq!(m, msg(seq));
            }
            prop_assert!(s.next_sender_seq() > s.last_stored_seq());
        }
    }
}
