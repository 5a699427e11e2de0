//! `RuntimeConfig::main_slice` / `CoroPlugin::main_slice`: the main thread
//! asks the kernel for a longer time slice while pumps run long (from a
//! pump whose work passes half the kernel's slice, until 120 short pumps in
//! a row), keeps its policy and nice value, and gets its own slice back
//! when the runtime is dropped. Read through `/proc/thread-self/sched`
//! (Linux 6.12 and later report `se.slice`; each test says it skipped
//! on older kernels). Linux only: elsewhere there is no slice to ask for.

#![cfg(target_os = "linux")]

mod common;

use std::time::Duration;

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::runtime::{DEFAULT_MAIN_SLICE, Instant, Runtime, RuntimeConfig};

/// Short pumps in a row after which the long slice is given back (the
/// documented 120).
const SHORT_PUMPS: usize = 120;

const LONG: Duration = Duration::from_millis(8);

/// The calling thread's time slice, as the kernel reports it.
fn this_thread_slice() -> Option<Duration> {
    let sched = std::fs::read_to_string("/proc/thread-self/sched").ok()?;
    let line = sched.lines().find(|line| line.starts_with("se.slice"))?;
    let nanos = line.split(':').nth(1)?.trim().parse().ok()?;
    Some(Duration::from_nanos(nanos))
}

/// Runs `test` on a thread of its own (each test changes its thread's
/// scheduling), with the slice the thread started with; `None` (and a
/// printed reason) where the kernel has no slice to read.
fn on_a_fresh_thread(test: impl FnOnce(Duration) + Send + 'static) {
    std::thread::spawn(move || {
        let Some(before) = this_thread_slice() else {
            println!("skipped: the kernel reports no se.slice (not Linux 6.12 or later)");
            return;
        };
        assert_ne!(before, LONG, "pick another long slice");
        test(before);
    })
    .join()
    .unwrap();
}

fn runtime(main_slice: Option<Duration>) -> Runtime {
    Runtime::new(RuntimeConfig {
        workers: 1,
        main_slice,
        ..Default::default()
    })
    .unwrap()
}

/// The calling thread's CPU time.
fn thread_cpu_time() -> Duration {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: writes the calling thread's CPU clock into `now`, a live timespec.
    let done = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut now) };
    assert_eq!(done, 0);
    Duration::new(now.tv_sec as u64, now.tv_nsec as u32)
}

/// A task body busy for `work` of its thread's CPU time.
async fn busy_for(work: Duration) {
    let start = thread_cpu_time();
    while thread_cpu_time() - start < work {
        std::hint::spin_loop();
    }
}

/// One pump that runs a main task busy for `work` of the thread's CPU time.
fn long_pump(runtime: &Runtime, work: Duration) {
    let task = runtime.spawn::<Main>(busy_for(work));
    runtime.pump(Instant::now(), None);
    assert!(task.is_finished());
}

/// `n` pumps with a short main task each.
fn short_pumps(runtime: &Runtime, n: usize) {
    for _ in 0..n {
        let task = runtime.spawn::<Main>(async {});
        runtime.pump(Instant::now(), None);
        assert!(task.is_finished());
    }
}

#[test]
fn the_main_thread_takes_the_long_slice_after_a_long_pump_and_gives_it_back_after_short_ones() {
    on_a_fresh_thread(|before| {
        let runtime = runtime(Some(LONG));
        // Nothing changes until a pump runs long.
        assert_eq!(this_thread_slice(), Some(before));
        short_pumps(&runtime, 2 * SHORT_PUMPS);
        assert_eq!(this_thread_slice(), Some(before));
        assert_eq!(runtime.stats().main_slice_raised, 0);

        // A pump whose work is the kernel's whole slice (twice the mark).
        long_pump(&runtime, before);
        assert_eq!(this_thread_slice(), Some(LONG));
        assert_eq!(runtime.stats().main_slice_raised, 1);

        // Kept through short pumps, empty ones included, up to the last.
        short_pumps(&runtime, SHORT_PUMPS / 2);
        for _ in 0..SHORT_PUMPS / 2 - 1 {
            runtime.pump(Instant::now(), None);
        }
        assert_eq!(this_thread_slice(), Some(LONG));
        runtime.pump(Instant::now(), None);
        assert_eq!(this_thread_slice(), Some(before), "not given back");

        // The runtime still works, and takes it again when needed.
        let task = runtime.spawn::<Worker>(async { 1 + 1 });
        assert_eq!(bevy_coro::runtime::block_on(task), Ok(2));
        long_pump(&runtime, before);
        assert_eq!(this_thread_slice(), Some(LONG));
        assert_eq!(runtime.stats().main_slice_raised, 2);
        drop(runtime);
        assert_eq!(this_thread_slice(), Some(before));
    });
}

#[test]
fn a_long_pump_among_short_ones_starts_the_count_again() {
    on_a_fresh_thread(|before| {
        let runtime = runtime(Some(LONG));
        long_pump(&runtime, before);
        for _ in 0..3 {
            short_pumps(&runtime, SHORT_PUMPS - 1);
            long_pump(&runtime, before);
        }
        short_pumps(&runtime, SHORT_PUMPS - 1);
        assert_eq!(this_thread_slice(), Some(LONG));
        // Taken once: no system call while it is held.
        assert_eq!(runtime.stats().main_slice_raised, 1);
        short_pumps(&runtime, 1);
        assert_eq!(this_thread_slice(), Some(before));
    });
}

#[test]
fn a_pump_under_half_the_kernels_slice_leaves_the_thread_alone() {
    on_a_fresh_thread(|before| {
        let runtime = runtime(Some(LONG));
        for _ in 0..10 {
            long_pump(&runtime, before / 4);
        }
        assert_eq!(this_thread_slice(), Some(before));
        assert_eq!(runtime.stats().main_slice_raised, 0);
    });
}

#[test]
fn without_a_slice_the_main_thread_is_left_alone() {
    on_a_fresh_thread(|before| {
        let runtime = runtime(None);
        long_pump(&runtime, before);
        assert_eq!(this_thread_slice(), Some(before));
        assert_eq!(runtime.stats().main_slice_raised, 0);
        drop(runtime);
        assert_eq!(this_thread_slice(), Some(before));
    });
}

#[test]
fn a_main_thread_with_a_raised_nice_value_keeps_it() {
    on_a_fresh_thread(|before| {
        // One above the thread's own (a run under `nice` starts above 0):
        // raising it needs no privilege.
        let nice = common::this_thread_nice().unwrap().min(18) + 1;
        // SAFETY: sets the calling thread's nice value.
        assert_eq!(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) }, 0);
        let policy = common::this_thread_policy();
        let runtime = runtime(Some(LONG));
        long_pump(&runtime, before);
        assert_eq!(this_thread_slice(), Some(LONG));
        assert_eq!(common::this_thread_nice(), Some(nice));
        assert_eq!(common::this_thread_policy(), policy);
        drop(runtime);
        assert_eq!(this_thread_slice(), Some(before));
        assert_eq!(common::this_thread_nice(), Some(nice));
    });
}

#[test]
fn a_runtime_dropped_on_another_thread_leaves_that_threads_slice_alone() {
    on_a_fresh_thread(|before| {
        let runtime = runtime(Some(LONG));
        long_pump(&runtime, before);
        std::thread::spawn(move || {
            let before = this_thread_slice();
            drop(runtime);
            assert_eq!(
                this_thread_slice(),
                before,
                "the dropping thread's slice moved"
            );
        })
        .join()
        .unwrap();
        // The main thread is not where the runtime was dropped: it keeps
        // the slice it asked for.
        assert_eq!(this_thread_slice(), Some(LONG));
    });
}

#[test]
fn a_slice_past_the_kernels_bound_is_clamped_not_refused() {
    on_a_fresh_thread(|before| {
        let runtime = runtime(Some(Duration::from_secs(60)));
        long_pump(&runtime, before);
        assert_eq!(this_thread_slice(), Some(Duration::from_millis(100)));
        drop(runtime);
        assert_eq!(this_thread_slice(), Some(before));
    });
}

#[test]
fn the_plugin_takes_the_default_slice_when_its_pump_runs_long() {
    on_a_fresh_thread(|before| {
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 1,
            ..Default::default()
        });
        app.update();
        assert_eq!(this_thread_slice(), Some(before));
        let coro = app.world().resource::<Coro>().clone();
        coro.spawn::<Main>(busy_for(before)).detach();
        app.update();
        assert_eq!(this_thread_slice(), Some(DEFAULT_MAIN_SLICE));
        drop(app);
        assert_eq!(this_thread_slice(), Some(before));

        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 1,
            main_slice: None,
            ..Default::default()
        });
        let coro = app.world().resource::<Coro>().clone();
        coro.spawn::<Main>(busy_for(before)).detach();
        app.update();
        assert_eq!(this_thread_slice(), Some(before));
    });
}
