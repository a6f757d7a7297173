//! fastpath benchmark (work in progress).

pub fn run(_quick: bool) {
    println!("fastpath: not implemented yet");
}
