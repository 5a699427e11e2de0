//! [`state_entered`] and [`state_exited`] (feature `state`): waits on a game
//! state's transitions, read from `StateTransitionEvent<S>` messages once per
//! frame, at a cost per transition, not per wait.

use std::collections::HashMap;

use bevy_ecs::message::{MessageCursor, Messages};
use bevy_ecs::prelude::*;
use bevy_state::state::{State, StateTransitionEvent, States};

use super::slot::{Abandoned, Fill, Wait, slot};
use super::wait::GameWait;
use super::watchers::{Watcher, register};

/// The waits on the states of `S`, by state.
struct StateWaits<S: States> {
    entered: HashMap<S, Vec<Fill<()>>>,
    exited: HashMap<S, Vec<Fill<()>>>,
    cursor: MessageCursor<StateTransitionEvent<S>>,
    len: usize,
    abandoned: Abandoned,
}

impl<S: States> StateWaits<S> {
    fn new(world: &mut World) -> Self {
        let cursor = messages::<S>(world).get_cursor_current();
        StateWaits {
            entered: HashMap::new(),
            exited: HashMap::new(),
            cursor,
            len: 0,
            abandoned: Abandoned::default(),
        }
    }

    fn add(&mut self, world: &World, state: S, entered: bool) -> Wait<()> {
        // Transitions before the wait began are not its own: take them in.
        self.take_transitions(world);
        let (fill, wait) = slot(&self.abandoned);
        let waits = if entered {
            &mut self.entered
        } else {
            &mut self.exited
        };
        waits.entry(state).or_default().push(fill);
        self.len += 1;
        wait
    }

    fn take_transitions(&mut self, world: &World) {
        let messages = messages::<S>(world);
        if self.cursor.missed_messages(messages) > 0 {
            // The pump skipped frames: settle by where the state is now.
            self.cursor.clear(messages);
            let current = world
                .get_resource::<State<S>>()
                .map(|state| state.get().clone());
            let left: Vec<S> = self
                .exited
                .keys()
                .filter(|&state| current.as_ref() != Some(state))
                .cloned()
                .collect();
            for state in left {
                self.fill(false, &state);
            }
            if let Some(current) = current {
                self.fill(true, &current);
            }
            return;
        }
        let transitions: Vec<_> = self.cursor.read(messages).cloned().collect();
        for transition in transitions {
            // As `OnExit` and `OnEnter` run: not for a same-state transition
            // unless it asks for them.
            if !transition.allow_same_state_transitions && transition.entered == transition.exited {
                continue;
            }
            if let Some(exited) = &transition.exited {
                self.fill(false, exited);
            }
            if let Some(entered) = &transition.entered {
                self.fill(true, entered);
            }
        }
    }

    fn fill(&mut self, entered: bool, state: &S) {
        let waits = if entered {
            &mut self.entered
        } else {
            &mut self.exited
        };
        for fill in waits.remove(state).into_iter().flatten() {
            self.len -= 1;
            // Refused only by a task that gave up meanwhile.
            let _ = fill.fill(());
        }
    }
}

impl<S: States> Watcher for StateWaits<S> {
    fn check(&mut self, world: &mut World) {
        self.take_transitions(world);
        if self.abandoned.should_prune(self.len) {
            let mut left = 0;
            for waits in [&mut self.entered, &mut self.exited] {
                waits.retain(|_, fills| {
                    fills.retain(|fill| !fill.is_abandoned());
                    left += fills.len();
                    !fills.is_empty()
                });
            }
            self.len = left;
        }
    }

    fn waiting(&self) -> usize {
        self.len
    }
}

fn messages<S: States>(world: &World) -> &Messages<StateTransitionEvent<S>> {
    world
        .get_resource::<Messages<StateTransitionEvent<S>>>()
        .unwrap_or_else(|| {
            panic!(
                "bevy_coro: a task waits on a transition of `{}`, which is not a state of this \
                 App: add it with `init_state`, `insert_state`, `add_sub_state` or \
                 `add_computed_state`",
                std::any::type_name::<S>()
            )
        })
}

/// Waits until the game state `S` next enters `state` (the frame its
/// `OnEnter` runs), after the wait began: if `S` is in `state` already, the
/// wait is for the next time. Transitions are read from Bevy's
/// `StateTransitionEvent<S>` messages by the pump's once-a-frame check, so the
/// task resumes in the pump after the transition; same-state transitions
/// count when they run `OnEnter`.
///
/// To go on at once when `S` is there already, look first: on a main-thread
/// task nothing can change the state between the look and the wait.
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_state::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(States, Default, Debug, Clone, PartialEq, Eq, Hash)]
/// enum Screen { #[default] Loading, Game }
///
/// async fn when_in_game() {
///     let there = with_world(|world| *world.resource::<State<Screen>>() == Screen::Game).await;
///     if !there {
///         state_entered(Screen::Game).await;
///     }
/// }
/// ```
///
/// # Panics
///
/// In the waiting task, when `S` is not a state of the App (no
/// `init_state::<S>()` or the like); and as [`with_world`](crate::with_world).
pub fn state_entered<S: States>(state: S) -> GameWait<()> {
    on_transition(state, true)
}

/// Waits until the game state `S` next leaves `state` (the frame its
/// `OnExit` runs), after the wait began; see [`state_entered`].
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_state::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(States, Default, Debug, Clone, PartialEq, Eq, Hash)]
/// enum Screen { #[default] Menu, Game }
///
/// async fn fade_out_the_menu() {
///     state_exited(Screen::Menu).await;
///     // Fade...
/// }
/// ```
pub fn state_exited<S: States>(state: S) -> GameWait<()> {
    on_transition(state, false)
}

fn on_transition<S: States>(state: S, entered: bool) -> GameWait<()> {
    GameWait::new(
        if entered {
            "state entered"
        } else {
            "state exited"
        },
        std::any::type_name::<S>(),
        async move {
            let wait = register(
                StateWaits::<S>::new,
                move |waits: &mut StateWaits<S>, world| waits.add(world, state, entered),
            )
            .await;
            if wait.await.is_err() {
                // The World went away with the wait (the App is being dropped):
                // the task never resumes, and is dropped with the scheduler.
                std::future::pending::<()>().await;
            }
        },
    )
}
