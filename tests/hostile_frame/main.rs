//! Careless game code must not freeze the frame, starve other tasks, or get a
//! panic past containment (issue 23, items 1, 2 and 9).
//!
//! A frozen `app.update()` or `pump()` cannot be interrupted, so the code that
//! may freeze runs on a thread of its own (which also creates the App or the
//! runtime: they are pumped on the thread that made them), and the test fails
//! if that thread does not report back within a generous bound.

#[path = "../common/mod.rs"]
mod common;
mod panic_payloads;
mod per_frame;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::runtime::MissedTick;
use common::*;

/// How long one frame may take before the test calls it frozen: far above
/// what a frame of these tests needs, even on a loaded machine.
const FROZEN: Duration = Duration::from_secs(30);

/// Runs `frames` on a thread of their own; each call of `frame` reports a
/// value. Fails the test if a frame does not come back within [`FROZEN`]
/// (the frozen thread is left behind: it cannot be stopped from outside).
fn frames_off_thread<T: Send + 'static>(
    what: &str,
    frames: usize,
    setup: impl FnOnce() -> Box<dyn FnMut() -> T> + Send + 'static,
) -> Vec<T> {
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let mut frame = setup();
        for _ in 0..frames {
            if send.send(frame()).is_err() {
                return;
            }
        }
    });
    (0..frames)
        .map(|i| {
            receive
                .recv_timeout(FROZEN)
                .unwrap_or_else(|_| panic!("{what}: frame {i} did not come back: frozen"))
        })
        .collect()
}

// 1. An interval whose next tick is already due.

/// Runs per pump of a Main interval of period 2 ms whose runs take 3 ms of
/// the manual clock: every run ends with the next tick already due.
fn late_interval_runs_per_pump(policy: MissedTick, budget: Option<Duration>) -> Vec<usize> {
    frames_off_thread("a late interval", 6, move || {
        let (runtime, clock) = manual_runtime_with(1);
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let token = runtime
            .every(Duration::from_millis(2))
            .missed(policy)
            .run(move || {
                counted.fetch_add(1, Ordering::SeqCst);
                clock.advance(Duration::from_millis(3));
                async {}
            });
        let mut last = 0;
        Box::new(move || {
            let _keep = &token;
            runtime.pump(Instant::now(), budget);
            let now = runs.load(Ordering::SeqCst);
            now - std::mem::replace(&mut last, now)
        })
    })
}

#[test]
fn a_late_interval_stops_at_a_zero_budget() {
    for policy in [MissedTick::Burst, MissedTick::Delay] {
        // A zero budget runs one poll per pump: one run, then its turn.
        assert_eq!(
            late_interval_runs_per_pump(policy, Some(Duration::ZERO)),
            vec![1; 6],
            "{policy:?}"
        );
    }
}

#[test]
fn a_late_interval_does_not_hold_a_draining_pump() {
    // A tick that came due after the frame reached the interval waits for the
    // next frame, even with no budget: each frame ends.
    assert_eq!(
        late_interval_runs_per_pump(MissedTick::Delay, None),
        vec![1; 6]
    );
    // Burst drops no tick: each frame runs those due when it reached the
    // interval (frame k starts at 3·(runs so far) ms, ticks are every 2 ms),
    // so with runs longer than the period the frames grow, but each ends.
    assert_eq!(
        late_interval_runs_per_pump(MissedTick::Burst, None),
        vec![1, 1, 2, 3, 4, 6]
    );
}

/// A Burst interval of period `P` whose first run sleeps 3.5 `P` and the
/// others are instant, once the clock reached the end of that first run;
/// returns its runs started in each of `budgets.len()` pumps.
fn burst_after_a_long_run(budgets: Vec<Option<Duration>>) -> Vec<usize> {
    const P: Duration = Duration::from_millis(10);
    let per_pump = frames_off_thread("a burst", 1, move || {
        Box::new(move || {
            let (runtime, clock) = manual_runtime_with(1);
            let runs = Arc::new(AtomicUsize::new(0));
            let counted = runs.clone();
            let _token = runtime.every(P).missed(MissedTick::Burst).run(move || {
                let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    if first {
                        sleep(P * 7 / 2).await;
                    }
                }
            });
            runtime.pump(Instant::now(), None);
            clock.advance(P * 7 / 2);
            let mut per_pump = Vec::new();
            for &budget in &budgets {
                let before = runs.load(Ordering::SeqCst);
                runtime.pump(Instant::now(), budget);
                per_pump.push(runs.load(Ordering::SeqCst) - before);
            }
            per_pump
        })
    });
    per_pump.into_iter().next().unwrap()
}

#[test]
fn burst_catches_up_in_one_frame_one_run_per_turn() {
    // When the long run ends, ticks 1, 2 and 3 were due: they run in that
    // frame, and tick 4 waits for its time.
    assert_eq!(burst_after_a_long_run(vec![None, None]), vec![3, 0]);
    // Each in a turn of its own: with one poll per pump, the long run ends
    // in the first pump and the ticks run in the next three.
    assert_eq!(
        burst_after_a_long_run(vec![Some(Duration::ZERO); 5]),
        vec![0, 1, 1, 1, 0]
    );
}

#[test]
fn a_late_interval_under_a_budget_gives_the_frame_back() {
    // The App: every 2 ms, runs of 3 ms, Burst or Delay, 4 ms budget.
    for policy in [MissedTick::Burst, MissedTick::Delay] {
        let per_frame = frames_off_thread("a 3 ms run every 2 ms", 5, move || {
            let mut app = App::new();
            app.add_plugins(CoroPlugin {
                workers: 1,
                main_budget: Some(Duration::from_millis(4)),
                ..Default::default()
            });
            let coro = coro(&app);
            let runs = Arc::new(AtomicUsize::new(0));
            let counted = runs.clone();
            let token = coro
                .every(Duration::from_millis(2))
                .missed(policy)
                .run(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async { busy(Duration::from_millis(3)) }
                });
            let mut last = 0;
            Box::new(move || {
                let _keep = &token;
                app.update();
                let now = runs.load(Ordering::SeqCst);
                now - std::mem::replace(&mut last, now)
            })
        });
        // Each run holds the frame 3 ms: a 4 ms budget lets at most two start.
        assert!(
            per_frame.iter().all(|&runs| runs <= 2),
            "{policy:?}: {per_frame:?}"
        );
        assert!(
            per_frame.iter().sum::<usize>() >= 5,
            "{policy:?}: {per_frame:?}"
        );
    }
}

#[test]
fn a_nanosecond_interval_runs_once_a_frame_without_a_budget() {
    let per_frame = frames_off_thread("a 1 ns interval", 5, || {
        let mut app = app(1);
        let coro = coro(&app);
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let token = coro.interval(Duration::from_nanos(1), move || {
            counted.fetch_add(1, Ordering::SeqCst);
            async {}
        });
        let mut last = 0;
        Box::new(move || {
            let _keep = &token;
            app.update();
            let now = runs.load(Ordering::SeqCst);
            now - std::mem::replace(&mut last, now)
        })
    });
    // Every tick after the first run of a frame came due after the frame
    // reached the interval: the next frame's.
    assert_eq!(per_frame, vec![1; 5]);
}

#[test]
fn a_late_worker_interval_leaves_its_worker_to_other_tasks() {
    let done = frames_off_thread("a late worker interval", 1, || {
        Box::new(|| {
            let (runtime, clock) = manual_runtime_with(1);
            let runs = Arc::new(AtomicUsize::new(0));
            let counted = runs.clone();
            let token = runtime
                .every(Duration::from_millis(2))
                .on::<Worker>()
                .missed(MissedTick::Burst)
                .run(move || {
                    counted.fetch_add(1, Ordering::SeqCst);
                    clock.advance(Duration::from_millis(3));
                    async {}
                });
            // The only worker is busy with the interval for good (it never
            // waits: every tick is due when the previous run ends).
            wait_until("the interval runs", || runs.load(Ordering::SeqCst) > 100);
            let other = runtime.spawn::<Worker>(async { 42 }).block();
            drop(token);
            other
        })
    });
    assert_eq!(done, vec![Ok(42)]);
}

#[test]
fn a_yield_loop_leaves_its_worker_to_tasks_from_outside() {
    // The same starvation without timers: a worker task that only yields
    // goes back to its worker's own queue, which was always looked at first.
    // A yield is "to the back of the queue": a task spawned from outside
    // runs after the yield loop's next turn or two, not after 61 of them.
    let done = frames_off_thread("a worker yield loop", 1, || {
        Box::new(|| {
            let (runtime, _clock) = manual_runtime_with(1);
            let polls = Arc::new(AtomicUsize::new(0));
            let counted = polls.clone();
            let spinner = runtime.spawn::<Worker>(async move {
                loop {
                    counted.fetch_add(1, Ordering::SeqCst);
                    yield_now().await;
                }
            });
            wait_until("the yield loop runs", || polls.load(Ordering::SeqCst) > 100);
            // Five tries, as the loop's place in its run of own-queue
            // turns is anywhere at the spawn.
            let waits: Vec<usize> = (0..5)
                .map(|_| {
                    let seen = polls.clone();
                    let other = runtime.spawn::<Worker>(async move { seen.load(Ordering::SeqCst) });
                    // Read after the spawn has queued `other`: the loop's
                    // turn in progress, and one that looked at the queues a
                    // moment before the push, may still come first.
                    let spawned_at = polls.load(Ordering::SeqCst);
                    other.block().unwrap().saturating_sub(spawned_at)
                })
                .collect();
            drop(spinner);
            waits
        })
    });
    assert!(
        done[0].iter().all(|&turns| turns <= 2),
        "a task spawned beside a yield loop waited for this many of its turns: {:?}",
        done[0]
    );
}
