//! The core runtime, pumped by hand without an App.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;
use bevy_coro::runtime::Runtime;
use common::*;

fn pump_until<T>(runtime: &Runtime, task: &mut Task<T>) -> Result<T, TaskError> {
    let start = Instant::now();
    loop {
        runtime.pump(Instant::now(), None);
        if let Some(result) = task.try_take() {
            return result;
        }
        assert!(start.elapsed() < WATCHDOG, "task never finished");
        std::thread::yield_now();
    }
}

#[test]
fn a_runtime_runs_without_an_app() {
    let runtime = runtime(2);
    assert_eq!(runtime.worker_count(), 2);
    let mut task = runtime.spawn::<Main>(async {
        let a = async { 20 }.on::<Worker>().await;
        yield_now().await;
        a + 1
    });
    assert_eq!(pump_until(&runtime, &mut task), Ok(21));
}

#[test]
fn the_pump_reports_its_work_and_its_budget() {
    let runtime = runtime(1);
    for _ in 0..10 {
        runtime.spawn::<Main>(async {}).detach();
    }
    let report = runtime.pump(Instant::now(), None);
    assert_eq!(report.polled, 10);
    assert!(!report.out_of_budget);
    for _ in 0..10 {
        runtime.spawn::<Main>(async {}).detach();
    }
    // A zero budget still runs one task per pump, so the frame loop progresses.
    let report = runtime.pump(Instant::now(), Some(Duration::ZERO));
    assert_eq!(report.polled, 1);
    assert!(report.out_of_budget);
    assert_eq!(runtime.main_queue_len(), 9);
}

#[test]
fn a_pump_on_another_thread_is_refused() {
    let runtime = Arc::new(runtime(1));
    let other = runtime.clone();
    let result = std::thread::spawn(move || {
        other.pump(Instant::now(), None);
    })
    .join();
    assert!(result.is_err());
}

#[test]
fn dropping_the_runtime_drops_every_future_once() {
    let counter = DropCounter::default();
    let polls = Arc::new(AtomicUsize::new(0));
    {
        let runtime = runtime(2);
        for i in 0..1_000 {
            let token = counter.token();
            let polls = polls.clone();
            let future = async move {
                polls.fetch_add(1, Ordering::Relaxed);
                parked_forever(token).await
            };
            if i % 2 == 0 {
                runtime.spawn::<Main>(future).detach();
            } else {
                runtime.spawn::<Worker>(future).detach();
            }
        }
        runtime.pump(Instant::now(), None);
    }
    assert_eq!(counter.count(), 1_000);
}
