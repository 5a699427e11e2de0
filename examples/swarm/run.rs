//! Plays a built game to its last frame, paced like a game loop, and sums
//! it up.

use std::time::{Duration, Instant};

use bevy_app::App;

use crate::game::{Agent, Path, Swarm};
use crate::report::{Stats, Summary};

/// Runs frames until the game's last one, waiting between frames so that
/// each starts `1/fps` after the previous one (0: no wait), as Bevy's
/// `ScheduleRunnerPlugin` does. Frame times exclude the wait.
pub fn play(app: &mut App, fps: u32) {
    app.finish();
    app.cleanup();
    let pace = if fps == 0 {
        Duration::ZERO
    } else {
        Duration::from_secs(1) / fps
    };
    app.world_mut().resource_mut::<Stats>().started = Instant::now();
    let cpu_before = main_thread_cpu();
    loop {
        let start = Instant::now();
        app.update();
        let swarm = app.world().resource::<Swarm>();
        if swarm.frame >= swarm.frames {
            break;
        }
        if let Some(rest) = pace.checked_sub(start.elapsed()) {
            std::thread::sleep(rest);
        }
    }
    let mut stats = app.world_mut().resource_mut::<Stats>();
    stats.finished = Some(Instant::now());
    stats.main_thread = cpu_before
        .zip(main_thread_cpu())
        .map(|((ran, waited), (ran_end, waited_end))| (ran_end - ran, waited_end - waited));
}

/// Time this thread has run on a CPU and waited for one (Linux's
/// `/proc/thread-self/schedstat`): on a shared machine, the wait is the
/// part of the frame times that other programs took.
fn main_thread_cpu() -> Option<(Duration, Duration)> {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut fields = text
        .split_whitespace()
        .map(|field| field.parse::<u64>().ok());
    let ran = fields.next()??;
    let waited = fields.next()??;
    Some((Duration::from_nanos(ran), Duration::from_nanos(waited)))
}

/// What the run came to; `scheduler` is bevy_coro's line of the report.
/// Agents that arrived in the last `second` frames are not counted as never
/// routed: their plans may still be on their way.
pub fn summarize(app: &mut App, second: u32, scheduler: Option<String>) -> Summary {
    let world = app.world_mut();
    let end = world.resource::<Swarm>().frame;
    let never_routed = world
        .query::<(&Agent, &Path)>()
        .iter(world)
        .filter(|(agent, path)| !path.ever_routed && agent.arrived + second <= end)
        .count();
    let stats = world.resource::<Stats>();
    let mut waits = stats.waits.clone();
    waits.sort_unstable();
    Summary {
        frame_times: stats.frame_times.clone(),
        task_work_times: stats.task_work_times.clone(),
        wall: stats.finished.unwrap_or_else(Instant::now) - stats.started,
        plans_done: stats.plans_done,
        unreachable: stats.unreachable,
        plans_cancelled: stats.plans_cancelled,
        despawned: stats.despawned,
        main_thread: stats.main_thread,
        waits,
        never_routed,
        scheduler,
    }
}
