//! The UDP availability test and the TCP fallback (wire.md 7.3), and which transports are in
//! use (7.1): self-info rounds every 0.5 s; one second after round 4 the mean number of answers
//! per answering relay decides whether UDP works, works badly (TCP as well, re-test after round
//! 10) or not at all (TCP only). TCP relays are copies of the UDP relays with synthetic ids.

use std::time::{Duration, Instant};

use crate::api::EndpointType;

use super::endpoints::{EndpointTable, TCP_COPY_XOR};
use super::Session;

/// Rounds before the first verdict, and before the second one after a BAD verdict.
const FIRST_ROUNDS: u32 = 4;
const SECOND_ROUNDS: u32 = 10;
/// The verdict is taken this long after the last round of a test.
const EVAL_DELAY: Duration = Duration::from_secs(1);
/// Mean answers per relay below which UDP is BAD after 4 rounds, and below which a BAD UDP is
/// given up after 10.
const BAD_BELOW: f64 = 3.0;
const GIVE_UP_BELOW: f64 = 7.0;

/// Outcome of the UDP availability test.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum UdpVerdict {
    /// No verdict yet.
    #[default]
    Unknown,
    /// Relays answer self-info requests over UDP.
    Available,
    /// Few answers: TCP is used as well.
    Bad,
    /// No (or too few) answers: the call moves to TCP relays.
    NotAvailable,
}

/// Transport bookkeeping of a call.
#[derive(Debug)]
pub(super) struct UdpTest {
    verdict: UdpVerdict,
    eval_at: Option<Instant>,
    udp_in_use: bool,
    tcp_in_use: bool,
    /// Datagrams go through a SOCKS5 UDP association.
    udp_via_proxy: bool,
    /// The test found that the proxy carries no UDP: the network layer should go direct.
    drop_proxy_udp: bool,
}

impl UdpTest {
    /// TCP starts in use only when signalling (or `force_tcp`) gave TCP relays.
    pub(super) fn new(endpoints: &EndpointTable) -> UdpTest {
        UdpTest {
            verdict: UdpVerdict::Unknown,
            eval_at: None,
            udp_in_use: true,
            tcp_in_use: endpoints.iter().any(|e| e.kind == EndpointType::TcpRelay),
            udp_via_proxy: false,
            drop_proxy_udp: false,
        }
    }

    /// When the pending verdict is due.
    pub(super) fn eval_at(&self) -> Option<Instant> {
        self.eval_at
    }

    /// Forgets a pending verdict (the test restarts).
    pub(super) fn cancel_eval(&mut self) {
        self.eval_at = None;
    }

    /// Self-info rounds the current test runs.
    pub(super) fn rounds_wanted(&self) -> u32 {
        if self.verdict == UdpVerdict::Bad {
            SECOND_ROUNDS
        } else {
            FIRST_ROUNDS
        }
    }

    /// Called after each self-info round: arms the verdict after the last one.
    pub(super) fn after_round(&mut self, now: Instant, round: u32) {
        if round == FIRST_ROUNDS || round == SECOND_ROUNDS {
            self.eval_at = Some(now + EVAL_DELAY);
        }
    }

    /// Whether packets may go to an endpoint of this kind now.
    pub(super) fn usable(&self, kind: EndpointType) -> bool {
        if kind == EndpointType::TcpRelay {
            self.tcp_in_use
        } else {
            self.udp_in_use
        }
    }

    /// [`usable`](Self::usable) as a copyable closure over the current flags.
    pub(super) fn usable_fn(&self) -> impl Fn(EndpointType) -> bool + Copy {
        let (udp, tcp) = (self.udp_in_use, self.tcp_in_use);
        move |kind| {
            if kind == EndpointType::TcpRelay {
                tcp
            } else {
                udp
            }
        }
    }

    /// BAD or NOT_AVAILABLE: a first INIT from a UDP relay does not take over the current one.
    pub(super) fn udp_bad(&self) -> bool {
        matches!(self.verdict, UdpVerdict::Bad | UdpVerdict::NotAvailable)
    }
}

impl Session {
    /// The UDP test's verdict so far.
    pub fn udp_verdict(&self) -> UdpVerdict {
        self.udp_test.verdict
    }

    /// Whether packets currently go to TCP relays (the network layer closes its TCP
    /// connections when this turns false).
    pub fn tcp_in_use(&self) -> bool {
        self.udp_test.tcp_in_use
    }

    /// Whether packets currently go to UDP endpoints.
    pub fn udp_in_use(&self) -> bool {
        self.udp_test.udp_in_use
    }

    /// Tells the session that datagrams go through a SOCKS5 UDP association: if no relay
    /// answers through it, [`take_proxy_udp_drop`](Self::take_proxy_udp_drop) turns true and the
    /// test restarts (wire.md 2.7, 7.3).
    pub fn set_udp_via_proxy(&mut self, on: bool) {
        self.udp_test.udp_via_proxy = on;
    }

    /// True once when the network layer should stop sending UDP through the proxy and go
    /// direct (the proxy carried no self-info answer).
    pub fn take_proxy_udp_drop(&mut self) -> bool {
        std::mem::take(&mut self.udp_test.drop_proxy_udp)
    }

    /// Whether the current endpoint is a TCP relay.
    pub fn on_tcp_relay(&self) -> bool {
        self.endpoints
            .get(self.endpoints.current())
            .is_some_and(|e| e.kind == EndpointType::TcpRelay)
    }

    /// Runs the verdict when due.
    pub(super) fn udp_test_timer(&mut self, now: Instant) {
        if self.udp_test.eval_at.is_some_and(|t| now >= t) {
            self.udp_test.eval_at = None;
            self.evaluate_udp_test(now);
        }
    }

    fn evaluate_udp_test(&mut self, now: Instant) {
        let answers: Vec<u32> = self
            .endpoints
            .iter()
            .filter(|e| e.kind == EndpointType::UdpRelay && e.self_info_answers > 0)
            .map(|e| e.self_info_answers)
            .collect();
        let avg = if answers.is_empty() {
            0.0
        } else {
            f64::from(answers.iter().sum::<u32>()) / answers.len() as f64
        };
        if self.udp_test.udp_via_proxy && avg == 0.0 {
            // The proxy relays no UDP: go direct and test again.
            self.udp_test.udp_via_proxy = false;
            self.udp_test.drop_proxy_udp = true;
            self.restart_udp_test(now);
            return;
        }
        if !self.cfg.tunables.use_tcp {
            self.udp_test.verdict = UdpVerdict::NotAvailable;
            return;
        }
        let was_bad = self.udp_test.verdict == UdpVerdict::Bad;
        if avg == 0.0 || (was_bad && avg < GIVE_UP_BELOW) {
            self.udp_test.verdict = UdpVerdict::NotAvailable;
            self.udp_test.udp_in_use = avg > 1.0;
            self.switch_to_tcp(true);
            self.p2p_stop_waiting();
        } else if avg < BAD_BELOW {
            self.udp_test.verdict = UdpVerdict::Bad;
            self.switch_to_tcp(false);
            // More rounds up to the second verdict; the counts accumulate.
            self.next_self_info = Some(now);
        } else {
            self.udp_test.verdict = UdpVerdict::Available;
        }
    }

    /// TCP on, TCP copies of the UDP relays, and the current endpoint (and the preferred relay
    /// too when `with_preferred`) moved to the TCP copy of the preferred relay.
    fn switch_to_tcp(&mut self, with_preferred: bool) {
        self.udp_test.tcp_in_use = true;
        self.endpoints.add_tcp_copies();
        if self.on_tcp_relay() {
            return;
        }
        let preferred = self.endpoints.preferred();
        let pref_id = self.endpoints.get(preferred).map_or(0, |e| e.id);
        let target = self
            .endpoints
            .index_of(pref_id ^ TCP_COPY_XOR)
            .filter(|&i| {
                self.endpoints
                    .get(i)
                    .is_some_and(|e| e.kind == EndpointType::TcpRelay)
            })
            .or_else(|| {
                self.endpoints
                    .iter()
                    .position(|e| e.kind == EndpointType::TcpRelay)
            });
        let Some(target) = target else {
            return;
        };
        if with_preferred {
            self.endpoints.set_current_and_preferred(target);
        } else {
            self.endpoints.set_current_only(target);
        }
    }

    /// After a local network change (7.7 step 1): TCP off when a UDP relay exists, and the
    /// preferred/current endpoint moved from a TCP relay to its UDP original.
    pub(super) fn tcp_off_after_network_change(&mut self) {
        let has_udp = self
            .endpoints
            .iter()
            .any(|e| e.kind == EndpointType::UdpRelay);
        self.udp_test.udp_in_use = true;
        self.udp_test.verdict = UdpVerdict::Unknown;
        if !self.udp_test.tcp_in_use || !has_udp {
            return;
        }
        self.udp_test.tcp_in_use = false;
        let udp_of = |s: &Session, idx: usize| -> Option<usize> {
            let e = s.endpoints.get(idx)?;
            if e.kind != EndpointType::TcpRelay {
                return None;
            }
            s.endpoints.index_of(e.id ^ TCP_COPY_XOR).or_else(|| {
                s.endpoints
                    .iter()
                    .position(|x| x.kind == EndpointType::UdpRelay)
            })
        };
        let (cur, pref) = (self.endpoints.current(), self.endpoints.preferred());
        if let Some(u) = udp_of(self, pref) {
            self.endpoints.set_current_and_preferred(u);
        }
        if let Some(u) = udp_of(self, cur) {
            self.endpoints.set_current_only(u);
        }
    }
}
