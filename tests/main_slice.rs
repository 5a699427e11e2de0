//! `RuntimeConfig::main_slice` / `CoroPlugin::main_slice`: the main thread
//! asks the kernel for a longer time slice, keeps its policy and nice value,
//! and gets its old slice back when the runtime is dropped. Read through
//! `/proc/thread-self/sched` (Linux 6.12 and later report `se.slice`; each
//! test says it skipped elsewhere).

mod common;

use std::time::Duration;

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::runtime::{DEFAULT_MAIN_SLICE, Runtime, RuntimeConfig};

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

#[test]
fn the_main_thread_gets_its_slice_and_it_back_when_the_runtime_is_dropped() {
    on_a_fresh_thread(|before| {
        assert_ne!(before, Duration::from_millis(8), "pick another slice");
        let runtime = runtime(Some(Duration::from_millis(8)));
        assert_eq!(this_thread_slice(), Some(Duration::from_millis(8)));
        // The runtime still works.
        let task = runtime.spawn::<Worker>(async { 1 + 1 });
        assert_eq!(bevy_coro::runtime::block_on(task), Ok(2));
        drop(runtime);
        assert_eq!(this_thread_slice(), Some(before));
    });
}

#[test]
fn without_a_slice_the_main_thread_is_left_alone() {
    on_a_fresh_thread(|before| {
        let runtime = runtime(None);
        assert_eq!(this_thread_slice(), Some(before));
        drop(runtime);
        assert_eq!(this_thread_slice(), Some(before));
    });
}

#[test]
#[cfg(unix)]
fn a_main_thread_with_a_raised_nice_value_keeps_it() {
    on_a_fresh_thread(|_| {
        // One above the thread's own (a run under `nice` starts above 0):
        // raising it needs no privilege.
        let nice = common::this_thread_nice().unwrap().min(18) + 1;
        // SAFETY: sets the calling thread's nice value.
        assert_eq!(unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) }, 0);
        let policy = common::this_thread_policy();
        let runtime = runtime(Some(Duration::from_millis(8)));
        assert_eq!(this_thread_slice(), Some(Duration::from_millis(8)));
        assert_eq!(common::this_thread_nice(), Some(nice));
        assert_eq!(common::this_thread_policy(), policy);
        drop(runtime);
    });
}

#[test]
fn a_runtime_dropped_on_another_thread_leaves_that_threads_slice_alone() {
    on_a_fresh_thread(|_| {
        let runtime = runtime(Some(Duration::from_millis(8)));
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
        assert_eq!(this_thread_slice(), Some(Duration::from_millis(8)));
    });
}

#[test]
fn a_slice_past_the_kernels_bound_is_clamped_not_refused() {
    on_a_fresh_thread(|before| {
        let runtime = runtime(Some(Duration::from_secs(60)));
        assert_eq!(this_thread_slice(), Some(Duration::from_millis(100)));
        drop(runtime);
        assert_eq!(this_thread_slice(), Some(before));
    });
}

#[test]
fn the_plugin_asks_for_the_default_slice_on_the_thread_that_builds_the_app() {
    on_a_fresh_thread(|before| {
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 1,
            ..Default::default()
        });
        assert_eq!(this_thread_slice(), Some(DEFAULT_MAIN_SLICE));
        app.update();
        drop(app);
        assert_eq!(this_thread_slice(), Some(before));

        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 1,
            main_slice: None,
            ..Default::default()
        });
        assert_eq!(this_thread_slice(), Some(before));
    });
}
