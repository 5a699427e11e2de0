//! `with_world` from main-thread and worker tasks.

mod common;

use std::time::{Duration, Instant};

use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use common::*;

#[derive(Resource, Default)]
struct Counter(u32);

#[derive(Resource)]
struct Seen;

in_each_mode! {
fn a_main_task_reads_and_writes_the_world(workers = 1) {
    let mut app = app(workers);
    app.init_resource::<Counter>();
    let task = coro(&app).spawn::<Main>(async {
        with_world(|world| world.resource_mut::<Counter>().0 += 1).await;
        with_world(|world| world.resource::<Counter>().0).await
    });
    assert_eq!(run_task(&mut app, task), Ok(1));
    assert_eq!(app.world().resource::<Counter>().0, 1);
}
}

in_each_mode! {
fn a_worker_task_reads_and_writes_the_world(workers = 2) {
    let mut app = app(workers);
    app.init_resource::<Counter>();
    let task = coro(&app).spawn::<Worker>(async {
        let before = with_world(|world| world.resource::<Counter>().0).await;
        with_world(|world| world.resource_mut::<Counter>().0 += 10).await;
        let on_worker = on_worker_side();
        (before, on_worker)
    });
    assert_eq!(run_task(&mut app, task), Ok((0, workers > 0)));
    assert_eq!(app.world().resource::<Counter>().0, 10);
}
}

#[test]
fn a_worker_request_is_served_by_the_next_pump() {
    let mut app = app(1);
    let coro = coro(&app);
    let task =
        coro.spawn::<Worker>(async { with_world(|world| world.insert_resource(Seen)).await });
    // The worker has asked for the World once its task sits on the main queue.
    wait_until("worker request queued", || coro.main_queue_len() == 1);
    app.update();
    assert!(app.world().contains_resource::<Seen>());
    wait_until("task done", || task.is_finished());
}

#[test]
fn a_worker_request_arriving_during_a_pump_is_served_by_that_pump() {
    let mut app = app(1);
    let coro = coro(&app);
    let spawner = coro.clone();
    coro.spawn::<Main>(async move {
        // Start a worker task, then hold the pump until its request is queued.
        spawner
            .spawn::<Worker>(async { with_world(|world| world.insert_resource(Seen)).await })
            .detach();
        let start = Instant::now();
        while spawner.main_queue_len() == 0 {
            assert!(start.elapsed() < WATCHDOG, "worker request never arrived");
            std::thread::sleep(Duration::from_micros(50));
        }
    })
    .detach();
    app.update();
    assert!(
        app.world().contains_resource::<Seen>(),
        "the request that arrived during the pump waited for the next frame"
    );
}

#[test]
fn with_world_changes_are_seen_by_update_systems_in_the_same_frame() {
    #[derive(Resource, Default)]
    struct SeenInUpdate(Option<u32>);
    let mut app = app(1);
    app.init_resource::<Counter>()
        .init_resource::<SeenInUpdate>()
        .add_systems(
            bevy_app::Update,
            |counter: Res<Counter>, mut seen: ResMut<SeenInUpdate>| {
                if counter.0 > 0 && seen.0.is_none() {
                    seen.0 = Some(counter.0);
                }
            },
        );
    coro(&app)
        .spawn::<Main>(async { with_world(|world| world.resource_mut::<Counter>().0 = 3).await })
        .detach();
    app.update();
    assert_eq!(app.world().resource::<SeenInUpdate>().0, Some(3));
}
