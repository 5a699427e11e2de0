//! What a parked task costs: memory only, measured with a counting
//! allocator (a test binary of its own, so no other test allocates
//! meanwhile). A regression guard for the figure `benches/memory.rs`
//! prints against the peers.

#[path = "common/counting_alloc.rs"]
mod counting_alloc;

use std::future::pending;
use std::time::Instant;

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};
use counting_alloc::live;

/// Whole chunks of the parked-task registry (1,024 entries each), so the
/// figure has no slack to hide a regression in.
const TASKS: usize = 16 * 1024;

/// A parked task whose future is 0 bytes takes 80 bytes: its 72-byte
/// allocation (the state word, vtable and awaiter's waker, our header, and
/// one word of body or output) and its one-word entry in the parked-task
/// registry (measured here: a regression guard). Dropping the runtime gives
/// all of it back: shutdown drops every parked task, which frees it.
#[test]
fn a_parked_task_takes_80_bytes_and_shutdown_gives_them_back() {
    let start = live();
    // No worker threads: the pump polls every task here, so each has
    // parked (and filed its waker) when the pump returns.
    let runtime = Runtime::new(RuntimeConfig {
        workers: 0,
        ..Default::default()
    })
    .unwrap();
    let before = live();
    for _ in 0..TASKS {
        runtime.spawn::<Worker>(pending::<()>()).detach();
    }
    runtime.pump(Instant::now(), None);
    assert_eq!(runtime.in_flight(), TASKS, "every task is alive");
    assert_eq!(runtime.stats().worker_queue, 0, "every task was polled");
    let bytes = (live() - before) as f64 / TASKS as f64;
    println!("bytes per parked task, future of 0 bytes: {bytes:.2}");
    // The `trace` feature adds the task's tracing callsite to its header.
    let expected = if cfg!(feature = "trace") { 88.5 } else { 80.5 };
    assert!(
        bytes <= expected,
        "{bytes:.2} bytes per parked task (at most {expected})"
    );

    drop(runtime);
    let left = live() - start;
    // Far below one task in a hundred: a leak of the parked tasks fails.
    assert!(
        left < (TASKS as isize * expected as isize) / 100,
        "{left} bytes left after the runtime was dropped"
    );
}
