//! Zero-copy FIX tag=value codec (work in progress).
