//! Recipe: a tutorial script. One task tells the player what to do and
//! waits for it, step by step, as the game goes on around it: first for
//! the player to move (a `PlayerMoved` message, written by the movement
//! system), then for three coins to be picked up (a condition on the
//! `Coins` resource), then for the game to enter the arena (a state), then
//! for the training dummy to be hit (a change of its `Health`), then it
//! reports. The task sleeps between steps; the pump wakes it when the
//! message is written, the condition holds, the state is entered or the
//! component changes, so a script costs nothing while the player takes
//! their time.
//!
//! `cargo run --example tutorial --features state`

use std::time::Duration;

use bevy_app::{AppExit, ScheduleRunnerPlugin, prelude::*};
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use bevy_state::app::StatesPlugin;
use bevy_state::prelude::*;

/// Coins to pick up in the second step.
const COINS: u32 = 3;
/// Where the arena begins.
const ARENA_AT: i32 = 12;
/// Where the training dummy stands.
const DUMMY_AT: i32 = 15;

/// Where the game is.
#[derive(States, Default, Debug, Clone, PartialEq, Eq, Hash)]
enum Area {
    #[default]
    Meadow,
    Arena,
}

/// The training dummy's health: hit while the player stands by it.
#[derive(Component)]
struct Health(u32);

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
    /// the dummy hit.
    frames: u64,
}

fn build(app: &mut App, input: Vec<i32>, coins_at: Vec<i32>) {
    app.add_plugins((StatesPlugin, CoroPlugin::default()))
        .init_state::<Area>()
        .add_message::<PlayerMoved>()
        .init_resource::<Player>()
        .init_resource::<Coins>()
        .init_resource::<Shown>()
        .insert_resource(Input(input))
        .insert_resource(CoinsAt(coins_at))
        .add_systems(Startup, start_tutorial)
        .add_systems(
            Update,
            (walk, pick_up_coins, enter_arena, hit_dummy).chain(),
        );
    app.world_mut().spawn(Health(10));
}

/// Past `ARENA_AT`, the game is in the arena.
fn enter_arena(player: Res<Player>, area: Res<State<Area>>, mut next: ResMut<NextState<Area>>) {
    if player.0 >= ARENA_AT && *area.get() == Area::Meadow {
        next.set(Area::Arena);
    }
}

/// The player hits the dummy while standing by it.
fn hit_dummy(player: Res<Player>, mut dummy: Query<&mut Health>) {
    if player.0 == DUMMY_AT {
        for mut health in &mut dummy {
            health.0 = health.0.saturating_sub(1);
        }
    }
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
        show("Now walk into the arena.").await;
        state_entered(Area::Arena).await;
        show("Hit the training dummy.").await;
        let dummy = with_world(|world| {
            world
                .query_filtered::<Entity, With<Health>>()
                .single(world)
                .expect("one dummy")
        })
        .await;
        changed::<Health>(dummy).await.expect("the dummy stays");
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
    // Idle for a while, then walk right over three coins, into the arena
    // and up to the dummy.
    let mut input = vec![0; 30];
    input.extend([1; DUMMY_AT as usize]);
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
        input.extend([1; DUMMY_AT as usize]);
        let (finished, shown) = play(input, vec![3, 6, 9]);
        assert_eq!(
            shown,
            [
                "Use the arrow keys to move.",
                "Well done! Now pick up 3 coins.",
                "Now walk into the arena.",
                "Hit the training dummy.",
                "Tutorial complete."
            ]
        );
        // The first move, in frame 21, took the player to 1; the dummy, at
        // 15, was hit in frame 35, and the script saw it in the next
        // frame's pump, the 35 frames before it counted.
        assert_eq!(finished.first_move_to, 1);
        assert_eq!(finished.frames, 35);
    }

    #[test]
    fn coins_picked_up_before_their_step_count_at_once() {
        // Three coins where the player stands, picked up in the first three
        // frames; the first move in the fifth, then on to the dummy.
        let mut input = vec![0, 0, 0, 0];
        input.extend([1; DUMMY_AT as usize]);
        let (finished, shown) = play(input, vec![0, 0, 0]);
        assert_eq!(finished.first_move_to, 1);
        assert_eq!(shown.len(), 5);
        // The coin step was over in the frame after the move: the condition
        // held when the script reached it; the dummy was hit in frame 19.
        assert_eq!(finished.frames, 19);
    }
}
