//! Limits and intervals of the realtime hub and its WebSocket clients.

use std::time::Duration;

/// Realtime settings (`CRM_EVENTS_*`, `CRM_WS_*`, `CRM_REMINDER_*` in the server).
#[derive(Debug, Clone)]
pub struct RealtimeSettings {
    /// How long events stay in the outbox (and a client can resume from them).
    pub retention: Duration,
    /// Catch-up read of the outbox even without a notification, so a lost NOTIFY delays an
    /// event by at most this much and never loses it.
    pub poll_interval: Duration,
    /// LISTEN for commit notifications (off only in tests of the catch-up read).
    pub listen: bool,
    /// How often this instance looks for committed events still without a `seq` and numbers
    /// them (`crm_events::stamp`): the added commit-to-delivery latency is at most this.
    pub stamp_interval: Duration,
    /// A ping is sent this often.
    pub heartbeat: Duration,
    /// A client that sends no frame at all (not even a pong) for this long is closed.
    pub idle_timeout: Duration,
    /// Messages waiting to be written to one client. When it is full the rooms skip the
    /// client, which catches up from the outbox once it drained the queue: nobody waits for
    /// a slow client and its memory stays bounded.
    pub send_queue: usize,
    /// A client whose socket does not take a frame within this time is too slow and is
    /// disconnected (4008).
    pub write_timeout: Duration,
    /// Rooms one connection may be in at once.
    pub max_rooms: usize,
    /// Largest message accepted from a client, in bytes.
    pub max_message_bytes: usize,
    /// The credential of a connection is checked again this often (a deactivated user or a
    /// revoked API key is disconnected); access tokens also close the socket at their expiry.
    pub reauth_interval: Duration,
    /// How often due tasks are looked for (`task.due` / `task.reminder` fire at `dueAt` / `remindAt` plus at most this).
    pub reminder_interval: Duration,
    /// How often events older than the retention are pruned.
    pub prune_interval: Duration,
}

impl Default for RealtimeSettings {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(7 * 24 * 3600),
            poll_interval: Duration::from_millis(1000),
            listen: true,
            stamp_interval: Duration::from_millis(10),
            heartbeat: Duration::from_secs(20),
            idle_timeout: Duration::from_secs(60),
            send_queue: 1024,
            write_timeout: Duration::from_secs(10),
            max_rooms: 100,
            max_message_bytes: 4096,
            reauth_interval: Duration::from_secs(300),
            reminder_interval: Duration::from_secs(5),
            prune_interval: Duration::from_secs(3600),
        }
    }
}
