//! [`next_message`] and [`next_message_where`]: wait for a [`Message`], and
//! the watcher of one message type, which also fills the inboxes of
//! [`messages`](super::messages()).
//!
//! The watcher keeps a cursor: the count of messages written when it last
//! looked. A frame in which nothing was written costs it one comparison,
//! however many tasks wait; a written message is handed to the waits of its
//! own type only.

use std::any::{Any, type_name};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};

use bevy_ecs::message::{Message, Messages};
use bevy_ecs::prelude::*;
use bevy_platform::cell::SyncCell;

use super::inbox::InboxEntry;
use super::slot::{Abandoned, Fill, slot};
use super::wait::GameWait;
use super::watchers::{Watcher, register};

/// A panic caught in a predicate, or the watcher's own, handed to the task.
type Caught = Box<dyn Any + Send>;
/// A test a message must pass to end a wait.
type Predicate<M> = Box<dyn FnMut(&M) -> bool + Send>;
/// What a task waits for among the messages: `None` for any.
type Matches<M> = Option<SyncCell<Predicate<M>>>;

/// One task waiting for the first message (matching, if it says) written
/// since it began.
struct Waiting<M> {
    /// The count of messages written when the wait began.
    from: usize,
    matches: Matches<M>,
    fill: Option<Fill<Result<M, Caught>>>,
}

impl<M: Message + Clone> Waiting<M> {
    /// Fills the slot with the first message from `self.from` on that
    /// matches; `true` once the entry can go (filled, or abandoned).
    fn deliver(&mut self, messages: &Messages<M>, oldest: usize, written: usize) -> bool {
        if self.fill.as_ref().is_none_or(Fill::is_abandoned) {
            return true;
        }
        for id in self.from.max(oldest)..written {
            let Some((message, _)) = messages.get_message(id) else {
                continue;
            };
            let found = match &mut self.matches {
                None => Ok(message.clone()),
                // A panic is the waiting task's: it resumes and panics with it.
                Some(matches) => {
                    match catch_unwind(AssertUnwindSafe(|| (matches.get())(message))) {
                        Ok(false) => continue,
                        Ok(true) => Ok(message.clone()),
                        Err(payload) => Err(payload),
                    }
                }
            };
            // Refused only if the task gave up meanwhile.
            let _ = self.fill.take().expect("checked above").fill(found);
            return true;
        }
        self.from = written;
        false
    }
}

/// The waits and inboxes of message type `M`, checked once per frame.
pub(super) struct MessageWatcher<M: Message> {
    waits: Vec<Waiting<M>>,
    pub(super) inboxes: Vec<InboxEntry<M>>,
    pub(super) abandoned: Abandoned,
    /// The count of messages written when the watcher last looked: what it
    /// has handed out already.
    seen: usize,
}

impl<M: Message> Default for MessageWatcher<M> {
    fn default() -> Self {
        MessageWatcher {
            waits: Vec::new(),
            inboxes: Vec::new(),
            abandoned: Abandoned::default(),
            seen: 0,
        }
    }
}

impl<M: Message> MessageWatcher<M> {
    fn is_empty(&self) -> bool {
        self.waits.is_empty() && self.inboxes.is_empty()
    }

    /// Readies the watcher for a new wait or inbox; returns the count of
    /// messages written so far (where the newcomer starts).
    pub(super) fn begin(&mut self, messages: &Messages<M>) -> usize {
        let written = written(messages);
        if self.is_empty() {
            // Nothing was handed out while nobody waited.
            self.seen = written;
        }
        written
    }

    /// `Messages<M>` left the World: every waiting task is told, with a
    /// panic, rather than left waiting for what can no longer come.
    fn removed(&mut self) {
        let why = format!(
            "bevy_coro: `Messages<{}>` was removed from the World while a task waited for one",
            type_name::<M>()
        );
        for mut waiting in self.waits.drain(..) {
            if let Some(fill) = waiting.fill.take() {
                let _ = fill.fill(Err(Box::new(why.clone())));
            }
        }
        for entry in self.inboxes.drain(..) {
            entry.removed(&why);
        }
    }
}

impl<M: Message + Clone> Watcher for MessageWatcher<M> {
    fn check(&mut self, world: &mut World) {
        if self.is_empty() {
            return;
        }
        if self.abandoned.should_prune(self.waiting()) {
            self.waits
                .retain(|waiting| !waiting.fill.as_ref().is_none_or(Fill::is_abandoned));
            self.inboxes.retain(|entry| !entry.is_abandoned());
            if self.is_empty() {
                return;
            }
        }
        let Some(messages) = world.get_resource::<Messages<M>>() else {
            self.removed();
            return;
        };
        let written = written(messages);
        if written == self.seen {
            // Nothing new: the common frame, one comparison.
            return;
        }
        if written < self.seen {
            // A new `Messages<M>` replaced the old one: count from its start.
            self.seen = 0;
            self.waits.iter_mut().for_each(|waiting| waiting.from = 0);
            self.inboxes.iter_mut().for_each(InboxEntry::restart);
        }
        let oldest = messages.oldest_message_count();
        // In registration order, so a deterministic run wakes in one order.
        self.waits
            .retain_mut(|waiting| !waiting.deliver(messages, oldest, written));
        self.inboxes
            .retain_mut(|entry| entry.deliver(messages, oldest, written));
        self.seen = written;
    }

    fn waiting(&self) -> usize {
        self.waits.len() + self.inboxes.len()
    }
}

/// Messages of `messages` ever written: the id the next one will get.
pub(super) fn written<M: Message>(messages: &Messages<M>) -> usize {
    // The oldest kept message's id, plus those kept (ids are consecutive).
    messages.oldest_message_count() + messages.len()
}

/// The World's `Messages<M>`, or a panic that says how to add it.
pub(super) fn messages_of<'w, M: Message>(world: &'w World, wait: &str) -> &'w Messages<M> {
    world.get_resource::<Messages<M>>().unwrap_or_else(|| {
        panic!(
            "bevy_coro: `{wait}::<{name}>` waits for a message type this World does not have: \
             add it with `app.add_message::<{name}>()`",
            name = type_name::<M>()
        )
    })
}

/// Waits for the next `M` written: the first one written after the wait
/// began, whatever writes it (a system's `MessageWriter`, a task's
/// `with_world`, ...), and resolves with a clone of it. The wait begins at
/// once in a main-thread task, after a hop to the main thread from a worker
/// task (as [`with_world`](crate::with_world)); a message written before
/// does not count. The pump looks once per frame, before it runs tasks, and
/// wakes only the tasks waiting for `M`; a frame in which no `M` was written
/// costs it one comparison for all of them. (Should Bevy drop messages before
/// the pump looks, see [`MissedMessages`](crate::MissedMessages), the wait
/// takes the first one the pump sees.)
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Message, Clone)]
/// struct LevelUp(u32);
///
/// async fn congratulate() {
///     let LevelUp(level) = next_message::<LevelUp>().await;
///     println!("level {level}!");
/// }
/// ```
///
/// # Panics
///
/// When `M` was never added (`app.add_message::<M>()`), and if its
/// `Messages<M>` is removed while the task waits: the task ends with
/// [`TaskError::Panicked`](crate::TaskError::Panicked) saying so. As
/// [`with_world`](crate::with_world), outside a bevy_coro task.
pub fn next_message<M: Message + Clone>() -> GameWait<M> {
    wait_for(None, "next_message")
}

/// Waits for the next `M` written for which `matches` holds, and resolves
/// with a clone of it: [`next_message`] with a filter. `matches` sees each
/// `M` written after the wait began, in order, until one matches; it runs
/// in the pump, on the main thread, once per message.
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Message, Clone)]
/// struct Damaged {
///     who: Entity,
///     amount: u32,
/// }
///
/// async fn wait_for_a_big_hit(on: Entity) -> u32 {
///     next_message_where(move |hit: &Damaged| hit.who == on && hit.amount >= 50)
///         .await
///         .amount
/// }
/// ```
///
/// # Panics
///
/// As [`next_message`]; and a panic in `matches` ends the task that waits,
/// as a panic in its own code would.
pub fn next_message_where<M: Message + Clone>(
    matches: impl FnMut(&M) -> bool + Send + 'static,
) -> GameWait<M> {
    wait_for(Some(Box::new(matches)), "next_message_where")
}

fn wait_for<M: Message + Clone>(matches: Option<Predicate<M>>, name: &'static str) -> GameWait<M> {
    GameWait::new("message", std::any::type_name::<M>(), async move {
        let wait = register(
            |_| MessageWatcher::<M>::default(),
            move |watcher: &mut MessageWatcher<M>, world| {
                let from = watcher.begin(messages_of::<M>(world, name));
                let (fill, wait) = slot(&watcher.abandoned);
                watcher.waits.push(Waiting {
                    from,
                    matches: matches.map(SyncCell::new),
                    fill: Some(fill),
                });
                wait
            },
        )
        .await;
        match wait.await {
            Ok(Ok(message)) => message,
            Ok(Err(payload)) => resume_unwind(payload),
            // The World went away with the wait (the App is being dropped):
            // the task never resumes, and is dropped with the scheduler.
            Err(_) => std::future::pending().await,
        }
    })
}
