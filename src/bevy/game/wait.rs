//! [`GameWait`], the future every game wait returns, and [`GameWaitError`].

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bevy_ecs::entity::Entity;

use crate::runtime::diag::task_list::{self, Note};

/// The future of a wait on the game ([`until`](crate::until),
/// [`until_some`](crate::until_some), ...): it registers the wait with the
/// World (at once on the main thread, after a hop from a worker, as
/// [`with_world`](crate::with_world) does) and then sleeps until the pump's
/// once-a-frame check finds that it holds. Dropping it (its task cancelled)
/// unregisters the wait.
#[must_use = "futures do nothing unless awaited"]
pub struct GameWait<T> {
    future: Pin<Box<dyn Future<Output = T> + Send>>,
    /// What the live task list says the task waits on (see
    /// [`WaitingOn::Game`](crate::runtime::WaitingOn::Game)).
    kind: &'static str,
    of: &'static str,
}

impl<T> GameWait<T> {
    /// A wait of `kind` (`"message"`, `"added"`, ...) on type `of` (empty
    /// for none), as the live task list names it.
    pub(crate) fn new(
        kind: &'static str,
        of: &'static str,
        future: impl Future<Output = T> + Send + 'static,
    ) -> Self {
        GameWait {
            future: Box::pin(future),
            kind,
            of,
        }
    }
}

impl<T> Future for GameWait<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let poll = self.future.as_mut().poll(cx);
        if poll.is_pending() {
            task_list::note(Note::Game(self.kind, self.of));
        }
        poll
    }
}

impl<T> fmt::Debug for GameWait<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GameWait").finish_non_exhaustive()
    }
}

/// Why a wait on the game ended without what it waited for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GameWaitError {
    /// The entity waited on does not exist.
    NoSuchEntity(Entity),
    /// The entity waited on was despawned before the wait was over.
    Despawned(Entity),
    /// The World that held the wait is gone (the App was dropped).
    WorldGone,
    /// The asset waited on, or one of its dependencies, failed to load
    /// (`loaded`, feature `asset`): the loader's error.
    LoadFailed(String),
}

impl fmt::Display for GameWaitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GameWaitError::NoSuchEntity(entity) => {
                write!(f, "entity {entity} does not exist")
            }
            GameWaitError::Despawned(entity) => {
                write!(f, "entity {entity} was despawned while a task waited on it")
            }
            GameWaitError::WorldGone => f.write_str("the World that held the wait is gone"),
            GameWaitError::LoadFailed(error) => write!(f, "the asset failed to load: {error}"),
        }
    }
}

impl std::error::Error for GameWaitError {}
