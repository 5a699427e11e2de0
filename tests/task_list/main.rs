//! The live task list (`track_tasks`): `tasks()` agrees with what each task
//! is doing, ended tasks leave it, and `leaks()` groups long-lived tasks by
//! where they were spawned.

#[path = "../common/mod.rs"]
mod common;
mod deadlock;
mod leaks;

use std::sync::mpsc;
use std::time::Duration;

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::runtime::{Clock, Handle, Instant, ManualClock, Owner, Runtime, RuntimeConfig};
use bevy_coro::{CoroStats, RunsOn, TaskSnapshot, TaskState, WaitingOn, WorkerPriority};
use bevy_ecs::prelude::*;
use common::*;

/// An App that tracks its tasks, on `workers` workers.
fn tracked_app(workers: usize) -> App {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers,
        track_tasks: true,
        // No rescue thread: a held worker stays held.
        worker_priority: WorkerPriority::Normal,
        ..Default::default()
    });
    app.add_message::<Ping>();
    app
}

#[derive(Message, Clone)]
struct Ping;

/// The live task named `name`; panics, with the list, if there is not exactly one.
fn named(tasks: &[TaskSnapshot], name: &str) -> TaskSnapshot {
    let found: Vec<&TaskSnapshot> = tasks.iter().filter(|t| t.name == Some(name)).collect();
    assert_eq!(found.len(), 1, "one task `{name}` in {tasks:#?}");
    found[0].clone()
}

/// The list has as many tasks as the scheduler counts in flight.
fn assert_counts_agree(app: &App) {
    let tasks = common::coro(app).tasks();
    let stats = app.world().resource::<CoroStats>();
    assert_eq!(tasks.len(), coro(app).in_flight(), "{tasks:#?}");
    assert_eq!(tasks.len(), stats.in_flight, "{tasks:#?}");
}

in_each_mode! {
    /// Each kind of wait is listed as what it is: a timer, a task's handle,
    /// a message, a condition; a task that yielded is queued; a task that
    /// looks at the list from its own poll sees itself running; a task
    /// waiting on a channel is waiting on nothing known.
    fn each_state_and_wait_is_listed(workers = 2) {
        let mut app = tracked_app(workers);
        let coro = coro(&app);
        let (release, gate) = async_channel::bounded::<()>(1);
        let blocked = coro.task("blocked").spawn::<Main>(async move {
            let _ = gate.recv().await;
        });
        let blocked_id = {
            app.update();
            named(&coro.tasks(), "blocked").id
        };
        let sleeper = coro.task("sleeper").spawn::<Worker>(sleep(Duration::from_secs(600)));
        let waiter = coro.task("waiter").spawn::<Main>(blocked);
        let listener = coro.task("listener").spawn::<Main>(next_message::<Ping>());
        let condition = coro.task("condition").spawn::<Main>(until(|_| false));
        let yielder = coro.task("yielder").spawn::<Main>(async {
            loop {
                yield_now().await;
            }
        });
        let (seen_tx, seen_rx) = mpsc::channel();
        let looker = coro.task("looker").spawn::<Main>({
            let coro = coro.clone();
            async move {
                // Polled once more, so its first poll is counted by now.
                yield_now().await;
                let me = named(&coro.tasks(), "looker");
                seen_tx.send(me).unwrap();
            }
        });
        update_until(&mut app, "every task parked", |app| {
            let tasks = common::coro(app).tasks();
            tasks.len() == 6
                && ["sleeper", "waiter", "listener", "condition", "blocked"]
                    .iter()
                    .all(|name| named(&tasks, name).state == TaskState::Waiting)
        });
        let me = seen_rx.try_recv().expect("the looker ran");
        assert_eq!(me.state, TaskState::Running);
        assert_eq!(me.polls, 1, "its first poll, the one before this one");
        run_task(&mut app, looker).unwrap();
        let tasks = coro.tasks();
        assert_eq!(tasks.len(), 6, "{tasks:#?}");
        assert_counts_agree(&app);

        let sleeping = named(&tasks, "sleeper");
        assert_eq!(sleeping.runs_on, RunsOn::Worker);
        match sleeping.waiting_on[..] {
            [WaitingOn::Timer { due_in }] => {
                assert!(due_in <= Duration::from_secs(600) && due_in > Duration::from_secs(60));
            }
            ref other => panic!("the sleeper waits on a timer, not {other:?}"),
        }
        let waiting = named(&tasks, "waiter");
        assert_eq!(
            waiting.waiting_on,
            vec![WaitingOn::Task { id: blocked_id, name: Some("blocked".into()) }]
        );
        assert!(named(&tasks, "blocked").waiting_on.is_empty(), "a channel is nothing known");
        match &named(&tasks, "listener").waiting_on[..] {
            [WaitingOn::Game { kind: "message", of }] => assert!(of.ends_with("Ping"), "{of}"),
            other => panic!("the listener waits on a message, not {other:?}"),
        }
        assert_eq!(
            named(&tasks, "condition").waiting_on,
            vec![WaitingOn::Game { kind: "condition", of: "" }]
        );
        let yielding = named(&tasks, "yielder");
        assert_eq!(yielding.state, TaskState::Queued);
        assert!(yielding.waiting_on.is_empty());

        // Each ends and leaves the list, whatever ended it.
        app.world_mut().write_message(Ping);
        run_task(&mut app, listener).unwrap();
        release.try_send(()).unwrap();
        run_task(&mut app, waiter).unwrap().unwrap();
        drop((sleeper, condition, yielder));
        update_until(&mut app, "the cancelled tasks end", |_| coro.in_flight() == 0);
        assert!(coro.tasks().is_empty(), "{:#?}", coro.tasks());
        app.update(); // `CoroStats` counted the worker tasks' ends
        assert_counts_agree(&app);
    }

    /// Polls, frames and parents are counted: a task awaiting the next
    /// frame ten times has ten polls (and one more to start), and the task
    /// it spawned names it as its parent; a task tied to an entity names it.
    fn polls_ages_parents_and_owners(workers = 2) {
        let mut app = tracked_app(workers);
        let coro = coro(&app);
        let entity = app.world_mut().spawn_empty().id();
        let tied = coro.task("tied").for_entity(entity).spawn::<Main>(std::future::pending::<()>());
        let ticker = coro.task("ticker").spawn::<Main>({
            let coro = coro.clone();
            async move {
                let _child = coro.task("child").spawn::<Worker>(std::future::pending::<()>());
                for _ in 0..10 {
                    next_frame().await;
                }
                std::future::pending::<()>().await;
            }
        });
        for _ in 0..12 {
            app.update();
        }
        let tasks = coro.tasks();
        let ticking = named(&tasks, "ticker");
        assert_eq!(ticking.polls, 11, "{ticking:?}");
        assert_eq!(ticking.state, TaskState::Waiting);
        assert_eq!(ticking.age_frames, 12);
        assert!(ticking.longest_poll <= ticking.poll_time);
        assert_eq!(ticking.parent, None);
        assert_eq!(named(&tasks, "child").parent, Some(ticking.id));
        match named(&tasks, "tied").owner {
            Some(Owner::Key(bits)) => assert_eq!(Entity::from_bits(bits), entity),
            other => panic!("tied to the entity, not {other:?}"),
        }
        assert_counts_agree(&app);
        drop((tied, ticker));
        update_until(&mut app, "all ended", |_| coro.in_flight() == 0);
        // The child was cancelled with its parent.
        assert!(coro.tasks().is_empty());
    }
}

/// Tasks mid-hop are queued on the side they hop to: a main task that hopped
/// to the (busy) worker, and a worker task that asked for the World.
#[test]
fn tasks_mid_hop_are_queued_on_the_other_side() {
    let mut app = tracked_app(1);
    let coro = coro(&app);
    // The only worker, held inside a poll.
    let (hold, held) = mpsc::channel::<()>();
    let hog = coro.task("hog").spawn::<Worker>(async move {
        held.recv().unwrap();
    });
    wait_until("the hog runs", || {
        coro.tasks()
            .iter()
            .any(|t| t.name == Some("hog") && t.state == TaskState::Running)
    });
    let hog_seen = named(&coro.tasks(), "hog");
    assert_eq!(hog_seen.runs_on, RunsOn::Worker);
    assert_eq!(hog_seen.polls, 0, "its first poll has not ended");
    let hopper = coro
        .task("hopper")
        .spawn::<Main>(async { async { 2 + 2 }.on::<Worker>().await });
    app.update();
    let hopping = named(&coro.tasks(), "hopper");
    assert_eq!(
        (hopping.state, hopping.runs_on, hopping.polls),
        (TaskState::Queued, RunsOn::Worker, 1)
    );
    hold.send(()).unwrap();
    run_task(&mut app, hog).unwrap();
    assert_eq!(run_task(&mut app, hopper), Ok(4));

    // A worker task that awaits `with_world` waits for the pump, queued on Main.
    let asker = coro
        .task("asker")
        .spawn::<Worker>(async { with_world(|world| world.entities().len()).await });
    wait_until("the asker hops", || {
        coro.tasks()
            .iter()
            .any(|t| t.name == Some("asker") && t.polls == 1)
    });
    let asking = named(&coro.tasks(), "asker");
    assert_eq!(
        (asking.state, asking.runs_on),
        (TaskState::Queued, RunsOn::Main)
    );
    run_task(&mut app, asker).unwrap();
    assert!(coro.tasks().is_empty());
    app.update();
    assert_counts_agree(&app);
}

/// Ended tasks leave the list, however they end: finished, panicked,
/// cancelled before or after their first poll, detached.
#[test]
fn ended_tasks_are_gone() {
    let mut app = tracked_app(2);
    let coro = coro(&app);
    let mut kept = Vec::new();
    for i in 0..200 {
        let task = match i % 5 {
            0 => coro.spawn::<Worker>(async {}),
            1 => coro.spawn::<Main>(async { panic!("planted") }),
            2 => coro.spawn::<Main>(std::future::pending::<()>()),
            3 => {
                coro.spawn::<Worker>(sleep(Duration::from_millis(1)))
                    .detach();
                continue;
            }
            _ => coro.spawn::<Main>(std::future::pending::<()>()),
        };
        kept.push((i, task));
    }
    // Half the pending ones are cancelled before their first poll.
    kept.retain(|(i, _)| i % 10 != 4);
    update_until(&mut app, "the short tasks end", |app| {
        app.world().resource::<CoroStats>().in_flight == 60
    });
    assert_eq!(coro.tasks().len(), 60);
    assert_counts_agree(&app);
    assert!(coro.tasks().iter().all(|t| t.state == TaskState::Waiting));
    kept.clear();
    update_until(&mut app, "all ended", |_| coro.in_flight() == 0);
    assert!(coro.tasks().is_empty());
}

/// Without `track_tasks` the list is empty, whatever runs.
#[test]
fn without_tracking_the_list_is_empty() {
    let mut app = app(1);
    let coro = coro(&app);
    let task = coro.spawn::<Main>(std::future::pending::<()>());
    app.update();
    assert!(!coro.tracks_tasks());
    assert!(coro.tasks().is_empty());
    assert!(coro.leaks(Duration::ZERO).is_empty());
    assert_eq!(coro.in_flight(), 1);
    drop(task);
}
