//! Recipe: an NPC's brain as an actor. Game code (systems, other tasks,
//! the player's input) sends the brain commands — "go to", "attack",
//! "flee" — and the brain carries them out one at a time, in the order
//! given, each over several frames, applying each step to the World with
//! `with_world`. The brain's memory (its kill count, its last order) is
//! plain `&mut self` state: no lock, no component to query. The actor is
//! tied to the NPC's entity: despawning the NPC stops it.
//!
//! `cargo run --example npc_brain`

use std::time::Duration;

use bevy_app::{AppExit, ScheduleRunnerPlugin, prelude::*};
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;

/// Where an NPC stands, on a line.
#[derive(Component, Debug, PartialEq, Eq)]
struct Position(i32);

/// An NPC's health.
#[derive(Component)]
struct Health(u32);

/// What the brain can be told.
#[derive(Debug, Clone, Copy)]
enum Command {
    /// Walk to this spot, one step a frame.
    GoTo(i32),
    /// Hit this entity until it is gone.
    Attack(Entity),
    /// Run 5 steps away from this entity.
    Flee(Entity),
}

/// The brain's state: only its own turns see it.
struct Brain {
    me: Entity,
    kills: u32,
    done: Vec<Command>,
}

impl Behavior<Command> for Brain {
    async fn handle(&mut self, command: Command) {
        let me = self.me;
        match command {
            Command::GoTo(target) => loop {
                let here = with_world(move |world| {
                    let mut position = world.get_mut::<Position>(me)?;
                    position.0 += (target - position.0).signum();
                    Some(position.0)
                })
                .await;
                if here.is_none_or(|here| here == target) {
                    break;
                }
                next_frame().await;
            },
            Command::Attack(foe) => loop {
                let alive = with_world(move |world| {
                    let mut health = world.get_mut::<Health>(foe)?;
                    health.0 = health.0.saturating_sub(10);
                    if health.0 == 0 {
                        world.despawn(foe);
                        return Some(false);
                    }
                    Some(true)
                })
                .await;
                match alive {
                    Some(true) => next_frame().await,
                    Some(false) => {
                        self.kills += 1;
                        println!("the NPC defeats its foe ({} kills)", self.kills);
                        break;
                    }
                    None => break, // gone already
                }
            },
            Command::Flee(from) => {
                for _ in 0..5 {
                    with_world(move |world| {
                        let away = world.get::<Position>(from).map_or(0, |p| p.0);
                        if let Some(mut position) = world.get_mut::<Position>(me) {
                            position.0 += if position.0 >= away { 1 } else { -1 };
                        }
                    })
                    .await;
                    next_frame().await;
                }
            }
        }
        self.done.push(command);
        let done = self.done.len();
        with_world(move |world| world.resource_mut::<Log>().0.push(done)).await;
    }
}

/// How many commands the brain had finished after each one.
#[derive(Resource, Default)]
struct Log(Vec<usize>);

/// The NPC, its foe, and the brain's address.
#[derive(Resource)]
struct Npc {
    npc: Entity,
    #[allow(dead_code)] // read by the test
    foe: Entity,
    /// Kept so the game can give more orders (dropping every address
    /// would stop the brain once its orders are carried out).
    #[allow(dead_code)]
    brain: Actor<Command>,
}

fn build(app: &mut App) {
    app.add_plugins(CoroPlugin::default());
    app.init_resource::<Log>();
    let npc = app.world_mut().spawn((Position(0), Health(100))).id();
    let foe = app.world_mut().spawn((Position(8), Health(30))).id();
    let coro = app.world().resource::<Coro>().clone();
    // A main-thread actor: every command touches the World.
    let brain = coro
        .actor("npc brain")
        .for_entity(npc)
        .spawn::<Main>(Brain {
            me: npc,
            kills: 0,
            done: Vec::new(),
        });
    // Orders given all at once; carried out one after the other.
    brain.send(Command::GoTo(7)).unwrap();
    brain.send(Command::Attack(foe)).unwrap();
    brain.send(Command::Flee(foe)).unwrap();
    brain.send(Command::GoTo(0)).unwrap();
    app.insert_resource(Npc { npc, foe, brain });
}

fn main() {
    let mut app = App::new();
    app.add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_millis(16)));
    build(&mut app);
    app.add_systems(
        Update,
        |log: Res<Log>, npc: Res<Npc>, mut commands: Commands, mut exit: MessageWriter<AppExit>| {
            if log.0.len() == 4 {
                println!("all four orders carried out; the NPC leaves the level");
                commands.entity(npc.npc).despawn();
                exit.write(AppExit::Success);
            }
        },
    );
    app.run();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(app: &App, entity: Entity) -> Option<i32> {
        app.world().get::<Position>(entity).map(|p| p.0)
    }

    #[test]
    fn the_brain_carries_out_its_orders_in_order() {
        let mut app = App::new();
        build(&mut app);
        let (npc, foe) = {
            let npc = app.world().resource::<Npc>();
            (npc.npc, npc.foe)
        };
        // Walks one step a frame: 7 frames to reach 7, nothing else meanwhile.
        for frame in 1..=7 {
            assert_eq!(
                app.world().get::<Health>(foe).unwrap().0,
                30,
                "attacked before arriving"
            );
            app.update();
            assert_eq!(position(&app, npc), Some(frame));
        }
        // The attack starts in the frame of the arrival: the next command
        // is taken as soon as one ends.
        assert_eq!(app.world().get::<Health>(foe).unwrap().0, 20);
        // Then attacks: 3 hits of 10, one a frame; the foe is despawned.
        for _ in 0..10 {
            app.update();
        }
        assert!(app.world().get_entity(foe).is_err(), "the foe is gone");
        // Fleeing from a despawned foe runs away from 0; then back to 0.
        for _ in 0..40 {
            app.update();
        }
        assert_eq!(position(&app, npc), Some(0));
        assert_eq!(
            app.world().resource::<Log>().0,
            [1, 2, 3, 4],
            "each order once, in order"
        );

        // The NPC leaves: its brain stops with it and refuses orders.
        let brain = app.world().resource::<Npc>().brain.clone();
        app.world_mut().despawn(npc);
        assert!(brain.is_stopped());
        assert!(brain.send(Command::GoTo(3)).is_err());
    }
}
