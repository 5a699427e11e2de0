//! Recipe: a tutorial script. One task tells the player what to do and
//! waits for it, step by step, as the game goes on around it: first for
//! the player to move (a `PlayerMoved` message, written by the movement
//! system), then for three coins to be picked up (a condition on the
//! `Coins` resource), then it reports. The task sleeps between steps; the
//! pump wakes it when the message is written or the condition holds, so a
//! script costs nothing while the player takes their time.
//!
//! `cargo run --example tutorial`

use std::time::Duration;

use bevy_app::{AppExit, ScheduleRunnerPlugin, prelude::*};
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;

/// Coins to pick up in the second step.
const COINS: u32 = 3;

/// Written by the movement system each time the player moves.
#[derive(Message, Clone, Debug)]
struct PlayerMoved {
    to: i32,
}

/// Where the player stands, on a line.
#[derive(Resource, Default)]
struct Player(i32);

/// Coins picked up so far.
#[derive(Resource, Default)]
struct Coins(u32);

/// Stands for the keyboard: one step per frame (`0`: no key pressed).
#[derive(Resource)]
struct Input(Vec<i32>);

/// Where coins lie.
#[derive(Resource)]
struct CoinsAt(Vec<i32>);

/// What the tutorial showed the player, in order.
#[derive(Resource, Default)]
struct Shown(Vec<String>);

/// The tutorial's report, once it is over.
#[derive(Resource, Debug, PartialEq, Eq)]
struct Finished {
    /// Where the first move took the player.
    first_move_to: i32,
    /// Frames the pump had finished from the script's start until it saw
    /// the last coin picked up.
    frames: u64,
}

fn build(app: &mut App, input: Vec<i32>, coins_at: Vec<i32>) {
    app.add_plugins(CoroPlugin::default())
        .add_message::<PlayerMoved>()
        .init_resource::<Player>()
        .init_resource::<Coins>()
        .init_resource::<Shown>()
        .insert_resource(Input(input))
        .insert_resource(CoinsAt(coins_at))
        .add_systems(Startup, start_tutorial)
        .add_systems(Update, (walk, pick_up_coins).chain());
}

/// Moves the player by this frame's key, and says so.
fn walk(
    mut input: ResMut<Input>,
    mut player: ResMut<Player>,
    mut moved: MessageWriter<PlayerMoved>,
) {
    let step = if input.0.is_empty() {
        0
    } else {
        input.0.remove(0)
    };
    if step != 0 {
        player.0 += step;
        moved.write(PlayerMoved { to: player.0 });
    }
}

/// Picks up a coin where the player stands.
fn pick_up_coins(player: Res<Player>, mut coins_at: ResMut<CoinsAt>, mut coins: ResMut<Coins>) {
    if let Some(at) = coins_at.0.iter().position(|&coin| coin == player.0) {
        coins_at.0.remove(at);
        coins.0 += 1;
    }
}

/// Shows `text` to the player.
async fn show(text: &str) {
    println!("{text}");
    let text = text.to_owned();
    with_world(move |world| world.resource_mut::<Shown>().0.push(text)).await;
}

/// The script: each step waits for the player to do what it asks.
fn start_tutorial(coro: Res<Coro>) {
    coro.spawn::<Main>(async {
        let start = with_world(|world| world.resource::<bevy_coro::CoroStats>().frames).await;
        show("Use the arrow keys to move.").await;
        let PlayerMoved { to } = next_message::<PlayerMoved>().await;
        show(&format!("Well done! Now pick up {COINS} coins.")).await;
        until(|world| world.resource::<Coins>().0 >= COINS).await;
        show("Tutorial complete.").await;
        with_world(move |world| {
            let frames = world.resource::<bevy_coro::CoroStats>().frames - start;
            world.insert_resource(Finished {
                first_move_to: to,
                frames,
            });
        })
        .await;
    })
    .detach();
}

fn main() {
    let mut app = App::new();
    app.add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_millis(16)));
    // Idle for a while, then walk right over three coins.
    let mut input = vec![0; 30];
    input.extend([1; 10]);
    build(&mut app, input, vec![3, 6, 9]);
    app.add_systems(
        Last,
        |finished: Option<Res<Finished>>, mut exit: MessageWriter<AppExit>| {
            if finished.is_some() {
                exit.write(AppExit::Success);
            }
        },
    );
    app.run();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Plays the tutorial with `input` and coins at `coins_at` until it is
    /// over; returns its report and what it showed.
    fn play(input: Vec<i32>, coins_at: Vec<i32>) -> (Finished, Vec<String>) {
        let mut app = App::new();
        build(&mut app, input, coins_at);
        let mut frames = 0;
        while app.world().get_resource::<Finished>().is_none() {
            app.update();
            frames += 1;
            assert!(frames < 1_000, "the tutorial never ended");
        }
        let finished = app.world_mut().remove_resource::<Finished>().unwrap();
        (
            finished,
            app.world_mut().remove_resource::<Shown>().unwrap().0,
        )
    }

    #[test]
    fn the_steps_follow_the_player() {
        let mut input = vec![0; 20];
        input.extend([1; 9]);
        let (finished, shown) = play(input, vec![3, 6, 9]);
        assert_eq!(
            shown,
            [
                "Use the arrow keys to move.",
                "Well done! Now pick up 3 coins.",
                "Tutorial complete."
            ]
        );
        // The first move, in frame 21, took the player to 1; the last coin,
        // at 9, was picked up in frame 29, and the script saw it in the next
        // frame's pump, the 29 frames before it counted.
        assert_eq!(finished.first_move_to, 1);
        assert_eq!(finished.frames, 29);
    }

    #[test]
    fn coins_picked_up_before_their_step_count_at_once() {
        // Three coins where the player stands, picked up in the first three
        // frames; the first move in the fifth.
        let (finished, shown) = play(vec![0, 0, 0, 0, 1], vec![0, 0, 0]);
        assert_eq!(finished.first_move_to, 1);
        assert_eq!(shown.len(), 3);
        // Both steps over in the frame after the move: the condition held
        // when the script reached it.
        assert_eq!(finished.frames, 5);
    }
}
