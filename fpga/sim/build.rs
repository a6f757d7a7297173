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
    let args: Vec<String> = [
        "--cc",
        "--build",
        "-O3",
        "--trace",
        "-Wall",
        "--x-assign",
        "fast",
        "--x-initial",
        "fast",
        "-j",
        "2",
        "--top-module",
        "fix_sequencer",
    ]
    .iter()
    .map(|a| a.to_string())
    .chain([format!("-I{}", rtl.display())])
    .collect();
    let cflags = ["-CFLAGS", "-O2 -fPIC"];

    // The Verilated objects depend only on the RTL, Verilator, the C++ compiler and these flags,
    // not on the Rust build (profile, RUSTFLAGS, sanitizers), so builds that differ only there
    // (the test build, the fuzz build) can share them: with FPGA_SIM_CACHE=<dir>, the model
    // directory is kept in <dir>/<key> and reused when the key matches.
    println!("cargo:rerun-if-env-changed=FPGA_SIM_CACHE");
    println!("cargo:rerun-if-env-changed=VERILATOR");
    println!("cargo:rerun-if-env-changed=CXX");
    let version = Command::new(&verilator)
        .arg("--version")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {verilator} (install verilator >= 5): {e}"));
    let mut key = Fnv::new();
    key.add(&version.stdout);
    // Verilator's makefile compiles with $CXX (default g++): another compiler, or another
    // version of it, is a new key.
    let cxx = std::env::var("CXX").unwrap_or_else(|_| "g++".into());
    key.add(cxx.as_bytes());
    if let Ok(v) = Command::new(&cxx).arg("--version").output() {
        key.add(&v.stdout);
    }
    for a in args.iter().map(String::as_str).chain(cflags) {
        key.add(a.as_bytes());
    }
    for f in files.iter().chain(&["fix_defs.vh"]) {
        key.add(f.as_bytes());
        key.add(&std::fs::read(rtl.join(f)).expect("read fpga/rtl source"));
    }
    let cached = std::env::var_os("FPGA_SIM_CACHE")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join(format!("{:016x}", key.0)));
    let mdir = match &cached {
        Some(dir) if dir.join("Vfix_sequencer__ALL.a").exists() => {
            println!(
                "cargo:warning=fpga-sim: Verilated model from {}",
                dir.display()
            );
            dir.clone()
        }
        _ => {
            let mut cmd = Command::new(&verilator);
            cmd.args(&args).arg("--Mdir").arg(&mdir).args(cflags);
            for f in files {
                cmd.arg(rtl.join(f));
            }
            let status = cmd
                .status()
                .unwrap_or_else(|e| panic!("cannot run {verilator} (install verilator >= 5): {e}"));
            assert!(status.success(), "verilator failed on fpga/rtl");
            if let Some(dir) = &cached {
                store(&mdir, dir);
            }
            mdir
        }
    };

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

/// 64-bit FNV-1a (the cache key must not change between toolchains, as `DefaultHasher` may).
#[cfg(feature = "verilator")]
struct Fnv(u64);

#[cfg(feature = "verilator")]
impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }

    /// Adds `bytes` and its length (so ("ab","c") and ("a","bc") differ).
    fn add(&mut self, bytes: &[u8]) {
        for b in bytes
            .iter()
            .copied()
            .chain((bytes.len() as u64).to_le_bytes())
        {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

/// Copies the model directory's headers and objects to `dir` (through a temporary directory
/// renamed into place, so a concurrent build sees all of it or nothing). A failure only costs
/// the next build a Verilator run.
#[cfg(feature = "verilator")]
fn store(mdir: &std::path::Path, dir: &std::path::Path) {
    let Some(parent) = dir.parent() else { return };
    let tmp = parent.join(format!(".tmp-{}", std::process::id()));
    let copy = || -> std::io::Result<()> {
        std::fs::create_dir_all(&tmp)?;
        for e in std::fs::read_dir(mdir)? {
            let p = e?.path();
            if p.extension()
                .is_some_and(|x| x == "o" || x == "h" || x == "a")
            {
                if let Some(n) = p.file_name() {
                    std::fs::copy(&p, tmp.join(n))?;
                }
            }
        }
        std::fs::rename(&tmp, dir)
    };
    if let Err(e) = copy() {
        println!(
            "cargo:warning=fpga-sim: not cached in {}: {e}",
            dir.display()
        );
        let _ = std::fs::remove_dir_all(&tmp);
    }
}
