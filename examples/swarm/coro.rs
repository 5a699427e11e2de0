//! The task plumbing with bevy_coro: one task per plan searches on a worker
//! and applies the path back on the main thread. No polling system; the
//! `Task` handle is kept only so that a new plan cancels the old one.
//! Compare with `baseline.rs`.

use std::fmt::Write as _;
use std::time::Duration;

use bevy_app::prelude::*;
use bevy_coro::prelude::*;
use bevy_coro::{CoroScheduler, CoroStats};
use bevy_ecs::prelude::*;

use crate::Options;
use crate::game::{self, Agent, Map, NewGoals, Path, Swarm, TaskWork};
use crate::map::Grid;
use crate::report::Stats;

/// The plan in flight. Replacing or removing it drops the `Task`, which
/// cancels the plan: a stale path is never applied.
#[derive(Component)]
pub struct Planning(Task<()>);

/// The game with bevy_coro, without its runner (so a test can drive it frame
/// by frame).
pub fn build_app(options: &Options, grid: Grid) -> App {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: options.workers,
        worker_priority: options.worker_priority,
        main_budget: options.budget,
        frame_hold: options.frame_hold,
        keep_main_core: options.keep_main_core,
        main_slice: options.main_slice,
        mode: options.coro_mode,
        track_tasks: options.inspect.is_some(),
        ..Default::default()
    });
    game::add_game::<Planning, _>(&mut app, options, grid, plan);
    if let Some(every) = options.inspect {
        crate::inspect::add(&mut app, every);
    }
    app.configure_sets(PreUpdate, CoroSystems::Pump.in_set(TaskWork))
        .add_systems(Last, scheduler_counters);
    app
}

/// Starts a plan for every agent whose goal changed: one task searches on a
/// worker and applies the path on the main thread (`with_world` hops there).
/// It starts on a worker right away: a task started on `Main` from a system
/// would first wait for the next frame's pump, a frame later than bevy_tasks.
fn plan(
    mut commands: Commands,
    coro: Res<Coro>,
    map: Res<Map>,
    mut agents: NewGoals<Planning>,
    mut swarm: ResMut<Swarm>,
    mut stats: ResMut<Stats>,
) {
    for (entity, mut agent, position, goal, replanning) in &mut agents {
        let (from, goal, serial, id) = (position.0, goal.0, swarm.start_plan(&mut agent), agent.id);
        let map = map.0.clone();
        // A re-plan while a plan is in flight is urgent: the agent is waiting.
        let priority = if replanning {
            Priority::High
        } else {
            Priority::Normal
        };
        // Tied to the agent: despawning it cancels the plan wherever it is.
        let builder = coro.task("plan").for_entity(entity).priority(priority);
        let task = builder.spawn::<Worker>(async move {
            let plan = game::search(&map, serial, id, from, goal);
            with_world(move |world| apply_path(world, entity, plan)).await;
        });
        if replanning {
            stats.plans_cancelled += 1;
        }
        commands.entity(entity).insert(Planning(task));
    }
}

/// Runs inside the plan's task, on the main thread: the agent takes its path.
fn apply_path(world: &mut World, entity: Entity, plan: game::Plan) {
    world.resource_scope(|world, swarm: Mut<Swarm>| {
        world.resource_scope(|world, mut stats: Mut<Stats>| {
            let Ok(mut agent) = world.get_entity_mut(entity) else {
                return;
            };
            // This task is the plan: let it finish rather than cancel itself.
            if let Some(Planning(task)) = agent.take::<Planning>() {
                task.detach();
            }
            let latest_plan = agent.get::<Agent>().unwrap().latest_plan;
            let mut path = agent.get_mut::<Path>().unwrap();
            game::follow(plan, latest_plan, &mut path, &mut stats, &swarm);
        });
    });
}

/// Adds the scheduler's own counters to the run's.
fn scheduler_counters(
    mut stats: ResMut<Stats>,
    coro_stats: Res<CoroStats>,
    scheduler: Res<CoroScheduler>,
) {
    stats.main_polls += coro_stats.main_polled as u64;
    if let Some(cpu) = coro_stats.pump_cpu_time {
        stats.pump_cpu_max = stats.pump_cpu_max.max(cpu);
        if let (Some(budget), Some(poll)) = (scheduler.main_budget, coro_stats.longest_poll) {
            stats.pumps_over_budget_on_cpu += u64::from(cpu > budget + poll);
        }
    }
    stats.max_worker_queue = stats.max_worker_queue.max(coro_stats.worker_queue);
}

/// The scheduler's line of the report.
pub fn scheduler_line(world: &World) -> String {
    let stats = world.resource::<Stats>();
    let coro = world.resource::<CoroStats>();
    let runtime = world.resource::<Coro>().stats();
    let workers = runtime.workers;
    let ms = |time: Option<Duration>| {
        time.map_or("–".to_string(), |time| {
            format!("{:.3}", time.as_secs_f64() * 1e3)
        })
    };
    let longest = coro.longest_pump;
    let mut line = format!(
        "{} main-thread polls, longest pump {} ms ({} ms of it on the CPU, longest poll {} ms; by CoroStats), longest pump on the CPU {} ms",
        stats.main_polls,
        ms(Some(longest.time)),
        ms(longest.cpu_time),
        ms(longest.longest_poll),
        ms(Some(stats.pump_cpu_max)),
    );
    if world.resource::<CoroScheduler>().main_budget.is_some() {
        write!(
            line,
            ", {} pumps over budget + longest poll on the CPU",
            stats.pumps_over_budget_on_cpu
        )
        .unwrap();
    }
    write!(
        line,
        ", worker queue peak {}, {} tasks in flight at the end, {} panics, {} of {} workers at background priority, {}, {} polls by the rescue thread",
        stats.max_worker_queue,
        coro.in_flight,
        coro.panics,
        workers.background,
        world.resource::<Coro>().worker_count(),
        workers
            .main_core
            .map_or("sharing every core".to_string(), |core| format!("keeping off core {core}")),
        workers.rescued,
    )
    .unwrap();
    write!(
        line,
        ", main thread's time slice {} ms at the end (the long one taken {} times)",
        ms(this_thread_slice()),
        runtime.main_slice_raised,
    )
    .unwrap();
    line
}

/// The calling (main) thread's time slice as the kernel reports it (Linux
/// 6.12 and later): `CoroPlugin::main_slice` at work.
fn this_thread_slice() -> Option<Duration> {
    let sched = std::fs::read_to_string("/proc/thread-self/sched").ok()?;
    let line = sched.lines().find(|line| line.starts_with("se.slice"))?;
    let nanos = line.split(':').nth(1)?.trim().parse().ok()?;
    Some(Duration::from_nanos(nanos))
}
