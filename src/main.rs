//! `parity`: parse the command line, run it, map the outcome to an exit code.

mod cli;
mod commands;
mod progress;

fn main() {
    hold_mmap_threshold();
    std::process::exit(cli::main());
}

/// Has glibc map every block of 128 KiB or more on its own, and unmap it when it is freed.
///
/// That is glibc's initial rule, but it moves: each time a mapped block is freed, the
/// threshold rises to that block's size (up to 32 MiB), and blocks below it come from the heap
/// of the thread that asks, where what is freed stays. A build frees a few large blocks early
/// (the memo it checks, the lock's entries as parsed), after which the large blocks of its run
/// (a fan-in node's inputs, reasons and paths, the memo it writes) stayed resident: an
/// incremental build of 100k nodes peaked at 193 MB, 172 MB with the threshold held; 10k
/// nodes, 28 MB and 26 MB (bench/README.md). Only the binary does this: a library must not
/// retune its host's allocator.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)]
fn hold_mmap_threshold() {
    // SAFETY: `mallopt` sets a tunable of the allocator, which glibc allows at any time from
    // any thread; no memory changes hands. A refusal (0) leaves glibc's defaults, which work.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

/// Other allocators keep their own rules.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn hold_mmap_threshold() {}
