//! `resume_in`: main-thread tasks resuming in the schedule they chose,
//! served by the extra pumps of `CoroPlugin::resume_points`.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bevy_app::{App, First, FixedUpdate, Last, PostUpdate, Update};
use bevy_coro::prelude::*;
use bevy_coro::{CoroMode, CoroScheduler};
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::ScheduleLabel;
use bevy_time::{TimePlugin, TimeUpdateStrategy};
use common::*;

/// Where the frame is: written by systems around the extra pumps.
#[derive(Resource, Default, Clone, Copy, Debug, PartialEq, Eq)]
struct Stage(&'static str, u32);

/// Frames started (counted in `First`, before everything).
#[derive(Resource, Default)]
struct Frame(u32);

/// A schedule the game never runs.
#[derive(ScheduleLabel, Debug, Clone, PartialEq, Eq, Hash)]
struct Never;

fn plugin(workers: usize) -> CoroPlugin {
    CoroPlugin {
        workers,
        resume_points: vec![
            First.intern(),
            PostUpdate.intern(),
            Last.intern(),
            Never.intern(),
            PostUpdate.intern(), // counted once
        ],
        ..Default::default()
    }
}

/// An App with resume points in `First`, `PostUpdate`, `Last` and `Never`,
/// and systems around them telling where the frame is.
fn staged_app(workers: usize) -> App {
    staged(plugin(workers))
}

fn staged(plugin: CoroPlugin) -> App {
    let mut app = App::new();
    app.add_plugins(plugin)
        .init_resource::<Stage>()
        .init_resource::<Frame>();
    let stage = |name: &'static str| {
        move |mut stage: ResMut<Stage>, frame: Res<Frame>| *stage = Stage(name, frame.0)
    };
    app.add_systems(
        First,
        (|mut frame: ResMut<Frame>| frame.0 += 1).before(CoroSystems::ResumePoint),
    )
    .add_systems(
        First,
        stage("first: point done").after(CoroSystems::ResumePoint),
    )
    .add_systems(Update, stage("update"))
    .add_systems(
        PostUpdate,
        stage("post: before the point").before(CoroSystems::ResumePoint),
    )
    .add_systems(
        PostUpdate,
        stage("post: after the point").after(CoroSystems::ResumePoint),
    )
    .add_systems(
        Last,
        stage("last: before the point").before(CoroSystems::ResumePoint),
    );
    app
}

fn stage() -> impl std::future::Future<Output = Stage> + Send {
    with_world(|world| *world.resource::<Stage>())
}

in_each_mode! {
fn a_task_resumes_in_the_schedule_it_chose(workers = 2) {
    for worker in [false, true] {
        let mut app = staged_app(workers);
        let task = spawn_on(&coro(&app), worker, async {
            let mut seen = Vec::new();
            resume_in(PostUpdate).await;
            seen.push(stage().await);
            resume_in(Last).await;
            seen.push(stage().await);
            resume_in(First).await;
            seen.push(stage().await);
            // Twice in a row: the second waits for the point's next run.
            resume_in(PostUpdate).await;
            seen.push(stage().await);
            resume_in(PostUpdate).await;
            seen.push(stage().await);
            (seen, std::thread::current().id())
        });
        let (seen, thread) = run_task(&mut app, task).unwrap();
        assert_eq!(thread, std::thread::current().id(), "on the main thread");
        let frame = seen[0].1;
        assert_eq!(
            seen,
            vec![
                Stage("post: before the point", frame),
                Stage("last: before the point", frame),
                Stage("last: before the point", frame), // First's point, before its marker
                Stage("post: before the point", frame + 1),
                Stage("post: before the point", frame + 2),
            ],
            "worker: {worker}"
        );
    }
}
}

#[test]
fn from_the_pump_a_later_point_serves_the_same_frame() {
    let mut app = staged_app(1);
    let mut task = coro(&app).spawn::<Main>(async {
        let asked = with_world(|world| world.resource::<Frame>().0).await;
        resume_in(PostUpdate).await;
        (asked, stage().await)
    });
    app.update();
    let (asked, seen) = task.try_take().unwrap().unwrap();
    assert_eq!(seen, Stage("post: before the point", asked));
}

#[test]
fn a_schedule_without_a_point_panics_naming_the_config_field() {
    let mut app = staged_app(1);
    let task = coro(&app).spawn::<Main>(async { resume_in(Update).await });
    match run_task(&mut app, task) {
        Err(TaskError::Panicked(message)) => {
            assert!(message.contains("CoroPlugin::resume_points"), "{message}");
            assert!(message.contains("Update"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn outside_a_task_it_panics() {
    let message = poll_once_outside_task(resume_in(PostUpdate)).unwrap();
    assert!(message.contains("outside a bevy_coro task"), "{message}");
}

/// Each run of a point keeps to `main_budget` (at least one poll a run):
/// five tasks waiting at `First` with a zero budget resume one a frame.
#[test]
fn each_run_of_a_point_keeps_to_the_budget() {
    let mut app = staged_app(1);
    let resumed = Arc::new(AtomicUsize::new(0));
    for _ in 0..5 {
        let resumed = resumed.clone();
        coro(&app)
            .spawn::<Main>(async move {
                resume_in(First).await;
                resumed.fetch_add(1, Ordering::SeqCst);
            })
            .detach();
    }
    app.update(); // all five ask, in the pump
    assert_eq!(coro(&app).stats().at_resume_points, 5);
    app.world_mut().resource_mut::<CoroScheduler>().main_budget = Some(Duration::ZERO);
    for frame in 1..=5 {
        app.update();
        assert_eq!(resumed.load(Ordering::SeqCst), frame, "one per run");
    }
    assert_eq!(coro(&app).stats().at_resume_points, 0);
}

/// The fixed loop runs its point at each step: a task asking again from a
/// fixed step resumes in the very next step, also within one frame.
#[test]
fn in_fixed_update_each_ask_takes_the_next_fixed_step() {
    #[derive(Resource, Default)]
    struct Steps(u32);
    let mut app = App::new();
    app.add_plugins(TimePlugin)
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            50,
        )))
        .add_plugins(CoroPlugin {
            workers: 1,
            resume_points: vec![FixedUpdate.intern()],
            ..Default::default()
        })
        .init_resource::<Steps>()
        .add_systems(
            FixedUpdate,
            (|mut steps: ResMut<Steps>| steps.0 += 1).before(CoroSystems::ResumePoint),
        );
    let task = coro(&app).spawn::<Worker>(async {
        let mut steps = Vec::new();
        for _ in 0..6 {
            resume_in(FixedUpdate).await;
            steps.push(with_world(|world| world.resource::<Steps>().0).await);
        }
        steps
    });
    let steps = run_task(&mut app, task).unwrap();
    let first = steps[0];
    assert_eq!(steps, (first..first + 6).collect::<Vec<_>>());
}

in_each_mode! {
fn cancelling_a_task_waiting_for_a_point_leaves_nothing_queued(workers = 2) {
    let mut app = staged_app(workers);
    let coro = coro(&app);
    let drops = DropCounter::default();
    let asked = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..100)
        .map(|i| {
            let (token, asked) = (drops.token(), asked.clone());
            spawn_on(&coro, i % 2 == 1, async move {
                let _token = token;
                let point = resume_in(Never);
                asked.fetch_add(1, Ordering::SeqCst);
                point.await;
                unreachable!("`Never` never runs");
            })
        })
        .collect();
    update_until(&mut app, "all wait", |_| coro.stats().at_resume_points == 100);
    assert_eq!(asked.load(Ordering::SeqCst), 100);
    drop(tasks);
    update_until(&mut app, "all dropped", |_| coro.in_flight() == 0);
    assert_eq!(drops.count(), 100);
    assert_eq!(coro.stats().at_resume_points, 0);
    assert_eq!(coro.stats().main_queue, 0);
}
}

/// A hop away from a point (a `timeout` giving up on it) puts the task back
/// where it was: a worker task goes back to a worker.
#[test]
fn a_wait_given_up_halfway_leaves_the_task_where_it_was() {
    let mut app = staged_app(2);
    let task = coro(&app).spawn::<Worker>(async {
        let gave_up = timeout(Duration::from_millis(1), resume_in(Never))
            .await
            .is_err();
        (gave_up, on_worker_side())
    });
    assert_eq!(run_task(&mut app, task), Ok((true, true)));
    assert_eq!(coro(&app).stats().at_resume_points, 0);
}

#[test]
fn points_replay_in_the_same_order_with_one_seed() {
    fn run(seed: u64) -> Vec<(u32, Stage)> {
        let mut app = staged(CoroPlugin {
            mode: CoroMode::Deterministic {
                seed,
                panic_on_deadlock: false,
            },
            ..plugin(0)
        });
        #[derive(Resource, Default)]
        struct Events(Vec<(u32, Stage)>);
        app.init_resource::<Events>();
        let coro = coro(&app);
        for id in 0..24u32 {
            spawn_on(&coro, id % 2 == 0, async move {
                for round in 0..3 {
                    match (id + round) % 3 {
                        0 => resume_in(First).await,
                        1 => resume_in(PostUpdate).await,
                        _ => resume_in(Last).await,
                    }
                    with_world(move |world| {
                        let stage = *world.resource::<Stage>();
                        world.resource_mut::<Events>().0.push((id, stage));
                    })
                    .await;
                    if id % 4 == 1 {
                        yield_now().await;
                    }
                }
            })
            .detach();
        }
        for _ in 0..10 {
            app.update();
        }
        std::mem::take(&mut app.world_mut().resource_mut::<Events>().0)
    }
    let first = run(11);
    assert_eq!(first.len(), 72);
    assert_eq!(first, run(11));
}

/// Dropping the App drops every task waiting at a point, or queued there
/// by a run cut short by the budget, exactly once.
#[test]
fn at_shutdown_tasks_at_points_are_dropped_once() {
    for workers in [0, 2] {
        let mut app = staged_app(workers);
        let coro = coro(&app);
        let drops = DropCounter::default();
        let asked = Arc::new(AtomicUsize::new(0));
        for i in 0..40 {
            let (token, asked) = (drops.token(), asked.clone());
            spawn_on(&coro, i % 2 == 1, async move {
                let _token = token;
                let point = if i % 4 < 2 {
                    resume_in(Never)
                } else {
                    resume_in(First)
                };
                asked.fetch_add(1, Ordering::SeqCst);
                point.await;
                std::future::pending::<()>().await
            })
            .detach();
        }
        update_until(&mut app, "all wait", |_| asked.load(Ordering::SeqCst) == 40);
        // A zero budget leaves most of those at `First` queued there.
        app.world_mut().resource_mut::<CoroScheduler>().main_budget = Some(Duration::ZERO);
        app.update();
        assert!(coro.stats().at_resume_points >= 20);
        drop(app);
        assert_eq!(drops.count(), 40);
    }
}
