//! `GET /`: one server-rendered HTML page for teams without Prometheus: hit
//! rate, the last hour's misses and installs, store size and dedup ratio,
//! the versions served and the slowest recent installs. No auth, like
//! `/metrics` (it shows counts, tool versions and key prefixes, never
//! contents), no JavaScript, no external assets. Every number is in a
//! `data-value` attribute too, so scripts and tests need not parse prose.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::Html;

use super::AppState;
use crate::protocol::ManagerSupport;
use crate::units::human_bytes;

/// Rows of the slowest-installs table.
const SLOWEST: usize = 10;

const STYLE: &str = "body{font:15px/1.4 system-ui,sans-serif;margin:2em;max-width:52em;color:#222}\
table{border-collapse:collapse;margin:.5em 0 1.5em}th,td{padding:.25em .8em;border-bottom:1px solid #ddd;text-align:left}\
td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:90%}h1{font-size:1.4em}h2{font-size:1.1em}";

pub async fn status_page(State(state): State<Arc<AppState>>) -> Html<String> {
    let mut out = String::with_capacity(8192);
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width\"><title>depcache status</title>\
<style>{STYLE}</style></head><body>\n<h1>depcache {} <small>({})</small></h1>\n",
        env!("CARGO_PKG_VERSION"),
        escape(env!("DEPCACHE_GIT_COMMIT"))
    );
    summary_table(&mut out, &state);
    versions_section(&mut out, &state);
    slowest_section(&mut out, &state);
    out.push_str(
        "<p>Counts since start unless marked; the Prometheus view of the same numbers is \
<a href=\"/metrics\">/metrics</a>.</p>\n</body></html>\n",
    );
    Html(out)
}

fn row(out: &mut String, id: &str, label: &str, value: impl std::fmt::Display, shown: &str) {
    let _ = writeln!(
        out,
        "<tr><th>{label}</th><td class=\"n\" id=\"{id}\" data-value=\"{value}\">{shown}</td></tr>"
    );
}

fn summary_table(out: &mut String, state: &AppState) {
    let m = &state.metrics;
    let get = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
    let (hits, misses) = (get(&m.hits), get(&m.misses));
    let hour = m.recent.last_hour(SLOWEST);
    let (blob_bytes, tree_bytes) = (get(&m.store_blob_bytes), get(&m.store_tree_bytes));
    out.push_str("<table>\n");
    match (hits * 1000).checked_div(hits + misses) {
        Some(permille) => {
            let rate = permille as f64 / 10.0;
            row(out, "hit-rate", "Hit rate", rate, &format!("{rate:.1}%"));
        }
        None => row(out, "hit-rate", "Hit rate", "", "no requests yet"),
    }
    row(out, "hits", "Hits", hits, &hits.to_string());
    row(out, "misses", "Misses", misses, &misses.to_string());
    let misses_hour = hour.misses.to_string();
    row(
        out,
        "misses-hour",
        "Misses, last hour",
        &misses_hour,
        &misses_hour,
    );
    let installs = format!("{} ({} failed)", hour.installs, hour.failed);
    row(
        out,
        "installs-hour",
        "Installs, last hour",
        hour.installs,
        &installs,
    );
    let pending = state.installer.in_flight() as u64;
    let running = get(&m.installs_running).min(pending);
    let now = format!("{running} running, {} queued", pending - running);
    row(out, "installs-running", "Installs now", running, &now);
    let scanned = if get(&m.store_scanned) == 1 {
        ""
    } else {
        " (counting…)"
    };
    let size = format!("{}{scanned}", human_bytes(blob_bytes));
    row(out, "store-bytes", "Store size", blob_bytes, &size);
    row(
        out,
        "tree-bytes",
        "Trees as installed",
        tree_bytes,
        &human_bytes(tree_bytes),
    );
    match (tree_bytes * 100).checked_div(blob_bytes) {
        Some(hundredths) => {
            let ratio = hundredths as f64 / 100.0;
            let shown =
                format!("{ratio:.2}× (installed bytes per stored byte: dedup and compression)");
            row(out, "dedup-ratio", "Dedup ratio", ratio, &shown);
        }
        None => row(out, "dedup-ratio", "Dedup ratio", "", "empty store"),
    }
    let served = format!("{} bytes", get(&m.bytes_served));
    row(
        out,
        "bytes-served",
        "Bundle bytes served",
        get(&m.bytes_served),
        &served,
    );
    out.push_str("</table>\n");
}

fn version_list(set: &[BTreeMap<String, String>]) -> String {
    set.iter()
        .map(|versions| {
            versions
                .iter()
                .map(|(tool, v)| format!("{} {}", escape(tool), escape(v)))
                .collect::<Vec<_>>()
                .join(" + ")
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn manager_row(out: &mut String, name: &str, support: &ManagerSupport) {
    let native = version_list(&support.native);
    let toolchains = version_list(&support.toolchains);
    let container = support.container.as_ref().map_or_else(
        || "no".to_string(),
        |c| {
            format!(
                "any, in {} (<code>{}</code>)",
                escape(&c.runtime),
                escape(&c.image)
            )
        },
    );
    let _ = writeln!(
        out,
        "<tr id=\"versions-{name}\"><th>{name}</th><td>{native}</td><td>{toolchains}</td><td>{container}</td></tr>"
    );
}

fn versions_section(out: &mut String, state: &AppState) {
    let supported = state.policy.supported();
    let _ = writeln!(
        out,
        "<h2>Versions served</h2>\n<table>\n<tr><th>Manager</th><th>On the PATH</th><th>Toolchains</th><th>Other versions</th></tr>"
    );
    manager_row(out, "npm", &supported.npm);
    manager_row(out, "composer", &supported.composer);
    // pnpm and yarn sets name only node: any published manager version is
    // fetched for them (see /v1/versions).
    manager_row(out, "pnpm", &supported.pnpm);
    manager_row(out, "yarn", &supported.yarn);
    let _ = writeln!(
        out,
        "</table>\n<p>Platform <code>{}</code>.</p>",
        escape(&supported.platform)
    );
}

fn slowest_section(out: &mut String, state: &AppState) {
    let hour = state.metrics.recent.last_hour(SLOWEST);
    out.push_str("<h2>Slowest installs, last hour</h2>\n");
    if hour.slowest.is_empty() {
        out.push_str("<p id=\"slowest-none\">No installs in the last hour.</p>\n");
        return;
    }
    out.push_str(
        "<table id=\"slowest\">\n<tr><th>Key</th><th>Manager</th><th>Seconds</th><th>Result</th><th>Ago</th></tr>\n",
    );
    for r in &hour.slowest {
        let secs = r.elapsed.as_secs_f64();
        let _ = writeln!(
            out,
            "<tr><td><code title=\"{key}\">{short}…</code></td><td>{manager}</td><td class=\"n\" data-value=\"{secs:.3}\">{secs:.1}</td><td>{result}</td><td class=\"n\">{ago} s</td></tr>",
            key = escape(&r.key),
            short = escape(&r.key.chars().take(12).collect::<String>()),
            manager = escape(&r.manager),
            result = if r.ok { "ok" } else { "failed" },
            ago = r.at.elapsed().as_secs(),
        );
    }
    out.push_str("</table>\n");
}

/// Text into HTML: what a key, a version or a path could smuggle in stays text.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_values_stays_text() {
        assert_eq!(
            escape("<script>\"x\"&'y'"),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;"
        );
    }
}
