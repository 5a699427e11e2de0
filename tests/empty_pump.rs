//! A pump with nothing to do returns after a few loads, and a pump's hop to
//! a worker that is awake holds no wake. What an empty pump must still do:
//! count the frame and wake the `next_frame()` waiters, fire a timer that
//! came due (the single-threaded mode has no timer thread), and run what
//! arrived since the last pump; a hop to a sleeping worker is still woken
//! when the pump returns.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig, block_on};
use common::{WATCHDOG, Watchdog, manual_runtime_with, wait_until};

const FRAMES: usize = 20;

#[test]
fn empty_pumps_count_frames_and_wake_next_frame_waiters() {
    let _watchdog = Watchdog::start("next_frame over empty pumps", WATCHDOG);
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    let frames_seen = Arc::new(AtomicUsize::new(0));
    // A worker task waits for the next frame, again and again: nothing else
    // is in flight, so every pump it waits for is an empty one.
    let task = runtime.spawn::<Worker>({
        let frames_seen = frames_seen.clone();
        async move {
            for _ in 0..FRAMES {
                next_frame().await;
                frames_seen.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let mut pumps = 0;
    while frames_seen.load(Ordering::SeqCst) < FRAMES {
        let report = runtime.pump(Instant::now(), None);
        assert_eq!(report.polled, 0, "no main task to poll");
        pumps += 1;
        std::thread::sleep(Duration::from_micros(200));
    }
    // Each wait ended with a pump of its own.
    assert!(pumps >= FRAMES, "{pumps} pumps ended {FRAMES} waits");
    assert_eq!(block_on(task), Ok(()));
}

#[test]
fn a_timer_due_is_fired_by_an_otherwise_empty_pump_single_threaded() {
    let _watchdog = Watchdog::start("timer in an empty pump", WATCHDOG);
    let (runtime, clock) = manual_runtime_with(0);
    let woke = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..3)
        .map(|_| {
            let woke = woke.clone();
            runtime.spawn::<Worker>(async move {
                sleep(Duration::from_millis(10)).await;
                woke.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    // Files the timers; then nothing is ready.
    assert_eq!(runtime.pump(Instant::now(), None).polled, 3);
    for _ in 0..5 {
        assert_eq!(runtime.pump(Instant::now(), None).timers_fired, 0);
    }
    assert_eq!(woke.load(Ordering::SeqCst), 0);
    clock.advance(Duration::from_millis(11));
    let report = runtime.pump(Instant::now(), None);
    assert_eq!((report.timers_fired, report.polled), (3, 3));
    assert_eq!(woke.load(Ordering::SeqCst), 3);
    for task in tasks {
        assert_eq!(block_on(task), Ok(()));
    }
}

#[test]
fn tasks_woken_between_pumps_run_in_the_next_one() {
    let _watchdog = Watchdog::start("wakes between empty pumps", WATCHDOG);
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    for round in 1..=50 {
        // Empty pumps, then a main task spawned from another thread: the
        // next pump runs it.
        for _ in 0..3 {
            assert_eq!(runtime.pump(Instant::now(), None).polled, 0);
        }
        let handle = runtime.handle().clone();
        let ran_there = ran.clone();
        std::thread::spawn(move || {
            handle
                .spawn::<Main>(async move {
                    ran_there.fetch_add(1, Ordering::SeqCst);
                })
                .detach()
        })
        .join()
        .unwrap();
        assert_eq!(runtime.pump(Instant::now(), None).polled, 1);
        assert_eq!(ran.load(Ordering::SeqCst), round);
    }
}

#[test]
fn a_hop_to_a_busy_worker_holds_no_wake() {
    let _watchdog = Watchdog::start("hop to a busy worker", WATCHDOG);
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        frame_hold: Some(Duration::from_secs(3600)),
        ..Default::default()
    })
    .unwrap();
    // The worker is awake, busy in a task, while the pump moves 10 tasks
    // to it: no wake to hold, none for the frame to hold either.
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let started = Arc::new(AtomicBool::new(false));
    let busy = runtime.spawn::<Worker>({
        let started = started.clone();
        async move {
            started.store(true, Ordering::SeqCst);
            wait.recv().unwrap();
        }
    });
    wait_until("the worker is busy", || started.load(Ordering::SeqCst));
    runtime.begin_frame();
    let hops: Vec<_> = (0..10)
        .map(|i| runtime.spawn::<Main>(async move { async move { i }.on::<Worker>().await }))
        .collect();
    assert_eq!(runtime.pump(Instant::now(), None).polled, 10);
    assert_eq!(runtime.stats().workers.frame_held, 0, "a wake was held");
    go.send(()).unwrap();
    assert_eq!(block_on(busy), Ok(()));
    // Back on the main thread: pumped until done.
    let mut hops = hops;
    let mut results = Vec::new();
    while !hops.is_empty() {
        runtime.pump(Instant::now(), None);
        hops.retain_mut(|task| match task.try_take() {
            Some(result) => {
                results.push(result.unwrap());
                false
            }
            None => true,
        });
    }
    results.sort();
    assert_eq!(results, (0..10).collect::<Vec<_>>());
    runtime.end_frame();
}

#[test]
fn a_hop_to_a_sleeping_worker_is_woken_when_the_pump_returns() {
    let _watchdog = Watchdog::start("hop to a sleeping worker", WATCHDOG);
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        frame_hold: None,
        ..Default::default()
    })
    .unwrap();
    let mut parks = 0;
    for round in 0..20 {
        // Let the worker fall asleep (again, after the last round's work),
        // past its spin.
        wait_until("the worker parks", || runtime.stats().workers.parks > parks);
        std::thread::sleep(Duration::from_millis(2));
        parks = runtime.stats().workers.parks;
        let mut task =
            runtime.spawn::<Main>(async move { async move { round }.on::<Worker>().await });
        assert_eq!(runtime.pump(Instant::now(), None).polled, 1);
        // The held wake was given at the pump's end: the worker runs the
        // task, and the next pumps bring it home (a lost wake would leave it
        // to the rescue thread, or for good).
        let result = loop {
            runtime.pump(Instant::now(), None);
            if let Some(result) = task.try_take() {
                break result;
            }
            std::thread::sleep(Duration::from_micros(100));
        };
        assert_eq!(result, Ok(round));
        assert_eq!(runtime.stats().workers.rescue_wakes, 0);
    }
}
