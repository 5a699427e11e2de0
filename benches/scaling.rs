//! What decides scaling, shown on the machine we have: the spawn and yield
//! workloads at 1, 2, 4 and 8 workers (8 oversubscribes a 2-core machine), with
//! the workers' counters per second: polls, pushes to their own queues (no
//! contention), pushes to the shared injector, steals, and parks. There is no
//! global lock on the hot path: a worker pushes to and pops from its own queue,
//! and touches the injector only for work that comes from outside.
//!
//! `cargo bench --bench scaling`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::sync_channel;
use std::time::Instant;

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Handle, Runtime, RuntimeConfig, WorkerStats};

/// Runs `spawn_all` (which gets a completion callback to hand each task) and
/// waits until `tasks` tasks called it. Returns seconds taken and counters.
fn measure(
    runtime: &Runtime,
    tasks: usize,
    spawn_all: impl FnOnce(&Handle, Arc<dyn Fn() + Send + Sync>),
) -> (f64, WorkerStats) {
    let before = runtime.stats().workers;
    let (signal, wait) = sync_channel::<()>(1);
    let done = Arc::new(AtomicUsize::new(0));
    let finish: Arc<dyn Fn() + Send + Sync> = Arc::new(move || {
        if done.fetch_add(1, Ordering::AcqRel) + 1 == tasks {
            signal.send(()).unwrap();
        }
    });
    let start = Instant::now();
    spawn_all(runtime, finish);
    wait.recv().unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let after = runtime.stats().workers;
    let delta = WorkerStats {
        polls: after.polls - before.polls,
        local_pushes: after.local_pushes - before.local_pushes,
        injector_pushes: after.injector_pushes - before.injector_pushes,
        steals: after.steals - before.steals,
        parks: after.parks - before.parks,
        rescued: after.rescued - before.rescued,
        rescue_wakes: after.rescue_wakes - before.rescue_wakes,
        frame_held: after.frame_held - before.frame_held,
        background: after.background,
        main_core: after.main_core,
    };
    (seconds, delta)
}

fn report(name: &str, workers: usize, tasks: usize, (seconds, s): (f64, WorkerStats)) {
    let per_second = |n: u64| n as f64 / seconds;
    println!(
        "{name:<28} {workers} workers  {:>6.2} M tasks/s | per second: polls {:>10.0}  local pushes {:>10.0}  injector pushes {:>10.0}  steals {:>9.0}  parks {:>7.0}",
        tasks as f64 / seconds / 1e6,
        per_second(s.polls),
        per_second(s.local_pushes),
        per_second(s.injector_pushes),
        per_second(s.steals),
        per_second(s.parks),
    );
}

fn main() {
    if std::env::args().any(|arg| arg == "--list") {
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("{cores} cores here; 8 workers oversubscribe them");
    for workers in [1, 2, 4, 8] {
        let runtime = Runtime::new(RuntimeConfig {
            workers,
            ..Default::default()
        })
        .unwrap();
        // Spawned from outside: every task goes through the injector.
        let tasks = 200_000;
        let run = measure(&runtime, tasks, |coro, finish| {
            for _ in 0..tasks {
                let finish = finish.clone();
                coro.spawn::<Worker>(async move { finish() }).detach();
            }
        });
        report("spawn from the main thread", workers, tasks, run);
        // Fan-out from workers: children go to the spawning worker's queue,
        // idle workers steal them.
        let (parents, children) = (200, 1_000);
        let run = measure(&runtime, parents * children, |coro, finish| {
            for _ in 0..parents {
                let (spawner, finish) = (coro.clone(), finish.clone());
                coro.spawn::<Worker>(async move {
                    for _ in 0..children {
                        let finish = finish.clone();
                        spawner.spawn::<Worker>(async move { finish() }).detach();
                    }
                })
                .detach();
            }
        });
        report("fan-out from workers", workers, parents * children, run);
        // Yields: each goes back to the yielding worker's own queue.
        let (yielders, rounds) = (1_000, 200);
        let run = measure(&runtime, yielders, |coro, finish| {
            for _ in 0..yielders {
                let finish = finish.clone();
                coro.spawn::<Worker>(async move {
                    for _ in 0..rounds {
                        yield_now().await;
                    }
                    finish();
                })
                .detach();
            }
        });
        report("1,000 tasks x 200 yields", workers, yielders * rounds, run);
    }
}
