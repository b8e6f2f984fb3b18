//! Real output of the tools (captured once from npm 11, pnpm 10.34, yarn
//! 1.22 and composer 2 without the curl extension against a refused port,
//! an unresolvable host and a self-signed https server), and the "the
//! project is broken" outputs that must stay `install_failed`.

use super::*;

const NPM_REFUSED: &str = "npm error code ECONNREFUSED
npm error syscall connect
npm error errno ECONNREFUSED
npm error FetchError: request to http://127.0.0.1:9/left-pad failed, reason: connect ECONNREFUSED 127.0.0.1:9
npm error     at ClientRequest.<anonymous> (/usr/lib/node_modules/npm/node_modules/minipass-fetch/lib/index.js:130:14)
npm error     at process.processTicksAndRejections (node:internal/process/task_queues:83:21) {
npm error   code: 'ECONNREFUSED',
npm error   errno: 'ECONNREFUSED',
npm error }
npm error
npm error If you are behind a proxy, please make sure that the 'proxy' config is set properly.  See: 'npm help config'";

const NPM_DNS: &str = "npm error code ENOTFOUND
npm error syscall getaddrinfo
npm error errno ENOTFOUND
npm error network request to http://nonexistent.invalid/left-pad failed, reason: getaddrinfo ENOTFOUND nonexistent.invalid
npm error network This is a problem related to network connectivity.";

const NPM_TLS: &str = "npm error code DEPTH_ZERO_SELF_SIGNED_CERT
npm error errno DEPTH_ZERO_SELF_SIGNED_CERT
npm error request to https://localhost:18443/left-pad failed, reason: self-signed certificate
npm error A complete log of this run can be found in: /tmp/c3/_logs/2026-11-29T01_42_08_618Z-debug-0.log";

const NPM_MISSING_VERSION: &str = "npm error code ETARGET
npm error notarget No matching version found for left-pad@99.0.0.
npm error notarget In most cases you or one of your dependencies are requesting a package version that doesn't exist.";

const PNPM_TLS: &str = " ERR_PNPM_META_FETCH_FAIL  GET https://localhost:18443/left-pad: request to https://localhost:18443/left-pad failed, reason: self-signed certificate

This error happened while installing a direct dependency of /tmp/unr/p";
const PNPM_REFUSED: &str = " ERR_PNPM_META_FETCH_FAIL  GET http://127.0.0.1:9/left-pad: request to http://127.0.0.1:9/left-pad failed, reason: connect ECONNREFUSED 127.0.0.1:9";
const PNPM_DNS: &str = " ERR_PNPM_META_FETCH_FAIL  GET http://nonexistent.invalid/left-pad: request to http://nonexistent.invalid/left-pad failed, reason: getaddrinfo ENOTFOUND nonexistent.invalid";
const PNPM_MISSING_VERSION: &str = " ERR_PNPM_NO_MATCHING_VERSION  No matching version found for left-pad@99.0.0 while fetching it from https://registry.npmjs.org/";

const YARN_TLS: &str = "[1/4] Resolving packages...
error Error: self-signed certificate
    at TLSSocket.onConnectSecure (node:_tls_wrap:1677:34)
info Visit https://yarnpkg.com/en/docs/cli/install for documentation about this command.";
const YARN_REFUSED: &str = "error Error: connect ECONNREFUSED 127.0.0.1:9
    at TCPConnectWrap.afterConnect [as oncomplete] (node:net:1611:16)
info Visit https://yarnpkg.com/en/docs/cli/install for documentation about this command.";
const YARN_DNS: &str = "error Error: getaddrinfo ENOTFOUND nonexistent.invalid
    at GetAddrInfoReqWrap.onlookupall [as oncomplete] (node:dns:122:26)";
const YARN_MISSING_VERSION: &str =
    "error Couldn't find any versions for \"left-pad\" that matches \"99.0.0\"";

const COMPOSER_TLS: &str = "Loading composer repositories with package information
In RemoteFilesystem.php line 476:
  The \"https://localhost:18443/packages.json\" file could not be downloaded: S
  SL operation failed with code 1. OpenSSL Error messages:
  error:0A000086:SSL routines::certificate verify failed
  Failed to enable crypto
  Failed to open stream: operation failed
";
const COMPOSER_REFUSED: &str = "In RemoteFilesystem.php line 476:
  The \"http://127.0.0.1:9/packages.json\" file could not be downloaded: Failed
   to open stream: Connection refused
";
const COMPOSER_DNS: &str = "In RemoteFilesystem.php line 476:
  The \"http://nonexistent.invalid/packages.json\" file could not be downloaded
  : php_network_getaddresses: getaddrinfo for nonexistent.invalid failed: Nam
  e or service not known
";
/// With the curl extension (the format of Composer's CurlDownloader).
const COMPOSER_CURL: &str = "In CurlDownloader.php line 390:
  curl error 60 while downloading https://user:secret@repo.example:8443/packages.json: SSL certificate problem: self-signed certificate in certificate chain
";
const COMPOSER_MISSING: &str = "In RemoteFilesystem.php line 476:
  The \"http://127.0.0.1:9/p2/a/b.json\" file could not be downloaded (HTTP/1.1 404 Not Found)
";

fn host(manager: Manager, output: &str) -> Option<String> {
    let got = registry_unreachable(manager, output);
    assert!(got.is_some(), "{manager}: not classified:\n{output}");
    got.unwrap().host
}

#[test]
fn reach_failures_of_every_tool_are_recognised_with_their_host() {
    for (manager, output, want) in [
        (Manager::Npm, NPM_REFUSED, "127.0.0.1:9"),
        (Manager::Npm, NPM_DNS, "nonexistent.invalid"),
        (Manager::Npm, NPM_TLS, "localhost:18443"),
        (Manager::Pnpm, PNPM_TLS, "localhost:18443"),
        (Manager::Pnpm, PNPM_REFUSED, "127.0.0.1:9"),
        (Manager::Pnpm, PNPM_DNS, "nonexistent.invalid"),
        (Manager::Composer, COMPOSER_TLS, "localhost:18443"),
        (Manager::Composer, COMPOSER_REFUSED, "127.0.0.1:9"),
        (Manager::Composer, COMPOSER_DNS, "nonexistent.invalid"),
        (Manager::Composer, COMPOSER_CURL, "repo.example:8443"),
    ] {
        assert_eq!(host(manager, output).as_deref(), Some(want), "{output}");
    }
    // Yarn classic names no URL in its error line.
    for output in [YARN_TLS, YARN_REFUSED, YARN_DNS] {
        let got = registry_unreachable(Manager::Yarn, output).expect(output);
        assert!(got.line.starts_with("error Error: "), "{got:?}");
    }
}

#[test]
fn the_line_shown_is_the_tools_own_reason() {
    let got = registry_unreachable(Manager::Npm, NPM_REFUSED).unwrap();
    assert_eq!(
        got.line,
        "npm error FetchError: request to http://127.0.0.1:9/left-pad failed, reason: connect ECONNREFUSED 127.0.0.1:9"
    );
    let got = registry_unreachable(Manager::Composer, COMPOSER_DNS).unwrap();
    assert!(
        got.line
            .starts_with("The \"http://nonexistent.invalid/packages.json\" file could not")
            && got.line.contains("Name or service not known"),
        "{got:?}"
    );
    let got = registry_unreachable(Manager::Composer, COMPOSER_CURL).unwrap();
    assert!(
        got.line.starts_with("curl error 60 while downloading"),
        "{got:?}"
    );
}

#[test]
fn a_broken_project_is_not_a_reach_failure() {
    for (manager, output) in [
        (Manager::Npm, NPM_MISSING_VERSION),
        (Manager::Pnpm, PNPM_MISSING_VERSION),
        (
            Manager::Pnpm,
            " ERR_PNPM_FETCH_404  GET http://127.0.0.1:9/x: Not Found - 404",
        ),
        (Manager::Yarn, YARN_MISSING_VERSION),
        (Manager::Composer, COMPOSER_MISSING),
        (
            Manager::Composer,
            "curl error 22 while downloading https://r/x.zip: 404",
        ),
        // One tool's failure is not read as another's.
        (Manager::Composer, NPM_REFUSED),
        (Manager::Npm, PNPM_REFUSED),
    ] {
        assert_eq!(registry_unreachable(manager, output), None, "{output}");
    }
}
