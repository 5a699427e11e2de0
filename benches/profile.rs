//! A fixed amount of work to run under callgrind (instruction counts are
//! repeatable on a shared machine where wall-clock timings are not):
//!
//! ```text
//! cargo bench --bench profile --no-run      # prints the binary's path
//! valgrind --tool=callgrind --dump-instr=no target/release/deps/profile-HASH spawn 100000
//! callgrind_annotate callgrind.out.PID | head -40
//! ```
//!
//! Modes (the count defaults to 100,000):
//!
//! - `spawn N`: spawn and complete N trivial worker tasks from the main
//!   thread, in rounds of 1,000 (as the `spawn` bench group does), 2 workers;
//! - `spawn1 N`: the same with 1 worker;
//! - `spawn-burst N`: the same in rounds of 100,000 (the `spawn` group's
//!   larger size), printing each round's milliseconds;
//! - `yield N`: 100 worker tasks yielding N / 100 times each;
//!   `yield1000 N`: 1,000 tasks yielding N / 1,000 times each (more tasks
//!   than a worker's local queue holds, as the `yield` group's larger size);
//! - `pump N`: spawn 1,000 main tasks and pump them, N / 1,000 times;
//! - `timers N`: what the `timers` bench group does, in rounds of 1,000 sleeps
//!   (one main task, a manual clock, one pump to insert and one to fire);
//!   `timers-tokio N`: the same on tokio's paused clock;
//! - `yield-tokio N`, `yield1000-tokio N`: what `yield N` and
//!   `yield1000 N` do, on tokio (2 worker threads);
//! - `empty-pump N`: N pumps with nothing to do (1 worker, as the `pump`
//!   bench group), each given one fixed `Instant`, so the count is the
//!   pump's own and not the clock read a game makes before it;
//! - `empty-tick N`: N empty `try_tick`s of bevy_tasks' `ThreadExecutor`,
//!   the `pump` group's peer;
//! - `hop N`: 1,000 main tasks each making N / 1,000 round trips to a
//!   worker and back (2N hops) under a looping pump, `RuntimeConfig`'s
//!   defaults (the `hop under load` group);
//! - `spawn-tokio N`, `spawn-async-executor N`, `spawn-bevy_tasks N`: what
//!   `spawn N` does, on the peers (2 threads each), for instruction counts
//!   side by side.
//!
//! The instructions per task are the total divided by N, workers' parking
//! included; a baseline run with N = 0 gives the fixed cost to subtract.

mod common;

use common::ExecutorThreads;
use common::all_of::AllOf;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::task::Poll;
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Clock, ManualClock, Runtime, RuntimeConfig};

fn runtime(workers: usize) -> Runtime {
    Runtime::new(RuntimeConfig {
        workers,
        ..Default::default()
    })
    .unwrap()
}

/// Spawns `$n` trivial tasks with `$spawn` (a closure taking the future)
/// in rounds of 1,000, waiting for each round. A macro, so each peer's spawn
/// takes the future unboxed.
macro_rules! spawn_rounds {
    ($n:expr, $spawn:expr) => {
        spawn_rounds!($n, 1_000, $spawn)
    };
    ($n:expr, $round:expr, $spawn:expr) => {{
        let spawn = $spawn;
        let done = Arc::new(AtomicUsize::new(0));
        let (signal, wait) = sync_channel::<()>(1);
        let mut left: usize = $n;
        while left > 0 {
            let round = left.min($round);
            left -= round;
            for _ in 0..round {
                let (done, signal) = (done.clone(), signal.clone());
                spawn(async move {
                    if done.fetch_add(1, Ordering::AcqRel) + 1 == round {
                        done.store(0, Ordering::Release);
                        signal.send(()).unwrap();
                    }
                });
            }
            wait.recv().unwrap();
        }
    }};
}

/// Spawns `n` trivial worker tasks in rounds of 1,000, waiting for each round.
fn spawn(workers: usize, n: usize) {
    let runtime = runtime(workers);
    spawn_rounds!(n, |future| runtime.spawn::<Worker>(future).detach());
}

/// `spawn N` in rounds of 100,000 (the `spawn` group's larger size), each
/// round's time printed (milliseconds), to read a run's spread.
fn spawn_burst(n: usize) {
    let runtime = runtime(2);
    if let Ok(warm) = std::env::var("WARM") {
        let warm: usize = warm.parse().unwrap();
        spawn_rounds!(warm, |future| runtime.spawn::<Worker>(future).detach());
    }
    let mut left = n;
    while left > 0 {
        let round = left.min(100_000);
        left -= round;
        let start = Instant::now();
        spawn_rounds!(round, 100_000, |future| runtime
            .spawn::<Worker>(future)
            .detach());
        println!("{:.2}", start.elapsed().as_secs_f64() * 1e3);
    }
}

fn spawn_tokio(n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    spawn_rounds!(n, |future| drop(runtime.spawn(future)));
}

fn spawn_async_executor(n: usize) {
    let pool = ExecutorThreads::start(2);
    spawn_rounds!(n, |future| pool.executor.spawn(future).detach());
}

fn spawn_bevy_tasks(n: usize) {
    let pool = bevy_tasks::TaskPoolBuilder::new().num_threads(2).build();
    spawn_rounds!(n, |future| pool.spawn(future).detach());
}

fn yields(tasks: usize, n: usize) {
    let runtime = runtime(2);
    let tasks: Vec<_> = (0..tasks)
        .map(|_| {
            runtime.spawn::<Worker>(async move {
                for _ in 0..n / tasks {
                    yield_now().await;
                }
            })
        })
        .collect();
    for task in tasks {
        task.block().unwrap();
    }
}

fn pump(n: usize) {
    let runtime = runtime(1);
    for _ in 0..n / 1_000 {
        for _ in 0..1_000 {
            runtime.spawn::<Main>(async {}).detach();
        }
        runtime.pump(Instant::now(), None);
    }
}

fn timers(n: usize) {
    let clock = ManualClock::new();
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        clock: Clock::Manual(clock.clone()),
        ..Default::default()
    })
    .unwrap();
    for _ in 0..n / 1_000 {
        let mut task = runtime.spawn::<Main>(async move {
            AllOf::new((1..=1_000).map(|i| sleep(Duration::from_millis(i)))).await
        });
        runtime.pump(Instant::now(), None);
        clock.advance(Duration::from_millis(1_001));
        runtime.pump(Instant::now(), None);
        task.try_take().expect("all timers fired").unwrap();
    }
}

fn timers_tokio(n: usize) {
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    for _ in 0..n / 1_000 {
        tokio.block_on(async move {
            let mut all =
                AllOf::new((1..=1_000).map(|i| tokio::time::sleep(Duration::from_millis(i))));
            let inserted =
                std::future::poll_fn(|cx| Poll::Ready(Pin::new(&mut all).poll(cx).is_ready()))
                    .await;
            assert!(!inserted);
            tokio::time::advance(Duration::from_millis(1_001)).await;
            all.await
        })
    }
}

fn yields_tokio(tasks: usize, n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let tasks: Vec<_> = (0..tasks)
        .map(|_| {
            runtime.spawn(async move {
                for _ in 0..n / tasks {
                    tokio::task::yield_now().await;
                }
            })
        })
        .collect();
    runtime.block_on(async {
        for task in tasks {
            task.await.unwrap();
        }
    });
}

fn empty_pump(n: usize) {
    let runtime = runtime(1);
    let now = Instant::now();
    for _ in 0..n {
        std::hint::black_box(runtime.pump(now, None));
    }
}

fn empty_tick(n: usize) {
    let executor = bevy_tasks::ThreadExecutor::new();
    let ticker = executor.ticker().expect("made on this thread");
    for _ in 0..n {
        std::hint::black_box(ticker.try_tick());
    }
}

fn hop(n: usize) {
    let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
    let done = Arc::new(AtomicUsize::new(0));
    for _ in 0..1_000 {
        let done = done.clone();
        runtime
            .spawn::<Main>(async move {
                for _ in 0..n / 1_000 {
                    async {}.on::<Worker>().await;
                }
                done.fetch_add(1, Ordering::Release);
            })
            .detach();
    }
    while done.load(Ordering::Acquire) < 1_000 {
        runtime.pump(Instant::now(), None);
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|arg| arg.starts_with("--")) {
        return; // `cargo bench` passes `--bench`: this is a tool, not a bench
    }
    let n = args.get(1).map_or(100_000, |n| n.parse().expect("a count"));
    match args.first().map(String::as_str) {
        Some("spawn") | None => spawn(2, n),
        Some("spawn1") => spawn(1, n),
        Some("spawn-burst") => spawn_burst(n),
        Some("yield") => yields(100, n),
        Some("yield1000") => yields(1_000, n),
        Some("pump") => pump(n),
        Some("timers") => timers(n),
        Some("timers-tokio") => timers_tokio(n),
        Some("yield-tokio") => yields_tokio(100, n),
        Some("yield1000-tokio") => yields_tokio(1_000, n),
        Some("empty-pump") => empty_pump(n),
        Some("empty-tick") => empty_tick(n),
        Some("hop") => hop(n),
        Some("spawn-tokio") => spawn_tokio(n),
        Some("spawn-async-executor") => spawn_async_executor(n),
        Some("spawn-bevy_tasks") => spawn_bevy_tasks(n),
        Some(other) => panic!("unknown mode {other}"),
    }
}
