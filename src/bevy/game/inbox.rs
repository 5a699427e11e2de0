//! [`messages`]: a [`MessageInbox`] that receives every message of a type,
//! in order, from its creation on.
//!
//! The message type's watcher copies each new message into every inbox
//! when it looks, once per frame, whatever the reading task is doing: a
//! task busy on a worker for many frames finds them all waiting when it
//! reads again. Bevy keeps a message for two frames only, so this is what
//! lets a slow reader miss nothing.

use std::collections::VecDeque;
use std::fmt;
use std::future::poll_fn;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};

use bevy_ecs::message::{Message, Messages};

use super::messages::{MessageWatcher, messages_of};
use super::slot::Abandoned;
use super::wait::GameWait;
use super::watchers::register;
use crate::runtime::diag::task_list::{self, Note};

/// What the watcher delivers to an inbox.
enum Delivery<M> {
    Message(M),
    /// Messages written that the watcher never saw.
    Missed(usize),
    /// `Messages<M>` left the World: the reader panics with this.
    Removed(String),
}

struct Mailbox<M> {
    deliveries: VecDeque<Delivery<M>>,
    /// The reading task, while it waits.
    waker: Option<Waker>,
    /// The watcher let go of the inbox (the World is gone).
    closed: bool,
}

/// The part of an inbox the watcher and the reader share.
struct Shared<M>(Mutex<Mailbox<M>>);

impl<M> Shared<M> {
    fn lock(&self) -> MutexGuard<'_, Mailbox<M>> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds `deliveries` and wakes the reader, with no lock held.
    fn deliver(&self, deliveries: impl IntoIterator<Item = Delivery<M>>) {
        let mut mailbox = self.lock();
        for delivery in deliveries {
            match (mailbox.deliveries.back_mut(), delivery) {
                (Some(Delivery::Missed(missed)), Delivery::Missed(more)) => *missed += more,
                (_, delivery) => mailbox.deliveries.push_back(delivery),
            }
        }
        let waker = mailbox.waker.take();
        drop(mailbox);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// The watcher's end of an inbox.
pub(super) struct InboxEntry<M> {
    shared: Arc<Shared<M>>,
    /// The count of messages written when the watcher last filled it (or
    /// when the inbox was made).
    from: usize,
}

impl<M: Message + Clone> InboxEntry<M> {
    /// Copies the messages from `self.from` to `written` in; `false` once
    /// the reader is gone (the entry can go).
    pub(super) fn deliver(
        &mut self,
        messages: &Messages<M>,
        oldest: usize,
        written: usize,
    ) -> bool {
        if self.is_abandoned() {
            return false;
        }
        // Gone before the watcher could look: the pump skipped frames, or
        // something drained or cleared `Messages<M>`.
        let missed = oldest.saturating_sub(self.from);
        let copies = (self.from.max(oldest)..written)
            .filter_map(|id| messages.get_message(id))
            .map(|(message, _)| Delivery::Message(message.clone()));
        if missed > 0 || self.from < written {
            self.shared.deliver(
                (missed > 0)
                    .then_some(Delivery::Missed(missed))
                    .into_iter()
                    .chain(copies),
            );
        }
        self.from = written;
        true
    }
}

impl<M> InboxEntry<M> {
    /// Whether the reader dropped its inbox.
    pub(super) fn is_abandoned(&self) -> bool {
        Arc::strong_count(&self.shared) == 1
    }

    /// The World's `Messages<M>` was replaced: count from its start.
    pub(super) fn restart(&mut self) {
        self.from = 0;
    }

    /// `Messages<M>` left the World: the reader panics with `why` once it
    /// has read what came before.
    pub(super) fn removed(self, why: &str) {
        self.shared.deliver([Delivery::Removed(why.to_owned())]);
    }
}

impl<M> Drop for InboxEntry<M> {
    fn drop(&mut self) {
        let mut mailbox = self.shared.lock();
        mailbox.closed = true;
        let waker = mailbox.waker.take();
        drop(mailbox);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// Messages were written that a [`MessageInbox`] could not receive: Bevy
/// dropped them before the pump looked. This happens only when the pump
/// does not run between two of Bevy's message updates (its schedule skipped
/// a frame, or is one that does not run every frame), or when something
/// drains or clears `Messages<M>` before the pump looks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissedMessages {
    /// How many were lost, at this place in the order.
    pub count: usize,
}

impl fmt::Display for MissedMessages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} messages were dropped before they could be read",
            self.count
        )
    }
}

impl std::error::Error for MissedMessages {}

/// Every `M` written from its creation on, each once, in the order written:
/// made by [`messages`]. Read with [`next`](MessageInbox::next); dropping it
/// stops the deliveries.
///
/// Messages are copied into the inbox by the pump, once a frame, whether the
/// reading task is waiting, busy, or on a worker for many frames: what was
/// written meanwhile waits in the inbox, in order, until read. An inbox that
/// is never read keeps growing, as an unbounded channel does.
pub struct MessageInbox<M> {
    shared: Arc<Shared<M>>,
    abandoned: Abandoned,
}

impl<M> MessageInbox<M> {
    /// The next message, waiting for one if the inbox is empty:
    /// `Err(MissedMessages)` in the place of messages that could not be
    /// received (see [`MissedMessages`]), the next call goes on after them.
    /// Cancel-safe: dropped before it resolves, it takes nothing out.
    ///
    /// ```
    /// # use bevy_ecs::prelude::*;
    /// # use bevy_coro::prelude::*;
    /// #[derive(Message, Clone)]
    /// struct Scored(u32);
    ///
    /// async fn tally() {
    ///     let mut scores = messages::<Scored>().await;
    ///     let mut total = 0;
    ///     loop {
    ///         match scores.next().await {
    ///             Ok(Scored(points)) => total += points,
    ///             Err(missed) => println!("the tally is off: {missed}"),
    ///         }
    ///         println!("total: {total}");
    ///     }
    /// }
    /// ```
    ///
    /// # Panics
    ///
    /// If `Messages<M>` was removed from the World, once the messages
    /// before that are read.
    pub async fn next(&mut self) -> Result<M, MissedMessages> {
        poll_fn(|cx| self.poll_next(cx)).await
    }

    /// The next message if one is in the inbox, without waiting.
    ///
    /// # Panics
    ///
    /// As [`next`](MessageInbox::next).
    pub fn try_next(&mut self) -> Option<Result<M, MissedMessages>> {
        match take(&mut self.shared.lock()) {
            Poll::Ready(next) => next,
            Poll::Pending => None,
        }
    }

    fn poll_next(&mut self, cx: &mut Context<'_>) -> Poll<Result<M, MissedMessages>> {
        let mut mailbox = self.shared.lock();
        match take(&mut mailbox) {
            Poll::Ready(Some(next)) => Poll::Ready(next),
            // The World is gone: the task never resumes, and is dropped
            // with the scheduler.
            Poll::Ready(None) => Poll::Pending,
            Poll::Pending => {
                if !mailbox
                    .waker
                    .as_ref()
                    .is_some_and(|waker| waker.will_wake(cx.waker()))
                {
                    let old = mailbox.waker.replace(cx.waker().clone());
                    drop(mailbox);
                    drop(old);
                }
                task_list::note(Note::Game("message", std::any::type_name::<M>()));
                Poll::Pending
            }
        }
    }
}

/// Takes the next delivery: `Ready(None)` if none will ever come.
fn take<M>(mailbox: &mut Mailbox<M>) -> Poll<Option<Result<M, MissedMessages>>> {
    match mailbox.deliveries.pop_front() {
        Some(Delivery::Message(message)) => Poll::Ready(Some(Ok(message))),
        Some(Delivery::Missed(count)) => Poll::Ready(Some(Err(MissedMessages { count }))),
        Some(Delivery::Removed(why)) => panic!("{why}"),
        None if mailbox.closed => Poll::Ready(None),
        None => Poll::Pending,
    }
}

impl<M> Drop for MessageInbox<M> {
    fn drop(&mut self) {
        // The watcher drops its entry when it next prunes.
        self.abandoned.bump();
    }
}

impl<M> fmt::Debug for MessageInbox<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mailbox = self.shared.lock();
        f.debug_struct("MessageInbox")
            .field("unread", &mailbox.deliveries.len())
            .finish_non_exhaustive()
    }
}

/// Opens a [`MessageInbox`] that receives every `M` written from now on,
/// each once, in order, however long the task takes between reads (see
/// [`MessageInbox`]). It opens at once in a main-thread task, after a hop to
/// the main thread from a worker task (as [`with_world`](crate::with_world)):
/// messages written before do not arrive. Reading needs no hop: a worker
/// task reads its inbox where it runs.
///
/// ```
/// # use bevy_ecs::prelude::*;
/// # use bevy_coro::prelude::*;
/// #[derive(Message, Clone)]
/// struct Chat(String);
///
/// async fn log_the_first_ten() {
///     let mut chat = messages::<Chat>().await;
///     for _ in 0..10 {
///         if let Ok(Chat(line)) = chat.next().await {
///             println!("{line}");
///         }
///     }
/// }
/// ```
///
/// # Panics
///
/// As [`next_message`](crate::next_message): when `M` was never added with
/// `app.add_message::<M>()`.
pub fn messages<M: Message + Clone>() -> GameWait<MessageInbox<M>> {
    GameWait::new(
        "inbox",
        std::any::type_name::<M>(),
        register(
            |_| MessageWatcher::<M>::default(),
            |watcher: &mut MessageWatcher<M>, world| {
                let from = watcher.begin(messages_of::<M>(world, "messages"));
                let shared = Arc::new(Shared(Mutex::new(Mailbox {
                    deliveries: VecDeque::new(),
                    waker: None,
                    closed: false,
                })));
                watcher.inboxes.push(InboxEntry {
                    shared: shared.clone(),
                    from,
                });
                MessageInbox {
                    shared,
                    abandoned: watcher.abandoned.clone(),
                }
            },
        ),
    )
}
