//! The reliable signaling channel of tgcalls 8.0.0 / 9.0.0 (spec/tgcalls.md 2.3): per-direction
//! counters, acks, resends until acked, the replay window and exactly-once, in-order delivery of
//! messages. Sans-IO: bytes and the clock in, bytes and messages out.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use crate::wire::tgcalls::{
    decode_body, Entry, Message, SignalingCrypto, SignalingPacket, TgcallsWireError, COUNTER_MASK,
    MAX_SIGNALING_PACKET, SEQ_REQUIRES_ACK,
};

/// Unacked messages are re-attached to other packets no sooner than this after their last send.
pub const RESEND_ATTACH_AFTER: Duration = Duration::from_secs(3);
/// A dedicated resend packet is sent this long after a message's last send.
pub const RESEND_FORCE_AFTER: Duration = Duration::from_secs(5);
/// Acks not triggered by a new message go out within this delay.
pub const ACK_DELAY: Duration = Duration::from_secs(5);
/// At most this many unacked messages (tgcalls: 64 Ki).
pub const MAX_UNACKED: usize = 64 * 1024;
/// The replay window over packet counters.
pub const REPLAY_WINDOW: u32 = 64;
/// Counters of delivered messages remembered for duplicate suppression.
const DELIVERED_MEMORY: u32 = 4096;
/// Plaintext budget of one packet (the limit includes the 16-byte msg_key).
const MAX_PLAINTEXT: usize = MAX_SIGNALING_PACKET - 16;

/// Why a message could not be queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The serialized message does not fit one signaling packet.
    TooLarge,
    /// Too many messages are waiting for acks.
    QueueFull,
}

impl core::fmt::Display for SendError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            SendError::TooLarge => f.write_str("signaling message larger than one packet"),
            SendError::QueueFull => f.write_str("too many unacknowledged signaling messages"),
        }
    }
}

impl std::error::Error for SendError {}

/// Channel counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelStats {
    /// Packets emitted.
    pub packets_sent: u64,
    /// Bytes emitted.
    pub bytes_sent: u64,
    /// Messages sent again because they stayed unacked for 3 s (or 5 s).
    pub resends: u64,
    /// Unacked messages repeated early because a new message joined them (as tgcalls does).
    pub rebundled: u64,
    /// Packets received (any bytes).
    pub packets_recvd: u64,
    /// Dropped: decryption failed (msg_key).
    pub drop_decrypt: u64,
    /// Dropped: the plaintext did not parse.
    pub drop_parse: u64,
    /// Dropped: the packet counter was seen before or is older than the replay window.
    pub drop_replay: u64,
    /// Messages received again (acked again, not delivered again).
    pub duplicates: u64,
    /// Messages delivered.
    pub delivered: u64,
    /// Messages whose body did not decode (delivered as errors).
    pub bad_messages: u64,
    /// Messages delivered after a message with a higher counter (a peer that broke ordering).
    pub late: u64,
}

/// What the channel delivers upward.
#[derive(Debug, Clone, PartialEq)]
pub enum ChannelEvent {
    /// A message from the peer, in order, once.
    Message(Message),
    /// A message that arrived but whose body is not valid (its seq and the reason).
    BadMessage {
        /// The full seq of the message.
        seq: u32,
        /// Why the body was rejected.
        error: TgcallsWireError,
    },
}

#[derive(Debug)]
struct Outgoing {
    /// Counter | SEQ_REQUIRES_ACK.
    seq: u32,
    body: Vec<u8>,
    last_sent: Option<Instant>,
}

/// One side's signaling channel.
#[derive(Debug)]
pub struct SignalingChannel {
    crypto: SignalingCrypto,
    next_counter: u32,
    unacked: VecDeque<Outgoing>,
    pending_acks: Vec<u32>,
    ack_now: bool,
    ack_deadline: Option<Instant>,
    // Replay window over counters: the largest seen and a bitmap of the 64 below it.
    max_counter: Option<u32>,
    seen_mask: u64,
    delivered: BTreeSet<u32>,
    max_delivered: u32,
    events: VecDeque<ChannelEvent>,
    stats: ChannelStats,
}

impl SignalingChannel {
    /// A channel for the call key and our role.
    pub fn new(key: &[u8; 256], is_caller: bool) -> SignalingChannel {
        SignalingChannel {
            crypto: SignalingCrypto::new(key, is_caller),
            next_counter: 1,
            unacked: VecDeque::new(),
            pending_acks: Vec::new(),
            ack_now: false,
            ack_deadline: None,
            max_counter: None,
            seen_mask: 0,
            delivered: BTreeSet::new(),
            max_delivered: 0,
            events: VecDeque::new(),
            stats: ChannelStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> ChannelStats {
        self.stats
    }

    /// Messages sent and not yet acknowledged.
    pub fn unacked(&self) -> usize {
        self.unacked.len()
    }

    /// Queues a message (sent with "requires ack" and resent until acked).
    pub fn send(&mut self, msg: &Message) -> Result<(), SendError> {
        self.send_body(msg.to_json())
    }

    /// Queues an already serialized body.
    pub fn send_body(&mut self, body: Vec<u8>) -> Result<(), SendError> {
        // Alone behind an empty header, plus some room for acks.
        if 5 + 9 + body.len() + 5 * 64 > MAX_PLAINTEXT {
            return Err(SendError::TooLarge);
        }
        if self.unacked.len() >= MAX_UNACKED {
            return Err(SendError::QueueFull);
        }
        let seq = self.take_counter() | SEQ_REQUIRES_ACK;
        self.unacked.push_back(Outgoing {
            seq,
            body,
            last_sent: None,
        });
        Ok(())
    }

    fn take_counter(&mut self) -> u32 {
        let c = self.next_counter;
        self.next_counter = (self.next_counter + 1) & COUNTER_MASK;
        if self.next_counter == 0 {
            self.next_counter = 1;
        }
        c
    }

    /// Feeds one packet from the peer. Errors only report why the packet was dropped; the
    /// channel stays usable.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> Result<(), TgcallsWireError> {
        self.stats.packets_recvd += 1;
        let plain = self.crypto.decrypt(data).inspect_err(|_| {
            self.stats.drop_decrypt += 1;
        })?;
        let packet = SignalingPacket::parse(&plain).inspect_err(|_| {
            self.stats.drop_parse += 1;
        })?;
        let first = packet.entries.first().and_then(Entry::counter).unwrap_or(0);
        if !self.register_counter(first) {
            self.stats.drop_replay += 1;
            return Err(TgcallsWireError::Invalid("replayed or too old packet"));
        }
        for entry in packet.entries {
            match entry {
                Entry::Ack { seq } => self.unacked.retain(|m| m.seq != seq),
                Entry::Empty { seq } => {
                    self.register_counter(seq & COUNTER_MASK);
                }
                Entry::Message { seq, body } => {
                    let counter = seq & COUNTER_MASK;
                    self.register_counter(counter);
                    if seq & SEQ_REQUIRES_ACK != 0 {
                        if !self.pending_acks.contains(&seq) {
                            self.pending_acks.push(seq);
                        }
                        self.ack_now = true;
                    }
                    self.deliver(counter, seq, &body);
                }
            }
        }
        if !self.pending_acks.is_empty() && self.ack_deadline.is_none() {
            self.ack_deadline = Some(now + ACK_DELAY);
        }
        Ok(())
    }

    /// Marks `counter` seen; false if it was seen before or is older than the window.
    fn register_counter(&mut self, counter: u32) -> bool {
        let Some(max) = self.max_counter else {
            self.max_counter = Some(counter);
            self.seen_mask = 1;
            return true;
        };
        if counter > max {
            let shift = counter - max;
            self.seen_mask = if shift >= 64 {
                0
            } else {
                self.seen_mask << shift
            };
            self.seen_mask |= 1;
            self.max_counter = Some(counter);
            true
        } else {
            let back = max - counter;
            if back >= REPLAY_WINDOW {
                return false;
            }
            let bit = 1u64 << back;
            if self.seen_mask & bit != 0 {
                return false;
            }
            self.seen_mask |= bit;
            true
        }
    }

    fn deliver(&mut self, counter: u32, seq: u32, body: &[u8]) {
        let forgotten = self.max_delivered.saturating_sub(DELIVERED_MEMORY);
        if counter <= forgotten || self.delivered.contains(&counter) {
            self.stats.duplicates += 1;
            return;
        }
        if counter < self.max_delivered {
            self.stats.late += 1;
        }
        self.delivered.insert(counter);
        if counter > self.max_delivered {
            self.max_delivered = counter;
            let floor = counter.saturating_sub(DELIVERED_MEMORY);
            while self.delivered.first().is_some_and(|&c| c <= floor) {
                self.delivered.pop_first();
            }
        }
        self.stats.delivered += 1;
        match decode_body(body) {
            Ok(m) => self.events.push_back(ChannelEvent::Message(m)),
            Err(error) => {
                self.stats.bad_messages += 1;
                self.events
                    .push_back(ChannelEvent::BadMessage { seq, error });
            }
        }
    }

    /// The next delivered message, in order.
    pub fn poll_event(&mut self) -> Option<ChannelEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let resend = self
            .unacked
            .iter()
            .filter_map(|m| m.last_sent.map(|t| t + RESEND_FORCE_AFTER))
            .min();
        [resend, self.ack_deadline].into_iter().flatten().min()
    }

    /// Advances timers (nothing is sent here: call [`poll_transmit`](Self::poll_transmit)).
    pub fn handle_timeout(&mut self, now: Instant) {
        let _ = now;
    }

    /// The next packet to send, if any is due at `now`. Call until `None`.
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        let has_new = self.unacked.iter().any(|m| m.last_sent.is_none());
        let resend_due = self
            .unacked
            .iter()
            .any(|m| m.last_sent.is_some_and(|t| now >= t + RESEND_FORCE_AFTER));
        let ack_due = !self.pending_acks.is_empty()
            && (self.ack_now || self.ack_deadline.is_some_and(|t| now >= t));
        if !has_new && !resend_due && !ack_due {
            return None;
        }
        let mut entries = Vec::new();
        let mut size = 0usize;
        if has_new && self.unacked.len() == 1 {
            // Nothing older pending: the message goes first, alone.
            let m = &mut self.unacked[0];
            entries.push(Entry::Message {
                seq: m.seq,
                body: m.body.clone(),
            });
            size += 9 + m.body.len();
            m.last_sent = Some(now);
        } else {
            let seq = self.take_counter();
            entries.push(Entry::Empty { seq });
            size += 5;
            for m in self.unacked.iter_mut() {
                // New messages and (when anything goes out) those not sent for 3 s; all of
                // them when new messages join older unacked ones, as tgcalls does.
                let due = match m.last_sent {
                    None => true,
                    Some(t) => has_new || now >= t + RESEND_ATTACH_AFTER,
                };
                if !due {
                    continue;
                }
                if size + 9 + m.body.len() > MAX_PLAINTEXT {
                    break;
                }
                match m.last_sent {
                    Some(t) if now >= t + RESEND_ATTACH_AFTER => self.stats.resends += 1,
                    Some(_) => self.stats.rebundled += 1,
                    None => {}
                }
                size += 9 + m.body.len();
                entries.push(Entry::Message {
                    seq: m.seq,
                    body: m.body.clone(),
                });
                m.last_sent = Some(now);
            }
        }
        let mut acked = 0;
        for &seq in &self.pending_acks {
            if size + 5 > MAX_PLAINTEXT {
                break;
            }
            entries.push(Entry::Ack { seq });
            size += 5;
            acked += 1;
        }
        self.pending_acks.drain(..acked);
        if self.pending_acks.is_empty() {
            self.ack_now = false;
            self.ack_deadline = None;
        }
        let plain = SignalingPacket { entries }.to_bytes();
        let out = self.crypto.encrypt(&plain);
        self.stats.packets_sent += 1;
        self.stats.bytes_sent += out.len() as u64;
        Some(out)
    }
}
