//! fixeng\nfn main() {}
