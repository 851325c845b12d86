//! Reading configuration values: each reader takes a `lookup` (the environment, a file's
//! settings, or a test's table) and the variable's name, and refuses a bad value with a
//! [`ConfigError`] that names the variable and says what is wrong, never echoing a secret.

use std::{io, net::SocketAddr, ops::RangeInclusive, path::Path};

use crate::secret::Secret;

/// The default data folder of both services (their SQLite files and keys), relative to the
/// working directory.
pub const DEFAULT_DATA_DIR: &str = "data";

/// A data folder that could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the data folder {path}: {source}")]
pub struct DataDirError {
    /// The folder that was asked for.
    pub path: String,
    /// What the file system said.
    #[source]
    pub source: io::Error,
}

/// Creates the data folder `path`, and the folders above it, unless it is there.
pub async fn create_data_dir(path: &Path) -> Result<(), DataDirError> {
    tokio::fs::create_dir_all(path)
        .await
        .map_err(|source| DataDirError {
            path: path.display().to_string(),
            source,
        })
}

/// A configuration value that cannot be used.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{variable}: {problem}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with its value.
    pub problem: String,
}

impl ConfigError {
    /// An error about `variable`.
    pub fn new(variable: &'static str, problem: impl Into<String>) -> Self {
        Self {
            variable,
            problem: problem.into(),
        }
    }
}

/// A variable's value, or `None` when it is unset or blank.
pub fn set(lookup: &impl Fn(&str) -> Option<String>, variable: &str) -> Option<String> {
    lookup(variable).filter(|value| !value.trim().is_empty())
}

/// A yes-or-no variable: unset, blank, `false` or `0` is no; `true` or `1` is yes.
pub fn yes_or_no(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
) -> Result<bool, ConfigError> {
    match lookup(variable).as_deref().map(str::trim) {
        None | Some("" | "false" | "0") => Ok(false),
        Some("true" | "1") => Ok(true),
        Some(other) => Err(ConfigError::new(
            variable,
            format!("{other:?} is not true or false"),
        )),
    }
}

/// A whole number in `range`, or `default` when unset; `why`, when given, ends the sentence of
/// a refusal (what the bound protects).
pub fn number(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: u64,
    range: RangeInclusive<u64>,
    why: Option<&str>,
) -> Result<u64, ConfigError> {
    let Some(value) = set(lookup, variable) else {
        return Ok(default);
    };
    value
        .trim()
        .parse()
        .ok()
        .filter(|n| range.contains(n))
        .ok_or_else(|| {
            let why = why.map(|why| format!(" ({why})")).unwrap_or_default();
            ConfigError::new(
                variable,
                format!(
                    "{value:?} is not a whole number from {} to {}{why}",
                    range.start(),
                    range.end()
                ),
            )
        })
}

/// A secret given either in `variable` or in the file `file_variable` names, not both; `None`
/// when neither is set.
///
/// A file's one final line end (`\n` or `\r\n`) is dropped, as editors and `echo` add one; an
/// empty secret is refused. The secret itself never appears in an error.
pub fn secret(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    file_variable: &'static str,
) -> Result<Option<Secret>, ConfigError> {
    let value = match (
        lookup(variable).filter(|value| !value.is_empty()),
        set(lookup, file_variable),
    ) {
        (Some(_), Some(_)) => {
            return Err(ConfigError::new(
                file_variable,
                format!("set either {variable} or {file_variable}, not both"),
            ));
        }
        (Some(value), None) => value,
        (None, Some(path)) => {
            let text = std::fs::read_to_string(path.trim()).map_err(|error| {
                ConfigError::new(file_variable, format!("cannot read {path:?}: {error}"))
            })?;
            let value = without_line_end(&text);
            if value.trim().is_empty() {
                return Err(ConfigError::new(
                    file_variable,
                    format!("{path:?} is empty or blank"),
                ));
            }
            value.to_owned()
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(Secret::new(value)))
}

fn without_line_end(text: &str) -> &str {
    text.strip_suffix('\n')
        .map(|rest| rest.strip_suffix('\r').unwrap_or(rest))
        .unwrap_or(text)
}

/// A socket address such as `127.0.0.1:3001`, or `default` when unset.
pub fn socket_addr(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: &str,
) -> Result<SocketAddr, ConfigError> {
    let value = set(lookup, variable).unwrap_or_else(|| default.to_owned());
    value.trim().parse().map_err(|_| {
        ConfigError::new(
            variable,
            format!("{value:?} is not an address such as 127.0.0.1:3001"),
        )
    })
}

/// A listening address that may be switched off: `off` is `None`, unset is `default`.
pub fn optional_socket_addr(
    lookup: &impl Fn(&str) -> Option<String>,
    variable: &'static str,
    default: &str,
) -> Result<Option<SocketAddr>, ConfigError> {
    match set(lookup, variable) {
        Some(value) if value.trim() == "off" => Ok(None),
        _ => socket_addr(lookup, variable, default).map(Some),
    }
}

/// An issuer identifier or base URL: `http` or `https`, a host, no query or fragment (OpenID
/// Connect Discovery §3). A trailing slash is dropped.
pub fn issuer(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    let problem = |why: &str| ConfigError::new(variable, format!("{value:?} {why}"));
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(|| problem("must start with http:// or https://"))?;
    if rest.is_empty() || rest.starts_with('/') {
        return Err(problem("has no host"));
    }
    if rest.contains(['?', '#']) || rest.chars().any(char::is_whitespace) {
        return Err(problem("must not have a query, a fragment or spaces"));
    }
    Ok(value.trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests;
