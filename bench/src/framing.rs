//! framing benchmark (work in progress).

pub fn run(_quick: bool) {
    println!("framing: not implemented yet");
}
