//! See docs/sequencer.md (work in progress).
