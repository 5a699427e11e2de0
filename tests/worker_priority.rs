//! `WorkerPriority::Background`: the workers run at the OS's background
//! priority, and the rescue thread keeps them from starving when other
//! threads keep every core busy.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;

use bevy_coro::WorkerPriority;
use bevy_coro::runtime::{Runtime, RuntimeConfig, block_on};

/// One test at a time: the starvation test spins a thread on every core,
/// which would starve the other tests' background workers too.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn background_runtime(workers: usize) -> Runtime {
    Runtime::new(RuntimeConfig {
        workers,
        worker_priority: WorkerPriority::Background,
        ..Default::default()
    })
    .unwrap()
}

const SCHED_BATCH: u32 = 3;
const SCHED_IDLE: u32 = 5;

/// The policy and nice value of the thread that ran a task on `runtime`
/// (0 and 0: normal priority, the rescue thread's).
fn policies(runtime: &Runtime) -> (Option<u32>, Option<i32>) {
    block_on(
        runtime
            .spawn::<Worker>(async { (common::this_thread_policy(), common::this_thread_nice()) }),
    )
    .unwrap()
}

#[test]
fn background_workers_that_keep_off_the_main_core_run_at_nice_19() {
    let _alone = one_at_a_time();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if !cfg!(target_os = "linux") || cores < 2 {
        println!("skipped: keeping off the main core needs Linux and two cores");
        return;
    }
    // The test's own priority (a run under `nice` starts above 0).
    let own = (common::this_thread_policy(), common::this_thread_nice());
    // One worker, fewer than the cores: it keeps off the main core.
    let runtime = background_runtime(1);
    if !common::background_worker_ready(&runtime) {
        return;
    }
    // The rescue thread (normal priority) may run the task on a loaded
    // machine: try until a worker does.
    let on_worker = (0..100)
        .map(|_| policies(&runtime))
        .find(|&(policy, _)| policy != Some(0))
        .expect("a background worker ran one task in 100");
    assert_eq!(on_worker, (Some(SCHED_BATCH), Some(19)));
    assert_eq!(runtime.stats().workers.background, 1);
    let caller = (common::this_thread_policy(), common::this_thread_nice());
    assert_eq!(caller, own, "the caller keeps its own priority");
}

#[test]
fn background_workers_that_may_share_the_main_core_run_at_idle_priority_and_the_rest_does_not() {
    let _alone = one_at_a_time();
    if !cfg!(target_os = "linux") {
        println!("skipped: WorkerPriority::Background has effect on Linux only");
        return;
    }
    let own = (common::this_thread_policy(), common::this_thread_nice());
    // `keep_main_core` off: the workers may run on the main thread's core.
    let runtime = Runtime::new(RuntimeConfig {
        workers: 2,
        worker_priority: WorkerPriority::Background,
        keep_main_core: false,
        ..Default::default()
    })
    .unwrap();
    if !common::background_worker_ready(&runtime) {
        return;
    }
    let on_worker = (0..100)
        .map(|_| policies(&runtime).0)
        .find(|&policy| policy != Some(0))
        .expect("a background worker ran one task in 100");
    assert_eq!(on_worker, Some(SCHED_IDLE));
    // The other worker lowers itself as it starts.
    common::wait_until("both workers at background priority", || {
        runtime.stats().workers.background == 2
    });
    // Only the workers: the thread that built the runtime keeps its priority.
    let caller = (common::this_thread_policy(), common::this_thread_nice());
    assert_eq!(caller, own);

    let normal = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    // A worker at normal priority has the priority of the thread that
    // started it.
    assert_eq!(policies(&normal), own);
    assert_eq!(normal.stats().workers.background, 0);
}

#[test]
fn starved_background_workers_are_rescued_and_every_task_runs_once() {
    let _alone = one_at_a_time();
    if !cfg!(target_os = "linux") {
        println!("skipped: the rescue thread exists on Linux only");
        return;
    }
    let runtime = background_runtime(1);
    if !common::background_worker_ready(&runtime) {
        return;
    }
    let _watchdog = common::Watchdog::start("the starved pool", Duration::from_secs(60));
    // A pump notes the main thread's core, which the rescue thread keeps
    // off as the workers do (where there are more cores than workers).
    runtime.spawn::<Main>(async {}).detach();
    runtime.pump(Instant::now(), None);
    let main_core = runtime.stats().workers.main_core;
    // Where there are more cores than workers (more than one core).
    assert_eq!(
        main_core.is_some(),
        common::allowed_cores().is_some_and(|cores| cores.len() > 1)
    );
    let hogs = common::Hogs::start();
    let started = Instant::now();
    let runs = Arc::new(AtomicUsize::new(0));
    let rescued_on_main_core = Arc::new(AtomicUsize::new(0));
    // 0.4 s of work: a starved worker would take tens of seconds.
    let tasks: Vec<_> = (0..200)
        .map(|_| {
            let runs = runs.clone();
            let rescued_on_main_core = rescued_on_main_core.clone();
            runtime.spawn::<Worker>(async move {
                let rescue = std::thread::current().name() == Some("bevy_coro rescue");
                let allowed = common::allowed_cores().unwrap_or_default();
                if rescue && main_core.is_some_and(|core| allowed.contains(&core)) {
                    rescued_on_main_core.fetch_add(1, Ordering::Relaxed);
                }
                common::busy(Duration::from_millis(2));
                runs.fetch_add(1, Ordering::Relaxed);
            })
        })
        .collect();
    // Waited for without blocking on a task, which would lend the main
    // thread's core to the rescue thread (see `keep_main_core`).
    common::wait_until("every task ran", || runs.load(Ordering::Relaxed) == 200);
    for task in tasks {
        block_on(task).unwrap();
    }
    let took = started.elapsed();
    drop(hogs);
    println!("took {took:?}");
    assert_eq!(runs.load(Ordering::Relaxed), 200);
    let stats = runtime.stats().workers;
    assert_eq!(stats.polls + stats.rescued, 201, "{stats:?}");
    // A worker with the CPU to itself would have run them all; starved, it
    // ran almost none, and the rescue thread took over.
    assert!(stats.rescued > 0, "the rescue thread never ran: {stats:?}");
    assert_eq!(
        rescued_on_main_core.load(Ordering::Relaxed),
        0,
        "the rescue thread ran tasks where it may take the main thread's core {main_core:?}"
    );
    println!("{stats:?}");
}

#[test]
fn a_background_pool_runs_every_task_once() {
    let _alone = one_at_a_time();
    let runtime = background_runtime(2);
    let tasks: Vec<_> = (0..1000)
        .map(|i| runtime.spawn::<Worker>(async move { i * 2 }))
        .collect();
    let sum: usize = tasks.into_iter().map(|task| block_on(task).unwrap()).sum();
    assert_eq!(sum, 999 * 1000);
    // Every task ran exactly once, on a worker or, if the machine kept the
    // workers off the CPU for a while, on the rescue thread.
    let stats = runtime.stats().workers;
    assert_eq!(stats.polls + stats.rescued, 1000, "{stats:?}");
}

#[test]
fn dropping_a_background_runtime_stops_the_rescue_thread() {
    let _alone = one_at_a_time();
    let _watchdog = common::Watchdog::start("the rescue thread's stop", Duration::from_secs(30));
    for _ in 0..20 {
        let runtime = background_runtime(1);
        block_on(runtime.spawn::<Worker>(async { 1 })).unwrap();
        drop(runtime);
    }
}
