//! The swarm's tests: each version routes every agent, both versions do the
//! same work, a pump budget loses or repeats no path, and `--compare` prints
//! a table that parses. No timing is asserted.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bevy_app::App;
use bevy_coro::prelude::Coro;
use bevy_coro::{CoroMode, CoroStats};
use bevy_ecs::prelude::*;

use crate::game::{Agent, Path, Swarm};
use crate::map::{self, Grid};
use crate::report::Stats;
use crate::{Options, baseline, coro};

/// A small game: 2 workers (the baseline's pool is process-wide, so every
/// test asks for the same size), uncapped frames.
fn small(agents: usize, seed: u64) -> Options {
    Options {
        agents,
        frames: u32::MAX,
        workers: 2,
        fps: 0,
        seed,
        ..Options::default()
    }
}

fn unrouted(app: &mut App) -> usize {
    let world = app.world_mut();
    world
        .query::<&Path>()
        .iter(world)
        .filter(|path| !path.ever_routed)
        .count()
}

#[cfg(feature = "tracy")]
#[test]
fn the_tracy_client_accepts_a_profiler_connection() {
    use std::net::TcpStream;
    if TcpStream::connect("127.0.0.1:8086").is_ok() {
        println!("skipped: something already listens on 127.0.0.1:8086");
        return;
    }
    crate::install_tracy();
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
    let options = small(200, 3);
    let mut app = coro::build_app(&options, Grid::generate(64, 64, options.seed));
    let start = Instant::now();
    loop {
        app.update();
        let unrouted = unrouted(&mut app);
        let frame = app.world().resource::<Swarm>().frame;
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
    assert_eq!(stats.frame_times.len(), stats.task_work_times.len());
}

/// Plays `frames` frames in lockstep: every search started in a frame is
/// over before the next frame, so both versions apply it in that next frame.
/// bevy_coro gets there in its deterministic mode (worker tasks run in the
/// pump); the baseline by waiting for its pool.
fn lockstep(mut app: App, frames: u32) -> Stats {
    for _ in 0..frames {
        app.update();
        let world = app.world_mut();
        let mut searches = world.query::<&baseline::Searching>();
        let start = Instant::now();
        while !searches.iter(world).all(baseline::Searching::is_done) {
            assert!(start.elapsed() < Duration::from_secs(30), "a search hangs");
            std::thread::yield_now();
        }
    }
    app.world_mut().remove_resource::<Stats>().unwrap()
}

#[test]
fn both_versions_find_the_same_paths() {
    let options = Options {
        coro_mode: CoroMode::Deterministic {
            seed: 1,
            panic_on_deadlock: true,
        },
        ..small(60, 11)
    };
    let grid = Grid::generate(32, 32, options.seed);
    // Past two rallies (re-plans in flight) and two turnovers (departures).
    let frames = 310;
    let ours = lockstep(coro::build_app(&options, grid.clone()), frames);
    let theirs = lockstep(baseline::build_app(&options, grid).unwrap(), frames);
    // Plan serials follow the order systems visit agents, which the two
    // versions' archetypes change; the rest must match.
    let work = |stats: &Stats| {
        let mut plans: Vec<_> = stats
            .applied
            .iter()
            .map(|plan| (plan.agent, plan.from, plan.goal, plan.path_hash))
            .collect();
        plans.sort();
        plans
    };
    let (ours_applied, theirs_applied) = (work(&ours), work(&theirs));
    assert!(ours_applied.len() > 120, "{} plans", ours_applied.len());
    assert!(
        ours.despawned > 0,
        "no agent left: the test misses departures"
    );
    assert_eq!(ours_applied.len(), theirs_applied.len());
    assert!(
        ours_applied == theirs_applied,
        "the versions applied different (agent, from, goal, path) sets"
    );
    assert_eq!(ours.plans_cancelled, theirs.plans_cancelled);
    assert_eq!(ours.despawned, theirs.despawned);
}

/// Started = applied + cancelled + still in flight, and no plan applied
/// twice: a path is neither lost nor repeated.
fn check_every_plan_accounted_for<Planning: Component>(app: &mut App) {
    let world = app.world_mut();
    let in_flight = world
        .query_filtered::<(), With<Planning>>()
        .iter(world)
        .count() as u64;
    let latest: Vec<(u64, bool)> = world
        .query::<(&Agent, Has<Planning>)>()
        .iter(world)
        .map(|(agent, planning)| (agent.latest_plan, planning))
        .collect();
    let started = world.resource::<Swarm>().plans_started();
    let stats = world.resource::<Stats>();
    let applied: HashSet<u64> = stats.applied.iter().map(|plan| plan.serial).collect();
    assert_eq!(
        applied.len(),
        stats.applied.len(),
        "a plan was applied twice"
    );
    assert_eq!(
        started,
        stats.plans_done + stats.plans_cancelled + in_flight,
        "a plan went missing: {started} started, {} applied, {} cancelled, {in_flight} in flight",
        stats.plans_done,
        stats.plans_cancelled
    );
    for (plan, planning) in latest {
        assert!(planning || applied.contains(&plan), "plan {plan} lost");
    }
}

#[test]
fn a_budget_spreads_the_main_work_without_losing_or_repeating_a_path() {
    // 80 paths of 300 µs each arrive together; a 1 ms budget takes a few
    // per frame.
    let options = Options {
        main_work: Duration::from_micros(300),
        budget: Some(Duration::from_millis(1)),
        coro_mode: CoroMode::Deterministic {
            seed: 2,
            panic_on_deadlock: true,
        },
        ..small(80, 5)
    };
    let mut app = coro::build_app(&options, Grid::generate(40, 40, options.seed));
    let mut frames_over_budget = 0;
    let mut most_in_a_frame = 0;
    // The budget is wall time: on a loaded machine fewer paths fit in a
    // frame, so run on until every agent is routed (a lost path never is).
    let mut frames = 0;
    while frames < 320 || unrouted(&mut app) > 0 {
        let before = app.world().resource::<Stats>().plans_done;
        app.update();
        frames += 1;
        let world = app.world();
        frames_over_budget += usize::from(world.resource::<CoroStats>().out_of_budget);
        most_in_a_frame = most_in_a_frame.max(world.resource::<Stats>().plans_done - before);
        check_every_plan_accounted_for::<coro::Planning>(&mut app);
        assert!(frames < 20_000, "agents left unrouted: a path was lost");
    }
    assert!(frames_over_budget > 0, "the budget never ran out");
    assert!(most_in_a_frame < 80, "all the work landed in one frame");
    assert_eq!(app.world().resource::<CoroStats>().panics, 0);
}

#[test]
fn worker_threads_with_a_budget_lose_or_repeat_no_path() {
    let options = Options {
        main_work: Duration::from_micros(200),
        budget: Some(Duration::from_millis(1)),
        ..small(80, 9)
    };
    let mut app = coro::build_app(&options, Grid::generate(40, 40, options.seed));
    let start = Instant::now();
    while app.world().resource::<Swarm>().frame < 320 || unrouted(&mut app) > 0 {
        app.update();
        check_every_plan_accounted_for::<coro::Planning>(&mut app);
        assert!(start.elapsed() < Duration::from_secs(60), "agents unrouted");
    }
    assert_eq!(app.world().resource::<CoroStats>().panics, 0);
    // The baseline keeps the same books.
    let mut app = baseline::build_app(&options, Grid::generate(40, 40, options.seed)).unwrap();
    for _ in 0..200 {
        app.update();
        check_every_plan_accounted_for::<baseline::Searching>(&mut app);
    }
}

#[test]
fn zero_workers_plays_single_threaded_and_says_so() {
    let options = crate::parse_options(["--workers", "0"].map(String::from)).unwrap();
    assert_eq!(options.workers, 0);
    let options = Options {
        workers: 0,
        frames: 120,
        ..small(60, 5)
    };
    let mut output = String::new();
    crate::run(&options, Grid::generate(32, 32, 5), "test", &mut |text| {
        output.push_str(text)
    })
    .unwrap();
    assert!(output.contains("single-threaded (0 workers"), "{output}");
    assert!(output.contains("of 0 workers"), "{output}");
    // Every agent routed, by the pump alone, past a rally (goals changed
    // while plans were waiting).
    let mut app = coro::build_app(&options, Grid::generate(32, 32, 5));
    let start = Instant::now();
    loop {
        app.update();
        check_every_plan_accounted_for::<coro::Planning>(&mut app);
        if unrouted(&mut app) == 0 && app.world().resource::<Swarm>().frame > 130 {
            break;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "agents unrouted");
    }
    assert_eq!(app.world().resource::<Coro>().worker_count(), 0);
    assert_eq!(app.world().resource::<CoroStats>().panics, 0);
}

#[test]
fn compare_prints_a_table_that_parses_and_draws_the_chart() {
    let options = Options {
        compare: true,
        frames: 40,
        main_work: Duration::from_micros(50),
        budget: Some(Duration::from_millis(2)),
        plot: Some(
            std::env::temp_dir()
                .join(format!("swarm-compare-{}.svg", std::process::id()))
                .display()
                .to_string(),
        ),
        ..small(30, 4)
    };
    let mut output = String::new();
    crate::run(&options, Grid::generate(24, 24, 4), "test", &mut |text| {
        output.push_str(text)
    })
    .unwrap();
    let rows: Vec<Vec<&str>> = output
        .lines()
        .filter(|line| line.starts_with("| ") && !line.starts_with("| |"))
        .map(|line| line.trim_matches('|').split('|').map(str::trim).collect())
        .collect();
    let names: Vec<&str> = rows.iter().map(|row| row[0]).collect();
    assert_eq!(
        names,
        [
            "frames",
            "frame time p50 (ms)",
            "frame time p99 (ms)",
            "frame time max (ms)",
            "frames over 2 ms",
            "paths found per second",
            "wait for a path p50 (frames)",
            "wait for a path max (frames)",
            "main-thread task work, mean per frame (ms)",
            "main-thread task work, busiest frame (ms)",
            "main thread waiting for a CPU, whole run (ms)",
            "agents that never got a path",
        ],
        "{output}"
    );
    for row in &rows {
        assert_eq!(row.len(), 4, "{output}");
        for number in &row[1..3] {
            number
                .parse::<f64>()
                .unwrap_or_else(|_| panic!("`{number}` in {output}"));
        }
        assert!(row[3] == "=" || row[3] == "∞" || row[3].parse::<f64>().is_ok());
    }
    assert_eq!(rows[0][1..3], ["40", "40"], "{output}");
    let file = options.plot.unwrap();
    let svg = std::fs::read_to_string(&file).unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("bevy_tasks") && svg.contains("bevy_coro"));
}

#[test]
fn the_shipped_maze_and_rooms_maps_are_the_generators_output_and_parse_back() {
    for (kind, text, size) in [
        ("maze", include_str!("../../assets/maze.map"), (257, 256)),
        ("rooms", include_str!("../../assets/rooms.map"), (256, 256)),
    ] {
        let grid = map::generated(kind, 7).unwrap();
        assert_eq!((grid.width, grid.height), size, "{kind}");
        assert!(
            text == grid.to_map_text(),
            "assets/{kind}.map is not `swarm --write-map {kind}` of seed 7"
        );
        let parsed = Grid::parse(text).unwrap();
        assert_eq!(parsed.to_map_text(), text, "{kind}");
        // One connected region: every walkable cell is one agents can use.
        let walkable = (0..size.1)
            .flat_map(|y| (0..size.0).map(move |x| (x, y)))
            .filter(|&cell| parsed.walkable(cell))
            .count();
        assert_eq!(parsed.usable_cells(), walkable, "{kind}");
        assert!(
            walkable > 256 * 256 / 2,
            "{kind}: {walkable} walkable cells"
        );
    }
    // Another seed, another map.
    for kind in ["maze", "rooms"] {
        let (a, b) = (map::generated(kind, 7), map::generated(kind, 8));
        assert_ne!(a.unwrap().to_map_text(), b.unwrap().to_map_text());
    }
    assert!(map::generated("cave", 7).is_none());
}

/// `--inspect N` prints a table every N frames: its counts add up, its task
/// count is the scheduler's, its figures are `CoroStats`' (and, with the
/// `diagnostics` feature, the Bevy diagnostics say the same).
#[test]
fn inspect_prints_a_table_that_agrees_with_coro_stats() {
    use crate::inspect::Inspections;
    let parsed = crate::parse_options(["--inspect", "20"].map(String::from)).unwrap();
    assert_eq!(parsed.inspect, Some(20));
    // Deterministic: nothing runs between the pump and the table.
    let options = Options {
        inspect: Some(20),
        coro_mode: CoroMode::Deterministic {
            seed: 4,
            panic_on_deadlock: true,
        },
        ..small(120, 4)
    };
    let mut app = coro::build_app(&options, Grid::generate(48, 48, 4));
    for _ in 0..100 {
        app.update();
    }
    let inspections = &app.world().resource::<Inspections>().0;
    let frames: Vec<u32> = inspections.iter().map(|i| i.frame).collect();
    assert_eq!(frames, [20, 40, 60, 80, 100]);
    let number = |text: &str, before: &str| -> f64 {
        let at = text
            .find(before)
            .unwrap_or_else(|| panic!("`{before}` in {text}"));
        let rest = text[at + before.len()..].trim_start();
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        rest[..end]
            .parse()
            .unwrap_or_else(|_| panic!("a number after `{before}` in {text}"))
    };
    let mut busy = 0;
    for inspection in inspections {
        let text = &inspection.text;
        let stats = &inspection.stats;
        let mut lines = text.lines();
        let summary = lines.next().unwrap();
        let total = number(summary, ": ") as usize;
        let queued = number(summary, "(queued") as usize;
        let running = number(summary, "running") as usize;
        let waiting = number(summary, "waiting") as usize;
        assert_eq!(total, queued + running + waiting, "{text}");
        assert_eq!(total, inspection.in_flight, "{text}");
        assert_eq!(running, 0, "nothing runs outside the pump: {text}");
        // Each figure "at the pump", after its label, is `CoroStats`'.
        for (label, expected) in [
            ("in flight", stats.in_flight),
            ("main queue", stats.main_queue),
            ("worker queue", stats.worker_queue),
            ("timers", stats.timers_pending),
            ("ms,", stats.main_polled),
        ] {
            assert_eq!(number(summary, label) as usize, expected, "{label}: {text}");
        }
        let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
        assert_eq!(
            header,
            ["name", "queued", "running", "waiting", "oldest"],
            "{text}"
        );
        // Rows by name: every task is a plan, so one row holds them all.
        let rows: Vec<&str> = text
            .lines()
            .skip(2)
            .take_while(|line| {
                !line.trim_start().starts_with("oldest") && !line.contains("diagnostics")
            })
            .collect();
        if total > 0 {
            busy += 1;
            assert_eq!(rows.len(), 1, "{text}");
            let cells: Vec<&str> = rows[0].split_whitespace().collect();
            assert_eq!(cells[0], "plan", "{text}");
            let counts: Vec<usize> = cells[1..4].iter().map(|c| c.parse().unwrap()).collect();
            assert_eq!(counts, [queued, running, waiting], "{text}");
            let oldest = text
                .lines()
                .skip_while(|l| !l.contains("oldest not running"))
                .skip(1);
            let oldest: Vec<&str> = oldest.take_while(|l| l.starts_with("    #")).collect();
            assert_eq!(oldest.len(), total.min(3), "{text}");
        }
        #[cfg(feature = "diagnostics")]
        {
            let diagnostics = text.lines().find(|l| l.contains("diagnostics:")).unwrap();
            for (path, expected) in [
                ("coro/in_flight", stats.in_flight),
                ("coro/main_polls", stats.main_polled),
                ("coro/timers_pending", stats.timers_pending),
            ] {
                assert_eq!(
                    number(diagnostics, path) as usize,
                    expected,
                    "{path}: {text}"
                );
            }
        }
    }
    assert!(
        busy >= 3,
        "plans in flight at most tables: {inspections:?}",
        inspections = frames
    );
}
