//! The machine a run measured on: CPU, cores, kernel, load.

/// `/proc/loadavg`'s three load averages, or "?".
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn kernel() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown kernel".into())
}

fn git_head() -> String {
    std::process::Command::new("git")
        .args([
            "-C",
            env!("CARGO_MANIFEST_DIR"),
            "rev-parse",
            "--short",
            "HEAD",
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

/// Markdown paragraph describing the machine.
pub fn summary() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!(
        "Machine: {} ({cores} CPUs available), Linux {}; git HEAD {} (plus uncommitted changes, \
         if any); load average at start {} (the machine is shared: other builds run while \
         measuring).\n",
        cpu_model(),
        kernel(),
        git_head(),
        loadavg()
    )
}
