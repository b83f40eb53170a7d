//! A shim: everything lives in the library so tests can drive it.

use std::process::ExitCode;

fn main() -> ExitCode {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(growth_analytics::cli::main()),
        Err(e) => {
            eprintln!("error: failed to start the async runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

/// mimalloc rather than glibc's malloc: the write path and the
/// materialiser allocate and free many small rows across the runtime's
/// workers and SQLite's connection threads, and glibc spent a fifth of the
/// materialiser's CPU in `malloc_consolidate` and `unlink_chunk` (perf, see
/// BENCHMARKS.md), with freed memory left in per-thread arenas (we had
/// capped them at two, trading that fragmentation for contention).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
