//! The showcase: a headless swarm. Agents walk a grid map; each agent's path is
//! found by A* on a worker and applied back on the main thread, in one task,
//! and re-planned when its goal changes. It ends with a short report.
//!
//! ```text
//! cargo run --release --example swarm -- [--agents N] [--frames N] [--workers N]
//!                                        [--fps N] [--seed N] [--map FILE.map]
//!                                        [--baseline bevy_tasks | --compare [--coro-first]]
//!                                        [--main-work-us N] [--budget-ms N]
//!                                        [--plot FILE.svg]
//!                                        [--worker-priority background | normal]
//!                                        [--frame-hold-ms N] [--keep-main-core on|off] [--main-slice-ms N]
//!                                        [--inspect N]
//! cargo run --release --example swarm -- --write-map maze | rooms FILE.map [--seed N]
//! ```
//!
//! `--baseline bevy_tasks` plays the same game with the task plumbing a Bevy
//! user writes today (`baseline.rs`, to read beside `coro.rs`); `--compare`
//! plays both, one after the other (bevy_tasks first, or bevy_coro with
//! `--coro-first`: to check that the order moves no figure), and prints a
//! table side by side.
//! `--write-map` writes a generated map in the Moving AI format and plays
//! nothing: `assets/maze.map` and `assets/rooms.map` are those of seed 7.
//! bevy_coro's workers run at `WorkerPriority::Background` unless
//! `--worker-priority normal` is given (the baseline's pool is always normal).
//! `--workers 0` plays bevy_coro single-threaded, as on the web: the pump
//! runs the searches on the main thread. bevy_tasks' pool runs no task
//! without a thread of its own, so the baseline then gets 1, and says so.
//!
//! `--inspect N` prints, every N frames, a top-like table of bevy_coro's
//! live tasks (by state and by name, the oldest not running) and, with
//! `--features diagnostics`, the scheduler's Bevy diagnostics (`inspect.rs`).
//!
//! With `--features tracy`, it installs a Tracy layer and prints how to
//! connect the Tracy profiler.

mod astar;
mod baseline;
mod coro;
mod game;
mod inspect;
mod map;
mod mapgen;
mod plot;
mod report;
mod rng;
mod run;

use std::fmt::Write as _;
use std::time::Duration;

use bevy_coro::prelude::*;

use bevy_coro::{CoroMode, WorkerPriority};

use map::Grid;
use report::Summary;

/// Which task plumbing plays the game.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Version {
    /// bevy_coro: one task per plan (`coro.rs`).
    Coro,
    /// bevy_tasks: a task in a component, polled by a system (`baseline.rs`).
    BevyTasks,
}

/// Command-line settings.
struct Options {
    agents: usize,
    frames: u32,
    workers: usize,
    fps: u32,
    seed: u64,
    map: Option<String>,
    version: Version,
    /// Play both versions and print them side by side.
    compare: bool,
    /// With `compare`: play bevy_coro first.
    coro_first: bool,
    /// Busy work per path applied on the main thread.
    main_work: Duration,
    /// bevy_coro's pump budget per frame (`CoroPlugin::main_budget`).
    budget: Option<Duration>,
    /// Where to draw the frame-time chart.
    plot: Option<String>,
    /// bevy_coro's `CoroPlugin::worker_priority`.
    worker_priority: WorkerPriority,
    /// bevy_coro's `CoroPlugin::frame_hold` (`--frame-hold-ms 0`: `None`).
    frame_hold: Option<Duration>,
    /// bevy_coro's `CoroPlugin::keep_main_core` (`--keep-main-core off`).
    keep_main_core: bool,
    /// bevy_coro's `CoroPlugin::main_slice` (`--main-slice-ms 0`: `None`).
    main_slice: Option<Duration>,
    /// `--write-map KIND FILE`: write a generated map (see `mapgen::generated`)
    /// instead of playing.
    write_map: Option<(String, String)>,
    /// `--inspect N`: print the live task table every N frames.
    inspect: Option<u32>,
    /// Not a flag: tests replay bevy_coro in its deterministic mode.
    coro_mode: CoroMode,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            agents: 1_000,
            frames: 300,
            workers: CoroPlugin::default().workers,
            fps: 60,
            seed: 7,
            map: None,
            version: Version::Coro,
            compare: false,
            coro_first: false,
            main_work: Duration::ZERO,
            budget: None,
            plot: None,
            worker_priority: WorkerPriority::Background,
            frame_hold: CoroPlugin::default().frame_hold,
            keep_main_core: true,
            main_slice: CoroPlugin::default().main_slice,
            write_map: None,
            inspect: None,
            coro_mode: CoroMode::Threaded,
        }
    }
}

const USAGE: &str = "usage: swarm [--agents N] [--frames N] [--workers N] [--fps N (0: uncapped)] \
                     [--seed N] [--map FILE.map] [--baseline bevy_tasks | --compare [--coro-first]] \
                     [--main-work-us N] [--budget-ms N] [--plot FILE.svg] \
                     [--worker-priority background | normal] [--frame-hold-ms N (0: off)] [--keep-main-core on | off] [--main-slice-ms N (0: off)] [--inspect N] \
                     | --write-map maze|rooms FILE.map [--seed N]";

fn parse_options(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
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
            "--baseline" => match value()?.as_str() {
                "bevy_tasks" => options.version = Version::BevyTasks,
                other => return Err(format!("--baseline: `{other}` is not one (try bevy_tasks)")),
            },
            "--compare" => options.compare = true,
            "--coro-first" => options.coro_first = true,
            "--main-work-us" => options.main_work = Duration::from_micros(number(value()?)?),
            "--budget-ms" => options.budget = Some(Duration::from_millis(number(value()?)?)),
            "--plot" => options.plot = Some(value()?),
            "--keep-main-core" => match value()?.as_str() {
                "on" => options.keep_main_core = true,
                "off" => options.keep_main_core = false,
                other => return Err(format!("--keep-main-core: `{other}` is not on or off")),
            },
            "--main-slice-ms" => {
                let ms = number(value()?)?;
                options.main_slice = (ms > 0).then(|| Duration::from_millis(ms));
            }
            "--frame-hold-ms" => {
                let ms = number(value()?)?;
                options.frame_hold = (ms > 0).then(|| Duration::from_millis(ms));
            }
            "--inspect" => options.inspect = Some(number(value()?)?.max(1) as u32),
            "--worker-priority" => {
                options.worker_priority = match value()?.as_str() {
                    "background" => WorkerPriority::Background,
                    "normal" => WorkerPriority::Normal,
                    other => {
                        return Err(format!(
                            "--worker-priority: `{other}` is not one (try background or normal)"
                        ));
                    }
                }
            }
            "--write-map" => {
                let kind = value()?;
                options.write_map = Some((kind, value()?));
            }
            "--help" | "-h" => return Err(USAGE.into()),
            other => return Err(format!("unknown flag `{other}` (try --help)")),
        }
    }
    if options.agents == 0 || options.frames == 0 {
        return Err("--agents and --frames must be at least 1".into());
    }
    if options.coro_first && !options.compare {
        return Err("--coro-first orders the versions of --compare: give both".into());
    }
    if options.budget == Some(Duration::ZERO) {
        return Err("--budget-ms must be at least 1".into());
    }
    Ok(options)
}

/// The bevy_tasks pool's threads: as many as bevy_coro's workers, and at
/// least one (a pool without threads never runs what it is given).
fn baseline_threads(options: &Options) -> usize {
    options.workers.max(1)
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
    let outcome = parse_options(std::env::args().skip(1)).and_then(|options| {
        if let Some((kind, file)) = &options.write_map {
            return write_map(kind, file, options.seed);
        }
        let (grid, source) = load_map(&options)?;
        run(&options, grid, &source, &mut |text| print!("{text}"))
    });
    if let Err(message) = outcome {
        eprintln!("swarm: {message}");
        std::process::exit(2);
    }
}

/// Writes the generated map `kind` to `file`.
fn write_map(kind: &str, file: &str, seed: u64) -> Result<(), String> {
    let grid = mapgen::generated(kind, seed)
        .ok_or_else(|| format!("--write-map: `{kind}` is not one (try maze or rooms)"))?;
    std::fs::write(file, grid.to_map_text())
        .map_err(|error| format!("cannot write {file}: {error}"))?;
    println!(
        "{file}: {kind} map, seed {seed}, {}x{}, {} usable cells",
        grid.width,
        grid.height,
        grid.usable_cells()
    );
    Ok(())
}

/// The map from `--map`, or one generated from the seed, and where it came from.
fn load_map(options: &Options) -> Result<(Grid, String), String> {
    match &options.map {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .map_err(|error| format!("cannot read {path}: {error}"))?;
            let grid = Grid::parse(&text).map_err(|error| format!("{path}: {error}"))?;
            Ok((grid, path.clone()))
        }
        None => Ok((
            Grid::generate(128, 128, options.seed),
            format!("generated, seed {}", options.seed),
        )),
    }
}

/// Plays the version(s) the options ask for and reports through `out` as it
/// goes (a comparison takes two runs).
fn run(
    options: &Options,
    grid: Grid,
    source: &str,
    out: &mut dyn FnMut(&str),
) -> Result<(), String> {
    let what = if options.compare && options.coro_first {
        "frame health, bevy_coro then bevy_tasks"
    } else if options.compare {
        "frame health, bevy_tasks then bevy_coro"
    } else if options.version == Version::BevyTasks {
        "bevy_tasks swarm (the baseline)"
    } else {
        "bevy_coro swarm"
    };
    let workers = if options.workers > 0 {
        format!("{} workers", options.workers)
    } else if options.compare || options.version == Version::BevyTasks {
        "bevy_coro single-threaded (0 workers: the pump runs the searches), \
         bevy_tasks on 1 worker (its pool runs no task with 0)"
            .to_string()
    } else {
        "single-threaded (0 workers: the pump runs the searches)".to_string()
    };
    let mut header = format!(
        "{what}: {} agents on a {}x{} map ({source}, {} usable cells), {workers}, {} frames at {}",
        options.agents,
        grid.width,
        grid.height,
        grid.usable_cells(),
        options.frames,
        if options.fps == 0 {
            "uncapped fps".to_string()
        } else {
            format!("{} fps", options.fps)
        },
    );
    if !options.main_work.is_zero() {
        write!(
            header,
            ", {} µs of main-thread work per path",
            options.main_work.as_micros()
        )
        .unwrap();
    }
    if let Some(budget) = options.budget {
        write!(header, ", pump budget {} ms", budget.as_millis()).unwrap();
    }
    if options.workers > 0 && (options.compare || options.version == Version::Coro) {
        let priority = match options.worker_priority {
            WorkerPriority::Background => "background",
            _ => "normal",
        };
        write!(header, ", bevy_coro workers at {priority} priority").unwrap();
        if options.frame_hold != CoroPlugin::default().frame_hold {
            match options.frame_hold {
                Some(hold) => write!(header, ", frame hold {} ms", hold.as_millis()).unwrap(),
                None => header.push_str(", no frame hold"),
            }
        }
        if !options.keep_main_core {
            header.push_str(", workers may share the main thread's core");
        }
    }
    out(&format!("{header}\n"));
    let mut runs: Vec<(&str, Summary)> = Vec::new();
    // With `--coro-first`, bevy_coro plays first; the table and the chart
    // still show bevy_tasks first.
    let coro_first = options.compare && options.coro_first;
    if coro_first {
        runs.push(("bevy_coro", play(Version::Coro, options, grid.clone())?));
    }
    if options.compare || options.version == Version::BevyTasks {
        runs.push((
            "bevy_tasks",
            play(Version::BevyTasks, options, grid.clone())?,
        ));
    }
    if !coro_first && (options.compare || options.version == Version::Coro) {
        runs.push(("bevy_coro", play(Version::Coro, options, grid)?));
    }
    // bevy_tasks first, whichever played first: the table and the chart
    // take it from there.
    runs.sort_by_key(|(name, _)| *name != "bevy_tasks");
    if let [(_, baseline), (_, coro)] = runs.as_slice() {
        out(&report::compare_table(baseline, coro));
    } else if let [(name, summary)] = runs.as_slice() {
        let label = if *name == "bevy_coro" {
            "pump (main thread)"
        } else {
            "poll + apply (main)"
        };
        out(&report::single(summary, label));
    }
    if let Some(file) = &options.plot {
        let runs: Vec<(&str, &Summary)> = runs.iter().map(|(name, run)| (*name, run)).collect();
        plot::draw(file, &runs, options.budget)?;
        out(&format!("chart: {file}\n"));
    }
    Ok(())
}

/// Builds one version, plays it to the end and drops it (joining its threads).
fn play(version: Version, options: &Options, grid: Grid) -> Result<Summary, String> {
    let mut app = match version {
        Version::Coro => coro::build_app(options, grid),
        Version::BevyTasks => baseline::build_app(options, grid)?,
    };
    run::play(&mut app, options.fps);
    let scheduler = (version == Version::Coro).then(|| coro::scheduler_line(app.world()));
    let second = if options.fps == 0 { 60 } else { options.fps };
    Ok(run::summarize(&mut app, second, scheduler))
}

#[cfg(test)]
mod tests;
