//! The process-wide server configuration (`phone.getCallConfig` JSON). Updates are merged into
//! the current values, unlike 2.4.4 which replaces the whole store.

use serde_json::{Map, Value};

use crate::sync::Mutex;

static STORE: Mutex<Option<Map<String, Value>>> = Mutex::new(None);

/// Why a server config update was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerConfigError {
    /// Not valid JSON.
    Json(String),
    /// Valid JSON but not an object.
    NotAnObject,
}

impl core::fmt::Display for ServerConfigError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ServerConfigError::Json(e) => write!(f, "server config is not valid JSON: {e}"),
            ServerConfigError::NotAnObject => f.write_str("server config must be a JSON object"),
        }
    }
}

impl std::error::Error for ServerConfigError {}

/// Merges the keys of a JSON object into the global config.
pub fn update(json: &str) -> Result<(), ServerConfigError> {
    let value: Value =
        serde_json::from_str(json).map_err(|e| ServerConfigError::Json(e.to_string()))?;
    let Value::Object(map) = value else {
        return Err(ServerConfigError::NotAnObject);
    };
    let mut store = STORE.lock();
    let current = store.get_or_insert_with(Map::new);
    for (k, v) in map {
        current.insert(k, v);
    }
    Ok(())
}

/// A snapshot of the current values, read once per call.
#[derive(Debug, Clone, Default)]
pub struct ServerConfig {
    values: Map<String, Value>,
}

impl ServerConfig {
    /// The current global values.
    pub fn current() -> ServerConfig {
        ServerConfig {
            values: STORE.lock().clone().unwrap_or_default(),
        }
    }

    /// A number (JSON number or numeric string), or `default`.
    pub fn f64(&self, key: &str, default: f64) -> f64 {
        match self.values.get(key) {
            Some(Value::Number(n)) => n.as_f64().unwrap_or(default),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
            _ => default,
        }
    }

    /// An integer, or `default`.
    pub fn i64(&self, key: &str, default: i64) -> i64 {
        match self.values.get(key) {
            Some(Value::Number(n)) => n
                .as_i64()
                .or_else(|| n.as_f64().map(|f| f as i64))
                .unwrap_or(default),
            Some(Value::String(s)) => s.trim().parse().unwrap_or(default),
            _ => default,
        }
    }

    /// A string value (JSON string, or any other JSON value rendered as text), or `None`.
    pub fn string(&self, key: &str) -> Option<String> {
        match self.values.get(key)? {
            Value::String(s) => Some(s.clone()),
            Value::Null => None,
            other => Some(other.to_string()),
        }
    }

    /// A boolean (JSON bool, "true"/"false", or a number), or `default`.
    pub fn bool(&self, key: &str, default: bool) -> bool {
        match self.values.get(key) {
            Some(Value::Bool(b)) => *b,
            Some(Value::Number(n)) => n.as_f64().map_or(default, |f| f != 0.0),
            Some(Value::String(s)) => match s.trim() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => default,
            },
            _ => default,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_merge_and_types_are_lenient() {
        update(r#"{"audio_max_bitrate": 24000, "use_tcp": false}"#).unwrap();
        update(r#"{"reconnecting_state_timeout": "3.5"}"#).unwrap();
        let c = ServerConfig::current();
        assert_eq!(c.i64("audio_max_bitrate", 0), 24000);
        assert!(!c.bool("use_tcp", true));
        assert_eq!(c.f64("reconnecting_state_timeout", 2.0), 3.5);
        assert_eq!(c.f64("missing", 1.25), 1.25);
        assert!(matches!(update("[1]"), Err(ServerConfigError::NotAnObject)));
        assert!(matches!(update("{"), Err(ServerConfigError::Json(_))));
    }
}
