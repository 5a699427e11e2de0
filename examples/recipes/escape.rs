//! Recipe: reach the exit before the timer, or lose. One task races two
//! branches: one waits for the player to reach the exit, the other counts
//! down, showing the seconds left once a second. The first to finish wins;
//! `race` cancels and drops the other before it returns, so a lost countdown
//! stops showing and a won escape stops watching. Timers follow game time
//! (`Time<Virtual>`).
//!
//! `cargo run --example escape`

use std::time::Duration;

use bevy_app::{AppExit, ScheduleRunnerPlugin, prelude::*};
use bevy_coro::CoroClock;
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use bevy_time::{Time, TimePlugin};

/// Seconds the player has.
const TIME_LIMIT: u32 = 10;
/// How far the exit is, in metres.
const EXIT_AT: f32 = 30.0;

/// The player's distance from the start, and speed in metres per second.
#[derive(Resource)]
struct Player {
    at: f32,
    speed: f32,
}

/// What the countdown showed, in order.
#[derive(Resource, Default)]
struct Shown(Vec<u32>);

/// How the round ended.
#[derive(Resource, Debug, PartialEq, Eq)]
enum Outcome {
    Escaped,
    Caught,
}

fn build(app: &mut App, speed: f32) {
    app.add_plugins(TimePlugin)
        .add_plugins(CoroPlugin {
            clock: CoroClock::Virtual,
            ..Default::default()
        })
        .insert_resource(Player { at: 0.0, speed })
        .init_resource::<Shown>()
        .add_systems(Startup, start_round)
        .add_systems(Update, walk);
}

/// The player walks towards the exit.
fn walk(time: Res<Time>, mut player: ResMut<Player>) {
    player.at = (player.at + player.speed * time.delta_secs()).min(EXIT_AT);
}

/// The round: the exit against the clock.
fn start_round(coro: Res<Coro>) {
    coro.spawn::<Main>(async {
        let outcome = match race((reach_exit(), countdown(TIME_LIMIT))).await {
            Ok(Winner::First(())) => Outcome::Escaped,
            Ok(Winner::Second(())) => Outcome::Caught,
            Ok(Winner::Third(never) | Winner::Fourth(never)) => match never {},
            Err(error) => panic!("the round ended badly: {error}"),
        };
        println!("{outcome:?}");
        with_world(move |world| world.insert_resource(outcome)).await;
    })
    .detach();
}

/// Resolves once the player stands at the exit (looked at once a frame).
async fn reach_exit() {
    while !with_world(|world| world.resource::<Player>().at >= EXIT_AT).await {
        next_frame().await;
    }
}

/// Shows the seconds left once a second; resolves when they run out.
async fn countdown(seconds: u32) {
    for left in (1..=seconds).rev() {
        with_world(move |world| world.resource_mut::<Shown>().0.push(left)).await;
        println!("{left}...");
        sleep(Duration::from_secs(1)).await;
    }
}

fn main() {
    let mut app = App::new();
    app.add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_millis(16)));
    // 4 m/s: the exit in 7.5 s, with 2.5 s to spare.
    build(&mut app, 4.0);
    app.add_systems(
        Last,
        |outcome: Option<Res<Outcome>>, mut exit: MessageWriter<AppExit>| {
            if outcome.is_some() {
                exit.write(AppExit::Success);
            }
        },
    );
    app.run();
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_time::TimeUpdateStrategy;

    /// Plays a round at `speed`, 10 frames a second of game time, until it
    /// ends and for 3 more game seconds; returns the outcome and what the
    /// countdown showed.
    fn play(speed: f32) -> (Outcome, Vec<u32>) {
        let mut app = App::new();
        build(&mut app, speed);
        app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            100,
        )));
        let mut frames = 0;
        while app.world().get_resource::<Outcome>().is_none() {
            app.update();
            frames += 1;
            assert!(frames < 1_000, "the round never ended");
        }
        // The losing branch was dropped: nothing more is shown.
        for _ in 0..30 {
            app.update();
        }
        let outcome = app.world_mut().remove_resource::<Outcome>().unwrap();
        (
            outcome,
            app.world_mut().remove_resource::<Shown>().unwrap().0,
        )
    }

    #[test]
    fn a_fast_player_escapes_and_the_countdown_stops() {
        // 4 m/s: the exit after 7.5 s, before the 8th second is shown.
        let (outcome, shown) = play(4.0);
        assert_eq!(outcome, Outcome::Escaped);
        assert_eq!(shown, (3..=10).rev().collect::<Vec<_>>());
    }

    #[test]
    fn a_slow_player_is_caught_after_every_second_was_shown() {
        // 2 m/s: 20 m of the 30 when the time runs out.
        let (outcome, shown) = play(2.0);
        assert_eq!(outcome, Outcome::Caught);
        assert_eq!(shown, (1..=10).rev().collect::<Vec<_>>());
    }
}
