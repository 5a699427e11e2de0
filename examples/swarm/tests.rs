//! The swarm's tests: each version routes every agent, both versions do the
//! same work, and a pump budget loses or repeats no path. What the swarm
//! prints (`--compare`, `--inspect`), its shipped maps and its Tracy client
//! are tested in `output`. No timing is asserted.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use bevy_app::App;
use bevy_coro::prelude::Coro;
use bevy_coro::{CoroMode, CoroStats};
use bevy_ecs::prelude::*;

use crate::game::{Agent, Path, Swarm};
use crate::map::Grid;
use crate::report::Stats;
use crate::{Options, baseline, coro};

mod output;

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

/// What `swarm` prints for `options` on `grid`.
fn printed(options: &Options, grid: Grid) -> String {
    let mut output = String::new();
    crate::run(options, grid, "test", &mut |text| output.push_str(text)).unwrap();
    output
}

fn unrouted(app: &mut App) -> usize {
    let world = app.world_mut();
    world
        .query::<&Path>()
        .iter(world)
        .filter(|path| !path.ever_routed)
        .count()
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
    let output = printed(&options, Grid::generate(32, 32, 5));
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
