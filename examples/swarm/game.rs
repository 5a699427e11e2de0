//! The game both versions share: the map, the agents, their per-frame systems,
//! and what applying a path costs on the main thread. Only the way a path
//! search is run and brought back differs (`coro.rs` and `baseline.rs`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy_app::prelude::*;
use bevy_ecs::prelude::*;
use bevy_ecs::schedule::IntoScheduleConfigs;
use bevy_ecs::system::ScheduleSystem;

use crate::Options;
use crate::astar;
use crate::map::{Cell, Grid};
use crate::report::Stats;
use crate::rng::Rng;

/// The map, shared with the path searches.
#[derive(Resource, Clone)]
pub struct Map(pub Arc<Grid>);

/// An agent's name and its own dice. Every random choice about an agent comes
/// from its own generator, so the game does not depend on the order in which
/// systems visit agents, and both versions replay the same choices.
#[derive(Component)]
pub struct Agent {
    /// Stable across runs: the n-th agent to arrive.
    pub id: u32,
    /// The serial number of the agent's latest plan.
    pub latest_plan: u64,
    /// The frame it arrived on.
    pub arrived: u32,
    rng: Rng,
}

/// Where an agent stands.
#[derive(Component)]
pub struct Position(pub Cell);

/// Where an agent wants to go; changing it starts a new plan.
#[derive(Component)]
pub struct Goal(pub Cell);

/// The path being walked.
#[derive(Component, Default)]
pub struct Path {
    cells: Vec<Cell>,
    next: usize,
    /// Whether any plan ever reached this agent.
    pub ever_routed: bool,
}

/// The game's clock and settings.
#[derive(Resource)]
pub struct Swarm {
    seed: u64,
    next_agent: u32,
    next_plan: u64,
    /// Frames played so far (counted in `Update`).
    pub frame: u32,
    /// Frames to play.
    pub frames: u32,
    /// Busy work per path applied on the main thread (a stand-in for
    /// spawning effects).
    pub main_work: Duration,
}

impl Swarm {
    /// A new game: nothing spawned, frame 0.
    pub fn new(seed: u64, frames: u32, main_work: Duration) -> Swarm {
        Swarm {
            seed,
            next_agent: 0,
            next_plan: 0,
            frame: 0,
            frames,
            main_work,
        }
    }

    /// Gives an agent a new plan number (older plans of it are stale) and
    /// the frame the plan is asked for.
    pub fn start_plan(&mut self, agent: &mut Agent) -> (u64, u32) {
        self.next_plan += 1;
        agent.latest_plan = self.next_plan;
        (self.next_plan, self.frame)
    }

    /// Plans started so far.
    #[cfg(test)]
    pub fn plans_started(&self) -> u64 {
        self.next_plan
    }

    fn new_agent(&mut self, map: &Grid) -> (Agent, Position, Goal, Path) {
        let id = self.next_agent;
        self.next_agent += 1;
        let mut rng = Rng::new(self.seed ^ (u64::from(id) + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
        let start = map.random_cell(&mut rng);
        let goal = map.random_cell(&mut rng);
        let agent = Agent {
            id,
            latest_plan: 0,
            arrived: self.frame,
            rng,
        };
        (agent, Position(start), Goal(goal), Path::default())
    }
}

/// The agents whose goal changed this frame, with whether a plan is in
/// flight (`Planning` is each version's "plan in flight" component): each
/// version's `plan` system starts a plan for them.
pub type NewGoals<'w, 's, Planning> = Query<
    'w,
    's,
    (
        Entity,
        &'static mut Agent,
        &'static Position,
        &'static Goal,
        Has<Planning>,
    ),
    Changed<Goal>,
>;

/// One path search: its inputs and its answer (`None`: unreachable goal).
pub struct Plan {
    /// From [`Swarm::start_plan`].
    pub serial: u64,
    /// The frame the plan was asked for.
    pub asked: u32,
    /// The agent's [`Agent::id`].
    pub agent: u32,
    /// Where the agent stood.
    pub from: Cell,
    /// Where it wanted to go.
    pub goal: Cell,
    /// The path, both ends included.
    pub cells: Option<Vec<Cell>>,
}

/// The worker-side work, identical in both versions: A* on the grid.
pub fn search(map: &Grid, (serial, asked): (u64, u32), agent: u32, from: Cell, goal: Cell) -> Plan {
    Plan {
        serial,
        asked,
        agent,
        from,
        goal,
        cells: astar::find_path(map, from, goal),
    }
}

/// The main-thread side, identical in both versions: the agent takes its
/// path, the run records it, and the game pays `main_work` of busy time.
pub fn follow(plan: Plan, latest_plan: u64, path: &mut Path, stats: &mut Stats, swarm: &Swarm) {
    // Both versions cancel a replaced plan; a stale one arriving is a bug.
    assert_eq!(plan.serial, latest_plan, "a stale plan was applied");
    stats.record(&plan, swarm.frame);
    if let Some(cells) = plan.cells {
        *path = Path {
            cells,
            next: 1,
            ever_routed: true,
        };
    }
    busy(swarm.main_work);
}

/// Spins for `work`: a stand-in for main-thread work per path (spawning
/// effects, updating a nav overlay...). A spin, not a sleep, so it costs CPU.
pub fn busy(work: Duration) {
    if work.is_zero() {
        return;
    }
    let start = Instant::now();
    while start.elapsed() < work {
        std::hint::spin_loop();
    }
}

/// Startup: the first `count` agents arrive.
pub fn spawn_agents(count: usize) -> impl FnMut(Commands, Res<Map>, ResMut<Swarm>) {
    move |mut commands, map, mut swarm| {
        for _ in 0..count {
            commands.spawn(swarm.new_agent(&map.0));
        }
    }
}

/// Agents that are not planning (`Planning` is each version's "plan in
/// flight" component) take one step; at the end of the path they pick a new
/// goal.
pub fn walk<Planning: Component>(
    mut agents: Query<(&mut Agent, &mut Position, &mut Goal, &mut Path), Without<Planning>>,
    map: Res<Map>,
) {
    for (mut agent, mut position, mut goal, mut path) in &mut agents {
        if let Some(&next) = path.cells.get(path.next) {
            position.0 = next;
            path.next += 1;
        } else {
            goal.0 = map.0.random_cell(&mut agent.rng);
        }
    }
}

/// Every two seconds of frames, a tenth of the agents is called elsewhere,
/// whether or not they are still planning: their plans are re-made.
pub fn rally(mut agents: Query<(&mut Agent, &mut Goal)>, map: Res<Map>, mut swarm: ResMut<Swarm>) {
    swarm.frame += 1;
    if !swarm.frame.is_multiple_of(120) {
        return;
    }
    for (mut agent, mut goal) in &mut agents {
        if agent.rng.below(10) == 0 {
            goal.0 = map.0.random_cell(&mut agent.rng);
        }
    }
}

/// Every 150 frames, 2% of the agents leave (despawned, their plans cancelled
/// with them) and as many new ones arrive.
pub fn turnover<Planning: Component>(
    mut commands: Commands,
    mut agents: Query<(Entity, &mut Agent, Has<Planning>)>,
    map: Res<Map>,
    mut swarm: ResMut<Swarm>,
    mut stats: ResMut<Stats>,
) {
    if swarm.frame == 0 || !swarm.frame.is_multiple_of(150) {
        return;
    }
    let mut leaving = 0;
    for (entity, mut agent, planning) in &mut agents {
        if agent.rng.below(50) == 0 {
            commands.entity(entity).despawn();
            leaving += 1;
            stats.plans_cancelled += u64::from(planning);
        }
    }
    for _ in 0..leaving {
        commands.spawn(swarm.new_agent(&map.0));
    }
    stats.despawned += leaving;
}

/// The systems that run tasks or apply their results on the main thread
/// (bevy_coro's pump; the baseline's polling and applying systems): their
/// time is the run's main-thread task work.
#[derive(SystemSet, Debug, Clone, PartialEq, Eq, Hash)]
pub struct TaskWork;

/// Opens the frame's timing.
pub fn frame_start(mut stats: ResMut<Stats>) {
    stats.frame_start = Some(Instant::now());
}

/// Opens the timing of the main-thread task work.
pub fn task_work_start(mut stats: ResMut<Stats>) {
    stats.task_work_start = Some(Instant::now());
}

/// Closes the timing of the main-thread task work.
pub fn task_work_end(mut stats: ResMut<Stats>) {
    if let Some(start) = stats.task_work_start.take() {
        stats.task_work_times.push(start.elapsed());
    }
}

/// Closes the frame's timing.
pub fn frame_end(mut stats: ResMut<Stats>) {
    if let Some(start) = stats.frame_start.take() {
        stats.frame_times.push(start.elapsed());
    }
}

/// Adds the game to `app`: the map, the agents, their systems and the
/// timings. `plan` is the version's system that starts the plans; it runs
/// after the game moved the agents, as the last of `Update`.
pub fn add_game<Planning: Component, M>(
    app: &mut App,
    options: &Options,
    grid: Grid,
    plan: impl IntoScheduleConfigs<ScheduleSystem, M>,
) {
    app.insert_resource(Swarm::new(options.seed, options.frames, options.main_work))
        .insert_resource(Map(Arc::new(grid)))
        .init_resource::<Stats>()
        .add_systems(Startup, spawn_agents(options.agents))
        .add_systems(First, frame_start)
        .add_systems(
            PreUpdate,
            (
                task_work_start.before(TaskWork),
                task_work_end.after(TaskWork),
            ),
        )
        .add_systems(
            Update,
            (walk::<Planning>, rally, turnover::<Planning>, plan).chain(),
        )
        .add_systems(Last, frame_end);
}
