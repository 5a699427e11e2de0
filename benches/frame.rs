//! One frame of the showcase's main-thread task work, bevy_coro against the
//! bevy_tasks plumbing it replaces (`examples/swarm/coro.rs` beside
//! `examples/swarm/baseline.rs`), in one group:
//!
//! - `frame: 37 results`: 37 searches finished on a worker since the last
//!   frame (the swarm's mean per frame at 2,000 agents), and the frame that
//!   hands their paths to their agents is timed (`app.update()` of an App
//!   with only that plumbing). bevy_coro: 37 worker tasks wait in
//!   `with_world`, and the pump runs their closures (each takes the agent's
//!   `Planning` handle and writes its `Path`). bevy_tasks: a system polls
//!   every `Task` in a component with `block_on(poll_once(..))` and moves the
//!   results to a `Found` component, another applies them (the same writes).
//! - The parameter is how many more searches are still in flight in that
//!   frame (0, or 500 as at the start of a 2,000-agent run): the bevy_tasks
//!   system polls those too; bevy_coro's pump never sees them.
//!
//! The tasks are made and their work done outside the timed part (criterion's
//! `iter_custom`), so what is measured is the main thread's frame alone.

use std::time::{Duration, Instant};

use bevy_app::{App, PreUpdate};
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use bevy_tasks::{AsyncComputeTaskPool, TaskPoolBuilder, block_on, poll_once};
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};

/// Finished searches per frame: the swarm's mean at 2,000 agents.
const RESULTS: usize = 37;
/// Cells in a path (the swarm's paths on a 96x96 map are about 60 long).
const PATH: u32 = 60;

/// An agent's path, written by the frame.
#[derive(Component, Default)]
struct Path(Vec<u32>);

/// A search's result: what the worker hands to the main thread.
fn search(seed: u32) -> Vec<u32> {
    (seed..seed + PATH).collect()
}

/// bevy_coro's plan in flight, as in the swarm: dropping it cancels the plan.
#[derive(Component)]
struct Planning(Task<()>);

/// bevy_tasks' search in flight, polled every frame.
#[derive(Component)]
struct Searching(bevy_tasks::Task<Vec<u32>>);

/// A finished bevy_tasks search, waiting for `apply_paths`.
#[derive(Component)]
struct Found(Option<Vec<u32>>);

/// Spins until `done` holds (the workers finish the searches).
fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "{what} never happened"
        );
        std::thread::yield_now();
    }
}

/// The bevy_coro App: the plugin with one worker, `pending` plans that never
/// finish, and agents to give results to.
fn coro_app(pending: usize) -> (App, Vec<Entity>) {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: 1,
        ..Default::default()
    });
    let coro = app.world().resource::<Coro>().clone();
    for _ in 0..pending {
        let task = coro.spawn::<Worker>(std::future::pending::<()>());
        app.world_mut().spawn((Path::default(), Planning(task)));
    }
    let agents = (0..RESULTS)
        .map(|_| app.world_mut().spawn(Path::default()).id())
        .collect();
    app.update();
    (app, agents)
}

/// Runs inside the plan's task on the main thread, as the swarm's
/// `apply_path`: the plan lets go of its own handle and writes the path.
fn apply_path(world: &mut World, entity: Entity, path: Vec<u32>) {
    let Ok(mut agent) = world.get_entity_mut(entity) else {
        return;
    };
    if let Some(Planning(task)) = agent.take::<Planning>() {
        task.detach();
    }
    agent.get_mut::<Path>().unwrap().0 = path;
}

/// One timed frame of bevy_coro: 37 worker tasks wait in `with_world`.
fn coro_frame(app: &mut App, agents: &[Entity]) -> Duration {
    let coro = app.world().resource::<Coro>().clone();
    for (i, &entity) in agents.iter().enumerate() {
        let task = coro.spawn::<Worker>(async move {
            let path = search(i as u32);
            with_world(move |world| apply_path(world, entity, path)).await;
        });
        app.world_mut().entity_mut(entity).insert(Planning(task));
    }
    wait_for("the with_world calls", || coro.main_queue_len() == RESULTS);
    let start = Instant::now();
    app.update();
    let frame = start.elapsed();
    assert_eq!(
        app.world().resource::<bevy_coro::CoroStats>().main_polled,
        RESULTS
    );
    frame
}

/// Every frame, asks each search in flight whether it is done (as the
/// swarm's `poll_searches`).
fn poll_searches(mut commands: Commands, mut searches: Query<(Entity, &mut Searching)>) {
    for (entity, mut search) in &mut searches {
        if let Some(path) = block_on(poll_once(&mut search.0)) {
            commands
                .entity(entity)
                .remove::<Searching>()
                .insert(Found(Some(path)));
        }
    }
}

/// The agents take the paths found this frame (as the swarm's `apply_paths`).
fn apply_paths(mut commands: Commands, mut agents: Query<(Entity, &mut Path, &mut Found)>) {
    for (entity, mut path, mut found) in &mut agents {
        path.0 = found.0.take().expect("each result is applied once");
        commands.entity(entity).remove::<Found>();
    }
}

/// The bevy_tasks App: the polling and applying systems, `pending` searches
/// that never finish, and agents to give results to.
fn bevy_tasks_app(pending: usize) -> (App, Vec<Entity>) {
    let pool = AsyncComputeTaskPool::get_or_init(|| TaskPoolBuilder::new().num_threads(1).build());
    let mut app = App::new();
    app.add_systems(PreUpdate, (poll_searches, apply_paths).chain());
    for _ in 0..pending {
        let task = pool.spawn(std::future::pending::<Vec<u32>>());
        app.world_mut().spawn((Path::default(), Searching(task)));
    }
    let agents = (0..RESULTS)
        .map(|_| app.world_mut().spawn(Path::default()).id())
        .collect();
    app.update();
    (app, agents)
}

/// One timed frame of bevy_tasks: 37 searches in components are finished.
fn bevy_tasks_frame(app: &mut App, agents: &[Entity]) -> Duration {
    let pool = AsyncComputeTaskPool::get();
    for (i, &entity) in agents.iter().enumerate() {
        let task = pool.spawn(async move { search(i as u32) });
        app.world_mut().entity_mut(entity).insert(Searching(task));
    }
    for &entity in agents {
        wait_for("the searches", || {
            app.world()
                .get::<Searching>(entity)
                .unwrap()
                .0
                .is_finished()
        });
    }
    let start = Instant::now();
    app.update();
    let frame = start.elapsed();
    assert!(
        agents
            .iter()
            .all(|&agent| app.world().get::<Searching>(agent).is_none())
    );
    frame
}

/// Times `iters` frames made by `frame`.
fn timed(iters: u64, mut frame: impl FnMut() -> Duration) -> Duration {
    (0..iters).map(|_| frame()).sum()
}

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame: 37 results");
    for pending in [0usize, 500] {
        let (mut app, agents) = coro_app(pending);
        group.bench_with_input(
            BenchmarkId::new("bevy_coro: pump, with_world closures", pending),
            &pending,
            |b, _| b.iter_custom(|iters| timed(iters, || coro_frame(&mut app, &agents))),
        );
        drop(app);
        let (mut app, agents) = bevy_tasks_app(pending);
        group.bench_with_input(
            BenchmarkId::new("bevy_tasks: poll + apply systems", pending),
            &pending,
            |b, _| b.iter_custom(|iters| timed(iters, || bevy_tasks_frame(&mut app, &agents))),
        );
        // The never-finishing searches are cancelled with their components.
        drop(app);
    }
    group.finish();
}

criterion_group!(benches, frame);
criterion_main!(benches);
