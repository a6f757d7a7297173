//! FIX session layer: sans-IO state machine, recovery, message store, settings (work in progress).
