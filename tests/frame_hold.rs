//! The frame hold: while the game's frame runs, a sleeping worker is woken
//! at the frame's end for work the frame queues, never later than the hold
//! allows, and never when something waits for that work (a thread blocking
//! on it, a timer, a worker's own spawn).

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bevy_app::{App, Update};
use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig, WorkerPriority, block_on};
use bevy_ecs::prelude::*;
use common::{WATCHDOG, Watchdog, wait_until};

/// One worker and a frame hold of `hold`.
fn runtime(hold: Option<Duration>) -> Runtime {
    Runtime::new(RuntimeConfig {
        workers: 1,
        frame_hold: hold,
        ..Default::default()
    })
    .unwrap()
}

/// Waits until the worker has gone to sleep (and a little more, so it is
/// asleep in the kernel, past its last look for work).
fn worker_asleep(runtime: &Runtime) {
    let parks = runtime.stats().workers.parks;
    // A task run now makes it park again after, from a known state.
    block_on(runtime.spawn::<Worker>(async {})).unwrap();
    wait_until("the worker parks", || runtime.stats().workers.parks > parks);
    std::thread::sleep(Duration::from_millis(5));
}

#[test]
fn a_task_queued_in_the_frame_waits_for_its_end_while_the_worker_sleeps() {
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    let runtime = runtime(Some(Duration::from_secs(3600)));
    worker_asleep(&runtime);
    let ran = Arc::new(AtomicBool::new(false));
    runtime.begin_frame();
    let task = runtime.spawn::<Worker>({
        let ran = ran.clone();
        async move { ran.store(true, Ordering::SeqCst) }
    });
    // The wake was held: nothing else wakes the worker before the rescue
    // thread's second look, tens of milliseconds away.
    assert_eq!(runtime.stats().workers.frame_held, 1);
    assert!(
        !ran.load(Ordering::SeqCst),
        "the worker was woken mid-frame"
    );
    runtime.end_frame();
    wait_until("the task runs after the frame", || {
        ran.load(Ordering::SeqCst)
    });
    assert_eq!(block_on(task), Ok(()));
    assert_eq!(runtime.stats().workers.rescue_wakes, 0);
}

#[test]
fn the_hop_back_to_a_worker_the_pump_queues_waits_for_the_frames_end() {
    // The pump holds the wakes of what it sends to the workers until it
    // returns; then, in the middle of the frame, they are the frame's to
    // hold too (a wake there was a system call inside the pump's time).
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    let runtime = runtime(Some(Duration::from_secs(3600)));
    worker_asleep(&runtime);
    let ran = Arc::new(AtomicBool::new(false));
    runtime.begin_frame();
    let task = runtime.spawn::<Main>({
        let ran = ran.clone();
        async move {
            async move { ran.store(true, Ordering::SeqCst) }
                .on::<Worker>()
                .await
        }
    });
    let held = runtime.stats().workers.frame_held;
    runtime.pump(std::time::Instant::now(), None);
    assert_eq!(
        runtime.stats().workers.frame_held,
        held + 1,
        "the pump's wake was not held for the frame"
    );
    std::thread::sleep(Duration::from_millis(5));
    assert!(
        !ran.load(Ordering::SeqCst),
        "the worker was woken as the pump returned, mid-frame"
    );
    runtime.end_frame();
    wait_until("the task runs after the frame", || {
        ran.load(Ordering::SeqCst)
    });
    // Back on the main thread at the next pump.
    let mut task = task;
    wait_until("the task ends", || {
        runtime.pump(std::time::Instant::now(), None);
        task.try_take().is_some()
    });
}

#[test]
fn a_worker_still_awake_takes_the_frames_work_without_a_wake() {
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    let runtime = runtime(Some(Duration::from_secs(3600)));
    let (go, wait) = std::sync::mpsc::channel::<()>();
    let started = Arc::new(AtomicBool::new(false));
    // The worker is busy in this task while the frame queues more.
    let busy = runtime.spawn::<Worker>({
        let started = started.clone();
        async move {
            started.store(true, Ordering::SeqCst);
            wait.recv().unwrap();
        }
    });
    wait_until("the worker is busy", || started.load(Ordering::SeqCst));
    runtime.begin_frame();
    let ran = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..10)
        .map(|_| {
            let ran = ran.clone();
            runtime.spawn::<Worker>(async move {
                ran.fetch_add(1, Ordering::SeqCst);
            })
        })
        .collect();
    go.send(()).unwrap();
    // The frame never ends here: the worker finds the tasks in its queues.
    wait_until("the frame's tasks run", || ran.load(Ordering::SeqCst) == 10);
    assert_eq!(block_on(busy), Ok(()));
    for task in tasks {
        assert_eq!(block_on(task), Ok(()));
    }
    assert_eq!(runtime.stats().workers.rescue_wakes, 0);
    runtime.end_frame();
}

#[test]
fn a_thread_blocking_on_a_task_it_queued_in_the_frame_gets_it_at_once() {
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    let runtime = runtime(Some(Duration::from_secs(3600)));
    worker_asleep(&runtime);
    runtime.begin_frame();
    let task = runtime.spawn::<Worker>(async { 6 * 7 });
    assert_eq!(runtime.stats().workers.frame_held, 1);
    // `Task::block` gives the held wake before it waits.
    assert_eq!(task.block(), Ok(42));
    assert_eq!(runtime.stats().workers.rescue_wakes, 0);
    runtime.end_frame();
}

#[test]
fn a_frame_past_its_hold_gives_the_wakes_it_held_with_the_next_one() {
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    let runtime = runtime(Some(Duration::from_millis(1)));
    worker_asleep(&runtime);
    runtime.begin_frame();
    let ran = Arc::new(AtomicUsize::new(0));
    let spawn = || {
        let ran = ran.clone();
        runtime.spawn::<Worker>(async move {
            ran.fetch_add(1, Ordering::SeqCst);
        })
    };
    let first = spawn();
    assert_eq!(runtime.stats().workers.frame_held, 1);
    std::thread::sleep(Duration::from_millis(2));
    // Past the hold: this wake is given, with the one held before.
    let second = spawn();
    assert_eq!(runtime.stats().workers.frame_held, 1);
    wait_until("both tasks run in the long frame", || {
        ran.load(Ordering::SeqCst) == 2
    });
    assert_eq!((block_on(first), block_on(second)), (Ok(()), Ok(())));
    runtime.end_frame();
}

#[test]
fn a_frame_that_never_ends_gives_its_held_wake_at_the_rescue_threads_look() {
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    let runtime = runtime(Some(Duration::from_millis(1)));
    worker_asleep(&runtime);
    runtime.begin_frame();
    let ran = Arc::new(AtomicBool::new(false));
    let task = runtime.spawn::<Worker>({
        let ran = ran.clone();
        async move { ran.store(true, Ordering::SeqCst) }
    });
    assert_eq!(runtime.stats().workers.frame_held, 1);
    // No end of frame, no other wake, nobody blocking: the rescue thread.
    wait_until("the held task runs", || ran.load(Ordering::SeqCst));
    assert_eq!(block_on(task), Ok(()));
}

#[test]
fn timers_and_the_workers_own_spawns_are_never_held() {
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    let runtime = runtime(Some(Duration::from_secs(3600)));
    let asleep = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicUsize::new(0));
    let task = runtime.spawn::<Worker>({
        let (asleep, done) = (asleep.clone(), done.clone());
        let handle = runtime.handle().clone();
        async move {
            asleep.store(true, Ordering::SeqCst);
            // Woken by the timer thread, in the middle of a frame.
            sleep(Duration::from_millis(20)).await;
            done.fetch_add(1, Ordering::SeqCst);
            // A worker's own spawn, in the same frame.
            let child = handle.spawn::<Worker>({
                let done = done.clone();
                async move {
                    done.fetch_add(1, Ordering::SeqCst);
                }
            });
            child.await.unwrap();
        }
    });
    wait_until("the task sleeps", || asleep.load(Ordering::SeqCst));
    runtime.begin_frame();
    wait_until("timer and child run in the frame", || {
        done.load(Ordering::SeqCst) == 2
    });
    assert_eq!(block_on(task), Ok(()));
    assert_eq!(runtime.stats().workers.frame_held, 0);
    runtime.end_frame();
}

#[test]
fn no_frame_hold_wakes_the_worker_at_once() {
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    let runtime = runtime(None);
    worker_asleep(&runtime);
    runtime.begin_frame();
    let ran = Arc::new(AtomicBool::new(false));
    let task = runtime.spawn::<Worker>({
        let ran = ran.clone();
        async move { ran.store(true, Ordering::SeqCst) }
    });
    wait_until("the task runs in the frame", || ran.load(Ordering::SeqCst));
    assert_eq!(block_on(task), Ok(()));
    assert_eq!(runtime.stats().workers.frame_held, 0);
    runtime.end_frame();
}

/// Tasks a system spawns in `Update`, and what the App saw of them.
#[derive(Resource, Default)]
struct Spawned(Vec<Task<u32>>);

fn plugin_app(frame_hold: Option<Duration>) -> App {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        frame_hold,
        ..Default::default()
    })
    .init_resource::<Spawned>()
    .add_systems(Update, |coro: Res<Coro>, mut spawned: ResMut<Spawned>| {
        spawned.0.push(coro.spawn::<Worker>(async { 7 }));
    });
    app
}

fn plugin_frame_held(app: &mut App) -> (u64, u64) {
    let coro = common::coro(app);
    // The worker must sleep before the frame, as in a game between frames.
    let parks = coro.stats().workers.parks;
    block_on(coro.spawn::<Worker>(async {})).unwrap();
    wait_until("the worker parks", || coro.stats().workers.parks > parks);
    std::thread::sleep(Duration::from_millis(5));
    app.update();
    let held = coro.stats().workers.frame_held;
    let tasks = std::mem::take(&mut app.world_mut().resource_mut::<Spawned>().0);
    for task in tasks {
        assert_eq!(block_on(task), Ok(7));
    }
    (held, coro.stats().workers.rescue_wakes)
}

#[test]
fn the_plugin_holds_the_wakes_of_its_frame_until_last() {
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    let mut app = plugin_app(CoroPlugin::default().frame_hold);
    assert_eq!(plugin_frame_held(&mut app), (1, 0));
    let mut app = plugin_app(None);
    assert_eq!(plugin_frame_held(&mut app), (0, 0));
}

#[test]
fn a_system_blocking_on_a_task_it_spawned_is_not_held_up() {
    let _watchdog = Watchdog::start("frame hold", WATCHDOG);
    for worker_priority in [WorkerPriority::Background, WorkerPriority::Normal] {
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 1,
            worker_priority,
            frame_hold: Some(Duration::from_secs(3600)),
            ..Default::default()
        })
        .add_systems(Update, |coro: Res<Coro>| {
            assert_eq!(coro.spawn::<Worker>(async { 6 * 7 }).block(), Ok(42));
        });
        for _ in 0..20 {
            app.update();
        }
        // Not woken by the rescue thread: the block gave the wake. A held
        // wake would leave (nearly) every round's task to the rescue thread
        // at background priority (19 of 20 rescued, checked by holding it);
        // under load it may still run a few for a worker starved of CPU,
        // which is no held wake.
        let stats = common::coro(&app).stats().workers;
        assert_eq!(stats.rescue_wakes, 0, "{worker_priority:?}: {stats:?}");
        assert!(stats.rescued <= 10, "{worker_priority:?}: {stats:?}");
    }
}
