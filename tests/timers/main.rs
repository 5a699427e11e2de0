//! Timers on a manual clock: delayed, interval, sleep, timeout, TimerHandle.

#[path = "../common/mod.rs"]
mod common;
mod intervals;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;

use bevy_coro::runtime::{ManualClock, Runtime, RuntimeConfig, Sleep};
use bevy_coro::{Elapsed, MissedTick, sleep_until};
use common::*;

const P: Duration = Duration::from_millis(100);

/// Advances the clock by `step` and pumps, `times` times.
fn step(runtime: &Runtime, clock: &ManualClock, step: Duration, times: usize) {
    for _ in 0..times {
        clock.advance(step);
        runtime.pump(Instant::now(), None);
    }
}

in_each_mode! {
fn a_delayed_task_runs_once_when_due(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let token = runtime.delayed(P * 3, || async {});
    step(&runtime, &clock, P, 2);
    assert_eq!(token.runs_started(), 0);
    step(&runtime, &clock, P, 1);
    assert_eq!(token.runs_started(), 1);
    step(&runtime, &clock, P, 5);
    assert_eq!(token.runs_started(), 1);
    assert!(token.is_finished());
}
}

in_each_mode! {
fn a_delayed_task_cancelled_before_it_is_due_never_calls_its_factory(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let called = Arc::new(AtomicBool::new(false));
    let flag = called.clone();
    let token = runtime.delayed(P, move || {
        flag.store(true, Ordering::SeqCst);
        async {}
    });
    runtime.pump(Instant::now(), None);
    token.cancel();
    step(&runtime, &clock, P, 3);
    assert!(!called.load(Ordering::SeqCst));
    assert_eq!(runtime.pending_timers(), 0, "the cancelled timer was freed");
}
}

in_each_mode! {
fn a_delay_in_the_past_fires_on_the_next_pump_and_max_never_does(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let now = runtime.delayed(Duration::ZERO, || async {});
    let never = runtime.delayed(Duration::MAX, || async {});
    let far_interval = runtime.interval(Duration::MAX, || async {});
    runtime.pump(Instant::now(), None);
    assert_eq!(now.runs_started(), 1);
    clock.advance(Duration::from_secs(u64::MAX / 4));
    runtime.pump(Instant::now(), None);
    clock.advance(Duration::MAX);
    runtime.pump(Instant::now(), None);
    assert_eq!(never.runs_started(), 0);
    assert_eq!(
        far_interval.runs_started(),
        1,
        "runs at once, then never again"
    );
}
}

in_each_mode! {
fn timeout_gives_elapsed_and_drops_the_future(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let counter = DropCounter::default();
    let token = counter.token();
    let mut task = runtime.spawn::<Worker>(async move { timeout(P, parked_forever(token)).await });
    let quick = runtime.spawn::<Main>(async { timeout(P, async { 5 }).await });
    runtime.pump(Instant::now(), None);
    wait_until("timer filed", || runtime.pending_timers() == 1);
    assert_eq!(counter.count(), 0);
    step(&runtime, &clock, P, 1);
    wait_until("timeout", || task.is_finished());
    assert_eq!(task.try_take(), Some(Ok(Err(Elapsed))));
    assert_eq!(counter.count(), 1);
    let mut quick = quick;
    assert_eq!(quick.try_take(), Some(Ok(Ok(5))));
}
}

in_each_mode! {
fn a_cancelled_task_does_not_stay_alive_for_its_sleep(workers = 2) {
    let (runtime, _clock) = manual_runtime_with(workers);
    let task = runtime.spawn::<Main>(async { sleep(Duration::from_secs(3600)).await });
    runtime.pump(Instant::now(), None);
    assert_eq!(runtime.pending_timers(), 1);
    task.cancel();
    runtime.pump(Instant::now(), None);
    assert_eq!(runtime.in_flight(), 0);
    assert_eq!(runtime.pending_timers(), 0);
}
}

in_each_mode! {
fn sleep_until_a_clock_instant(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let deadline = runtime.now() + P;
    let mut task = runtime.spawn::<Main>(async move { sleep_until(deadline).await });
    runtime.pump(Instant::now(), None);
    assert!(task.try_take().is_none());
    clock.advance(P);
    runtime.pump(Instant::now(), None); // fires the timer, wakes the task...
    runtime.pump(Instant::now(), None);
    assert_eq!(task.try_take(), Some(Ok(())));
}
}

/// Polls every sleep it holds until all are done.
struct AllOf(Vec<Pin<Box<Sleep>>>);

impl Future for AllOf {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0
            .retain_mut(|sleep| sleep.as_mut().poll(cx).is_pending());
        if self.0.is_empty() {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn a_million_timers_at_once() {
    let (runtime, clock) = manual_runtime();
    let done = Arc::new(AtomicUsize::new(0));
    for task in 0..1_000u64 {
        let done = done.clone();
        runtime
            .spawn::<Main>(async move {
                let sleeps = (0..1_000u64)
                    .map(|i| Box::pin(sleep(Duration::from_millis(1 + (task * 1_000 + i) % 5_000))))
                    .collect();
                AllOf(sleeps).await;
                done.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
    }
    runtime.pump(Instant::now(), None);
    assert_eq!(runtime.pending_timers(), 1_000_000);
    step(&runtime, &clock, Duration::from_millis(500), 11);
    assert_eq!(done.load(Ordering::SeqCst), 1_000);
    assert_eq!(runtime.pending_timers(), 0);
}

#[test]
fn worker_timers_fire_without_any_pump_under_the_real_clock() {
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    let task = runtime.spawn::<Worker>(async { sleep(Duration::from_millis(20)).await });
    // No pump at all: the timer thread wakes the worker task.
    wait_until("worker timer fired", || task.is_finished());
}
