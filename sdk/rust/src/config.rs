//! A stage's configuration as the plugin sees it.

/// The key/value strings of a stage's `config` table, in the order they were
/// written.
///
/// Every value arrives as a string: weir writes TOML numbers and booleans as
/// their text and TOML tables and arrays as JSON text.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Config {
    entries: Vec<(String, String)>,
}

impl Config {
    /// Wraps the entries as weir passes them to `init`.
    pub fn new(entries: Vec<(String, String)>) -> Config {
        Config { entries }
    }

    /// The value of `name`, if it was set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `name`, or `default` when it was not set.
    pub fn get_or<'a>(&'a self, name: &str, default: &'a str) -> &'a str {
        self.get(name).unwrap_or(default)
    }

    /// The value of `name`.
    ///
    /// # Errors
    ///
    /// Returns ``missing config key `name` `` when it was not set, ready to be
    /// returned from `init`.
    pub fn require(&self, name: &str) -> Result<&str, String> {
        self.get(name)
            .ok_or_else(|| format!("missing config key `{name}`"))
    }

    /// The entries, in the order they were written.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.entries
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }

    /// The number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for Config {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(entries: I) -> Config {
        let entries = entries
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        Config { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_up_and_requires_keys() {
        let config: Config = [("field", "card"), ("op", "==")].into_iter().collect();
        assert_eq!(config.get("field"), Some("card"));
        assert_eq!(config.get("value"), None);
        assert_eq!(config.get_or("value", "x"), "x");
        assert_eq!(config.require("op"), Ok("=="));
        assert_eq!(
            config.require("value"),
            Err("missing config key `value`".to_owned())
        );
        let keys: Vec<_> = config.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["field", "op"]);
        assert_eq!(config.len(), 2);
        assert!(!config.is_empty());
    }
}
