//! Held SequenceReset-GapFills and the sequencer: the session must never run ahead of (or stay
//! behind) the number the sequencer released up to, or every later message is misclassified
//! and recovery stalls for the life of the connection.
//!
//! Found by the `session_pair` fuzz target (input
//! `fuzz/corpus/session_pair/regress-liveness-held-gap-fill-beyond-window`): B expected 6 with a
//! window of 256 and held a GapFill `34=260 36=263`; the sequencer marked its range only up to
//! the window's end (261, docs/sequencer.md section 4 rule 6). When 6 arrived the sequencer
//! released up to 262 while the session applied the GapFill's NewSeqNo and moved its target to
//! 263. The peer, asked for 263 on, resent 263: a GAP for the sequencer (it waits for 262), held
//! by the session, asked for again from 263, for ever (10 000 s of clean link in the fuzz run).

mod common;

use common::*;

/// Logged-on acceptor with a window of 256 (the sequencer's smallest) (next target 2, next sender 2).
fn logged_on_w256(script: &str) -> Harness {
    let mut cfg = default_config();
    cfg.window = 256;
    scenario_with(
        cfg,
        &format!(
            "
            connect
            recv 35=A 34=1 108=30 98=0
            expect send 35=A 34=1
            expect target 2
            {script}"
        ),
    )
}

/// The GapFill 3 -> 300 is held while 2 is missing: the sequencer (window 256, expected 2) covers
/// 3..257 only, and releases up to 258 when 2 arrives. The target stops at 258 too, 258.. is
/// asked for at once, and the peer's answer (GapFill 258 -> 300, then 300) is processed in order.
/// Before the fix the target went to 300 while the sequencer expected 258: the message 300 was
/// held (a GAP for the sequencer), never delivered.
#[test]
fn held_gap_fill_beyond_the_window_does_not_run_ahead_of_the_sequencer() {
    let h = logged_on_w256(
        "
        recv 35=4 34=3 123=Y 36=300 43=Y 122=now
        expect event Gap
        expect send 35=2 7=2 16=0
        expect held 1
        recv 35=D 34=2 11=a
        expect deliver 34=2 11=a
        expect event GapFillBeyondWindow { released: 258, new_seq_no: 300 }
        expect target 258
        expect held 0
        expect send 35=2 7=258 16=0
        expect nosend
        recv 35=4 34=258 123=Y 36=300 43=Y 122=now
        expect target 300
        recv 35=D 34=300 11=b
        expect deliver 34=300 11=b
        expect target 301
        recv 35=D 34=301 11=c
        expect deliver 34=301 11=c
        expect nodeliver
        expect nosend
        expect connected
        ",
    );
    assert_no_sequencer_mismatch(&h);
}

/// The same with a closed-interval request: only the numbers the GapFill claims beyond the
/// sequencer's release are asked for.
#[test]
fn held_gap_fill_beyond_the_window_closed_interval() {
    let mut cfg = default_config();
    cfg.window = 256;
    cfg.closed_resend_interval = true;
    let h = scenario_with(
        cfg,
        "
        connect
        recv 35=A 34=1 108=30 98=0
        expect send 35=A 34=1
        recv 35=4 34=3 123=Y 36=300 43=Y 122=now
        expect send 35=2 7=2 16=2
        recv 35=D 34=2 11=a
        expect deliver 34=2 11=a
        expect target 258
        expect send 35=2 7=258 16=299
        recv 35=4 34=258 123=Y 36=300 43=Y 122=now
        recv 35=D 34=300 11=b
        expect deliver 34=300 11=b
        expect target 301
        expect nosend
        ",
    );
    assert_no_sequencer_mismatch(&h);
}

/// A held GapFill that gets a Reject for its header (PossDupFlag=Y without OrigSendingTime:
/// number consumed) still covers its range, as one arriving in order does: the sequencer has
/// released over it. Before the fix the target stayed at 4 while the sequencer expected 6.
#[test]
fn held_gap_fill_with_a_rejected_header_still_covers_its_range() {
    let h = logged_on_w256(
        "
        recv 35=4 34=3 123=Y 36=6 43=Y
        expect send 35=2 7=2 16=0
        recv 35=D 34=2 11=a
        expect deliver 34=2 11=a
        expect send 35=3 45=3 371=122
        expect target 6
        expect nosend
        recv 35=D 34=6 11=b
        expect deliver 34=6 11=b
        expect target 7
        expect nosend
        ",
    );
    assert_no_sequencer_mismatch(&h);
}
