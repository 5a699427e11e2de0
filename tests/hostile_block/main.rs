//! Hostile use of blocking waits, `with_world` and the wait graph (issue 23,
//! items 3 to 8), and the priority of the threads the owned tokio runtime
//! starts. A hang fails through a watchdog, never by stalling the suite.

#[path = "../common/mod.rs"]
mod common;
mod deadlocks;

use std::future::pending;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::runtime::{PumpReport, Runtime, RuntimeConfig, block_on};
use bevy_coro::{CoroMode, CoroStats, WorkerPriority};
use common::*;
use futures_lite::future::{or, zip};

/// Runs `f` on a thread of its own (which becomes the main thread of what it
/// builds) and gives back what it returns, or its panic. If it has not
/// returned within [`WATCHDOG`], the test fails and the stuck thread is left
/// behind: a hang fails here instead of stalling the suite.
fn within<T: Send + 'static>(what: &'static str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (sender, receiver) = mpsc::channel();
    std::thread::Builder::new()
        .name(what.into())
        .spawn(move || {
            let _ = sender.send(catch_unwind(AssertUnwindSafe(f)));
        })
        .unwrap();
    match receiver.recv_timeout(WATCHDOG) {
        Ok(Ok(value)) => value,
        Ok(Err(payload)) => std::panic::resume_unwind(payload),
        Err(_) => panic!("watchdog: {what} did not finish within {WATCHDOG:?}"),
    }
}

/// A flag a task raises once it got where the test waits for it.
#[derive(Clone, Default)]
struct Flag(Arc<AtomicBool>);

impl Flag {
    fn raise(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn is_up(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

type Slot<T> = Arc<Mutex<Option<T>>>;

// ---- item 3: a `Drop` that blocks on a sibling during the App's drop ----

/// When dropped, waits for the sibling task left in `sibling` (with
/// `Task::block`, or with `block_on` of a `zip` awaiting it) and records
/// what it got.
struct WaitOnSibling {
    sibling: Slot<Task<()>>,
    got: Slot<Result<(), TaskError>>,
    with_block_on: bool,
}

impl Drop for WaitOnSibling {
    fn drop(&mut self) {
        if let Some(sibling) = self.sibling.lock().unwrap().take() {
            let got = if self.with_block_on {
                block_on(zip(sibling, async {})).0
            } else {
                sibling.block()
            };
            *self.got.lock().unwrap() = Some(got);
        }
    }
}

#[test]
fn a_drop_blocking_on_a_sibling_does_not_hang_the_apps_drop_and_gets_cancelled() {
    let got: Slot<Result<(), TaskError>> = Slot::default();
    let seen = got.clone();
    within("the App's drop", move || {
        let mut app = app(1);
        let coro = coro(&app);
        let (a_parked, b_parked) = (Flag::default(), Flag::default());
        // `a` parks (and is dropped at shutdown) before `b`.
        let sibling = Slot::default();
        let guard = WaitOnSibling {
            sibling: sibling.clone(),
            got,
            with_block_on: false,
        };
        let flag = a_parked.clone();
        coro.spawn::<Main>(async move {
            let _guard = guard;
            flag.raise();
            pending::<()>().await
        })
        .detach();
        let flag = b_parked.clone();
        let b = coro.spawn::<Main>(async move {
            async move {
                flag.raise();
                pending::<()>().await
            }
            .on::<Worker>()
            .await
        });
        *sibling.lock().unwrap() = Some(b);
        update_until(&mut app, "both tasks parked", |_| {
            a_parked.is_up() && b_parked.is_up()
        });
        drop(app);
    });
    assert_eq!(*seen.lock().unwrap(), Some(Err(TaskError::Cancelled)));
}

#[test]
fn a_drop_awaiting_a_sibling_with_block_on_does_not_hang_the_runtimes_drop() {
    // The same through the free `block_on` of a future awaiting the handle,
    // with a `Runtime` on one worker.
    let got: Slot<Result<(), TaskError>> = Slot::default();
    let seen = got.clone();
    within("the runtime's drop", move || {
        let runtime = Runtime::new(RuntimeConfig {
            workers: 1,
            ..Default::default()
        })
        .unwrap();
        let (a_parked, b_parked) = (Flag::default(), Flag::default());
        let sibling = Slot::default();
        let guard = WaitOnSibling {
            sibling: sibling.clone(),
            got,
            with_block_on: true,
        };
        let flag = a_parked.clone();
        runtime
            .spawn::<Worker>(async move {
                let _guard = guard;
                flag.raise();
                pending::<()>().await
            })
            .detach();
        wait_until("a ran", || a_parked.is_up());
        let flag = b_parked.clone();
        let b = runtime.spawn::<Worker>(async move {
            flag.raise();
            pending::<()>().await
        });
        wait_until("b ran", || b_parked.is_up());
        *sibling.lock().unwrap() = Some(b);
        drop(runtime);
    });
    assert_eq!(*seen.lock().unwrap(), Some(Err(TaskError::Cancelled)));
}

// ---- item 4: blocking in a cancelled worker task's `Drop` ----

/// When dropped, spawns a worker task and blocks on it, recording the result
/// or the panic message.
struct SpawnAndBlock {
    coro: Coro,
    got: Slot<Result<Result<u32, TaskError>, String>>,
}

impl Drop for SpawnAndBlock {
    fn drop(&mut self) {
        let result = catch_unwind(AssertUnwindSafe(|| {
            self.coro.spawn::<Worker>(async { 1 }).block()
        }));
        *self.got.lock().unwrap() = Some(result.map_err(|payload| panic_text(&*payload)));
    }
}

#[test]
fn blocking_in_a_cancelled_worker_tasks_drop_is_refused_and_the_worker_goes_on() {
    let message = within("a worker dropping a task", || {
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 1,
            worker_priority: WorkerPriority::Normal,
            ..Default::default()
        });
        let coro = coro(&app);
        let got = Slot::default();
        let guard = SpawnAndBlock {
            coro: coro.clone(),
            got: got.clone(),
        };
        let started = Flag::default();
        let flag = started.clone();
        let task = coro.spawn::<Worker>(async move {
            let _guard = guard;
            flag.raise();
            pending::<()>().await
        });
        wait_until("the worker task started", || started.is_up());
        // Cancels it: the worker drops its future, outside any poll.
        drop(task);
        wait_until("the guard was dropped", || got.lock().unwrap().is_some());
        // The only worker is free: other worker tasks run.
        assert_eq!(block_on(coro.spawn::<Worker>(async { 2 })), Ok(2));
        update_until(&mut app, "a frame", |_| true);
        drop(app);
        let got = got.lock().unwrap().take().unwrap();
        got.expect_err("blocking on a worker was not refused")
    });
    assert!(
        message.starts_with("bevy_coro:") && message.contains("`.await` the future instead"),
        "{message}"
    );
}

// ---- item 5: the free `block_on` on the main thread ----

/// Builds an App on this thread, then returns the panic message of `wait`
/// called with its `Coro` (or fails if it returned).
fn panic_of(mode: CoroMode, wait: impl FnOnce(&Coro) + Send + 'static) -> String {
    within("block_on on the main thread", move || {
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 1,
            mode,
            ..Default::default()
        });
        app.update();
        let coro = coro(&app);
        let result = catch_unwind(AssertUnwindSafe(|| wait(&coro)));
        panic_text(&*result.expect_err("block_on returned: it did not wait"))
    })
}

#[test]
fn block_on_a_main_task_on_the_apps_thread_panics_instead_of_hanging() {
    let message = panic_of(CoroMode::Threaded, |coro| {
        let _ = block_on(coro.spawn::<Main>(async { 1 }));
    });
    assert!(
        message.starts_with("bevy_coro:") && message.contains("would wait forever"),
        "{message}"
    );
}

#[test]
fn block_on_a_future_awaiting_a_main_task_on_the_apps_thread_panics_too() {
    let message = panic_of(CoroMode::Threaded, |coro| {
        let main = coro.spawn::<Main>(async { 1 });
        let worker = coro.spawn::<Worker>(async { 2 });
        let _ = block_on(async move { zip(worker, main).await });
    });
    assert!(message.contains("would wait forever"), "{message}");
}

#[test]
fn block_on_a_worker_task_in_deterministic_mode_panics_instead_of_hanging() {
    let mode = CoroMode::Deterministic {
        seed: 1,
        panic_on_deadlock: false,
    };
    let message = panic_of(mode, |coro| {
        let _ = block_on(coro.spawn::<Worker>(async { 1 }));
    });
    assert!(message.contains("would wait forever"), "{message}");
}

#[test]
fn block_on_a_worker_task_on_the_apps_thread_still_waits_for_it() {
    let got = within("block_on a worker task", || {
        let app = app(1);
        block_on(coro(&app).spawn::<Worker>(async { 7 }))
    });
    assert_eq!(got, Ok(7));
}

// ---- item 6: `with_world` beside a worker hop ----

#[test]
fn with_world_beside_a_worker_hop_in_a_worker_task_panics_with_the_true_reason() {
    let mut app = app(1);
    let task = coro(&app).spawn::<Worker>(async {
        zip(
            with_world(|_| 1),
            async { sleep(Duration::from_millis(30)).await }.on::<Worker>(),
        )
        .await
    });
    let Err(TaskError::Panicked(message)) = run_task(&mut app, task) else {
        panic!("with_world ran off the main thread without a panic");
    };
    assert!(
        message.starts_with("bevy_coro:")
            && !message.contains("not run by CoroPlugin")
            && message.contains("off the main thread"),
        "{message}"
    );
}

#[test]
fn with_world_beside_hops_where_the_docs_say_it_is_safe() {
    let mut app = app(1);
    let coro = coro(&app);
    // A worker task: two `with_world`s, and a hop to the main thread, side by side.
    let task = coro.spawn::<Worker>(async {
        let ((a, b), c) = zip(
            zip(with_world(|_| 1), with_world(|_| 2)),
            async { 3 }.on::<Main>(),
        )
        .await;
        a + b + c
    });
    assert_eq!(run_task(&mut app, task), Ok(6));
    // A main task: `with_world` beside a hop to a worker, in either order.
    let task = coro.spawn::<Main>(async {
        let (a, b) = zip(with_world(|_| 1), async { 2 }.on::<Worker>()).await;
        let (c, d) = zip(async { 3 }.on::<Worker>(), with_world(|_| 4)).await;
        a + b + c + d
    });
    assert_eq!(run_task(&mut app, task), Ok(10));
}

// ---- the owned tokio runtime's threads ----

#[test]
#[cfg(all(feature = "tokio", target_os = "linux"))]
fn threads_the_owned_tokio_runtime_starts_for_worker_tasks_run_at_normal_priority() {
    // Under load the rescue thread (normal priority) may run the task
    // instead of the background worker; then tokio's thread says nothing.
    // Each try has a fresh App, so a fresh tokio runtime and blocking pool.
    for _ in 0..20 {
        let app = app(1);
        let coro = coro(&app);
        if !background_worker_ready(&coro) {
            return;
        }
        let (worker, blocking) = block_on(coro.spawn::<Worker>(async {
            let worker = this_thread_policy();
            // A thread of tokio's blocking pool, started from this thread.
            let blocking =
                tokio::task::spawn_blocking(|| (this_thread_policy(), this_thread_nice()))
                    .await
                    .unwrap();
            (worker, blocking)
        }))
        .unwrap();
        if worker == Some(0) {
            continue; // run by the rescue thread
        }
        assert_eq!(
            blocking,
            (Some(0), Some(0)),
            "tokio's blocking thread kept the worker's background priority (policy, nice)"
        );
        return;
    }
    println!("skipped: the task never ran on a background worker in 20 tries");
}
