//! `on_cancel`: World cleanups that run once when their task is cancelled,
//! by every path that cancels, and never when it finishes, panics, or goes
//! down with the App.

#[path = "../common/mod.rs"]
mod common;
mod edges;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::{CoroMode, CoroStats};
use bevy_ecs::prelude::*;
use common::*;

/// What the cleanups did, in order.
#[derive(Resource, Default)]
struct Cleaned(Vec<u32>);

fn cleaned(app: &App) -> Vec<u32> {
    app.world().resource::<Cleaned>().0.clone()
}

fn app_with_log(workers: usize) -> App {
    let mut app = app(workers);
    app.init_resource::<Cleaned>();
    app
}

/// A cleanup that logs `id`.
fn log(id: u32) -> impl FnOnce(&mut World) + Send + 'static {
    move |world| world.resource_mut::<Cleaned>().0.push(id)
}

/// A task that registers cleanup `id`, says so, and waits for good.
fn registers(
    id: u32,
    registered: &Arc<AtomicUsize>,
) -> impl std::future::Future<Output = ()> + Send + use<> {
    let registered = registered.clone();
    async move {
        on_cancel(log(id));
        registered.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await;
    }
}

/// Runs frames until the runtime has no task in flight, then one more pump:
/// the cleanups of tasks a worker dropped run at its start.
fn settle(app: &mut App) {
    let coro = coro(app);
    update_until(app, "tasks dropped", |_| coro.in_flight() == 0);
    app.update();
}

in_each_mode! {
fn dropping_the_handle_runs_the_cleanup_once(workers = 2) {
    for worker in [false, true] {
        let mut app = app_with_log(workers);
        let registered = Arc::new(AtomicUsize::new(0));
        let task = spawn_on(&coro(&app), worker, registers(1, &registered));
        update_until(&mut app, "registered", |_| registered.load(Ordering::SeqCst) == 1);
        assert!(cleaned(&app).is_empty(), "not before the cancel");
        drop(task);
        settle(&mut app);
        for _ in 0..3 {
            app.update();
        }
        assert_eq!(cleaned(&app), vec![1], "worker: {worker}");
    }
}
}

in_each_mode! {
fn cancel_runs_the_cleanup_once_and_the_handle_says_cancelled(workers = 2) {
    for worker in [false, true] {
        let mut app = app_with_log(workers);
        let registered = Arc::new(AtomicUsize::new(0));
        let task = spawn_on(&coro(&app), worker, registers(2, &registered));
        update_until(&mut app, "registered", |_| registered.load(Ordering::SeqCst) == 1);
        task.cancel();
        task.cancel();
        assert_eq!(run_task(&mut app, task), Err(TaskError::Cancelled));
        settle(&mut app);
        app.update();
        assert_eq!(cleaned(&app), vec![2], "worker: {worker}");
    }
}
}

#[test]
fn a_main_task_cancelled_by_a_system_is_cleaned_up_in_the_next_pump() {
    let mut app = app_with_log(1);
    let registered = Arc::new(AtomicUsize::new(0));
    let task = coro(&app).spawn::<Main>(registers(3, &registered));
    app.update();
    assert_eq!(registered.load(Ordering::SeqCst), 1);
    task.cancel();
    // This pump polls the cancelled task (dropping it) and runs its cleanup
    // at its end: Update systems of this frame see the World cleaned.
    app.update();
    assert_eq!(cleaned(&app), vec![3]);
}

in_each_mode! {
fn despawning_its_entity_runs_the_cleanup_once(workers = 2) {
    for worker in [false, true] {
        let mut app = app_with_log(workers);
        let coro = coro(&app);
        let enemy = app.world_mut().spawn_empty().id();
        let registered = Arc::new(AtomicUsize::new(0));
        let builder = coro.task("brain").for_entity(enemy);
        let task = if worker {
            builder.spawn::<Worker>(registers(4, &registered))
        } else {
            builder.spawn::<Main>(registers(4, &registered))
        };
        task.detach();
        update_until(&mut app, "registered", |_| registered.load(Ordering::SeqCst) == 1);
        app.world_mut().despawn(enemy);
        settle(&mut app);
        app.update();
        assert_eq!(cleaned(&app), vec![4], "worker: {worker}");
    }
}
}

in_each_mode! {
fn a_cancelled_parent_runs_its_childrens_cleanups_once(workers = 2) {
    for worker in [false, true] {
        let mut app = app_with_log(workers);
        let coro = coro(&app);
        let registered = Arc::new(AtomicUsize::new(0));
        let (c, r) = (coro.clone(), registered.clone());
        let parent = spawn_on(&coro, worker, async move {
            on_cancel(log(10));
            // Children (tree children: spawned in the parent's poll) on both sides.
            c.spawn::<Main>(registers(11, &r)).detach();
            c.spawn::<Worker>(registers(12, &r)).detach();
            std::future::pending::<()>().await
        });
        update_until(&mut app, "registered", |_| registered.load(Ordering::SeqCst) == 2);
        parent.cancel();
        settle(&mut app);
        app.update();
        let mut ran = cleaned(&app);
        ran.sort();
        assert_eq!(ran, vec![10, 11, 12], "worker: {worker}");
    }
}
}

in_each_mode! {
fn a_race_loser_runs_its_cleanup_once_and_the_winner_none(workers = 2) {
    for worker in [false, true] {
        let mut app = app_with_log(workers);
        let registered = Arc::new(AtomicBool::new(false));
        let flag = registered.clone();
        let task = spawn_on(&coro(&app), worker, async move {
            let loser = async move {
                on_cancel(log(20));
                flag.store(true, Ordering::SeqCst);
                std::future::pending::<u32>().await
            };
            let winner = async move {
                on_cancel(log(21));
                while !registered.load(Ordering::SeqCst) {
                    yield_now().await;
                }
                7
            };
            match race((loser, winner)).await {
                Ok(Winner::Second(value)) => value,
                other => panic!("unexpected {other:?}"),
            }
        });
        assert_eq!(run_task(&mut app, task), Ok(7));
        settle(&mut app);
        app.update();
        assert_eq!(cleaned(&app), vec![20], "worker: {worker}");
    }
}
}

in_each_mode! {
fn a_finished_or_panicked_task_drops_its_cleanups_unrun(workers = 2) {
    for worker in [false, true] {
        let mut app = app_with_log(workers);
        let coro = coro(&app);
        let drops = DropCounter::default();
        let (t1, t2) = (drops.token(), drops.token());
        let finishes = spawn_on(&coro, worker, async move {
            on_cancel(move |world| {
                let _t = t1;
                log(30)(world)
            });
            yield_now().await;
            5
        });
        let panics = spawn_on(&coro, worker, async move {
            on_cancel(move |world| {
                let _t = t2;
                log(31)(world)
            });
            yield_now().await;
            panic!("[injected] task panic");
        });
        assert_eq!(run_task(&mut app, finishes), Ok(5));
        assert!(matches!(run_task(&mut app, panics), Err(TaskError::Panicked(_))));
        settle(&mut app);
        app.update();
        assert!(cleaned(&app).is_empty(), "worker: {worker}");
        assert_eq!(drops.count(), 2, "each closure dropped once");
    }
}
}

#[test]
fn a_tasks_cleanups_run_last_registered_first() {
    let mut app = app_with_log(1);
    let task = coro(&app).spawn::<Main>(async {
        for id in 40..45 {
            on_cancel(log(id));
        }
        std::future::pending::<()>().await
    });
    app.update();
    drop(task);
    app.update();
    assert_eq!(cleaned(&app), vec![44, 43, 42, 41, 40]);
}

in_each_mode! {
fn a_panicking_cleanup_beside_100_fine_ones_stops_nothing(workers = 2) {
    let mut app = app_with_log(workers);
    let coro = coro(&app);
    let registered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for id in 0..100u32 {
        tasks.push(spawn_on(&coro, id % 2 == 1, registers(id, &registered)));
    }
    let r = registered.clone();
    // One task with a panicking cleanup between two fine ones.
    tasks.push(coro.spawn::<Main>(async move {
        on_cancel(log(1000));
        on_cancel(|_| panic!("[injected] cleanup panic"));
        on_cancel(log(1001));
        r.fetch_add(1, Ordering::SeqCst);
        std::future::pending::<()>().await
    }));
    update_until(&mut app, "registered", |_| registered.load(Ordering::SeqCst) == 101);
    let panics = app.world().resource::<CoroStats>().panics;
    drop(tasks);
    settle(&mut app);
    app.update();
    let mut ran = cleaned(&app);
    ran.sort();
    let mut expected: Vec<u32> = (0..100).collect();
    expected.extend([1000, 1001]);
    assert_eq!(ran, expected);
    assert_eq!(app.world().resource::<CoroStats>().panics, panics + 1);
    // The App goes on: a task still runs.
    let task = coro.spawn::<Main>(async { 1 });
    assert_eq!(run_task(&mut app, task), Ok(1));
}
}

in_each_mode! {
fn ten_thousand_cancelled_in_one_frame_all_run_in_the_next_pump(workers = 2) {
    let mut app = app_with_log(workers);
    let coro = coro(&app);
    let count = Arc::new(AtomicUsize::new(0));
    let registered = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..10_000)
        .map(|_| {
            let (count, registered) = (count.clone(), registered.clone());
            coro.spawn::<Main>(async move {
                on_cancel(move |_| {
                    count.fetch_add(1, Ordering::Relaxed);
                });
                registered.fetch_add(1, Ordering::Relaxed);
                std::future::pending::<()>().await
            })
        })
        .collect();
    app.update();
    assert_eq!(registered.load(Ordering::SeqCst), 10_000);
    drop(tasks);
    app.update();
    assert_eq!(count.load(Ordering::SeqCst), 10_000);
    assert_eq!(coro.in_flight(), 0);
}
}

in_each_mode! {
fn a_cancelled_task_group_runs_each_members_cleanup_once(workers = 2) {
    let mut app = app_with_log(workers);
    let coro = coro(&app);
    let registered = Arc::new(AtomicUsize::new(0));
    let mut group = TaskGroup::new();
    for id in 50..56 {
        group.push(spawn_on(&coro, id % 2 == 0, registers(id, &registered)));
    }
    update_until(&mut app, "registered", |_| registered.load(Ordering::SeqCst) == 6);
    group.cancel_all();
    settle(&mut app);
    app.update();
    let mut ran = cleaned(&app);
    ran.sort();
    assert_eq!(ran, (50..56).collect::<Vec<_>>());
}
}
