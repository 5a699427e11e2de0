//! The reliability suite's stress tests: counts, never times. A million tasks
//! through every path of the scheduler with each step counted once, a storm of
//! wakes from foreign threads with none lost, and a thousand Apps dropped
//! mid-flight with every future dropped exactly once and no hang.

#[path = "../common/mod.rs"]
mod common;
mod dropped_apps;
mod wake_storm;

use std::cell::Cell;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use bevy_coro::prelude::*;
use common::*;

/// The steps of one task in the million, one bit each.
const STARTED: u8 = 1;
const HOPPED: u8 = 2;
const YIELDED: u8 = 4;
const ENDED: u8 = 8;
const ALL_STEPS: u8 = STARTED | HOPPED | YIELDED | ENDED;

/// Per-task step bits; a step seen twice is counted in `repeats`.
struct Steps {
    bits: Vec<AtomicU8>,
    repeats: AtomicUsize,
    done: AtomicUsize,
    /// Threads that ran a step meant for a worker.
    worker_threads: Mutex<HashSet<String>>,
}

impl Steps {
    fn mark(&self, task: usize, step: u8) {
        if self.bits[task].fetch_or(step, Ordering::Relaxed) & step != 0 {
            self.repeats.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Notes the worker this runs on, once per thread (no lock per task).
    fn on_worker(&self) {
        thread_local!(static NOTED: Cell<bool> = const { Cell::new(false) });
        if !NOTED.replace(true) {
            self.worker_threads
                .lock()
                .unwrap()
                .insert(thread::current().name().unwrap_or("unnamed").to_owned());
        }
    }
}

/// One of four shapes, so every path is taken: spawn on either side, hop to
/// the other, yield on either side, complete.
async fn stepper(steps: Arc<Steps>, i: usize) {
    steps.mark(i, STARTED);
    match i % 4 {
        0 => {
            // Main: hop to a worker, yield on main (next frame).
            let s = steps.clone();
            async move {
                s.on_worker();
                s.mark(i, HOPPED);
            }
            .on::<Worker>()
            .await;
            yield_now().await;
            steps.mark(i, YIELDED);
        }
        1 => {
            // Worker: hop to main, yield on the worker.
            let s = steps.clone();
            async move { s.mark(i, HOPPED) }.on::<Main>().await;
            steps.on_worker();
            yield_now().await;
            steps.mark(i, YIELDED);
        }
        2 => {
            // Main: yield inside the hop, on the worker's side.
            let s = steps.clone();
            async move {
                yield_now().await;
                s.on_worker();
                s.mark(i, YIELDED);
                s.mark(i, HOPPED);
            }
            .on::<Worker>()
            .await;
        }
        _ => {
            // Worker: yield first, then a hop to main.
            steps.on_worker();
            yield_now().await;
            steps.mark(i, YIELDED);
            let s = steps.clone();
            async move { s.mark(i, HOPPED) }.on::<Main>().await;
        }
    }
    steps.mark(i, ENDED);
    steps.done.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn a_million_tasks_spawn_hop_yield_and_complete_each_step_once() {
    const TASKS: usize = 1_000_000;
    // Tasks alive at once: enough to keep every queue busy, few enough that
    // memory stays small; spawning goes on while the others run.
    const WINDOW: usize = 50_000;
    let mut app = app(2);
    let coro = coro(&app);
    let steps = Arc::new(Steps {
        bits: (0..TASKS).map(|_| AtomicU8::new(0)).collect(),
        repeats: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        worker_threads: Mutex::new(HashSet::new()),
    });
    let mut spawned = 0;
    update_until(&mut app, "a million tasks", |_| {
        let done = steps.done.load(Ordering::Relaxed);
        while spawned < TASKS && spawned - done < WINDOW {
            let task = stepper(steps.clone(), spawned);
            if spawned % 4 == 0 || spawned % 4 == 2 {
                coro.spawn::<Main>(task).detach();
            } else {
                coro.spawn::<Worker>(task).detach();
            }
            spawned += 1;
        }
        done == TASKS
    });
    assert_eq!(steps.repeats.load(Ordering::Relaxed), 0, "a step ran twice");
    let missing: Vec<_> = (0..TASKS)
        .filter(|&i| steps.bits[i].load(Ordering::Relaxed) != ALL_STEPS)
        .take(10)
        .collect();
    assert!(missing.is_empty(), "tasks with a step missing: {missing:?}");
    wait_until("in_flight back to zero", || coro.in_flight() == 0);
    // Every worker ran tasks; so may have the rescue thread of the
    // (background) workers, when this test's threads kept them off the CPU.
    let threads = steps.worker_threads.lock().unwrap();
    let workers = threads
        .iter()
        .filter(|name| name.starts_with("bevy_coro worker"))
        .count();
    assert_eq!(
        workers,
        coro.worker_count(),
        "not every worker ran tasks: {threads:?}"
    );
    assert!(
        threads
            .iter()
            .all(|name| name.starts_with("bevy_coro worker") || name == "bevy_coro rescue"),
        "worker tasks polled elsewhere: {threads:?}"
    );
}
