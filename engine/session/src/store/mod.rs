//! Message store: memory-mapped journal and in-memory store (work in progress).
