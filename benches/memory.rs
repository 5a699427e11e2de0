//! Bytes per pending task, beyond its future: 100,000 tasks parked on a
//! never-ready future of 0 bytes, counted by a counting global allocator
//! (not RSS guesses), for bevy_coro and each peer.
//!
//! `cargo bench --bench memory`

mod common;
#[path = "../tests/common/counting_alloc.rs"]
mod counting_alloc;

use common::ExecutorThreads;

use std::future::pending;
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};

const TASKS: usize = 100_000;

/// Bytes per task: the allocation growth while `spawn_all` spawns `TASKS`
/// parked tasks and they settle.
fn per_task(spawn_all: impl FnOnce(), settled: impl Fn() -> bool) -> f64 {
    let before = counting_alloc::live();
    spawn_all();
    let start = Instant::now();
    while !settled() && start.elapsed() < Duration::from_secs(30) {
        std::thread::sleep(Duration::from_millis(10));
    }
    // Let the last polls finish, then measure.
    std::thread::sleep(Duration::from_millis(200));
    (counting_alloc::live() - before) as f64 / TASKS as f64
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return; // `cargo bench -- --list` and friends: nothing to list
    }
    let runtime = Runtime::new(RuntimeConfig {
        workers: 2,
        ..Default::default()
    })
    .unwrap();
    let coro = per_task(
        || {
            for _ in 0..TASKS {
                runtime.spawn::<Worker>(pending::<()>()).detach();
            }
        },
        || runtime.stats().worker_queue == 0,
    );

    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tokio_bytes = per_task(
        || {
            for _ in 0..TASKS {
                drop(tokio.spawn(pending::<()>()));
            }
        },
        || true,
    );

    let executor = ExecutorThreads::start(2);
    let executor_bytes = per_task(
        || {
            for _ in 0..TASKS {
                executor.executor.spawn(pending::<()>()).detach();
            }
        },
        || true,
    );

    let pool = bevy_tasks::TaskPoolBuilder::new().num_threads(2).build();
    let pool_bytes = per_task(
        || {
            for _ in 0..TASKS {
                pool.spawn(pending::<()>()).detach();
            }
        },
        || true,
    );

    println!("bytes per pending task (future of 0 bytes, {TASKS} tasks parked):");
    println!("  bevy_coro       {coro:>6.1}");
    println!("  tokio           {tokio_bytes:>6.1}");
    println!("  async-executor  {executor_bytes:>6.1}");
    println!("  bevy_tasks      {pool_bytes:>6.1}");
    drop(executor);
}
