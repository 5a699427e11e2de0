//! Fault injection: panics in every place user code runs (a task's poll, its
//! future's `Drop`, an interval's factory and the future it returned, a
//! `with_world` closure, a `Drop` that runs during shutdown, the `Drop` of a
//! task's output). Each is contained and reported where the API reports it,
//! and a crowd of innocent bystander tasks all complete, counted.
//!
//! (`tests/panics.rs` has the single-panic basics, `tests/hazards.rs` a main
//! future panicking in `Drop` on cancel, `tests/timers/intervals.rs` a panicking run
//! future of a main interval.)

#[path = "../common/mod.rs"]
mod common;
mod shutdown;
mod timer_runs;

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Once};
use std::task::{Context, Poll};
use std::thread;
use std::time::{Duration, Instant};

use bevy_app::App;
use bevy_coro::CoroStats;
use bevy_coro::prelude::*;
use bevy_coro::runtime::Runtime;
use bevy_ecs::prelude::*;
use common::*;

/// Every injected panic says so; the panic hook keeps them off the test output.
const INJECTED: &str = "[injected]";

/// Silences injected panics (hundreds of them) and prints the others as usual.
fn quiet_injected_panics() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = panic_text(info.payload());
            // The non-string payload injected below has no text.
            if !message.contains(INJECTED) && !info.payload().is::<usize>() {
                default(info);
            }
        }));
    });
}

/// Innocent bystanders: `count` tasks that hop and yield on both sides and
/// return their index. Returns their handles.
fn bystanders(coro: &Coro, count: usize) -> Vec<Task<usize>> {
    (0..count)
        .map(|i| {
            let task = async move {
                yield_now().await;
                let j = async move {
                    yield_now().await;
                    i
                }
                .on::<Worker>()
                .await;
                async move { j }.on::<Main>().await
            };
            if i % 2 == 0 {
                coro.spawn::<Main>(task)
            } else {
                coro.spawn::<Worker>(task)
            }
        })
        .collect()
}

/// Runs frames until every bystander is done and checks each returned its index.
fn all_complete(app: &mut App, tasks: Vec<Task<usize>>) {
    let count = tasks.len();
    for (i, task) in tasks.into_iter().enumerate() {
        assert_eq!(run_task(app, task), Ok(i), "bystander {i} of {count}");
    }
}

/// Bumps `drops` when dropped, then panics (unless already unwinding).
struct Grenade {
    drops: Arc<AtomicUsize>,
}

impl Drop for Grenade {
    fn drop(&mut self) {
        self.drops.fetch_add(1, Ordering::SeqCst);
        if !thread::panicking() {
            panic!("{INJECTED} grenade went off in Drop");
        }
    }
}

/// A future that is ready with `value` at once and panics when dropped: the
/// panic comes after the poll, when the scheduler drops the finished future.
struct ReadyThenGrenade {
    value: u32,
    _grenade: Grenade,
}

impl Future for ReadyThenGrenade {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<u32> {
        Poll::Ready(self.value)
    }
}

#[test]
fn panics_in_polls_everywhere_are_reported_with_their_messages_and_no_bystander_is_lost() {
    quiet_injected_panics();
    const FAULTS: usize = 300;
    let mut app = app(2);
    let coro = coro(&app);
    let before = coro.stats().panics;
    let crowd = bystanders(&coro, 1_000);
    let faulty: Vec<(Task<()>, String)> = (0..FAULTS)
        .map(|i| {
            let message = format!("{INJECTED} fault {i}");
            let m = message.clone();
            let task =
                match i % 6 {
                    // At the first poll, on either side.
                    0 => coro.spawn::<Main>(async move { panic!("{m}") }),
                    1 => coro.spawn::<Worker>(async move { panic!("{m}") }),
                    // Inside a hop: the task is on the other side when it panics.
                    2 => coro.spawn::<Main>(async move {
                        async move { panic!("{m}") }.on::<Worker>().await
                    }),
                    3 => coro.spawn::<Worker>(async move {
                        async move { panic!("{m}") }.on::<Main>().await
                    }),
                    // After yields and a hop there and back.
                    4 => coro.spawn::<Worker>(async move {
                        yield_now().await;
                        async { yield_now().await }.on::<Main>().await;
                        panic!("{m}")
                    }),
                    // A payload that is not a string.
                    _ => coro.spawn::<Main>(async move {
                        yield_now().await;
                        std::panic::panic_any(i)
                    }),
                };
            let expected = if i % 6 == 5 {
                "Box<dyn Any>".to_owned()
            } else {
                message
            };
            (task, expected)
        })
        .collect();
    for (i, (task, expected)) in faulty.into_iter().enumerate() {
        assert_eq!(
            run_task(&mut app, task),
            Err(TaskError::Panicked(expected)),
            "fault {i}"
        );
    }
    all_complete(&mut app, crowd);
    assert_eq!(coro.stats().panics - before, FAULTS as u64);
    app.update();
    assert_eq!(app.world().resource::<CoroStats>().panics, FAULTS as u64);
    wait_until("in_flight back to zero", || coro.in_flight() == 0);
}

#[test]
fn panics_in_future_drops_on_cancel_and_on_completion_are_contained_on_both_sides() {
    quiet_injected_panics();
    const EACH: usize = 50;
    let mut app = app(2);
    let coro = coro(&app);
    let drops = Arc::new(AtomicUsize::new(0));
    // Parked tasks whose futures panic in `Drop` when cancelled.
    let parked: Vec<Task<()>> = (0..EACH * 2)
        .map(|i| {
            let grenade = Grenade {
                drops: drops.clone(),
            };
            let future = async move {
                let _grenade = grenade;
                std::future::pending::<()>().await;
            };
            spawn_on_either_side(&coro, i, future)
        })
        .collect();
    // Finished tasks whose futures panic in `Drop` after they returned.
    let finished: Vec<Task<u32>> = (0..EACH * 2)
        .map(|i| {
            let future = ReadyThenGrenade {
                value: i as u32,
                _grenade: Grenade {
                    drops: drops.clone(),
                },
            };
            spawn_on_either_side(&coro, i, future)
        })
        .collect();
    let crowd = bystanders(&coro, 1_000);
    app.update();
    for task in &parked {
        task.cancel();
    }
    for (i, task) in finished.into_iter().enumerate() {
        // The output was stored: the panic came after it, and only lost what
        // the `Drop` did not finish.
        assert_eq!(run_task(&mut app, task), Ok(i as u32), "finished task {i}");
    }
    for (i, task) in parked.into_iter().enumerate() {
        assert_eq!(
            run_task(&mut app, task),
            Err(TaskError::Cancelled),
            "parked {i}"
        );
    }
    all_complete(&mut app, crowd);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        EACH * 4,
        "every grenade dropped"
    );
    // Each body deregistered although its future's `Drop` panicked.
    wait_until("in_flight back to zero", || coro.in_flight() == 0);
}

#[derive(Resource, Default)]
struct Score(u32);

#[test]
fn a_panic_in_a_with_world_closure_ends_only_its_task_and_the_world_stays_lent() {
    quiet_injected_panics();
    let mut app = app(2);
    app.init_resource::<Score>();
    let coro = coro(&app);
    // The closure changes the World, then panics: from a main task and from
    // a worker task (served by the pump through a hop).
    let faulty: Vec<Task<()>> = (0..20)
        .map(|i| {
            let future = async move {
                with_world(move |world| {
                    world.resource_mut::<Score>().0 += 1;
                    panic!("{INJECTED} with_world {i}");
                })
                .await
            };
            spawn_on_either_side(&coro, i, future)
        })
        .collect();
    // Bystanders use the World in the same pumps, before and after the panics.
    let users: Vec<Task<()>> = (0..200)
        .map(|i| {
            let future = async {
                with_world(|world| world.resource_mut::<Score>().0 += 1).await;
                yield_now().await;
                with_world(|world| world.resource_mut::<Score>().0 += 1).await;
            };
            spawn_on_either_side(&coro, i, future)
        })
        .collect();
    let crowd = bystanders(&coro, 200);
    for (i, task) in faulty.into_iter().enumerate() {
        assert_eq!(
            run_task(&mut app, task),
            Err(TaskError::Panicked(format!("{INJECTED} with_world {i}")))
        );
    }
    for task in users {
        assert_eq!(run_task(&mut app, task), Ok(()));
    }
    all_complete(&mut app, crowd);
    // What a closure did before it panicked stays done, like any panic.
    assert_eq!(app.world().resource::<Score>().0, 20 + 400);
    // The World is lent again after the panics.
    let after =
        coro.spawn::<Worker>(async { with_world(|world| world.resource::<Score>().0).await });
    assert_eq!(run_task(&mut app, after), Ok(420));
}

/// Spawns `future` on the main thread for an even `i`, on a worker for an
/// odd one, so a fault is injected on both sides.
fn spawn_on_either_side<F>(coro: &Coro, i: usize, future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if i.is_multiple_of(2) {
        coro.spawn::<Main>(future)
    } else {
        coro.spawn::<Worker>(future)
    }
}

/// The value a task returns; panics when dropped.
struct GrenadeOutput;

impl Drop for GrenadeOutput {
    fn drop(&mut self) {
        if !thread::panicking() {
            panic!("{INJECTED} the output went off in Drop");
        }
    }
}

#[test]
fn a_panic_dropping_an_untaken_output_is_contained_where_the_handle_is_dropped() {
    quiet_injected_panics();
    let mut app = app(1);
    let coro = coro(&app);
    let task = coro.spawn::<Worker>(async { GrenadeOutput });
    update_until(&mut app, "the task finished", |_| task.is_finished());
    // The output is dropped with the handle; its panic is contained there,
    // as a future's is (a system dropping a handle must not unwind).
    let dropped = catch_unwind(AssertUnwindSafe(move || drop(task)));
    assert!(
        dropped.is_ok(),
        "the output's panic escaped the handle's drop"
    );
    all_complete(&mut app, bystanders(&coro, 100));
    wait_until("in_flight back to zero", || coro.in_flight() == 0);
}

/// Set in a child process that runs one scenario of this file.
const CHILD: &str = "BEVY_CORO_FAULTS_CHILD";

/// Runs the test `name` again in a child process, with [`CHILD`] set, and
/// returns whether the child exited successfully, with its stderr.
fn in_child_process(name: &str) -> (std::process::ExitStatus, String) {
    let output = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--include-ignored", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn a_panic_dropping_a_detached_tasks_output_does_not_abort() {
    if std::env::var_os(CHILD).is_some() {
        quiet_injected_panics();
        // The scenario: detached tasks on both sides return outputs that
        // panic when dropped; nobody takes them, so the scheduler drops them.
        let mut app = app(1);
        let coro = coro(&app);
        coro.spawn::<Main>(async { GrenadeOutput }).detach();
        coro.spawn::<Worker>(async { GrenadeOutput }).detach();
        all_complete(&mut app, bystanders(&coro, 100));
        wait_until("in_flight back to zero", || coro.in_flight() == 0);
        return;
    }
    let (status, stderr) =
        in_child_process("a_panic_dropping_a_detached_tasks_output_does_not_abort");
    assert!(
        status.success(),
        "the child process died: {status}\n{stderr}"
    );
}
