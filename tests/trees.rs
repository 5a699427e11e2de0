//! Task trees, groups and entity-scoped tasks.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bevy_coro::prelude::*;

use bevy_coro::EntityTasks;
use bevy_coro::runtime::Handle;
use bevy_ecs::prelude::*;
use common::*;

in_each_mode! {
fn cancelling_the_root_cancels_every_descendant(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let (c, t) = (coro.clone(), counter.token());
    let (t1, t2) = (counter.token(), counter.token());
    let root = coro.spawn::<Main>(async move {
        let c2 = c.clone();
        c.spawn::<Worker>(async move {
            c2.spawn::<Worker>(parked_forever(t2)).detach(); // grandchild
            parked_forever(t1).await
        })
        .detach(); // child
        parked_forever(t).await
    });
    update_until(&mut app, "tree started", |_| coro.in_flight() == 3);
    assert_eq!(counter.count(), 0);
    root.cancel();
    update_until(&mut app, "tree dropped", |_| counter.count() == 3);
    wait_until("in_flight zero", || coro.in_flight() == 0);
    assert_eq!(run_task(&mut app, root), Err(TaskError::Cancelled));
}
}

#[test]
fn a_child_spawned_after_the_cancel_starts_cancelled() {
    let mut app = app(2);
    let coro = coro(&app);
    let (release, released) = std::sync::mpsc::channel::<()>();
    let ran = Arc::new(AtomicBool::new(false));
    let counter = DropCounter::default();
    let (c, flag, token) = (coro.clone(), ran.clone(), counter.token());
    let root = coro.spawn::<Worker>(async move {
        // Block this poll until the test has cancelled us, then spawn.
        released.recv().unwrap();
        c.spawn::<Worker>(async move {
            let _token = token;
            flag.store(true, Ordering::SeqCst);
        })
        .detach();
        yield_now().await;
    });
    wait_until("root running", || coro.in_flight() == 1);
    root.cancel();
    release.send(()).unwrap();
    assert_eq!(run_task(&mut app, root), Err(TaskError::Cancelled));
    wait_until("grandchild dropped", || counter.count() == 1);
    assert!(
        !ran.load(Ordering::SeqCst),
        "a child of a cancelled task ran"
    );
}

/// A chain: each link spawns the next, then waits forever.
fn chain(
    coro: Handle,
    left: usize,
    counter: DropCounter,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let token = counter.token();
        if left > 0 {
            coro.spawn::<Worker>(chain(coro.clone(), left - 1, counter))
                .detach();
        }
        parked_forever(token).await
    })
}

#[test]
fn a_hundred_thousand_deep_chain_cancels_without_overflow() {
    const DEPTH: usize = 100_000;
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let root = coro.spawn::<Worker>(chain((*coro).clone(), DEPTH - 1, counter.clone()));
    wait_until("chain built", || coro.in_flight() == DEPTH);
    root.cancel();
    wait_until("chain dropped", || counter.count() == DEPTH);
    wait_until("in_flight zero", || coro.in_flight() == 0);
    assert_eq!(run_task(&mut app, root), Err(TaskError::Cancelled));
}

in_each_mode! {
fn a_parent_that_finishes_leaves_its_children_running(workers = 1) {
    let mut app = app(workers);
    let coro = coro(&app);
    let done = Arc::new(AtomicBool::new(false));
    let (c, flag) = (coro.clone(), done.clone());
    let parent = coro.spawn::<Main>(async move {
        c.spawn::<Main>(async move {
            for _ in 0..3 {
                yield_now().await;
            }
            flag.store(true, Ordering::SeqCst);
        })
        .detach();
    });
    assert_eq!(run_task(&mut app, parent), Ok(()));
    update_until(&mut app, "child finished", |_| done.load(Ordering::SeqCst));
}
}

in_each_mode! {
fn dropping_a_group_cancels_its_tasks(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let mut group = TaskGroup::new();
    for _ in 0..5 {
        group.push(coro.spawn::<Worker>(parked_forever(counter.token())));
    }
    group.push(coro.spawn::<Main>(parked_forever(counter.token())));
    app.update();
    assert_eq!(group.len(), 6);
    drop(group);
    update_until(&mut app, "group dropped", |_| counter.count() == 6);
}
}

in_each_mode! {
fn a_group_joins_its_results_in_order(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let c = coro.clone();
    let task = coro.spawn::<Main>(async move {
        let mut group = TaskGroup::new();
        for i in 0..4u32 {
            group.push(c.spawn::<Worker>(async move { i * i }));
        }
        group.join_all().await
    });
    assert_eq!(
        run_task(&mut app, task),
        Ok(vec![Ok(0), Ok(1), Ok(4), Ok(9)])
    );
}
}

in_each_mode! {
fn despawning_an_entity_cancels_its_tasks_and_only_its(workers = 2) {
    let mut app = app(workers);
    let coro = coro(&app);
    let doomed = app.world_mut().spawn_empty().id();
    let spared = app.world_mut().spawn_empty().id();
    let counter = DropCounter::default();
    let spared_counter = DropCounter::default();
    coro.task("ai")
        .for_entity(doomed)
        .spawn::<Main>(parked_forever(counter.token()))
        .detach();
    coro.task("ai")
        .for_entity(doomed)
        .spawn::<Main>(parked_forever(counter.token()))
        .detach();
    coro.task("nav")
        .for_entity(doomed)
        .spawn::<Worker>(parked_forever(counter.token()))
        .detach();
    coro.task("ai")
        .for_entity(spared)
        .spawn::<Main>(parked_forever(spared_counter.token()))
        .detach();
    app.update();
    assert_eq!(
        app.world().get::<EntityTasks>(doomed).map(EntityTasks::len),
        Some(3)
    );
    app.world_mut().despawn(doomed);
    app.update();
    // Main tasks are dropped by that frame's pump; the worker one on its worker.
    wait_until("the entity's tasks dropped", || counter.count() == 3);
    assert_eq!(spared_counter.count(), 0);
    // A task leaves `in_flight` when freed, just after its future's drop.
    wait_until("the entity's tasks freed", || coro.in_flight() == 1);
}
}

in_each_mode! {
fn a_task_for_an_entity_already_gone_is_cancelled_by_the_next_pump(workers = 1) {
    let mut app = app(workers);
    let coro = coro(&app);
    let entity = app.world_mut().spawn_empty().id();
    let counter = DropCounter::default();
    coro.task("late")
        .for_entity(entity)
        .spawn::<Worker>(parked_forever(counter.token()))
        .detach();
    app.world_mut().despawn(entity);
    app.update();
    wait_until("dropped", || counter.count() == 1);
}
}

#[derive(Resource, Default)]
struct Hits(u32);

in_each_mode! {
fn commands_start_tasks_for_entities(workers = 1) {
    let mut app = app(workers);
    app.init_resource::<Hits>();
    let counter = DropCounter::default();
    let token = std::sync::Mutex::new(Some(counter.token()));
    let entity = app.world_mut().spawn_empty().id();
    app.add_systems(
        bevy_app::Update,
        move |mut commands: Commands, mut once: Local<bool>| {
            if !std::mem::replace(&mut *once, true) {
                commands.spawn_task::<Main>(async {
                    with_world(|w| w.resource_mut::<Hits>().0 += 1).await;
                });
                let token = token.lock().unwrap().take().unwrap();
                commands
                    .entity(entity)
                    .spawn_task::<Worker>(parked_forever(token));
            }
        },
    );
    update_until(&mut app, "command task ran", |app| {
        app.world().resource::<Hits>().0 == 1
    });
    assert_eq!(counter.count(), 0);
    app.world_mut().despawn(entity);
    // Dropped by a worker, or single-threaded, by the next pump.
    update_until(&mut app, "entity task dropped", |_| counter.count() == 1);
}
}

#[test]
fn spawn_task_without_the_plugin_says_to_add_it() {
    let mut world = World::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        world.commands().spawn_task::<Main>(async {});
        world.flush();
    }));
    let message = panic_text(&*result.expect_err("no panic"));
    assert!(message.contains("add CoroPlugin"), "{message}");
}

#[test]
fn an_cancel_handle_taken_while_the_task_is_parked_cancels_it() {
    let mut app = app(2);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let task = coro.spawn::<Worker>(parked_forever(counter.token()));
    wait_until("parked", || {
        coro.stats().worker_queue == 0 && coro.stats().workers.polls >= 1
    });
    let abort = task.cancel_handle().expect("task still held");
    task.detach();
    abort.cancel();
    assert!(abort.is_cancelled());
    update_until(&mut app, "aborted task dropped", |_| counter.count() == 1);
}

/// How a finished parent is cancelled, in the three ways a game does it.
#[derive(Clone, Copy, Debug)]
enum CancelWay {
    Handle,
    TaskCancel,
    TaskDrop,
    Despawn,
}

/// A parent leaves a child running and finishes; cancelling the parent (in
/// `way`) afterwards must not reach the child, which ends on its own.
fn a_finished_parent_cancelled(way: CancelWay) {
    let mut app = app(1);
    let coro = coro(&app);
    let owner = app.world_mut().spawn_empty().id();
    let (release, done) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let counter = DropCounter::default();
    let (c, r, d, token) = (coro.clone(), release.clone(), done.clone(), counter.token());
    let parent = coro
        .task("parent")
        .for_entity(owner)
        .spawn::<Main>(async move {
            c.spawn::<Main>(async move {
                let _token = token;
                // Polled every frame: a cancel would end it at once.
                while !r.load(Ordering::SeqCst) {
                    next_frame().await;
                }
                d.store(true, Ordering::SeqCst);
            })
            .detach();
        });
    let handle = parent.cancel_handle().expect("not taken");
    update_until(&mut app, "parent finished", |_| parent.is_finished());
    match way {
        CancelWay::Handle => handle.cancel(),
        CancelWay::TaskCancel => parent.cancel(),
        CancelWay::TaskDrop => drop(parent),
        CancelWay::Despawn => {
            app.world_mut().despawn(owner);
        }
    }
    // The child is polled after the cancel: a cancel that reached it ends it here.
    app.update();
    release.store(true, Ordering::SeqCst);
    update_until(&mut app, "child ended", |_| counter.count() == 1);
    assert!(
        done.load(Ordering::SeqCst),
        "{way:?} of a finished parent cancelled its child"
    );
}

#[test]
fn cancelling_a_finished_parent_through_its_cancel_handle_leaves_its_children() {
    a_finished_parent_cancelled(CancelWay::Handle);
}

#[test]
fn cancelling_a_finished_task_leaves_its_children() {
    a_finished_parent_cancelled(CancelWay::TaskCancel);
}

#[test]
fn dropping_a_finished_task_leaves_its_children() {
    a_finished_parent_cancelled(CancelWay::TaskDrop);
}

#[test]
fn despawning_the_entity_of_a_finished_task_leaves_its_children() {
    a_finished_parent_cancelled(CancelWay::Despawn);
}

#[test]
fn cancelling_a_running_grandparent_does_not_reach_the_children_a_finished_child_left() {
    let mut app = app(1);
    let coro = coro(&app);
    let counter = DropCounter::default();
    let (c, token, alive) = (coro.clone(), counter.token(), counter.token());
    let child_done = Arc::new(AtomicBool::new(false));
    let flag = child_done.clone();
    let grandparent = coro.spawn::<Main>(async move {
        let c2 = c.clone();
        c.spawn::<Main>(async move {
            c2.spawn::<Main>(parked_forever(token)).detach();
            flag.store(true, Ordering::SeqCst);
        })
        .detach();
        parked_forever(alive).await
    });
    update_until(&mut app, "child finished", |_| {
        child_done.load(Ordering::SeqCst) && coro.in_flight() == 2
    });
    grandparent.cancel();
    update_until(&mut app, "grandparent dropped", |_| counter.count() == 1);
    app.update();
    // The grandchild runs on: it is on its own since its parent finished.
    assert_eq!(coro.in_flight(), 1);
    assert_eq!(counter.count(), 1);
}
