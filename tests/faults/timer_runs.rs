//! Panics in a timer's factory, its run future, and the `Drop` of a
//! finished run future: each ends that run only, on both sides.

use super::*;

const P: Duration = Duration::from_millis(100);

/// Pumps until `done` holds: worker timer runs finish on their own threads.
fn pump_until(runtime: &Runtime, what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WATCHDOG, "watchdog: {what}");
        runtime.pump(Instant::now(), None);
        thread::yield_now();
    }
}

#[test]
fn a_panicking_timer_factory_or_run_ends_that_run_only_on_both_sides() {
    quiet_injected_panics();
    const RUNS: u64 = 6;
    let (runtime, clock) = manual_runtime();
    let before = runtime.stats().panics;
    let ran = Arc::new(AtomicUsize::new(0));
    // Interval factories and run futures that panic on run 2 (of 0..RUNS).
    let interval = |on_worker: bool, in_factory: bool| {
        let ran = ran.clone();
        let mut run = 0;
        let factory = move || {
            let this = run;
            run += 1;
            if in_factory && this == 2 {
                panic!("{INJECTED} factory, run {this}");
            }
            let ran = ran.clone();
            async move {
                if this == 2 {
                    panic!("{INJECTED} run future, run {this}");
                }
                ran.fetch_add(1, Ordering::SeqCst);
            }
        };
        let every = runtime.every(P);
        if on_worker {
            every.on::<Worker>().run(factory)
        } else {
            every.run(factory)
        }
    };
    let intervals = [
        (interval(false, true), "factory"),
        (interval(true, true), "factory"),
        (interval(false, false), "run future"),
        (interval(true, false), "run future"),
    ];
    // Delayed tasks whose factory panics, on both sides.
    let delayed = [
        runtime.delayed(P, || -> std::future::Ready<()> {
            panic!("{INJECTED} delayed factory")
        }),
        runtime
            .after(P)
            .on::<Worker>()
            .run(|| -> std::future::Ready<()> { panic!("{INJECTED} delayed factory") }),
    ];
    for k in 1..=RUNS {
        if k > 1 {
            clock.advance(P);
        }
        // Each run must be over before the clock moves again, or the worker
        // runs would see a later tick and skip.
        pump_until(&runtime, "interval runs", || {
            intervals.iter().all(|(token, _)| token.runs_started() == k)
        });
        pump_until(&runtime, "interval runs finished", || {
            ran.load(Ordering::SeqCst)
                + intervals
                    .iter()
                    .map(|(t, _)| t.panics() as usize)
                    .sum::<usize>()
                == 4 * k as usize
        });
    }
    pump_until(&runtime, "delayed runs", || {
        delayed
            .iter()
            .all(|token| token.panics() == 1 && token.is_finished())
    });
    for (token, place) in &intervals {
        assert_eq!(token.panics(), 1, "{place}");
        assert_eq!(
            token.last_panic(),
            Some(format!("{INJECTED} {place}, run 2")),
        );
        assert_eq!(token.ticks_skipped(), 0, "{place}");
    }
    // Runs 0..RUNS minus the one that panicked, in each interval.
    assert_eq!(ran.load(Ordering::SeqCst), 4 * (RUNS as usize - 1));
    for token in &delayed {
        assert_eq!(token.runs_started(), 1);
        assert_eq!(
            token.last_panic().as_deref(),
            Some("[injected] delayed factory")
        );
    }
    assert_eq!(runtime.stats().panics - before, 6);
}

/// A run future that is ready at once and then panics in its `Drop`.
struct GrenadeRun {
    _grenade: Grenade,
}

impl Future for GrenadeRun {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<()> {
        Poll::Ready(())
    }
}

#[test]
fn a_panic_in_the_drop_of_a_finished_run_future_ends_that_run_only() {
    quiet_injected_panics();
    let (runtime, clock) = manual_runtime();
    let drops = Arc::new(AtomicUsize::new(0));
    let factory_drops = drops.clone();
    let token = runtime.interval(P, move || GrenadeRun {
        _grenade: Grenade {
            drops: factory_drops.clone(),
        },
    });
    runtime.pump(Instant::now(), None);
    for _ in 0..3 {
        clock.advance(P);
        runtime.pump(Instant::now(), None);
    }
    // Four ticks, four runs: the panic after each run ends that run only.
    let seen = format!(
        "runs {}, futures dropped {}, token panics {}, finished {}, runtime panics {}",
        token.runs_started(),
        drops.load(Ordering::SeqCst),
        token.panics(),
        token.is_finished(),
        runtime.stats().panics
    );
    assert_eq!(token.runs_started(), 4, "{seen}");
    assert_eq!(drops.load(Ordering::SeqCst), 4, "{seen}");
    assert_eq!(
        token.panics(),
        4,
        "each run's panic is reported on the token; {seen}"
    );
}
