//! What the swarm prints and ships: `--compare` prints a table that parses
//! and draws the chart, `--inspect` prints tables that agree with
//! `CoroStats`, the shipped maps are the generators' output, and the Tracy
//! client listens. No timing is asserted.

use std::time::Duration;
#[cfg(feature = "tracy")]
use std::time::Instant;

use bevy_coro::CoroMode;

use super::{printed, small};
use crate::map::Grid;
use crate::mapgen;
use crate::{Options, coro};

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

/// `--coro-first` plays bevy_coro first (to check that the order moves no
/// figure) and prints both in the table; alone, without `--compare`, it is
/// refused.
#[test]
fn coro_first_plays_bevy_coro_first_and_is_refused_alone() {
    let flags = |flags: &[&str]| crate::parse_options(flags.iter().map(|flag| flag.to_string()));
    let refused = flags(&["--coro-first"])
        .err()
        .expect("refused without --compare");
    assert!(refused.contains("--compare"), "{refused}");
    assert!(flags(&["--compare", "--coro-first"]).unwrap().coro_first);
    let options = Options {
        compare: true,
        coro_first: true,
        frames: 30,
        ..small(20, 4)
    };
    let output = printed(&options, Grid::generate(24, 24, 4));
    assert!(output.contains("bevy_coro then bevy_tasks"), "{output}");
    let frames = output
        .lines()
        .find(|line| line.starts_with("| frames |"))
        .unwrap_or_else(|| panic!("no table in {output}"));
    assert!(frames.contains("| 30 | 30 |"), "{frames}");
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
    let output = printed(&options, Grid::generate(24, 24, 4));
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
        ("maze", include_str!("../../../assets/maze.map"), (257, 256)),
        (
            "rooms",
            include_str!("../../../assets/rooms.map"),
            (256, 256),
        ),
    ] {
        let grid = mapgen::generated(kind, 7).unwrap();
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
        let (a, b) = (mapgen::generated(kind, 7), mapgen::generated(kind, 8));
        assert_ne!(a.unwrap().to_map_text(), b.unwrap().to_map_text());
    }
    assert!(mapgen::generated("cave", 7).is_none());
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
