//! Intervals: the grid, the missed-tick policies, runs that never overlap,
//! cancel, drop and detach of the handle, panicking runs, a real clock, and a
//! clock moved while a worker files its next tick.

use super::*;

in_each_mode! {
fn an_interval_runs_at_once_then_stays_on_its_grid(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let times = Arc::new(Mutex::new(Vec::new()));
    let (coro, log) = (runtime.handle().clone(), times.clone());
    let token = runtime.interval(Duration::from_millis(10), move || {
        log.lock().unwrap().push(coro.now());
        async {}
    });
    runtime.pump(Instant::now(), None);
    assert_eq!(token.runs_started(), 1, "the first run is at once");
    let start = times.lock().unwrap()[0];
    // Uneven steps: the grid is start + k·period whatever the frame times.
    for i in 0..10_000u64 {
        clock.advance(Duration::from_millis(if i % 2 == 0 { 7 } else { 13 }));
        runtime.pump(Instant::now(), None);
    }
    let times = times.lock().unwrap();
    assert_eq!(times.len(), 10_001);
    for (k, time) in times.iter().enumerate() {
        // Each run sees the frame it ran in: never before its tick, and less
        // than one frame (13 ms) after it, so the grid never drifts.
        let tick = Duration::from_millis(10 * k as u64);
        let at = *time - start;
        assert!(
            at >= tick && at < tick + Duration::from_millis(13),
            "run {k} at {at:?}"
        );
    }
    assert_eq!(token.ticks_skipped(), 0);
}
}

/// An interval of period P whose first run lasts 2.5 P and the others none;
/// the clock moves by P/2 per frame. Returns run times in units of P/2, and
/// the token's skipped count.
fn first_run_long(workers: usize, policy: MissedTick) -> (Vec<u64>, u64) {
    let (runtime, clock) = manual_runtime_with(workers);
    let times = Arc::new(Mutex::new(Vec::new()));
    let running = Arc::new(AtomicBool::new(false));
    let origin = runtime.now();
    let (coro, log, busy) = (runtime.handle().clone(), times.clone(), running.clone());
    let token = runtime.every(P).missed(policy).run(move || {
        let at = coro.now() - origin;
        let first = log.lock().unwrap().is_empty();
        log.lock().unwrap().push((at.as_millis() / 50) as u64);
        assert!(!busy.swap(true, Ordering::SeqCst), "two runs at once");
        let busy = busy.clone();
        async move {
            if first {
                sleep(P * 5 / 2).await;
            }
            busy.store(false, Ordering::SeqCst);
        }
    });
    runtime.pump(Instant::now(), None);
    step(&runtime, &clock, P / 2, 9);
    let times = times.lock().unwrap().clone();
    (times, token.ticks_skipped())
}

in_each_mode! {
fn skip_drops_the_ticks_a_long_run_covered(workers = 2) {
    assert_eq!(first_run_long(workers, MissedTick::Skip), (vec![0, 6, 8], 2));
}
}

in_each_mode! {
fn burst_runs_the_covered_ticks_back_to_back(workers = 2) {
    assert_eq!(first_run_long(workers, MissedTick::Burst), (vec![0, 5, 5, 6, 8], 0));
}
}

in_each_mode! {
fn delay_restarts_the_grid_after_a_long_run(workers = 2) {
    assert_eq!(first_run_long(workers, MissedTick::Delay), (vec![0, 5, 7, 9], 1));
}
}

in_each_mode! {
fn a_run_that_takes_three_periods_never_overlaps(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let running = Arc::new(AtomicBool::new(false));
    let busy = running.clone();
    let token = runtime.interval(P, move || {
        assert!(!busy.swap(true, Ordering::SeqCst), "two runs at once");
        let busy = busy.clone();
        async move {
            sleep(P * 3).await;
            busy.store(false, Ordering::SeqCst);
        }
    });
    runtime.pump(Instant::now(), None);
    step(&runtime, &clock, P, 9);
    // Runs at 0, 3P, 6P, 9P; the two ticks inside each run are skipped.
    assert_eq!(token.runs_started(), 4);
    assert_eq!(token.ticks_skipped(), 6);
    assert_eq!(token.panics(), 0);
}
}

in_each_mode! {
fn cancel_lets_the_running_run_finish_and_starts_no_other(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let finished = Arc::new(AtomicUsize::new(0));
    let done = finished.clone();
    let token = runtime.interval(P, move || {
        let done = done.clone();
        async move {
            sleep(P / 2).await;
            done.fetch_add(1, Ordering::SeqCst);
        }
    });
    runtime.pump(Instant::now(), None); // run 1 starts
    token.cancel();
    step(&runtime, &clock, P / 4, 12);
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the run in progress finishes"
    );
    assert_eq!(token.runs_started(), 1, "no run after the cancel");
    assert!(token.is_finished());
    assert_eq!(runtime.in_flight(), 0);
    assert_eq!(runtime.pending_timers(), 0);
}
}

in_each_mode! {
fn dropping_the_token_cancels_the_same_way(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    let token = runtime.interval(P, move || {
        count.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    runtime.pump(Instant::now(), None);
    step(&runtime, &clock, P, 2);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    drop(token);
    step(&runtime, &clock, P, 3);
    assert_eq!(runs.load(Ordering::SeqCst), 3);
    assert_eq!(runtime.in_flight(), 0);
}
}

in_each_mode! {
fn a_detached_token_keeps_running(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    runtime
        .interval(P, move || {
            count.fetch_add(1, Ordering::SeqCst);
            async {}
        })
        .detach();
    runtime.pump(Instant::now(), None);
    step(&runtime, &clock, P, 3);
    assert_eq!(runs.load(Ordering::SeqCst), 4);
}
}

in_each_mode! {
fn first_after_period_waits_one_period(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let token = runtime.every(P).first_after_period().run(|| async {});
    runtime.pump(Instant::now(), None);
    assert_eq!(token.runs_started(), 0);
    step(&runtime, &clock, P, 1);
    assert_eq!(token.runs_started(), 1);
}
}

in_each_mode! {
fn a_zero_period_panics_at_the_call(workers = 2) {
    let (runtime, _clock) = manual_runtime_with(workers);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        runtime.interval(Duration::ZERO, || async {}).detach();
    }));
    let message = panic_text(&*result.expect_err("a zero period was accepted"));
    assert!(
        message.contains("period must be longer than zero"),
        "{message}"
    );
}
}

in_each_mode! {
fn a_panicking_run_ends_that_run_only(workers = 2) {
    let (runtime, clock) = manual_runtime_with(workers);
    let token = runtime.interval(P, {
        let mut run = 0;
        move || {
            run += 1;
            let this = run;
            async move {
                if this == 2 {
                    panic!("run {this} failed");
                }
            }
        }
    });
    runtime.pump(Instant::now(), None);
    step(&runtime, &clock, P, 4);
    assert_eq!(token.runs_started(), 5);
    assert_eq!(token.panics(), 1);
    assert_eq!(token.last_panic().as_deref(), Some("run 2 failed"));
}
}

#[test]
fn a_real_clock_interval_ticks_between_frames() {
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    let token = runtime
        .every(Duration::from_millis(2))
        .on::<Worker>()
        .run(move || {
            count.fetch_add(1, Ordering::SeqCst);
            async {}
        });
    wait_until("five worker ticks", || runs.load(Ordering::SeqCst) >= 5);
    drop(token);
}

/// A worker interval on a manual clock, the clock moved the moment each run
/// is seen: the move (and the pump's firing of that tick) lands now and then
/// between the worker's read of the clock and its filing of the next tick.
/// The filing must not go to a tick the clock never reaches (a CI run once
/// hung so in `faults.rs`).
#[test]
fn a_clock_moved_while_a_worker_files_its_next_tick_does_not_lose_it() {
    const RUNS: u64 = 20_000;
    const P: Duration = Duration::from_millis(1);
    let (runtime, clock) = manual_runtime();
    let _hogs = Hogs::start();
    let seen = Arc::new(AtomicUsize::new(0));
    let ticks = {
        let seen = seen.clone();
        runtime.every(P).on::<Worker>().run(move || {
            let seen = seen.clone();
            async move {
                seen.fetch_add(1, Ordering::Release);
            }
        })
    };
    // A main-thread interval on the same grid: the pump's firing of its tick
    // moves the wheel on.
    let _beside = runtime.every(P).run(|| async {});
    let start = Instant::now();
    for run in 1..=RUNS {
        while (seen.load(Ordering::Acquire) as u64) < run {
            assert!(
                start.elapsed() < WATCHDOG,
                "watchdog: run {run} never started (runs started: {}, ticks skipped: {})",
                ticks.runs_started(),
                ticks.ticks_skipped()
            );
            runtime.pump(Instant::now(), None);
        }
        if run < RUNS {
            clock.advance(P);
            runtime.pump(Instant::now(), None);
        }
    }
    assert_eq!(ticks.runs_started(), RUNS);
    assert_eq!(ticks.ticks_skipped(), 0);
}
