//! Telling "the server could not reach the registry" apart from "the project
//! is broken" in a failed install's output: connection refused, DNS, timeouts
//! and TLS trust failures (an intercepting proxy whose CA the server lacks)
//! as npm, pnpm, yarn and composer print them. The job itself may reach the
//! registry, so such a failure must not fail it (docs/decisions.md).
//!
//! Matching is on the tools' own error codes where they print one (npm's
//! `npm error code`, pnpm's `ERR_PNPM_META_FETCH_FAIL`, curl error numbers)
//! and on the system's cause words otherwise; a miss in either direction is
//! safe (today's `install_failed`, or a local install failing the same way).

use crate::protocol::Manager;

/// What the failed install said about the registry it could not reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    /// `host[:port]` of the first URL in the tool's error, without userinfo.
    pub host: Option<String>,
    /// The tool's own error line (composer's wrapped lines joined).
    pub line: String,
}

/// Node's network and certificate error codes, as npm prints them after
/// `npm error code` and as they appear in pnpm's and yarn's reasons.
const NODE_CODES: &[&str] = &[
    "ECONNREFUSED",
    "ENOTFOUND",
    "EAI_AGAIN",
    "ETIMEDOUT",
    "ESOCKETTIMEDOUT",
    "ECONNRESET",
    "EHOSTUNREACH",
    "ENETUNREACH",
    "SELF_SIGNED_CERT_IN_CHAIN",
    "DEPTH_ZERO_SELF_SIGNED_CERT",
    "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
    "UNABLE_TO_GET_ISSUER_CERT",
    "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    "CERT_HAS_EXPIRED",
    "ERR_TLS_CERT_ALTNAME_INVALID",
];

/// Node's certificate messages, which pnpm and yarn print without the code.
const NODE_TLS_TEXT: &[&str] = &[
    "self-signed certificate",
    "self signed certificate",
    "unable to get local issuer certificate",
    "unable to verify the first certificate",
    "certificate has expired",
];

/// curl's "could not get there" errors as composer prints them (`curl error
/// N while downloading`): proxy/host resolution, connect, timeout, TLS
/// handshake, receive, certificate.
const CURL_CODES: &[&str] = &["5", "6", "7", "28", "35", "56", "60", "77"];

/// PHP stream causes after composer's "could not be downloaded" (without
/// the curl extension); an HTTP status there is the project's problem.
const PHP_CAUSES: &[&str] = &[
    "Connection refused",
    "getaddrinfo",
    "Name or service not known",
    "certificate verify failed",
    "Connection timed out",
    "Network is unreachable",
    "No route to host",
];

/// The registry reach failure in `output` (the install log's tail), if any.
pub fn registry_unreachable(manager: Manager, output: &str) -> Option<Unreachable> {
    let line = match manager {
        Manager::Npm => npm_line(output),
        Manager::Pnpm => output
            .lines()
            .find(|l| l.contains("ERR_PNPM_") && l.contains("FETCH") && node_cause(l))
            .map(str::to_string),
        Manager::Yarn => yarn_line(output),
        Manager::Composer => composer_line(output),
    }?;
    let line = line.trim().to_string();
    Some(Unreachable {
        host: first_host(&line).or_else(|| first_host(output)),
        line,
    })
}

fn node_cause(line: &str) -> bool {
    NODE_CODES.iter().any(|c| line.contains(c))
        || NODE_TLS_TEXT
            .iter()
            .any(|t| line.to_ascii_lowercase().contains(t))
}

/// npm prints `npm error code ECONNREFUSED` (npm 7-9: `npm ERR! code`), then
/// the `request to URL failed, reason: ...` line worth showing.
fn npm_line(output: &str) -> Option<String> {
    let lines: Vec<&str> = output.lines().collect();
    let code = lines.iter().find_map(|l| {
        let rest = l
            .strip_prefix("npm error code ")
            .or_else(|| l.strip_prefix("npm ERR! code "))?;
        NODE_CODES.contains(&rest.trim()).then_some(*l)
    })?;
    let reason = lines
        .iter()
        .find(|l| l.starts_with("npm ") && l.contains("request to ") && l.contains("failed"));
    Some(reason.unwrap_or(&code).to_string())
}

/// Yarn classic: `error Error: connect ECONNREFUSED ...`, `error Error:
/// self-signed certificate`, `error An unexpected error occurred: "URL:
/// reason"`; Berry: `YN0001: │ RequestError: ...` and the like.
fn yarn_line(output: &str) -> Option<String> {
    let lines: Vec<&str> = output.lines().collect();
    let hit = lines.iter().position(|l| {
        let error = l.starts_with("error ") || l.contains("YN0001") || l.contains("YN0035");
        error && node_cause(l)
    })?;
    // Classic names the URL only in the `info`/`verbose` lines before; the
    // error line itself is what the user recognises.
    Some(lines[hit].to_string())
}

/// Composer wraps its messages at the terminal width, so the block is joined
/// before matching: `curl error 7 while downloading URL: ...` or `The "URL"
/// file could not be downloaded: <php stream cause>`.
fn composer_line(output: &str) -> Option<String> {
    let joined = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    for (i, _) in joined.match_indices("curl error ") {
        let rest = &joined[i + "curl error ".len()..];
        let number: String = rest.chars().take_while(char::is_ascii_digit).collect();
        if CURL_CODES.contains(&number.as_str()) {
            return Some(until_line_end(&joined[i..]));
        }
    }
    // Wrapped words are split mid-word: match on the text with the breaks
    // removed, report the sentence from the `The "URL"` start.
    let flat = joined.replace('\n', "");
    let at = flat.find("could not be downloaded")?;
    let tail = &flat[at..];
    let cause_end = tail.find("In ").unwrap_or(tail.len()).min(600);
    if !PHP_CAUSES.iter().any(|c| tail[..cause_end].contains(c)) {
        return None;
    }
    let start = flat[..at].rfind("The \"").unwrap_or(at);
    Some(flat[start..at + cause_end].to_string())
}

fn until_line_end(text: &str) -> String {
    text.lines().next().unwrap_or(text).to_string()
}

/// `host[:port]` of the first http(s) URL in `text`, userinfo dropped.
fn first_host(text: &str) -> Option<String> {
    let start = text.find("https://").or_else(|| text.find("http://"))?;
    let rest = &text[start..];
    let rest = &rest[rest.find("://")? + 3..];
    let authority: String = rest
        .chars()
        .take_while(|c| !matches!(c, '/' | '"' | '\'' | ' ' | ')' | ','))
        .collect();
    let authority = authority.rsplit('@').next().unwrap_or(&authority);
    let authority = authority.trim_end_matches(':');
    (!authority.is_empty()).then(|| authority.to_string())
}

#[cfg(test)]
#[path = "unreachable_tests.rs"]
mod tests;
