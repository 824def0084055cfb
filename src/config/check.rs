//! Validation of `config.yaml` that reports every problem at once, each naming its key.
//!
//! The YAML is first read into a loose tree; then each known key is read with its expected type
//! and range. A wrong value becomes a [`Problem`] such as
//! `appservice.port: expected a number from 1 to 65535, got "80a"`, and reading goes on, so an
//! admin fixes all mistakes in one round.

use std::path::Path;

use serde_json::Value;

use super::{
    AppserviceConfig, BotConfig, BridgeConfig, Config, DatabaseConfig, DatabaseKind,
    GatekeeperConfig, HomeserverConfig, LogFormat, LoggingConfig, PermissionLevel, Permissions,
    UsernameTemplate,
};

/// One thing wrong with a config, tied to its dotted key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.key, self.message)
    }
}

/// The keys each section may hold; anything else is probably a typo.
const KNOWN_KEYS: &[(&str, &[&str])] = &[
    ("", &["homeserver", "appservice", "database", "bridge", "gatekeeper", "logging"]),
    ("homeserver", &["address", "domain"]),
    (
        "appservice",
        &["address", "hostname", "port", "id", "bot", "as_token", "hs_token", "max_body_bytes"],
    ),
    ("appservice.bot", &["username", "displayname", "avatar"]),
    ("database", &["type", "uri", "max_open_conns"]),
    (
        "bridge",
        &[
            "username_template",
            "displayname_template",
            "permissions",
            "command_prefix",
            "worker_threads",
        ],
    ),
    (
        "gatekeeper",
        &[
            "network_name",
            "protocol_id",
            "address",
            "gatekeeper_id",
            "partner_id",
            "partner_base",
            "pickle_key",
        ],
    ),
    ("logging", &["level", "format"]),
];

/// Parses and validates config text; relative SQLite paths are resolved against `base_dir`.
pub fn check(text: &str, base_dir: &Path) -> Result<Config, Vec<Problem>> {
    let root: Value = match serde_saphyr::from_str(text) {
        Ok(Value::Null) => Value::Object(Default::default()),
        Ok(value) => value,
        Err(error) => {
            return Err(vec![Problem {
                key: "(file)".into(),
                message: format!("not valid YAML: {error}"),
            }]);
        }
    };
    let mut r = Reader { root: &root, problems: Vec::new() };
    r.unknown_keys();

    let homeserver = HomeserverConfig {
        address: r.http_url("homeserver.address", None),
        domain: r.server_name("homeserver.domain"),
    };
    let appservice = AppserviceConfig {
        address: r.http_url("appservice.address", None),
        hostname: r.string("appservice.hostname", Some("127.0.0.1")),
        port: r.number("appservice.port", 1, 65535, Some(29340)) as u16,
        id: r.localpart("appservice.id", Some("interop")),
        bot: BotConfig {
            username: r.localpart("appservice.bot.username", Some("interopbot")),
            displayname: r.string("appservice.bot.displayname", Some("Interop bridge bot")),
            avatar: r.mxc_or_empty("appservice.bot.avatar"),
        },
        as_token: r.token("appservice.as_token"),
        hs_token: r.token("appservice.hs_token"),
        max_body_bytes: r.number("appservice.max_body_bytes", 1024, 1 << 30, Some(10 << 20))
            as usize,
    };
    let database = r.database(base_dir);
    let bridge = BridgeConfig {
        username_template: r.username_template("bridge.username_template"),
        displayname_template: r.string("bridge.displayname_template", Some("{{.name}} (WhatsApp)")),
        permissions: r.permissions("bridge.permissions"),
        command_prefix: r.string("bridge.command_prefix", Some("!wa")),
        worker_threads: r.number("bridge.worker_threads", 1, 64, Some(1)) as usize,
    };
    // Without an appservice address (already a problem) there is no default to offer.
    let default_partner_base = match appservice.address.as_str() {
        "" => String::new(),
        address => format!("{address}/_interop"),
    };
    let gatekeeper = GatekeeperConfig {
        network_name: r.string("gatekeeper.network_name", Some("WhatsApp")),
        protocol_id: r.localpart("gatekeeper.protocol_id", Some("whatsapp")),
        address: r.http_url("gatekeeper.address", Some("")),
        gatekeeper_id: r.party_id("gatekeeper.gatekeeper_id", "gatekeeper.example"),
        partner_id: r.party_id("gatekeeper.partner_id", &homeserver.domain),
        partner_base: r.http_url("gatekeeper.partner_base", Some(&default_partner_base)),
        pickle_key: r.pickle_key("gatekeeper.pickle_key"),
    };
    let logging = LoggingConfig {
        level: r.choice("logging.level", &["trace", "debug", "info", "warn", "error"], "info"),
        format: match r.choice("logging.format", &["pretty", "json"], "pretty").as_str() {
            "json" => LogFormat::Json,
            _ => LogFormat::Pretty,
        },
    };
    if r.problems.is_empty() {
        Ok(Config { homeserver, appservice, database, bridge, gatekeeper, logging })
    } else {
        Err(r.problems)
    }
}

struct Reader<'a> {
    root: &'a Value,
    problems: Vec<Problem>,
}

/// Shows a value the way the admin wrote it, e.g. `"80a"` or `12`.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.len() > 60 { format!("{}…", &text[..text.floor_char_boundary(60)]) } else { text }
}

impl Reader<'_> {
    fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(Problem { key: key.to_owned(), message: message.into() });
    }

    fn get(&self, key: &str) -> Option<&Value> {
        let mut value = self.root;
        for part in key.split('.').filter(|p| !p.is_empty()) {
            value = value.as_object()?.get(part)?;
        }
        (!value.is_null()).then_some(value)
    }

    fn unknown_keys(&mut self) {
        for (section, known) in KNOWN_KEYS {
            let Some(object) =
                (if section.is_empty() { Some(self.root) } else { self.get(section) })
                    .and_then(Value::as_object)
            else {
                if !section.is_empty() && self.get(section).is_some() {
                    self.problem(section, "expected a section of keys");
                }
                continue;
            };
            let unknown: Vec<String> =
                object.keys().filter(|k| !known.contains(&k.as_str())).cloned().collect();
            for key in unknown {
                let full = if section.is_empty() { key } else { format!("{section}.{key}") };
                self.problem(&full, format!("unknown key (known here: {})", known.join(", ")));
            }
        }
    }

    fn string(&mut self, key: &str, default: Option<&str>) -> String {
        match (self.get(key), default) {
            (Some(Value::String(s)), _) => s.clone(),
            (Some(Value::Number(n)), _) => n.to_string(),
            (Some(Value::Bool(b)), _) => b.to_string(),
            (Some(other), _) => {
                self.problem(key, format!("expected text, got {}", shown(other)));
                String::new()
            }
            (None, Some(default)) => default.to_owned(),
            (None, None) => {
                self.problem(key, "is required");
                String::new()
            }
        }
    }

    fn number(&mut self, key: &str, min: u64, max: u64, default: Option<u64>) -> u64 {
        let expected = format!("expected a number from {min} to {max}");
        let parsed = match self.get(key) {
            None => match default {
                Some(default) => return default,
                None => {
                    self.problem(key, format!("is required ({expected})"));
                    return min;
                }
            },
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse::<u64>().ok(),
            Some(_) => None,
        };
        match parsed {
            Some(n) if (min..=max).contains(&n) => n,
            _ => {
                let got = self.get(key).map(shown).unwrap_or_default();
                self.problem(key, format!("{expected}, got {got}"));
                min
            }
        }
    }

    fn choice(&mut self, key: &str, choices: &[&str], default: &str) -> String {
        let value = self.string(key, Some(default)).to_ascii_lowercase();
        if choices.contains(&value.as_str()) {
            value
        } else {
            self.problem(key, format!("expected one of {}, got {value:?}", choices.join(", ")));
            default.to_owned()
        }
    }

    fn http_url(&mut self, key: &str, default: Option<&str>) -> String {
        let text = self.string(key, default);
        if text.is_empty() {
            return text;
        }
        match url::Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                text.trim_end_matches('/').to_owned()
            }
            _ => {
                self.problem(key, format!("expected an http:// or https:// URL, got {text:?}"));
                text
            }
        }
    }

    fn server_name(&mut self, key: &str) -> String {
        let text = self.string(key, None);
        if !text.is_empty() && ruma::ServerName::parse(&text).is_err() {
            self.problem(key, format!("expected a server name like example.org, got {text:?}"));
        }
        text
    }

    fn localpart(&mut self, key: &str, default: Option<&str>) -> String {
        let text = self.string(key, default);
        let valid = |c: char| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '=' | '-' | '/');
        if text.is_empty() || !text.chars().all(valid) {
            self.problem(
                key,
                format!("expected lower-case letters, digits or ._=-/ only, got {text:?}"),
            );
        }
        text
    }

    fn mxc_or_empty(&mut self, key: &str) -> String {
        let text = self.string(key, Some(""));
        if !text.is_empty() && !text.starts_with("mxc://") {
            self.problem(key, format!("expected an mxc:// URI or nothing, got {text:?}"));
        }
        text
    }

    fn token(&mut self, key: &str) -> String {
        let text = self.string(key, Some(super::TOKEN_PLACEHOLDER));
        if text.len() < 16 && text != super::TOKEN_PLACEHOLDER {
            // Never echo a token back: it is a secret even when it is a bad one.
            self.problem(
                key,
                "too short: use at least 16 characters, or run generate-registration",
            );
        }
        text
    }

    /// A party id as it appears in JWT `iss`/`aud`, e.g. `example.org`.
    fn party_id(&mut self, key: &str, default: &str) -> String {
        let text = self.string(key, Some(default));
        // An empty default (no homeserver.domain) is reported under that key, not here.
        let empty = text.is_empty() && self.get(key).is_some();
        if empty || text.chars().any(|c| c.is_whitespace() || c.is_control()) {
            self.problem(
                key,
                format!("expected an id without spaces like example.org, got {text:?}"),
            );
        }
        text
    }

    fn pickle_key(&mut self, key: &str) -> String {
        let text = self.string(key, Some(super::TOKEN_PLACEHOLDER));
        if text != super::TOKEN_PLACEHOLDER && super::decode_pickle_key(&text).is_none() {
            // Never echo the key: it is a secret even when it is a bad one.
            self.problem(
                key,
                "expected 43 characters of base64url (32 random bytes), or run generate-registration",
            );
        }
        text
    }

    fn username_template(&mut self, key: &str) -> UsernameTemplate {
        let text = self.string(key, Some("wa_{{.id}}"));
        UsernameTemplate::parse(&text).unwrap_or_else(|message| {
            self.problem(key, message);
            UsernameTemplate::parse("wa_{{.id}}").unwrap_or_else(|_| unreachable!())
        })
    }

    fn permissions(&mut self, key: &str) -> Permissions {
        let mut permissions = Permissions::default();
        let Some(value) = self.get(key).cloned() else {
            self.problem(
                key,
                "is required: say who may use the bridge, e.g. \"example.org\": user",
            );
            return permissions;
        };
        let Some(entries) = value.as_object() else {
            self.problem(
                key,
                format!(
                    "expected a map of user, server or \"*\" to a level, got {}",
                    shown(&value)
                ),
            );
            return permissions;
        };
        for (who, level) in entries {
            let entry_key = format!("{key}.{who}");
            let valid_who = who == "*"
                || (who.starts_with('@') && ruma::UserId::parse(who.as_str()).is_ok())
                || (!who.starts_with('@') && ruma::ServerName::parse(who.as_str()).is_ok());
            if !valid_who {
                self.problem(
                    &entry_key,
                    "expected \"*\", a server name or a full user id as the key",
                );
                continue;
            }
            match level.as_str().and_then(PermissionLevel::parse) {
                Some(level) => permissions.insert(who, level),
                None => self.problem(
                    &entry_key,
                    format!("expected one of relay, user, admin, got {}", shown(level)),
                ),
            }
        }
        permissions
    }

    fn database(&mut self, base_dir: &Path) -> DatabaseConfig {
        let kind = match self.choice("database.type", &["sqlite", "postgres"], "sqlite").as_str() {
            "postgres" => DatabaseKind::Postgres,
            _ => DatabaseKind::Sqlite,
        };
        let default_uri = match kind {
            DatabaseKind::Sqlite => Some("sqlite:interop-bridge.db"),
            DatabaseKind::Postgres => None,
        };
        let mut uri = self.string("database.uri", default_uri);
        match kind {
            DatabaseKind::Sqlite => match uri.clone().strip_prefix("sqlite:") {
                Some(path) => {
                    let path = path.trim_start_matches("//");
                    let (file, query) = path.split_once('?').unwrap_or((path, ""));
                    if Path::new(file).is_relative() && file != ":memory:" {
                        let joined = base_dir.join(file);
                        uri = format!("sqlite:{}", joined.display());
                        if !query.is_empty() {
                            uri = format!("{uri}?{query}");
                        }
                    }
                }
                None => self.problem(
                    "database.uri",
                    "expected a URI starting with sqlite: for database.type sqlite",
                ),
            },
            DatabaseKind::Postgres => {
                if !(uri.starts_with("postgres://") || uri.starts_with("postgresql://")) {
                    // The URI may hold a password, so it is not echoed.
                    self.problem(
                        "database.uri",
                        "expected a URI starting with postgres:// for database.type postgres",
                    );
                }
            }
        }
        let max_connections = self.number("database.max_open_conns", 1, 1000, Some(10)) as u32;
        DatabaseConfig { kind, uri, max_connections }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = "
homeserver: {address: 'http://127.0.0.1:8008', domain: example.org}
appservice: {address: 'http://127.0.0.1:29340'}
bridge: {permissions: {'example.org': user}}
";

    #[test]
    fn minimal_config_gets_defaults() {
        let config = check(MINIMAL, Path::new("/etc/bridge")).unwrap();
        assert_eq!(config.appservice.port, 29340);
        assert_eq!(config.database.uri, "sqlite:/etc/bridge/interop-bridge.db");
        assert_eq!(config.bridge.permissions.level_of("@a:example.org"), PermissionLevel::User);
        assert!(!config.appservice.tokens_generated());
    }

    #[test]
    fn every_mistake_is_named_by_its_key() {
        let text = "
homeserver: {address: 'ftp://x', domain: example.org}
appservice: {address: 'http://127.0.0.1:29340', port: 80a}
bridge: {permissions: {'example.org': superuser}}
logging: {levle: info}
";
        let problems = check(text, Path::new(".")).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "logging.levle",
                "homeserver.address",
                "appservice.port",
                "bridge.permissions.example.org"
            ]
        );
        assert_eq!(
            problems[2].to_string(),
            "appservice.port: expected a number from 1 to 65535, got \"80a\""
        );
    }

    #[test]
    fn worker_threads_default_to_one_and_zero_is_refused() {
        assert_eq!(check(MINIMAL, Path::new(".")).unwrap().bridge.worker_threads, 1);
        let set =
            |n: &str| MINIMAL.replace("bridge: {", &format!("bridge: {{worker_threads: {n}, "));
        assert_eq!(check(&set("4"), Path::new(".")).unwrap().bridge.worker_threads, 4);
        let problems = check(&set("0"), Path::new(".")).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].key, "bridge.worker_threads");
    }

    #[test]
    fn tokens_are_never_echoed() {
        let text = format!("{MINIMAL}\n");
        let text = text.replace(
            "{address: 'http://127.0.0.1:29340'}",
            "{address: 'http://127.0.0.1:29340', as_token: sekrit}",
        );
        let problems = check(&text, Path::new(".")).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert!(!problems[0].to_string().contains("sekrit"));
    }

    #[test]
    fn gatekeeper_keys_default_from_the_rest_of_the_config() {
        let gatekeeper = check(MINIMAL, Path::new(".")).unwrap().gatekeeper;
        assert_eq!(gatekeeper.address, "");
        assert_eq!(gatekeeper.gatekeeper_id, "gatekeeper.example");
        assert_eq!(gatekeeper.partner_id, "example.org");
        assert_eq!(gatekeeper.partner_base, "http://127.0.0.1:29340/_interop");
        assert!(!gatekeeper.pickle_key_generated());
    }

    #[test]
    fn gatekeeper_keys_are_read_and_checked() {
        let key = "A".repeat(43);
        let good = format!(
            "{MINIMAL}gatekeeper: {{address: 'http://127.0.0.1:8480/', gatekeeper_id: wa.example, \
             partner_id: bridge.example.org, partner_base: 'https://b.example.org/p', \
             pickle_key: {key}}}\n"
        );
        let gatekeeper = check(&good, Path::new(".")).unwrap().gatekeeper;
        assert_eq!(gatekeeper.address, "http://127.0.0.1:8480");
        assert_eq!(gatekeeper.gatekeeper_id, "wa.example");
        assert_eq!(gatekeeper.partner_id, "bridge.example.org");
        assert_eq!(gatekeeper.partner_base, "https://b.example.org/p");
        assert!(gatekeeper.pickle_key_generated());
        assert!(!format!("{gatekeeper:?}").contains(&key), "Debug hides the pickle key");

        let bad = "gatekeeper: {address: 'gk:8480', gatekeeper_id: 'a b', partner_id: '', \
                   partner_base: '/_interop', pickle_key: sekrit-pickle}\n";
        let problems = check(&format!("{MINIMAL}{bad}"), Path::new(".")).unwrap_err();
        let keys: Vec<&str> = problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "gatekeeper.address",
                "gatekeeper.gatekeeper_id",
                "gatekeeper.partner_id",
                "gatekeeper.partner_base",
                "gatekeeper.pickle_key"
            ]
        );
        assert!(problems.iter().all(|p| !p.to_string().contains("sekrit")));
    }

    #[test]
    fn garbage_is_a_clear_error() {
        let problems = check("homeserver: [unclosed", Path::new(".")).unwrap_err();
        assert!(problems[0].message.starts_with("not valid YAML"));
        let problems = check("- a\n- b\n", Path::new(".")).unwrap_err();
        assert!(!problems.is_empty());
    }
}
