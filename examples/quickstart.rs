//! The README quickstart, runnable: a main-thread task reads the World, finds a
//! path on a worker, and writes the result back, in one task; an interval
//! ticks every 100 ms until its timer handle is dropped; the app stops after 30 frames.
//!
//! `cargo run --example quickstart`

use std::time::Duration;

use bevy_app::{AppExit, ScheduleRunnerPlugin, prelude::*};
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;

#[derive(Resource, Clone)]
struct Map {
    size: u32,
}

#[derive(Component, Debug)]
struct Route(Vec<u32>);

/// Keeps the interval alive: dropping the handle (or this resource) stops it.
#[derive(Resource)]
struct Heartbeat(TimerHandle);

/// Stand-in for real pathfinding: heavy enough to want a worker.
fn astar(map: &Map) -> Vec<u32> {
    (0..map.size).filter(|cell| cell % 7 == 0).collect()
}

fn main() {
    App::new()
        .add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_millis(16)))
        .add_plugins(CoroPlugin::default())
        .insert_resource(Map { size: 100 })
        .add_systems(Startup, start)
        .add_systems(Update, report)
        .run();
}

fn start(mut commands: Commands, coro: Res<Coro>) {
    // A main-thread task: it can read and write the World between awaits.
    coro.spawn::<Main>(async {
        let map = with_world(|w| w.resource::<Map>().clone()).await;
        let path = async move { astar(&map) }.on::<Worker>().await; // heavy part on a worker
        with_world(move |w| {
            w.spawn(Route(path));
        })
        .await; // back on main, same task
    })
    .detach();

    // Every 100 ms, never two runs at once; dropping the handle stops it.
    let timer = coro.interval(Duration::from_millis(100), || async {
        println!("heartbeat");
    });
    commands.insert_resource(Heartbeat(timer));
}

fn report(
    routes: Query<&Route, Added<Route>>,
    heartbeat: Option<Res<Heartbeat>>,
    mut frames: Local<u32>,
    mut exit: MessageWriter<AppExit>,
) {
    for route in &routes {
        println!(
            "route found on a worker, applied on the main thread: {:?}",
            route.0
        );
    }
    *frames += 1;
    if *frames == 30 {
        if let Some(heartbeat) = heartbeat {
            println!("{} heartbeats in 30 frames", heartbeat.0.runs_started());
        }
        exit.write(AppExit::Success);
    }
}
