//! Recipe: a door opened by a switch. One task per door watches its
//! switch's `Switch` component and opens or closes the door when the
//! switch is flipped; while the door is open, a cleanup is registered that
//! shuts it again if the task is cancelled (the level unloads, the switch
//! is destroyed). No system polls the switch: `changed` wakes the task only
//! in the frame after the switch changed.
//!
//! `cargo run --example door`

use std::time::Duration;

use bevy_app::{AppExit, ScheduleRunnerPlugin, prelude::*};
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;

/// A switch the player flips.
#[derive(Component)]
struct Switch {
    on: bool,
}

/// A door, open or shut.
#[derive(Component, Debug, PartialEq, Eq)]
struct Door {
    open: bool,
}

/// The door's task, kept so the level can cancel it.
#[derive(Resource)]
struct DoorTask(#[allow(dead_code)] Task<Result<(), GameWaitError>>);

fn build(app: &mut App) -> (Entity, Entity) {
    app.add_plugins(CoroPlugin::default());
    let switch = app.world_mut().spawn(Switch { on: false }).id();
    let door = app.world_mut().spawn(Door { open: false }).id();
    let coro = app.world().resource::<Coro>().clone();
    let task = coro.task("door").spawn::<Main>(work_the_door(switch, door));
    app.insert_resource(DoorTask(task));
    (switch, door)
}

/// Opens `door` while `switch` is on, until the switch is despawned
/// (`Err(Despawned)`) or the task is cancelled (the door shuts).
async fn work_the_door(switch: Entity, door: Entity) -> Result<(), GameWaitError> {
    loop {
        changed::<Switch>(switch).await?;
        with_world(move |world| {
            let on = world.get::<Switch>(switch).is_some_and(|switch| switch.on);
            let Some(mut state) = world.get_mut::<Door>(door) else {
                return;
            };
            if on && !state.open {
                state.open = true;
                println!("the door opens");
                // Cancelled while open: shut it, with the World, next pump.
                on_cancel(move |world| {
                    if let Some(mut state) = world.get_mut::<Door>(door) {
                        state.open = false;
                        println!("the door shuts: its task was cancelled");
                    }
                });
            } else if !on && state.open {
                state.open = false;
                println!("the door shuts");
            }
        })
        .await;
    }
}

fn main() {
    let mut app = App::new();
    app.add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_millis(16)));
    let (switch, _door) = build(&mut app);
    // The player flips the switch on at frame 10; the level unloads at 20.
    app.add_systems(
        Update,
        move |mut frame: Local<u32>, mut commands: Commands, mut exit: MessageWriter<AppExit>| {
            *frame += 1;
            match *frame {
                10 => {
                    commands.entity(switch).insert(Switch { on: true });
                }
                20 => commands.remove_resource::<DoorTask>(),
                25 => {
                    exit.write(AppExit::Success);
                }
                _ => {}
            }
        },
    );
    app.run();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flip(app: &mut App, switch: Entity, on: bool) {
        app.world_mut().get_mut::<Switch>(switch).unwrap().on = on;
    }

    fn door_open(app: &App, door: Entity) -> bool {
        app.world().get::<Door>(door).unwrap().open
    }

    #[test]
    fn the_door_follows_its_switch_and_shuts_when_its_task_is_cancelled() {
        let mut app = App::new();
        let (switch, door) = build(&mut app);
        app.update(); // The task waits on the switch.
        for _ in 0..5 {
            app.update();
            assert!(!door_open(&app, door), "nobody flipped the switch");
        }
        flip(&mut app, switch, true);
        app.update();
        assert!(door_open(&app, door), "opened in the frame after the flip");
        flip(&mut app, switch, false);
        app.update();
        assert!(!door_open(&app, door));
        flip(&mut app, switch, true);
        app.update();
        assert!(door_open(&app, door));
        // The level unloads: dropping the task cancels it, and its cleanup
        // shuts the door within two pumps (the task ends, then cleans up).
        app.world_mut().remove_resource::<DoorTask>();
        app.update();
        app.update();
        assert!(!door_open(&app, door), "the cleanup shut the door");
    }

    #[test]
    fn a_destroyed_switch_ends_the_task_without_cleanup() {
        let mut app = App::new();
        let (switch, door) = build(&mut app);
        app.update();
        flip(&mut app, switch, true);
        app.update();
        assert!(door_open(&app, door));
        app.world_mut().despawn(switch);
        app.update();
        let mut task = app.world_mut().remove_resource::<DoorTask>().unwrap().0;
        let mut frames = 0;
        let result = loop {
            if let Some(result) = task.try_take() {
                break result;
            }
            app.update();
            frames += 1;
            assert!(frames < 100, "the door task never ended");
        };
        assert_eq!(result, Ok(Err(GameWaitError::Despawned(switch))));
        // It finished (not cancelled): the door stays as it was.
        app.update();
        assert!(door_open(&app, door));
    }
}
