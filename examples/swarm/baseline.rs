//! The same game's task plumbing written the way a Bevy user does it today
//! with bevy_tasks: the search is spawned on `AsyncComputeTaskPool`, its
//! `Task` kept in a component, a system polls every such task each frame with
//! `block_on(poll_once(..))`, and another system applies the results. Compare
//! with `coro.rs`: map, A*, agents and game systems are the same (`game.rs`).

use bevy_app::prelude::*;
use bevy_ecs::prelude::*;
use bevy_tasks::{AsyncComputeTaskPool, Task, TaskPoolBuilder, block_on, poll_once};

use crate::Options;
use crate::game::{self, Agent, Map, NewGoals, Path, Swarm, TaskWork};
use crate::map::Grid;
use crate::report::Stats;

/// The search in flight. Replacing or removing it drops the `Task`, which
/// cancels the search: a stale path is never applied.
#[derive(Component)]
pub struct Searching(Task<game::Plan>);

impl Searching {
    /// Whether the search is over (its result not yet taken).
    #[cfg(test)]
    pub fn is_done(&self) -> bool {
        self.0.is_finished()
    }
}

/// A finished search, waiting for `apply_paths`.
#[derive(Component)]
struct Found(Option<game::Plan>);

/// The game with bevy_tasks, without its runner. The pool gets `workers`
/// threads, as many as bevy_coro's workers, but at least one: a pool with
/// none never runs its tasks (`tick_global_task_pools_on_main_thread` ticks
/// only the thread-local executors). It is process-wide (what
/// `TaskPoolPlugin` sets up): the first run sizes it, and a later run asking
/// for another size is an error.
pub fn build_app(options: &Options, grid: Grid) -> Result<App, String> {
    let threads = crate::baseline_threads(options);
    let pool = AsyncComputeTaskPool::get_or_init(|| {
        TaskPoolBuilder::new()
            .num_threads(threads)
            .thread_name("Async Compute Task Pool".to_string())
            .build()
    });
    if pool.thread_num() != threads {
        return Err(format!(
            "the bevy_tasks pool already has {} threads, not {threads}",
            pool.thread_num(),
        ));
    }
    let mut app = App::new();
    game::add_game::<Searching, _>(&mut app, options, grid, plan);
    app.add_systems(
        PreUpdate,
        (poll_searches, apply_paths).chain().in_set(TaskWork),
    );
    Ok(app)
}

/// Starts a search for every agent whose goal changed.
fn plan(
    mut commands: Commands,
    map: Res<Map>,
    mut agents: NewGoals<Searching>,
    mut swarm: ResMut<Swarm>,
    mut stats: ResMut<Stats>,
) {
    let pool = AsyncComputeTaskPool::get();
    for (entity, mut agent, position, goal, replanning) in &mut agents {
        let (from, goal, serial, id) = (position.0, goal.0, swarm.start_plan(&mut agent), agent.id);
        let map = map.0.clone();
        let task = pool.spawn(async move { game::search(&map, serial, id, from, goal) });
        if replanning {
            stats.plans_cancelled += 1;
        }
        commands.entity(entity).insert(Searching(task));
    }
}

/// Every frame, asks each search in flight whether it is done.
fn poll_searches(mut commands: Commands, mut searches: Query<(Entity, &mut Searching)>) {
    for (entity, mut search) in &mut searches {
        if let Some(plan) = block_on(poll_once(&mut search.0)) {
            commands
                .entity(entity)
                .remove::<Searching>()
                .insert(Found(Some(plan)));
        }
    }
}

/// The agents take the paths found this frame.
fn apply_paths(
    mut commands: Commands,
    mut agents: Query<(Entity, &Agent, &mut Path, &mut Found)>,
    swarm: Res<Swarm>,
    mut stats: ResMut<Stats>,
) {
    for (entity, agent, mut path, mut found) in &mut agents {
        let plan = found.0.take().expect("each result is applied once");
        game::follow(plan, agent.latest_plan, &mut path, &mut stats, &swarm);
        commands.entity(entity).remove::<Found>();
    }
}
