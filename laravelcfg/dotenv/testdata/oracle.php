<?php
// Oracle for laravelcfg/dotenv: loads each case's .env with Debian's
// phpdotenv through Laravel's own Illuminate\Support\Env repository (what
// Laravel's LoadEnvironmentVariables bootstrapper does) and prints, per
// case, what env() returns for every name the file mentions plus the case's
// real environment variables, or the parse error.
//
// Usage: php oracle.php MANIFEST.json [DOTENV_SRC]
// MANIFEST is a JSON list of {"name": case, "dir": directory holding .env,
// "real": [names]}. The process environment IS the real environment: run
// one process per distinct real environment. Output: a JSON object keyed by
// case name. DOTENV_SRC, when given, is the src/ directory of another
// phpdotenv release (e.g. a checkout of v5.6.4) used instead of Debian's.

if (isset($argv[2])) {
    $src = rtrim($argv[2], '/');
    spl_autoload_register(static function ($class) use ($src) {
        if (strncmp($class, 'Dotenv\\', 7) === 0) {
            $file = $src.'/'.str_replace('\\', '/', substr($class, 7)).'.php';
            if (is_file($file)) {
                require $file;
            }
        }
    }, true, true);
}
require 'Dotenv/autoload.php';
require 'Illuminate/autoload.php';

use Dotenv\Dotenv;
use Dotenv\Exception\InvalidFileException;
use Dotenv\Exception\InvalidPathException;
use Dotenv\Parser\Parser;
use Dotenv\Store\StoreBuilder;
use Illuminate\Support\Env;

$cases = json_decode(file_get_contents($argv[1]), true);
$absent = new stdClass();
$out = [];

foreach ($cases as $case) {
    $dir = $case['dir'];
    $real = $case['real'];

    // A fresh repository per case, built exactly as Env::getRepository()
    // builds it (enablePutenv() drops the cached one).
    Env::enablePutenv();
    $result = [];
    $names = [];
    try {
        Dotenv::create(Env::getRepository(), $dir, '.env')->safeLoad();
        try {
            $content = StoreBuilder::createWithNoNames()->addPath($dir)->addName('.env')->make()->read();
            foreach ((new Parser())->parse($content) as $entry) {
                $names[] = $entry->getName();
            }
        } catch (InvalidPathException $e) {
            // missing file: nothing to list
        }
    } catch (InvalidFileException $e) {
        $result['error'] = $e->getMessage();
    }
    foreach ($real as $n) {
        $names[] = $n;
    }
    $names = array_values(array_unique($names));
    sort($names, SORT_STRING);

    $vars = new stdClass();
    foreach ($names as $n) {
        $v = Env::get($n, $absent);
        if ($v === $absent) {
            $vars->$n = ['t' => 'absent'];
        } elseif ($v === null) {
            $vars->$n = ['t' => 'null'];
        } elseif (is_bool($v)) {
            $vars->$n = ['t' => 'bool', 'v' => $v];
        } else {
            $vars->$n = ['t' => 'string', 'v' => $v];
        }
    }
    $result['vars'] = $vars;
    $out[$case['name']] = $result;

    // Undo what the file loaded so the next case starts from the real
    // environment again.
    foreach ($names as $n) {
        if (!in_array($n, $real, true)) {
            unset($_SERVER[$n], $_ENV[$n]);
            putenv($n);
        }
    }
}

echo json_encode($out, JSON_PRETTY_PRINT | JSON_UNESCAPED_SLASHES | JSON_UNESCAPED_UNICODE | JSON_INVALID_UTF8_SUBSTITUTE), "\n";
