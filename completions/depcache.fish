# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_depcache_global_optspecs
    string join \n v/verbose q/quiet log-format= h/help V/version
end

function __fish_depcache_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_depcache_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_depcache_using_subcommand
    set -l cmd (__fish_depcache_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c depcache -n "__fish_depcache_needs_command" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_needs_command" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_needs_command" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_needs_command" -s V -l version -d 'Print version'
complete -c depcache -n "__fish_depcache_needs_command" -f -a "completions" -d 'Print shell completions (or write them all with --dir)'
complete -c depcache -n "__fish_depcache_needs_command" -f -a "man" -d 'Print the man page (or write one per subcommand with --dir)'
complete -c depcache -n "__fish_depcache_needs_command" -f -a "admin" -d 'Operators\' tools on a store: stats, list, gc, verify'
complete -c depcache -n "__fish_depcache_needs_command" -f -a "store" -d 'Upkeep of fetch\'s --local-store: status, prune, verify'
complete -c depcache -n "__fish_depcache_needs_command" -f -a "serve" -d 'Run the cache server'
complete -c depcache -n "__fish_depcache_needs_command" -f -a "fetch" -d 'Restore node_modules/vendor from the server (CI client)'
complete -c depcache -n "__fish_depcache_needs_command" -f -a "hash" -d 'Print the cache key a client would send for a project'
complete -c depcache -n "__fish_depcache_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c depcache -n "__fish_depcache_using_subcommand completions" -l dir -d 'Write every shell\'s file into DIR instead of printing one' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand completions" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand completions" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand completions" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand completions" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand man" -l dir -d 'Write depcache.1 and one page per subcommand into DIR instead of printing depcache.1' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand man" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand man" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand man" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand man" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and not __fish_seen_subcommand_from stats list gc verify help" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand admin; and not __fish_seen_subcommand_from stats list gc verify help" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and not __fish_seen_subcommand_from stats list gc verify help" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and not __fish_seen_subcommand_from stats list gc verify help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and not __fish_seen_subcommand_from stats list gc verify help" -f -a "stats" -d 'Keys, blobs, bytes on disk, logical size and deduplication ratio'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and not __fish_seen_subcommand_from stats list gc verify help" -f -a "list" -d 'Every cached key with manager, versions, platform, size and last use'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and not __fish_seen_subcommand_from stats list gc verify help" -f -a "gc" -d 'Evict unused or least recently used keys, then delete unreferenced blobs. Safe while a server runs on the same directory'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and not __fish_seen_subcommand_from stats list gc verify help" -f -a "verify" -d 'Rehash every blob and check every index (exit 6 when problems remain)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and not __fish_seen_subcommand_from stats list gc verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from stats" -l cache-dir -d 'Store: a directory or s3://BUCKET[/PREFIX] (the server\'s --cache-dir)' -r
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from stats" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from stats" -l json -d 'Machine-readable output (schema in docs/admin.md)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from stats" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from stats" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from stats" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from list" -l cache-dir -d 'Store: a directory or s3://BUCKET[/PREFIX] (the server\'s --cache-dir)' -r
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from list" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from list" -l json -d 'Machine-readable output (schema in docs/admin.md)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from list" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -l cache-dir -d 'Store: a directory or s3://BUCKET[/PREFIX] (the server\'s --cache-dir)' -r
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -l older-than -d 'Evict keys not used (hit or downloaded) for this long, e.g. 30d' -r
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -l max-size -d 'Evict least recently used keys until the store fits, e.g. 20GiB' -r
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -l grace -d 'Keep unreferenced blobs younger than this (ingestions in progress)' -r
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -l json -d 'Machine-readable output (schema in docs/admin.md)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -l dry-run -d 'Report what would be removed; delete nothing'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from gc" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from verify" -l cache-dir -d 'Store: a directory or s3://BUCKET[/PREFIX] (the server\'s --cache-dir)' -r
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from verify" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from verify" -l json -d 'Machine-readable output (schema in docs/admin.md)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from verify" -l repair -d 'Remove corrupt blobs and the indexes that use them or miss blobs, so those keys are installed afresh on their next request'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "stats" -d 'Keys, blobs, bytes on disk, logical size and deduplication ratio'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "list" -d 'Every cached key with manager, versions, platform, size and last use'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "gc" -d 'Evict unused or least recently used keys, then delete unreferenced blobs. Safe while a server runs on the same directory'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Rehash every blob and check every index (exit 6 when problems remain)'
complete -c depcache -n "__fish_depcache_using_subcommand admin; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c depcache -n "__fish_depcache_using_subcommand store; and not __fish_seen_subcommand_from status prune verify help" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand store; and not __fish_seen_subcommand_from status prune verify help" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand store; and not __fish_seen_subcommand_from status prune verify help" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand store; and not __fish_seen_subcommand_from status prune verify help" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand store; and not __fish_seen_subcommand_from status prune verify help" -f -a "status" -d 'Contents, bytes, how many trees on disk still link to, oldest and newest use, problems found'
complete -c depcache -n "__fish_depcache_using_subcommand store; and not __fish_seen_subcommand_from status prune verify help" -f -a "prune" -d 'Remove contents no tree links to any more (or only those unused for --older-than), then the least recently used down to --max-size. Safe beside fetches using the same store'
complete -c depcache -n "__fish_depcache_using_subcommand store; and not __fish_seen_subcommand_from status prune verify help" -f -a "verify" -d 'Rehash every content and remove those that no longer match their name, and anything else that is no content'
complete -c depcache -n "__fish_depcache_using_subcommand store; and not __fish_seen_subcommand_from status prune verify help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from status" -l local-store -d 'The store folder, as given to `fetch --local-store`' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from status" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from status" -l json -d 'Machine-readable output (schema in docs/client.md)'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from status" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from status" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from status" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from prune" -l local-store -d 'The store folder, as given to `fetch --local-store`' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from prune" -l older-than -d 'Remove only unlinked contents not used for this long (30d, 12h, ...) instead of every unlinked one' -r
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from prune" -l max-size -d 'Then remove the least recently used contents, unlinked ones first, until the store is this small (20GiB, 500MB, ...). Without --older-than only what the budget needs goes' -r
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from prune" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from prune" -l json -d 'Machine-readable output (schema in docs/client.md)'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from prune" -l dry-run -d 'Report what would be removed; remove nothing'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from prune" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from prune" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from verify" -l local-store -d 'The store folder, as given to `fetch --local-store`' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from verify" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from verify" -l json -d 'Machine-readable output (schema in docs/client.md)'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from verify" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "status" -d 'Contents, bytes, how many trees on disk still link to, oldest and newest use, problems found'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "prune" -d 'Remove contents no tree links to any more (or only those unused for --older-than), then the least recently used down to --max-size. Safe beside fetches using the same store'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "verify" -d 'Rehash every content and remove those that no longer match their name, and anything else that is no content'
complete -c depcache -n "__fish_depcache_using_subcommand store; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l config -d 'TOML file of settings whose keys are these long flag names, e.g. `max-tree-files = 500000`; flags and variables override it' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l cache-dir -d 'Store: a directory (created when missing) or s3://BUCKET[/PREFIX] (credentials, region and endpoint from the AWS_* environment)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l work-dir -d 'Local scratch for installs (default: the store\'s tmp/ for a directory, a temporary folder for S3)' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l bind -d 'Address to bind (default: 0.0.0.0 with API keys; 127.0.0.1 for an --is-public server, which anyone who reaches it can make run installs)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l public-url -d 'Base of the download URLs handed out, an absolute http(s) URL (default: the Host the client used; required behind a proxy)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l supported-versions-node -d 'Supported node:npm pairs, e.g. 20.20.2:11.19.1 (default: the host\'s)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l supported-versions-php -d 'Supported PHP versions (default: the host\'s)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l build-scripts -d 'Run npm install scripts on the server, inside the container sandbox, for clients that ask (fetch --server-scripts); see docs/scripts.md' -r -f -a "none\t'Nowhere: trees are `npm ci --ignore-scripts`; clients run the scripts'
container\t'In the install container sandbox, for requests that ask (`fetch --server-scripts`); needs a container runtime'"
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l node-toolchain -d 'Another node toolchain: VERSION=DIR with DIR/bin/node and DIR/bin/npm (repeatable)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l php-toolchain -d 'Another PHP: VERSION=DIR with DIR/bin/php (and DIR/bin/composer, else the PATH\'s) (repeatable)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l container-runtime -d 'docker or podman (default: docker, else podman, whichever answers)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l node-image -d 'Image for node containers; {version} is the node version' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l php-image -d 'Image for PHP containers; {version} is the PHP version' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l composer-phar -d 'composer.phar mounted read-only into PHP containers (they need one)' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l container-memory -d 'Memory limit of an install container' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l container-cpus -d 'CPU limit of an install container' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l container-pids-limit -d 'Process limit of an install container' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l container-network -d 'Network of install containers, e.g. host to reach a registry on 127.0.0.1' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l container-global-arg -d 'Extra runtime argument before `run`, e.g. --cgroup-manager=cgroupfs (repeatable)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l container-run-arg -d 'Extra argument of `run`, before the image, e.g. --ulimit=nofile=4096 (repeatable)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l api-keys -d 'Comma-separated API keys (prefer --api-keys-file or DEPCACHE_API_KEYS: argv shows in ps)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l api-keys-file -d 'File with one API key per line (# comments); `KEY registries=HOST,...` limits the key to those private registries\' trees' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l npm-registry -d 'Registry npm installs from (default: npm\'s own configuration)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l allow-registry-host -d 'Also trust this registry host (HOST or HOST:PORT, exact match) for npm tarballs and composer repositories and archives; repeatable' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l allow-composer-path -d 'Let composer `path` repositories read packages from under this operator-managed folder; repeatable' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l npm-scope-registry -d 'npm, pnpm and yarn install `@scope/*` packages from URL (trusted like --npm-registry); repeatable' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l registry-credentials -d 'File of registry credentials, one `HOST[:PORT] token TOKEN` or `HOST[:PORT] basic USER:PASSWORD` per line (see docs/private-registries.md)' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l registry-ca -d 'PEM CA certificates registries\' TLS is also verified against (an internal CA), in addition to the system\'s' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l max-body-size -d 'Largest accepted request body' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l install-timeout -d 'Kill an install (and all it started) after this long' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l max-concurrent-installs -d 'Installs running at once' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l max-queued-installs -d 'Distinct misses allowed to wait for an install slot before 503' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l header-timeout -d 'Close a connection whose request head is not complete after this long (idle kept-alive connections included)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l body-timeout -d 'Answer 408 to a request whose body is not complete this long after its head' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l max-connections -d 'Connections open at once; more wait in the listen backlog until one closes' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l shutdown-timeout -d 'On SIGINT/SIGTERM, let running requests finish for this long, then drop them' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l max-tree-size -d 'Refuse (422 tree_too_large) an installed tree whose files add up to more' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l max-tree-files -d 'Refuse (422 tree_too_large) an installed tree with more files, folders and symlinks' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l bundle-cache-size -d 'Keep assembled bundles of keys downloaded more than once, up to this many bytes in all, so their downloads are plain file reads (0 keeps none; gc deletes them with their keys)' -r
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l yarn-release -d 'A yarn release file run with the PATH node for yarn requests of its version (Berry: @yarnpkg/cli-dist\'s bin/yarn.js) (repeatable)' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l use-docker-on-version-mismatch -d 'Install versions the host lacks in a container of exactly those versions (see docs/containers.md; a start-up error when no runtime answers)'
complete -c depcache -n "__fish_depcache_using_subcommand serve" -l is-public -d 'No API key needed'
complete -c depcache -n "__fish_depcache_using_subcommand serve" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand serve" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand serve" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l server -d 'The depcache server, e.g. http://cache:8080. Unset or empty: install locally and say so (exit 0), unless --no-fallback' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l api-key -d 'API key sent as a Bearer token; prefer the environment over argv' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l api-key-file -d 'File holding the API key (first line)' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l retries -d 'Retries after a connection error or a 5xx (not after a 504), with jittered backoff of about 0.5 s, 1 s, 2 s, ...; a 503\'s Retry-After is waited out (more than 60 s ends the retries)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l timeout -d 'Limit for the cache request, which installs on a miss (90s, 15m, ...)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l download-timeout -d 'Limit for downloading the index and bundle after the server answered, retries and resumes included (90s, 10m, ...); past it the server counts as unavailable. A transfer that receives nothing for 60 s fails sooner' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l local-store -d 'Keep verified file contents in DIR (e.g. ~/.cache/depcache) and hard-link restored files to them: later fetches download only contents the store lacks. Off unless given' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l local-store-max-size -d 'After each restore, prune the local store down to this size (20GiB, 500MB, ...) while the fetch finishes, least recently used contents first; see `depcache store prune --max-size`' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l dir -d 'Project root (default: the current folder)' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l files -d 'Comma-separated manifest/lockfile names (default: manifest + the lockfile present)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l node-version -d 'npm: the node version the key is for (default: the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l npm-version -d 'npm: the npm version the key is for (default: the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l php-version -d 'composer: the php version the key is for (default: the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l composer-version -d 'composer: the composer version the key is for (default: the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l pnpm-version -d 'pnpm: the pnpm version the key is for (default: the manifest\'s packageManager, else the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l yarn-version -d 'yarn: the yarn version the key is for (default: package.json\'s packageManager, else the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l platform -d 'os-arch-libc, e.g. linux-x64-glibc (default: this machine\'s)' -r
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l no-fallback -d 'Fail (exit 3) instead of installing locally when the server is unavailable (exit 2 when no server is configured at all)'
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l force -d 'Restore from scratch even when the folder\'s stat manifest (.depcache-state) says it already holds this key'
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l ignore-scripts -l no-scripts -d 'Run no lifecycle scripts after restoring (or installing locally): npm gets the `npm ci --ignore-scripts` tree; composer still rebuilds its autoloader, with scripts and plugins off. By default the scripts the job\'s own `npm ci` / `composer install` would run, run here'
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l json -d 'Print one JSON document on stdout when done: key, cache_hit, files, bytes, seconds, and whether a local install stood in and why (schema in docs/client.md); on failure, the error'
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l omit-dev -d 'Leave devDependencies out (npm --omit=dev, composer --no-dev)'
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -l server-scripts -d 'npm: ask for the tree the server built with its install scripts, in its container sandbox (a server started with --build-scripts container); nothing runs here afterwards. See docs/scripts.md'
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand fetch" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l dir -d 'Project root (default: the current folder)' -r -F
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l files -d 'Comma-separated manifest/lockfile names (default: manifest + the lockfile present)' -r
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l node-version -d 'npm: the node version the key is for (default: the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l npm-version -d 'npm: the npm version the key is for (default: the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l php-version -d 'composer: the php version the key is for (default: the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l composer-version -d 'composer: the composer version the key is for (default: the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l pnpm-version -d 'pnpm: the pnpm version the key is for (default: the manifest\'s packageManager, else the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l yarn-version -d 'yarn: the yarn version the key is for (default: package.json\'s packageManager, else the one on PATH)' -r
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l platform -d 'os-arch-libc, e.g. linux-x64-glibc (default: this machine\'s)' -r
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l log-format -d 'Log lines as text or as one JSON object per line (for log pipelines)' -r -f -a "text\t'Human-readable lines'
json\t'One JSON object per line: timestamp, level, message, target, fields'"
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l omit-dev -d 'Leave devDependencies out (npm --omit=dev, composer --no-dev)'
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l server-scripts -d 'npm: ask for the tree the server built with its install scripts, in its container sandbox (a server started with --build-scripts container); nothing runs here afterwards. See docs/scripts.md'
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l explain -d 'Also print what went into the key'
complete -c depcache -n "__fish_depcache_using_subcommand hash" -l json -d 'Print one JSON document instead: the key and what went into it (schema in docs/client.md)'
complete -c depcache -n "__fish_depcache_using_subcommand hash" -s v -l verbose -d 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)'
complete -c depcache -n "__fish_depcache_using_subcommand hash" -s q -l quiet -d 'Only errors'
complete -c depcache -n "__fish_depcache_using_subcommand hash" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c depcache -n "__fish_depcache_using_subcommand help; and not __fish_seen_subcommand_from completions man admin store serve fetch hash help" -f -a "completions" -d 'Print shell completions (or write them all with --dir)'
complete -c depcache -n "__fish_depcache_using_subcommand help; and not __fish_seen_subcommand_from completions man admin store serve fetch hash help" -f -a "man" -d 'Print the man page (or write one per subcommand with --dir)'
complete -c depcache -n "__fish_depcache_using_subcommand help; and not __fish_seen_subcommand_from completions man admin store serve fetch hash help" -f -a "admin" -d 'Operators\' tools on a store: stats, list, gc, verify'
complete -c depcache -n "__fish_depcache_using_subcommand help; and not __fish_seen_subcommand_from completions man admin store serve fetch hash help" -f -a "store" -d 'Upkeep of fetch\'s --local-store: status, prune, verify'
complete -c depcache -n "__fish_depcache_using_subcommand help; and not __fish_seen_subcommand_from completions man admin store serve fetch hash help" -f -a "serve" -d 'Run the cache server'
complete -c depcache -n "__fish_depcache_using_subcommand help; and not __fish_seen_subcommand_from completions man admin store serve fetch hash help" -f -a "fetch" -d 'Restore node_modules/vendor from the server (CI client)'
complete -c depcache -n "__fish_depcache_using_subcommand help; and not __fish_seen_subcommand_from completions man admin store serve fetch hash help" -f -a "hash" -d 'Print the cache key a client would send for a project'
complete -c depcache -n "__fish_depcache_using_subcommand help; and not __fish_seen_subcommand_from completions man admin store serve fetch hash help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c depcache -n "__fish_depcache_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "stats" -d 'Keys, blobs, bytes on disk, logical size and deduplication ratio'
complete -c depcache -n "__fish_depcache_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "list" -d 'Every cached key with manager, versions, platform, size and last use'
complete -c depcache -n "__fish_depcache_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "gc" -d 'Evict unused or least recently used keys, then delete unreferenced blobs. Safe while a server runs on the same directory'
complete -c depcache -n "__fish_depcache_using_subcommand help; and __fish_seen_subcommand_from admin" -f -a "verify" -d 'Rehash every blob and check every index (exit 6 when problems remain)'
complete -c depcache -n "__fish_depcache_using_subcommand help; and __fish_seen_subcommand_from store" -f -a "status" -d 'Contents, bytes, how many trees on disk still link to, oldest and newest use, problems found'
complete -c depcache -n "__fish_depcache_using_subcommand help; and __fish_seen_subcommand_from store" -f -a "prune" -d 'Remove contents no tree links to any more (or only those unused for --older-than), then the least recently used down to --max-size. Safe beside fetches using the same store'
complete -c depcache -n "__fish_depcache_using_subcommand help; and __fish_seen_subcommand_from store" -f -a "verify" -d 'Rehash every content and remove those that no longer match their name, and anything else that is no content'
