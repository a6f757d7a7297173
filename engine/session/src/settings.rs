//! QuickFIX-style settings file (work in progress).
