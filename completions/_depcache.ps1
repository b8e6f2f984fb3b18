
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'depcache' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'depcache'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'depcache' {
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions (or write them all with --dir)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (or write one per subcommand with --dir)')
            [CompletionResult]::new('admin', 'admin', [CompletionResultType]::ParameterValue, 'Operators'' tools on a store: stats, list, gc, verify')
            [CompletionResult]::new('store', 'store', [CompletionResultType]::ParameterValue, 'Upkeep of fetch''s --local-store: status, prune, verify')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the cache server')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Restore node_modules/vendor from the server (CI client)')
            [CompletionResult]::new('hash', 'hash', [CompletionResultType]::ParameterValue, 'Print the cache key a client would send for a project')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'depcache;completions' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write every shell''s file into DIR instead of printing one')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;man' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Write depcache.1 and one page per subcommand into DIR instead of printing depcache.1')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;admin' {
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Keys, blobs, bytes on disk, logical size and deduplication ratio')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Every cached key with manager, versions, platform, size and last use')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Evict unused or least recently used keys, then delete unreferenced blobs. Safe while a server runs on the same directory')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Rehash every blob and check every index (exit 6 when problems remain)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'depcache;admin;stats' {
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Store: a directory or s3://BUCKET[/PREFIX] (the server''s --cache-dir)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output (schema in docs/admin.md)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;admin;list' {
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Store: a directory or s3://BUCKET[/PREFIX] (the server''s --cache-dir)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output (schema in docs/admin.md)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;admin;gc' {
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Store: a directory or s3://BUCKET[/PREFIX] (the server''s --cache-dir)')
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Evict keys not used (hit or downloaded) for this long, e.g. 30d')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Evict least recently used keys until the store fits, e.g. 20GiB')
            [CompletionResult]::new('--grace', '--grace', [CompletionResultType]::ParameterName, 'Keep unreferenced blobs younger than this (ingestions in progress)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output (schema in docs/admin.md)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Report what would be removed; delete nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;admin;verify' {
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Store: a directory or s3://BUCKET[/PREFIX] (the server''s --cache-dir)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output (schema in docs/admin.md)')
            [CompletionResult]::new('--repair', '--repair', [CompletionResultType]::ParameterName, 'Remove corrupt blobs and the indexes that use them or miss blobs, so those keys are installed afresh on their next request')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;admin;help' {
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Keys, blobs, bytes on disk, logical size and deduplication ratio')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Every cached key with manager, versions, platform, size and last use')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Evict unused or least recently used keys, then delete unreferenced blobs. Safe while a server runs on the same directory')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Rehash every blob and check every index (exit 6 when problems remain)')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'depcache;admin;help;stats' {
            break
        }
        'depcache;admin;help;list' {
            break
        }
        'depcache;admin;help;gc' {
            break
        }
        'depcache;admin;help;verify' {
            break
        }
        'depcache;admin;help;help' {
            break
        }
        'depcache;store' {
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Contents, bytes, how many trees on disk still link to, oldest and newest use, problems found')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove contents no tree links to any more (or only those unused for --older-than), then the least recently used down to --max-size. Safe beside fetches using the same store')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Rehash every content and remove those that no longer match their name, and anything else that is no content')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'depcache;store;status' {
            [CompletionResult]::new('--local-store', '--local-store', [CompletionResultType]::ParameterName, 'The store folder, as given to `fetch --local-store`')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output (schema in docs/client.md)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;store;prune' {
            [CompletionResult]::new('--local-store', '--local-store', [CompletionResultType]::ParameterName, 'The store folder, as given to `fetch --local-store`')
            [CompletionResult]::new('--older-than', '--older-than', [CompletionResultType]::ParameterName, 'Remove only unlinked contents not used for this long (30d, 12h, ...) instead of every unlinked one')
            [CompletionResult]::new('--max-size', '--max-size', [CompletionResultType]::ParameterName, 'Then remove the least recently used contents, unlinked ones first, until the store is this small (20GiB, 500MB, ...). Without --older-than only what the budget needs goes')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output (schema in docs/client.md)')
            [CompletionResult]::new('--dry-run', '--dry-run', [CompletionResultType]::ParameterName, 'Report what would be removed; remove nothing')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;store;verify' {
            [CompletionResult]::new('--local-store', '--local-store', [CompletionResultType]::ParameterName, 'The store folder, as given to `fetch --local-store`')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Machine-readable output (schema in docs/client.md)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;store;help' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Contents, bytes, how many trees on disk still link to, oldest and newest use, problems found')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove contents no tree links to any more (or only those unused for --older-than), then the least recently used down to --max-size. Safe beside fetches using the same store')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Rehash every content and remove those that no longer match their name, and anything else that is no content')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'depcache;store;help;status' {
            break
        }
        'depcache;store;help;prune' {
            break
        }
        'depcache;store;help;verify' {
            break
        }
        'depcache;store;help;help' {
            break
        }
        'depcache;serve' {
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'TOML file of settings whose keys are these long flag names, e.g. `max-tree-files = 500000`; flags and variables override it')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Store: a directory (created when missing) or s3://BUCKET[/PREFIX] (credentials, region and endpoint from the AWS_* environment)')
            [CompletionResult]::new('--work-dir', '--work-dir', [CompletionResultType]::ParameterName, 'Local scratch for installs (default: the store''s tmp/ for a directory, a temporary folder for S3)')
            [CompletionResult]::new('--bind', '--bind', [CompletionResultType]::ParameterName, 'Address to bind (default: 0.0.0.0 with API keys; 127.0.0.1 for an --is-public server, which anyone who reaches it can make run installs)')
            [CompletionResult]::new('--public-url', '--public-url', [CompletionResultType]::ParameterName, 'Base of the download URLs handed out, an absolute http(s) URL (default: the Host the client used; required behind a proxy)')
            [CompletionResult]::new('--supported-versions-node', '--supported-versions-node', [CompletionResultType]::ParameterName, 'Supported node:npm pairs, e.g. 20.20.2:11.19.1 (default: the host''s)')
            [CompletionResult]::new('--supported-versions-php', '--supported-versions-php', [CompletionResultType]::ParameterName, 'Supported PHP versions (default: the host''s)')
            [CompletionResult]::new('--build-scripts', '--build-scripts', [CompletionResultType]::ParameterName, 'Run npm install scripts on the server, inside the container sandbox, for clients that ask (fetch --server-scripts); see docs/scripts.md')
            [CompletionResult]::new('--node-toolchain', '--node-toolchain', [CompletionResultType]::ParameterName, 'Another node toolchain: VERSION=DIR with DIR/bin/node and DIR/bin/npm (repeatable)')
            [CompletionResult]::new('--php-toolchain', '--php-toolchain', [CompletionResultType]::ParameterName, 'Another PHP: VERSION=DIR with DIR/bin/php (and DIR/bin/composer, else the PATH''s) (repeatable)')
            [CompletionResult]::new('--container-runtime', '--container-runtime', [CompletionResultType]::ParameterName, 'docker or podman (default: docker, else podman, whichever answers)')
            [CompletionResult]::new('--node-image', '--node-image', [CompletionResultType]::ParameterName, 'Image for node containers; {version} is the node version')
            [CompletionResult]::new('--php-image', '--php-image', [CompletionResultType]::ParameterName, 'Image for PHP containers; {version} is the PHP version')
            [CompletionResult]::new('--composer-phar', '--composer-phar', [CompletionResultType]::ParameterName, 'composer.phar mounted read-only into PHP containers (they need one)')
            [CompletionResult]::new('--container-memory', '--container-memory', [CompletionResultType]::ParameterName, 'Memory limit of an install container')
            [CompletionResult]::new('--container-cpus', '--container-cpus', [CompletionResultType]::ParameterName, 'CPU limit of an install container')
            [CompletionResult]::new('--container-pids-limit', '--container-pids-limit', [CompletionResultType]::ParameterName, 'Process limit of an install container')
            [CompletionResult]::new('--container-network', '--container-network', [CompletionResultType]::ParameterName, 'Network of install containers, e.g. host to reach a registry on 127.0.0.1')
            [CompletionResult]::new('--container-global-arg', '--container-global-arg', [CompletionResultType]::ParameterName, 'Extra runtime argument before `run`, e.g. --cgroup-manager=cgroupfs (repeatable)')
            [CompletionResult]::new('--container-run-arg', '--container-run-arg', [CompletionResultType]::ParameterName, 'Extra argument of `run`, before the image, e.g. --ulimit=nofile=4096 (repeatable)')
            [CompletionResult]::new('--api-keys', '--api-keys', [CompletionResultType]::ParameterName, 'Comma-separated API keys (prefer --api-keys-file or DEPCACHE_API_KEYS: argv shows in ps)')
            [CompletionResult]::new('--api-keys-file', '--api-keys-file', [CompletionResultType]::ParameterName, 'File with one API key per line (# comments); `KEY registries=HOST,...` limits the key to those private registries'' trees')
            [CompletionResult]::new('--npm-registry', '--npm-registry', [CompletionResultType]::ParameterName, 'Registry npm installs from (default: npm''s own configuration)')
            [CompletionResult]::new('--allow-registry-host', '--allow-registry-host', [CompletionResultType]::ParameterName, 'Also trust this registry host (HOST or HOST:PORT, exact match) for npm tarballs and composer repositories and archives; repeatable')
            [CompletionResult]::new('--allow-composer-path', '--allow-composer-path', [CompletionResultType]::ParameterName, 'Let composer `path` repositories read packages from under this operator-managed folder; repeatable')
            [CompletionResult]::new('--npm-scope-registry', '--npm-scope-registry', [CompletionResultType]::ParameterName, 'npm, pnpm and yarn install `@scope/*` packages from URL (trusted like --npm-registry); repeatable')
            [CompletionResult]::new('--registry-credentials', '--registry-credentials', [CompletionResultType]::ParameterName, 'File of registry credentials, one `HOST[:PORT] token TOKEN` or `HOST[:PORT] basic USER:PASSWORD` per line (see docs/private-registries.md)')
            [CompletionResult]::new('--registry-ca', '--registry-ca', [CompletionResultType]::ParameterName, 'PEM CA certificates registries'' TLS is also verified against (an internal CA), in addition to the system''s')
            [CompletionResult]::new('--max-body-size', '--max-body-size', [CompletionResultType]::ParameterName, 'Largest accepted request body')
            [CompletionResult]::new('--install-timeout', '--install-timeout', [CompletionResultType]::ParameterName, 'Kill an install (and all it started) after this long')
            [CompletionResult]::new('--max-concurrent-installs', '--max-concurrent-installs', [CompletionResultType]::ParameterName, 'Installs running at once')
            [CompletionResult]::new('--max-queued-installs', '--max-queued-installs', [CompletionResultType]::ParameterName, 'Distinct misses allowed to wait for an install slot before 503')
            [CompletionResult]::new('--header-timeout', '--header-timeout', [CompletionResultType]::ParameterName, 'Close a connection whose request head is not complete after this long (idle kept-alive connections included)')
            [CompletionResult]::new('--body-timeout', '--body-timeout', [CompletionResultType]::ParameterName, 'Answer 408 to a request whose body is not complete this long after its head')
            [CompletionResult]::new('--max-connections', '--max-connections', [CompletionResultType]::ParameterName, 'Connections open at once; more wait in the listen backlog until one closes')
            [CompletionResult]::new('--shutdown-timeout', '--shutdown-timeout', [CompletionResultType]::ParameterName, 'On SIGINT/SIGTERM, let running requests finish for this long, then drop them')
            [CompletionResult]::new('--max-tree-size', '--max-tree-size', [CompletionResultType]::ParameterName, 'Refuse (422 tree_too_large) an installed tree whose files add up to more')
            [CompletionResult]::new('--max-tree-files', '--max-tree-files', [CompletionResultType]::ParameterName, 'Refuse (422 tree_too_large) an installed tree with more files, folders and symlinks')
            [CompletionResult]::new('--bundle-cache-size', '--bundle-cache-size', [CompletionResultType]::ParameterName, 'Keep assembled bundles of keys downloaded more than once, up to this many bytes in all, so their downloads are plain file reads (0 keeps none; gc deletes them with their keys)')
            [CompletionResult]::new('--yarn-release', '--yarn-release', [CompletionResultType]::ParameterName, 'A yarn release file run with the PATH node for yarn requests of its version (Berry: @yarnpkg/cli-dist''s bin/yarn.js) (repeatable)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--use-docker-on-version-mismatch', '--use-docker-on-version-mismatch', [CompletionResultType]::ParameterName, 'Install versions the host lacks in a container of exactly those versions (see docs/containers.md; a start-up error when no runtime answers)')
            [CompletionResult]::new('--is-public', '--is-public', [CompletionResultType]::ParameterName, 'No API key needed')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;fetch' {
            [CompletionResult]::new('--server', '--server', [CompletionResultType]::ParameterName, 'The depcache server, e.g. http://cache:8080. Unset or empty: install locally and say so (exit 0), unless --no-fallback')
            [CompletionResult]::new('--api-key', '--api-key', [CompletionResultType]::ParameterName, 'API key sent as a Bearer token; prefer the environment over argv')
            [CompletionResult]::new('--api-key-file', '--api-key-file', [CompletionResultType]::ParameterName, 'File holding the API key (first line)')
            [CompletionResult]::new('--retries', '--retries', [CompletionResultType]::ParameterName, 'Retries after a connection error or a 5xx (not after a 504), with jittered backoff of about 0.5 s, 1 s, 2 s, ...; a 503''s Retry-After is waited out (more than 60 s ends the retries)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Limit for the cache request, which installs on a miss (90s, 15m, ...)')
            [CompletionResult]::new('--download-timeout', '--download-timeout', [CompletionResultType]::ParameterName, 'Limit for downloading the index and bundle after the server answered, retries and resumes included (90s, 10m, ...); past it the server counts as unavailable. A transfer that receives nothing for 60 s fails sooner')
            [CompletionResult]::new('--local-store', '--local-store', [CompletionResultType]::ParameterName, 'Keep verified file contents in DIR (e.g. ~/.cache/depcache) and hard-link restored files to them: later fetches download only contents the store lacks. Off unless given')
            [CompletionResult]::new('--local-store-max-size', '--local-store-max-size', [CompletionResultType]::ParameterName, 'After each restore, prune the local store down to this size (20GiB, 500MB, ...) while the fetch finishes, least recently used contents first; see `depcache store prune --max-size`')
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Project root (default: the current folder)')
            [CompletionResult]::new('--files', '--files', [CompletionResultType]::ParameterName, 'Comma-separated manifest/lockfile names (default: manifest + the lockfile present)')
            [CompletionResult]::new('--node-version', '--node-version', [CompletionResultType]::ParameterName, 'npm: the node version the key is for (default: the one on PATH)')
            [CompletionResult]::new('--npm-version', '--npm-version', [CompletionResultType]::ParameterName, 'npm: the npm version the key is for (default: the one on PATH)')
            [CompletionResult]::new('--php-version', '--php-version', [CompletionResultType]::ParameterName, 'composer: the php version the key is for (default: the one on PATH)')
            [CompletionResult]::new('--composer-version', '--composer-version', [CompletionResultType]::ParameterName, 'composer: the composer version the key is for (default: the one on PATH)')
            [CompletionResult]::new('--pnpm-version', '--pnpm-version', [CompletionResultType]::ParameterName, 'pnpm: the pnpm version the key is for (default: the manifest''s packageManager, else the one on PATH)')
            [CompletionResult]::new('--yarn-version', '--yarn-version', [CompletionResultType]::ParameterName, 'yarn: the yarn version the key is for (default: package.json''s packageManager, else the one on PATH)')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'os-arch-libc, e.g. linux-x64-glibc (default: this machine''s)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--no-fallback', '--no-fallback', [CompletionResultType]::ParameterName, 'Fail (exit 3) instead of installing locally when the server is unavailable (exit 2 when no server is configured at all)')
            [CompletionResult]::new('--force', '--force', [CompletionResultType]::ParameterName, 'Restore from scratch even when the folder''s stat manifest (.depcache-state) says it already holds this key')
            [CompletionResult]::new('--ignore-scripts', '--ignore-scripts', [CompletionResultType]::ParameterName, 'Run no lifecycle scripts after restoring (or installing locally): npm gets the `npm ci --ignore-scripts` tree; composer still rebuilds its autoloader, with scripts and plugins off. By default the scripts the job''s own `npm ci` / `composer install` would run, run here')
            [CompletionResult]::new('--no-scripts', '--no-scripts', [CompletionResultType]::ParameterName, 'Run no lifecycle scripts after restoring (or installing locally): npm gets the `npm ci --ignore-scripts` tree; composer still rebuilds its autoloader, with scripts and plugins off. By default the scripts the job''s own `npm ci` / `composer install` would run, run here')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document on stdout when done: key, cache_hit, files, bytes, seconds, and whether a local install stood in and why (schema in docs/client.md); on failure, the error')
            [CompletionResult]::new('--omit-dev', '--omit-dev', [CompletionResultType]::ParameterName, 'Leave devDependencies out (npm --omit=dev, composer --no-dev)')
            [CompletionResult]::new('--server-scripts', '--server-scripts', [CompletionResultType]::ParameterName, 'npm: ask for the tree the server built with its install scripts, in its container sandbox (a server started with --build-scripts container); nothing runs here afterwards. See docs/scripts.md')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;hash' {
            [CompletionResult]::new('--dir', '--dir', [CompletionResultType]::ParameterName, 'Project root (default: the current folder)')
            [CompletionResult]::new('--files', '--files', [CompletionResultType]::ParameterName, 'Comma-separated manifest/lockfile names (default: manifest + the lockfile present)')
            [CompletionResult]::new('--node-version', '--node-version', [CompletionResultType]::ParameterName, 'npm: the node version the key is for (default: the one on PATH)')
            [CompletionResult]::new('--npm-version', '--npm-version', [CompletionResultType]::ParameterName, 'npm: the npm version the key is for (default: the one on PATH)')
            [CompletionResult]::new('--php-version', '--php-version', [CompletionResultType]::ParameterName, 'composer: the php version the key is for (default: the one on PATH)')
            [CompletionResult]::new('--composer-version', '--composer-version', [CompletionResultType]::ParameterName, 'composer: the composer version the key is for (default: the one on PATH)')
            [CompletionResult]::new('--pnpm-version', '--pnpm-version', [CompletionResultType]::ParameterName, 'pnpm: the pnpm version the key is for (default: the manifest''s packageManager, else the one on PATH)')
            [CompletionResult]::new('--yarn-version', '--yarn-version', [CompletionResultType]::ParameterName, 'yarn: the yarn version the key is for (default: package.json''s packageManager, else the one on PATH)')
            [CompletionResult]::new('--platform', '--platform', [CompletionResultType]::ParameterName, 'os-arch-libc, e.g. linux-x64-glibc (default: this machine''s)')
            [CompletionResult]::new('--log-format', '--log-format', [CompletionResultType]::ParameterName, 'Log lines as text or as one JSON object per line (for log pipelines)')
            [CompletionResult]::new('--omit-dev', '--omit-dev', [CompletionResultType]::ParameterName, 'Leave devDependencies out (npm --omit=dev, composer --no-dev)')
            [CompletionResult]::new('--server-scripts', '--server-scripts', [CompletionResultType]::ParameterName, 'npm: ask for the tree the server built with its install scripts, in its container sandbox (a server started with --build-scripts container); nothing runs here afterwards. See docs/scripts.md')
            [CompletionResult]::new('--explain', '--explain', [CompletionResultType]::ParameterName, 'Also print what went into the key')
            [CompletionResult]::new('--json', '--json', [CompletionResultType]::ParameterName, 'Print one JSON document instead: the key and what went into it (schema in docs/client.md)')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'More output: -v info, -vv debug, -vvv trace (RUST_LOG overrides)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Only errors')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            break
        }
        'depcache;help' {
            [CompletionResult]::new('completions', 'completions', [CompletionResultType]::ParameterValue, 'Print shell completions (or write them all with --dir)')
            [CompletionResult]::new('man', 'man', [CompletionResultType]::ParameterValue, 'Print the man page (or write one per subcommand with --dir)')
            [CompletionResult]::new('admin', 'admin', [CompletionResultType]::ParameterValue, 'Operators'' tools on a store: stats, list, gc, verify')
            [CompletionResult]::new('store', 'store', [CompletionResultType]::ParameterValue, 'Upkeep of fetch''s --local-store: status, prune, verify')
            [CompletionResult]::new('serve', 'serve', [CompletionResultType]::ParameterValue, 'Run the cache server')
            [CompletionResult]::new('fetch', 'fetch', [CompletionResultType]::ParameterValue, 'Restore node_modules/vendor from the server (CI client)')
            [CompletionResult]::new('hash', 'hash', [CompletionResultType]::ParameterValue, 'Print the cache key a client would send for a project')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'depcache;help;completions' {
            break
        }
        'depcache;help;man' {
            break
        }
        'depcache;help;admin' {
            [CompletionResult]::new('stats', 'stats', [CompletionResultType]::ParameterValue, 'Keys, blobs, bytes on disk, logical size and deduplication ratio')
            [CompletionResult]::new('list', 'list', [CompletionResultType]::ParameterValue, 'Every cached key with manager, versions, platform, size and last use')
            [CompletionResult]::new('gc', 'gc', [CompletionResultType]::ParameterValue, 'Evict unused or least recently used keys, then delete unreferenced blobs. Safe while a server runs on the same directory')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Rehash every blob and check every index (exit 6 when problems remain)')
            break
        }
        'depcache;help;admin;stats' {
            break
        }
        'depcache;help;admin;list' {
            break
        }
        'depcache;help;admin;gc' {
            break
        }
        'depcache;help;admin;verify' {
            break
        }
        'depcache;help;store' {
            [CompletionResult]::new('status', 'status', [CompletionResultType]::ParameterValue, 'Contents, bytes, how many trees on disk still link to, oldest and newest use, problems found')
            [CompletionResult]::new('prune', 'prune', [CompletionResultType]::ParameterValue, 'Remove contents no tree links to any more (or only those unused for --older-than), then the least recently used down to --max-size. Safe beside fetches using the same store')
            [CompletionResult]::new('verify', 'verify', [CompletionResultType]::ParameterValue, 'Rehash every content and remove those that no longer match their name, and anything else that is no content')
            break
        }
        'depcache;help;store;status' {
            break
        }
        'depcache;help;store;prune' {
            break
        }
        'depcache;help;store;verify' {
            break
        }
        'depcache;help;serve' {
            break
        }
        'depcache;help;fetch' {
            break
        }
        'depcache;help;hash' {
            break
        }
        'depcache;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
