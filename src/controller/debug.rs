//! The debug log JSON and debug string of 2.4.4, built from an engine snapshot.

use serde_json::{json, Value};

use crate::api::{CallError, CallState, NetworkType};
use crate::net::engine::Snapshot;

/// Serialises like json11 (what 2.4.4 uses): keys sorted, `", "` and `": "` separators.
pub fn json11(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            out.push('{');
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String((*k).clone()).to_string());
                out.push_str(": ");
                if let Some(v) = map.get(*k) {
                    write_value(v, out);
                }
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(v, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

/// The `GetDebugLog` object.
pub fn debug_log_value(snap: &Snapshot, network: NetworkType, state: CallState) -> Value {
    let mut problems = Vec::new();
    if snap.last_error == Some(CallError::Timeout) {
        problems.push("timeout");
    }
    if snap.ever_reconnecting {
        problems.push("reconnecting");
    }
    if snap.extra_ec_used {
        problems.push("extra_ec");
    }
    if !snap.ever_established && state != CallState::Established {
        problems.push("not_inited");
    }
    json!({
        "libtgvoip_version": super::LIBTGVOIP_VERSION,
        "log_type": "call_stats",
        "network": { "type": network.log_name() },
        "p2p_type": p2p_type(snap),
        "packet_stats": {
            "in": snap.session.packets_recvd,
            "out": snap.session.next_seq.saturating_sub(1),
            "lost_in": snap.receiver.frames_lost,
            "lost_out": snap.session.lost_out,
        },
        "pref_relay": snap.preferred_relay_id.to_string(),
        "problems": problems,
        "protocol_version": snap.peer_version.clamp(0, crate::wire::PROTOCOL_VERSION),
        "relay_rtt": snap.relay_rtt_ms,
        "rtt": snap.rtt_ms,
        "tcp_used": snap.tcp_used,
        "udp_avail": snap.udp_available,
    })
}

/// What 2.4.4 logs as `p2p_type`: the kind of direct path in use ("none" on a relay).
fn p2p_type(snap: &Snapshot) -> &'static str {
    match snap.endpoints.iter().find(|e| e.3).map(|e| e.2) {
        Some(crate::session::P2P_INET_ID) | Some(crate::session::P2P_INET6_ID) => "inet",
        Some(crate::session::LAN_ID) => "lan",
        _ => "none",
    }
}

/// The endpoint kind label of the debug string, from the endpoint id (wire.md 7.1).
fn endpoint_kind_name(id: i64) -> &'static str {
    match id {
        crate::session::P2P_INET_ID | crate::session::P2P_INET6_ID => "UDP_P2P_INET",
        crate::session::LAN_ID => "UDP_P2P_LAN",
        _ => "UDP_RELAY",
    }
}

/// The `GetDebugLog` JSON text.
pub fn debug_log(snap: &Snapshot, network: NetworkType, state: CallState) -> String {
    json11(&debug_log_value(snap, network, state))
}

/// The `GetDebugString` text.
pub fn debug_string(snap: &Snapshot) -> String {
    let mut s = String::from("Remote endpoints: \n");
    for (addr, rtt, id, in_use) in &snap.endpoints {
        let use_tag = if *in_use { ", IN_USE" } else { "" };
        let kind = endpoint_kind_name(*id);
        s.push_str(&format!("{addr} {rtt}ms 0x{id:x} [{kind}{use_tag}]\n"));
    }
    let sender = snap.sender.unwrap_or(crate::media::SenderSettings {
        bitrate: 0,
        inband_fec: false,
        expected_loss_perc: 0,
        redundancy_level: 0,
        bandwidth: crate::media::opus::Bandwidth::Auto,
    });
    if sender.redundancy_level > 0 {
        s.push_str(&format!(
            "ShittyInternetMode: level {}\n",
            sender.redundancy_level
        ));
    }
    let rx = &snap.receiver;
    s.push_str(&format!(
        "Jitter buffer: {}/{:.2} ms | jitter {:.1} ms\n",
        rx.target_delay_ms, rx.buffered_ms, rx.jitter_ms
    ));
    s.push_str(&format!("RTT: {} ms\n", snap.rtt_ms));
    s.push_str(&format!(
        "Key fingerprint: (MTProto{})\n",
        if snap.mtproto2 { "2.0" } else { "1.0" }
    ));
    s.push_str(&format!(
        "Last sent/ack'd seq: {}/{}\n",
        snap.seqs.0, snap.seqs.1
    ));
    s.push_str(&format!("Last recvd seq: {}\n", snap.seqs.2));
    s.push_str(&format!(
        "Send/recv losses: {}/{} ({}%)\n",
        snap.session.lost_out, rx.frames_lost, sender.expected_loss_perc
    ));
    s.push_str(&format!("Audio bitrate: {} kbit\n", sender.bitrate / 1000));
    s.push_str("Frame size out/in: 60/60\n");
    s.push_str(&format!(
        "Bytes sent/recvd: {}/{}",
        snap.session.bytes_sent, snap.session.bytes_recvd
    ));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json11_formatting_sorts_keys_and_spaces_separators() {
        let v = json!({"b": 1, "a": {"z": [1, 2], "y": "s"}, "c": true});
        assert_eq!(
            json11(&v),
            r#"{"a": {"y": "s", "z": [1, 2]}, "b": 1, "c": true}"#
        );
    }

    #[test]
    fn debug_log_has_the_2_4_4_keys() {
        let snap = Snapshot {
            peer_version: 9,
            preferred_relay_id: 42,
            ..Snapshot::default()
        };
        let v = debug_log_value(&snap, NetworkType::Wifi, CallState::Established);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "libtgvoip_version",
                "log_type",
                "network",
                "p2p_type",
                "packet_stats",
                "pref_relay",
                "problems",
                "protocol_version",
                "relay_rtt",
                "rtt",
                "tcp_used",
                "udp_avail"
            ]
        );
        assert_eq!(v["pref_relay"], "42");
        assert_eq!(v["protocol_version"], 9);
        assert_eq!(v["network"]["type"], "wifi");
    }
}
