//! `RuntimeConfig::keep_main_core`: unpinned workers keep off the core the
//! main thread pumps on, while they are fewer than the cores (Linux), so
//! the kernel cannot hand a worker ticks of the main thread's core.
//!
//! The thread's allowed cores and last core come from `/proc/thread-self`;
//! on a machine with one core, or off Linux, the tests say so and skip.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};

/// The process's cores, or `None` (with a message) where the test cannot run.
fn cores_or_skip(test: &str) -> Option<BTreeSet<usize>> {
    match common::allowed_cores() {
        Some(cores) if cores.len() >= 2 && cfg!(target_os = "linux") => Some(cores),
        _ => {
            println!("{test}: skipped, it needs Linux and at least 2 cores");
            None
        }
    }
}

/// A pump with a task to run: an empty pump returns before it looks at
/// its core (there is nothing to keep the workers off it for).
fn pump(runtime: &Runtime) {
    runtime.spawn::<Main>(async {}).detach();
    runtime.pump(Instant::now(), None);
}

fn runtime(workers: usize, keep_main_core: bool) -> Runtime {
    Runtime::new(RuntimeConfig {
        workers,
        keep_main_core,
        ..Default::default()
    })
    .unwrap()
}

/// What a worker task sees of its own thread: allowed cores, last core.
/// Waited for on a channel: blocking on the task would lend the main
/// thread's core to the workers.
fn worker_view(runtime: &Runtime) -> (BTreeSet<usize>, usize) {
    let (send, receive) = std::sync::mpsc::channel();
    runtime
        .spawn::<Worker>(async move {
            send.send((
                common::allowed_cores().expect("a worker reads its allowed cores"),
                common::last_core().expect("a worker reads its core"),
            ))
            .unwrap();
        })
        .detach();
    receive
        .recv_timeout(Duration::from_secs(30))
        .expect("the worker task ends")
}

#[test]
fn a_worker_never_runs_on_the_core_the_main_thread_last_pumped_on() {
    let Some(cores) = cores_or_skip("keep_main_core") else {
        return;
    };
    let _watchdog = common::Watchdog::start("keep_main_core", Duration::from_secs(60));
    let runtime = runtime(cores.len() - 1, true);
    assert_eq!(
        runtime.stats().workers.main_core,
        None,
        "nothing noted before the first pump"
    );
    // The test thread moves between cores as the machine's load moves it:
    // each round the pump notes where it is, and every worker task run
    // before the next pump must see that core left out of its allowed set.
    let mut seen = BTreeSet::new();
    for round in 0..200 {
        pump(&runtime);
        let main_core = runtime
            .stats()
            .workers
            .main_core
            .expect("the pump notes its core");
        assert!(
            cores.contains(&main_core),
            "round {round}: core {main_core} is one of {cores:?}"
        );
        seen.insert(main_core);
        let (allowed, ran_on) = worker_view(&runtime);
        assert!(
            !allowed.contains(&main_core),
            "round {round}: the worker may run on {allowed:?}, the main thread's core {main_core} included"
        );
        assert_eq!(
            allowed.len(),
            cores.len() - 1,
            "round {round}: every other core stays the worker's ({allowed:?} of {cores:?})"
        );
        assert_ne!(
            ran_on, main_core,
            "round {round}: the worker ran on the main thread's core"
        );
    }
    println!("keep_main_core: the main thread pumped on cores {seen:?} over 200 rounds");
}

#[test]
fn the_rescue_thread_keeps_off_the_main_threads_core_between_rescues() {
    // It looks every 10 ms while work waits (100 ms when idle): woken on the
    // main thread's core, each look took the frame's CPU.
    let Some(cores) = cores_or_skip("keep_main_core, rescue thread") else {
        return;
    };
    let _watchdog = common::Watchdog::start("keep_main_core, rescue", Duration::from_secs(60));
    let runtime = runtime(cores.len() - 1, true);
    let mut noted = BTreeSet::new();
    for round in 0..5 {
        pump(&runtime);
        let main_core = runtime.stats().workers.main_core.expect("noted");
        noted.insert(main_core);
        let mut expected = cores.clone();
        expected.remove(&main_core);
        // No task for it to rescue: only its looks can have moved it. (Just
        // started, it may not bear its name yet.)
        common::wait_until(
            &format!("round {round}: the rescue thread keeps off core {main_core}"),
            || common::allowed_cores_of("bevy_coro rescue") == Some(expected.clone()),
        );
        assert_eq!(runtime.stats().workers.rescued, 0);
    }
    println!("keep_main_core, rescue thread: kept off cores {noted:?}");
}

#[test]
fn a_main_thread_blocking_on_a_task_lends_its_core_until_the_next_pump() {
    // A background worker starved on the other cores could not otherwise
    // run the task the main thread sleeps for.
    let Some(cores) = cores_or_skip("keep_main_core, block") else {
        return;
    };
    let _watchdog = common::Watchdog::start("keep_main_core, block", Duration::from_secs(60));
    let runtime = runtime(cores.len() - 1, true);
    for round in 0..20 {
        pump(&runtime);
        let main_core = runtime.stats().workers.main_core.expect("noted");
        let (allowed, _) = worker_view(&runtime);
        assert!(!allowed.contains(&main_core), "round {round}: {allowed:?}");
        // A task still asleep when `block` first polls it: the main thread
        // waits, and lends its core before it does.
        runtime
            .spawn::<Worker>(sleep(Duration::from_millis(50)))
            .block()
            .unwrap();
        assert_eq!(runtime.stats().workers.main_core, None, "round {round}");
        // Lent until the next pump: the worker's next task may run anywhere
        // (it may have run the blocked-on task before the main thread lent
        // the core, so that one may not show it).
        let (allowed, _) = worker_view(&runtime);
        assert_eq!(
            allowed, cores,
            "round {round}: the blocked main thread's core was not lent"
        );
    }
}

/// Over 20 pumps, the workers keep off no core: none is noted, and each
/// worker task's allowed cores pass `check`.
fn no_core_kept_off(runtime: &Runtime, check: impl Fn(&BTreeSet<usize>)) {
    for _ in 0..20 {
        pump(runtime);
        assert_eq!(runtime.stats().workers.main_core, None);
        let (allowed, _) = worker_view(runtime);
        check(&allowed);
    }
}

#[test]
fn with_keep_main_core_off_the_workers_keep_every_core() {
    let Some(cores) = cores_or_skip("keep_main_core off") else {
        return;
    };
    let runtime = runtime(cores.len() - 1, false);
    no_core_kept_off(&runtime, |allowed| assert_eq!(allowed, &cores));
}

#[test]
fn as_many_workers_as_cores_keep_every_core() {
    // Keeping one core free would crowd them onto the rest.
    let Some(cores) = cores_or_skip("keep_main_core, workers = cores") else {
        return;
    };
    let runtime = runtime(cores.len(), true);
    no_core_kept_off(&runtime, |allowed| assert_eq!(allowed, &cores));
}

#[test]
fn pinned_workers_stay_where_they_were_pinned() {
    let Some(cores) = cores_or_skip("keep_main_core, pinned workers") else {
        return;
    };
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        pin_workers: true,
        keep_main_core: true,
        ..Default::default()
    })
    .unwrap();
    no_core_kept_off(&runtime, |allowed| {
        assert_eq!(allowed.len(), 1, "pinned to one core of {cores:?}")
    });
}

#[test]
fn the_plugin_keeps_the_main_core_by_default() {
    assert!(CoroPlugin::default().keep_main_core);
    assert!(RuntimeConfig::default().keep_main_core);
    let Some(cores) = cores_or_skip("keep_main_core, plugin") else {
        return;
    };
    let mut app = common::app(cores.len() - 1);
    let coro = common::coro(&app);
    coro.spawn::<Main>(async {}).detach();
    app.update();
    assert!(coro.stats().workers.main_core.is_some());
}

#[test]
#[cfg(feature = "tokio")]
fn threads_the_owned_tokio_runtime_starts_from_a_worker_may_use_every_core() {
    let Some(cores) = cores_or_skip("keep_main_core, tokio") else {
        return;
    };
    // Each try has a fresh App, so a fresh tokio runtime and blocking pool.
    // Under load the rescue thread (every core) may run the task instead of
    // the worker; then the try says nothing.
    for _ in 0..20 {
        let mut app = common::app(cores.len() - 1);
        let coro = common::coro(&app);
        coro.spawn::<Main>(async {}).detach();
        app.update(); // a pump: the workers learn the main thread's core
        let (worker, blocking) = bevy_coro::runtime::block_on(coro.spawn::<Worker>(async {
            let worker = common::allowed_cores().expect("a worker reads its allowed cores");
            // A thread of tokio's blocking pool, started from this thread.
            let blocking = tokio::task::spawn_blocking(common::allowed_cores)
                .await
                .unwrap();
            (worker, blocking)
        }))
        .unwrap();
        if worker == cores {
            continue;
        }
        assert_eq!(
            blocking,
            Some(cores),
            "tokio's blocking thread inherited the worker's cores {worker:?}"
        );
        return;
    }
    println!("keep_main_core, tokio: skipped, the task never ran on a narrowed worker in 20 tries");
}
