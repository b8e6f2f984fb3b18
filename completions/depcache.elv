
use builtin;
use str;

set edit:completion:arg-completer[depcache] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'depcache'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'depcache'= {
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
            cand completions 'Print shell completions (or write them all with --dir)'
            cand man 'Print the man page (or write one per subcommand with --dir)'
            cand admin 'Operators'' tools on a store: stats, list, gc, verify'
            cand store 'Upkeep of fetch''s --local-store: status, prune, verify'
            cand serve 'Run the cache server'
            cand fetch 'Restore node_modules/vendor from the server (CI client)'
            cand hash 'Print the cache key a client would send for a project'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'depcache;completions'= {
            cand --dir 'Write every shell''s file into DIR instead of printing one'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;man'= {
            cand --dir 'Write depcache.1 and one page per subcommand into DIR instead of printing depcache.1'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;admin'= {
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand stats 'Keys, blobs, bytes on disk, logical size and deduplication ratio'
            cand list 'Every cached key with manager, versions, platform, size and last use'
            cand gc 'Evict unused or least recently used keys, then delete unreferenced blobs. Safe while a server runs on the same directory'
            cand verify 'Rehash every blob and check every index (exit 6 when problems remain)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'depcache;admin;stats'= {
            cand --cache-dir 'Store: a directory or s3://BUCKET[/PREFIX] (the server''s --cache-dir)'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --json 'Machine-readable output (schema in docs/admin.md)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;admin;list'= {
            cand --cache-dir 'Store: a directory or s3://BUCKET[/PREFIX] (the server''s --cache-dir)'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --json 'Machine-readable output (schema in docs/admin.md)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;admin;gc'= {
            cand --cache-dir 'Store: a directory or s3://BUCKET[/PREFIX] (the server''s --cache-dir)'
            cand --older-than 'Evict keys not used (hit or downloaded) for this long, e.g. 30d'
            cand --max-size 'Evict least recently used keys until the store fits, e.g. 20GiB'
            cand --grace 'Keep unreferenced blobs younger than this (ingestions in progress)'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --json 'Machine-readable output (schema in docs/admin.md)'
            cand --dry-run 'Report what would be removed; delete nothing'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;admin;verify'= {
            cand --cache-dir 'Store: a directory or s3://BUCKET[/PREFIX] (the server''s --cache-dir)'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --json 'Machine-readable output (schema in docs/admin.md)'
            cand --repair 'Remove corrupt blobs and the indexes that use them or miss blobs, so those keys are installed afresh on their next request'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;admin;help'= {
            cand stats 'Keys, blobs, bytes on disk, logical size and deduplication ratio'
            cand list 'Every cached key with manager, versions, platform, size and last use'
            cand gc 'Evict unused or least recently used keys, then delete unreferenced blobs. Safe while a server runs on the same directory'
            cand verify 'Rehash every blob and check every index (exit 6 when problems remain)'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'depcache;admin;help;stats'= {
        }
        &'depcache;admin;help;list'= {
        }
        &'depcache;admin;help;gc'= {
        }
        &'depcache;admin;help;verify'= {
        }
        &'depcache;admin;help;help'= {
        }
        &'depcache;store'= {
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand status 'Contents, bytes, how many trees on disk still link to, oldest and newest use, problems found'
            cand prune 'Remove contents no tree links to any more (or only those unused for --older-than), then the least recently used down to --max-size. Safe beside fetches using the same store'
            cand verify 'Rehash every content and remove those that no longer match their name, and anything else that is no content'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'depcache;store;status'= {
            cand --local-store 'The store folder, as given to `fetch --local-store`'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --json 'Machine-readable output (schema in docs/client.md)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;store;prune'= {
            cand --local-store 'The store folder, as given to `fetch --local-store`'
            cand --older-than 'Remove only unlinked contents not used for this long (30d, 12h, ...) instead of every unlinked one'
            cand --max-size 'Then remove the least recently used contents, unlinked ones first, until the store is this small (20GiB, 500MB, ...). Without --older-than only what the budget needs goes'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --json 'Machine-readable output (schema in docs/client.md)'
            cand --dry-run 'Report what would be removed; remove nothing'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;store;verify'= {
            cand --local-store 'The store folder, as given to `fetch --local-store`'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --json 'Machine-readable output (schema in docs/client.md)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;store;help'= {
            cand status 'Contents, bytes, how many trees on disk still link to, oldest and newest use, problems found'
            cand prune 'Remove contents no tree links to any more (or only those unused for --older-than), then the least recently used down to --max-size. Safe beside fetches using the same store'
            cand verify 'Rehash every content and remove those that no longer match their name, and anything else that is no content'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'depcache;store;help;status'= {
        }
        &'depcache;store;help;prune'= {
        }
        &'depcache;store;help;verify'= {
        }
        &'depcache;store;help;help'= {
        }
        &'depcache;serve'= {
            cand --config 'TOML file of settings whose keys are these long flag names, e.g. `max-tree-files = 500000`; flags and variables override it'
            cand --cache-dir 'Store: a directory (created when missing) or s3://BUCKET[/PREFIX] (credentials, region and endpoint from the AWS_* environment)'
            cand --work-dir 'Local scratch for installs (default: the store''s tmp/ for a directory, a temporary folder for S3)'
            cand --bind 'Address to bind (default: 0.0.0.0 with API keys; 127.0.0.1 for an --is-public server, which anyone who reaches it can make run installs)'
            cand --public-url 'Base of the download URLs handed out, an absolute http(s) URL (default: the Host the client used; required behind a proxy)'
            cand --supported-versions-node 'Supported node:npm pairs, e.g. 20.20.2:11.19.1 (default: the host''s)'
            cand --supported-versions-php 'Supported PHP versions (default: the host''s)'
            cand --build-scripts 'Run npm install scripts on the server, inside the container sandbox, for clients that ask (fetch --server-scripts); see docs/scripts.md'
            cand --node-toolchain 'Another node toolchain: VERSION=DIR with DIR/bin/node and DIR/bin/npm (repeatable)'
            cand --php-toolchain 'Another PHP: VERSION=DIR with DIR/bin/php (and DIR/bin/composer, else the PATH''s) (repeatable)'
            cand --container-runtime 'docker or podman (default: docker, else podman, whichever answers)'
            cand --node-image 'Image for node containers; {version} is the node version'
            cand --php-image 'Image for PHP containers; {version} is the PHP version'
            cand --composer-phar 'composer.phar mounted read-only into PHP containers (they need one)'
            cand --container-memory 'Memory limit of an install container'
            cand --container-cpus 'CPU limit of an install container'
            cand --container-pids-limit 'Process limit of an install container'
            cand --container-network 'Network of install containers, e.g. host to reach a registry on 127.0.0.1'
            cand --container-global-arg 'Extra runtime argument before `run`, e.g. --cgroup-manager=cgroupfs (repeatable)'
            cand --container-run-arg 'Extra argument of `run`, before the image, e.g. --ulimit=nofile=4096 (repeatable)'
            cand --api-keys 'Comma-separated API keys (prefer --api-keys-file or DEPCACHE_API_KEYS: argv shows in ps)'
            cand --api-keys-file 'File with one API key per line (# comments); `KEY registries=HOST,...` limits the key to those private registries'' trees'
            cand --npm-registry 'Registry npm installs from (default: npm''s own configuration)'
            cand --allow-registry-host 'Also trust this registry host (HOST or HOST:PORT, exact match) for npm tarballs and composer repositories and archives; repeatable'
            cand --allow-composer-path 'Let composer `path` repositories read packages from under this operator-managed folder; repeatable'
            cand --npm-scope-registry 'npm, pnpm and yarn install `@scope/*` packages from URL (trusted like --npm-registry); repeatable'
            cand --registry-credentials 'File of registry credentials, one `HOST[:PORT] token TOKEN` or `HOST[:PORT] basic USER:PASSWORD` per line (see docs/private-registries.md)'
            cand --registry-ca 'PEM CA certificates registries'' TLS is also verified against (an internal CA), in addition to the system''s'
            cand --max-body-size 'Largest accepted request body'
            cand --install-timeout 'Kill an install (and all it started) after this long'
            cand --max-concurrent-installs 'Installs running at once'
            cand --max-queued-installs 'Distinct misses allowed to wait for an install slot before 503'
            cand --header-timeout 'Close a connection whose request head is not complete after this long (idle kept-alive connections included)'
            cand --body-timeout 'Answer 408 to a request whose body is not complete this long after its head'
            cand --max-connections 'Connections open at once; more wait in the listen backlog until one closes'
            cand --shutdown-timeout 'On SIGINT/SIGTERM, let running requests finish for this long, then drop them'
            cand --max-tree-size 'Refuse (422 tree_too_large) an installed tree whose files add up to more'
            cand --max-tree-files 'Refuse (422 tree_too_large) an installed tree with more files, folders and symlinks'
            cand --bundle-cache-size 'Keep assembled bundles of keys downloaded more than once, up to this many bytes in all, so their downloads are plain file reads (0 keeps none; gc deletes them with their keys)'
            cand --yarn-release 'A yarn release file run with the PATH node for yarn requests of its version (Berry: @yarnpkg/cli-dist''s bin/yarn.js) (repeatable)'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --use-docker-on-version-mismatch 'Install versions the host lacks in a container of exactly those versions (see docs/containers.md; a start-up error when no runtime answers)'
            cand --is-public 'No API key needed'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;fetch'= {
            cand --server 'The depcache server, e.g. http://cache:8080. Unset or empty: install locally and say so (exit 0), unless --no-fallback'
            cand --api-key 'API key sent as a Bearer token; prefer the environment over argv'
            cand --api-key-file 'File holding the API key (first line)'
            cand --retries 'Retries after a connection error or a 5xx (not after a 504), with jittered backoff of about 0.5 s, 1 s, 2 s, ...; a 503''s Retry-After is waited out (more than 60 s ends the retries)'
            cand --timeout 'Limit for the cache request, which installs on a miss (90s, 15m, ...)'
            cand --download-timeout 'Limit for downloading the index and bundle after the server answered, retries and resumes included (90s, 10m, ...); past it the server counts as unavailable. A transfer that receives nothing for 60 s fails sooner'
            cand --local-store 'Keep verified file contents in DIR (e.g. ~/.cache/depcache) and hard-link restored files to them: later fetches download only contents the store lacks. Off unless given'
            cand --local-store-max-size 'After each restore, prune the local store down to this size (20GiB, 500MB, ...) while the fetch finishes, least recently used contents first; see `depcache store prune --max-size`'
            cand --dir 'Project root (default: the current folder)'
            cand --files 'Comma-separated manifest/lockfile names (default: manifest + the lockfile present)'
            cand --node-version 'npm: the node version the key is for (default: the one on PATH)'
            cand --npm-version 'npm: the npm version the key is for (default: the one on PATH)'
            cand --php-version 'composer: the php version the key is for (default: the one on PATH)'
            cand --composer-version 'composer: the composer version the key is for (default: the one on PATH)'
            cand --pnpm-version 'pnpm: the pnpm version the key is for (default: the manifest''s packageManager, else the one on PATH)'
            cand --yarn-version 'yarn: the yarn version the key is for (default: package.json''s packageManager, else the one on PATH)'
            cand --platform 'os-arch-libc, e.g. linux-x64-glibc (default: this machine''s)'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --no-fallback 'Fail (exit 3) instead of installing locally when the server is unavailable (exit 2 when no server is configured at all)'
            cand --force 'Restore from scratch even when the folder''s stat manifest (.depcache-state) says it already holds this key'
            cand --ignore-scripts 'Run no lifecycle scripts after restoring (or installing locally): npm gets the `npm ci --ignore-scripts` tree; composer still rebuilds its autoloader, with scripts and plugins off. By default the scripts the job''s own `npm ci` / `composer install` would run, run here'
            cand --no-scripts 'Run no lifecycle scripts after restoring (or installing locally): npm gets the `npm ci --ignore-scripts` tree; composer still rebuilds its autoloader, with scripts and plugins off. By default the scripts the job''s own `npm ci` / `composer install` would run, run here'
            cand --json 'Print one JSON document on stdout when done: key, cache_hit, files, bytes, seconds, and whether a local install stood in and why (schema in docs/client.md); on failure, the error'
            cand --omit-dev 'Leave devDependencies out (npm --omit=dev, composer --no-dev)'
            cand --server-scripts 'npm: ask for the tree the server built with its install scripts, in its container sandbox (a server started with --build-scripts container); nothing runs here afterwards. See docs/scripts.md'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;hash'= {
            cand --dir 'Project root (default: the current folder)'
            cand --files 'Comma-separated manifest/lockfile names (default: manifest + the lockfile present)'
            cand --node-version 'npm: the node version the key is for (default: the one on PATH)'
            cand --npm-version 'npm: the npm version the key is for (default: the one on PATH)'
            cand --php-version 'composer: the php version the key is for (default: the one on PATH)'
            cand --composer-version 'composer: the composer version the key is for (default: the one on PATH)'
            cand --pnpm-version 'pnpm: the pnpm version the key is for (default: the manifest''s packageManager, else the one on PATH)'
            cand --yarn-version 'yarn: the yarn version the key is for (default: package.json''s packageManager, else the one on PATH)'
            cand --platform 'os-arch-libc, e.g. linux-x64-glibc (default: this machine''s)'
            cand --log-format 'Log lines as text or as one JSON object per line (for log pipelines)'
            cand --omit-dev 'Leave devDependencies out (npm --omit=dev, composer --no-dev)'
            cand --server-scripts 'npm: ask for the tree the server built with its install scripts, in its container sandbox (a server started with --build-scripts container); nothing runs here afterwards. See docs/scripts.md'
            cand --explain 'Also print what went into the key'
            cand --json 'Print one JSON document instead: the key and what went into it (schema in docs/client.md)'
            cand -v 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand --verbose 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
            cand -q 'Only errors'
            cand --quiet 'Only errors'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
        }
        &'depcache;help'= {
            cand completions 'Print shell completions (or write them all with --dir)'
            cand man 'Print the man page (or write one per subcommand with --dir)'
            cand admin 'Operators'' tools on a store: stats, list, gc, verify'
            cand store 'Upkeep of fetch''s --local-store: status, prune, verify'
            cand serve 'Run the cache server'
            cand fetch 'Restore node_modules/vendor from the server (CI client)'
            cand hash 'Print the cache key a client would send for a project'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'depcache;help;completions'= {
        }
        &'depcache;help;man'= {
        }
        &'depcache;help;admin'= {
            cand stats 'Keys, blobs, bytes on disk, logical size and deduplication ratio'
            cand list 'Every cached key with manager, versions, platform, size and last use'
            cand gc 'Evict unused or least recently used keys, then delete unreferenced blobs. Safe while a server runs on the same directory'
            cand verify 'Rehash every blob and check every index (exit 6 when problems remain)'
        }
        &'depcache;help;admin;stats'= {
        }
        &'depcache;help;admin;list'= {
        }
        &'depcache;help;admin;gc'= {
        }
        &'depcache;help;admin;verify'= {
        }
        &'depcache;help;store'= {
            cand status 'Contents, bytes, how many trees on disk still link to, oldest and newest use, problems found'
            cand prune 'Remove contents no tree links to any more (or only those unused for --older-than), then the least recently used down to --max-size. Safe beside fetches using the same store'
            cand verify 'Rehash every content and remove those that no longer match their name, and anything else that is no content'
        }
        &'depcache;help;store;status'= {
        }
        &'depcache;help;store;prune'= {
        }
        &'depcache;help;store;verify'= {
        }
        &'depcache;help;serve'= {
        }
        &'depcache;help;fetch'= {
        }
        &'depcache;help;hash'= {
        }
        &'depcache;help;help'= {
        }
    ]
    $completions[$command]
}
