//! The JSON signaling messages (spec/tgcalls.md 2.4), shared by tgcalls 7/8/9/12/13/14. Each is one
//! JSON object tagged by `"@type"`. Unknown keys are ignored; unknown `@type`s decode to
//! [`Message::Unknown`] so a newer peer cannot break the session.

use std::collections::BTreeMap;
use std::io::Read;

use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

use super::TgcallsWireError;

/// Largest gunzipped body accepted (tgcalls: 2 MiB).
pub const MAX_GUNZIPPED_BODY: usize = 2 * 1024 * 1024;

/// One signaling message.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// ICE credentials, renomination and the DTLS fingerprint (one per side).
    InitialSetup(InitialSetup),
    /// Local ICE candidates (one per message from tgcalls, as gathered).
    Candidates(Candidates),
    /// An offer or an answer of media contents.
    NegotiateChannels(NegotiateChannels),
    /// Mute / battery / video state (sent over the data channel, not signaling, but same JSON).
    MediaState(MediaState),
    /// A message of a type this version does not know: kept as JSON.
    Unknown {
        /// Its `@type` (empty if it had none).
        type_name: String,
        /// The whole object.
        json: serde_json::Value,
    },
}

/// `InitialSetup`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InitialSetup {
    /// ICE username fragment.
    pub ufrag: String,
    /// ICE password.
    pub pwd: String,
    /// Whether the sender supports GOOG renomination (ours: false, see the spec 3.1).
    #[serde(default)]
    pub renomination: bool,
    /// DTLS fingerprints; only the first is used.
    #[serde(default)]
    pub fingerprints: Vec<Fingerprint>,
}

/// A DTLS certificate fingerprint with the sender's DTLS setup role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// Hash function, `"sha-256"`.
    pub hash: String,
    /// `"actpass"` from the caller, `"passive"` from the callee.
    pub setup: String,
    /// RFC 4572 uppercase hex with colons.
    pub fingerprint: String,
}

/// `Candidates`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Candidates {
    /// The candidates.
    #[serde(default)]
    pub candidates: Vec<Candidate>,
}

/// One ICE candidate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    /// RFC 5245 candidate attribute without `a=` (`candidate:... typ host ...`).
    pub sdp_string: String,
    /// ntgcalls sends `""`; tgcalls ignores it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    /// ntgcalls sends 0; tgcalls ignores it.
    #[serde(
        default,
        rename = "sdpMLineIndex",
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_m_line_index: Option<i64>,
}

/// `NegotiateChannels`: an offer (the sender's send-only contents) or an answer (same
/// `exchangeId`, the accepted contents echoing the offered ssrcs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NegotiateChannels {
    /// Random u32, a decimal string on the wire (numbers accepted).
    #[serde(serialize_with = "ser_u32_str", deserialize_with = "de_u32_str")]
    pub exchange_id: u32,
    /// The media contents.
    #[serde(default)]
    pub contents: Vec<MediaContent>,
}

/// One media content of a negotiation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaContent {
    /// `"audio"` or `"video"`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The sender's SSRC (decimal string on the wire).
    #[serde(serialize_with = "ser_u32_str", deserialize_with = "de_u32_str")]
    pub ssrc: u32,
    /// SSRC groups (FID for video + RTX).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ssrc_groups: Vec<SsrcGroup>,
    /// Payload types, preferred first.
    #[serde(default)]
    pub payload_types: Vec<PayloadType>,
    /// RTP header extensions.
    #[serde(default)]
    pub rtp_extensions: Vec<RtpExtension>,
}

/// An SSRC group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SsrcGroup {
    /// `"FID"`, `"SIM"`, ...
    pub semantics: String,
    /// The SSRCs (decimal strings on the wire).
    #[serde(
        serialize_with = "ser_u32_vec_str",
        deserialize_with = "de_u32_vec_str"
    )]
    pub ssrcs: Vec<u32>,
}

/// A payload type (codec) description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PayloadType {
    /// RTP payload type number.
    pub id: u32,
    /// Codec name (`"opus"`).
    pub name: String,
    /// RTP clock rate.
    pub clockrate: u32,
    /// Channels (2 for Opus per its RTP convention; 0 for video).
    #[serde(default)]
    pub channels: u32,
    /// RTCP feedback types.
    #[serde(default)]
    pub feedback_types: Vec<RtcpFeedback>,
    /// fmtp parameters (values are strings on the wire; numbers accepted).
    #[serde(default, deserialize_with = "de_str_map")]
    pub parameters: BTreeMap<String, String>,
}

/// An RTCP feedback type.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtcpFeedback {
    /// `"transport-cc"`, `"nack"`, ...
    #[serde(rename = "type")]
    pub kind: String,
    /// `""`, `"pli"`, `"fir"`, ...
    #[serde(default)]
    pub subtype: String,
}

/// An RTP header extension.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RtpExtension {
    /// Extension id (1-14).
    pub id: u32,
    /// Extension URI.
    pub uri: String,
}

/// Video or screencast state in [`MediaState`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoState {
    /// No video.
    #[default]
    Inactive,
    /// Paused.
    Suspended,
    /// Sending.
    Active,
}

/// `MediaState` (data channel).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaState {
    /// Microphone muted.
    #[serde(default)]
    pub muted: bool,
    /// Low battery.
    #[serde(default)]
    pub low_battery: bool,
    /// Camera state.
    #[serde(default)]
    pub video_state: VideoState,
    /// Video rotation in degrees (0, 90, 180, 270).
    #[serde(default)]
    pub video_rotation: i32,
    /// Screencast state.
    #[serde(default)]
    pub screencast_state: VideoState,
}

impl Message {
    /// The `@type` string.
    pub fn type_name(&self) -> &str {
        match self {
            Message::InitialSetup(_) => "InitialSetup",
            Message::Candidates(_) => "Candidates",
            Message::NegotiateChannels(_) => "NegotiateChannels",
            Message::MediaState(_) => "MediaState",
            Message::Unknown { type_name, .. } => type_name,
        }
    }

    /// Parses one JSON message (not gzipped; see [`decode_body`]).
    pub fn from_json(json: &[u8]) -> Result<Message, TgcallsWireError> {
        let value: serde_json::Value = serde_json::from_slice(json).map_err(json_err)?;
        let type_name = match value.get("@type") {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(_) => return Err(TgcallsWireError::Invalid("@type")),
            None if value.is_object() => String::new(),
            None => return Err(TgcallsWireError::Invalid("message is not a JSON object")),
        };
        Ok(match type_name.as_str() {
            "InitialSetup" => Message::InitialSetup(from_value(value)?),
            "Candidates" => Message::Candidates(from_value(value)?),
            "NegotiateChannels" => Message::NegotiateChannels(from_value(value)?),
            "MediaState" => Message::MediaState(from_value(value)?),
            _ => Message::Unknown {
                type_name,
                json: value,
            },
        })
    }

    /// Serializes to compact JSON with `@type`.
    pub fn to_json(&self) -> Vec<u8> {
        let value = match self {
            Message::InitialSetup(m) => serde_json::to_value(m),
            Message::Candidates(m) => serde_json::to_value(m),
            Message::NegotiateChannels(m) => serde_json::to_value(m),
            Message::MediaState(m) => serde_json::to_value(m),
            Message::Unknown { json, .. } => Ok(json.clone()),
        };
        let mut value = value.unwrap_or(serde_json::Value::Null);
        if let serde_json::Value::Object(map) = &mut value {
            if !matches!(self, Message::Unknown { .. }) {
                map.insert(
                    "@type".to_owned(),
                    serde_json::Value::String(self.type_name().to_owned()),
                );
            }
        }
        serde_json::to_vec(&value).unwrap_or_default()
    }
}

/// Decodes a message body as received: gunzips it first if it starts with the gzip magic
/// `1F 8B` (at most [`MAX_GUNZIPPED_BODY`] bytes), then parses the JSON.
pub fn decode_body(body: &[u8]) -> Result<Message, TgcallsWireError> {
    if body.starts_with(&[0x1F, 0x8B]) {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(body)
            .take(MAX_GUNZIPPED_BODY as u64 + 1)
            .read_to_end(&mut out)
            .map_err(|_| TgcallsWireError::Gzip)?;
        if out.len() > MAX_GUNZIPPED_BODY {
            return Err(TgcallsWireError::TooLong);
        }
        Message::from_json(&out)
    } else {
        Message::from_json(body)
    }
}

fn json_err(e: serde_json::Error) -> TgcallsWireError {
    TgcallsWireError::Json(e.to_string())
}

fn from_value<T: de::DeserializeOwned>(v: serde_json::Value) -> Result<T, TgcallsWireError> {
    serde_json::from_value(v).map_err(json_err)
}

/// A JSON string or number, as tgcalls writes ids as decimal strings but parses both.
#[derive(Deserialize)]
#[serde(untagged)]
enum StrOrNum {
    Str(String),
    Num(serde_json::Number),
    Bool(bool),
}

impl StrOrNum {
    fn into_string(self) -> String {
        match self {
            StrOrNum::Str(s) => s,
            StrOrNum::Num(n) => n.to_string(),
            StrOrNum::Bool(b) => b.to_string(),
        }
    }

    fn to_u32<E: de::Error>(&self) -> Result<u32, E> {
        match self {
            StrOrNum::Str(s) => s.trim().parse::<u32>().map_err(E::custom),
            StrOrNum::Num(n) => n
                .as_u64()
                .and_then(|v| u32::try_from(v).ok())
                .ok_or_else(|| E::custom("not a u32")),
            StrOrNum::Bool(_) => Err(E::custom("not a u32")),
        }
    }
}

fn ser_u32_str<S: Serializer>(v: &u32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&v.to_string())
}

fn de_u32_str<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    StrOrNum::deserialize(d)?.to_u32()
}

fn ser_u32_vec_str<S: Serializer>(v: &[u32], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(v.iter().map(|x| x.to_string()))
}

fn de_u32_vec_str<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u32>, D::Error> {
    Vec::<StrOrNum>::deserialize(d)?
        .iter()
        .map(StrOrNum::to_u32)
        .collect()
}

fn de_str_map<'de, D: Deserializer<'de>>(d: D) -> Result<BTreeMap<String, String>, D::Error> {
    Ok(BTreeMap::<String, StrOrNum>::deserialize(d)?
        .into_iter()
        .map(|(k, v)| (k, v.into_string()))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_setup_roundtrip() {
        let json = br#"{"@type":"InitialSetup","ufrag":"OpsV","pwd":"b6jqD++wRQy3QQzE+TkPiKC9","renomination":true,"fingerprints":[{"hash":"sha-256","setup":"actpass","fingerprint":"D2:24"}]}"#;
        let m = Message::from_json(json).unwrap();
        let Message::InitialSetup(s) = &m else {
            panic!("{m:?}")
        };
        assert_eq!(s.ufrag, "OpsV");
        assert!(s.renomination);
        assert_eq!(s.fingerprints[0].setup, "actpass");
        assert_eq!(Message::from_json(&m.to_json()).unwrap(), m);
    }

    #[test]
    fn negotiate_numbers_and_strings() {
        let json = br#"{"@type":"NegotiateChannels","exchangeId":777,"contents":[{"type":"audio","ssrc":"12345678","ssrcGroups":[{"semantics":"FID","ssrcs":["1",2]}],"payloadTypes":[{"id":111,"name":"opus","clockrate":48000,"channels":2,"feedbackTypes":[{"type":"transport-cc","subtype":""}],"parameters":{"minptime":"10","useinbandfec":1}}],"rtpExtensions":[{"id":2,"uri":"x"}]}]}"#;
        let m = Message::from_json(json).unwrap();
        let Message::NegotiateChannels(n) = &m else {
            panic!("{m:?}")
        };
        assert_eq!(n.exchange_id, 777);
        assert_eq!(n.contents[0].ssrc, 12_345_678);
        assert_eq!(n.contents[0].ssrc_groups[0].ssrcs, vec![1, 2]);
        assert_eq!(
            n.contents[0].payload_types[0].parameters["useinbandfec"],
            "1"
        );
        let out = String::from_utf8(m.to_json()).unwrap();
        assert!(out.contains(r#""exchangeId":"777""#), "{out}");
        assert!(out.contains(r#""ssrc":"12345678""#), "{out}");
        assert!(out.starts_with(r#"{"@type":"NegotiateChannels""#), "{out}");
        assert_eq!(Message::from_json(out.as_bytes()).unwrap(), m);
    }

    #[test]
    fn gzip_unknown_and_errors() {
        use std::io::Write;
        let json = br#"{"@type":"MediaState","muted":true,"lowBattery":false,"videoState":"inactive","videoRotation":0,"screencastState":"active"}"#;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(json).unwrap();
        let gz = gz.finish().unwrap();
        let m = decode_body(&gz).unwrap();
        assert_eq!(
            m,
            Message::MediaState(MediaState {
                muted: true,
                screencast_state: VideoState::Active,
                ..MediaState::default()
            })
        );
        let u = decode_body(br#"{"@type":"Future","x":1}"#).unwrap();
        assert_eq!(u.type_name(), "Future");
        assert_eq!(decode_body(&u.to_json()).unwrap(), u);
        assert!(decode_body(b"[1]").is_err());
        assert!(decode_body(b"{\"@type\":5}").is_err());
        assert!(decode_body(b"{\"@type\":\"InitialSetup\"}").is_err());
        assert_eq!(
            decode_body(&[0x1F, 0x8B, 1, 2, 3]),
            Err(TgcallsWireError::Gzip)
        );
        assert!(decode_body(br#"{"@type":"NegotiateChannels","exchangeId":"-1"}"#).is_err());
    }

    #[test]
    fn gzip_bomb_is_refused() {
        use std::io::Write;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![b' '; MAX_GUNZIPPED_BODY + 10]).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(decode_body(&gz), Err(TgcallsWireError::TooLong));
    }
}
