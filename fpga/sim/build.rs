//! Verilates `fpga/rtl` (top `fix_sequencer`) when the `verilator` feature is on.
//!
//! `verilator --cc --build` produces `Vfix_sequencer__ALL.a`; the Verilator runtime
//! (`verilated.cpp`, threads, VCD writer) and the C shim (`csrc/shim.cpp`) are compiled here
//! with the `cc` crate.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=csrc/shim.cpp");
    println!("cargo:rerun-if-changed=../rtl");
    #[cfg(feature = "verilator")]
    verilate();
}

#[cfg(feature = "verilator")]
fn verilate() {
    use std::path::PathBuf;
    use std::process::Command;

    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("manifest dir"));
    let rtl = manifest
        .join("../rtl")
        .canonicalize()
        .expect("fpga/rtl exists");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR"));
    let mdir = out.join("vobj");
    let files = [
        "fix_sequencer.v",
        "fix_framer.v",
        "fix_byte_step.v",
        "fix_frame_fifo.v",
        "fix_seq_core.v",
    ];
    for f in files {
        println!("cargo:rerun-if-changed={}", rtl.join(f).display());
    }
    println!(
        "cargo:rerun-if-changed={}",
        rtl.join("fix_defs.vh").display()
    );
    let verilator = std::env::var("VERILATOR").unwrap_or_else(|_| "verilator".into());
    let mut cmd = Command::new(&verilator);
    cmd.args([
        "--cc",
        "--build",
        "-O3",
        "--trace",
        "-Wall",
        "--x-assign",
        "fast",
    ])
    .args([
        "--x-initial",
        "fast",
        "-j",
        "2",
        "--top-module",
        "fix_sequencer",
    ])
    .arg(format!("-I{}", rtl.display()))
    .arg("--Mdir")
    .arg(&mdir)
    .args(["-CFLAGS", "-O2 -fPIC"]);
    for f in files {
        cmd.arg(rtl.join(f));
    }
    let status = cmd
        .status()
        .unwrap_or_else(|e| panic!("cannot run {verilator} (install verilator >= 5): {e}"));
    assert!(status.success(), "verilator failed on fpga/rtl");

    let inc = std::env::var("VERILATOR_INCLUDE")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from("/usr/share/verilator/include"));
    let mut b = cc::Build::new();
    // The Verilated model's objects go into the same archive as the runtime and the shim.
    let mut objs: Vec<PathBuf> = std::fs::read_dir(&mdir)
        .expect("verilator output dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|x| x == "o")
                && p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("Vfix_sequencer"))
        })
        .collect();
    objs.sort();
    for o in &objs {
        b.object(o);
    }
    b.cpp(true)
        .std("c++17")
        .opt_level(2)
        .warnings(false)
        .define("VM_COVERAGE", "0")
        .define("VM_SC", "0")
        .define("VM_TRACE", "1")
        .define("VM_TRACE_FST", "0")
        .define("VM_TRACE_VCD", "1")
        .flag("-faligned-new")
        .include(&inc)
        .include(inc.join("vltstd"))
        .include(&mdir)
        .file(manifest.join("csrc/shim.cpp"))
        .file(inc.join("verilated.cpp"))
        .file(inc.join("verilated_threads.cpp"))
        .file(inc.join("verilated_vcd_c.cpp"))
        .compile("fpgasim_shim");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rustc-link-lib=dylib=pthread");
}
