//! An idle App with its workers started burns no CPU. Alone in its own test
//! binary, so no other test's threads count against it.

use std::time::Duration;

use bevy_app::App;
use bevy_coro::WorkerPriority;
use bevy_coro::prelude::*;

/// CPU time (user + system) this process used so far, from /proc.
fn process_cpu_time() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which is in parentheses and may hold spaces).
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    // The kernel reports clock ticks; USER_HZ is 100 on every Linux target.
    Some(Duration::from_millis((utime + stime) * 10))
}

#[test]
fn idle_workers_use_no_cpu() {
    let Some(_) = process_cpu_time() else {
        println!("skipped: /proc/self/stat is not available on this platform");
        return;
    };
    // One after the other, so each second measures one App. Background
    // workers add the rescue thread, which looks 10 times a second at most
    // while no work waits.
    for worker_priority in [WorkerPriority::Normal, WorkerPriority::Background] {
        let mut app = App::new();
        app.add_plugins(CoroPlugin {
            workers: 4,
            worker_priority,
            ..Default::default()
        });
        for _ in 0..10 {
            app.update();
        }
        let before = process_cpu_time().unwrap();
        std::thread::sleep(Duration::from_secs(1));
        let used = process_cpu_time().unwrap() - before;
        // Four spinning workers would use ~4 s; a polling loop with short
        // sleeps tens of milliseconds. Parked workers use none (the bound
        // allows one tick of accounting noise and then some).
        assert!(
            used <= Duration::from_millis(50),
            "4 idle {worker_priority:?} workers used {used:?} of CPU in 1 s"
        );
        drop(app);
    }
}
