//! `until` and `until_some`: waits on World conditions, checked by the pump
//! once per frame without waking the waiting task.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bevy_coro::CoroStats;
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use common::*;

#[derive(Resource, Default)]
struct Level(u32);

in_each_mode! {
fn a_task_resumes_in_the_frame_its_condition_first_holds(workers = 2) {
    let mut app = app(workers);
    app.init_resource::<Level>();
    let polls = Arc::new(AtomicUsize::new(0));
    let task = coro(&app).spawn::<Worker>({
        let polls = polls.clone();
        async move {
            let counted = CountPolls(polls, Box::pin(until(|world| world.resource::<Level>().0 >= 3)));
            counted.await;
            with_world(|world| world.resource::<Level>().0).await
        }
    });
    // Registered (one hop from the worker), then asleep while it fails.
    update_until(&mut app, "registered", |app| app.world().resource::<CoroStats>().game_waits == 1);
    let registered_polls = polls.load(Ordering::SeqCst);
    for _ in 0..10 {
        app.update();
    }
    // At most the worker's poll after its hop back, which may come after
    // the registration was seen: not one poll a frame.
    let polls_while_failing = polls.load(Ordering::SeqCst) - registered_polls;
    assert!(polls_while_failing <= 1, "woken {polls_while_failing} times while it fails");
    app.world_mut().resource_mut::<Level>().0 = 3;
    assert_eq!(run_task(&mut app, task), Ok(3));
    assert_eq!(app.world().resource::<CoroStats>().game_waits, 0);
}
}

in_each_mode! {
fn a_condition_that_holds_already_resolves_without_a_frame(workers = 1) {
    let mut app = app(workers);
    app.insert_resource(Level(5));
    let task = coro(&app).spawn::<Main>(async {
        until(|world| world.resource::<Level>().0 == 5).await;
        // Same pump: the frame counter has not moved.
        with_world(|world| world.resource::<CoroStats>().frames).await
    });
    app.update();
    assert_eq!(run_task(&mut app, task), Ok(0));
}
}

in_each_mode! {
fn until_some_gives_what_it_found(workers = 2) {
    let mut app = app(workers);
    let task = coro(&app).spawn::<Worker>(async {
        until_some(|world| world.get_resource::<Level>().map(|level| level.0)).await
    });
    for _ in 0..3 {
        app.update();
    }
    app.insert_resource(Level(42));
    assert_eq!(run_task(&mut app, task), Ok(42));
}
}

#[test]
fn cancelled_waits_leave_nothing_registered() {
    let mut app = app(1);
    let coro = coro(&app);
    for _ in 0..100 {
        let tasks: Vec<_> = (0..1_000)
            .map(|_| coro.spawn::<Main>(until(|_| false)))
            .collect();
        app.update();
        assert_eq!(app.world().resource::<CoroStats>().game_waits, 1_000);
        drop(tasks);
        // The pump drops the cancelled tasks' futures; the next frame's
        // check lets their waits go.
        app.update();
        app.update();
        assert_eq!(app.world().resource::<CoroStats>().game_waits, 0);
    }
}

#[test]
fn a_panicking_condition_ends_only_its_task() {
    let mut app = app(1);
    app.init_resource::<Level>();
    let coro = coro(&app);
    let doomed = coro.spawn::<Main>(until(|world| {
        if world.resource::<Level>().0 == 1 {
            panic!("[injected] condition");
        }
        false
    }));
    let fine = coro.spawn::<Main>(until(|world| world.resource::<Level>().0 == 2));
    app.update();
    app.world_mut().resource_mut::<Level>().0 = 1;
    app.update();
    app.world_mut().resource_mut::<Level>().0 = 2;
    assert!(matches!(
        run_task(&mut app, doomed),
        Err(TaskError::Panicked(_))
    ));
    assert_eq!(run_task(&mut app, fine), Ok(()));
}
