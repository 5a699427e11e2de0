//! The showcase: a headless swarm. Agents walk a grid map; each agent's path is
//! found by A* on a worker and applied back on the main thread, in one task,
//! and re-planned when its goal changes. It ends with a short report.
//!
//! ```text
//! cargo run --release --example swarm -- [--agents N] [--frames N] [--workers N]
//!                                        [--fps N] [--seed N] [--map FILE.map]
//! ```
//!
//! With `--features tracy`, it installs a Tracy layer and prints how to
//! connect the Tracy profiler.

mod astar;
mod map;
mod report;
mod rng;

use std::sync::Arc;
use std::time::{Duration, Instant};

use bevy_app::prelude::*;
use bevy_app::{AppExit, ScheduleRunnerPlugin};
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;

use map::{Cell, Grid};
use report::Stats;
use rng::Rng;

/// Command-line settings.
struct Options {
    agents: usize,
    frames: u32,
    workers: usize,
    fps: u32,
    seed: u64,
    map: Option<String>,
}

fn parse_options() -> Result<Options, String> {
    let mut options = Options {
        agents: 1_000,
        frames: 300,
        workers: CoroPlugin::default().workers,
        fps: 60,
        seed: 7,
        map: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        let number = |text: String| {
            text.parse::<u64>()
                .map_err(|_| format!("{flag}: `{text}` is not a number"))
        };
        match flag.as_str() {
            "--agents" => options.agents = number(value()?)? as usize,
            "--frames" => options.frames = number(value()?)? as u32,
            "--workers" => options.workers = number(value()?)? as usize,
            "--fps" => options.fps = number(value()?)? as u32,
            "--seed" => options.seed = number(value()?)?,
            "--map" => options.map = Some(value()?),
            "--help" | "-h" => {
                return Err(
                    "usage: swarm [--agents N] [--frames N] [--workers N] [--fps N (0: uncapped)] \
                            [--seed N] [--map FILE.map]"
                        .into(),
                );
            }
            other => return Err(format!("unknown flag `{other}` (try --help)")),
        }
    }
    if options.agents == 0 || options.frames == 0 || options.workers == 0 {
        return Err("--agents, --frames and --workers must be at least 1".into());
    }
    Ok(options)
}

/// The map, shared with the planning tasks.
#[derive(Resource, Clone)]
struct Map(Arc<Grid>);

/// Where an agent stands.
#[derive(Component)]
struct Position(Cell);

/// Where an agent wants to go; changing it starts a new plan.
#[derive(Component)]
struct Goal(Cell);

/// The path being walked.
#[derive(Component, Default)]
struct Path {
    cells: Vec<Cell>,
    next: usize,
    ever_routed: bool,
}

/// The plan in flight. Replacing or removing it drops the `Task`, which
/// cancels the plan: a stale path is never applied.
#[derive(Component)]
struct Planning(Task<()>);

#[derive(Resource)]
struct Swarm {
    rng: Rng,
    frame: u32,
    frames: u32,
}

/// Sends every span (tasks, pumps, Bevy systems) to Tracy: the client listens
/// on localhost for the profiler.
#[cfg(feature = "tracy")]
fn install_tracy() {
    use tracing_subscriber::layer::SubscriberExt;
    let subscriber = tracing_subscriber::registry().with(tracing_tracy::TracyLayer::default());
    tracing::subscriber::set_global_default(subscriber)
        .expect("a tracing subscriber was already installed");
    println!(
        "tracy: the profiling client listens on 127.0.0.1:8086; start the Tracy profiler \
         and connect to localhost (each task poll is a span named after the task)"
    );
}

fn main() {
    #[cfg(feature = "tracy")]
    install_tracy();
    let options = parse_options().unwrap_or_else(|message| {
        eprintln!("swarm: {message}");
        std::process::exit(2);
    });
    let (grid, source) = match &options.map {
        Some(path) => {
            let text = std::fs::read_to_string(path).unwrap_or_else(|error| {
                eprintln!("swarm: cannot read {path}: {error}");
                std::process::exit(2);
            });
            let grid = Grid::parse(&text).unwrap_or_else(|error| {
                eprintln!("swarm: {path}: {error}");
                std::process::exit(2);
            });
            (grid, path.clone())
        }
        None => (
            Grid::generate(128, 128, options.seed),
            format!("generated, seed {}", options.seed),
        ),
    };
    println!(
        "bevy_coro swarm: {} agents on a {}x{} map ({source}, {} usable cells), {} workers, {} frames at {}",
        options.agents,
        grid.width,
        grid.height,
        grid.usable_cells(),
        options.workers,
        options.frames,
        if options.fps == 0 {
            "uncapped fps".to_string()
        } else {
            format!("{} fps", options.fps)
        },
    );

    let wait = if options.fps == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs(1) / options.fps
    };
    let mut app = build_app(&options, grid);
    app.add_plugins(ScheduleRunnerPlugin::run_loop(wait));
    app.run();
}

/// The game, without its runner (so a test can drive it frame by frame).
fn build_app(options: &Options, grid: Grid) -> App {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers: options.workers,
        ..Default::default()
    })
    .insert_resource(Swarm {
        rng: Rng::new(options.seed),
        frame: 0,
        frames: options.frames,
    })
    .insert_resource(Map(Arc::new(grid)))
    .init_resource::<Stats>()
    .add_systems(Startup, spawn_agents(options.agents))
    .add_systems(First, frame_start)
    .add_systems(
        PreUpdate,
        (
            pump_start.before(CoroSystems::Pump),
            pump_end.after(CoroSystems::Pump),
        ),
    )
    .add_systems(Update, (walk, rally, turnover, plan).chain())
    .add_systems(Last, frame_end);
    app
}

fn spawn_agents(count: usize) -> impl FnMut(Commands, Res<Map>, ResMut<Swarm>) {
    move |mut commands, map, mut swarm| {
        for _ in 0..count {
            let start = map.0.random_cell(&mut swarm.rng);
            let goal = map.0.random_cell(&mut swarm.rng);
            commands.spawn((Position(start), Goal(goal), Path::default()));
        }
    }
}

/// Starts a plan for every agent whose goal changed: read the World on the main
/// thread, search on a worker, apply on the main thread, all in one task.
fn plan(
    mut commands: Commands,
    coro: Res<Coro>,
    agents: Query<(Entity, &Goal, Has<Planning>), Changed<Goal>>,
    mut stats: ResMut<Stats>,
) {
    for (entity, goal, replanning) in &agents {
        let goal = goal.0;
        // A re-plan while a plan is in flight is urgent: the agent is waiting.
        let priority = if replanning {
            Priority::High
        } else {
            Priority::Normal
        };
        // Tied to the agent: despawning it cancels the plan wherever it is.
        let builder = coro.task("plan").for_entity(entity).priority(priority);
        let task = builder.spawn::<Main>(async move {
            let Some((map, from)) = with_world(move |world| {
                let from = world.get::<Position>(entity)?.0;
                Some((world.resource::<Map>().clone(), from))
            })
            .await
            else {
                return; // the agent is gone
            };
            let path = async move { astar::find_path(&map.0, from, goal) }
                .on::<Worker>()
                .await;
            with_world(move |world| apply_path(world, entity, path)).await;
        });
        if replanning {
            stats.plans_cancelled += 1;
        }
        commands.entity(entity).insert(Planning(task));
    }
}

/// Runs inside the plan's task, on the main thread: the agent takes its path.
fn apply_path(world: &mut World, entity: Entity, path: Option<Vec<Cell>>) {
    let found = path.is_some();
    let Ok(mut agent) = world.get_entity_mut(entity) else {
        return;
    };
    // This task is the plan: let it finish rather than cancel itself.
    if let Some(Planning(task)) = agent.take::<Planning>() {
        task.detach();
    }
    if let Some(cells) = path {
        *agent.get_mut::<Path>().unwrap() = Path {
            cells,
            next: 1,
            ever_routed: true,
        };
    }
    let mut stats = world.resource_mut::<Stats>();
    stats.plans_done += 1;
    stats.unreachable += u64::from(!found);
}

/// Agents that are not planning take one step; at the end of the path they
/// pick a new goal.
fn walk(
    mut agents: Query<(&mut Position, &mut Goal, &mut Path), Without<Planning>>,
    map: Res<Map>,
    mut swarm: ResMut<Swarm>,
) {
    for (mut position, mut goal, mut path) in &mut agents {
        if let Some(&next) = path.cells.get(path.next) {
            position.0 = next;
            path.next += 1;
        } else {
            goal.0 = map.0.random_cell(&mut swarm.rng);
        }
    }
}

/// Every two seconds of frames, a tenth of the agents is called elsewhere,
/// whether or not they are still planning: their plans are re-made.
/// Every 150 frames, 2% of the agents leave (despawned, their tasks cancelled
/// with them) and as many new ones arrive.
fn turnover(
    mut commands: Commands,
    agents: Query<Entity, With<Path>>,
    map: Res<Map>,
    mut swarm: ResMut<Swarm>,
    mut stats: ResMut<Stats>,
) {
    if swarm.frame == 0 || !swarm.frame.is_multiple_of(150) {
        return;
    }
    let mut leaving = 0;
    for entity in &agents {
        if swarm.rng.below(50) == 0 {
            commands.entity(entity).despawn();
            leaving += 1;
        }
    }
    for _ in 0..leaving {
        let start = map.0.random_cell(&mut swarm.rng);
        let goal = map.0.random_cell(&mut swarm.rng);
        commands.spawn((Position(start), Goal(goal), Path::default()));
    }
    stats.despawned += leaving;
}

fn rally(mut agents: Query<&mut Goal>, map: Res<Map>, mut swarm: ResMut<Swarm>) {
    swarm.frame += 1;
    if !swarm.frame.is_multiple_of(120) {
        return;
    }
    for mut goal in &mut agents {
        if swarm.rng.below(10) == 0 {
            goal.0 = map.0.random_cell(&mut swarm.rng);
        }
    }
}

fn frame_start(mut stats: ResMut<Stats>) {
    stats.frame_start = Some(Instant::now());
}

fn pump_start(mut stats: ResMut<Stats>) {
    stats.pump_start = Some(Instant::now());
}

fn pump_end(mut stats: ResMut<Stats>) {
    if let Some(start) = stats.pump_start.take() {
        stats.pump_times.push(start.elapsed());
    }
}

/// Closes the frame's timing; after the last frame, prints the report and exits.
fn frame_end(
    mut stats: ResMut<Stats>,
    swarm: Res<Swarm>,
    coro_stats: Res<CoroStats>,
    paths: Query<&Path>,
    mut exit: MessageWriter<AppExit>,
) {
    if let Some(start) = stats.frame_start.take() {
        stats.frame_times.push(start.elapsed());
    }
    stats.main_polls += coro_stats.main_polled as u64;
    stats.max_worker_queue = stats.max_worker_queue.max(coro_stats.worker_queue);
    if swarm.frame == swarm.frames {
        stats.finished = Some(Instant::now());
        let never_routed = paths.iter().filter(|path| !path.ever_routed).count();
        report::print(&stats, &coro_stats, never_routed);
        exit.write(AppExit::Success);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "tracy")]
    #[test]
    fn the_tracy_client_accepts_a_profiler_connection() {
        use std::net::TcpStream;
        if TcpStream::connect("127.0.0.1:8086").is_ok() {
            println!("skipped: something already listens on 127.0.0.1:8086");
            return;
        }
        install_tracy();
        let start = Instant::now();
        while let Err(error) = TcpStream::connect("127.0.0.1:8086") {
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "tracy never listened: {error}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    #[test]
    fn every_agent_gets_a_path_through_its_task() {
        let options = Options {
            agents: 200,
            frames: u32::MAX,
            workers: 2,
            fps: 0,
            seed: 3,
            map: None,
        };
        let mut app = build_app(&options, Grid::generate(64, 64, options.seed));
        let start = Instant::now();
        loop {
            app.update();
            let world = app.world_mut();
            let unrouted = world
                .query::<&Path>()
                .iter(world)
                .filter(|path| !path.ever_routed)
                .count();
            let frame = world.resource::<Swarm>().frame;
            // Past two rallies, so goals changed while plans were in flight.
            if unrouted == 0 && frame > 240 {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{unrouted} agents still unrouted"
            );
        }
        let stats = app.world().resource::<Stats>();
        assert!(stats.plans_done >= 200, "{} plans done", stats.plans_done);
        assert_eq!(
            stats.unreachable, 0,
            "goals are picked in one connected region"
        );
        assert_eq!(stats.frame_times.len(), stats.pump_times.len());
    }
}
