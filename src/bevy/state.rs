//! Tasks scoped to a game state (feature `state`): cancelled when the state
//! is left, as `DespawnOnExit` despawns entities.
//!
//! A state-scoped task is tied to its state value in a [`StateTasks`]
//! resource, made by [`CoroAppExt::add_coro_state`] with the system that
//! cancels them, which runs in `StateTransition`, among the exit schedules.
//! As with `for_entity`, tasks bound from a builder are tied by the next pump,
//! before it runs tasks; `spawn_task_in_state` ties them when its command is
//! applied.

use std::collections::HashMap;
use std::panic::Location;
use std::sync::Arc;

use bevy_app::App;
use bevy_ecs::prelude::*;
use bevy_state::state::{
    State, StateTransition, StateTransitionEvent, StateTransitionSystems, States,
};

use crate::bevy::entity::BindTo;
use crate::runtime::{CancelHandle, Owner, TaskBuilder};

/// Setting an App up for bevy_coro (feature `state`).
pub trait CoroAppExt {
    /// Lets tasks be scoped to the states of `S`
    /// ([`TaskBuilder::in_state`], [`CoroCommandsExt::spawn_task_in_state`](crate::CoroCommandsExt::spawn_task_in_state)):
    /// adds the system, in `StateTransition` among the exit schedules, that
    /// cancels a state's tasks when `S` leaves it. Call it once per state
    /// type, after `init_state::<S>()` (or `insert_state`, `add_sub_state`,
    /// `add_computed_state`). Without it, tying a task to a state of `S`
    /// panics, naming this call: a task that would never be cancelled is
    /// a bug to see at once. The waits [`state_entered`](crate::state_entered) and
    /// [`state_exited`](crate::state_exited) need no set-up.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_state::prelude::*;
    /// # use bevy_state::app::StatesPlugin;
    /// # use bevy_coro::prelude::*;
    /// #[derive(States, Default, Debug, Clone, PartialEq, Eq, Hash)]
    /// enum Screen { #[default] Menu, Game }
    ///
    /// let mut app = App::new();
    /// app.add_plugins((StatesPlugin, CoroPlugin { workers: 1, ..Default::default() }))
    ///     .init_state::<Screen>()
    ///     .add_coro_state::<Screen>();
    /// ```
    fn add_coro_state<S: States>(&mut self) -> &mut Self;
}

impl CoroAppExt for App {
    fn add_coro_state<S: States>(&mut self) -> &mut Self {
        if self.world().contains_resource::<StateTasks<S>>() {
            return self;
        }
        self.init_resource::<StateTasks<S>>().add_systems(
            StateTransition,
            cancel_on_exit::<S>.in_set(StateTransitionSystems::ExitSchedules),
        )
    }
}

/// The tasks tied to each state of `S`; made by
/// [`CoroAppExt::add_coro_state`].
#[derive(Resource)]
pub struct StateTasks<S: States> {
    tasks: HashMap<S, Vec<CancelHandle>>,
}

impl<S: States> Default for StateTasks<S> {
    fn default() -> Self {
        StateTasks {
            tasks: HashMap::new(),
        }
    }
}

impl<S: States> StateTasks<S> {
    /// Tasks tied to `state` that may still run (not cancelled, not ended).
    pub fn len(&self, state: &S) -> usize {
        self.tasks.get(state).map_or(0, |tasks| {
            tasks.iter().filter(|task| task.is_live()).count()
        })
    }

    fn bind(&mut self, state: S, task: CancelHandle) {
        let tasks = self.tasks.entry(state).or_default();
        // Drop the handles of ended tasks as the list grows, so a long stay
        // in one state does not keep one per task it ever had.
        if tasks.len() == tasks.capacity() {
            tasks.retain(CancelHandle::is_live);
        }
        tasks.push(task);
    }
}

/// Cancels the tasks of the state `S` just left (each once: their handles
/// leave with it). Same-state transitions count when they run `OnExit`.
fn cancel_on_exit<S: States>(
    mut transitions: MessageReader<StateTransitionEvent<S>>,
    mut scoped: ResMut<StateTasks<S>>,
) {
    for transition in transitions.read() {
        if !transition.allow_same_state_transitions && transition.entered == transition.exited {
            continue;
        }
        let Some(exited) = &transition.exited else {
            continue;
        };
        for task in scoped.tasks.remove(exited).into_iter().flatten() {
            task.cancel();
        }
    }
}

/// Ties `task` to `state` now: cancelled at once if `S` is not in it.
///
/// # Panics
///
/// When `S` was not set up with [`CoroAppExt::add_coro_state`].
pub(crate) fn bind_to_state<S: States>(
    world: &mut World,
    state: &S,
    task: CancelHandle,
    location: &Location<'_>,
) {
    let current = world
        .get_resource::<State<S>>()
        .map(|current| current.get() == state);
    let Some(mut scoped) = world.get_resource_mut::<StateTasks<S>>() else {
        panic!(
            "bevy_coro: a task spawned at {location} is scoped to {state:?}, but the App does not \
             scope tasks to `{}`: call `app.add_coro_state::<{}>()`",
            std::any::type_name::<S>(),
            std::any::type_name::<S>(),
        );
    };
    if current == Some(true) {
        scoped.bind(state.clone(), task);
    } else {
        task.cancel();
    }
}

impl TaskBuilder<'_> {
    /// Scopes the task to `state`: when `S` leaves it (the frame `OnExit`
    /// runs), the task and its descendants are cancelled, once, as
    /// `DespawnOnExit` despawns entities. The task is tied by the next
    /// pump, before it runs any task; if `S` is not in `state` by then (or
    /// does not exist, for a sub-state), the task is cancelled at once. It
    /// may run once before that, if spawned on the main thread during a
    /// pump. A task that has finished leaves nothing behind.
    ///
    /// ```
    /// # use bevy_app::App;
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_state::prelude::*;
    /// # use bevy_state::app::StatesPlugin;
    /// # use bevy_coro::prelude::*;
    /// #[derive(States, Default, Debug, Clone, PartialEq, Eq, Hash)]
    /// enum Screen { #[default] Menu, Game }
    ///
    /// # let mut app = App::new();
    /// # app.add_plugins((StatesPlugin, CoroPlugin { workers: 1, ..Default::default() }))
    /// #     .init_state::<Screen>()
    /// #     .add_coro_state::<Screen>();
    /// # let coro = app.world().resource::<Coro>().clone();
    /// coro.task("menu music")
    ///     .in_state(Screen::Menu)
    ///     .spawn::<Main>(async { loop { next_frame().await } })
    ///     .detach();
    /// app.update(); // tied
    /// app.world_mut().resource_mut::<NextState<Screen>>().set(Screen::Game);
    /// app.update(); // cancelled on leaving the menu
    /// ```
    ///
    /// # Panics
    ///
    /// In the pump that ties it, when the App does not scope tasks to `S`
    /// ([`CoroAppExt::add_coro_state`] was not called): the message names
    /// the spawn's location.
    #[track_caller]
    pub fn in_state<S: States>(self, state: S) -> Self {
        let location = Location::caller();
        let bind = move |world: &mut World, task| bind_to_state(world, &state, task, location);
        self.owned_by(Owner::Value(Arc::new(BindTo(Box::new(bind)))))
    }
}
