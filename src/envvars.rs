//! `${VAR}` in config values (API and channel headers): checked when the
//! config loads, expanded from the environment when a request is made.
//!
//! A leaf module: both `config` (validation, secrets) and the checks and
//! channels that send headers use it, so neither imports the other for it.

/// Checks the `${VAR}` syntax of a value without reading the environment.
pub fn check_syntax(v: &str) -> Result<(), String> {
    expand(v, &|_| Some(String::new())).map(|_| ())
}

/// The names of the variables a value uses.
pub fn names(v: &str) -> Vec<String> {
    let out = std::cell::RefCell::new(Vec::new());
    let _ = expand(v, &|n| {
        out.borrow_mut().push(n.to_string());
        Some(String::new())
    });
    out.into_inner()
}

/// Replaces each `${VAR}` with the variable's value. A variable that is not
/// set is an error naming it: sending an empty token would only hide the cause.
pub fn expand(v: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = v;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed ${{ in {v:?}"))?;
        let name = &after[..end];
        if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("${{{name}}} is not a valid environment variable name"));
        }
        let value = env(name).ok_or_else(|| format!("uses ${{{name}}}, which is not set in the environment"))?;
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Expands from the process environment.
pub fn expand_env(v: &str) -> Result<String, String> {
    expand(v, &|n| std::env::var(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_vars_expand_in_headers() {
        let env = |n: &str| (n == "TOKEN").then(|| "abc".to_string());
        assert_eq!(expand("Bearer ${TOKEN}", &env).unwrap(), "Bearer abc");
        assert_eq!(expand("plain", &env).unwrap(), "plain");
        assert!(expand("${MISSING}", &env).unwrap_err().contains("MISSING"));
        assert!(expand("${OPEN", &env).is_err());
        assert!(check_syntax("${BAD-NAME}").is_err());
        assert_eq!(names("${A} and ${B_2}"), ["A", "B_2"]);
    }
}
