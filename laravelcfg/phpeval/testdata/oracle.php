<?php
// Test oracle: evaluates a config file with real PHP (Debian's Illuminate
// helpers for env() and Str) and prints json_encode of its return value.
// Helpers that depend on the application or on this PHP build are replaced
// by stubs answering like phpeval does: *_path() relative to /base,
// extension_loaded() as a stock PHP with pdo_mysql, PHP_VERSION_ID 80400.
// Usage: php oracle.php FILE [var_export]
// With "var_export", prints the value as bootstrap/cache/config.php holds it
// (<?php return var_export(...);) instead of JSON.

require 'Dotenv/autoload.php';
require 'Illuminate/autoload.php';

function __o_join($base, $path) { return $base.($path != '' ? '/'.ltrim($path, '/') : ''); }
function __o_base_path($p = '') { return __o_join('/base', $p); }
function __o_storage_path($p = '') {
    $d = getenv('LARAVEL_STORAGE_PATH');
    return __o_join($d !== false ? $d : '/base/storage', $p);
}
function __o_database_path($p = '') { return __o_join('/base/database', $p); }
function __o_config_path($p = '') { return __o_join('/base/config', $p); }
function __o_app_path($p = '') { return __o_join('/base/app', $p); }
function __o_public_path($p = '') { return __o_join('/base/public', $p); }
function __o_resource_path($p = '') { return __o_join('/base/resources', $p); }
function __o_lang_path($p = '') { return __o_join('/base/lang', $p); }
function __o_extension_loaded($e) { return in_array(strtolower($e), ['pdo_mysql', 'pdo', 'pdo_pgsql', 'pdo_sqlite', 'redis', 'json'], true); }

$src = file_get_contents($argv[1]);
$src = preg_replace('/\b(base_path|storage_path|database_path|config_path|app_path|public_path|resource_path|lang_path|extension_loaded)\s*\(/', '__o_$1(', $src);
$src = preg_replace('/\\\\?Pdo\\\\Mysql::ATTR_SSL_CA|\\\\?PDO::MYSQL_ATTR_SSL_CA/', '1009', $src);
$src = preg_replace('/\bPHP_VERSION_ID\b/', '80400', $src);
$tmp = tempnam(sys_get_temp_dir(), 'oracle');
file_put_contents($tmp, $src);
$v = require $tmp;
unlink($tmp);
if (($argv[2] ?? '') === 'var_export') {
    echo '<?php return '.var_export($v, true).';'.PHP_EOL;
    exit(0);
}
$json = json_encode($v);
if ($json === false) {
    fwrite(STDERR, json_last_error_msg()."\n");
    exit(1);
}
echo $json;
