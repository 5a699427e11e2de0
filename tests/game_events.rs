//! `triggered` and `triggered_on`: waits on observer events, filled by one
//! observer per event type during the trigger.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bevy_coro::prelude::*;
use bevy_coro::{CoroStats, GameWaitError};
use bevy_ecs::prelude::*;
use common::*;
use futures_lite::future::poll_once;

#[derive(Event, Clone, Debug, PartialEq)]
struct Thunder(u32);

#[derive(Event, Clone, Debug, PartialEq)]
struct Rain;

#[derive(EntityEvent, Clone, Debug, PartialEq)]
struct Opened {
    entity: Entity,
    by: u32,
}

#[derive(EntityEvent, Clone, Debug, PartialEq)]
#[entity_event(propagate, auto_propagate)]
struct Clicked {
    entity: Entity,
}

in_each_mode! {
fn triggered_gives_the_next_event_after_the_wait_began(workers = 2) {
    for on_worker in [false, true] {
        let mut app = app(workers);
        let polls = Arc::new(AtomicUsize::new(0));
        let wait = CountPolls(polls.clone(), Box::pin(triggered::<Thunder>()));
        let task = if on_worker {
            coro(&app).spawn::<Worker>(wait)
        } else {
            coro(&app).spawn::<Main>(wait)
        };
        let registered_polls = if on_worker { 3 } else { 1 };
        update_until(&mut app, "registered", |app| {
            game_waits(app) == 1 && polls.load(Ordering::SeqCst) == registered_polls
        });
        app.world_mut().trigger(Rain);
        for _ in 0..5 {
            app.update();
        }
        assert_eq!(polls.load(Ordering::SeqCst), registered_polls, "not woken by another event");
        app.world_mut().trigger(Thunder(1));
        app.world_mut().trigger(Thunder(2));
        assert_eq!(run_task(&mut app, task), Ok(Thunder(1)), "on a worker: {on_worker}");
        assert_eq!(game_waits(&app), 0);
    }
}
}

in_each_mode! {
fn an_event_before_the_wait_does_not_count(workers = 2) {
    for on_worker in [false, true] {
        let mut app = app(workers);
        let wait = async {
            with_world(|world| world.trigger(Thunder(1))).await;
            triggered::<Thunder>().await
        };
        let task = if on_worker {
            coro(&app).spawn::<Worker>(wait)
        } else {
            coro(&app).spawn::<Main>(wait)
        };
        update_until(&mut app, "registered", |app| game_waits(app) == 1);
        app.world_mut().trigger(Thunder(2));
        assert_eq!(run_task(&mut app, task), Ok(Thunder(2)));
    }
}
}

#[test]
fn a_task_woken_by_a_trigger_in_the_pump_runs_in_that_pump() {
    let mut app = app(1);
    let coro = coro(&app);
    let waiter = coro.spawn::<Main>(async {
        triggered::<Thunder>().await;
        with_world(|world| world.resource::<CoroStats>().frames).await
    });
    app.update();
    let trigger = coro.spawn::<Main>(async {
        with_world(|world| {
            world.trigger(Thunder(0));
            world.resource::<CoroStats>().frames
        })
        .await
    });
    app.update();
    let triggered_in = trigger_frame(&mut app, trigger);
    assert_eq!(run_task(&mut app, waiter), Ok(triggered_in));
}

fn trigger_frame(app: &mut bevy_app::App, task: Task<u64>) -> u64 {
    run_task(app, task).unwrap()
}

in_each_mode! {
fn triggered_on_waits_for_its_entity_only(workers = 2) {
    for on_worker in [false, true] {
        let mut app = app(workers);
        let door = app.world_mut().spawn_empty().id();
        let other = app.world_mut().spawn_empty().id();
        let polls = Arc::new(AtomicUsize::new(0));
        let wait = CountPolls(polls.clone(), Box::pin(triggered_on::<Opened>(door)));
        let task = if on_worker {
            coro(&app).spawn::<Worker>(wait)
        } else {
            coro(&app).spawn::<Main>(wait)
        };
        let registered_polls = if on_worker { 3 } else { 1 };
        update_until(&mut app, "registered", |app| {
            game_waits(app) == 1 && polls.load(Ordering::SeqCst) == registered_polls
        });
        app.world_mut().trigger(Opened { entity: other, by: 1 });
        for _ in 0..5 {
            app.update();
        }
        assert_eq!(polls.load(Ordering::SeqCst), registered_polls, "not woken for another entity");
        app.world_mut().trigger(Opened { entity: door, by: 2 });
        assert_eq!(run_task(&mut app, task), Ok(Ok(Opened { entity: door, by: 2 })));
        assert_eq!(game_waits(&app), 0);
    }
}
}

in_each_mode! {
fn triggered_on_an_entity_that_does_not_exist_says_so(workers = 1) {
    let mut app = app(workers);
    let gone = app.world_mut().spawn_empty().id();
    app.world_mut().despawn(gone);
    let coro = coro(&app);
    let main = coro.spawn::<Main>(triggered_on::<Opened>(gone));
    let worker = coro.spawn::<Worker>(triggered_on::<Opened>(gone));
    assert_eq!(run_task(&mut app, main), Ok(Err(GameWaitError::NoSuchEntity(gone))));
    assert_eq!(run_task(&mut app, worker), Ok(Err(GameWaitError::NoSuchEntity(gone))));
    assert_eq!(game_waits(&app), 0);
}
}

in_each_mode! {
fn despawning_the_entity_ends_its_waits(workers = 2) {
    let mut app = app(workers);
    let door = app.world_mut().spawn_empty().id();
    let kept = app.world_mut().spawn_empty().id();
    let coro = coro(&app);
    let waits: Vec<_> = (0..10)
        .map(|i| {
            if i % 2 == 0 {
                coro.spawn::<Main>(triggered_on::<Opened>(door))
            } else {
                coro.spawn::<Worker>(triggered_on::<Opened>(door))
            }
        })
        .collect();
    // Another event type on the same entity, and the same type elsewhere.
    let clicked = coro.spawn::<Main>(triggered_on::<Clicked>(door));
    let elsewhere = coro.spawn::<Main>(triggered_on::<Opened>(kept));
    update_until(&mut app, "registered", |app| game_waits(app) == 12);
    app.world_mut().despawn(door);
    for task in waits {
        assert_eq!(run_task(&mut app, task), Ok(Err(GameWaitError::Despawned(door))));
    }
    assert_eq!(run_task(&mut app, clicked), Ok(Err(GameWaitError::Despawned(door))));
    assert_eq!(game_waits(&app), 1);
    app.world_mut().trigger(Opened { entity: kept, by: 3 });
    assert_eq!(run_task(&mut app, elsewhere), Ok(Ok(Opened { entity: kept, by: 3 })));
}
}

#[test]
fn an_event_that_propagates_reaches_the_waits_on_its_ancestors() {
    let mut app = app(1);
    let parent = app.world_mut().spawn_empty().id();
    let child = app.world_mut().spawn(ChildOf(parent)).id();
    let coro = coro(&app);
    let on_parent = coro.spawn::<Main>(triggered_on::<Clicked>(parent));
    let on_child = coro.spawn::<Main>(triggered_on::<Clicked>(child));
    app.update();
    app.world_mut().trigger(Clicked { entity: child });
    assert_eq!(
        run_task(&mut app, on_child),
        Ok(Ok(Clicked { entity: child }))
    );
    // The event as it reached the parent: its target is the parent.
    assert_eq!(
        run_task(&mut app, on_parent),
        Ok(Ok(Clicked { entity: parent }))
    );
}

#[test]
fn the_game_despawning_every_entity_does_not_strand_the_waits() {
    let mut app = app(1);
    let coro = coro(&app);
    let task = coro.spawn::<Main>(triggered::<Thunder>());
    app.update();
    // A sweep of every entity but the resources' (the observer among them).
    let sweep: Vec<Entity> = app
        .world_mut()
        .query_filtered::<Entity, With<bevy_ecs::observer::Observer>>()
        .iter(app.world())
        .collect();
    assert!(!sweep.is_empty());
    for entity in sweep {
        app.world_mut().despawn(entity);
    }
    // The next check puts an observer back.
    app.update();
    app.world_mut().trigger(Thunder(9));
    assert_eq!(run_task(&mut app, task), Ok(Thunder(9)));
}

#[test]
fn one_event_wakes_every_task_waiting_for_it_once() {
    let mut app = app(1);
    let coro = coro(&app);
    let polls = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..1_000)
        .map(|_| coro.spawn::<Main>(CountPolls(polls.clone(), Box::pin(triggered::<Thunder>()))))
        .collect();
    app.update();
    assert_eq!(polls.load(Ordering::SeqCst), 1_000);
    app.world_mut().trigger(Thunder(5));
    app.update();
    assert_eq!(polls.load(Ordering::SeqCst), 2_000);
    for mut task in tasks {
        assert_eq!(task.try_take(), Some(Ok(Thunder(5))));
    }
    assert_eq!(game_waits(&app), 0);
}

#[test]
fn waits_begun_and_cancelled_leave_nothing_registered() {
    let mut app = app(2);
    let door = app.world_mut().spawn_empty().id();
    let coro = coro(&app);
    let tasks: Vec<_> = (0..10)
        .map(|task| {
            coro.spawn::<Main>(async move {
                for frame in 0..20 {
                    for i in 0..1_000 {
                        if (task + i) % 2 == 0 {
                            assert!(poll_once(triggered::<Thunder>()).await.is_none());
                        } else {
                            assert!(poll_once(triggered_on::<Opened>(door)).await.is_none());
                        }
                    }
                    if frame % 5 == 0 {
                        with_world(move |world| {
                            world.trigger(Thunder(0));
                            world.trigger(Opened {
                                entity: door,
                                by: 0,
                            });
                        })
                        .await;
                    }
                    next_frame().await;
                }
            })
        })
        .collect();
    update_until(&mut app, "cycles", |_| tasks.iter().all(Task::is_finished));
    app.update();
    assert_eq!(game_waits(&app), 0);
    // And from workers, some cancelled mid-hop.
    for _ in 0..10 {
        let tasks: Vec<_> = (0..200)
            .map(|i| {
                if i % 2 == 0 {
                    coro.spawn::<Worker>(async {
                        triggered::<Thunder>().await;
                    })
                } else {
                    coro.spawn::<Worker>(async move {
                        let _ = triggered_on::<Opened>(door).await;
                    })
                }
            })
            .collect();
        app.update();
        drop(tasks);
        update_until(&mut app, "cancelled tasks freed", |_| coro.in_flight() == 0);
        app.update();
        app.update();
        assert_eq!(game_waits(&app), 0);
    }
}

/// Runs `seed`'s deterministic App with tasks waiting for events on the
/// main thread and on (simulated) workers; returns what they saw, in order.
fn replay(seed: u64) -> Vec<String> {
    let mut app = deterministic_app(seed);
    let doors: Vec<Entity> = (0..3).map(|_| app.world_mut().spawn_empty().id()).collect();
    let log = Arc::new(Mutex::new(Vec::new()));
    let coro = coro(&app);
    for task in 0..8u32 {
        let log = log.clone();
        let door = doors[task as usize % 3];
        let body = async move {
            for _ in 0..3 {
                let Thunder(n) = triggered::<Thunder>().await;
                log.lock().unwrap().push(format!("task {task} heard {n}"));
                async {}.on::<Worker>().await;
                let opened = triggered_on::<Opened>(door).await.unwrap();
                log.lock()
                    .unwrap()
                    .push(format!("task {task} saw {} open", opened.by));
            }
        };
        if task % 2 == 0 {
            coro.spawn::<Main>(body).detach();
        } else {
            coro.spawn::<Worker>(body).detach();
        }
    }
    for frame in 0..40u32 {
        app.update();
        if frame % 2 == 0 {
            app.world_mut().trigger(Thunder(frame));
        } else {
            for &door in &doors {
                app.world_mut().trigger(Opened {
                    entity: door,
                    by: frame,
                });
            }
        }
    }
    Arc::try_unwrap(log).unwrap().into_inner().unwrap()
}

#[test]
fn a_deterministic_run_replays_event_waits() {
    let first = replay(3);
    assert_eq!(first.len(), 8 * 6, "{first:?}");
    assert_eq!(first, replay(3));
}
