//! The `fixeng` command: `fixeng demo`, `fixeng acceptor --config FILE`,
//! `fixeng initiator --config FILE`.

use clap::{Parser, Subcommand, ValueEnum};
use fixeng::cli::{AppKind, RunOptions};
use fixsession::settings::ConnectionType;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "fixeng",
    version,
    about = "Kernel-bypass low-latency FIX engine"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Clone, Copy, ValueEnum)]
enum App {
    /// Answer every NewOrderSingle with an ExecutionReport.
    Echo,
    /// Send NewOrderSingles at --rate and measure round trips.
    Load,
}

#[derive(clap::Args)]
struct SessionArgs {
    /// QuickFIX-style settings file.
    #[arg(long)]
    config: PathBuf,
    /// Run only this session (BeginString:SenderCompID->TargetCompID); default: every session
    /// of the role in the file.
    #[arg(long)]
    session: Option<String>,
    /// Transport of every session, overriding the file's `Transport=`: io_uring, or dpdk (needs
    /// a build with `--features dpdk`).
    #[arg(long, value_parser = ["io_uring", "dpdk"])]
    transport: Option<String>,
    /// Sequencer of every session, overriding the file's `Sequencer=`: fast (software fast
    /// path, the default), model (cycle model), rtl (Verilated RTL; needs `--features rtl`) or
    /// card:PATH (a card behind the ring map at PATH).
    #[arg(long, value_name = "fast|model|rtl|card:PATH")]
    sequencer: Option<String>,
    /// Application.
    #[arg(long, value_enum, default_value_t = App::Echo)]
    app: App,
    /// Orders per second for --app load (0 = as fast as possible).
    #[arg(long, default_value_t = 1000)]
    rate: u64,
    /// Orders to send for --app load.
    #[arg(long, default_value_t = 10000)]
    count: u32,
    /// Idle strategy: busy, yield or backoff.
    #[arg(long, default_value = "busy")]
    idle: String,
    /// Lock all memory (mlockall) before starting.
    #[arg(long)]
    mlock: bool,
    /// Threading mode: shared (all agents of all sessions on one thread) or dedicated (one
    /// pinned thread per agent: IO, sequencer, session, application of each session).
    #[arg(long, value_enum, default_value_t = Threading::Shared)]
    threading: Threading,
    /// Cores for dedicated mode, in agent order: session 1's IO, sequencer, session,
    /// application, then session 2's, ... round-robin over the list (default: all cores).
    #[arg(long, value_delimiter = ',')]
    cores: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Threading {
    /// All agents on one thread.
    Shared,
    /// One pinned thread per agent.
    Dedicated,
}

#[derive(Subcommand)]
enum Cmd {
    /// Acceptor and initiator in one process over loopback io_uring with injected faults;
    /// checks exactly-once, in-order delivery (exit 0 only then).
    Demo {
        /// Orders the initiator sends.
        #[arg(long, default_value_t = 5000)]
        orders: u32,
        /// Orders per second (0 = as fast as possible).
        #[arg(long, default_value_t = 2000)]
        rate: u64,
        /// Use the in-memory link instead of io_uring.
        #[arg(long)]
        memory: bool,
        /// No fault injection.
        #[arg(long)]
        no_faults: bool,
        /// Do not cut the connection mid-stream.
        #[arg(long)]
        no_cut: bool,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 60)]
        timeout: u64,
        /// Sequencer of both sides: fast (hwsim's software fast path), model (the cycle model
        /// driven pin by pin), rtl (the verilated RTL; build with --features rtl), card:PATH.
        #[arg(long, default_value = "fast")]
        sequencer: String,
    },
    /// Run every acceptor session of the settings file (sessions on one port are routed by the
    /// Logon's CompIDs).
    Acceptor(SessionArgs),
    /// Run every initiator session of the settings file.
    Initiator(SessionArgs),
}

fn session(role: ConnectionType, a: SessionArgs) -> ExitCode {
    let opts = RunOptions {
        config: a.config,
        role,
        session: a.session,
        app: match a.app {
            App::Echo => AppKind::Echo,
            App::Load => AppKind::Load {
                rate: a.rate,
                count: a.count,
            },
        },
        idle: a.idle,
        mlock: a.mlock,
        transport: a.transport,
        sequencer: a.sequencer,
        dedicated: (a.threading == Threading::Dedicated).then(|| {
            if a.cores.is_empty() {
                let n = std::thread::available_parallelism().map_or(1, |n| n.get());
                (0..n).collect()
            } else {
                a.cores
            }
        }),
    };
    match fixeng::cli::run(&opts) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fixeng: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    match Cli::parse().cmd {
        Cmd::Demo {
            orders,
            rate,
            memory,
            no_faults,
            no_cut,
            timeout,
            sequencer,
        } => {
            let opts = fixeng::demo::DemoOptions {
                orders,
                rate,
                memory,
                faults: !no_faults,
                cut: !no_cut,
                timeout: std::time::Duration::from_secs(timeout),
                verbose: true,
                sequencer,
            };
            if fixeng::demo::run(&opts).ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Cmd::Acceptor(a) => session(ConnectionType::Acceptor, a),
        Cmd::Initiator(a) => session(ConnectionType::Initiator, a),
    }
}
