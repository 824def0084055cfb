//! Ghost username templates such as `wa_{{.id}}`.
//!
//! The template decides the ghosts' user ids and, from the same string, the exclusive user
//! namespace in the registration file, so the two can never disagree.

/// The placeholder a username template must contain exactly once.
pub const ID_PLACEHOLDER: &str = "{{.id}}";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsernameTemplate {
    prefix: String,
    suffix: String,
}

impl UsernameTemplate {
    /// Parses a template; the text around `{{.id}}` must be valid in a Matrix localpart.
    pub fn parse(template: &str) -> Result<Self, String> {
        let Some((prefix, suffix)) = template.split_once(ID_PLACEHOLDER) else {
            return Err(format!("must contain {ID_PLACEHOLDER}, got {template:?}"));
        };
        if suffix.contains(ID_PLACEHOLDER) {
            return Err(format!("must contain {ID_PLACEHOLDER} only once, got {template:?}"));
        }
        if prefix.is_empty() && suffix.is_empty() {
            return Err("needs a fixed prefix or suffix so ghosts have their own namespace".into());
        }
        let valid = |c: char| matches!(c, 'a'..='z' | '0'..='9' | '.' | '_' | '=' | '-' | '/');
        if let Some(bad) = prefix.chars().chain(suffix.chars()).find(|c| !valid(*c)) {
            return Err(format!("{bad:?} is not allowed in a Matrix username, in {template:?}"));
        }
        Ok(Self { prefix: prefix.to_owned(), suffix: suffix.to_owned() })
    }

    /// The localpart of the ghost for the gatekeeper id `id`.
    pub fn localpart(&self, id: &str) -> String {
        format!("{}{}{}", self.prefix, id, self.suffix)
    }

    /// The gatekeeper id inside a ghost localpart, if the localpart belongs to the template.
    pub fn id_of<'a>(&self, localpart: &'a str) -> Option<&'a str> {
        let id = localpart.strip_prefix(&self.prefix)?.strip_suffix(&self.suffix)?;
        (!id.is_empty()).then_some(id)
    }

    /// The registration's user namespace regex for the server `domain`.
    pub fn namespace_regex(&self, domain: &str) -> String {
        format!(
            "@{}.+{}:{}",
            regex_escape(&self.prefix),
            regex_escape(&self.suffix),
            regex_escape(domain)
        )
    }
}

/// Escapes the characters a homeserver's regex engine treats specially.
pub fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_ids() {
        let t = UsernameTemplate::parse("wa_{{.id}}").unwrap();
        assert_eq!(t.localpart("491701234567"), "wa_491701234567");
        assert_eq!(t.id_of("wa_491701234567"), Some("491701234567"));
        assert_eq!(t.id_of("wa_"), None);
        assert_eq!(t.id_of("alice"), None);
        assert_eq!(t.namespace_regex("example.org"), "@wa_.+:example\\.org");
    }

    #[test]
    fn rejects_bad_templates() {
        assert!(UsernameTemplate::parse("wa_").is_err());
        assert!(UsernameTemplate::parse("{{.id}}").is_err());
        assert!(UsernameTemplate::parse("WA_{{.id}}").is_err());
        assert!(UsernameTemplate::parse("{{.id}}_{{.id}}").is_err());
    }
}
